"""Image-level preprocessing for MNIST vectors: deskewing, pixel scaling, shift augmentation.

All functions take digits as (n, 784) arrays (0-255 ink on 0 background) and return new
arrays; nothing is modified in place. The transformers plug into scikit-learn Pipelines.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.metaestimators import available_if

__all__ = [
    "deskew",
    "deskew_memoized",
    "clear_deskew_memo",
    "Deskew",
    "Augmented",
    "augment",
    "final_estimator",
    "AUGMENT_FACTOR",
    "scale_pixels",
    "augment_shifts",
    "augment_rotations",
]

_SIDE = 28
_CHUNK = 4096


def _skew_params(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre of mass (rows, cols) and shear ``alpha = cov(r, c) / var(r)`` per image, (n,) each."""
    n = images.shape[0]
    total = images.reshape(n, -1).sum(axis=1)
    total = np.where(total == 0, 1.0, total)
    r = np.arange(_SIDE, dtype=np.float64)
    row_mass = images.sum(axis=2)  # (n, 28)
    col_mass = images.sum(axis=1)
    c_r = row_mass @ r / total
    c_c = col_mass @ r / total
    dr = r[None, :] - c_r[:, None]  # (n, 28)
    dc = r[None, :] - c_c[:, None]
    var_r = np.einsum("ni,ni->n", row_mass, dr**2) / total
    cov_rc = np.einsum("nij,ni,nj->n", images, dr, dc) / total
    alpha = np.divide(cov_rc, var_r, out=np.zeros_like(cov_rc), where=var_r > 1e-9)
    return c_r, c_c, alpha


def deskew(X: np.ndarray) -> np.ndarray:
    """Undo each digit's slant with a moment-based shear, centring it by centre of mass.

    ``X``: (n, 784) pixels; returns (n, 784) float32 on the same 0-255 scale.
    Blank images come back blank.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != _SIDE * _SIDE:
        raise ValueError(f"deskew expects digits of shape (n, 784), got {X.shape}.")
    out = np.empty(X.shape, dtype=np.float32)
    grid_r, grid_c = np.mgrid[0:_SIDE, 0:_SIDE].astype(np.float64)
    half = _SIDE / 2.0
    for start in range(0, X.shape[0], _CHUNK):
        imgs = X[start : start + _CHUNK].reshape(-1, _SIDE, _SIDE).astype(np.float32)
        m = imgs.shape[0]
        c_r, c_c, alpha = _skew_params(imgs.astype(np.float64))
        # output(r, c) = input(r + c_r - 14, c + alpha * (r - 14) + c_c - 14), image index exact
        coords = np.empty((3, m, _SIDE, _SIDE), dtype=np.float64)
        coords[0] = np.arange(m, dtype=np.float64)[:, None, None]
        coords[1] = grid_r[None] + (c_r - half)[:, None, None]
        coords[2] = grid_c[None] + alpha[:, None, None] * (grid_r[None] - half) + (c_c - half)[:, None, None]
        warped = ndimage.map_coordinates(imgs, coords, order=1, mode="constant", cval=0.0)
        out[start : start + m] = np.clip(warped, 0, 255).reshape(m, -1)
    return out


_MEMO: OrderedDict[str, np.ndarray] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_MIN_ROWS = 1000  # single digits are cheap; whole data sets are worth remembering
_MEMO_SIZE = 4


def deskew_memoized(X: np.ndarray) -> np.ndarray:
    """:func:`deskew`, remembering the last few large inputs by content hash.

    Training several deskewing models on the same data then deskews it once per process.
    The result is read-only. Shapes as for :func:`deskew`.
    """
    X = np.ascontiguousarray(X)
    if X.ndim != 2 or X.shape[0] < _MEMO_MIN_ROWS:
        return deskew(X)
    key = hashlib.sha1(memoryview(X).cast("B")).hexdigest() + f"{X.shape}{X.dtype.str}"
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
            return hit
    result = deskew(X)
    result.flags.writeable = False
    with _MEMO_LOCK:
        _MEMO[key] = result
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return result


def clear_deskew_memo() -> None:
    """Forget the remembered deskewed data sets (e.g. to time a cold run)."""
    with _MEMO_LOCK:
        _MEMO.clear()


class Deskew(TransformerMixin, BaseEstimator):
    """Pipeline step applying :func:`deskew` (memoized for whole data sets); stateless."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return deskew_memoized(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


def scale_pixels(X: np.ndarray) -> np.ndarray:
    """Pixels 0-255 to float32 0-1 (for ``FunctionTransformer``)."""
    return np.asarray(X, dtype=np.float32) / np.float32(255.0)


def _shift(images: np.ndarray, dr: int, dc: int) -> np.ndarray:
    out = np.zeros_like(images)
    rs = slice(max(dr, 0), _SIDE + min(dr, 0))
    rd = slice(max(-dr, 0), _SIDE + min(-dr, 0))
    cs = slice(max(dc, 0), _SIDE + min(dc, 0))
    cd = slice(max(-dc, 0), _SIDE + min(-dc, 0))
    out[:, rs, cs] = images[:, rd, cd]
    return out


def augment_shifts(X: np.ndarray, y: np.ndarray, *, pixels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Add copies of every digit shifted by ``pixels`` up, down, left and right.

    ``X``: (n, 784), ``y``: (n,); returns (5n, 784) and (5n,), originals first.
    """
    X = np.asarray(X)
    if pixels < 1:
        raise ValueError(f"pixels must be >= 1, got {pixels}.")
    imgs = X.reshape(-1, _SIDE, _SIDE)
    shifted = [_shift(imgs, dr, dc) for dr, dc in ((pixels, 0), (-pixels, 0), (0, pixels), (0, -pixels))]
    X_aug = np.concatenate([imgs, *shifted]).reshape(-1, _SIDE * _SIDE)
    return X_aug, np.tile(np.asarray(y), 5)


def augment_rotations(
    X: np.ndarray, y: np.ndarray, *, degrees: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """Add copies of every digit rotated by +/- ``degrees`` about the image centre.

    ``X``: (n, 784), ``y``: (n,); returns (3n, 784) and (3n,), originals first, same dtype.
    """
    X = np.asarray(X)
    imgs = X.reshape(-1, _SIDE, _SIDE).astype(np.float32)
    rotated = [
        ndimage.rotate(imgs, angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
        for angle in (degrees, -degrees)
    ]
    stack = np.concatenate([imgs, *rotated]).reshape(-1, _SIDE * _SIDE)
    if X.dtype == np.uint8:
        stack = np.clip(np.rint(stack), 0, 255).astype(np.uint8)
    return stack, np.tile(np.asarray(y), 3)


#: How many training digits each augmentation makes of one.
AUGMENT_FACTOR = {"none": 1, "shifts": 5, "shifts+rotations": 15}


def augment(X: np.ndarray, y: np.ndarray, *, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Apply augmentation ``kind`` (``none``, ``shifts``, ``shifts+rotations``); (n, 784) ->
    (AUGMENT_FACTOR[kind] * n, 784)."""
    if kind not in AUGMENT_FACTOR:
        raise ValueError(f"unknown augmentation {kind!r}; choose one of {', '.join(AUGMENT_FACTOR)}.")
    if kind != "none":
        X, y = augment_shifts(X, y)
    if kind == "shifts+rotations":
        X, y = augment_rotations(X, y)
    return X, y


def _inner_has(name: str):
    return lambda self: hasattr(getattr(self, "estimator_", self.estimator), name)


class Augmented(ClassifierMixin, BaseEstimator):
    """Fits ``estimator`` on augmented copies of its training digits; predicts unchanged.

    Placed after deskewing in a Pipeline, so the shifted copies are of the upright,
    centred digits (deskewing first would re-centre shifted copies and undo the shifts).
    """

    def __init__(self, estimator=None, kind: str = "shifts"):
        self.estimator = estimator
        self.kind = kind

    def fit(self, X, y):
        X_aug, y_aug = augment(np.asarray(X), np.asarray(y), kind=self.kind)
        self.estimator_ = clone(self.estimator).fit(X_aug, y_aug)
        self.classes_ = self.estimator_.classes_
        self.n_train_ = len(y_aug)
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        return self.estimator_.decision_function(X)


def final_estimator(pipeline):
    """The estimator that makes the predictions: the Pipeline's last step, unwrapped from
    :class:`Augmented` and from an inner Pipeline."""
    est = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
    if isinstance(est, Augmented):
        est = getattr(est, "estimator_", est.estimator)
        return final_estimator(est)
    return est
