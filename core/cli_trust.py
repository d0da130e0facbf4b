"""``python -m core trust MODEL``: how far a trained model's answers can be trusted.

Prints the expected calibration error (or ``n/a: decision scores`` for models without
probabilities), then the accuracy on the digits kept at 100, 99, 98 and 95% coverage, e.g.
``coverage 95%: accuracy 99.87% (abstains on 500 digits)``. With ``--calibrate [METHOD]`` it also
prints the ECE after out-of-fold calibration (core.trust.calibrate_out_of_fold). Trains nothing.
"""

from __future__ import annotations

import argparse

from core.catalog import MODEL_NAMES, ScoreKind, get_spec
from core.data import DataSourceError, load_mnist
from core.errors import ArtifactError, ConfigError
from core.evaluation import TestPredictions, accuracy, predict_test
from core.idx import IdxFormatError
from core.training import (
    TrainedModel,
    latest_record,
    load_cached_model,
    models_dir,
    options_of,
)
from core.trust import CALIBRATION_METHODS, COVERAGES, abstention_curve, calibrate_out_of_fold, expected_calibration_error

NAME = "trust"
HELP = "print a trained model's calibration error and its accuracy when it abstains on its least confident digits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import add_data_arguments

    parser.add_argument("model", metavar="MODEL", help=f"a trained catalog model: {', '.join(MODEL_NAMES)}")
    parser.add_argument("--calibrate", metavar="METHOD", nargs="?", const="temperature", choices=CALIBRATION_METHODS,
                        help="also calibrate the test predictions out of fold and print the ECE after "
                             f"({', '.join(CALIBRATION_METHODS)}; default temperature)")
    add_data_arguments(parser)


def trained_model_and_predictions(name: str, data, models_path) -> tuple[TrainedModel, TestPredictions]:
    """The most recent trained artifact of ``name`` for ``data`` and its test predictions.

    The one place this feature finds models (switch it to the artifact store at merge)."""
    record = latest_record(name, data=data, models_path=models_path)
    model = None if record is None else load_cached_model(
        name, data=data, options=options_of(record), random_state=record.random_state, models_path=models_path)
    if model is None:
        raise ArtifactError(f"model {name!r} is not trained for {data.description} in {models_dir(models_path)}; "
                            f"train it first: python -m core train --models {name}")
    return model, predict_test(model, data)


def format_report(preds: TestPredictions, *, calibrate: str | None = None) -> list[str]:
    """The CLI's lines: the ECE (and with ``calibrate``, the ECE after out-of-fold calibration
    with that method), then one line per coverage in :data:`core.trust.COVERAGES`."""
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
    get_spec(args.model)
    try:
        data = load_mnist(args.source, mnist_dir=args.mnist_dir)
    except (ValueError, DataSourceError, IdxFormatError, OSError) as exc:
        raise ConfigError(str(exc)) from exc
    model, preds = trained_model_and_predictions(args.model, data, args.models_dir)
    print(f"{model.record.label} on {data.description}: accuracy {100 * accuracy(preds):.2f}%")
    for line in format_report(preds, calibrate=args.calibrate):
        print(line)
    return 0
