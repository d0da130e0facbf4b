"""Figure builders for the Compare models page (kept apart from core/plots.py, which the
UI helper owns). Plain data in, a plotly Figure out; nothing is fitted here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

__all__ = ["favour_of_b", "plot_difference_matrix"]

_ACCENT = "#d62728"


def favour_of_b(diff: np.ndarray) -> np.ndarray:
    """Each cell of ``diff`` (B's confusion counts minus A's) as digits in B's favour: the
    diagonal as it is (more right is better), off the diagonal negated (fewer mistakes is better)."""
    d = np.asarray(diff, dtype=np.int64)
    out = -d.copy()
    np.fill_diagonal(out, np.diag(d))
    return out


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def plot_difference_matrix(
    diff: np.ndarray,
    *,
    name_a: str = "A",
    name_b: str = "B",
    selected: tuple[int, int] | None = None,
    height: int = 600,
) -> go.Figure:
    """The clickable 10x10 difference matrix from ``diff`` = B's confusion counts minus A's
    (rows true digits, columns predictions), on one diverging scale: how many test digits the
    cell counts in B's favour.

    A cell's number and its colour say the same thing: ``+12`` (blue) means 12 digits in B's
    favour (on the diagonal 12 more right, off it 12 fewer of that mistake), ``−12`` (red) 12 in
    A's favour. The colour bar lies under the matrix, titled "← A better · B better →".
    Like ``core.plots.metrics.plot_confusion_matrix``: trace 0 is the heatmap, trace 1 a scatter
    of transparent square markers, point index ``row * 10 + col``, ``customdata``
    ``[true, predicted, B minus A]``; ``selected`` (row, col) gets an outline. Use
    ``core.plots.metrics.CONFUSION_CONFIG`` with it.
    """
    d = np.asarray(diff, dtype=np.int64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"diff must be a square matrix, got shape {d.shape}.")
    n = d.shape[0]
    favour = favour_of_b(d)
    limit = max(1, int(np.abs(favour).max()))
    text = [[(f"{v:+d}".replace("-", "−") if v else "") for v in row] for row in favour]
    digits = list(range(n))
    ticks = [-limit, 0, limit]
    heat = go.Heatmap(
        z=favour.astype(float), x=digits, y=digits, text=text, texttemplate="%{text}", colorscale="RdBu", zmid=0,
        zmin=-limit, zmax=limit, hoverinfo="skip", xgap=1, ygap=1,
        colorbar={
            "orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.04, "yanchor": "top", "thickness": 12,
            "len": 0.75, "tickmode": "array", "tickvals": ticks, "ticktext": [f"−{limit}", "0", f"+{limit}"],
            "title": {"text": f"← {_short(name_a)} (A) better  ·  {_short(name_b)} (B) better →", "side": "top"},
        },
    )
    ii, jj = np.divmod(np.arange(n * n), n)
    cells = go.Scatter(
        x=jj, y=ii, mode="markers",
        marker={"symbol": "square", "size": 30, "color": "rgba(0,0,0,0)", "opacity": 1, "line": {"width": 0}},
        selected={"marker": {"opacity": 1, "color": "rgba(214,39,40,0.35)"}},
        unselected={"marker": {"opacity": 1}},
        customdata=np.column_stack([ii, jj, d.ravel()]),
        hovertemplate=(
            f"true %{{customdata[0]}} → predicted %{{customdata[1]}}<br>{name_b} puts %{{customdata[2]:+d}} digits here"
            f" compared with {name_a}"
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
        height=height, margin={"l": 10, "r": 10, "t": 20, "b": 70}, font={"size": 13},
        clickmode="event+select", dragmode=False, hovermode="closest", hoverdistance=-1,
        shapes=shapes, plot_bgcolor="white",
    )
    fig.update_xaxes(title_text="predicted digit", tickmode="array", tickvals=digits, side="top",
                     range=[-0.5, n - 0.5], showgrid=False, zeroline=False, constrain="domain", fixedrange=True)
    fig.update_yaxes(title_text="true digit", tickmode="array", tickvals=digits, autorange=False,
                     range=[n - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                     constrain="domain", fixedrange=True)
    return fig
