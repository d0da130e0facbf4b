"""Robustness: each model's accuracy on corrupted test digits, the digits a corruption flipped,
and the kinds of digits each model fails on (slices).

View state in the URL: ``?digits=2000|all&sev=3&cell=knn:rotate&slices=knn`` (a reload or a
shared link reopens the same view). The table's selection event is ``rb_chart_<n>`` (dashboard.state.chart_key, n =
``rb_nonce``, raised after every click); a test can inject ``{"selection": {"points":
[{"point_index": row * n_columns + column}]}}``.
"""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.robustness import default_digits
from core.analysis.slices import slice_mask
from core.data.corruptions import CORRUPTIONS, SEVERITIES
from core.plots.robustness import TABLE_CONFIG, plot_robustness_table, plot_severity_curves, table_cell
from dashboard import state
from dashboard.components import digit_gallery, paged, require_models, require_workspace, setup_page
from dashboard.data import robustness as rc

TITLE = "Robustness"
PAIRS_PER_PAGE = 20

setup_page(TITLE, "🛡️")
st.title(TITLE)
st.caption("How each model's accuracy holds up when the test digits are shifted, rotated, blurred, noisy or "
           "partly hidden (13 corruptions after MNIST-C, 5 severities), and which kinds of digits it fails on.")
ws, _fixes = require_workspace()
data = ws.data
require_models(ws)
rows, notes = rc.models(data)
for note in notes:
    st.info(note, icon=":material/info:")
if not rows:
    st.warning("No trained model can take images; train one on the Home page.")
    st.stop()

# ------------------------------------------------------------------ settings
default_n = default_digits(data.n_test)
choices = {str(default_n): f"stratified {default_n:,}", "all": f"all {data.n_test:,}"} if default_n < data.n_test else \
    {"all": f"all {data.n_test:,}"}


def parse_cell(text: str) -> tuple[str, str]:
    model_id, _, corruption = text.partition(":")
    if corruption in CORRUPTIONS and model_id in {m.id for m in rows}:
        return model_id, corruption
    raise state.UrlValueError(f"Cell {text!r} in the URL is not model:corruption of a trained model, e.g. knn:rotate.")


state.url_param("cell", key="rb_cell", initial=None, parse=parse_cell)
left, right = st.columns([1, 2])
digits_key = state.url_widget(left.radio, "Test digits", key="rb_digits", param="digits", initial=next(iter(choices)),
                              options=list(choices), format_func=choices.get, horizontal=True)
severity = state.url_widget(right.radio, "Severity shown in the table", key="rb_sev", param="sev", initial=3, parse=int,
                            options=list(SEVERITIES), horizontal=True,
                            help="Severity 1 is mild, 5 is strong; the curves below show all of them.")
digits = None if digits_key == "all" else int(digits_key)

# ------------------------------------------------------------- result or job
result, missing = rc.load_result(data, rows, digits)
job = rc.job(data, digits)
running = job is not None and not job.state.finished


@st.fragment(run_every=1.0)
def progress() -> None:
    current = rc.job(data, digits)
    if current is None or current.state.finished:
        st.rerun()
    st.progress(current.fraction or 0.0, text=f"{current.label}: {current.message}")
    st.caption("Computed in the background; you can leave this page and come back.")


if job is not None and job.state == "failed":
    st.error(f"The computation failed: {job.error}")
if running:
    progress()
elif missing:
    what = "Compute robustness" if result is None else f"Compute the {len(missing)} missing models"
    st.info(f"Not computed yet for {', '.join(missing)} on {choices[digits_key]} test digits.", icon=":material/info:")
    if st.button(what, type="primary", key="rb_start"):
        rc.start(data, [m for m in rows if m.id in missing], digits)
        st.rerun()
if result is None:
    st.stop()
for note in result.skipped:
    st.warning(note)

# ------------------------------------------------------------------ the table
labels = {c: CORRUPTIONS[c].label for c in result.corruptions} | {"clean": "clean", "mean": "mean", "drop": "drop"}
table = result.table(severity)
flipped = result.flipped_counts(severity)
catalog = {m.id: m.name for m in result.models}


def corruption_cell(index: int) -> tuple[str, str] | None:
    """Point ``index`` of the table's cell layer as (model, corruption); None off the corruption columns."""
    cell = table_cell(index, table)
    return cell if cell[1] in CORRUPTIONS else None


click = state.clicked_cell("rb", cell_of=corruption_cell)
if click is not None:
    st.session_state.rb_cell = None if click == st.session_state.rb_cell else click
selected = st.session_state.rb_cell
if selected is not None and (selected[0] not in table.index or selected[1] not in table.columns):
    selected = st.session_state.rb_cell = None
state.write_param("cell", selected, to_url=lambda c: f"{c[0]}:{c[1]}")

st.subheader(f"Accuracy at severity {severity} ({len(result.indices):,} test digits)")
st.plotly_chart(
    plot_robustness_table(table, column_labels=labels, flipped=flipped, selected=selected,
                          corruption_columns=result.corruptions),
    key=state.chart_key("rb"), on_select="rerun", selection_mode="points", config=TABLE_CONFIG,
)
st.caption("Accuracy in %; each column is coloured by how far a model is below the best one in it, and the weakest "
           "model per corruption is outlined (dotted). *mean* is over the corruptions, *drop* is clean − mean. "
           "Click a corruption cell to see the digits it flipped from right to wrong.")
with st.expander("What each corruption does"):
    st.table(pd.DataFrame([{"corruption": c.label, "severities 1-5": ", ".join(map(str, c.levels)), "definition": c.description}
                           for c in CORRUPTIONS.values() if c.name in result.corruptions]).set_index("corruption"))

# -------------------------------------------------------------- flipped digits
if selected is not None:
    model_id, corruption = selected
    indices = result.flipped(model_id, corruption, severity)
    st.subheader(f"{model_id} · {labels[corruption]} at severity {severity}: {len(indices)} digits flipped")
    st.caption("Each pair: the clean digit with the model's right answer, then the corrupted digit with its wrong "
               "one. Every tile opens the digit in the Digit inspector.")
    if len(indices) == 0:
        st.info("This corruption flipped no digit from right to wrong for this model.")
    else:
        chunk, note = paged(indices, key=f"rb_page_{model_id}_{corruption}_{severity}", page_size=PAIRS_PER_PAGE)
        st.caption(note)
        bad = rc.corrupted_digits(data, corruption, severity, tuple(int(i) for i in chunk), result.random_state)
        images = np.empty((2 * len(chunk), 784), dtype=np.uint8)
        images[0::2], images[1::2] = data.X_test[chunk], bad
        captions = []
        for i in chunk:
            captions += [f"clean: {result.prediction(model_id, corruption, 0, int(i))} ✓",
                         f"{corruption} {severity}: {result.prediction(model_id, corruption, severity, int(i))} ✗"]
        digit_gallery(images, np.repeat(chunk, 2), captions, columns=8,
                      titles=[f"test #{i}, label {data.y_test[i]}" for i in np.repeat(chunk, 2)], key="rb_flipped")
else:
    st.info("Click a cell of the table to see the digits that corruption flipped.", icon=":material/touch_app:")

# ------------------------------------------------------------------ curves
st.subheader("Accuracy against severity")
curve_choices = ["all", *result.corruptions]
curve = state.url_widget(st.selectbox, "Corruption", key="rb_curve", param="curve",
                        initial=selected[1] if selected else result.corruptions[0], options=curve_choices,
                        format_func=lambda c: "all corruptions (small multiples)" if c == "all" else labels[c])
long = result.long_table()
st.plotly_chart(plot_severity_curves(long if curve == "all" else long[long["corruption"] == curve],
                                     catalog_names=catalog, corruption_labels=labels, columns=5 if curve == "all" else 1),
                key="rb_curves", config={"displayModeBar": False})
st.caption("Severity 0 is the clean digits. One colour per model as on the other pages; a model's variants "
           "(e.g. trained with shifted copies) share its colour with another dash.")

# ------------------------------------------------------------------ slices
st.subheader("Slices: the kinds of digits each model fails on")
ids = [m.id for m in rows]
slice_id = state.url_widget(st.selectbox, "Model", key="rb_slices", param="slices",
                           initial=selected[0] if selected else ids[0], options=ids)
row = next(m for m in rows if m.id == slice_id)
found, y_pred = rc.slices(data, row.id, row.fingerprint, row)
accuracy = float(np.mean(y_pred == data.y_test))
st.caption(f"{row.label}: {100 * accuracy:.2f}% on all {data.n_test:,} test digits. Slices are ranges of one property "
           "with at least 50 digits and accuracy at least 2 points lower (and unlikely to be chance), worst first.")
if found.empty:
    st.success("No slice of at least 50 digits is 2 points worse than the model overall.")
else:
    shown = found.head(8)
    st.dataframe(pd.DataFrame({
        "slice": shown["description"], "digits": shown["n"], "accuracy %": 100 * shown["accuracy"],
        "points below": 100 * shown["gap"], "errors": shown["errors"], "share of errors %": 100 * shown["error_share"],
    }), hide_index=True, width="stretch", column_config={
        "accuracy %": st.column_config.NumberColumn(format="%.2f"),
        "points below": st.column_config.NumberColumn(format="%.2f"),
        "share of errors %": st.column_config.NumberColumn(format="%.1f"),
    })
    props = rc.digit_properties(data)
    pick = st.radio("Gallery of the slice", range(len(shown)), key=f"rb_slice_pick_{slice_id}",
                    format_func=lambda k: shown.iloc[k]["description"])
    item = shown.iloc[pick]
    members = np.flatnonzero(slice_mask(props, item["slice"]))
    wrong = members[y_pred[members] != data.y_test[members]]
    st.caption(f"The {item['errors']} digits of {item['n']} in this slice that {row.id} gets wrong "
               f"({100 * item['error_share']:.1f}% of its errors){'; the first 40' if len(wrong) > 40 else ''}.")
    digit_gallery(data.X_test[wrong[:40]], wrong[:40], [f"true {data.y_test[i]} → {y_pred[i]}" for i in wrong[:40]],
                  key="rb_slice_tiles")
