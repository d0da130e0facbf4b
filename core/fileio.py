"""Atomic file writes: write a temp file beside the target, fsync, rename into place.

Temp files are named ``<target name>.<writer pid>.<random>.tmp``, so a temp file left behind
by a writer that died (kill -9, power loss) can be told apart from one being written:
:func:`stale_temp_files` lists those whose process is gone.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["atomic_save_npz", "atomic_write", "atomic_write_bytes", "stale_temp_files"]

_TEMP_RE = re.compile(r"^(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temp file in ``path``'s folder, then rename it to ``path``.

    Readers see the old file or the complete new one, never a partial write; the old file
    stays in place until the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Atomically write ``payload`` to ``path``."""
    return atomic_write(path, lambda f: f.write(payload))


def atomic_save_npz(path: str | os.PathLike, **arrays) -> Path:
    """Atomically write ``arrays`` as an uncompressed ``.npz`` (no pickles inside)."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to another user
        return True
    except OSError:
        return True
    return True


def stale_temp_files(folder: str | os.PathLike, *, also: Iterable[str] = ()) -> list[Path]:
    """Temp files in ``folder`` whose writer process is no longer alive, plus every temp file
    of the targets named in ``also`` (for a caller that holds those targets' write lock)."""
    also = set(also)
    out = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return out
    for path in entries:
        m = _TEMP_RE.match(path.name)
        if m and (m["target"] in also or not _alive(int(m["pid"]))):
            out.append(path)
    return out
