"""The Digit inspector shows training digits as training digits (``?split=train&index=N``),
under Streamlit's AppTest with a real KNN trained on the sample."""

from __future__ import annotations

import pytest
from apptest_support import assert_clean, run_page
from conftest import make_store

from core.store.training import train_model

pytestmark = pytest.mark.slow  # each test fits a KNN of its own


@pytest.fixture
def knn_env(monkeypatch, tmp_path, sample_data):
    folder = tmp_path / "models"
    train_model(make_store(folder, sample_data), "knn")
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    return folder


@pytest.mark.parametrize("index", [3500, 5])  # beyond the test set, and inside it (another digit there)
def test_inspector_shows_a_training_digit(knn_env, sample_data, index):
    at = run_page("pages/7_Digit_inspector.py", {"split": "train", "index": str(index)})
    assert_clean(at)
    assert at.number_input(key="inspect_index").value == index
    assert at.number_input(key="inspect_index").label.startswith("Training digit (index 0-3999)")
    assert f"### Label: {int(sample_data.y_train[index])}" in [m.value for m in at.markdown]
    assert any("training** digit" in i.value for i in at.info)


def test_inspector_without_split_is_the_test_set(knn_env, sample_data):
    at = run_page("pages/7_Digit_inspector.py", {"index": "5"})
    assert_clean(at)
    assert at.number_input(key="inspect_index").label.startswith("Test digit (index 0-999)")
    assert f"### Label: {int(sample_data.y_test[5])}" in [m.value for m in at.markdown]
