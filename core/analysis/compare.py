"""Model against model on the same test set: the 2x2 agreement table, McNemar's exact test,
a verdict in plain words, the difference of the two confusion matrices, and the test
digits behind any cell of either.

Everything takes two :class:`core.analysis.evaluation.TestPredictions` (A and B, the same test
digits) and returns plain data. McNemar's exact test is mlxtend's ``mcnemar(exact=True)``:
a two-sided binomial test on the discordant pairs (digits exactly one model gets right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mlxtend.evaluate import mcnemar, mcnemar_table

from core.analysis.evaluation import TestPredictions, confusion
from core.analysis.format import plain_number
from core.errors import OptionsError

__all__ = [
    "ALPHA",
    "QUADRANTS",
    "Comparison",
    "DifferenceCell",
    "agreement_table",
    "check_comparable",
    "compare_predictions",
    "difference_cell",
    "difference_matrix",
    "format_p",
    "mcnemar_p_value",
    "quadrant_indices",
    "verdict",
]

#: Significance level of the verdict.
ALPHA = 0.05

#: The four quadrants of the agreement table, key -> label.
QUADRANTS: dict[str, str] = {
    "both_right": "both right",
    "only_a_right": "only A right",
    "only_b_right": "only B right",
    "both_wrong": "both wrong",
}


@dataclass(frozen=True)
class Comparison:
    """A against B on ``n`` test digits: the four quadrant counts (they add up to ``n``),
    both accuracies, McNemar's exact p-value and the verdict sentence."""

    name_a: str
    name_b: str
    n: int
    both_right: int
    only_a_right: int
    only_b_right: int
    both_wrong: int
    accuracy_a: float
    accuracy_b: float
    p_value: float
    significant: bool
    verdict: str

    @property
    def counts(self) -> dict[str, int]:
        """Quadrant key (see :data:`QUADRANTS`) -> count."""
        return {key: int(getattr(self, key)) for key in QUADRANTS}


def check_comparable(a: TestPredictions, b: TestPredictions) -> None:
    """Raise :class:`OptionsError` unless ``a`` and ``b`` are predictions of the same test digits."""
    if len(a.y_true) != len(b.y_true) or not np.array_equal(a.y_true, b.y_true):
        raise OptionsError(
            f"the two models were evaluated on different test sets ({len(a.y_true)} and {len(b.y_true)} digits "
            "or different labels); compare models evaluated on the same data."
        )


def agreement_table(a: TestPredictions, b: TestPredictions) -> np.ndarray:
    """The 2x2 table (mlxtend's ``mcnemar_table``): ``[[both right, only A right],
    [only B right, both wrong]]``, int, summing to the number of test digits."""
    check_comparable(a, b)
    return np.asarray(mcnemar_table(a.y_true, a.y_pred, b.y_pred), dtype=np.int64)


def mcnemar_p_value(table: np.ndarray) -> float:
    """McNemar's exact two-sided p-value for a 2x2 table from :func:`agreement_table`
    (1.0 when the models never disagree on correctness)."""
    if int(table[0, 1]) + int(table[1, 0]) == 0:
        return 1.0
    _, p = mcnemar(np.asarray(table), exact=True)
    return float(min(1.0, p))


def format_p(p: float) -> str:
    """A p-value in plain decimals: ``0.41``, ``0.003``, ``0.00021``; below 0.0001 as ``< 0.0001``
    (no scientific notation: "4e-52" reads as a typo to most people)."""
    if p < 1e-4:
        return "< 0.0001"
    return plain_number(p, significant=2)


def verdict(name_a: str, name_b: str, only_a_right: int, only_b_right: int, p_value: float, *, alpha: float = ALPHA) -> str:
    """One sentence: which model makes significantly fewer mistakes, or that the gap is noise."""
    if p_value < alpha and only_a_right != only_b_right:
        better = name_b if only_b_right > only_a_right else name_a
        return f"{better} makes significantly fewer mistakes (p {_p_clause(p_value)})"
    return f"the difference is within noise (p {_p_clause(p_value)})"


def _p_clause(p: float) -> str:
    text = format_p(p)
    return text if text.startswith("<") else f"= {text}"


def compare_predictions(
    a: TestPredictions, b: TestPredictions, *, name_a: str = "A", name_b: str = "B", alpha: float = ALPHA
) -> Comparison:
    """The whole comparison of A and B (see :class:`Comparison`)."""
    table = agreement_table(a, b)
    p = mcnemar_p_value(table)
    n = int(table.sum())
    return Comparison(
        name_a=name_a, name_b=name_b, n=n,
        both_right=int(table[0, 0]), only_a_right=int(table[0, 1]),
        only_b_right=int(table[1, 0]), both_wrong=int(table[1, 1]),
        accuracy_a=float(np.mean(a.y_true == a.y_pred)), accuracy_b=float(np.mean(b.y_true == b.y_pred)),
        p_value=p, significant=p < alpha,
        verdict=verdict(name_a, name_b, int(table[0, 1]), int(table[1, 0]), p, alpha=alpha),
    )


def quadrant_indices(a: TestPredictions, b: TestPredictions, quadrant: str) -> np.ndarray:
    """Test indices in one quadrant (a key of :data:`QUADRANTS`), ascending; shape (count,)."""
    check_comparable(a, b)
    right_a = a.y_pred == a.y_true
    right_b = b.y_pred == b.y_true
    masks = {
        "both_right": right_a & right_b,
        "only_a_right": right_a & ~right_b,
        "only_b_right": ~right_a & right_b,
        "both_wrong": ~right_a & ~right_b,
    }
    if quadrant not in masks:
        raise OptionsError(f"unknown quadrant {quadrant!r}; use one of {', '.join(QUADRANTS)}.")
    return np.flatnonzero(masks[quadrant])


def difference_matrix(a: TestPredictions, b: TestPredictions) -> np.ndarray:
    """B's confusion counts minus A's, (10, 10) int, rows true digits, columns predictions.

    A negative diagonal cell means B gets fewer of that digit right; a positive
    off-diagonal cell, that B makes that mistake more often."""
    check_comparable(a, b)
    return confusion(b).astype(np.int64) - confusion(a).astype(np.int64)


@dataclass(frozen=True)
class DifferenceCell:
    """The test digits behind one cell (true, predicted) of the difference matrix.

    ``gained``: digits B puts in the cell and A does not; ``lost``: digits A puts there and
    B does not (both ascending). ``len(gained) - len(lost)`` is the cell's value."""

    true: int
    predicted: int
    gained: np.ndarray
    lost: np.ndarray

    @property
    def difference(self) -> int:
        return int(len(self.gained) - len(self.lost))

    @property
    def indices(self) -> np.ndarray:
        """``gained`` then ``lost``."""
        return np.concatenate([self.gained, self.lost])


def difference_cell(a: TestPredictions, b: TestPredictions, true: int, predicted: int) -> DifferenceCell:
    """The digits labelled ``true`` that exactly one of A and B predicts as ``predicted``."""
    for label, value in (("true", true), ("predicted", predicted)):
        if not 0 <= int(value) <= 9:
            raise OptionsError(f"{label}={value!r} is not a digit 0-9.")
    check_comparable(a, b)
    row = a.y_true == int(true)
    in_a = row & (a.y_pred == int(predicted))
    in_b = row & (b.y_pred == int(predicted))
    return DifferenceCell(int(true), int(predicted), np.flatnonzero(in_b & ~in_a), np.flatnonzero(in_a & ~in_b))
