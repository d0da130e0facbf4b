"""``python -m core cv [MODELS]``: k-fold cross-validation accuracy of each model's current variant.

The variant is the model's most recently trained one (catalog defaults if untrained). Results are
cached beside the models; the leaderboard shows them as ``CV accuracy %`` and ``CV ± std``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from core.catalog import MODEL_NAMES, get_spec
from core.cli import add_data_arguments
from core.cli_tune import FitsBar, add_engine_arguments, dask_address
from core.data import load_mnist
from core.progress import reporting
from core.training import models_dir
from core.tune import cross_validate_model, latest_options

NAME = "cv"
HELP = "cross-validate each model's current variant on the training set (cached; shown in the leaderboard)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL", default=list(MODEL_NAMES),
                   help=f"models (default: all): {', '.join(MODEL_NAMES)}")
    add_engine_arguments(p)
    add_data_arguments(p)


def run(args: argparse.Namespace) -> int:
    for name in args.models:
        get_spec(name)
    data = load_mnist(args.source, mnist_dir=args.mnist_dir)
    folder = models_dir(args.models_dir)
    address = dask_address(args)
    rows = []
    for name in args.models:
        options = latest_options(name, data=data, models_path=folder)
        bar = FitsBar(f"cv {name}")
        try:
            with reporting(bar):
                result = cross_validate_model(name, data, options=options, cv=args.cv, max_train=args.max_train,
                                              random_state=args.seed, dask_address=address, models_path=folder,
                                              force=args.force)
        finally:
            bar.close()
        rows.append({"model": get_spec(name).label, "variant": "trained" if options else "catalog defaults",
                     "CV accuracy %": round(100 * result.mean, 2), "CV ± std": round(100 * result.std, 2),
                     "folds": result.folds, "digits": result.n_train,
                     "source": "cache" if result.from_cache else f"{result.seconds:.1f} s"})
    print(pd.DataFrame(rows).to_string(index=False))
    return 0
