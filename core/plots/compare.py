"""Figure builders for the Compare models page (kept apart from core/plots.py, which the
UI helper owns). Plain data in, a plotly Figure out; nothing is fitted here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

__all__ = ["plot_difference_matrix"]

_ACCENT = "#d62728"


def plot_difference_matrix(
    diff: np.ndarray,
    *,
    name_a: str = "A",
    name_b: str = "B",
    selected: tuple[int, int] | None = None,
    height: int = 560,
) -> go.Figure:
    """The clickable 10x10 difference matrix ``diff`` = B's confusion counts minus A's
    (rows true digits, columns predictions), on a diverging scale centred on 0.

    Off the diagonal, red means B makes that mistake more often; on the diagonal, blue
    means B gets more of that digit right. Like ``core.plots.metrics.plot_confusion_matrix``:
    trace 0 is the heatmap, trace 1 a scatter of transparent square markers, point index
    ``row * 10 + col``, ``customdata`` ``[true, predicted, difference]``; ``selected``
    (row, col) gets an outline. Use ``core.plots.metrics.CONFUSION_CONFIG`` with it.
    """
    d = np.asarray(diff, dtype=np.int64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"diff must be a square matrix, got shape {d.shape}.")
    n = d.shape[0]
    # "good for B" is positive colour: diagonal gains and off-diagonal losses
    good = d.astype(float).copy()
    off = ~np.eye(n, dtype=bool)
    good[off] = -good[off]
    limit = max(1.0, float(np.abs(good).max()))
    text = [[(f"{v:+d}" if v else "") for v in row] for row in d]
    digits = list(range(n))
    heat = go.Heatmap(
        z=good, x=digits, y=digits, text=text, texttemplate="%{text}", colorscale="RdBu", zmid=0,
        zmin=-limit, zmax=limit, hoverinfo="skip", xgap=1, ygap=1,
        colorbar={"title": {"text": f"better for<br>{name_b} →"}, "thickness": 12},
    )
    ii, jj = np.divmod(np.arange(n * n), n)
    cells = go.Scatter(
        x=jj, y=ii, mode="markers",
        marker={"symbol": "square", "size": 30, "color": "rgba(0,0,0,0)", "opacity": 1, "line": {"width": 0}},
        selected={"marker": {"opacity": 1, "color": "rgba(214,39,40,0.35)"}},
        unselected={"marker": {"opacity": 1}},
        customdata=np.column_stack([ii, jj, d.ravel()]),
        hovertemplate=(
            f"true %{{customdata[0]}} → predicted %{{customdata[1]}}<br>{name_b} minus {name_a}: %{{customdata[2]:+d}}"
            "<extra>click to see the digits</extra>"
        ),
        showlegend=False, name="cells",
    )
    fig = go.Figure([heat, cells])
    shapes = []
    if selected is not None:
        r, c = int(selected[0]), int(selected[1])
        shapes.append({"type": "rect", "x0": c - 0.5, "x1": c + 0.5, "y0": r - 0.5, "y1": r + 0.5,
                           "line": {"color": _ACCENT, "width": 3}, "fillcolor": "rgba(0,0,0,0)", "layer": "above"})
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 20, "b": 10}, font={"size": 13},
        clickmode="event+select", dragmode=False, hovermode="closest", hoverdistance=-1,
        shapes=shapes, plot_bgcolor="white",
    )
    fig.update_xaxes(title_text="predicted digit", tickmode="array", tickvals=digits, side="top",
                     range=[-0.5, n - 0.5], showgrid=False, zeroline=False, constrain="domain", fixedrange=True)
    fig.update_yaxes(title_text="true digit", tickmode="array", tickvals=digits, autorange=False,
                     range=[n - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                     constrain="domain", fixedrange=True)
    return fig
