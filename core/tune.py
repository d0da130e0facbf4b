"""Hyperparameter search and cross-validation of catalog models, on local cores or a Dask cluster.

* :data:`GRIDS`: per catalog model, the tunable parameters (:class:`ParamSpec`: a short user-facing
  name, its type and its default values). The short name is also the key in
  ``TrainOptions.params`` (``pca`` is the number of PCA components), so the best candidate trains
  as a variant without translation. The search addresses pipeline paths (``model__C``,
  ``pca__n_components``, ``model__estimator__C`` for the one-vs-rest SVC).
* :func:`parse_grid` turns ``["C=1,10", "gamma=scale,0.01"]`` into typed values, merged over the
  model's default grid.
* :func:`search` runs scikit-learn's :class:`~sklearn.model_selection.GridSearchCV` with stratified
  K-fold CV on a stratified training subset and returns a :class:`SearchResult` (plain data).
* :func:`cross_validate_model` is the same engine with one candidate: a model's CV accuracy ± std.

Engine: joblib on the local cores (``n_jobs=-1``; the estimators' own ``n_jobs`` set to 1), or,
with ``dask_address``, the fits go to that Dask scheduler through joblib's ``dask`` backend.
Progress (fits done of total) goes to :func:`core.progress.report`: candidates are evaluated in
chunks (GridSearchCV's ``_run_search`` extension point), which gives the same ``cv_results_`` as
one call. Results are cached as JSON (``search/<model>-<key>-<data fingerprint>.json`` in the models folder, written
atomically), keyed by everything that changes them; the engine is not part of the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from core.catalog import CATALOG_VERSION, MODEL_NAMES, build_pipeline, get_spec
from core.data import MnistData
from core.errors import ClusterError, MissingExtraError, OptionsError
from core.fileio import atomic_write_bytes
from core.progress import report
from core.store import ArtifactStore
from core.training import TrainOptions, models_dir

__all__ = [
    "CLUSTER_TIMEOUT_S",
    "DEFAULT_FOLDS",
    "DEFAULT_MAX_TRAIN",
    "GRIDS",
    "TUNABLE_MODELS",
    "CvResult",
    "ParamSpec",
    "SearchResult",
    "cached_cv",
    "cross_validate_model",
    "cv_columns",
    "default_grid",
    "format_value",
    "latest_options",
    "parse_grid",
    "parse_values",
    "result_file",
    "search",
    "train_params",
]

DEFAULT_FOLDS = 5
#: The CLI's and the page's default training subset for a search (the full 60k is slow on 2 cores).
DEFAULT_MAX_TRAIN = 10_000
#: Seconds to wait for a Dask scheduler to answer (and twice that for its first worker).
CLUSTER_TIMEOUT_S = 5.0
DASK_EXTRA = 'pip install "mnist-dashboard[dask]"  (or: pip install "dask[distributed]")'
RESULT_FORMAT = 1


# ------------------------------------------------------------------- the grids


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter: ``name`` (user-facing, also the ``TrainOptions.params`` key),
    ``kind`` (``int``, ``float`` or ``layers``: hidden layer sizes written ``256`` or ``256x128``),
    ``choices`` (strings also allowed, e.g. ``scale``), whether ``None`` is allowed, a lower
    bound, and the default values searched."""

    name: str
    kind: str
    default: tuple[Any, ...]
    choices: tuple[str, ...] = ()
    allow_none: bool = False
    minimum: float | None = None
    help: str = ""

    def describe(self) -> str:
        parts = {"int": "an integer", "float": "a number", "layers": "layer sizes like 256 or 256x128",
                 "str": "one of"}[self.kind]
        if self.kind == "str":
            parts += " " + ", ".join(self.choices)
        elif self.choices:
            parts += " or one of " + ", ".join(self.choices)
        if self.minimum is not None:
            parts += f" >= {self.minimum:g}"
        if self.allow_none:
            parts += " or None"
        return parts

    def parse(self, text: str, *, model: str = "") -> Any:
        """``text`` as this parameter's type; OptionsError names the value and the expected type."""
        raw = text.strip()
        where = f"{model}: " if model else ""
        bad = OptionsError(f"{where}value {raw!r} for {self.name} is not {self.describe()}.")
        if raw.lower() == "none":
            if self.allow_none:
                return None
            raise bad
        if raw in self.choices:
            return raw
        try:
            if self.kind == "int":
                value: Any = int(raw)
            elif self.kind == "float":
                value = float(raw)
                if not math.isfinite(value):
                    raise ValueError(raw)
            elif self.kind == "layers":
                value = tuple(int(part) for part in raw.lower().split("x"))
                if not value or min(value) < 1:
                    raise ValueError(raw)
                return value
            else:
                raise ValueError(raw)
        except ValueError:
            raise bad from None
        if self.minimum is not None and value < self.minimum:
            raise bad
        return value


def _p(name: str, kind: str, default: Sequence[Any], **kw) -> ParamSpec:
    return ParamSpec(name, kind, tuple(default), **kw)


_C = _p("C", "float", (1.0, 10.0, 30.0), minimum=1e-12, help="SVM/logistic regularisation (larger: less)")
_GAMMA = _p("gamma", "float", ("scale", 0.01, 0.05), choices=("scale", "auto"), minimum=1e-12,
            help="RBF kernel width")
_PCA = lambda default: _p("pca", "int", default, minimum=1, help="PCA components")

#: model name -> its tunable parameters, default values included. A catalog model without an
#: entry (e.g. ``cnn`` until it gets one) cannot be searched; add a tuple here to change that.
GRIDS: dict[str, tuple[ParamSpec, ...]] = {
    "sgd": (_p("alpha", "float", (1e-5, 1e-4, 1e-3), minimum=0, help="L2 penalty"),),
    "logreg": (_p("C", "float", (0.1, 1.0, 10.0), minimum=1e-12, help="inverse regularisation"),),
    "random_forest": (
        _p("n_estimators", "int", (25, 50, 100), minimum=1, help="trees"),
        _p("max_features", "float", ("sqrt", 0.1), choices=("sqrt", "log2"), allow_none=True, minimum=1e-9,
           help="features per split (fraction, sqrt, log2, None: all)"),
    ),
    "knn": (
        _p("n_neighbors", "int", (1, 3, 4, 6), minimum=1, help="k"),
        _p("weights", "str", ("uniform", "distance"), choices=("uniform", "distance")),
        _PCA((35, 50)),
    ),
    "svc_ovo": (_C, _GAMMA, _PCA((50,))),
    "svc_ovr": (_C, _GAMMA, _PCA((40,))),
    "mlp": (
        _p("hidden_layer_sizes", "layers", ((128,), (256,)), help="hidden layer sizes, e.g. 256 or 256x128"),
        _p("alpha", "float", (1e-4, 1e-3), minimum=0, help="L2 penalty"),
    ),
}
TUNABLE_MODELS: tuple[str, ...] = tuple(n for n in MODEL_NAMES if n in GRIDS)


def _specs(name: str) -> dict[str, ParamSpec]:
    get_spec(name)  # UnknownModelError for names outside the catalog
    if name not in GRIDS:
        raise OptionsError(
            f"model {name!r} has no search grid yet; models that can be tuned: {', '.join(TUNABLE_MODELS)}."
        )
    return {p.name: p for p in GRIDS[name]}


def default_grid(name: str) -> dict[str, list[Any]]:
    """Catalog model ``name``'s default grid: parameter name -> values."""
    return {p.name: list(p.default) for p in _specs(name).values()}


def format_value(value: Any) -> str:
    """A grid value as the user writes it (``256x128`` for layer tuples, ``None``)."""
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return "None" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def parse_values(name: str, param: str, text: str) -> list[Any]:
    """``"1,10,30"`` as the typed values of ``param`` of model ``name`` (duplicates dropped)."""
    specs = _specs(name)
    if param not in specs:
        raise OptionsError(
            f"{name}: unknown parameter {param!r}; valid names are: {', '.join(specs)}."
        )
    parts = [t for t in text.split(",") if t.strip()]
    if not parts:
        raise OptionsError(f"{name}: no values for {param}; write e.g. {param}={','.join(map(format_value, specs[param].default))}.")
    values: list[Any] = []
    for part in parts:
        value = specs[param].parse(part, model=name)
        if value not in values:
            values.append(value)
    return values


def parse_grid(name: str, assignments: Sequence[str] = (), *, base: dict[str, Sequence[Any]] | None = None) -> dict[str, list[Any]]:
    """The grid for model ``name``: ``base`` (default: the model's default grid) with each
    ``"NAME=V1,V2,..."`` of ``assignments`` replacing that parameter's values.

    OptionsError for an unknown parameter (listing the valid ones), a value of the wrong type,
    a malformed assignment or an empty grid."""
    specs = _specs(name)
    grid = {k: list(v) for k, v in (default_grid(name) if base is None else base).items()}
    for assignment in assignments:
        param, sep, text = str(assignment).partition("=")
        if not sep:
            raise OptionsError(f"{name}: {assignment!r} is not NAME=V1,V2,...; valid names are: {', '.join(specs)}.")
        grid[param.strip()] = parse_values(name, param.strip(), text)
    return validate_grid(name, grid)


def validate_grid(name: str, grid: dict[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """``grid`` checked against model ``name``'s parameters (values are re-parsed from their text,
    so a wrong type is an OptionsError); an empty grid or parameter is an error."""
    specs = _specs(name)
    if not grid:
        raise OptionsError(f"{name}: the grid is empty; give at least one parameter, e.g. "
                           f"--param {next(iter(specs))}=... (valid names: {', '.join(specs)}).")
    checked: dict[str, list[Any]] = {}
    for param, values in grid.items():
        if param not in specs:
            raise OptionsError(f"{name}: unknown parameter {param!r}; valid names are: {', '.join(specs)}.")
        values = list(values)
        if not values:
            raise OptionsError(f"{name}: the grid has no values for {param}; give at least one.")
        checked[param] = [specs[param].parse(format_value(v), model=name) for v in values]
    return checked


def _pipeline_path(pipeline, param: str) -> str:
    if param == "pca":
        return "pca__n_components"
    names = pipeline.get_params()
    for path in (f"model__{param}", f"model__estimator__{param}"):
        if path in names:
            return path
    raise OptionsError(f"parameter {param!r} is not in this model's pipeline.")  # a GRIDS mistake


# -------------------------------------------------------------------- results


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
        """:meth:`table` for people: values as written on the command line, accuracy in percent."""
        frame = self.table()
        for param in self.grid:
            frame[param] = frame[param].map(format_value)
        frame["mean_accuracy"] = (100 * frame["mean_accuracy"]).round(2)
        frame["std_accuracy"] = (100 * frame["std_accuracy"]).round(2)
        frame["mean_fit_s"] = frame["mean_fit_s"].round(3)
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
        return json.dumps(raw, indent=1, default=_jsonable).encode()

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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


# -------------------------------------------------------------- result cache


def _results_store(data: MnistData, models_path: str | os.PathLike | None) -> ArtifactStore:
    return ArtifactStore(models_dir(models_path), data=data)


def result_file(name: str, key: str, *, data: MnistData, models_path: str | os.PathLike | None = None) -> Path:
    """Where a search or CV result lives: the artifact store's side file
    ``search/<model>-<key>-<data fingerprint>.json`` in the models folder."""
    return _results_store(data, models_path).side_path("search", f"{name}-{key}")


def _read_result(path: Path) -> SearchResult | None:
    try:
        result = SearchResult.from_json(path.read_bytes())
    except (OSError, ValueError, TypeError, KeyError, OptionsError):
        return None
    result.path = str(path)
    return result


def _write_result(result: SearchResult, path: Path) -> None:
    atomic_write_bytes(path, result.to_json())
    result.path = str(path)


def _versions() -> dict[str, str]:
    return {"sklearn": sklearn.__version__, "numpy": np.__version__, "joblib": joblib.__version__,
            "catalog": CATALOG_VERSION}


def _key(kind: str, name: str, grid: dict, options: dict, folds: int, n_train: int, random_state: int,
         data: MnistData) -> str:
    blob = json.dumps(
        {"kind": kind, "name": name, "grid": grid, "options": options, "folds": folds, "n_train": n_train,
         "random_state": random_state, "data": data.fingerprint, "catalog": CATALOG_VERSION,
         "sklearn": sklearn.__version__, "numpy": ".".join(np.__version__.split(".")[:2])},
        sort_keys=True, default=_jsonable,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


# --------------------------------------------------------------------- engine


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(f"running on a Dask cluster needs dask.distributed, which is not installed: {DASK_EXTRA}") from None
    return distributed


@contextmanager
def _engine(dask_address: str | None, *, timeout: float = CLUSTER_TIMEOUT_S) -> Iterator[tuple[str, int]]:
    """Run joblib work inside on local cores, or on the Dask scheduler at ``dask_address``.
    Yields a description and the number of parallel slots. The client is always closed."""
    if not dask_address:
        yield f"local joblib, {joblib.cpu_count()} cores", joblib.cpu_count()
        return
    distributed = _import_distributed()
    address = dask_address.strip()
    try:
        client = distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ClusterError(
            f"the Dask scheduler at {address!r} did not answer within {timeout:g} s ({type(exc).__name__}: {exc}); "
            "start one (dask scheduler --host 127.0.0.1 --port 8786, then dask worker tcp://127.0.0.1:8786) "
            "or leave the address empty to run on this machine."
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=2 * timeout)
        except (TimeoutError, OSError) as exc:
            raise ClusterError(
                f"the Dask scheduler at {address!r} has no workers (waited {2 * timeout:g} s: {exc}); start some: "
                f"dask worker {address} --nworkers 2 --nthreads 1"
            ) from None
        workers = client.scheduler_info(n_workers=-1)["workers"] if _takes_n_workers(client) else client.scheduler_info()["workers"]
        slots = sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
        with joblib.parallel_backend("dask", client=client, wait_for_workers_timeout=timeout):
            yield f"dask {address} ({len(workers)} workers, {slots} threads)", slots
    finally:
        client.close()


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


class _ChunkedGridSearchCV(GridSearchCV):
    """GridSearchCV that evaluates its candidates a chunk at a time and reports fits done of
    total after each chunk (``cv_results_`` are the same as one call's)."""

    def __init__(self, estimator, param_grid, *, chunk: int = 1, **kwargs):
        super().__init__(estimator, param_grid, **kwargs)
        self.chunk = chunk

    def _run_search(self, evaluate_candidates):
        from sklearn.model_selection import ParameterGrid

        candidates = list(ParameterGrid(self.param_grid))
        folds = self.cv.get_n_splits()
        total = len(candidates) * folds
        report(0.0, f"0 of {total} fits")
        for start in range(0, len(candidates), self.chunk):
            evaluate_candidates(candidates[start:start + self.chunk])
            done = min(start + self.chunk, len(candidates)) * folds
            report(done / total, f"{done} of {total} fits")


def _subset(data: MnistData, max_train: int | None, folds: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 2:
        raise OptionsError(f"folds={folds!r}: cross-validation needs an integer of at least 2 folds (e.g. 5).")
    X, y = data.X_train, data.y_train
    if max_train is not None:
        if not isinstance(max_train, (int, np.integer)) or isinstance(max_train, bool) or max_train < 1:
            raise OptionsError(f"max_train={max_train!r} is not a positive number of training digits.")
        if max_train < len(y):
            n_classes = len(np.unique(y))
            if max_train < n_classes * folds:
                raise OptionsError(
                    f"max_train={max_train} is too small for {folds}-fold stratified CV: each of the {n_classes} "
                    f"digits needs at least {folds} examples; use max_train >= {n_classes * folds} "
                    f"(better {n_classes * folds * 10}) or fewer folds."
                )
            X, _, y, _ = train_test_split(X, y, train_size=int(max_train), stratify=y, random_state=random_state)
    smallest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 0
    if smallest < folds:
        raise OptionsError(
            f"the training subset ({len(y)} digits) has a digit with only {smallest} examples; "
            f"{folds}-fold stratified CV needs at least {folds}: use a larger subset or fewer folds."
        )
    return X, y


def _single_threaded(pipeline):
    """The estimator's own parallelism off: the search runs many fits at once already."""
    jobs = {k: 1 for k, v in pipeline.get_params().items() if k.endswith("n_jobs") and v not in (None, 1)}
    return pipeline.set_params(**jobs) if jobs else pipeline


def _run(
    kind: str,
    name: str,
    grid: dict[str, list[Any]],
    data: MnistData,
    *,
    options: dict[str, Any],
    folds: int,
    max_train: int | None,
    random_state: int,
    dask_address: str | None,
    models_path: str | os.PathLike | None,
    force: bool,
) -> SearchResult:
    spec = get_spec(name)
    X, y = _subset(data, max_train, folds, random_state)
    key = _key(kind, name, grid, options, folds, len(y), random_state, data)
    path = result_file(name, key, data=data, models_path=models_path)
    if not force:
        hit = _read_result(path)
        if hit is not None and hit.key == key:
            hit.from_cache = True
            report(1.0, f"cached: {hit.n_fits} fits")
            return hit
    fixed = {k: v for k, v in options["params"].items() if k not in grid}
    pipeline = _single_threaded(build_pipeline(name, deskew=options["deskew"], augment=options["augment"],
                                               params=fixed, random_state=random_state))
    paths = {p: _pipeline_path(pipeline, p) for p in grid}  # grids search un-augmented pipelines only
    param_grid = {paths[p]: list(v) for p, v in grid.items()}
    n_candidates = math.prod(len(v) for v in grid.values())
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    start = time.perf_counter()
    with _engine(dask_address) as (engine, slots):
        chunk = max(1, math.ceil(2 * slots / folds))
        searcher = _ChunkedGridSearchCV(pipeline, param_grid, chunk=chunk, cv=cv, scoring="accuracy",
                                        n_jobs=-1, refit=False, error_score="raise")
        with warnings.catch_warnings():  # iteration budgets are the catalog's choice; say nothing per fit
            warnings.simplefilter("ignore", ConvergenceWarning)
            searcher.fit(X, y)
    seconds = time.perf_counter() - start
    res = searcher.cv_results_
    back = {path_: p for p, path_ in paths.items()}
    rows = []
    for i in range(n_candidates):
        row = {back[k]: _plain(v) for k, v in res["params"][i].items()}
        row.update(mean_accuracy=float(res["mean_test_score"][i]), std_accuracy=float(res["std_test_score"][i]),
                   mean_fit_s=float(res["mean_fit_time"][i]), rank=int(res["rank_test_score"][i]))
        rows.append(row)
    best = int(np.argmin(res["rank_test_score"]))  # the first candidate ranked 1, like best_index_
    result = SearchResult(
        name=name, label=spec.label, grid=grid, rows=rows,
        best_params={p: rows[best][p] for p in grid},
        best_accuracy=rows[best]["mean_accuracy"], best_std=rows[best]["std_accuracy"],
        folds=folds, n_train=len(y), random_state=random_state, options=options, engine=engine,
        seconds=round(seconds, 3), key=key, data_fingerprint=data.fingerprint,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), versions=_versions(), kind=kind,
    )
    _write_result(result, path)
    return result


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, (np.integer, np.floating)) else value


# ---------------------------------------------------------------- public API


def search(
    name: str,
    data: MnistData,
    *,
    grid: dict[str, Sequence[Any]] | None = None,
    folds: int = DEFAULT_FOLDS,
    max_train: int | None = DEFAULT_MAX_TRAIN,
    random_state: int = 0,
    dask_address: str | None = None,
    models_path: str | os.PathLike | None = None,
    force: bool = False,
) -> SearchResult:
    """Grid search for catalog model ``name`` with stratified ``folds``-fold CV on a stratified
    subset of ``max_train`` training digits (None: all of ``data.X_train``, (n, 784)).

    ``grid``: parameter name -> values (default :func:`default_grid`; build one from text with
    :func:`parse_grid`). The catalog's preprocessing (deskewing, PCA) is part of every fit.
    ``dask_address``: run the fits on that Dask scheduler (ClusterError if it does not answer
    within :data:`CLUSTER_TIMEOUT_S`). A cached identical search is returned without fitting
    (``from_cache``) unless ``force``. Progress goes to :func:`core.progress.report`.
    """
    checked = validate_grid(name, default_grid(name) if grid is None else grid)
    options = {"deskew": get_spec(name).deskew, "augment": "none", "params": {}}
    return _run("search", name, checked, data, options=options, folds=folds, max_train=max_train,
                random_state=random_state, dask_address=dask_address, models_path=models_path, force=force)


def train_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (e.g. a search's ``best_params``) minus the values equal to the catalog's
    defaults, ready for ``TrainOptions(params=...)``: the catalog default trains as itself."""
    spec = get_spec(name)
    defaults = {**spec.params, "pca": spec.pca}
    return {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}


def _cv_options(name: str, options: TrainOptions | None) -> dict[str, Any]:
    try:
        resolved = (options or TrainOptions()).resolved(name)
    except ValueError as exc:
        raise OptionsError(f"{name}: {exc}") from None
    return {"deskew": resolved["deskew"], "augment": resolved["augment"], "params": resolved["params"]}


def cross_validate_model(
    name: str,
    data: MnistData,
    *,
    options: TrainOptions | None = None,
    cv: int = DEFAULT_FOLDS,
    max_train: int | None = None,
    random_state: int = 0,
    dask_address: str | None = None,
    models_path: str | os.PathLike | None = None,
    force: bool = False,
) -> CvResult:
    """Mean and std of the stratified ``cv``-fold CV accuracy of model ``name`` with ``options``
    (default: catalog defaults; ``options.max_train`` is ignored, ``max_train`` picks the subset)
    on the training set (n, 784). Same engine, progress and caching as :func:`search`."""
    get_spec(name)
    opts = _cv_options(name, options)
    result = _run("cv", name, {}, data, options=opts, folds=cv, max_train=max_train, random_state=random_state,
                  dask_address=dask_address, models_path=models_path, force=force)
    return _cv_result(result)


def _cv_result(result: SearchResult) -> CvResult:
    return CvResult(name=result.name, mean=result.best_accuracy, std=result.best_std, folds=result.folds,
                    n_train=result.n_train, options=result.options, from_cache=result.from_cache,
                    created_at=result.created_at, seconds=result.seconds)


def latest_options(name: str, *, data: MnistData, models_path: str | os.PathLike | None = None) -> TrainOptions | None:
    """The options of model ``name``'s most recently trained variant (the one every page shows),
    or None if it is untrained. The ONE place this module asks which variant is current."""
    from core.training import latest_record, options_of

    record = latest_record(name, data=data, models_path=models_path)
    return None if record is None else options_of(record)


def cached_cv(
    name: str, *, data: MnistData, options: TrainOptions | None = None, models_path: str | os.PathLike | None = None
) -> CvResult | None:
    """The most recent cached CV result of model ``name`` with ``options`` on ``data`` (any folds or
    subset size), or None. Reads JSON only; results of other library versions are ignored."""
    opts = json.loads(json.dumps(_cv_options(name, options), default=_jsonable))
    found = []
    folder = result_file(name, "any", data=data, models_path=models_path).parent
    for path in folder.glob(f"{name}-*-{data.fingerprint}.json"):
        result = _read_result(path)
        if (result is None or result.kind != "cv" or result.name != name or result.data_fingerprint != data.fingerprint
                or result.versions.get("sklearn") != sklearn.__version__
                or result.versions.get("catalog") != CATALOG_VERSION
                or json.loads(json.dumps(result.options, default=_jsonable)) != opts):
            continue
        found.append(result)
    best = max(found, key=lambda r: r.created_at, default=None)
    if best is None:
        return None
    best.from_cache = True
    return _cv_result(best)


def cv_columns(
    name: str, *, data: MnistData, options: TrainOptions | None = None, models_path: str | os.PathLike | None = None
) -> dict[str, float]:
    """``{"cv_accuracy": mean, "cv_std": std}`` from :func:`cached_cv` (fractions), or ``{}`` when
    the variant was not cross-validated yet: merge into a leaderboard row (core.leaderboard)."""
    found = cached_cv(name, data=data, options=options, models_path=models_path)
    return {} if found is None else {"cv_accuracy": found.mean, "cv_std": found.std}
