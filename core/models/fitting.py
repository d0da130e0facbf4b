"""Fitting a catalog model: the training subset, the fit itself, and what to note about it.

The store saves what is fitted here; nothing here writes files.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.preprocessing import AUGMENT_FACTOR, final_estimator
from core.models.catalog import build_pipeline, get_spec
from core.progress import report, scaled

__all__ = ["FitResult", "train_pipeline", "training_subset"]

def training_subset(
    X: np.ndarray, y: np.ndarray, *, max_train: int | None, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, 784) and ``y`` (n,), or a stratified subset of ``max_train`` digits of them."""
    if max_train and max_train < len(y):
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(X, y, train_size=max_train, stratify=y, random_state=random_state)
    return X, y


def _fit(pipeline, X: np.ndarray, y: np.ndarray) -> None:
    """Fit; in the main thread, silence ConvergenceWarning (reported as a note instead).
    Warning filters are process-wide, so a background thread leaves them alone."""
    if threading.current_thread() is threading.main_thread():
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(X, y)
    else:
        pipeline.fit(X, y)


def _stopped_early(pipeline) -> bool:
    """Whether an iterative estimator used its whole iteration budget (did not converge)."""
    final = final_estimator(pipeline)
    estimators = getattr(final, "estimators_", None) if hasattr(final, "estimator") else None
    for est in [final, *(estimators or [])]:
        n_iter, max_iter = getattr(est, "n_iter_", None), getattr(est, "max_iter", None)
        if (n_iter is not None and isinstance(max_iter, (int, np.integer)) and max_iter > 0
                and np.max(np.asarray(n_iter)) >= max_iter):
            return True
    return False


def _predict_in_calling_thread(pipeline) -> None:
    """Fit used every core; for prediction, a process pool costs more than it saves (a single
    digit through RandomForest's n_jobs=-1 takes ~15 ms instead of ~1 ms)."""
    final = final_estimator(pipeline)
    if "n_jobs" in final.get_params(deep=False):
        final.set_params(n_jobs=None)



@dataclass(frozen=True)
class FitResult:
    """A fitted Pipeline, the seconds its fit took, how many digits it saw (augmented copies
    included) and notes for the user (e.g. "stopped at its iteration budget")."""

    pipeline: Any
    fit_seconds: float
    n_fit: int
    notes: tuple[str, ...] = ()


def train_pipeline(
    name: str, X: np.ndarray, y: np.ndarray, *, resolved: dict[str, Any], random_state: int = 0
) -> FitResult:
    """Catalog model ``name`` with ``resolved`` options (see ``TrainOptions.resolved``) fitted on
    ``X`` (n, 784) uint8 and ``y`` (n,). Progress goes through :func:`core.progress.report`."""
    spec = get_spec(name)
    X, y = training_subset(X, y, max_train=resolved["max_train"], random_state=random_state)
    pipeline = build_pipeline(
        name, deskew=resolved["deskew"], augment=resolved["augment"], params=resolved["params"], random_state=random_state,
    )
    n_fit = len(y) * AUGMENT_FACTOR[resolved["augment"]]
    report(0.0, f"fitting {spec.label} on {n_fit:,} digits")
    start = time.perf_counter()
    with scaled(0.0, 0.95):  # a model that reports its own progress (the CNN's epochs) fills the bar
        _fit(pipeline, X, y)
    fit_seconds = time.perf_counter() - start
    notes = (f"{spec.label}: stopped at its iteration budget before full convergence.",) if _stopped_early(pipeline) else ()
    _predict_in_calling_thread(pipeline)
    return FitResult(pipeline, fit_seconds, int(n_fit), notes)
