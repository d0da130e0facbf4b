"""Search and cross-validation results as store side files (``search/<model>-<key>-<data>.json``).

Plain JSON, validated on read: an unusable file is reported and read as absent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from core.fileio import atomic_write_bytes
from core.models.catalog import CATALOG_VERSION
from core.models.grids import GRIDS, format_value
from core.store.artifacts import ArtifactStore
from core.store.records import jsonable

__all__ = ["RESULT_FORMAT", "CvResult", "SearchResult", "read_search", "search_key", "search_path", "searches_of", "write_search"]

RESULT_FORMAT = 1


@dataclass
class SearchResult:
    """A finished search (plain data; JSON round trip via :meth:`to_json`/:meth:`from_json`).

    ``rows``: one dict per candidate with the parameter values (short names), ``mean_accuracy``,
    ``std_accuracy`` (over the folds, fractions), ``mean_fit_s`` and ``rank`` (1 = best).
    ``best_params``: the winner, ready for ``TrainOptions(params=...)``.
    """

    name: str
    label: str
    grid: dict[str, list[Any]]
    rows: list[dict[str, Any]]
    best_params: dict[str, Any]
    best_accuracy: float
    best_std: float
    folds: int
    n_train: int
    random_state: int
    options: dict[str, Any]
    engine: str
    seconds: float
    key: str
    data_fingerprint: str
    created_at: str
    versions: dict[str, str]
    kind: str = "search"
    from_cache: bool = False
    path: str = ""
    format: int = RESULT_FORMAT

    @property
    def n_candidates(self) -> int:
        return len(self.rows)

    @property
    def n_fits(self) -> int:
        return len(self.rows) * self.folds

    @property
    def params(self) -> list[str]:
        return list(self.grid)

    def table(self) -> pd.DataFrame:
        """Candidates best first: the parameters, ``mean_accuracy``, ``std_accuracy``,
        ``mean_fit_s``, ``rank`` (one row per candidate)."""
        frame = pd.DataFrame(self.rows, columns=[*self.grid, "mean_accuracy", "std_accuracy", "mean_fit_s", "rank"])
        return frame.sort_values(["rank", "mean_accuracy"], ascending=[True, False], kind="stable").reset_index(drop=True)

    def display_table(self) -> pd.DataFrame:
        """:meth:`table` for people: values as written on the command line, accuracy in percent;
        numbers as text with two decimals each (``95.00``, ``94.30``, ``95.05``)."""
        frame = self.table()
        for param in self.grid:
            frame[param] = frame[param].map(format_value)
        # text with one number of decimals per column: as numbers, the grid showed "95", "94.3", "95.05"
        frame["mean_accuracy"] = [f"{100 * v:.2f}" for v in frame["mean_accuracy"]]
        frame["std_accuracy"] = [f"{100 * v:.2f}" for v in frame["std_accuracy"]]
        frame["mean_fit_s"] = [f"{v:.2f}" for v in frame["mean_fit_s"]]
        return frame.rename(columns={"mean_accuracy": "CV accuracy %", "std_accuracy": "± std",
                                     "mean_fit_s": "fit s", "rank": "rank"})

    def best_summary(self) -> str:
        """E.g. ``best: C=10, gamma=scale: CV accuracy 97.45% ± 0.31 (5 folds, 4,000 digits)``."""
        params = ", ".join(f"{k}={format_value(v)}" for k, v in self.best_params.items())
        return (f"best: {params}: CV accuracy {100 * self.best_accuracy:.2f}% ± {100 * self.best_std:.2f} "
                f"({self.folds} folds, {self.n_train:,} digits)")

    def to_json(self) -> bytes:
        raw = asdict(self)
        raw.pop("from_cache")
        raw.pop("path")
        return json.dumps(raw, indent=1, default=jsonable).encode()

    @classmethod
    def from_json(cls, payload: bytes | str) -> SearchResult:
        raw = json.loads(payload)
        if raw.get("format") != RESULT_FORMAT:
            raise ValueError(f"result format {raw.get('format')!r}, expected {RESULT_FORMAT}")
        result = cls(**raw)
        # JSON turned tuples (hidden layer sizes) into lists: restore the parameters' types
        specs = {p.name: p for p in GRIDS.get(result.name, ())}

        def restore(param: str, value: Any) -> Any:
            return specs[param].parse(format_value(value)) if param in specs else value

        result.grid = {p: [restore(p, v) for v in vs] for p, vs in result.grid.items()}
        result.best_params = {p: restore(p, v) for p, v in result.best_params.items()}
        result.rows = [{k: (restore(k, v) if k in result.grid else v) for k, v in row.items()} for row in result.rows]
        return result



@dataclass(frozen=True)
class CvResult:
    """Cross-validation accuracy of one model variant on the training set (fractions)."""

    name: str
    mean: float
    std: float
    folds: int
    n_train: int
    options: dict[str, Any]
    from_cache: bool
    created_at: str
    seconds: float

    def summary(self) -> str:
        return (f"{self.name}: CV accuracy {100 * self.mean:.2f}% ± {100 * self.std:.2f} "
                f"({self.folds} folds, {self.n_train:,} training digits)")




def search_path(store: ArtifactStore, name: str, key: str) -> Path:
    """Where a search or CV result lives: the store's side file ``search/<model>-<key>-<data>.json``."""
    return store.side_path("search", f"{name}-{key}")


def read_search(path: Path) -> SearchResult | None:
    """The result at ``path``, or None if it is absent or unusable."""
    try:
        result = SearchResult.from_json(path.read_bytes())
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    result.path = str(path)
    return result


def write_search(result: SearchResult, path: Path) -> None:
    """Write ``result`` atomically to ``path``."""
    atomic_write_bytes(path, result.to_json())
    result.path = str(path)


def result_versions() -> dict[str, str]:
    """The library versions a result depends on."""
    return {"sklearn": sklearn.__version__, "numpy": np.__version__, "joblib": joblib.__version__,
            "catalog": CATALOG_VERSION}


def search_key(kind: str, name: str, grid: dict, options: dict, folds: int, n_train: int, random_state: int,
               fingerprint: str) -> str:
    """12 hex digits identifying a search: everything that changes its result (not the engine)."""
    blob = json.dumps(
        {"kind": kind, "name": name, "grid": grid, "options": options, "folds": folds, "n_train": n_train,
         "random_state": random_state, "data": fingerprint, "catalog": CATALOG_VERSION,
         "sklearn": sklearn.__version__, "numpy": ".".join(np.__version__.split(".")[:2])},
        sort_keys=True, default=jsonable,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def searches_of(store: ArtifactStore, name: str) -> list[SearchResult]:
    """Every readable result of model ``name`` for the store's data."""
    folder = search_path(store, name, "any").parent
    found = []
    for path in sorted(folder.glob(f"{name}-*-{store.data.fingerprint}.json")):
        result = read_search(path)
        if result is not None:
            found.append(result)
    return found
