"""Every dashboard page under Streamlit's AppTest, on the offline sample with real trained models.

AppTest runs the scripts in this process without a browser (no JavaScript), so a click on the
confusion matrix is injected as the chart's selection event in session state; clicks and
drawing in a real browser are in tests/browser/.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from apptest_support import ROOT, assert_clean, gallery_html, html_tables, run_page, tiles
from streamlit.testing.v1 import AppTest

from core.analysis.evaluation import (
    binary_analysis,
    confusion,
    threshold_errors,
    threshold_for,
    threshold_metrics,
)
from core.analysis.thresholds import threshold_steps
from core.models.catalog import MODEL_NAMES

PAGES = {
    "home": None,
    "leaderboard": "pages/1_Leaderboard.py",
    "confusion": "pages/2_Confusion_matrix.py",
    "precision": "pages/3_Precision_recall.py",
    "draw": "pages/4_Draw_a_digit.py",
}
HEADING = re.compile(r"^true (\d) → predicted (\d): (\d+) digits")


def open_page(page: str, *, query: dict[str, str] | None = None) -> AppTest:
    return run_page(PAGES[page], query)


def gallery_heading(at: AppTest) -> str | None:
    found = [s.value for s in at.subheader if HEADING.match(s.value)]
    assert len(found) <= 1
    return found[0] if found else None


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(el.value) for el in at.sidebar.caption) + " ".join(str(el.value) for el in at.sidebar.markdown)


# --------------------------------------------------------------------- every page

EXPECTED_TITLES = {
    "home": "MNIST handwritten digits: a classifier dashboard",
    "leaderboard": "Leaderboard",
    "confusion": "Confusion matrix",
    "precision": "Precision recall",
    "draw": "Draw a digit",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_its_key_elements(env, page, sample_data):
    at = open_page(page)
    assert_clean(at)
    assert at.title[0].value == EXPECTED_TITLES[page]
    assert sample_data.description in sidebar_text(at)  # data source and size on every page
    assert "offline sample" in sidebar_text(at)  # ... and why it is used
    charts = at.get("plotly_chart")
    if page == "home":
        assert [h.value for h in at.header] == ["Data", "Models"]
        assert at.metric[1].value == "4,000" and at.metric[2].value == "1,000"
        (status,) = html_tables(at)  # a plain HTML table: Home loads no data grid (docs/ui-benchmark.md)
        assert len(status) == len(MODEL_NAMES) and set(status["status"]) == {"trained"}
        assert status["accuracy %"].between(85, 100).all()
        assert not [b for b in at.button if b.label.startswith("Train missing")]
        assert not charts and not at.dataframe and tiles(at) == 20  # 2 sample digits per class
        assert "balance-key" in "".join(el.proto.body for el in at.get("html"))  # the class balance bars
    elif page == "leaderboard":
        board = at.dataframe[0].value
        assert len(board) == len(MODEL_NAMES)
        assert list(board["accuracy %"]) == sorted(board["accuracy %"], reverse=True)
        assert {"macro precision %", "macro recall %", "macro F1 %", "± SE", "fit s", "predict ms/digit", "size MB",
                "options"} <= set(board.columns)
        assert len(charts) == 5  # accuracy bars, accuracy vs latency, F1 heatmap, MLP and CNN training curves
        assert len(at.multiselect[0].value) == len(MODEL_NAMES)
    elif page == "confusion":
        assert at.sidebar.selectbox[0].label == "Model"
        assert len(charts) == 1
        assert [r.value for r in at.radio] == ["errors"]  # errors visible by default
        assert [b for b in at.button if b.key.startswith("top_") and " → " in b.label]  # top confusions
        assert "Click a cell" in at.info[0].value
    elif page == "precision":
        assert at.selectbox[0].value == 5  # the classic 5-detector
        assert len(at.metric) == 8 and len(charts) == 3
        assert [s.value.split(":")[0] for s in at.subheader] == ["False positives", "False negatives"]
        assert at.toggle(key="pr_zoom").value  # zoomed on the corner by default
    elif page == "draw":
        assert "Draw a digit" in at.info[0].value  # nothing drawn yet: a prompt, no prediction
        assert not [h for h in at.header if h.value.startswith("Prediction:")]


# Every page file except Tune, which searches hyperparameters without any trained model, and Your
# model, which imports one.
NEED_MODELS = [f"pages/{p.name}" for p in sorted((ROOT / "dashboard" / "pages").glob("*.py"))
               if not p.stem.endswith(("_Tune", "_Your_model"))]


@pytest.mark.parametrize("page", NEED_MODELS)
def test_without_trained_models_pages_say_train_first(monkeypatch, tmp_path, page):
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    at = run_page(page)
    assert not at.exception
    assert "No trained models yet" in at.info[0].value
    assert "python -m core train --source sample" in at.info[0].value


def test_home_without_models_offers_the_train_button(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    at = open_page("home")
    assert_clean(at)
    assert [b.label for b in at.button] == [f"Train missing models ({len(MODEL_NAMES)})"]
    assert set(html_tables(at)[0]["status"]) == {"not trained"}


def _wait_for_training(at: AppTest, timeout: float = 180) -> AppTest:
    """Rerun the page until no background training job is queued or running."""
    import time

    from dashboard.data.jobs import job_runner

    deadline = time.monotonic() + timeout
    while job_runner().active():
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.5)
    return at.run()


def test_home_train_button_trains_the_missing_model(env, tmp_path, monkeypatch):
    folder = shutil.copytree(env, tmp_path / "models")
    for f in folder.glob("sgd-*"):
        f.unlink()
    monkeypatch.setenv("MODELS_DIR", str(folder))
    at = open_page("home")
    assert any("SGD" in i.value and "not trained yet" in i.value for i in at.info)
    (button,) = [b for b in at.button if b.label.startswith("Train missing")]
    assert button.label == "Train missing models (1)"
    at = button.click().run()
    assert_clean(at)
    at = _wait_for_training(at)
    assert_clean(at)
    assert "All models are trained" in at.success[0].value
    assert not [i for i in at.info if "not trained yet" in i.value]  # no stale message above it
    assert not [b for b in at.button if b.label.startswith("Train missing")]
    assert set(html_tables(at)[0]["status"]) == {"trained"}
    assert list(folder.glob("sgd-*.json"))


def test_home_puts_the_train_button_first_and_counts_the_catalog(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    at = open_page("home")
    assert_clean(at)
    order = [type(el).__name__ + ":" + str(getattr(el, "label", None) or getattr(el, "value", "")) for el in at.main]
    button = next(i for i, e in enumerate(order) if e.startswith("Button:Train missing"))
    data_header = next(i for i, e in enumerate(order) if e == "Header:Data")
    assert button < data_header, order
    intro = at.markdown[0].value
    assert intro.startswith(f"{len(MODEL_NAMES)} classifiers") and "seven" not in intro.lower()
    assert not list(tmp_path.iterdir())  # showing the page created nothing in the models folder


def test_corrupt_model_file_gives_a_warning_not_a_traceback(env, tmp_path, monkeypatch):
    folder = shutil.copytree(env, tmp_path / "models")
    (joblib_file,) = folder.glob("knn-*.joblib")
    joblib_file.write_bytes(b"this is not a pickle")
    monkeypatch.setenv("MODELS_DIR", str(folder))
    at = open_page("leaderboard")
    assert not at.exception
    assert any("unusable" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == len(MODEL_NAMES) - 1
    at = open_page("leaderboard")  # core deleted it: from now on it is simply not trained
    assert not at.exception and not at.warning
    assert any("KNN" in c.value for c in at.caption if c.value.startswith("Not trained yet"))


def test_unknown_model_in_the_url_is_explained(env):
    at = open_page("confusion", query={"model": "resnet"})
    assert not at.exception
    assert any("Unknown model 'resnet'" in w.value for w in at.sidebar.warning)
    assert at.sidebar.selectbox[0].value in MODEL_NAMES


def test_model_from_the_url_is_used_and_written_back(env):
    at = open_page("confusion", query={"model": "svc_ovr"})
    assert_clean(at)
    assert at.sidebar.selectbox[0].value == "svc_ovr"
    at.sidebar.selectbox[0].set_value("logreg").run()
    assert at.query_params["model"] in ("logreg", ["logreg"])  # mirrored in the URL


def test_bad_data_source_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_SOURCE", "floppy")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    for page in ("home", "confusion"):
        at = open_page(page)
        assert not at.exception
        assert "MNIST could not be loaded" in at.error[0].value and "floppy" in at.error[0].value


# --------------------------------------------------------------- confusion matrix


def click_cell(at: AppTest, row: int, col: int) -> AppTest:
    """What a click on cell (row, col) sends: the chart's selection event with point row*10+col."""
    key = f"cm_chart_{at.session_state['cm_nonce']}"
    at.session_state[key] = {"selection": {"points": [{"curve_number": 1, "point_index": row * 10 + col,
                                                       "x": col, "y": row}], "point_indices": [row * 10 + col]}}
    return at.run()


def test_confusion_cell_click_opens_exactly_its_digits(env, preds):
    cm = confusion(preds["mlp"])
    off = cm * (1 - np.eye(10, dtype=int))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    at = open_page("confusion", query={"model": "mlp"})
    at = click_cell(at, i, j)
    assert_clean(at)
    assert gallery_heading(at) == f"true {i} → predicted {j}: {cm[i, j]} digits"
    assert tiles(at) == cm[i, j]
    assert at.get("download_button")

    # a second cell replaces the first
    i2, j2 = next((a, b) for a in range(10) for b in range(10) if a != b and 0 < cm[a, b] and (a, b) != (i, j))
    at = click_cell(at, i2, j2)
    assert gallery_heading(at) == f"true {i2} → predicted {j2}: {cm[i2, j2]} digits"
    assert tiles(at) == cm[i2, j2]

    # clicking the selected cell again closes the gallery
    at = click_cell(at, i2, j2)
    assert gallery_heading(at) is None and tiles(at) == 0


def test_confusion_diagonal_cell_pages_least_confident_first(env, preds):
    cm = confusion(preds["mlp"])
    at = click_cell(open_page("confusion", query={"model": "mlp"}), 3, 3)
    assert_clean(at)
    assert gallery_heading(at) == f"true 3 → predicted 3: {cm[3, 3]} digits (least confident first)"
    assert cm[3, 3] > 40 and tiles(at) == 40  # one page of 40
    pager = at.number_input[0]
    assert pager.max == -(-cm[3, 3] // 40)
    pager.set_value(2).run()
    assert tiles(at) == min(40, cm[3, 3] - 40)


def test_confusion_cell_in_the_url_opens_its_gallery(env, preds):
    cm = confusion(preds["knn"])
    at = open_page("confusion", query={"model": "knn", "cell": "4-9", "view": "normalized"})
    assert_clean(at)
    assert gallery_heading(at) == f"true 4 → predicted 9: {cm[4, 9]} digits"
    assert at.radio[0].value == "normalized"
    at = click_cell(at, 4, 9)  # closing the gallery takes the cell out of the URL
    assert "cell" not in at.query_params


def test_confusion_views_keep_the_selected_cell(env, preds):
    cm = confusion(preds["knn"])
    at = click_cell(open_page("confusion", query={"model": "knn"}), 4, 9)
    for mode in ("normalized", "errors"):
        at.radio[0].set_value(mode).run()
        assert_clean(at)
        assert gallery_heading(at) == f"true 4 → predicted 9: {cm[4, 9]} digits"


def test_top_confusion_button_opens_its_gallery(env, preds):
    p = preds["svc_ovo"]
    cm = confusion(p)
    at = open_page("confusion", query={"model": "svc_ovo"})
    buttons = [b for b in at.button if b.key and b.key.startswith("top_")]
    assert buttons
    first = buttons[0]
    i, j = (int(x) for x in first.key.split("_")[1:])
    assert cm[i, j] == (cm * (1 - np.eye(10, dtype=int))).max()  # the biggest confusion comes first
    at = first.click().run()
    assert gallery_heading(at) == f"true {i} → predicted {j}: {cm[i, j]} digits"
    assert tiles(at) == cm[i, j]


# ----------------------------------------------------------------- precision/recall


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_threshold_slider_changes_the_metrics(env, preds):
    analysis = binary_analysis(preds["logreg"], 5)
    at = open_page("precision", query={"model": "logreg"})
    assert_clean(at)
    slider = at.select_slider[0]
    assert slider.value == 0.5 and "probability" in slider.label
    assert any(c.value.startswith("Threshold: 0.5000.") for c in at.caption)
    before = metric_values(at)
    expected = threshold_metrics(analysis.y, analysis.scores, 0.5)
    assert before["Precision"] == f"{expected['precision']:.1%}"
    assert before["Recall"] == f"{expected['recall']:.1%}"

    # the notches are core.analysis.thresholds' steps (even in log-odds); take one high up
    notches = threshold_steps(analysis.y, analysis.scores, analysis.score_kind, extra=(0.5,))
    assert slider.options == [str(v) for v in notches] or len(slider.options) == len(notches)
    high = float(notches[int(0.9 * len(notches))])
    assert high > 0.5
    slider.set_value(high).run()
    assert_clean(at)
    after = metric_values(at)
    expected = threshold_metrics(analysis.y, analysis.scores, high)
    assert after["Precision"] == f"{expected['precision']:.1%}" and after["Recall"] == f"{expected['recall']:.1%}"
    assert after["Recall"] != before["Recall"]
    assert at.subheader[1].value == f"False negatives: {expected['fn']:,}"
    assert at.query_params["threshold"] in (repr(high), [repr(high)])  # in the URL


def test_threshold_is_kept_per_digit(env, preds):
    analysis = binary_analysis(preds["logreg"], 5)
    high = threshold_steps(analysis.y, analysis.scores, analysis.score_kind)[150]
    at = open_page("precision", query={"model": "logreg"})
    at.select_slider[0].set_value(high).run()
    assert at.select_slider[0].value == high > 0.5
    at.selectbox(key="pr_digit").set_value(3).run()
    assert_clean(at)
    assert at.select_slider[0].value == 0.5  # digit 3 starts at 0.5
    at.selectbox(key="pr_digit").set_value(5).run()
    assert_clean(at)
    assert at.select_slider[0].value == high  # digit 5 kept its threshold


def test_url_digit_and_threshold_open_that_view(env, preds):
    at = open_page("precision", query={"model": "logreg", "digit": "3", "threshold": "0.93"})
    assert_clean(at)
    assert at.selectbox(key="pr_digit").value == 3
    assert at.select_slider[0].value == 0.93
    m = threshold_metrics(*(lambda a: (a.y, a.scores))(binary_analysis(preds["logreg"], 3)), 0.93)
    assert metric_values(at)["Recall"] == f"{m['recall']:.1%}"


def test_false_negative_gallery_pages_through_every_digit(env, preds):
    analysis = binary_analysis(preds["logreg"], 5)
    at = open_page("precision", query={"model": "logreg", "threshold": "0.9999"})
    m = threshold_metrics(analysis.y, analysis.scores, 0.9999)
    assert m["fn"] > 40  # more than one page
    assert at.subheader[1].value == f"False negatives: {m['fn']:,}"
    pager = at.number_input(key="pr_page_fn_logreg_5")
    assert pager.max == -(-m["fn"] // 40)
    seen = set()
    for k in range(1, int(pager.max) + 1):
        at.number_input(key="pr_page_fn_logreg_5").set_value(k).run()
        html = gallery_html(at)
        seen |= {int(i) for i in re.findall(r'data-index="(\d+)"', html)}
    _, fn = threshold_errors(analysis, 0.9999)
    assert set(map(int, fn)) <= seen


def test_target_precision_moves_the_threshold(env, preds):
    analysis = binary_analysis(preds["svc_ovr"], 5)
    at = open_page("precision", query={"model": "svc_ovr"})
    assert "decision score" in at.select_slider[0].label
    at.number_input(key="pr_target").set_value(99.0)
    at.button(key="pr_target_button").click().run()
    assert_clean(at)
    expected = threshold_for(analysis, precision=0.99)
    assert at.select_slider[0].value == expected  # exactly core's threshold, not a rounded notch
    m = threshold_metrics(analysis.y, analysis.scores, expected)
    assert m["precision"] >= 0.99
    assert metric_values(at)["Precision"] == f"{m['precision']:.1%}"


def test_other_digit_and_model_without_probabilities(env, preds):
    at = open_page("precision", query={"model": "sgd"})
    at.selectbox[0].set_value(8).run()
    assert_clean(at)
    assert "digit 8" in at.select_slider[0].label and "decision score" in at.select_slider[0].label
    best_f1 = binary_analysis(preds["sgd"], 8).pr["f1"].idxmax()
    assert at.select_slider[0].value == binary_analysis(preds["sgd"], 8).pr["threshold"].iloc[best_f1]


def test_streamlit_skips_the_full_gc_after_every_run():
    """Streamlit's default runs gc.collect() after each script run; with eight models and full
    MNIST loaded that held the GIL for ~0.2 s on every click (UI benchmark). The app's config
    (read by ``streamlit run`` from the project folder, as the README runs it) turns it off."""
    import subprocess
    import sys

    probe = ("from streamlit import config; config.get_config_options(force_reparse=True); "
             "print(config.get_option('runner.postScriptGC'), config.get_where_defined('runner.postScriptGC'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    value, where = out.stdout.split(maxsplit=1)
    assert value == "False", out.stdout
    assert where.strip() == str(ROOT / ".streamlit" / "config.toml")


def test_the_chart_code_to_prefetch_is_found_in_the_installed_streamlit():
    """setup_page prefetches Streamlit's Plotly and data-grid chunks by file name; a Streamlit
    upgrade that renames them must fail here, not silently drop the prefetch."""
    from pathlib import Path

    import streamlit as st

    from dashboard.patches import chunk_files

    files = chunk_files()
    assert [f.split(".")[0] for f in files] == ["PlotlyChart", "DataFrame"]
    assert all((Path(st.__file__).parent / "static" / "static" / "js" / f).is_file() for f in files)
