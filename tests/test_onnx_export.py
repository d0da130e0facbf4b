"""Export then import: every catalog model trained on the sample goes through ONNX (skl2onnx or
torch.onnx, deskewing as ONNX operators) and back through the import path, and keeps its test
accuracy (within 0.05 points) and its answers (on at least 99.9% of the test digits)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_store, predictions_of
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.cli.main import main
from core.errors import OptionsError
from core.models.catalog import MODEL_NAMES, get_spec
from core.models.export import export_onnx
from core.store.imports import import_onnx


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_round_trip_keeps_accuracy_and_answers(name, sample_models, sample_data, tmp_path):
    model = sample_models[name]
    before = predictions_of(model, sample_data)
    payload = export_onnx(model.pipeline, score_kind=str(get_spec(name).score_kind))
    store = make_store(tmp_path / "models", sample_data)
    imported, notes = import_onnx(store, f"{name}.onnx", name=f"rt_{name}", payload=payload)
    after = store.predictions(imported)
    rec = imported.record
    assert (rec.layout, rec.scale) == ("flat", "0-255"), notes
    assert after.score_kind == before.score_kind  # decision scores stay decision scores
    acc_before, acc_after = np.mean(before.y_pred == before.y_true), np.mean(after.y_pred == after.y_true)
    assert abs(acc_after - acc_before) <= 0.0005, (acc_before, acc_after)
    assert np.mean(after.y_pred == before.y_pred) >= 0.999
    if before.score_kind == "probability":
        np.testing.assert_allclose(after.scores, before.scores, atol=2e-3)


def test_cli_export_writes_a_file_that_imports(sample_models_dir, tmp_path, capsys):
    folder, _ = sample_models_dir
    out = tmp_path / "logreg.onnx"
    assert main(["export", "logreg", "--onnx", str(out), "--source", "sample", "--models-dir", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "same answer on 100.00%" in printed and out.stat().st_size > 1000
    common = ["--source", "sample", "--models-dir", str(tmp_path / "m")]
    assert main(["import-model", str(out), "--name", "exported", *common]) == 0
    assert main(["export", "knn", "--onnx", str(out), *common]) == 2  # not trained in that folder
    assert "train it first" in capsys.readouterr().err


def test_a_pipeline_that_is_not_from_the_catalog_is_refused(sample_data):
    foreign = make_pipeline(StandardScaler()).fit(sample_data.X_train[:50])
    with pytest.raises(OptionsError, match="only catalog Pipelines"):
        export_onnx(foreign, score_kind="probability")
