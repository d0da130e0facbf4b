"""Search and cross-validation results as store side files (``search/<model>-<key>-<data>.json``).

Plain JSON, validated on read: an unusable file is reported and read as absent.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
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

__all__ = ["RESULT_FORMAT", "validate_result", "CvResult", "SearchResult", "read_search", "search_key", "search_path", "searches_of", "write_search"]

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
        """A result from its JSON; ValueError or TypeError names the first bad field."""
        if len(payload) > MAX_RESULT_BYTES:
            raise ValueError(f"the file is {len(payload) / 1e6:.1f} MB, more than a result can be")
        raw = validate_result(json.loads(payload))
        result = cls(**raw)
        # JSON turned tuples (hidden layer sizes) into lists: restore the parameters' types
        specs = {p.name: p for p in GRIDS.get(result.name, ())}

        def restore(param: str, value: Any) -> Any:
            return specs[param].parse(format_value(value)) if param in specs else value

        result.grid = {p: [restore(p, v) for v in vs] for p, vs in result.grid.items()}
        result.best_params = {p: restore(p, v) for p, v in result.best_params.items()}
        result.rows = [{k: (restore(k, v) if k in result.grid else v) for k, v in row.items()} for row in result.rows]
        return result



MAX_RESULT_BYTES = 5_000_000
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "label": (str,), "grid": (dict,), "rows": (list,), "best_params": (dict,),
    "best_accuracy": (int, float), "best_std": (int, float), "folds": (int,), "n_train": (int,),
    "random_state": (int,), "options": (dict,), "engine": (str,), "seconds": (int, float), "key": (str,),
    "data_fingerprint": (str,), "created_at": (str,), "versions": (dict,), "kind": (str,), "format": (int,),
}


def _scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and len(value) <= 60):
        return True
    if isinstance(value, (int, float)):
        return math.isfinite(value) and abs(value) <= 1e12
    return isinstance(value, list) and len(value) <= 8 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def validate_result(raw: Any) -> dict[str, Any]:
    """A search or CV result's parsed JSON, checked field by field like a model record
    (types, ranges, row shape); ValueError or TypeError names the first bad field."""
    if not isinstance(raw, dict):
        raise TypeError(f"the result is a JSON {type(raw).__name__}, not an object")
    if raw.get("format") != RESULT_FORMAT:
        raise ValueError(f"result format {str(raw.get('format'))[:20]!r}, expected {RESULT_FORMAT}")
    unknown, missing = sorted(set(raw) - set(_RESULT_TYPES)), sorted(set(_RESULT_TYPES) - set(raw))
    if unknown or missing:
        raise ValueError(f"result fields: missing {missing or 'none'}, unexpected {unknown or 'none'}")
    for name, types in _RESULT_TYPES.items():
        if isinstance(raw[name], bool) or not isinstance(raw[name], types):
            raise TypeError(f"result field {name!r} is {str(raw[name])[:40]!r}, not a {' or '.join(t.__name__ for t in types)}")
    if raw["kind"] not in ("search", "cv"):
        raise ValueError(f"result kind {raw['kind'][:20]!r} is not search or cv")
    for name in ("best_accuracy", "best_std"):
        if not (math.isfinite(raw[name]) and 0 <= raw[name] <= 1):
            raise ValueError(f"result {name} {raw[name]} is not a fraction")
    if not (2 <= raw["folds"] <= 1000 and 1 <= raw["n_train"] <= 10**8 and 0 <= raw["random_state"] < 2**32
            and math.isfinite(raw["seconds"]) and 0 <= raw["seconds"] < 1e8):
        raise ValueError("result folds, n_train, random_state or seconds is out of range")
    try:
        datetime.fromisoformat(raw["created_at"])
    except ValueError:
        raise ValueError(f"result created_at {raw['created_at'][:40]!r} is not an ISO timestamp") from None
    if not all(isinstance(k, str) and isinstance(v, str) and len(v) < 80 for k, v in raw["versions"].items()):
        raise ValueError("result versions are not name: version strings")
    grid = raw["grid"]
    if len(grid) > 10 or not all(isinstance(k, str) and isinstance(v, list) and len(v) <= 1000 and all(map(_scalar, v))
                                 for k, v in grid.items()):
        raise ValueError("result grid is not parameter: list of values")
    if not all(isinstance(k, str) and _scalar(v) for k, v in raw["best_params"].items()) or set(raw["best_params"]) != set(grid):
        raise ValueError("result best_params do not match its grid")
    opts = raw["options"]
    if (set(opts) != {"deskew", "augment", "params"} or not isinstance(opts["deskew"], bool)
            or not isinstance(opts["augment"], str) or not isinstance(opts["params"], dict)
            or not all(isinstance(k, str) and _scalar(v) for k, v in opts["params"].items())):
        raise ValueError("result options are not deskew, augment, params")
    if not raw["rows"] or len(raw["rows"]) > 100_000:
        raise ValueError("result has no rows, or too many")
    numbers = ("mean_accuracy", "std_accuracy", "mean_fit_s")
    for row in raw["rows"]:
        if not isinstance(row, dict) or set(row) != {*grid, *numbers, "rank"}:
            raise ValueError("a result row does not have the grid's parameters, accuracy, std, fit time and rank")
        if not all(_scalar(row[p]) for p in grid):
            raise ValueError("a result row has an implausible parameter value")
        if not all(isinstance(row[n], (int, float)) and not isinstance(row[n], bool) and math.isfinite(row[n]) and
                   0 <= row[n] <= (1 if n != "mean_fit_s" else 1e8) for n in numbers):
            raise ValueError("a result row's accuracy, std or fit time is out of range")
        if isinstance(row["rank"], bool) or not isinstance(row["rank"], int) or not 1 <= row["rank"] <= len(raw["rows"]):
            raise ValueError("a result row's rank is out of range")
    return raw


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


def read_search(path: Path, *, problem: Callable[[str], None] | None = None) -> SearchResult | None:
    """The result at ``path``, or None if it is absent or unusable (then ``problem``, if given,
    hears why: the file is ignored)."""
    try:
        st = path.stat()
        ident = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = _read_cache.get(str(path))
        if cached is not None and cached[0] == ident:  # unchanged since the last read: no parsing per rerun
            return replace(cached[1], rows=[dict(r) for r in cached[1].rows])
        if st.st_size > MAX_RESULT_BYTES:
            raise ValueError(f"the file is larger than {MAX_RESULT_BYTES / 1e6:.0f} MB")
        result = SearchResult.from_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, UnicodeDecodeError) as exc:
        if problem is not None and not isinstance(exc, NotADirectoryError):
            problem(f"search result {path.name} is unusable ({str(exc)[:200]}); it is ignored.")
        return None
    result.path = str(path)
    if len(_read_cache) > 1000:
        _read_cache.clear()
    _read_cache[str(path)] = (ident, replace(result, rows=[dict(r) for r in result.rows]))
    return result


_read_cache: dict[str, tuple[tuple[int, int, int], SearchResult]] = {}


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
        result = read_search(path, problem=store.report_problem)
        if result is not None:
            found.append(result)
    return found
