"""Streamlit cache wrappers around the core loaders and the artifact store; the only place
pages get data, models and background training.

* Settings come from :class:`core.store.settings.Settings` (read on each call, never creating a folder).
* ``st.cache_resource`` (one shared object per process, never copied) holds the MNIST arrays,
  the fitted models and the background :class:`core.store.jobs.JobRunner`. Models are keyed by
  artifact key and SHA-256, so a model retrained by the Home page or ``python -m core train``
  is picked up on the next rerun. A failed load is never cached: the next rerun tries again
  (e.g. after the CLI retrained the same bytes).
* ``st.cache_data`` (a copy per caller) holds predictions and metrics. Arguments that are
  MnistData or TrainedModel objects are hashed by the data fingerprint and the artifact's
  path and SHA-256 (see ``_HASH_FUNCS``), never by their arrays.
* Ranking models (the picker's default) reads accuracies from cached predictions only
  (:func:`cached_accuracy`); it never unpickles a model.

Nothing here trains unless :func:`start_training` (the Home page's button) is called. Training runs as background jobs that survive leaving the page;
:func:`show_training_status` shows their progress in the sidebar of every page.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.analysis.evaluation import (
    BinaryAnalysis,
    TestPredictions,
    accuracy,
    binary_analysis,
    classification_table,
    summary_row,
    training_curve,
)
from core.analysis.explain import prefetch_neighbour_index
from core.data.sources import MnistData, load_mnist
from core.errors import ConfigError, DashboardError
from core.models.catalog import get_spec
from core.store.artifacts import ArtifactStore, ModelRecord, ModelStatus, TrainedModel
from core.store.jobs import Job, JobRunner
from core.store.settings import Settings
from core.store.training import train_model
from core.store.workspace import Workspace, open_workspace
from dashboard import cache_labels

__all__ = [
    "ModelStatus",
    "cached_accuracy",
    "data_source",
    "job_runner",
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
    "settings",
    "show_training_status",
    "start_training",
    "store",
    "workspace",
    "training_jobs",
]


def _model_hash(model: TrainedModel) -> str:
    return f"{model.path}:{model.record.model_sha256}"


_HASH_FUNCS = {MnistData: lambda d: d.fingerprint, TrainedModel: _model_hash}
#: For metrics: the data's key also carries the "use corrected labels" switch and the marks
#: (dashboard.cache_labels), so every page's metrics follow the switch.
LABELLED_HASH_FUNCS = {MnistData: lambda d: cache_labels.data_key(d), TrainedModel: _model_hash}


# ------------------------------------------------------------------- settings


def settings() -> Settings:
    """The app's settings: the environment, read here at the edge and nowhere below."""
    return Settings.from_env()


def data_source() -> tuple[str, str | None]:
    """The configured data source: ``(source, MNIST_DIR or None)``; never raises (a bad
    MNIST_SOURCE is shown as given, and reported by :func:`load_data`)."""
    try:
        s = settings()
        return s.source, (str(s.mnist_dir) if s.mnist_dir else None)
    except ConfigError:
        return (os.environ.get("MNIST_SOURCE") or "").strip() or "auto", os.environ.get("MNIST_DIR") or None


@st.cache_resource(show_spinner="Loading MNIST…", max_entries=4)
def _load_data(source: str, mnist_dir: str | None) -> MnistData:
    return load_mnist(source, mnist_dir=mnist_dir)  # type: ignore[arg-type]


def load_data() -> MnistData:
    """MNIST from the configured source, loaded once per process (arrays are read-only).

    Raises what ``core.data.sources.load_mnist`` raises (ConfigError, DataSourceError,
    IdxFormatError); :func:`dashboard.components.require_data` turns that into a message.
    """
    s = settings()
    return _load_data(s.source, str(s.mnist_dir) if s.mnist_dir else None)


def workspace() -> Workspace:
    """The process's Workspace for the current settings: the data (loaded once per process)
    and the one store over the models folder. Raises ConfigError, DataSourceError,
    IdxFormatError or ArtifactError naming the bad setting."""
    s = settings()
    return open_workspace(s, data=load_data())


def store(data: MnistData | None = None) -> ArtifactStore:
    """The Workspace's artifact store. Raises ArtifactError or ConfigError when the folder
    setting is unusable (e.g. MODELS_DIR is a file)."""
    s = settings()
    return ArtifactStore(s.models_dir, data=data or load_data(), key_file=s.signing_key_file, problem=lambda _message: None)


def models_path() -> str:
    """The artifact folder in use (``MODELS_DIR`` or ``./models``), as an absolute path."""
    try:
        return str(settings().models_dir.expanduser().resolve())
    except ConfigError as exc:
        return f"(unusable: {exc})"


# --------------------------------------------------------------------- models


def load_model_status(data: MnistData) -> list[ModelStatus]:
    """One entry per catalog model, trained or not: its most recently trained usable variant
    for this data (e.g. one trained with ``python -m core train --augment shifts``). Reads JSON
    records only (cheap, uncached, so a model trained elsewhere shows up on the next rerun).

    A models folder that cannot be used (MODELS_DIR is a file, ...) stops the page with the
    reason and what to do."""
    try:
        return store(data).statuses()
    except DashboardError as exc:
        st.sidebar.error(f"Models folder: {exc}")
        st.error(f"**The models folder cannot be used.**\n\n{exc}")
        st.stop()
        raise  # not reached: st.stop() ends the script run


class _LoadFailed(Exception):
    """Raised inside a cached loader so that Streamlit does not cache the failure."""

    def __init__(self, notes: tuple[str, ...]):
        super().__init__("; ".join(notes))
        self.notes = notes


@st.cache_resource(show_spinner="Loading a trained model…", max_entries=64, hash_funcs=_HASH_FUNCS)
def _load_model(folder: str, name: str, key: str, sha256: str, data: MnistData, _record: ModelRecord) -> TrainedModel:
    # folder, name, key and sha256 are the cache key: a retrained artifact is loaded anew.
    # The store re-reads and verifies the record on disk; _record only names the artifact.
    notes: list[str] = []
    model = _store_at(folder, data, notes.append).load(_record)
    if model is None:
        raise _LoadFailed(tuple(notes) or (f"the saved {name} model is gone; train it again.",))
    # Once per loaded artifact: build its nearest-neighbour index in the background now, so
    # that opening the Digit inspector (or an explanation) later does not wait for it.
    prefetch_neighbour_index(model.pipeline, data.X_train, data.y_train, data_key=data.fingerprint)
    return model


def _store_at(folder: str | os.PathLike, data: MnistData, problem: Callable[[str], None] | None = None) -> ArtifactStore:
    return ArtifactStore(folder, data=data, key_file=settings().signing_key_file, problem=problem or (lambda _message: None))


def load_model(status: ModelStatus, data: MnistData) -> tuple[TrainedModel | None, tuple[str, ...]]:
    """The fitted model behind ``status`` (loaded once per artifact and process) and any
    messages about an unusable artifact. ``(None, notes)`` when it turned out unusable (core
    removes a corrupt artifact, so the model shows as untrained from the next rerun on)."""
    if status.record is None:
        return None, ()
    rec = status.record
    try:
        return _load_model(models_path(), rec.name, rec.key, rec.model_sha256, data, rec), ()
    except _LoadFailed as exc:
        return None, exc.notes


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


class _NoCachedAccuracy(Exception):
    pass


@st.cache_data(show_spinner=False, max_entries=256, hash_funcs=_HASH_FUNCS)
def _cached_accuracy(folder: str, name: str, key: str, sha256: str, data: MnistData, _record: ModelRecord) -> float:
    value = _store_at(folder, data).accuracy(_record)
    if value is None:
        raise _NoCachedAccuracy  # not cached yet: ask again on the next rerun
    return value


def cached_accuracy(status: ModelStatus, data: MnistData) -> float | None:
    """Test accuracy of ``status``'s model from its cached predictions, or None when they are
    not cached yet. Never unpickles a model and never writes a file."""
    if status.record is None:
        return None
    rec = status.record
    try:
        return _cached_accuracy(models_path(), rec.name, rec.key, rec.model_sha256, data, rec)
    except _NoCachedAccuracy:
        return None


# -------------------------------------------------------------------- metrics


@st.cache_data(show_spinner="Predicting the test set…", max_entries=64, hash_funcs=LABELLED_HASH_FUNCS)
def load_predictions(model: TrainedModel, data: MnistData) -> TestPredictions:
    """The model's test-set predictions (the store also caches them beside the artifact), with
    the user's marked labels fixed when "use corrected labels" is on (dashboard.cache_labels)."""
    return cache_labels.corrected(_store_at(model.path.parent, data).predictions(model), data)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=LABELLED_HASH_FUNCS)
def load_summary(model: TrainedModel, data: MnistData) -> dict:
    """One leaderboard row (core.analysis.evaluation.summary_row)."""
    return summary_row(model, load_predictions(model, data), X=data.X_test[:15])


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=LABELLED_HASH_FUNCS)
def load_accuracy(model: TrainedModel, data: MnistData) -> float:
    return accuracy(load_predictions(model, data))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=LABELLED_HASH_FUNCS)
def load_classification_table(model: TrainedModel, data: MnistData) -> pd.DataFrame:
    """Per-digit precision, recall, F1 and support plus ``macro avg`` (11 rows)."""
    return classification_table(load_predictions(model, data))


@st.cache_data(show_spinner="Computing the precision-recall and ROC curves…", max_entries=128, hash_funcs=LABELLED_HASH_FUNCS)
def load_binary_analysis(model: TrainedModel, data: MnistData, digit: int) -> BinaryAnalysis:
    """The ``digit``-vs-rest curves of the model (core.analysis.evaluation.binary_analysis)."""
    return binary_analysis(load_predictions(model, data), digit)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=LABELLED_HASH_FUNCS)
def load_training_curve(model: TrainedModel) -> pd.DataFrame | None:
    """Per-epoch loss and validation score (MLP only; None otherwise)."""
    return training_curve(model.pipeline)


# ------------------------------------------------------------------- training


@st.cache_resource(show_spinner=False)
def job_runner() -> JobRunner:
    """The process's one background-job runner (jobs run one at a time, in order)."""
    return JobRunner(workers=1)


def _job_key(folder: str, data: MnistData, name: str) -> str:
    return f"train:{folder}:{data.fingerprint}:{name}"


def start_training(names: list[str], data: MnistData) -> list[Job]:
    """Queue training of catalog models ``names`` for ``data`` into the models folder in use,
    as background jobs (one per model; a model already queued or training is not queued
    twice, by this or any other session). Returns the jobs."""
    folder = models_path()
    the_store = store(data)
    jobs = []
    for name in names:
        label = get_spec(name).label
        jobs.append(job_runner().submit(
            _job_key(folder, data, name), lambda name=name: train_model(the_store, name), label=f"Training {label}",
        ))
    return jobs


def training_jobs(data: MnistData) -> list[Job]:
    """This process's training jobs for ``data`` and the models folder in use, oldest first."""
    prefix = f"train:{models_path()}:{data.fingerprint}:"
    return [job for job in job_runner().jobs() if job.key.startswith(prefix)]


_SEEN_ACTIVE = "_training_jobs_seen_active"


@st.fragment(run_every=1.0)
def _training_fragment() -> None:
    active = job_runner().active()
    if not active:
        if st.session_state.pop(_SEEN_ACTIVE, False):
            st.rerun()  # the whole page: it now sees the new models, and this poller stops
        return
    st.session_state[_SEEN_ACTIVE] = True
    st.markdown("**Training in the background**")
    for job in active:
        if job.state == "running":
            st.progress(job.fraction or 0.0, text=f"{job.label}: {job.message}")
        else:
            st.caption(f"{job.label}: queued")
    st.caption("You can keep using the app; the pages pick the models up when they are ready.")


def show_training_status() -> None:
    """In the sidebar: progress of background training, refreshed every second while jobs
    run (nothing, and no polling, when none do). Call once per page."""
    if not job_runner().active() and not st.session_state.get(_SEEN_ACTIVE):
        return
    with st.sidebar:
        _training_fragment()


def cached_predictions(status: ModelStatus, data: MnistData) -> TestPredictions | None:
    """The test-set predictions of ``status``'s model from the store's cache beside the artifact
    (labels corrected as the switch says), without unpickling the model; None when not cached.
    Pages that need predictions only (Compare models) open at once, even for a 400 MB KNN."""
    if status.record is None:
        return None
    preds = _store_at(models_path(), data).cached_predictions(status.record)
    return None if preds is None else cache_labels.corrected(preds, data)
