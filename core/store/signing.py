"""This installation's signing key and the HMAC that vouches for a record.

A pickle runs code when loaded, so the store unpickles nothing whose record is not signed
with this key. The key lives outside the models folder and is created on first use with
mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from core.errors import ArtifactError
from core.store.records import jsonable

__all__ = ["canonical", "load_signing_key", "sign"]



_key_cache: dict[Path, bytes] = {}
_key_lock = threading.Lock()


def load_signing_key(path: str | os.PathLike) -> bytes:
    """This installation's artifact signing key (32 random bytes, hex in the file), created on
    first use with mode 0600 by an atomic write (a concurrent creator's key wins, never mixed).
    Raises ArtifactError naming the file when it cannot be read or created."""
    path = Path(path).expanduser()
    with _key_lock:
        if path in _key_cache:
            return _key_cache[path]
        try:
            key = _read_key(path)
        except FileNotFoundError:
            key = _create_key(path)
        _key_cache[path] = key
        return key


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"cannot read the artifact signing key {str(path)!r} ({getattr(exc, 'strerror', None) or exc}). "
            "Fix its permissions, or point MNIST_DASHBOARD_KEY_FILE at a readable key file."
        ) from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ArtifactError(
            f"the artifact signing key {str(path)!r} is not 64 hex digits. Delete it (trained models "
            "must then be trained again) or restore it from a backup."
        )
    return key


def _create_key(path: Path) -> bytes:
    key = secrets.token_bytes(32)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the key meanwhile: use theirs
        except FileExistsError:
            return _read_key(path)
        return key
    except OSError as exc:
        raise ArtifactError(
            f"cannot create the artifact signing key {str(path)!r} ({exc.strerror or exc}). Set "
            "MNIST_DASHBOARD_KEY_FILE to a writable path outside the models folder."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=jsonable).encode()


def sign(record: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()

