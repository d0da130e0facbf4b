"""Digit inspector, Trust and the honest Draw page in a real browser (Chromium + Streamlit).

Uses the session's ``server``/``page`` fixtures (tests/conftest.py): the offline sample and
every catalog model trained on it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from browser_support import no_exception_shown, open_app_page, settle
from conftest import predictions_of
from playwright.sync_api import expect

from core.analysis.evaluation import confusion

pytestmark = pytest.mark.browser

CELLS = ".js-plotly-plot .scatterlayer .points path.point"
CANVAS = "canvas.upper-canvas"


def headline(page) -> str | None:
    texts = [t.strip() for t in page.locator("h2").all_inner_texts()]
    found = [t for t in texts if t.startswith(("Prediction", "Not sure", "This does not look"))]
    return found[0] if found else None


def stroke(page, points: list[tuple[float, float]]) -> None:
    """One mouse stroke through ``points`` given in canvas pixels (0-280) from its top-left."""
    box = page.locator(CANVAS).first.bounding_box()
    x, y = points[0]
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
    page.mouse.up()
    settle(page)


def seen_image(page) -> np.ndarray:
    """The 28x28 image the models see, read back from the page's enlarged st.image (224 px)."""
    from io import BytesIO

    from PIL import Image

    src = page.locator('[data-testid="stImage"] img').first
    data = src.screenshot()
    im = np.asarray(Image.open(BytesIO(data)).convert("L").resize((28, 28), Image.Resampling.BOX), dtype=float)
    return im


def clear(page) -> None:
    page.get_by_role("button", name=re.compile("Clear")).click()
    settle(page)
    expect(page.locator("h2").filter(has_text=re.compile("Prediction|Not sure|This does not"))).to_have_count(0)


def test_gallery_tile_opens_the_inspector_on_its_index(page, server, sample_models, sample_data):
    open_app_page(page, server.url, "Confusion matrix", title="Confusion matrix")
    name = parse_qs(urlparse(page.url).query)["model"][0]
    cm = confusion(predictions_of(sample_models[name], sample_data))
    np.fill_diagonal(cm, 0)
    i, j = np.unravel_index(np.argmax(cm), cm.shape)
    page.locator(CELLS).nth(99).wait_for(state="attached")
    box = page.locator(CELLS).nth(int(i) * 10 + int(j)).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    settle(page)
    tile = page.locator(".digit-tile").nth(min(1, int(cm[i, j]) - 1))
    index = int(tile.get_attribute("data-index"))
    tile.click()
    page.locator("h1", has_text="Digit inspector").first.wait_for()
    settle(page, timeout=180)
    query = parse_qs(urlparse(page.url).query)
    assert query["index"] == [str(index)] and query["model"] == [name]
    expect(page.get_by_label(re.compile("^Test digit"))).to_have_value(str(index))
    expect(page.locator("h3", has_text=f"Label: {int(sample_data.y_test[index])}")).to_have_count(1)
    expect(page.locator("h3", has_text=re.compile(r"^Why .* says \d$"))).to_have_count(1)
    assert no_exception_shown(page)
    # the link reopens the same digit
    page.goto(page.url)
    page.locator("h1", has_text="Digit inspector").first.wait_for()
    settle(page, timeout=180)
    expect(page.get_by_label(re.compile("^Test digit"))).to_have_value(str(index))


def test_a_horizontal_bar_gets_no_confident_digit(page, server):
    open_app_page(page, server.url, "Draw a digit", title="Draw a digit")
    stroke(page, [(50, 140), (140, 142), (230, 140)])
    expect(page.locator("h2").filter(has_text=re.compile("Prediction|Not sure|This does not"))).to_have_count(1)
    text = headline(page)
    assert not re.fullmatch(r"Prediction: \d", text), text
    assert no_exception_shown(page)


def test_the_drawn_digit_is_explained_on_demand(page, server):
    open_app_page(page, server.url, "Draw a digit", title="Draw a digit")
    stroke(page, [(140, 40), (140, 140), (140, 240)])  # a 1
    expect(page.locator("h2").filter(has_text=re.compile("Prediction|Not sure|This does not"))).to_have_count(1)
    assert page.get_by_text("Nearest training digits", exact=True).count() == 0  # not computed per stroke
    page.get_by_text(re.compile(r"^Why does .+ say \d\?")).first.click()
    settle(page)
    expect(page.get_by_text("Nearest training digits", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile("^Occlusion map: red pixels pushed the score toward"))).to_be_visible()
    assert page.locator(".digit-tile").count() == 8  # the nearest training digits
    assert no_exception_shown(page)


EDGE_STROKES = {  # strokes that START within 10 px of an edge of the 280x280 canvas
    "top-left": [(8, 8), (60, 60), (110, 140)],
    "top": [(140, 6), (140, 80), (140, 160)],
    "top-right": [(272, 8), (220, 60), (170, 140)],
    "left": [(6, 140), (80, 140), (150, 150)],
    "right": [(274, 140), (200, 140), (130, 150)],
    "bottom": [(140, 274), (140, 200), (140, 120)],
}


def test_strokes_from_every_edge_of_the_canvas_leave_ink(page, server):
    """Before the fix, strokes begun in the top ~35 px right of x ~ 100 went to the invisible toolbar.
    One page, one stroke per edge, the canvas cleared in between."""
    open_app_page(page, server.url, "Draw a digit", title="Draw a digit")
    for edge, points in EDGE_STROKES.items():
        page.locator(CANVAS).first.hover()  # the toolbar shows on hover: the stroke must still draw
        stroke(page, points)
        expect(page.locator('[data-testid="stImage"]')).to_have_count(1)  # ink reached the 28x28 image
        assert seen_image(page).max() > 100, edge
        assert headline(page) is not None, edge
        assert no_exception_shown(page), edge
        clear(page)
        expect(page.locator('[data-testid="stImage"]')).to_have_count(0)


def test_the_toolbar_covers_neither_canvas_nor_label(page, server):
    open_app_page(page, server.url, "Draw a digit", title="Draw a digit")
    canvas = page.locator(CANVAS).first
    canvas.hover()
    page.wait_for_function("""() => { for (const el of document.querySelectorAll('*')) {
        const t = el.shadowRoot && el.shadowRoot.querySelector('.dc-toolbar');
        if (t && t.getBoundingClientRect().height > 0) return true; } return false; }""")  # the toolbar is shown
    box = canvas.bounding_box()
    label = page.get_by_text("Draw one digit, large and centred").bounding_box()
    bar = page.evaluate("""() => { for (const el of document.querySelectorAll('*')) {
        const t = el.shadowRoot && el.shadowRoot.querySelector('.dc-toolbar');
        if (t) { const r = t.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; } } }""")
    assert bar["top"] >= box["y"] + box["height"] - 1, (bar, box)  # below the drawing area
    assert bar["bottom"] <= label["y"] or bar["top"] >= label["y"] + label["height"], (bar, label)


@pytest.mark.parametrize("bad_name", ["broken.png", "notes.txt"])
def test_a_rejected_upload_clears_the_previous_result(page, server, tmp_path, bad_name):
    """Before the fix, a .txt file was refused by the uploader in the browser, the script never
    ran, and "Prediction: 1" of the previous upload stayed on screen under the uploader's error."""
    from PIL import Image, ImageDraw

    good = Image.new("RGB", (240, 320), (235, 235, 230))
    ImageDraw.Draw(good).line([(125, 40), (115, 280)], fill=(30, 30, 40), width=22)
    good_path, bad_path = tmp_path / "one.png", tmp_path / bad_name
    good.save(good_path)
    bad_path.write_bytes(b"this is not a picture")

    open_app_page(page, server.url, "Draw a digit", title="Draw a digit")
    upload = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    upload.set_input_files(str(good_path))
    settle(page)
    expect(page.locator("h2").filter(has_text=re.compile(r"^Prediction: 1$"))).to_have_count(1)
    upload.set_input_files(str(bad_path))
    settle(page)
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="is not an image")).to_have_count(1)
    expect(page.locator("h2").filter(has_text=re.compile("Prediction|Not sure|This does not"))).to_have_count(0)
    expect(page.get_by_text("What the models see")).to_have_count(0)
    expect(page.locator('[data-testid="stImage"]')).to_have_count(0)
