"""Cached training: fit a catalog model once, save it with joblib, reload it after that.

An artifact is three files in the models folder (``MODELS_DIR`` or ``./models``):

* ``<name>-<key>.joblib``: the fitted Pipeline;
* ``<name>-<key>.json``: its record, including the SHA-256 of the joblib file;
* ``<name>-<key>.predictions.npz``: test-set predictions (written by core.evaluation).

``key`` hashes everything that changes the result: name, parameters, options, seed, data
fingerprint, catalog version and the scikit-learn version. Writes go to a temp file and
are renamed into place; the JSON is written last, so a half-written artifact is never
trusted. A joblib file whose hash the JSON does not vouch for is never unpickled. A file
lock per key makes concurrent trainers of the same key wait for one another.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import joblib
import numpy as np
import sklearn
from filelock import FileLock

from core.catalog import AUGMENTATIONS, CATALOG_VERSION, build_pipeline, get_spec, is_available
from core.data import MnistData
from core.errors import ArtifactWarning
from core.fileio import atomic_write_bytes
from core.preprocessing import AUGMENT_FACTOR, final_estimator

__all__ = [
    "ArtifactWarning",
    "ModelRecord",
    "TrainedModel",
    "TrainOptions",
    "models_dir",
    "artifact_key",
    "train_model",
    "load_cached_model",
    "cached_record",
    "latest_record",
    "options_of",
]

log = logging.getLogger(__name__)
RECORD_FORMAT = 1


@dataclass(frozen=True)
class TrainOptions:
    """What a user can switch per model. ``None`` means the catalog's default.

    ``augment``: one of ``core.catalog.AUGMENTATIONS``; ``max_train``: train on the first
    stratified ``max_train`` digits only (None: all).
    """

    deskew: bool | None = None
    augment: str | None = None
    max_train: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def resolved(self, name: str) -> dict[str, Any]:
        spec = get_spec(name)
        augment = spec.augment if self.augment is None else self.augment
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTATIONS)}.")
        if self.max_train is not None and self.max_train < 100:
            raise ValueError(f"max_train={self.max_train} is too small; use at least 100 digits or None for all.")
        return {
            "deskew": spec.deskew if self.deskew is None else bool(self.deskew),
            "augment": augment,
            "max_train": self.max_train,
            "params": {**spec.params, **self.params},
        }


@dataclass
class ModelRecord:
    """What is known about a trained artifact (the JSON metadata)."""

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

    @property
    def model_mb(self) -> float:
        return self.model_bytes / 1e6

    def options_summary(self) -> str:
        """E.g. ``deskew, shifts`` or ``raw pixels``."""
        parts = ["deskew" if self.options.get("deskew") else "raw pixels"]
        if self.options.get("augment", "none") != "none":
            parts.append(self.options["augment"] + " augmentation")
        if self.options.get("max_train"):
            parts.append(f"first {self.options['max_train']:,} digits")
        return ", ".join(parts)


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


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The artifact folder: ``path``, else ``MODELS_DIR``, else ``./models``; created if needed."""
    folder = Path(path or os.environ.get("MODELS_DIR") or "models").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _versions() -> dict[str, str]:
    return {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
        "catalog": CATALOG_VERSION,
    }


def artifact_key(name: str, *, data: MnistData, options: TrainOptions | None = None, random_state: int = 0) -> str:
    """12 hex digits identifying a trained result (see module docstring)."""
    resolved = (options or TrainOptions()).resolved(name)
    blob = json.dumps(
        {
            "name": name,
            "options": resolved,
            "random_state": random_state,
            "data": data.fingerprint,
            "catalog": CATALOG_VERSION,
            "sklearn": sklearn.__version__,
            "numpy": ".".join(np.__version__.split(".")[:2]),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _paths(folder: Path, name: str, key: str) -> dict[str, Path]:
    stem = f"{name}-{key}"
    return {
        "model": folder / f"{stem}.joblib",
        "record": folder / f"{stem}.json",
        "predictions": folder / f"{stem}.predictions.npz",
        "lock": folder / f"{stem}.lock",
    }


def cached_record(
    name: str,
    *,
    data: MnistData,
    options: TrainOptions | None = None,
    random_state: int = 0,
    models_path: str | os.PathLike | None = None,
) -> ModelRecord | None:
    """The record of a cached artifact for this key, or None; never unpickles anything."""
    key = artifact_key(name, data=data, options=options, random_state=random_state)
    paths = _paths(models_dir(models_path), name, key)
    try:
        record = _read_record(paths["record"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if record.key != key or not paths["model"].is_file():
        return None
    return record


def options_of(record: ModelRecord) -> TrainOptions:
    """The TrainOptions that produce ``record``'s artifact key again."""
    opts = record.options
    return TrainOptions(deskew=opts["deskew"], augment=opts["augment"], max_train=opts["max_train"],
                        params=dict(opts["params"]))


def latest_record(
    name: str, *, data: MnistData, models_path: str | os.PathLike | None = None
) -> ModelRecord | None:
    """The most recently trained artifact of catalog model ``name`` for ``data``, whatever
    its options (e.g. one trained with ``--augment shifts``), or None. Reads JSON only."""
    get_spec(name)
    found = []
    for path in models_dir(models_path).glob(f"{name}-*.json"):
        try:
            record = _read_record(path)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if (record.name == name and not _check_record(record, record.key, data)
                and path.with_suffix(".joblib").is_file()
                and artifact_key(name, data=data, options=options_of(record), random_state=record.random_state) == record.key):
            found.append(record)
    return max(found, key=lambda r: r.trained_at, default=None)


def _read_record(path: Path) -> ModelRecord:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("format") != RECORD_FORMAT:
        raise ValueError(f"record format {raw.get('format')!r}, expected {RECORD_FORMAT}")
    return ModelRecord(**raw)


def load_cached_model(
    name: str,
    *,
    data: MnistData,
    options: TrainOptions | None = None,
    random_state: int = 0,
    models_path: str | os.PathLike | None = None,
) -> TrainedModel | None:
    """The cached model for this key, or None if there is none or it is unusable.

    An unusable artifact (unreadable JSON, hash mismatch, stale versions, unpickling error)
    raises an :class:`ArtifactWarning`, is deleted, and None is returned. A model whose optional
    extra is not installed (``core.catalog.is_available``) returns None and its files are kept.
    """
    if not is_available(name):  # issue 10: unpickling would fail for want of torch; the artifact is fine
        return None
    key = artifact_key(name, data=data, options=options, random_state=random_state)
    paths = _paths(models_dir(models_path), name, key)
    if not paths["record"].exists() and not paths["model"].exists():
        return None
    try:
        record = _read_record(paths["record"])
        problem = _check_record(record, key, data)
        if problem:
            raise ValueError(problem)
        digest = _sha256_file(paths["model"])
        if digest != record.model_sha256:
            raise ValueError(
                f"SHA-256 of {paths['model'].name} is {digest[:12]}…, its record vouches for "
                f"{record.model_sha256[:12]}…; refusing to unpickle a file that was changed"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=getattr(sklearn.exceptions, "InconsistentVersionWarning", UserWarning))
            pipeline = joblib.load(paths["model"])
    except Exception as exc:  # any failure means: do not trust, retrain
        msg = (f"cached artifact {paths['model'].name} is unusable ({type(exc).__name__}: {exc}); "
               "it was removed and the model needs training again.")
        warnings.warn(msg, ArtifactWarning, stacklevel=2)
        log.warning(msg)
        _discard(paths)
        return None
    return TrainedModel(pipeline, record, paths["model"], from_cache=True)


def _check_record(record: ModelRecord, key: str, data: MnistData) -> str:
    if record.key != key:
        return f"record key {record.key!r} does not match {key!r}"
    if record.data_fingerprint != data.fingerprint:
        return f"trained on data {record.data_fingerprint}, current data is {data.fingerprint}"
    current = _versions()
    for lib in ("sklearn", "catalog"):
        if record.versions.get(lib) != current[lib]:
            return f"trained with {lib} {record.versions.get(lib)}, this is {current[lib]}"
    return ""


def _discard(paths: dict[str, Path]) -> None:
    for role in ("record", "model", "predictions"):
        paths[role].unlink(missing_ok=True)


def _training_set(data: MnistData, resolved: dict[str, Any], random_state: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = data.X_train, data.y_train
    if resolved["max_train"] and resolved["max_train"] < len(y):
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(
            X, y, train_size=resolved["max_train"], stratify=y, random_state=random_state
        )
    return X, y


def train_model(
    name: str,
    *,
    data: MnistData,
    options: TrainOptions | None = None,
    random_state: int = 0,
    models_path: str | os.PathLike | None = None,
    force: bool = False,
    on_status: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Return catalog model ``name`` fitted on ``data.X_train`` (n, 784) and its record.

    Loads the cached artifact when one matches the key (well under a second for most
    models); otherwise fits, saves atomically, and returns it. ``force`` retrains anyway.
    ``on_status`` receives short progress messages. Raises ``UnknownModelError`` for an
    unknown name, ``ValueError`` for bad options.
    """
    spec = get_spec(name)
    options = options or TrainOptions()
    resolved = options.resolved(name)
    say = on_status or (lambda _msg: None)
    folder = models_dir(models_path)
    key = artifact_key(name, data=data, options=options, random_state=random_state)
    paths = _paths(folder, name, key)
    notes: list[str] = []

    def cached() -> TrainedModel | None:
        if force:
            return None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ArtifactWarning)
            model = load_cached_model(name, data=data, options=options, random_state=random_state, models_path=folder)
        for w in caught:
            if issubclass(w.category, ArtifactWarning):
                notes.append(str(w.message))
                warnings.warn(w.message, ArtifactWarning, stacklevel=3)
        return model

    hit = cached()
    if hit is not None:
        return hit
    with FileLock(str(paths["lock"])):
        hit = cached()  # another process may have trained it while we waited
        if hit is not None:
            return hit
        X, y = _training_set(data, resolved, random_state)
        pipeline = build_pipeline(
            name, deskew=resolved["deskew"], augment=resolved["augment"], params=resolved["params"],
            random_state=random_state,
        )
        n_fit = len(y) * AUGMENT_FACTOR[resolved["augment"]]
        say(f"fitting {spec.label} on {n_fit:,} digits")
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pipeline.fit(X, y)
        fit_seconds = time.perf_counter() - start
        _predict_in_calling_thread(pipeline)
        for w in caught:
            if w.category.__name__ == "ConvergenceWarning":
                notes.append(f"{spec.label}: stopped at its iteration budget before full convergence.")
        say(f"saving {spec.label}")
        _discard(paths)
        buf = io.BytesIO()
        joblib.dump(pipeline, buf)
        payload = buf.getvalue()
        atomic_write_bytes(paths["model"], payload)
        record = ModelRecord(
            name=name,
            label=spec.label,
            key=key,
            options=resolved,
            random_state=random_state,
            data_fingerprint=data.fingerprint,
            data_source=data.source,
            n_train=int(n_fit),
            fit_seconds=round(fit_seconds, 3),
            trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            versions=_versions(),
            model_sha256=hashlib.sha256(payload).hexdigest(),
            model_bytes=len(payload),
        )
        atomic_write_bytes(paths["record"], json.dumps(asdict(record), indent=2, default=_jsonable).encode())
    return TrainedModel(pipeline, record, paths["model"], from_cache=False, notes=notes)


def _predict_in_calling_thread(pipeline) -> None:
    """Fit used every core; for prediction, a process pool costs more than it saves (a
    single digit through RandomForest's n_jobs=-1 takes ~15 ms instead of ~1 ms)."""
    final = final_estimator(pipeline)
    if "n_jobs" in final.get_params(deep=False):
        final.set_params(n_jobs=None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)
