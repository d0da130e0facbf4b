"""Screenshots of every dashboard page in Chromium at 1400x1000, for looking at what the pages show.

Starts the app on the data and models given (the browser tests' StreamlitServer), opens each page
(and a few views reached by a click: a confusion cell, a difference-matrix cell, calibration on),
waits until it has settled and saves a full-page PNG (reduced to a 256-colour palette to stay small).

    MNIST_DIR=/path/to/mnist python scripts/screenshots.py --models-dir /path/to/models --out docs/screenshots
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from browser_support import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, new_context, settle  # noqa: E402

#: (file name, URL path and query, heading to wait for)
SHOTS = [
    ("01-home", "", "MNIST handwritten digits"),
    ("02-leaderboard", "Leaderboard", "Leaderboard"),
    ("03-confusion-matrix", "Confusion_matrix?view=normalized&cell=4-9", "Confusion matrix"),
    ("04-precision-recall", "Precision_recall?digit=5", "Precision recall"),
    ("05-draw-a-digit", "Draw_a_digit", "Draw a digit"),
    ("06-compare-models", "Compare_models?a=logreg&b=knn", "Compare models"),
    ("07-label-errors", "Label_errors", "Label errors"),
    ("08-digit-inspector", "Digit_inspector?index=247", "Digit inspector"),
    ("09-trust", "Trust", "Trust"),
    ("10-tune", "Tune", "Tune"),
    ("11-your-model", "Your_model", "Your model"),
    ("12-map", "Map?colour=correct", "Map"),
    ("13-robustness", "Robustness", "Robustness"),
]


def shrink(path: Path, *, max_height: int = 6000) -> None:
    """Crop very long pages and store the PNG with a 256-colour palette."""
    img = Image.open(path).convert("RGB")
    if img.height > max_height:
        img = img.crop((0, 0, img.width, max_height))
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def draw_one(page) -> None:
    """A slanted "1" on the Draw page's canvas."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.55 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.42 * box["width"], box["y"] + 0.85 * box["height"], steps=12)
    page.mouse.up()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--source", default="idx")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--only", nargs="*", help="file names to take (default: all)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {"MNIST_SOURCE": args.source, "MNIST_DIR": os.environ.get("MNIST_DIR", ""),
           "MODELS_DIR": str(Path(args.models_dir).resolve()),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = Path(tempfile.gettempdir()) / f"screenshots_{os.getpid()}.log"
    server = StreamlitServer(log, env)
    try:
        server.wait_healthy()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = new_context(browser, viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(300_000)
            for name, path, title in SHOTS:
                if args.only and name not in args.only:
                    continue
                page.goto(f"{server.url}/{path}")
                page.locator("h1", has_text=title).first.wait_for()
                settle(page, timeout=600)
                if name == "05-draw-a-digit":
                    draw_one(page)
                    page.locator("h2").first.wait_for()
                    settle(page, timeout=300)
                if name == "09-trust":
                    page.get_by_text("Calibrate each model on the test digits").first.click()
                    settle(page, timeout=600)
                page.mouse.move(5, 5)
                # Streamlit scrolls inside its main block, so a "full page" shot is the viewport: grow
                # the viewport to the content's height (the width, and so the layout, stay at 1,400 px)
                height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                page.set_viewport_size({"width": 1400, "height": max(1000, min(int(height) + 40, 6000))})
                settle(page, timeout=120)
                page.wait_for_timeout(700)
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                shrink(target)
                print(f"{target} ({target.stat().st_size // 1024} KB)", flush=True)
                page.set_viewport_size({"width": 1400, "height": 1000})
            browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
