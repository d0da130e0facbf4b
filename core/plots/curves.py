"""Threshold, precision-recall and ROC figures for one digit against the rest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.analysis.format import honest_decimal
from core.analysis.thresholds import threshold_text
from core.models.catalog import ScoreKind
from core.plots.metrics import _ACCENT, _MAX_CURVE_POINTS, BLUE, ORANGE, _base_layout

__all__ = ["downsample_curve", "plot_pr_curve", "plot_roc_curve", "plot_threshold_curves", "threshold_point", "zoom_range"]


def downsample_curve(frame: pd.DataFrame, *, max_points: int = _MAX_CURVE_POINTS) -> pd.DataFrame:
    """At most ``max_points`` evenly spaced rows of ``frame``, always keeping the first and last."""
    if len(frame) <= max_points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep]


def zoom_range(values: Sequence[float], *, margin: float = 0.02, cap: float = 0.9) -> list[float]:
    """An axis range ``[low, 1.005]`` for rates that crowd near 1: from a little below the lowest of
    ``values`` (the current point's coordinates), at most ``cap``, down to a multiple of 0.05."""
    low = min([cap, *(float(v) - margin for v in values)])
    return [max(0.0, float(np.floor(low / 0.05) * 0.05)), 1.005]


#: Probability thresholds on a zoomed threshold chart: its x axis is the log-odds, labelled with these.
_LOGIT_TICKS = (0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999)
_LOGIT_CLIP = 1e-5


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _LOGIT_CLIP, 1 - _LOGIT_CLIP)
    return np.log(p / (1 - p))


def plot_threshold_curves(
    pr: pd.DataFrame, threshold: float, *, score_kind: ScoreKind | str = ScoreKind.PROBABILITY, zoom: bool = False,
) -> go.Figure:
    """Precision and recall against the threshold, with the current ``threshold`` marked.

    ``pr``: columns ``threshold``, ``precision``, ``recall`` (as from binary_analysis). ``zoom``
    (the page's zoom toggle, as for the PR and ROC curves): the y axis starts just below the
    current precision and recall (see :func:`zoom_range`), and probabilities go on a log-odds x
    axis, labelled in probabilities, where a strong model's curves are not flat at 1 from 0.01
    to 0.99. The threshold's label sits on the side of the line with more room.
    """
    pr = downsample_curve(pr)
    kind = ScoreKind(score_kind)
    logit = zoom and kind.is_probability
    x = _logit(pr["threshold"]) if logit else pr["threshold"].to_numpy(dtype=float)
    at = float(_logit(threshold)) if logit else float(threshold)
    fig = go.Figure()
    hover = "threshold %{customdata}<br>%{y:.4f}<extra>%{fullData.name}</extra>"
    custom = [threshold_text(t, kind) for t in pr["threshold"]]
    fig.add_scatter(x=x, y=pr["precision"], name="precision", mode="lines", line=dict(color=BLUE, width=2),
                    customdata=custom, hovertemplate=hover)
    fig.add_scatter(x=x, y=pr["recall"], name="recall", mode="lines", line=dict(color=ORANGE, width=2),
                    customdata=custom, hovertemplate=hover)
    if logit:
        x_range = [min(float(_logit(_LOGIT_TICKS[0])), at) - 0.3, max(float(_logit(_LOGIT_TICKS[-1])), at) + 0.3]
    elif kind.is_probability:
        x_range = [-0.02, 1.02]
    else:
        x_range = [float(np.min(x)), float(np.max(x))] if len(x) else [0.0, 1.0]
    middle = (x_range[0] + x_range[1]) / 2
    fig.add_vline(x=at, line=dict(color=_ACCENT, dash="dash", width=2))
    fig.add_annotation(x=at, y=1.0, yref="paper", yanchor="bottom", text=f"threshold {threshold_text(threshold, kind)}",
                       showarrow=False, font=dict(color=_ACCENT), xanchor="left" if at <= middle else "right")
    _base_layout(fig, height=340, title="Precision and recall against the threshold",
                 legend=dict(orientation="h", y=-0.25, x=0))
    fig.update_layout(margin=dict(t=70))
    title = "threshold, log-odds scale" if logit else f"threshold on the {kind}"
    if logit:
        fig.update_xaxes(title_text=title, range=x_range, tickmode="array", tickangle=0, tickfont=dict(size=11),
                         tickvals=[float(_logit(t)) for t in _LOGIT_TICKS], ticktext=[f"{t:g}" for t in _LOGIT_TICKS])
    else:
        fig.update_xaxes(title_text=title, range=x_range)
    if zoom:
        m = threshold_point(pr, threshold)
        fig.update_yaxes(range=zoom_range(m), title_text="")
    else:
        fig.update_yaxes(range=[0, 1.02], title_text="")
    return fig


def threshold_point(pr: pd.DataFrame, threshold: float) -> tuple[float, float]:
    """(precision, recall) of the curve ``pr`` at the lowest tabulated threshold at or above
    ``threshold`` (the last row when there is none)."""
    at = pr["threshold"].to_numpy(dtype=float)
    k = int(np.searchsorted(np.sort(at), float(threshold)))
    order = np.argsort(at, kind="stable")
    row = pr.iloc[order[min(k, len(order) - 1)]]
    return float(row["precision"]), float(row["recall"])


def plot_pr_curve(
    pr: pd.DataFrame, point: tuple[float, float], *, average_precision: float | None = None, zoom: bool = False,
) -> go.Figure:
    """Precision against recall; ``point`` = (recall, precision) at the current threshold.
    ``zoom`` shows the top-right corner (see :func:`zoom_range`), where good detectors live."""
    pr = downsample_curve(pr)
    name = "PR curve" + (f" (AP {honest_decimal(average_precision, decimals=3)})" if average_precision is not None else "")
    fig = go.Figure()
    fig.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name=name, line=dict(color=BLUE, width=2),
                    hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>")
    fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers", name="current threshold",
                    marker=dict(color=_ACCENT, size=12, symbol="circle"),
                    hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra>current threshold</extra>")
    _base_layout(fig, height=340, title=name, legend=dict(orientation="h", y=-0.25, x=0))
    fig.update_xaxes(title_text="recall", range=zoom_range([point[0]]) if zoom else [0, 1.02])
    fig.update_yaxes(title_text="precision", range=zoom_range([point[1]]) if zoom else [0, 1.02])
    return fig


def plot_roc_curve(roc: pd.DataFrame, point: tuple[float, float], *, auc: float, zoom: bool = False) -> go.Figure:
    """True-positive rate against false-positive rate; ``point`` = (fpr, tpr) at the threshold.
    ``zoom`` shows the top-left corner: false-positive rates up to twice the current one (at least
    5%), true-positive rates from just below the current one (see :func:`zoom_range`)."""
    roc = downsample_curve(roc)
    fig = go.Figure()
    fig.add_scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"ROC (AUC {honest_decimal(auc, decimals=4)})",
                    line=dict(color=BLUE, width=2), hovertemplate="FPR %{x:.4f}<br>TPR %{y:.3f}<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(color="#999", dash="dot"), hoverinfo="skip")
    fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers", name="current threshold",
                    marker=dict(color=_ACCENT, size=12),
                    hovertemplate="FPR %{x:.4f}<br>TPR %{y:.3f}<extra>current threshold</extra>")
    _base_layout(fig, height=340, title=f"ROC curve, AUC {honest_decimal(auc, decimals=4)}", legend=dict(orientation="h", y=-0.25, x=0))
    x_range = [-0.002, max(0.05, 2 * float(point[0]))] if zoom else [0, 1.02]
    fig.update_xaxes(title_text="false-positive rate", range=x_range)
    fig.update_yaxes(title_text="true-positive rate (recall)", range=zoom_range([point[1]]) if zoom else [0, 1.02])
    return fig
