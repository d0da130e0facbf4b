"""dashboard.state: the one model picker and the URL-synced widget helper, under AppTest on the
sample with real trained models."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
from streamlit.testing.v1 import AppTest

from core.models.catalog import MODEL_NAMES


def _picker_script():
    import streamlit as st

    from dashboard import state
    from dashboard.data.workspace import model_statuses, workspace

    ws = workspace()
    st.sidebar.write(state.model_picker(ws, model_statuses(ws)))


def _snapshot(folder) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*"))}


def test_the_model_picker_reads_cached_accuracies_only(sample_models_dir, preds, tmp_path, monkeypatch):
    """Picking a model unpickles nothing, writes nothing, creates no file and starts no job: its
    default (the most accurate model) comes from the cached predictions beside the artifacts."""
    import joblib

    from core.analysis import explain
    from dashboard.data.jobs import job_runner

    folder = shutil.copytree(sample_models_dir[0], tmp_path / "models")
    for p in folder.rglob("*"):
        p.chmod(stat.S_IRUSR | (stat.S_IXUSR if p.is_dir() else 0))
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    before = _snapshot(folder)
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    loads = []
    real_load = joblib.load
    monkeypatch.setattr(joblib, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    prefetched = []
    monkeypatch.setattr(explain, "prefetch_neighbour_index", lambda *a, **k: prefetched.append(a))
    jobs_before = len(job_runner().jobs())
    try:
        at = AppTest.from_function(_picker_script, default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        accuracy = {n: float(np.mean(p.y_pred == p.y_true)) for n, p in preds.items()}
        best = max(MODEL_NAMES, key=lambda n: (accuracy[n], -MODEL_NAMES.index(n)))
        assert at.sidebar.selectbox[0].value == best
        assert at.query_params["model"] in (best, [best])
        assert loads == [], "a model was unpickled"
        assert _snapshot(folder) == before, "the models folder changed"
        assert len(job_runner().jobs()) == jobs_before and not prefetched, "a background job started"
    finally:
        for p in [folder, *folder.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)


def _switch_script():
    import streamlit as st

    from dashboard import state
    from dashboard.data.workspace import workspace

    st.sidebar.write(len(state.label_fixes(workspace())))


def test_the_corrected_labels_switch_lives_in_the_url(env):
    at = AppTest.from_function(_switch_script, default_timeout=120)
    at.query_params["corrected"] = "1"
    at.run()
    assert not at.exception
    assert at.sidebar.toggle[0].value is True
    at.sidebar.toggle[0].set_value(False).run()
    assert "corrected" not in at.query_params
    at.sidebar.toggle[0].set_value(True).run()
    assert at.query_params["corrected"] in ("1", ["1"])


def _number_script():
    import streamlit as st

    from dashboard import state

    state.url_widget(st.number_input, "n", key="n", param="n", initial=0, parse=int, step=1)


def test_a_url_lagging_behind_the_sessions_own_writes_is_not_a_link_the_user_brought():
    """Quick changes: the browser may send the next rerun before the URL it shows has caught up
    with what the session wrote (here: it still shows n=1 after the session wrote 2). That older
    value of the session's own is not a link the user brought: the widget keeps the user's
    newest value instead of jumping back (it did: a threshold slider ended on another notch
    than its URL)."""
    at = AppTest.from_function(_number_script, default_timeout=60)
    at.run()
    for n in (1, 2):
        at.number_input[0].set_value(n).run()
    assert at.query_params["n"] in ("2", ["2"])
    at.query_params["n"] = "1"  # the browser's URL lags one write behind
    at.number_input[0].set_value(3).run()
    assert not at.exception
    assert at.number_input[0].value == 3
    assert at.query_params["n"] in ("3", ["3"])


def test_a_link_the_user_brings_still_wins():
    at = AppTest.from_function(_number_script, default_timeout=60)
    at.query_params["n"] = "7"
    at.run()
    assert at.number_input[0].value == 7
    at.number_input[0].set_value(8).run()
    assert at.number_input[0].value == 8 and at.query_params["n"] in ("8", ["8"])


def test_a_chart_click_is_read_from_the_cell_layer_only_and_the_latest_click_wins():
    """The one chart-click helper: trace 0 (the heatmap under the cells) and points off the
    clickable cells are ignored; a page's own ``cell_of`` maps a point to its cell."""
    from dashboard.state import cell_from_event

    def event(*points):
        return {"selection": {"points": list(points)}}

    assert cell_from_event(event({"curve_number": 1, "point_index": 49})) == (4, 9)
    assert cell_from_event(event({"curve_number": 0, "point_index": 49})) is None
    assert cell_from_event(event({"curve_number": 1, "point_index": 100})) is None
    assert cell_from_event(event({"curve_number": 1, "x": 9, "y": 4})) == (4, 9)
    latest = event({"curve_number": 1, "point_index": 3}, {"curve_number": 1, "point_index": 72})
    assert cell_from_event(latest) == (7, 2)
    for broken in (None, {}, {"selection": None}, {"selection": {"points": None}}, event({"curve_number": "x"})):
        assert cell_from_event(broken) is None

    columns = ["clean", "rotate", "blur", "mean"]  # two clickable columns per row, as in Robustness

    def corruption_cell(k: int):
        row, col = divmod(k, len(columns))
        return (f"model{row}", columns[col]) if columns[col] in ("rotate", "blur") else None

    assert cell_from_event(event({"curve_number": 1, "point_index": 5}), cell_of=corruption_cell) == ("model1", "rotate")
    assert cell_from_event(event({"curve_number": 1, "point_index": 4}), cell_of=corruption_cell) is None
    # a point past the table falls through to the click before it
    past = event({"curve_number": 1, "point_index": 2}, {"curve_number": 1, "point_index": 99})
    assert cell_from_event(past, cell_of=lambda k: ("m", columns[k])) == ("m", "blur")
