"""Hyperparameter search and cross-validation (core.analysis.tune, the tune/cv CLI) on real digits, with the
local joblib engine and a real distributed.LocalCluster started here."""

from __future__ import annotations

import socket
import time

import pytest
from conftest import make_store

from core.analysis.leaderboard import leaderboard_frame
from core.analysis.tune import cached_cv, cross_validate_model, cv_columns, default_grid, search
from core.cli.main import main
from core.errors import ClusterError, OptionsError, UnknownModelError
from core.models.catalog import build_pipeline
from core.models.grids import parse_grid, train_params
from core.progress import reporting
from core.store.records import TrainOptions
from core.store.training import train_model

TINY = ["n_neighbors=1,3", "weights=uniform,distance", "pca=20"]  # 4 candidates
SMALL = {"folds": 3, "max_train": 600}


def search_files(folder):
    return sorted(p.name for p in (folder / "search").glob("*.json"))


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def local_result(sample_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune-local")
    seen = []
    with reporting(lambda fraction, message: seen.append((fraction, message))):
        result = search(make_store(folder, sample_data), "knn", grid=parse_grid("knn", TINY), **SMALL)
    return result, folder, seen


# ------------------------------------------------------------------ grids and bad input


def test_grid_values_are_typed_and_defaults_exist():
    grid = parse_grid("mlp", ["hidden_layer_sizes=64,128x64", "alpha=1e-4,0.001"])
    assert grid == {"hidden_layer_sizes": [(64,), (128, 64)], "alpha": [1e-4, 1e-3]}
    grid = parse_grid("random_forest", ["max_features=sqrt,None,0.2", "n_estimators=10"])
    assert grid == {"n_estimators": [10], "max_features": ["sqrt", None, 0.2]}
    assert parse_grid("svc_ovo", ["gamma=scale,0.01"])["gamma"] == ["scale", 0.01]
    for name in ("sgd", "logreg", "knn", "svc_ovo", "svc_ovr", "mlp", "random_forest"):
        assert default_grid(name)


@pytest.mark.parametrize(
    ("name", "assignments", "needles"),
    [
        ("knn", ["k=1,3"], ["'k'", "n_neighbors", "weights", "pca"]),
        ("knn", ["n_neighbors=1,three"], ["'three'", "n_neighbors", "integer"]),
        ("svc_ovo", ["C=ten"], ["'ten'", "C", "number"]),
        ("knn", ["weights=closest"], ["'closest'", "uniform", "distance"]),
        ("knn", ["n_neighbors=0"], ["'0'", ">= 1"]),
        ("knn", ["n_neighbors="], ["no values", "n_neighbors"]),
        ("knn", ["n_neighbors"], ["NAME=V1,V2", "n_neighbors"]),
    ],
)
def test_bad_grid_input_names_the_value(name, assignments, needles):
    with pytest.raises(OptionsError) as err:
        parse_grid(name, assignments)
    for needle in needles:
        assert needle in str(err.value)


def test_empty_grid_and_unknown_model(sample_data, tmp_path):
    with pytest.raises(OptionsError, match="grid is empty"):
        search(make_store(tmp_path, sample_data), "knn", grid={}, **SMALL)
    with pytest.raises(OptionsError, match="no values for weights"):
        search(make_store(tmp_path, sample_data), "knn", grid={"weights": []}, **SMALL)
    with pytest.raises(OptionsError, match="'3x'"):  # a string where an integer belongs
        search(make_store(tmp_path, sample_data), "knn", grid={"n_neighbors": ["3x"]}, **SMALL)
    with pytest.raises(UnknownModelError, match="valid names"):
        parse_grid("resnet", [])
    assert search_files(tmp_path) == []


def test_subset_too_small_for_k_folds(sample_data, tmp_path):
    with pytest.raises(OptionsError) as err:
        search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", TINY), folds=5, max_train=30)
    assert "max_train=30" in str(err.value) and "5-fold" in str(err.value) and ">= 50" in str(err.value)
    with pytest.raises(OptionsError, match="at least 2 folds"):
        search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", TINY), folds=1)
    assert search_files(tmp_path) == []


def test_unreachable_scheduler_fails_fast_naming_it(sample_data, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    address = f"tcp://127.0.0.1:{port}"
    start = time.monotonic()
    with pytest.raises(ClusterError) as err:
        search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", TINY), dask_address=address, **SMALL)
    assert time.monotonic() - start <= 10
    assert address in str(err.value) and "dask scheduler" in str(err.value)
    assert search_files(tmp_path) == []


# ------------------------------------------------------------------ the search


def test_local_search_table_progress_and_file(local_result, sample_data):
    result, folder, seen = local_result
    assert not result.from_cache and result.engine.startswith("local")
    assert result.n_candidates == 4 and result.n_fits == 12 and result.n_train == 600
    table = result.table()
    assert list(table.columns) == ["n_neighbors", "weights", "pca", "mean_accuracy", "std_accuracy", "mean_fit_s", "rank"]
    assert table["rank"].iloc[0] == 1 and table["mean_accuracy"].iloc[0] == table["mean_accuracy"].max()
    assert 0.8 < result.best_accuracy < 1.0 and result.best_std > 0
    assert result.best_params == {k: table.iloc[0][k] for k in ("n_neighbors", "weights", "pca")}
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert seen[-1][1] == "12 of 12 fits"
    assert search_files(folder) == [f"knn-{result.key}-{sample_data.fingerprint}.json"]
    assert result.best_summary().startswith("best: n_neighbors=")


def test_heatmap_over_two_parameters(local_result):
    from core.plots.tune import plot_search_heatmap, varying_params

    result, _, _ = local_result
    table = result.table()
    assert varying_params(table, result.params) == ["n_neighbors", "weights"]
    fig = plot_search_heatmap(table, x="n_neighbors", y="weights")
    z = fig.data[0].z
    assert z.shape == (2, 2) and z.max() == pytest.approx(100 * result.best_accuracy)
    assert list(fig.data[0].x) == ["1", "3"] and sorted(fig.data[0].y) == ["distance", "uniform"]
    one = plot_search_heatmap(table, x="n_neighbors")
    assert one.data[0].z.shape == (1, 2) and "best over weights" in one.layout.title.text


def test_identical_search_is_a_cache_hit(local_result, sample_data):
    result, folder, _ = local_result
    start = time.perf_counter()
    again = search(make_store(folder, sample_data), "knn", grid=parse_grid("knn", TINY), **SMALL)
    assert again.from_cache and time.perf_counter() - start < 2
    assert again.rows == result.rows and again.best_params == result.best_params
    other = search(make_store(folder, sample_data), "knn", grid=parse_grid("knn", TINY), folds=3, max_train=600, random_state=1)
    assert not other.from_cache and len(search_files(folder)) == 2


def test_dask_cluster_gives_the_same_result(local_result, sample_data, cluster, tmp_path):
    result, _, _ = local_result
    on_cluster = search(make_store(tmp_path, sample_data), "knn", grid=parse_grid("knn", TINY), dask_address=cluster.scheduler_address, **SMALL)
    assert not on_cluster.from_cache and on_cluster.engine.startswith(f"dask {cluster.scheduler_address}")
    assert on_cluster.best_params == result.best_params
    assert [(r["mean_accuracy"], r["std_accuracy"], r["rank"]) for r in on_cluster.rows] == \
        [(r["mean_accuracy"], r["std_accuracy"], r["rank"]) for r in result.rows]
    prefixes = list(cluster.scheduler.task_prefixes)
    assert any("_fit_and_score" in p for p in prefixes), prefixes


# ------------------------------------------------------------------ variants and CV


def test_tuned_params_survive_the_record(sample_data, tmp_path):
    """Tuples, None, floats and the pca key come back from the JSON record as the same key."""
    cases = {
        "mlp": TrainOptions(max_train=500, params={"hidden_layer_sizes": (16,), "alpha": 1e-3, "max_iter": 30}),
        "random_forest": TrainOptions(max_train=500, params={"n_estimators": 5, "max_features": None}),
        "knn": TrainOptions(max_train=500, params=train_params("knn", {"n_neighbors": 3, "weights": "distance", "pca": 20})),
    }
    for name, options in cases.items():
        trained = train_model(make_store(tmp_path, sample_data), name, options=options)
        record = make_store(tmp_path, sample_data).latest(name)
        assert record is not None and record.key == trained.record.key
        again = record.train_options()
        assert make_store('.', sample_data).key(name, options=again) == record.key
        assert make_store(tmp_path, sample_data).load(name, options=again) is not None
    knn = make_store(tmp_path, sample_data).latest("knn")
    assert knn.options["params"] == {"n_neighbors": 3, "weights": "distance", "pca": 20}
    assert knn.options_summary() == "deskew, first 500 digits, n_neighbors=3, pca=20"
    assert "hidden_layer_sizes=16" in make_store(tmp_path, sample_data).latest("mlp").options_summary()
    assert build_pipeline("knn", params={"pca": 20}).named_steps["pca"].n_components == 20


def test_cross_validation_is_cached_and_feeds_the_leaderboard(sample_data, tmp_path):
    assert cv_columns(make_store(tmp_path, sample_data), "logreg") == {}
    cv = cross_validate_model(make_store(tmp_path, sample_data), "logreg", cv=3, max_train=600)
    assert not cv.from_cache and 0.8 < cv.mean < 1 and cv.std > 0 and cv.folds == 3 and cv.n_train == 600
    again = cross_validate_model(make_store(tmp_path, sample_data), "logreg", cv=3, max_train=600)
    assert again.from_cache and (again.mean, again.std) == (cv.mean, cv.std)
    assert cached_cv(make_store(tmp_path, sample_data), "logreg").mean == cv.mean
    other = TrainOptions(params={"C": 0.1})
    assert cached_cv(make_store(tmp_path, sample_data), "logreg", options=other) is None
    columns = cv_columns(make_store(tmp_path, sample_data), "logreg")
    assert columns == {"cv_accuracy": cv.mean, "cv_std": cv.std}
    frame = leaderboard_frame([{"label": "Logistic regression", "accuracy": 0.9, **columns}])
    assert frame["CV accuracy %"].iloc[0] == pytest.approx(100 * cv.mean)


# ------------------------------------------------------------------ CLI


def test_cli_tune_on_a_dask_cluster_and_train_best(cluster, sample_data, tmp_path, capsys):
    args = ["tune", "logreg", "--source", "sample", "--models-dir", str(tmp_path), "--cv", "3",
            "--max-train", "600", "--param", "C=0.1,1", "--dask", cluster.scheduler_address, "--train-best"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"engine: dask {cluster.scheduler_address}" in out and "2 candidates x 3 folds = 6 fits" in out
    assert "CV accuracy %" in out and "best: C=" in out and "test accuracy" in out
    best_c = float(out.split("best: C=")[1].split(":")[0])
    record = make_store(tmp_path, sample_data).latest("logreg")
    assert record.options["params"]["C"] == best_c and record.n_train == sample_data.n_train
    assert main(args[:-1]) == 0 and "cached result" in capsys.readouterr().out
    assert main(["cv", "logreg", "--source", "sample", "--models-dir", str(tmp_path), "--cv", "3",
                 "--max-train", "600", "--local"]) == 0
    assert "trained" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["tune", "knn", "--param", "k=1"], "unknown parameter 'k'"),
        (["tune", "knn", "--param", "n_neighbors=one"], "'one'"),
        (["tune", "cnnx"], "unknown model 'cnnx'"),
        (["tune", "knn", "--max-train", "25", "--cv", "5", "--param", "pca=20"], "max_train=25"),
    ],
)
def test_cli_bad_input_exits_2(args, needle, tmp_path, capsys):
    assert main([*args, "--source", "sample", "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err
    assert search_files(tmp_path) == []


def test_cli_table_shows_cached_cv_columns(tmp_path, capsys):
    common = ["--source", "sample", "--models-dir", str(tmp_path)]
    assert main(["train", "--models", "logreg", "--max-train", "500", *common]) == 0
    assert "CV accuracy %" not in capsys.readouterr().out
    assert main(["cv", "logreg", "--cv", "3", "--max-train", "600", *common]) == 0
    cv_line = capsys.readouterr().out.splitlines()[-1]
    assert main(["evaluate", "--models", "logreg", "--max-train", "500", *common]) == 0
    out = capsys.readouterr().out
    assert "CV accuracy %" in out and "CV ± std" in out
    assert cv_line.split()[3] in out  # the same CV accuracy (percent, 2 decimals)
