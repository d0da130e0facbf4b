"""Confusion matrix: click a cell to see exactly the test digits in it.

Session state (mirrored in the URL as ``?model=mlp&view=errors&cell=4-9``, so a reload or a
shared link reopens the same gallery):
* ``cm_cell``: the selected cell ``(true, predicted)`` or None; set by a click on the
  matrix or by a "top confusions" button.
* ``cm_mode``: the view (errors only by default: see core.plots.metrics.CONFUSION_MODES).
* ``cm_chart_<n>``: the chart's selection event (key from :func:`chart_key`, n =
  ``cm_nonce``, which goes up after every click so the next click lands on a fresh chart).
  A test can inject a click as ``{"selection": {"points": [{"point_index": row * 10 + col}]}}``.
"""

import re

import pandas as pd
import streamlit as st

from core.analysis.evaluation import cell_indices
from core.models.catalog import ScoreKind
from core.models.predict import top_k
from core.plots.metrics import CONFUSION_CONFIG, CONFUSION_MODES, percent_label, plot_confusion_matrix
from dashboard import cache, cache_ui
from dashboard.components import (
    GALLERY_PAGE_SIZE,
    digit_gallery,
    model_picker,
    paged,
    require_data,
    setup_page,
    top3_caption,
    url_value,
    write_url,
)

TITLE = "Confusion matrix"
CELL = re.compile(r"^(\d)-(\d)$")

setup_page(TITLE, "🧮")
st.title(TITLE)
data = require_data()
name, model = model_picker(data)
preds = cache.load_predictions(model, data)
counts = cache_ui.load_confusion(model, data)

st.session_state.setdefault("cm_cell", None)
st.session_state.setdefault("cm_nonce", 0)
st.session_state.setdefault("_cm_mode", next(iter(CONFUSION_MODES)))
requested = url_value("cell")
if requested is not None:
    match = CELL.match(requested)
    if match:
        st.session_state.cm_cell = (int(match[1]), int(match[2]))
    else:
        st.warning(f"Cell {requested!r} in the URL is not of the form true-predicted, e.g. 4-9.")
requested = url_value("view")
if requested is not None:
    if requested in CONFUSION_MODES:
        st.session_state["_cm_mode"] = requested
    else:
        st.warning(f"View {requested!r} in the URL is unknown; use one of {', '.join(CONFUSION_MODES)}.")
st.session_state["cm_mode"] = st.session_state["_cm_mode"]


def chart_key() -> str:
    return f"cm_chart_{st.session_state.cm_nonce}"


def cell_from_event(event) -> tuple[int, int] | None:
    """The clicked cell from a plotly selection event (read as a dict), or None.

    Point ``k`` of the cell layer (trace 1) is cell ``divmod(k, 10)``; x/y are the fallback.
    Anything unexpected counts as no selection rather than an error.
    """
    try:
        points = list(event["selection"]["points"] or [])
    except (KeyError, TypeError, AttributeError):
        return None
    for point in reversed(points):  # the latest click is last
        try:
            if int(point.get("curve_number", 1)) != 1:  # trace 0 is the heatmap
                continue
            index = point.get("point_index", point.get("point_number"))
            if index is not None and 0 <= int(index) < 100:
                return divmod(int(index), 10)
            return int(round(float(point["y"]))), int(round(float(point["x"])))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return None


def select_cell(cell: tuple[int, int]) -> None:
    """Button callback: open this cell's gallery."""
    st.session_state.cm_cell = (int(cell[0]), int(cell[1]))


# A click reaches this run as the selection event of the chart drawn last time. It toggles
# the cell, and the chart is then drawn afresh under a new key with the selected cell outlined
# by the figure itself. So every click lands on a chart with no Plotly selection of its own,
# and the highlight survives view and model changes (Plotly forgets its selection whenever
# the figure changes).
click = cell_from_event(st.session_state.get(chart_key()))
if click is not None:
    st.session_state.cm_cell = None if click == st.session_state.cm_cell else click
    st.session_state.cm_nonce += 1
selected = st.session_state.cm_cell


def remember_mode() -> None:
    st.session_state["_cm_mode"] = st.session_state["cm_mode"]


mode = st.radio(
    "View", list(CONFUSION_MODES), format_func=CONFUSION_MODES.get, horizontal=True, key="cm_mode",
    on_change=remember_mode,
)
write_url(view=mode, cell=None if selected is None else f"{selected[0]}-{selected[1]}")
left, right = st.columns([3, 1], gap="large")
with left:
    fig = plot_confusion_matrix(counts, mode=mode, selected=selected)
    st.plotly_chart(
        fig, key=chart_key(), on_select="rerun", selection_mode="points", config=CONFUSION_CONFIG,
    )
    st.caption(
        f"{model.record.label} on {data.n_test:,} test digits; rows are the true digits, columns the "
        "predictions. Click a cell to see its digits below; click it again to close them."
    )
with right:
    st.markdown("**Top confusions**")
    top = cache_ui.load_top_confusions(model, data, 8)
    if top.empty:
        st.write("No mistakes at all.")
    for row in top.itertuples(index=False):
        st.button(
            f"{row.true} → {row.predicted}: {row.count} ({percent_label(row.share_of_true)} of {row.true}s)",
            key=f"top_{row.true}_{row.predicted}", on_click=select_cell, args=((row.true, row.predicted),),
            width="stretch", type="primary" if selected == (row.true, row.predicted) else "secondary",
        )
    st.caption("Each button opens the gallery of that cell.")

if selected is None:
    st.info("Click a cell of the matrix (or a top confusion) to see the test digits in it.")
    st.stop()

# ------------------------------------------------------------------ gallery
true, predicted = selected
indices = cell_indices(preds, true, predicted)
n = len(indices)
diagonal = true == predicted
st.subheader(f"true {true} → predicted {predicted}: {n} digits" + (" (least confident first)" if diagonal else ""))
kind = ScoreKind(preds.score_kind)
order = "least confident correct answers first" if diagonal else "most confident mistakes first"
st.caption(
    f"Each digit shows its test-set index, the model's prediction with its "
    f"{'probability' if kind.is_probability else 'decision score (not a probability)'}, then the next two "
    f"digits; {order}."
)
if n == 0:
    st.info(f"No test digit labelled {true} was predicted as {predicted} by this model.")
    st.stop()

digits, scores = top_k(preds.scores[indices], k=3)
table = pd.DataFrame({
    "test_index": indices,
    "true": true,
    "predicted": predicted,
    **{f"top{k + 1}_digit": digits[:, k] for k in range(3)},
    **{f"top{k + 1}_{'probability' if kind.is_probability else 'score'}": scores[:, k].round(6) for k in range(3)},
})
c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
c1.download_button(
    f"Download these {n} indices (CSV)", table.to_csv(index=False).encode(),
    file_name=f"mnist_{name}_true{true}_pred{predicted}.csv", mime="text/csv", key="cm_csv", on_click="ignore",
    icon=":material/download:",
)
with c2:
    page_rows, note = paged(table.index.to_numpy(), key=f"cm_page_{name}_{true}_{predicted}", page_size=GALLERY_PAGE_SIZE)
c3.caption(note)
shown = table.iloc[page_rows]
digit_gallery(
    data.X_test[shown["test_index"].to_numpy()],
    shown["test_index"].tolist(),
    [top3_caption(digits[r], scores[r], kind) for r in page_rows],
    titles=[f"test #{i}: true {true}, predicted {predicted}" for i in shown["test_index"]],
)
