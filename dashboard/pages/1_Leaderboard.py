"""Leaderboard: the models' scores (core.analysis.leaderboard), accuracy bars, per-class F1, accuracy vs
latency, the training curves of the MLP and the CNN."""

import math

import pandas as pd
import streamlit as st

from core.analysis.leaderboard import accuracy_standard_error, leaderboard_frame
from core.analysis.tune import cv_columns
from core.plots.metrics import (
    plot_accuracy_bars,
    plot_accuracy_latency,
    plot_f1_heatmap,
    plot_training_curve,
)
from dashboard import state
from dashboard.components import require_loaded_models, require_workspace, setup_page, statuses_or_stop
from dashboard.data.metrics import load_classification_table, load_summary, load_training_curve

TITLE = "Leaderboard"

setup_page(TITLE, "📊")
st.title(TITLE)
ws, fixes = require_workspace()
data = ws.data
models = require_loaded_models(ws)

labels = {name: m.record.label for name, m in models.items()}
chosen = state.url_widget(
    st.multiselect, "Models to compare", options=list(models), key="compare_models", param="models", initial=list(models),
    parse=state.list_parser(), to_url=lambda v: None if list(v) == list(models) else state.join_list(v), format_func=labels.get,
)
untrained = [s for s in statuses_or_stop(ws) if not s.trained]
if untrained:
    st.caption("Not trained yet (train them on the Home page): " + ", ".join(s.label for s in untrained) + ".")
if not chosen:
    st.info("Pick at least one model above.")
    st.stop()

# ---------------------------------------------------------------- leaderboard
st.subheader("Scores on the test set")
# cross-validation accuracy (Tune page's "Cross-validate", or python -m core cv) when cached
rows = [
    {**load_summary(ws, models[n], fixes),
     **cv_columns(ws.store, n, options=models[n].record.train_options())}
    for n in chosen
]
table = leaderboard_frame(rows, n_test=data.n_test)
# short headers (full names in the help): with 13 columns at 1,400 px the options column fell off the grid
pct = st.column_config.NumberColumn
st.dataframe(
    table, hide_index=True, key="leaderboard", width="stretch",
    column_config={
        "model": st.column_config.TextColumn("model", pinned=True),
        "accuracy %": pct("acc. %", format="%.2f", help="Test accuracy, %."),
        "macro precision %": pct("prec. %", format="%.2f", help="Macro-averaged precision, %."),
        "macro recall %": pct("recall %", format="%.2f", help="Macro-averaged recall, %."),
        "macro F1 %": pct("F1 %", format="%.2f", help="Macro-averaged F1, %."),
        "CV accuracy %": pct("CV acc. %", format="%.2f", help="Cross-validation accuracy on the training set, %."),
        "CV ± std": pct("CV ±", format="%.2f", help="Standard deviation over the CV folds, points."),
        "± SE": pct("± SE", format="%.2f", help="Standard error of this model's accuracy, in points."),
        "fit s": pct("fit s", format="%.1f", help="Training time."),
        "predict ms/digit": pct("batch ms/digit", format="%.3f", help="Predicting the whole test set in one call, per digit."),
        "latency ms": pct("1 digit ms", format="%.2f",
                          help="Median time of one predict call on a single digit (measured again when the recorded one "
                               "is an outlier)."),
        "size MB": pct("MB", format="%.1f", help="Size of the saved model file."),
        "options": st.column_config.TextColumn("options", help="Training options: deskewing, augmentation, subset."),
        "trained on": pct("digits", format="localized", help="Training-set size after augmentation."),
    },
)


def noise_caption(rows: list[dict], n_test: int) -> str:
    """Which models the best one cannot be told apart from, each with its own standard error."""
    ranked = sorted(rows, key=lambda r: r["accuracy"], reverse=True)
    best = ranked[0]
    se_best = accuracy_standard_error(best["accuracy"], n_test)
    tied = [
        r["label"] for r in ranked[1:]
        if best["accuracy"] - r["accuracy"] < 1.96 * math.hypot(se_best, accuracy_standard_error(r["accuracy"], n_test))
    ]
    text = (
        f"Scores on the {n_test:,} test digits; **± SE** is each model's own standard error "
        f"(from ±{100 * se_best:.2f} points for {best['label']} to "
        f"±{100 * max(accuracy_standard_error(r['accuracy'], n_test) for r in ranked):.2f} for the least accurate). "
    )
    if tied:
        return text + (f"{best['label']} is within noise of {', '.join(tied)}: the gaps are smaller than 1.96 "
                       "combined standard errors.")
    return text + f"{best['label']} is ahead of every other model by more than 1.96 combined standard errors."


st.caption(noise_caption(rows, data.n_test))
if not any("cv_accuracy" in r for r in rows):
    st.caption("Cross-validation accuracy on the training set shows here once computed: **Cross-validate** on the "
               "Tune page, or `python -m core cv`.")
summaries = pd.DataFrame(rows)

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Accuracy")
    st.plotly_chart(plot_accuracy_bars(summaries, n_test=data.n_test), key="accuracy_bars")
with right:
    st.subheader("Accuracy against speed and size")
    st.plotly_chart(plot_accuracy_latency(summaries), key="accuracy_latency")
    st.caption("Marker area is proportional to the saved model's size.")

st.subheader("F1 score per digit")
f1 = pd.DataFrame(
    {labels[n]: load_classification_table(ws, models[n], fixes)["f1"].iloc[:10] for n in chosen}
).T
f1.columns = [str(c) for c in f1.columns]
st.plotly_chart(plot_f1_heatmap(f1), key="f1_heatmap")
st.caption("Rows are models, columns digits. Low cells show which digits a model finds hard.")

st.subheader("Training curves")
curves = {n: load_training_curve(models[n]) for n in chosen}
curves = {n: c for n, c in curves.items() if c is not None and not c.empty}
if curves:
    for col, (n, curve) in zip(st.columns(len(curves), gap="large"), curves.items()):
        col.plotly_chart(plot_training_curve(curve, label=labels[n]), key=f"{n}_curve")
        col.caption(f"{labels[n]}: {len(curve)} epochs. Loss on the training data; validation accuracy on the part "
                    "of the training set held out during training.")
else:
    st.info("None of the chosen models records a training curve (the MLP and the CNN do).")
