"""Maps of the test digits: every test digit as a point in 2-D, with a faithfulness figure.

* **Feature spaces** (:func:`map_features`): ``"pixels"`` (deskewed pixels scaled to 0-1
  through a 50-component PCA fitted on the training sample), or a trained model's own
  features: the MLP's last hidden layer, the CNN's last hidden (dense) layer
  (:func:`hidden_features`). Models without a hidden layer have no space of their own.
* **Methods** (:func:`compute_layout`): ``umap`` (umap-learn, the default), ``tsne``
  (openTSNE) and ``pca`` (scikit-learn), each with a ``random_state``.
* **Training digits** (a sample of :data:`BACKGROUND_SIZE`) are placed in the same picture
  by the fitted layout's ``transform`` (UMAP's and openTSNE's out-of-sample embedding, PCA's
  projection), so the test layout itself does not depend on them.
* **Faithfulness** (:func:`faithfulness`): ``sklearn.manifold.trustworthiness`` at k=10 on a
  stratified subset, and the 2-D 10-nearest-neighbour label agreement over all test digits.
* **Caching** (:func:`load_or_build_map`): one ``.npz`` store side file per (data, space and
  model artifact, method, seed, library versions); a corrupt file is reported and recomputed.

Everything returns plain data (arrays, a DataFrame, a frozen dataclass).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sklearn
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

from core.analysis.explain import feature_transform
from core.data.preprocessing import deskew_memoized, final_estimator
from core.data.sources import MnistData
from core.errors import DashboardError, MissingExtraError, OptionsError
from core.models.catalog import MODELS
from core.progress import report, scaled
from core.store.artifacts import ArtifactStore
from core.store.sidefiles import read_side_npz, write_side_npz

__all__ = [
    "BACKGROUND_SIZE",
    "METHODS",
    "PIXELS",
    "Faithfulness",
    "MapFeatures",
    "MapLayout",
    "build_map",
    "cached_map",
    "check_method",
    "check_space",
    "compute_layout",
    "faithfulness",
    "feature_spaces",
    "hidden_features",
    "layout_key",
    "load_or_build_map",
    "map_features",
    "map_frame",
]

#: Layout methods, the default first.
METHODS: dict[str, str] = {"umap": "UMAP", "tsne": "t-SNE (openTSNE)", "pca": "PCA"}
PIXELS = "pixels"
PIXEL_COMPONENTS = 50
#: Training digits placed in the picture as a faint background (all of them when fewer).
BACKGROUND_SIZE = 10_000
NEIGHBOURS = 10
TRUST_SUBSET = 2_000
SIDE_KIND = "maps"
_FORMAT = 1
_EXTRAS = {"umap": ("umap", "umap-learn"), "tsne": ("openTSNE", "openTSNE")}


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`METHODS`, else OptionsError naming the allowed ones."""
    if method not in METHODS:
        raise OptionsError(f"unknown map method {method!r}; choose one of {', '.join(METHODS)}.")
    return method


# ------------------------------------------------------------------ features


def hidden_features(pipeline, X: np.ndarray, *, batch: int = 2048) -> np.ndarray | None:
    """The activations of ``pipeline``'s last hidden layer for digits ``X`` (n, 784):
    (n, width) float32 for an MLP (scikit-learn ``MLPClassifier``) or the catalog CNN (a
    skorch net whose module has ``features`` and a ``head`` ending in a Linear layer), None
    for a model without hidden layers (linear models, trees, neighbours, kernels)."""
    final = final_estimator(pipeline)
    if getattr(final, "coefs_", None) is not None and len(final.coefs_) >= 2:
        acts = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z,
                "logistic": lambda z: 1 / (1 + np.exp(-z))}
        act = acts.get(getattr(final, "activation", "relu"))
        if act is None:
            return None
        out = feature_transform(pipeline, X).astype(np.float64)
        for w, b in zip(final.coefs_[:-1], final.intercepts_[:-1]):
            out = act(out @ w + b)
        return out.astype(np.float32)
    module = getattr(final, "module_", None)
    head = getattr(module, "head", None)
    if module is None or head is None or not hasattr(module, "features"):
        return None
    import torch  # only for a torch model, which brought torch with it

    layers = list(head.children())
    if not layers or not isinstance(layers[-1], torch.nn.Linear):
        return None
    trunk = torch.nn.Sequential(*layers[:-1])
    images = feature_transform(pipeline, X).reshape(-1, 1, 28, 28)
    was_training = module.training
    module.eval()
    parts = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch):
                chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + batch]))
                parts.append(trunk(module.features(chunk)).numpy())
    finally:
        module.train(was_training)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), np.float32)


def feature_spaces(trained: Sequence[str]) -> list[str]:
    """The spaces a map can use given the trained catalog models ``trained``: ``pixels`` and
    each of them that the catalog lists with a feature space of its own (``ModelSpec.features``)."""
    return [PIXELS] + [name for name in trained if name in MODELS and MODELS[name].features]


def check_space(space: str, trained: Sequence[str]) -> str:
    """``space`` if a map can use it, else OptionsError naming the spaces that work."""
    works = feature_spaces(trained)
    if space in works:
        return space
    if space in MODELS and space not in trained:
        why = f"model {space!r} is not trained for this data"
    elif space in MODELS:
        why = f"model {space!r} has no hidden layer of its own to map"
    else:
        why = f"unknown space {space!r}"
    return _raise(f"{why}; spaces that work: {', '.join(works)}.")


def _raise(message: str):
    raise OptionsError(message)


@dataclass(frozen=True)
class MapFeatures:
    """``test`` (n_test, d) and ``train`` (m, d) float32 features; ``train_index`` (m,) the
    training digits they belong to."""

    test: np.ndarray
    train: np.ndarray
    train_index: np.ndarray


def background_index(n_train: int, *, size: int = BACKGROUND_SIZE, random_state: int = 0) -> np.ndarray:
    """The training digits drawn as the background: ``size`` of ``n_train`` (sorted), or all."""
    if n_train <= size:
        return np.arange(n_train)
    return np.sort(np.random.default_rng(random_state).choice(n_train, size=size, replace=False))


def map_features(
    data: MnistData, *, space: str = PIXELS, pipeline=None, name: str = "", background: int = BACKGROUND_SIZE,
    random_state: int = 0,
) -> MapFeatures:
    """Features of the test digits and of a training sample of ``background`` digits.

    ``space="pixels"``: deskewed pixels / 255 through PCA-50 fitted on the training sample.
    Otherwise ``pipeline`` (the fitted model called ``name``) gives its last hidden layer;
    OptionsError when it has none."""
    idx = background_index(data.n_train, size=background, random_state=random_state)
    if space == PIXELS:
        train = deskew_memoized(data.X_train[idx]) / np.float32(255)
        test = deskew_memoized(data.X_test) / np.float32(255)
        pca = PCA(n_components=min(PIXEL_COMPONENTS, *train.shape), random_state=random_state).fit(train)
        return MapFeatures(pca.transform(test).astype(np.float32), pca.transform(train).astype(np.float32), idx)
    if pipeline is None:
        raise OptionsError(f"space {space!r} needs that trained model; spaces are {PIXELS!r} or a model with a hidden layer.")
    test = hidden_features(pipeline, data.X_test)
    if test is None:
        raise OptionsError(f"model {name or space!r} has no hidden layer to map; use {PIXELS!r} or a model "
                           "with one (mlp, cnn).")
    return MapFeatures(test, hidden_features(pipeline, data.X_train[idx]), idx)


# -------------------------------------------------------------------- layouts


def _require(method: str):
    module, dist = _EXTRAS[method]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f'map method {method!r} needs {dist}: pip install -e ".[map]" ({exc})') from None


def compute_layout(
    features: np.ndarray, *, method: str = "umap", random_state: int = 0, background: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D coordinates (n, 2) float32 of ``features`` (n, d) by ``method``, and of
    ``background`` (m, d) placed by the fitted layout's transform (None when not given).
    Reports progress (core.progress)."""
    check_method(method)
    X = np.asarray(features, dtype=np.float32)
    bg = None
    if method == "pca":
        model = PCA(n_components=2, random_state=random_state).fit(X)
        xy = model.transform(X)
        if background is not None:
            bg = model.transform(background)
    elif method == "umap":
        report(0.0, "UMAP: loading umap-learn (the first run in a process compiles it, about a minute)")
        umap = _require("umap")
        report(0.1, f"UMAP: fitting {len(X):,} digits")
        model = umap.UMAP(n_components=2, random_state=random_state, n_jobs=1)
        xy = model.fit_transform(X)
        if background is not None:
            report(0.7, f"UMAP: placing {len(background):,} training digits (transform)")
            bg = model.transform(np.asarray(background, dtype=np.float32))
    else:
        openTSNE = _require("tsne")
        total = 750  # openTSNE's default early exaggeration (250) plus optimisation (500) iterations
        seen = [0]

        def tick(iteration, error, embedding):
            seen[0] += 50
            report(0.8 * min(1.0, seen[0] / total), f"t-SNE: iteration {min(seen[0], total)} of {total}")

        report(0.0, f"t-SNE: fitting {len(X):,} digits")
        model = openTSNE.TSNE(n_components=2, random_state=random_state, n_jobs=2, callbacks=tick,
                              callbacks_every_iters=50, verbose=False).fit(X)
        xy = np.asarray(model)
        if background is not None:
            report(0.8, f"t-SNE: placing {len(background):,} training digits (transform)")
            bg = np.asarray(model.transform(np.asarray(background, dtype=np.float32)))
    xy = np.asarray(xy, dtype=np.float32)
    return xy, None if bg is None else np.asarray(bg, dtype=np.float32)


@dataclass(frozen=True)
class Faithfulness:
    """``trustworthiness`` (sklearn, k neighbours, on ``n_subset`` stratified digits) and
    ``neighbour_agreement``: the share of each digit's k nearest 2-D neighbours with its label."""

    trustworthiness: float
    neighbour_agreement: float
    k: int
    n_subset: int


def faithfulness(
    features: np.ndarray, xy: np.ndarray, labels: np.ndarray, *, k: int = NEIGHBOURS, subset: int = TRUST_SUBSET,
    random_state: int = 0,
) -> Faithfulness:
    """How far the picture ``xy`` (n, 2) can be trusted for ``features`` (n, d) with ``labels`` (n,)."""
    labels = np.asarray(labels)
    n = len(labels)
    if n <= k + 1:
        raise OptionsError(f"{n} digits are too few to judge a map with k={k} neighbours.")
    pick = np.arange(n)
    if n > subset:
        pick, _ = train_test_split(np.arange(n), train_size=subset, stratify=labels, random_state=random_state)
    trust = trustworthiness(np.asarray(features)[pick], np.asarray(xy)[pick], n_neighbors=k)
    _, nbrs = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)
    agree = float(np.mean(labels[nbrs[:, 1:]] == labels[:, None]))
    return Faithfulness(float(trust), agree, k, len(pick))


# -------------------------------------------------------------------- the map


@dataclass(frozen=True)
class MapLayout:
    """A computed map: ``xy`` (n_test, 2) float32 per test digit, ``train_xy`` (m, 2) for the
    training digits ``train_index`` (m,), the faithfulness figures and how it was made."""

    space: str
    method: str
    random_state: int
    xy: np.ndarray
    train_xy: np.ndarray
    train_index: np.ndarray
    trustworthiness: float
    neighbour_agreement: float
    n_subset: int
    seconds: float
    key: str
    from_cache: bool = False

    @property
    def background(self) -> str:
        return "placed by the test layout's transform (not part of its fit)"


def _versions(method: str) -> dict[str, str]:
    out = {"sklearn": sklearn.__version__, "numpy": ".".join(np.__version__.split(".")[:2])}
    if method in _EXTRAS:
        try:
            out[method] = importlib.metadata.version(_EXTRAS[method][1])
        except importlib.metadata.PackageNotFoundError:
            out[method] = "missing"
    return out


def layout_key(*, data: MnistData, space: str, method: str, random_state: int, model_id: str = "",
               background: int = BACKGROUND_SIZE) -> str:
    """16 hex digits naming a map: data, space (and the model artifact ``model_id``), method,
    seed, background size, format and library versions."""
    blob = json.dumps({"data": data.fingerprint, "space": space, "model": model_id, "method": method,
                       "seed": int(random_state), "background": background, "format": _FORMAT,
                       "versions": _versions(method)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_map(
    data: MnistData, *, space: str = PIXELS, method: str = "umap", random_state: int = 0, pipeline=None,
    name: str = "", model_id: str = "", background: int = BACKGROUND_SIZE,
) -> MapLayout:
    """Compute the map (features, layout, training background, faithfulness); no caching."""
    check_method(method)
    start = time.perf_counter()
    report(0.0, "features")
    feats = map_features(data, space=space, pipeline=pipeline, name=name, background=background,
                         random_state=random_state)
    with scaled(0.05, 0.9):
        xy, bg = compute_layout(feats.test, method=method, random_state=random_state, background=feats.train)
    report(0.9, "faithfulness (trustworthiness, neighbour agreement)")
    faith = faithfulness(feats.test, xy, data.y_test, random_state=random_state)
    report(1.0, "done")
    key = layout_key(data=data, space=space, method=method, random_state=random_state, model_id=model_id,
                     background=background)
    return MapLayout(space, method, int(random_state), xy, bg, feats.train_index, faith.trustworthiness,
                     faith.neighbour_agreement, faith.n_subset, time.perf_counter() - start, key)


def _side_key(space: str, method: str, key: str) -> str:
    return f"{space}-{method}-{key}"


def _from_arrays(arrays: dict[str, np.ndarray], *, data: MnistData, key: str) -> MapLayout:
    meta = json.loads(str(arrays["meta"]))
    xy, train_xy, train_index = arrays["xy"], arrays["train_xy"], arrays["train_index"]
    if meta.get("key") != key or meta.get("format") != _FORMAT:
        raise ValueError("the file belongs to another map")
    if xy.shape != (data.n_test, 2) or train_xy.ndim != 2 or train_xy.shape[1] != 2 or train_index.shape != (len(train_xy),):
        raise ValueError(f"unexpected shapes {xy.shape}, {train_xy.shape}, {train_index.shape}")
    if not (np.isfinite(xy).all() and np.isfinite(train_xy).all()):
        raise ValueError("coordinates that are not finite numbers")
    if len(train_index) and (train_index.min() < 0 or train_index.max() >= data.n_train):
        raise ValueError("training indices outside the training set")
    return MapLayout(str(meta["space"]), str(meta["method"]), int(meta["random_state"]), xy.astype(np.float32),
                     train_xy.astype(np.float32), train_index.astype(np.int64), float(meta["trustworthiness"]),
                     float(meta["neighbour_agreement"]), int(meta["n_subset"]), float(meta["seconds"]), key,
                     from_cache=True)


def cached_map(
    store: ArtifactStore, *, space: str = PIXELS, method: str = "umap", random_state: int = 0, model_id: str = "",
    background: int = BACKGROUND_SIZE,
) -> MapLayout | None:
    """The saved map for these settings, or None when there is none or it is unusable (a corrupt
    file is reported through the store's ``problem`` and counts as absent)."""
    check_method(method)
    data = store.data
    key = layout_key(data=data, space=space, method=method, random_state=random_state, model_id=model_id,
                     background=background)
    return read_side_npz(store, SIDE_KIND, _side_key(space, method, key),
                         validate=lambda arrays: _from_arrays(arrays, data=data, key=key))


def load_or_build_map(
    store: ArtifactStore, *, space: str = PIXELS, method: str = "umap", random_state: int = 0, pipeline=None,
    name: str = "", model_id: str = "", background: int = BACKGROUND_SIZE, force: bool = False,
) -> MapLayout:
    """The saved map, else a new one (:func:`build_map`) saved as a store side file. A read-only
    models folder keeps the new map uncached."""
    if not force:
        hit = cached_map(store, space=space, method=method, random_state=random_state, model_id=model_id,
                         background=background)
        if hit is not None:
            return hit
    layout = build_map(store.data, space=space, method=method, random_state=random_state, pipeline=pipeline,
                       name=name, model_id=model_id, background=background)
    meta = {"key": layout.key, "format": _FORMAT, "space": space, "method": method, "random_state": layout.random_state,
            "trustworthiness": layout.trustworthiness, "neighbour_agreement": layout.neighbour_agreement,
            "n_subset": layout.n_subset, "seconds": layout.seconds, "model": model_id, "versions": _versions(method)}
    try:
        write_side_npz(store, SIDE_KIND, _side_key(space, method, layout.key), xy=layout.xy, train_xy=layout.train_xy,
                       train_index=layout.train_index, meta=np.array(json.dumps(meta)))
    except DashboardError as exc:  # a read-only models folder: the map stays uncached
        store.report_problem(f"the map could not be saved ({exc}); it will be computed again next time.")
    return layout


def map_frame(layout: MapLayout, labels: np.ndarray) -> pd.DataFrame:
    """One row per test digit: ``index``, ``x``, ``y``, ``label`` (what the CLI writes)."""
    return pd.DataFrame({"index": np.arange(len(layout.xy)), "x": layout.xy[:, 0].astype(np.float64),
                         "y": layout.xy[:, 1].astype(np.float64), "label": np.asarray(labels, dtype=np.int64)})
