"""What every command shares: the data and models flags, the Workspace they select, the
search-engine flags, and a progress bar fed by core.progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tqdm import tqdm

from core.analysis.tune import DEFAULT_FOLDS, DEFAULT_MAX_TRAIN
from core.data.sources import SOURCES
from core.errors import ConfigError
from core.store.records import MAX_SEED
from core.store.settings import Settings, parse_dask_address
from core.store.workspace import Workspace, open_workspace

__all__ = [
    "FitsBar",
    "add_data_arguments",
    "add_engine_arguments",
    "dask_address",
    "max_train_arg",
    "settings_from_args",
    "workspace_from_args",
]


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """The flags every subcommand shares: where the data and the models are."""
    p.add_argument("--source", choices=SOURCES, default=None, help="data source (default: $MNIST_SOURCE or auto)")
    p.add_argument("--mnist-dir", help="folder of IDX files (default: $MNIST_DIR)")
    p.add_argument("--models-dir", help="artifact folder (default: $MODELS_DIR or ./models)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The environment's settings with the shared flags (--source, --mnist-dir, --models-dir)
    applied; ConfigError names a bad value (e.g. an empty --models-dir)."""
    return Settings.from_env().with_(source=args.source, mnist_dir=args.mnist_dir, models_dir=args.models_dir)


def workspace_from_args(args: argparse.Namespace, *, problem: Callable[[str], None] | None = None) -> Workspace:
    """The Workspace the shared flags select, built once per run. ``problem`` receives messages
    about unusable artifacts (default: printed as ``warning: ...`` on stderr)."""
    say = problem or (lambda message: tqdm.write(f"warning: {message}", file=sys.stderr))
    return open_workspace(settings_from_args(args), problem=say)


def max_train_arg(text: str) -> int | None:
    """``all`` for the whole training set, else a positive number of digits."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of digits or 'all'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of digits; give one, or 'all' for all")
    return value


def seed_arg(text: str) -> int:
    """A random_state from 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use a seed from 0 to {MAX_SEED}")
    return value


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """--cv, --max-train, --dask/--local, --seed, --force: shared by ``tune`` and ``cv``."""
    p.add_argument("--cv", type=int, default=DEFAULT_FOLDS, metavar="K", help=f"folds (default {DEFAULT_FOLDS})")
    p.add_argument("--max-train", type=max_train_arg, default=DEFAULT_MAX_TRAIN, metavar="N",
                   help=f"stratified training subset size, or 'all' (default {DEFAULT_MAX_TRAIN:,})")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dask", metavar="ADDRESS",
                   help="run the fits on this Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: $DASK_SCHEDULER_ADDRESS)")
    g.add_argument("--local", action="store_true", help="run on this machine even if DASK_SCHEDULER_ADDRESS is set")
    p.add_argument("--seed", type=seed_arg, default=0, help="random_state for the subset and the folds (default 0)")
    p.add_argument("--force", action="store_true", help="recompute even when the result is cached")


def dask_address(args: argparse.Namespace, settings: Settings) -> str | None:
    """--dask, else the settings' scheduler ($DASK_SCHEDULER_ADDRESS) unless --local."""
    if args.local:
        return None
    if args.dask is not None:
        if not args.dask.strip():
            raise ConfigError("--dask is empty; give tcp://HOST:PORT, or --local to run on this machine.")
        return parse_dask_address(args.dask, "--dask")
    return settings.dask_address


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
