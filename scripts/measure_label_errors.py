"""Measure how many human-confirmed MNIST test label errors land in our top-k suspects.

Usage (full MNIST, models trained into a folder of your own)::

    MNIST_DIR=/work/shared/mnist python scripts/measure_label_errors.py mnist_mturk.json \\
        --models-dir /tmp/compare-models

``mnist_mturk.json`` is cleanlab/label-errors' ``mturk/mnist_mturk.json`` (100 candidates,
five Mechanical Turk votes each). A candidate counts as a confirmed error when fewer than
3 of 5 workers chose the given label (the study's criterion). The list is read here for
measurement only; the ranking (core.analysis.label_errors) never sees it.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from core.analysis.label_errors import rank_suspects
from core.store.queries import trained_names, trained_predictions
from core.store.settings import Settings
from core.store.workspace import open_workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mturk_json")
    ap.add_argument("--models-dir")
    ap.add_argument("--top", type=int, default=100)
    args = ap.parse_args()
    ws = open_workspace(Settings.from_env().with_(source="idx", models_dir=args.models_dir))
    data = ws.data
    with open(args.mturk_json) as f:
        study = json.load(f)
    mismatched = [e["id"] for e in study if int(data.y_test[e["id"]]) != e["given_original_label"]]
    assert not mismatched, f"test order differs from the study's: {mismatched[:5]}"
    confirmed = {e["id"] for e in study if e["mturk"]["given"] < 3}
    candidates = {e["id"] for e in study}
    names = trained_names(ws.store)
    preds = trained_predictions(ws.store, names)
    print(f"{len(confirmed)} confirmed errors, {len(candidates)} study candidates; models: {', '.join(names)}")
    print(f"| models combined | acc. of mean | confirmed in top {args.top} | candidates in top {args.top} | flagged by find_label_issues |")
    print("|---|---|---|---|---|")
    prob_names = [n for n in names if preds[n].score_kind == "probability"]
    dec_names = [n for n in names if preds[n].score_kind != "probability"]
    combos = [(n,) for n in names] + [tuple(prob_names)]
    combos += [tuple(c) for c in itertools.combinations(prob_names, len(prob_names) - 1)]
    if dec_names:
        combos.append(tuple(names))
        combos.append(("mlp", *dec_names) if "mlp" in names else tuple(dec_names))
    for combo in combos:
        sub = {n: preds[n] for n in combo}
        cal = any(preds[n].score_kind != "probability" for n in combo)
        table = rank_suspects(sub, calibrate_decision=cal)
        top = set(table["index"].head(args.top))
        flagged = int(table["flagged"].sum())
        from core.analysis.label_errors import combined_probabilities
        probs, _ = combined_probabilities(sub, calibrate_decision=cal)
        acc = float(np.mean(np.argmax(probs, 1) == data.y_test))
        label = " + ".join(combo) + (" (decision scores calibrated)" if cal else "")
        print(f"| {label} | {acc:.2%} | {len(top & confirmed)}/{len(confirmed)} | {len(top & candidates)}/{len(candidates)} | {flagged} |")


if __name__ == "__main__":
    main()
