"""Test digits whose label is probably wrong (confident learning with cleanlab), the user's
marks on them, and test predictions with the marked labels corrected.

Ranking: the test-set probabilities of models trained on the training set are out of
sample. :func:`combined_probabilities` averages them over the models that give
probabilities; models with decision scores only join when ``calibrate_decision=True``,
after a multinomial logistic regression on their scores fitted out of fold on the test
set (each digit's calibrated probabilities come from a fit on the other folds).
cleanlab's ``get_label_quality_scores`` scores every label (low = suspect) and
``find_label_issues`` flags the ones confident learning counts as errors.

The marks themselves live in the store (core.store.marks); here they only correct labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.model_selection import StratifiedKFold

from core.analysis.trust import calibrated_probabilities
from core.errors import OptionsError
from core.models.catalog import build_pipeline, get_spec
from core.models.predict import TestPredictions
from core.progress import report

__all__ = [
    "SUSPECT_COLUMNS",
    "apply_corrections",
    "combined_probabilities",
    "marks_frame",
    "rank_suspects",
]

#: Columns of :func:`rank_suspects`, in order.
SUSPECT_COLUMNS = ["index", "given", "suggested", "score", "disagreeing", "n_models", "flagged"]


def _check_same_test(preds: Mapping[str, TestPredictions]) -> np.ndarray:
    if not preds:
        raise OptionsError("no trained models to rank label errors with; train some first (python -m core train).")
    first = next(iter(preds.values())).y_true
    for name, p in preds.items():
        if len(p.y_true) != len(first) or not np.array_equal(p.y_true, first):
            raise OptionsError(f"model {name!r} was evaluated on other test digits than the rest; retrain it on this data.")
    return np.asarray(first, dtype=np.int64)


def combined_probabilities(
    preds: Mapping[str, TestPredictions], *, calibrate_decision: bool = False, random_state: int = 0
) -> tuple[np.ndarray, list[str]]:
    """The mean of the models' test-set probabilities, (n, 10), and the names averaged.

    Models with decision scores are left out unless ``calibrate_decision`` (see
    :func:`calibrated_probabilities`). Raises OptionsError when no model qualifies."""
    labels = _check_same_test(preds)
    used, stack = [], []
    for name, p in preds.items():
        if p.score_kind == "probability":
            stack.append(np.asarray(p.scores, dtype=np.float64))
        elif calibrate_decision:
            stack.append(calibrated_probabilities(p.scores, labels, random_state=random_state))
        else:
            continue
        used.append(name)
    if not stack:
        raise OptionsError(
            "none of the models gives probabilities; train one that does (e.g. logreg, knn, mlp, random_forest) "
            "or calibrate the decision-score models."
        )
    probs = np.mean(stack, axis=0)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return probs, used


def rank_suspects(
    preds: Mapping[str, TestPredictions],
    *,
    top: int | None = None,
    calibrate_decision: bool = False,
    method: str = "self_confidence",
    random_state: int = 0,
) -> pd.DataFrame:
    """Test digits ranked by how likely their label is wrong, most suspect first.

    One row per digit (the ``top`` first, or all): ``index`` (test index), ``given`` label,
    ``suggested`` (the most probable other digit), ``score`` (cleanlab's label quality,
    0-1, low = suspect), ``disagreeing`` (how many of the ``n_models`` averaged into the
    score predict another digit than the given one) and ``flagged`` (cleanlab's find_label_issues counts it as
    a label error). ``method`` is cleanlab's scoring method. Ties in the score go to the
    digit whose suggested label is most probable."""
    if top is not None and int(top) < 1:
        raise OptionsError(f"top={top!r}; ask for at least 1 suspect.")
    labels = _check_same_test(preds)
    probs, used = combined_probabilities(preds, calibrate_decision=calibrate_decision, random_state=random_state)
    try:
        scores = get_label_quality_scores(labels, probs, method=method)
    except ValueError as exc:
        raise OptionsError(f"cleanlab could not score the labels with method {method!r}: {exc}") from exc
    flagged = np.zeros(len(labels), dtype=bool)
    # n_jobs=1: cleanlab otherwise forks a multiprocessing pool, and forking a multi-threaded
    # server process that has torch loaded (the CNN) can deadlock the child (seen as a Label
    # errors page that never finished); on 10,000 x 10 probabilities one process takes well under 1 s.
    flagged[find_label_issues(labels, probs, n_jobs=1)] = True
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    suggested = np.argmax(others, axis=1)
    # among the models averaged into the score, so that "k of n models disagree" counts those n
    disagreeing = np.sum([preds[n].y_pred != labels for n in used], axis=0)
    # ties (e.g. KNN gives the given label probability 0 for many digits) go to the digit
    # whose most probable other label is most probable
    order = np.lexsort((-others.max(axis=1), np.asarray(scores)))
    if top is not None:
        order = order[: int(top)]
    return pd.DataFrame({
        "index": order.astype(np.int64),
        "given": labels[order],
        "suggested": suggested[order].astype(np.int64),
        "score": np.asarray(scores)[order].astype(np.float64),
        "disagreeing": np.asarray(disagreeing)[order].astype(np.int64),
        "n_models": len(used),
        "flagged": flagged[order],
    }, columns=SUSPECT_COLUMNS)


# ---------------------------------------------------------------------- marks


def marks_frame(marks: Mapping[int, int | None], y_test: np.ndarray) -> pd.DataFrame:
    """The marks as a table for CSV: ``index``, ``given``, ``verdict`` ("wrong"/"fine"),
    ``corrected`` (the corrected digit, or the given one when fine); sorted by index."""
    rows = [
        {"index": int(i), "given": int(y_test[i]), "verdict": "fine" if d is None else "wrong",
         "corrected": int(y_test[i]) if d is None else int(d)}
        for i, d in sorted(marks.items())
    ]
    return pd.DataFrame(rows, columns=["index", "given", "verdict", "corrected"])


def apply_corrections(preds: TestPredictions, marks: Mapping[int, int | None]) -> TestPredictions:
    """``preds`` with ``y_true`` replaced by the corrected digit where a mark says the label
    is wrong; everything else unchanged (a copy; ``preds`` is not modified)."""
    fixes = {int(i): int(d) for i, d in marks.items() if d is not None}
    if not fixes:
        return preds
    y = np.array(preds.y_true, copy=True)
    idx = np.fromiter(fixes, dtype=np.int64)
    if idx.min() < 0 or idx.max() >= len(y):
        raise OptionsError(f"a marked test index is outside this test set (0-{len(y) - 1}); the marks belong to other data.")
    y[idx] = np.fromiter(fixes.values(), dtype=np.int64)
    return replace(preds, y_true=y)


# ------------------------------------------------------------ training set


def out_of_fold_probabilities(
    name: str, X: np.ndarray, y: np.ndarray, *, folds: int = 5, random_state: int = 0
) -> np.ndarray:
    """Out-of-fold probabilities (n, 10) of catalog model ``name`` (it must give
    probabilities) on ``X`` (n, 784) uint8 with labels ``y``: each digit predicted by a
    pipeline fitted on the other folds. Reports progress per fold (core.progress)."""
    spec = get_spec(name)
    if not spec.has_proba:
        raise OptionsError(f"model {name!r} gives decision scores, not probabilities; use e.g. logreg, knn or mlp.")
    return fit_folds(name, X, np.asarray(y, dtype=np.int64), folds=folds, seed=random_state)

def fit_folds(name: str, X: np.ndarray, y: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold probabilities (n, 10) of catalog model ``name`` on ``X`` (n, 784): each digit
    predicted by a pipeline fitted on the other stratified folds; progress per fold. OptionsError
    for a number of folds the rarest digit cannot fill (or over 100)."""
    smallest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 0
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or not 2 <= folds <= min(smallest, 100):
        raise OptionsError(
            f"folds={folds}: stratified cross-validation needs from 2 to {min(smallest, 100)} folds here (the rarest "
            f"digit has {smallest} examples, and more than 100 folds only multiply the work); e.g. --folds 5."
        )
    label = get_spec(name).label
    probs = np.zeros((len(y), 10))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (fit_idx, held_idx) in enumerate(cv.split(X, y)):
        report(k / folds, f"{label}: fold {k + 1} of {folds}")
        pipe = build_pipeline(name, random_state=seed).fit(X[fit_idx], y[fit_idx])
        probs[np.ix_(held_idx, np.asarray(pipe.classes_))] = pipe.predict_proba(X[held_idx])
    report(1.0, f"{label}: {folds} folds done")
    return probs


def train_suspects(
    X: np.ndarray, y: np.ndarray, *, model: str = "knn", folds: int = 5, top: int | None = None, random_state: int = 0
) -> pd.DataFrame:
    """Training digits ranked like :func:`rank_suspects` (same columns; ``disagreeing`` is
    0 or 1, from the one cross-validated model), from out-of-fold probabilities."""
    y = np.asarray(y, dtype=np.int64)
    probs = out_of_fold_probabilities(model, X, y, folds=folds, random_state=random_state)
    oof = TestPredictions(y_true=y, y_pred=np.argmax(probs, axis=1), scores=probs, score_kind="probability",
                          predict_seconds=0.0, latency_ms=0.0)
    return rank_suspects({model: oof}, top=top)
