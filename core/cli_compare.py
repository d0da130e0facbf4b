"""``python -m core compare A B``: McNemar's test of two trained models on the test set.

Prints the four agreement counts, both accuracies, the exact p-value and the verdict.
The same model twice, an unknown or an untrained model is an error (exit 2).
"""

from __future__ import annotations

import argparse
import os
import warnings

from core.catalog import MODEL_NAMES, get_spec
from core.compare import QUADRANTS, compare_predictions, format_p
from core.data import MnistData, load_mnist
from core.errors import (
    ArtifactError,
    ArtifactWarning,
    ConfigError,
    DashboardError,
    OptionsError,
)
from core.evaluation import TestPredictions, cached_predictions, predict_test
from core.training import latest_record, load_cached_model, models_dir, options_of

NAME = "compare"
HELP = "compare two trained models on the test set (McNemar's exact test)"

__all__ = ["HELP", "NAME", "add_arguments", "load_data", "run", "trained_predictions"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import add_data_arguments

    parser.add_argument("model_a", metavar="A", help=f"first model: {', '.join(MODEL_NAMES)}")
    parser.add_argument("model_b", metavar="B", help="second model (a different one)")
    add_data_arguments(parser)


def load_data(args: argparse.Namespace) -> MnistData:
    """The data the flags name; a data source that cannot deliver is a ConfigError."""
    try:
        return load_mnist(args.source, mnist_dir=args.mnist_dir)
    except DashboardError:
        raise
    except (ValueError, OSError) as exc:
        raise ConfigError(f"could not load MNIST (--source {args.source}): {exc}") from exc


def trained_predictions(
    names: list[str], *, data: MnistData, models_path: str | os.PathLike | None = None
) -> dict[str, TestPredictions]:
    """Test-set predictions of the trained models ``names`` (their most recent artifact for
    ``data``): from the predictions cache, else by loading the model and predicting.

    Raises UnknownModelError for a name not in the catalog and ArtifactError, naming the
    training command, for a model not trained on this data. The ONE place the CLI finds
    trained models (switch it to the artifact store here)."""
    for name in names:
        get_spec(name)
    folder = models_dir(models_path)
    out: dict[str, TestPredictions] = {}
    for name in names:
        record = latest_record(name, data=data, models_path=folder)
        preds = cached_predictions(record, data, models_path=folder) if record is not None else None
        if preds is None and record is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ArtifactWarning)
                model = load_cached_model(name, data=data, options=options_of(record),
                                          random_state=record.random_state, models_path=folder)
            if model is not None:
                preds = predict_test(model, data)
        if preds is None:
            raise ArtifactError(
                f"model {name!r} is not trained on this data ({data.description}) in {folder.resolve()}; "
                f"train it first: python -m core train --models {name} --source {data.source}"
            )
        out[name] = preds
    return out


def run(args: argparse.Namespace) -> int:
    a, b = args.model_a, args.model_b
    for name in (a, b):
        get_spec(name)
    if a == b:
        raise OptionsError(f"compare needs two different models, got {a!r} twice; e.g. python -m core compare knn mlp.")
    data = load_data(args)
    preds = trained_predictions([a, b], data=data, models_path=args.models_dir)
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
