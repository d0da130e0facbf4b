"""Slices: which kinds of digits a model fails on.

Each test digit gets measurable properties (:data:`PROPERTIES`): ink, slant (from image
moments, before any deskewing), ink-box width and height, stroke thickness (twice the mean
distance-transform value on the skeleton, as Morpho-MNIST measures it) and the offset of the
centre of mass from the image centre. :func:`find_slices` searches ranges of each property
(unions of neighbouring 5 % quantile bins, at least ``min_size`` digits) whose accuracy is at
least ``min_gap`` below the model's overall accuracy, and returns them worst first, one
non-overlapping range per property region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.stats import binomtest
from skimage import measure, morphology

from core.errors import OptionsError
from core.store.artifacts import ArtifactStore
from core.store.sidefiles import read_side_npz, write_side_npz

__all__ = ["PROPERTIES", "Slice", "digit_properties", "find_slices", "load_digit_properties", "slice_mask"]

#: Property name -> (label, unit) shown to people.
PROPERTIES: dict[str, tuple[str, str]] = {
    "ink": ("ink (pixel mass)", "full-ink pixels"),
    "slant": ("slant", "degrees, + leans right"),
    "width": ("ink-box width", "pixels"),
    "height": ("ink-box height", "pixels"),
    "thickness": ("stroke thickness", "pixels"),
    "offset": ("centre-of-mass offset", "pixels from the centre"),
}
_VERSION = "1"
_CENTRE = 13.5
_BOX_INK = 32  # a pixel counts for the ink box from this grey level up (of 255)


def digit_properties(X: np.ndarray) -> pd.DataFrame:
    """The :data:`PROPERTIES` of digits ``X`` (n, 784) uint8: a DataFrame (n, 6)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 784:
        raise OptionsError(f"digits must have shape (n, 784), got {X.shape}.")
    images = X.reshape(-1, 28, 28)
    n = len(images)
    slant, offset, thickness = np.zeros(n), np.zeros(n), np.zeros(n)
    for k, img in enumerate(images.astype(np.float64)):
        m = measure.moments(img, order=1)
        if m[0, 0] <= 0:
            continue
        r, c = m[1, 0] / m[0, 0], m[0, 1] / m[0, 0]
        mu = measure.moments_central(img, center=(r, c), order=2)
        slant[k] = np.degrees(np.arctan2(-mu[1, 1], mu[2, 0])) if mu[2, 0] > 0 else 0.0
        offset[k] = np.hypot(r - _CENTRE, c - _CENTRE)
        binary = img >= 128
        skeleton = morphology.skeletonize(binary)
        if skeleton.any():
            thickness[k] = 2.0 * ndimage.distance_transform_edt(binary)[skeleton].mean()
    box = images >= _BOX_INK
    rows, cols = box.any(axis=2), box.any(axis=1)

    def extent(mask: np.ndarray) -> np.ndarray:
        first = mask.argmax(axis=1)
        last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
        return np.where(mask.any(axis=1), last - first + 1, 0)

    return pd.DataFrame({
        "ink": X.sum(axis=1, dtype=np.int64) / 255.0,
        "slant": slant,
        "width": extent(cols),
        "height": extent(rows),
        "thickness": thickness,
        "offset": offset,
    })


def load_digit_properties(store: ArtifactStore) -> pd.DataFrame:
    """:func:`digit_properties` of the store's test digits, kept as a side file per data set
    (computed and written when absent or unusable; a read-only folder only skips the write)."""
    key = f"test-v{_VERSION}"

    def validate(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
        frame = pd.DataFrame({name: arrays[name] for name in PROPERTIES})
        if len(frame) != store.data.n_test or not np.isfinite(frame.to_numpy(dtype=float)).all():
            raise ValueError(f"it has {len(frame)} rows or non-finite values, expected {store.data.n_test} finite rows")
        return frame

    cached = read_side_npz(store, "digit_properties", key, validate=validate)
    if cached is not None:
        return cached
    frame = digit_properties(store.data.X_test)
    try:
        write_side_npz(store, "digit_properties", key, **{name: frame[name].to_numpy() for name in PROPERTIES})
    except Exception:  # noqa: BLE001 (a read-only models folder: recomputed next time)
        pass
    return frame


@dataclass(frozen=True)
class Slice:
    """Digits whose ``prop`` lies in ``[low, high]``."""

    prop: str
    low: float
    high: float

    def describe(self) -> str:
        label, unit = PROPERTIES[self.prop]
        return f"{label} {_fmt(self.low)} to {_fmt(self.high)} {unit}"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.3g}"


def slice_mask(props: pd.DataFrame, sl: Slice) -> np.ndarray:
    """Boolean (n,) mask of the digits in slice ``sl``."""
    values = props[sl.prop].to_numpy()
    return (values >= sl.low) & (values <= sl.high)


def find_slices(
    correct: np.ndarray,
    props: pd.DataFrame,
    *,
    min_size: int = 50,
    min_gap: float = 0.02,
    bins: int = 20,
    max_p: float = 0.05,
) -> pd.DataFrame:
    """Ranges of each property where accuracy is at least ``min_gap`` (0-1) below the overall
    accuracy of ``correct`` (n,) bool, with at least ``min_size`` digits; worst first.

    Candidates are unions of neighbouring quantile bins (``bins`` per property, plus tails of
    1, 2 and 4 times ``min_size`` extreme digits). A slice must also be unlikely to be chance:
    a one-sided binomial test of its errors against the overall error rate gives ``p`` below
    ``max_p``. Within a
    property, a range overlapping a worse one already kept is dropped. Columns: ``slice``
    (a :class:`Slice`), ``property``, ``low``, ``high``, ``description``, ``n``, ``accuracy``,
    ``gap`` (points below overall, 0-1), ``errors``, ``error_share`` (of all the model's errors), ``p``.
    """
    correct = np.asarray(correct, dtype=bool)
    if len(correct) != len(props):
        raise OptionsError(f"{len(correct)} answers for {len(props)} digits' properties.")
    if min_size < 1:
        raise OptionsError(f"min_size {min_size} must be at least 1 digit.")
    overall = float(correct.mean()) if len(correct) else 0.0
    total_errors = int((~correct).sum())
    found = []
    tails = [min(0.5, k * min_size / max(len(correct), 1)) for k in (1, 2, 4)]
    cuts = np.unique(np.concatenate([np.linspace(0, 1, bins + 1), tails, [1 - t for t in tails]]))
    for prop in PROPERTIES:
        values = props[prop].to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, cuts))
        candidates = []
        for i in range(len(edges) - 1):
            for j in range(i + 1, len(edges)):
                low, high = edges[i], edges[j]
                mask = (values >= low) & (values <= high) if j == len(edges) - 1 else (values >= low) & (values < high)
                n = int(mask.sum())
                if n < min_size:
                    continue
                hi = high if j == len(edges) - 1 else float(values[mask].max())
                acc = float(correct[mask].mean())
                errors = int((~correct[mask]).sum())
                if acc <= overall - min_gap + 1e-12:
                    p = binomtest(errors, n, 1 - overall, alternative="greater").pvalue if overall < 1 else 0.0
                    if p < max_p:
                        candidates.append((acc, -n, float(low), hi, n, errors, float(p)))
        kept: list[tuple] = []
        for cand in sorted(candidates):
            if all(cand[3] < k[2] or cand[2] > k[3] for k in kept):
                kept.append(cand)
        for acc, _, low, high, n, errors, p in kept:
            sl = Slice(prop, low, high)
            found.append({"slice": sl, "property": prop, "low": low, "high": high, "description": sl.describe(),
                          "n": n, "accuracy": acc, "gap": overall - acc, "errors": errors,
                          "error_share": errors / total_errors if total_errors else 0.0, "p": p})
    columns = ["slice", "property", "low", "high", "description", "n", "accuracy", "gap", "errors", "error_share", "p"]
    table = pd.DataFrame(found, columns=columns)
    return table.sort_values(["accuracy", "n"], ascending=[True, False], kind="stable").reset_index(drop=True)
