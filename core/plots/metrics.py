"""Plotly figure builders for the dashboard.

Every function takes plain data (NumPy arrays, DataFrames, numbers) and returns a
``plotly.graph_objects.Figure``. Nothing here fits a model, reads files or imports
Streamlit, so the figures can be tested (and reused in notebooks) on their own.

The confusion matrix is a heatmap (colour and numbers) under a transparent scatter layer
with one square marker per cell, point index ``row * 10 + col``. Plotly heatmap cells emit
no selection events in ``st.plotly_chart``; the scatter points do, so clicking a cell
selects its point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.format import honest_decimal, honest_percent
from core.plots.colours import model_colour

__all__ = [
    "CONFUSION_CONFIG",
    "CONFUSION_MODES",
    "nice_ticks",
    "percent_label",
    "plot_accuracy_bars",
    "plot_accuracy_latency",
    "plot_confusion_matrix",
    "plot_f1_heatmap",
    "plot_training_curve",
]

#: Display modes of :func:`plot_confusion_matrix`, the default first. "Errors only" leads: with
#: the diagonal blank, the colour scale spans the mistakes, so every error cell is visible (with
#: counts, a diagonal of ~1,000 per digit turns a cell of 5 errors near-white).
CONFUSION_MODES: dict[str, str] = {
    "errors": "Errors only",
    "counts": "Counts",
    "normalized": "Row-normalised (share of each true digit)",
}

#: The ``config`` to pass to ``st.plotly_chart`` with the confusion matrix: with Plotly's
#: default 500 ms, two quick clicks on different cells count as a double-click, which
#: clears the selection.
CONFUSION_CONFIG: dict = {"doubleClickDelay": 50, "displayModeBar": False, "scrollZoom": False}

_ACCENT = "#d62728"
#: The two series colours of every chart, also used by the dashboard's HTML views.
BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
_FONT = dict(size=13)
_MAX_CURVE_POINTS = 2000


def _base_layout(fig: go.Figure, *, height: int, title: str | None = None, **extra) -> go.Figure:
    fig.update_layout(
        height=height,
        title=dict(text=title, x=0, xanchor="left") if title else None,
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        font=_FONT,
        **extra,
    )
    return fig


def percent_label(share: float) -> str:
    """``share`` (0-1) as a percentage with one decimal (``1.4%``, ``45.0%``, ``99.6%``) that never
    rounds to a lie: ``0.0%``/``100.0%`` only when exact, more decimals near the edges (``99.96%``).
    The same text everywhere a share is shown (core.analysis.format.honest_percent)."""
    return honest_percent(share, decimals=1)


# ------------------------------------------------------------------ confusion


def plot_confusion_matrix(
    cm: np.ndarray,
    *,
    mode: str = "errors",
    selected: tuple[int, int] | None = None,
    height: int = 560,
) -> go.Figure:
    """A clickable confusion matrix from ``cm``, the (n, n) matrix of counts (rows true).

    ``mode``: ``"errors"`` (default) colours and labels cells by count with the diagonal left
    blank, so the colour scale spans the mistakes; ``"counts"`` by count; ``"normalized"`` by
    share of the true digit's row, labelled with :func:`percent_label` (never ``0%`` on a cell
    holding errors, never ``100%`` for 99.6%). ``selected`` (row, col) gets an outline.

    Trace 0 is the heatmap; trace 1 is the scatter of transparent square markers, one per
    cell in row-major order (point index ``row * n + col``), whose ``customdata`` rows are
    ``[true, predicted, count, share_of_row]``.
    """
    if mode not in CONFUSION_MODES:
        raise ValueError(f"mode={mode!r}; use one of {', '.join(CONFUSION_MODES)}.")
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"cm must be a square matrix, got shape {counts.shape}.")
    n = counts.shape[0]
    rows = counts.sum(axis=1, keepdims=True).astype(float)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)

    if mode == "normalized":
        z = share * 100
        text = [[percent_label(v) if c else "" for v, c in zip(sr, cr)] for sr, cr in zip(share, counts)]
        colorbar_title = "% of row"
    else:
        z = counts.astype(float)
        text = [[str(int(c)) for c in cr] for cr in counts]
        colorbar_title = "digits"
    if mode == "errors":
        z = z.copy()
        np.fill_diagonal(z, np.nan)
        text = [[("" if i == j else (t if counts[i, j] else "")) for j, t in enumerate(tr)] for i, tr in enumerate(text)]

    digits = list(range(n))
    heat = go.Heatmap(
        z=z, x=digits, y=digits, text=text, texttemplate="%{text}",
        colorscale="Blues" if mode != "errors" else "Reds",
        colorbar=dict(title=dict(text=colorbar_title), thickness=12),
        hoverinfo="skip", xgap=1, ygap=1, zmin=0,
    )
    ii, jj = np.divmod(np.arange(n * n), n)
    custom = np.column_stack([ii, jj, counts.ravel(), np.round(share.ravel(), 6)])
    cells = go.Scatter(
        x=jj, y=ii, mode="markers",
        marker=dict(symbol="square", size=30, color="rgba(0,0,0,0)", opacity=1, line=dict(width=0)),
        # opacity 1 for both, or Plotly dims every other cell after a click; the clicked
        # cell gets a translucent red fill in the browser without the figure changing.
        selected=dict(marker=dict(opacity=1, color="rgba(214,39,40,0.35)")),
        unselected=dict(marker=dict(opacity=1)),
        customdata=custom,
        text=[str(int(c)) for c in counts.ravel()],
        hovertext=[percent_label(v) for v in share.ravel()],
        hovertemplate=(
            "true %{customdata[0]} → predicted %{customdata[1]}<br>"
            "%{customdata[2]} digits (%{hovertext} of true %{customdata[0]})"
            "<extra>click to see them</extra>"
        ),
        showlegend=False,
        name="cells",
    )
    fig = go.Figure([heat, cells])
    shapes = []
    if selected is not None:
        r, c = int(selected[0]), int(selected[1])
        shapes.append(dict(
            type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
            line=dict(color=_ACCENT, width=3), fillcolor="rgba(0,0,0,0)", layer="above",
        ))
    _base_layout(
        fig, height=height,
        clickmode="event+select", dragmode=False, hovermode="closest", hoverdistance=-1,
        shapes=shapes, plot_bgcolor="white",
    )
    fig.update_xaxes(
        title_text="predicted digit", tickmode="array", tickvals=digits, side="top",
        range=[-0.5, n - 0.5], showgrid=False, zeroline=False, constrain="domain", fixedrange=True,
    )
    fig.update_yaxes(
        title_text="true digit", tickmode="array", tickvals=digits, autorange=False,
        range=[n - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
        constrain="domain", fixedrange=True,
    )
    return fig


# ----------------------------------------------------------------- comparison


def _accuracy_se(acc: np.ndarray, n_test: int | None) -> np.ndarray | None:
    if not n_test:
        return None
    return np.sqrt(acc * (1 - acc) / n_test)


def plot_accuracy_bars(summary: pd.DataFrame, *, n_test: int | None = None) -> go.Figure:
    """Horizontal accuracy bars, best on top.

    ``summary`` has columns ``label`` and ``accuracy`` (0-1), one row per model. With
    ``n_test``, each bar carries a 95% interval (±1.96 standard errors) so gaps that are
    only noise are visible as such. The axis starts near the worst model, which the axis
    title says.
    """
    frame = summary.sort_values("accuracy").reset_index(drop=True)
    acc = frame["accuracy"].to_numpy(dtype=float)
    se = _accuracy_se(acc, n_test)
    # the value goes into the category label: text inside or beside a bar would clash with the
    # whisker or sit left of a truncated axis
    names = [f"{label}  <b>{100 * a:.2f}%</b>" for label, a in zip(frame["label"], acc)]
    fig = go.Figure(go.Bar(
        x=100 * acc, y=names, orientation="h", marker_color=[model_colour(str(label)) for label in frame["label"]],
        customdata=frame["label"],
        error_x=dict(type="data", array=100 * 1.96 * se, color="#555", thickness=1.2) if se is not None else None,
        hovertemplate="%{customdata}: %{x:.2f}%<extra></extra>",
    ))
    low = float(np.floor(max(0.0, 100 * acc.min() - 3)))
    title = "test accuracy %" + (f" (axis starts at {low:g})" if low > 0 else "")
    if se is not None:
        title += ", 95% interval"
    _base_layout(fig, height=max(220, 45 * len(frame) + 80))
    fig.update_xaxes(title_text=title, range=[low, 100.5])
    fig.update_yaxes(automargin=True)
    return fig


def plot_f1_heatmap(f1: pd.DataFrame) -> go.Figure:
    """Models x digits F1 heatmap. ``f1``: index model labels, 10 columns (digits), values 0-1."""
    z = f1.to_numpy(dtype=float)
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in f1.columns], y=list(f1.index), colorscale="Viridis",
        text=[[honest_decimal(v, decimals=3) for v in row] for row in z], texttemplate="%{text}",
        colorbar=dict(title=dict(text="F1"), thickness=12),
        hovertemplate="%{y}, digit %{x}: F1 %{text}<extra></extra>", xgap=1, ygap=1,
    ))
    _base_layout(fig, height=max(220, 42 * len(f1) + 90))
    fig.update_xaxes(title_text="digit", type="category", side="top")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def plot_accuracy_latency(summary: pd.DataFrame, *, latency_column: str = "latency_ms") -> go.Figure:
    """Accuracy against single-digit prediction latency (log axis); marker area = model size.

    ``summary`` has columns ``label``, ``accuracy`` (0-1), ``size_mb`` and ``latency_column``.
    """
    size = summary["size_mb"].to_numpy(dtype=float)
    x = summary[latency_column].to_numpy(dtype=float)
    y = 100 * summary["accuracy"].to_numpy(dtype=float)
    max_px = 60.0
    sizeref = 2.0 * max(size.max(), 1e-6) / max_px**2
    fig = go.Figure()
    # one trace per model: a legend names them, so labels never overlap on the plot
    for k, label in enumerate(summary["label"]):
        fig.add_scatter(
            x=[x[k]], y=[y[k]], mode="markers", name=str(label), cliponaxis=False,  # a big model's disc stays whole
            marker=dict(size=[max(size[k], 1e-6)], sizemode="area", sizeref=sizeref, sizemin=6,
                        color=model_colour(str(label)), opacity=0.75, line=dict(color="#123", width=1)),
            customdata=[[size[k]]],
            hovertemplate=(f"{label}<br>%{{y:.2f}}% accuracy<br>%{{x:.2f}} ms per digit"
                           "<br>%{customdata[0]:.1f} MB<extra></extra>"),
        )
    _base_layout(fig, height=420, legend=dict(itemsizing="constant"))
    lx = np.log10(np.clip(x, 1e-6, None))
    fig.update_xaxes(title_text="single-digit predict latency, ms (log scale)", type="log", dtick=1,
                     range=[lx.min() - 0.5, lx.max() + 0.6])
    pad = max(0.5, 0.15 * (y.max() - y.min()))
    fig.update_yaxes(title_text="accuracy %", range=[y.min() - pad, y.max() + pad])
    return fig


def nice_ticks(low: float, high: float, *, target: int = 5) -> tuple[list[float], list[str]]:
    """Tick values covering ``[low, high]`` at a 1/2/5 x 10^k step giving about ``target`` ticks,
    and their labels with as many decimals as the step needs (so no two labels repeat)."""
    low, high = float(low), float(high)
    if not np.isfinite(low) or not np.isfinite(high):
        return [], []
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / max(target - 1, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    decimals = max(0, int(-np.floor(np.log10(step) + 1e-9)))
    start, stop = np.floor(low / step) * step, np.ceil(high / step) * step
    values = [round(v, decimals + 2) for v in np.arange(start, stop + step / 2, step)]
    return values, [f"{v:.{decimals}f}" for v in values]


def plot_training_curve(curve: pd.DataFrame, *, label: str = "MLP") -> go.Figure:
    """Training loss (left axis) and validation accuracy (right axis) per epoch.

    ``curve``: columns ``epoch``, ``loss``, ``validation_score`` (may be all NaN).
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=curve["epoch"], y=curve["loss"], name="training loss", mode="lines+markers",
                             line=dict(color=BLUE)), secondary_y=False)
    _base_layout(fig, height=360, title=f"{label}: training curve", legend=dict(orientation="h", y=-0.2, x=0))
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    if curve["validation_score"].notna().any():
        acc = 100 * curve["validation_score"].astype(float)
        fig.add_trace(go.Scatter(x=curve["epoch"], y=acc, name="validation accuracy %",
                                 mode="lines+markers", line=dict(color=ORANGE)), secondary_y=True)
        # explicit ticks: a 3-point range with whole-number labels read "99, 98, 97, 97, 96"
        values, labels = nice_ticks(acc.min(), acc.max())
        fig.update_yaxes(title_text="validation accuracy %", secondary_y=True, showgrid=False,
                         tickmode="array", tickvals=values, ticktext=labels, range=[values[0], values[-1]])
    return fig


# --------------------------------------------------------------------- binary
