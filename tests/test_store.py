"""core.store.artifacts.ArtifactStore: signing, type checks, side files, cached accuracy, folder rules."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import threading

import numpy as np
import pytest
from conftest import MarkerPayload, make_store, resign_record
from sklearn.linear_model import LogisticRegression

from core.errors import ArtifactError, ArtifactWarning, OptionsError
from core.progress import report
from core.store.jobs import JobRunner, JobState
from core.store.records import TrainOptions
from core.store.settings import Settings
from core.store.sidefiles import read_side_json, write_side_json
from core.store.signing import load_signing_key
from core.store.training import train_model

SMALL = TrainOptions(max_train=600)


@pytest.fixture
def store(tmp_path, sample_data):
    return make_store(tmp_path / "models", sample_data)


def test_signing_key_is_created_once_private_and_outside_the_models_folder(tmp_path):
    key_file = tmp_path / "config" / "mnist-dashboard" / "signing.key"
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(load_signing_key(key_file))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not [p for p in key_file.parent.iterdir() if p.name.endswith(".tmp")]
    env = {"MNIST_DASHBOARD_KEY_FILE": str(key_file)}
    assert Settings.from_env(env).signing_key_file == key_file
    assert Settings.from_env({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).signing_key_file == \
        tmp_path / "xdg" / "mnist-dashboard" / "signing.key"


def test_the_session_never_uses_the_users_real_key():
    real = Settings.from_env({"HOME": os.path.expanduser("~")}).signing_key_file
    assert Settings.from_env().signing_key_file != real


def test_another_installations_artifact_is_refused_kept_and_replaced(tmp_path, sample_data):
    folder = tmp_path / "models"
    theirs = make_store(folder, sample_data, key_file=tmp_path / "their.key")
    model = train_model(theirs, "knn", options=SMALL)
    mine = make_store(folder, sample_data)
    with pytest.warns(ArtifactWarning, match="not signed by this installation"):
        assert mine.load("knn", options=SMALL) is None
    assert model.path.exists()  # maybe another installation's: left alone, not deleted
    problems: list[str] = []
    assert mine.latest("knn", problems=problems) is None and "not signed" in problems[0]
    retrained = train_model(mine, "knn", options=SMALL)
    assert not retrained.from_cache and mine.load("knn", options=SMALL).from_cache


def test_a_signed_artifact_of_the_wrong_type_is_refused(store):
    import hashlib

    for obj in (LogisticRegression(), {"a": 1}):
        model = train_model(store, "knn", options=SMALL)
        payload = pickle.dumps(obj)
        model.path.write_bytes(payload)
        record_path = model.path.with_suffix(".json")
        record = json.loads(record_path.read_text())
        record.update(model_sha256=hashlib.sha256(payload).hexdigest(), model_bytes=len(payload))
        record_path.write_text(json.dumps(record))
        resign_record(record_path)  # as if the key had signed it: the type check still refuses
        with pytest.warns(ArtifactWarning, match="not a classifier Pipeline"):
            assert store.load("knn", options=SMALL) is None


def test_reading_never_creates_the_folder(tmp_path, sample_data):
    folder = tmp_path / "nothing" / "here"
    store = make_store(folder, sample_data)
    assert [s.trained for s in store.statuses()] == [False] * len(store.statuses())
    assert store.load("knn") is None and store.record("knn") is None
    assert not folder.exists() and not (tmp_path / "nothing").exists()


def test_accuracy_comes_from_cached_predictions_only(store, sample_data, tmp_path):
    model = train_model(store, "logreg", options=SMALL)
    assert store.accuracy(model.record) is None  # nothing cached yet, nothing computed
    assert not model.path.with_name(model.path.name.replace(".joblib", ".predictions.npz")).exists()
    preds = store.predictions(model)
    assert store.accuracy(model.record) == pytest.approx(float(np.mean(preds.y_pred == sample_data.y_test)))
    # the ranking never unpickles: a forged pickle beside valid predictions stays inert
    marker = tmp_path / "code-ran"
    model.path.write_bytes(pickle.dumps(MarkerPayload(str(marker))))
    assert store.accuracy(model.record) is not None and not marker.exists()



def test_options_and_seed_are_checked_against_the_data(store, sample_data):
    assert store.key("knn", TrainOptions(max_train=sample_data.n_train)) == store.key("knn")
    assert store.resolve("knn", TrainOptions(max_train=10**9))["max_train"] is None
    with pytest.raises(OptionsError, match="at most 3990"):
        store.key("knn", TrainOptions(max_train=3995))
    for seed in (-1, 2**32, 1.5, True):
        with pytest.raises(OptionsError, match="seed"):
            store.key("knn", None, seed)


def test_side_files_round_trip_and_reject_bad_input(store, tmp_path):
    assert read_side_json(store, "label_errors", "abc") is None
    path = write_side_json(store, "label_errors", "abc", {"suspects": [1, 2, 3]})
    assert path.parent == store.folder / "label_errors" and store.data.fingerprint in path.name
    assert read_side_json(store, "label_errors", "abc") == {"suspects": [1, 2, 3]}

    def needs_suspects(value):
        return list(value["suspects"])

    assert read_side_json(store, "label_errors", "abc", validate=needs_suspects) == [1, 2, 3]
    write_side_json(store, "label_errors", "abc", {"other": 1})
    with pytest.warns(ArtifactWarning, match="side file"):
        assert read_side_json(store, "label_errors", "abc", validate=needs_suspects) is None
    path.write_text("{broken")
    with pytest.warns(ArtifactWarning):
        assert read_side_json(store, "label_errors", "abc") is None
    for kind, key in (("../escape", "k"), ("tune", "../../x"), ("", "k")):
        with pytest.raises(ArtifactError):
            store.side_path(kind, key)
    with pytest.raises(ValueError):
        write_side_json(store, "tune", "k", {"bad": float("nan")})


def test_models_dir_that_is_a_file_is_a_clear_error(tmp_path, sample_data):
    file = tmp_path / "models"
    file.write_text("x")
    with pytest.raises(ArtifactError, match="not a folder"):
        make_store(file, sample_data)


def test_force_replaces_atomically_and_keeps_one_artifact(store):
    first = train_model(store, "logreg", options=SMALL)
    again = train_model(store, "logreg", options=SMALL, force=True)
    assert not again.from_cache and again.record.trained_at > first.record.trained_at
    files = sorted(p.name.split(".", 1)[1] for p in store.folder.iterdir())
    assert files == ["joblib", "json", "lock"]
    assert store.load("logreg", options=SMALL).record == again.record


# ----------------------------------------------------------------- jobs


def test_job_runner_runs_in_the_background_once_per_key():
    runner = JobRunner()
    gate = threading.Event()
    seen = []

    def work():
        report(0.5, "half way")
        gate.wait(10)
        seen.append(1)
        return 42

    job = runner.submit("k", work, label="Working")
    assert runner.submit("k", work, label="Working") is job  # one job per key
    deadline = 100
    while job.message != "half way" and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    assert job.state == JobState.RUNNING and job.fraction == 0.5 and runner.active() == [job]
    gate.set()
    assert job.wait(10) and job.state == JobState.DONE and job.result == 42 and seen == [1]
    failing = runner.submit("bad", lambda: 1 / 0, label="Failing")
    assert failing.wait(10) and failing.state == JobState.FAILED and "ZeroDivisionError" in failing.error
    again = runner.submit("k", lambda: 7, label="Again")  # a finished key can run again
    assert again is not job and again.wait(10) and again.result == 7


def test_training_as_a_job_is_the_stores_training(tmp_path, sample_data):
    store = make_store(tmp_path / "models", sample_data)
    runner = JobRunner()
    job = runner.submit("logreg", lambda: train_model(store, "logreg", options=SMALL), label="Training")
    assert job.wait(120) and job.state == JobState.DONE, job.error
    assert store.load("logreg", options=SMALL).record == job.result.record


def test_copying_a_folder_keeps_its_models_usable(tmp_path, store):
    model = train_model(store, "logreg", options=SMALL)
    copy = shutil.copytree(store.folder, tmp_path / "copy")
    loaded = make_store(copy, store.data).load("logreg", options=SMALL)
    assert loaded is not None and loaded.record == model.record


def test_a_model_pickled_before_the_stage_move_still_loads(store, sample_data):
    """Models trained before core became subpackages name core.preprocessing in their pickle."""
    import hashlib

    model = train_model(store, "knn", options=SMALL)
    old = pickle.dumps(model.pipeline, protocol=2).replace(b"ccore.data.preprocessing\n", b"ccore.preprocessing\n")
    assert b"ccore.preprocessing\n" in old and b"core.data.preprocessing" not in old
    model.path.write_bytes(old)
    record = json.loads(model.path.with_suffix(".json").read_text())
    record.update(model_sha256=hashlib.sha256(old).hexdigest(), model_bytes=len(old))
    model.path.with_suffix(".json").write_text(json.dumps(record))
    resign_record(model.path.with_suffix(".json"))
    loaded = make_store(store.folder, sample_data).load("knn", options=SMALL)
    assert loaded is not None and loaded.from_cache
    X = sample_data.X_test[:50]
    np.testing.assert_array_equal(loaded.pipeline.predict(X), model.pipeline.predict(X))
    assert type(loaded.pipeline.steps[0][1]).__module__ == "core.data.preprocessing"



def test_a_signed_model_naming_missing_code_is_kept_not_deleted(store, sample_data):
    """An intact, signed artifact whose pickle names a module this installation lacks (a newer or
    older project version) is reported and kept: deleting it would lose a good model."""
    import hashlib

    model = train_model(store, "knn", options=SMALL)
    gone = pickle.dumps(model.pipeline, protocol=2).replace(b"ccore.data.preprocessing\n", b"ccore.no_such_module\n")
    model.path.write_bytes(gone)
    record_path = model.path.with_suffix(".json")
    record = json.loads(record_path.read_text())
    record.update(model_sha256=hashlib.sha256(gone).hexdigest(), model_bytes=len(gone))
    record_path.write_text(json.dumps(record))
    resign_record(record_path)
    with pytest.warns(ArtifactWarning, match="names code this installation does not have"):
        assert make_store(store.folder, sample_data).load("knn", options=SMALL) is None
    assert model.path.read_bytes() == gone and record_path.exists()
