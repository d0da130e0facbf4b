"""How often does the Draw page's headline (core.analysis.trust.verdict) say the right thing on drawn input?

Every trained model in a models folder answers synthetic drawings (tests/drawn_digits.py: neat and
sloppy digits; large clean slanted ones like a quick "1"), and shapes that are not digits
(scribbles, dots, bars, filled blobs). Each verdict is counted as clear-right, clear-wrong,
hedged (unsure, with or without the true digit among the two candidates) or "not a digit".

    MNIST_DIR=... python scripts/measure_verdict.py --models-dir /path/to/full-models --source idx
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from drawn_digits import draw_digit, drawn_set

from core.analysis.verdict import InkReference, confidence_threshold, verdict
from core.data.drawing import BlankImageError, prepare_canvas
from core.data.sources import load_mnist
from core.models.predict import model_scores, top_k
from core.store.artifacts import ArtifactStore
from core.store.queries import trained_names
from core.store.settings import Settings


def clean_slanted(n: int, *, seed: int) -> list[tuple[int, np.ndarray]]:
    """Large, centred, firmly drawn digits with a right slant (how many people draw quickly)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        digit = k % 10
        rgba = draw_digit(digit, style=int(rng.integers(3)), height=float(rng.uniform(200, 250)), stroke=int(rng.choice([16, 20, 25])),
                          slant=float(rng.uniform(0.2, 0.45)), seed=int(rng.integers(1 << 30)))
        out.append((digit, rgba))
    return out


def _canvas(draw) -> np.ndarray:
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw(ImageDraw.Draw(im))
    return np.asarray(im)


def not_digits(n: int, *, seed: int) -> list[tuple[int, np.ndarray]]:
    """Scribbles (random polylines), dots, bars and blobs; label -1."""
    rng = np.random.default_rng(seed)
    white = (255, 255, 255, 255)
    out = []
    for k in range(n):
        kind = k % 4
        if kind == 0:  # a scribble: 6-14 random points joined by a thick pen
            pts = [tuple(p) for p in rng.uniform(50, 230, (int(rng.integers(6, 15)), 2))]
            width = int(rng.choice([12, 18, 25]))
            out.append((-1, _canvas(lambda g, pts=pts, w=width: g.line(pts, fill=white, width=w, joint="curve"))))
        elif kind == 1:  # a dot
            r = float(rng.uniform(8, 30))
            c = rng.uniform(80, 200, 2)
            out.append((-1, _canvas(lambda g, c=c, r=r: g.ellipse((c[0] - r, c[1] - r, c[0] + r, c[1] + r), fill=white))))
        elif kind == 2:  # a horizontal or diagonal bar
            y0, y1 = rng.uniform(60, 220, 2)
            w = int(rng.choice([15, 20, 30]))
            out.append((-1, _canvas(lambda g, y0=y0, y1=y1, w=w: g.line([(40, y0), (240, y1)], fill=white, width=w))))
        else:  # a filled blob
            box = np.sort(rng.uniform(40, 240, (2, 2)), axis=0)
            out.append((-1, _canvas(lambda g, b=box: g.rectangle((b[0, 0], b[0, 1], b[1, 0], b[1, 1]), fill=white))))
    return out


def answers_for(models, X: np.ndarray) -> list[pd.DataFrame]:
    """predict_digit's table for each row of X, computed with one batch call per model."""
    per_model = []
    for m in models:
        scores, kind = model_scores(m.pipeline, X)
        digits, values = top_k(scores, k=3)
        classes = np.asarray(m.pipeline.classes_)
        per_model.append((m, kind, classes[digits], values))
    out = []
    for i in range(len(X)):
        out.append(pd.DataFrame([
            {"model": m.record.name, "label": m.record.label, "prediction": int(d[i, 0]), "score_kind": kind,
             "top_digits": [int(v) for v in d[i]], "top_scores": [float(v) for v in s[i]]}
            for m, kind, d, s in per_model
        ]))
    return out


def outcome(v, truth: int) -> str:
    if truth < 0:
        return {"not a digit": "not a digit (right)", "unsure": "hedged", "clear": "clear (wrong)"}[v.kind]
    if v.kind == "clear":
        return "clear, right" if v.digit == truth else "clear, wrong"
    if v.kind == "unsure":
        return "hedged, truth a candidate" if truth in v.candidates else "hedged, truth not a candidate"
    return "not a digit (wrong)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--source", default="idx")
    ap.add_argument("--mnist-dir")
    ap.add_argument("--per-digit", type=int, default=20)
    ap.add_argument("--test-digits", type=int, default=1000, help="MNIST test digits to judge too (default 1000)")
    args = ap.parse_args(argv)
    settings = Settings.from_env()
    data = load_mnist(args.source, mnist_dir=args.mnist_dir or settings.mnist_dir)
    store = ArtifactStore(args.models_dir, data=data, key_file=settings.signing_key_file)
    models, thresholds, acc = [], {}, {}
    for name in trained_names(store):
        record = store.latest(name)
        preds = store.cached_predictions(record)
        model = store.load(record)
        if model is None or preds is None:
            continue
        models.append(model)
        thresholds[name] = confidence_threshold(preds)
        acc[name] = float(np.mean(preds.y_pred == preds.y_true))
    models.sort(key=lambda m: -acc[m.record.name])
    reference = InkReference.from_digits(data.X_train)
    print(f"{len(models)} models, most accurate first: {', '.join(m.record.name for m in models)}", flush=True)

    sets = {
        "neat": [(d.label, d.rgba) for d in drawn_set(args.per_digit, seed=201)],
        "sloppy": [(d.label, d.rgba) for d in drawn_set(args.per_digit, seed=202, sloppy=True)],
        "large, slanted": clean_slanted(10 * args.per_digit // 2, seed=203),
        "not digits": not_digits(10 * args.per_digit // 2, seed=204),
    }
    print("\n| set | drawings | " + " | ".join(OUTCOMES) + " |")
    print("|---|---" + "|---" * len(OUTCOMES) + "|")
    rows = {label: None for label in sets}
    rows["MNIST test digits"] = (data.X_test[: args.test_digits], data.y_test[: args.test_digits])
    for label, items in sets.items():
        rows[label] = items
    for label, items in rows.items():
        if isinstance(items, tuple):  # real test digits: already 28x28
            X, truth = items
            counts = Counter()
            for pixels, table, t in zip(X, answers_for(models, X), truth):
                counts[outcome(verdict(table, thresholds=thresholds, pixels=pixels, ink_reference=reference), int(t))] += 1
            print(f"| {label} | {len(X)} | " + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES) + " |", flush=True)
            continue
        X, truth = [], []
        for t, rgba in items:
            try:
                X.append(prepare_canvas(rgba).pixels)
                truth.append(t)
            except BlankImageError:
                continue
        X = np.stack(X)
        counts = Counter()
        for pixels, table, t in zip(X, answers_for(models, X), truth):
            counts[outcome(verdict(table, thresholds=thresholds, pixels=pixels, ink_reference=reference), t)] += 1
        print(f"| {label} | {len(X)} | " + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES) + " |", flush=True)


OUTCOMES = ("clear, right", "clear, wrong", "hedged, truth a candidate", "hedged, truth not a candidate",
            "not a digit (wrong)", "not a digit (right)", "hedged", "clear (wrong)")

if __name__ == "__main__":
    main()
