"""One name per page everywhere: for every file in dashboard/pages, the sidebar link, the browser
tab title and the page's heading (h1) say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import open_app_page, settle
from playwright.sync_api import expect

from dashboard.components import TAB_TITLE

pytestmark = pytest.mark.browser

PAGES = sorted((Path(__file__).resolve().parents[2] / "dashboard" / "pages").glob("*.py"))


def page_name(path: Path) -> str:
    """What Streamlit shows in the sidebar for a page file: ``1_Leaderboard.py`` -> ``Leaderboard``."""
    return re.sub(r"^\d+_", "", path.stem).replace("_", " ")


def test_every_page_has_one_name(fresh_page, server):
    page = fresh_page  # a first visit: the app itself unfolds the sidebar's page list
    assert any(p.name == "1_Leaderboard.py" for p in PAGES)
    open_app_page(page, server.url, None, title="MNIST handwritten digits")
    nav = page.locator('[data-testid="stSidebarNav"] a')
    try:  # the full list (the app opens the sidebar's "View more" once the page has loaded)
        expect(nav).to_have_count(len(PAGES) + 1, timeout=30_000)
    except AssertionError:
        pass  # a missing or extra link is reported below, by name
    links = [t.strip() for t in nav.all_inner_texts()]
    problems = []
    for path in PAGES:
        name = page_name(path)
        if name not in links:
            problems.append(f"{path.name}: no sidebar link {name!r} (links: {links})")
            continue
        page.locator('[data-testid="stSidebarNav"] a', has_text=re.compile(f"^{re.escape(name)}$")).first.click()
        try:  # the new page's heading and tab title, once it has replaced the previous page
            expect(page.locator("h1").first).to_have_text(name, timeout=30_000)
            expect(page).to_have_title(TAB_TITLE.format(title=name), timeout=30_000)
        except AssertionError:
            pass  # reported below with what the page shows
        settle(page, timeout=120)
        heading = page.locator("h1").first.inner_text().strip()
        tab = page.title()
        if heading != name:
            problems.append(f"{path.name}: heading {heading!r}, sidebar {name!r}")
        if tab != TAB_TITLE.format(title=name):
            problems.append(f"{path.name}: tab title {tab!r}, sidebar {name!r}")
    assert not problems, "\n".join(problems)
