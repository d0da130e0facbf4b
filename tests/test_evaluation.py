import numpy as np
import pytest
from conftest import make_store, predictions_of
from sklearn import metrics

from core.analysis.evaluation import (
    accuracy,
    binary_analysis,
    cell_indices,
    classification_table,
    confusion,
    summary_row,
    threshold_errors,
    threshold_for,
    threshold_metrics,
    top_confusions,
    training_curve,
)
from core.models.predict import predict_digit, top_k


def test_predictions_shapes_and_kinds(preds, sample_data):
    for name, p in preds.items():
        assert p.y_pred.shape == (1000,) and p.scores.shape == (1000, 10)
        np.testing.assert_array_equal(p.y_true, sample_data.y_test)
        np.testing.assert_array_equal(np.argmax(p.scores, axis=1), p.y_pred)
        assert p.score_kind == ("probability" if name in ("random_forest", "knn", "logreg", "mlp", "cnn") else "decision score")
        assert p.predict_seconds > 0 and p.latency_ms > 0
    np.testing.assert_allclose(preds["mlp"].scores.sum(axis=1), 1.0, rtol=1e-6)


def test_predictions_are_cached_beside_the_artifact(sample_models, sample_data, preds):
    model = sample_models["knn"]
    cache = model.path.with_name(model.path.stem + ".predictions.npz")
    assert cache.is_file()
    again = predictions_of(model, sample_data)
    np.testing.assert_array_equal(again.scores, preds["knn"].scores)
    assert again.predict_seconds == preds["knn"].predict_seconds  # read back, not re-timed
    np.testing.assert_array_equal(again.y_pred, model.pipeline.predict(sample_data.X_test))


def test_metrics_agree_with_sklearn(preds):
    p = preds["svc_ovo"]
    assert accuracy(p) == pytest.approx(metrics.accuracy_score(p.y_true, p.y_pred))
    table = classification_table(p)
    assert list(table.index) == [str(d) for d in range(10)] + ["macro avg"]
    np.testing.assert_allclose(table["f1"].iloc[:10], metrics.f1_score(p.y_true, p.y_pred, average=None))
    assert table.loc["macro avg", "precision"] == pytest.approx(metrics.precision_score(p.y_true, p.y_pred, average="macro"))
    assert table.loc["macro avg", "recall"] == pytest.approx(metrics.recall_score(p.y_true, p.y_pred, average="macro"))
    assert table.loc["macro avg", "support"] == 1000
    cm = confusion(p)
    np.testing.assert_array_equal(cm, metrics.confusion_matrix(p.y_true, p.y_pred))
    np.testing.assert_allclose(confusion(p, normalize="true").sum(axis=1), 1.0)
    assert np.trace(confusion(p, normalize="errors")) == 0


def test_cells_hold_exactly_those_digits_in_confidence_order(preds):
    p = preds["mlp"]
    cm = confusion(p)
    for i in range(10):
        for j in range(10):
            idx = cell_indices(p, i, j)
            assert len(idx) == cm[i, j]
            assert np.all(p.y_true[idx] == i) and np.all(p.y_pred[idx] == j)
            conf = p.confidence[idx]
            assert np.all(np.diff(conf) <= 0) if i != j else np.all(np.diff(conf) >= 0)
    with pytest.raises(ValueError, match="true=10"):
        cell_indices(p, 10, 1)


def test_top_confusions(preds):
    p = preds["sgd"]
    top = top_confusions(p, k=5)
    cm = confusion(p, normalize="errors")
    assert top["count"].iloc[0] == cm.max()
    assert list(top["count"]) == sorted(top["count"], reverse=True)
    for row in top.itertuples():
        assert cm[row.true, row.predicted] == row.count and row.true != row.predicted


def test_top_k():
    digits, values = top_k(np.array([[0.1, 0.5, 0.0, 0.4, 0, 0, 0, 0, 0, 0]]), k=3)
    assert digits.tolist() == [[1, 3, 0]] and values.tolist() == [[0.5, 0.4, 0.1]]


def test_binary_analysis_against_sklearn(preds):
    p = preds["logreg"]
    a = binary_analysis(p, 5)
    y = p.y_true == 5
    assert a.auc == pytest.approx(metrics.roc_auc_score(y, p.scores[:, 5]))
    assert a.average_precision == pytest.approx(metrics.average_precision_score(y, p.scores[:, 5]))
    # every PR point equals the metrics computed directly at its threshold
    for row in a.pr.iloc[:: max(1, len(a.pr) // 25)].itertuples():
        m = threshold_metrics(a.y, a.scores, row.threshold)
        assert m["precision"] == pytest.approx(row.precision)
        assert m["recall"] == pytest.approx(row.recall)


def test_threshold_metrics_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0], bool)
    s = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.05, 0.3])
    m = threshold_metrics(y, s, 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 3)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["fpr"] == pytest.approx(0.25)
    nothing = threshold_metrics(y, s, 2.0)
    assert nothing["tp"] + nothing["fp"] == 0 and nothing["precision"] == 1.0 and nothing["recall"] == 0.0


def test_threshold_for_targets(preds):
    a = binary_analysis(preds["svc_ovr"], 5)
    t = threshold_for(a, precision=0.99)
    assert threshold_metrics(a.y, a.scores, t)["precision"] >= 0.99
    lower = a.pr["threshold"][a.pr["threshold"] < t]
    assert all(threshold_metrics(a.y, a.scores, x)["precision"] < 0.99 for x in lower)  # the lowest such
    r = threshold_for(a, recall=0.9)
    assert threshold_metrics(a.y, a.scores, r)["recall"] >= 0.9
    higher = a.pr["threshold"][a.pr["threshold"] > r]
    assert all(threshold_metrics(a.y, a.scores, x)["recall"] < 0.9 for x in higher)
    with pytest.raises(ValueError, match="exactly one"):
        threshold_for(a)
    with pytest.raises(ValueError, match="between 0 and 1"):
        threshold_for(a, precision=1.5)


def test_summary_and_training_curve(sample_models, preds):
    row = summary_row(sample_models["mlp"], preds["mlp"])
    assert row["accuracy"] == accuracy(preds["mlp"]) and row["size_mb"] > 0
    curve = training_curve(sample_models["mlp"].pipeline)
    assert list(curve.columns) == ["epoch", "loss", "validation_score"] and len(curve) >= 2
    assert curve["loss"].iloc[-1] < curve["loss"].iloc[0]
    assert training_curve(sample_models["knn"].pipeline) is None


def test_predict_digit_for_every_model(sample_models, sample_data):
    digit = sample_data.X_test[0]
    table = predict_digit(list(sample_models.values()), digit)
    assert len(table) == len(sample_models)
    for row in table.itertuples():
        # up to three answers; a runner-up with probability 0 is left out, not shown as "digit 0 0%"
        assert row.prediction == row.top_digits[0] and 1 <= len(row.top_scores) == len(row.top_digits) <= 3
        if row.score_kind == "probability":
            assert all(v > 0 for v in row.top_scores)
        assert row.top_scores == sorted(row.top_scores, reverse=True)
        assert row.prediction == sample_models[row.model].pipeline.predict(digit.reshape(1, -1))[0]
    assert (table["prediction"] == sample_data.y_test[0]).mean() >= 0.7


def test_threshold_errors_match_the_counts(preds):
    a = binary_analysis(preds["knn"], 5)
    t = float(a.pr["threshold"].iloc[len(a.pr) // 2])
    fp, fn = threshold_errors(a, t)
    m = threshold_metrics(a.y, a.scores, t)
    assert (len(fp), len(fn)) == (m["fp"], m["fn"])
    assert np.all(preds["knn"].y_true[fn] == 5) and np.all(preds["knn"].y_true[fp] != 5)
    assert np.all(np.diff(a.scores[fp]) <= 0) and np.all(np.diff(a.scores[fn]) >= 0)


def test_cached_predictions_without_loading_the_model(sample_models, sample_data, sample_models_dir, preds):
    record = sample_models["svc_ovo"].record
    cached = make_store(sample_models_dir[0], sample_data).cached_predictions(record)
    np.testing.assert_array_equal(cached.scores, preds["svc_ovo"].scores)
    from core.data.sources import load_sample

    assert make_store(sample_models_dir[0], load_sample(random_state=3)).cached_predictions(record) is None


def test_fitted_models_predict_in_the_calling_thread(sample_models):
    for model in sample_models.values():
        params = model.pipeline[-1].get_params(deep=False)
        assert params.get("n_jobs") in (None, 1)
