"""core.plots.metrics: every figure builder on real data (the sample and models trained on it)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from core.analysis.evaluation import (
    binary_analysis,
    classification_table,
    confusion,
    summary_row,
    threshold_metrics,
    training_curve,
)
from core.plots.curves import downsample_curve, plot_pr_curve, plot_roc_curve, plot_threshold_curves
from core.plots.metrics import (
    CONFUSION_CONFIG,
    CONFUSION_MODES,
    nice_ticks,
    percent_label,
    plot_accuracy_bars,
    plot_accuracy_latency,
    plot_confusion_matrix,
    plot_f1_heatmap,
    plot_training_curve,
)


@pytest.fixture(scope="module")
def summaries(sample_models, preds):
    return pd.DataFrame([summary_row(sample_models[n], preds[n]) for n in sample_models])


@pytest.mark.parametrize("mode", list(CONFUSION_MODES))
def test_confusion_matrix_has_one_clickable_point_per_cell(preds, mode):
    cm = confusion(preds["knn"])
    fig = plot_confusion_matrix(cm, mode=mode)
    assert isinstance(fig, go.Figure)
    heat, cells = fig.data
    assert heat.type == "heatmap" and cells.type == "scatter"
    # point k is cell divmod(k, 10): the browser test and the page rely on this order
    assert len(cells.x) == 100
    rows, cols = np.divmod(np.arange(100), 10)
    np.testing.assert_array_equal(cells.y, rows)
    np.testing.assert_array_equal(cells.x, cols)
    custom = np.asarray(cells.customdata)
    np.testing.assert_array_equal(custom[:, 0], rows)
    np.testing.assert_array_equal(custom[:, 1], cols)
    np.testing.assert_array_equal(custom[:, 2], cm.ravel())
    np.testing.assert_allclose(custom[:, 3].reshape(10, 10).sum(axis=1), 1.0, atol=1e-5)
    assert list(cells.text) == [str(int(c)) for c in cm.ravel()]
    # clicks select points without dimming the others, and quick clicks are not a double-click
    assert fig.layout.clickmode == "event+select"
    assert cells.selected.marker.opacity == 1 and cells.unselected.marker.opacity == 1
    assert CONFUSION_CONFIG["doubleClickDelay"] == 50
    assert fig.layout.yaxis.range == (9.5, -0.5)  # row 0 on top


def test_confusion_matrix_modes_show_the_right_numbers(preds):
    cm = confusion(preds["mlp"])
    counts = plot_confusion_matrix(cm, mode="counts").data[0]
    np.testing.assert_array_equal(np.asarray(counts.z), cm)
    assert counts.text[4][9] == str(cm[4, 9])
    norm = plot_confusion_matrix(cm, mode="normalized").data[0]
    np.testing.assert_allclose(np.asarray(norm.z), 100 * confusion(preds["mlp"], normalize="true"))
    errors = plot_confusion_matrix(cm, mode="errors").data[0]
    z = np.asarray(errors.z, dtype=float)
    assert np.isnan(np.diag(z)).all()
    off = ~np.eye(10, dtype=bool)
    np.testing.assert_array_equal(z[off], cm[off])


def test_confusion_matrix_outlines_the_selected_cell(preds):
    cm = confusion(preds["knn"])
    assert not plot_confusion_matrix(cm).layout.shapes
    (shape,) = plot_confusion_matrix(cm, selected=(4, 9)).layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (8.5, 9.5, 3.5, 4.5)


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        plot_confusion_matrix(np.zeros((10, 10)), mode="bogus")
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((10, 9)))


def test_accuracy_bars_sorted_with_intervals(summaries):
    fig = plot_accuracy_bars(summaries, n_test=1000)
    (bar,) = fig.data
    assert len(bar.x) == len(summaries)
    assert list(bar.x) == sorted(bar.x)  # best at the top of a horizontal bar chart
    best = summaries.loc[summaries["accuracy"].idxmax()]
    assert bar.customdata[-1] == best["label"] and bar.x[-1] == pytest.approx(100 * best["accuracy"])
    assert bar.y[-1].startswith(best["label"]) and f"{100 * best['accuracy']:.2f}%" in bar.y[-1]
    assert len(bar.error_x.array) == len(summaries) and all(e > 0 for e in bar.error_x.array)
    assert fig.layout.xaxis.range[0] < min(bar.x)


def test_f1_heatmap_is_models_by_digits(sample_models, preds):
    f1 = pd.DataFrame({sample_models[n].record.label: classification_table(preds[n])["f1"].iloc[:10] for n in preds}).T
    fig = plot_f1_heatmap(f1)
    (heat,) = fig.data
    assert np.asarray(heat.z).shape == (len(preds), 10)
    assert list(heat.y) == list(f1.index) and list(heat.x) == [str(d) for d in range(10)]
    np.testing.assert_allclose(np.asarray(heat.z), f1.to_numpy())


def test_accuracy_latency_marker_area_follows_size(summaries):
    fig = plot_accuracy_latency(summaries)
    assert fig.layout.xaxis.type == "log"
    assert [t.name for t in fig.data] == list(summaries["label"])  # one trace (legend entry) per model
    for trace, row in zip(fig.data, summaries.itertuples()):
        assert trace.x == (pytest.approx(row.latency_ms),) and trace.y == (pytest.approx(100 * row.accuracy),)
        assert trace.marker.sizemode == "area"
    sizes = np.array([t.marker.size[0] for t in fig.data])
    order = np.argsort(summaries["size_mb"].to_numpy())
    assert np.all(np.diff(sizes[order]) >= 0)
    assert len({t.marker.sizeref for t in fig.data}) == 1  # one scale for all markers


def test_training_curve_has_loss_and_validation(sample_models):
    curve = training_curve(sample_models["mlp"].pipeline)
    fig = plot_training_curve(curve)
    loss, val = fig.data
    assert len(loss.x) == len(curve) and loss.name == "training loss"
    np.testing.assert_allclose(np.asarray(val.y), 100 * curve["validation_score"])
    assert val.yaxis == "y2"


@pytest.mark.parametrize("name", ["mlp", "svc_ovr"])
def test_threshold_pr_and_roc_figures_mark_the_threshold(preds, name):
    analysis = binary_analysis(preds[name], 5)
    t = float(np.median(analysis.scores))
    m = threshold_metrics(analysis.y, analysis.scores, t)

    fig = plot_threshold_curves(analysis.pr, t, score_kind=analysis.score_kind)
    assert [d.name for d in fig.data] == ["precision", "recall"]
    assert len(fig.data[0].x) == len(analysis.pr)  # small curves are not thinned
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == pytest.approx(t)
    assert analysis.score_kind in fig.layout.xaxis.title.text

    pr = plot_pr_curve(analysis.pr, (m["recall"], m["precision"]), average_precision=analysis.average_precision)
    assert pr.data[1].x == (m["recall"],) and pr.data[1].y == (m["precision"],)
    roc = plot_roc_curve(analysis.roc, (m["fpr"], m["recall"]), auc=analysis.auc)
    assert f"{analysis.auc:.4f}" in roc.data[0].name
    assert roc.data[2].x == (m["fpr"],)


def test_long_curves_are_thinned_keeping_the_ends():
    frame = pd.DataFrame({"threshold": np.linspace(0, 1, 10_001), "precision": 0.5, "recall": 0.5})
    thin = downsample_curve(frame)
    assert len(thin) <= 2000
    assert thin["threshold"].iloc[0] == 0 and thin["threshold"].iloc[-1] == 1
    assert len(plot_threshold_curves(frame, 0.5).data[0].x) <= 2000


# ------------------------------------------------------------ honest numbers (issue 9)


@pytest.mark.parametrize(
    "share, text",
    [(0, "0.0%"), (1, "100.0%"), (0.996, "99.6%"), (0.9996, "99.96%"), (0.0004, "0.04%"), (0.004, "0.4%"),
     (0.45, "45.0%"), (0.994, "99.4%"), (0.99, "99.0%"), (0.0136, "1.4%")],
)
def test_percent_label_never_rounds_to_a_lie(share, text):
    assert percent_label(share) == text


def test_row_normalised_cells_with_errors_never_read_zero_or_hundred(preds):
    cm = confusion(preds["svc_ovo"])
    text = plot_confusion_matrix(cm, mode="normalized").data[0].text
    for i in range(10):
        for j in range(10):
            if cm[i, j] == 0:
                assert text[i][j] == ""
            elif cm[i, j] < cm[i].sum():  # a share strictly between 0 and 1
                assert text[i][j] not in ("0%", "100%"), (i, j, text[i][j])


def test_errors_are_the_default_view(preds):
    assert next(iter(CONFUSION_MODES)) == "errors"
    cm = confusion(preds["knn"])
    heat = plot_confusion_matrix(cm).data[0]
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(np.diag(z)).all()  # the diagonal does not set the colour scale


def test_training_curve_right_axis_has_distinct_ticks(sample_models):
    curve = training_curve(sample_models["mlp"].pipeline)
    fig = plot_training_curve(curve)
    axis = fig.layout.yaxis2
    labels = list(axis.ticktext)
    assert len(labels) == len(set(labels)) >= 2, labels
    acc = 100 * curve["validation_score"]
    assert axis.range[0] <= acc.min() and axis.range[1] >= acc.max()
    # a narrow range (96.2-98.9%) gets decimals, not "99, 98, 97, 97, 96"
    values, labels = nice_ticks(96.2, 98.9)
    assert len(set(labels)) == len(labels) and values[0] <= 96.2 and values[-1] >= 98.9


def test_zoom_shows_the_corner(preds):
    analysis = binary_analysis(preds["mlp"], 5)
    m = threshold_metrics(analysis.y, analysis.scores, 0.5)
    point = (m["recall"], m["precision"])
    fig = plot_pr_curve(analysis.pr, point, zoom=True)
    assert fig.layout.xaxis.range[0] > 0.5 and fig.layout.xaxis.range[0] <= point[0]
    assert fig.layout.yaxis.range[0] <= point[1]
    roc = plot_roc_curve(analysis.roc, (m["fpr"], m["recall"]), auc=analysis.auc, zoom=True)
    assert roc.layout.xaxis.range[1] <= 0.1 and roc.layout.yaxis.range[0] > 0.5


def test_each_model_has_one_colour_on_every_chart():
    """A model's colour comes from the catalog, not from its place in a chart: the reliability,
    abstention, accuracy and latency charts agree whatever models they show, in any order."""
    import pandas as pd

    from core.models.catalog import MODELS
    from core.plots.explain import plot_abstention, plot_reliability
    from core.plots.metrics import model_colour, plot_accuracy_bars, plot_accuracy_latency

    labels = [spec.label for spec in MODELS.values()]
    assert len({model_colour(label) for label in labels}) == len(labels)
    table = pd.DataFrame({"confidence": [0.5, 0.9], "accuracy": [0.5, 0.9], "count": [1, 2]})
    curve = pd.DataFrame({"coverage": [1.0, 0.5], "accuracy": [0.9, 0.99], "abstained": [0, 5]})
    some = labels[::-1][:4]  # another subset, another order
    rel = plot_reliability({f"{label} (isotonic)": table for label in some})
    abst = plot_abstention({label: curve for label in labels})
    summary = pd.DataFrame({"label": some, "accuracy": [0.9, 0.95, 0.97, 0.92], "size_mb": 1.0, "latency_ms": 1.0})
    lat = plot_accuracy_latency(summary)
    bars = plot_accuracy_bars(summary)
    colours = {}
    for trace in [*rel.data[1:], *abst.data, *lat.data]:
        label = trace.name.removesuffix(" (isotonic)")
        colours.setdefault(label, set()).add(trace.line.color if trace.mode != "markers" else trace.marker.color)
    assert all(c == {model_colour(label)} for label, c in colours.items()), colours
    by_bar = dict(zip(bars.data[0].customdata, bars.data[0].marker.color))
    assert all(by_bar[label] == model_colour(label) for label in some)
