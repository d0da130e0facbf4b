"""Label errors: test digits whose label is probably wrong (cleanlab), and the user's marks.

Session state: ``le_mark_<index>`` is the mark selectbox of a suspect; changing it saves the
mark to the models folder at once (core.store.marks.save_mark / clear_mark). The view lives in the
URL (dashboard.state): ``top`` (suspects to review), ``page``, ``calibrated=1`` and ``list=train``
(the training-set suspects shown; a reopened link ranks them again).
"""

import streamlit as st

from core.analysis.label_errors import marks_frame
from core.errors import DashboardError
from core.store.marks import clear_mark, load_marks, save_mark
from dashboard import state
from dashboard.components import (
    NUMBER_WIDTH,
    digit_gallery,
    require_loaded_models,
    require_workspace,
    setup_page,
)
from dashboard.data.analysis import load_suspects, trained_predictions
from dashboard.label_loop import training_review

PAGE_SIZE = 20
NOT_MARKED, FINE = "not marked", "label is fine"
CHOICES = [NOT_MARKED, FINE, *(f"label is wrong (it is a {d})" for d in range(10))]

setup_page("Label errors", "🏷️")
st.title("Label errors")
ws, fixes = require_workspace()
data = ws.data
models = require_loaded_models(ws)
preds = trained_predictions(ws, models)  # against the data set's own labels, whatever the switch says
labels = {n: m.record.label for n, m in models.items()}

probability = [n for n, p in preds.items() if p.score_kind == "probability"]
decision = [n for n in preds if n not in probability]
calibrate = state.url_widget(
    st.sidebar.checkbox, "let decision-score models join (calibrated)", key="le_calibrate", param="calibrated", initial=False,
    parse=lambda t: t == "1", to_url=lambda v: "1" if v else None, where=st.sidebar, disabled=not decision,
    help="Turn the decision scores of " + (", ".join(labels[n] for n in decision) or "no model")
         + " into probabilities with a logistic regression fitted out of fold on the test set, then average them in.",
)
if not probability and not calibrate:
    st.info("None of the trained models gives probabilities. Tick **let decision-score models join** in the "
            "sidebar, or train e.g. logistic regression, KNN, MLP or the random forest.")
    st.stop()
try:
    table = load_suspects(preds, models, calibrate=calibrate)
except DashboardError as exc:
    st.error(str(exc))
    st.stop()
used = probability + (decision if calibrate else [])
st.caption(
    f"cleanlab's label quality score (self-confidence, low = suspect) on the mean test-set probabilities of "
    f"{', '.join(labels[n] for n in used)}: models trained on the training set, so out of sample."
    + (f" Left out (decision scores only): {', '.join(labels[n] for n in decision)}." if decision and not calibrate else "")
    + f" cleanlab's find_label_issues flags {int(table['flagged'].sum())} of {data.n_test:,} labels."
)

try:
    marks = load_marks(ws.store)
except DashboardError as exc:
    st.warning(str(exc), icon=":material/warning:")
    marks = {}


def mark_choice(index: int) -> str:
    if index not in marks:
        return NOT_MARKED
    return FINE if marks[index] is None else f"label is wrong (it is a {marks[index]})"


def on_mark(index: int) -> None:
    choice = st.session_state[f"le_mark_{index}"]
    try:
        if choice == NOT_MARKED:
            clear_mark(ws.store, index)
        else:
            corrected = None if choice == FINE else int(choice[-2])
            save_mark(ws.store, index, corrected)
    except DashboardError as exc:
        st.session_state["_le_error"] = str(exc)


if "_le_error" in st.session_state:
    st.error(f"The mark was not saved: {st.session_state.pop('_le_error')}")

c1, c2 = st.columns(2)
with c1:
    top = int(state.url_widget(
        st.number_input, "Suspects to review", key="le_top", param="top", initial=min(100, data.n_test), parse=int,
        min_value=10, max_value=data.n_test, step=10, width=NUMBER_WIDTH,
    ))
suspects = table.head(top).reset_index(drop=True)
pages = max(1, -(-len(suspects) // PAGE_SIZE))
with c2:
    page = int(state.url_widget(
        st.number_input, f"Page (of {pages}, {PAGE_SIZE} per page)", key="le_page", param="page", initial=1, parse=int,
        min_value=1, max_value=pages, step=1, width=NUMBER_WIDTH, disabled=pages == 1,
    )) if pages > 1 else 1
rows = suspects.index.to_numpy()[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
note = f"showing {rows[0] + 1}–{rows[-1] + 1} of {len(suspects)}" if len(rows) else "nothing to show"
st.caption(f"Most suspect first; {note}. Mark each one: the mark is saved at once.")

per_row = 5
for start in range(0, len(rows), per_row):
    cols = st.columns(per_row)
    for col, r in zip(cols, rows[start : start + per_row]):
        s = suspects.iloc[int(r)]
        index = int(s["index"])
        given, suggested = int(s["given"]), int(s["suggested"])
        with col.container(border=True, key=f"le_tile_{index}"):
            digit_gallery(data.X_test[[index]], [index], [""],
                          titles=[f"test digit #{index}: labelled {given}, probably {suggested}"],
                          columns=1, key=f"le_gallery_{index}")
            st.markdown(
                f"given **{given}** → suggested **{suggested}**  \n"
                f"score {s['score']:.4f}{' · flagged' if s['flagged'] else ''}  \n"
                f"{int(s['disagreeing'])} of {int(s['n_models'])} models disagree"
            )
            key = f"le_mark_{index}"
            if key not in st.session_state:
                st.session_state[key] = mark_choice(index)
            st.selectbox("mark", CHOICES, key=key, on_change=on_mark, args=(index,), label_visibility="collapsed")

# ------------------------------------------------------------------------ marks
st.subheader("Your marks")
frame = marks_frame(marks, data.y_test)
if frame.empty:
    st.caption("No marks yet for this data. Marks are saved in the models folder and survive a restart.")
else:
    wrong = int((frame["verdict"] == "wrong").sum())
    st.caption(f"{len(frame)} marked: {wrong} label{'s' if wrong != 1 else ''} wrong, {len(frame) - wrong} fine. "
               "Switch on **use corrected labels** in the sidebar to see every page's metrics with them fixed.")
    st.dataframe(frame, hide_index=True, width="content")
    st.download_button(
        "Download the marks (CSV)", frame.to_csv(index=False).encode(), file_name=f"label-marks-{data.fingerprint}.csv",
        mime="text/csv", key="le_csv", on_click="ignore", icon=":material/download:",
    )

# ------------------------------------------------------------ training set
training_review(data)
