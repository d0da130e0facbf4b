"""Corrupted copies of test digits: 13 corruptions at 5 severities each, made locally.

Where MNIST-C (Mu & Gilmer 2019, arXiv:1906.02337) defines a corruption, its parameters per
severity are used (shift = its ``translate``, rotate, scale, shear, Gaussian blur, Gaussian
noise, salt-and-pepper = its ``impulse_noise``, contrast, scratch = its ``line``; MNIST-C has
one severity for ``line``, here the stroke width grows with severity). Thicken and thin follow
Morpho-MNIST (Castro et al. 2019) with grey-level morphology; the occluding patch and the
elastic distortion (Simard et al. 2003, as in MNIST-C's ``elastic_transform``, without its
random affine part) are defined here.

Everything takes and returns (n, 784) uint8 digits (ink 255 on 0). Severity 0 returns the
digits unchanged; severities 1-5 get stronger. Randomness (a direction, a noise pattern, a
patch position) comes from one generator per digit seeded by ``(random_state, corruption,
test index)``: a digit is corrupted the same way whatever other digits are in the batch, and
the same pattern grows with severity (so pixels change monotonically with it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage import draw, morphology, transform, util

from core.errors import DashboardError, OptionsError

__all__ = [
    "CORRUPTIONS",
    "CORRUPTIONS_VERSION",
    "CORRUPTION_NAMES",
    "SEVERITIES",
    "Corruption",
    "UnknownCorruptionError",
    "check_corruptions",
    "corrupt",
    "get_corruption",
]

#: Bump whenever a corruption's definition or parameters change (invalidates cached results).
CORRUPTIONS_VERSION = "1"
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
_SIDE = 28
_CENTRE = (_SIDE - 1) / 2.0  # 13.5, the image centre MNIST-C keeps fixed


class UnknownCorruptionError(DashboardError, KeyError):
    """A corruption name that is not defined; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


Rngs = list[np.random.Generator]
Apply = Callable[[np.ndarray, object, Rngs], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """One corruption: ``levels[s - 1]`` is its parameter at severity ``s``; ``apply(images,
    level, rngs)`` maps (n, 28, 28) float32 in [0, 1] to the same shape."""

    name: str
    label: str
    description: str
    levels: tuple
    apply: Apply
    #: whether ``apply`` draws random numbers (then each digit gets its own generator)
    random: bool = True

    def level_text(self, severity: int) -> str:
        return "none" if severity == 0 else str(self.levels[severity - 1])


# ------------------------------------------------------------------ geometry


def _affine(images: np.ndarray, tform: transform.AffineTransform) -> np.ndarray:
    """``skimage.transform.warp(image, inverse_map=tform)`` (bilinear, black outside) for a
    stack at once: skimage's (x, y) inverse map turned into ndimage's (row, col) one."""
    m = tform.params
    matrix = np.array([[1, 0, 0], [0, m[1, 1], m[1, 0]], [0, m[0, 1], m[0, 0]]], dtype=np.float64)
    offset = np.array([0.0, m[1, 2], m[0, 2]])
    return ndimage.affine_transform(images, matrix, offset=offset, order=1, mode="constant", cval=0.0)


def _centred(**kwargs) -> transform.AffineTransform:
    """An AffineTransform that keeps the image centre (13.5, 13.5) fixed, as MNIST-C does."""
    aff = transform.AffineTransform(**kwargs)
    (a1, a2), (b1, b2) = aff.params[0, :2], aff.params[1, :2]
    translation = (_CENTRE * (1 - a1 - a2), _CENTRE * (1 - b1 - b2))
    return transform.AffineTransform(**kwargs, translation=translation)


def _signs(rngs: Rngs, k: int = 1) -> np.ndarray:
    """A random direction (-1 or +1) per digit, ``k`` of them: (n, k)."""
    return np.array([rng.integers(0, 2, size=k) * 2 - 1 for rng in rngs], dtype=np.int64).reshape(len(rngs), k)


def _by_group(images: np.ndarray, groups: np.ndarray, fn: Callable[[np.ndarray, tuple], np.ndarray]) -> np.ndarray:
    """Apply ``fn(stack, group)`` to the digits of each distinct row of ``groups`` (n, k)."""
    out = np.empty_like(images)
    for group in np.unique(groups, axis=0):
        rows = np.all(groups == group, axis=1)
        out[rows] = fn(images[rows], tuple(int(g) for g in group))
    return out


def _shift(images, pixels, rngs):
    return _by_group(images, _signs(rngs, 2), lambda x, g: _affine(
        x, transform.AffineTransform(translation=(pixels * g[0], pixels * g[1]))))


def _rotate(images, radians, rngs):
    return _by_group(images, _signs(rngs), lambda x, g: _affine(x, _centred(rotation=radians * g[0])))


def _scale(images, factor, rngs):
    return _affine(images, _centred(scale=(1 / factor, 1 / factor)))


def _shear(images, amount, rngs):
    return _by_group(images, _signs(rngs), lambda x, g: _affine(x, _centred(shear=amount * g[0])))


def _elastic(images, alpha, rngs, sigma: float = 4.0):
    n = len(images)
    fields = np.stack([rng.uniform(-1, 1, size=(2, _SIDE, _SIDE)) for rng in rngs]) if n else np.zeros((0, 2, _SIDE, _SIDE))
    fields = ndimage.gaussian_filter(fields, sigma=(0, 0, sigma, sigma), mode="reflect", truncate=3.0) * alpha
    grid_r, grid_c = np.mgrid[0:_SIDE, 0:_SIDE].astype(np.float64)
    coords = np.empty((3, n, _SIDE, _SIDE))
    coords[0] = np.arange(n, dtype=np.float64)[:, None, None]
    coords[1] = grid_r[None] + fields[:, 0]
    coords[2] = grid_c[None] + fields[:, 1]
    return ndimage.map_coordinates(images, coords, order=1, mode="constant", cval=0.0)


# ---------------------------------------------------------------- morphology

_L = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool)
#: Nested footprints (each contains the previous one), so the effect grows with severity.
_THIN_FOOTPRINTS = (
    np.array([[0, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=bool),
    _L,
    np.array([[0, 0, 0], [0, 1, 1], [0, 1, 1]], dtype=bool),
    np.array([[0, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=bool),
    np.ones((3, 3), dtype=bool),
)
_THICKEN_FOOTPRINTS = (
    _L,
    morphology.disk(1).astype(bool),
    np.ones((3, 3), dtype=bool),
    morphology.disk(2).astype(bool),
    np.ones((5, 5), dtype=bool),
)


def _thicken(images, severity, rngs):
    return ndimage.grey_dilation(images, footprint=_THICKEN_FOOTPRINTS[severity - 1][None])


def _thin(images, severity, rngs):
    return ndimage.grey_erosion(images, footprint=_THIN_FOOTPRINTS[severity - 1][None])


# ------------------------------------------------------------ blur and noise


def _blur(images, sigma, rngs):
    return ndimage.gaussian_filter(images, sigma=(0, sigma, sigma), mode="nearest")


def _noise(images, scale, rngs):
    pattern = np.stack([rng.standard_normal((_SIDE, _SIDE)) for rng in rngs]) if rngs else 0.0
    return np.clip(images + scale * pattern, 0, 1)


def _salt_pepper(images, amount, rngs):
    return np.stack([util.random_noise(img, mode="s&p", amount=amount, rng=rng) for img, rng in zip(images, rngs)]
                    ) if len(images) else images


def _contrast(images, factor, rngs):
    means = images.mean(axis=(1, 2), keepdims=True)
    return np.clip((images - means) * factor + means, 0, 1)


# ------------------------------------------------------------------ overlays


def _ink_point(image: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    rows, cols = np.nonzero(image >= 0.5)
    if len(rows) == 0:
        return int(_CENTRE), int(_CENTRE)
    k = rng.integers(len(rows))
    return int(rows[k]), int(cols[k])


def _patch(images, side, rngs):
    out = images.copy()
    for img, rng in zip(out, rngs):
        r, c = _ink_point(img, rng)
        rr, cc = draw.rectangle((r - side // 2, c - side // 2), extent=(side, side), shape=img.shape)
        img[rr, cc] = 0.0
    return out


def _scratch(images, width, rngs):
    out = images.copy()
    for k, rng in enumerate(rngs):
        c0, c1 = rng.integers(0, 5), rng.integers(22, 27)
        r0, r1 = rng.integers(0, 27, size=2)
        canvas = Image.new("L", (_SIDE, _SIDE), 0)
        ImageDraw.Draw(canvas).line([(int(c0), int(r0)), (int(c1), int(r1))], fill=255, width=int(width))
        out[k] = np.maximum(out[k], np.asarray(canvas, dtype=np.float32) / 255.0)
    return out


# ------------------------------------------------------------------ registry

_LIST = [
    Corruption("shift", "Shift", "moved diagonally by this many pixels, random directions (MNIST-C translate)",
               (1, 2, 3, 4, 5), _shift),
    Corruption("rotate", "Rotate", "rotated by this many radians about the centre, random direction (MNIST-C)",
               (0.2, 0.4, 0.6, 0.8, 1.0), _rotate),
    Corruption("scale", "Scale", "shrunk about the centre to this factor (MNIST-C)", (0.9, 0.8, 0.7, 0.6, 0.5), _scale, random=False),
    Corruption("shear", "Shear", "sheared by this angle in radians, random direction (MNIST-C)",
               (0.2, 0.4, 0.6, 0.8, 1.0), _shear),
    Corruption("thicken", "Thicken", "grey dilation with a growing footprint (Morpho-MNIST-style thickening)",
               (1, 2, 3, 4, 5), _thicken, random=False),
    Corruption("thin", "Thin", "grey erosion with a growing footprint (Morpho-MNIST-style thinning)",
               (1, 2, 3, 4, 5), _thin, random=False),
    Corruption("gaussian_blur", "Gaussian blur", "Gaussian blur with this sigma in pixels (MNIST-C)",
               (1, 2, 3, 4, 6), _blur, random=False),
    Corruption("gaussian_noise", "Gaussian noise", "Gaussian noise of this standard deviation on 0-1 pixels (MNIST-C)",
               (0.08, 0.12, 0.18, 0.26, 0.38), _noise),
    Corruption("salt_pepper", "Salt and pepper", "this share of pixels set to black or white (MNIST-C impulse noise)",
               (0.03, 0.06, 0.09, 0.17, 0.27), _salt_pepper),
    Corruption("contrast", "Contrast", "contrast scaled to this factor about the mean (MNIST-C)",
               (0.4, 0.3, 0.2, 0.1, 0.05), _contrast, random=False),
    Corruption("patch", "Occluding patch", "a black square of this side in pixels over a random ink pixel",
               (3, 5, 7, 9, 11), _patch),
    Corruption("scratch", "Scratch line", "a white line across the digit of this width in pixels (MNIST-C line)",
               (1, 2, 3, 4, 5), _scratch),
    Corruption("elastic", "Elastic distortion", "smooth random displacement (sigma 4 px) of this strength (Simard et al.)",
               (8, 16, 24, 34, 48), _elastic),
]

CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in _LIST}
CORRUPTION_NAMES: tuple[str, ...] = tuple(CORRUPTIONS)


def get_corruption(name: str) -> Corruption:
    """The corruption called ``name``; :class:`UnknownCorruptionError` lists the valid names."""
    try:
        return CORRUPTIONS[name]
    except (KeyError, TypeError):
        raise UnknownCorruptionError(
            f"unknown corruption {name!r}; valid names are: {', '.join(CORRUPTION_NAMES)}.") from None


def check_corruptions(names: Sequence[str] | None) -> tuple[str, ...]:
    """``names`` validated (every name known, none twice), or every corruption when None."""
    if names is None:
        return CORRUPTION_NAMES
    for name in names:
        get_corruption(name)
    if len(set(names)) != len(names) or not names:
        raise OptionsError(f"corruptions {list(names)}: give at least one, each once.")
    return tuple(names)


def _rngs(name: str, indices: np.ndarray, random_state: int) -> Rngs:
    code = zlib.crc32(name.encode())
    return [np.random.default_rng((int(random_state), code, int(i))) for i in indices]


def corrupt(
    X: np.ndarray,
    name: str,
    severity: int,
    *,
    indices: Sequence[int] | np.ndarray | None = None,
    random_state: int = 0,
) -> np.ndarray:
    """Corrupted copies of digits ``X`` (n, 784) uint8: corruption ``name`` at ``severity``
    (0 = unchanged, 1-5). ``indices`` (n,) are the digits' test-set indices, which with
    ``random_state`` seed each digit's randomness (default ``0..n-1``). Returns (n, 784) uint8."""
    spec = get_corruption(name)
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 0 <= severity <= len(SEVERITIES):
        raise OptionsError(f"severity {severity!r} is not one of 0-{len(SEVERITIES)}.")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != _SIDE * _SIDE:
        raise OptionsError(f"digits must have shape (n, 784), got {X.shape}.")
    if severity == 0:
        return X.astype(np.uint8, copy=True)
    idx = np.arange(len(X)) if indices is None else np.asarray(indices)
    if idx.shape != (len(X),):
        raise OptionsError(f"indices must have one entry per digit ({len(X)}), got shape {idx.shape}.")
    images = X.reshape(-1, _SIDE, _SIDE).astype(np.float32) / np.float32(255.0)
    rngs = _rngs(name, idx, random_state) if spec.random else []
    out = spec.apply(images, spec.levels[severity - 1], rngs)
    return np.clip(np.rint(np.asarray(out, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8).reshape(-1, _SIDE * _SIDE)
