"""Trust: are the models' probabilities honest, and what does abstaining buy?

Reliability diagrams and the expected calibration error (probability models), the abstention
curves of several models, and a control that hands a model's least confident test digits to
a human, with the gallery of those digits. All numbers come from core.trust.
"""

import pandas as pd
import streamlit as st

from core.catalog import ScoreKind
from core.evaluation import top_k
from core.explain_plots import plot_abstention, plot_reliability
from core.trust import abstention_curve, hand_over, reliability
from dashboard.cache_explain import ranked_models
from dashboard.components import (
    digit_gallery,
    paged,
    require_data,
    setup_page,
    top3_caption,
)

setup_page("Trust", "🛡️")
st.title("Trust")
data = require_data()
pairs = ranked_models(data)
by_name = {m.record.name: (m, p) for m, p in pairs}
labels = {n: m.record.label for n, (m, _) in by_name.items()}

chosen = st.multiselect("Models", list(by_name), default=list(by_name), format_func=labels.get, key="trust_models")
if not chosen:
    st.info("Pick at least one model.")
    st.stop()

# ---------------------------------------------------------------- calibration

st.subheader("Calibration: does 90% confident mean 90% right?")
proba = [n for n in chosen if ScoreKind(by_name[n][1].score_kind).is_probability]
decision = [n for n in chosen if n not in proba]
if proba:
    rel = {n: reliability(by_name[n][1].y_true, by_name[n][1].scores) for n in proba}
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(plot_reliability({labels[n]: r.table for n, r in rel.items()}), key="trust_reliability",
                      config={"displayModeBar": False})
    right.dataframe(
        pd.DataFrame({"model": [labels[n] for n in proba],
                      "expected calibration error": [f"{100 * rel[n].ece:.2f}%" for n in proba]}),
        hide_index=True, width="stretch",
    )
    right.caption("Top-label reliability over 10 equal-width confidence bins: a point below the diagonal means "
                  "the model is right less often than it claims. The expected calibration error is the gap, "
                  "weighted by the share of digits in each bin.")
if decision:
    st.info(
        "**" + ", ".join(labels[n] for n in decision) + "**: decision scores, not probabilities, so they have no "
        "calibration error. Their confidence below is the margin between the best and the second-best score. "
        "`core.trust.calibrate` turns such a model into a probability model with scikit-learn's "
        "CalibratedClassifierCV on digits it was not trained on.",
        icon=":material/info:",
    )

# ------------------------------------------------------------------ abstention

st.subheader("Abstention: hand the least confident digits to a human")
share = st.slider("Share of digits handed over (%)", 0.0, 20.0, 2.0, 0.5, key="trust_share") / 100
curves = {labels[n]: abstention_curve(by_name[n][1]) for n in chosen}
st.plotly_chart(plot_abstention(curves, marker=1 - share), key="trust_abstention", config={"displayModeBar": False})

who = st.selectbox("Model that hands over", chosen, format_func=labels.get, key="trust_model")
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
    digits, scores = top_k(preds.scores[shown], k=3)
    st.caption(note)
    digit_gallery(
        data.X_test[shown], shown,
        [f"true {int(data.y_test[i])} · {top3_caption(d, s, preds.score_kind)}" for i, d, s in zip(shown, digits, scores)],
    )
