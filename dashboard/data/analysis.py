"""Cached analyses behind the Digit inspector, Trust, Draw and Label errors pages
(core.analysis.explain, core.analysis.trust, core.analysis.label_errors), keyed by explicit
arguments: the model (artifact path and SHA-256), the data fingerprint, the label fixes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.evaluation import TestPredictions
from core.analysis.explain import Explanation, NeighbourIndex, explain_digit, neighbour_index
from core.analysis.label_errors import rank_suspects
from core.analysis.trust import Calibrated, calibrate_out_of_fold
from core.analysis.verdict import InkReference, confidence_threshold
from core.data.sources import MnistData
from core.store.records import TrainedModel
from core.store.workspace import Workspace
from dashboard.data.metrics import Fixes, load_accuracy, load_predictions, original_predictions
from dashboard.data.workspace import HASH_FUNCS

__all__ = [
    "load_calibration",
    "load_explanation",
    "load_ink_reference",
    "load_neighbour_index",
    "load_suspects",
    "load_thresholds",
    "rank_by_accuracy",
    "trained_predictions",
]


def rank_by_accuracy(ws: Workspace, models: dict[str, TrainedModel], fixes: Fixes = ()) -> list[tuple[TrainedModel, TestPredictions]]:
    """``models`` with their test predictions (labels fixed by ``fixes``), most accurate first."""
    pairs = [(m, load_predictions(ws, m, fixes)) for m in models.values()]
    return sorted(pairs, key=lambda p: -load_accuracy(ws, p[0], fixes))


@st.cache_resource(show_spinner="Indexing the training digits…", max_entries=16, hash_funcs=HASH_FUNCS)
def _neighbour_index(model: TrainedModel, data: MnistData) -> NeighbourIndex:
    return neighbour_index(model.pipeline, data.X_train, data.y_train, data_key=data.fingerprint)


def load_neighbour_index(ws: Workspace, model: TrainedModel) -> NeighbourIndex:
    """The model's nearest-neighbour index over the training digits (core caches it per feature space)."""
    return _neighbour_index(model, ws.data)


@st.cache_data(show_spinner="Explaining…", max_entries=256, hash_funcs=HASH_FUNCS)
def _explanation(model: TrainedModel, data: MnistData, pixels: bytes, true: int | None) -> Explanation:
    x = np.frombuffer(pixels, dtype=np.uint8)
    return explain_digit(model.pipeline, x, _neighbour_index(model, data), true=true)


def load_explanation(ws: Workspace, model: TrainedModel, pixels: bytes, true: int | None) -> Explanation:
    """core.analysis.explain.explain_digit for one digit given as its 784 uint8 bytes."""
    return _explanation(model, ws.data, pixels, true)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=HASH_FUNCS)
def _thresholds(models: tuple[TrainedModel, ...], data: MnistData, key_file: str) -> dict[str, float]:
    from core.store.artifacts import ArtifactStore

    return {m.record.name: confidence_threshold(ArtifactStore(m.path.parent, data=data, key_file=key_file,
                                                              problem=lambda _m: None).predictions(m)) for m in models}


def load_thresholds(ws: Workspace, models: tuple[TrainedModel, ...]) -> dict[str, float]:
    """Per model name: core.analysis.trust.confidence_threshold on its test predictions."""
    return _thresholds(tuple(models), ws.data, str(ws.store.key_file))


@st.cache_resource(show_spinner=False, max_entries=4, hash_funcs=HASH_FUNCS)
def _ink_reference(data: MnistData) -> InkReference:
    return InkReference.from_digits(data.X_train)


def load_ink_reference(ws: Workspace) -> InkReference:
    """MNIST's usual ink statistics, from the training digits."""
    return _ink_reference(ws.data)


@st.cache_data(show_spinner="Calibrating…", max_entries=64, hash_funcs=HASH_FUNCS)
def _calibration(model: TrainedModel, data: MnistData, key_file: str, fixes: Fixes, method: str) -> Calibrated:
    from dashboard.data.metrics import _fixed

    return calibrate_out_of_fold(_fixed(model, data, key_file, fixes), method=method)


def load_calibration(ws: Workspace, model: TrainedModel, method: str, fixes: Fixes = ()) -> Calibrated:
    """core.analysis.trust.calibrate_out_of_fold on the model's test predictions (labels fixed by ``fixes``)."""
    return _calibration(model, ws.data, str(ws.store.key_file), fixes, method)


def trained_predictions(ws: Workspace, models: dict[str, TrainedModel]) -> dict[str, TestPredictions]:
    """Every model's test predictions against the data set's ORIGINAL labels (what label-error
    ranking must see, whatever the corrected-labels switch says)."""
    return {name: original_predictions(ws, model) for name, model in models.items()}


@st.cache_data(show_spinner="Ranking the test labels with cleanlab…", max_entries=16)
def _rank(key: str, _preds: dict[str, TestPredictions], calibrate: bool) -> pd.DataFrame:
    return rank_suspects(_preds, calibrate_decision=calibrate)


def load_suspects(preds: dict[str, TestPredictions], models: dict[str, TrainedModel], *, calibrate: bool) -> pd.DataFrame:
    """core.analysis.label_errors.rank_suspects over ``preds`` (all test digits), cached by the
    models behind them (artifact SHA-256s) and the data's test labels."""
    h = hashlib.sha256()
    for name in sorted(preds):
        h.update(f"{name}:{models[name].record.model_sha256}:".encode())
        h.update(np.ascontiguousarray(preds[name].y_true).tobytes())
    return _rank(h.hexdigest(), preds, calibrate)
