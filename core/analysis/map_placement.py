"""Where each digit sits on a map: among its own kind, on a border, or deep inside another cluster.

For every test digit, its ``k`` nearest points in the 2-D picture decide:

* ``deep``: none of them carries the digit's label. A digit drawn among another digit's cluster
  is either an unusual shape or a wrong label; when the model answers the cluster's digit too,
  it is a likely label error.
* ``border``: some carry its label, but more than half carry one other digit: an ambiguous
  shape between two clusters (the classic confusions of the confusion matrix).
* ``inside``: everything else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from core.errors import OptionsError

__all__ = ["PLACEMENTS", "PlacementSummary", "place_digits", "summarize_placement"]

#: The three places a digit can have, in the order they are reported.
PLACEMENTS = ("deep", "border", "inside")


def place_digits(xy: np.ndarray, labels: np.ndarray, *, k: int = 10) -> pd.DataFrame:
    """One row per point of ``xy`` (n, 2) with ``labels`` (n,): ``index``, ``label``, ``own``
    (how many of its ``k`` nearest neighbours share its label), ``cluster`` (the most common
    other label among them) and ``placement`` (``deep``, ``border`` or ``inside``)."""
    xy, labels = np.asarray(xy, dtype=np.float64), np.asarray(labels)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(labels):
        raise OptionsError(f"a map needs n x 2 positions and n labels; got {xy.shape} and {labels.shape}.")
    if not 1 <= k < len(xy):
        raise OptionsError(f"k={k} neighbours needs more than {k} digits (got {len(xy)}); use a smaller k.")
    _, nbrs = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)
    near = labels[nbrs[:, 1:]]  # (n, k), the point itself dropped
    own = (near == labels[:, None]).sum(axis=1)
    others = np.where(near == labels[:, None], -1, near)
    cluster = np.full(len(xy), -1)
    top = np.zeros(len(xy), dtype=np.int64)
    for i, row in enumerate(others):
        counts = Counter(int(v) for v in row if v >= 0)
        if counts:
            cluster[i], top[i] = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))
    placement = np.where(own == 0, "deep", np.where(top * 2 > k, "border", "inside"))
    return pd.DataFrame({"index": np.arange(len(xy)), "label": labels.astype(np.int64), "own": own,
                         "cluster": cluster, "placement": placement})


@dataclass(frozen=True)
class PlacementSummary:
    """Counts of one placement: ``n`` digits, ``pairs`` ((label, cluster) -> count, most common
    first), and when a model's answers were given, how many it gets wrong and on how many it
    answers the cluster's digit."""

    placement: str
    n: int
    pairs: tuple[tuple[tuple[int, int], int], ...]
    model_wrong: int | None = None
    model_says_cluster: int | None = None

    def describe(self, *, top: int = 8) -> str:
        """One line, e.g. ``deep inside another cluster: 172 digits; label -> cluster: 4 -> 9 (10), ...``."""
        what = {"deep": "deep inside another cluster", "border": "on a border", "inside": "among their own"}
        line = f"{what[self.placement]}: {self.n:,} digits"
        if self.pairs:
            line += "; label -> cluster: " + ", ".join(f"{a} -> {b} ({c})" for (a, b), c in self.pairs[:top])
        if self.model_wrong is not None:
            line += f"; the model gets {self.model_wrong} wrong, answering the cluster's digit on {self.model_says_cluster}"
        return line


def summarize_placement(frame: pd.DataFrame, *, placement: str, pred: np.ndarray | None = None) -> PlacementSummary:
    """Summary of the digits of ``frame`` (from :func:`place_digits`) with this ``placement``;
    ``pred`` (n,) is a model's answers for the same digits."""
    if placement not in PLACEMENTS:
        raise OptionsError(f"unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.")
    part = frame[frame["placement"] == placement]
    pairs = Counter(zip(part["label"].astype(int), part["cluster"].astype(int), strict=True))
    ordered = tuple(sorted(((p, c) for p, c in pairs.items() if p[1] >= 0), key=lambda pc: (-pc[1], pc[0])))
    wrong = says = None
    if pred is not None:
        answers = np.asarray(pred)[part["index"].to_numpy()]
        wrong = int(np.sum(answers != part["label"].to_numpy()))
        says = int(np.sum(answers == part["cluster"].to_numpy()))
    return PlacementSummary(placement, len(part), ordered, wrong, says)
