"""What the store knows about a trained model: options, the signed record, status, file paths.

Plain dataclasses and their validation; no file I/O. A record is data read from disk, so
:func:`validate_record` checks every field before anything trusts it.
"""

from __future__ import annotations

import math
import platform
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from core.data.label_fixes import LabelFixes, check_summary, describe
from core.errors import OptionsError
from core.models.catalog import AUGMENTATIONS, CATALOG_VERSION, get_spec

__all__ = [
    "MAX_SEED",
    "MIN_TRAIN",
    "RECORD_FORMAT",
    "ArtifactPaths",
    "ModelRecord",
    "ModelStatus",
    "TrainOptions",
    "TrainedModel",
    "check_seed",
    "jsonable",
    "library_versions",
    "validate_record",
]

RECORD_FORMAT = 2
MAX_SEED = 2**32 - 1
MIN_TRAIN = 100
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_KEY_RE = re.compile(r"^[0-9a-f]{12}$")

# ------------------------------------------------------------------ data classes


@dataclass(frozen=True)
class TrainOptions:
    """What a user can switch per model. ``None`` means the catalog's default.

    ``augment``: one of ``core.models.catalog.AUGMENTATIONS``; ``max_train``: train on a stratified
    subset of ``max_train`` digits (None, or at least the training size: all). ``label_fixes``:
    corrected/dropped training labels (core.data.label_fixes.LabelFixes; a record's summary dict
    when rebuilt from a record) or None (the labels as given); part of the key.
    """

    deskew: bool | None = None
    augment: str | None = None
    max_train: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    label_fixes: LabelFixes | dict[str, Any] | None = None

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
        resolved = {
            "deskew": spec.deskew if self.deskew is None else bool(self.deskew),
            "augment": augment,
            "max_train": max_train,
            "params": {**spec.params, **self.params},
        }
        if self.label_fixes is not None:  # only then: the keys of models without fixes stay as they were
            fixes = self.label_fixes
            if isinstance(fixes, LabelFixes):
                if fixes.count == 0:
                    raise OptionsError("the label fixes are empty (no label marked wrong or ambiguous): "
                                       "the variant would equal the original model; mark some training labels first.")
                resolved["label_fixes"] = fixes.summary()
            else:
                try:
                    resolved["label_fixes"] = dict(check_summary(fixes))
                except (TypeError, ValueError) as exc:
                    raise OptionsError(f"label fixes {fixes!r} are malformed ({exc}).") from exc
        return resolved


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
        if self.options.get("label_fixes"):
            parts.append(describe(self.options["label_fixes"]))
        return ", ".join(parts)

    @property
    def label_fixes(self) -> dict[str, Any] | None:
        """The summary of the training-label fixes this model was trained with, or None."""
        return self.options.get("label_fixes")

    def train_options(self) -> TrainOptions:
        """The TrainOptions that produce this record's key again."""
        o = self.options
        return TrainOptions(deskew=o["deskew"], augment=o["augment"], max_train=o["max_train"], params=dict(o["params"]),
                            label_fixes=o.get("label_fixes"))


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




def jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def library_versions() -> dict[str, str]:
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


def validate_record(raw: Any) -> ModelRecord:
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
    if set(opts) - {"label_fixes"} != {"deskew", "augment", "max_train", "params"}:
        raise ValueError(f"record options {sorted(opts)} are not deskew, augment, max_train, params (and label_fixes)")
    if "label_fixes" in opts:
        check_summary(opts["label_fixes"])
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
    for name, low, high in _RANGES:
        value = raw[name]
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"record {name} {str(value)[:40]} is out of range ({low:g} to {high:g})")
    if opts["max_train"] is not None and not MIN_TRAIN <= opts["max_train"] <= _MAX_DIGITS:
        raise ValueError(f"record option max_train {str(opts['max_train'])[:40]} is out of range")
    for text_field in ("label", "data_source", "data_fingerprint"):
        if len(raw[text_field]) > 200:
            raise ValueError(f"record {text_field} is longer than 200 characters")
    if len(raw["versions"]) > 20 or any(len(k) > 40 or len(v) > 80 for k, v in raw["versions"].items()):
        raise ValueError("record versions are too long")
    _check_params(opts["params"])
    try:
        datetime.fromisoformat(raw["trained_at"])
    except ValueError:
        raise ValueError(f"record trained_at {raw['trained_at']!r} is not an ISO timestamp") from None
    return ModelRecord(**raw)



#: Numeric record fields and their plausible range (a signed record can still be absurd).
_MAX_DIGITS = 10**8
_RANGES = (("n_train", 1, _MAX_DIGITS), ("fit_seconds", 0, 1e8), ("model_bytes", 0, 10**12))


def _check_params(params: dict[str, Any]) -> None:
    """Model parameters in a record: short names, JSON scalars or short lists of them, finite."""
    if len(params) > 50:
        raise ValueError("record option params has more than 50 entries")
    for key, value in params.items():
        items = value if isinstance(value, list) else [value]
        if len(key) > 60 or len(items) > 20:
            raise ValueError(f"record option params entry {key[:60]!r} is too long")
        for item in items:
            if item is None or isinstance(item, bool) or (isinstance(item, str) and len(item) <= 60):
                continue
            if isinstance(item, (int, float)) and math.isfinite(item) and abs(item) <= 1e12:
                continue
            raise ValueError(f"record option params {key[:60]}={str(item)[:40]} is not a plausible value")


def check_seed(random_state: Any) -> None:
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or not 0 <= random_state <= MAX_SEED:
        raise OptionsError(f"seed (random_state) {random_state!r} is out of range; use a whole number from 0 to {MAX_SEED}.")



def _same(default: Any, value: Any) -> bool:
    """A parameter equal to its catalog default, also after JSON turned a tuple into a list."""
    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    return norm(default) == norm(value)
