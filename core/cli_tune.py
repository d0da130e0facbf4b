"""``python -m core tune MODEL``: grid search with stratified K-fold CV, locally or on a Dask cluster.

Prints progress (fits done of total), the candidates' table (best first) and the best candidate;
``--train-best`` then trains the best parameters on the full training set as the model's new
variant (with ``--augment``/``--deskew`` if given), which every page of the dashboard shows.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from core.catalog import AUGMENTATIONS, MODEL_NAMES
from core.cli import add_data_arguments
from core.data import load_mnist
from core.errors import OptionsError
from core.progress import reporting
from core.settings import Settings
from core.training import TrainOptions, models_dir, train_model
from core.tune import (
    DEFAULT_FOLDS,
    DEFAULT_MAX_TRAIN,
    GRIDS,
    TUNABLE_MODELS,
    format_value,
    parse_grid,
    search,
    train_params,
)

NAME = "tune"
HELP = "grid-search a model's hyperparameters with stratified K-fold CV (locally or on a Dask cluster)"


def max_train_arg(text: str) -> int | None:
    """``all`` (or 0) for the whole training set, else a positive number of digits."""
    if text.strip().lower() in ("all", "0"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of digits or 'all'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give a number of digits or 'all'")
    return value


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """--cv, --max-train, --dask/--local, --seed, --force: shared with ``python -m core cv``."""
    p.add_argument("--cv", type=int, default=DEFAULT_FOLDS, metavar="K", help=f"folds (default {DEFAULT_FOLDS})")
    p.add_argument("--max-train", type=max_train_arg, default=DEFAULT_MAX_TRAIN, metavar="N",
                   help=f"stratified training subset size, or 'all' (default {DEFAULT_MAX_TRAIN:,})")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dask", metavar="ADDRESS",
                   help="run the fits on this Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: $DASK_SCHEDULER_ADDRESS)")
    g.add_argument("--local", action="store_true", help="run on this machine even if DASK_SCHEDULER_ADDRESS is set")
    p.add_argument("--seed", type=int, default=0, help="random_state for the subset and the folds (default 0)")
    p.add_argument("--force", action="store_true", help="recompute even when the result is cached")


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


def dask_address(args: argparse.Namespace) -> str | None:
    """--dask, else $DASK_SCHEDULER_ADDRESS unless --local."""
    if args.local:
        return None
    return (args.dask or "").strip() or Settings.from_env().dask_address


class FitsBar:
    """A tqdm bar fed by core.progress reports ``(fraction, "k of N fits")``."""

    def __init__(self, desc: str):
        self.bar = tqdm(total=1, desc=desc, unit="fit", file=sys.stderr, disable=None)

    def __call__(self, fraction: float | None, message: str) -> None:
        head = message.split(" fits")[0].split(" of ")
        if len(head) == 2 and head[1].isdigit():
            self.bar.total = int(head[1])
            self.bar.n = int(head[0]) if head[0].isdigit() else self.bar.n
        elif fraction is not None:
            self.bar.n = round(fraction * (self.bar.total or 1))
        self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run(args: argparse.Namespace) -> int:
    grid = parse_grid(args.model, args.param)  # checks the model name and every value first
    if (args.augment or args.deskew is not None) and not args.train_best:
        raise OptionsError("--augment/--deskew/--no-deskew apply to --train-best; add --train-best or drop them.")
    data = load_mnist(args.source, mnist_dir=args.mnist_dir)
    folder = models_dir(args.models_dir)
    address = dask_address(args)
    print(f"data: {data.description} [fingerprint {data.fingerprint}]")
    print("grid: " + "; ".join(f"{k}={','.join(map(format_value, v))}" for k, v in grid.items()))
    print(f"engine: {'dask ' + address if address else 'local cores'}")
    bar = FitsBar(f"tune {args.model}")
    try:
        with reporting(bar):
            result = search(args.model, data, grid=grid, folds=args.cv, max_train=args.max_train,
                            random_state=args.seed, dask_address=address, models_path=folder, force=args.force)
    finally:
        bar.close()
    where = f"cached result ({result.path})" if result.from_cache else f"{result.seconds:.1f} s on {result.engine}"
    print(f"{result.label}: {result.n_candidates} candidates x {result.folds} folds = {result.n_fits} fits "
          f"on {result.n_train:,} training digits; {where}")
    print(result.display_table().to_string(index=False))
    print(result.best_summary())
    if args.train_best:
        from core.evaluation import accuracy, predict_test

        options = TrainOptions(params=train_params(args.model, result.best_params), deskew=args.deskew, augment=args.augment)
        model = train_model(args.model, data=data, options=options, models_path=folder,
                            on_status=lambda msg: print(msg, file=sys.stderr))
        how = "loaded from cache" if model.from_cache else f"trained in {model.record.fit_seconds:.1f} s"
        acc = accuracy(predict_test(model, data))
        print(f"best variant of {model.record.label} ({model.record.options_summary()}) on {model.record.n_train:,} "
              f"digits: {how}; test accuracy {100 * acc:.2f}%. The dashboard's pages now show this variant.")
    return 0
