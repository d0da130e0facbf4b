"""Importing prediction files: a real model's test-set probabilities written as CSV, .npy and
.npz, a column of predicted digits, and every malformed file, each refused with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_store

from core.analysis.evaluation import summary_row
from core.cli.main import main
from core.models.onnx_model import ModelImportError
from core.models.predict import predict_digit
from core.models.prediction_file import PredictionsOnlyError, is_predictions_only
from core.store.imports import import_file, import_predictions, imported_records
from core.store.queries import latest_model, trained_names, trained_predictions
from core.store.training import train_model

# trains a model of its own (a small CNN / a logistic regression): not in the fast tier
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probs(tmp_path_factory, sample_data):
    """A real logistic regression's test probabilities (n, 10) on the sample."""
    store = make_store(tmp_path_factory.mktemp("logreg"), sample_data)
    model = train_model(store, "logreg")
    return model.pipeline.predict_proba(sample_data.X_test)


@pytest.fixture
def store(tmp_path, sample_data):
    return make_store(tmp_path / "models", sample_data)


def write_csv(path, array, *, header=True):
    cols = array.shape[1] if array.ndim == 2 else 1
    head = ",".join(f"p{i}" for i in range(cols)) if header else ""
    np.savetxt(path, array, delimiter=",", header=head, comments="", fmt="%.10g")
    return path


def test_probabilities_in_every_format_give_the_files_accuracy(store, probs, sample_data, tmp_path):
    y = sample_data.y_test
    expected = float(np.mean(probs.argmax(1) == y))
    np.save(tmp_path / "p.npy", probs)
    np.savez(tmp_path / "p.npz", scores=probs)
    sources = {"csv_file": write_csv(tmp_path / "p.csv", probs), "plain_csv": write_csv(tmp_path / "q.csv", probs, header=False),
               "npy_file": tmp_path / "p.npy", "npz_file": tmp_path / "p.npz"}
    for name, path in sources.items():
        model, _ = import_predictions(store, path, name=name)
        assert model.record.output_kind == "probability"
        assert is_predictions_only(model.pipeline)
        loaded = latest_model(store, name)
        row = summary_row(loaded, store.predictions(loaded))  # the Leaderboard's row
        assert row["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert set(sources) <= set(trained_names(store))
    preds = trained_predictions(store, list(sources))
    np.testing.assert_allclose(preds["npz_file"].scores, probs)


def test_a_column_of_digits_and_scores_that_are_not_probabilities(store, probs, sample_data, tmp_path):
    y = sample_data.y_test
    model, notes = import_predictions(store, write_csv(tmp_path / "digits.csv", probs.argmax(1)[:, None]), name="digits")
    assert model.record.output_kind == "label" and "predicted digits only" in notes[0]
    assert model.record.accuracy_at_import == pytest.approx(np.mean(probs.argmax(1) == y))
    logits = np.log(probs + 1e-12) + 3.0  # rows do not sum to 1, some are negative: scores
    model, notes = import_predictions(store, write_csv(tmp_path / "logits.csv", logits), name="logits")
    assert model.record.output_kind == "decision score" and "do not sum to 1" in notes[0]
    assert store.predictions(latest_model(store, "logits")).score_kind == "decision score"


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p[:-1], r"shape \(999, 10\)"),
    (lambda p: p[:, :9], r"shape \(1000, 9\)"),
    (lambda p: np.where(np.arange(len(p))[:, None] == 7, np.nan, p), "NaN or infinite values in 1 rows"),
    (lambda p: p + np.where(np.arange(10) == 0, -0.5, 0.5 / 9), "probabilities cannot be negative"),
    (lambda p: np.r_[p.argmax(1)[:-1], 10][:, None].astype(float), "whole numbers 0-9"),
    (lambda p: p.argmax(1)[:, None] + 0.5, "whole numbers 0-9"),
    (lambda p: p[np.random.default_rng(0).permutation(len(p))], "the order is probably wrong"),
])
def test_bad_prediction_files_are_refused(store, probs, tmp_path, make, message):
    with pytest.raises(ModelImportError, match=message):
        import_predictions(store, write_csv(tmp_path / "bad.csv", make(probs)), name="bad")
    assert imported_records(store) == []
    assert not (store.folder / "imported").exists() or not list((store.folder / "imported").glob("*.json"))


def test_too_large_and_unknown_files_are_refused(store, tmp_path):
    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as f:
        f.truncate(200 * 1024 * 1024)
    with pytest.raises(ModelImportError, match="210 MB; the limit is 100 MB"):
        import_predictions(store, huge, name="huge")
    with pytest.raises(ModelImportError, match="upload an ONNX model"):
        import_file(store, b"x", "model.pkl", name="pickled")
    with pytest.raises(ModelImportError, match="cannot be read as .npy"):
        import_file(store, b"\x93NUMPY garbage", "p.npy", name="garbage")


def test_a_prediction_file_cannot_classify_a_new_digit(store, probs, sample_data, tmp_path):
    import_predictions(store, write_csv(tmp_path / "p.csv", probs), name="answers")
    model = latest_model(store, "answers")
    with pytest.raises(PredictionsOnlyError, match="answers for the test digits only"):
        predict_digit([model], sample_data.X_test[0])


def test_cli_import_predictions(probs, tmp_path, capsys):
    common = ["--source", "sample", "--models-dir", str(tmp_path / "m")]
    path = write_csv(tmp_path / "p.csv", probs)
    assert main(["import-predictions", str(path), "--name", "from_file", *common]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["import-predictions", str(path), "--name", "from_file", *common]) == 2
    assert "already taken" in capsys.readouterr().err
    assert main(["compare", "from_file", "logreg", *common]) == 2  # logreg is not trained in this folder
    assert main(["delete", "from_file", *common]) == 0
