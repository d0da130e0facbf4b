"""Load benchmark: N concurrent browser sessions touring every page, on loopback only.

Starts ``streamlit run dashboard/Home.py`` on 127.0.0.1 (the tests' StreamlitServer) over the
models given (train them first), then for each session count N (default 1, 5, 10, 20) opens N
headless Chromium sessions at once (one browser, N contexts: N Streamlit sessions). Each
session opens every page once by URL and waits until it has settled. The run is bounded: at most
``--max-sessions`` sessions, ``--page-timeout`` seconds per page and ``--deadline`` seconds per
round. Prints p50/p95 page time per N and the server's resident memory (with its children)
after each round.

    python -m core train --source sample --models-dir /tmp/models          # once
    python benchmarks/load_bench.py --source sample --models-dir /tmp/models --out docs/load-benchmark.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_support import _WATCH_JS, CHROMIUM, CHROMIUM_ARGS, SETTLED_JS, StreamlitServer  # noqa: E402
from ui_bench import _rss_mb  # noqa: E402

#: URL paths of the pages (Streamlit derives them from the file names), Home first.
PAGES = ["", *[p.stem.split("_", 1)[1] for p in sorted((ROOT / "dashboard" / "pages").glob("*.py"))]]
MAX_SESSIONS = 25


async def _settle(page, timeout: float, quiet_ms: int = 400) -> None:
    deadline = time.monotonic() + timeout
    await page.wait_for_timeout(250)
    while time.monotonic() < deadline:
        if await page.evaluate(SETTLED_JS) and await page.evaluate(_WATCH_JS) >= quiet_ms:
            return
        await page.wait_for_timeout(100)
    raise TimeoutError("page did not settle")


async def _session(browser, url: str, page_timeout: float, times: list[float], errors: list[str]) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        for path in PAGES:
            start = time.perf_counter()
            try:
                await page.goto(f"{url}/{path}", timeout=page_timeout * 1000)
                await page.wait_for_selector('[data-testid="stApp"]', timeout=page_timeout * 1000)
                await _settle(page, page_timeout)
                times.append(time.perf_counter() - start)
                if await page.locator('[data-testid="stException"]').count():
                    errors.append(f"{path or 'Home'}: exception shown")
            except Exception as exc:  # noqa: BLE001 - a timed-out page is a result, not a crash
                errors.append(f"{path or 'Home'}: {type(exc).__name__}")
    finally:
        await context.close()


async def _round(url: str, n: int, page_timeout: float, deadline: float) -> tuple[list[float], list[str], float]:
    from playwright.async_api import async_playwright

    times: list[float] = []
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        start = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(_session(browser, url, page_timeout, times, errors) for _ in range(n))), deadline)
        except TimeoutError:
            errors.append(f"round deadline of {deadline:g} s reached")
        wall = time.perf_counter() - start
        await browser.close()
    return times, errors, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="sample")
    ap.add_argument("--mnist-dir")
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--sessions", default="1,5,10,20", help="comma-separated session counts (each at most 25)")
    ap.add_argument("--page-timeout", type=float, default=180.0)
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds per round at most")
    ap.add_argument("--out", help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.sessions.split(",") if c.strip()]
    if not counts or min(counts) < 1 or max(counts) > MAX_SESSIONS:
        ap.error(f"--sessions: give counts from 1 to {MAX_SESSIONS}")
    env = {"MNIST_SOURCE": args.source, "MODELS_DIR": str(Path(args.models_dir).resolve())}
    if args.mnist_dir:
        env["MNIST_DIR"] = args.mnist_dir
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server = StreamlitServer(Path(tmp) / "streamlit.log", env)  # binds 127.0.0.1 only
        try:
            server.wait_healthy(120)
            asyncio.run(_round(server.url, 1, args.page_timeout, args.deadline))  # warm: data and models loaded once
            for n in counts:
                times, errors, wall = asyncio.run(_round(server.url, n, args.page_timeout, args.deadline))
                rss = _rss_mb(server.proc.pid)
                t = np.array(times) if times else np.array([np.nan])
                rows.append((n, len(times), float(np.percentile(t, 50)), float(np.percentile(t, 95)), wall, rss, errors))
                print(f"N={n}: {len(times)} pages, p50 {rows[-1][2]:.2f} s, p95 {rows[-1][3]:.2f} s, round {wall:.1f} s, "
                      f"server RSS {rss:.0f} MB, problems {len(errors)}", flush=True)
        finally:
            server.stop()
    lines = [
        "| sessions | pages opened | p50 page s | p95 page s | round s | server RSS MB | problems |",
        "|---|---|---|---|---|---|---|",
        *[f"| {n} | {k} | {p50:.2f} | {p95:.2f} | {wall:.1f} | {rss:.0f} | {len(err)}{': ' + '; '.join(sorted(set(err))[:3]) if err else ''} |"
          for n, k, p50, p95, wall, rss, err in rows],
    ]
    context = (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} with {os.cpu_count()} cores "
               f"({platform.python_version()}), data source {args.source}; browsers and server share the machine.")
    text = "\n".join([context, "", *lines])
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
