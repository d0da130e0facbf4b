"""The Workspace, built once per process for the current Settings, and the trained models in it.

* :func:`settings` is the only place the app reads the environment (``Settings.from_env``).
* :func:`workspace` is ``st.cache_resource`` keyed by those Settings: the data are loaded once
  per process (read-only arrays) and the one artifact store opened over the models folder.
* Models are loaded once per artifact (``st.cache_resource`` keyed by the folder, model name,
  artifact key and SHA-256), so a model retrained elsewhere is picked up on the next rerun. A
  failed load is never cached. Loading starts no background work.
* :func:`cached_accuracy` reads accuracies from cached predictions only: no unpickling, no write.
"""

from __future__ import annotations

import streamlit as st

from core.data.sources import MnistData, load_mnist
from core.errors import ConfigError
from core.store.artifacts import ArtifactStore, ModelRecord, ModelStatus, TrainedModel
from core.store.settings import Settings
from core.store.workspace import Workspace, open_workspace

__all__ = [
    "HASH_FUNCS",
    "cached_accuracy",
    "data_source",
    "load_model",
    "load_models",
    "model_statuses",
    "models_path",
    "settings",
    "workspace",
]


def _model_hash(model: TrainedModel) -> str:
    return f"{model.path}:{model.record.model_sha256}"


#: How the caches hash their data and model arguments: by the data fingerprint and by the
#: artifact's path and SHA-256, never by the arrays or the pickled pipeline.
HASH_FUNCS = {MnistData: lambda d: d.fingerprint, TrainedModel: _model_hash, Settings: repr}


def settings() -> Settings:
    """The app's settings, read from the environment here (the edge) and nowhere below.
    Raises ConfigError naming a bad variable."""
    return Settings.from_env()


def data_source() -> tuple[str, str | None]:
    """The configured data source ``(source, MNIST_DIR or None)`` for messages; never raises
    (a bad MNIST_SOURCE is shown as given, and reported by :func:`workspace`)."""
    import os

    try:
        s = settings()
        return s.source, (str(s.mnist_dir) if s.mnist_dir else None)
    except ConfigError:
        return (os.environ.get("MNIST_SOURCE") or "").strip() or "auto", os.environ.get("MNIST_DIR") or None


@st.cache_resource(show_spinner="Loading MNIST…", max_entries=4, hash_funcs=HASH_FUNCS)
def _load_data(settings: Settings) -> MnistData:
    return load_mnist(settings.source, mnist_dir=settings.mnist_dir)  # type: ignore[arg-type]


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=HASH_FUNCS)
def _workspace(settings: Settings) -> Workspace:
    return open_workspace(settings, data=_load_data(settings), problem=lambda _message: None)


def workspace() -> Workspace:
    """The process's Workspace for the current settings. Raises ConfigError, DataSourceError,
    IdxFormatError (the data) or ArtifactError (an unusable models folder), naming the value."""
    return _workspace(settings())


def models_path() -> str:
    """The models folder in use, as an absolute path (for messages)."""
    try:
        return str(settings().models_dir.expanduser().resolve())
    except ConfigError as exc:
        return f"(unusable: {exc})"


def model_statuses(ws: Workspace) -> list[ModelStatus]:
    """One entry per catalog model, trained or not (its newest usable variant for this data).
    Reads JSON records only, uncached, so a model trained elsewhere shows on the next rerun.
    Raises DashboardError when the models folder cannot be used."""
    return ws.store.statuses()


class _LoadFailed(Exception):
    """Raised inside a cached loader so that Streamlit does not cache the failure."""

    def __init__(self, notes: tuple[str, ...]):
        super().__init__("; ".join(notes))
        self.notes = notes


def _store_at(folder: str, data: MnistData, key_file: str) -> ArtifactStore:
    return ArtifactStore(folder, data=data, key_file=key_file, problem=lambda _message: None)


@st.cache_resource(show_spinner="Loading a trained model…", max_entries=64, hash_funcs=HASH_FUNCS)
def _load_model(folder: str, key_file: str, name: str, key: str, sha256: str, data: MnistData, _record: ModelRecord) -> TrainedModel:
    # folder, name, key and sha256 are the cache key: a retrained artifact is loaded anew. The
    # store re-reads and verifies the record on disk; _record only names the artifact.
    notes: list[str] = []
    store = ArtifactStore(folder, data=data, key_file=key_file, problem=notes.append)
    model = store.load(_record)
    if model is None:
        raise _LoadFailed(tuple(notes) or (f"the saved {name} model is gone; train it again.",))
    return model


def load_model(ws: Workspace, status: ModelStatus) -> tuple[TrainedModel | None, tuple[str, ...]]:
    """The fitted model behind ``status`` (loaded once per artifact and process) and messages
    about an unusable artifact; ``(None, notes)`` when it turned out unusable (core removes a
    corrupt artifact, so it shows as untrained from the next rerun on)."""
    if status.record is None:
        return None, ()
    rec = status.record
    try:
        return _load_model(str(ws.store.folder), str(ws.store.key_file), rec.name, rec.key, rec.model_sha256, ws.data, rec), ()
    except _LoadFailed as exc:
        return None, exc.notes


def load_models(ws: Workspace, statuses: list[ModelStatus]) -> tuple[dict[str, TrainedModel], list[str]]:
    """Every trained model among ``statuses`` by name, and the messages about unusable ones."""
    models: dict[str, TrainedModel] = {}
    problems: list[str] = []
    for status in statuses:
        model, notes = load_model(ws, status)
        problems.extend(notes)
        if model is not None:
            models[status.name] = model
    return models, problems


class _NoCachedAccuracy(Exception):
    pass


@st.cache_data(show_spinner=False, max_entries=256, hash_funcs=HASH_FUNCS)
def _cached_accuracy(folder: str, key_file: str, name: str, key: str, sha256: str, data: MnistData, _record: ModelRecord) -> float:
    value = _store_at(folder, data, key_file).accuracy(_record)
    if value is None:
        raise _NoCachedAccuracy  # not cached yet: ask again on the next rerun
    return value


def cached_accuracy(ws: Workspace, status: ModelStatus) -> float | None:
    """Test accuracy of ``status``'s model from its cached predictions, or None when they are
    not cached yet. Never unpickles a model, never writes a file, starts no job."""
    if status.record is None:
        return None
    rec = status.record
    try:
        return _cached_accuracy(str(ws.store.folder), str(ws.store.key_file), rec.name, rec.key, rec.model_sha256, ws.data, rec)
    except _NoCachedAccuracy:
        return None
