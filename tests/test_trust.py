"""core.analysis.trust and ``python -m core trust`` on real models trained on the sample."""

from __future__ import annotations

import re

import numpy as np
import pytest
from cli_support import run_core
from conftest import predictions_of
from drawn_digits import drawn_set
from PIL import Image, ImageDraw

from core.analysis.evaluation import accuracy
from core.analysis.trust import abstention_curve, calibrate, calibrate_out_of_fold, confidence, expected_calibration_error, hand_over, reliability
from core.analysis.verdict import verdict
from core.data.drawing import prepare_canvas
from core.errors import OptionsError
from core.models.catalog import MODEL_NAMES, MODELS
from core.models.predict import predict_digit

PROBA = [n for n in MODEL_NAMES if MODELS[n].has_proba]
DECISION = [n for n in MODEL_NAMES if not MODELS[n].has_proba]


def direct_ece(y, proba, n_bins=10):
    """ECE written out digit by digit: bin k holds confidences in (k/n, (k+1)/n]."""
    total = 0.0
    n = len(y)
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i in range(n) if (lo < proba[i].max() <= hi) or (b == 0 and proba[i].max() <= lo)]
        if not members:
            continue
        acc = sum(int(proba[i].argmax() == y[i]) for i in members) / len(members)
        conf = sum(proba[i].max() for i in members) / len(members)
        total += len(members) / n * abs(acc - conf)
    return total


@pytest.mark.parametrize("name", PROBA)
def test_ece_equals_a_direct_computation(name, sample_models, sample_data):
    preds = predictions_of(sample_models[name], sample_data)
    assert expected_calibration_error(preds.y_true, preds.scores) == pytest.approx(direct_ece(preds.y_true, preds.scores), abs=1e-12)
    rel = reliability(preds.y_true, preds.scores)
    assert rel.table["count"].sum() == len(preds.y_true)
    assert ((rel.table["confidence"] > rel.table["bin_low"]) & (rel.table["confidence"] <= rel.table["bin_high"])).all()


def test_ece_of_decision_scores_is_refused(sample_models, sample_data):
    preds = predictions_of(sample_models[DECISION[0]], sample_data)
    with pytest.raises(ValueError, match="not probabilities"):
        expected_calibration_error(preds.y_true, preds.scores)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_abstaining_on_the_least_confident_digits_does_not_lower_accuracy(name, sample_models, sample_data):
    preds = predictions_of(sample_models[name], sample_data)
    curve = abstention_curve(preds, coverages=[1.0, 0.99, 0.98, 0.95])
    acc = dict(zip(curve["coverage"], curve["accuracy"]))
    assert acc[1.0] == pytest.approx(accuracy(preds))
    assert acc[0.95] >= acc[1.0]
    assert list(curve["abstained"]) == [0, 10, 20, 50]  # 1,000 test digits


def test_hand_over_gives_the_least_confident_digits(sample_models, sample_data):
    preds = predictions_of(sample_models["mlp"], sample_data)
    result = hand_over(preds, 0.05)
    conf = confidence(preds.scores, preds.score_kind)
    assert len(result.indices) == 50
    kept = np.setdiff1d(np.arange(len(conf)), result.indices)
    assert conf[result.indices].max() <= conf[kept].min()
    assert result.accuracy == pytest.approx(np.mean(preds.y_pred[kept] == preds.y_true[kept]))
    assert result.accuracy >= result.accuracy_all
    with pytest.raises(ValueError, match="share"):
        hand_over(preds, 1.5)


def test_calibrated_decision_scores_become_probabilities(sample_data):
    from core.models.catalog import build_pipeline

    X, y = sample_data.X_train, sample_data.y_train
    pipeline = build_pipeline("sgd").fit(X[:3000], y[:3000])
    calibrated = calibrate(pipeline, X[3000:], y[3000:])
    proba = calibrated.predict_proba(sample_data.X_test)
    assert proba.shape == (len(sample_data.y_test), 10)
    assert expected_calibration_error(sample_data.y_test, proba) < 0.2
    np.testing.assert_array_equal(pipeline.predict(X[:5]), build_pipeline("sgd").fit(X[:3000], y[:3000]).predict(X[:5]))


# --------------------------------------------------------------------- verdict


@pytest.fixture(scope="module")
def judge(verdict_inputs):
    ranked, thresholds, reference = verdict_inputs

    def run(pixels):
        return verdict(predict_digit(ranked, pixels), thresholds=thresholds, pixels=pixels, ink_reference=reference)

    return run


def canvas(draw) -> np.ndarray:
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw(ImageDraw.Draw(im))
    return np.asarray(im)


@pytest.mark.parametrize("shape", [
    lambda g: g.line([(60, 140), (220, 140)], fill=(255,) * 4, width=20),  # a horizontal bar
    lambda g: g.ellipse((120, 120, 150, 150), fill=(255,) * 4),  # a dot
])
def test_a_bar_or_a_dot_is_not_a_confident_digit(judge, shape):
    v = judge(prepare_canvas(canvas(shape)).pixels)
    assert v.kind == "not a digit" and not v.headline.startswith("Prediction")
    assert any("MNIST" in r for r in v.reasons)


def test_clear_digits_keep_the_plain_headline(judge, sample_data):
    verdicts = [judge(sample_data.X_test[i]) for i in range(30)]
    clear = [v for v in verdicts if v.kind == "clear"]
    assert len(clear) >= 24  # measured: about 94% of the sample's test digits
    assert all(re.fullmatch(r"Prediction: \d", v.headline) for v in clear)
    drawn = [judge(prepare_canvas(d.rgba).pixels) for d in drawn_set(1, seed=3)]
    assert sum(v.kind == "not a digit" for v in drawn) == 0


def test_disagreement_hedges_with_two_candidates(judge, sample_data, sample_models):
    # the test digit on which the models split most (from their cached test predictions)
    votes = np.stack([predictions_of(m, sample_data).y_pred for m in sample_models.values()])
    top_share = np.array([np.bincount(col, minlength=10).max() for col in votes.T]) / len(votes)
    i = int(np.argmin(top_share))
    assert top_share[i] < 0.6
    v = judge(sample_data.X_test[i])
    assert v.kind in ("unsure", "not a digit") and not v.headline.startswith("Prediction")
    if v.kind == "unsure":
        assert v.headline == f"Not sure: {v.candidates[0]} or {v.candidates[1]}?"


# ------------------------------------------------- out-of-fold calibration


def test_temperature_scaling_keeps_every_answer_and_fixes_the_forest(preds):
    """Temperature scaling changes confidence, never answers; the random forest's probabilities
    (too low: averaged votes) come out far better calibrated."""
    forest = preds["random_forest"]
    cal = calibrate_out_of_fold(forest)
    np.testing.assert_array_equal(cal.proba.argmax(axis=1), forest.y_pred)
    assert cal.accuracy_after == cal.accuracy_before == accuracy(forest)
    np.testing.assert_allclose(cal.proba.sum(axis=1), 1.0, atol=1e-9)
    assert cal.before is not None and cal.before.ece == pytest.approx(expected_calibration_error(forest.y_true, forest.scores))
    assert cal.after.ece < cal.before.ece / 2, (cal.before.ece, cal.after.ece)
    assert cal.after.ece == pytest.approx(expected_calibration_error(forest.y_true, cal.proba))


@pytest.mark.parametrize("method", ["temperature", "sigmoid", "isotonic"])
def test_decision_scores_become_probabilities(preds, method):
    svc = preds["svc_ovr"]
    cal = calibrate_out_of_fold(svc, method=method, folds=4, random_state=1)
    assert cal.before is None and cal.method == method and cal.folds == 4
    assert cal.proba.shape == svc.scores.shape and np.all((cal.proba >= 0) & (cal.proba <= 1))
    np.testing.assert_allclose(cal.proba.sum(axis=1), 1.0, atol=1e-9)
    assert cal.accuracy_after > 0.85
    if method == "temperature":
        np.testing.assert_array_equal(cal.proba.argmax(axis=1), svc.y_pred)


def test_calibration_refuses_bad_options(preds):
    with pytest.raises(OptionsError, match="method='platt'"):
        calibrate_out_of_fold(preds["mlp"], method="platt")
    with pytest.raises(OptionsError, match="folds=1"):
        calibrate_out_of_fold(preds["mlp"], folds=1)
    with pytest.raises(OptionsError, match="folds=100000"):
        calibrate_out_of_fold(preds["mlp"], folds=100000)


# ------------------------------------------------------------------------- CLI


def test_cli_prints_the_ece_and_exact_coverage_lines(sample_models_dir, sample_models, sample_data):
    folder, _ = sample_models_dir
    for name in ("mlp", "svc_ovr"):
        out = run_core("trust", name, "--source", "sample", "--models-dir", str(folder))
        assert out.returncode == 0, out.stderr
        lines = out.stdout.strip().splitlines()
        preds = predictions_of(sample_models[name], sample_data)
        if MODELS[name].has_proba:
            assert lines[1] == f"expected calibration error: {100 * expected_calibration_error(preds.y_true, preds.scores):.2f}%"
        else:
            assert lines[1] == "expected calibration error: n/a: decision scores"
        curve = abstention_curve(preds, coverages=[1.0, 0.99, 0.98, 0.95])
        expected = [f"coverage {c}%: accuracy {100 * a:.2f}% (abstains on {n} digits)"
                    for c, a, n in zip((100, 99, 98, 95), curve["accuracy"], (0, 10, 20, 50))]
        assert lines[2:] == expected
        assert all(re.fullmatch(r"coverage \d+%: accuracy \d+\.\d\d% \(abstains on \d+ digits\)", line) for line in lines[2:])


def test_cli_calibrate_prints_the_ece_after(sample_models_dir, preds):
    folder, _ = sample_models_dir
    out = run_core("trust", "random_forest", "--calibrate", "--source", "sample",
                          "--models-dir", str(folder))
    assert out.returncode == 0, out.stderr
    cal = calibrate_out_of_fold(preds["random_forest"])
    assert out.stdout.splitlines()[2] == (f"calibrated (temperature, 5-fold on the test digits): expected calibration error "
                                          f"{100 * cal.after.ece:.2f}%, accuracy {100 * cal.accuracy_after:.2f}%")
    bad = run_core("trust", "mlp", "--calibrate", "platt", "--source", "sample",
                          "--models-dir", str(folder))
    assert bad.returncode == 2 and "platt" in bad.stderr and "temperature" in bad.stderr


def test_cli_names_an_untrained_model(tmp_path):
    out = run_core("trust", "mlp", "--source", "sample", "--models-dir", str(tmp_path))
    assert out.returncode == 2 and "not trained" in out.stderr and "python -m core train --models mlp" in out.stderr
