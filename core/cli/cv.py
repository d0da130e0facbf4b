"""``python -m core cv [MODELS]``: k-fold cross-validation accuracy of each model's current variant.

The variant is the model's most recently trained one (catalog defaults if untrained). Results are
cached beside the models; the leaderboard shows them as ``CV accuracy %`` and ``CV ± std``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from core.analysis.tune import cross_validate_model, latest_options
from core.cli.common import FitsBar, add_data_arguments, add_engine_arguments, dask_address, workspace_from_args
from core.models.catalog import MODEL_NAMES, get_spec
from core.progress import reporting

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
    ws = workspace_from_args(args)
    address = dask_address(args, ws.settings)
    rows = []
    for name in args.models:
        options = latest_options(ws.store, name)
        bar = FitsBar(f"cv {name}")
        try:
            with reporting(bar):
                result = cross_validate_model(ws.store, name, options=options, cv=args.cv, max_train=args.max_train,
                                              random_state=args.seed, dask_address=address, force=args.force,
                                              dask_security=ws.settings.dask_security() if address else None)
        finally:
            bar.close()
        rows.append({"model": get_spec(name).label, "variant": "trained" if options else "catalog defaults",
                     "CV accuracy %": round(100 * result.mean, 2), "CV ± std": round(100 * result.std, 2),
                     "folds": result.folds, "digits": result.n_train,
                     "source": "cache" if result.from_cache else f"{result.seconds:.1f} s"})
    print(pd.DataFrame(rows).to_string(index=False))
    return 0
