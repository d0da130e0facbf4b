"""The label-cleaning loop in a real browser, on a server of its own (it writes marks and a new
model): rank the training labels (a background job), mark two suspects, train the cleaned
variant (a background job) and open the comparison with the original as A and the variant as B."""

from __future__ import annotations

import re

import pytest
from browser_support import StreamlitServer, no_exception_shown, settle
from conftest import make_store
from playwright.sync_api import expect

from core.data.label_fixes import DROP
from core.store.train_marks import load_train_marks
from core.store.training import train_model

pytestmark = pytest.mark.browser


@pytest.fixture
def loop_server(sample_data, tmp_path):
    """A server over a models folder holding only KNN trained on the sample."""
    folder = tmp_path / "models"
    train_model(make_store(folder, sample_data), "knn")
    srv = StreamlitServer(tmp_path / "streamlit.log", {
        "MNIST_SOURCE": "sample", "MODELS_DIR": str(folder), "MNIST_DIR": "", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    })
    try:
        srv.wait_healthy()
        yield srv, folder
    finally:
        srv.stop()


def test_mark_two_training_suspects_retrain_and_compare(browser, loop_server, sample_data):
    server, folder = loop_server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server.url}/Label_errors")
        page.locator("h1", has_text="Label errors").first.wait_for()
        settle(page, timeout=300)
        # cross-validate KNN only (MLP is the default's second model; it would only make this slower)
        page.get_by_role("button", name="Remove MLP").click()
        settle(page, timeout=120)
        page.get_by_role("button", name="Rank the training labels").click()
        tiles = page.locator('[class*="st-key-lt_tile_"]')
        tiles.first.wait_for(timeout=600_000)  # the background job finishes and the page reruns
        settle(page, timeout=120)
        assert no_exception_shown(page)

        first, second = (int(re.search(r"st-key-lt_tile_(\d+)", tiles.nth(k).get_attribute("class")).group(1))
                         for k in (0, 1))
        tiles.first.locator(".digit-tile").click()  # the inspector opens it as a TRAINING digit
        page.locator("h1", has_text="Digit inspector").first.wait_for()
        settle(page, timeout=120)
        assert "split=train" in page.url and f"index={first}" in page.url, page.url
        expect(page.get_by_text("A training digit", exact=False).first).to_be_visible()
        page.go_back()
        page.locator("h1", has_text="Label errors").first.wait_for()
        settle(page, timeout=120)
        tiles.first.wait_for(timeout=120_000)

        accept = tiles.first.get_by_role("button", name=re.compile(r"^wrong → \d$"))
        suggested = int(accept.inner_text().strip()[-1])
        accept.click()
        settle(page, timeout=120)
        tiles.nth(1).locator('[data-testid="stSelectbox"]').click()
        page.get_by_role("option", name="ambiguous, drop it").click()
        settle(page, timeout=120)
        expect(page.get_by_text(re.compile(r"2 reviewed: 1 wrong, 1 ambiguous"))).to_be_visible()
        store = make_store(folder, sample_data)
        assert load_train_marks(store) == {first: suggested, second: DROP}

        page.get_by_role("button", name="Train the cleaned KNN").click()
        link = page.get_by_role("link", name=re.compile(r"Compare: original KNN \(A\) vs cleaned \(B\)"))
        link.wait_for(timeout=600_000)
        settle(page, timeout=120)
        link.click()
        page.locator("h1", has_text="Compare models").first.wait_for()
        settle(page, timeout=300)
        assert no_exception_shown(page)
        expect(page.get_by_text(re.compile(r"A trained on the given labels; B trained on cleaned labels "
                                           r"\(1 fixed, 1 dropped"))).to_be_visible()
        expect(page.get_by_role("button", name=re.compile(r"^only A right: "))).to_be_visible()
    finally:
        page.close()
