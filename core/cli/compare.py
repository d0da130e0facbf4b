"""``python -m core compare A B``: McNemar's test of two trained models on the test set.

Prints the four agreement counts, both accuracies, the exact p-value and the verdict.
The same model twice, an unknown or an untrained model is an error (exit 2).
"""

from __future__ import annotations

import argparse

from core.analysis.compare import QUADRANTS, compare_predictions, format_p
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import OptionsError
from core.models.catalog import MODEL_NAMES
from core.store.queries import trained_predictions

NAME = "compare"
HELP = "compare two trained models on the test set (McNemar's exact test)"

__all__ = ["HELP", "NAME", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_a", metavar="A", help=f"first model: {', '.join(MODEL_NAMES)}")
    parser.add_argument("model_b", metavar="B", help="second model (a different one)")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    a, b = args.model_a, args.model_b
    if a == b:
        raise OptionsError(f"compare needs two different models, got {a!r} twice; e.g. python -m core compare knn mlp.")
    ws = workspace_from_args(args)
    data = ws.data
    preds = trained_predictions(ws.store, [a, b])
    result = compare_predictions(preds[a], preds[b], name_a=a, name_b=b)
    print(f"data: {data.description}")
    width = max(len(label) for label in QUADRANTS.values())
    labels = {"only_a_right": f"only {a} right", "only_b_right": f"only {b} right"}
    width = max(width, *(len(v) for v in labels.values()))
    for key, label in QUADRANTS.items():
        print(f"{labels.get(key, label):<{width}}  {result.counts[key]:>6,}")
    print(f"{'total':<{width}}  {result.n:>6,}")
    print(f"accuracy {a}: {result.accuracy_a:.2%}   accuracy {b}: {result.accuracy_b:.2%}")
    print(f"McNemar exact p-value: {format_p(result.p_value)}")
    print(f"verdict: {result.verdict}")
    return 0
