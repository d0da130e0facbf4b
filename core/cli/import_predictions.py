"""``python -m core import-predictions PATH --name NAME``: a model's test-set answers from a file.

For a model that cannot be exported: a CSV, ``.npy`` or ``.npz`` of (n, 10) probabilities or
scores for the test digits in the standard order, or a column of predicted digits
(core.models.prediction_file). It then shows on every page that needs only predictions.
"""

from __future__ import annotations

import argparse

from core.cli.common import add_data_arguments, workspace_from_args
from core.store.imports import import_predictions

NAME = "import-predictions"
HELP = "import a file of test-set predictions (CSV, .npy, .npz) as a model for the prediction-only pages"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the prediction file (.csv, .npy or .npz)")
    parser.add_argument("--name", required=True, help="the name it gets here: lowercase letters, digits, '_'")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    ws = workspace_from_args(args)
    model, notes = import_predictions(ws.store, args.path, name=args.name)
    rec = model.record
    print(f"imported {rec.name} from {rec.source_name} (SHA-256 {rec.source_sha256[:16]}…)")
    for note in notes:
        print(f"  {note}")
    return 0
