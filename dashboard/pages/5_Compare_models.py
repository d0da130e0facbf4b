"""Compare models: is B really better than A, and on which digits do they differ?

The view lives in the URL (dashboard.state): ``?a=knn&b=svc_ovo`` the two models (the one model
picker: A defaults to the most accurate, B to the next), ``open=only_a_right`` a quadrant or
``open=cell-4-9`` a cell of the difference matrix. Session state:
* ``cmp_open``: what the gallery shows: ``("quadrant", key)`` (a key of core.analysis.compare.QUADRANTS),
  ``("cell", (true, predicted))`` or None.
* ``cmp_chart_<n>``: the difference matrix's selection event (dashboard.state.chart_key, n =
  ``cmp_nonce``). A test can inject a click as ``{"selection": {"points": [{"point_index": row * 10 + col}]}}``.
"""

import numpy as np
import streamlit as st

from core.analysis.compare import (
    QUADRANTS,
    compare_predictions,
    difference_cell,
    difference_matrix,
    format_p,
    quadrant_indices,
)
from core.plots.compare import favour_of_b, plot_difference_matrix
from core.plots.metrics import CONFUSION_CONFIG
from dashboard import patches, state
from dashboard.components import (
    GALLERY_PAGE_SIZE,
    digit_gallery,
    load_or_stop,
    paged,
    require_models,
    require_workspace,
    setup_page,
)
from dashboard.data.metrics import cached_predictions, load_predictions
from dashboard.label_loop import model_choice_label, show_label_cleaning, variant_statuses

setup_page("Compare models", "⚖️")
st.title("Compare models")
ws, fixes = require_workspace()
data = ws.data
statuses = require_models(ws)
by_name = {s.name: s for s in statuses}
# label-cleaned variants (and other trained options) beside the newest model: ``<name>-<key>``
by_name.update(variant_statuses(statuses, data))
names = list(by_name)
if len(names) < 2:
    st.info("Only one model is trained; train a second one on the Home page to compare them.")
    st.stop()

# ------------------------------------------------------------- A and B, in the URL
describe = lambda n: model_choice_label(by_name[n], n)  # noqa: E731
variants = {k: v for k, v in by_name.items() if k not in {s.name for s in statuses}}
name_a = state.model_picker(ws, statuses, label="Model A", param="a", key="cmp_a", rank=0, variants=variants, describe=describe)
name_b = state.model_picker(ws, statuses, label="Model B", param="b", key="cmp_b", rank=1, variants=variants, describe=describe)
if name_a == name_b:
    st.warning("Pick two different models for A and B in the sidebar.")
    st.stop()

label_a, label_b = model_choice_label(by_name[name_a], name_a), model_choice_label(by_name[name_b], name_b)
preds = {}
for name in (name_a, name_b):
    cached = cached_predictions(ws, by_name[name], fixes)  # no model to unpickle: the page opens at once
    if cached is not None:
        preds[name] = cached
        continue
    preds[name] = load_predictions(ws, load_or_stop(ws, by_name[name]), fixes)  # corrected labels when the switch is on
pa, pb = preds[name_a], preds[name_b]
result = compare_predictions(pa, pb, name_a=label_a, name_b=label_b)

# --------------------------------------------------------------------- verdict
c1, c2, c3 = st.columns(3)
c1.metric(f"A: {label_a}", f"{result.accuracy_a:.2%}")
c2.metric(f"B: {label_b}", f"{result.accuracy_b:.2%}", delta=f"{100 * (result.accuracy_b - result.accuracy_a):+.2f} points")
c3.metric("McNemar exact p-value", format_p(result.p_value))
sentence = result.verdict[:1].upper() + result.verdict[1:] + "."
(st.success if result.significant else st.info)(f"**Verdict:** {sentence}")
st.caption(
    f"On {result.n:,} test digits. McNemar's exact test looks only at the digits exactly one model gets right "
    f"({result.only_a_right} for A, {result.only_b_right} for B); at α = 0.05."
    + (" Labels you marked wrong are corrected." if fixes else "")
)



def parse_open(text: str) -> tuple[str, object]:
    if text in QUADRANTS and text != "both_right":
        return ("quadrant", text)
    if text.startswith("cell-"):
        return ("cell", state.parse_cell(text.removeprefix("cell-")))
    raise state.UrlValueError(f"open={text!r} in the URL is neither a quadrant ({', '.join(q for q in QUADRANTS if q != 'both_right')}) "
                              "nor a cell such as cell-4-9.")


def open_text(opened: tuple[str, object]) -> str:
    return opened[1] if opened[0] == "quadrant" else "cell-" + state.cell_text(opened[1])


pair = (name_a, name_b)
if st.session_state.get("_cmp_pair") not in (None, pair):  # a new pair: close the old gallery
    st.session_state.cmp_open = None
st.session_state["_cmp_pair"] = pair
state.url_param("open", key="cmp_open", initial=None, parse=parse_open)


def open_quadrant(key: str) -> None:
    st.session_state.cmp_open = None if st.session_state.cmp_open == ("quadrant", key) else ("quadrant", key)
    state.forget_chart_click("cmp")
    st.session_state["_cmp_scroll"] = st.session_state.cmp_open is not None


def quadrant_label(key: str) -> str:
    return {"only_a_right": f"only A ({label_a}) right", "only_b_right": f"only B ({label_b}) right"}.get(key, QUADRANTS[key])


show_label_cleaning(by_name[name_a].record, pa, by_name[name_b].record, pb, data)

# ------------------------------------------------------------------ 2x2 table
st.subheader("Agreement on the test set")
st.caption("Rows: A right / A wrong; columns: B right / B wrong. Click a quadrant to see its digits.")
layout = [("both_right", "only_a_right"), ("only_b_right", "both_wrong")]
head = st.columns([1, 2, 2])
head[1].markdown(f"**B ({label_b}) right**")
head[2].markdown(f"**B ({label_b}) wrong**")
for row_label, row in zip((f"**A ({label_a}) right**", f"**A ({label_a}) wrong**"), layout):
    cols = st.columns([1, 2, 2], vertical_alignment="center")
    cols[0].markdown(row_label)
    for col, key in zip(cols[1:], row):
        count = result.counts[key]
        col.button(
            f"{QUADRANTS[key]}: {count:,}", key=f"cmp_q_{key}", on_click=open_quadrant, args=(key,),
            width="stretch", disabled=key == "both_right",
            type="primary" if st.session_state.cmp_open == ("quadrant", key) else "secondary",
            help="too many digits to show; every model gets these right" if key == "both_right" else f"show the {count} digits",
        )

# ---------------------------------------------------------- difference matrix


click = state.clicked_cell("cmp")
if click is not None:
    st.session_state.cmp_open = None if st.session_state.cmp_open == ("cell", click) else ("cell", click)
    st.session_state["_cmp_scroll"] = st.session_state.cmp_open is not None
opened = st.session_state.cmp_open
state.write_param("open", opened, to_url=open_text)

st.subheader("Difference matrix: where B is better (blue) and where A is (red)")
diff = difference_matrix(pa, pb)
left, right = st.columns([3, 1], gap="large")
with left:
    selected_cell = opened[1] if opened and opened[0] == "cell" else None
    st.plotly_chart(
        plot_difference_matrix(diff, name_a=label_a, name_b=label_b, selected=selected_cell),
        key=state.chart_key("cmp"), on_select="rerun", selection_mode="points", config=CONFUSION_CONFIG,
    )
with right:
    st.caption(
        f"Each cell: how many test digits it counts in favour of B ({label_b}, blue, +) or of A ({label_a}, red, −). "
        "On the diagonal that is more digits right; off it, fewer of that mistake. Click a cell to see the "
        "digits behind its difference; click it again to close them."
    )

# ---------------------------------------------------------------------- gallery
if opened is None:
    st.info("Click a quadrant of the table or a cell of the difference matrix to see its test digits.")
    st.stop()



def show_digits(indices: np.ndarray, key: str) -> None:
    """A paged gallery of test digits with both models' answers."""
    rows, note = paged(np.arange(len(indices)), key=key, page_size=GALLERY_PAGE_SIZE)
    st.caption(f"Each tile: the test index, the label, and both models' answers. {note}")
    shown = indices[rows]
    digit_gallery(
        data.X_test[shown], shown.tolist(),
        [f"A {pa.y_pred[i]} · B {pb.y_pred[i]} · label {pa.y_true[i]}" for i in shown],
        titles=[
            f"test #{i}: label {pa.y_true[i]}; A ({label_a}) says {pa.y_pred[i]}, B ({label_b}) says {pb.y_pred[i]}"
            for i in shown
        ],
        key=f"{key}_tiles",
    )


scroll = st.session_state.pop("_cmp_scroll", False)  # a click opened it: bring it into view
page_key = f"cmp_page_{name_a}_{name_b}_{opened}"
gallery = st.container(key="cmp_gallery")
if opened[0] == "quadrant":
    indices = quadrant_indices(pa, pb, opened[1])
    gallery.subheader(f"{quadrant_label(opened[1])}: {len(indices)} digits")
    if len(indices) == 0:
        gallery.info("No test digit here.")
    else:
        with gallery:
            show_digits(indices, page_key)
else:
    true, predicted = opened[1]
    cell = difference_cell(pa, pb, true, predicted)
    favour = int(favour_of_b(difference_matrix(pa, pb))[true, predicted])
    gallery.subheader(f"true {true} → predicted {predicted}: {favour:+d} in B's favour".replace("-", "−"))
    if len(cell.indices) == 0:
        gallery.info("No test digit here.")
    only_b, only_a = gallery.columns(2, gap="large", border=True) if len(cell.indices) else (None, None)
    for col, part, who, key in ((only_b, cell.gained, f"B ({label_b})", "b"), (only_a, cell.lost, f"A ({label_a})", "a")) if only_b else ():
        with col:
            st.markdown(f"**Only {who} puts these {len(part)} digits here**")
            if len(part):
                show_digits(part, f"{page_key}_{key}")
            else:
                st.caption("None.")
if scroll:
    patches.scroll_into_view("cmp_gallery")
