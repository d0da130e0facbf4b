"""Hyperparameter search and cross-validation of catalog models, on local cores or a Dask cluster.

* ``core.models.grids.GRIDS``: per catalog model, the tunable parameters (:class:`ParamSpec`: a short user-facing
  name, its type and its default values). The short name is also the key in
  ``TrainOptions.params`` (``pca`` is the number of PCA components), so the best candidate trains
  as a variant without translation. The search addresses pipeline paths (``model__C``,
  ``pca__n_components``, ``model__estimator__C`` for the one-vs-rest SVC).
* ``core.models.grids.parse_grid`` turns ``["C=1,10", "gamma=scale,0.01"]`` into typed values, merged over the
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

import json
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from core.data.sources import MnistData
from core.errors import ClusterError, ConfigError, MissingExtraError, OptionsError
from core.models.catalog import CATALOG_VERSION, MODEL_NAMES, build_pipeline, get_spec
from core.models.grids import default_grid, pipeline_path, validate_grid
from core.progress import report
from core.store.artifacts import ArtifactStore
from core.store.records import TrainOptions, check_seed, jsonable
from core.store.searches import (
    CvResult,
    SearchResult,
    read_search,
    result_versions,
    search_key,
    search_path,
    searches_of,
    write_search,
)
from core.store.settings import parse_dask_address

__all__ = [
    "CLUSTER_TIMEOUT_S",
    "DEFAULT_FOLDS",
    "DEFAULT_MAX_TRAIN",
    "cached_cv",
    "cross_validate_model",
    "cv_columns",
    "latest_options",
    "probe_scheduler",
    "search",
]

DEFAULT_FOLDS = 5
#: The CLI's and the page's default training subset for a search (the full 60k is slow on 2 cores).
DEFAULT_MAX_TRAIN = 10_000
#: Seconds to wait for a Dask scheduler to answer (and twice that for its first worker).
CLUSTER_TIMEOUT_S = 5.0
DASK_EXTRA = 'pip install "mnist-dashboard[dask]"  (or: pip install "dask[distributed]")'


# --------------------------------------------------------------------- engine


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(f"running on a Dask cluster needs dask.distributed, which is not installed: {DASK_EXTRA}") from None
    return distributed


async def _identity(address: str, timeout: float, security) -> dict:
    from distributed.comm import connect

    kwargs = security.get_connection_args("client") if security is not None else {}
    comm = await connect(address, timeout=timeout, **kwargs)
    try:
        await comm.write({"op": "identity"})
        return await comm.read()
    finally:
        comm.abort()


def probe_scheduler(address: str, *, timeout: float = CLUSTER_TIMEOUT_S, security=None) -> dict:
    """The identity of the Dask scheduler at ``address`` (a dict), asked with a hard deadline of
    ``timeout`` seconds: a silent listener or a server that is not a Dask scheduler fails fast
    (ClusterError naming the address) instead of hanging the client's handshake."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    def ask() -> dict:
        return asyncio.run(asyncio.wait_for(_identity(address, timeout, security), timeout))

    try:
        # in a thread of its own: the caller's thread may already run an event loop (a notebook,
        # a test session with Playwright's sync API), where asyncio.run refuses to start
        with ThreadPoolExecutor(max_workers=1) as pool:
            reply = pool.submit(ask).result()
    except TimeoutError as exc:
        raise ClusterError(
            f"the Dask scheduler at {address!r} did not answer within {timeout:g} s ({exc or 'no reply'}); start one "
            "(dask scheduler --host 127.0.0.1 --port 8786, then dask worker tcp://127.0.0.1:8786) or run on this machine."
        ) from None
    except Exception as exc:  # noqa: BLE001 - refused, reset, TLS failure, garbage from a non-Dask server
        raise ClusterError(
            f"could not talk to a Dask scheduler at {address!r} within {timeout:g} s ({type(exc).__name__}: {exc}); check "
            "the address and the TLS settings (DASK_TLS_*), or start one (dask scheduler --host 127.0.0.1 --port 8786, "
            "then dask worker tcp://127.0.0.1:8786)."
        ) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise ClusterError(f"{address!r} answered, but it is not a Dask scheduler ({str(reply)[:80]!r}).")
    return reply


@contextmanager
def _engine(dask_address: str | None, *, timeout: float = CLUSTER_TIMEOUT_S, security=None) -> Iterator[tuple[str, int]]:
    """Run joblib work inside on local cores, or on the Dask scheduler at ``dask_address``
    (with ``security``, a ``distributed.security.Security`` for TLS). Yields a description and
    the number of parallel slots. The client is always closed.

    A Dask cluster is trusted code: results come back as pickles, so whoever controls the
    scheduler or a worker runs code in this process. Only server configuration picks it."""
    if not dask_address:
        yield f"local joblib, {joblib.cpu_count()} cores", joblib.cpu_count()
        return
    distributed = _import_distributed()
    try:
        address = parse_dask_address(dask_address, "the Dask scheduler address")
    except ConfigError as exc:
        raise ClusterError(str(exc)) from None
    probe_scheduler(address, timeout=timeout, security=security)
    try:
        client = distributed.Client(address, timeout=f"{timeout}s", set_as_default=False, security=security)
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
            if len(y) - max_train < n_classes:
                raise OptionsError(
                    f"max_train={max_train} would leave out only {len(y) - max_train} of the {len(y):,} training digits, "
                    f"fewer than one per class ({n_classes}), so no stratified subset exists; use at most "
                    f"{len(y) - n_classes}, or all {len(y):,} ('all')."
                )
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


def _check_sizes(name: str, grid: dict[str, list[Any]], options: dict[str, Any], *, n_fit: int) -> None:
    """Grid values that cannot work on folds of ``n_fit`` training digits (more PCA components or
    neighbours than digits) as an OptionsError before any fitting."""
    limits = {"pca": min(784, n_fit), "n_neighbors": n_fit}
    for param, limit in limits.items():
        values = list(grid.get(param, [])) or ([options["params"][param]] if param in options["params"] else [])
        too_big = [v for v in values if isinstance(v, int) and v > limit]
        if too_big:
            raise OptionsError(
                f"{name}: {param}={too_big[0]} is more than the {limit:,} training digits in each fold"
                f"{' (or the 784 pixels)' if param == 'pca' else ''}; use at most {limit:,}, or a larger subset."
            )


def _single_threaded(pipeline):
    """The estimator's own parallelism off: the search runs many fits at once already."""
    jobs = {k: 1 for k, v in pipeline.get_params().items() if k.endswith("n_jobs") and v not in (None, 1)}
    return pipeline.set_params(**jobs) if jobs else pipeline


def _run(
    kind: str,
    name: str,
    grid: dict[str, list[Any]],
    store: ArtifactStore,
    *,
    options: dict[str, Any],
    folds: int,
    max_train: int | None,
    random_state: int,
    dask_address: str | None,
    force: bool,
    dask_security=None,
) -> SearchResult:
    spec = get_spec(name)
    data = store.data
    check_seed(random_state)
    X, y = _subset(data, max_train, folds, random_state)
    _check_sizes(name, grid, options, n_fit=len(y) - -(-len(y) // folds))
    key = search_key(kind, name, grid, options, folds, len(y), random_state, data.fingerprint)
    path = search_path(store, name, key)
    if not force:
        hit = read_search(path)
        if hit is not None and hit.key == key:
            hit.from_cache = True
            report(1.0, f"cached: {hit.n_fits} fits")
            return hit
    store.check_writable(path)  # a read-only folder is said before minutes of fitting, not after
    fixed = {k: v for k, v in options["params"].items() if k not in grid}
    pipeline = _single_threaded(build_pipeline(name, deskew=options["deskew"], augment=options["augment"],
                                               params=fixed, random_state=random_state))
    paths = {p: pipeline_path(pipeline, p) for p in grid}  # grids search un-augmented pipelines only
    param_grid = {paths[p]: list(v) for p, v in grid.items()}
    n_candidates = math.prod(len(v) for v in grid.values())
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    start = time.perf_counter()
    with _engine(dask_address, security=dask_security) as (engine, slots):
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
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), versions=result_versions(), kind=kind,
    )
    write_search(result, path)
    return result


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, (np.integer, np.floating)) else value


# ---------------------------------------------------------------- public API


def search(
    store: ArtifactStore,
    name: str,
    *,
    grid: dict[str, Sequence[Any]] | None = None,
    folds: int = DEFAULT_FOLDS,
    max_train: int | None = DEFAULT_MAX_TRAIN,
    random_state: int = 0,
    dask_address: str | None = None,
    dask_security=None,
    force: bool = False,
) -> SearchResult:
    """Grid search for catalog model ``name`` with stratified ``folds``-fold CV on a stratified
    subset of ``max_train`` training digits (None: all of ``store.data.X_train``, (n, 784)); the
    result is cached in ``store``.

    ``grid``: parameter name -> values (default :func:`default_grid`; build one from text with
    :func:`parse_grid`). The catalog's preprocessing (deskewing, PCA) is part of every fit.
    ``dask_address``: run the fits on that Dask scheduler (ClusterError if it does not answer
    within :data:`CLUSTER_TIMEOUT_S`). A cached identical search is returned without fitting
    (``from_cache``) unless ``force``. Progress goes to :func:`core.progress.report`.
    """
    checked = validate_grid(name, default_grid(name) if grid is None else grid)
    options = {"deskew": get_spec(name).deskew, "augment": "none", "params": {}}
    return _run("search", name, checked, store, options=options, folds=folds, max_train=max_train,
                random_state=random_state, dask_address=dask_address, dask_security=dask_security, force=force)


def _cv_options(name: str, options: TrainOptions | None) -> dict[str, Any]:
    try:
        resolved = (options or TrainOptions()).resolved(name)
    except ValueError as exc:
        raise OptionsError(f"{name}: {exc}") from None
    return {"deskew": resolved["deskew"], "augment": resolved["augment"], "params": resolved["params"]}


def cross_validate_model(
    store: ArtifactStore,
    name: str,
    *,
    options: TrainOptions | None = None,
    cv: int = DEFAULT_FOLDS,
    max_train: int | None = None,
    random_state: int = 0,
    dask_address: str | None = None,
    dask_security=None,
    force: bool = False,
) -> CvResult:
    """Mean and std of the stratified ``cv``-fold CV accuracy of model ``name`` with ``options``
    (default: catalog defaults; ``options.max_train`` is ignored, ``max_train`` picks the subset)
    on the training set (n, 784). Same engine, progress and caching as :func:`search`."""
    get_spec(name)
    opts = _cv_options(name, options)
    result = _run("cv", name, {}, store, options=opts, folds=cv, max_train=max_train, random_state=random_state,
                  dask_address=dask_address, dask_security=dask_security, force=force)
    return _cv_result(result)


def _cv_result(result: SearchResult) -> CvResult:
    return CvResult(name=result.name, mean=result.best_accuracy, std=result.best_std, folds=result.folds,
                    n_train=result.n_train, options=result.options, from_cache=result.from_cache,
                    created_at=result.created_at, seconds=result.seconds)


def latest_options(store: ArtifactStore, name: str) -> TrainOptions | None:
    """The options of model ``name``'s most recently trained variant (the one every page shows),
    or None if it is untrained."""
    record = store.latest(name)
    return None if record is None else record.train_options()


def cached_cv(store: ArtifactStore, name: str, *, options: TrainOptions | None = None) -> CvResult | None:
    """The most recent cached CV result of model ``name`` with ``options`` on the store's data (any
    folds or subset size), or None. Reads JSON only; results of other library versions are ignored."""
    opts = json.loads(json.dumps(_cv_options(name, options), default=jsonable))
    found = [
        result for result in searches_of(store, name)
        if result.kind == "cv" and result.name == name and result.data_fingerprint == store.data.fingerprint
        and result.versions.get("sklearn") == sklearn.__version__ and result.versions.get("catalog") == CATALOG_VERSION
        and json.loads(json.dumps(result.options, default=jsonable)) == opts
    ]
    best = max(found, key=lambda r: r.created_at, default=None)
    if best is None:
        return None
    best.from_cache = True
    return _cv_result(best)


def cv_columns(store: ArtifactStore, name: str, *, options: TrainOptions | None = None) -> dict[str, float]:
    """``{"cv_accuracy": mean, "cv_std": std}`` from :func:`cached_cv` (fractions), or ``{}`` when
    the variant was not cross-validated yet (always for an imported model): merge into a leaderboard
    row (core.analysis.leaderboard)."""
    if name not in MODEL_NAMES:
        return {}
    found = cached_cv(store, name, options=options)
    return {} if found is None else {"cv_accuracy": found.mean, "cv_std": found.std}
