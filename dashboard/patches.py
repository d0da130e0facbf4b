"""Every patch of Streamlit's (and the drawing canvas's) browser internals, in one place.

Each is a small script injected with ``st.html(..., unsafe_allow_javascript=True)`` that
relies on something Streamlit or streamlit-drawable-canvas does not promise; tests/test_patches.py
checks each assumption against the installed packages, so an upgrade that breaks one fails there.

* ``HISTORY_JS``: Streamlit pushes a browser-history entry for every query-string change; this
  keeps one entry per page (assumes Streamlit navigates with ``history.pushState``).
* ``PREFETCH_JS`` + :func:`chunk_files`: imports Streamlit's lazily loaded Plotly and data-grid
  chunks when the browser is idle (assumes the chunk file names and the index script's URL).
* ``CANVAS_FIX``: moves streamlit-drawable-canvas's hover toolbar below the canvas (assumes
  its ``.dc-root``/``.dc-toolbar`` classes inside an open shadow root).
* ``scroll_script``: scrolls an element (a Streamlit container's ``st-key-<key>`` class) into view.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

__all__ = ["CANVAS_FIX", "HISTORY_JS", "PREFETCH_CHUNKS", "PREFETCH_JS", "chunk_files", "install_canvas_fix",
           "install_page_patches", "scroll_into_view", "scroll_script"]

# Streamlit pushes a browser-history entry for every change of the query string, and a second one
# when a page visit rewrites it (measured: two entries per sidebar click). This keeps one entry per
# page and replaces the URL in place when only the query string changes (a model, cell, digit or
# threshold picked), so Back goes to the previous page. Installed once per browser tab.
HISTORY_JS = """<script>
(() => {
  const h = window.history;
  if (h.__samePathReplaces) return;
  const push = h.pushState.bind(h);
  h.pushState = function (state, title, url) {
    try {
      if (new URL(url, window.location.href).pathname === window.location.pathname) {
        return h.replaceState(state, title, url);
      }
    } catch (e) { /* an unparsable URL: leave it to the browser */ }
    return push(state, title, url);
  };
  h.__samePathReplaces = true;
})();
</script>"""

# With more pages than it shows at once, Streamlit folds the sidebar's page list behind a
# "View N more" button, which hid the Map, Robustness and Your model pages. The reader's choice is
# kept in localStorage ("sidebarNavState"); this opens the list once, as a click on the button
# would, and never folds it again if the reader does.
NAV_EXPAND_JS = """<script>
(() => {
  const doc = window.parent?.document || document;
  if (window.localStorage.getItem("sidebarNavState")) return;
  const open = () => {
    const button = doc.querySelector('[data-testid="stSidebarNavViewButton"]');
    if (button && /more/.test(button.textContent || "")) { button.click(); return true; }
    return false;
  };
  if (!open()) {
    const watch = new MutationObserver(() => { if (open()) watch.disconnect(); });
    watch.observe(doc.body, { childList: true, subtree: true });
    setTimeout(() => watch.disconnect(), 10000);
  }
})();
</script>"""

#: Streamlit's lazily loaded element code that our pages need: Plotly (4.7 MB) and the data grid.
PREFETCH_CHUNKS = ("PlotlyChart", "DataFrame")

@functools.cache
def chunk_files(names: tuple[str, ...] = PREFETCH_CHUNKS) -> tuple[str, ...]:
    """File names of Streamlit's own script chunks ``names`` (e.g. ``PlotlyChart.D9Z0_fxz.js``)
    in the installed Streamlit; a name missing from this version is skipped."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = []
    for name in names:
        hits = sorted(folder.glob(f"{name}.*.js"))
        if len(hits) == 1:
            found.append(hits[0].name)
    return tuple(found)

# A tab's first chart evaluates Plotly's 4.7 MB module: 0.7 s of the browser's main thread on
# this project's 2-core machine (docs/ui-benchmark.md). Streamlit loads that code only when a
# chart appears, so the first page with a chart paid for it. This script imports the chunks
# (the same URLs Streamlit's own loader uses, next to its index script) once per tab when
# the browser is idle after the page has rendered, so it is ready by the user's next click.
PREFETCH_JS = """<script>
(() => {
  if (window.__chunksPrefetched) return;
  window.__chunksPrefetched = true;
  const files = %s;
  const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!main || !files.length) return;
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 300));
  const next = (k) => {
    if (k >= files.length) return;
    idle(() => import(new URL(files[k], main.src).href).catch(() => {}).finally(() => next(k + 1)), {timeout: 2000});
  };
  setTimeout(() => next(0), 200);
})();
</script>"""



def install_page_patches() -> None:
    """Once per page run: one browser-history entry per page visit, and the chart code
    prefetched when the browser is idle."""
    st.html(HISTORY_JS + NAV_EXPAND_JS + PREFETCH_JS % json.dumps(list(chunk_files())), unsafe_allow_javascript=True)


# The canvas's own toolbar (upload, undo, redo, delete) floats, invisible until hovered, over
# the canvas's top band and swallowed strokes begun there; CANVAS_FIX moves it below the canvas
# (a style injected into the component's open shadow root, re-applied whenever a new canvas
# mounts), where it covers neither the drawing area nor the instruction above it.
CANVAS_FIX = """
<script>
(() => {
  if (window.__drawCanvasFix) return;
  window.__drawCanvasFix = true;
  const css = `
    .dc-root { margin-bottom: 3.1rem; }
    .dc-toolbar, .dc-root:hover > .dc-toolbar, .dc-toolbar[data-pinned=true] {
      top: auto !important; bottom: -3.1rem !important; left: 0 !important; right: auto !important;
      opacity: 1 !important; padding: 0 !important; }`;
  // A component's shadow root fills in after its host is attached, and the page's observer
  // does not see inside it: style every shadow root (the rules only match the canvas's
  // .dc-* classes) and watch each one so the style comes back if the root is re-rendered.
  const ensure = (root) => {
    if (!root.getElementById("draw-canvas-fix")) {
      const style = document.createElement("style");
      style.id = "draw-canvas-fix";
      style.textContent = css;
      root.appendChild(style);
    }
  };
  const watched = new WeakSet();
  const patch = () => {
    for (const el of document.querySelectorAll("*")) {
      const root = el.shadowRoot;
      if (!root) continue;
      ensure(root);
      if (!watched.has(root)) {
        watched.add(root);
        new MutationObserver(() => ensure(root)).observe(root, {childList: true});
      }
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; patch(); }); }
  }).observe(document.body, {childList: true, subtree: true});
  patch();
})();
</script>
"""


def install_canvas_fix() -> None:
    """On the Draw page, before the canvas: see ``CANVAS_FIX``."""
    st.html(CANVAS_FIX, unsafe_allow_javascript=True)


def scroll_script(key: str, nonce: int) -> str:
    """A script that scrolls the container with ``key`` (class ``st-key-<key>``) to the top of
    the view once it is on the page (``nonce`` makes each request a new element, so it runs again).

    It keeps it there while the content around it arrives, for at most 3 s, and stops for good as
    soon as anything else scrolls the page (the reader's wheel, a key, a click that scrolls a
    button into view): it never pulls the view back from the reader. When it stops it records
    ``window.__stScrolled[<key>] = <nonce>``."""
    selector = json.dumps(f".st-key-{key}")
    return f"""<script data-nonce="{int(nonce)}">
(() => {{
  const deadline = performance.now() + 3000;
  const done = () => {{ (window.__stScrolled = window.__stScrolled || {{}})[{json.dumps(key)}] = {int(nonce)}; }};
  const scroller = (el) => {{
    for (let p = el.parentElement; p; p = p.parentElement) {{
      const y = getComputedStyle(p).overflowY;
      if ((y === "auto" || y === "scroll") && p.scrollHeight > p.clientHeight) return p;
    }}
    return document.scrollingElement;
  }};
  let left = null;  // the scroll position this script left
  const go = () => {{
    const el = document.querySelector({selector});
    if (el) {{
      const box = scroller(el);
      if (left !== null && Math.abs(box.scrollTop - left) > 2) return done();  // scrolled by someone else
      el.scrollIntoView({{block: "start", behavior: "instant"}});
      left = box.scrollTop;
      if (Math.abs(el.getBoundingClientRect().top) < 80) return done();
    }}
    if (performance.now() < deadline) requestAnimationFrame(go); else done();
  }};
  requestAnimationFrame(go);
}})();
</script>"""


def scroll_into_view(key: str) -> None:
    """Scroll the container ``st.container(key=key)`` into view after this run (call it once
    per click that opened something lower on the page)."""
    nonce = st.session_state.get("_scroll_nonce", 0) + 1
    st.session_state["_scroll_nonce"] = nonce
    # a container with a new key each time: a new element, so the browser runs the script again
    with st.container(key=f"scroll_{nonce}", height=1, border=False):
        st.html(scroll_script(key, nonce), unsafe_allow_javascript=True)
