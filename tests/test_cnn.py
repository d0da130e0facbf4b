"""The CNN catalog entry (core.models.cnn, issue 10): a real short training on the sample, the cache,
probabilities, drawn digits, progress and training curve, and the "extra not installed" path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from conftest import make_store
from drawn_digits import drawn_set

from core.analysis.evaluation import training_curve
from core.data.drawing import prepare_canvas
from core.models.catalog import (
    MODEL_NAMES,
    build_pipeline,
    get_spec,
    is_available,
    unavailable_reason,
)
from core.progress import reporting
from core.store.records import TrainOptions
from core.store.training import train_model

EPOCHS = 3
SHORT = TrainOptions(params={"max_epochs": EPOCHS})  # (max_epochs caps small_epochs)  # ~10 s on the 4,000-digit sample, 1 busy core
INSTALL_HINT = 'not installed: pip install -e ".[cnn]"'


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_data):
    """A 3-epoch CNN trained through train_model, and the progress reports it made."""
    folder = tmp_path_factory.mktemp("cnn_models")
    reports = []
    with reporting(lambda fraction, message: reports.append((fraction, message))):
        model = train_model(make_store(folder, sample_data), "cnn", options=SHORT)
    return model, folder, reports


def test_short_training_clears_a_floor_and_reloads_from_the_cache(trained, sample_data):
    model, folder, _ = trained
    assert not model.from_cache and model.record.n_train == 4000
    pred = model.pipeline.predict(sample_data.X_test)
    acc = float(np.mean(pred == sample_data.y_test))
    assert acc >= 0.93, f"3-epoch CNN on the sample: {acc:.3f}"  # reaches ~0.97; chance is 0.10
    again = train_model(make_store(folder, sample_data), "cnn", options=SHORT)
    assert again.from_cache and again.record == model.record
    np.testing.assert_array_equal(again.pipeline.predict(sample_data.X_test), pred)
    net = again.pipeline[-1]
    assert net.device == "cpu"  # saved for CPU: loads on a machine without CUDA
    assert model.record.model_mb < 10


def test_probabilities_have_one_row_per_digit_summing_to_one(trained, sample_data):
    model, _, _ = trained
    proba = model.pipeline.predict_proba(sample_data.X_test[:200])
    assert proba.shape == (200, 10) and proba.dtype.kind == "f"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(np.argmax(proba, axis=1), model.pipeline.predict(sample_data.X_test[:200]))
    assert get_spec("cnn").score_kind.is_probability


def test_progress_reports_every_epoch_and_the_training_curve_shows_it(trained):
    model, _, reports = trained
    epochs = [(f, m) for f, m in reports if m.startswith("epoch ")]
    # the store gives the fit 0-95% of the bar (then saving): one report per epoch, in that share
    assert [round(f, 3) for f, _ in epochs] == [round(0.95 * (e + 1) / EPOCHS, 3) for e in range(EPOCHS)]
    assert epochs[-1][1].startswith(f"epoch {EPOCHS}/{EPOCHS}: loss ") and "valid acc" in epochs[-1][1]
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # the bar never goes back
    curve = training_curve(model.pipeline)
    assert list(curve["epoch"]) == list(range(1, EPOCHS + 1))
    assert curve["loss"].iloc[-1] < curve["loss"].iloc[0]
    assert curve["validation_score"].between(0, 1).all() and curve["validation_score"].iloc[-1] > 0.9


def test_drawn_digits_are_classified(trained):
    model, _, _ = trained
    drawings = drawn_set(4, seed=3)
    X = np.stack([prepare_canvas(d.rgba).pixels for d in drawings])
    y = np.array([d.label for d in drawings])
    one = model.pipeline.predict_proba(X[:1])
    assert one.shape == (1, 10) and abs(one.sum() - 1) < 1e-5
    rate = float(np.mean(model.pipeline.predict(X) == y))
    assert rate >= 0.8, f"drawn digits read correctly: {rate:.2f}"


def test_the_artifact_is_a_plain_joblib_pipeline(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "copy.joblib"
    joblib.dump(model.pipeline, path)
    loaded = joblib.load(path)
    X = np.zeros((1, 784), dtype=np.uint8)
    np.testing.assert_allclose(loaded.predict_proba(X), model.pipeline.predict_proba(X), atol=1e-6)


def test_catalog_entry_and_bad_parameters(sample_data):
    from core.errors import OptionsError

    assert is_available("cnn") and unavailable_reason("cnn") == ""
    pipe = build_pipeline("cnn", deskew=False, params={"max_epochs": 1})
    assert list(pipe.named_steps) == ["scale", "images", "model"]
    with pytest.raises(OptionsError, match="unknown CNN parameter.*'?epochs"):
        build_pipeline("cnn", params={"epochs": 3})


# -------------------------------------------------------------- without the extra

# A meta-path finder that refuses torch and skorch makes `import torch` raise ModuleNotFoundError
# exactly as on a machine without the extra. (sys.modules["torch"] = None is not faithful:
# scipy's array-API helpers then find a None "torch" module and crash on attribute access.)
_NO_TORCH = textwrap.dedent("""
    import sys

    class _NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "skorch"):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, _NotInstalled())
    {body}
""")


def _run_without_torch(body: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MODELS_DIR": str(tmp_path / "models"),
           "MNIST_SOURCE": "sample"}
    return subprocess.run([sys.executable, "-c", _NO_TORCH.format(body=textwrap.dedent(body))],
                          check=False, capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)


def test_without_the_extra_the_catalog_lists_cnn_and_explains(tmp_path):
    result = _run_without_torch("""
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch: not importable")
        from core.models.catalog import MODEL_NAMES, build_pipeline, is_available, unavailable_reason
        from core.errors import MissingExtraError
        assert "cnn" in MODEL_NAMES and not is_available("cnn") and is_available("knn")
        print("reason:", unavailable_reason("cnn"))
        try:
            build_pipeline("cnn")
        except MissingExtraError as exc:
            print("raised:", exc)
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "torch: not importable" in result.stdout
    assert f"reason: {INSTALL_HINT}" in result.stdout
    assert f"raised: CNN (PyTorch): {INSTALL_HINT}" in result.stdout


def test_without_the_extra_train_cnn_says_how_to_install_and_fails(tmp_path):
    result = _run_without_torch("""
        from core.cli.main import main
        sys.exit(main(["train", "--models", "cnn", "--source", "sample"]))
    """, tmp_path)
    assert result.returncode == 2
    assert INSTALL_HINT in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "models").glob("cnn-*"))


def test_without_the_extra_the_default_model_list_skips_cnn(tmp_path):
    """`python -m core train|evaluate` without --models share one model list; evaluate trains
    nothing (quick), so it shows the list: the others, and cnn as not installed."""
    result = _run_without_torch("""
        from core.cli.main import main
        sys.exit(main(["evaluate", "--source", "sample"]))
    """, tmp_path)
    assert result.returncode == 1, result.stderr  # nothing trained yet in the empty folder
    assert f"skipped cnn: {INSTALL_HINT}" in result.stdout and "Traceback" not in result.stderr
    not_trained = result.stdout.split("not trained yet: ")[1].split(" (run:")[0].split(", ")
    assert not_trained == [name for name in MODEL_NAMES if name != "cnn"]


def test_without_the_extra_a_trained_cnn_artifact_is_kept_not_deleted(trained, tmp_path):
    """A models folder with a CNN, opened where torch is missing: nothing unpickles it (it would
    fail), nothing deletes it, and training it again explains instead."""
    _, folder, _ = trained
    before = sorted(p.name for p in folder.glob("cnn-*") if not p.name.endswith(".lock"))
    result = _run_without_torch(f"""
        from core.data.sources import load_sample
        from core.errors import MissingExtraError
        from core.store.artifacts import ArtifactStore
        from core.store.records import TrainOptions
        from core.store.settings import Settings
        from core.store.training import train_model
        data, options = load_sample(), TrainOptions(params={{"max_epochs": {EPOCHS}}})
        store = ArtifactStore({str(folder)!r}, data=data, key_file=Settings.from_env().signing_key_file)
        print("record:", store.latest("cnn") is not None)
        print("loaded:", store.load("cnn", options=options))
        try:
            train_model(store, "cnn", options=options, force=True)
        except MissingExtraError as exc:
            print("train:", exc)
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "record: True" in result.stdout and "loaded: None" in result.stdout
    assert f"train: CNN (PyTorch): {INSTALL_HINT}" in result.stdout
    assert sorted(p.name for p in folder.glob("cnn-*") if not p.name.endswith(".lock")) == before and before
