"""Lost work and clear messages: kill -9 during a --force swap, dead writers' temp files, and
the edge values and folders that used to end in tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import run_core
from conftest import make_store
from streamlit.testing.v1 import AppTest
from test_store_defects import read_only

from core.analysis.tune import cross_validate_model, search
from core.data.sources import MnistData
from core.errors import ArtifactError, OptionsError
from core.models.grids import parse_grid
from core.store.records import TrainOptions
from core.store.training import train_model

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "dashboard" / "Home.py")
SMALL = TrainOptions(max_train=600)

# Saves logreg under seed 0's key but fitted with seed 1 (other bytes, as a non-deterministic fit
# such as the CNN gives), and dies by SIGKILL at one step of the swap.
_KILLER = r"""
import os, signal, sys
import core.store.writes as A  # ArtifactStore.save writes through this module
from core.data.sources import load_sample
from core.store.artifacts import ArtifactStore
from core.models.fitting import train_pipeline
from core.store.records import TrainOptions
step = sys.argv[3]
real, calls = A.atomic_write_bytes, [0]
def write(path, payload):
    calls[0] += 1
    if (step, calls[0]) == ("before-model", 1):
        os.kill(os.getpid(), signal.SIGKILL)
    out = real(path, payload)
    if (step, calls[0]) in (("after-model", 1), ("after-record", 2)):
        os.kill(os.getpid(), signal.SIGKILL)
    return out
A.atomic_write_bytes = write
data = load_sample()
store = ArtifactStore(sys.argv[1], data=data, key_file=sys.argv[2])
options = TrainOptions(max_train=600)
fit = train_pipeline("logreg", data.X_train, data.y_train, resolved=store.resolve("logreg", options), random_state=1)
key = store.key("logreg", options, 0)
with store.writing("logreg", key):
    store.save("logreg", fit.pipeline, options=options, random_state=0, fit_seconds=fit.fit_seconds, n_train=fit.n_fit)
"""


@pytest.mark.slow
@pytest.mark.parametrize("step", ["before-model", "after-model", "after-record"])
def test_force_killed_at_each_step_of_the_swap_keeps_a_usable_model(step, tmp_path, sample_data):
    folder = tmp_path / "models"
    store = make_store(folder, sample_data)
    first = train_model(store, "logreg", options=SMALL)
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(folder), str(store.key_file), step], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == -9, proc.stderr
    model = make_store(folder, sample_data).load("logreg", options=SMALL)
    assert model is not None  # the good model is never lost
    if step == "after-record":
        assert model.record.model_sha256 != first.record.model_sha256  # the new one is complete
    else:
        assert model.record.model_sha256 == first.record.model_sha256
    # the next store operation (under the key's lock) puts things straight; nothing is left over
    make_store(folder, sample_data).remove_stale_temp_files()
    again = train_model(make_store(folder, sample_data), "logreg", options=SMALL)
    assert again.from_cache and again.record.model_sha256 == model.record.model_sha256
    assert not [p.name for p in folder.iterdir() if p.name.endswith((".keep", ".tmp"))]


def test_any_store_operation_removes_dead_writers_temp_files(tmp_path, sample_data):
    folder = tmp_path / "models"
    train_model(make_store(folder, sample_data), "logreg", options=SMALL)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / "search").mkdir()
    leftovers = [folder / f"logreg-0123456789ab.joblib.{dead.pid}.abc123.tmp",
                 folder / "search" / f"knn-x.json.{dead.pid}.zz9.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    live = folder / f"knn-0123456789ab.joblib.{os.getpid()}.abc.tmp"
    live.write_bytes(b"being written")
    make_store(folder, sample_data).statuses()  # the app's every rerun; no training
    assert not any(p.exists() for p in leftovers) and live.exists()


# ----------------------------------------------------------------- clear messages


def _cli(*args):
    return run_core(*args)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["cv", "logreg"], ["tune", "logreg", "--param", "C=1"]])
def test_cv_and_tune_in_a_read_only_folder_say_so_before_computing(command, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    with read_only(folder) as ro:
        result = _cli(*command, "--source", "sample", "--cv", "2", "--max-train", "300", "--models-dir", str(ro))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    assert "fits on" not in result.stdout  # nothing was computed


def test_tune_page_search_in_a_read_only_folder_is_a_message(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    with read_only(folder) as ro:
        monkeypatch.setenv("MNIST_SOURCE", "sample")
        monkeypatch.setenv("MODELS_DIR", str(ro))
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
        at = AppTest.from_file(HOME, default_timeout=180)
        at.switch_page("pages/9_Tune.py")
        at.run()
        at.selectbox(key="tune_model").set_value("logreg").run()
        at.text_input(key="tune_logreg_C").set_value("1")
        at.number_input(key="tune_folds").set_value(2)
        at.number_input(key="tune_max_train").set_value(300)
        at.button(key="tune_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "read-only" in at.error[0].value


def test_a_file_named_search_in_the_models_folder(tmp_path, sample_data):
    (tmp_path / "search").write_text("not a folder")
    with pytest.raises(ArtifactError, match="is a file where a folder belongs"):
        cross_validate_model(make_store(tmp_path, sample_data), "logreg", cv=2, max_train=300)


@pytest.mark.slow
@pytest.mark.parametrize("argv,message", [
    (["tune", "logreg", "--max-train", "3999", "--cv", "2"], "no stratified subset"),
    (["cv", "logreg", "--max-train", "3995"], "no stratified subset"),
    (["tune", "logreg", "--seed", "-1"], "out of range"),
    (["cv", "logreg", "--seed", str(2**32)], "out of range"),
    (["tune", "logreg", "--max-train", "0"], "not a positive number"),
    (["tune", "knn", "--param", "n_neighbors=99999"], "n_neighbors"),
    (["tune", "knn", "--param", "pca=5000"], "pca"),
    (["tune", "random_forest", "--param", "max_features=2.5"], "max_features"),
    (["tune", "knn", "--param", "n_neighbors=" + ",".join(map(str, range(1, 201))), "--param",
      "pca=" + ",".join(map(str, range(1, 101)))], "candidates"),
    (["suspects", "--train-set", "--folds", "100000"], "folds=100000"),
    (["compare", "knn", "logreg", "--models-dir", ""], "--models-dir is empty"),
    (["suspects", "--models-dir", ""], "--models-dir is empty"),
])
def test_edge_values_are_one_line_messages(argv, message, tmp_path):
    if "--models-dir" not in argv:
        argv = [*argv, "--models-dir", str(tmp_path)]
    result = _cli(*argv, "--source", "sample")
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]


def test_grid_values_beyond_the_fold_size_are_refused_before_fitting(tmp_path, sample_data):
    with pytest.raises(OptionsError, match="n_neighbors=500 is more than"):
        search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", ["n_neighbors=500", "pca=20"]),
               folds=2, max_train=300)


@pytest.mark.parametrize("labels", ["one class", "five digits"])
def test_degenerate_training_data_is_a_clear_message(labels, tmp_path, sample_data):
    d = sample_data
    if labels == "one class":
        keep = d.y_train == 3
        X, y = d.X_train[keep], d.y_train[keep]
    else:
        X, y = d.X_train[:5], d.y_train[:5]
    data = MnistData(X_train=X, y_train=y, X_test=d.X_test, y_test=d.y_test, source="idx", reason="test",
                     location=str(tmp_path), fingerprint=f"degenerate{len(y)}")
    with pytest.raises(OptionsError, match="training needs at least"):
        train_model(make_store(tmp_path, data), "logreg")


def test_home_in_a_read_only_folder_never_says_press_train(tmp_path, sample_data, monkeypatch):
    folder = tmp_path / "models"
    store = make_store(folder, sample_data)
    model = train_model(store, "logreg", options=SMALL)
    record = json.loads(model.path.with_suffix(".json").read_text())
    model.path.write_bytes(b"corrupt")  # a trained model that no longer loads
    assert record["model_sha256"]
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with read_only(folder) as ro:
        monkeypatch.setenv("MODELS_DIR", str(ro))
        at = AppTest.from_file(HOME, default_timeout=180).run()
    assert not at.exception
    texts = " ".join(e.value for e in [*at.warning, *at.info, *at.success, *at.caption])
    assert not any(b.key == "train_missing" for b in at.button)
    assert "Press the Train button" not in texts and "read-only" in texts
