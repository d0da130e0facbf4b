"""Robustness: every trained model's accuracy on corrupted test digits, and the digits each
corruption flipped from right to wrong.

Rows are models *and* their variants (a model trained with ``--augment shifts`` is its own
row, e.g. ``knn+shifts``). A model that cannot take images (predictions imported from a file)
is left out with a message. The corrupted digits come from :mod:`core.data.corruptions` on a
stratified subset of the test set (default 2,000; ``None`` = all).

Results are cached per model as ``.npz`` side files (``robustness/<key>-<data>.npz``: the
corrupted predictions, int8, (corruptions, 5, digits)), keyed by the model's bytes, the
digits, the seed, the corruptions and their version; an unusable file is reported and
computed again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from core.data.corruptions import CORRUPTIONS_VERSION, SEVERITIES, check_corruptions, corrupt
from core.errors import ArtifactError, OptionsError, UnknownModelError
from core.models.catalog import MODEL_NAMES, is_available
from core.models.predict import model_scores
from core.progress import report
from core.store.artifacts import ArtifactStore
from core.store.imports import imported_records
from core.store.records import ModelRecord, TrainOptions
from core.store.sidefiles import read_side_npz, write_side_npz

__all__ = [
    "DEFAULT_DIGITS",
    "RobustModel",
    "RobustnessResult",
    "compute_robustness",
    "default_digits",
    "load_cached_robustness",
    "parse_digits",
    "robustness_models",
    "select_digits",
    "select_models",
]

DEFAULT_DIGITS = 2000
KIND = "robustness"
_FORMAT = "1"


@dataclass(frozen=True)
class RobustModel:
    """One row of the table. ``id``: ``knn``, or ``knn+shifts`` for a variant; ``record``:
    the catalog model's record, None for a model that cannot take images (then ``reason``)."""

    id: str
    name: str
    label: str
    fingerprint: str
    record: ModelRecord | None = None
    reason: str = ""

    @property
    def takes_images(self) -> bool:
        return self.record is not None


def _variant_id(store: ArtifactStore, record: ModelRecord) -> tuple[str, bool]:
    """``name`` for the catalog's default options and seed 0, ``name+<augment>`` when only the
    augmentation differs, else ``name@<key>``; and whether the id is the plain name."""
    default = json.loads(json.dumps(store.resolve(record.name, TrainOptions()), default=list))  # tuples as JSON lists
    same_but_augment = {**record.options, "augment": default["augment"]} == default and record.random_state == 0
    if same_but_augment and record.options["augment"] == default["augment"]:
        return record.name, True
    if same_but_augment:
        return f"{record.name}+{record.options['augment']}", False
    return f"{record.name}@{record.key[:6]}", False


def robustness_models(store: ArtifactStore, *, extra: Sequence[RobustModel] = ()) -> list[RobustModel]:
    """Every trained catalog model and variant for the store's data, in catalog order (the
    default options first), then the imported models (left out with the reason: they have no
    catalog pipeline to run on corrupted digits here), then ``extra``. Reads JSON only."""
    out: list[RobustModel] = []
    for name in MODEL_NAMES:
        if not is_available(name):
            continue
        by_id: dict[str, tuple[bool, RobustModel]] = {}
        for record in store.records(name):  # oldest first: a newer artifact with the same id wins
            rid, plain = _variant_id(store, record)
            label = record.label if plain else f"{record.label} ({record.options_summary()})"
            by_id[rid] = (plain, RobustModel(rid, name, label, record.model_sha256, record))
        out.extend(model for _, model in sorted(by_id.values(), key=lambda pm: (not pm[0], pm[1].id)))
    for record in imported_records(store):
        why = ("it is a prediction file: it holds answers for the clean test digits only, with no model to run on "
               "corrupted ones") if record.kind == "predictions" else "imported ONNX models are not run on corrupted digits yet"
        out.append(RobustModel(record.name, record.name, record.label, record.model_sha256, None, why))
    return [*out, *extra]


def select_models(models: list[RobustModel], requested: Sequence[str] | None) -> tuple[list[RobustModel], list[str]]:
    """The rows named in ``requested`` (a catalog name selects it and its variants; a row id
    selects that row) that can take images, and messages about those left out. An unknown
    name raises UnknownModelError listing the rows there are."""
    chosen = models
    if requested:
        ids = {m.id for m in models}
        names = {m.name for m in models}
        for want in requested:
            if want not in ids and want not in names:
                if want in MODEL_NAMES:
                    raise UnknownModelError(f"model {want!r} is not trained on this data; train it first: "
                                            f"python -m core train --models {want}")
                raise UnknownModelError(f"unknown model {want!r}; the trained models are: "
                                        f"{', '.join(m.id for m in models) or 'none'}.")
        chosen = [m for m in models if m.id in requested or m.name in requested]
    notes = [f"{m.id}: left out: {m.reason or 'it cannot take images'}." for m in chosen if not m.takes_images]
    return [m for m in chosen if m.takes_images], notes


def parse_digits(text: str | int | None) -> int | None:
    """``all`` -> None (the whole test set), else a whole number (checked by :func:`select_digits`)."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    try:
        return int(text)
    except (TypeError, ValueError):
        raise OptionsError(f"digits {text!r} is not a number of test digits or 'all'.") from None


def default_digits(n_test: int) -> int:
    """The default subset size: :data:`DEFAULT_DIGITS`, or the whole test set when smaller."""
    return min(DEFAULT_DIGITS, int(n_test))


def select_digits(y_test: np.ndarray, n: int | None = DEFAULT_DIGITS, *, random_state: int = 0) -> np.ndarray:
    """Sorted test indices of a stratified subset of ``n`` digits (None or the test size: all)."""
    total = len(y_test)
    if n is None or n == total:
        return np.arange(total)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 10 <= n <= total:
        raise OptionsError(f"digits {n!r}: use a number from 10 to the test set's {total:,} digits, or 'all'.")
    subset, _ = train_test_split(np.arange(total), train_size=int(n), stratify=y_test, random_state=random_state)
    return np.sort(subset)


@dataclass
class RobustnessResult:
    """Predictions of each model on clean and corrupted digits.

    ``indices`` (n,) test indices; ``y_true`` (n,); ``clean[id]`` (n,) and ``corrupted[id]``
    (corruptions, 5, n) predicted digits; ``skipped``: messages about models left out."""

    indices: np.ndarray
    y_true: np.ndarray
    corruptions: tuple[str, ...]
    models: list[RobustModel]
    clean: dict[str, np.ndarray]
    corrupted: dict[str, np.ndarray]
    random_state: int = 0
    skipped: list[str] = field(default_factory=list)

    def long_table(self) -> pd.DataFrame:
        """Rows ``model, corruption, severity, accuracy`` (0-1); severity 0 is the clean digits."""
        rows = []
        for m in self.models:
            clean = float(np.mean(self.clean[m.id] == self.y_true))
            acc = (self.corrupted[m.id] == self.y_true).mean(axis=2)
            for c, name in enumerate(self.corruptions):
                rows.append((m.id, name, 0, clean))
                rows.extend((m.id, name, s, float(acc[c, s - 1])) for s in SEVERITIES)
        return pd.DataFrame(rows, columns=["model", "corruption", "severity", "accuracy"])

    def table(self, severity: int | None = None) -> pd.DataFrame:
        """One row per model (index: model id): ``clean``, each corruption's accuracy at
        ``severity`` (None: the mean over severities 1-5), ``mean`` over corruptions and
        ``drop`` = clean - mean; all 0-1."""
        out = {}
        for m in self.models:
            acc = (self.corrupted[m.id] == self.y_true).mean(axis=2)  # (corruptions, 5)
            per = acc.mean(axis=1) if severity is None else acc[:, _sev(severity) - 1]
            clean = float(np.mean(self.clean[m.id] == self.y_true))
            out[m.id] = {"clean": clean, **dict(zip(self.corruptions, per.tolist())),
                         "mean": float(per.mean()), "drop": clean - float(per.mean())}
        return pd.DataFrame.from_dict(out, orient="index", columns=["clean", *self.corruptions, "mean", "drop"])

    def flipped(self, model_id: str, corruption: str, severity: int) -> np.ndarray:
        """Test indices of the digits ``model_id`` got right clean and wrong after ``corruption``
        at ``severity``, in test order."""
        if model_id not in self.corrupted:
            raise UnknownModelError(f"model {model_id!r} is not in this table; it has: {', '.join(self.corrupted)}.")
        c = self._corruption(corruption)
        wrong = self.corrupted[model_id][c, _sev(severity) - 1] != self.y_true
        return self.indices[(self.clean[model_id] == self.y_true) & wrong]

    def flipped_counts(self, severity: int) -> pd.DataFrame:
        """Number of flipped digits per model (rows) and corruption (columns) at ``severity``."""
        return pd.DataFrame({c: [len(self.flipped(m.id, c, severity)) for m in self.models] for c in self.corruptions},
                            index=[m.id for m in self.models])

    def prediction(self, model_id: str, corruption: str, severity: int, index: int) -> int:
        """The model's answer for test digit ``index`` under ``corruption`` at ``severity`` (0: clean)."""
        pos = int(np.searchsorted(self.indices, index))
        if severity == 0:
            return int(self.clean[model_id][pos])
        return int(self.corrupted[model_id][self._corruption(corruption), _sev(severity) - 1, pos])

    def _corruption(self, name: str) -> int:
        check_corruptions([name])
        if name not in self.corruptions:
            raise OptionsError(f"corruption {name!r} was not computed; this table has {', '.join(self.corruptions)}.")
        return self.corruptions.index(name)


def _sev(severity: int) -> int:
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise OptionsError(f"severity {severity!r} is not one of {', '.join(map(str, SEVERITIES))}.")
    return int(severity)


def _cache_key(model: RobustModel, indices: np.ndarray, corruptions: tuple[str, ...], random_state: int) -> str:
    blob = json.dumps({
        "format": _FORMAT, "model": model.id, "sha256": model.fingerprint, "corruptions": corruptions,
        "version": CORRUPTIONS_VERSION, "seed": int(random_state),
        "digits": hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest(),
    }, sort_keys=True)
    return f"{model.name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _read_cache(store: ArtifactStore, key: str, indices: np.ndarray, corruptions: tuple[str, ...]) -> np.ndarray | None:
    shape = (len(corruptions), len(SEVERITIES), len(indices))

    def validate(arrays: dict[str, np.ndarray]) -> np.ndarray:
        preds = arrays["corrupted"]
        if not np.array_equal(arrays["indices"], indices) or tuple(str(c) for c in arrays["corruptions"]) != corruptions:
            raise ValueError("it was computed for other digits or corruptions")
        if preds.shape != shape or preds.dtype != np.int8 or preds.min(initial=0) < 0 or preds.max(initial=0) > 9:
            raise ValueError(f"its predictions have shape {preds.shape} ({preds.dtype}), expected {shape} digits 0-9")
        return preds

    return read_side_npz(store, KIND, key, validate=validate)


def load_cached_robustness(
    store: ArtifactStore, models: list[RobustModel], *, digits: int | None = DEFAULT_DIGITS,
    corruptions: Sequence[str] | None = None, random_state: int = 0,
) -> tuple[RobustnessResult | None, list[RobustModel]]:
    """The result for the models whose results are cached (None when none is) and the models
    whose results are not cached yet. Never loads a model."""
    names = check_corruptions(corruptions)
    indices = select_digits(store.data.y_test, digits, random_state=random_state)
    found, missing = {}, []
    for m in models:
        preds = _read_cache(store, _cache_key(m, indices, names, random_state), indices, names)
        clean = store.cached_predictions(m.record) if preds is not None else None
        if preds is None or clean is None:
            missing.append(m)
        else:
            found[m.id] = (clean.y_pred[indices].astype(np.int8), preds)
    kept = [m for m in models if m.id in found]
    return (_result(store, kept, indices, names, random_state, found) if kept else None), missing


def _result(store, models, indices, names, random_state, found) -> RobustnessResult:
    return RobustnessResult(
        indices=indices, y_true=np.asarray(store.data.y_test)[indices], corruptions=names, models=list(models),
        clean={k: v[0] for k, v in found.items()}, corrupted={k: v[1] for k, v in found.items()},
        random_state=random_state,
    )


def _predict(pipeline, X: np.ndarray) -> np.ndarray:
    """Predicted digits as the store's cached predictions make them (argmax of the scores)."""
    scores, _ = model_scores(pipeline, X)
    return np.asarray(pipeline.classes_)[np.argmax(scores, axis=1)].astype(np.int8)


def compute_robustness(
    store: ArtifactStore,
    models: list[RobustModel],
    *,
    digits: int | None = DEFAULT_DIGITS,
    corruptions: Sequence[str] | None = None,
    random_state: int = 0,
    force: bool = False,
) -> RobustnessResult:
    """Every model's predictions on ``digits`` test digits (stratified subset; None: all) under
    every corruption and severity, from the cache where possible; the others are computed
    (progress through core.progress) and cached. Models that cannot take images or fail to
    load are left out and named in ``skipped``."""
    names = check_corruptions(corruptions)
    indices = select_digits(store.data.y_test, digits, random_state=random_state)
    skipped = [f"{m.id}: left out: {m.reason or 'it cannot take images'}." for m in models if not m.takes_images]
    usable = [m for m in models if m.takes_images]
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    todo: list[tuple[RobustModel, object, str]] = []
    for m in usable:
        key = _cache_key(m, indices, names, random_state)
        preds = None if force else _read_cache(store, key, indices, names)
        clean = store.cached_predictions(m.record) if preds is not None else None
        if preds is not None and clean is not None:
            found[m.id] = (clean.y_pred[indices].astype(np.int8), preds)
            continue
        report(None, f"loading {m.label}")
        loaded, why = store.load_with_reason(m.name, m.record.key)
        if loaded is None:
            skipped.append(f"{m.id}: left out: {why or 'its model file is gone'}.")
            continue
        clean_preds = store.predictions(loaded)
        found[m.id] = (clean_preds.y_pred[indices].astype(np.int8), None)
        todo.append((m, loaded.pipeline, key))
    if todo:
        X = np.asarray(store.data.X_test)[indices]
        out = {m.id: np.empty((len(names), len(SEVERITIES), len(indices)), dtype=np.int8) for m, _, _ in todo}
        steps = len(names) * len(todo)
        for c, name in enumerate(names):
            report(c * len(todo) / steps, f"corrupting: {name}")
            batch = np.concatenate([corrupt(X, name, s, indices=indices, random_state=random_state) for s in SEVERITIES])
            for j, (m, pipeline, _) in enumerate(todo):
                report((c * len(todo) + j) / steps, f"{name}: {m.label}")
                out[m.id][c] = _predict(pipeline, batch).reshape(len(SEVERITIES), len(indices))
        for m, _, key in todo:
            found[m.id] = (found[m.id][0], out[m.id])
            try:
                write_side_npz(store, KIND, key, corrupted=out[m.id], indices=indices.astype(np.int64),
                               corruptions=np.array(names), seed=np.int64(random_state))
            except ArtifactError as exc:
                skipped.append(f"{m.id}: computed but not cached ({exc})")
    report(1.0, "done")
    kept = [m for m in usable if m.id in found]
    result = _result(store, kept, indices, names, random_state, found)
    result.skipped = skipped
    return result

