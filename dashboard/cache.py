"""Streamlit cache wrappers around the core loaders; the only place pages get data and models.

* ``st.cache_resource`` (one shared object per process, never copied) holds the MNIST arrays
  and the fitted models, so no widget change and no second browser session loads or trains
  anything again. Models are keyed by their artifact's SHA-256, so a model retrained by
  the Home page or ``python -m core train`` is picked up on the next rerun.
* ``st.cache_data`` (a copy per caller) holds predictions and metrics. Arguments that are
  MnistData or TrainedModel objects are hashed by the data fingerprint and the artifact's
  path and SHA-256 (see ``_HASH_FUNCS``), never by their arrays.

Nothing here trains unless :func:`train_one` is called (the Home page's button).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.catalog import MODEL_NAMES, get_spec
from core.data import MnistData, load_mnist
from core.evaluation import (
    BinaryAnalysis,
    TestPredictions,
    accuracy,
    binary_analysis,
    classification_table,
    predict_test,
    summary_row,
    training_curve,
)
from core.training import (
    ArtifactWarning,
    ModelRecord,
    TrainedModel,
    latest_record,
    options_of,
    models_dir,
    train_model,
)

__all__ = [
    "ModelStatus",
        "data_source",
    "load_accuracy",
    "load_binary_analysis",
    "load_classification_table",
    "load_data",
    "load_model",
    "load_model_status",
    "load_models",
    "load_predictions",
    "load_summary",
    "load_training_curve",
    "models_path",
    "train_one",
]


def _model_hash(model: TrainedModel) -> str:
    return f"{model.path}:{model.record.model_sha256}"


_HASH_FUNCS = {MnistData: lambda d: d.fingerprint, TrainedModel: _model_hash}


# ----------------------------------------------------------------------- data


def data_source() -> tuple[str, str | None]:
    """The configured data source: ``(MNIST_SOURCE or "auto", MNIST_DIR or None)``."""
    return os.environ.get("MNIST_SOURCE", "auto").strip() or "auto", os.environ.get("MNIST_DIR") or None


@st.cache_resource(show_spinner="Loading MNIST…", max_entries=4)
def _load_data(source: str, mnist_dir: str | None) -> MnistData:
    return load_mnist(source, mnist_dir=mnist_dir)  # type: ignore[arg-type]


def load_data() -> MnistData:
    """MNIST from the configured source, loaded once per process (arrays are read-only).

    Raises what ``core.data.load_mnist`` raises (ValueError, DataSourceError,
    IdxFormatError); :func:`dashboard.components.require_data` turns that into a message.
    """
    source, mnist_dir = data_source()
    return _load_data(source, mnist_dir)


def models_path() -> str:
    """The artifact folder in use (``MODELS_DIR`` or ``./models``), as an absolute path."""
    return str(models_dir().resolve())


# --------------------------------------------------------------------- models


@dataclass
class ModelStatus:
    """What the models folder holds for one catalog model (read from its JSON record)."""

    name: str
    label: str
    record: ModelRecord | None

    @property
    def trained(self) -> bool:
        return self.record is not None


def load_model_status(data: MnistData) -> list[ModelStatus]:
    """One entry per catalog model, trained or not: its most recently trained variant for this
    data (e.g. one trained with ``python -m core train --augment shifts``). Reads JSON records
    only (cheap, uncached, so a model trained elsewhere shows up on the next rerun)."""
    folder = models_path()
    return [
        ModelStatus(name, get_spec(name).label, latest_record(name, data=data, models_path=folder))
        for name in MODEL_NAMES
    ]


@st.cache_resource(show_spinner="Loading a trained model…", max_entries=64, hash_funcs=_HASH_FUNCS)
def _load_model(name: str, data: MnistData, folder: str, sha256: str, _record: ModelRecord) -> tuple[TrainedModel | None, tuple[str, ...]]:
    # sha256 is part of the key only: a retrained artifact has a new hash and is loaded anew.
    from core.training import load_cached_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ArtifactWarning)
        model = load_cached_model(name, data=data, options=options_of(_record), random_state=_record.random_state,
                                  models_path=folder)
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, ArtifactWarning))
    return model, notes


def load_model(status: ModelStatus, data: MnistData) -> tuple[TrainedModel | None, tuple[str, ...]]:
    """The fitted model behind ``status`` (loaded once per artifact and process) and any
    ArtifactWarning messages. ``(None, notes)`` when the artifact turned out unusable: core
    deletes it, so the model shows as untrained from the next rerun on."""
    if status.record is None:
        return None, ()
    return _load_model(status.name, data, models_path(), status.record.model_sha256, status.record)


def load_models(statuses: list[ModelStatus], data: MnistData) -> tuple[dict[str, TrainedModel], list[str]]:
    """All trained models among ``statuses`` by name, and the warnings about unusable ones."""
    models: dict[str, TrainedModel] = {}
    problems: list[str] = []
    for status in statuses:
        model, notes = load_model(status, data)
        problems.extend(notes)
        if model is not None:
            models[status.name] = model
    return models, problems


# -------------------------------------------------------------------- metrics


@st.cache_data(show_spinner="Predicting the test set…", max_entries=64, hash_funcs=_HASH_FUNCS)
def load_predictions(model: TrainedModel, data: MnistData) -> TestPredictions:
    """The model's test-set predictions (core also caches them beside the artifact)."""
    return predict_test(model, data)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=_HASH_FUNCS)
def load_summary(model: TrainedModel, data: MnistData) -> dict:
    """One leaderboard row (core.evaluation.summary_row)."""
    return summary_row(model, load_predictions(model, data))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=_HASH_FUNCS)
def load_accuracy(model: TrainedModel, data: MnistData) -> float:
    return accuracy(load_predictions(model, data))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=_HASH_FUNCS)
def load_classification_table(model: TrainedModel, data: MnistData) -> pd.DataFrame:
    """Per-digit precision, recall, F1 and support plus ``macro avg`` (11 rows)."""
    return classification_table(load_predictions(model, data))


@st.cache_data(show_spinner="Computing the precision-recall and ROC curves…", max_entries=128, hash_funcs=_HASH_FUNCS)
def load_binary_analysis(model: TrainedModel, data: MnistData, digit: int) -> BinaryAnalysis:
    """The ``digit``-vs-rest curves of the model (core.evaluation.binary_analysis)."""
    return binary_analysis(load_predictions(model, data), digit)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=_HASH_FUNCS)
def load_training_curve(model: TrainedModel) -> pd.DataFrame | None:
    """Per-epoch loss and validation score (MLP only; None otherwise)."""
    return training_curve(model.pipeline)


# ------------------------------------------------------------------- training


def train_one(name: str, data: MnistData, *, on_status: Callable[[str], None]) -> TrainedModel:
    """Catalog model ``name`` fitted on ``data`` (core.training.train_model into the models
    folder in use); loaded instead if it is cached, e.g. because another session trained it
    meanwhile (core's per-artifact file lock makes concurrent trainers wait, not duplicate).

    ``on_status`` gets core's progress messages. Messages about an unusable old artifact that
    was replaced are in ``model.notes``. Raises what train_model raises.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArtifactWarning)  # core also puts them in model.notes
        return train_model(name, data=data, models_path=models_path(), on_status=on_status)
