"""Test-set predictions from a file: for a model that cannot be exported to ONNX.

A prediction file holds, for the test digits in the standard order, either scores (n, 10)
(probabilities or any other per-digit scores) or one predicted digit per row (n,). Formats:
CSV (with or without a header row), ``.npy``, or ``.npz`` with one array. Nothing is unpickled
(``allow_pickle=False``).

:func:`read_prediction_file` checks the shape, values and order and returns plain arrays;
:class:`PredictionsOnly` stands in for a model where one is expected, and refuses to classify a
new digit with a message saying why.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from core.errors import DashboardError
from core.models.onnx_model import MAX_FILE_BYTES, ModelImportError

__all__ = ["FileScores", "PredictionsOnly", "PredictionsOnlyError", "is_predictions_only", "read_prediction_file"]

SUFFIXES = (".csv", ".npy", ".npz")


class PredictionsOnlyError(DashboardError, TypeError):
    """An imported prediction file was asked to classify a digit it has no answer for."""


@dataclass(frozen=True)
class FileScores:
    """What a prediction file holds: ``y_pred`` (n,) int; ``scores`` (n, 10) float; ``kind``:
    ``probability``, ``decision score`` (scores that are not probabilities) or ``label`` (only
    predicted digits: scores are one-hot); ``notes`` for the user."""

    y_pred: np.ndarray
    scores: np.ndarray
    kind: str
    notes: tuple[str, ...] = ()


def _parse(payload: bytes, filename: str) -> np.ndarray:
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUFFIXES:
        raise ModelImportError(f"{filename!r} is not a prediction file: use .csv, .npy or .npz.")
    try:
        if suffix == ".npy":
            return np.load(io.BytesIO(payload), allow_pickle=False)
        if suffix == ".npz":
            with np.load(io.BytesIO(payload), allow_pickle=False) as f:
                keys = list(f.keys())
                if len(keys) != 1:
                    raise ModelImportError(f"the .npz file holds {len(keys)} arrays ({', '.join(keys) or 'none'}); "
                                           "save exactly one: np.savez(path, scores=...).")
                return np.asarray(f[keys[0]])
        import pandas as pd

        text = payload.decode("utf-8-sig")
        has_header = not _numeric_row(text.split("\n", 1)[0])
        frame = pd.read_csv(io.StringIO(text), header=0 if has_header else None)
        return frame.to_numpy()
    except ModelImportError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise ModelImportError(f"{filename!r} cannot be read as {suffix} ({type(exc).__name__}: {exc}).") from None


def _numeric_row(line: str) -> bool:
    try:
        [float(v) for v in line.strip().split(",")]
    except ValueError:
        return False
    return True


def read_prediction_file(payload: bytes, filename: str, y_test: np.ndarray) -> FileScores:
    """Check prediction-file bytes against the test labels ``y_test`` (n,) and return what
    they hold. Raises :class:`ModelImportError` for a file too large, the wrong shape, NaN,
    negative or out-of-range values, or (for probabilities) an order that looks wrong."""
    n = len(y_test)
    if len(payload) > MAX_FILE_BYTES:
        raise ModelImportError(f"the file is {len(payload) / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB "
                               f"(10 scores for each of {n:,} test digits need well under 10 MB).")
    arr = _parse(payload, filename)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ModelImportError(f"the file holds non-numeric values ({arr.dtype}); use numbers only.")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2) or arr.shape[0] != n or (arr.ndim == 2 and arr.shape[1] != 10):
        raise ModelImportError(
            f"the file has shape {arr.shape}; expected ({n:,}, 10) scores or ({n:,},) predicted digits, one row per "
            f"test digit in the standard test order ({n:,} rows)."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(n, -1).any(axis=1))
        raise ModelImportError(f"the file has NaN or infinite values in {len(rows)} rows (first: row {rows[0]}); "
                               "every test digit needs a value.")
    notes: list[str] = []
    if arr.ndim == 1:
        if not np.all(arr == np.rint(arr)) or arr.min() < 0 or arr.max() > 9:
            wrong = np.flatnonzero((arr != np.rint(arr)) | (arr < 0) | (arr > 9))
            raise ModelImportError(f"the predicted digits must be whole numbers 0-9; {len(wrong)} rows are not "
                                   f"(first: row {wrong[0]}, value {arr[wrong[0]]:g}).")
        y_pred = arr.astype(np.int64)
        scores = np.eye(10)[y_pred]
        kind = "label"
        notes.append("predicted digits only: scores are 1 for the predicted digit and 0 elsewhere.")
    else:
        sums_to_one = np.isclose(arr.sum(axis=1), 1.0, atol=1e-3)
        if sums_to_one.all() and arr.min() < 0:
            rows = np.flatnonzero((arr < 0).any(axis=1))
            raise ModelImportError(
                f"every row sums to 1 like probabilities, but {len(rows):,} rows have negative values (first: row "
                f"{rows[0]}); probabilities cannot be negative. Save the softmax output, or scores that are not "
                "normalised (logits)."
            )
        if sums_to_one.all() and arr.max() <= 1 + 1e-9:
            kind = "probability"
        else:
            kind = "decision score"
            notes.append(f"{int((~sums_to_one).sum()):,} rows do not sum to 1, so these are not probabilities; "
                         "read as scores (highest score = predicted digit).")
        scores = arr
        y_pred = np.argmax(arr, axis=1).astype(np.int64)
    acc = float(np.mean(y_pred == np.asarray(y_test)))
    chance = float(np.max(np.bincount(np.asarray(y_test, dtype=np.int64), minlength=10)) / n)
    if acc < max(0.2, chance + 0.05):
        raise ModelImportError(
            f"accuracy against the test labels is {100 * acc:.1f}%, near chance ({100 * chance:.1f}%): the order "
            f"is probably wrong. Rows must follow the standard test order (test digit 0 first), and the columns "
            f"digits 0-9 in order."
        )
    return FileScores(y_pred, np.asarray(scores, dtype=np.float64), kind, tuple(notes))


class PredictionsOnly:
    """Stands in for a model in pages and commands: imported test-set predictions, no model.

    ``classes_`` is 0-9; asking it to classify anything raises :class:`PredictionsOnlyError`
    saying why (a prediction file answers for the test digits only)."""

    classes_ = np.arange(10)
    predictions_only = True
    WHY = ("it is a prediction file: it holds answers for the test digits only, and has no model that "
           "could classify a new or changed digit. Import an ONNX export of the model to use it here.")

    def __init__(self, kind: str):
        self.output_kind = kind

    def _refuse(self, X=None):
        raise PredictionsOnlyError(f"This model cannot answer: {self.WHY}")

    predict = _refuse
    predict_proba = _refuse

    def describe(self) -> str:
        return {"probability": "prediction file (probabilities)", "decision score": "prediction file (scores)",
                "label": "prediction file (predicted digits only)"}[self.output_kind]


def is_predictions_only(pipeline) -> bool:
    """True for an imported prediction file's stand-in (it cannot classify a new digit)."""
    return bool(getattr(pipeline, "predictions_only", False))
