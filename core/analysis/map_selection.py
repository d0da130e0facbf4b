"""A region of the map (a box or a lasso) and what is inside it.

A :class:`Selection` is a box ``x=[x0, x1], y=[y0, y1]`` or a lasso polygon in the map's
coordinates. It has a short text form for the URL (:func:`format_selection`,
:func:`parse_selection`): ``box:x0,x1,y0,y1`` or ``lasso:x,y;x,y;...`` with 6 significant
digits and at most :data:`MAX_VERTICES` vertices, and the app applies that form itself, so a
link reopens exactly the same digits. Points inside a polygon are found with
``matplotlib.path.Path.contains_points`` (the even-odd rule Plotly's lasso uses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import OptionsError

__all__ = ["MAX_VERTICES", "Selection", "SelectionSummary", "format_selection", "parse_selection",
           "selection_mask", "summarize_selection"]

MAX_VERTICES = 80


@dataclass(frozen=True)
class Selection:
    """``kind`` ``"box"`` (``x``, ``y`` each two corner values) or ``"lasso"`` (the polygon's vertices)."""

    kind: str
    x: tuple[float, ...]
    y: tuple[float, ...]

    def as_dict(self) -> dict:
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y)}


def _round(v: float) -> float:
    return float(f"{float(v):.6g}")


def _normalise(kind: str, xs, ys) -> Selection:
    xs, ys = [float(v) for v in xs], [float(v) for v in ys]
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise OptionsError("the selection has coordinates that are not numbers.")
    if kind == "box":
        if len(xs) != 2 or len(ys) != 2:
            raise OptionsError("a box selection needs two x and two y values: box:x0,x1,y0,y1.")
        return Selection("box", (_round(min(xs)), _round(max(xs))), (_round(min(ys)), _round(max(ys))))
    if kind != "lasso":
        raise OptionsError(f"unknown selection kind {kind!r}; use box or lasso.")
    if len(xs) != len(ys) or len(xs) < 3:
        raise OptionsError("a lasso selection needs at least three x,y vertices.")
    step = max(1, -(-len(xs) // MAX_VERTICES))
    keep = list(range(0, len(xs), step))
    return Selection("lasso", tuple(_round(xs[i]) for i in keep), tuple(_round(ys[i]) for i in keep))


def selection_from_shape(kind: str, xs, ys) -> Selection:
    """A Selection from a box's or lasso's coordinates, already in its URL precision (so that
    what the user sees selected is what a reopened link selects). OptionsError if malformed."""
    return _normalise(kind, xs, ys)


def format_selection(sel: Selection) -> str:
    """The URL form: ``box:x0,x1,y0,y1`` or ``lasso:x,y;x,y;...``."""
    if sel.kind == "box":
        return "box:" + ",".join(f"{v:.6g}" for v in (*sel.x, *sel.y))
    return "lasso:" + ";".join(f"{x:.6g},{y:.6g}" for x, y in zip(sel.x, sel.y))


def parse_selection(text: str) -> Selection:
    """The Selection written by :func:`format_selection`; OptionsError naming the problem."""
    kind, _, body = (text or "").partition(":")
    try:
        if kind == "box":
            values = [float(v) for v in body.split(",")]
            if len(values) != 4:
                raise ValueError
            return _normalise("box", values[:2], values[2:])
        if kind == "lasso":
            pairs = [tuple(float(v) for v in p.split(",")) for p in body.split(";") if p]
            if any(len(p) != 2 for p in pairs):
                raise ValueError
            return _normalise("lasso", [p[0] for p in pairs], [p[1] for p in pairs])
    except ValueError:
        raise OptionsError(f"selection {text!r} is malformed; expected box:x0,x1,y0,y1 or lasso:x,y;x,y;...") from None
    raise OptionsError(f"selection {text!r} is neither box:... nor lasso:...")


def selection_mask(xy: np.ndarray, sel: Selection) -> np.ndarray:
    """Bool (n,): which points ``xy`` (n, 2) lie inside ``sel``."""
    xy = np.asarray(xy, dtype=np.float64)
    if sel.kind == "box":
        return ((xy[:, 0] >= sel.x[0]) & (xy[:, 0] <= sel.x[1]) & (xy[:, 1] >= sel.y[0]) & (xy[:, 1] <= sel.y[1]))
    from matplotlib.path import Path

    return Path(np.column_stack([sel.x, sel.y])).contains_points(xy)


@dataclass(frozen=True)
class SelectionSummary:
    """What a selection holds: ``indices`` (test indices, the model's errors first, then by
    index), ``counts`` (DataFrame: digit, by_label, by_prediction), the model's accuracy
    ``inside`` and ``outside`` (None when a side is empty) and ``n_errors`` inside."""

    indices: np.ndarray
    counts: pd.DataFrame
    inside: float | None
    outside: float | None
    n_errors: int

    @property
    def n(self) -> int:
        return len(self.indices)


def summarize_selection(mask: np.ndarray, labels: np.ndarray, pred: np.ndarray | None = None) -> SelectionSummary:
    """Counts by label and by prediction inside ``mask`` (n,) and the accuracy inside vs outside.
    Without ``pred`` (no model) the prediction column and accuracies are empty."""
    mask = np.asarray(mask, dtype=bool)
    labels = np.asarray(labels)
    idx = np.flatnonzero(mask)
    counts = pd.DataFrame({"digit": np.arange(10), "by_label": np.bincount(labels[idx], minlength=10)[:10]})
    if pred is None:
        return SelectionSummary(idx, counts, None, None, 0)
    pred = np.asarray(pred)
    right = pred == labels
    counts["by_prediction"] = np.bincount(pred[idx], minlength=10)[:10]
    order = np.lexsort((idx, right[idx]))  # errors (False) first, then by index
    inside = float(right[mask].mean()) if mask.any() else None
    outside = float(right[~mask].mean()) if (~mask).any() else None
    return SelectionSummary(idx[order], counts, inside, outside, int((~right[idx]).sum()))
