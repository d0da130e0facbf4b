"""The map figure: every test digit as a point of a Plotly ``scattergl`` chart.

:func:`plot_map` takes a DataFrame with one row per test digit (``index``, ``x``, ``y``,
``label`` and, for the colourings that need them, ``pred``, ``correct``, ``confidence``,
``quality``, ``suspect``, ``correct_b``) and returns a figure; it fits nothing.

Trace layout (what a selection event refers to): the faint training background first (when
given; its points carry no ``customdata``), then the test digits, one trace per colour
category (or one with a colour scale), then the overlays (errors, suspects) on top. Every
test-digit point has ``customdata[0]`` = its test index.

Hover: the digit itself, drawn in Braille characters (each character is 2x4 pixels, so a
28x28 digit is 7 lines of 14 characters), with its label and the model's answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = ["COLOURINGS", "DIGIT_COLOURS", "MAP_CONFIG", "PAIR_COLOURS", "RIGHT_WRONG", "braille_digits", "plot_map"]

#: Colourings of the map; the ones after "label" need a model (and "pair" a second one).
COLOURINGS: dict[str, str] = {
    "label": "true label",
    "prediction": "model's prediction",
    "correct": "right / wrong",
    "confidence": "model's confidence",
    "quality": "label quality (cleanlab)",
    "pair": "A right / B wrong",
}
#: One colour per digit 0-9 (Plotly's D3 palette; 0 and 1 are the app's BLUE and ORANGE).
DIGIT_COLOURS: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
RIGHT_WRONG: dict[str, str] = {"right": "#9ecae1", "wrong": "#d62728"}
PAIR_COLOURS: dict[str, str] = {"both right": "#d9d9d9", "A right, B wrong": "#ff7f0e",
                                "A wrong, B right": "#1f77b4", "both wrong": "#d62728"}
#: ``config`` for ``st.plotly_chart``: quick successive clicks are not a double-click, lasso in the bar.
MAP_CONFIG: dict = {"doubleClickDelay": 50, "scrollZoom": True, "displaylogo": False,
                    "modeBarButtonsToRemove": ["toImage", "autoScale2d"]}
_BRAILLE_BITS = ((0, 0, 0x01), (1, 0, 0x02), (2, 0, 0x04), (0, 1, 0x08),
                 (1, 1, 0x10), (2, 1, 0x20), (3, 0, 0x40), (3, 1, 0x80))


def braille_digits(images: np.ndarray, *, threshold: int = 80) -> list[str]:
    """Each (784,) uint8 digit of ``images`` (n, 784) in Braille characters (2 x 4 pixels each,
    ink is a pixel above ``threshold``), cropped to the character cells that hold ink: at most
    7 lines of 14 characters joined by ``<br>``, usually about 5 of 10. A hover label costs its
    length in every page that shows the map (10,000 of them), so nothing blank is sent."""
    ink = np.asarray(images).reshape(-1, 28, 28) > threshold
    cells = ink.reshape(-1, 7, 4, 14, 2)  # (n, row block, row in block, col block, col in block)
    codes = np.full((len(ink), 7, 14), 0x2800, dtype=np.int64)
    for r, c, bit in _BRAILLE_BITS:
        codes += cells[:, :, r, :, c] * bit
    chars = np.vectorize(chr, otypes=[object])(codes)
    inked = codes != 0x2800
    out = []
    for digit, has in zip(chars, inked):
        rows, cols = np.flatnonzero(has.any(axis=1)), np.flatnonzero(has.any(axis=0))
        if not len(rows):
            out.append("\u2800")
            continue
        box = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        out.append("<br>".join("".join(row) for row in box))
    return out


def _hover(frame: pd.DataFrame, model_label: str, model_b_label: str) -> tuple[np.ndarray, str]:
    cols = [frame["index"].to_numpy(), frame["label"].to_numpy()]
    template = "<b>#%{customdata[0]}</b> label %{customdata[1]}"
    if "pred" in frame:
        cols.append(frame["pred"].to_numpy())
        template += f"<br>{model_label}: %{{customdata[2]}}"
    if "pred_b" in frame:
        cols.append(frame["pred_b"].to_numpy())
        template += f"<br>{model_b_label}: %{{customdata[{len(cols) - 1}]}}"
    if "hover" in frame:
        template = "%{text}<br>" + template
    return np.column_stack(cols), template + "<extra></extra>"


def _points(frame: pd.DataFrame, *, name: str, marker: dict, model_label: str, model_b_label: str,
            showlegend: bool = True, legendgroup: str | None = None) -> go.Scattergl:
    custom, template = _hover(frame, model_label, model_b_label)
    return go.Scattergl(
        x=frame["x"].to_numpy(), y=frame["y"].to_numpy(), mode="markers", name=name, marker=marker,
        customdata=custom, hovertemplate=template, text=frame["hover"].tolist() if "hover" in frame else None,
        showlegend=showlegend, legendgroup=legendgroup,
        hoverlabel={"font": {"family": "DejaVu Sans Mono, monospace", "size": 11}},
        selected={"marker": {"opacity": 1}}, unselected={"marker": {"opacity": 0.25}},
    )


def _categories(frame: pd.DataFrame, colour: str) -> list[tuple[str, np.ndarray, str]]:
    """(legend name, row mask, colour) per category of a categorical colouring."""
    if colour in ("label", "prediction"):
        column = frame["label" if colour == "label" else "pred"].to_numpy()
        return [(f"{'label' if colour == 'label' else 'predicted'} {d}", column == d, DIGIT_COLOURS[d]) for d in range(10)]
    if colour == "correct":
        right = frame["correct"].to_numpy(bool)
        return [("right", right, RIGHT_WRONG["right"]), ("wrong", ~right, RIGHT_WRONG["wrong"])]
    a, b = frame["correct"].to_numpy(bool), frame["correct_b"].to_numpy(bool)
    masks = {"both right": a & b, "A right, B wrong": a & ~b, "A wrong, B right": ~a & b, "both wrong": ~a & ~b}
    return [(name, masks[name], PAIR_COLOURS[name]) for name in PAIR_COLOURS]


def plot_map(
    frame: pd.DataFrame,
    *,
    colour: str = "label",
    background: pd.DataFrame | None = None,
    show_errors: bool = True,
    show_suspects: bool = True,
    selection: dict | None = None,
    selected: Sequence[int] | None = None,
    model_label: str = "model",
    model_b_label: str = "model B",
    height: int = 720,
    marker_size: float | None = None,
    dragmode: str = "pan",
) -> go.Figure:
    """The map of ``frame``'s test digits coloured by ``colour`` (a key of :data:`COLOURINGS`).

    ``background``: training digits (``x``, ``y``) drawn faint grey underneath. ``show_errors``:
    the model's mistakes (``correct`` False) drawn again on top with a dark outline;
    ``show_suspects``: digits with ``suspect`` True on top as open black diamonds.
    ``selection``: ``{"kind": "box"|"lasso", "x": [...], "y": [...]}`` drawn as an outline;
    ``selected``: test indices shown at full opacity (the rest dimmed). ``dragmode``: what a
    drag does at first (``pan``, ``lasso`` or ``select``); a click selects one digit only when
    it is not a selection tool (Plotly then reports an empty selection first). Raises ValueError when
    ``colour`` is unknown or ``frame`` lacks its column."""
    if colour not in COLOURINGS:
        raise ValueError(f"unknown colouring {colour!r}; choose one of {', '.join(COLOURINGS)}.")
    needs = {"prediction": "pred", "correct": "correct", "confidence": "confidence", "quality": "quality", "pair": "correct_b"}
    if colour in needs and needs[colour] not in frame:
        raise ValueError(f"colouring {colour!r} needs the column {needs[colour]!r}.")
    n = len(frame)
    size = marker_size or (4 if n > 3000 else 6)
    traces: list[go.Scattergl] = []
    if background is not None and len(background):
        traces.append(go.Scattergl(
            x=background["x"].to_numpy(), y=background["y"].to_numpy(), mode="markers", name="training digits",
            marker={"size": max(2, size - 1), "color": "rgba(120,120,120,0.18)"}, hoverinfo="skip",
            selected={"marker": {"opacity": 1}}, unselected={"marker": {"opacity": 1}},
        ))
    common = {"model_label": model_label, "model_b_label": model_b_label}
    if colour in ("confidence", "quality"):
        values = frame[colour].to_numpy(float)
        title = "confidence" if colour == "confidence" else "label quality<br>(low = suspect)"
        traces.append(_points(frame, name=COLOURINGS[colour], showlegend=False, **common, marker={
            "size": size, "color": values, "colorscale": "Viridis", "cmin": float(np.nanmin(values)) if n else 0,
            "cmax": float(np.nanmax(values)) if n else 1, "colorbar": {"title": {"text": title}, "thickness": 12}}))
    else:
        for name, mask, col in _categories(frame, colour):
            if mask.any():
                traces.append(_points(frame[mask], name=name, marker={"size": size, "color": col}, **common))
    if show_errors and "correct" in frame and colour not in ("correct", "pair"):
        wrong = frame[~frame["correct"].to_numpy(bool)]
        if len(wrong):
            colours = [DIGIT_COLOURS[int(d)] for d in wrong["label" if colour == "label" else "pred"]] \
                if colour in ("label", "prediction") else RIGHT_WRONG["wrong"]
            traces.append(_points(wrong, name=f"{model_label} wrong", **common, marker={
                "size": size + 3, "color": colours, "line": {"color": "#222", "width": 1.2}, "symbol": "circle"}))
    if show_suspects and "suspect" in frame:
        sus = frame[frame["suspect"].to_numpy(bool)]
        if len(sus):
            traces.append(_points(sus, name="label suspects", **common, marker={
                "size": size + 7, "color": "rgba(0,0,0,0)", "symbol": "diamond-open", "line": {"color": "#000", "width": 2}}))
    fig = go.Figure(traces)
    if selected is not None:
        chosen = set(int(i) for i in selected)
        for k, trace in enumerate(fig.data):
            if trace.customdata is None:
                continue
            idx = np.asarray(trace.customdata)[:, 0].astype(int)
            fig.data[k].selectedpoints = [p for p, i in enumerate(idx) if int(i) in chosen]
    shapes = []
    if selection:
        xs, ys = list(selection["x"]), list(selection["y"])
        if selection.get("kind") == "box":
            shapes.append({"type": "rect", "x0": xs[0], "x1": xs[1], "y0": ys[0], "y1": ys[1], "xref": "x", "yref": "y",
                           "line": {"color": "#222", "width": 1.5, "dash": "dot"}})
        else:
            path = "M" + "L".join(f"{x:.4g},{y:.4g}" for x, y in zip(xs, ys)) + "Z"
            shapes.append({"type": "path", "path": path, "xref": "x", "yref": "y",
                           "line": {"color": "#222", "width": 1.5, "dash": "dot"}})
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, dragmode=dragmode, clickmode="event+select",
        hovermode="closest", legend={"itemsizing": "constant", "orientation": "v", "x": 1.01, "y": 0.92},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1},
        plot_bgcolor="white", shapes=shapes, uirevision="map",
    )
    return fig
