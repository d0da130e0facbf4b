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

from core.fileio import atomic_write_bytes
from core.store.artifacts import ArtifactStore, describe_error
from core.store.records import jsonable

__all__ = ["read_side_json", "write_side_json"]


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
