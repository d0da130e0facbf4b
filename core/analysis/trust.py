"""When to trust a model's answer: calibration, abstention, and the Draw page's verdict.

* :func:`reliability` / :func:`expected_calibration_error`: top-label reliability diagram
  data and the ECE for probability models (``sum_b n_b/n * |accuracy_b - confidence_b|``
  over equal-width confidence bins).
* :func:`calibrate`: scikit-learn's ``CalibratedClassifierCV`` around an already fitted
  pipeline (``FrozenEstimator``: scikit-learn 1.9 has no ``cv="prefit"`` any more), fitted on
  held-out digits the model was not trained on; it turns decision scores into probabilities.
* :func:`calibrate_out_of_fold`: calibration measured on the saved test predictions alone:
  ``CalibratedClassifierCV`` (temperature scaling by default) fitted on the other folds of the
  test digits for each digit; the reliability and ECE before and after.
* :func:`confidence`: a model's confidence per digit: the top probability, or for decision
  scores the margin between the two best scores (not a probability).
* :func:`abstention_curve` / :func:`hand_over`: accuracy on the digits a model keeps when it
  hands its least confident ones to a human.
* :func:`ink_statistics`, :class:`InkReference`, :func:`verdict`: the Draw page's headline,
  "Prediction: D", "Not sure: 4 or 9?" or "This does not look like a digit", as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.analysis.evaluation import TestPredictions
from core.errors import OptionsError
from core.models.catalog import ScoreKind

__all__ = [
    "CALIBRATION_METHODS",
    "COVERAGES",
    "HandOver",
    "Calibrated",
    "Reliability",
    "abstention_curve",
    "calibrate",
    "calibrate_out_of_fold",
    "calibrated_probabilities",
    "confidence",
    "expected_calibration_error",
    "hand_over",
    "reliability",
]

#: Coverage levels the CLI prints.
COVERAGES = (1.0, 0.99, 0.98, 0.95)


# ----------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Reliability:
    """Reliability diagram data: ``table`` has one row per non-empty bin with columns
    ``bin_low``, ``bin_high``, ``confidence`` (mean top probability), ``accuracy``, ``count``;
    ``ece`` is the expected calibration error (0-1)."""

    table: pd.DataFrame
    ece: float


def _check_proba(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must be (n, n_classes) probabilities, got shape {scores.shape}.")
    if scores.min() < -1e-9 or scores.max() > 1 + 1e-9 or not np.allclose(scores.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("scores are not probabilities (rows must be in 0-1 and sum to 1); "
                         "decision scores have no calibration error: calibrate the model first.")
    return scores


def reliability(y_true: np.ndarray, proba: np.ndarray, *, n_bins: int = 10) -> Reliability:
    """Top-label reliability: bin the digits by the top probability ``proba`` (n, 10) into
    ``n_bins`` equal-width bins of [0, 1] and compare each bin's accuracy with its confidence."""
    proba = _check_proba(proba)
    y_true = np.asarray(y_true)
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)  # bins (lo, hi]
    rows, ece = [], 0.0
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        acc, c = float(correct[mask].mean()), float(conf[mask].mean())
        rows.append({"bin_low": edges[b], "bin_high": edges[b + 1], "confidence": c, "accuracy": acc,
                     "count": int(mask.sum())})
        ece += mask.sum() / len(conf) * abs(acc - c)
    return Reliability(pd.DataFrame(rows, columns=["bin_low", "bin_high", "confidence", "accuracy", "count"]), float(ece))


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, *, n_bins: int = 10) -> float:
    """The ECE of probabilities ``proba`` (n, 10) for labels ``y_true`` (n,); see :func:`reliability`."""
    return reliability(y_true, proba, n_bins=n_bins).ece


def calibrate(pipeline, X_holdout: np.ndarray, y_holdout: np.ndarray, *, method: str = "sigmoid") -> CalibratedClassifierCV:
    """A probability model made from the fitted ``pipeline`` (left unchanged): a per-class
    ``method`` ("sigmoid" or "isotonic") calibrator fitted on held-out digits (n, 784) that
    the pipeline was NOT trained on. ``predict_proba`` of the result gives probabilities."""
    if method not in ("sigmoid", "isotonic"):
        raise ValueError(f"method={method!r}; use 'sigmoid' or 'isotonic'.")
    return CalibratedClassifierCV(FrozenEstimator(pipeline), method=method).fit(X_holdout, y_holdout)


def calibrated_probabilities(scores: np.ndarray, labels: np.ndarray, *, folds: int = 5, random_state: int = 0) -> np.ndarray:
    """Probabilities (n, 10) from scores (n, 10): a multinomial logistic regression on the
    standardised scores, each digit predicted by a fit on the other ``folds - 1`` folds, so no
    digit's probabilities were fitted on its own label."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    calibrator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    probs = cross_val_predict(calibrator, np.asarray(scores, dtype=np.float64), labels, cv=cv, method="predict_proba")
    return np.asarray(probs, dtype=np.float64)


class _GivenProbabilities(ClassifierMixin, BaseEstimator):
    """A stand-in classifier whose input X is already a model's probabilities (n, 10), so that
    scikit-learn's calibrators can work on saved test predictions without predicting again."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)

    def predict(self, X):
        return self.classes_[np.asarray(X).argmax(axis=1)]


class _GivenScores(_GivenProbabilities):
    """The same for decision scores (n, 10): the calibrator sees them as ``decision_function``."""

    predict_proba = None  # type: ignore[assignment]

    def decision_function(self, X):
        return np.asarray(X, dtype=np.float64)


@dataclass(frozen=True)
class Calibrated:
    """A model's test digits with out-of-fold calibrated probabilities ``proba`` (n, 10);
    ``before`` is the model's own reliability (None for decision scores, which are not
    probabilities), ``after`` the calibrated one; top-label accuracies before and after."""

    proba: np.ndarray
    before: Reliability | None
    after: Reliability
    accuracy_before: float
    accuracy_after: float
    method: str
    folds: int


CALIBRATION_METHODS = ("temperature", "sigmoid", "isotonic")


def calibrate_out_of_fold(
    preds: TestPredictions, *, method: str = "temperature", folds: int = 5, random_state: int = 0
) -> Calibrated:
    """Calibrate a model's saved test predictions ``preds`` without a separate calibration set:
    scikit-learn's ``CalibratedClassifierCV(method=...)`` around the frozen scores, fitted on
    ``folds - 1`` stratified folds of the test digits and applied to the remaining one, so no
    digit is calibrated with its own label. ``"temperature"`` (one parameter, the default) keeps
    every answer and changes only the confidence; ``"sigmoid"``/``"isotonic"`` (one-vs-rest) may
    change answers. Raises OptionsError for an unknown method or too few digits per class."""
    if method not in CALIBRATION_METHODS:
        raise OptionsError(f"method={method!r}; use one of {', '.join(CALIBRATION_METHODS)}.")
    y = np.asarray(preds.y_true)
    counts = np.bincount(y)
    rarest = int(counts[counts > 0].min())
    if not 2 <= folds <= rarest:
        raise OptionsError(f"folds={folds}: use 2 to {rarest} (the rarest digit's count in the test set).")
    scores = np.asarray(preds.scores, dtype=np.float64)
    is_proba = ScoreKind(preds.score_kind).is_probability
    given = _GivenProbabilities if is_proba else _GivenScores
    proba = np.zeros((len(y), scores.shape[1]))
    for fit_idx, out_idx in StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state).split(scores, y):
        frozen = FrozenEstimator(given().fit(scores[fit_idx], y[fit_idx]))
        calibrator = CalibratedClassifierCV(frozen, method=method).fit(scores[fit_idx], y[fit_idx])
        proba[out_idx] = calibrator.predict_proba(scores[out_idx])
    return Calibrated(
        proba=proba,
        before=reliability(y, scores) if is_proba else None,
        after=reliability(y, proba),
        accuracy_before=float(np.mean(np.asarray(preds.y_pred) == y)),
        accuracy_after=float(np.mean(proba.argmax(axis=1) == y)),
        method=method,
        folds=folds,
    )


# ------------------------------------------------------------------ abstention


def confidence(scores: np.ndarray, score_kind: str) -> np.ndarray:
    """Confidence per digit, (n,): the top probability, or for decision scores the margin
    between the best and second-best score (larger = surer; not a probability)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if ScoreKind(score_kind).is_probability:
        return scores.max(axis=1)
    top2 = np.sort(scores, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def abstention_curve(preds: TestPredictions, *, coverages: np.ndarray | None = None) -> pd.DataFrame:
    """Accuracy on the digits the model keeps when it abstains on its least confident ones.

    ``coverages``: shares kept (default 0.50-1.00 in steps of 0.01). Columns ``coverage``,
    ``kept``, ``abstained``, ``accuracy`` (on the kept digits), one row per coverage.
    """
    cov = np.round(np.linspace(0.5, 1.0, 51), 2) if coverages is None else np.asarray(coverages, dtype=float)
    if np.any((cov <= 0) | (cov > 1)):
        raise ValueError(f"coverages must be in (0, 1], got {cov!r}.")
    order = np.argsort(-confidence(preds.scores, preds.score_kind), kind="stable")  # most confident first
    correct = (preds.y_pred == preds.y_true)[order]
    cum = np.cumsum(correct)
    n = len(order)
    kept = np.maximum(1, np.round(cov * n).astype(int))
    return pd.DataFrame({"coverage": cov, "kept": kept, "abstained": n - kept, "accuracy": cum[kept - 1] / kept})


@dataclass(frozen=True)
class HandOver:
    """The result of handing the ``share`` least confident digits to a human: ``accuracy`` on
    the kept ones, ``accuracy_all`` without abstaining, ``indices`` (m,) of the handed-over
    test digits, least confident first, and how many of them the model had wrong."""

    share: float
    accuracy: float
    accuracy_all: float
    indices: np.ndarray
    wrong_handed: int


def hand_over(preds: TestPredictions, share: float) -> HandOver:
    """Abstain on the ``share`` (0-1) least confident test digits; see :class:`HandOver`."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"share={share!r} must be at least 0 and below 1 (a fraction of the digits).")
    n = len(preds.y_true)
    m = round(share * n)
    order = np.argsort(confidence(preds.scores, preds.score_kind), kind="stable")  # least confident first
    handed, kept = order[:m], order[m:]
    correct = preds.y_pred == preds.y_true
    return HandOver(share=share, accuracy=float(correct[kept].mean()), accuracy_all=float(correct.mean()),
                    indices=handed, wrong_handed=int((~correct[handed]).sum()))
