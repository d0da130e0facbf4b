"""core.analysis.thresholds: slider notches where a user cares, with labels a user can read."""

import numpy as np
import pytest
from conftest import predictions_of

from core.analysis.evaluation import binary_analysis
from core.analysis.thresholds import PROBABILITY_LIMIT, threshold_label, threshold_steps
from core.models.catalog import ScoreKind


@pytest.fixture(scope="module")
def analyses(sample_models, sample_data):
    return {n: binary_analysis(predictions_of(m, sample_data), 5) for n, m in sample_models.items()}


@pytest.mark.parametrize("name", ["logreg", "mlp", "knn", "random_forest"])
def test_probability_notches_are_balanced_around_one_half(analyses, name):
    a = analyses[name]
    steps = np.array(threshold_steps(a.y, a.scores, a.score_kind))
    assert 150 <= len(steps) <= 210
    below = np.sum(steps < 0.5)
    assert abs(below - np.sum(steps > 0.5)) <= 2  # before: 284 of 300 notches lay below 0.5
    assert steps.min() >= PROBABILITY_LIMIT and steps.max() <= 1 - PROBABILITY_LIMIT
    assert 0.5 in steps and np.all(np.diff(steps) > 0)
    labels = [threshold_label(v, a.score_kind) for v in steps]
    assert len(set(labels)) == len(labels)
    assert not any("e" in t for t in labels), labels


def test_extra_values_are_kept_exactly_and_labelled_without_exponents(analyses):
    a = analyses["logreg"]
    tiny = 1.2247448713915889e-18
    steps = threshold_steps(a.y, a.scores, a.score_kind, extra=(tiny,))
    assert tiny in steps
    assert threshold_label(tiny, ScoreKind.PROBABILITY) == "<0.0001"
    assert threshold_label(1 - 1e-9, ScoreKind.PROBABILITY) == ">0.9999"


@pytest.mark.parametrize("name", ["sgd", "svc_ovo", "svc_ovr"])
def test_decision_score_notches_span_the_contested_range(analyses, name):
    a = analyses[name]
    steps = np.array(threshold_steps(a.y, a.scores, ScoreKind.DECISION))
    low, high = a.scores[a.y].min(), a.scores[~a.y].max()
    assert steps.min() <= min(low, high) and steps.max() >= max(low, high)
    inside = np.sum((steps >= min(low, high)) & (steps <= max(low, high)))
    assert inside >= 0.8 * len(steps)
    assert not any("e" in threshold_label(v, ScoreKind.DECISION) for v in steps)
