"""Out-of-fold probabilities of catalog models, cached as store side files, and the label
rankings built on them.

Two scopes:

* ``"train"``: k-fold cross-validation over the training set; every training digit is
  predicted by a model fitted on the other folds. Ranks the *training* labels.
* ``"all"``: k-fold cross-validation over training and test digits pooled (the protocol of
  the confident-learning study of MNIST's test labels): every test digit is predicted by a
  model that saw neither it nor the other digits of its fold, but did see most of the
  test set's neighbours. Ranks the *test* labels.

Each (model, scope, folds, seed) is one side file ``oof/<scope>-<model>-f<k>-s<seed>-<fp>.npz``
(float32 probabilities, the labels they were computed against, the seconds it took; no
pickles), so an ensemble of several models, or several seeds, reuses every part computed
before. Ensembles average the probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analysis.label_errors import fit_folds, rank_suspects
from core.errors import OptionsError
from core.fileio import atomic_save_npz
from core.models.catalog import get_spec
from core.models.predict import TestPredictions
from core.progress import scaled
from core.store.artifacts import ArtifactStore

__all__ = [
    "DEFAULT_MODELS",
    "SCOPES",
    "OutOfFold",
    "compute_out_of_fold",
    "load_out_of_fold",
    "oof_side_key",
    "rank_test_labels",
    "rank_train_labels",
]

SCOPES = ("train", "all")
#: The default ensemble: two strong, quick and different models (≈ 4 min for 5 folds on 60,000 digits).
DEFAULT_MODELS: tuple[str, ...] = ("knn", "mlp")
_KIND = "oof"


@dataclass(frozen=True)
class OutOfFold:
    """Averaged out-of-fold probabilities ``probs`` (n, 10) for ``labels`` (n,), the parts
    averaged (``"<model> seed <s>"``), their per-model probabilities, and seconds spent (0 when
    every part came from the cache)."""

    probs: np.ndarray
    labels: np.ndarray
    parts: tuple[str, ...]
    per_model: dict[str, np.ndarray]
    seconds: float


def _pool(store: ArtifactStore, scope: str) -> tuple[np.ndarray, np.ndarray]:
    data = store.data
    if scope == "train":
        return data.X_train, np.asarray(data.y_train, dtype=np.int64)
    if scope == "all":
        return (np.concatenate([data.X_train, data.X_test]),
                np.concatenate([data.y_train, data.y_test]).astype(np.int64))
    raise OptionsError(f"scope {scope!r} is not one of {', '.join(SCOPES)}.")


def oof_side_key(name: str, *, scope: str, folds: int, seed: int) -> str:
    """The side-file key of one model's out-of-fold probabilities."""
    return f"{scope}-{name}-f{int(folds)}-s{int(seed)}"


def _check(models: Sequence[str], folds: int) -> None:
    if not models:
        raise OptionsError("name at least one model for out-of-fold probabilities, e.g. knn mlp.")
    for name in models:
        if not get_spec(name).has_proba:
            raise OptionsError(f"model {name!r} gives decision scores, not probabilities; use e.g. knn, mlp, logreg or cnn.")
    if int(folds) < 2:
        raise OptionsError(f"folds={folds}; cross-validation needs at least 2.")


def _read(store: ArtifactStore, key: str, labels: np.ndarray) -> tuple[np.ndarray, float] | None:
    path = store.side_path(_KIND, key, ".npz")
    try:
        with np.load(path, allow_pickle=False) as f:
            probs, saved = np.asarray(f["probs"], dtype=np.float64), np.asarray(f["labels"])
            seconds = float(f["seconds"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 (truncated or foreign npz: computed again)
        store.report_problem(f"side file {path.name} is unusable ({exc}); it will be computed again.")
        return None
    if probs.shape != (len(labels), 10) or not np.array_equal(saved, labels) or not np.all(np.isfinite(probs)):
        store.report_problem(f"side file {path.name} does not match this data's labels; it will be computed again.")
        return None
    return probs, seconds




def compute_out_of_fold(
    store: ArtifactStore,
    models: Sequence[str] = DEFAULT_MODELS,
    *,
    scope: str = "train",
    folds: int = 5,
    seeds: Sequence[int] = (0,),
    force: bool = False,
) -> OutOfFold:
    """Out-of-fold probabilities of every model in ``models`` for every seed in ``seeds``,
    averaged; each part read from its side file or computed (progress through
    core.progress) and saved there (unless the folder is read-only)."""
    _check(models, folds)
    X, y = _pool(store, scope)
    parts = [(name, int(seed)) for name in models for seed in seeds]
    stack, per_model, spent = [], {}, 0.0
    for i, (name, seed) in enumerate(parts):
        key = oof_side_key(name, scope=scope, folds=folds, seed=seed)
        cached = None if force else _read(store, key, y)
        if cached is None:
            start = time.perf_counter()
            with scaled(i / len(parts), (i + 1) / len(parts)):
                probs = fit_folds(name, X, y, folds=int(folds), seed=seed)
            seconds = time.perf_counter() - start
            spent += seconds
            try:
                atomic_save_npz(store.side_path(_KIND, key, ".npz"), probs=probs.astype(np.float32), labels=y,
                                seconds=np.float64(seconds))
            except OSError:
                pass  # a read-only folder: computed, not cached
        else:
            probs, _ = cached
        stack.append(probs)
        per_model.setdefault(name, []).append(probs)
    mean = np.mean(stack, axis=0)
    mean = mean / mean.sum(axis=1, keepdims=True)
    return OutOfFold(mean, y, tuple(f"{n} seed {s}" for n, s in parts),
                     {n: np.mean(v, axis=0) for n, v in per_model.items()}, spent)


def load_out_of_fold(
    store: ArtifactStore, models: Sequence[str] = DEFAULT_MODELS, *, scope: str = "train", folds: int = 5,
    seeds: Sequence[int] = (0,),
) -> OutOfFold | None:
    """Like :func:`compute_out_of_fold` from the side files only; None when a part is missing."""
    _check(models, folds)
    _, y = _pool(store, scope)
    stack, per_model = [], {}
    for name in models:
        for seed in seeds:
            cached = _read(store, oof_side_key(name, scope=scope, folds=folds, seed=seed), y)
            if cached is None:
                return None
            stack.append(cached[0])
            per_model.setdefault(name, []).append(cached[0])
    mean = np.mean(stack, axis=0)
    return OutOfFold(mean / mean.sum(axis=1, keepdims=True), y,
                     tuple(f"{n} seed {s}" for n in models for s in seeds),
                     {n: np.mean(v, axis=0) for n, v in per_model.items()}, 0.0)


def _as_predictions(oof: OutOfFold, rows: slice) -> dict[str, TestPredictions]:
    y = oof.labels[rows]
    return {
        name: TestPredictions(y_true=y, y_pred=np.argmax(p[rows], axis=1), scores=p[rows], score_kind="probability",
                              predict_seconds=0.0, latency_ms=0.0)
        for name, p in oof.per_model.items()
    }


def rank_train_labels(oof: OutOfFold, *, top: int | None = None, method: str = "self_confidence") -> pd.DataFrame:
    """Training digits ranked by cleanlab's label quality on the averaged out-of-fold
    probabilities, most suspect first (columns of core.analysis.label_errors.SUSPECT_COLUMNS;
    ``index`` is a training index). Ties go to the digit whose other label is most probable."""
    return rank_suspects(_as_predictions(oof, slice(0, len(oof.labels))), top=top, method=method)


def rank_test_labels(
    oof: OutOfFold,
    *,
    n_train: int,
    trained: Mapping[str, TestPredictions] | None = None,
    top: int | None = None,
    method: str = "normalized_margin",
) -> pd.DataFrame:
    """Test digits ranked from pooled (scope ``"all"``) out-of-fold probabilities, by
    normalized margin (the study's ranking); ``index`` is a test index. ``trained``: test
    predictions of models trained on the training set only (also out of sample for every
    test digit) averaged in, one vote each; only those giving probabilities are used."""
    if len(oof.labels) <= n_train:
        raise OptionsError("these out-of-fold probabilities do not cover the test set; compute them with scope 'all'.")
    preds = {f"{name} (cross-validated)": p for name, p in _as_predictions(oof, slice(int(n_train), len(oof.labels))).items()}
    for name, p in (trained or {}).items():
        if p.score_kind != "probability":
            continue
        if not np.array_equal(p.y_true, oof.labels[int(n_train):]):
            raise OptionsError(f"model {name!r} was evaluated on other test digits; retrain it on this data.")
        preds[f"{name} (trained)"] = p
    return rank_suspects(preds, top=top, method=method)
