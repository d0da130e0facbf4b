"""The leaderboard: one table of trained models, shared by the CLI, Home and the Leaderboard page.

:func:`leaderboard_frame` turns summary rows (``core.analysis.evaluation.summary_row``) into a DataFrame
with display columns, best accuracy first; :func:`format_leaderboard` renders it as text.
Optional columns (e.g. cross-validation accuracy) appear when the rows carry them.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["COLUMNS", "leaderboard_frame", "format_leaderboard", "accuracy_standard_error"]

#: summary-row key -> display column, in display order; percent columns are multiplied by 100.
COLUMNS: dict[str, str] = {
    "label": "model",
    "accuracy": "accuracy %",
    "accuracy_se": "± SE",
    "cv_accuracy": "CV accuracy %",
    "cv_std": "CV ± std",
    "macro_precision": "macro precision %",
    "macro_recall": "macro recall %",
    "macro_f1": "macro F1 %",
    "fit_s": "fit s",
    "predict_ms_per_digit": "predict ms/digit",
    "latency_ms": "latency ms",
    "size_mb": "size MB",
    "options": "options",
    "n_train": "trained on",
}
_PERCENT = {"accuracy", "accuracy_se", "cv_accuracy", "cv_std", "macro_precision", "macro_recall", "macro_f1"}
_DIGITS = {"fit_s": 1, "predict_ms_per_digit": 3, "latency_ms": 2, "size_mb": 1}


def accuracy_standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on ``n`` digits (as a fraction)."""
    if n <= 0:
        return float("nan")
    return math.sqrt(max(accuracy * (1.0 - accuracy), 0.0) / n)


def leaderboard_frame(rows: list[dict], *, n_test: int | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows sorted by accuracy (best first) with display column names; percentages in percent.

    ``n_test`` adds each model's own standard error (``± SE``). ``columns``: the summary keys to
    keep (default: every key of :data:`COLUMNS` present in the rows).
    """
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[COLUMNS[c] for c in (columns or ["label", "accuracy"])])
    if n_test and "accuracy" in frame:
        frame["accuracy_se"] = [accuracy_standard_error(a, n_test) for a in frame["accuracy"]]
    frame = frame.sort_values("accuracy", ascending=False, kind="stable") if "accuracy" in frame else frame
    keys = [k for k in (columns or COLUMNS) if k in frame.columns]
    out = frame[keys].copy()
    for key in keys:
        if key in _PERCENT:
            out[key] = 100 * out[key].astype(float)
    return out.rename(columns=COLUMNS).reset_index(drop=True)


def format_leaderboard(rows: list[dict], *, n_test: int | None = None, columns: list[str] | None = None) -> str:
    """The leaderboard as aligned text, e.g. for the CLI (percentages to 2 decimals)."""
    frame = leaderboard_frame(rows, n_test=n_test, columns=columns)
    for key, col in COLUMNS.items():
        if col in frame:
            if key in _PERCENT:
                frame[col] = frame[col].astype(float).round(2)
            elif key in _DIGITS:
                frame[col] = frame[col].astype(float).round(_DIGITS[key])
    return frame.to_string(index=False)
