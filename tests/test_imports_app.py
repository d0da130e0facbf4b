"""Imported models in the app (AppTest): a prediction file's accuracy on the Leaderboard is the
accuracy computed from the file; the Draw page and the Digit inspector say why they leave it
out; the "Your model" page lists and deletes it."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_support import assert_clean, run_page
from conftest import make_store

from core.store.imports import import_predictions, imported_records


@pytest.fixture
def folder(tmp_path, sample_models_dir, sample_models, sample_data, monkeypatch):
    """The session's trained models (linked) plus a prediction file imported from the MLP's
    probabilities, in a folder of this test's own."""
    trained, _ = sample_models_dir
    for f in trained.iterdir():
        if f.is_file() and not f.name.endswith(".lock"):
            (tmp_path / f.name).symlink_to(f)
    probs = sample_models["mlp"].pipeline.predict_proba(sample_data.X_test)
    np.savetxt(tmp_path / "answers.csv", probs, delimiter=",")
    import_predictions(make_store(tmp_path, sample_data), tmp_path / "answers.csv", name="from_file")
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    return tmp_path, float(np.mean(probs.argmax(1) == sample_data.y_test))


def test_leaderboard_shows_the_files_accuracy(folder):
    _, expected = folder
    at = run_page("pages/1_Leaderboard.py")
    assert_clean(at)
    table = at.dataframe[0].value
    row = table[table["model"] == "from_file (predictions)"]
    assert len(row) == 1
    assert row["accuracy %"].iloc[0] == pytest.approx(100 * expected)


def test_draw_page_and_inspector_say_why_a_file_is_left_out(folder):
    at = run_page("pages/4_Draw_a_digit.py")
    assert_clean(at)
    assert any("Not shown: from_file (predictions)" in c.value for c in at.caption)
    at = run_page("pages/7_Digit_inspector.py", {"model": "from_file", "index": "3"})
    assert_clean(at)
    assert any("No explanation for from_file (predictions)" in i.value and "prediction file" in i.value for i in at.info)


def test_your_model_page_lists_and_deletes(folder, sample_data):
    path, _ = folder
    at = run_page("pages/10_Your_model.py")
    assert_clean(at)
    assert "from_file" in at.dataframe[0].value["name"].tolist()
    at.button(key="delete_button").click().run()
    assert_clean(at)
    assert imported_records(make_store(path, sample_data)) == []
    assert any("None yet." in c.value for c in at.caption)
