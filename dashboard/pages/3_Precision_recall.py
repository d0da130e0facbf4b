"""Precision / recall: one digit against the rest, with a movable decision threshold.

The threshold is an ``st.select_slider`` whose notches are real thresholds (distinct scores
of the model, thinned evenly by rank), so it stays usable when scores bunch up. Its value
lives in ``st.session_state[threshold_key]`` (one key per model and digit), so the "target
precision" button can set it, to core's exact threshold_for value, before the slider is drawn.
The exact threshold is printed under the slider.
"""

import numpy as np
import streamlit as st

from core.evaluation import threshold_errors, threshold_for, threshold_metrics
from core.plots import (
    downsample_curve,
    plot_pr_curve,
    plot_roc_curve,
    plot_threshold_curves,
)
from dashboard import cache
from dashboard.components import (
    digit_gallery,
    distinct_labels,
    model_picker,
    require_data,
    setup_page,
)

GALLERY_CAP = 40

setup_page("Precision / recall", "🎯")
st.title("Precision and recall of a one-digit detector")
data = require_data()
name, model = model_picker(data)

top_left, top_right = st.columns([1, 2], gap="large")
with top_left:
    digit = st.selectbox("Positive digit", list(range(10)), index=5, key="pr_digit",
                         help="The detector answers 'is this digit a …?'; 5 is the classic example.")
n_positive = int(np.sum(data.y_test == digit))
if n_positive in (0, data.n_test):
    st.warning(f"The test set has {'no' if n_positive == 0 else 'only'} {digit}s, so there is no detector to "
               "evaluate; pick another digit.")
    st.stop()
analysis = cache.load_binary_analysis(model, data, digit)
kind = analysis.score_kind
scores = analysis.scores

# ----------------------------------------------------------- threshold slider
# The slider's notches are real thresholds: up to 300 of the curve's distinct scores, evenly
# spaced by rank (scores bunch up, e.g. probabilities near 1 or the SVC's vote counts, so an
# evenly spaced grid would skip the interesting part), plus the start value and the current one.
if kind == "probability":
    default = 0.5
else:
    default = float(analysis.pr["threshold"].iloc[int(analysis.pr["f1"].to_numpy().argmax())])
threshold_key = f"pr_threshold_{name}_{digit}"
if threshold_key not in st.session_state:
    st.session_state[threshold_key] = default
message_key = "pr_target_message"


def move_to_target() -> None:
    """Button callback: the lowest threshold whose precision reaches the target."""
    target = float(st.session_state.pr_target) / 100
    value = threshold_for(analysis, precision=target)
    if value is None:
        st.session_state[message_key] = ("warning", f"No threshold reaches {target:.1%} precision for digit {digit}.")
        return
    st.session_state[threshold_key] = float(value)
    st.session_state[message_key] = ("success", f"Threshold moved to {value:.6g}, the lowest with precision ≥ {target:.1%}.")


with top_right:
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    c1.number_input("Target precision %", min_value=1.0, max_value=100.0, value=95.0, step=0.5, key="pr_target")
    c2.button("Move threshold to target", on_click=move_to_target, key="pr_target_button", width="stretch")
    if message_key in st.session_state:
        level, text = st.session_state.pop(message_key)
        getattr(st, level)(text)

grid = downsample_curve(analysis.pr, max_points=300)["threshold"].tolist()
options = sorted({*map(float, grid), default, float(st.session_state[threshold_key])})
labels = distinct_labels(options)
score_label = "probability" if kind == "probability" else "decision score (not a probability)"
threshold = st.select_slider(
    f"Threshold on {model.record.label}'s {score_label} for digit {digit}",
    options=options, key=threshold_key, format_func=labels.get,
    help="Digits whose score is at or above the threshold count as positive. Arrow keys move it one notch.",
)
st.caption(
    f"Exact threshold: `{threshold!r}`. "
    + ("The slider starts at 0.5." if kind == "probability" else
       "This model has no probabilities; its per-digit decision scores are thresholded instead. "
       "The slider starts at the threshold with the best F1.")
)

# --------------------------------------------------------------------- metrics
m = threshold_metrics(analysis.y, scores, threshold)
cols = st.columns(4)
cols[0].metric("Precision", f"{m['precision']:.1%}", help="Of the digits called positive, the share that really are.")
cols[1].metric("Recall", f"{m['recall']:.1%}", help=f"Of the real {digit}s, the share found.")
cols[2].metric("F1", f"{m['f1']:.3f}")
cols[3].metric("False-positive rate", f"{m['fpr']:.2%}")
cols = st.columns(4)
cols[0].metric(f"True positives (a {digit}, found)", f"{m['tp']:,}")
cols[1].metric(f"False positives (not a {digit}, flagged)", f"{m['fp']:,}")
cols[2].metric(f"False negatives (a {digit}, missed)", f"{m['fn']:,}")
cols[3].metric(f"True negatives (not a {digit}, passed)", f"{m['tn']:,}")

# ---------------------------------------------------------------------- charts
c1, c2, c3 = st.columns(3)
with c1:
    st.plotly_chart(plot_threshold_curves(analysis.pr, threshold, score_kind=kind), key="pr_threshold_chart")
with c2:
    st.plotly_chart(plot_pr_curve(analysis.pr, (m["recall"], m["precision"]), average_precision=analysis.average_precision),
                    key="pr_curve_chart")
with c3:
    st.plotly_chart(plot_roc_curve(analysis.roc, (m["fpr"], m["recall"]), auc=analysis.auc), key="roc_chart")

# -------------------------------------------------------------------- galleries
fp, fn = threshold_errors(analysis, threshold)  # most confident false alarms / most clearly missed first


def score_text(value: float) -> str:
    return f"{100 * value:.0f}%" if kind == "probability" else f"{value:.2f}"


def error_gallery(title: str, indices, caption: str) -> None:
    """One column of misclassified digits at the current threshold, capped at GALLERY_CAP."""
    st.subheader(f"{title}: {len(indices):,}")
    st.caption(caption + (f"; showing the first {GALLERY_CAP}." if len(indices) > GALLERY_CAP else "."))
    if not len(indices):
        st.write("None at this threshold.")
        return
    shown = indices[:GALLERY_CAP]
    digit_gallery(data.X_test[shown], shown, [f"true {int(data.y_test[i])} · {score_text(scores[i])}" for i in shown])


g1, g2 = st.columns(2, gap="large")
with g1:
    error_gallery("False positives", fp, f"Not a {digit}, but scored at or above the threshold; highest score first")
with g2:
    error_gallery("False negatives", fn, f"A {digit}, but scored below the threshold; lowest score first")
