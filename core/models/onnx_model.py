"""A classifier from an ONNX file, run by onnxruntime: the same interface as a catalog Pipeline.

:class:`OnnxClassifier` takes (n, 784) uint8 pixels like every catalog model and exposes
``predict``, ``predict_proba`` (or ``decision_function`` for decision scores) and ``classes_``,
so test-set predictions, occlusion maps, the Draw page and the inspector use it unchanged.

Reading a file (:func:`inspect_onnx`) checks it before anything runs: it must parse as ONNX,
pass ``onnx.checker``, use only the standard operator domains (``ai.onnx``, ``ai.onnx.ml``: an
ONNX graph runs no Python, and custom-op domains would need native code from elsewhere), have
one input of 784 pixels in a known layout and one output of 10 scores per digit. Layout is read
from the input's shape:

=====================  ===================================
input shape            layout
=====================  ===================================
(N, 784)               ``flat``
(N, 28, 28)            ``nhw``
(N, 1, 28, 28)         ``nchw`` (PyTorch)
(N, 28, 28, 1)         ``nhwc`` (Keras)
=====================  ===================================

The pixel scale (0-1 or 0-255) is chosen by accuracy on a few hundred training digits
(:func:`choose_scale`), and the output kind by what the scores look like (:func:`detect_output_kind`):
rows of non-negative numbers summing to 1 are probabilities, anything else logits (softmax
applied). A file exported by this project says in its metadata that its scores are decision
scores (SVMs), and they stay decision scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import DashboardError

__all__ = [
    "LAYOUTS",
    "MAX_FILE_BYTES",
    "METADATA_OUTPUT_KIND",
    "ModelImportError",
    "OnnxClassifier",
    "OnnxInfo",
    "choose_scale",
    "detect_output_kind",
    "inspect_onnx",
]

#: Largest model or prediction file accepted (bytes).
MAX_FILE_BYTES = 100_000_000
#: Input layouts and the shape each expects after the batch dimension.
LAYOUTS: dict[str, tuple[int, ...]] = {"flat": (784,), "nhw": (28, 28), "nchw": (1, 28, 28), "nhwc": (28, 28, 1)}
#: Metadata key an exported file uses to say what its scores are (``decision score``).
METADATA_OUTPUT_KIND = "mnist_dashboard.output_kind"
OUTPUT_KINDS = ("probability", "logits", "decision score")
SCALES = {"0-1": 255.0, "0-255": 1.0}  # what raw 0-255 pixels are divided by
_ALLOWED_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}
_BATCH = 256  # rows per onnxruntime call, for files up to _BATCH_BYTES; fewer for larger files
_BATCH_BYTES = 10_000_000  # a large file is mostly stored training digits (KNN): an (n, n_train) distance matrix per call
_INPUT_TYPES = {1: np.float32, 11: np.float64, 2: np.uint8, 10: np.float16}


class ModelImportError(DashboardError, ValueError):
    """A model or prediction file that cannot be imported; the message says why and what to do."""


@dataclass(frozen=True)
class OnnxInfo:
    """What :func:`inspect_onnx` read from a graph: input name, layout and dtype; the output
    holding the (N, 10) scores; the kind the file's metadata declares ("" when none)."""

    input_name: str
    layout: str
    input_dtype: str
    output_name: str
    declared_kind: str
    opset: int


def _dims(value_info) -> list[int | None]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _describe(dims: list[int | None]) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in dims) + ")"


def inspect_onnx(payload: bytes) -> OnnxInfo:
    """Check the bytes of an ONNX file (see the module docstring) and say what they hold.
    Raises :class:`ModelImportError` naming the problem."""
    import onnx
    from google.protobuf.message import DecodeError

    if len(payload) > MAX_FILE_BYTES:
        raise ModelImportError(
            f"the file is {len(payload) / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB. An MNIST classifier "
            "is rarely over a few MB: export without training data baked in, or import its test predictions instead."
        )
    if not payload:
        raise ModelImportError("the file is empty; export the model again.")
    try:
        model = onnx.load_model_from_string(payload)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelImportError(f"this is not an ONNX file, or it is truncated ({type(exc).__name__}: {exc}). "
                               "Export the model again (torch.onnx.export, tf2onnx, skl2onnx).") from None
    if not model.graph.node and not model.graph.output:
        raise ModelImportError("this is not an ONNX model (no graph in the file), or it is truncated; export the model again.")
    domains = sorted({op.domain for op in model.opset_import} | {n.domain for n in model.graph.node}) 
    custom = [d for d in domains if d not in _ALLOWED_DOMAINS]
    if custom:
        raise ModelImportError(
            f"the graph uses custom-op domain(s) {', '.join(map(repr, custom))}. Only the standard ONNX operators "
            "(ai.onnx, ai.onnx.ml) are run here: custom operators need native code from outside the file. "
            "Export with standard operators only."
        )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 (onnx raises ValidationError and others)
        raise ModelImportError(f"the ONNX file does not pass onnx.checker ({str(exc).splitlines()[0]}); "
                               "it is damaged or truncated. Export the model again.") from None
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ModelImportError(
            f"the graph has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); a digit classifier takes one "
            "input, the pixels. Export a graph with a single image input."
        )
    inp = inputs[0]
    dims = _dims(inp)
    tail = tuple(dims[1:])
    layout = next((name for name, shape in LAYOUTS.items() if tail == shape), None)
    if layout is None:
        raise ModelImportError(
            f"the input {inp.name!r} has shape {_describe(dims)}; expected one of (N, 784), (N, 28, 28), "
            "(N, 1, 28, 28) (PyTorch) or (N, 28, 28, 1) (Keras) for 28x28 MNIST digits."
        )
    elem = inp.type.tensor_type.elem_type
    if elem not in _INPUT_TYPES:
        raise ModelImportError(f"the input {inp.name!r} has element type {onnx.TensorProto.DataType.Name(elem)}; "
                               "use float32, float64, float16 or uint8.")
    scores = []
    for out in model.graph.output:
        t = out.type.tensor_type
        if t.elem_type in (1, 11, 10) and len(t.shape.dim) == 2:
            scores.append((out.name, _dims(out)))
    ten = [name for name, d in scores if d[1] == 10]
    if not ten:
        found = ", ".join(f"{name} {_describe(d)}" for name, d in scores) or "none"
        raise ModelImportError(
            f"the graph has no output of 10 scores per digit (float outputs of shape (N, k): {found}). "
            "The model must output one score per digit 0-9, in that order."
        )
    meta = {p.key: p.value for p in model.metadata_props}
    declared = meta.get(METADATA_OUTPUT_KIND, "")
    if declared and declared not in OUTPUT_KINDS:
        declared = ""
    opset = max((op.version for op in model.opset_import if op.domain in ("", "ai.onnx")), default=0)
    return OnnxInfo(inp.name, layout, np.dtype(_INPUT_TYPES[elem]).name, ten[0], declared, int(opset))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def detect_output_kind(raw: np.ndarray) -> str:
    """``probability`` when every row of ``raw`` (n, 10) is non-negative and sums to 1 (within
    1e-3), else ``logits``."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.size and raw.min() >= -1e-6 and raw.max() <= 1 + 1e-6 and np.allclose(raw.sum(axis=1), 1.0, atol=1e-3):
        return "probability"
    return "logits"


class OnnxClassifier:
    """An ONNX digit classifier on raw (n, 784) 0-255 pixels.

    ``payload``: the file's bytes (checked by :func:`inspect_onnx`); ``scale``: ``"0-1"`` or
    ``"0-255"``, what the graph expects; ``output_kind``: ``probability``, ``logits`` (softmax
    applied) or ``decision score``. Holds no session when pickled; builds it on first use.
    """

    classes_ = np.arange(10)

    def __init__(self, payload: bytes, *, scale: str = "0-1", output_kind: str = "probability"):
        if scale not in SCALES:
            raise ModelImportError(f"pixel scale {scale!r} is not one of {', '.join(SCALES)}.")
        if output_kind not in OUTPUT_KINDS:
            raise ModelImportError(f"output kind {output_kind!r} is not one of {', '.join(OUTPUT_KINDS)}.")
        self.info = inspect_onnx(payload)
        self._payload = payload
        self.scale = scale
        self.output_kind = output_kind
        self._session = None

    @property
    def layout(self) -> str:
        return self.info.layout

    def __getstate__(self):
        return {**self.__dict__, "_session": None}

    def _get_session(self):
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            try:
                self._session = ort.InferenceSession(self._payload, sess_options=opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own Fail/InvalidGraph)
                raise ModelImportError(f"onnxruntime cannot load this graph ({str(exc).splitlines()[0]}).") from None
        return self._session

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        """The graph's score output for pixels ``X`` (n, 784), float64 (n, 10), in batches.
        Raises ModelImportError for NaN or infinite scores or a wrong output shape."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != 784:
            raise ModelImportError(f"expected digits of shape (n, 784), got {X.shape}.")
        session = self._get_session()
        dtype = np.dtype(self.info.input_dtype)
        divisor = SCALES[self.scale]
        shape = LAYOUTS[self.layout]
        out = []
        batch = max(8, int(_BATCH * min(1.0, _BATCH_BYTES / max(len(self._payload), 1))))
        for start in range(0, len(X), batch):
            chunk = X[start : start + batch].astype(np.float64) / divisor
            if dtype == np.uint8:
                chunk = np.clip(np.rint(chunk), 0, 255)
            feed = chunk.astype(dtype).reshape((len(chunk), *shape))
            try:
                (scores,) = session.run([self.info.output_name], {self.info.input_name: feed})
            except Exception as exc:  # noqa: BLE001
                raise ModelImportError(f"onnxruntime failed on this graph ({str(exc).splitlines()[0]}).") from None
            out.append(np.asarray(scores, dtype=np.float64))
        scores = np.concatenate(out) if out else np.empty((0, 10))
        if scores.shape != (len(X), 10):
            raise ModelImportError(f"the graph's output {self.info.output_name!r} has shape {scores.shape} for "
                                   f"{len(X)} digits; expected ({len(X)}, 10).")
        if not np.all(np.isfinite(scores)):
            bad = int(np.sum(~np.isfinite(scores).all(axis=1)))
            raise ModelImportError(f"the graph outputs NaN or infinite scores for {bad} of {len(X)} digits; "
                                   "check the export (and the pixel scale).")
        return scores

    def _scores(self, X: np.ndarray) -> np.ndarray:
        raw = self.raw_scores(X)
        return _softmax(raw) if self.output_kind == "logits" else raw

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._scores(X), axis=1)]

    def __getattr__(self, name: str):
        # predict_proba for probabilities and logits, decision_function for decision scores:
        # core.models.predict.model_scores picks by hasattr, as for catalog models.
        kind = self.__dict__.get("output_kind")
        if (name == "predict_proba" and kind in ("probability", "logits")) or (name == "decision_function" and kind == "decision score"):
            return self._scores
        raise AttributeError(name)

    def describe(self) -> str:
        """E.g. ``ONNX, input (N, 1, 28, 28), pixels 0-1, logits (softmax applied)``."""
        shape = "(N, " + ", ".join(map(str, LAYOUTS[self.layout])) + ")"
        kind = {"logits": "logits (softmax applied)", "probability": "probabilities",
                "decision score": "decision scores"}[self.output_kind]
        return f"ONNX, input {shape}, pixels {self.scale}, {kind}"


def choose_scale(payload: bytes, X: np.ndarray, y: np.ndarray) -> tuple[str, dict[str, float]]:
    """The pixel scale (``0-1`` or ``0-255``) under which the graph is more accurate on ``X``
    (n, 784) with labels ``y``, and both accuracies. Ties go to 0-1. A scale whose scores are
    NaN or infinite counts as accuracy -1."""
    accs: dict[str, float] = {}
    for scale in SCALES:
        try:
            pred = OnnxClassifier(payload, scale=scale, output_kind="logits").predict(X)
            accs[scale] = float(np.mean(pred == np.asarray(y)))
        except ModelImportError:
            accs[scale] = -1.0
    best = max(SCALES, key=lambda s: (accs[s], s == "0-1"))
    return best, accs
