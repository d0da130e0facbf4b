"""Precision recall: one digit against the rest, with a movable decision threshold.

The threshold is an ``st.select_slider`` whose notches come from core.analysis.thresholds (evenly spaced
on the log-odds scale for probabilities, over the contested score range for decision scores).
The value is kept per model and digit in ``st.session_state["pr_thresholds"]``, so switching to
another digit and back finds it again, and it is mirrored in the URL with the digit
(``?model=logreg&digit=3&threshold=0.73``), so a reload or a shared link reopens the same view.
The "target precision" button sets it to core's exact threshold_for value.
"""

import numpy as np
import streamlit as st

from core.analysis.evaluation import threshold_errors, threshold_for, threshold_metrics
from core.analysis.thresholds import threshold_label, threshold_steps, threshold_text
from core.models.catalog import ScoreKind
from core.plots.curves import plot_pr_curve, plot_roc_curve, plot_threshold_curves
from dashboard import state
from dashboard.components import (
    NUMBER_WIDTH,
    digit_gallery,
    paged,
    pick_model,
    require_workspace,
    score_label,
    setup_page,
)
from dashboard.data.metrics import load_binary_analysis

TITLE = "Precision recall"
DEFAULT_DIGIT = 5

setup_page(TITLE, "🎯")
st.title(TITLE)
st.caption("One digit against the rest: the detector answers “is this a …?” at a threshold you move.")
ws, fixes = require_workspace()
data = ws.data
name, model = pick_model(ws)


def parse_digit(text: str) -> int:
    if not (text.isdigit() and 0 <= int(text) <= 9):
        raise state.UrlValueError(f"Digit {text!r} in the URL is not a digit 0-9; showing the last one instead.")
    return int(text)


# ---------------------------------------------------------------- positive digit
top_left, top_right = st.columns([1, 2], gap="large")
with top_left:
    digit = state.url_widget(st.selectbox, "Positive digit", options=list(range(10)), key="pr_digit", param="digit",
                             initial=DEFAULT_DIGIT, parse=parse_digit,
                             help="The detector answers 'is this digit a …?'; 5 is the classic example.")
n_positive = int(np.sum(data.y_test == digit))
if n_positive in (0, data.n_test):
    st.warning(f"The test set has {'no' if n_positive == 0 else 'only'} {digit}s, so there is no detector to "
               "evaluate; pick another digit.")
    st.stop()
analysis = load_binary_analysis(ws, model, digit, fixes)
kind = ScoreKind(analysis.score_kind)
scores = analysis.scores

# ----------------------------------------------------------- threshold slider
if kind.is_probability:
    default = 0.5
else:
    default = float(analysis.pr["threshold"].iloc[int(analysis.pr["f1"].to_numpy().argmax())])
thresholds: dict[str, float] = st.session_state.setdefault("pr_thresholds", {})
state_key = f"{name}/{digit}"


def parse_threshold(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(text)
    return value


requested = state.url_param("threshold", key="_pr_url_threshold", initial=None, parse=parse_threshold, label="Threshold")
if requested is not None:
    thresholds[state_key] = float(requested)
    st.session_state["_pr_url_threshold"] = None
current = float(thresholds.get(state_key, default))
slider_key = "pr_threshold"
st.session_state[slider_key] = current
message_key = "pr_target_message"


def remember_threshold() -> None:
    thresholds[state_key] = float(st.session_state[slider_key])


def move_to_target() -> None:
    """Button callback: the lowest threshold whose precision reaches the target."""
    target = float(st.session_state.pr_target) / 100
    value = threshold_for(analysis, precision=target)
    if value is None:
        st.session_state[message_key] = ("warning", f"No threshold reaches {target:.1%} precision for digit {digit}.")
        return
    thresholds[state_key] = float(value)
    st.session_state[message_key] = (
        "success", f"Threshold moved to {threshold_text(value, kind)}, the lowest with precision ≥ {target:.1%}.")


with top_right:
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    c1.number_input("Target precision %", min_value=1.0, max_value=100.0, value=95.0, step=0.5, key="pr_target", width=NUMBER_WIDTH)
    c2.button("Move threshold to target", on_click=move_to_target, key="pr_target_button", width="stretch")
    if message_key in st.session_state:
        level, text = st.session_state.pop(message_key)
        getattr(st, level)(text)

if thresholds.get(state_key, current) != current:  # the button moved it before this run
    current = float(thresholds[state_key])
    st.session_state[slider_key] = current
options = threshold_steps(analysis.y, scores, kind, extra=(default, current))
score_name = "probability" if kind.is_probability else "decision score (not a probability)"
threshold = st.select_slider(
    f"Threshold on {model.record.label}'s {score_name} for digit {digit}",
    options=options, key=slider_key, format_func=lambda v: threshold_label(v, kind), on_change=remember_threshold,
    help="Digits whose score is at or above the threshold count as positive. Arrow keys move it one notch.",
)
thresholds[state_key] = float(threshold)
state.write_param("threshold", repr(float(threshold)))
st.caption(
    f"Threshold: {threshold_text(threshold, kind)}. "
    + ("The slider starts at 0.5; its notches are evenly spaced in log-odds, so the steps near 0 and 1 are fine."
       if kind.is_probability else
       "This model has no probabilities; its per-digit decision scores are thresholded instead. "
       "The slider starts at the threshold with the best F1 and spans the scores where positives and negatives overlap.")
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
zoom = st.toggle("Zoom on the corner where the detector works (precision and recall near 1)", value=True, key="pr_zoom")
c1, c2, c3 = st.columns(3)
with c1:
    st.plotly_chart(plot_threshold_curves(analysis.pr, threshold, score_kind=kind, zoom=zoom), key="pr_threshold_chart")
with c2:
    st.plotly_chart(plot_pr_curve(analysis.pr, (m["recall"], m["precision"]),
                                  average_precision=analysis.average_precision, zoom=zoom), key="pr_curve_chart")
with c3:
    st.plotly_chart(plot_roc_curve(analysis.roc, (m["fpr"], m["recall"]), auc=analysis.auc, zoom=zoom), key="roc_chart")

# -------------------------------------------------------------------- galleries
fp, fn = threshold_errors(analysis, threshold)
labels = dict(fixes)  # corrected labels, when the switch is on  # most confident false alarms / most clearly missed first


def error_gallery(title: str, indices: np.ndarray, caption: str, key: str) -> None:
    """One column of misclassified digits at the current threshold, a page at a time."""
    st.subheader(f"{title}: {len(indices):,}")
    if not len(indices):
        st.caption(caption + ".")
        st.write("None at this threshold.")
        return
    shown, note = paged(indices, key=f"pr_page_{key}_{name}_{digit}")
    st.caption(f"{caption}; {note}.")
    digit_gallery(data.X_test[shown], shown,
                  [f"true {labels.get(int(i), int(data.y_test[i]))} · {score_label(scores[i], kind)}" for i in shown], key=f"pr_tiles_{key}")


g1, g2 = st.columns(2, gap="large")
with g1:
    error_gallery("False positives", fp, f"Not a {digit}, but scored at or above the threshold; highest score first", "fp")
with g2:
    error_gallery("False negatives", fn, f"A {digit}, but scored below the threshold; lowest score first", "fn")
