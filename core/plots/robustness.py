"""Figures of the robustness analysis: the model x corruption table and the accuracy-against-
severity curves. Plain data in, Plotly figures out (see core.analysis.robustness).

The table is a heatmap under a transparent scatter layer (one square marker per cell, point
index ``row * n_columns + column``), because heatmap cells emit no selection in Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.models.catalog import MODEL_NAMES

__all__ = ["MODEL_PALETTE", "TABLE_CONFIG", "model_color", "plot_robustness_table", "plot_severity_curves", "table_cell"]

#: One colour per catalog model, in catalog order (Plotly's default sequence).
MODEL_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
_ACCENT = "#d62728"
#: ``config`` for ``st.plotly_chart`` with the table (see STACK_NOTES: quick clicks).
TABLE_CONFIG: dict = {"doubleClickDelay": 50, "displayModeBar": False, "scrollZoom": False}


def model_color(name: str) -> str:
    """The colour of catalog model ``name`` (its variants share it); grey for other models."""
    return MODEL_PALETTE[MODEL_NAMES.index(name) % len(MODEL_PALETTE)] if name in MODEL_NAMES else "#555555"


def table_cell(point_index: int, table: pd.DataFrame) -> tuple[str, str]:
    """The (model id, column) of the table cell behind scatter point ``point_index``."""
    row, col = divmod(int(point_index), table.shape[1])
    return str(table.index[row]), str(table.columns[col])


def plot_robustness_table(
    table: pd.DataFrame,
    *,
    column_labels: Mapping[str, str] | None = None,
    flipped: pd.DataFrame | None = None,
    selected: tuple[str, str] | None = None,
    corruption_columns: Sequence[str] = (),
) -> go.Figure:
    """Heatmap of ``table`` (rows: models; columns: ``clean``, corruptions, ``mean``, ``drop``;
    values 0-1). Each column is coloured by how far a model is below the column's best (for
    ``drop``: above the smallest drop), so the weakest model per corruption is the reddest and is
    outlined. ``flipped`` (models x corruptions) adds counts to the hover; ``selected`` outlines
    one cell."""
    values = table.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    worse = np.where(table.columns == "drop", values - values.min(axis=0), values.max(axis=0) - values) * 100
    labels = [(column_labels or {}).get(c, c) for c in table.columns]
    text = [[f"{100 * v:.1f}" for v in row] for row in values]
    hover = []
    for r, model in enumerate(table.index):
        row = []
        for c, column in enumerate(table.columns):
            line = f"{model} · {labels[c]}: {100 * values[r, c]:.2f}%"
            if column == "drop":
                line = f"{model}: drops {100 * values[r, c]:.2f} points from clean to the mean"
            elif flipped is not None and column in flipped.columns:
                line += f"<br>{int(flipped.loc[model, column])} digits flipped right → wrong (click to see)"
            row.append(line)
        hover.append(row)
    fig = go.Figure()
    fig.add_heatmap(
        z=worse, x=list(range(n_cols)), y=list(range(n_rows)), text=text, texttemplate="%{text}",
        colorscale=[[0.0, "#ffffff"], [0.5, "#fbb4a0"], [1.0, "#ee6a50"]], zmin=0, zmax=max(float(worse.max()), 1.0), hoverinfo="skip", xgap=2, ygap=2,
        colorbar={"title": {"text": "points below<br>the column's best"}, "thickness": 12},
    )
    xs, ys = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
    fig.add_scatter(
        x=xs.ravel(), y=ys.ravel(), mode="markers", customdata=np.array(hover).ravel(),
        hovertemplate="%{customdata}<extra></extra>",
        marker={"symbol": "square", "size": 34, "color": "rgba(0,0,0,0)", "opacity": 1, "line": {"width": 0}},
        selected={"marker": {"opacity": 1, "color": "rgba(0,0,0,0)"}},
        unselected={"marker": {"opacity": 1}}, showlegend=False,
    )
    shapes = []
    for c, column in enumerate(table.columns):
        if column not in corruption_columns or n_rows < 2:
            continue
        r = int(np.argmin(values[:, c]))
        shapes.append(_box(c, r, color="#7f0000", width=2, dash="dot"))
    if selected is not None and selected[0] in table.index and selected[1] in table.columns:
        shapes.append(_box(list(table.columns).index(selected[1]), list(table.index).index(selected[0]),
                           color="#000000", width=3, dash="solid"))
    fig.update_layout(
        shapes=shapes, plot_bgcolor="white", clickmode="event+select", dragmode=False,
        height=120 + 38 * n_rows, margin={"l": 10, "r": 10, "t": 70, "b": 10}, font={"size": 12},
    )
    fig.update_xaxes(tickvals=list(range(n_cols)), ticktext=labels, side="top", tickangle=-35, showgrid=False,
                     range=[-0.5, n_cols - 0.5], fixedrange=True)
    fig.update_yaxes(tickvals=list(range(n_rows)), ticktext=list(table.index), autorange="reversed",
                     showgrid=False, range=[n_rows - 0.5, -0.5], fixedrange=True)
    return fig


def _box(col: int, row: int, *, color: str, width: int, dash: str) -> dict:
    return {"type": "rect", "x0": col - 0.5, "x1": col + 0.5, "y0": row - 0.5, "y1": row + 0.5, "xref": "x",
            "yref": "y", "line": {"color": color, "width": width, "dash": dash}, "fillcolor": "rgba(0,0,0,0)",
            "layer": "above"}


def plot_severity_curves(
    long: pd.DataFrame,
    *,
    catalog_names: Mapping[str, str],
    corruption_labels: Mapping[str, str] | None = None,
    columns: int = 5,
) -> go.Figure:
    """Small multiples, one per corruption: accuracy (%) against severity 0-5 (0 = clean) for
    each model of ``long`` (columns ``model, corruption, severity, accuracy``). A model's colour
    is its catalog model's (``catalog_names[model id]``); variants of one model get other dashes."""
    corruptions = list(dict.fromkeys(long["corruption"]))
    rows = -(-len(corruptions) // columns)
    titles = [(corruption_labels or {}).get(c, c) for c in corruptions]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.02, vertical_spacing=0.09)
    dash_of: dict[str, str] = {}
    per_name: dict[str, int] = {}
    for model in dict.fromkeys(long["model"]):
        name = catalog_names.get(model, model)
        dash_of[model] = _DASHES[per_name.get(name, 0) % len(_DASHES)]
        per_name[name] = per_name.get(name, 0) + 1
    for k, corruption in enumerate(corruptions):
        part = long[long["corruption"] == corruption]
        for model, curve in part.groupby("model", sort=False):
            fig.add_scatter(
                x=curve["severity"], y=100 * curve["accuracy"], mode="lines+markers", name=model,
                legendgroup=model, showlegend=k == 0, row=k // columns + 1, col=k % columns + 1,
                line={"color": model_color(catalog_names.get(model, model)), "dash": dash_of[model], "width": 2},
                marker={"size": 4}, hovertemplate=f"{model}<br>severity %{{x}}: %{{y:.1f}}%<extra></extra>",
            )
    fig.update_xaxes(tickvals=[0, 1, 2, 3, 4, 5], range=[-0.2, 5.2])
    # one shared scale for the small multiples; one corruption alone gets the range of its curves
    low = 0.0 if len(corruptions) > 1 or long.empty else max(0.0, 5 * np.floor((100 * long["accuracy"].min() - 2) / 5))
    fig.update_yaxes(range=[low, 101], ticksuffix="%")
    fig.update_layout(
        height=(230 if columns > 1 else 380) * rows + 90, margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white",
        legend={"orientation": "v", "yanchor": "top", "y": 1, "xanchor": "left", "x": 1.01}, font={"size": 12},
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eee")
    fig.update_yaxes(showgrid=True, gridcolor="#eee")
    return fig
