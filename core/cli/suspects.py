"""``python -m core suspects``: test digits whose label is probably wrong, most suspect first.

One line per suspect: test index, given label, suggested label, cleanlab's label quality
score (low = suspect). The ranking combines every trained model that gives probabilities
(see core.analysis.label_errors).
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from core.analysis.label_errors import rank_suspects, train_suspects
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import ArtifactError, OptionsError
from core.models.catalog import MODEL_NAMES
from core.progress import reporting
from core.store.queries import trained_names, trained_predictions

NAME = "suspects"
HELP = "list test digits whose label is probably wrong (cleanlab), most suspect first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    ws = workspace_from_args(args)
    data = ws.data
    if args.train_set:
        return _run_train_set(args, data)
    names = args.models or trained_names(ws.store)
    if not names:
        raise ArtifactError(f"no model is trained on {data.description} in {ws.store.folder.resolve()}; "
                            f"train some first: python -m core train --source {data.source}")
    preds = trained_predictions(ws.store, names)
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
