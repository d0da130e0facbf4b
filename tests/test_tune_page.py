"""The Tune page under AppTest: a tiny search, the heatmap, training the best as a variant that the
other pages then show, cross-validation, and a bad grid value shown as a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_support import html_tables
from conftest import make_store
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "dashboard" / "Home.py")


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return tmp_path


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def open_tune() -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180)
    at.switch_page("pages/9_Tune.py")
    return at.run()


def test_tune_page_search_train_best_and_cv(env, sample_data):
    at = clean(open_tune())
    assert at.title[0].value == "Tune"
    clean(at.selectbox(key="tune_model").set_value("knn").run())
    at.text_input(key="tune_knn_n_neighbors").set_value("1,3")
    at.text_input(key="tune_knn_pca").set_value("20")
    at.number_input(key="tune_folds").set_value(3)
    at.number_input(key="tune_max_train").set_value(600)
    clean(at.button(key="tune_run").click().run())
    assert at.success[0].value.startswith("best: n_neighbors=")
    assert len(at.get("plotly_chart")) == 1
    table = at.dataframe[0].value
    assert len(table) == 4 and "CV accuracy %" in table.columns
    assert list((env / "search").glob("knn-*.json"))

    label = at.button(key="tune_train_best").label
    assert "pca=20" in label and "weights=" in label and "n_neighbors=" in label, label  # every best setting
    clean(at.button(key="tune_train_best").click().run())  # a background job, like Home's button
    from dashboard.data.jobs import job_runner

    for job in job_runner().jobs():
        assert job.wait(180)
    clean(at.run())
    record = make_store(env, sample_data).latest("knn")
    assert record is not None and record.options["params"]["pca"] == 20
    assert "Every page now shows this variant" in at.info[0].value

    clean(at.button(key="tune_cv_run").click().run())
    assert at.metric[0].value.endswith("%")

    # the variant (with its options) is what the other pages use
    home = clean(AppTest.from_file(HOME, default_timeout=180).run())
    shown = "".join(str(df.to_dict()) for df in html_tables(home))
    assert "pca=20" in shown, shown

    at.text_input(key="tune_knn_n_neighbors").set_value("one")
    at.button(key="tune_run").click().run()
    assert not at.exception
    assert "'one'" in at.error[0].value
