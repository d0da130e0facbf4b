"""Imported models: ONNX files and prediction files in the artifact store, with signed records.

Layout (``<folder>`` is the store's models folder)::

    <folder>/imported/<name>.json              the signed record (ImportedRecord), written last
    <folder>/imported/<name>.onnx | .csv | …    a copy of the original file, byte for byte
    <folder>/imported/<name>.predictions.npz   test-set predictions (no pickles inside)
    <folder>/imported/<name>.lock              one writer per name

An :class:`ImportedRecord` is a :class:`~core.store.records.ModelRecord` (so the store's model
list, pages and commands take it like a trained model) plus what was detected at import: the
source file's SHA-256 and name, the input layout, the pixel scale, the output kind and the test
accuracy. One trust rule for everything the store loads: the file is read only after its
record's HMAC signature and the file's SHA-256 check out (an ONNX graph runs no Python, but a
changed file is refused all the same).

Names: lowercase letters, digits and ``_``, starting with a letter, at most 40 characters; not a
catalog model's name and not already imported (delete it first to replace it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from core.data.sources import fingerprint_arrays
from core.errors import ArtifactError
from core.fileio import atomic_write_bytes
from core.models.catalog import MODEL_NAMES
from core.models.onnx_model import LAYOUTS, MAX_FILE_BYTES, ModelImportError, OnnxClassifier, choose_scale, detect_output_kind
from core.models.predict import TestPredictions, compute_predictions
from core.models.prediction_file import SUFFIXES, PredictionsOnly, read_prediction_file
from core.store.records import ArtifactPaths, ModelRecord, ModelStatus, TrainedModel, TrainOptions, jsonable, library_versions
from core.store.signing import sign

__all__ = [
    "IMPORT_FORMAT",
    "ImportedRecord",
    "check_import_name",
    "delete_import",
    "import_onnx",
    "import_predictions",
    "imported_paths",
    "imported_record",
    "imported_records",
    "import_file",
    "imported_statuses",
    "imports_table",
    "suggest_name",
    "load_imported",
]

IMPORT_FORMAT = 1
SUBFOLDER = "imported"
#: Training digits used to choose the pixel scale and detect the output kind.
PROBE_DIGITS = 500
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KINDS = ("onnx", "predictions")


@dataclass
class ImportedRecord(ModelRecord):
    """A ModelRecord for an imported file (``kind``: ``onnx`` or ``predictions``)."""

    kind: str = "onnx"
    source_name: str = ""
    layout: str = ""
    scale: str = ""
    output_kind: str = ""
    accuracy_at_import: float = 0.0
    test_fingerprint: str = ""
    import_format: int = IMPORT_FORMAT

    @property
    def source_sha256(self) -> str:
        """The SHA-256 of the original file (the stored copy is byte-identical)."""
        return self.model_sha256

    def options_summary(self) -> str:
        if self.kind == "predictions":
            what = {"probability": "probabilities", "decision score": "scores", "label": "predicted digits only"}
            return f"imported prediction file ({what.get(self.output_kind, self.output_kind)})"
        kind = {"logits": "logits, softmax applied", "probability": "probabilities",
                "decision score": "decision scores"}.get(self.output_kind, self.output_kind)
        return f"imported ONNX, {self.layout} input, pixels {self.scale}, {kind}"

    def train_options(self) -> TrainOptions:
        """Empty: an imported model was not trained here."""
        return TrainOptions()


def check_import_name(name: Any, *, taken: set[str] = frozenset()) -> str:
    """``name`` if it can name a new import; else ModelImportError saying why."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ModelImportError(
            f"the name {name!r} is not allowed: use lowercase letters, digits and '_' (no spaces or slashes), "
            "starting with a letter, at most 40 characters; e.g. my_cnn."
        )
    if name in MODEL_NAMES:
        raise ModelImportError(f"the name {name!r} is a catalog model's; choose another (e.g. my_{name}).")
    if name in taken:
        raise ModelImportError(f"the name {name!r} is already taken by an imported model; choose another, or delete "
                               f"the old one first (python -m core delete {name}).")
    return name


def imported_paths(store, name: str, *, suffix: str = ".onnx") -> ArtifactPaths:
    """The files of import ``name`` in ``store`` (they need not exist)."""
    if not _NAME_RE.match(name or ""):
        raise ArtifactError(f"imported model name {name!r} is malformed.")
    base = Path(store.folder) / SUBFOLDER
    return ArtifactPaths(model=base / f"{name}{suffix}", record=base / f"{name}.json",
                         predictions=base / f"{name}.predictions.npz", lock=base / f"{name}.lock")


def _record_paths(store, record: ImportedRecord) -> ArtifactPaths:
    suffix = ".onnx" if record.kind == "onnx" else "." + record.source_name.rsplit(".", 1)[-1].lower()
    folder = Path(store.folder)
    if folder.name == SUBFOLDER and (folder / f"{record.name}.json").is_file():
        # a store opened on the import's own folder (e.g. from TrainedModel.path.parent)
        folder = folder.parent
    return imported_paths(_At(folder), record.name, suffix=suffix)


@dataclass(frozen=True)
class _At:
    folder: Path


def _validate(raw: Any) -> ImportedRecord:
    if not isinstance(raw, dict):
        raise TypeError("the record is not a JSON object")
    names = {f.name for f in fields(ImportedRecord)}
    if set(raw) != names:
        raise ValueError(f"record fields differ: missing {sorted(names - set(raw))}, unexpected {sorted(set(raw) - names)}")
    if raw["import_format"] != IMPORT_FORMAT or raw["kind"] not in _KINDS:
        raise ValueError(f"import format {raw['import_format']!r} / kind {raw['kind']!r} is not known")
    if not _NAME_RE.match(str(raw["name"])) or not re.fullmatch(r"[0-9a-f]{64}", str(raw["model_sha256"])):
        raise ValueError(f"record name {raw['name']!r} or hash is malformed")
    if raw["kind"] == "predictions" and "." + str(raw["source_name"]).rsplit(".", 1)[-1].lower() not in SUFFIXES:
        raise ValueError(f"prediction file name {raw['source_name']!r} has an unknown suffix")
    return ImportedRecord(**raw)


def _read(store, path: Path) -> ImportedRecord:
    raw = json.loads(path.read_text(encoding="utf-8"))
    record = _validate(raw)
    if not hmac.compare_digest(str(raw.get("signature", "")), sign(raw, store._signing_key())):
        raise ValueError(f"record {path.name} is not signed by this installation's key")
    if record.name != path.stem:
        raise ValueError(f"record {path.name} describes {record.name!r}")
    return record


def imported_records(store, *, problems: list[str] | None = None) -> list[ImportedRecord]:
    """The verified imports usable with the store's test data, by name. Reads JSON only;
    messages about unusable records go to ``problems``. A prediction file counts only for the
    test set it was imported for."""
    folder = Path(store.folder) / SUBFOLDER
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = _read(store, path)
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
            if problems is not None:
                problems.append(f"imported {path.stem}: {exc}.")
            continue
        if record.kind == "predictions" and record.test_fingerprint != _test_fingerprint(store):
            continue
        if _record_paths(store, record).model.is_file():
            out.append(record)
    return out


def imported_record(store, name: str) -> ImportedRecord | None:
    """The verified import called ``name``, or None."""
    return next((r for r in imported_records(store) if r.name == name), None)


def imported_statuses(store) -> list[ModelStatus]:
    """One ModelStatus per usable import (after the catalog's in the store's listing)."""
    return [ModelStatus(r.name, r.label, r) for r in imported_records(store)]


def _test_fingerprint(store) -> str:
    return fingerprint_arrays(store.data.X_test, store.data.y_test)


def _read_source(path: str | Path) -> bytes:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelImportError(f"{path.name} is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB.")
        return path.read_bytes()
    except OSError as exc:
        raise ModelImportError(f"cannot read {str(path)!r}: {exc.strerror or exc}.") from None


def _probe(store, n: int = PROBE_DIGITS) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, class-balanced-enough slice of training digits (evenly spaced)."""
    X, y = store.data.X_train, store.data.y_train
    idx = np.linspace(0, len(y) - 1, min(n, len(y))).astype(int)
    return X[idx], y[idx]


def _write(store, record: ImportedRecord, payload: bytes, preds: TestPredictions) -> ImportedRecord:
    raw = json.loads(json.dumps(asdict(record), default=jsonable))
    raw["signature"] = sign(raw, store._signing_key())
    paths = _record_paths(store, record)
    try:
        paths.record.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(paths.lock), timeout=30):
            if paths.record.exists():
                raise ModelImportError(f"the name {record.name!r} is already taken; choose another or delete it first.")
            atomic_write_bytes(paths.model, payload)
            store.write_predictions(paths.predictions, record, preds)  # signed like every cached prediction
            atomic_write_bytes(paths.record, json.dumps(raw, indent=2).encode())  # the commit point
    except OSError as exc:
        raise store.write_error(exc) from exc
    return _validate(raw)


def _base_fields(store, name: str, label: str, payload: bytes, seconds: float) -> dict[str, Any]:
    sha = hashlib.sha256(payload).hexdigest()
    return dict(
        name=name, label=label, key=sha[:12], options={"deskew": False, "augment": "none", "max_train": None, "params": {}},
        random_state=0, data_fingerprint=store.data.fingerprint, data_source=store.data.source, n_train=0,
        fit_seconds=round(seconds, 3), trained_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        versions=library_versions(), model_sha256=sha, model_bytes=len(payload),
    )


def _taken(store) -> set[str]:
    folder = Path(store.folder) / SUBFOLDER
    return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()


def import_onnx(store, source: str | Path, *, name: str, scale: str | None = None,
                payload: bytes | None = None, source_name: str | None = None) -> tuple[TrainedModel, list[str]]:
    """Import ONNX file ``source`` (or its bytes ``payload``) as ``name``: check it, choose the
    pixel scale by accuracy on training digits (unless ``scale`` is given), detect its output
    kind, predict the test set, and store a copy with a signed record. Returns the model and
    what was detected, as sentences. Raises ModelImportError; writes nothing then."""
    check_import_name(name, taken=_taken(store))
    start = time.perf_counter()
    payload = _read_source(source) if payload is None else payload
    source_name = source_name or Path(str(source)).name
    X_probe, y_probe = _probe(store)
    notes = []
    if scale is None:
        OnnxClassifier(payload)  # refuse a bad file before running it twice
        scale, accs = choose_scale(payload, X_probe, y_probe)
        notes.append(f"pixel scale {scale}: {100 * accs[scale]:.1f}% on {len(y_probe)} training digits "
                     f"(0-1: {100 * accs['0-1']:.1f}%, 0-255: {100 * accs['0-255']:.1f}%); override with --scale.")
    else:
        notes.append(f"pixel scale {scale}, as given.")
    probe_model = OnnxClassifier(payload, scale=scale, output_kind="probability")
    declared = probe_model.info.declared_kind
    kind = declared or detect_output_kind(probe_model.raw_scores(X_probe))
    notes.append({"probability": "outputs are probabilities (rows sum to 1).",
                  "logits": "outputs are logits (not rows summing to 1): softmax applied.",
                  "decision score": "outputs are decision scores (the file says so): kept as scores."}[kind])
    clf = OnnxClassifier(payload, scale=scale, output_kind=kind)
    shape = "(N, " + ", ".join(map(str, LAYOUTS[clf.layout])) + ")"
    notes.insert(0, f"input layout {clf.layout}: the graph takes {shape} {clf.info.input_dtype}.")
    preds = compute_predictions(clf, store.data.X_test, store.data.y_test)
    acc = float(np.mean(preds.y_pred == preds.y_true))
    notes.append(f"test accuracy {100 * acc:.2f}% on {len(preds.y_true):,} digits.")
    fields_ = _base_fields(store, name, f"{name} (ONNX)", payload, time.perf_counter() - start)
    record = ImportedRecord(**fields_, kind="onnx", source_name=source_name, layout=clf.layout, scale=scale,
                            output_kind=kind, accuracy_at_import=round(acc, 6), test_fingerprint=_test_fingerprint(store))
    record = _write(store, record, payload, preds)
    return TrainedModel(clf, record, _record_paths(store, record).model, from_cache=False), notes


def import_predictions(store, source: str | Path, *, name: str, payload: bytes | None = None,
                       source_name: str | None = None) -> tuple[TrainedModel, list[str]]:
    """Import a prediction file (CSV, .npy, .npz; see core.models.prediction_file) as ``name``.
    Returns the stand-in model and notes. Raises ModelImportError; writes nothing then."""
    check_import_name(name, taken=_taken(store))
    start = time.perf_counter()
    payload = _read_source(source) if payload is None else payload
    source_name = source_name or Path(str(source)).name
    got = read_prediction_file(payload, source_name, store.data.y_test)
    acc = float(np.mean(got.y_pred == store.data.y_test))
    score_kind = "probability" if got.kind in ("probability", "label") else "decision score"
    preds = TestPredictions(store.data.y_test, got.y_pred, got.scores, score_kind, 0.0, 0.0)
    fields_ = _base_fields(store, name, f"{name} (predictions)", payload, time.perf_counter() - start)
    record = ImportedRecord(**fields_, kind="predictions", source_name=source_name, layout="", scale="",
                            output_kind=got.kind, accuracy_at_import=round(acc, 6), test_fingerprint=_test_fingerprint(store))
    record = _write(store, record, payload, preds)
    notes = [*got.notes, f"test accuracy {100 * acc:.2f}% on {len(got.y_pred):,} digits."]
    return TrainedModel(PredictionsOnly(got.kind), record, _record_paths(store, record).model, from_cache=False), notes


def load_imported(store, record: ImportedRecord) -> tuple[TrainedModel | None, str]:
    """The model behind ``record`` and "", or None and why not. Re-reads and verifies the
    record, then the copied file's SHA-256, before the file is used."""
    paths = _record_paths(store, record)
    try:
        fresh = _read(store, paths.record)
    except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
        return None, f"imported model {record.name!r} is unusable: {exc}."
    try:
        payload = paths.model.read_bytes()
    except OSError as exc:
        return None, f"imported model {record.name!r}: cannot read {paths.model.name} ({exc.strerror or exc})."
    digest = hashlib.sha256(payload).hexdigest()
    if digest != fresh.model_sha256:
        return None, (f"imported model {record.name!r}: the file's SHA-256 is {digest[:12]}…, its signed record vouches "
                      f"for {fresh.model_sha256[:12]}…; refusing a file that was changed. Import it again.")
    if fresh.kind == "predictions":
        return TrainedModel(PredictionsOnly(fresh.output_kind), fresh, paths.model, from_cache=True), ""
    try:
        clf = OnnxClassifier(payload, scale=fresh.scale, output_kind=fresh.output_kind)
    except ModelImportError as exc:
        return None, f"imported model {record.name!r}: {exc}"
    return TrainedModel(clf, fresh, paths.model, from_cache=True), ""


def delete_import(store, name: str) -> list[Path]:
    """Remove import ``name``'s files; returns them. ModelImportError when there is no such import."""
    if name in MODEL_NAMES:
        raise ModelImportError(f"{name!r} is a catalog model, not an imported one; only imported models can be deleted here.")
    folder = Path(store.folder) / SUBFOLDER
    if not _NAME_RE.match(name or "") or not (folder / f"{name}.json").exists():
        names = sorted(_taken(store))
        raise ModelImportError(f"no imported model called {name!r}; imported: {', '.join(names) or 'none'}.")
    removed = []
    lock = folder / f"{name}.lock"
    try:
        with FileLock(str(lock), timeout=30):
            (folder / f"{name}.json").unlink()  # the record first: a half-deleted import is not listed
            removed.append(folder / f"{name}.json")
            for path in folder.glob(f"{name}.*"):
                if path.name != lock.name and path.stem.split(".")[0] == name and path.is_file():
                    path.unlink()
                    removed.append(path)
    except OSError as exc:
        raise store.write_error(exc) from exc
    lock.unlink(missing_ok=True)
    return removed


def suggest_name(filename: str) -> str:
    """A valid import name from a file name: ``My CNN v2.onnx`` -> ``my_cnn_v2``."""
    stem = Path(filename).name.rsplit(".", 1)[0].lower()
    name = re.sub(r"[^a-z0-9_]+", "_", stem).strip("_") or "model"
    if not name[0].isalpha():
        name = "m_" + name
    name = name[:40]
    return f"my_{name}"[:40] if name in MODEL_NAMES else name


def import_file(store, payload: bytes, filename: str, *, name: str, scale: str | None = None) -> tuple[TrainedModel, list[str]]:
    """Import uploaded bytes by their file name: ``.onnx`` as a model, ``.csv``/``.npy``/``.npz``
    as a prediction file. ModelImportError for anything else."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == ".onnx":
        return import_onnx(store, filename, name=name, scale=scale, payload=payload, source_name=Path(filename).name)
    if suffix in SUFFIXES:
        return import_predictions(store, filename, name=name, payload=payload, source_name=Path(filename).name)
    raise ModelImportError(f"{filename!r}: upload an ONNX model (.onnx) or a prediction file (.csv, .npy, .npz).")


def imports_table(store) -> list[dict[str, Any]]:
    """One row per usable import: what its record says (for the app's and the CLI's listings)."""
    return [{
        "name": r.name, "kind": "ONNX model" if r.kind == "onnx" else "prediction file", "file": r.source_name,
        "sha256": r.source_sha256[:16], "what": r.options_summary(), "accuracy_at_import": r.accuracy_at_import,
        "imported (UTC)": r.trained_at[:16].replace("T", " "),
    } for r in imported_records(store)]
