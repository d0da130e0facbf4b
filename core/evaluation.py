"""Evaluation of a fitted model on the test set: metrics, confusion cells, thresholds.

:func:`predict_test` runs the model on the test set once and caches the predictions beside
the artifact; everything else here is plain computation on arrays and returns numbers,
arrays or DataFrames.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn import metrics

from core.data import MnistData
from core.preprocessing import final_estimator
from core.timing import single_digit_latency_ms

if TYPE_CHECKING:
    from core.store import ModelRecord, TrainedModel

__all__ = [
    "BinaryAnalysis",
    "TestPredictions",
    "accuracy",
    "binary_analysis",
    "cached_predictions",
    "cell_indices",
    "classification_table",
    "compute_predictions",
    "confusion",
    "model_scores",
    "predict_digit",
    "predict_test",
    "summary_row",
    "threshold_errors",
    "threshold_for",
    "threshold_metrics",
    "top_confusions",
    "top_k",
    "training_curve",
]

DIGITS = np.arange(10)


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


def compute_predictions(pipeline, data: MnistData) -> TestPredictions:
    """Run ``pipeline`` on ``data.X_test`` (n, 784): predictions, (n, 10) scores, the time for
    the whole set, and the single-digit latency (core.timing: warm, median of several)."""
    start = time.perf_counter()
    y_pred, scores, kind = _predict(pipeline, data.X_test)
    seconds = time.perf_counter() - start
    return TestPredictions(data.y_test, y_pred, scores, kind, seconds, single_digit_latency_ms(pipeline, data.X_test))


def _store_of(folder, data: MnistData):
    from core.training import open_store

    return open_store(data, folder)


def cached_predictions(record: ModelRecord, data: MnistData, *, models_path: str | os.PathLike | None = None) -> TestPredictions | None:
    """The test-set predictions cached for the artifact ``record`` describes, without
    loading the model; None if there are none (or they belong to other data or a
    different model file). See :meth:`core.store.ArtifactStore.cached_predictions`."""
    return _store_of(models_path, data).cached_predictions(record)


def predict_test(model: TrainedModel, data: MnistData, *, use_cache: bool = True) -> TestPredictions:
    """Predict ``data.X_test`` (n, 784) with ``model``; cached beside the artifact by the
    store (a read-only folder gets its predictions uncached). ``use_cache=False`` recomputes."""
    store = _store_of(model.path.parent, data)
    if use_cache:
        return store.predictions(model)
    preds = compute_predictions(model.pipeline, data)
    store.save_predictions(model.record, preds)
    return preds


# ------------------------------------------------------------------ multiclass


def accuracy(preds: TestPredictions) -> float:
    return float(np.mean(preds.y_true == preds.y_pred))


def classification_table(preds: TestPredictions) -> pd.DataFrame:
    """Per-digit precision, recall, F1 and support, plus a ``macro avg`` row; 11 rows."""
    p, r, f, s = metrics.precision_recall_fscore_support(
        preds.y_true, preds.y_pred, labels=DIGITS, zero_division=0
    )
    table = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s}, index=[str(d) for d in DIGITS])
    table.loc["macro avg"] = [p.mean(), r.mean(), f.mean(), s.sum()]
    table["support"] = table["support"].astype(int)
    table.index.name = "digit"
    return table


def confusion(preds: TestPredictions, *, normalize: str | None = None) -> np.ndarray:
    """10x10 confusion matrix, rows true digits, columns predictions.

    ``normalize``: None (counts), ``"true"`` (rows sum to 1) or ``"errors"`` (counts with
    the diagonal zeroed).
    """
    if normalize not in (None, "true", "errors"):
        raise ValueError(f"normalize={normalize!r}; use None, 'true' or 'errors'.")
    cm = metrics.confusion_matrix(preds.y_true, preds.y_pred, labels=DIGITS)
    if normalize == "true":
        rows = cm.sum(axis=1, keepdims=True)
        return np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    if normalize == "errors":
        cm = cm.copy()
        np.fill_diagonal(cm, 0)
    return cm


def cell_indices(preds: TestPredictions, true: int, predicted: int, *, most_confident_first: bool | None = None) -> np.ndarray:
    """Test indices with label ``true`` predicted as ``predicted``, sorted by the model's
    confidence in its prediction: most confident first for mistakes, least confident
    first on the diagonal (override with ``most_confident_first``). Shape (cell count,).
    """
    for name, value in (("true", true), ("predicted", predicted)):
        if not 0 <= int(value) <= 9:
            raise ValueError(f"{name}={value!r} is not a digit 0-9.")
    idx = np.flatnonzero((preds.y_true == true) & (preds.y_pred == predicted))
    desc = (true != predicted) if most_confident_first is None else most_confident_first
    conf = preds.confidence[idx]
    order = np.argsort(-conf if desc else conf, kind="stable")
    return idx[order]


def top_confusions(preds: TestPredictions, *, k: int = 10) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells: columns true, predicted, count, share_of_true."""
    cm = confusion(preds, normalize="errors")
    rows = cm.sum(axis=1) + np.diag(confusion(preds))
    flat = [(int(cm[i, j]), i, j) for i in range(10) for j in range(10) if i != j and cm[i, j] > 0]
    flat.sort(key=lambda t: (-t[0], t[1], t[2]))
    return pd.DataFrame(
        [{"true": i, "predicted": j, "count": c, "share_of_true": c / rows[i] if rows[i] else 0.0} for c, i, j in flat[:k]],
        columns=["true", "predicted", "count", "share_of_true"],
    )


def top_k(scores: np.ndarray, *, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """For scores (n, 10): the k best digits (n, k) and their scores (n, k), best first."""
    scores = np.atleast_2d(scores)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def summary_row(model: TrainedModel, preds: TestPredictions) -> dict:
    """One leaderboard row: model, accuracy, macro precision/recall/F1, timings, size."""
    table = classification_table(preds)
    macro = table.loc["macro avg"]
    return {
        "model": model.record.name,
        "label": model.record.label,
        "accuracy": accuracy(preds),
        "macro_precision": float(macro["precision"]),
        "macro_recall": float(macro["recall"]),
        "macro_f1": float(macro["f1"]),
        "fit_s": model.record.fit_seconds,
        "predict_ms_per_digit": preds.per_digit_ms,
        "latency_ms": preds.latency_ms,
        "size_mb": model.record.model_mb,
        "options": model.record.options_summary(),
        "n_train": model.record.n_train,
    }


def training_curve(pipeline) -> pd.DataFrame | None:
    """Per-epoch ``loss`` and ``validation_score`` of an MLP or of the skorch CNN (its training
    loss and held-out accuracy); None for other models."""
    final = final_estimator(pipeline)
    history = getattr(final, "history_", None)  # skorch nets (core.cnn): history_ is the History
    if history is not None and len(history):
        return pd.DataFrame({
            "epoch": [int(h["epoch"]) for h in history],
            "loss": [float(h.get("train_loss", np.nan)) for h in history],
            "validation_score": [float(h.get("valid_acc", np.nan)) for h in history],
        })
    loss = getattr(final, "loss_curve_", None)
    if loss is None:
        return None
    val = getattr(final, "validation_scores_", None) or [np.nan] * len(loss)
    return pd.DataFrame({"epoch": np.arange(1, len(loss) + 1), "loss": loss, "validation_score": val[: len(loss)]})


# ---------------------------------------------------------------------- binary


@dataclass(frozen=True)
class BinaryAnalysis:
    """One-vs-rest view of a multiclass model for ``digit``.

    ``y``: (n,) bool, true when the digit is ``digit``; ``scores``: (n,) the model's score
    for ``digit``; ``pr``: DataFrame threshold/precision/recall/f1 (one row per distinct
    score); ``roc``: DataFrame threshold/fpr/tpr; ``auc``: ROC AUC; ``average_precision``.
    """

    digit: int
    score_kind: str
    y: np.ndarray
    scores: np.ndarray
    pr: pd.DataFrame
    roc: pd.DataFrame
    auc: float
    average_precision: float


def binary_analysis(preds: TestPredictions, digit: int) -> BinaryAnalysis:
    """Precision-recall and ROC curves of the ``digit``-vs-rest detector."""
    if not 0 <= int(digit) <= 9:
        raise ValueError(f"digit={digit!r} is not a digit 0-9.")
    y = preds.y_true == digit
    s = preds.scores[:, digit]
    precision, recall, thr = metrics.precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    pr = pd.DataFrame({"threshold": thr, "precision": precision, "recall": recall, "f1": f1})
    fpr, tpr, roc_thr = metrics.roc_curve(y, s)
    roc = pd.DataFrame({"threshold": roc_thr, "fpr": fpr, "tpr": tpr})
    return BinaryAnalysis(
        digit=int(digit), score_kind=preds.score_kind, y=y, scores=s, pr=pr, roc=roc,
        auc=float(metrics.roc_auc_score(y, s)), average_precision=float(metrics.average_precision_score(y, s)),
    )


def threshold_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Predict positive where ``scores >= threshold``; precision, recall, F1, fpr and the
    2x2 counts tp, fp, fn, tn. Precision is 1.0 when nothing is predicted positive."""
    y = np.asarray(y, dtype=bool)
    pos = np.asarray(scores) >= threshold
    tp = int(np.sum(pos & y))
    fp = int(np.sum(pos & ~y))
    fn = int(np.sum(~pos & y))
    tn = int(np.sum(~pos & ~y))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fpr, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def threshold_errors(analysis: BinaryAnalysis, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Test indices of the false positives (most confident first) and false negatives
    (lowest score first) when ``scores >= threshold`` counts as positive; shapes (fp,), (fn,)."""
    positive = analysis.scores >= threshold
    fp = np.flatnonzero(positive & ~analysis.y)
    fn = np.flatnonzero(~positive & analysis.y)
    return fp[np.argsort(-analysis.scores[fp], kind="stable")], fn[np.argsort(analysis.scores[fn], kind="stable")]


def threshold_for(analysis: BinaryAnalysis, *, precision: float | None = None, recall: float | None = None) -> float | None:
    """The lowest threshold whose precision reaches ``precision``, or the highest whose
    recall reaches ``recall`` (give exactly one). None when no threshold reaches it."""
    if (precision is None) == (recall is None):
        raise ValueError("give exactly one of precision= or recall=.")
    target = precision if precision is not None else recall
    if not 0.0 <= float(target) <= 1.0:
        raise ValueError(f"target {target!r} must be between 0 and 1.")
    pr = analysis.pr
    if precision is not None:
        ok = np.flatnonzero(pr["precision"].to_numpy() >= precision)
        return float(pr["threshold"].iloc[ok[0]]) if ok.size else None
    ok = np.flatnonzero(pr["recall"].to_numpy() >= recall)
    return float(pr["threshold"].iloc[ok[-1]]) if ok.size else None


def predict_digit(models: list[TrainedModel], pixels: np.ndarray, *, k: int = 3) -> pd.DataFrame:
    """Every model's answer for one digit ``pixels`` (784,) or (28, 28) uint8.

    One row per model, in the order given: name, label, prediction, score_kind, and
    ``top_digits`` / ``top_scores`` (lists of length ``k``, best first).
    """
    x = np.asarray(pixels).reshape(1, 784)
    rows = []
    for model in models:
        scores, kind = model_scores(model.pipeline, x)
        digits, values = top_k(scores, k=k)
        classes = np.asarray(model.pipeline.classes_)
        rows.append({
            "model": model.record.name,
            "label": model.record.label,
            "prediction": int(classes[digits[0, 0]]),
            "score_kind": kind,
            "top_digits": [int(classes[d]) for d in digits[0]],
            "top_scores": [float(v) for v in values[0]],
        })
    return pd.DataFrame(rows, columns=["model", "label", "prediction", "score_kind", "top_digits", "top_scores"])
