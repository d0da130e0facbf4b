"""``python -m core marks export|import FILE``: the reviewer's label marks as CSV.

``export`` writes both splits' marks (training marks: wrong/ambiguous/fine; test marks:
wrong/fine) with the data's fingerprint on every row; ``import`` checks the whole file
first (unknown columns, indices out of range, labels outside 0-9, conflicting duplicates,
another data set's fingerprint: an error naming the line, nothing imported), then merges it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import OptionsError
from core.fileio import atomic_write_bytes
from core.store.marks import load_marks
from core.store.train_marks import import_marks, load_train_marks, marks_csv

NAME = "marks"
HELP = "export the label marks to CSV, or import them back"

__all__ = ["HELP", "NAME", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("export", "import"), help="export to FILE, or import from FILE")
    parser.add_argument("file", metavar="FILE", help="the CSV file ('-' to export to standard output)")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    ws = workspace_from_args(args)
    store = ws.store
    if args.action == "export":
        text = marks_csv(store)
        if args.file == "-":
            print(text, end="")
        else:
            try:
                atomic_write_bytes(Path(args.file), text.encode())
            except OSError as exc:
                raise OptionsError(f"cannot write {args.file!r} ({exc.strerror or exc}).") from exc
            n_train, n_test = len(load_train_marks(store)), len(load_marks(store))
            print(f"exported {n_train} training and {n_test} test marks of {ws.data.description} to {args.file}")
        return 0
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionsError(f"cannot read the marks file {args.file!r} ({getattr(exc, 'strerror', None) or exc}).") from exc
    n_train, n_test = import_marks(store, text)
    print(f"imported {n_train} training and {n_test} test marks into {ws.data.description}")
    return 0
