"""The Robustness page in a real browser, on its own server over a small models folder (KNN
and SGD trained on the sample): compute the table in the background, click a cell, and see
exactly the digits core counts as flipped, each pair linking to the Digit inspector."""

from __future__ import annotations

import re

import numpy as np
import pytest
from browser_support import StreamlitServer, new_context, no_exception_shown, settle
from conftest import make_store
from playwright.sync_api import expect

from core.analysis.robustness import load_cached_robustness, robustness_models
from core.store.training import train_model

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def robust_server(tmp_path_factory, sample_data, browser):
    folder = tmp_path_factory.mktemp("robust-browser-models")
    store = make_store(folder, sample_data)
    for name in ("sgd", "knn"):
        train_model(store, name)
    log = tmp_path_factory.mktemp("robust-server") / "streamlit.log"
    srv = StreamlitServer(log, {"MNIST_SOURCE": "sample", "MODELS_DIR": str(folder), "MNIST_DIR": "",
                                "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"})
    try:
        srv.wait_healthy()
        yield srv, store
    finally:
        srv.stop()


def tile_indices(grid) -> list[int]:
    return [int(i) for i in grid.locator(".digit-tile").evaluate_all("els => els.map(e => e.dataset.index)")]


def test_click_a_cell_shows_exactly_the_flipped_digits(robust_server, browser):
    server, store = robust_server
    context = new_context(browser, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{server.url}/Robustness?sev=3")
        page.locator("h1", has_text="Robustness").first.wait_for()
        settle(page, timeout=180)
        page.get_by_role("button", name="Compute robustness").click()
        # the background job reports progress, then the page shows the table
        page.locator("h3", has_text="Accuracy at severity 3").wait_for(timeout=600_000)
        settle(page, timeout=180)
        assert no_exception_shown(page)

        rows = robustness_models(store)
        result, missing = load_cached_robustness(store, rows, digits=None)
        assert missing == [] and [m.id for m in result.models] == ["sgd", "knn"]
        table, counts = result.table(3), result.flipped_counts(3)
        # a cell whose flipped digits fit on one gallery page (20 pairs)
        model_id, corruption = next((m, c) for m in counts.index for c in counts.columns if 2 <= counts.loc[m, c] <= 20)
        expected = result.flipped(model_id, corruption, 3)

        points = page.locator(".js-plotly-plot").first.locator(".scatterlayer .points path.point")
        points.nth(table.size - 1).wait_for(state="attached")
        k = list(table.index).index(model_id) * table.shape[1] + list(table.columns).index(corruption)
        box = points.nth(k).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        heading = page.locator("h3").filter(has_text=re.compile(r" digits flipped$"))
        expect(heading).to_have_text(re.compile(rf"^{re.escape(model_id)} · .* at severity 3: {len(expected)} digits flipped$"))
        settle(page, timeout=120)
        page.mouse.move(5, 5)

        flipped_grid = page.locator(".digit-grid").first  # the slices' galleries come after it
        shown = tile_indices(flipped_grid)
        assert shown[0::2] == shown[1::2] == [int(i) for i in expected]  # clean, corrupted, for each digit
        assert f"cell={model_id}%3A{corruption}" in page.url and "sev=3" in page.url
        first = int(expected[0])
        tiles = flipped_grid.locator(f'.digit-tile[data-index="{first}"]')
        expect(tiles.nth(0)).to_contain_text(f"clean: {result.prediction(model_id, corruption, 0, first)} ✓")
        expect(tiles.nth(1)).to_contain_text(f"{corruption} 3: {result.prediction(model_id, corruption, 3, first)} ✗")
        assert result.prediction(model_id, corruption, 0, first) == int(store.data.y_test[first])
        assert "linked" in (flipped_grid.get_attribute("class") or "")  # each tile opens the inspector

        # the slices section shows a gallery per slice for the chosen model
        slice_tiles = page.locator(".digit-grid").nth(1).locator(".digit-tile")
        assert slice_tiles.count() > 0 or page.get_by_text("No slice of at least 50 digits").count() == 1
        assert no_exception_shown(page)
        page.screenshot(path=str(server.log_path.parent / "robustness.png"))
        tiles.nth(1).click()  # the corrupted copy's tile opens the clean test digit in the inspector
        page.locator("h1", has_text="Digit inspector").first.wait_for()
        settle(page, timeout=120)
        assert f"index={first}" in page.url, page.url
        assert np.isfinite(table.to_numpy()).all()
    finally:
        context.close()
