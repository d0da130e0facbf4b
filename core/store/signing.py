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
import stat
import threading
from pathlib import Path
from typing import Any

from core.errors import ArtifactError
from core.store.records import jsonable

__all__ = ["canonical", "check_key_placement", "load_signing_key", "sign"]



_key_cache: dict[Path, tuple[tuple[int, int, int], bytes]] = {}
_key_lock = threading.Lock()


def check_key_placement(path: str | os.PathLike, *, models_folder: str | os.PathLike | None = None) -> None:
    """Refuse a signing key that others could replace, the way ssh refuses a loose private key:
    one inside the models folder (whoever writes the folder could forge signed pickles), one
    writable by group or others, or one in a folder writable by group or others (without the
    sticky bit), or owned by another user. ArtifactError says why and how to fix it."""
    path = Path(path).expanduser()
    where = path.absolute()
    if models_folder is not None:
        folder = Path(models_folder).expanduser().absolute()
        real_key, real_folder = Path(os.path.realpath(where)), Path(os.path.realpath(folder))
        if real_key.is_relative_to(real_folder) or where.is_relative_to(folder):
            raise ArtifactError(
                f"the artifact signing key {str(path)!r} lies inside the models folder {str(models_folder)!r}: anyone "
                "who can write that folder could replace the key and plant a signed pickle that runs code here. "
                "Move the key out (e.g. to ~/.config/mnist-dashboard/signing.key, mode 600) and point "
                "MNIST_DASHBOARD_KEY_FILE at it; models signed with it stay valid."
            )
    try:
        st = os.stat(where)
    except FileNotFoundError:
        st = None
    except OSError:
        return  # unreadable: reading it reports why
    if st is not None:
        if st.st_mode & 0o022:
            who = "group and others" if st.st_mode & 0o022 == 0o022 else "group" if st.st_mode & 0o020 else "others"
            raise ArtifactError(
                f"the artifact signing key {str(path)!r} is writable by {who} "
                f"(mode {stat.S_IMODE(st.st_mode):o}): another user could replace it and have this installation run "
                f"their pickles. Fix it with: chmod 600 {str(path)!r}"
            )
        if hasattr(os, "getuid") and st.st_uid not in (os.getuid(), 0):
            raise ArtifactError(
                f"the artifact signing key {str(path)!r} belongs to another user (uid {st.st_uid}); it could be "
                "replaced behind this installation's back. Use a key file you own (MNIST_DASHBOARD_KEY_FILE)."
            )
    parent = where.parent
    try:
        pst = os.stat(parent)
    except OSError:
        return  # created on first use with mode 700
    if pst.st_mode & 0o022 and not pst.st_mode & stat.S_ISVTX:
        raise ArtifactError(
            f"the folder {str(parent)!r} of the artifact signing key is writable by group or others (mode "
            f"{stat.S_IMODE(pst.st_mode):o}): another user could swap the key. Fix it with: chmod go-w {str(parent)!r} "
            "(or keep the key in a folder only you can write)."
        )


def load_signing_key(path: str | os.PathLike, *, models_folder: str | os.PathLike | None = None) -> bytes:
    """This installation's artifact signing key (32 random bytes, hex in the file), created on
    first use with mode 0600 by an atomic write (a concurrent creator's key wins, never mixed).

    The key is re-read when its file changes (inode, size or modification time), so a key
    deleted and made again by another process (the CLI) is picked up by a running app.
    :func:`check_key_placement` refuses a key others could replace. Raises ArtifactError naming
    the file when it cannot be read, created or trusted."""
    path = Path(path).expanduser()
    check_key_placement(path, models_folder=models_folder)
    with _key_lock:
        try:
            st = os.stat(path)
            ident = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            ident = None
        cached = _key_cache.get(path)
        if ident is not None and cached is not None and cached[0] == ident:
            return cached[1]
        try:
            key = _read_key(path)
        except FileNotFoundError:
            key = _create_key(path)
        try:
            st = os.stat(path)
            _key_cache[path] = ((st.st_ino, st.st_size, st.st_mtime_ns), key)
        except OSError:
            _key_cache.pop(path, None)
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

