"""The Compare models and Label errors pages under AppTest, on the sample with real models.

Clicks on the difference matrix are injected as the chart's selection event (AppTest runs no
JavaScript); the real-browser clicks are in tests/browser/test_compare_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_support import assert_clean, gallery_html, run_page, tiles
from conftest import make_store
from streamlit.testing.v1 import AppTest

from core.analysis.compare import (
    compare_predictions,
    difference_cell,
    format_p,
    quadrant_indices,
)
from core.analysis.label_errors import rank_suspects
from core.store.marks import load_marks, marks_path

COMPARE, LABELS = "pages/5_Compare_models.py", "pages/6_Label_errors.py"


@pytest.fixture
def env(monkeypatch, tmp_path, sample_models_dir):
    """The sample and the session's trained models, in a models folder of this test's own
    (symlinks), so the marks file it writes does not leak into other tests."""
    folder, _ = sample_models_dir
    for f in Path(folder).iterdir():
        # the trained models only: marks (and their lock) that other tests left there stay out
        if f.is_file() and not f.name.startswith("label-marks-") and not f.name.endswith(".lock"):
            (tmp_path / f.name).symlink_to(f)
    monkeypatch.setenv("MNIST_SOURCE", "sample")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    return tmp_path


def open_page(page: str, *, query: dict[str, str] | None = None) -> AppTest:
    return run_page(page, query)


def qp(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def test_compare_page_from_a_link(env, preds):
    at = open_page(COMPARE, query={"a": "knn", "b": "sgd"})
    assert_clean(at)
    assert at.title[0].value == "Compare models"
    assert [at.sidebar.selectbox[0].value, at.sidebar.selectbox[1].value] == ["knn", "sgd"]
    result = compare_predictions(preds["knn"], preds["sgd"], name_a="KNN", name_b="SGD (hinge)")
    verdicts = [m.value for m in (*at.success, *at.info) if m.value.startswith("**Verdict:**")]
    assert len(verdicts) == 1 and result.verdict[1:] in verdicts[0] and format_p(result.p_value) in verdicts[0]
    labels = {b.key: b.label for b in at.button if b.key.startswith("cmp_q_")}
    assert labels["cmp_q_only_a_right"] == f"only A right: {result.only_a_right:,}"
    assert labels["cmp_q_both_wrong"] == f"both wrong: {result.both_wrong:,}"

    # a quadrant opens its gallery, each tile with both answers
    at.button(key="cmp_q_only_a_right").click().run()
    assert_clean(at)
    expected = quadrant_indices(preds["knn"], preds["sgd"], "only_a_right")
    assert at.subheader[-1].value == f"only A (KNN) right: {len(expected)} digits"
    assert tiles(at) == min(len(expected), 40)
    i = int(expected[0])
    assert f"A {preds['knn'].y_pred[i]} · B {preds['sgd'].y_pred[i]} · label {preds['knn'].y_true[i]}" in gallery_html(at)

    # a difference-matrix cell replaces it
    diff_cell = next(difference_cell(preds["knn"], preds["sgd"], t, p) for t in range(10) for p in range(10)
                     if t != p and 0 < len(difference_cell(preds["knn"], preds["sgd"], t, p).indices) <= 40)
    key = f"cmp_chart_{at.session_state['cmp_nonce']}"
    k = diff_cell.true * 10 + diff_cell.predicted
    at.session_state[key] = {"selection": {"points": [{"curve_number": 1, "point_index": k}], "point_indices": [k]}}
    at.run()
    assert_clean(at)
    favour = len(diff_cell.lost) - len(diff_cell.gained)  # off the diagonal: fewer of B's mistakes is B's favour
    assert at.subheader[-1].value == f"true {diff_cell.true} → predicted {diff_cell.predicted}: {favour:+d} in B's favour".replace("-", "−")
    assert any(m.value.startswith(f"**Only B (SGD (hinge)) puts these {len(diff_cell.gained)} digits here") for m in at.markdown)
    assert tiles(at) == len(diff_cell.indices)

    # a new pair goes into the URL
    at.sidebar.selectbox[1].set_value("mlp").run()
    assert qp(at, "a") == "knn" and qp(at, "b") == "mlp"


def test_compare_page_same_model_twice_and_bad_url(env):
    at = open_page(COMPARE, query={"a": "mlp", "b": "mlp"})
    assert not at.exception
    assert "two different models" in at.warning[0].value
    at = open_page(COMPARE, query={"a": "resnet"})
    assert not at.exception
    assert any("Unknown model 'resnet'" in w.value for w in at.sidebar.warning)


def test_label_errors_page_marks_persist_and_correct_the_metrics(env, preds, sample_data):
    at = open_page(LABELS)
    assert_clean(at)
    assert at.title[0].value == "Label errors"
    expected = rank_suspects({n: p for n, p in preds.items()})
    first = int(expected["index"].iloc[0])
    box = at.selectbox(key=f"le_mark_{first}")
    suggested = int(expected["suggested"].iloc[0])
    box.set_value(f"label is wrong (it is a {suggested})").run()
    assert_clean(at)
    assert load_marks(make_store(env, sample_data)) == {first: suggested}

    # a fresh session (a restart) shows the saved mark
    at = open_page(LABELS)
    assert at.selectbox(key=f"le_mark_{first}").value == f"label is wrong (it is a {suggested})"
    assert at.get("download_button")

    # the switch corrects the label on other pages: A's accuracy moves by exactly that digit
    a = next(n for n, p in preds.items() if p.y_pred[first] == suggested)  # its "mistake" becomes right
    b = next(n for n in preds if n != a)
    at = open_page(COMPARE, query={"a": a, "b": b})
    before = at.metric[0].value
    at.sidebar.toggle[0].set_value(True).run()
    assert_clean(at)
    n = len(sample_data.y_test)
    change = int(preds[a].y_pred[first] == suggested) - int(preds[a].y_pred[first] == preds[a].y_true[first])
    assert change == 1
    correct = round(float(before.rstrip("%")) / 100 * n)
    assert at.metric[0].value == f"{(correct + change) / n:.2%}"


def test_unreadable_marks_file_is_reported_not_a_traceback(env, sample_data):
    path = marks_path(make_store(env, sample_data))
    path.parent.mkdir(exist_ok=True)
    path.write_text("{not json")
    try:
        at = open_page(LABELS)
        assert not at.exception
        shown = [w.value for w in at.warning]
        assert any("label marks file" in w and "move it away" in w.lower() for w in shown), shown
    finally:
        path.unlink()

