"""Why a model answers what it answers, for one digit.

* :func:`occlusion_map`: model-agnostic. Grey-out (set to background) a sliding square patch,
  score every occluded copy in ONE batched call, and credit each pixel with the average drop
  in the class's score over the patches that cover it. Positive: the pixel pushed the score
  toward that class. Scores are log-odds for probability models (so a saturated 0.9999 still
  shows which pixels matter) and decision-function values otherwise.
* :func:`class_weight_images`: for linear models on pixels (SGD, logistic regression): the
  final estimator's ``coef_`` as ten 28x28 images, in the pipeline's (deskewed, 0-1) pixels.
* :func:`nearest_training_digits`: the closest training digits in the model's own feature
  space (the pipeline's transform up to its final estimator: deskewed pixels, or deskewed PCA
  components), via scikit-learn's ``NearestNeighbors``, built once per feature space and cached;
  :func:`prefetch_neighbour_index` builds it in a background thread ahead of the first question.
* :func:`explain_digit` bundles the three; :func:`time_explanations` measures the time per
  model (``benchmarks/explain_bench.py`` prints it).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from core.data.preprocessing import Augmented, Deskew
from core.models.predict import model_scores

__all__ = [
    "Explanation",
    "NeighbourIndex",
    "Neighbours",
    "Occlusion",
    "class_weight_images",
    "clear_neighbour_cache",
    "explain_digit",
    "feature_transform",
    "nearest_training_digits",
    "neighbour_index",
    "occlusion_map",
    "prefetch_neighbour_index",
    "time_explanations",
]

SIDE = 28
_EPS = 1e-6


# ------------------------------------------------------------------ occlusion


@dataclass(frozen=True)
class Occlusion:
    """Occlusion maps of one digit.

    ``predicted``: the model's digit; ``true``: the label given (or None);
    ``toward_predicted`` / ``toward_true``: (28, 28) float, how much each pixel raised the
    score of that digit (positive) or lowered it (negative), in ``unit``;
    ``scores``: (10,) the model's scores for the unoccluded digit; ``score_kind``.
    """

    predicted: int
    true: int | None
    toward_predicted: np.ndarray
    toward_true: np.ndarray | None
    scores: np.ndarray
    score_kind: str
    unit: str
    patch: int


def _patch_origins(patch: int, stride: int) -> list[int]:
    starts = list(range(0, SIDE - patch + 1, stride))
    if starts[-1] != SIDE - patch:
        starts.append(SIDE - patch)  # the last row/column of patches reaches the edge
    return starts


def _as_logit(scores: np.ndarray, kind: str) -> np.ndarray:
    if kind != "probability":
        return scores
    p = np.clip(scores, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def occlusion_map(
    pipeline, pixels: np.ndarray, *, true: int | None = None, patch: int = 6, stride: int = 2
) -> Occlusion:
    """Occlusion maps of ``pixels`` (784,) or (28, 28) for ``pipeline`` (any fitted catalog model).

    One scoring call on a batch of (1 + n_patches) copies: with ``patch=6, stride=2``, 144
    patches. (6 px, not 4: KNN's vote among 4 agreeing neighbours, and the one-vs-one SVC's
    vote count, rarely move when a 4x4 patch goes, so their maps came out flat.) When no patch
    changes the score at all, the map is redone once with patches twice as large.
    Returns an :class:`Occlusion` with (28, 28) maps toward the predicted digit and toward
    ``true`` (when given). Runs with BLAS/OpenMP pools of one thread: a single digit gains
    nothing from threads, and on a busy 2-core machine they made it 5-10x slower.
    """
    with threadpool_limits(1):
        occ = _occlusion(pipeline, pixels, true=true, patch=patch, stride=stride)
        if not np.any(np.abs(occ.toward_predicted) > 1e-9) and patch * 2 <= SIDE // 2:
            occ = _occlusion(pipeline, pixels, true=true, patch=patch * 2, stride=stride * 2)
    return occ


def _occlusion(pipeline, pixels: np.ndarray, *, true: int | None, patch: int, stride: int) -> Occlusion:
    if not 1 <= patch <= SIDE or stride < 1:
        raise ValueError(f"patch={patch!r} must be 1-28 and stride={stride!r} at least 1.")
    image = np.asarray(pixels, dtype=np.float64).reshape(SIDE, SIDE)
    origins = [(r, c) for r in _patch_origins(patch, stride) for c in _patch_origins(patch, stride)]
    batch = np.repeat(image[None], len(origins) + 1, axis=0)
    for k, (r, c) in enumerate(origins, start=1):
        batch[k, r : r + patch, c : c + patch] = 0.0
    raw, kind = model_scores(pipeline, np.clip(np.rint(batch), 0, 255).astype(np.uint8).reshape(len(batch), -1))
    classes = [int(c) for c in pipeline.classes_]
    scores = _as_logit(raw, kind)
    base, occluded = scores[0], scores[1:]
    predicted = classes[int(np.argmax(raw[0]))]

    coverage = np.zeros((SIDE, SIDE))
    for r, c in origins:
        coverage[r : r + patch, c : c + patch] += 1

    def toward(digit: int) -> np.ndarray:
        drop = base[classes.index(digit)] - occluded[:, classes.index(digit)]
        total = np.zeros((SIDE, SIDE))
        for (r, c), d in zip(origins, drop):
            total[r : r + patch, c : c + patch] += d
        return total / np.maximum(coverage, 1)

    true_map = None
    if true is not None:
        if int(true) not in classes:
            raise ValueError(f"true={true!r} is not one of the model's digits {classes}.")
        true_map = toward(int(true))
    return Occlusion(
        predicted=predicted, true=None if true is None else int(true), toward_predicted=toward(predicted),
        toward_true=true_map, scores=raw[0], score_kind=kind,
        unit="log-odds" if kind == "probability" else "decision score", patch=patch,
    )


# ------------------------------------------------------------- class weights


def _split(pipeline) -> tuple[list, object]:
    """The transform steps before the final estimator (unwrapping Augmented) and that estimator."""
    steps = [est for _, est in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
    *pre, last = steps
    if isinstance(last, Augmented):
        inner = getattr(last, "estimator_", last.estimator)
        more, last = _split(inner)
        pre += more
    return pre, last


def class_weight_images(pipeline) -> np.ndarray | None:
    """(10, 28, 28) weights of a linear model on pixels (``coef_`` of the final estimator), or
    None for a model without ``coef_`` on pixels (trees, neighbours, kernels, PCA in between).

    The pipeline deskews and scales pixels to 0-1 before the linear step, so weight (d, r, c)
    is what a full-ink pixel at (r, c) of the deskewed digit adds to digit d's score.
    """
    pre, final = _split(pipeline)
    coef = getattr(final, "coef_", None)
    if coef is None or coef.ndim != 2 or coef.shape[1] != SIDE * SIDE or coef.shape[0] != 10:
        return None
    if any(not isinstance(step, Deskew) and not _is_scaler(step) for step in pre):
        return None
    return np.asarray(coef, dtype=np.float64).reshape(10, SIDE, SIDE)


def _is_scaler(step) -> bool:
    func = getattr(step, "func", None)  # FunctionTransformer(scale_pixels)
    return func is not None and getattr(func, "__name__", "") == "scale_pixels"


# --------------------------------------------------------- nearest neighbours


def feature_transform(pipeline, X: np.ndarray) -> np.ndarray:
    """``X`` (n, 784) through every step before the final estimator: (n, n_features) float32
    (image-shaped features, e.g. the CNN's (n, 1, 28, 28) input, are flattened)."""
    pre, _ = _split(pipeline)
    out = np.asarray(X)
    for step in pre:
        out = step.transform(out)
    out = np.asarray(out, dtype=np.float32)
    return out.reshape(len(out), -1)


def _space_key(pipeline) -> str:
    """Pipelines with the same pre-steps (same fitted PCA, or none) share a feature space."""
    pre, _ = _split(pipeline)
    h = hashlib.sha1()
    for step in pre:
        h.update(type(step).__name__.encode())
        comps = getattr(step, "components_", None)
        if comps is not None:
            h.update(np.ascontiguousarray(comps).tobytes())
            h.update(np.ascontiguousarray(step.mean_).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class NeighbourIndex:
    """A fitted ``NearestNeighbors`` over the training digits in one feature space."""

    key: str
    nn: NearestNeighbors
    labels: np.ndarray
    build_seconds: float


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest training digits: ``indices`` (k,) into the training set, their
    ``labels`` (k,) and Euclidean ``distances`` (k,) in the model's feature space, nearest first."""

    indices: np.ndarray
    labels: np.ndarray
    distances: np.ndarray


_INDEX: OrderedDict[str, NeighbourIndex] = OrderedDict()
_BUILDING: dict[str, Future] = {}  # key -> the index being built now (by a page or in the background)
_INDEX_LOCK = threading.Lock()
_INDEX_SIZE = 8
_PREFETCH: ThreadPoolExecutor | None = None


def clear_neighbour_cache() -> None:
    """Forget every cached neighbour index (to time a cold build)."""
    with _INDEX_LOCK:
        _INDEX.clear()


def neighbour_index(pipeline, X_train: np.ndarray, y_train: np.ndarray, *, data_key: str) -> NeighbourIndex:
    """The neighbour index of the training digits ``X_train`` (n, 784) in ``pipeline``'s feature
    space; built once per (feature space, ``data_key``) and process, e.g. ``data.fingerprint``.
    When another thread is building the same index (e.g. :func:`prefetch_neighbour_index`),
    waits for it instead of building it twice."""
    key = f"{_space_key(pipeline)}:{data_key}"
    with _INDEX_LOCK:
        hit = _INDEX.get(key)
        if hit is not None:
            _INDEX.move_to_end(key)
            return hit
        building = _BUILDING.get(key)
        if building is None:
            building = _BUILDING[key] = Future()
            owner = True
        else:
            owner = False
    if not owner:
        return building.result()
    try:
        start = time.perf_counter()
        features = feature_transform(pipeline, X_train)
        nn = NearestNeighbors(algorithm="brute").fit(features)
        index = NeighbourIndex(key, nn, np.asarray(y_train), time.perf_counter() - start)
    except BaseException as exc:
        with _INDEX_LOCK:
            _BUILDING.pop(key, None)
        building.set_exception(exc)
        raise
    with _INDEX_LOCK:
        _INDEX[key] = index
        while len(_INDEX) > _INDEX_SIZE:
            _INDEX.popitem(last=False)
        _BUILDING.pop(key, None)
    building.set_result(index)
    return index


def _lower_priority() -> None:
    """Run this (background) thread at nice 10 where the OS allows it, so a user's clicks come first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


def prefetch_neighbour_index(pipeline, X_train: np.ndarray, y_train: np.ndarray, *, data_key: str) -> Future:
    """Start building :func:`neighbour_index` for ``pipeline`` in a background thread (one build
    at a time, at low priority) and return its Future; a page asking for the index meanwhile
    waits for this build. The dashboard calls it when it loads a model, so that the first
    explanation does not pay for the index (seconds on full MNIST)."""
    global _PREFETCH
    with _INDEX_LOCK:
        if _PREFETCH is None:
            _PREFETCH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neighbour-index",
                                           initializer=_lower_priority)
        executor = _PREFETCH
    return executor.submit(neighbour_index, pipeline, X_train, y_train, data_key=data_key)


def nearest_training_digits(pipeline, index: NeighbourIndex, pixels: np.ndarray, *, k: int = 8) -> Neighbours:
    """The ``k`` training digits nearest to ``pixels`` (784,) in ``pipeline``'s feature space."""
    with threadpool_limits(1):  # one query: threads only cost (see occlusion_map)
        query = feature_transform(pipeline, np.asarray(pixels).reshape(1, SIDE * SIDE))
        dist, idx = index.nn.kneighbors(query, n_neighbors=k)
    return Neighbours(indices=idx[0], labels=index.labels[idx[0]], distances=dist[0])


# ---------------------------------------------------------------------- bundle


@dataclass(frozen=True)
class Explanation:
    """Everything the inspector shows for one model and one digit."""

    occlusion: Occlusion
    weights: np.ndarray | None
    neighbours: Neighbours
    seconds: float


def explain_digit(
    pipeline, pixels: np.ndarray, index: NeighbourIndex, *, true: int | None = None, k: int = 8
) -> Explanation:
    """Occlusion maps, class weight images (linear models) and the ``k`` nearest training digits."""
    start = time.perf_counter()
    occ = occlusion_map(pipeline, pixels, true=true)
    weights = class_weight_images(pipeline)
    neighbours = nearest_training_digits(pipeline, index, pixels, k=k)
    return Explanation(occ, weights, neighbours, time.perf_counter() - start)


def time_explanations(models: dict, data, *, n_digits: int = 5, random_state: int = 0) -> pd.DataFrame:
    """Per model: the cold neighbour-index build (s, once per feature space) and the median
    and max seconds to explain one of ``n_digits`` random test digits with a warm index.

    ``models``: name -> fitted pipeline; ``data``: MnistData. One row per model.
    """
    rng = np.random.default_rng(random_state)
    picks = rng.choice(len(data.y_test), size=n_digits, replace=False)
    rows = []
    for name, pipeline in models.items():
        start = time.perf_counter()
        index = neighbour_index(pipeline, data.X_train, data.y_train, data_key=data.fingerprint)
        build = time.perf_counter() - start
        explain_digit(pipeline, data.X_test[picks[0]], index, true=int(data.y_test[picks[0]]))  # warm-up
        times = []
        for i in picks:
            t0 = time.perf_counter()
            explain_digit(pipeline, data.X_test[i], index, true=int(data.y_test[i]))
            times.append(time.perf_counter() - t0)
        rows.append({"model": name, "index_build_s": build, "explain_median_s": float(np.median(times)),
                     "explain_max_s": float(np.max(times))})
    return pd.DataFrame(rows)
