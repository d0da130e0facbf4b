"""Bring your own model, in a real browser: upload an ONNX file (a PyTorch CNN trained on the
sample and exported with torch.onnx) on the "Your model" page, see it on the Leaderboard, click
one of its confusion-matrix cells, draw a digit and see its answer, then delete it in the app.
Expected numbers come from core on the same file."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from browser_support import no_exception_shown, open_app_page, settle
from conftest import make_store
from onnx_files import export, train_small_cnn
from playwright.sync_api import expect
from test_dashboard_browser import CELLS, DIGITS, _draw, click_cell, expect_gallery

from core.analysis.evaluation import confusion
from core.models.onnx_model import OnnxClassifier
from core.models.predict import compute_predictions
from core.store.imports import delete_import, imported_records

pytestmark = pytest.mark.browser
NAME = "browser_cnn"


@pytest.fixture(scope="module")
def onnx_file(sample_data, tmp_path_factory):
    cnn = train_small_cnn(sample_data.X_train, sample_data.y_train, steps=300)
    return export(cnn, tmp_path_factory.mktemp("upload") / f"{NAME}.onnx", torch.zeros(2, 1, 28, 28))


@pytest.fixture
def cleanup(sample_models_dir, sample_data):
    """The server's models folder is shared with the other browser tests: leave no import behind."""
    store = make_store(sample_models_dir[0], sample_data)
    yield store
    if any(r.name == NAME for r in imported_records(store)):
        delete_import(store, NAME)


def test_upload_an_onnx_model_and_use_it_on_every_page(page, server, onnx_file, sample_data, cleanup):
    clf = OnnxClassifier(onnx_file.read_bytes(), scale="0-1", output_kind="logits")
    preds = compute_predictions(clf, sample_data.X_test, sample_data.y_test)
    acc = 100 * np.mean(preds.y_pred == preds.y_true)

    open_app_page(page, server.url, "Your model", title="Your model")
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(onnx_file))
    settle(page)
    expect(page.get_by_label("Name", exact=True).and_(page.locator("input"))).to_have_value(NAME)  # suggested from the file name
    page.get_by_role("button", name="Import", exact=True).click()
    settle(page, timeout=180)
    success = page.locator('[data-testid="stAlertContentSuccess"]')
    expect(success).to_contain_text(f"Imported {NAME}")
    expect(success).to_contain_text("input layout nchw")
    expect(success).to_contain_text("softmax applied")
    expect(success).to_contain_text(f"test accuracy {acc:.2f}%")

    # the Leaderboard lists it with the accuracy core computes from the file
    open_app_page(page, server.url, "Leaderboard", title="Leaderboard")
    label = f"{NAME} (ONNX)"
    expect(page.locator('[data-testid="stMultiSelect"]').first).to_contain_text(label)
    bars = page.locator(".js-plotly-plot").first
    expect(bars).to_contain_text(label)
    expect(bars).to_contain_text(f"{acc:.2f}%")
    assert no_exception_shown(page)

    # its confusion matrix: a cell opens exactly its digits
    page.goto(f"{server.url}/Confusion_matrix?model={NAME}")
    page.locator("h1", has_text="Confusion matrix").wait_for()
    settle(page, timeout=180)
    cm = confusion(preds)
    count, i, j = max((int(cm[i, j]), i, j) for i in range(10) for j in range(10) if i != j and 1 <= cm[i, j] <= 40)
    page.locator(CELLS).nth(99).wait_for(state="attached")
    click_cell(page, i, j)
    expect_gallery(page, f"true {i} → predicted {j}: {count} digits", count)

    # the Draw page asks it too
    open_app_page(page, server.url, "Draw a digit", title="Draw a digit")
    _draw(page, DIGITS["0"])
    card = page.locator(f'.answer-card[data-model="{NAME}"] .who')
    expect(card).to_have_text(re.compile(rf"^{re.escape(label)}: \d$"))
    assert card.inner_text().endswith(": 0")  # a clearly drawn zero
    assert no_exception_shown(page)

    # and the app deletes it
    open_app_page(page, server.url, "Your model", title="Your model")
    page.get_by_role("button", name=f"Delete {NAME}").click()
    settle(page)
    expect(page.get_by_text("None yet.")).to_be_visible()
    assert not any(r.name == NAME for r in imported_records(cleanup))
