"""Streamlit cache wrappers for the Confusion matrix and Leaderboard pages (pure core calls,
cached so a rerun that changes nothing they depend on costs nothing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.evaluation import confusion, top_confusions
from core.data.sources import MnistData
from core.store.records import TrainedModel
from dashboard import cache

__all__ = ["load_confusion", "load_top_confusions"]

# Figures are not cached: st.cache_data pickles what it returns, and a pickle round trip of the
# confusion-matrix figure takes ~40 ms against ~16 ms to build it afresh (measured).

@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=cache.LABELLED_HASH_FUNCS)
def load_confusion(model: TrainedModel, data: MnistData) -> np.ndarray:
    """The model's 10x10 confusion matrix of counts on the test set."""
    return confusion(cache.load_predictions(model, data))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=cache.LABELLED_HASH_FUNCS)
def load_top_confusions(model: TrainedModel, data: MnistData, k: int = 8) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells (core.analysis.evaluation.top_confusions)."""
    return top_confusions(cache.load_predictions(model, data), k=k)

