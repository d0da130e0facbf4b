import numpy as np
import pytest
from conftest import write_idx_set

from core.data.sources import DataSourceError, load_mnist, load_openml, load_sample
from core.store.settings import Settings


def test_sample_is_stratified_real_mnist(sample_data):
    d = sample_data
    assert d.source == "sample"
    assert d.X_train.shape == (4000, 784) and d.X_test.shape == (1000, 784)
    assert d.X_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(d.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(d.y_test), [100] * 10)
    assert 0 < d.X_train.mean() < 255 and d.X_train.max() == 255
    # MNIST digits are white ink on black: the border is empty
    border = d.X_train.reshape(-1, 28, 28)[:, [0, -1], :]
    assert border.mean() < 1


def test_sample_split_and_fingerprint_are_deterministic(sample_data):
    again = load_sample()
    assert again.fingerprint == sample_data.fingerprint
    np.testing.assert_array_equal(again.y_test, sample_data.y_test)
    other = load_sample(random_state=1)
    assert other.fingerprint != sample_data.fingerprint


def test_arrays_are_read_only(sample_data):
    with pytest.raises(ValueError):
        sample_data.X_train[0, 0] = 1


def test_auto_prefers_mnist_dir(tmp_path, sample_data, monkeypatch):
    write_idx_set(tmp_path, sample_data)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    d = load_mnist(mnist_dir=Settings.from_env().mnist_dir)
    assert d.source == "idx" and str(tmp_path) in d.reason
    assert d.n_train == 200


def test_auto_falls_back_to_sample_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    # an empty data home and an unroutable host: nothing cached, nothing reachable
    monkeypatch.setattr("core.data.sources._OPENML_HOST", ("127.0.0.1", 9))
    d = load_mnist(data_home=tmp_path, timeout=1)
    assert d.source == "sample"
    assert "offline" in d.reason


def test_openml_cache_is_used_and_corrupt_cache_is_dropped(tmp_path, sample_data, monkeypatch):
    from core.data.sources import _openml_npz
    from core.fileio import atomic_save_npz

    npz = _openml_npz(tmp_path)
    X = np.concatenate([np.tile(sample_data.X_train, (15, 1)), np.tile(sample_data.X_test, (10, 1))])
    y = np.concatenate([np.tile(sample_data.y_train, 15), np.tile(sample_data.y_test, 10)])
    atomic_save_npz(npz, X=X, y=y)
    monkeypatch.delenv("MNIST_DIR", raising=False)
    d = load_mnist(data_home=tmp_path)
    assert d.source == "openml" and "cached" in d.reason
    assert d.n_train == 60000 and d.n_test == 10000
    npz.write_bytes(b"not a zip file")
    # keep the re-fetch offline even on a networked machine: route it to a closed local port
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    with pytest.raises(DataSourceError, match="could not fetch OpenML"):
        load_openml(data_home=tmp_path, timeout=1)
    assert not npz.exists()


def test_bad_source_and_idx_without_folder(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(ValueError, match="unknown data source 'mnist'.*auto, idx, openml, sample"):
        load_mnist("mnist")
    with pytest.raises(DataSourceError, match="MNIST_DIR"):
        load_mnist("idx")


def test_auto_remembers_that_openml_was_unreachable(tmp_path, monkeypatch):
    """Offline, ``auto`` waited for the OpenML probe's timeout on every start. The answer is
    remembered: the next load starts on the sample at once and probes again in the background."""
    from core.data.sources import _probe_path

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr("core.data.sources._OPENML_HOST", ("127.0.0.1", 9))
    first = load_mnist(data_home=tmp_path, timeout=1)
    assert first.source == "sample" and "neither cached nor reachable" in first.reason
    assert _probe_path(tmp_path).is_file()  # the probe's answer is kept
    again = load_mnist(data_home=tmp_path, timeout=1)
    assert again.source == "sample"
    assert "unreachable when last checked" in again.reason and "checking again in the background" in again.reason
