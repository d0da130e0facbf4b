"""The "use corrected labels" switch, the hook that applies it, and the Streamlit caches of
the Compare models and Label errors pages.

The switch's state lives in ``st.session_state[SWITCH_KEY]`` (not a widget key, so it
survives pages that do not draw the switch). With it on, :func:`corrected` returns test
predictions whose ``y_true`` has the user's marked labels fixed
(``core.analysis.label_errors.apply_corrections``); with it off, the predictions unchanged.

Every page follows the switch: ``cache.load_predictions`` returns :func:`corrected`
predictions, and the metrics caches hash MnistData with :func:`data_key`
(``cache.LABELLED_HASH_FUNCS``). This module imports ``dashboard.cache`` inside its functions,
so cache.py imports it at the top.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pandas as pd
import streamlit as st

from core.analysis.evaluation import TestPredictions
from core.analysis.label_errors import apply_corrections, rank_suspects
from core.data.sources import MnistData
from core.errors import DashboardError
from core.store.marks import load_marks

__all__ = [
    "SWITCH_KEY",
    "corrected",
    "data_key",
    "load_suspects",
    "marks",
    "original",
    "sidebar_switch",
    "switch_on",
    "trained_predictions",
]

SWITCH_KEY = "use_corrected_labels"
_WIDGET_KEY = "_use_corrected_labels_toggle"


def switch_on() -> bool:
    """Whether the user switched "use corrected labels" on (False outside a Streamlit run)."""
    try:
        return bool(st.session_state.get(SWITCH_KEY, False))
    except Exception:  # noqa: BLE001 - no session (e.g. a bare script): the switch is off
        return False


def marks(data: MnistData) -> dict[int, int | None]:
    """The user's marks for ``data`` (test index -> corrected digit, or None = label fine);
    an unreadable marks file counts as no marks (the Label errors page shows why)."""
    from dashboard import cache  # imported here: cache.py imports this module

    try:
        return load_marks(cache.store(data))
    except DashboardError:
        return {}


def _copy_switch() -> None:
    st.session_state[SWITCH_KEY] = bool(st.session_state[_WIDGET_KEY])


def sidebar_switch(data: MnistData) -> bool:
    """Draw the "use corrected labels" toggle in the sidebar; returns whether it is on."""
    st.session_state[_WIDGET_KEY] = switch_on()
    from dashboard import cache

    try:
        load_marks(cache.store(data))
    except DashboardError as exc:
        st.sidebar.warning(f"Label marks ignored: {exc}", icon=":material/warning:")
    fixes = sum(1 for d in marks(data).values() if d is not None)
    st.sidebar.toggle(
        "use corrected labels", key=_WIDGET_KEY, on_change=_copy_switch,
        help=f"Recompute every page's metrics with the labels you marked wrong on the Label errors page "
             f"fixed ({fixes} marked wrong for this data).",
    )
    if switch_on():
        st.sidebar.caption(f"Metrics use {fixes} corrected test label{'s' if fixes != 1 else ''}.")
    return switch_on()


def corrected(preds: TestPredictions, data: MnistData) -> TestPredictions:
    """The hook: ``preds`` with the marked labels fixed when the switch is on."""
    return apply_corrections(preds, marks(data)) if switch_on() else preds


def original(preds: TestPredictions, data: MnistData) -> TestPredictions:
    """``preds`` against the data set's own labels, whatever the switch says."""
    return preds if preds.y_true is data.y_test else replace(preds, y_true=data.y_test)


def data_key(data: MnistData) -> str:
    """A cache key for ``data`` that changes with the switch and the marks."""
    if not switch_on():
        return data.fingerprint
    blob = json.dumps(sorted((k, v) for k, v in marks(data).items() if v is not None))
    return f"{data.fingerprint}:corrected:{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def trained_predictions(data: MnistData) -> tuple[dict[str, TestPredictions], dict[str, str], list[str]]:
    """Every trained model's test predictions against the ORIGINAL labels, their labels
    (name -> display label) and warnings about unusable models. The ONE place these pages
    find trained models (switch it to the artifact store here)."""
    from dashboard import cache

    statuses = [s for s in cache.load_model_status(data) if s.trained]
    models, problems = cache.load_models(statuses, data)
    preds = {name: original(cache.load_predictions(model, data), data) for name, model in models.items()}
    return preds, {s.name: s.label for s in statuses if s.name in preds}, problems


def _preds_key(preds: dict[str, TestPredictions]) -> str:
    h = hashlib.sha256()
    for name in sorted(preds):
        p = preds[name]
        h.update(name.encode())
        h.update(p.y_pred.tobytes())
        h.update(p.scores.tobytes())
    return h.hexdigest()


@st.cache_data(show_spinner="Ranking the test labels with cleanlab…", max_entries=16)
def _rank(key: str, _preds: dict[str, TestPredictions], calibrate: bool) -> pd.DataFrame:
    return rank_suspects(_preds, calibrate_decision=calibrate)


def load_suspects(preds: dict[str, TestPredictions], *, calibrate: bool) -> pd.DataFrame:
    """``core.analysis.label_errors.rank_suspects`` over ``preds`` (all test digits), cached by content."""
    return _rank(_preds_key(preds), preds, calibrate)
