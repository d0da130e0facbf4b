"""The Map page in Chromium: a lasso whose gallery holds exactly the digits inside it, a click
that opens the Digit inspector, and a link that reopens the same map and selection.

PCA layouts (``?method=pca``) keep these fast; the layout is computed by the page's background
job the first time. Plotly is driven by page coordinates from its own axis mapping
(``xaxis._offset + xaxis.l2p(x)``), since its drag layer intercepts element clicks."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import MAP_POINTS_JS, draw_lasso, new_context, settle

pytestmark = pytest.mark.browser

#: The test indices Plotly shows as selected in the redrawn chart.
_SELECTED_JS = """
() => {
  const gd = document.querySelector('.js-plotly-plot');
  const out = new Set();
  for (const t of gd._fullData) {
    if (!t.customdata || !t.selectedpoints) continue;
    for (const i of t.selectedpoints) out.add(t.customdata[i][0]);
  }
  return Array.from(out);
}
"""


def open_map(page, url: str) -> None:
    page.goto(url)
    page.locator("h1", has_text="Map").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for(timeout=300_000)  # after the background job, if any
    settle(page, timeout=120)


def inside(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    """Even-odd ray casting (independent of the app's matplotlib test)."""
    hit = False
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def selection_count(page) -> int:
    text = page.locator("h3", has_text="Selection:").first.inner_text()
    return int(re.search(r"Selection: ([\d,]+) test digits", text)[1].replace(",", ""))


def test_lasso_gallery_holds_the_selected_digits_and_the_link_reopens_it(page, server, browser):
    open_map(page, f"{server.url}/Map?method=pca&model=knn")
    points = page.evaluate(MAP_POINTS_JS)
    assert len(points) == 1000
    xs = sorted(p[0] for p in points.values())
    ys = sorted(p[1] for p in points.values())
    centre = (xs[len(xs) // 2], ys[len(ys) // 2])  # the middle of the cloud: a busy region
    draw_lasso(page, centre, 45)
    page.locator("h3", has_text="Selection:").first.wait_for()
    settle(page)

    n = selection_count(page)
    sel = parse_qs(urlparse(page.url).query)["sel"][0]
    assert sel.startswith("lasso:")
    poly = [tuple(float(v) for v in pair.split(",")) for pair in sel[len("lasso:"):].split(";")]
    # the region in the URL is the one drawn (its first vertex within 2 px of the first corner)
    x0, y0 = poly[0]
    near = min(points.values(), key=lambda p: abs(p[2] - x0) + abs(p[3] - y0))
    assert abs(near[0] - (centre[0] + 45)) < 60 and abs(near[1] - centre[1]) < 60
    expected = sorted(int(i) for i, p in points.items() if inside(p[2], p[3], poly))
    assert n == len(expected) > 0
    assert sorted(page.evaluate(_SELECTED_JS)) == expected  # the chart highlights the same digits

    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for()
    tiles = page.locator(".digit-tile")
    assert tiles.count() == min(n, 40)
    shown = sorted(int(t.inner_text().split("#")[1].split()[0]) for t in page.locator(".digit-tile .idx").all())
    assert set(shown) <= set(expected)
    first_tiles = [t.inner_text() for t in page.locator(".digit-tile .idx").all()]
    assert page.get_by_text(f"of {n}").count() >= 1 or n <= 40

    # the URL reopens the same map and selection in a new browser tab
    url = page.url
    assert {"method", "space", "colour", "sel", "model"} <= set(parse_qs(urlparse(url).query))
    other = new_context(browser, viewport={"width": 1400, "height": 1100}).new_page()
    try:
        other.set_default_timeout(60_000)
        open_map(other, url)
        other.locator("h3", has_text="Selection:").first.wait_for()
        settle(other)
        assert selection_count(other) == n
        assert [t.inner_text() for t in other.locator(".digit-tile .idx").all()] == first_tiles
        assert sorted(other.evaluate(_SELECTED_JS)) == expected
        assert parse_qs(urlparse(other.url).query)["method"] == ["pca"]
    finally:
        other.context.close()


def test_click_on_a_digit_shows_it_on_hover_and_opens_the_inspector(page, server):
    open_map(page, f"{server.url}/Map?method=pca&model=knn")
    points = page.evaluate(MAP_POINTS_JS)
    # a digit with no other digit within 12 px, so the click cannot land on a neighbour
    coords = [(int(i), p[0], p[1]) for i, p in points.items()]
    index, px, py = next(
        (i, x, y) for i, x, y in sorted(coords)
        if all((x - x2) ** 2 + (y - y2) ** 2 > 144 for j, x2, y2 in coords if j != i)
    )
    page.mouse.move(px, py)
    hover = page.locator(".hoverlayer .hovertext", has_text=f"#{index} label")
    hover.wait_for()
    assert re.search("[\u2801-\u28ff]", hover.text_content())  # the digit, drawn in Braille
    page.mouse.click(px, py)
    page.locator("h1", has_text="Digit inspector").first.wait_for()
    settle(page, timeout=120)
    assert parse_qs(urlparse(page.url).query)["index"] == [str(index)]
    assert page.get_by_text(f"test digit #{index}").count() == 1


def test_empty_selection_and_bad_space_in_the_url_say_so(page, server):
    # the PCA layout saved first (whichever test runs first computes it): the warning belongs to
    # the run the URL arrives in, not to the rerun after a background computation
    open_map(page, f"{server.url}/Map?method=pca&model=knn")
    open_map(page, f"{server.url}/Map?method=pca&model=knn&space=logreg&sel=box:1000,1001,1000,1001")
    assert selection_count(page) == 0
    assert page.get_by_text("The selection holds 0 test digits").count() == 1
    warning = page.locator('[data-testid="stAlert"]', has_text="Space 'logreg'").first.inner_text()
    assert "no hidden layer" in warning and "Spaces that work here: pixels, mlp, cnn" in warning
