"""Helpers the AppTest modules share: open a page of the app (with URL query parameters), check
that a run showed no exception or error, and count gallery tiles."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "dashboard" / "Home.py")
TIMEOUT = 180  # seconds per run: the first run of a page loads data and models


def run_page(page: str | None, query: dict[str, str] | None = None) -> AppTest:
    """Run Home, or the page file ``page`` (e.g. ``"pages/7_Digit_inspector.py"``), with ``query``
    in the URL."""
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def tiles(at: AppTest) -> int:
    """Digit tiles in all st.html blocks (each gallery item is a div.digit-tile)."""
    return sum(el.proto.body.count('class="digit-tile"') for el in at.get("html"))
