"""Cached training, as functions: fit a catalog model once, reload it after that.

The models folder itself (layout, keys, signed records, loading, predictions) belongs to
:class:`core.store.ArtifactStore`; see its module docstring. The functions here are thin
conveniences over a store for callers that have a folder path rather than a store, e.g.
``train_model(name, data=data, models_path=folder)``. ``models_path=None`` means the
``MODELS_DIR`` setting (default ``./models``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core.data import MnistData
from core.errors import ArtifactWarning
from core.progress import reporting
from core.settings import Settings
from core.store import (
    ArtifactStore,
    ModelRecord,
    ModelStatus,
    TrainedModel,
    TrainOptions,
)

__all__ = [
    "ArtifactWarning",
    "ModelRecord",
    "ModelStatus",
    "TrainOptions",
    "TrainedModel",
    "artifact_key",
    "cached_record",
    "latest_record",
    "load_cached_model",
    "models_dir",
    "open_store",
    "options_of",
    "train_model",
]


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The artifact folder: ``path``, else the ``MODELS_DIR`` setting, else ``./models``.
    Never creates it (training does)."""
    if path is not None:
        return Path(path).expanduser()
    return Settings.from_env().models_dir


def open_store(data: MnistData, models_path: str | os.PathLike | None = None) -> ArtifactStore:
    """The :class:`ArtifactStore` for ``models_path`` (default: the ``MODELS_DIR`` setting)."""
    settings = Settings.from_env()
    folder = settings.models_dir if models_path is None else models_path
    return ArtifactStore(folder, data=data, key_file=settings.signing_key_file)


def artifact_key(name: str, *, data: MnistData, options: TrainOptions | None = None, random_state: int = 0) -> str:
    """12 hex digits identifying a trained result (see core.store)."""
    return ArtifactStore(".", data=data).key(name, options, random_state)


def options_of(record: ModelRecord) -> TrainOptions:
    """The TrainOptions that produce ``record``'s artifact key again."""
    return record.train_options()


def cached_record(
    name: str,
    *,
    data: MnistData,
    options: TrainOptions | None = None,
    random_state: int = 0,
    models_path: str | os.PathLike | None = None,
) -> ModelRecord | None:
    """The verified record of a cached artifact for this key, or None; never unpickles."""
    return open_store(data, models_path).record(name, options, random_state)


def latest_record(name: str, *, data: MnistData, models_path: str | os.PathLike | None = None) -> ModelRecord | None:
    """The most recently trained usable artifact of ``name`` for ``data``, whatever its
    options, or None. Reads JSON only."""
    return open_store(data, models_path).latest(name)


def load_cached_model(
    name: str,
    *,
    data: MnistData,
    options: TrainOptions | None = None,
    random_state: int = 0,
    models_path: str | os.PathLike | None = None,
) -> TrainedModel | None:
    """The cached model for this key, or None if there is none or it is unusable (then an
    :class:`ArtifactWarning` says why)."""
    return open_store(data, models_path).load(name, options=options, random_state=random_state)


def train_model(
    name: str,
    *,
    data: MnistData,
    options: TrainOptions | None = None,
    random_state: int = 0,
    models_path: str | os.PathLike | None = None,
    force: bool = False,
    on_status: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Catalog model ``name`` fitted on ``data.X_train`` (n, 784), cached in the models folder
    (see :meth:`core.store.ArtifactStore.train`). ``on_status`` receives progress messages."""
    store = open_store(data, models_path)
    if on_status is None:
        return store.train(name, options=options, random_state=random_state, force=force)
    with reporting(lambda _fraction, message: on_status(message)):
        return store.train(name, options=options, random_state=random_state, force=force)
