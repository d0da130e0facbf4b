"""Helpers the AppTest modules share: open a page of the app (with URL query parameters), check
that a run showed no exception or error, and count gallery tiles."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
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


def gallery_html(at: AppTest) -> str:
    """The HTML of every digit gallery the run showed (dashboard.components.digit_gallery, a
    component whose data carries its tiles' HTML), concatenated."""
    parts = []
    for el in at.get("bidi_component"):
        if el.proto.component_name == "digit_gallery":
            parts.append(json.loads(el.proto.json)["html"])
    return "".join(parts)


def tiles(at: AppTest) -> int:
    """Digit tiles in all galleries (each gallery item is a div.digit-tile)."""
    return gallery_html(at).count('class="digit-tile"')


def html_tables(at: AppTest) -> list[pd.DataFrame]:
    """Every ``table.plain`` (dashboard.html_views.table_html) the run showed, as data frames
    (cells unescaped; columns that are all numbers or blank become floats)."""
    frames = []
    for el in at.get("html"):
        for table in re.findall(r'<table class="plain">(.*?)</table>', el.proto.body, re.S):
            head = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
            rows = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
                    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]
            frame = pd.DataFrame(rows, columns=head)
            for column in frame.columns:
                numbers = pd.to_numeric(frame[column].replace("", None), errors="coerce")
                if numbers.notna().sum() == (frame[column] != "").sum() and numbers.notna().any():
                    frame[column] = numbers
            frames.append(frame)
    return frames
