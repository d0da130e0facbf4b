"""Charts and numbers that tell the truth: honest rounding, one colour per model, readable
encodings, a Draw verdict that neither over-hedges nor over-claims. Figure builders are checked
on their data and layout; the verdict on real sample models answering real drawings."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from drawn_digits import draw_digit
from PIL import Image, ImageDraw

from core.analysis.evaluation import (
    accuracy,
    binary_analysis,
    confusion,
    latency_is_suspect,
    robust_latency_ms,
)
from core.analysis.format import fixed_decimals, honest_decimal, honest_percent, plain_number
from core.analysis.thresholds import threshold_text
from core.analysis.trust import abstention_curve, reliability
from core.analysis.verdict import verdict
from core.data.drawing import prepare_canvas
from core.models.catalog import MODELS
from core.models.grids import settings_text
from core.models.predict import TestPredictions as Preds
from core.models.predict import predict_digit
from core.plots.colours import MODEL_COLOURS, model_colour
from core.plots.compare import favour_of_b, plot_difference_matrix
from core.plots.curves import plot_pr_curve, plot_roc_curve, plot_threshold_curves
from core.plots.explain import plot_abstention, plot_reliability
from core.plots.metrics import plot_accuracy_bars, plot_accuracy_latency, plot_confusion_matrix, plot_f1_heatmap
from core.plots.tune import plot_search_heatmap, search_noise
from core.store.searches import SearchResult

# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize("value, decimals, text", [
    (0.99985, 3, None), (0.99998, 4, "0.99998"), (1.0, 3, "1.000"), (0.0, 3, "0.000"), (0.5, 3, "0.500"),
    (0.0000004, 3, "<0.000001"),
])
def test_honest_decimal_never_rounds_to_one_or_zero(value, decimals, text):
    shown = honest_decimal(value, decimals=decimals)
    if text is not None:
        assert shown == text
    if 0 < value < 1:
        assert not re.fullmatch(r"1\.0+|0\.0+", shown), shown
        assert len(shown.split(".")[1]) >= decimals


@pytest.mark.parametrize("share, text", [
    (0.0136, "1.4%"), (0.01, "1.0%"), (0.45, "45.0%"), (0.9996, "99.96%"), (1.0, "100.0%"), (0.0, "0.0%"),
    (0.00004, "0.004%"),
])
def test_honest_percent_one_decimal_and_never_a_false_edge(share, text):
    assert honest_percent(share) == text


@pytest.mark.parametrize("value, text", [
    (250.4, "250"), (28.04, "28"), (230.2, "230"), (0.0123456, "0.0123"), (12345.6, "12,346"), (-0.5, "−0.5"),
])
def test_plain_number_has_no_scientific_notation(value, text):
    assert plain_number(value) == text


def test_fixed_decimals_one_look_per_column():
    assert fixed_decimals([95, 94.3, 95.05, None]) == ["95.00", "94.30", "95.05", ""]


def _pr(n=2001):
    t = np.linspace(0, 1, n)
    return pd.DataFrame({"threshold": t, "precision": 0.995 + 0.005 * t, "recall": 1 - 0.004 * t ** 4})


def test_ap_and_auc_are_never_shown_as_one_when_they_are_not():
    pr = _pr()
    fig = plot_pr_curve(pr, (0.99, 0.999), average_precision=0.99985)
    assert "1.000" not in fig.data[0].name and "AP 0.999" in fig.data[0].name
    roc = pd.DataFrame({"fpr": [0, 0.001, 1], "tpr": [0, 0.99, 1], "threshold": [1, 0.5, 0]})
    fig = plot_roc_curve(roc, (0.001, 0.99), auc=0.99998)
    assert "0.99998" in fig.layout.title.text and "1.0000" not in fig.layout.title.text
    assert "0.99998" in fig.data[0].name


def test_row_normalised_labels_all_have_one_decimal(preds):
    cm = confusion(preds["mlp"])
    text = plot_confusion_matrix(cm, mode="normalized").data[0].text
    shown = [t for row in text for t in row if t]
    assert shown and all(re.fullmatch(r"\d{1,3}\.\d{1,4}%", t) for t in shown), shown
    assert all(re.fullmatch(r"\d{1,3}\.\d%", t) or t.startswith(("0.0", "99.9")) for t in shown), shown


def test_f1_heatmap_tells_the_top_models_apart():
    f1 = pd.DataFrame([[0.9953, 0.9931], [0.9936, 0.9949]], index=["CNN (PyTorch)", "SVC (RBF, one-vs-one)"],
                      columns=["0", "1"])
    text = plot_f1_heatmap(f1).data[0].text
    assert [list(r) for r in text] == [["0.995", "0.993"], ["0.994", "0.995"]]
    assert list(plot_f1_heatmap(pd.DataFrame([[0.99996]], index=["m"], columns=["0"])).data[0].text[0]) == ["0.99996"]


def test_threshold_text_is_short_and_honest():
    assert threshold_text(0.296358197927475, "probability") == "0.2964"
    assert threshold_text(0.999996, "probability") == "0.999996"
    assert threshold_text(-0.371234567, "decision score") == "−0.3712"


def _search(rows, name="knn"):
    params = [k for k in rows[0] if k not in ("mean_accuracy", "std_accuracy", "mean_fit_s", "rank")]
    return SearchResult(
        name=name, label="KNN", grid={p: sorted({r[p] for r in rows}, key=str) for p in params}, rows=rows,
        best_params={p: rows[0][p] for p in params}, best_accuracy=rows[0]["mean_accuracy"],
        best_std=rows[0]["std_accuracy"], folds=5, n_train=4000, random_state=0, options={}, engine="local",
        seconds=1.0, key="k", data_fingerprint="f", created_at="now", versions={},
    )


def test_tune_table_has_one_number_of_decimals_per_column():
    result = _search([
        {"n_neighbors": 3, "mean_accuracy": 0.95, "std_accuracy": 0.011, "mean_fit_s": 1.0, "rank": 1},
        {"n_neighbors": 5, "mean_accuracy": 0.943, "std_accuracy": 0.01, "mean_fit_s": 1.25, "rank": 3},
        {"n_neighbors": 7, "mean_accuracy": 0.9505, "std_accuracy": 0.009, "mean_fit_s": 1.5, "rank": 2},
    ])
    table = result.display_table()
    for column in ("CV accuracy %", "± std", "fit s"):
        assert all(re.fullmatch(r"\d+\.\d\d", v) for v in table[column]), table[column].tolist()
    assert "95.00" in set(table["CV accuracy %"]) and "94.30" in set(table["CV accuracy %"])


def test_tune_heatmap_says_when_its_spread_is_noise():
    rows = [{"n_neighbors": k, "mean_accuracy": 0.95 - 0.0019 * i, "std_accuracy": 0.011, "mean_fit_s": 1.0, "rank": i + 1}
            for i, k in enumerate([3, 5, 7, 9, 11, 13])]
    table = _search(rows).table()
    noise = search_noise(table)
    assert noise.within_noise and noise.spread_points == pytest.approx(0.95)
    fig = plot_search_heatmap(table, x="n_neighbors")
    assert "noise" in fig.layout.title.text
    # the colour scale spans at least two standard deviations, not just the 0.95-point spread
    assert fig.data[0].zmax - fig.data[0].zmin >= 2 * 1.1 - 1e-9
    wide = [{**r, "std_accuracy": 0.001} for r in rows]
    assert not search_noise(_search(wide).table()).within_noise


def test_train_button_names_every_best_setting():
    text = settings_text("knn", {"n_neighbors": 3, "weights": "distance", "pca": 35})
    assert text == "n_neighbors=3, weights=distance, pca=35"


# -------------------------------------------------------------- difference matrix


def test_difference_matrix_colour_and_number_say_the_same():
    diff = np.zeros((10, 10), dtype=int)
    diff[4, 4] = 13  # B gets 13 more 4s right
    diff[4, 9] = -12  # B makes 12 fewer 4 -> 9 mistakes
    diff[7, 1] = 5  # B makes 5 more 7 -> 1 mistakes
    fig = plot_difference_matrix(diff, name_a="KNN", name_b="SVC")
    heat = fig.data[0]
    z, text = np.asarray(heat.z), heat.text
    assert z[4, 4] == 13 and z[4, 9] == 12 and z[7, 1] == -5
    assert text[4][4] == "+13" and text[4][9] == "+12" and text[7][1] == "−5"
    for i in range(10):
        for j in range(10):
            if z[i, j]:
                assert (text[i][j].startswith("+")) == (z[i, j] > 0)
    bar = heat.colorbar
    assert bar.orientation == "h"  # the arrows run along the bar
    words = bar.title.text
    assert "← KNN (A) better" in words and "SVC (B) better →" in words and words.index("KNN") < words.index("SVC")
    assert list(bar.tickvals) == [-13, 0, 13] and list(bar.ticktext) == ["−13", "0", "+13"] and heat.zmid == 0
    assert fig.data[1].customdata[4 * 10 + 9][2] == -12  # the hover keeps B minus A
    np.testing.assert_array_equal(favour_of_b(diff), z)


# ---------------------------------------------------------------- colours


def test_every_model_has_its_own_colour_on_every_chart(preds):
    assert len(set(MODEL_COLOURS.values())) == len(MODEL_COLOURS)
    labels = {n: MODELS[n].label for n in preds}
    proba = [n for n in preds if preds[n].score_kind == "probability"]
    rel = plot_reliability({labels[n]: reliability(preds[n].y_true, preds[n].scores).table for n in proba})
    ab = plot_abstention({labels[n]: abstention_curve(preds[n]) for n in reversed(list(preds))})
    summary = pd.DataFrame({"label": [labels[n] for n in preds], "accuracy": [accuracy(p) for p in preds.values()],
                            "size_mb": 1.0, "latency_ms": 1.0})
    lat = plot_accuracy_latency(summary)
    bars = plot_accuracy_bars(summary)
    assert list(bars.data[0].marker.color) == [MODEL_COLOURS[next(n for n, lab in labels.items() if lab == c)]
                                               for c in bars.data[0].customdata]
    for fig in (rel, ab, lat):
        for trace in fig.data:
            if trace.name in labels.values():
                name = next(n for n, lab in labels.items() if lab == trace.name)
                colour = trace.line.color if trace.mode and "lines" in trace.mode else trace.marker.color
                assert colour == MODEL_COLOURS[name], (trace.name, colour)
    assert model_colour("CNN (PyTorch) (temperature)") == MODEL_COLOURS["cnn"]


def test_trust_charts_keep_legends_off_the_curves_and_follow_the_slider(preds):
    labels = {n: MODELS[n].label for n in preds}
    proba = [n for n in preds if preds[n].score_kind == "probability"]
    rel = plot_reliability({labels[n]: reliability(preds[n].y_true, preds[n].scores).table for n in proba})
    ab = plot_abstention({labels[n]: abstention_curve(preds[n]) for n in preds}, marker=0.98)
    for fig in (rel, ab):
        assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0  # below the axes
    assert tuple(ab.layout.xaxis.range) == (100.5, 79.5)  # the slider hands over at most 20%
    assert all(min(t.x) >= 80 - 1e-9 for t in ab.data)


def test_reliability_leaves_out_nearly_empty_bins(preds):
    table = reliability(preds["mlp"].y_true, preds["mlp"].scores).table
    assert (table["count"] < 30).any()  # the sample has such bins
    fig = plot_reliability({"MLP": table})
    trace = fig.data[1]
    assert len(trace.x) == int((table["count"] >= 30).sum())
    assert all(c >= 30 for c in trace.customdata)
    assert "at least 30" in fig.layout.xaxis.title.text


# ------------------------------------------------------------- thresholds


def test_threshold_label_stays_inside_the_chart_and_zoom_applies(preds):
    analysis = binary_analysis(preds["mlp"], 5)
    right = plot_threshold_curves(analysis.pr, 0.9, zoom=False)
    left = plot_threshold_curves(analysis.pr, 0.1, zoom=False)
    assert right.layout.annotations[0].xanchor == "right" and left.layout.annotations[0].xanchor == "left"
    assert right.layout.annotations[0].text == "threshold 0.9000"
    zoomed = plot_threshold_curves(analysis.pr, 0.5, zoom=True)
    assert zoomed.layout.yaxis.range[0] > 0.5  # not the flat band at 1 on a 0-1 axis
    assert "log-odds" in zoomed.layout.xaxis.title.text
    assert list(zoomed.layout.xaxis.ticktext)[:2] == ["0.001", "0.01"] and zoomed.layout.xaxis.tickangle == 0


# ---------------------------------------------------------------- verdict


def _answers(rows):
    return pd.DataFrame([{"model": m, "label": m.upper(), "prediction": d, "score_kind": "probability",
                          "top_digits": [d, (d + 1) % 10], "top_scores": [p, 1 - p]} for m, d, p in rows])


def test_unanimous_models_get_a_plain_prediction_even_below_the_usual_confidence():
    answers = _answers([("cnn", 1, 0.95), ("svc", 1, 0.90), ("mlp", 1, 0.99), ("knn", 1, 1.0)])
    v = verdict(answers, thresholds={"cnn": 0.99, "svc": 0.99, "mlp": 0.995, "knn": 0.99})
    assert v.kind == "clear" and v.headline == "Prediction: 1"
    sentence = v.sentence("CNN", accuracy=0.9931)
    assert sentence.count("agree") == 1 and "all 4 models agree" in sentence


def test_a_hedge_says_when_sure_models_disagree():
    """A scribble: two models are more than 99.9% sure, of different digits. The hedge names them
    instead of leaving the reader to wonder why "Not sure" comes with such confidence."""
    answers = _answers([("cnn", 8, 0.6), ("svc", 3, 0.9995), ("mlp", 8, 0.9992), ("knn", 5, 0.5)])
    v = verdict(answers, thresholds={"cnn": 0.99, "svc": 0.99, "mlp": 0.99, "knn": 0.99})
    assert v.kind == "unsure" and v.headline == "Not sure: 8 or 3?"
    assert any("SVC is 99.95% sure of 3 but MLP is 99.9% sure of 8" in r for r in v.reasons), v.reasons
    one_outlier = _answers([("cnn", 8, 0.999), ("svc", 3, 0.9995), ("mlp", 8, 0.9992), ("knn", 8, 1.0)])
    assert verdict(one_outlier, thresholds={"cnn": 0.99, "svc": 0.99, "mlp": 0.99, "knn": 0.99}).kind == "clear"


def test_a_clean_slanted_one_is_a_plain_one(verdict_inputs):
    ranked, thresholds, reference = verdict_inputs
    pixels = prepare_canvas(draw_digit(1, height=240, stroke=20, slant=0.35)).pixels
    answers = predict_digit(ranked, pixels)
    v = verdict(answers, thresholds=thresholds, pixels=pixels, ink_reference=reference)
    if (answers["prediction"] == 1).all():
        assert v.headline == "Prediction: 1"
    assert v.kind != "not a digit"


def _dot() -> np.ndarray:
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(im).ellipse((100, 100, 180, 180), fill=(255, 255, 255, 255))
    return np.asarray(im)


def test_unusual_ink_is_said_in_plain_numbers(verdict_inputs):
    ranked, thresholds, reference = verdict_inputs
    pixels = prepare_canvas(_dot()).pixels
    v = verdict(predict_digit(ranked, pixels), thresholds=thresholds, pixels=pixels, ink_reference=reference)
    assert v.kind == "not a digit"
    text = " ".join(v.reasons)
    assert "MNIST's usual" in text and not re.search(r"\de[+-]\d", text), text
    sentence = v.sentence(ranked[0].record.label, accuracy=0.97)
    assert len(re.findall(r"models agree", sentence)) == 1


# ------------------------------------------------------------ answer cards


def test_answer_cards_list_no_zero_probability_runners_up(sample_models, sample_data):
    forest_and_knn = [sample_models["knn"], sample_models["random_forest"]]
    seen_short = False
    for pixels in sample_data.X_test[:40]:
        answers = predict_digit(forest_and_knn, pixels)
        for row in answers.itertuples():
            assert all(s > 0 for s in row.top_scores[1:]), (row.model, row.top_scores)
            seen_short |= len(row.top_digits) < 3
    assert seen_short  # KNN's votes leave most digits at exactly 0


# -------------------------------------------------------------- latency


def test_a_disturbed_latency_is_measured_again(sample_models, sample_data):
    knn = sample_models["knn"]
    assert latency_is_suspect(107.92, 0.516) and not latency_is_suspect(2.0, 0.516) and not latency_is_suspect(0.1, 0.002)
    preds = Preds(y_true=sample_data.y_test, y_pred=sample_data.y_test, scores=np.eye(10)[sample_data.y_test],
                            score_kind="probability", predict_seconds=0.0005 * len(sample_data.y_test), latency_ms=500.0)
    fresh = robust_latency_ms(knn, preds, sample_data.X_test[:15], rounds=1)
    assert fresh != 500.0 and fresh > 0  # measured now, not the recorded outlier
    assert robust_latency_ms(knn, preds, None) == 500.0  # nothing to measure with: the record
    calm = Preds(**{**preds.__dict__, "latency_ms": 0.2})
    assert robust_latency_ms(knn, calm, sample_data.X_test[:15]) == 0.2  # not suspect: kept


def test_p_values_in_plain_decimals():
    from core.analysis.compare import format_p
    from core.analysis.compare import verdict as compare_verdict

    assert [format_p(p) for p in (0.41, 0.003, 0.00021, 4e-52)] == ["0.41", "0.003", "0.00021", "< 0.0001"]
    assert compare_verdict("A", "B", 56, 346, 4e-52) == "B makes significantly fewer mistakes (p < 0.0001)"
