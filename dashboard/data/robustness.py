"""Streamlit caches and the background job of the Robustness page (core.analysis.robustness,
core.analysis.slices). Results live as side files in the models folder; this module only
remembers them per process and queues their computation on the app's one JobRunner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.robustness import (
    KIND,
    RobustModel,
    RobustnessResult,
    compute_robustness,
    load_cached_robustness,
    robustness_models,
    select_models,
)
from core.analysis.slices import find_slices, load_digit_properties
from core.data.corruptions import corrupt
from core.data.sources import MnistData
from core.store.jobs import Job
from dashboard.data.jobs import job_runner
from dashboard.data.workspace import models_path, workspace

__all__ = ["corrupted_digits", "digit_properties", "job", "load_result", "models", "slices", "start"]

_HASH = {MnistData: lambda d: d.fingerprint}


def models(data: MnistData) -> tuple[list[RobustModel], list[str]]:
    """The rows of the table (every trained model and variant that can take images) and
    messages about models left out. Reads JSON records only."""
    return select_models(robustness_models(workspace().store), None)


def _signature(rows: list[RobustModel]) -> tuple[tuple[str, str], ...]:
    return tuple((m.id, m.fingerprint) for m in rows)


class _NothingCached(Exception):
    pass


def _results_stamp() -> tuple[tuple[str, int], ...]:
    """The saved robustness files (name, modification time): a new or rewritten one is a new key."""
    folder = workspace().store.side_dir(KIND)
    try:
        return tuple(sorted((f.name, f.stat().st_mtime_ns) for f in folder.iterdir()))
    except OSError:
        return ()


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=_HASH)
def _load(folder: str, data: MnistData, signature: tuple, digits: int | None, seed: int, stamp: tuple,
          _rows: list[RobustModel]) -> tuple[RobustnessResult, tuple[str, ...]]:
    result, missing = load_cached_robustness(workspace().store, _rows, digits=digits, random_state=seed)
    if result is None:
        raise _NothingCached  # not cached: ask again on the next rerun
    return result, tuple(m.id for m in missing)


def load_result(data: MnistData, rows: list[RobustModel], digits: int | None, seed: int = 0
                ) -> tuple[RobustnessResult | None, list[str]]:
    """The cached result for ``rows`` (None when nothing is cached yet) and the ids of the rows
    still missing. Read once per set of saved files, so models that finish appear on the next rerun."""
    try:
        result, missing = _load(models_path(), data, _signature(rows), digits, seed, _results_stamp(), rows)
    except _NothingCached:
        return None, [m.id for m in rows]
    return result, list(missing)


def _job_key(data: MnistData, digits: int | None, seed: int) -> str:
    return f"robustness:{models_path()}:{data.fingerprint}:{digits}:{seed}"


def job(data: MnistData, digits: int | None, seed: int = 0) -> Job | None:
    """This process's robustness job for these settings (queued, running or finished), if any."""
    return job_runner().get(_job_key(data, digits, seed))


def start(data: MnistData, rows: list[RobustModel], digits: int | None, seed: int = 0) -> Job:
    """Queue the computation of every missing row as a background job (one per settings)."""
    store = workspace().store
    n = "all" if digits is None else f"{digits:,}"

    def work() -> list[str]:  # the results go to the side files; the job keeps only the notes
        return compute_robustness(store, rows, digits=digits, random_state=seed).skipped

    return job_runner().submit(_job_key(data, digits, seed), work,
                                     label=f"Robustness of {len(rows)} models on {n} digits")


@st.cache_data(show_spinner="Measuring the test digits…", max_entries=4, hash_funcs=_HASH)
def digit_properties(data: MnistData) -> pd.DataFrame:
    """Ink, slant, ink box, thickness and offset of every test digit (kept as a side file)."""
    return load_digit_properties(workspace().store)


@st.cache_data(show_spinner="Finding weak slices…", max_entries=32, hash_funcs=_HASH)
def slices(data: MnistData, model_id: str, fingerprint: str, _row: RobustModel) -> tuple[pd.DataFrame, np.ndarray]:
    """The model's weak slices (core.analysis.slices.find_slices) and its (n_test,) predictions."""
    store = workspace().store
    preds = store.cached_predictions(_row.record)
    if preds is None:
        loaded = store.load(_row.record)
        if loaded is None:
            raise LookupError(f"the saved model {model_id} could not be loaded")
        preds = store.predictions(loaded)
    return find_slices(preds.y_pred == preds.y_true, digit_properties(data)), preds.y_pred


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=_HASH)
def corrupted_digits(data: MnistData, corruption: str, severity: int, indices: tuple[int, ...], seed: int) -> np.ndarray:
    """The test digits ``indices`` (k, 784) corrupted as the table's computation corrupted them."""
    idx = np.asarray(indices, dtype=np.int64)
    return corrupt(data.X_test[idx], corruption, severity, indices=idx, random_state=seed)
