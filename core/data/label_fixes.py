"""Fixes to training labels: relabel some digits, drop others. Built from a reviewer's marks
(core.store.train_marks); applied before a fit (core.store.training).

A :class:`LabelFixes` is identified by a short SHA-256 of its content (``digest``), so a
model trained with it gets its own artifact key, and its record names the fixes by their
counts and digest (:meth:`LabelFixes.summary`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import OptionsError

__all__ = ["DROP", "LabelFixes", "check_summary"]

#: The mark value that means "ambiguous, drop it from training".
DROP = "drop"


@dataclass(frozen=True)
class LabelFixes:
    """``relabel``: (training index, new digit) pairs; ``drop``: training indices left out.
    Both sorted by index; an index is in at most one of them."""

    relabel: tuple[tuple[int, int], ...] = ()
    drop: tuple[int, ...] = ()

    @classmethod
    def from_marks(cls, marks: Mapping[int, int | str | None], labels: np.ndarray | None = None) -> LabelFixes:
        """From training marks (index -> new digit, ``DROP``, or None = label is right). With
        ``labels`` (the given training labels), a "new" digit equal to the given one is no fix."""
        relabel, drop = [], []
        for index, value in sorted(marks.items()):
            if value is None:
                continue
            if value == DROP:
                drop.append(int(index))
            elif labels is None or int(labels[int(index)]) != int(value):
                relabel.append((int(index), int(value)))
        return cls(tuple(relabel), tuple(drop))

    @property
    def count(self) -> int:
        return len(self.relabel) + len(self.drop)

    @property
    def digest(self) -> str:
        """12 hex digits of the SHA-256 of the fixes (what the artifact key depends on)."""
        blob = json.dumps({"relabel": [list(p) for p in self.relabel], "drop": list(self.drop)}, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def summary(self) -> dict[str, Any]:
        """What a model record keeps: ``{"relabelled": n, "dropped": m, "marks_sha256": digest}``."""
        return {"relabelled": len(self.relabel), "dropped": len(self.drop), "marks_sha256": self.digest}

    def apply(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``X`` (n, 784) and ``y`` (n,) with the relabelled digits changed and the dropped ones
        removed (copies). OptionsError when an index is outside 0..n-1."""
        n = len(y)
        bad = [i for i, _ in self.relabel if not 0 <= i < n] + [i for i in self.drop if not 0 <= i < n]
        if bad:
            raise OptionsError(f"label fix for training index {bad[0]} is outside this training set (0-{n - 1}); "
                               "the marks belong to other data.")
        y = np.array(y, copy=True)
        if self.relabel:
            idx = np.array([i for i, _ in self.relabel], dtype=np.int64)
            y[idx] = np.array([d for _, d in self.relabel], dtype=y.dtype)
        keep = np.ones(n, dtype=bool)
        keep[list(self.drop)] = False
        return X[keep], y[keep]


def check_summary(value: Any) -> dict[str, Any]:
    """A record's ``label_fixes`` summary, checked (ValueError/TypeError naming the bad field)."""
    if not isinstance(value, dict) or set(value) != {"relabelled", "dropped", "marks_sha256"}:
        raise ValueError(f"label_fixes {value!r} is not {{relabelled, dropped, marks_sha256}}")
    for key in ("relabelled", "dropped"):
        if isinstance(value[key], bool) or not isinstance(value[key], int) or value[key] < 0:
            raise TypeError(f"label_fixes {key}={value[key]!r} is not a count")
    sha = value["marks_sha256"]
    if not isinstance(sha, str) or len(sha) != 12 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"label_fixes marks_sha256={sha!r} is not 12 hex digits")
    return value


def describe(summary: Mapping[str, Any]) -> str:
    """E.g. ``labels cleaned: 12 fixed, 3 dropped (marks 1a2b3c4d5e6f)``."""
    return (f"labels cleaned: {summary['relabelled']} fixed, {summary['dropped']} dropped "
            f"(marks {summary['marks_sha256']})")
