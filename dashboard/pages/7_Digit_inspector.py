"""Digit inspector: one test (or training) digit, every model's answer, and why the chosen model answers so.

The index is in the URL (``?index=123``, written back when the user types another; a
training digit is ``?split=train&index=123``), so a link (every digit tile in the app is one)
reopens the same digit; ``?model=`` picks the
model to explain. Explanations come from core.analysis.explain (occlusion maps, class weights of
linear models, nearest training digits), cached per model and digit.
"""

import numpy as np
import pandas as pd
import streamlit as st

from core.models.predict import predict_digit
from core.models.prediction_file import is_predictions_only
from core.plots.explain import plot_pixel_map, plot_weight_images
from dashboard import state
from dashboard.components import (
    NUMBER_WIDTH,
    digit_gallery,
    enlarge,
    file_only_note,
    pick_model,
    predictive_models,
    require_loaded_models,
    require_workspace,
    setup_page,
    top3_caption,
)
from dashboard.data.analysis import load_explanation, rank_by_accuracy
from dashboard.data.jobs import start_neighbour_indexes

setup_page("Digit inspector", "🔍")
st.title("Digit inspector")
ws, fixes = require_workspace()
data = ws.data
name, model = pick_model(ws, label="Model to explain")
all_models = require_loaded_models(ws)
models = predictive_models(all_models)
start_neighbour_indexes(ws, models)  # the other models' explanations, ready when the user switches
pairs = rank_by_accuracy(ws, models, fixes)

# ------------------------------------------------------------------ the index

split = state.url_param("split", key="inspect_split", initial="test", parse=lambda t: "train" if t == "train" else "test")
state.write_param("split", "train" if split == "train" else None)
X_split, y_split = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
n_split = len(y_split)
what = "Training" if split == "train" else "Test"


def bad_index(text: str) -> int:
    value = int(text) if text.strip().lstrip("-").isdigit() else -1
    if not 0 <= value < n_split:
        raise state.UrlValueError(f"{what} index {text!r} from the URL is not a number from 0 to {n_split - 1}; "
                                  "showing the last one (digit 0 at first).")
    return value


if st.session_state.get("_keep_inspect_index", 0) >= n_split:
    st.session_state["_keep_inspect_index"] = 0
index = int(state.url_widget(
    st.number_input, f"{what} digit (index 0-{n_split - 1})", key="inspect_index", param="index", initial=0, parse=bad_index,
    min_value=0, max_value=n_split - 1, step=1, width=NUMBER_WIDTH,
    help="Or click any digit tile in the app; the URL keeps the index, so a link reopens it.",
))
if split == "train":
    st.info("A **training** digit: the models learned from it (and its label), so their answers here are not "
            "out of sample. Its label-error rank comes from out-of-fold probabilities (Label errors page).",
            icon=":material/school:")

x = X_split[index]
label = int(y_split[index]) if split == "train" else dict(fixes).get(index, int(data.y_test[index]))  # corrected when the switch is on

# ------------------------------------------------------------ every model's answer

answers = predict_digit([m for m, _ in pairs], x)
image_col, answers_col = st.columns([1, 3], gap="large")
with image_col:
    st.image(enlarge(x.reshape(28, 28), 8), width=224, caption=f"{what.lower()} digit #{index}")
    st.markdown(f"### Label: {label}")
with answers_col:
    st.markdown("**Every model's answer** (most accurate model first)")
    table = pd.DataFrame({
        "model": answers["label"],
        "answer": answers["prediction"],
        "right": np.where(answers["prediction"] == label, "✓", "✗"),
        "top-3": [top3_caption(d, s, k) for d, s, k in zip(answers["top_digits"], answers["top_scores"], answers["score_kind"])],
    })
    st.dataframe(table, hide_index=True, width="stretch")

# ------------------------------------------------------------------ explanation

if file_only_note(all_models):
    st.caption(file_only_note(all_models))
if is_predictions_only(model.pipeline):
    st.info(f"No explanation for {model.record.label}: occlusion maps re-score the digit with parts covered, and "
            f"{model.pipeline.WHY}", icon=":material/info:")
    st.stop()
explanation = load_explanation(ws, model, x.tobytes(), label)
occ = explanation.occlusion
st.subheader(f"Why {model.record.label} says {occ.predicted}")
st.caption(
    f"Occlusion: each {occ.patch}x{occ.patch}-pixel patch in turn is blanked and the model re-scored "
    f"(one batched call); a pixel's colour is the average drop in the score ({occ.unit}) when it is covered. "
    "Red pixels pushed the score toward the digit, blue ones against it. Computed in "
    f"{1000 * explanation.seconds:.0f} ms."
)
left, right = st.columns(2)
left.plotly_chart(plot_pixel_map(x, occ.toward_predicted, title=f"toward the answer {occ.predicted}", unit=occ.unit),
                  key="inspect_map_pred", config={"displayModeBar": False})
if occ.toward_true is not None and occ.true != occ.predicted:
    right.plotly_chart(plot_pixel_map(x, occ.toward_true, title=f"toward the label {occ.true}", unit=occ.unit),
                       key="inspect_map_true", config={"displayModeBar": False})
else:
    right.success(f"The model's answer is the label, {label}.", icon=":material/check:")

if explanation.weights is not None:
    st.subheader("Class weight images")
    st.caption("This linear model's weight of every (deskewed) pixel for each digit: ink on red pixels raises "
               "that digit's score, ink on blue pixels lowers it.")
    st.plotly_chart(plot_weight_images(explanation.weights, highlight=(occ.predicted, label)),
                    key="inspect_weights", config={"displayModeBar": False})

st.subheader("Nearest training digits")
nb = explanation.neighbours
st.caption(f"The {len(nb.indices)} training digits closest to this one in {model.record.label}'s feature space "
           "(what the model's input looks like after its preprocessing): what it learned this answer from.")
digit_gallery(data.X_train[nb.indices], nb.indices,
              [f"label {int(lab)} · dist {d:.2f}" for lab, d in zip(nb.labels, nb.distances)],
              titles=[f"training digit #{int(i)}" for i in nb.indices], columns=8, link=False, key="inspect_neighbours")
