"""``python -m core slices MODEL``: the kinds of test digits a model fails on, worst first.

One line per slice: the property range, its size, accuracy, points below the model's overall
accuracy and its share of the model's errors (see core.analysis.slices)."""

from __future__ import annotations

import argparse

import numpy as np

from core.analysis.robustness import robustness_models, select_models
from core.analysis.slices import find_slices, load_digit_properties
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import ArtifactError, OptionsError

NAME = "slices"
HELP = "list the slices of test digits (by ink, slant, size, thickness, offset) where a model is weakest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a trained model or variant, e.g. svc_ovo or knn+shifts")
    parser.add_argument("--min-size", type=int, default=50, help="smallest slice, in digits (default 50)")
    parser.add_argument("--gap", type=float, default=2.0, help="points below overall accuracy (default 2)")
    parser.add_argument("--top", type=int, default=10, help="how many slices to print (default 10)")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.top < 1 or args.min_size < 1 or not 0 < args.gap < 100:
        raise OptionsError(f"--top {args.top}, --min-size {args.min_size}, --gap {args.gap}: "
                           "use at least 1 slice and 1 digit, and a gap between 0 and 100 points.")
    ws = workspace_from_args(args)
    rows, _ = select_models(robustness_models(ws.store), [args.model])
    model = next((m for m in rows if m.id == args.model), rows[0] if rows else None)
    if model is None:
        raise ArtifactError(f"model {args.model!r} has no predictions to slice.")
    preds = ws.store.cached_predictions(model.record)
    if preds is None:
        loaded = ws.store.load(model.record)
        if loaded is None:
            raise ArtifactError(f"model {model.id!r} could not be loaded; train it again.")
        preds = ws.store.predictions(loaded)
    correct = preds.y_pred == preds.y_true
    table = find_slices(correct, load_digit_properties(ws.store), min_size=args.min_size, min_gap=args.gap / 100)
    print(f"# {model.id} ({model.label}) on {ws.data.description}: accuracy {100 * np.mean(correct):.2f}%, "
          f"{int((~correct).sum())} errors; slices at least {args.gap:g} points below, worst first")
    if table.empty:
        print(f"# no slice of at least {args.min_size} digits is that much worse")
    for row in table.head(args.top).itertuples(index=False):
        print(f"{row.description}: {row.n} digits, accuracy {100 * row.accuracy:.2f}% "
              f"(-{100 * row.gap:.2f} points), {row.errors} errors = {100 * row.error_share:.1f}% of the model's errors")
    return 0
