"""The artifact store: the one owner of the models folder's layout, keys, records, signing,
loading, test-set predictions and side files.

Layout (``<folder>`` is ``MODELS_DIR`` or ``./models``; ``key`` is 12 hex digits hashing
everything that changes the result: name, resolved options, seed, data fingerprint, catalog
version, scikit-learn and NumPy versions)::

    <folder>/<name>-<key>.joblib            the fitted Pipeline (joblib pickle)
    <folder>/<name>-<key>.json              its record (ModelRecord), signed, written last
    <folder>/<name>-<key>.predictions.npz   test-set predictions (no pickles inside)
    <folder>/<name>-<key>.lock              file lock: one trainer per key at a time
    <folder>/<kind>/<key>-<fingerprint><suffix>   side files of other features (see below)

**Trust.** A pickle runs code when loaded, so nothing is unpickled unless its record carries a
valid HMAC-SHA256 (over every record field, including the SHA-256 of the artifact's bytes)
made with this installation's signing key, which lives outside the models folder
(``MNIST_DASHBOARD_KEY_FILE``, default ``~/.config/mnist-dashboard/signing.key``, created on
first use with mode 0600). The bytes are read once, hashed, compared, and unpickled from
memory (no window to swap the file). After loading, the object must be a scikit-learn
Pipeline whose final estimator is a classifier. Anything that fails (missing or malformed
fields, a bad signature, a hash mismatch, stale versions, an unpickling error, a wrong type)
is reported as an :class:`~core.errors.ArtifactWarning` and treated as "not trained"; the
artifact is retrained on the next ``train``. Corrupt artifacts of this installation are
removed when the folder is writable; records with a foreign signature are left alone (they
may be another installation's) and simply replaced by the next training.

**Writes.** Every file is written to ``<target>.<pid>.<random>.tmp`` beside it and renamed into
place, the record last, under the key's file lock, so ``force=True`` never removes a good
artifact before its replacement is complete. Temp files whose writer process is gone are
removed by the next training (and by :meth:`ArtifactStore.remove_stale_temp_files`).

**Read-only folders** work for reading (predictions are computed but not cached); training
raises :class:`~core.errors.ArtifactError` naming the folder. Reading never creates the folder.

**Side files** for other features (label-error marks, search results, ...):
:meth:`ArtifactStore.side_path` gives ``<folder>/<kind>/<key>-<data fingerprint><suffix>``;
:meth:`ArtifactStore.write_json` writes JSON atomically there and
:meth:`ArtifactStore.read_json` reads it back (None when absent, unreadable, or rejected by the
caller's ``validate``). They hold data, never code, and are not signed.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import json
import os
import platform
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import sklearn
from filelock import FileLock, Timeout

from core.catalog import (
    AUGMENTATIONS,
    CATALOG_VERSION,
    MODEL_NAMES,
    build_pipeline,
    get_spec,
    is_available,
    unavailable_reason,
)
from core.errors import ArtifactError, ArtifactWarning, OptionsError
from core.fileio import atomic_write_bytes, stale_temp_files
from core.preprocessing import AUGMENT_FACTOR, final_estimator
from core.progress import report, scaled
from core.settings import Settings

if TYPE_CHECKING:
    from core.data import MnistData
    from core.evaluation import TestPredictions

__all__ = [
    "MAX_SEED",
    "RECORD_FORMAT",
    "ArtifactPaths",
    "ArtifactStore",
    "ModelRecord",
    "ModelStatus",
    "TrainOptions",
    "TrainedModel",
    "load_signing_key",
]

RECORD_FORMAT = 2
MAX_SEED = 2**32 - 1
MIN_TRAIN = 100
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_KEY_RE = re.compile(r"^[0-9a-f]{12}$")
_SIDE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}$")


# ------------------------------------------------------------------ data classes


@dataclass(frozen=True)
class TrainOptions:
    """What a user can switch per model. ``None`` means the catalog's default.

    ``augment``: one of ``core.catalog.AUGMENTATIONS``; ``max_train``: train on a stratified
    subset of ``max_train`` digits (None, or at least the training size: all).
    """

    deskew: bool | None = None
    augment: str | None = None
    max_train: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def resolved(self, name: str, *, n_train: int | None = None) -> dict[str, Any]:
        """The options with the catalog's defaults filled in. With ``n_train`` (the training
        set's size), ``max_train >= n_train`` becomes None (all digits), and a subset that would
        leave fewer digits out than there are classes is refused (a stratified split needs one
        per class)."""
        spec = get_spec(name)
        augment = spec.augment if self.augment is None else self.augment
        if augment not in AUGMENTATIONS:
            raise OptionsError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTATIONS)}.")
        max_train = self.max_train
        if max_train is not None:
            if isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer)):
                raise OptionsError(f"max_train={max_train!r} must be a whole number of digits, or None for all.")
            max_train = int(max_train)
            if max_train < MIN_TRAIN:
                raise OptionsError(f"max_train={max_train} is too small; use at least {MIN_TRAIN} digits or None for all.")
            if n_train is not None:
                if max_train >= n_train:
                    max_train = None
                elif n_train - max_train < 10:
                    raise OptionsError(
                        f"max_train={max_train} would leave out only {n_train - max_train} of the {n_train:,} "
                        f"training digits, fewer than one per class (10), so no stratified subset exists; use at "
                        f"most {n_train - 10}, or leave max_train out to train on all {n_train:,}."
                    )
        return {
            "deskew": spec.deskew if self.deskew is None else bool(self.deskew),
            "augment": augment,
            "max_train": max_train,
            "params": {**spec.params, **self.params},
        }


@dataclass
class ModelRecord:
    """What is known about a trained artifact (the JSON metadata, signed)."""

    name: str
    label: str
    key: str
    options: dict[str, Any]
    random_state: int
    data_fingerprint: str
    data_source: str
    n_train: int
    fit_seconds: float
    trained_at: str
    versions: dict[str, str]
    model_sha256: str = ""
    model_bytes: int = 0
    format: int = RECORD_FORMAT
    signature: str = ""

    @property
    def model_mb(self) -> float:
        return self.model_bytes / 1e6

    def options_summary(self) -> str:
        """E.g. ``deskew, shifts augmentation`` or ``raw pixels``."""
        parts = ["deskew" if self.options.get("deskew") else "raw pixels"]
        if self.options.get("augment", "none") != "none":
            parts.append(self.options["augment"] + " augmentation")
        if self.options.get("max_train"):
            parts.append(f"first {self.options['max_train']:,} digits")
        spec = get_spec(self.name)
        defaults = {**spec.params, "pca": spec.pca}
        for key, value in (self.options.get("params") or {}).items():
            if key in defaults and _same(defaults[key], value):
                continue
            parts.append(f"{key}={'x'.join(map(str, value)) if isinstance(value, (list, tuple)) else value}")
        return ", ".join(parts)

    def train_options(self) -> TrainOptions:
        """The TrainOptions that produce this record's key again."""
        o = self.options
        return TrainOptions(deskew=o["deskew"], augment=o["augment"], max_train=o["max_train"], params=dict(o["params"]))


@dataclass
class TrainedModel:
    """A fitted Pipeline, its record, where it lives, and whether it came from disk."""

    pipeline: Any
    record: ModelRecord
    path: Path
    from_cache: bool
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.record.name


@dataclass(frozen=True)
class ModelStatus:
    """What the models folder holds for one catalog model: its newest usable record (or None)
    and messages about unusable records of that model."""

    name: str
    label: str
    record: ModelRecord | None
    problems: tuple[str, ...] = ()
    #: why the model cannot be used here (an optional extra is missing), else ""
    unavailable: str = ""

    @property
    def trained(self) -> bool:
        return self.record is not None


@dataclass(frozen=True)
class ArtifactPaths:
    """The files of one artifact (see the module docstring)."""

    model: Path
    record: Path
    predictions: Path
    lock: Path

    def all(self) -> tuple[Path, ...]:
        return (self.model, self.record, self.predictions, self.lock)


# ---------------------------------------------------------------------- signing

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


def _canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_jsonable).encode()


def _sign(record: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(record), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------- helpers


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def _versions() -> dict[str, str]:
    return {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
        "catalog": CATALOG_VERSION,
    }


_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "label": (str,), "key": (str,), "options": (dict,), "random_state": (int,),
    "data_fingerprint": (str,), "data_source": (str,), "n_train": (int,), "fit_seconds": (int, float),
    "trained_at": (str,), "versions": (dict,), "model_sha256": (str,), "model_bytes": (int,),
    "format": (int,), "signature": (str,),
}


def _validate_record(raw: Any) -> ModelRecord:
    """A ModelRecord from parsed JSON; ValueError or TypeError naming the first bad field."""
    if not isinstance(raw, dict):
        raise TypeError(f"the record is a JSON {type(raw).__name__}, not an object")
    if raw.get("format") != RECORD_FORMAT:
        raise ValueError(f"record format {raw.get('format')!r}, expected {RECORD_FORMAT} (trained by another version)")
    names = {f.name for f in fields(ModelRecord)}
    unknown = sorted(set(raw) - names)
    missing = sorted(names - set(raw))
    if unknown or missing:
        raise ValueError(f"record fields: missing {missing or 'none'}, unexpected {unknown or 'none'}")
    for name, types in _RECORD_TYPES.items():
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise TypeError(f"record field {name!r} is {value!r}, not a {' or '.join(t.__name__ for t in types)}")
    opts = raw["options"]
    if set(opts) != {"deskew", "augment", "max_train", "params"}:
        raise ValueError(f"record options {sorted(opts)} are not deskew, augment, max_train, params")
    if not isinstance(opts["deskew"], bool) or opts["augment"] not in AUGMENTATIONS:
        raise TypeError(f"record options deskew={opts['deskew']!r}, augment={opts['augment']!r} are invalid")
    if opts["max_train"] is not None and (isinstance(opts["max_train"], bool) or not isinstance(opts["max_train"], int)):
        raise TypeError(f"record option max_train={opts['max_train']!r} is invalid")
    if not isinstance(opts["params"], dict):
        raise TypeError("record option params is not an object")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw["versions"].items()):
        raise ValueError("record versions are not name: version strings")
    if not _NAME_RE.match(raw["name"]) or not _KEY_RE.match(raw["key"]):
        raise ValueError(f"record name {raw['name']!r} or key {raw['key']!r} is malformed")
    if not re.fullmatch(r"[0-9a-f]{64}", raw["model_sha256"]) or not re.fullmatch(r"[0-9a-f]{64}", raw["signature"]):
        raise ValueError("record model_sha256 or signature is not a hex SHA-256")
    if not 0 <= raw["random_state"] <= MAX_SEED:
        raise ValueError(f"record random_state {raw['random_state']} is out of range")
    try:
        datetime.fromisoformat(raw["trained_at"])
    except ValueError:
        raise ValueError(f"record trained_at {raw['trained_at']!r} is not an ISO timestamp") from None
    return ModelRecord(**raw)


def _is_classifier_pipeline(obj: Any) -> bool:
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    if not isinstance(obj, Pipeline) or not obj.steps:
        return False
    final = final_estimator(obj)
    return bool(is_classifier(final) and hasattr(obj, "predict") and hasattr(obj, "classes_"))


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


class _Unusable(Exception):
    """An artifact failed a check; ``foreign`` when only the signature is wrong."""

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
        key_file: str | os.PathLike | None = None,
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
        self._key_file = Path(key_file).expanduser() if key_file else None
        self._problem = problem or _warn

    @property
    def key_file(self) -> Path:
        """The signing key's path (``MNIST_DASHBOARD_KEY_FILE`` or the user's config folder)."""
        if self._key_file is None:
            self._key_file = Settings.from_env().signing_key_file
        return self._key_file

    @classmethod
    def from_settings(cls, settings: Settings, *, data: MnistData, problem: Problem | None = None) -> ArtifactStore:
        """The store for ``settings.models_dir`` with ``settings``' signing key."""
        return cls(settings.models_dir, data=data, key_file=settings.signing_key_file, problem=problem)

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.folder)!r}, data={self.data.fingerprint})"

    # ------------------------------------------------------------ keys, paths

    def resolve(self, name: str, options: TrainOptions | None = None) -> dict[str, Any]:
        """``options`` with the catalog's defaults filled in, for this data (OptionsError if bad)."""
        return (options or TrainOptions()).resolved(name, n_train=self.data.n_train)

    def key(self, name: str, options: TrainOptions | None = None, random_state: int = 0) -> str:
        """12 hex digits identifying a trained result (see the module docstring)."""
        _check_seed(random_state)
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
        return self.paths(record.name, record.key)

    # ---------------------------------------------------------------- records

    def _signing_key(self) -> bytes:
        return load_signing_key(self.key_file)

    def _read_record(self, path: Path, *, name: str, key: str) -> ModelRecord:
        """The verified record at ``path``; _Unusable says why not. Never unpickles."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            record = _validate_record(raw)
        except (OSError, ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            if isinstance(exc, IsADirectoryError):
                raise _Unusable(f"{path.name} is a directory, not a record file; remove it") from exc
            raise _Unusable(f"record {path.name} is unreadable or malformed ({_why(exc)})") from exc
        if not hmac.compare_digest(record.signature, _sign(raw, self._signing_key())):
            raise _Unusable(
                f"record {path.name} is not signed by this installation's key ({self.key_file}); "
                "refusing to load an artifact this installation did not write",
                foreign=True,
            )
        if record.name != name or record.key != key:
            raise _Unusable(f"record {path.name} describes {record.name}-{record.key}")
        if record.data_fingerprint != self.data.fingerprint:
            raise _Unusable(f"trained on data {record.data_fingerprint}, the current data is {self.data.fingerprint}")
        current = _versions()
        for lib in ("sklearn", "catalog"):
            if record.versions.get(lib) != current[lib]:
                raise _Unusable(f"trained with {lib} {record.versions.get(lib)}, this is {current[lib]}")
        try:
            expected = self.key(name, record.train_options(), record.random_state)
        except (OptionsError, KeyError, TypeError, ValueError) as exc:
            raise _Unusable(f"record {path.name} has unusable options ({_why(exc)})") from exc
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
        only. Messages about unusable records of ``name`` for this data go to ``problems``."""
        get_spec(name)
        found: list[ModelRecord] = []
        if not self.folder.is_dir():
            return None
        pattern = re.compile(rf"^{re.escape(name)}-([0-9a-f]{{12}})\.json$")
        try:
            entries = sorted(self.folder.iterdir())
        except OSError:
            return None
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
        return max(found, key=lambda r: r.trained_at, default=None)

    def statuses(self, names: tuple[str, ...] | list[str] = MODEL_NAMES) -> list[ModelStatus]:
        """One ModelStatus per catalog model (default: all), trained or not. Reads JSON only."""
        out = []
        for name in names:
            reason = unavailable_reason(name)
            if reason:  # its artifacts stay on disk untouched for when the extra is installed
                out.append(ModelStatus(name, get_spec(name).label, None, (), reason))
                continue
            problems: list[str] = []
            record = self.latest(name, problems=problems)
            out.append(ModelStatus(name, get_spec(name).label, record, tuple(problems) if record is None else ()))
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
        if isinstance(target, ModelRecord):
            name, key = target.name, target.key
        else:
            get_spec(target)
            name, key = target, self.key(target, options, random_state)
        if not is_available(name):  # cannot unpickle without its extra; keep the files
            return None
        model, message = self._load(name, key)
        if message:
            self._problem(message)
        return model

    def _load(self, name: str, key: str) -> tuple[TrainedModel | None, str]:
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
                raise _Unusable(f"cannot read {paths.model.name} ({_why(exc)})") from exc
            digest = hashlib.sha256(payload).hexdigest()
            if digest != record.model_sha256:
                raise _Unusable(
                    f"the file's SHA-256 is {digest[:12]}…, its signed record vouches for "
                    f"{record.model_sha256[:12]}…; refusing to unpickle a file that was changed"
                )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", category=sklearn.exceptions.InconsistentVersionWarning)
                    pipeline = joblib.load(io.BytesIO(payload))
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

    # --------------------------------------------------------------- training

    def train(
        self,
        name: str,
        *,
        options: TrainOptions | None = None,
        random_state: int = 0,
        force: bool = False,
    ) -> TrainedModel:
        """Catalog model ``name`` fitted on ``data.X_train`` (n, 784), saved, and its record.

        Loads the cached artifact when one matches the key; otherwise fits and saves (progress
        through :func:`core.progress.report`). ``force`` retrains anyway, replacing the old
        artifact only once the new one is complete. Raises UnknownModelError, OptionsError,
        and ArtifactError (naming the folder) when the folder cannot be written.
        """
        spec = get_spec(name)
        options = options or TrainOptions()
        resolved = self.resolve(name, options)
        key = self.key(name, options, random_state)
        paths = self.paths(name, key)
        notes: list[str] = []

        def cached() -> TrainedModel | None:
            if force:
                return None
            model, message = self._load(name, key)
            if message:
                notes.append(message)
                self._problem(message)
            if model is not None:
                model.notes.extend(notes)
            return model

        self.remove_stale_temp_files()
        hit = cached()
        if hit is not None:
            return hit
        for path in (paths.model, paths.record, paths.lock):
            if path.is_dir():
                raise ArtifactError(f"{str(path)!r} is a directory where the artifact file belongs; remove it, then train again.")
        self._make_folder()
        try:
            lock = FileLock(str(paths.lock))
            lock.acquire()
        except OSError as exc:
            raise self._write_error(exc) from exc
        try:
            self.remove_stale_temp_files(paths=paths, all_of_key=True)
            hit = cached()  # another process may have trained it while we waited
            if hit is not None:
                return hit
            X, y = _training_set(self.data, resolved, random_state)
            pipeline = build_pipeline(
                name, deskew=resolved["deskew"], augment=resolved["augment"], params=resolved["params"],
                random_state=random_state,
            )
            n_fit = len(y) * AUGMENT_FACTOR[resolved["augment"]]
            report(0.0, f"fitting {spec.label} on {n_fit:,} digits")
            start = time.perf_counter()
            with scaled(0.0, 0.95):  # a model that reports its own progress (the CNN's epochs) fills the bar
                _fit(pipeline, X, y)
            fit_seconds = time.perf_counter() - start
            if _stopped_early(pipeline):
                notes.append(f"{spec.label}: stopped at its iteration budget before full convergence.")
            _predict_in_calling_thread(pipeline)
            report(0.95, f"saving {spec.label}")
            buf = io.BytesIO()
            joblib.dump(pipeline, buf)
            payload = buf.getvalue()
            record = ModelRecord(
                name=name, label=spec.label, key=key, options=resolved, random_state=int(random_state),
                data_fingerprint=self.data.fingerprint, data_source=self.data.source, n_train=int(n_fit),
                fit_seconds=round(fit_seconds, 3),
                trained_at=datetime.now(UTC).isoformat(timespec="microseconds"),
                versions=_versions(), model_sha256=hashlib.sha256(payload).hexdigest(), model_bytes=len(payload),
            )
            raw = json.loads(json.dumps(asdict(record), default=_jsonable))
            record.signature = raw["signature"] = _sign(raw, self._signing_key())
            try:
                atomic_write_bytes(paths.model, payload)  # replaces the old file only when complete
                atomic_write_bytes(paths.record, json.dumps(raw, indent=2).encode())  # the commit point
            except OSError as exc:
                raise self._write_error(exc) from exc
            record = _validate_record(raw)
            report(1.0, f"{spec.label} trained in {fit_seconds:.1f} s")
        finally:
            lock.release()
        return TrainedModel(pipeline, record, paths.model, from_cache=False, notes=notes)

    def _make_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc: OSError) -> ArtifactError:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            why = "the folder is read-only or not writable by this user"
        elif exc.errno == errno.ENOSPC:
            why = "the disk is full"
        elif isinstance(exc, (IsADirectoryError, NotADirectoryError, FileExistsError)):
            why = f"a path is in the way ({_why(exc)})"
        else:
            why = _why(exc)
        return ArtifactError(
            f"cannot write a trained model to the models folder {str(self.folder)!r}: {why}. Models already "
            "there can still be used; to train, point MODELS_DIR or --models-dir at a writable folder."
        )

    def remove_stale_temp_files(self, *, paths: ArtifactPaths | None = None, all_of_key: bool = False) -> list[Path]:
        """Remove temp files whose writer process is gone; with ``all_of_key`` (only while
        holding the key's lock), every temp file of that key's model and record. Never raises."""
        removed = []
        if not self.folder.is_dir():
            return removed
        targets = {paths.model.name, paths.record.name} if (paths is not None and all_of_key) else set()
        for path in stale_temp_files(self.folder, also=targets):
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
        from core.evaluation import compute_predictions

        cached = self.cached_predictions(model.record)
        if cached is not None:
            return cached
        preds = compute_predictions(model.pipeline, self.data)
        self.save_predictions(model.record, preds)
        return preds

    def save_predictions(self, record: ModelRecord, preds: TestPredictions) -> None:
        """Cache ``preds`` beside ``record``'s artifact; silently skipped when the folder cannot
        be written (predictions are cheap to recompute)."""
        from core.fileio import atomic_save_npz

        path = self.record_paths(record).predictions
        try:
            atomic_save_npz(
                path, y_pred=preds.y_pred, scores=preds.scores, score_kind=str(preds.score_kind),
                predict_seconds=preds.predict_seconds, latency_ms=preds.latency_ms,
                test_fingerprint=_test_fingerprint(self.data),
                model_sha256=record.model_sha256,
            )
        except OSError:  # read-only folder, or a directory in the way: predictions stay uncached
            pass

    def cached_predictions(self, record: ModelRecord) -> TestPredictions | None:
        """The cached test-set predictions of ``record``'s artifact, without loading the model;
        None if absent, unreadable, or for other test data or another model file."""
        from core.evaluation import TestPredictions

        path = self.record_paths(record).predictions
        try:
            with np.load(path, allow_pickle=False) as f:
                if str(f["test_fingerprint"]) != _test_fingerprint(self.data):
                    return None
                if str(f["model_sha256"]) != record.model_sha256:
                    return None
                y_pred, scores = np.asarray(f["y_pred"]), np.asarray(f["scores"])
                if y_pred.shape != self.data.y_test.shape or scores.shape != (len(y_pred), 10):
                    return None
                return TestPredictions(
                    y_true=self.data.y_test, y_pred=y_pred, scores=scores, score_kind=str(f["score_kind"]),
                    predict_seconds=float(f["predict_seconds"]), latency_ms=float(f["latency_ms"]),
                )
        except Exception:  # noqa: BLE001 (missing, truncated or foreign npz: the caller recomputes)
            return None

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

    def read_json(self, kind: str, key: str, *, validate: Callable[[Any], Any] | None = None) -> Any | None:
        """The JSON side file ``kind``/``key`` for this data, or None when absent. An unreadable
        file, or one ``validate`` rejects (by raising ValueError/TypeError/KeyError), is
        reported through ``problem`` and gives None. ``validate``'s return value is returned."""
        path = self.side_path(kind, key, ".json")
        if not path.exists():
            return None
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
            return validate(value) if validate is not None else value
        except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError) as exc:
            self._problem(f"side file {path.name} ({kind}) is unusable ({_why(exc)}); it will be computed again.")
            return None

    def write_json(self, kind: str, key: str, value: Any) -> Path:
        """Atomically write ``value`` as the JSON side file ``kind``/``key`` for this data.
        Raises ArtifactError naming the folder when it cannot be written."""
        path = self.side_path(kind, key, ".json")
        payload = json.dumps(value, indent=1, default=_jsonable, allow_nan=False).encode()
        try:
            return atomic_write_bytes(path, payload)
        except OSError as exc:
            raise self._write_error(exc) from exc


# ----------------------------------------------------------------- fitting

_test_fingerprints: dict[str, str] = {}


def _test_fingerprint(data: MnistData) -> str:
    """The fingerprint of the test arrays alone (what cached predictions depend on), memoised
    by the whole data set's fingerprint (which covers the test arrays)."""
    fp = _test_fingerprints.get(data.fingerprint)
    if fp is None:
        from core.data import fingerprint_arrays

        fp = _test_fingerprints[data.fingerprint] = fingerprint_arrays(data.X_test, data.y_test)
    return fp



def _check_seed(random_state: Any) -> None:
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or not 0 <= random_state <= MAX_SEED:
        raise OptionsError(f"seed (random_state) {random_state!r} is out of range; use a whole number from 0 to {MAX_SEED}.")


def _training_set(data: MnistData, resolved: dict[str, Any], random_state: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = data.X_train, data.y_train
    if resolved["max_train"] and resolved["max_train"] < len(y):
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(X, y, train_size=resolved["max_train"], stratify=y, random_state=random_state)
    return X, y


def _fit(pipeline, X: np.ndarray, y: np.ndarray) -> None:
    """Fit; in the main thread, silence ConvergenceWarning (reported as a note instead).
    Warning filters are process-wide, so a background thread leaves them alone."""
    if threading.current_thread() is threading.main_thread():
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(X, y)
    else:
        pipeline.fit(X, y)


def _stopped_early(pipeline) -> bool:
    """Whether an iterative estimator used its whole iteration budget (did not converge)."""
    final = final_estimator(pipeline)
    estimators = getattr(final, "estimators_", None) if hasattr(final, "estimator") else None
    for est in [final, *(estimators or [])]:
        n_iter, max_iter = getattr(est, "n_iter_", None), getattr(est, "max_iter", None)
        if (n_iter is not None and isinstance(max_iter, (int, np.integer)) and max_iter > 0
                and np.max(np.asarray(n_iter)) >= max_iter):
            return True
    return False


def _predict_in_calling_thread(pipeline) -> None:
    """Fit used every core; for prediction, a process pool costs more than it saves (a single
    digit through RandomForest's n_jobs=-1 takes ~15 ms instead of ~1 ms)."""
    final = final_estimator(pipeline)
    if "n_jobs" in final.get_params(deep=False):
        final.set_params(n_jobs=None)


def _same(default: Any, value: Any) -> bool:
    """A parameter equal to its catalog default, also after JSON turned a tuple into a list."""
    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    return norm(default) == norm(value)
