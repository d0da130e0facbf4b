"""Training survives navigation: start "Train missing models" on Home, go to another page while
it runs, and the models end up trained (real Streamlit server, real Chromium, real fits).

Its own server: the session server's folder already holds every model."""

from __future__ import annotations

import shutil
import time

import pytest
from browser_support import StreamlitServer, new_context, open_app_page, settle
from playwright.sync_api import expect

from core.models.catalog import MODELS

pytestmark = pytest.mark.browser

UNTRAINED = ("mlp", "svc_ovr", "sgd")  # a few seconds each on the sample


@pytest.fixture
def training_server(sample_models_dir, tmp_path):
    folder = shutil.copytree(sample_models_dir[0], tmp_path / "models")
    for name in UNTRAINED:
        for f in folder.glob(f"{name}-*"):
            f.unlink()
    srv = StreamlitServer(tmp_path / "streamlit.log", {
        "MNIST_SOURCE": "sample", "MODELS_DIR": str(folder), "MNIST_DIR": "",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    })
    try:
        srv.wait_healthy()
        yield srv, folder
    finally:
        srv.stop()


def test_training_continues_while_the_user_visits_other_pages(browser, training_server):
    server, folder = training_server
    context = new_context(browser, viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_app_page(page, server.url, title="MNIST handwritten digits")
        button = page.get_by_role("button", name=f"Train missing models ({len(UNTRAINED)})")
        expect(button).to_be_visible()
        button.click()
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("Training in the background")).to_be_visible(timeout=30_000)

        # leave Home while the first model is still being fitted
        page.locator('[data-testid="stSidebarNav"] a', has_text="Confusion matrix").first.click()
        page.locator("h1", has_text="Confusion matrix").first.wait_for()
        expect(sidebar.get_by_text("Training in the background")).to_be_visible(timeout=30_000)  # progress follows

        deadline = time.monotonic() + 240
        while not all(list(folder.glob(f"{name}-*.json")) for name in UNTRAINED):
            assert time.monotonic() < deadline, "background training did not finish"
            page.wait_for_timeout(500)
        expect(sidebar.get_by_text("Training in the background")).to_have_count(0, timeout=30_000)

        page.locator('[data-testid="stSidebarNav"] a', has_text="Home").first.click()
        page.locator("h1", has_text="MNIST handwritten digits").first.wait_for()
        settle(page, timeout=120)
        expect(page.get_by_text("All models are trained for this data.")).to_be_visible()
        expect(page.get_by_role("button", name="Train missing models")).to_have_count(0)
        for name in UNTRAINED:
            assert len(list(folder.glob(f"{name}-*.joblib"))) == 1, name
        assert MODELS  # catalog still importable in this process
    finally:
        context.close()
    assert not errors, errors
    log = server.log()
    assert "Traceback" not in log, log
