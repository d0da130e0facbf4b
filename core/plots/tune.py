"""Figure builders for the Tune page (plain data in, a plotly Figure out; nothing is fitted)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

__all__ = ["plot_search_heatmap", "varying_params"]


def _label(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return "None" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


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
    fig = go.Figure(
        go.Heatmap(
            z=cells.to_numpy(), x=cols, y=rows if y else ["all"], text=text, texttemplate="%{text}",
            colorscale="Viridis", colorbar={"title": {"text": "CV acc. %"}},
            hovertemplate=f"{x}=%{{x}}<br>{y or ''}{'=' if y else ''}%{{y}}<br>CV accuracy %{{z:.2f}}%<extra></extra>",
        )
    )
    params = [c for c in table.columns if c not in (x, y, value, "std_accuracy", "mean_fit_s", "rank")]
    others = varying_params(table, params)
    note = " (best over " + ", ".join(others) + ")" if others else ""
    fig.update_layout(
        title={"text": f"CV accuracy %{note}"}, height=max(260, 90 + 60 * len(rows)),
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        xaxis={"title": {"text": x}, "type": "category"},
        yaxis={"title": {"text": y or ""}, "type": "category", "autorange": "reversed"},
    )
    return fig
