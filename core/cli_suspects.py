"""``python -m core suspects``: test digits whose label is probably wrong, most suspect first.

One line per suspect: test index, given label, suggested label, cleanlab's label quality
score (low = suspect). The ranking combines every trained model that gives probabilities
(see core.label_errors).
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from core.catalog import MODEL_NAMES
from core.cli_compare import load_data, trained_predictions
from core.errors import ArtifactError, OptionsError
from core.label_errors import rank_suspects, train_suspects
from core.progress import reporting
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
    parser.add_argument("--train-set", action="store_true",
                        help="rank the TRAINING labels instead, from out-of-fold probabilities of one model "
                             "(--cv-model, default knn; fits it --folds times)")
    parser.add_argument("--cv-model", default="knn", help="the model cross-validated for --train-set")
    parser.add_argument("--folds", type=int, default=5, help="folds for --train-set (default: 5)")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise OptionsError(f"--top {args.top}: ask for at least 1 suspect.")
    data = load_data(args)
    if args.train_set:
        return _run_train_set(args, data)
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


def _run_train_set(args: argparse.Namespace, data) -> int:
    with tqdm(total=1.0, desc="cross-validating", file=sys.stderr, disable=None,
              bar_format="{l_bar}{bar}| {postfix}") as bar:
        def listen(fraction, message):
            if fraction is not None:
                bar.n = fraction
            bar.set_postfix_str(message)

        with reporting(listen):
            table = train_suspects(data.X_train, data.y_train, model=args.cv_model, folds=args.folds, top=args.top)
    print(f"# {data.description}; training set, out-of-fold probabilities of {args.cv_model} ({args.folds} folds)")
    print(f"# {'index':>6} {'given':>5} {'suggested':>9} {'score':>8}")
    for row in table.itertuples(index=False):
        print(f"{row.index:>8} {row.given:>5} {row.suggested:>9} {row.score:>8.4f}")
    return 0
