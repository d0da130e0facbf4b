"""Plotly figures for the Digit inspector and Trust pages: plain data in, a Figure out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.plots.colours import model_colour

__all__ = ["MIN_BIN_COUNT", "plot_abstention", "plot_pixel_map", "plot_reliability", "plot_weight_images"]

_FONT = {"size": 13}


def _symmetric(values: np.ndarray) -> float:
    top = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return top if top > 0 else 1.0


def plot_pixel_map(image: np.ndarray, contribution: np.ndarray, *, title: str, unit: str) -> go.Figure:
    """A (28, 28) ``contribution`` map as a diverging heatmap (red: pushed toward the digit,
    blue: against it), with the digit's outline (``image`` (28, 28) or (784,)) drawn over it."""
    img = np.asarray(image, dtype=float).reshape(28, 28)
    top = _symmetric(contribution)
    fig = go.Figure(go.Heatmap(
        z=contribution, zmin=-top, zmax=top, colorscale="RdBu_r", zmid=0,
        colorbar={"title": {"text": unit, "side": "right"}, "thickness": 10},
        hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
    ))
    fig.add_trace(go.Contour(
        z=img, showscale=False, contours={"start": 100, "end": 100, "size": 1, "coloring": "none"},
        line={"color": "black", "width": 1.5}, hoverinfo="skip",
    ))
    fig.update_layout(height=300, margin={"l": 5, "r": 5, "t": 40, "b": 5}, font=_FONT,
                      title={"text": title, "x": 0, "xanchor": "left"})
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig


def plot_weight_images(weights: np.ndarray, *, highlight: Sequence[int] = ()) -> go.Figure:
    """Ten (28, 28) class weight images (``weights`` (10, 28, 28)) in two rows of five;
    titles of the digits in ``highlight`` are marked with an arrow."""
    titles = [f"{'▶ ' if d in highlight else ''}digit {d}" for d in range(10)]
    fig = make_subplots(rows=2, cols=5, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.08)
    top = _symmetric(weights)
    for d in range(10):
        fig.add_trace(go.Heatmap(z=weights[d], zmin=-top, zmax=top, colorscale="RdBu_r", zmid=0,
                                 showscale=d == 0, colorbar={"thickness": 10, "title": {"text": "weight", "side": "right"}},
                                 hovertemplate=f"digit {d}, row %{{y}}, col %{{x}}: %{{z:.3f}}<extra></extra>"),
                      row=d // 5 + 1, col=d % 5 + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(height=330, margin={"l": 5, "r": 5, "t": 30, "b": 5}, font=_FONT)
    return fig


#: Reliability bins with fewer digits than this are left off the curves: a bin of 3 digits
#: swings between 0 and 1 and draws a zigzag that is noise (their counts stay in the hover).
MIN_BIN_COUNT = 30


def _legend_below(n_entries: int) -> dict:
    """A horizontal legend under the plot: with eight models inside the axes it covered the curves."""
    return {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.18, "yanchor": "top", "itemsizing": "constant"}


def plot_reliability(tables: dict[str, pd.DataFrame], *, min_count: int = MIN_BIN_COUNT) -> go.Figure:
    """Reliability diagram: per model (label -> core.analysis.trust.Reliability.table) accuracy
    against mean confidence per bin, with the diagonal of perfect calibration.

    Bins with fewer than ``min_count`` digits are not drawn; marker area grows with a bin's
    digit count and the hover gives it. Each model has its catalog colour
    (core.plots.colours); the legend sits below the axes."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "grey", "dash": "dot"},
                               name="perfectly calibrated", hoverinfo="skip"))
    biggest = max([1, *(int(t["count"].max()) for t in tables.values() if len(t))])
    for label, table in tables.items():
        kept = table[table["count"] >= min_count]
        size = 5 + 11 * np.sqrt(kept["count"].to_numpy(dtype=float) / biggest)
        fig.add_trace(go.Scatter(
            x=kept["confidence"], y=kept["accuracy"], mode="lines+markers", name=label,
            line={"color": model_colour(label)}, marker={"color": model_colour(label), "size": size},
            customdata=kept["count"],
            hovertemplate="confidence %{x:.3f}: accuracy %{y:.3f} (%{customdata:,} digits)<extra>" + label + "</extra>",
        ))
    fig.update_layout(height=480, margin={"l": 10, "r": 10, "t": 20, "b": 10}, font=_FONT,
                      legend=_legend_below(len(tables) + 1))
    fig.update_xaxes(title_text=f"confidence (top probability); bins of at least {min_count} digits", range=[0, 1.01])
    fig.update_yaxes(title_text="accuracy", range=[0, 1.01])
    return fig


def plot_abstention(
    curves: dict[str, pd.DataFrame], *, marker: float | None = None, min_coverage: float = 0.8,
) -> go.Figure:
    """Accuracy on the kept digits against coverage (share kept), one line per model
    (label -> core.analysis.trust.abstention_curve frame) in its catalog colour; ``marker``:
    a coverage to mark. The x axis runs from 100% down to ``min_coverage`` (the page's slider
    hands over at most 20%, so 100 → 80%), the y axis spans the curves in that window."""
    fig = go.Figure()
    lows, highs = [], []
    for label, curve in curves.items():
        window = curve[curve["coverage"] >= min_coverage - 1e-9]
        if len(window):
            lows.append(float(window["accuracy"].min()))
            highs.append(float(window["accuracy"].max()))
        fig.add_trace(go.Scatter(
            x=100 * window["coverage"], y=100 * window["accuracy"], mode="lines", name=label,
            line={"color": model_colour(label)}, customdata=window["abstained"],
            hovertemplate="keeps %{x:.0f}%: accuracy %{y:.2f}% (hands over %{customdata:,})<extra>" + label + "</extra>",
        ))
    if marker is not None:
        fig.add_vline(x=100 * marker, line={"color": "grey", "dash": "dash"})
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 20, "b": 10}, font=_FONT,
                      legend=_legend_below(len(curves)))
    fig.update_xaxes(title_text="coverage: digits the model keeps (%)", range=[100.5, 100 * min_coverage - 0.5])
    if lows:
        low, high = 100 * min(lows), 100 * max(highs)
        pad = max(0.1, 0.05 * (high - low))
        fig.update_yaxes(range=[low - pad, min(100.0, high) + pad])
    fig.update_yaxes(title_text="accuracy on the kept digits (%)")
    return fig
