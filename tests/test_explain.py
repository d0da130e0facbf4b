"""core.analysis.explain on real models trained on the sample: occlusion maps, class weights, nearest digits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.analysis.explain import (
    class_weight_images,
    explain_digit,
    feature_transform,
    nearest_training_digits,
    neighbour_index,
    occlusion_map,
    prefetch_neighbour_index,
)
from core.models.catalog import MODEL_NAMES, get_spec
from core.models.predict import model_scores


def confident_digit(pipeline, data) -> int:
    """A test digit the model gets right with its largest margin among the first 200."""
    scores, _ = model_scores(pipeline, data.X_test[:200])
    order = np.sort(scores, axis=1)
    margin = np.where(scores.argmax(axis=1) == data.y_test[:200], order[:, -1] - order[:, -2], -np.inf)
    return int(np.argmax(margin))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_occlusion_map_is_28x28_and_larger_on_ink(name, sample_models, sample_data):
    pipeline = sample_models[name].pipeline
    i = confident_digit(pipeline, sample_data)
    x, y = sample_data.X_test[i], int(sample_data.y_test[i])
    occ = occlusion_map(pipeline, x, true=y)
    assert occ.predicted == y
    assert occ.toward_predicted.shape == (28, 28) and occ.toward_true.shape == (28, 28)
    ink = x.reshape(28, 28) > 0
    assert occ.toward_predicted[ink].mean() > occ.toward_predicted[~ink].mean()
    assert occ.toward_predicted[ink].mean() > 0
    # far from any ink nothing changes when it is covered: exactly zero there
    near = ndimage.binary_dilation(ink, structure=np.ones((2 * occ.patch - 1, 2 * occ.patch - 1), bool))
    assert np.all(np.abs(occ.toward_predicted[~near]) < 1e-9)


def test_occlusion_toward_true_differs_for_a_mistake(sample_models, sample_data):
    pipeline = sample_models["logreg"].pipeline
    scores, _ = model_scores(pipeline, sample_data.X_test)
    wrong = np.flatnonzero(scores.argmax(axis=1) != sample_data.y_test)
    i = int(wrong[0])
    occ = occlusion_map(pipeline, sample_data.X_test[i], true=int(sample_data.y_test[i]))
    assert occ.predicted != occ.true
    assert not np.allclose(occ.toward_predicted, occ.toward_true)


def test_bad_occlusion_options_are_refused(sample_models, sample_data):
    with pytest.raises(ValueError, match="patch"):
        occlusion_map(sample_models["sgd"].pipeline, sample_data.X_test[0], patch=0)
    with pytest.raises(ValueError, match="true"):
        occlusion_map(sample_models["sgd"].pipeline, sample_data.X_test[0], true=12)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_class_weights_only_for_linear_models_on_pixels(name, sample_models):
    weights = class_weight_images(sample_models[name].pipeline)
    linear_on_pixels = name in ("sgd", "logreg") and get_spec(name).pca is None
    assert (weights is not None) == linear_on_pixels
    if weights is not None:
        assert weights.shape == (10, 28, 28)
        coef = sample_models[name].pipeline[-1].coef_
        np.testing.assert_array_equal(weights.reshape(10, -1), coef)


@pytest.mark.parametrize("name", ["knn", "logreg", "mlp"])
def test_nearest_neighbours_of_a_training_digit_include_itself(name, sample_models, sample_data):
    pipeline = sample_models[name].pipeline
    index = neighbour_index(pipeline, sample_data.X_train, sample_data.y_train, data_key=sample_data.fingerprint)
    for i in (0, 123, 3999):
        nb = nearest_training_digits(pipeline, index, sample_data.X_train[i], k=5)
        assert i in nb.indices
        assert nb.distances[0] == pytest.approx(0.0, abs=1e-3)
        assert np.all(np.diff(nb.distances) >= 0)
        np.testing.assert_array_equal(nb.labels, sample_data.y_train[nb.indices])
    assert neighbour_index(pipeline, sample_data.X_train, sample_data.y_train, data_key=sample_data.fingerprint) is index
    assert index.nn.n_features_in_ == feature_transform(pipeline, sample_data.X_train[:1]).shape[1]


def test_prefetched_index_is_built_once_and_shared(sample_models, sample_data):
    """A background prefetch and pages asking at the same time get one index, built once."""
    import threading

    pipeline = sample_models["svc_ovr"].pipeline
    key = f"prefetch-test-{id(object())}"  # a data key no other test uses: a cold build
    future = prefetch_neighbour_index(pipeline, sample_data.X_train, sample_data.y_train, data_key=key)
    got = []
    askers = [threading.Thread(target=lambda: got.append(
        neighbour_index(pipeline, sample_data.X_train, sample_data.y_train, data_key=key))) for _ in range(3)]
    for t in askers:
        t.start()
    for t in askers:
        t.join(timeout=60)
    index = future.result(timeout=60)
    assert len(got) == 3 and all(g is index for g in got)
    assert neighbour_index(pipeline, sample_data.X_train, sample_data.y_train, data_key=key) is index
    nb = nearest_training_digits(pipeline, index, sample_data.X_train[7], k=3)
    assert 7 in nb.indices


def test_explain_digit_bundles_everything(sample_models, sample_data):
    pipeline = sample_models["sgd"].pipeline
    index = neighbour_index(pipeline, sample_data.X_train, sample_data.y_train, data_key=sample_data.fingerprint)
    e = explain_digit(pipeline, sample_data.X_test[3], index, true=int(sample_data.y_test[3]), k=6)
    assert e.weights.shape == (10, 28, 28) and len(e.neighbours.indices) == 6 and e.seconds > 0
