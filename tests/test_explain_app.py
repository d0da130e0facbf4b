"""The Digit inspector and Trust pages under Streamlit's AppTest (sample data, real trained models)."""

from __future__ import annotations

import pytest
from apptest_support import assert_clean, run_page, tiles
from conftest import predictions_of
from streamlit.testing.v1 import AppTest

from core.analysis.trust import hand_over
from core.models.catalog import MODEL_NAMES, MODELS


def open_page(page: str, **query: str) -> AppTest:
    return run_page(page, query)


@pytest.mark.parametrize("model", ["logreg", "knn"])
def test_inspector_opens_the_index_from_the_url(env, sample_data, model):
    at = open_page("pages/7_Digit_inspector.py", index="123", model=model)
    assert_clean(at)
    assert at.title[0].value == "Digit inspector"
    assert at.number_input(key="inspect_index").value == 123
    assert f"### Label: {int(sample_data.y_test[123])}" in [m.value for m in at.markdown]
    assert len(at.dataframe[0].value) == len(MODEL_NAMES)  # every model's answer
    charts = at.get("plotly_chart")
    linear = model == "logreg"
    assert len(charts) in ((2, 3) if linear else (1, 2))  # map(s) (+ the weight images for a linear model)
    assert any(s.value == "Class weight images" for s in at.subheader) == linear
    assert tiles(at) == 8  # the nearest training digits
    assert at.query_params["index"] == ["123"] or at.query_params["index"] == "123"


def test_inspector_refuses_a_bad_index(env):
    at = open_page("pages/7_Digit_inspector.py", index="99999")
    assert not at.exception
    assert "99999" in at.warning[0].value
    assert at.number_input(key="inspect_index").value == 0


def test_trust_page_renders(env, sample_models, sample_data):
    at = open_page("pages/8_Trust.py")
    assert_clean(at)
    assert at.title[0].value == "Trust"
    assert len(at.get("plotly_chart")) == 2  # reliability diagram and abstention curves
    proba = [n for n in MODEL_NAMES if MODELS[n].has_proba]
    assert len(at.dataframe[0].value) == len(proba)
    assert "decision scores, not probabilities" in at.info[0].value
    chosen = at.selectbox(key="trust_model").value
    expected = hand_over(predictions_of(sample_models[chosen], sample_data), 0.02)
    assert tiles(at) == len(expected.indices) == 20
    at.slider(key="trust_share").set_value(5.0).run()
    assert_clean(at)
    assert tiles(at) == 40  # 50 handed over, 40 per gallery page


def test_loading_the_models_starts_their_neighbour_indexes(env, sample_data, sample_models):
    """Opening any page loads the trained models; each load also builds the model's nearest-
    neighbour index in the background, so the Digit inspector's first visit does not wait."""
    import time

    import streamlit as st

    from core.analysis import explain

    st.cache_resource.clear()  # the models load afresh in this test (AppTest shares the process cache)
    explain.clear_neighbour_cache()
    assert_clean(run_page(None))  # Home
    keys = {f"{explain._space_key(m.pipeline)}:{sample_data.fingerprint}" for m in sample_models.values()}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # built by the background worker, not by this test
        with explain._INDEX_LOCK:
            built = set(explain._INDEX)
        if keys <= built:
            break
        time.sleep(0.2)
    assert keys <= built, keys - built


def test_trust_page_calibrates_every_model_on_request(env, sample_models, sample_data):
    """The calibration switch puts every model, decision scores included, on the reliability
    diagram with its ECE after out-of-fold calibration (core.analysis.trust.calibrate_out_of_fold)."""
    from core.analysis.trust import calibrate_out_of_fold

    at = open_page("pages/8_Trust.py")
    at.toggle(key="trust_calibrate").set_value(True).run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) == len(MODEL_NAMES)
    assert not [i for i in at.info if "decision scores, not probabilities" in i.value]
    for name, model in sample_models.items():
        row = table[table["model"] == MODELS[name].label].iloc[0]
        cal = calibrate_out_of_fold(predictions_of(model, sample_data), method="temperature")
        assert row["ECE after temperature"] == f"{100 * cal.after.ece:.2f}%"
        assert (row["calibration error (ECE)"] == "n/a (decision scores)") == (not MODELS[name].has_proba)
    at.selectbox(key="trust_method").set_value("isotonic").run()
    assert_clean(at)
    assert "ECE after isotonic" in at.dataframe[0].value.columns
