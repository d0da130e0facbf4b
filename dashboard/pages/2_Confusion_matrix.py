"""Confusion matrix: click a cell to see exactly the test digits in it.

The view lives in the URL (``?model=mlp&view=errors&cell=4-9``, dashboard.state), so a reload
or a shared link reopens the same gallery. Session state:
* ``cm_cell``: the selected cell ``(true, predicted)`` or None; set by a click on the matrix
  or by a "top confusions" button.
* ``cm_chart_<n>``: the chart's selection event (dashboard.state.chart_key, n = ``cm_nonce``).
  A test can inject a click as ``{"selection": {"points": [{"point_index": row * 10 + col}]}}``.
"""

import pandas as pd
import streamlit as st

from core.analysis.evaluation import cell_indices
from core.models.catalog import ScoreKind
from core.models.predict import top_k
from core.plots.metrics import CONFUSION_CONFIG, CONFUSION_MODES, percent_label, plot_confusion_matrix
from dashboard import patches, state
from dashboard.components import (
    GALLERY_PAGE_SIZE,
    digit_gallery,
    paged,
    pick_model,
    require_workspace,
    setup_page,
    top3_caption,
)
from dashboard.data.metrics import load_confusion, load_predictions, load_top_confusions

TITLE = "Confusion matrix"

setup_page(TITLE, "🧮")
st.title(TITLE)
ws, fixes = require_workspace()
data = ws.data
name, model = pick_model(ws)
preds = load_predictions(ws, model, fixes)
counts = load_confusion(ws, model, fixes)

state.url_param("cell", key="cm_cell", initial=None, parse=state.parse_cell)
# A click reaches this run as the selection event of the chart drawn last time. It toggles the
# cell, and the chart is then drawn afresh under a new key with the selected cell outlined by
# the figure itself, so every click lands on a chart with no Plotly selection of its own.
click = state.clicked_cell("cm")
if click is not None:
    st.session_state.cm_cell = None if click == st.session_state.cm_cell else click
    st.session_state["_cm_scroll"] = st.session_state.cm_cell is not None


def select_cell(cell: tuple[int, int]) -> None:
    """Button callback: open this cell's gallery."""
    st.session_state.cm_cell = (int(cell[0]), int(cell[1]))
    st.session_state["_cm_scroll"] = True


selected = st.session_state.cm_cell
mode = state.url_widget(
    st.radio, "View", options=list(CONFUSION_MODES), key="cm_mode", param="view", initial=next(iter(CONFUSION_MODES)),
    format_func=CONFUSION_MODES.get, horizontal=True,
)
state.write_param("cell", selected, to_url=state.cell_text)
left, right = st.columns([3, 1], gap="large")
with left:
    fig = plot_confusion_matrix(counts, mode=mode, selected=selected)
    st.plotly_chart(
        fig, key=state.chart_key("cm"), on_select="rerun", selection_mode="points", config=CONFUSION_CONFIG,
    )
    st.caption(
        f"{model.record.label} on {data.n_test:,} test digits; rows are the true digits, columns the "
        "predictions. Click a cell to see its digits below; click it again to close them."
    )
with right:
    st.markdown("**Top confusions**")
    top = load_top_confusions(ws, model, fixes, k=8)
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
with st.container(key="cm_gallery"):
    st.subheader(f"true {true} → predicted {predicted}: {n} digits" + (" (least confident first)" if diagonal else ""))
    kind = ScoreKind(preds.score_kind)
    order = "least confident correct answers first" if diagonal else "most confident mistakes first"
    st.caption(
        f"Each digit shows its test-set index, the model's prediction with its "
        f"{'probability' if kind.is_probability else 'decision score (not a probability)'}, then the next two "
        f"digits; {order}. Click a digit to inspect it."
    )
scroll = st.session_state.pop("_cm_scroll", False)  # a click opened it: bring it into view
if n == 0:
    st.info(f"No test digit labelled {true} was predicted as {predicted} by this model.")
    if scroll:
        patches.scroll_into_view("cm_gallery")
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
    key="cm_tiles",
)
if scroll:
    patches.scroll_into_view("cm_gallery")
