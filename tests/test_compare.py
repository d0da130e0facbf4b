"""core.analysis.compare and ``python -m core compare`` on real models trained on the sample."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.stats import binomtest

from core.analysis.compare import (
    QUADRANTS,
    compare_predictions,
    difference_cell,
    difference_matrix,
    quadrant_indices,
    verdict,
)
from core.analysis.evaluation import accuracy, confusion
from core.cli.main import main
from core.errors import OptionsError

PAIRS = [("knn", "svc_ovo"), ("sgd", "mlp"), ("logreg", "random_forest")]


@pytest.mark.parametrize("a,b", PAIRS)
def test_counts_add_up_and_match_both_accuracies(preds, a, b):
    result = compare_predictions(preds[a], preds[b], name_a=a, name_b=b)
    n = len(preds[a].y_true)
    assert sum(result.counts.values()) == result.n == n
    assert (result.both_right + result.only_a_right) / n == pytest.approx(accuracy(preds[a]))
    assert (result.both_right + result.only_b_right) / n == pytest.approx(accuracy(preds[b]))
    for key in QUADRANTS:
        assert len(quadrant_indices(preds[a], preds[b], key)) == result.counts[key]


@pytest.mark.parametrize("a,b", PAIRS)
def test_p_value_is_the_exact_binomial_test_on_discordant_pairs(preds, a, b):
    result = compare_predictions(preds[a], preds[b])
    right_a = preds[a].y_pred == preds[a].y_true
    right_b = preds[b].y_pred == preds[b].y_true
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    expected = binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9)


def test_the_weak_model_loses_significantly_and_the_verdict_says_so(preds):
    # sgd (hinge, 10 epochs) against the RBF SVM: a gap far beyond noise on 1,000 digits
    result = compare_predictions(preds["sgd"], preds["svc_ovo"], name_a="sgd", name_b="svc_ovo")
    assert result.only_b_right > result.only_a_right
    assert result.p_value < 0.05 and result.significant
    assert result.verdict.startswith("svc_ovo makes significantly fewer mistakes (p ")
    swapped = compare_predictions(preds["svc_ovo"], preds["sgd"], name_a="svc_ovo", name_b="sgd")
    assert swapped.p_value == pytest.approx(result.p_value)
    assert swapped.verdict == result.verdict


def test_verdict_wording():
    assert verdict("A", "B", 10, 30, 0.003) == "B makes significantly fewer mistakes (p = 0.003)"
    assert verdict("A", "B", 30, 10, 0.003) == "A makes significantly fewer mistakes (p = 0.003)"
    assert verdict("A", "B", 12, 9, 0.41) == "the difference is within noise (p = 0.41)"


def test_a_model_against_itself_is_noise(preds):
    result = compare_predictions(preds["knn"], preds["knn"])
    assert result.only_a_right == result.only_b_right == 0
    assert result.p_value == 1.0 and not result.significant


def test_difference_matrix_and_its_cells(preds):
    a, b = preds["knn"], preds["logreg"]
    diff = difference_matrix(a, b)
    assert diff.shape == (10, 10)
    np.testing.assert_array_equal(diff, confusion(b).astype(int) - confusion(a).astype(int))
    assert diff.sum(axis=1).tolist() == [0] * 10  # every true digit is predicted once by each
    for i in range(10):
        for j in range(10):
            cell = difference_cell(a, b, i, j)
            assert cell.difference == diff[i, j]
            assert np.all(a.y_true[cell.indices] == i)
            assert np.all(b.y_pred[cell.gained] == j) and np.all(a.y_pred[cell.gained] != j)
            assert np.all(a.y_pred[cell.lost] == j) and np.all(b.y_pred[cell.lost] != j)


def test_bad_inputs(preds):
    with pytest.raises(OptionsError, match="quadrant"):
        quadrant_indices(preds["knn"], preds["mlp"], "sometimes right")
    with pytest.raises(OptionsError, match="not a digit"):
        difference_cell(preds["knn"], preds["mlp"], 10, 1)
    from dataclasses import replace

    short = replace(preds["mlp"], y_true=preds["mlp"].y_true[:10], y_pred=preds["mlp"].y_pred[:10])
    with pytest.raises(OptionsError, match="different test sets"):
        compare_predictions(preds["knn"], short)


# ------------------------------------------------------------------------ CLI


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_prints_counts_accuracies_p_value_and_verdict(capsys, sample_models_dir, preds):
    folder, _ = sample_models_dir
    code, out, err = run_cli(capsys, "compare", "knn", "svc_ovo", "--source", "sample", "--models-dir", str(folder))
    assert code == 0, err
    result = compare_predictions(preds["knn"], preds["svc_ovo"], name_a="knn", name_b="svc_ovo")
    assert re.search(rf"^only knn right +{result.only_a_right}$", out, re.MULTILINE)
    assert re.search(rf"^only svc_ovo right +{result.only_b_right}$", out, re.MULTILINE)
    assert re.search(rf"^both wrong +{result.both_wrong}$", out, re.MULTILINE)
    assert f"accuracy knn: {result.accuracy_a:.2%}" in out
    assert f"verdict: {result.verdict}" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["knn", "knn"], "two different models"),
        (["knn", "resnet"], "unknown model 'resnet'"),
    ],
)
def test_cli_bad_models(capsys, sample_models_dir, argv, message):
    folder, _ = sample_models_dir
    code, _out, err = run_cli(capsys, "compare", *argv, "--source", "sample", "--models-dir", str(folder))
    assert code == 2
    assert err.startswith("error: ") and message in err


def test_cli_untrained_model(capsys, tmp_path):
    code, _, err = run_cli(capsys, "compare", "knn", "mlp", "--source", "sample", "--models-dir", str(tmp_path))
    assert code == 2
    assert "'knn' is not trained" in err and "python -m core train --models knn" in err
