"""Real ONNX files for the import tests, written by torch.onnx from small PyTorch models.

:func:`train_small_cnn` trains a two-conv CNN for a few hundred steps on the sample's training
digits (0-1 pixels, NCHW, logits: the PyTorch way). The exporters write it as it is, and wrapped
Keras-style (NHWC input of 0-255 pixels, softmax output), plus graphs that must be refused.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn


class SmallCNN(nn.Module):
    """(n, 1, 28, 28) pixels 0-1 -> (n, 10) logits."""

    def __init__(self, outputs: int = 10, side: int = 28):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(16 * (side // 4) ** 2, outputs)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class KerasStyle(nn.Module):
    """(n, 28, 28, 1) pixels 0-255 -> (n, 10) probabilities, around a model for NCHW 0-1."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.softmax(self.inner(x.permute(0, 3, 1, 2) / 255.0), dim=1)


class TwoInputs(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x, extra):
        return self.inner(x) + extra


class NaNOutput(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x) / (x.sum(dim=(1, 2, 3))[:, None] * 0.0)  # x/0: inf and NaN


def train_small_cnn(X: np.ndarray, y: np.ndarray, *, steps: int = 300, seed: int = 0) -> SmallCNN:
    """SmallCNN trained with Adam on ``X`` (n, 784) uint8 / ``y`` (n,) for ``steps`` batches of 64."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # on a loaded machine, spinning OpenMP threads make each step several times slower
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    images = torch.tensor(X.reshape(-1, 1, 28, 28), dtype=torch.float32) / 255.0
    labels = torch.tensor(y, dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(labels), (64,), generator=gen)
        loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def torch_predict(model: SmallCNN, X: np.ndarray) -> np.ndarray:
    """The torch model's own answers for ``X`` (n, 784) uint8: (n,) digits."""
    with torch.no_grad():
        return model(torch.tensor(X.reshape(-1, 1, 28, 28), dtype=torch.float32) / 255.0).argmax(1).numpy()


def export(module: nn.Module, path: Path, *examples: torch.Tensor, names: tuple[str, ...] = ("x",)) -> Path:
    """torch.onnx.export (TorchScript exporter) with a dynamic batch dimension."""
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter, on purpose (no onnxscript)
        _export(module, examples, path, names)
    return path


def _export(module, examples, path, names) -> None:
    torch.onnx.export(module, examples, str(path), input_names=list(names), output_names=["scores"],
                      dynamic_axes={**{n: {0: "n"} for n in names}, "scores": {0: "n"}}, dynamo=False)


def custom_domain_model(path: Path) -> Path:
    """A (N, 784) -> (N, 10) graph whose only node is from the custom domain ``com.example``."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("MagicClassifier", ["x"], ["scores"], domain="com.example")
    graph = helper.make_graph([node], "custom", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 784])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 10])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    onnx.save(model, str(path))
    return path
