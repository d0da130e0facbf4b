"""Export a fitted catalog Pipeline to ONNX: skl2onnx for the scikit-learn steps, torch.onnx for
the CNN, and deskewing as ONNX operators.

Deskewing (``core.data.preprocessing.deskew``) has no skl2onnx converter. It is rebuilt here in
PyTorch (the same image moments, the same shear and bilinear sampling with zeros outside the
image, as ``GridSample``) and exported with ``torch.onnx``; for a scikit-learn model that graph is
joined in front of skl2onnx's graph of the later steps (``onnx.compose.merge_models``). So every
catalog model exports, and the exported file takes raw (N, 784) float 0-255 pixels. Building the
deskew graph needs PyTorch (the ``cnn`` extra).

The file's metadata says what its scores are (``mnist_dashboard.output_kind``): probabilities,
or decision scores for the SVMs and the hinge SGD, so an import treats them like the original.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from core.data.preprocessing import Augmented, Deskew
from core.errors import MissingExtraError, OptionsError
from core.models.onnx_model import METADATA_OUTPUT_KIND

__all__ = ["export_onnx"]

OPSET = 17
INPUT_NAME = "pixels"


def _flat_steps(pipeline) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    for name, step in pipeline.steps:
        if isinstance(step, Augmented):
            steps.extend(_flat_steps(step.estimator_))
        else:
            steps.append((name, step))
    return steps


def _front_module(deskew: bool):
    """A torch module: (N, 784) float 0-255 -> (N, 784) float 0-1, deskewed when ``deskew``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    side, half = 28, 14.0

    class Front(nn.Module):
        def forward(self, x):
            if not deskew:
                return x / 255.0
            imgs = x.reshape(-1, side, side).double()
            total = imgs.sum(dim=(1, 2))
            total = torch.where(total == 0, torch.ones_like(total), total)
            r = torch.arange(side, dtype=torch.float64)
            row_mass, col_mass = imgs.sum(dim=2), imgs.sum(dim=1)
            c_r = (row_mass * r).sum(dim=1) / total
            c_c = (col_mass * r).sum(dim=1) / total
            dr = r[None, :] - c_r[:, None]
            dc = r[None, :] - c_c[:, None]
            var_r = (row_mass * dr * dr).sum(dim=1) / total
            cov = (imgs * dr[:, :, None] * dc[:, None, :]).sum(dim=(1, 2)) / total
            safe = torch.where(var_r > 1e-9, var_r, torch.ones_like(var_r))
            alpha = torch.where(var_r > 1e-9, cov / safe, torch.zeros_like(cov))
            grid_r = r[:, None].expand(side, side)
            grid_c = r[None, :].expand(side, side)
            rows = grid_r[None] + (c_r - half)[:, None, None]
            cols = grid_c[None] + alpha[:, None, None] * (grid_r[None] - half) + (c_c - half)[:, None, None]
            grid = torch.stack([cols * (2.0 / (side - 1)) - 1.0, rows * (2.0 / (side - 1)) - 1.0], dim=3)
            warped = F.grid_sample(imgs.float()[:, None], grid.float(), mode="bilinear", padding_mode="zeros",
                                   align_corners=True)[:, 0]
            # scipy's map_coordinates(mode="constant") gives 0 outside [0, 27]; GridSample fades
            inside = (rows >= 0) & (rows <= side - 1) & (cols >= 0) & (cols <= side - 1)
            warped = torch.where(inside, warped, torch.zeros_like(warped))
            return warped.clamp(0.0, 255.0).reshape(-1, side * side) / 255.0

    return Front()


def _torch_to_onnx(module, *, output_name: str, fold: bool = True) -> Any:
    import onnx
    import torch

    module.eval()
    buf = io.BytesIO()
    example = torch.zeros(2, 784, dtype=torch.float32)
    example[:, 300:310] = 200.0
    with warnings.catch_warnings():  # the TorchScript exporter on purpose: the default one needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (example,), buf, input_names=[INPUT_NAME], output_names=[output_name],
                          dynamic_axes={INPUT_NAME: {0: "n"}, output_name: {0: "n"}}, opset_version=OPSET, dynamo=False,
                          do_constant_folding=fold)
    return onnx.load_model_from_string(buf.getvalue())


def _need_torch(why: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingExtraError(f'{why} needs PyTorch: pip install -e ".[cnn]"') from None


def _export_cnn(front_deskew: bool, net) -> Any:
    import torch
    from torch import nn

    front = _front_module(front_deskew)
    body = net.module_

    class Whole(nn.Module):
        def __init__(self):
            super().__init__()
            self.front, self.body = front, body

        def forward(self, x):
            return torch.softmax(self.body(self.front(x).reshape(-1, 1, 28, 28)), dim=1)

    return _torch_to_onnx(Whole(), output_name="probabilities")


def _export_knn(front_deskew: bool, steps: list[tuple[str, Any]]) -> Any:
    """KNN (after an optional PCA) in PyTorch: skl2onnx's KNN converter votes uniformly even for
    ``weights="distance"``. Distances in float64 (as scikit-learn's), neighbours by TopK."""
    import torch
    from torch import nn

    *pre, (_, knn) = steps
    front = _front_module(front_deskew)
    pca = pre[0][1] if pre else None
    if len(pre) > 1 or (pca is not None and (type(pca).__name__ != "PCA" or pca.whiten)):
        raise OptionsError("only a KNN after at most one PCA step (no whitening) can be exported.")
    # stored as fitted (float32 after PCA of float32 pixels), widened to float64 when run
    train = torch.tensor(np.asarray(knn._fit_X, dtype=np.float32))
    labels = torch.tensor(np.asarray(knn._y, dtype=np.int64))
    k, distance = int(knn.n_neighbors), knn.weights == "distance"
    mean = torch.tensor(np.asarray(pca.mean_, dtype=np.float32)) if pca is not None else None
    comps = torch.tensor(np.asarray(pca.components_, dtype=np.float32).T.copy()) if pca is not None else None
    if knn.metric not in ("minkowski", "euclidean") or (knn.metric == "minkowski" and knn.p != 2) or callable(knn.weights):
        raise OptionsError(f"only Euclidean KNN with uniform or distance weights can be exported (this one: metric "
                           f"{knn.metric!r}, p={knn.p}, weights {knn.weights!r}).")

    class Knn(nn.Module):
        def __init__(self):
            super().__init__()
            self.front = front
            self.register_buffer("points", train)
            self.register_buffer("labels", labels)
            if mean is not None:
                self.register_buffer("mean", mean)
                self.register_buffer("comps", comps)

        def forward(self, x):
            f = self.front(x)
            if mean is not None:
                f = (f - self.mean) @ self.comps
            f, points = f.double(), self.points.double()
            d2 = (f * f).sum(dim=1, keepdim=True) - 2.0 * f @ points.T + (points * points).sum(dim=1)[None, :]
            dist, idx = torch.topk(d2.clamp(min=0.0), k, dim=1, largest=False)
            dist = dist.sqrt()
            if distance:
                zero = (dist == 0).double()
                any_zero = zero.sum(dim=1, keepdim=True) > 0
                w = torch.where(any_zero, zero, 1.0 / torch.where(dist == 0, torch.ones_like(dist), dist))
            else:
                w = torch.ones_like(dist)
            onehot = (self.labels[idx][:, :, None] == torch.arange(10)[None, None, :]).double()
            votes = (onehot * w[:, :, None]).sum(dim=1)
            return (votes / votes.sum(dim=1, keepdim=True)).float()

    # no constant folding: it would store the training points a second time, transposed and widened
    return _torch_to_onnx(Knn(), output_name="probabilities", fold=False)


def _export_sklearn(front_deskew: bool, steps: list[tuple[str, Any]]) -> Any:
    import onnx
    from onnx import compose
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline

    rest = Pipeline(steps) if len(steps) > 1 else steps[0][1]
    final = steps[-1][1]
    # raw_scores: OneVsRest's decision_function itself (by default skl2onnx normalises the binary scores)
    opts = {"zipmap": False, "raw_scores": True} if isinstance(final, OneVsRestClassifier) else {"zipmap": False}
    try:
        back = to_onnx(rest, initial_types=[("features", FloatTensorType([None, 784]))],
                       target_opset={"": OPSET, "ai.onnx.ml": 3}, options={id(final): opts})
    except Exception as exc:  # noqa: BLE001 (skl2onnx raises MissingShapeCalculator, RuntimeError, ...)
        raise OptionsError(f"skl2onnx cannot convert {type(steps[-1][1]).__name__}: {exc}") from None
    _need_torch("exporting the deskewing and pixel-scaling steps")
    front = _torch_to_onnx(_front_module(front_deskew), output_name="scaled")
    ir = max(front.ir_version, back.ir_version)
    front.ir_version = back.ir_version = ir
    back = compose.add_prefix(back, prefix="m_")
    merged = compose.merge_models(front, back, io_map=[("scaled", "m_features")])
    # the score output: skl2onnx names it "probabilities" (or "scores" for some models)
    onnx.checker.check_model(merged)
    return merged


def export_onnx(pipeline: Any, *, score_kind: str, producer: str = "mnist-dashboard") -> bytes:
    """The bytes of an ONNX file computing ``pipeline``'s scores from raw (N, 784) float 0-255
    pixels (input ``pixels``). ``score_kind``: ``probability`` or ``decision score`` (what the
    pipeline's own scores are; written into the file's metadata). Raises OptionsError for a step
    with no converter and MissingExtraError without PyTorch."""
    import onnx
    from sklearn.preprocessing import FunctionTransformer

    steps = _flat_steps(pipeline)
    deskew = bool(steps) and isinstance(steps[0][1], Deskew)
    if deskew:
        steps = steps[1:]
    if not steps or steps[0][0] != "scale" or not isinstance(steps[0][1], FunctionTransformer):
        raise OptionsError("only catalog Pipelines (optional deskew, then 'scale', then the model) can be exported.")
    steps = steps[1:]
    if steps and steps[0][0] == "images":  # the CNN: ToImages then the skorch net
        _need_torch("exporting the CNN")
        model = _export_cnn(deskew, steps[-1][1])
    elif steps and type(steps[-1][1]).__name__ == "KNeighborsClassifier":
        _need_torch("exporting KNN")
        model = _export_knn(deskew, steps)
    else:
        model = _export_sklearn(deskew, steps)
    model.producer_name = producer
    onnx.helper.set_model_props(model, {METADATA_OUTPUT_KIND: score_kind, "mnist_dashboard.input_scale": "0-255"})
    return model.SerializeToString()


def score_output_check(payload: bytes, pipeline: Any, X: np.ndarray) -> float:
    """Fraction of digits ``X`` (n, 784) on which the exported file's argmax equals the
    pipeline's predictions (a quick self-check after exporting)."""
    from core.models.onnx_model import OnnxClassifier

    clf = OnnxClassifier(payload, scale="0-255", output_kind="logits")
    return float(np.mean(clf.predict(X) == np.asarray(pipeline.predict(X))))
