"""A fitted model's answers: per-digit scores, test-set predictions, one digit's top answers.

Everything here works on any object with ``predict`` and either ``predict_proba`` or
``decision_function`` and ``classes_`` (a catalog Pipeline, or an imported model), and returns
plain arrays, dataclasses or DataFrames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "TestPredictions",
    "compute_predictions",
    "model_scores",
    "predict_digit",
    "single_digit_latency_ms",
    "top_k",
]


@dataclass(frozen=True)
class TestPredictions:
    """A model's output on the test set.

    ``y_true``, ``y_pred``: (n,) int; ``scores``: (n, 10) float, one column per digit, which
    are probabilities when ``score_kind == "probability"`` and decision-function values
    otherwise; ``predict_seconds``: wall time for the whole set; ``latency_ms``: median
    time of one single-digit predict call.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray
    score_kind: str
    predict_seconds: float
    latency_ms: float

    @property
    def per_digit_ms(self) -> float:
        return 1000.0 * self.predict_seconds / max(len(self.y_true), 1)

    @property
    def confidence(self) -> np.ndarray:
        """The score of the predicted class, (n,)."""
        return self.scores[np.arange(len(self.y_pred)), self.y_pred]


def model_scores(pipeline, X: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-digit scores, (n, 10), and their kind (``"probability"`` or ``"decision score"``)."""
    if hasattr(pipeline, "predict_proba"):  # False for hinge SGD and SVC without probability
        return np.asarray(pipeline.predict_proba(X), dtype=np.float64), "probability"
    scores = np.asarray(pipeline.decision_function(X), dtype=np.float64)
    return scores, "decision score"


def _predict(pipeline, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    scores, kind = model_scores(pipeline, X)
    classes = np.asarray(pipeline.classes_)
    return classes[np.argmax(scores, axis=1)].astype(np.int64), scores, kind


def compute_predictions(pipeline: Any, X_test: np.ndarray, y_test: np.ndarray) -> TestPredictions:
    """Run ``pipeline`` on ``X_test`` (n, 784) with labels ``y_test`` (n,): predictions, (n, 10)
    scores, the time for the whole set, and the single-digit latency (warm, median of several)."""
    start = time.perf_counter()
    y_pred, scores, kind = _predict(pipeline, X_test)
    seconds = time.perf_counter() - start
    return TestPredictions(y_test, y_pred, scores, kind, seconds, single_digit_latency_ms(pipeline, X_test))


def top_k(scores: np.ndarray, *, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """For scores (n, 10): the k best digits (n, k) and their scores (n, k), best first."""
    scores = np.atleast_2d(scores)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def single_digit_latency_ms(model, X: np.ndarray, *, repeats: int = 15, warmup: int = 3) -> float:
    """Median wall time in ms of ``model.predict`` on one digit, after ``warmup`` calls.

    ``X``: (n, 784) digits; the calls cycle through the first ``repeats`` rows, so no single
    digit's cache behaviour dominates. A one-off slow call (a page fault, a thread pool
    starting) does not move the median.
    """
    X = np.asarray(X)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"need a non-empty (n, 784) array of digits, got shape {X.shape}.")
    rows = [X[i % len(X) : i % len(X) + 1] for i in range(max(repeats, 1))]
    for i in range(warmup):
        model.predict(rows[i % len(rows)])
    times = []
    for row in rows:
        start = time.perf_counter()
        model.predict(row)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def predict_digit(models: list[Any], pixels: np.ndarray, *, k: int = 3) -> pd.DataFrame:
    """Every model's answer for one digit ``pixels`` (784,) or (28, 28) uint8.

    One row per model, in the order given: name, label, prediction, score_kind, and
    ``top_digits`` / ``top_scores`` (lists of up to ``k``, best first; a probability model's
    runners-up with probability 0 are left out, so the lists can be shorter).
    """
    x = np.asarray(pixels).reshape(1, 784)
    rows = []
    for model in models:
        scores, kind = model_scores(model.pipeline, x)
        digits, values = top_k(scores, k=k)
        classes = np.asarray(model.pipeline.classes_)
        # a runner-up with probability 0 is no answer (KNN's and the forest's votes leave most digits
        # at exactly 0): listing "digit 0 0%, digit 1 0%" would fill the top-k with noise
        keep = [j == 0 or kind != "probability" or values[0, j] > 0 for j in range(digits.shape[1])]
        rows.append({
            "model": model.record.name,
            "label": model.record.label,
            "prediction": int(classes[digits[0, 0]]),
            "score_kind": kind,
            "top_digits": [int(classes[d]) for j, d in enumerate(digits[0]) if keep[j]],
            "top_scores": [float(v) for j, v in enumerate(values[0]) if keep[j]],
        })
    return pd.DataFrame(rows, columns=["model", "label", "prediction", "score_kind", "top_digits", "top_scores"])
