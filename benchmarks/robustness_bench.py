"""Robustness timings: ``python benchmarks/robustness_bench.py [--all] [--page N]``.

1. Cold: the whole table (the eight catalog models with their default options x 13
   corruptions x 5 severities) on the stratified 2,000-digit subset, recomputed (``force``)
   with no deskewed data remembered, against the 5-minute target.
2. ``--variants``: the same for every other trained variant (e.g. ``knn+shifts``).
3. ``--all``: the table on all test digits.
4. ``--page N``: the Robustness page opened N times in a returning browser with the results
   cached (a Streamlit server on the same data and models), p50 against 0.5 s.

Then prints the table (accuracy %, mean of severities 1-5), the most and least robust model
per corruption, and the three worst slices of the most accurate model. Options
``--source/--mnist-dir/--models-dir`` as for ``python -m core``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED_JS, StreamlitServer, new_context  # noqa: E402

from core.analysis.robustness import compute_robustness, default_digits, robustness_models  # noqa: E402
from core.analysis.slices import find_slices, load_digit_properties  # noqa: E402
from core.cli.common import add_data_arguments, settings_from_args, workspace_from_args  # noqa: E402
from core.data.corruptions import CORRUPTIONS  # noqa: E402
from core.data.preprocessing import clear_deskew_memo  # noqa: E402
from core.progress import reporting  # noqa: E402

COLD_TARGET_S = 300.0
PAGE_TARGET_S = 0.5
MATRIX_SHOWN = "() => document.querySelectorAll('.js-plotly-plot .scatterlayer .points path.point').length >= 100"
TABLE_SHOWN = """() => Array.from(document.querySelectorAll('h3')).some(h => h.innerText.startsWith('Accuracy at severity'))
                     && document.querySelectorAll('.js-plotly-plot .scatterlayer .points path.point').length > 0"""


def load_average() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def timed_table(store, rows, digits, *, label: str) -> tuple[float, object]:
    clear_deskew_memo()
    last = [0.0]

    def listen(fraction, message):
        if fraction is not None and fraction - last[0] >= 0.1:
            last[0] = fraction
            print(f"  {label}: {100 * fraction:.0f}% {message}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    with reporting(listen):
        result = compute_robustness(store, rows, digits=digits, force=True)
    return time.perf_counter() - start, result


def page_times(args, reps: int, digits: int | None) -> tuple[list[float], list[float]]:
    """Seconds to open the Robustness page (cached results) and, as a reference measured the
    same way in the same server, the Confusion matrix page."""
    from playwright.sync_api import sync_playwright

    s = settings_from_args(args)
    env = {"MNIST_SOURCE": s.source, "MNIST_DIR": str(s.mnist_dir or ""), "MODELS_DIR": str(s.models_dir),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    url_digits = "all" if digits is None else str(digits)
    with tempfile.TemporaryDirectory() as tmp:
        server = StreamlitServer(Path(tmp) / "streamlit.log", env)
        try:
            server.wait_healthy()
            url = f"{server.url}/Robustness?digits={url_digits}&sev=3"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = new_context(browser, viewport={"width": 1400, "height": 1000})
                times: list[float] = []
                reference: list[float] = []
                for k in range(reps + 1):  # the first visit loads the data and warms the caches: not counted
                    for target, condition, out in ((url, TABLE_SHOWN, times),
                                                   (f"{server.url}/Confusion_matrix", MATRIX_SHOWN, reference)):
                        page = context.new_page()
                        start = time.perf_counter()
                        page.goto(target)
                        page.wait_for_function(f"() => ({SETTLED_JS})() && ({condition})()", timeout=600_000,
                                               polling="raf")
                        if k:
                            out.append(time.perf_counter() - start)
                        page.close()
                browser.close()
        finally:
            server.stop()
    return times, reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--variants", action="store_true",
                        help="also time every other trained variant and show it in the table")
    parser.add_argument("--all", action="store_true", help="also run the table on all test digits")
    parser.add_argument("--page", type=int, default=0, metavar="N", help="open the page N times (cached results)")
    parser.add_argument("--skip-cold", action="store_true", help="use cached results instead of the cold run")
    args = parser.parse_args(argv)
    ws = workspace_from_args(args)
    data, store = ws.data, ws.store
    digits = default_digits(data.n_test)
    rows = robustness_models(store)
    plain = [m for m in rows if m.id == m.name]
    others = [m for m in rows if m.id != m.name]
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {data.description}; {os.cpu_count()} cores, {platform.machine()}, "
          f"Python {platform.python_version()}; models: {', '.join(m.id for m in rows)}")
    lines = [f"{'step':<44}{'models':>7}{'digits':>8}{'seconds':>10}  target", "-" * 80]

    def row(step, n_models, n_digits, seconds, target=""):
        lines.append(f"{step:<44}{n_models:>7}{n_digits:>8,}{seconds:>10.1f}  {target}")
        print(lines[-1], file=sys.stderr, flush=True)

    shown = rows if args.variants else plain
    load = [load_average()]
    if args.skip_cold:
        result = compute_robustness(store, shown, digits=digits)
    else:
        seconds, result = timed_table(store, plain, digits, label="cold")
        row("cold table, 8 models x 13 x 5", len(plain), digits, seconds,
            f"<= {COLD_TARGET_S:.0f} s: {'ok' if seconds <= COLD_TARGET_S else 'SLOW'}")
        if args.variants and others:
            seconds, _ = timed_table(store, others, digits, label="variants")
            row("cold table, variants", len(others), digits, seconds)
        result = compute_robustness(store, shown, digits=digits)
    if args.all:
        seconds, _ = timed_table(store, plain, None, label="all")
        row("cold table, all test digits", len(plain), data.n_test, seconds)
    load.append(load_average())
    if args.page:
        times, reference = page_times(args, args.page, digits)
        p50 = float(np.median(times))
        row(f"page open, cached (p50 of {len(times)})", len(rows), digits, p50,
            f"<= {PAGE_TARGET_S} s: {'ok' if p50 <= PAGE_TARGET_S else 'SLOW'}; max {max(times):.2f} s")
        row(f"reference: Confusion matrix open (p50 of {len(reference)})", 1, data.n_test, float(np.median(reference)),
            f"same server and browser; max {max(reference):.2f} s")
    print("\n".join(lines))
    print(f"# load average before {load[0]}, after {load[-1]}")

    table = result.table()
    print("\n# accuracy % (mean of severities 1-5)")
    print((100 * table).to_string(float_format=lambda v: f"{v:.1f}"))
    print("\n# per corruption: most robust / least robust (mean of severities 1-5)")
    for c in result.corruptions:
        col = table[c]
        print(f"{CORRUPTIONS[c].label:<20} most {col.idxmax()} {100 * col.max():.1f}%   least {col.idxmin()} {100 * col.min():.1f}%")
    best = table["clean"].idxmax()
    model = next(m for m in rows if m.id == best)
    preds = store.cached_predictions(model.record)
    if preds is not None:
        found = find_slices(preds.y_pred == preds.y_true, load_digit_properties(store))
        print(f"\n# worst slices of {best} ({100 * np.mean(preds.y_pred == preds.y_true):.2f}% on all test digits)")
        for item in found.head(3).itertuples(index=False):
            print(f"{item.description}: {item.n} digits, {100 * item.accuracy:.2f}% (-{100 * item.gap:.2f} points), "
                  f"{100 * item.error_share:.1f}% of its errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
