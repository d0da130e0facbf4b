"""Side files: data other features keep beside the models, per data set.

``<folder>/<kind>/<key>-<data fingerprint><suffix>`` (e.g. ``kind="searches"``). They hold
data, never code, and are validated on every read: an unusable file is reported through the
store's ``problem`` and read as absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import describe_error
from core.fileio import atomic_save_npz, atomic_write_bytes
from core.store.artifacts import ArtifactStore
from core.store.records import jsonable

__all__ = ["read_side_json", "read_side_npz", "write_side_json", "write_side_npz"]


def read_side_json(
    store: ArtifactStore, kind: str, key: str, *, validate: Callable[[Any], Any] | None = None
) -> Any | None:
    """The JSON side file ``kind``/``key`` for the store's data, or None when absent. An
    unreadable file, or one ``validate`` rejects (by raising ValueError/TypeError/KeyError), is
    reported and gives None. ``validate``'s return value is returned."""
    path = store.side_path(kind, key, ".json")
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return validate(value) if validate is not None else value
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError) as exc:
        store.report_problem(f"side file {path.name} ({kind}) is unusable ({describe_error(exc)}); it will be computed again.")
        return None


def write_side_json(store: ArtifactStore, kind: str, key: str, value: Any) -> Path:
    """Atomically write ``value`` as the JSON side file ``kind``/``key`` for the store's data.
    Raises ArtifactError naming the folder when it cannot be written."""
    path = store.side_path(kind, key, ".json")
    payload = json.dumps(value, indent=1, default=jsonable, allow_nan=False).encode()
    try:
        return atomic_write_bytes(path, payload)
    except OSError as exc:
        raise store.write_error(exc) from exc


def read_side_npz(
    store: ArtifactStore, kind: str, key: str, *, validate: Callable[[dict[str, np.ndarray]], Any] | None = None
) -> Any | None:
    """The ``.npz`` side file ``kind``/``key`` for the store's data as a dict of arrays (read with
    ``allow_pickle=False``), or None when absent. An unreadable file, or one ``validate`` rejects
    (by raising ValueError/TypeError/KeyError), is reported through the store's ``problem`` and
    gives None. ``validate``'s return value is returned."""
    path = store.side_path(kind, key, ".npz")
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: np.asarray(f[name]) for name in f.files}
        return validate(arrays) if validate is not None else arrays
    except Exception as exc:  # noqa: BLE001 (truncated zip, pickled object, bad shapes: recompute)
        store.report_problem(f"side file {path.name} ({kind}) is unusable ({describe_error(exc)}); it will be computed again.")
        return None


def write_side_npz(store: ArtifactStore, kind: str, key: str, **arrays: np.ndarray) -> Path:
    """Atomically write ``arrays`` as the uncompressed ``.npz`` side file ``kind``/``key`` (no
    pickles inside). Raises ArtifactError naming the folder when it cannot be written."""
    path = store.side_path(kind, key, ".npz")
    try:
        return atomic_save_npz(path, **arrays)
    except OSError as exc:
        raise store.write_error(exc) from exc
