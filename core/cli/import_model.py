"""``python -m core import-model PATH.onnx --name NAME [--scale 0-1|0-255]``: bring your own model.

Checks the ONNX file, detects its input layout and output kind, chooses the pixel scale by
accuracy on training digits (unless ``--scale`` is given), predicts the test set and stores a
copy with a signed record (core.store.imports). ``--delete NAME`` removes an import instead.
"""

from __future__ import annotations

import argparse

from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import OptionsError
from core.store.imports import delete_import, import_onnx

NAME = "import-model"
HELP = "import an ONNX model (PyTorch, Keras, scikit-learn export) so every page and command can use it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH.onnx", nargs="?", help="the ONNX file")
    parser.add_argument("--name", help="the name it gets here: lowercase letters, digits, '_' (not a catalog name)")
    parser.add_argument("--scale", choices=["0-1", "0-255"], default=None,
                        help="pixel scale the model expects (default: chosen by accuracy on training digits)")
    parser.add_argument("--delete", metavar="NAME", help="delete the imported model NAME instead")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    ws = workspace_from_args(args)
    if args.delete:
        removed = delete_import(ws.store, args.delete)
        print(f"deleted {args.delete} ({len(removed)} files)")
        return 0
    if not args.path or not args.name:
        raise OptionsError("give the ONNX file and a name: python -m core import-model PATH.onnx --name NAME")
    model, notes = import_onnx(ws.store, args.path, name=args.name, scale=args.scale)
    rec = model.record
    print(f"imported {rec.name} from {rec.source_name} (SHA-256 {rec.source_sha256[:16]}…) in {rec.fit_seconds:.1f} s")
    for note in notes:
        print(f"  {note}")
    return 0
