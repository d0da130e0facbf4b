"""Streamlit caches for the Digit inspector, Trust and Draw pages (core.analysis.explain, core.analysis.trust).

:func:`ranked_models` is the ONE place these pages get "the trained models and their test
predictions" (today through dashboard.cache; the lead can switch it to the artifact store).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.analysis.evaluation import TestPredictions
from core.analysis.explain import Explanation, NeighbourIndex, explain_digit, neighbour_index
from core.analysis.trust import Calibrated, InkReference, calibrate_out_of_fold, confidence_threshold
from core.data.sources import MnistData
from core.models.prediction_file import is_predictions_only
from core.store.records import TrainedModel
from dashboard import cache
from dashboard.components import require_loaded_models

__all__ = ["file_only_note", "load_calibration", "load_explanation", "load_ink_reference", "load_neighbour_index", "load_thresholds", "ranked_models"]

_HASH_FUNCS = {MnistData: lambda d: d.fingerprint, TrainedModel: lambda m: f"{m.path}:{m.record.model_sha256}"}


def ranked_models(data: MnistData, *, predictive: bool = False) -> list[tuple[TrainedModel, TestPredictions]]:
    """Every trained model that loads, with its test predictions, most accurate first.
    Shows warnings for unusable artifacts; stops the page when none is usable. With
    ``predictive``, only models that can classify a new digit (not imported prediction files)."""
    models = require_loaded_models(data)
    if predictive:
        models = {n: m for n, m in models.items() if not is_predictions_only(m.pipeline)}
        if not models:
            st.info("Only imported prediction files are available, and this page classifies digits they have no "
                    "answer for. Train a model on the Home page or import an ONNX model.", icon=":material/info:")
            st.stop()
    pairs = [(m, cache.load_predictions(m, data)) for m in models.values()]
    return sorted(pairs, key=lambda p: -cache.load_accuracy(p[0], data))


@st.cache_resource(show_spinner="Indexing the training digits…", max_entries=16, hash_funcs=_HASH_FUNCS)
def load_neighbour_index(model: TrainedModel, data: MnistData) -> NeighbourIndex:
    """The model's nearest-neighbour index over the training digits (core caches it per feature space)."""
    return neighbour_index(model.pipeline, data.X_train, data.y_train, data_key=data.fingerprint)


@st.cache_data(show_spinner="Explaining…", max_entries=256, hash_funcs=_HASH_FUNCS)
def load_explanation(model: TrainedModel, data: MnistData, pixels: bytes, true: int | None) -> Explanation:
    """core.analysis.explain.explain_digit for one digit given as its 784 uint8 bytes."""
    x = np.frombuffer(pixels, dtype=np.uint8)
    return explain_digit(model.pipeline, x, load_neighbour_index(model, data), true=true)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=_HASH_FUNCS)
def load_thresholds(models: tuple[TrainedModel, ...], data: MnistData) -> dict[str, float]:
    """Per model name: core.analysis.trust.confidence_threshold on its test predictions."""
    return {m.record.name: confidence_threshold(cache.load_predictions(m, data)) for m in models}


@st.cache_resource(show_spinner=False, max_entries=4, hash_funcs=_HASH_FUNCS)
def load_ink_reference(data: MnistData) -> InkReference:
    """MNIST's usual ink statistics, from the training digits."""
    return InkReference.from_digits(data.X_train)


@st.cache_data(show_spinner="Calibrating…", max_entries=64, hash_funcs=cache.LABELLED_HASH_FUNCS)
def load_calibration(model: TrainedModel, data: MnistData, method: str) -> Calibrated:
    """core.analysis.trust.calibrate_out_of_fold on the model's test predictions (labels as the corrected-
    labels switch says)."""
    return calibrate_out_of_fold(cache.load_predictions(model, data), method=method)


def file_only_note(data: MnistData) -> str:
    """A sentence naming the imported prediction files a page that classifies digits must leave
    out, and why ("" when there are none)."""
    names = [m.record.label for m in require_loaded_models(data).values() if is_predictions_only(m.pipeline)]
    if not names:
        return ""
    return (f"Not shown: {', '.join(names)}. A prediction file holds answers for the test digits only; it has no "
            "model to classify a new or changed digit (import an ONNX export of the model for that).")
