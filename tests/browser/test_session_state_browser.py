"""The session and the URL keep the user's view in a real browser: a gallery tile opens the Digit
inspector inside the same session (the corrected-labels switch stays on there and after Back),
a click that opens a gallery lower on the page brings it into view, and the Compare models and
Trust views come back after a reload."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import eventually, no_exception_shown, settle
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CELLS = ".js-plotly-plot .scatterlayer .points path.point"
SWITCH = '[data-testid="stSidebar"] label:has-text("use corrected labels")'


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def goto(page, url: str, title: str) -> None:
    page.goto(url)
    page.locator("h1", has_text=title).first.wait_for()
    settle(page, timeout=300)


def switch_is_on(page) -> bool:
    return page.locator(SWITCH).locator("input").first.is_checked()


def click_cell(page, row: int, col: int) -> None:
    page.locator(CELLS).nth(99).wait_for(state="attached")
    box = page.locator(CELLS).nth(row * 10 + col).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    settle(page, timeout=180)
    page.mouse.move(5, 5)


def test_a_tile_opens_the_inspector_in_the_same_session(page, server):
    goto(page, server.url + "/Confusion_matrix?model=mlp&cell=3-3", "Confusion matrix")
    page.locator(SWITCH).click()
    settle(page)
    assert switch_is_on(page) and query(page).get("corrected") == "1", page.url
    tile = page.locator(".digit-tile").nth(1)
    index = int(tile.get_attribute("data-index"))
    tile.click()
    page.locator("h1", has_text="Digit inspector").first.wait_for()
    settle(page, timeout=180)
    expect(page.get_by_label(re.compile("^Test digit"))).to_have_value(str(index))
    assert switch_is_on(page), "the tile started a new session: the switch is off"
    assert query(page).get("corrected") == "1" and query(page).get("index") == str(index), page.url
    page.go_back()
    page.locator("h1", has_text="Confusion matrix").first.wait_for()
    settle(page, timeout=180)
    assert switch_is_on(page), "Back lost the switch"
    expect(page.locator("h3").filter(has_text=re.compile(r"^true 3 → predicted 3: "))).to_have_count(1)
    assert no_exception_shown(page)


def _gallery_in_view(page, key: str) -> None:
    """Wait until the heading of the container ``key`` and the first row of digit tiles below
    it are inside the window (a 1400x1000 window: the gallery used to open below the fold)."""
    page.wait_for_function(
        """(sel) => { const el = document.querySelector(sel); const tile = document.querySelector('.digit-tile');
                     if (!el || !tile) return false;
                     return el.getBoundingClientRect().top >= -5 && tile.getBoundingClientRect().bottom <= window.innerHeight; }""",
        arg=f".st-key-{key}", timeout=20_000,
    )


def test_a_confusion_click_brings_its_gallery_into_view(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    goto(page, server.url + "/Confusion_matrix?model=mlp", "Confusion matrix")
    top = page.locator(".st-key-cm_gallery")
    expect(top).to_have_count(0)
    click_cell(page, 3, 3)
    _gallery_in_view(page, "cm_gallery")
    # and a top-confusion button, after scrolling back up
    page.locator('[data-testid="stMain"]').evaluate("el => el.scrollTo(0, 0)")
    page.mouse.wheel(0, -5000)
    page.get_by_role("button", name=re.compile(r"^\d → \d: \d+")).first.click()
    settle(page)
    _gallery_in_view(page, "cm_gallery")


def test_compare_view_comes_back_after_a_reload(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    goto(page, server.url + "/Compare_models?a=knn&b=sgd", "Compare models")
    page.get_by_role("button", name=re.compile(r"^only A right: ")).click()
    settle(page)
    _gallery_in_view(page, "cmp_gallery")
    assert query(page).get("open") == "only_a_right", page.url
    heading = page.locator("h3").filter(has_text="only A (")
    text = heading.inner_text()
    page.reload()
    page.locator("h1", has_text="Compare models").first.wait_for()
    settle(page, timeout=180)
    expect(page.locator("h3").filter(has_text="only A (")).to_have_text([text])
    assert no_exception_shown(page)


def test_trust_view_comes_back_after_a_reload(page, server):
    goto(page, server.url + "/Trust", "Trust")
    page.get_by_text("Calibrate each model on the test digits (out of fold)").click()
    settle(page, timeout=180)
    # a loaded browser may handle the click after the page looked settled: wait for the URL to say it
    eventually(lambda: query(page).get("calibrated"), "1", page=page, timeout=30)
    page.reload()
    page.locator("h1", has_text="Trust").first.wait_for()
    settle(page, timeout=180)
    toggle = page.locator("label", has_text="Calibrate each model").locator("input").first
    assert toggle.is_checked()
    expect(page.get_by_text(re.compile("^ECE after temperature"))).to_have_count(1)
    assert no_exception_shown(page)
