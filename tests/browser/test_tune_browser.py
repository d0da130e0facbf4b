"""The Tune page in Chromium: pick a model, edit the grid, run a tiny search, see the heatmap."""

from __future__ import annotations

import pytest
from browser_support import no_exception_shown, open_app_page, settle

pytestmark = pytest.mark.browser


def fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    settle(page)


def test_tiny_search_shows_table_best_and_heatmap(page, server):
    open_app_page(page, server.url, "Tune", title="Tune")
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="KNN", exact=True).click()
    settle(page)
    fill(page, "n_neighbors", "1,3")
    fill(page, "pca", "20")
    fill(page, "Folds (K)", "3")
    fill(page, "Training subset (digits)", "600")
    page.get_by_role("button", name="Run search").click()
    settle(page, timeout=180)
    assert no_exception_shown(page)
    page.get_by_text("best: n_neighbors=").first.wait_for()
    heatmap = page.locator(".js-plotly-plot .heatmaplayer .hm")
    heatmap.first.wait_for(state="attached")
    assert heatmap.count() == 1
    assert page.locator(".js-plotly-plot .g-xtitle", has_text="n_neighbors").count() == 1
    assert page.get_by_role("button", name="Train KNN with").count() == 1
