"""UI benchmark: how fast the dashboard answers a user, measured in a real browser.

Starts ``streamlit run dashboard/Home.py`` on the data given (``--source`` / ``--mnist-dir``,
``--models-dir``; the models must be trained there first), drives it with Playwright in Debian's
Chromium and prints p50 and p95 (seconds) over ``--reps`` repetitions of each interaction, from the
user's action until the page has finished (script not running, nothing stale, the expected result
on screen), plus the server's resident memory after every page has been visited.

"First page load" is a new tab (a new Streamlit session) in a browser that has opened the app
before; "empty browser cache" is a new browser profile, which also downloads Streamlit's
scripts. "Page switch" is to a page the tab has shown before; a tab's first visit to
a page with charts also runs the chart code, and has its own row: the user clicks 1.5 s after
Home has appeared (every page prefetches the chart code when the browser is idle). The same two first-load rows
are then measured on a one-line Streamlit app: the framework's own floor on this machine.


    python -m core train --source sample --models-dir /tmp/models       # once
    python benchmarks/ui_bench.py --source sample --models-dir /tmp/models
    MNIST_DIR=/path/to/mnist python benchmarks/ui_bench.py --models-dir models --out docs/ui-benchmark.md

The server and browser helpers are the browser tests' own (tests/browser/browser_support.py);
targets are in benchmarks/targets.toml (``[ui]``).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED_JS, StreamlitServer, lasso_times, new_context, settle  # noqa: E402

INTERACTIONS = [
    ("first page load", "a new tab opens the Home page (a new session; the browser has opened the app before)"),
    ("first page load, empty browser cache", "a new browser profile opens the Home page (downloads every script)"),
    ("page switch", "a sidebar click to another page the tab has shown before (Leaderboard, Confusion matrix, "
                    "Precision recall, Draw a digit)"),
    ("page switch, first chart page in a tab", "a new tab's first sidebar click from Home to a page with charts "
                                               "(runs the chart code, Plotly and the data grid, from the browser cache)"),
    ("confusion cell click → gallery", "a click on an error cell until its gallery of digits is shown"),
    ("threshold change → metrics", "one notch of the threshold slider until the metrics are updated"),
    ("draw → every model's answer", "one stroke on the canvas until every model's answer is shown"),
    ("model switch", "another model in the sidebar picker on the Confusion matrix page"),
    ("inspector open", "a sidebar click to the Digit inspector page"),
    ("Compare models, a tab's first visit", "a new tab opens Home, then a sidebar click to Compare models "
                                            "(the first repetition is the server's first visit too)"),
    ("Trust, a tab's first visit", "the same for the Trust page (reliability, abstention, hand-over gallery)"),
    ("Label errors, a tab's first visit", "the same for the Label errors page (cleanlab ranking, 100 suspects)"),
    ("Tune, a tab's first visit", "the same for the Tune page"),
    ("Map page open, cached layout", "a sidebar click to the Map page (10,000 points, scattergl) in a tab that has shown it"),
    ("Map lasso → gallery", "a lasso around ~500 digits, from the mouse release until their gallery is shown"),
    ("Robustness page open, cached results", "a sidebar click to the Robustness page (table and curves) in a tab that has shown it"),
]
#: Pages timed on a tab's first visit (row name -> sidebar label), not visited by the warm-up.
FIRST_VISITS = {"Compare models, a tab's first visit": "Compare models", "Trust, a tab's first visit": "Trust",
                "Label errors, a tab's first visit": "Label errors", "Tune, a tab's first visit": "Tune"}
#: The same first-load measurement on a one-line Streamlit app: the framework's own floor here.
FLOOR = [
    ("first page load", "a new tab opens a one-line app (`st.title`)"),
    ("first page load, empty browser cache", "a new browser profile opens the one-line app"),
]
FLOOR_APP = 'import streamlit as st\n\nst.title("Hello")\n'
#: How long the benchmark's user looks at Home before the first click to a chart page (ms).
THINK_MS = 1500
PAGES = ["Leaderboard", "Confusion matrix", "Precision recall", "Draw a digit"]
CELLS = ".js-plotly-plot .scatterlayer .points path.point"


def _wait(page, condition_js: str = "() => true", arg=None, timeout_s: float = 120.0) -> None:
    """Wait (polling every animation frame) until the app has settled and ``condition_js`` holds."""
    page.wait_for_function(
        f"(arg) => ({SETTLED_JS})() && ({condition_js})(arg)", arg=arg, timeout=timeout_s * 1000, polling="raf",
    )


def _timed(page, action: Callable[[], None], condition_js: str, arg=None) -> float:
    start = time.perf_counter()
    action()
    page.wait_for_timeout(30)  # let the rerun request leave before the first check
    _wait(page, condition_js, arg)
    return time.perf_counter() - start


H1_IS = "(t) => { const h = document.querySelector('h1'); return !!h && h.innerText.trim().startsWith(t); }"
TEXT_PRESENT = "(t) => document.body.innerText.includes(t)"
GALLERY_IS = """(t) => Array.from(document.querySelectorAll('h3')).some(h => h.innerText.startsWith(t))
                    && document.querySelectorAll('.digit-tile').length > 0"""
EXACT_CHANGED = """(old) => { const el = Array.from(document.querySelectorAll('p, code, span'))
                        .find(e => e.innerText && e.innerText.startsWith('Threshold:'));
                      return !!el && el.innerText !== old; }"""
PREDICTION_SHOWN = """(n) => Array.from(document.querySelectorAll('h2')).some(h => /^Prediction: \\d/.test(h.innerText.trim()))"""


CHART_SHOWN = "(t) => document.querySelector('h1')?.innerText.trim().startsWith(t) && !!document.querySelector('.js-plotly-plot')"


#: Sidebar labels of the pages this run has opened (in any tab: the server's caches are shared).
VISITED: set[str] = set()


def _nav(page, name: str) -> None:
    VISITED.add(name)
    page.locator('[data-testid="stSidebarNav"] a', has_text=re.compile(f"^{re.escape(name)}$")).first.click()


def _rss_mb(pid: int) -> float:
    """Resident memory (MB) of process ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total_kb, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


class Bench:
    def __init__(self, browser, url: str, reps: int, log: Callable[[str], None]):
        self.browser, self.url, self.reps, self.log = browser, url, reps, log
        self.times: dict[str, list[float]] = {name: [] for name, _ in INTERACTIONS}
        self.notes: dict[str, str] = {}
        self._returning = None

    @property
    def returning(self):
        """One returning browser for the first-load rows: a context that has opened Home and the
        chart pages once, so its HTTP cache holds Streamlit's scripts and the chart code."""
        if self._returning is None:
            self._returning = self.returning_browser(pages=tuple(PAGES))
        return self._returning

    def close(self) -> None:
        if self._returning is not None:
            self._returning.close()
            self._returning = None

    def new_page(self):
        context = new_context(self.browser, viewport={"width": 1400, "height": 1100})
        page = context.new_page()
        page.set_default_timeout(120_000)
        return context, page

    def returning_browser(self, url: str | None = None, title: str = "MNIST handwritten digits",
                          pages: tuple[str, ...] = ()):
        """A browser context that has opened ``url`` (and visited ``pages``) once: its HTTP cache
        holds Streamlit's scripts and the chart code, as a user's browser does on a later visit."""
        context, page = self.new_page()
        page.goto(url or self.url)
        _wait(page, H1_IS, title)
        for name in pages:
            _nav(page, name)
            _wait(page, H1_IS, name)
            settle(page)
        page.close()
        return context

    def first_load(self, url: str | None = None, title: str = "MNIST handwritten digits",
                   rows: tuple[str, str] = ("first page load", "first page load, empty browser cache")) -> None:
        """``rows[1]``: a new browser context (empty cache) opens ``url``; ``rows[0]``: a new tab
        in a returning browser opens it (cached scripts, a new Streamlit session)."""
        returning = self.returning_browser(url, title) if url else self.returning
        url = url or self.url
        for _ in range(self.reps):
            context, page = self.new_page()
            self.times.setdefault(rows[1], []).append(_timed(page, lambda page=page: page.goto(url), H1_IS, title))
            context.close()
            tab = returning.new_page()
            self.times.setdefault(rows[0], []).append(_timed(tab, lambda tab=tab: tab.goto(url), H1_IS, title))
            tab.close()
        if returning is not self.returning:
            returning.close()

    def first_chart_page(self) -> None:
        """A new tab in a returning browser opens Home, then a page with charts: the tab's first
        chart page parses and runs the chart code (from the browser's cache)."""
        for k in range(self.reps):
            page = self.returning.new_page()
            page.goto(self.url)
            _wait(page, H1_IS, "MNIST handwritten digits")
            page.wait_for_timeout(THINK_MS)  # a user reads Home before clicking (the page prefetches chart code when idle)
            target = PAGES[k % 3]  # the pages with charts
            self.times["page switch, first chart page in a tab"].append(
                _timed(page, lambda target=target, page=page: _nav(page, target), H1_IS, target))
            page.close()

    def page_switches(self, page) -> None:
        for name in PAGES:  # the tab has shown every page once (a page's chart code loads on its first visit)
            _nav(page, name)
            _wait(page, H1_IS, name)
            settle(page)
        for k in range(self.reps):
            target = PAGES[k % len(PAGES)]
            self.times["page switch"].append(_timed(page, lambda target=target: _nav(page, target), H1_IS, target))

    def confusion(self, page, cells: list[tuple[int, int]], labels: list[str]) -> None:
        _nav(page, "Confusion matrix")
        _wait(page, H1_IS, "Confusion matrix")
        settle(page)
        for k in range(self.reps):
            i, j = cells[k % len(cells)]
            page.locator(CELLS).nth(99).wait_for(state="attached")
            box = page.locator(CELLS).nth(i * 10 + j).bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            self.times["confusion cell click → gallery"].append(
                _timed(page, lambda x=x, y=y: page.mouse.click(x, y), GALLERY_IS, f"true {i} → predicted {j}:"))
            page.mouse.move(5, 5)
            settle(page)
        for k in range(self.reps):
            label = labels[(k + 1) % len(labels)]
            picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first

            def switch(label=label, picker=picker):
                picker.click()
                page.get_by_role("option", name=label, exact=True).click()

            self.times["model switch"].append(_timed(page, switch, TEXT_PRESENT, f"{label} on "))
            settle(page)

    def threshold(self, page) -> None:
        _nav(page, "Precision recall")
        _wait(page, H1_IS, "Precision recall")
        settle(page)
        thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
        exact = page.get_by_text(re.compile(r"^Threshold: ")).first
        for k in range(self.reps):
            before = exact.inner_text()
            key = "ArrowRight" if k % 2 == 0 else "ArrowLeft"
            self.times["threshold change → metrics"].append(
                _timed(page, lambda key=key: (thumb.focus(), thumb.press(key)), EXACT_CHANGED, before))
            settle(page)

    def draw(self, page, n_models: int) -> None:
        _nav(page, "Draw a digit")
        _wait(page, H1_IS, "Draw a digit")
        settle(page)
        canvas = page.locator("canvas.upper-canvas").first
        for k in range(self.reps):
            box = canvas.bounding_box()
            x0 = box["x"] + box["width"] * (0.45 + 0.02 * (k % 3))

            def stroke(x0=x0, box=box):
                page.mouse.move(x0, box["y"] + 0.2 * box["height"])
                page.mouse.down()
                page.mouse.move(x0 + 4, box["y"] + 0.8 * box["height"], steps=6)
                page.mouse.up()

            self.times["draw → every model's answer"].append(_timed(page, stroke, PREDICTION_SHOWN, n_models))
            clear = page.get_by_role("button", name=re.compile("Clear"))
            if clear.count():
                clear.first.click()
            settle(page)

    def first_visits(self) -> None:
        """For each page of FIRST_VISITS: a new tab (a new session) opens Home, then the page. The
        server has not shown these pages before the first repetition, so that one includes its
        first computation (e.g. Compare's predictions, Label errors' ranking)."""
        for row, target in FIRST_VISITS.items():
            if not list((ROOT / "dashboard" / "pages").glob(f"*_{target.replace(' ', '_')}.py")):
                self.notes[row] = "n/a: page not present"
                continue
            for _ in range(self.reps):
                page = self.returning.new_page()
                page.goto(self.url)
                _wait(page, H1_IS, "MNIST handwritten digits")
                settle(page)
                self.times[row].append(_timed(page, lambda target=target, page=page: _nav(page, target), H1_IS, target))
                page.close()

    def chart_pages(self, page) -> None:
        """The Map (page open, lasso) and Robustness pages, with their layout and results cached:
        the first visit waits for them (a missing layout is computed by the page's background job,
        missing robustness results are not, and that row says so). The Map shows its PCA layout:
        what is timed is the page with a saved layout, whichever method made it."""
        rows = {"Map": ["Map page open, cached layout", "Map lasso → gallery"],
                "Robustness": ["Robustness page open, cached results"]}
        for target, names in rows.items():
            if not list((ROOT / "dashboard" / "pages").glob(f"*_{target}.py")):
                for name in names:
                    self.notes[name] = "n/a: page not present"
                continue
            if target == "Map":
                page.goto(f"{self.url}/Map?method=pca")  # this tab's session keeps the method from now on
            else:
                _nav(page, target)
            _wait(page, H1_IS, target)
            # a missing map layout is computed by the background job; missing robustness results say so
            _wait(page, f"(t) => ({CHART_SHOWN})(t) || document.body.innerText.includes('Not computed yet')", target,
                  timeout_s=900)
            if not page.evaluate(CHART_SHOWN, target):
                for name in names:
                    self.notes[name] = "n/a: nothing cached to show (compute it on the page first)"
                continue
            for _ in range(self.reps):
                _nav(page, "Leaderboard")
                _wait(page, H1_IS, "Leaderboard")
                self.times[names[0]].append(_timed(page, lambda target=target: _nav(page, target), CHART_SHOWN, target))
            if target == "Map":
                settle(page)
                self.times["Map lasso → gallery"].extend(lasso_times(page, self.reps))

    def inspector(self, page) -> None:
        if not list((ROOT / "dashboard" / "pages").glob("*_Digit_inspector.py")):
            self.notes["inspector open"] = "n/a: page not present"
            return
        for k in range(self.reps):
            _nav(page, "Leaderboard" if k % 2 else "Confusion matrix")
            settle(page)
            self.times["inspector open"].append(_timed(page, lambda: _nav(page, "Digit inspector"), H1_IS, "Digit inspector"))


def measure_floor(browser, reps: int, workdir: Path) -> dict[str, list[float]]:
    """Time :data:`FLOOR` on a one-line Streamlit app served from ``workdir`` with this
    project's Streamlit settings (.streamlit/config.toml)."""
    app = workdir / "floor_app.py"
    app.write_text(FLOOR_APP)
    (workdir / ".streamlit").mkdir(exist_ok=True)
    (workdir / ".streamlit" / "config.toml").write_text((ROOT / ".streamlit" / "config.toml").read_text())
    server = StreamlitServer(workdir / "floor_server.log", {}, app=app, cwd=workdir)
    try:
        server.wait_healthy()
        bench = Bench(browser, server.url, reps, print)
        bench.first_load(server.url, "Hello", rows=(FLOOR[0][0], FLOOR[1][0]))  # its first visit warms the server
        return {name: bench.times[name] for name, _ in FLOOR}
    finally:
        server.stop()


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def _row(name: str, what: str, values: list[float], note: str, p50_target, p95_target) -> str:
    if not values:
        return f"| {name} | {what} | 0 | {note or 'n/a'} | | | |"
    p50, p95 = _percentile(values, 50), _percentile(values, 95)
    verdict = ""
    if p50_target is not None and p95_target is not None:
        ok = p50 <= p50_target and p95 <= p95_target
        verdict = f"{'meets' if ok else 'misses'} p50 <= {p50_target:g} s, p95 <= {p95_target:g} s"
    return f"| {name} | {what} | {len(values)} | {p50:.3f} | {p95:.3f} | {max(values):.3f} | {verdict} |"


def report(bench: Bench, context: dict[str, str], rss_mb: float, targets: dict,
           floor: dict[str, list[float]] | None = None) -> str:
    p50_target = targets.get("ui", {}).get("p50_s")
    p95_target = targets.get("ui", {}).get("p95_s")
    header = [
        "| interaction | what is timed | n | p50 s | p95 s | max s | target (full MNIST) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = [*header]
    for name, what in INTERACTIONS:
        lines.append(_row(name, what, bench.times.get(name, []), bench.notes.get(name, ""), p50_target, p95_target))
    head = [f"- **{k}**: {v}" for k, v in context.items()]
    out = [*head, "", *lines, "",
           f"Server resident memory (streamlit and its children) after visiting every page: **{rss_mb:.0f} MB**."]
    if floor:
        out += ["", "Streamlit's own floor on this machine, measured the same way on a one-line app (`st.title`), "
                    "same browser, same settings:", "", *header]
        out += [_row(name, what, floor.get(name, []), "", p50_target, p95_target) for name, what in FLOOR]
    return "\n".join(out)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/ui_bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=os.environ.get("MNIST_SOURCE", "auto"), help="auto, idx, openml or sample")
    p.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR"), help="folder of IDX files (default: $MNIST_DIR)")
    p.add_argument("--models-dir", default=os.environ.get("MODELS_DIR", "models"),
                   help="trained models (default: $MODELS_DIR or models)")
    p.add_argument("--reps", type=int, default=10, help="repetitions per interaction (default 10)")
    p.add_argument("--out", help="also write the table (markdown) to this file")
    p.add_argument("--no-floor", action="store_true", help="skip timing the one-line reference app")
    p.add_argument("--url", help="time an app already running at this address (same data and models) instead of starting one")
    p.add_argument("--server-pid", type=int, help="with --url: the server's process id, for the memory figure")
    return p


class _RunningServer:
    """An app someone else started (``--url``): nothing to start or stop."""

    def __init__(self, url: str, pid: int | None):
        self.url = url.rstrip("/")
        self.pid = pid

    def wait_healthy(self) -> None:
        pass

    def stop(self) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from playwright.sync_api import sync_playwright

    from core.data.sources import load_mnist
    from core.errors import DashboardError
    from core.models.catalog import MODELS
    from core.store.artifacts import ArtifactStore
    from core.store.queries import latest_predictions
    from core.store.settings import Settings

    if not os.access(CHROMIUM, os.X_OK):
        print(f"error: {CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    try:
        data = load_mnist(args.source, mnist_dir=args.mnist_dir)
    except (DashboardError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = ArtifactStore(args.models_dir, data=data, key_file=Settings.from_env().signing_key_file)
    trained = [n for n in MODELS if store.latest(n) is not None]
    if not trained:
        print(f"error: no trained models in {args.models_dir}; run "
              f"`python -m core train --source {args.source} --models-dir {args.models_dir}` first.", file=sys.stderr)
        return 2
    # the cells to click: the two largest confusions of the model the app opens with (the most accurate)
    preds = {}
    for n in trained:
        found = latest_predictions(store, n)
        if found is not None:
            preds[n] = found
    best = max(preds, key=lambda n: float(np.mean(preds[n].y_pred == preds[n].y_true)))
    cm = np.zeros((10, 10), int)
    np.add.at(cm, (preds[best].y_true, preds[best].y_pred), 1)
    np.fill_diagonal(cm, 0)
    cells = [tuple(int(v) for v in np.unravel_index(k, cm.shape)) for k in np.argsort(-cm, axis=None)[:2]]
    labels = [MODELS[n].label for n in preds if n != best] + [MODELS[best].label]

    env = {"MNIST_SOURCE": args.source, "MNIST_DIR": args.mnist_dir or "", "MODELS_DIR": str(Path(args.models_dir).resolve()),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"ui_bench_{os.getpid()}.log"
    load0 = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    server = _RunningServer(args.url, args.server_pid) if args.url else StreamlitServer(log_path, env)
    try:
        server.wait_healthy()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            bench = Bench(browser, server.url, args.reps, print)
            # warm the server once (data and models load on the first visit), as a user after the first one
            # finds it: the returning browser's first visit to Home and the chart pages does that
            bench.returning  # noqa: B018 (made here, on purpose)
            print("measuring first page load ...", file=sys.stderr)
            bench.first_load()
            print("measuring a new tab's first chart page ...", file=sys.stderr)
            bench.first_chart_page()
            print("measuring first visits to Compare models, Trust, Label errors, Tune ...", file=sys.stderr)
            bench.first_visits()
            context, page = bench.new_page()
            page.goto(server.url)
            _wait(page, H1_IS, "MNIST handwritten digits")
            for step, run in [("page switch", lambda: bench.page_switches(page)),
                              ("confusion matrix", lambda: bench.confusion(page, cells, labels)),
                              ("threshold", lambda: bench.threshold(page)),
                              ("draw", lambda: bench.draw(page, len(preds))),
                              ("inspector", lambda: bench.inspector(page)),
                              ("Map and Robustness", lambda: bench.chart_pages(page))]:
                print(f"measuring {step} ...", file=sys.stderr)
                run()
            bench.close()
            for path in sorted((ROOT / "dashboard" / "pages").glob("*.py")):  # every page, for the memory figure
                name = re.sub(r"^\d+_", "", path.stem).replace("_", " ")
                if name in VISITED:  # its caches are loaded already
                    continue
                _nav(page, name)
                page.wait_for_timeout(300)
                t0 = time.perf_counter()
                settle(page, timeout=300)  # not timed: a first visit may compute a page's caches
                print(f"  {path.stem}: settled in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            pid = server.pid if isinstance(server, _RunningServer) else server.proc.pid
            rss = _rss_mb(pid) if pid else math.nan
            context.close()
            server.stop()
            floor = None
            if not args.no_floor:
                print("measuring Streamlit's floor (a one-line app) ...", file=sys.stderr)
                with tempfile.TemporaryDirectory() as tmp:
                    floor = measure_floor(browser, args.reps, Path(tmp))
            browser.close()
    finally:
        server.stop()
    targets_file = ROOT / "benchmarks" / "targets.toml"
    targets = tomllib.loads(targets_file.read_text()) if targets_file.exists() else {}
    context_lines = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.platform()}, {os.cpu_count()} logical CPUs",
        "data": f"{data.description} ({data.source})",
        "models": f"{len(preds)} trained in {args.models_dir}: {', '.join(preds)}; the app opens with {best}",
        "load average (1/5/15 min) at start / end": f"{load0} / " + "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "repetitions": str(args.reps),
    }
    text = report(bench, context_lines, rss, targets, floor)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
