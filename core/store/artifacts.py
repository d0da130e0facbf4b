"""The artifact store: the one owner of the models folder's layout, keys, records, signing,
loading and cached test-set predictions.

Layout (``<folder>`` is the workspace's models folder; ``key`` is 12 hex digits hashing
everything that changes the result: name, resolved options, seed, data fingerprint, catalog
version, scikit-learn and NumPy versions)::

    <folder>/<name>-<key>.joblib            the fitted Pipeline (joblib pickle)
    <folder>/<name>-<key>.json              its record (ModelRecord), signed, written last
    <folder>/<name>-<key>.predictions.npz   test-set predictions (no pickles inside)
    <folder>/<name>-<key>.lock              file lock: one writer per key at a time
    <folder>/<kind>/<key>-<fingerprint><suffix>   side files of other features (core.store.sidefiles)

**Trust.** Nothing is unpickled unless its record carries a valid HMAC-SHA256 (over every
record field, including the SHA-256 of the artifact's bytes) made with this installation's
signing key (core.store.signing). The bytes are read once, hashed, compared, and unpickled
from memory. After loading, the object must be a scikit-learn Pipeline whose final estimator
is a classifier. Anything that fails is reported through ``problem`` (default: an
:class:`~core.errors.ArtifactWarning`) and treated as "not trained". Corrupt artifacts of this
installation are removed when the folder is writable; records with a foreign signature are
left alone.

**Writes.** Every file is written to ``<target>.<pid>.<random>.tmp`` and renamed into place,
the record last, under the key's file lock. Temp files whose writer is gone are removed by
:meth:`ArtifactStore.remove_stale_temp_files`. The store never fits: ``core.store.training``
fits through ``core.models.fitting`` and saves here.

**Read-only folders** work for reading (predictions are computed but not cached); writing
raises :class:`~core.errors.ArtifactError` naming the folder. Reading never creates the folder.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from filelock import FileLock, Timeout

from core.data.preprocessing import final_estimator
from core.data.sources import MnistData, fingerprint_arrays
from core.errors import ArtifactError, ArtifactWarning, OptionsError, UnknownModelError
from core.fileio import atomic_save_npz, atomic_write_bytes, stale_temp_files
from core.models.catalog import CATALOG_VERSION, MODEL_NAMES, get_spec, is_available, unavailable_reason
from core.models.predict import TestPredictions, compute_predictions
from core.store.moved import accept_moved_modules
from core.store.records import (
    ArtifactPaths,
    ModelRecord,
    ModelStatus,
    TrainedModel,
    TrainOptions,
    check_seed,
    jsonable,
    library_versions,
    validate_record,
)
from core.store.signing import load_signing_key, sign

__all__ = ["SCORE_KINDS", "ArtifactStore", "Problem"]

_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_KEY_RE = re.compile(r"^[0-9a-f]{12}$")
_SIDE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}$")


def _is_classifier_pipeline(obj: Any) -> bool:
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    if not isinstance(obj, Pipeline) or not obj.steps:
        return False
    final = final_estimator(obj)
    return bool(is_classifier(final) and hasattr(obj, "predict") and hasattr(obj, "classes_"))


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


class _Unusable(Exception):
    """An artifact failed a check; ``foreign`` when it must be kept (another installation's
    signature, or intact files naming code this installation lacks)."""

    def __init__(self, message: str, *, foreign: bool = False):
        super().__init__(message)
        self.foreign = foreign


Problem = Callable[[str], None]


def _warn(message: str) -> None:
    warnings.warn(message, ArtifactWarning, stacklevel=3)


# ----------------------------------------------------------------------- store


class ArtifactStore:
    """The models folder for one data set. Cheap to create; never creates the folder itself
    (training does). Raises ArtifactError if ``folder`` exists and is not a folder.

    ``problem``: where messages about unusable artifacts go (default: an ArtifactWarning).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        data: MnistData,
        key_file: str | os.PathLike,
        problem: Problem | None = None,
    ) -> None:
        if not str(folder).strip():
            raise ArtifactError("the models folder is empty; give a folder path (MODELS_DIR or --models-dir).")
        self.folder = Path(folder).expanduser()
        if self.folder.exists() and not self.folder.is_dir():
            raise ArtifactError(
                f"the models folder {str(self.folder)!r} is not a folder (it is a file). Point MODELS_DIR or "
                "--models-dir at a folder, or move that file away."
            )
        self.data = data
        self._key_file = Path(key_file).expanduser()
        self._problem = problem or _warn

    @property
    def key_file(self) -> Path:
        """The signing key's path (from the workspace's settings)."""
        return self._key_file

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.folder)!r}, data={self.data.fingerprint})"

    # ------------------------------------------------------------ keys, paths

    def resolve(self, name: str, options: TrainOptions | None = None) -> dict[str, Any]:
        """``options`` with the catalog's defaults filled in, for this data (OptionsError if bad)."""
        return (options or TrainOptions()).resolved(name, n_train=self.data.n_train)

    def key(self, name: str, options: TrainOptions | None = None, random_state: int = 0) -> str:
        """12 hex digits identifying a trained result (see the module docstring)."""
        check_seed(random_state)
        blob = json.dumps(
            {
                "name": name,
                "options": self.resolve(name, options),
                "random_state": int(random_state),
                "data": self.data.fingerprint,
                "catalog": CATALOG_VERSION,
                "sklearn": sklearn.__version__,
                "numpy": ".".join(np.__version__.split(".")[:2]),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def paths(self, name: str, key: str) -> ArtifactPaths:
        """The files of artifact ``name``/``key`` (they need not exist)."""
        if not _NAME_RE.match(name) or not _KEY_RE.match(key):
            raise ArtifactError(f"artifact name {name!r} / key {key!r} is malformed.")
        stem = self.folder / f"{name}-{key}"
        return ArtifactPaths(
            model=stem.with_name(stem.name + ".joblib"),
            record=stem.with_name(stem.name + ".json"),
            predictions=stem.with_name(stem.name + ".predictions.npz"),
            lock=stem.with_name(stem.name + ".lock"),
        )

    def record_paths(self, record: ModelRecord) -> ArtifactPaths:
        if record.name not in MODEL_NAMES:  # an imported model (core.store.imports)
            from core.store.imports import _record_paths

            return _record_paths(self, record)
        return self.paths(record.name, record.key)

    # ---------------------------------------------------------------- records

    def _signing_key(self) -> bytes:
        return load_signing_key(self.key_file, models_folder=self.folder)

    def _read_record(self, path: Path, *, name: str, key: str) -> ModelRecord:
        """The verified record at ``path``; _Unusable says why not. Never unpickles."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            record = validate_record(raw)
        except (OSError, ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            if isinstance(exc, IsADirectoryError):
                raise _Unusable(f"{path.name} is a directory, not a record file; remove it") from exc
            raise _Unusable(f"record {path.name} is unreadable or malformed ({describe_error(exc)})") from exc
        if not hmac.compare_digest(record.signature, sign(raw, self._signing_key())):
            raise _Unusable(
                f"record {path.name} is not signed by this installation's key ({self.key_file}); "
                "refusing to load an artifact this installation did not write",
                foreign=True,
            )
        if record.name != name or record.key != key:
            raise _Unusable(f"record {path.name} describes {record.name}-{record.key}")
        if record.data_fingerprint != self.data.fingerprint:
            raise _Unusable(f"trained on data {record.data_fingerprint}, the current data is {self.data.fingerprint}")
        current = library_versions()
        for lib in ("sklearn", "catalog"):
            if record.versions.get(lib) != current[lib]:
                raise _Unusable(f"trained with {lib} {record.versions.get(lib)}, this is {current[lib]}")
        try:
            expected = self.key(name, record.train_options(), record.random_state)
        except (OptionsError, KeyError, TypeError, ValueError) as exc:
            raise _Unusable(f"record {path.name} has unusable options ({describe_error(exc)})") from exc
        if expected != key:
            raise _Unusable(f"record {path.name} does not match its key (expected {expected})")
        return record

    def record(self, name: str, options: TrainOptions | None = None, random_state: int = 0) -> ModelRecord | None:
        """The verified record of the artifact for this key whose model file exists, or None.
        Reads JSON only; never warns."""
        get_spec(name)
        key = self.key(name, options, random_state)
        paths = self.paths(name, key)
        try:
            record = self._read_record(paths.record, name=name, key=key)
        except _Unusable:
            return None
        return record if paths.model.is_file() else None

    def latest(self, name: str, *, problems: list[str] | None = None) -> ModelRecord | None:
        """The most recently trained usable artifact of catalog model ``name`` for this data,
        whatever its options (e.g. one trained with ``--augment shifts``), or None. Reads JSON
        only. Messages about unusable records of ``name`` for this data go to ``problems``.
        A name that is not in the catalog is looked up among the imported models."""
        if name not in MODEL_NAMES:
            return self._imported(name)
        return max(self.records(name, problems=problems), key=lambda r: r.trained_at, default=None)

    def records(self, name: str, *, problems: list[str] | None = None) -> list[ModelRecord]:
        """Every usable trained artifact of catalog model ``name`` for this data (each variant:
        other options, augmentation or seed), oldest first. Reads JSON only. Messages about
        unusable records of ``name`` for this data go to ``problems``."""
        get_spec(name)
        found: list[ModelRecord] = []
        if not self.folder.is_dir():
            return found
        pattern = re.compile(rf"^{re.escape(name)}-([0-9a-f]{{12}})\.json$")
        try:
            entries = sorted(self.folder.iterdir())
        except OSError:
            return found
        for path in entries:
            m = pattern.match(path.name)
            if not m:
                continue
            try:
                record = self._read_record(path, name=name, key=m.group(1))
                if not path.with_suffix(".joblib").is_file():
                    raise _Unusable(f"{path.with_suffix('.joblib').name} is missing or not a file")
            except _Unusable as exc:
                if problems is not None and "current data is" not in str(exc):
                    problems.append(f"{name}: {exc}.")
                continue
            found.append(record)
        return sorted(found, key=lambda r: r.trained_at)

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

    def _imported(self, name: str) -> ModelRecord | None:
        """The imported model called ``name``; UnknownModelError listing every valid name if none."""
        from core.store.imports import imported_records

        records = imported_records(self) if isinstance(name, str) else []
        record = next((r for r in records if r.name == name), None)
        if record is None:
            raise UnknownModelError(
                f"unknown model {name!r}; catalog models: {', '.join(MODEL_NAMES)}; imported models: "
                f"{', '.join(r.name for r in records) or 'none'}."
            )
        return record

    def statuses(self, names: tuple[str, ...] | list[str] = MODEL_NAMES, *, imported: bool = True) -> list[ModelStatus]:
        """One ModelStatus per catalog model (default: all), trained or not, then (for the
        default list, unless ``imported=False``) one per imported model (core.store.imports).
        Reads JSON only."""
        self.tidy()
        out = []
        for name in names:
            reason = unavailable_reason(name)
            if reason:  # its artifacts stay on disk untouched for when the extra is installed
                out.append(ModelStatus(name, get_spec(name).label, None, (), reason))
                continue
            problems: list[str] = []
            record = self.latest(name, problems=problems)
            out.append(ModelStatus(name, get_spec(name).label, record, tuple(problems) if record is None else ()))
        if imported and tuple(names) == MODEL_NAMES:
            from core.store.imports import imported_statuses

            out.extend(imported_statuses(self))
        return out

    # ---------------------------------------------------------------- loading

    def load(
        self,
        target: ModelRecord | str,
        *,
        options: TrainOptions | None = None,
        random_state: int = 0,
    ) -> TrainedModel | None:
        """The fitted model of ``target`` (a record from :meth:`latest`/:meth:`record`, or a
        catalog name with ``options``/``random_state``), or None if there is none or it is
        unusable (reported through ``problem``; see the module docstring)."""
        if isinstance(target, ModelRecord) and target.name not in MODEL_NAMES:  # imported (core.store.imports)
            from core.store.imports import load_imported

            model, message = load_imported(self, target)
            if message:
                self._problem(message)
            return model
        if isinstance(target, ModelRecord):
            name, key = target.name, target.key
        elif target not in MODEL_NAMES and self.latest(target) is not None:
            return self.load(self.latest(target))
        else:
            get_spec(target)
            name, key = target, self.key(target, options, random_state)
        if not is_available(name):  # cannot unpickle without its extra; keep the files
            return None
        model, message = self.load_with_reason(name, key)
        if message:
            self._problem(message)
        return model

    def report_problem(self, message: str) -> None:
        """Tell the user (through ``problem``) that an artifact was unusable."""
        self._problem(message)

    def load_with_reason(self, name: str, key: str) -> tuple[TrainedModel | None, str]:
        """The model for ``name``/``key`` and "" , or None and why it is unusable ("" when absent)."""
        paths = self.paths(name, key)
        if not paths.record.exists() and not paths.model.exists():
            return None, ""
        try:
            record = self._read_record(paths.record, name=name, key=key)
            if paths.model.is_dir():
                raise _Unusable(f"{paths.model.name} is a directory, not a model file; remove it")
            try:
                payload = paths.model.read_bytes()
            except OSError as exc:
                raise _Unusable(f"cannot read {paths.model.name} ({describe_error(exc)})") from exc
            digest = hashlib.sha256(payload).hexdigest()
            if digest != record.model_sha256:  # a writer killed mid-swap keeps the record's bytes aside
                keep = self._keep_path(paths, record.model_sha256)
                try:
                    kept = keep.read_bytes() if keep.is_file() else b""
                except OSError:
                    kept = b""
                if kept and hashlib.sha256(kept).hexdigest() == record.model_sha256:
                    payload, digest = kept, record.model_sha256
            if digest != record.model_sha256:
                raise _Unusable(
                    f"the file's SHA-256 is {digest[:12]}…, its signed record vouches for "
                    f"{record.model_sha256[:12]}…; refusing to unpickle a file that was changed"
                )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", category=sklearn.exceptions.InconsistentVersionWarning)
                    accept_moved_modules()  # models pickled before core became stages
                    pipeline = joblib.load(io.BytesIO(payload))
            except (ImportError, AttributeError) as exc:  # signed and intact, but this code lacks what it names: keep it
                raise _Unusable(
                    f"{paths.model.name} names code this installation does not have ({type(exc).__name__}: {exc}); "
                    "it is kept (an update of the project or its extras may load it again)", foreign=True,
                ) from exc
            except Exception as exc:  # a signed file that does not unpickle here: retrain
                raise _Unusable(f"{paths.model.name} does not load ({type(exc).__name__}: {exc})") from exc
            if not _is_classifier_pipeline(pipeline):
                raise _Unusable(f"{paths.model.name} holds a {type(pipeline).__name__}, not a classifier Pipeline")
        except _Unusable as exc:
            if not exc.foreign:
                self._discard(paths)
            return None, (f"cached artifact {paths.model.name} is unusable: {exc}. "
                          "It needs training again.")
        return TrainedModel(pipeline, record, paths.model, from_cache=True), ""

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

    # ------------------------------------------------------------ predictions

    def predictions(self, model: TrainedModel) -> TestPredictions:
        """``model``'s predictions on ``data.X_test``: read from the cache beside the artifact,
        else computed (with a robust single-digit latency) and cached, unless the folder is
        read-only."""
        self.tidy()
        cached = self.cached_predictions(model.record)
        if cached is not None:
            return cached
        preds = compute_predictions(model.pipeline, self.data.X_test, self.data.y_test)
        self.save_predictions(model.record, preds)
        return preds

    def save_predictions(self, record: ModelRecord, preds: TestPredictions) -> None:
        """Cache ``preds`` beside ``record``'s artifact, signed with this installation's key;
        silently skipped when the folder cannot be written (predictions are cheap to recompute)."""
        try:
            self.write_predictions(self.record_paths(record).predictions, record, preds)
        except (OSError, ArtifactError):  # read-only folder, a directory in the way: predictions stay uncached
            pass

    def write_predictions(self, path: Path, record: ModelRecord, preds: TestPredictions) -> None:
        """Atomically write ``preds`` of ``record``'s model to ``path``, signed with this
        installation's key (what :meth:`cached_predictions` reads back). Raises OSError."""
        fields = {
            "y_pred": np.asarray(preds.y_pred, dtype=np.int64), "scores": np.asarray(preds.scores, dtype=np.float64),
            "score_kind": np.str_(preds.score_kind), "predict_seconds": np.float64(preds.predict_seconds),
            "latency_ms": np.float64(preds.latency_ms), "test_fingerprint": np.str_(_test_fingerprint(self.data)),
            "model_sha256": np.str_(record.model_sha256),
        }
        atomic_save_npz(path, signature=np.str_(_sign_arrays(fields, self._signing_key())), **fields)

    def cached_predictions(self, record: ModelRecord) -> TestPredictions | None:
        """The cached test-set predictions of ``record``'s artifact, without loading the model;
        None if absent, or (reported through ``problem``) unsigned, changed, malformed, or for
        other test data or another model file: the caller recomputes them."""
        path = self.record_paths(record).predictions
        if not path.exists():
            return None
        try:
            preds = self._read_predictions(path, record)
        except Exception as exc:  # noqa: BLE001 (truncated, foreign, tampered npz: the caller recomputes)
            if isinstance(exc, ArtifactError) and "signing key" in str(exc):
                raise
            self._problem(f"cached predictions {path.name} are unusable ({describe_error(exc)}); they are computed again.")
            return None
        return preds

    def _read_predictions(self, path: Path, record: ModelRecord) -> TestPredictions:
        n = len(self.data.y_test)
        with np.load(path, allow_pickle=False) as f:
            fields = {name: f[name] for name in _PREDICTION_FIELDS}
            signature = str(f["signature"]) if "signature" in f.files else ""
        if not hmac.compare_digest(signature, _sign_arrays(fields, self._signing_key())):
            raise ValueError("not signed by this installation's key")
        if str(fields["test_fingerprint"]) != _test_fingerprint(self.data) or str(fields["model_sha256"]) != record.model_sha256:
            raise ValueError("made for other test data or another model file")
        y_pred, scores = fields["y_pred"], fields["scores"]
        if y_pred.dtype.kind not in "iu" or y_pred.shape != (n,) or (n and not (y_pred.min() >= 0 and y_pred.max() <= 9)):
            raise ValueError(f"y_pred is not {n} digits 0-9 (dtype {y_pred.dtype}, shape {y_pred.shape})")
        if scores.dtype.kind != "f" or scores.shape != (n, 10) or not np.isfinite(scores).all():
            raise ValueError(f"scores are not {n} x 10 finite numbers (dtype {scores.dtype}, shape {scores.shape})")
        kind = str(fields["score_kind"])
        if kind not in SCORE_KINDS:
            raise ValueError(f"score_kind {kind[:40]!r} is not one of {', '.join(SCORE_KINDS)}")
        seconds, latency = float(fields["predict_seconds"]), float(fields["latency_ms"])
        if not (np.isfinite(seconds) and np.isfinite(latency) and 0 <= seconds < 1e7 and 0 <= latency < 1e7):
            raise ValueError("timings are out of range")
        return TestPredictions(y_true=self.data.y_test, y_pred=y_pred.astype(np.int64), scores=scores.astype(np.float64),
                               score_kind=kind, predict_seconds=seconds, latency_ms=latency)

    def accuracy(self, record: ModelRecord) -> float | None:
        """Test accuracy of ``record``'s model from its cached predictions only (None if absent)."""
        preds = self.cached_predictions(record)
        return None if preds is None else float(np.mean(preds.y_true == preds.y_pred))

    # ------------------------------------------------------------- side files

    def side_path(self, kind: str, key: str, suffix: str = ".json") -> Path:
        """``<folder>/<kind>/<key>-<data fingerprint><suffix>``: a file another feature keeps for
        this data (e.g. ``kind="label_errors"``, ``key`` a hash of its inputs)."""
        for what, value in (("kind", kind), ("key", key)):
            if not _SIDE_RE.match(value or "") or ".." in value:
                raise ArtifactError(f"side-file {what} {value!r} must be letters, digits, '_', '-', '.'.")
        if not re.fullmatch(r"\.[A-Za-z0-9_.]{1,20}", suffix):
            raise ArtifactError(f"side-file suffix {suffix!r} must look like '.json'.")
        return self.folder / kind / f"{key}-{self.data.fingerprint}{suffix}"


_PREDICTION_FIELDS = ("y_pred", "scores", "score_kind", "predict_seconds", "latency_ms", "test_fingerprint", "model_sha256")
#: What ``TestPredictions.score_kind`` may be.
SCORE_KINDS = ("probability", "decision score")


def _sign_arrays(fields: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 over the prediction fields' names, dtypes, shapes and bytes."""
    mac = hmac.new(key, b"predictions-v1", hashlib.sha256)
    for name in _PREDICTION_FIELDS:
        arr = np.ascontiguousarray(fields[name])
        mac.update(f"|{name}|{arr.dtype.str}|{arr.shape}|".encode())
        mac.update(arr.tobytes())
    return mac.hexdigest()


_test_fingerprints: dict[str, str] = {}
_last_tidy: dict[str, float] = {}


def _test_fingerprint(data: MnistData) -> str:
    """The fingerprint of the test arrays alone (what cached predictions depend on), memoised
    by the whole data set's fingerprint (which covers the test arrays)."""
    fp = _test_fingerprints.get(data.fingerprint)
    if fp is None:
        fp = _test_fingerprints[data.fingerprint] = fingerprint_arrays(data.X_test, data.y_test)
    return fp


