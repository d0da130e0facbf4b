"""Label errors: test digits whose label is probably wrong (cleanlab), and the user's marks.

Session state: ``le_mark_<index>`` is the mark selectbox of a suspect; changing it saves the
mark to the models folder at once (core.store.marks.save_mark / clear_mark).
"""

import streamlit as st

from core.analysis.label_errors import marks_frame, train_suspects
from core.errors import DashboardError
from core.progress import reporting
from core.store.marks import clear_mark, load_marks, save_mark
from dashboard import cache, cache_labels
from dashboard.components import (
    digit_gallery,
    enlarge,
    paged,
    require_data,
    require_models,
    setup_page,
)

PAGE_SIZE = 20
NOT_MARKED, FINE = "not marked", "label is fine"
CHOICES = [NOT_MARKED, FINE, *(f"label is wrong (it is a {d})" for d in range(10))]

setup_page("Label errors", "🏷️")
st.title("Label errors")
data = require_data()
require_models(data)
preds, labels, problems = cache_labels.trained_predictions(data)
for problem in problems:
    st.warning(problem, icon=":material/warning:")
if not preds:
    st.error("No trained model could be loaded; retrain them on the Home page.")
    st.stop()

probability = [n for n, p in preds.items() if p.score_kind == "probability"]
decision = [n for n in preds if n not in probability]
calibrate = st.sidebar.checkbox(
    "let decision-score models join (calibrated)", key="le_calibrate", disabled=not decision,
    help="Turn the decision scores of " + (", ".join(labels[n] for n in decision) or "no model")
         + " into probabilities with a logistic regression fitted out of fold on the test set, then average them in.",
)
if not probability and not calibrate:
    st.info("None of the trained models gives probabilities. Tick **let decision-score models join** in the "
            "sidebar, or train e.g. logistic regression, KNN, MLP or the random forest.")
    st.stop()
try:
    table = cache_labels.load_suspects(preds, calibrate=calibrate)
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
    marks = load_marks(cache.store(data))
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
            clear_mark(cache.store(data), index)
        else:
            corrected = None if choice == FINE else int(choice[-2])
            save_mark(cache.store(data), index, corrected)
    except DashboardError as exc:
        st.session_state["_le_error"] = str(exc)


if "_le_error" in st.session_state:
    st.error(f"The mark was not saved: {st.session_state.pop('_le_error')}")

top = int(st.number_input("Suspects to review", min_value=10, max_value=data.n_test, value=min(100, data.n_test), step=10, key="le_top"))
suspects = table.head(top).reset_index(drop=True)
rows, note = paged(suspects.index.to_numpy(), key=f"le_page_{top}", page_size=PAGE_SIZE)
st.caption(f"Most suspect first; {note}. Mark each one: the mark is saved at once.")

per_row = 5
for start in range(0, len(rows), per_row):
    cols = st.columns(per_row)
    for col, r in zip(cols, rows[start : start + per_row]):
        s = suspects.iloc[int(r)]
        index = int(s["index"])
        with col.container(border=True, key=f"le_tile_{index}"):
            st.image(enlarge(data.X_test[index], 4), caption=f"#{index}", width=112)
            st.markdown(
                f"given **{int(s['given'])}** → suggested **{int(s['suggested'])}**  \n"
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
st.subheader("Suspects in the training set")
st.caption(
    "Out-of-fold probabilities: KNN is fitted 5 times, each time on four fifths of the training set, and "
    "predicts the fifth it did not see; cleanlab then ranks the training labels. Takes a while on full MNIST."
)
train_key = f"_le_train_{data.fingerprint}"
if st.button("Rank the training labels", key="le_train_button", icon=":material/model_training:"):
    bar = st.progress(0.0, text="Cross-validating…")
    try:
        with reporting(lambda fraction, message: bar.progress(min(1.0, fraction or 0.0), text=message)):
            st.session_state[train_key] = train_suspects(data.X_train, data.y_train, model="knn", folds=5, top=40)
    except DashboardError as exc:
        st.error(str(exc))
    bar.empty()
if train_key in st.session_state:
    found = st.session_state[train_key]
    st.caption(f"The {len(found)} most suspect training labels, most suspect first.")
    digit_gallery(
        data.X_train[found["index"].to_numpy()], found["index"].tolist(),
        [f"given {g} → {s} · {sc:.3f}" for g, s, sc in zip(found["given"], found["suggested"], found["score"])],
        titles=[f"training digit #{i}: labelled {g}, probably {s}" for i, g, s in zip(found["index"], found["given"], found["suggested"])],
    )
