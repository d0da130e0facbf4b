"""``python -m core trust MODEL``: how far a trained model's answers can be trusted.

Prints the expected calibration error (or ``n/a: decision scores`` for models without
probabilities), then the accuracy on the digits kept at 100, 99, 98 and 95% coverage, e.g.
``coverage 95%: accuracy 99.87% (abstains on 500 digits)``. With ``--calibrate [METHOD]`` it also
prints the ECE after out-of-fold calibration (core.analysis.trust.calibrate_out_of_fold). Trains nothing.
"""

from __future__ import annotations

import argparse

from core.analysis.evaluation import accuracy
from core.analysis.trust import CALIBRATION_METHODS, COVERAGES, abstention_curve, calibrate_out_of_fold, expected_calibration_error
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import ArtifactError
from core.models.catalog import MODEL_NAMES, ScoreKind
from core.models.predict import TestPredictions
from core.store.artifacts import ArtifactStore
from core.store.queries import latest_model
from core.store.records import TrainedModel

NAME = "trust"
HELP = "print a trained model's calibration error and its accuracy when it abstains on its least confident digits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help=f"a trained catalog model ({', '.join(MODEL_NAMES)}) or an imported one")
    parser.add_argument("--calibrate", metavar="METHOD", nargs="?", const="temperature", choices=CALIBRATION_METHODS,
                        help="also calibrate the test predictions out of fold and print the ECE after "
                             f"({', '.join(CALIBRATION_METHODS)}; default temperature)")
    add_data_arguments(parser)


def trained_model_and_predictions(store: ArtifactStore, name: str) -> tuple[TrainedModel, TestPredictions]:
    """The most recent trained artifact of ``name`` in ``store`` and its test predictions."""
    model = latest_model(store, name)
    if model is None:
        raise ArtifactError(f"model {name!r} is not trained for {store.data.description} in {store.folder}; "
                            f"train it first: python -m core train --models {name}")
    return model, store.predictions(model)


def format_report(preds: TestPredictions, *, calibrate: str | None = None) -> list[str]:
    """The CLI's lines: the ECE (and with ``calibrate``, the ECE after out-of-fold calibration
    with that method), then one line per coverage in :data:`core.analysis.trust.COVERAGES`."""
    if ScoreKind(preds.score_kind).is_probability:
        lines = [f"expected calibration error: {100 * expected_calibration_error(preds.y_true, preds.scores):.2f}%"]
    else:
        lines = ["expected calibration error: n/a: decision scores"]
    if calibrate:
        cal = calibrate_out_of_fold(preds, method=calibrate)
        lines.append(f"calibrated ({calibrate}, {cal.folds}-fold on the test digits): expected calibration error "
                     f"{100 * cal.after.ece:.2f}%, accuracy {100 * cal.accuracy_after:.2f}%")
    curve = abstention_curve(preds, coverages=list(COVERAGES))
    for row in curve.itertuples(index=False):
        lines.append(f"coverage {100 * row.coverage:.0f}%: accuracy {100 * row.accuracy:.2f}% "
                     f"(abstains on {row.abstained} digits)")
    return lines


def run(args: argparse.Namespace) -> int:
    ws = workspace_from_args(args)  # the store names unknown models (catalog and imported)
    data = ws.data
    model, preds = trained_model_and_predictions(ws.store, args.model)
    print(f"{model.record.label} on {data.description}: accuracy {100 * accuracy(preds):.2f}%")
    for line in format_report(preds, calibrate=args.calibrate):
        print(line)
    return 0
