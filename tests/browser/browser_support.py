"""Helpers for the browser tests: start/stop a Streamlit server, launch Chromium, and wait
for the app to settle (the stack notes on browser testing)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``streamlit run dashboard/Home.py`` (or ``app``, run from ``cwd``) on a free loopback port,
    logging to ``log_path``."""

    def __init__(self, log_path: Path, env: dict[str, str], *, app: Path = ROOT / "dashboard" / "Home.py",
                 cwd: Path = ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"streamlit did not become healthy in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server's own process group (start_new_session)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


_SETTLED_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  if (document.querySelector('[data-testid="stSpinner"]')) return false;
  // lazily loaded element code (charts, tables) shows a skeleton until its chunk has loaded
  const skeletons = '[data-testid="stSkeleton"], [data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]';
  if (document.querySelector(skeletons)) return false;
  return true;
}
"""

_WATCH_JS = """
() => {
  if (!window.__domWatch) {
    window.__domWatch = {last: performance.now()};
    new MutationObserver(() => { window.__domWatch.last = performance.now(); })
      .observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  }
  return performance.now() - window.__domWatch.last;
}
"""

#: Installed in every page of a context made by :func:`new_context`, before the app's own code:
#: counts the requests the app sends on its websocket (a rerun is one) and the messages it gets.
WS_WATCH_JS = """
(() => {
  const Native = window.WebSocket;
  const ws = window.__stWs = {sent: 0, acked: 0, received: 0, answers: 0, lastSend: 0};
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { ws.received++; ws.answers++; });
    }
    send(data) { ws.sent++; ws.answers = 0; ws.lastSend = performance.now(); return super.send(data); }
  };
})();
"""

#: One poll of :func:`settle` on a page with :data:`WS_WATCH_JS`: a word for what it waits on,
#: or "settled" (and then every request so far counts as seen).
_SETTLE_STEP_JS = """
(a) => {
  const ws = window.__stWs;
  const quiet = (WATCH)();
  if (!(SETTLED)()) return 'running';
  if (ws.received === 0) return 'connecting';
  const pending = ws.sent > ws.acked;
  if (pending && ws.answers === 0 && performance.now() - ws.lastSend < a.unanswered_ms) return 'asked';
  if (!pending && a.grace) return 'grace';
  if (quiet < a.quiet_ms) return 'drawing';
  if (!(SETTLED)()) return 'running';
  ws.acked = ws.sent;
  return 'settled';
}
""".replace("WATCH", _WATCH_JS.strip()).replace("SETTLED", _SETTLED_JS.strip())


def new_context(browser, **options):
    """``browser.new_context(**options)`` whose pages count the app's websocket traffic, for
    :func:`settle`."""
    context = browser.new_context(**options)
    context.add_init_script(WS_WATCH_JS)
    return context


def settle(page, *, quiet_ms: int = 150, timeout: float = 60.0, started: bool = True) -> None:
    """Wait until the app has answered every request the page has sent it since the last settle
    (a rerun is one: the server's first answer says the script runs), the script has finished
    (state notRunning, nothing stale, no spinner, no skeleton of a lazily loaded element) and the
    DOM has been quiet for ``quiet_ms``. ``started``: an action came just before, so first give a
    request it makes up to 0.3 s to leave (a widget may send when its event has been handled).

    Pages of contexts not made by :func:`new_context` have no request count: they wait 250 ms,
    then for the script to finish and 400 ms of quiet."""
    deadline = time.monotonic() + timeout
    if not page.evaluate("() => !!window.__stWs"):
        _settle_by_quiet(page, quiet_ms=max(quiet_ms, 400), deadline=deadline, started=started)
        return
    grace_end = time.monotonic() + (0.3 if started else 0.0)
    state = "unknown"
    while time.monotonic() < deadline:
        state = page.evaluate(_SETTLE_STEP_JS, {"quiet_ms": quiet_ms, "grace": time.monotonic() < grace_end,
                                                "unanswered_ms": 15_000})
        if state == "settled":
            return
        page.wait_for_timeout(50)
    raise TimeoutError(f"the app did not settle (last seen: {state})")


def _settle_by_quiet(page, *, quiet_ms: int, deadline: float, started: bool) -> None:
    if started:
        page.wait_for_timeout(250)
    while time.monotonic() < deadline:
        if page.evaluate(_SETTLED_JS) and page.evaluate(_WATCH_JS) >= quiet_ms:
            if page.evaluate(_SETTLED_JS):
                return
        page.wait_for_timeout(100)
    raise TimeoutError("the app did not settle")


def open_app_page(page, url: str, link: str | None = None, *, title: str) -> None:
    """Load the app's Home, then (like a user) click ``link`` in the sidebar navigation, and
    wait for the page whose title (h1) is ``title`` to settle."""
    page.goto(url)
    page.wait_for_selector('[data-testid="stApp"]')
    settle(page, timeout=180)
    if link:
        page.locator('[data-testid="stSidebarNav"] a', has_text=link).first.click()
    page.locator("h1", has_text=title).first.wait_for()
    settle(page, timeout=180)


def is_settled(page) -> bool:
    """True when the script is not running and nothing is stale, spinning or loading (no quiet period)."""
    return bool(page.evaluate(_SETTLED_JS))


#: The body of :func:`is_settled` as a JavaScript function, to combine with other conditions in
#: ``page.wait_for_function`` (e.g. for timings that must not include a quiet period).
SETTLED_JS = _SETTLED_JS


def no_exception_shown(page) -> bool:
    return page.locator('[data-testid="stException"]').count() == 0


#: The Map page's test digits (every trace with customdata) in page pixels: {index: [px, py, x, y]}.
MAP_POINTS_JS = """
() => {
  const gd = document.querySelector('.js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  const out = {};
  for (const t of gd._fullData) {
    if (!t.customdata) continue;
    const xs = Array.from(t.x), ys = Array.from(t.y);
    xs.forEach((x, i) => {
      out[t.customdata[i][0]] = [r.left + xa._offset + xa.l2p(x), r.top + ya._offset + ya.l2p(ys[i]), x, ys[i]];
    });
  }
  return out;
}
"""


def draw_lasso(page, centre: tuple[float, float], radius: float, *, release: bool = True) -> list[tuple[float, float]]:
    """Draw an octagon of ``radius`` page pixels around ``centre`` with the Map chart's lasso
    tool; returns its corners. With ``release=False`` the mouse button is still down (the caller
    times the release)."""
    page.locator('.modebar-btn[data-val="lasso"]').first.click(force=True)  # the toolbar's lasso
    cx, cy = centre
    offsets = [(1, 0), (0.7, 0.7), (0, 1), (-0.7, 0.7), (-1, 0), (-0.7, -0.7), (0, -1), (0.7, -0.7)]
    corners = [(cx + radius * a, cy + radius * b) for a, b in offsets]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in corners[1:] + corners[:1]:
        page.mouse.move(x, y, steps=6)
    if release:
        page.mouse.up()
    return corners


def lasso_times(page, reps: int, *, size: int = 500) -> list[float]:
    """On an open Map page: ``reps`` lassos around ``size`` digits each (a random centre per
    repetition), each timed from the mouse release until the selection's gallery is shown and the
    script has finished (seconds)."""
    import numpy as np

    times = []
    for k in range(reps):
        pts = np.array([p[:2] for p in page.evaluate(MAP_POINTS_JS).values()])
        centre = pts[np.random.default_rng(k).integers(len(pts))]
        radius = float(np.sort(np.hypot(*(pts - centre).T))[min(size, len(pts)) - 1])
        draw_lasso(page, (float(centre[0]), float(centre[1])), radius / 0.92, release=False)  # the octagon's inner radius is ~0.92 r
        start = time.perf_counter()
        page.mouse.up()
        page.locator(".digit-tile").first.wait_for(timeout=120_000)
        page.wait_for_function(SETTLED_JS, timeout=120_000)
        times.append(time.perf_counter() - start)
        page.get_by_role("button", name="Clear selection").click()
        settle(page)
    return times


def eventually(read, expected, *, timeout: float = 60.0, page=None):
    """Poll ``read()`` until it equals ``expected`` (the page may still be drawing what a settled
    script sent), then assert it: a page that keeps showing something else fails with its value."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
        value = read()
    assert value == expected, (value, expected)
