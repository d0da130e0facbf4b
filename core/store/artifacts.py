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

import hashlib
import hmac
import io
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from core.data.preprocessing import final_estimator
from core.data.sources import MnistData
from core.errors import ArtifactError, ArtifactWarning, OptionsError, UnknownModelError, describe_error
from core.models.catalog import CATALOG_VERSION, MODEL_NAMES, get_spec, is_available, unavailable_reason
from core.store.moved import accept_moved_modules
from core.store.predictions_cache import SCORE_KINDS, StorePredictions
from core.store.records import (
    ArtifactPaths,
    ModelRecord,
    ModelStatus,
    TrainedModel,
    TrainOptions,
    check_seed,
    library_versions,
    validate_record,
)
from core.store.signing import load_signing_key, sign
from core.store.writes import StoreWrites

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




class _Unusable(Exception):
    """An artifact failed a check; ``foreign`` when it must be kept (another installation's
    signature, or intact files naming code this installation lacks)."""

    def __init__(self, message: str, *, foreign: bool = False):
        super().__init__(message)
        self.foreign = foreign


Problem = Callable[[str], None]


def _side_name(what: str, value: str) -> str:
    if not _SIDE_RE.match(value or "") or ".." in value:
        raise ArtifactError(f"side-file {what} {value!r} must be letters, digits, '_', '-', '.'.")
    return value


def _warn(message: str) -> None:
    warnings.warn(message, ArtifactWarning, stacklevel=3)


# ----------------------------------------------------------------------- store


class ArtifactStore(StoreWrites, StorePredictions):
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

    # ------------------------------------------------------------- side files

    def side_dir(self, kind: str) -> Path:
        """``<folder>/<kind>``: the folder of the side files of ``kind``."""
        return self.folder / _side_name("kind", kind)

    def side_path(self, kind: str, key: str, suffix: str = ".json") -> Path:
        """``<folder>/<kind>/<key>-<data fingerprint><suffix>``: a file another feature keeps for
        this data (e.g. ``kind="label_errors"``, ``key`` a hash of its inputs)."""
        _side_name("key", key)
        if not re.fullmatch(r"\.[A-Za-z0-9_.]{1,20}", suffix):
            raise ArtifactError(f"side-file suffix {suffix!r} must look like '.json'.")
        return self.side_dir(kind) / f"{key}-{self.data.fingerprint}{suffix}"


