"""``python -m core delete NAME``: remove an imported model or prediction file (core.store.imports)."""

from __future__ import annotations

import argparse

from core.cli.common import add_data_arguments, workspace_from_args
from core.store.imports import delete_import

NAME = "delete"
HELP = "delete an imported model or prediction file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the imported model's name")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    ws = workspace_from_args(args)
    removed = delete_import(ws.store, args.name)
    print(f"deleted {args.name} ({len(removed)} files)")
    return 0
