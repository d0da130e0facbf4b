"""The user's marks on test labels, kept as a store side file per data set.

``<folder>/label_marks/test-<data fingerprint>.json``: ``{"fingerprint": ..., "marks":
{"<test index>": <corrected digit> | null}}`` where null means "label is fine". Written
atomically under a file lock; validated on every read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from core.errors import OptionsError
from core.fileio import atomic_write_bytes
from core.store.artifacts import ArtifactStore

__all__ = ["Marks", "clear_mark", "load_marks", "marks_path", "save_mark"]

#: Test index -> corrected digit (the label is wrong) or None (the label is fine).
Marks = dict[int, int | None]


def marks_path(store: ArtifactStore) -> Path:
    """Where the marks on the store's test labels live."""
    return store.side_path("label_marks", "test")


def _read(path: Path) -> Marks:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise OptionsError(f"the label marks file {path} is unreadable ({exc}); move it away to start afresh.") from exc
    return {int(k): (None if v is None else int(v)) for k, v in raw.get("marks", {}).items()}


def load_marks(store: ArtifactStore) -> Marks:
    """The marks on the store's test labels (empty when there are none)."""
    return _read(marks_path(store))


def _update(store: ArtifactStore, change: Callable[[Marks], object]) -> Marks:
    path = marks_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=30):
            marks = _read(path)
            change(marks)
            payload = {"fingerprint": store.data.fingerprint, "marks": {str(k): marks[k] for k in sorted(marks)}}
            atomic_write_bytes(path, json.dumps(payload, indent=1).encode())
    except OSError as exc:
        raise store.write_error(exc) from exc
    return marks


def save_mark(store: ArtifactStore, index: int, corrected: int | None) -> Marks:
    """Mark test digit ``index``: ``corrected`` is its true digit (the label is wrong) or None
    (the label is fine). Returns all marks."""
    n_test = store.data.n_test
    if not 0 <= int(index) < int(n_test):
        raise OptionsError(f"test index {index!r} is outside the test set (0-{n_test - 1}).")
    if corrected is not None and not 0 <= int(corrected) <= 9:
        raise OptionsError(f"corrected label {corrected!r} is not a digit 0-9.")
    value = None if corrected is None else int(corrected)
    return _update(store, lambda m: m.__setitem__(int(index), value))


def clear_mark(store: ArtifactStore, index: int) -> Marks:
    """Forget the mark on ``index`` (no error if there is none). Returns all marks."""
    return _update(store, lambda m: m.pop(int(index), None))
