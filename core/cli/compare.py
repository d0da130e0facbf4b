"""``python -m core compare A B``: McNemar's test of two trained models on the test set.

Prints the four agreement counts, both accuracies, the exact p-value and the verdict.
The same model twice, an unknown or an untrained model is an error (exit 2).
"""

from __future__ import annotations

import argparse

from core.analysis.compare import QUADRANTS, compare_predictions, format_p
from core.analysis.variants import loop_verdict, variant_predictions
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import OptionsError
from core.models.catalog import MODEL_NAMES
from core.store.marks import load_marks
from core.store.queries import trained_predictions
from core.store.train_marks import label_fixes_from

NAME = "compare"
HELP = "compare two trained models on the test set (McNemar's exact test)"

__all__ = ["HELP", "NAME", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_a", metavar="A", help=f"first model: {', '.join(MODEL_NAMES)}")
    parser.add_argument("model_b", metavar="B", help="second model (a different one, or the same with --b-fixes)")
    parser.add_argument("--a-fixes", metavar="FILE|marks", help="A is the variant trained with these label fixes")
    parser.add_argument("--b-fixes", metavar="FILE|marks",
                        help="B is the variant trained with these label fixes (a marks CSV, or 'marks': the stored ones), "
                             "e.g. python -m core compare knn knn --b-fixes marks")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    a, b = args.model_a, args.model_b
    if a == b and (args.a_fixes or None) == (args.b_fixes or None):
        raise OptionsError(f"compare needs two different models, got {a!r} twice; e.g. python -m core compare knn mlp, "
                           f"or the label-cleaned variant: python -m core compare {a} {a} --b-fixes marks.")
    ws = workspace_from_args(args)
    data = ws.data
    if args.a_fixes or args.b_fixes:
        return _run_variants(args, ws)
    preds = trained_predictions(ws.store, [a, b])
    result = compare_predictions(preds[a], preds[b], name_a=a, name_b=b)
    print(f"data: {data.description}")
    _print_result(result, a, b)
    return 0


def _print_result(result, a: str, b: str) -> None:
    width = max(len(label) for label in QUADRANTS.values())
    labels = {"only_a_right": f"only {a} right", "only_b_right": f"only {b} right"}
    width = max(width, *(len(v) for v in labels.values()))
    for key, label in QUADRANTS.items():
        print(f"{labels.get(key, label):<{width}}  {result.counts[key]:>6,}")
    print(f"{'total':<{width}}  {result.n:>6,}")
    print(f"accuracy {a}: {result.accuracy_a:.2%}   accuracy {b}: {result.accuracy_b:.2%}")
    print(f"McNemar exact p-value: {format_p(result.p_value)}")
    print(f"verdict: {result.verdict}")


def _run_variants(args: argparse.Namespace, ws) -> int:
    """A and/or B are label-cleaned variants (see core.analysis.variants)."""
    store = ws.store
    fixes = {slot: label_fixes_from(store, src) if src else None for slot, src in (("a", args.a_fixes), ("b", args.b_fixes))}
    rec_a, pa = variant_predictions(store, args.model_a, fixes["a"])
    rec_b, pb = variant_predictions(store, args.model_b, fixes["b"])
    verdict = loop_verdict(rec_a, pa, rec_b, pb, load_marks(store))
    print(f"data: {ws.data.description}")
    print(f"A: {rec_a.label} ({rec_a.options_summary()}) [{rec_a.name}-{rec_a.key}]")
    print(f"B: {rec_b.label} ({rec_b.options_summary()}) [{rec_b.name}-{rec_b.key}]")
    print(verdict.sides() + ".")
    print("\n## on the original test labels")
    _print_result(verdict.original, "A", "B")
    if verdict.corrected is not None:
        print(f"\n## on the test labels corrected by your {verdict.test_fixes} test marks (the same for A and B)")
        _print_result(verdict.corrected, "A", "B")
    return 0
