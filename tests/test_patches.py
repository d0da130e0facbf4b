"""dashboard.patches relies on internals of Streamlit and streamlit-drawable-canvas that neither
promises. Each test checks one assumption against the installed packages, so an upgrade that
breaks a patch fails here instead of silently dropping it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import streamlit as st

from dashboard import patches

STATIC = Path(st.__file__).parent / "static"


def _canvas_build() -> Path:
    spec = importlib.util.find_spec("streamlit_drawable_canvas")
    assert spec is not None and spec.origin, "streamlit-drawable-canvas is not installed"
    return Path(spec.origin).parent / "frontend" / "build"


def test_the_chart_chunks_to_prefetch_exist():
    files = patches.chunk_files()
    assert [f.split(".")[0] for f in files] == list(patches.PREFETCH_CHUNKS)
    assert all((STATIC / "static" / "js" / f).is_file() for f in files)


def test_the_prefetch_finds_streamlits_index_script():
    """PREFETCH_JS resolves the chunks next to ``script[type=module][src*="/static/js/index."]``."""
    page = (STATIC / "index.html").read_text()
    assert 'script[type="module"][src*="/static/js/index."]' in patches.PREFETCH_JS
    assert re.search(r'<script type="module"[^>]*src="\./static/js/index\.[^"]+\.js"', page), page[:500]


def test_streamlit_navigates_with_history_pushstate():
    """HISTORY_JS turns same-path ``history.pushState`` calls into replaceState: Streamlit's own
    bundle must still call pushState for it to have anything to patch."""
    (index,) = [p for p in (STATIC / "static" / "js").glob("index.*.js") if not p.name.startswith("index.esm")]
    assert "pushState" in index.read_text(errors="ignore")
    assert "h.pushState = function" in patches.HISTORY_JS


def test_the_canvas_toolbar_classes_exist():
    """CANVAS_FIX styles ``.dc-root`` and ``.dc-toolbar`` inside the canvas's shadow root."""
    build = _canvas_build()
    text = "".join(p.read_text(errors="ignore") for p in build.glob("*.*") if p.suffix in (".js", ".css"))
    for cls in ("dc-root", "dc-toolbar"):
        assert cls in text, f".{cls} is gone from streamlit-drawable-canvas; update dashboard.patches.CANVAS_FIX"
        assert f".{cls}" in patches.CANVAS_FIX


def test_containers_with_a_key_get_the_class_the_scroll_script_looks_for():
    """scroll_script finds ``st.container(key=...)`` by its ``st-key-<key>`` class."""
    (index,) = [p for p in (STATIC / "static" / "js").glob("index.*.js") if not p.name.startswith("index.esm")]
    assert "st-key-" in index.read_text(errors="ignore")
    assert ".st-key-cm_gallery" in patches.scroll_script("cm_gallery", 1)


def test_the_app_hides_streamlits_deploy_button():
    """The toolbar shows no "Deploy" button: ``client.toolbarMode = "viewer"`` in the app's
    config, which ``streamlit run`` reads from the project folder."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    probe = ("from streamlit import config; config.get_config_options(force_reparse=True); "
             "print(config.get_option('client.toolbarMode'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "viewer", out.stdout


def test_the_sidebar_page_list_still_folds_behind_a_button_kept_in_local_storage():
    """NAV_EXPAND_JS clicks Streamlit's "View N more" button once; the bundle must still have the
    button's test id and keep the reader's choice under the same localStorage key."""
    (index,) = [p for p in (STATIC / "static" / "js").glob("index.*.js") if not p.name.startswith("index.esm")]
    text = index.read_text(errors="ignore")
    assert "stSidebarNavViewButton" in text and "sidebarNavState" in text
    assert "stSidebarNavViewButton" in patches.NAV_EXPAND_JS and "sidebarNavState" in patches.NAV_EXPAND_JS
