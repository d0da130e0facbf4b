"""``python -m core suspects``: test digits whose label is probably wrong, most suspect first.

One line per suspect: test index, given label, suggested label, cleanlab's label quality
score (low = suspect). The ranking combines every trained model that gives probabilities
(see core.analysis.label_errors).
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from core.analysis.label_errors import rank_suspects
from core.analysis.oof import DEFAULT_MODELS, compute_out_of_fold, rank_test_labels, rank_train_labels
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
                        help="rank the TRAINING labels instead, from out-of-fold probabilities of the --cv-models "
                             "(each fitted --folds times; cached beside the models)")
    parser.add_argument("--test-cv", action="store_true",
                        help="rank the test labels from out-of-fold probabilities of cross-validation over training "
                             "and test digits pooled (the confident-learning study's protocol), by normalized margin")
    parser.add_argument("--cv-models", nargs="+", default=list(DEFAULT_MODELS), metavar="NAME",
                        help=f"models averaged for --train-set/--test-cv (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="S",
                        help="fold seeds averaged for --train-set/--test-cv (default: 0)")
    parser.add_argument("--folds", type=int, default=5, help="folds for --train-set/--test-cv (default: 5)")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise OptionsError(f"--top {args.top}: ask for at least 1 suspect.")
    ws = workspace_from_args(args)
    data = ws.data
    if args.train_set or args.test_cv:
        return _run_cross_validated(args, ws)
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


def _run_cross_validated(args: argparse.Namespace, ws) -> int:
    scope = "train" if args.train_set else "all"
    with tqdm(total=1.0, desc="cross-validating", file=sys.stderr, disable=None,
              bar_format="{l_bar}{bar}| {postfix}") as bar:
        def listen(fraction, message):
            if fraction is not None:
                bar.n = fraction
            bar.set_postfix_str(message)

        with reporting(listen):
            oof = compute_out_of_fold(ws.store, args.cv_models, scope=scope, folds=args.folds, seeds=args.seeds)
    if args.train_set:
        table = rank_train_labels(oof, top=args.top)
        what = "training set"
    else:
        trained = trained_predictions(ws.store, args.models) if args.models else {}
        table = rank_test_labels(oof, n_train=ws.data.n_train, trained=trained, top=args.top)
        what = "test set (cross-validation over training + test, normalized margin)"
        if trained:
            what += f"; with the test probabilities of the trained {', '.join(trained)}"
    spent = f"computed in {oof.seconds:.0f} s" if oof.seconds else "from the cache"
    print(f"# {ws.data.description}; {what}; out-of-fold probabilities of {', '.join(oof.parts)} "
          f"({args.folds} folds, {spent})")
    print(f"# {'index':>6} {'given':>5} {'suggested':>9} {'score':>8} disagreeing")
    for row in table.itertuples(index=False):
        print(f"{row.index:>8} {row.given:>5} {row.suggested:>9} {row.score:>8.4f} {row.disagreeing} of {row.n_models}")
    if args.train_set:
        print("# review them on the Label errors page, or mark them in a CSV (python -m core marks export FILE)")
    return 0
