"""Command line: ``python -m core train|evaluate|...``.

``train`` fits the catalog models that are not cached yet (with a progress bar) and prints
a table; ``evaluate`` prints the same table from the cache without training anything.

Further subcommands live in their own modules, listed in :data:`COMMAND_MODULES`. Each such
module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; it
calls ``core.cli.common.add_data_arguments`` for the shared ``--source/--mnist-dir/--models-dir``
flags and ``core.cli.common.workspace_from_args`` for the Workspace they select, once per run.
Any :class:`core.errors.DashboardError` a command raises is printed as ``error: ...`` with
exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from tqdm import tqdm

from core.analysis.evaluation import summary_row
from core.analysis.leaderboard import format_leaderboard
from core.analysis.tune import cv_columns
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import DashboardError, MissingExtraError
from core.models.catalog import AUGMENTATIONS, MODEL_NAMES, get_spec, unavailable_reason
from core.progress import reporting
from core.store.records import TrainOptions
from core.store.train_marks import label_fixes_from
from core.store.training import train_model

#: The summary keys the CLI table shows (see core.analysis.leaderboard).
TABLE_COLUMNS = ["label", "accuracy", "cv_accuracy", "cv_std", "macro_f1", "fit_s", "predict_ms_per_digit", "size_mb", "options"]


#: Modules of further subcommands (see the module docstring).
COMMAND_MODULES: list[str] = ["core.cli.compare", "core.cli.suspects", "core.cli.trust", "core.cli.tune", "core.cli.cv",
                              "core.cli.import_model", "core.cli.import_predictions", "core.cli.delete", "core.cli.export",
                              "core.cli.marks", "core.cli.robustness", "core.cli.slices", "core.cli.map"]


def _command_modules():
    return [importlib.import_module(name) for name in COMMAND_MODULES]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.split("\n\n")[0])
    extra = _command_modules()
    names = ["train", "evaluate", *(m.NAME for m in extra)]
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(names) + "}")
    for module in extra:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    for name, help_text in (("train", "train missing models, then print the table"),
                            ("evaluate", "print the table from cached models; train nothing")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--models", nargs="+", metavar="NAME", default=None,
                       help=f"models to include (default: all): {', '.join(MODEL_NAMES)}")
        add_data_arguments(p)
        p.add_argument("--augment", choices=AUGMENTATIONS, help="training-set augmentation (default: per model)")
        g = p.add_mutually_exclusive_group()
        g.add_argument("--deskew", dest="deskew", action="store_true", default=None, help="force deskewing on")
        g.add_argument("--no-deskew", dest="deskew", action="store_false", help="force deskewing off")
        p.add_argument("--max-train", type=int,
                       help="train on a stratified subset of this many digits (at least the training size: all)")
        p.add_argument("--seed", type=int, default=0, help="random_state, 0 to 2**32-1 (default: 0)")
        p.add_argument("--label-fixes", metavar="FILE|marks",
                       help="the variant trained with the marked training labels corrected and the ambiguous ones "
                            "dropped: a marks CSV (python -m core marks export) or 'marks' (the stored marks)")
        if name == "train":
            p.add_argument("--force", action="store_true", help="retrain even when cached")
    return parser


def format_table(rows: list[dict]) -> str:
    """The leaderboard as aligned text (accuracy and F1 in percent)."""
    return format_leaderboard(rows, columns=TABLE_COLUMNS)


def _installed_models(requested: list[str] | None) -> tuple[list[str], list[str]]:
    """Optional extras: (models to run, "name: not installed: pip ..." notes).

    Models named on the command line must be installed (else :class:`MissingExtraError`);
    the default "all models" skips the ones whose extra is missing and notes them.
    """
    names = list(requested or MODEL_NAMES)
    for name in names:
        get_spec(name)
    notes = [f"{name}: {unavailable_reason(name)}" for name in names if unavailable_reason(name)]
    if notes and requested:
        raise MissingExtraError("; ".join(notes))
    return [name for name in names if not unavailable_reason(name)], notes


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        if getattr(args, "_run", None) is not None:
            return int(args._run(args))
        return _train_or_evaluate(args)
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train_or_evaluate(args: argparse.Namespace) -> int:
    args.models, not_installed = _installed_models(args.models)
    ws = workspace_from_args(args)
    data, store = ws.data, ws.store
    fixes = label_fixes_from(store, args.label_fixes) if args.label_fixes else None
    options = TrainOptions(deskew=args.deskew, augment=args.augment, max_train=args.max_train, label_fixes=fixes)
    for name in args.models:
        store.key(name, options, args.seed)  # OptionsError for bad options or seed, before any work
    print(f"data: {data.description} [{data.reason}; fingerprint {data.fingerprint}]")
    print(f"models: {store.folder.resolve()}")
    for note in not_installed:
        print(f"skipped {note}")
    if fixes is not None:
        print(f"label fixes: {fixes.count} training labels ({len(fixes.relabel)} corrected, {len(fixes.drop)} dropped; "
              f"marks {fixes.digest})")

    rows, missing = [], []
    bar = tqdm(args.models, desc=args.command, unit="model", file=sys.stderr, disable=None)
    try:
        for name in bar:
            bar.set_postfix_str(name)
            if args.command == "train":
                with reporting(lambda _fraction, message: bar.set_postfix_str(message)):
                    model = train_model(store, name, options=options, random_state=args.seed, force=args.force)
            else:
                model = store.load(name, options=options, random_state=args.seed)
            if model is None:
                missing.append(name)
                continue
            source = "cache" if model.from_cache else f"trained in {model.record.fit_seconds:.1f} s"
            tqdm.write(f"{name}: {source}", file=sys.stderr)
            bar.set_postfix_str(f"{name}: evaluating")
            # cached cross-validation (python -m core cv) shows as CV columns when there is one
            rows.append({**summary_row(model, store.predictions(model)),
                         **cv_columns(store, name, options=options)})
    finally:
        bar.close()
    if rows:
        print(format_table(rows))
    if fixes is not None and rows:
        for name in (r["model"] for r in rows):
            print(f"compare with the original: python -m core compare {name} {name} --b-fixes {args.label_fixes}")
    if missing:
        print(f"not trained yet: {', '.join(missing)} (run: python -m core train --models {' '.join(missing)})")
        return 1 if not rows else 0
    return 0
