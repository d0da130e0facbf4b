"""Who can run code in the server: the signing key's placement and permissions, a key replaced
while the app runs, and the Dask scheduler address (server configuration only, fast failure)."""

from __future__ import annotations

import http.server
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_support import run_core
from conftest import MarkerPayload, make_store
from streamlit.testing.v1 import AppTest

from core.analysis.tune import search
from core.errors import ArtifactError, ClusterError, ConfigError
from core.models.grids import parse_grid
from core.store.records import TrainOptions
from core.store.settings import Settings
from core.store.signing import load_signing_key, sign
from core.store.training import train_model

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "dashboard" / "Home.py")
SMALL = TrainOptions(max_train=600)


def _plant_signed_pickle(store, marker: Path, key_file: Path) -> None:
    """What an attacker who controls the key file does: a malicious pickle with a record signed
    by that key (the key's bytes are the attacker's)."""
    model = train_model(store, "logreg", options=SMALL)
    payload = pickle.dumps(MarkerPayload(str(marker)))
    model.path.write_bytes(payload)
    record_path = model.path.with_suffix(".json")
    record = json.loads(record_path.read_text())
    import hashlib

    record["model_sha256"] = hashlib.sha256(payload).hexdigest()
    record["model_bytes"] = len(payload)
    record["signature"] = sign(record, bytes.fromhex(key_file.read_text().strip()))
    record_path.write_text(json.dumps(record))


def test_a_key_inside_the_models_folder_is_refused_and_its_pickle_never_runs(tmp_path, sample_data):
    folder = tmp_path / "models"
    folder.mkdir()
    key = folder / "signing.key"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o600)
    marker = tmp_path / "pwned"
    # whoever can write the folder can read or replace the key: a pickle signed with it
    elsewhere = tmp_path / "elsewhere"
    _plant_signed_pickle(make_store(elsewhere, sample_data, key_file=key), marker, key)
    for path in elsewhere.glob("logreg-*"):
        (folder / path.name).write_bytes(path.read_bytes())
    store = make_store(folder, sample_data, key_file=key)
    with pytest.raises(ArtifactError, match="inside the models folder") as err:
        store.load("logreg", options=SMALL)
    assert "MNIST_DASHBOARD_KEY_FILE" in str(err.value)
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize("what,mode", [("key", 0o666), ("key", 0o620), ("folder", 0o777), ("folder", 0o775)])
def test_a_key_others_can_write_is_refused_like_ssh(tmp_path, sample_data, what, mode):
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    key = keydir / "signing.key"
    key.write_text("cd" * 32 + "\n")
    key.chmod(0o600)
    marker = tmp_path / "pwned"
    _plant_signed_pickle(make_store(tmp_path / "models", sample_data, key_file=key), marker, key)
    (key if what == "key" else keydir).chmod(mode)
    result = run_core("evaluate", "--source", "sample", "--models", "logreg", "--max-train", "600",
                      "--models-dir", str(tmp_path / "models"), env={"MNIST_DASHBOARD_KEY_FILE": str(key)}, drop=())
    assert result.returncode == 2, result.stderr
    assert "chmod" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_key_in_a_sticky_shared_folder_or_mode_600_is_accepted(tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    assert len(load_signing_key(keydir / "signing.key")) == 32
    assert (keydir / "signing.key").stat().st_mode & 0o777 == 0o600


_SERVER = r"""
import sys, time
from core.data.sources import load_sample
from core.store.artifacts import ArtifactStore
from core.store.records import TrainOptions
store = ArtifactStore(sys.argv[1], data=load_sample(), key_file=sys.argv[2], problem=lambda m: print("problem:", m, flush=True))
print("ready", store.load("logreg", options=TrainOptions(max_train=600)) is not None, flush=True)
for line in sys.stdin:  # one request per line: load the model again
    print("loaded", store.load("logreg", options=TrainOptions(max_train=600)) is not None, flush=True)
"""


@pytest.mark.slow
def test_a_running_server_follows_a_key_the_cli_made_again(tmp_path, sample_data):
    """The key is deleted while a long-running process (standing in for the app's server) has
    it in memory; the CLI makes a new key and retrains: the running process uses the new key
    for the CLI's model, and the CLI accepts what it trained."""
    keydir = tmp_path / "keys"
    keydir.mkdir(mode=0o700)
    key = keydir / "signing.key"
    folder = tmp_path / "models"
    env = {**os.environ, "MNIST_DASHBOARD_KEY_FILE": str(key)}
    train = ["train", "--source", "sample", "--models", "logreg", "--max-train", "600", "--models-dir", str(folder)]
    uses_key = {"MNIST_DASHBOARD_KEY_FILE": str(key)}
    assert run_core(*train, env=uses_key, drop=()).returncode == 0
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(folder), str(key)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        assert server.stdout.readline().strip() == "ready True"
        old = key.read_text()
        key.unlink()
        result = run_core(*train, env=uses_key, drop=())
        assert result.returncode == 0, result.stderr
        assert key.read_text() != old  # the CLI made a new key and retrained with it
        server.stdin.write("load\n")
        server.stdin.flush()
        line = server.stdout.readline().strip()
        assert line == "loaded True", line
    finally:
        server.kill()
        server.wait()
    evaluate = run_core("evaluate", *train[1:], env=uses_key, drop=())
    assert evaluate.returncode == 0, evaluate.stderr


# --------------------------------------------------------------------- Dask


class _Listener:
    """A real TCP listener on 127.0.0.1 that accepts and then says nothing (``silent``), or
    closes at once; counts connections."""

    def __init__(self, *, silent: bool = True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.silent = silent
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.silent:
                self.conns.append(conn)
            else:
                conn.close()

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


TINY = ["n_neighbors=1", "weights=uniform", "pca=20"]


@pytest.mark.parametrize("address", ["garbage", "tcp://", "http://127.0.0.1:8786/status", "tcp://127.0.0.1"])
def test_malformed_dask_addresses_fail_at_once(address, tmp_path, sample_data, capfd):
    start = time.perf_counter()
    with pytest.raises(ClusterError, match="not a Dask scheduler address"):
        search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", TINY), folds=2, max_train=200,
               dask_address=address)
    assert time.perf_counter() - start < 10  # no connection attempt, no 10 s wait
    time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err
    with pytest.raises(ConfigError, match="DASK_SCHEDULER_ADDRESS"):
        Settings.from_env({"DASK_SCHEDULER_ADDRESS": address})


@pytest.mark.parametrize("server", ["silent", "http"])
def test_a_silent_listener_or_a_web_server_fails_within_10_s_naming_the_address(server, tmp_path, sample_data):
    if server == "silent":
        listener = _Listener()
        port, stop = listener.port, listener.close
    else:
        httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port, stop = httpd.server_address[1], httpd.shutdown
    address = f"tcp://127.0.0.1:{port}"
    start = time.perf_counter()
    try:
        with pytest.raises(ClusterError) as err:
            search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", TINY), folds=2, max_train=200,
                   dask_address=address)
    finally:
        stop()
    assert time.perf_counter() - start < 10
    assert address in str(err.value)


@pytest.mark.slow
def test_cli_dask_garbage_is_one_line_and_fast(tmp_path):
    start = time.perf_counter()
    result = run_core("tune", "knn", "--source", "sample", "--dask", "http://x:1", "--models-dir", str(tmp_path),
                      drop=())
    assert result.returncode == 2 and "not a Dask scheduler address" in result.stderr
    assert "Traceback" not in result.stderr and time.perf_counter() - start < 30


def test_dask_tls_settings_give_a_security_object(tmp_path):
    files = {}
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
        files[name] = str(tmp_path / name)
    s = Settings.from_env({"DASK_SCHEDULER_ADDRESS": "tls://10.0.0.5:8786", "DASK_TLS_CA_FILE": files["ca.pem"],
                           "DASK_TLS_CERT": files["cert.pem"], "DASK_TLS_KEY": files["key.pem"],
                           "DASK_SCHEDULER_ADDRESSES": "tcp://127.0.0.1:8786, tls://10.0.0.5:8786"})
    security = s.dask_security()
    assert security.require_encryption and security.tls_ca_file == files["ca.pem"]
    assert security.tls_client_cert == files["cert.pem"] and security.tls_client_key == files["key.pem"]
    assert s.dask_addresses == ("tls://10.0.0.5:8786", "tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="DASK_TLS_KEY"):
        Settings.from_env({"DASK_TLS_CA_FILE": files["ca.pem"], "DASK_TLS_CERT": files["cert.pem"]})


def test_the_tune_page_takes_no_scheduler_address_from_the_browser(monkeypatch, tmp_path):
    """A browser user can set every widget and URL parameter of the Tune page; none of it makes
    the server connect anywhere (a real listener counts connections)."""
    listener = _Listener(silent=False)
    address = f"tcp://127.0.0.1:{listener.port}"
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESSES", raising=False)
    at = AppTest.from_file(HOME, default_timeout=180)
    for key in ("dask", "tune_dask", "scheduler", "address", "tune_engine"):
        at.query_params[key] = address
    at.switch_page("pages/9_Tune.py")
    at.run()
    assert not at.exception
    labels = [t.label for t in at.text_input]
    assert not any("dask" in label.lower() or "scheduler" in label.lower() for label in labels), labels
    at.selectbox(key="tune_model").set_value("knn").run()
    at.text_input(key="tune_knn_n_neighbors").set_value("1")
    at.text_input(key="tune_knn_weights").set_value("uniform")
    at.text_input(key="tune_knn_pca").set_value("20")
    at.number_input(key="tune_folds").set_value(2)
    at.number_input(key="tune_max_train").set_value(200)
    at.session_state["tune_dask"] = address  # the old field's key, set as a browser would
    at.button(key="tune_run").click().run()
    assert not at.exception
    listener.close()
    assert listener.accepted == 0
    assert at.success and at.success[0].value.startswith("best:")
