"""Map benchmark: how long the 2-D maps take to compute, and how fast the Map page answers.

Rows (printed as a Markdown table with the date, machine and data):

* ``UMAP cold``: a fresh Python process maps the 10,000 test digits' PCA-50 pixels with UMAP
  (umap-learn's import and numba compilation included; no training background).
* ``UMAP warm``: the same fit again in that process; ``UMAP transform``: placing 10,000
  training digits with the fitted map.
* ``openTSNE``: the same features with openTSNE (``n_jobs=2``).
* ``page open, cached layout``: a new tab opens ``/Map`` with the layout saved (p50/p95 over
  ``--reps``), from navigation until the chart is drawn and the script has finished.
* ``lasso → gallery``: a lasso holding about 500 test digits, from the mouse release until
  the selection's gallery is shown (p50/p95).

    MNIST_DIR=/path/to/mnist python benchmarks/map_bench.py --models-dir /path/to/models

The models folder needs a trained KNN (the page's model) and gets the PCA map as a side file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED_JS, StreamlitServer, lasso_times, settle  # noqa: E402

_LAYOUT_CHILD = r"""
import json, sys, time
start = time.perf_counter()
from core.analysis.embedding import compute_layout, map_features
from core.data.sources import load_mnist
data = load_mnist(sys.argv[1] or None, mnist_dir=sys.argv[2] or None)
feats = map_features(data, background=10_000)
t0 = time.perf_counter()
out = {"features_s": t0 - start}
xy, bg = compute_layout(feats.test, method=sys.argv[3], random_state=0)
out["cold_s"] = time.perf_counter() - t0
if sys.argv[3] == "umap":
    import umap
    t1 = time.perf_counter()
    model = umap.UMAP(n_components=2, random_state=0, n_jobs=1).fit(feats.test)
    out["warm_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    model.transform(feats.train)
    out["transform_s"] = time.perf_counter() - t2
print(json.dumps(out))
"""

def layout_times(source: str, mnist_dir: str, method: str) -> dict:
    """Run one layout in a fresh process (cold) and return its timings."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _LAYOUT_CHILD, source, mnist_dir, method], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - start
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ui_times(url: str, reps: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    opens = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm = browser.new_page(viewport={"width": 1400, "height": 1000})
        warm.goto(f"{url}/Map?method=pca&model=knn")  # loads data, model and layout once per server
        warm.locator(".js-plotly-plot").first.wait_for(timeout=600_000)
        settle(warm, timeout=300)
        warm.close()
        for _ in range(reps):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(f"{url}/Map?method=pca&model=knn")
            page.locator(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas").first.wait_for(timeout=120_000)
            page.wait_for_function(SETTLED_JS, timeout=120_000)
            opens.append(time.perf_counter() - start)
            page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Map?method=pca&model=knn")
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        settle(page)
        lassos = lasso_times(page, reps)
        browser.close()
    return {"open": opens, "lasso": lassos}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="idx" if os.environ.get("MNIST_DIR") else "sample")
    ap.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR", ""))
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--skip-layouts", action="store_true", help="only the page rows")
    ap.add_argument("--skip-ui", action="store_true", help="only the layout rows")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from core.analysis.embedding import load_or_build_map
    from core.store.settings import Settings
    from core.store.workspace import open_workspace

    settings = Settings.from_env().with_(source=args.source, mnist_dir=args.mnist_dir or None, models_dir=args.models_dir)
    ws = open_workspace(settings)
    rows = []
    if not args.skip_layouts:
        um = layout_times(args.source, args.mnist_dir, "umap")
        rows += [("UMAP of PCA-50, cold (fresh process, import and numba compilation)", um["cold_s"], "≤ 60 s"),
                 ("UMAP, warm (second fit in the process)", um["warm_s"], ""),
                 ("UMAP transform of 10,000 training digits", um["transform_s"], ""),
                 ("deskew + PCA-50 features (and imports)", um["features_s"], "")]
        ts = layout_times(args.source, args.mnist_dir, "tsne")
        rows.append(("openTSNE (n_jobs=2)", ts["cold_s"], ""))
    if not args.skip_ui:
        load_or_build_map(ws.store, method="pca")  # the page's layout, saved
        env = {"MNIST_SOURCE": args.source, "MNIST_DIR": args.mnist_dir, "MODELS_DIR": str(args.models_dir),
               "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
        log = Path(args.models_dir).expanduser() / "map_bench_streamlit.log"
        srv = StreamlitServer(log, env)
        try:
            srv.wait_healthy(timeout=120)
            ui = ui_times(srv.url, args.reps)
        finally:
            srv.stop()
        rows += [("page open, cached layout (p50 / p95)", (_pct(ui["open"], 50), _pct(ui["open"], 95)), "p50 ≤ 1 s"),
                 ("lasso of ~500 digits → gallery (p50 / p95)", (_pct(ui["lasso"], 50), _pct(ui["lasso"], 95)), "p50 ≤ 0.5 s")]
    load = os.getloadavg()[0]
    print(f"Map benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()} ({os.cpu_count()} cores, "
          f"load average {load:.1f}), {ws.data.description}\n")
    print("| what | seconds | target |\n|---|---|---|")
    for name, value, target in rows:
        text = f"{value[0]:.2f} / {value[1]:.2f}" if isinstance(value, tuple) else f"{value:.1f}"
        print(f"| {name} | {text} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
