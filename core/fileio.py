"""Atomic file writes: write a temp file beside the target, fsync, rename into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_save_npz"]


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temp file in ``path``'s folder, then rename it to ``path``.

    Readers see the old file or the complete new one, never a partial write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Atomically write ``payload`` to ``path``."""
    return atomic_write(path, lambda f: f.write(payload))


def atomic_save_npz(path: str | os.PathLike, **arrays) -> Path:
    """Atomically write ``arrays`` as an uncompressed ``.npz`` (no pickles inside)."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))
