"""``python -m core export MODEL --onnx PATH``: a trained catalog model as an ONNX file.

The file takes raw (N, 784) float pixels 0-255 (input ``pixels``) and outputs 10 scores per
digit; deskewing is part of the graph (core.models.export). After writing, the file is run on
the test digits with onnxruntime and its agreement with the original model is printed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import ArtifactError
from core.fileio import atomic_write_bytes
from core.models.catalog import MODEL_NAMES, get_spec
from core.models.export import export_onnx
from core.models.onnx_model import OnnxClassifier
from core.store.queries import latest_model

NAME = "export"
HELP = "export a trained catalog model to ONNX (skl2onnx / torch.onnx; deskewing included as ONNX operators)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help=f"a trained catalog model: {', '.join(MODEL_NAMES)}")
    parser.add_argument("--onnx", required=True, metavar="PATH", help="where to write the .onnx file")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    ws = workspace_from_args(args)
    model = latest_model(ws.store, args.model)
    if model is None:
        raise ArtifactError(f"model {args.model!r} is not trained for {ws.data.description}; "
                            f"train it first: python -m core train --models {args.model}")
    start = time.perf_counter()
    payload = export_onnx(model.pipeline, score_kind=str(spec.score_kind))
    seconds = time.perf_counter() - start
    out = Path(args.onnx)
    try:
        atomic_write_bytes(out, payload)
    except OSError as exc:
        raise ArtifactError(f"cannot write {str(out)!r}: {exc.strerror or exc}.") from None
    kind = "decision score" if not spec.has_proba else "probability"
    onnx_pred = OnnxClassifier(payload, scale="0-255", output_kind=kind).predict(ws.data.X_test)
    preds = ws.store.predictions(model)
    same = float(np.mean(onnx_pred == preds.y_pred))
    print(f"wrote {out} ({len(payload) / 1e6:.2f} MB) in {seconds:.1f} s: input 'pixels' (N, 784) float 0-255, "
          f"output: {'probabilities' if spec.has_proba else 'decision scores'}")
    print(f"test digits: original {100 * np.mean(preds.y_pred == preds.y_true):.2f}%, ONNX "
          f"{100 * np.mean(onnx_pred == preds.y_true):.2f}%, same answer on {100 * same:.2f}%")
    return 0
