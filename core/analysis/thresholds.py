"""The notches of a decision-threshold slider, spread where a user cares, with readable labels.

Probabilities bunch up near 0 and 1 (on the sample, 284 of 300 rank-spaced notches fell below
0.5), so their notches are evenly spaced on the log-odds scale between 0.0001 and 0.9999 and
rounded to two significant digits of the distance to 0 or 1 (0.0001, ..., 0.5, ..., 0.99, 0.9995).
Decision scores have no fixed scale; their notches are evenly spaced between the lowest score of
a positive digit (recall 1 below it) and the highest score of a negative one (precision 1 above
it), with a margin, and rounded to three significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.analysis.format import honest_decimal, plain_number
from core.models.catalog import ScoreKind

__all__ = ["PROBABILITY_LIMIT", "threshold_steps", "threshold_label", "threshold_text"]

#: Probability notches stay within [PROBABILITY_LIMIT, 1 - PROBABILITY_LIMIT].
PROBABILITY_LIMIT = 1e-4


def _round_significant(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def _round_probability(p: float) -> float:
    """Two significant digits of the distance to the nearer end: 0.00123 -> 0.0012, 0.99935 -> 0.99935."""
    if p <= 0.5:
        return _round_significant(p, 2)
    return round(1.0 - _round_significant(1.0 - p, 2), 10)


def threshold_steps(
    y: np.ndarray, scores: np.ndarray, score_kind: ScoreKind | str, *, n: int = 201, extra: Sequence[float] = (),
) -> list[float]:
    """Sorted distinct slider notches for a one-vs-rest detector: ``y`` (n,) bool, ``scores`` (n,)
    the model's scores for the positive digit. ``extra`` values (the start value, the current
    threshold) are always included, exactly."""
    y = np.asarray(y, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    if ScoreKind(score_kind).is_probability:
        edge = math.log(PROBABILITY_LIMIT / (1 - PROBABILITY_LIMIT))
        logits = np.linspace(edge, -edge, n)
        grid = {_round_probability(float(p)) for p in 1.0 / (1.0 + np.exp(-logits))}
        grid |= {0.5}
    else:
        positives, negatives = scores[y], scores[~y]
        low = float(positives.min()) if positives.size else float(scores.min())
        high = float(negatives.max()) if negatives.size else float(scores.max())
        if high <= low:  # perfectly separated: spread over the gap and a little beyond
            low, high = high, low
        pad = 0.05 * max(high - low, 1e-6)
        grid = {_round_significant(float(v), 3) for v in np.linspace(low - pad, high + pad, n)}
    grid |= {float(v) for v in extra}
    return sorted(grid)


def threshold_label(value: float, score_kind: ScoreKind | str) -> str:
    """A slider label: probabilities as plain decimals (``0.0001``, ``0.5``, ``0.9995``; values
    beyond the notches as ``<0.0001`` / ``>0.9999``), decision scores to 4 significant digits.
    Never scientific notation."""
    value = float(value)
    if ScoreKind(score_kind).is_probability:
        if value < PROBABILITY_LIMIT and value != 0:
            return f"<{PROBABILITY_LIMIT:.4f}"
        if value > 1 - PROBABILITY_LIMIT and value != 1:
            return f">{1 - PROBABILITY_LIMIT:.4f}"
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    text = f"{_round_significant(value, 4):f}".rstrip("0").rstrip(".")
    return (text or "0").replace("-", "−")


def threshold_text(value: float, score_kind: ScoreKind | str) -> str:
    """A threshold in a sentence or a chart label, short and honest: probabilities with 4
    decimals, more only where 4 would print 0 or 1 for a value that is not (``0.2964``,
    ``0.99995``); decision scores to 4 significant digits (``−0.3712``). Never the full float."""
    if ScoreKind(score_kind).is_probability:
        return honest_decimal(float(value), decimals=4)
    return plain_number(float(value), significant=4)
