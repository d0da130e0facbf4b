"""Trust: are the models' probabilities honest, and what does abstaining buy?

Reliability diagrams and the expected calibration error (probability models; with the
calibration switch, every model after out-of-fold calibration on the test digits), the abstention
curves of several models, and a control that hands a model's least confident test digits to
a human, with the gallery of those digits. All numbers come from core.analysis.trust. The view
lives in the URL (dashboard.state): ``models``, ``calibrated=1``, ``method``, ``share`` (%), ``hands``.
"""

import pandas as pd
import streamlit as st

from core.analysis.trust import CALIBRATION_METHODS, abstention_curve, hand_over, reliability
from core.models.catalog import ScoreKind
from core.models.predict import top_k
from core.plots.explain import plot_abstention, plot_reliability
from dashboard import state
from dashboard.components import (
    digit_gallery,
    paged,
    require_loaded_models,
    require_workspace,
    setup_page,
    top3_caption,
)
from dashboard.data.analysis import load_calibration, rank_by_accuracy

setup_page("Trust", "🛡️")
st.title("Trust")
ws, fixes = require_workspace()
data = ws.data
pairs = rank_by_accuracy(ws, require_loaded_models(ws), fixes)
by_name = {m.record.name: (m, p) for m, p in pairs}
labels = {n: m.record.label for n, (m, _) in by_name.items()}

chosen = state.url_widget(
    st.multiselect, "Models", options=list(by_name), key="trust_models", param="models", initial=list(by_name),
    parse=state.list_parser(), to_url=lambda v: None if list(v) == list(by_name) else state.join_list(v), format_func=labels.get,
)
if not chosen:
    st.info("Pick at least one model.")
    st.stop()

# ---------------------------------------------------------------- calibration

st.subheader("Calibration: does 90% confident mean 90% right?")
proba = [n for n in chosen if ScoreKind(by_name[n][1].score_kind).is_probability]
decision = [n for n in chosen if n not in proba]
c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
calibrated = state.url_widget(
    c1.toggle, "Calibrate each model on the test digits (out of fold)", key="trust_calibrate", param="calibrated",
    initial=False, parse=lambda t: t == "1", to_url=lambda v: "1" if v else None,
    help="scikit-learn's CalibratedClassifierCV on the model's saved test scores: each digit's probabilities come "
         "from a calibrator fitted on the other 4 of 5 folds of the test digits, so none is calibrated with its own label.",
)
method = state.url_widget(
    c2.selectbox, "Method", options=list(CALIBRATION_METHODS), key="trust_method", param="method",
    initial=CALIBRATION_METHODS[0], disabled=not calibrated,
    help="temperature: one parameter, keeps every answer; sigmoid / isotonic: one-vs-rest, may change answers.")
shown = chosen if calibrated else proba
if shown:
    own = {n: reliability(by_name[n][1].y_true, by_name[n][1].scores) for n in proba}
    cal = {n: load_calibration(ws, by_name[n][0], method, fixes) for n in chosen} if calibrated else {}
    rel = {n: cal[n].after for n in shown} if calibrated else own
    suffix = f" ({method})" if calibrated else ""
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(plot_reliability({labels[n] + suffix: r.table for n, r in rel.items()}), key="trust_reliability",
                      config={"displayModeBar": False})
    table = {"model": [labels[n] for n in shown],
             "calibration error (ECE)": [f"{100 * own[n].ece:.2f}%" if n in own else "n/a (decision scores)" for n in shown]}
    if calibrated:
        table[f"ECE after {method}"] = [f"{100 * cal[n].after.ece:.2f}%" for n in shown]
        table["accuracy before → after"] = [f"{100 * cal[n].accuracy_before:.2f}% → {100 * cal[n].accuracy_after:.2f}%" for n in shown]
    right.caption("Top-label reliability over 10 equal-width confidence bins: a point below the diagonal means "
                  "the model is right less often than it claims. The expected calibration error is the gap, "
                  "weighted by the share of digits in each bin."
                  + (" The curves show the calibrated probabilities." if calibrated else "")
                  + " Bins with fewer than 30 digits are left out (they zigzag by chance); bigger markers, more digits.")
    # full width under the chart: in the narrow column the calibrated table's columns were cut off
    st.dataframe(pd.DataFrame(table), hide_index=True, width="content", key="trust_table",
                 column_config={"model": st.column_config.TextColumn(width="medium")})
if decision and not calibrated:
    st.info(
        "**" + ", ".join(labels[n] for n in decision) + "**: decision scores, not probabilities, so they have no "
        "calibration error. Their confidence below is the margin between the best and the second-best score. "
        "Switch on calibration above to turn their scores into probabilities.",
        icon=":material/info:",
    )

# ------------------------------------------------------------------ abstention

st.subheader("Abstention: hand the least confident digits to a human")
share = state.url_widget(
    st.slider, "Share of digits handed over (%)", key="trust_share", param="share", initial=2.0, parse=float,
    min_value=0.0, max_value=20.0, step=0.5,
) / 100
curves = {labels[n]: abstention_curve(by_name[n][1]) for n in chosen}
st.plotly_chart(plot_abstention(curves, marker=1 - share), key="trust_abstention", config={"displayModeBar": False})

who = state.url_widget(st.selectbox, "Model that hands over", options=list(chosen), key="trust_model", param="hands",
                       initial=chosen[0], format_func=labels.get)
model, preds = by_name[who]
result = hand_over(preds, share)
c1, c2, c3 = st.columns(3)
c1.metric("Accuracy on the kept digits", f"{100 * result.accuracy:.2f}%",
          delta=f"{100 * (result.accuracy - result.accuracy_all):+.2f} points")
c2.metric("Digits handed over", f"{len(result.indices):,}")
c3.metric("Of them the model had wrong", f"{result.wrong_handed:,}")
st.caption(f"Without abstaining: {100 * result.accuracy_all:.2f}% on all {len(preds.y_true):,} test digits.")

if len(result.indices):
    st.markdown(f"**The {len(result.indices):,} digits {labels[who]} hands over** (least confident first)")
    shown, note = paged(result.indices, key="trust_page")
    labels_now = dict(fixes)
    digits, scores = top_k(preds.scores[shown], k=3)
    st.caption(note)
    digit_gallery(
        data.X_test[shown], shown,
        [f"true {labels_now.get(int(i), int(data.y_test[i]))} · {top3_caption(d, s, preds.score_kind)}"
         for i, d, s in zip(shown, digits, scores)],
        key="trust_tiles",
    )
