"""Figure builders for the Tune page (plain data in, a plotly Figure out; nothing is fitted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.models.grids import format_value

__all__ = ["SearchNoise", "plot_search_heatmap", "search_noise", "varying_params"]


@dataclass(frozen=True)
class SearchNoise:
    """How a search's spread compares with its noise: ``spread_points`` (best minus worst
    candidate, percentage points), ``std_points`` (the best candidate's standard deviation over
    the folds), ``within_noise`` (spread at most one std) and a ``sentence`` saying so."""

    spread_points: float
    std_points: float
    within_noise: bool
    sentence: str


def search_noise(table: pd.DataFrame, *, value: str = "mean_accuracy") -> SearchNoise:
    """Compare the candidates' spread with the best one's fold-to-fold standard deviation.
    ``table``: a search table (fractions, with ``std_accuracy``)."""
    if table.empty or value not in table:
        return SearchNoise(0.0, 0.0, True, "")
    acc = 100 * table[value].astype(float)
    best = int(acc.to_numpy().argmax())
    std = 100 * float(table["std_accuracy"].iloc[best]) if "std_accuracy" in table else 0.0
    spread = float(acc.max() - acc.min())
    within = spread <= std
    if len(table) < 2:
        sentence = ""
    elif within:
        sentence = (f"All {len(table)} candidates lie within {spread:.2f} points, less than one standard deviation "
                    f"over the folds (±{std:.2f}): these differences are noise.")
    else:
        sentence = f"Spread {spread:.2f} points; the best candidate varies by ±{std:.2f} over the folds."
    return SearchNoise(spread, std, within, sentence)


def _label(value: Any) -> str:
    return format_value(value)  # as the user writes it, never in scientific notation


def varying_params(table: pd.DataFrame, params: list[str]) -> list[str]:
    """The parameters of a search table that take more than one value."""
    return [p for p in params if table[p].map(_label).nunique() > 1]


def plot_search_heatmap(table: pd.DataFrame, *, x: str, y: str | None = None, value: str = "mean_accuracy") -> go.Figure:
    """CV accuracy (percent) over parameter ``x`` (columns) and ``y`` (rows; None: one row).

    ``table``: a search table (``core.analysis.tune.SearchResult.table()``: one row per candidate, the
    parameters and ``value`` as a fraction). Where other parameters vary too, each cell shows the
    best candidate with that ``x``/``y`` pair. Axis values keep the order they first appear in
    after sorting, numbers numerically.
    """
    frame = table.copy()
    frame["_x"] = frame[x].map(_label)
    frame["_y"] = frame[y].map(_label) if y else ""
    cells = frame.groupby(["_y", "_x"], sort=False)[value].max().mul(100).unstack("_x")

    def order(column: str | None, labels) -> list[str]:
        values = {_label(v): v for v in frame[column]} if column else {}

        def key(lab: str):
            v = values.get(lab)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return (1, float(v), lab)
            if isinstance(v, (tuple, list)):
                return (1, float(sum(v)), lab)
            return (0 if v is not None else 2, 0.0, lab)

        return sorted(labels, key=key)

    cols = order(x, cells.columns)
    rows = order(y, cells.index) if y else [""]
    cells = cells.reindex(index=rows, columns=cols)
    text = [[("" if pd.isna(v) else f"{v:.2f}") for v in row] for row in cells.to_numpy()]
    noise = search_noise(table, value=value)
    z = cells.to_numpy(dtype=float)
    best = float(np.nanmax(z)) if np.isfinite(z).any() else 0.0
    low = float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    # the colour scale spans at least two standard deviations below the best: a spread within the
    # folds' noise then looks like one colour instead of the full Viridis range
    zmin = min(low, best - 2 * noise.std_points)
    fig = go.Figure(
        go.Heatmap(
            z=z, x=cols, y=rows if y else ["all"], text=text, texttemplate="%{text}", zmin=zmin, zmax=best,
            colorscale="Viridis", colorbar={"title": {"text": "CV acc. %"}},
            hovertemplate=f"{x}=%{{x}}<br>{y or ''}{'=' if y else ''}%{{y}}<br>CV accuracy %{{z:.2f}}%<extra></extra>",
        )
    )
    params = [c for c in table.columns if c not in (x, y, value, "std_accuracy", "mean_fit_s", "rank")]
    others = varying_params(table, params)
    note = " (best over " + ", ".join(others) + ")" if others else ""
    fig.update_layout(
        title={"text": f"CV accuracy %{note}" + (f"<br><sup>{noise.sentence}</sup>" if noise.sentence else "")},
        height=max(280, 110 + 60 * len(rows)),
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        xaxis={"title": {"text": x}, "type": "category"},
        yaxis={"title": {"text": y or ""}, "type": "category", "autorange": "reversed"},
    )
    return fig
