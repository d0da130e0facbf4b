"""``python -m core suspects``: test digits whose label is probably wrong, most suspect first.

One line per suspect: test index, given label, suggested label, cleanlab's label quality
score (low = suspect). The ranking combines every trained model that gives probabilities
(see core.label_errors).
"""

from __future__ import annotations

import argparse

from core.catalog import MODEL_NAMES
from core.cli_compare import load_data, trained_predictions
from core.errors import ArtifactError, OptionsError
from core.label_errors import rank_suspects
from core.training import latest_record, models_dir

NAME = "suspects"
HELP = "list test digits whose label is probably wrong (cleanlab), most suspect first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import add_data_arguments

    parser.add_argument("--top", type=int, default=20, help="how many suspects to print (default: 20)")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help=f"models to combine (default: every trained one): {', '.join(MODEL_NAMES)}")
    parser.add_argument("--calibrate", action="store_true",
                        help="let decision-score models join after out-of-fold calibration")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise OptionsError(f"--top {args.top}: ask for at least 1 suspect.")
    data = load_data(args)
    folder = models_dir(args.models_dir)
    names = args.models or [n for n in MODEL_NAMES if latest_record(n, data=data, models_path=folder) is not None]
    if not names:
        raise ArtifactError(f"no model is trained on {data.description} in {folder.resolve()}; "
                            f"train some first: python -m core train --source {data.source}")
    preds = trained_predictions(names, data=data, models_path=folder)
    table = rank_suspects(preds, top=args.top, calibrate_decision=args.calibrate)
    print(f"# {data.description}; models: {', '.join(names)}")
    print(f"# {'index':>6} {'given':>5} {'suggested':>9} {'score':>8}")
    for row in table.itertuples(index=False):
        print(f"{row.index:>8} {row.given:>5} {row.suggested:>9} {row.score:>8.4f}")
    return 0
