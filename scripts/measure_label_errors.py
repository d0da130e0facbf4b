"""Measure how many human-confirmed MNIST test label errors land in our top-k suspects.

Usage (full MNIST, models trained into a folder of your own)::

    MNIST_DIR=/path/to/mnist python scripts/measure_label_errors.py mnist_mturk.json \\
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
from core.analysis.oof import load_out_of_fold, rank_test_labels
from core.store.queries import trained_names, trained_predictions
from core.store.settings import Settings
from core.store.workspace import open_workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mturk_json")
    ap.add_argument("--models-dir")
    ap.add_argument("--top", type=int, default=100)
    ap.add_argument("--pooled", nargs="+", metavar="NAME",
                    help="also rank by the study's protocol: cached pooled cross-validation (python -m core suspects "
                         "--test-cv --cv-models NAME...) of these models, alone and with each trained model averaged in")
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
    if args.pooled:
        _pooled(ws, args.pooled, preds, prob_names, confirmed, candidates, args.top)
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


def _pooled(ws, pooled, preds, prob_names, confirmed, candidates, top) -> None:
    """Rows for the pooled cross-validation protocol, with precision at 10, 50 and 100 (the
    share of the top k that are among the study's reviewed candidates / confirmed errors)."""
    oof = load_out_of_fold(ws.store, pooled, scope="all")
    if oof is None:
        print(f"pooled cross-validation of {', '.join(pooled)} is not cached; run: python -m core suspects --test-cv "
              f"--cv-models {' '.join(pooled)}")
        return
    print(f"| ranking (normalized margin) | confirmed in top {top} | candidates in top 10 / 50 / 100 | "
          "confirmed in top 10 / 50 / 100 |")
    print("|---|---|---|---|")
    extras = [()] + [(n,) for n in prob_names] + [tuple(prob_names)]
    for extra in dict.fromkeys(extras):
        table = rank_test_labels(oof, n_train=ws.data.n_train, trained={n: preds[n] for n in extra})
        order = table["index"].to_numpy()
        label = f"pooled CV of {' + '.join(pooled)}" + (f" + trained {' + '.join(extra)}" if extra else "")
        cand = " / ".join(f"{len(set(order[:k]) & candidates) / k:.2f}" for k in (10, 50, 100))
        conf = " / ".join(f"{len(set(order[:k]) & confirmed)}" for k in (10, 50, 100))
        print(f"| {label} | {len(set(order[:top]) & confirmed)}/{len(confirmed)} | {cand} | {conf} |")


if __name__ == "__main__":
    main()
