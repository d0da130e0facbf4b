"""Timing helpers shared by the app's evaluation and the benchmark."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["single_digit_latency_ms"]


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
