"""The user's marks on test labels, kept as a store side file per data set.

``<folder>/label_marks/test-<data fingerprint>.json``: ``{"fingerprint": ..., "marks":
{"<test index>": <corrected digit> | null}}`` where null means "label is fine". Written
atomically under a file lock; validated on read (schema, index range, digits 0-9, size cap) and
write, and read again only when the file changes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from core.errors import OptionsError
from core.fileio import atomic_write_bytes
from core.store.artifacts import ArtifactStore

__all__ = ["MAX_MARKS_BYTES", "Marks", "clear_mark", "load_marks", "marks_path", "save_mark", "validate_marks"]

#: Test index -> corrected digit (the label is wrong) or None (the label is fine).
Marks = dict[int, int | None]


def marks_path(store: ArtifactStore) -> Path:
    """Where the marks on the store's test labels live."""
    return store.side_path("label_marks", "test")


#: The largest marks file read (every one of 70,000 digits marked fits in well under 2 MB).
MAX_MARKS_BYTES = 4_000_000

_cache: dict[str, tuple[tuple[int, int, int], Marks]] = {}


def validate_marks(raw: Any, *, n_test: int) -> Marks:
    """Marks from parsed JSON: ``{"marks": {"<index>": <digit 0-9> | null}}`` with every index a
    test digit (0 to ``n_test`` - 1). ValueError names the first bad entry."""
    if not isinstance(raw, dict):
        raise ValueError(f"it holds a JSON {type(raw).__name__}, not an object with \"marks\"")
    marks = raw.get("marks", {})
    if not isinstance(marks, dict):
        raise ValueError(f"\"marks\" is a JSON {type(marks).__name__}, not an object of index: digit")
    out: Marks = {}
    for key, value in marks.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 10):
            raise ValueError(f"mark key {key[:20]!r} is not a test index")
        index = int(key)
        if not 0 <= index < n_test:
            raise ValueError(f"mark on test index {index} is outside the test set (0-{n_test - 1})")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9):
            raise ValueError(f"mark on test index {index} is {str(value)[:20]!r}, not a digit 0-9 or null")
        out[index] = value
    return out


def _read(path: Path, n_test: int) -> Marks:
    """The validated marks at ``path``, read again only when the file changed (inode, size,
    modification time). OptionsError says what is wrong and what to do."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise OptionsError(f"the label marks file {path} is unreadable ({exc.strerror}); fix it or move it away.") from exc
    ident = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == ident:
        return dict(cached[1])
    if st.st_size > MAX_MARKS_BYTES:
        raise OptionsError(
            f"the label marks file {path} is {st.st_size / 1e6:.1f} MB, more than marks can take "
            f"({MAX_MARKS_BYTES / 1e6:.0f} MB); it is ignored. Move it away to start afresh."
        )
    try:
        marks = validate_marks(json.loads(path.read_text(encoding="utf-8")), n_test=n_test)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise OptionsError(
            f"the label marks file {path} is unusable ({exc}); it is ignored. Move it away to start afresh."
        ) from exc
    _cache[str(path)] = (ident, marks)
    return dict(marks)


def load_marks(store: ArtifactStore) -> Marks:
    """The marks on the store's test labels (empty when there are none)."""
    return _read(marks_path(store), store.data.n_test)


def _update(store: ArtifactStore, change: Callable[[Marks], object]) -> Marks:
    path = marks_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=30):
            marks = _read(path, store.data.n_test)
            change(marks)
            validate_marks({"marks": {str(k): v for k, v in marks.items()}}, n_test=store.data.n_test)
            payload = {"fingerprint": store.data.fingerprint, "marks": {str(k): marks[k] for k in sorted(marks)}}
            atomic_write_bytes(path, json.dumps(payload, indent=1).encode())
    except OSError as exc:
        raise store.write_error(exc) from exc
    return marks


def save_mark(store: ArtifactStore, index: int, corrected: int | None) -> Marks:
    """Mark test digit ``index``: ``corrected`` is its true digit (the label is wrong) or None
    (the label is fine). Returns all marks."""
    n_test = store.data.n_test
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= int(index) < int(n_test):
        raise OptionsError(f"test index {index!r} is outside the test set (0-{n_test - 1}).")
    if corrected is not None and (isinstance(corrected, bool) or not isinstance(corrected, (int, np.integer))
                                  or not 0 <= int(corrected) <= 9):
        raise OptionsError(f"corrected label {corrected!r} is not a digit 0-9.")
    value = None if corrected is None else int(corrected)
    return _update(store, lambda m: m.__setitem__(int(index), value))


def clear_mark(store: ArtifactStore, index: int) -> Marks:
    """Forget the mark on ``index`` (no error if there is none). Returns all marks."""
    return _update(store, lambda m: m.pop(int(index), None))
