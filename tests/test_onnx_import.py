"""Importing ONNX models: real files from torch.onnx, a PyTorch-style (NCHW logits on 0-1 pixels)
and a Keras-style (NHWC softmax on 0-255 pixels) CNN trained on the sample, and every kind of
bad file, each refused with a clear message and nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import make_store
from onnx_files import KerasStyle, NaNOutput, SmallCNN, TwoInputs, custom_domain_model, export, torch_predict, train_small_cnn

from core.analysis.explain import occlusion_map
from core.cli.main import main
from core.errors import DashboardError, UnknownModelError
from core.models.onnx_model import ModelImportError, OnnxClassifier
from core.models.predict import predict_digit
from core.store.imports import delete_import, import_onnx, imported_records
from core.store.queries import latest_model, latest_predictions, trained_names

# trains a model of its own (a small CNN / a logistic regression): not in the fast tier
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cnn(sample_data):
    return train_small_cnn(sample_data.X_train, sample_data.y_train, steps=300)


@pytest.fixture(scope="module")
def files(cnn, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    nchw = torch.zeros(2, 1, 28, 28)
    return {
        "nchw": export(cnn, folder / "torch_nchw.onnx", nchw),
        "nhwc": export(KerasStyle(cnn), folder / "keras_nhwc.onnx", torch.zeros(2, 28, 28, 1)),
        "two_inputs": export(TwoInputs(cnn), folder / "two.onnx", nchw, torch.zeros(2, 10), names=("x", "extra")),
        "side32": export(SmallCNN(side=32), folder / "side32.onnx", torch.zeros(2, 1, 32, 32)),
        "eleven": export(SmallCNN(outputs=11), folder / "eleven.onnx", nchw),
        "nan": export(NaNOutput(cnn), folder / "nan.onnx", nchw),
        "custom": custom_domain_model(folder / "custom.onnx"),
    }


@pytest.fixture
def store(tmp_path, sample_data):
    return make_store(tmp_path / "models", sample_data)


def nothing_written(store) -> bool:
    folder = store.folder / "imported"
    return not folder.exists() or not any(p.suffix in (".json", ".onnx", ".npz") for p in folder.iterdir())


def test_pytorch_nchw_logits_imports_as_a_full_model(store, files, cnn, sample_data):
    model, notes = import_onnx(store, files["nchw"], name="torch_cnn")
    rec = model.record
    assert (rec.layout, rec.scale, rec.output_kind) == ("nchw", "0-1", "logits")
    assert any("softmax applied" in n for n in notes) and any("pixel scale 0-1" in n for n in notes)
    own = torch_predict(cnn, sample_data.X_test)
    assert np.mean(own == sample_data.y_test) > 0.9  # a real, trained CNN
    # the store lists it like a trained model; its predictions are the torch model's own
    assert "torch_cnn" in trained_names(store)
    assert any(s.name == "torch_cnn" and s.trained for s in store.statuses())
    preds = latest_predictions(store, "torch_cnn")
    np.testing.assert_array_equal(preds.y_pred, own)
    assert rec.accuracy_at_import == pytest.approx(np.mean(own == sample_data.y_test), abs=1e-6)
    assert preds.score_kind == "probability"
    np.testing.assert_allclose(preds.scores.sum(axis=1), 1.0, atol=1e-5)
    # what the Draw page and the inspector call
    loaded = latest_model(store, "torch_cnn")
    assert loaded is not None and loaded.record.source_sha256 == rec.source_sha256
    answer = predict_digit([loaded], sample_data.X_test[0])
    assert answer["prediction"].iloc[0] == own[0]
    occ = occlusion_map(loaded.pipeline, sample_data.X_test[0], true=int(sample_data.y_test[0]))
    assert occ.predicted == own[0] and occ.toward_predicted.shape == (28, 28)


def test_keras_nhwc_softmax_on_0_255_pixels(store, files, cnn, sample_data):
    model, notes = import_onnx(store, files["nhwc"], name="keras_cnn")
    rec = model.record
    assert (rec.layout, rec.scale, rec.output_kind) == ("nhwc", "0-255", "probability")
    np.testing.assert_array_equal(latest_predictions(store, "keras_cnn").y_pred, torch_predict(cnn, sample_data.X_test))


def test_scale_override_is_kept_and_said(store, files):
    model, notes = import_onnx(store, files["nchw"], name="forced", scale="0-255")
    assert model.record.scale == "0-255" and "as given" in notes[1]
    assert model.pipeline.scale == "0-255" and latest_model(store, "forced").pipeline.scale == "0-255"


@pytest.mark.parametrize(("key", "message"), [
    ("two_inputs", "has 2 inputs"),
    ("side32", r"shape \(N, 1, 32, 32\)"),
    ("eleven", "no output of 10 scores"),
    ("nan", "NaN or infinite"),
    ("custom", "custom-op domain.*com.example"),
])
def test_bad_graphs_are_refused_and_nothing_is_written(store, files, key, message):
    with pytest.raises(ModelImportError, match=message):
        import_onnx(store, files[key], name="bad")
    assert nothing_written(store)
    assert [s.name for s in store.statuses() if s.trained] == []


def test_not_onnx_truncated_and_too_large_files_are_refused(store, files, tmp_path):
    junk = tmp_path / "notes.onnx"
    junk.write_text("this is not a model\n" * 50)
    with pytest.raises(ModelImportError, match="not an ONNX file|not an ONNX model"):
        import_onnx(store, junk, name="junk")
    payload = files["nchw"].read_bytes()
    half = tmp_path / "half.onnx"
    half.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ModelImportError, match="truncated"):
        import_onnx(store, half, name="half")
    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing on disk
    with pytest.raises(ModelImportError, match="210 MB; the limit is 100 MB"):
        import_onnx(store, huge, name="huge")
    assert nothing_written(store)


@pytest.mark.parametrize(("name", "message"), [
    ("my model", "not allowed"), ("a/b", "not allowed"), ("", "not allowed"), ("knn", "catalog model"),
    ("Big", "not allowed"),
])
def test_bad_names_are_refused(store, files, name, message):
    with pytest.raises(ModelImportError, match=message):
        import_onnx(store, files["nchw"], name=name)
    assert nothing_written(store)


def test_a_taken_name_is_refused_until_deleted(store, files):
    import_onnx(store, files["nchw"], name="mine")
    with pytest.raises(ModelImportError, match="already taken"):
        import_onnx(store, files["nhwc"], name="mine")
    assert imported_records(store)[0].layout == "nchw"  # the first one is untouched
    delete_import(store, "mine")
    assert imported_records(store) == [] and "mine" not in trained_names(store)
    with pytest.raises(UnknownModelError, match="imported models: none"):
        store.latest("mine")
    import_onnx(store, files["nhwc"], name="mine")
    assert imported_records(store)[0].layout == "nhwc"


def test_a_changed_file_or_record_is_not_used(store, files):
    model, _ = import_onnx(store, files["nchw"], name="signed")
    problems: list[str] = []
    store._problem = problems.append
    onnx_path = store.folder / "imported" / "signed.onnx"
    onnx_path.write_bytes(files["nhwc"].read_bytes())  # another valid ONNX file in its place
    assert store.load(store.latest("signed")) is None
    assert "SHA-256" in problems[0] and "refusing" in problems[0]
    onnx_path.write_bytes(files["nchw"].read_bytes())
    assert store.load(store.latest("signed")) is not None
    record_path = store.folder / "imported" / "signed.json"
    raw = json.loads(record_path.read_text())
    raw["scale"] = "0-255"  # an edit without the installation's key
    record_path.write_text(json.dumps(raw))
    assert "signed" not in trained_names(store)


def test_the_original_file_is_copied_in(store, files, tmp_path):
    moved = tmp_path / "elsewhere.onnx"
    moved.write_bytes(files["nchw"].read_bytes())
    import_onnx(store, moved, name="copied")
    moved.unlink()
    model = latest_model(store, "copied")
    assert model is not None and model.path.read_bytes() == files["nchw"].read_bytes()
    assert model.record.source_name == "elsewhere.onnx"


def test_cli_import_model_and_delete(files, tmp_path, capsys):
    common = ["--source", "sample", "--models-dir", str(tmp_path / "m")]
    assert main(["import-model", str(files["nhwc"]), "--name", "keras_cnn", *common]) == 0
    out = capsys.readouterr().out
    assert "input layout nhwc" in out and "pixel scale 0-255" in out and "test accuracy" in out
    assert main(["trust", "keras_cnn", *common]) == 0
    assert "expected calibration error" in capsys.readouterr().out
    assert main(["import-model", str(files["custom"]), "--name", "other", *common]) == 2
    assert "custom-op domain" in capsys.readouterr().err
    assert main(["delete", "keras_cnn", *common]) == 0
    assert main(["import-model", "--delete", "keras_cnn", *common]) == 2
    assert "no imported model called 'keras_cnn'" in capsys.readouterr().err


def test_onnx_classifier_refuses_wrong_pixel_arrays(files):
    clf = OnnxClassifier(files["nchw"].read_bytes(), scale="0-1", output_kind="logits")
    with pytest.raises(DashboardError, match=r"\(n, 784\)"):
        clf.predict(np.zeros((2, 28, 28)))
    assert not hasattr(clf, "decision_function") and hasattr(clf, "predict_proba")
