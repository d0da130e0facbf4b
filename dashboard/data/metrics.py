"""Test-set predictions and the metrics the pages show, cached by explicit arguments.

Every function takes ``fixes``: the label corrections to apply, as sorted ``(test index,
true digit)`` pairs (``()`` for the data set's own labels). The state layer passes the user's
marks when "use corrected labels" is on (dashboard.state.label_fixes), so a cache key
changes exactly when the switch or the marks do, and nothing is hashed from hidden state.

Figures are not cached: st.cache_data pickles what it returns, and a pickle round trip of the
confusion-matrix figure takes ~40 ms against ~16 ms to build it afresh (measured).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.evaluation import (
    BinaryAnalysis,
    TestPredictions,
    accuracy,
    binary_analysis,
    classification_table,
    confusion,
    summary_row,
    top_confusions,
    training_curve,
)
from core.analysis.label_errors import apply_corrections
from core.data.sources import MnistData
from core.errors import DashboardError
from core.store.marks import load_marks
from core.store.records import ModelStatus, TrainedModel
from core.store.workspace import Workspace
from dashboard.data.workspace import HASH_FUNCS

__all__ = [
    "Fixes",
    "load_accuracy",
    "load_binary_analysis",
    "load_classification_table",
    "load_confusion",
    "load_predictions",
    "load_summary",
    "load_top_confusions",
    "load_training_curve",
    "marked_fixes",
    "original_predictions",
]

#: Label corrections: sorted (test index, true digit) pairs; () = the data set's own labels.
Fixes = tuple[tuple[int, int], ...]


def marked_fixes(ws: Workspace) -> tuple[Fixes, str | None]:
    """The user's marks that say a test label is wrong, as :data:`Fixes`, and the reason when
    the marks file cannot be read (then no fixes)."""
    try:
        marks = load_marks(ws.store)
    except DashboardError as exc:
        return (), str(exc)
    return tuple(sorted((int(i), int(d)) for i, d in marks.items() if d is not None)), None


@st.cache_data(show_spinner="Predicting the test set…", max_entries=64, hash_funcs=HASH_FUNCS)
def _raw_predictions(model: TrainedModel, data: MnistData, key_file: str) -> TestPredictions:
    from core.store.artifacts import ArtifactStore

    return ArtifactStore(model.path.parent, data=data, key_file=key_file, problem=lambda _m: None).predictions(model)


def original_predictions(ws: Workspace, model: TrainedModel) -> TestPredictions:
    """The model's test-set predictions against the data set's own labels (cached beside the
    artifact by the store, and per process here)."""
    return _raw_predictions(model, ws.data, str(ws.store.key_file))


def load_predictions(ws: Workspace, model: TrainedModel, fixes: Fixes = ()) -> TestPredictions:
    """The model's test-set predictions with ``fixes`` applied to the labels."""
    preds = original_predictions(ws, model)
    return apply_corrections(preds, dict(fixes)) if fixes else preds


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _summary(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes) -> dict:
    return summary_row(model, _fixed(model, data, key_file, fixes), X=data.X_test[:15])


def _fixed(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes) -> TestPredictions:
    preds = _raw_predictions(model, data, key_file)
    return apply_corrections(preds, dict(fixes)) if fixes else preds


def load_summary(ws: Workspace, model: TrainedModel, fixes: Fixes = ()) -> dict:
    """One leaderboard row (core.analysis.evaluation.summary_row)."""
    return _summary(model, ws.data, str(ws.store.key_file), fixes)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _accuracy(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes) -> float:
    return accuracy(_fixed(model, data, key_file, fixes))


def load_accuracy(ws: Workspace, model: TrainedModel, fixes: Fixes = ()) -> float:
    """The model's test accuracy."""
    return _accuracy(model, ws.data, str(ws.store.key_file), fixes)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _classification_table(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes) -> pd.DataFrame:
    return classification_table(_fixed(model, data, key_file, fixes))


def load_classification_table(ws: Workspace, model: TrainedModel, fixes: Fixes = ()) -> pd.DataFrame:
    """Per-digit precision, recall, F1 and support plus ``macro avg`` (11 rows)."""
    return _classification_table(model, ws.data, str(ws.store.key_file), fixes)


@st.cache_data(show_spinner="Computing the precision-recall and ROC curves…", max_entries=128, hash_funcs=HASH_FUNCS)
def _binary(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes, digit: int) -> BinaryAnalysis:
    return binary_analysis(_fixed(model, data, key_file, fixes), digit)


def load_binary_analysis(ws: Workspace, model: TrainedModel, digit: int, fixes: Fixes = ()) -> BinaryAnalysis:
    """The ``digit``-vs-rest curves of the model (core.analysis.evaluation.binary_analysis)."""
    return _binary(model, ws.data, str(ws.store.key_file), fixes, int(digit))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def load_training_curve(model: TrainedModel) -> pd.DataFrame | None:
    """Per-epoch loss and validation score (models that record one; None otherwise)."""
    return training_curve(model.pipeline)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _confusion(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes) -> np.ndarray:
    return confusion(_fixed(model, data, key_file, fixes))


def load_confusion(ws: Workspace, model: TrainedModel, fixes: Fixes = ()) -> np.ndarray:
    """The model's 10x10 confusion matrix of counts on the test set."""
    return _confusion(model, ws.data, str(ws.store.key_file), fixes)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _top_confusions(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes, k: int) -> pd.DataFrame:
    return top_confusions(_fixed(model, data, key_file, fixes), k=k)


def load_top_confusions(ws: Workspace, model: TrainedModel, fixes: Fixes = (), *, k: int = 8) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells (core.analysis.evaluation.top_confusions)."""
    return _top_confusions(model, ws.data, str(ws.store.key_file), fixes, int(k))


def cached_predictions(ws: Workspace, status: ModelStatus, fixes: Fixes = ()) -> TestPredictions | None:
    """The test-set predictions of ``status``'s model from the store's cache beside the artifact
    (labels corrected by ``fixes``), without unpickling the model; None when not cached. Pages that
    need predictions only (Compare models) open at once, even for a 400 MB KNN."""
    if status.record is None:
        return None
    preds = ws.store.cached_predictions(status.record)
    if preds is None:
        return None
    return apply_corrections(preds, dict(fixes)) if fixes else preds
