"""Compare models and Label errors in a real browser (the shared ``server``/``page``
fixtures of tests/conftest.py): a click on a difference-matrix cell and on a quadrant opens
galleries of exactly the digits core names; a mark on a suspect is saved and still there
after a reload."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import eventually, no_exception_shown, settle
from conftest import make_store, predictions_of
from playwright.sync_api import expect

from core.analysis.compare import difference_cell, quadrant_indices
from core.analysis.label_errors import rank_suspects
from core.store.marks import clear_mark, load_marks

pytestmark = pytest.mark.browser

CELLS = ".js-plotly-plot .scatterlayer .points path.point"


def goto(page, url: str, title: str) -> None:
    page.goto(url)
    page.locator("h1", has_text=title).first.wait_for()
    settle(page, timeout=300)  # the first visit loads every model and ranks with cleanlab


def tile_indices(page) -> list[int]:
    return [int(i) for i in page.locator(".digit-tile").evaluate_all("els => els.map(e => e.dataset.index)")]


def click_a_difference_cell(page, pa, pb):
    """Click the first off-diagonal cell of the difference matrix with 2 to 40 digits; its DifferenceCell."""
    cell = next(c for c in (difference_cell(pa, pb, t, p) for t in range(10) for p in range(10) if t != p)
                if 2 <= len(c.indices) <= 40)
    page.locator(CELLS).nth(99).wait_for(state="attached")
    box = page.locator(CELLS).nth(cell.true * 10 + cell.predicted).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return cell


def test_difference_cell_and_quadrant_open_their_digits(page, server, sample_models, sample_data):
    a, b = "knn", "sgd"
    pa, pb = (predictions_of(sample_models[n], sample_data) for n in (a, b))
    goto(page, f"{server.url}/Compare_models?a={a}&b={b}", "Compare models")
    assert no_exception_shown(page)
    cell = click_a_difference_cell(page, pa, pb)
    settle(page, timeout=180)
    page.mouse.move(5, 5)
    heading = page.locator("h3").filter(has_text=re.compile(r"^true \d → predicted \d: "))
    favour = len(cell.lost) - len(cell.gained)  # off the diagonal: fewer of B's mistakes is B's favour
    expect(heading).to_have_text(re.compile(re.escape(
        f"true {cell.true} → predicted {cell.predicted}: {favour:+d} in B's favour".replace("-", "−"))))
    expect(page.locator(".digit-tile")).to_have_count(len(cell.indices))
    # two grids, each under its own heading: only B's digits, then only A's
    only_b = page.locator('[data-testid="stColumn"]').filter(has_text="Only B (").filter(has=page.locator(".digit-tile"))
    only_a = page.locator('[data-testid="stColumn"]').filter(has_text="Only A (").filter(has=page.locator(".digit-tile"))
    def grid(column) -> list[int]:
        return [int(i) for i in column.last.locator(".digit-tile").evaluate_all("els => els.map(e => e.dataset.index)")]

    if len(cell.gained):
        expect(only_b.first).to_contain_text(f"Only B (SGD (hinge)) puts these {len(cell.gained)} digits here")
        eventually(lambda: grid(only_b), [int(i) for i in cell.gained], page=page)
    if len(cell.lost):
        eventually(lambda: grid(only_a), [int(i) for i in cell.lost], page=page)
    assert sorted(tile_indices(page)) == sorted(int(i) for i in cell.indices)

    only_a = quadrant_indices(pa, pb, "only_a_right")
    page.get_by_role("button", name=re.compile(r"^only A right: ")).click()
    settle(page, timeout=180)
    # the URL says what the page opened (under load it once still said the cell, open=cell-0-5)
    eventually(lambda: parse_qs(urlparse(page.url).query).get("open"), ["only_a_right"], page=page, timeout=30)
    expect(page.locator("h3").filter(has_text="only A (")).to_have_text(re.compile(f": {len(only_a)} digits$"))
    expect(page.locator(".digit-tile")).to_have_count(min(len(only_a), 40))
    assert tile_indices(page) == [int(i) for i in only_a[:40]]
    first = int(only_a[0])
    assert page.locator(f'.digit-tile[data-index="{first}"]').inner_text().endswith(
        f"A {pa.y_pred[first]} · B {pb.y_pred[first]} · label {pa.y_true[first]}")
    assert no_exception_shown(page)


def test_a_gallery_brought_into_view_never_pulls_the_view_back_from_the_reader(page, server, sample_models, sample_data):
    """A click on a cell scrolls its gallery into view and keeps it there while the page
    finishes; the reader scrolling back up at once stops that. It pulled the view back to the
    gallery for 3 s, so a click on the quadrant buttons above it was lost now and then."""
    pa, pb = (predictions_of(sample_models[n], sample_data) for n in ("knn", "sgd"))
    goto(page, f"{server.url}/Compare_models?a=knn&b=sgd", "Compare models")
    click_a_difference_cell(page, pa, pb)
    page.locator("h3").filter(has_text=re.compile(r"^true \d → predicted \d: ")).first.wait_for()
    page.locator(".digit-tile").first.wait_for()
    page.mouse.move(1300, 600)
    page.mouse.wheel(0, -20_000)  # the reader scrolls back up while the gallery is still arriving
    page.wait_for_function("() => !!(window.__stScrolled && window.__stScrolled.cmp_gallery)")  # the script let go
    settle(page, timeout=180)
    expect(page.get_by_role("button", name=re.compile(r"^only A right: "))).to_be_in_viewport()


def test_a_mark_on_a_suspect_is_saved_and_survives_a_reload(page, server, sample_models, sample_data, sample_models_dir):
    folder, _ = sample_models_dir
    preds = {n: predictions_of(m, sample_data) for n, m in sample_models.items()}
    top = rank_suspects(preds).iloc[0]
    index, suggested = int(top["index"]), int(top["suggested"])
    choice = f"label is wrong (it is a {suggested})"
    try:
        goto(page, f"{server.url}/Label_errors", "Label errors")
        tile = page.locator(f".st-key-le_tile_{index}")
        expect(tile).to_contain_text(f"given {int(top['given'])} → suggested {suggested}")
        tile.locator('[data-testid="stSelectbox"]').click()
        page.get_by_role("option", name=choice, exact=True).click()
        settle(page, timeout=180)
        assert load_marks(make_store(folder, sample_data)) == {index: suggested}
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1)  # the marks table

        page.reload()
        page.locator("h1", has_text="Label errors").first.wait_for()
        settle(page, timeout=180)
        # a new session: the selectbox starts from the saved mark
        expect(page.locator(f".st-key-le_tile_{index}").get_by_role("combobox")).to_have_value(choice)
        assert no_exception_shown(page)
        # the suspect's picture is the one gallery's tile: a click opens the Digit inspector on it
        page.locator(f".st-key-le_tile_{index} .digit-tile[data-index='{index}']").click()
        page.locator("h1", has_text="Digit inspector").first.wait_for()
        settle(page, timeout=180)
        expect(page.get_by_label(re.compile("^Test digit"))).to_have_value(str(index))
        assert no_exception_shown(page)
    finally:
        clear_mark(make_store(folder, sample_data), index)
