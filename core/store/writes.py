"""The artifact store's writes: the key's lock, saving a signed model, the atomic --force swap,
dead writers' temp files and read-only folders (a part of :class:`core.store.artifacts.ArtifactStore`)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
from filelock import FileLock, Timeout

from core.errors import ArtifactError, describe_error
from core.fileio import atomic_write_bytes, stale_temp_files
from core.models.catalog import get_spec
from core.store.records import (
    ArtifactPaths,
    ModelRecord,
    TrainedModel,
    TrainOptions,
    jsonable,
    library_versions,
    validate_record,
)
from core.store.signing import sign

__all__ = ["StoreWrites"]

_last_tidy: dict[str, float] = {}


class StoreWrites:
    """Writing to the models folder; mixed into ArtifactStore (uses its folder, data, key and paths)."""

    def tidy(self, *, every: float = 30.0) -> None:
        """Remove temp files of dead writers (at most once per ``every`` seconds per folder and
        process; any store operation may call it). Never raises."""
        now = time.monotonic()
        folder = str(self.folder.absolute())
        if now - _last_tidy.get(folder, -1e9) < every:
            return
        _last_tidy[folder] = now
        self.remove_stale_temp_files()

    def writable(self) -> bool:
        """Whether training could write here: the folder (or, before it exists, its nearest
        existing parent) is a writable folder for this user. Touches nothing."""
        for parent in [self.folder.absolute(), *self.folder.absolute().parents]:
            if parent.exists():
                return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)
        return False

    def check_writable(self, target: Path | None = None) -> None:
        """ArtifactError naming the folder (and what is in the way) when ``target``'s folder (default:
        the models folder) cannot be written, so a long computation is not wasted on an unsavable result."""
        folder = (target.parent if target is not None else self.folder)
        for parent in [folder, *folder.parents]:
            if parent.exists() and not parent.is_dir():
                raise ArtifactError(
                    f"{str(parent)!r} in the models folder is a file where a folder belongs; move it away "
                    f"(its results are kept in {str(folder)!r}), then try again."
                )
            if parent == self.folder:
                break
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=folder, prefix=f".write-check.{os.getpid()}.", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise self.write_error(exc) from exc

    def _discard(self, paths: ArtifactPaths) -> None:
        """Best effort: remove an unusable artifact unless a trainer holds its lock right now
        (it may be replacing it) or the folder is read-only. Never raises."""
        try:
            with FileLock(str(paths.lock), timeout=0):
                for path in (paths.record, paths.model, paths.predictions):
                    try:
                        path.unlink(missing_ok=True)
                    except OSError:
                        pass
        except (Timeout, OSError):
            pass

    # ---------------------------------------------------------------- writing

    @contextmanager
    def writing(self, name: str, key: str) -> Iterator[ArtifactPaths]:
        """Hold artifact ``name``/``key``'s file lock (creating the folder) while a caller fits
        and saves (:meth:`save`); another writer of the same key waits. ArtifactError names the
        folder when it cannot be written."""
        paths = self.paths(name, key)
        for path in (paths.model, paths.record, paths.lock):
            if path.is_dir():
                raise ArtifactError(f"{str(path)!r} is a directory where the artifact file belongs; remove it, then train again.")
        self._make_folder()
        try:
            lock = FileLock(str(paths.lock))
            lock.acquire()
        except OSError as exc:
            raise self.write_error(exc) from exc
        try:
            self.remove_stale_temp_files(paths=paths, all_of_key=True)
            self._settle_keep_files(paths)
            yield paths
        finally:
            lock.release()

    def save(
        self, name: str, pipeline: Any, *, options: TrainOptions | None, random_state: int, fit_seconds: float, n_train: int
    ) -> TrainedModel:
        """Save fitted ``pipeline`` of catalog model ``name`` with a signed record (the record is
        written last, so a reader never sees a record without its model). Call inside
        :meth:`writing`."""
        key = self.key(name, options, random_state)
        paths = self.paths(name, key)
        buf = io.BytesIO()
        joblib.dump(pipeline, buf)
        payload = buf.getvalue()
        record = ModelRecord(
            name=name, label=get_spec(name).label, key=key, options=self.resolve(name, options), random_state=int(random_state),
            data_fingerprint=self.data.fingerprint, data_source=self.data.source, n_train=int(n_train),
            fit_seconds=round(float(fit_seconds), 3), trained_at=datetime.now(UTC).isoformat(timespec="microseconds"),
            versions=library_versions(), model_sha256=hashlib.sha256(payload).hexdigest(), model_bytes=len(payload),
        )
        raw = json.loads(json.dumps(asdict(record), default=jsonable))
        raw["signature"] = sign(raw, self._signing_key())
        try:
            keep = self._keep_old_model(paths)  # the old record's bytes stay loadable until the new record lands
            atomic_write_bytes(paths.model, payload)  # replaces the old file only when complete
            atomic_write_bytes(paths.record, json.dumps(raw, indent=2).encode())  # the commit point
            if keep is not None:
                keep.unlink(missing_ok=True)
        except OSError as exc:
            raise self.write_error(exc) from exc
        return TrainedModel(pipeline, validate_record(raw), paths.model, from_cache=False)

    def _keep_path(self, paths: ArtifactPaths, sha256: str) -> Path:
        return paths.model.with_name(f"{paths.model.stem}.{sha256[:16]}.keep")

    def _keep_old_model(self, paths: ArtifactPaths) -> Path | None:
        """Before a model file is replaced under an existing record: hard-link the current file
        as ``<name>-<key>.<sha16>.keep`` (named by the old record's hash), so that a writer killed
        between the model's and the record's rename leaves the old record with its own bytes."""
        try:
            old = validate_record(json.loads(paths.record.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, RecursionError):
            return None
        if not paths.model.is_file():
            return None
        keep = self._keep_path(paths, old.model_sha256)
        keep.unlink(missing_ok=True)
        os.link(paths.model, keep)
        return keep

    def _settle_keep_files(self, paths: ArtifactPaths) -> None:
        """Under the key's lock: put back the model file a killed writer replaced under the old
        record (its ``.keep`` copy), and remove ``.keep`` files the current record does not need."""
        pattern = re.compile(rf"^{re.escape(paths.model.stem)}\.([0-9a-f]{{16}})\.keep$")
        try:
            record = validate_record(json.loads(paths.record.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, RecursionError):
            record = None
        for path in self.folder.iterdir():
            m = pattern.match(path.name)
            if not m:
                continue
            try:
                if record is not None and record.model_sha256.startswith(m.group(1)):
                    current = hashlib.sha256(paths.model.read_bytes()).hexdigest() if paths.model.is_file() else ""
                    if current != record.model_sha256:
                        os.replace(path, paths.model)
                        continue
                path.unlink()
            except OSError:
                pass

    def _make_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.write_error(exc) from exc

    def write_error(self, exc: OSError) -> ArtifactError:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            why = "the folder is read-only or not writable by this user"
        elif exc.errno == errno.ENOSPC:
            why = "the disk is full"
        elif isinstance(exc, (IsADirectoryError, NotADirectoryError, FileExistsError)):
            why = f"a path is in the way ({describe_error(exc)})"
        else:
            why = describe_error(exc)
        return ArtifactError(
            f"cannot write a trained model to the models folder {str(self.folder)!r}: {why}. Models already "
            "there can still be used; to train, point MODELS_DIR or --models-dir at a writable folder."
        )

    def remove_stale_temp_files(self, *, paths: ArtifactPaths | None = None, all_of_key: bool = False) -> list[Path]:
        """Remove temp files whose writer process is gone; with ``all_of_key`` (only while
        holding the key's lock), every temp file of that key's model and record. Never raises."""
        removed: list[Path] = []
        if not self.folder.is_dir():
            return removed
        targets = {paths.model.name, paths.record.name} if (paths is not None and all_of_key) else set()
        folders = [self.folder]
        try:
            folders += [p for p in self.folder.iterdir() if p.is_dir() and not p.is_symlink()]
        except OSError:
            pass
        if paths is None:  # keep files of swaps a killed writer left, settled under each key's lock
            for keep in self.folder.glob("*.keep"):
                m = re.match(r"^([a-z0-9_]+)-([0-9a-f]{12})\.[0-9a-f]{16}\.keep$", keep.name)
                if not m:
                    continue
                key_paths = self.paths(m.group(1), m.group(2))
                try:
                    with FileLock(str(key_paths.lock), timeout=0):
                        self._settle_keep_files(key_paths)
                except (Timeout, OSError):
                    pass
        stale = [p for folder in folders for p in stale_temp_files(folder, also=targets if folder == self.folder else ())]
        for path in stale:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
        return removed

