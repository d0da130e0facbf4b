"""``python -m core robustness``: every trained model's (and variant's) accuracy on corrupted
test digits, as a table; ``--out`` writes CSV rows ``model,corruption,severity,accuracy``
(severity 0 = the clean digits). Results are cached beside the models (see
core.analysis.robustness)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.analysis.robustness import (
    DEFAULT_DIGITS,
    compute_robustness,
    default_digits,
    parse_digits,
    robustness_models,
    select_models,
)
from core.cli.common import add_data_arguments, workspace_from_args
from core.data.corruptions import CORRUPTION_NAMES, CORRUPTIONS, check_corruptions
from core.errors import ArtifactError, ConfigError
from core.progress import reporting

NAME = "robustness"
HELP = "accuracy of every trained model on corrupted test digits (13 corruptions x 5 severities)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="models or variants (e.g. knn, knn+shifts; a catalog name selects its variants too); "
                             "default: every trained one")
    parser.add_argument("--digits", default=None, metavar="N|all",
                        help=f"stratified subset of test digits (default {DEFAULT_DIGITS:,}); 'all' for the whole test set")
    parser.add_argument("--corruptions", nargs="+", metavar="NAME",
                        help=f"corruptions (default: all): {', '.join(CORRUPTION_NAMES)}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset and the corruptions (default 0)")
    parser.add_argument("--out", metavar="FILE.csv", help="also write rows model,corruption,severity,accuracy")
    parser.add_argument("--force", action="store_true", help="recompute even when cached")
    add_data_arguments(parser)


def format_table(table, labels: dict[str, str]) -> str:
    """The table in percent, one row per model, corruptions by short header."""
    shown = (100 * table).rename(columns=labels)
    return shown.to_string(float_format=lambda v: f"{v:.1f}")


def run(args: argparse.Namespace) -> int:
    digits = parse_digits(args.digits) if args.digits is not None else None
    corruptions = check_corruptions(args.corruptions)
    out = Path(args.out) if args.out else None
    if out is not None and (out.is_dir() or not out.parent.exists()):
        raise ConfigError(f"--out {args.out!r}: give a file in an existing folder.")
    ws = workspace_from_args(args)
    if args.digits is None:
        digits = default_digits(ws.data.n_test)
    models, notes = select_models(robustness_models(ws.store), args.models)
    for note in notes:
        print(note, file=sys.stderr)
    if not models:
        raise ArtifactError(f"no trained model can be tested on {ws.data.description} in {ws.store.folder.resolve()}; "
                            f"train some first: python -m core train --source {ws.data.source}")
    with tqdm(total=1.0, desc="robustness", file=sys.stderr, disable=None, bar_format="{l_bar}{bar}| {postfix}") as bar:
        def listen(fraction, message):
            if fraction is not None:
                bar.n = round(fraction, 3)
            bar.set_postfix_str(message)

        with reporting(listen):
            result = compute_robustness(ws.store, models, digits=digits, corruptions=corruptions,
                                        random_state=args.seed, force=args.force)
    for note in result.skipped:
        print(note, file=sys.stderr)
    short = {c: CORRUPTIONS[c].name.replace("gaussian_", "g_").replace("salt_pepper", "s&p") for c in corruptions}
    print(f"# {ws.data.description}; {len(result.indices):,} test digits (seed {args.seed}); accuracy % per "
          "corruption (mean of severities 1-5), mean over corruptions, drop from clean")
    print(format_table(result.table(), short))
    if out is not None:
        result.long_table().to_csv(out, index=False, float_format="%.6f")
        print(f"# wrote {out}")
    return 0
