"""``python -m core tune MODEL``: grid search with stratified K-fold CV, locally or on a Dask cluster.

Prints progress (fits done of total), the candidates' table (best first) and the best candidate;
``--train-best`` then trains the best parameters on the full training set as the model's new
variant (with ``--augment``/``--deskew`` if given), which every page of the dashboard shows.
"""

from __future__ import annotations

import argparse
import sys

from core.analysis.evaluation import accuracy
from core.analysis.tune import search
from core.cli.common import FitsBar, add_data_arguments, add_engine_arguments, dask_address, workspace_from_args
from core.errors import OptionsError
from core.models.catalog import AUGMENTATIONS, MODEL_NAMES
from core.models.grids import GRIDS, TUNABLE_MODELS, format_value, parse_grid, train_params
from core.progress import reporting
from core.store.records import TrainOptions
from core.store.training import train_model

NAME = "tune"
HELP = "grid-search a model's hyperparameters with stratified K-fold CV (locally or on a Dask cluster)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    grids = "; ".join(f"{m}: {', '.join(s.name for s in GRIDS[m])}" for m in TUNABLE_MODELS)
    p.add_argument("model", metavar="MODEL", help=f"catalog model ({', '.join(MODEL_NAMES)})")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                   help=f"replace one parameter's values in the default grid (repeatable). Parameters: {grids}")
    add_engine_arguments(p)
    p.add_argument("--train-best", action="store_true",
                   help="then train the best parameters on the full training set as the model's new variant")
    p.add_argument("--augment", choices=AUGMENTATIONS, help="with --train-best: training-set augmentation")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--deskew", dest="deskew", action="store_true", default=None, help="with --train-best: deskew")
    g.add_argument("--no-deskew", dest="deskew", action="store_false", help="with --train-best: raw pixels")
    add_data_arguments(p)


def run(args: argparse.Namespace) -> int:
    grid = parse_grid(args.model, args.param)  # checks the model name and every value first
    if (args.augment or args.deskew is not None) and not args.train_best:
        raise OptionsError("--augment/--deskew/--no-deskew apply to --train-best; add --train-best or drop them.")
    ws = workspace_from_args(args)
    data, store = ws.data, ws.store
    address = dask_address(args, ws.settings)
    print(f"data: {data.description} [fingerprint {data.fingerprint}]")
    print("grid: " + "; ".join(f"{k}={','.join(map(format_value, v))}" for k, v in grid.items()))
    print(f"engine: {'dask ' + address if address else 'local cores'}")
    bar = FitsBar(f"tune {args.model}")
    try:
        with reporting(bar):
            result = search(store, args.model, grid=grid, folds=args.cv, max_train=args.max_train,
                            random_state=args.seed, dask_address=address,
                            dask_security=ws.settings.dask_security() if address else None, force=args.force)
    finally:
        bar.close()
    where = f"cached result ({result.path})" if result.from_cache else f"{result.seconds:.1f} s on {result.engine}"
    print(f"{result.label}: {result.n_candidates} candidates x {result.folds} folds = {result.n_fits} fits "
          f"on {result.n_train:,} training digits; {where}")
    print(result.display_table().to_string(index=False))
    print(result.best_summary())
    if args.train_best:
        options = TrainOptions(params=train_params(args.model, result.best_params), deskew=args.deskew, augment=args.augment)
        with reporting(lambda _fraction, message: print(message, file=sys.stderr)):
            model = train_model(store, args.model, options=options)
        how = "loaded from cache" if model.from_cache else f"trained in {model.record.fit_seconds:.1f} s"
        acc = accuracy(store.predictions(model))
        print(f"best variant of {model.record.label} ({model.record.options_summary()}) on {model.record.n_train:,} "
              f"digits: {how}; test accuracy {100 * acc:.2f}%. The dashboard's pages now show this variant.")
    return 0
