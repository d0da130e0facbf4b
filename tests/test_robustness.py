"""Corruptions, the robustness table, its cache, slices and the two CLI commands, on real
models trained on the offline sample (KNN, SGD and a KNN trained on shifted copies)."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import make_store

from core.analysis.robustness import (
    RobustModel,
    compute_robustness,
    load_cached_robustness,
    robustness_models,
    select_digits,
    select_models,
)
from core.analysis.slices import PROPERTIES, digit_properties, find_slices, slice_mask
from core.cli.main import main
from core.data.corruptions import CORRUPTION_NAMES, SEVERITIES, UnknownCorruptionError, corrupt
from core.errors import ArtifactWarning, OptionsError, UnknownModelError
from core.plots.robustness import plot_robustness_table, plot_severity_curves, table_cell
from core.store.records import TrainOptions
from core.store.training import train_model

N = 120  # digits per robustness run in these tests


@pytest.fixture(scope="module")
def small(tmp_path_factory, sample_data):
    """A models folder with KNN, SGD and KNN trained on shifted copies (its own variant row)."""
    folder = tmp_path_factory.mktemp("robust-models")
    store = make_store(folder, sample_data)
    for name in ("knn", "sgd"):
        train_model(store, name)
    train_model(store, "knn", options=TrainOptions(augment="shifts"))
    return folder


def problems_store(folder, data):
    seen: list[str] = []
    return make_store(folder, data, problem=seen.append), seen


# ------------------------------------------------------------------ corruptions


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_severity_zero_leaves_digits_unchanged_and_pixels_change_more_with_severity(name, sample_data):
    X = sample_data.X_test[:200]
    assert np.array_equal(corrupt(X, name, 0), X)
    out = [corrupt(X, name, s) for s in (0, *SEVERITIES)]
    assert all(o.dtype == np.uint8 and o.shape == X.shape for o in out)
    mad = [np.abs(o.astype(float) - X).mean() for o in out]
    assert all(b > a for a, b in zip(mad, mad[1:])), f"{name}: mean absolute difference by severity {mad}"


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_corruptions_are_deterministic_per_digit_under_the_seed(name, sample_data):
    X, idx = sample_data.X_test[:60], np.arange(60)
    first = corrupt(X, name, 3, indices=idx, random_state=7)
    assert np.array_equal(first, corrupt(X, name, 3, indices=idx, random_state=7))
    # a digit is corrupted the same way whatever else is in the batch
    assert np.array_equal(corrupt(X[10:20], name, 3, indices=idx[10:20], random_state=7), first[10:20])


def test_the_seed_changes_random_corruptions_only(sample_data):
    X = sample_data.X_test[:50]
    assert not np.array_equal(corrupt(X, "gaussian_noise", 2, random_state=0), corrupt(X, "gaussian_noise", 2, random_state=1))
    assert np.array_equal(corrupt(X, "gaussian_blur", 2, random_state=0), corrupt(X, "gaussian_blur", 2, random_state=1))


def test_bad_corruption_arguments_are_named(sample_data):
    with pytest.raises(UnknownCorruptionError, match="unknown corruption 'blur'; valid names are: shift"):
        corrupt(sample_data.X_test[:2], "blur", 1)
    with pytest.raises(OptionsError, match="severity 6"):
        corrupt(sample_data.X_test[:2], "shift", 6)
    with pytest.raises(OptionsError, match=r"shape \(n, 784\)"):
        corrupt(np.zeros((2, 28, 28), np.uint8), "shift", 1)


# ------------------------------------------------------------------ the table


def test_digits_are_a_stratified_subset_and_bad_counts_are_refused(sample_data):
    idx = select_digits(sample_data.y_test, 200)
    assert len(idx) == 200 and np.all(np.diff(idx) > 0)
    counts = np.bincount(sample_data.y_test[idx], minlength=10)
    assert counts.min() >= 15  # every class, in proportion
    assert np.array_equal(select_digits(sample_data.y_test, None), np.arange(sample_data.n_test))
    for bad in (0, -5, sample_data.n_test + 1):
        with pytest.raises(OptionsError, match=f"digits {bad}"):
            select_digits(sample_data.y_test, bad)


@pytest.mark.slow  # trains its own models (module fixture)
def test_variants_are_rows_and_accuracy_at_severity_zero_is_clean_accuracy(small, sample_data):
    store, _ = problems_store(small, sample_data)
    rows = robustness_models(store)
    assert [m.id for m in rows] == ["sgd", "knn", "knn+shifts"]  # catalog order, the default options first
    result = compute_robustness(store, rows, digits=N)
    idx = result.indices
    for m in rows:
        clean = store.cached_predictions(m.record).y_pred[idx]
        long = result.long_table()
        zero = long[(long.model == m.id) & (long.severity == 0)].accuracy.unique()
        assert zero.tolist() == [pytest.approx(np.mean(clean == sample_data.y_test[idx]))]
        # and the model itself, run on severity-0 "corrupted" digits, gives that accuracy
        pipeline = store.load(m.record).pipeline
        again = pipeline.predict(corrupt(sample_data.X_test[idx], "rotate", 0, indices=idx))
        assert np.mean(again == sample_data.y_test[idx]) == pytest.approx(zero[0])
    table = result.table()
    assert list(table.columns) == ["clean", *CORRUPTION_NAMES, "mean", "drop"]
    assert table.loc["knn", "drop"] == pytest.approx(table.loc["knn", "clean"] - table.loc["knn", "mean"])
    assert table.loc["knn", "rotate"] == pytest.approx(long[(long.model == "knn") & (long.corruption == "rotate")
                                                            & (long.severity > 0)].accuracy.mean())


@pytest.mark.slow  # trains its own models (module fixture)
def test_flipped_digits_are_right_when_clean_and_wrong_when_corrupted(small, sample_data):
    store, _ = problems_store(small, sample_data)
    result = compute_robustness(store, robustness_models(store), digits=N)
    model = store.load(store.latest("sgd")).pipeline
    flipped = result.flipped("sgd", "rotate", 4)
    assert len(flipped) == result.flipped_counts(4).loc["sgd", "rotate"] > 0
    y = sample_data.y_test[flipped]
    assert np.all(model.predict(sample_data.X_test[flipped]) == y)
    assert np.all(model.predict(corrupt(sample_data.X_test[flipped], "rotate", 4, indices=flipped)) != y)
    with pytest.raises(UnknownModelError, match="'mlp' is not in this table"):
        result.flipped("mlp", "rotate", 4)


@pytest.mark.slow  # trains its own models (module fixture)
def test_results_come_from_the_cache_and_a_corrupt_cache_is_recomputed_with_a_warning(small, sample_data):
    store, seen = problems_store(small, sample_data)
    rows = robustness_models(store)
    first = compute_robustness(store, rows, digits=N)
    cached, missing = load_cached_robustness(store, rows, digits=N)
    assert missing == [] and {k: v.tolist() for k, v in cached.corrupted.items()} == \
        {k: v.tolist() for k, v in first.corrupted.items()}
    files = sorted((small / "robustness").glob("knn-*.npz"))
    assert files
    for f in files:
        f.write_bytes(b"not a zip file")
    cached, missing = load_cached_robustness(store, rows, digits=N)
    assert {m.id for m in missing} == {"knn", "knn+shifts"} and set(cached.corrupted) == {"sgd"}
    assert any("is unusable" in message and "computed again" in message for message in seen)
    again = compute_robustness(store, rows, digits=N)
    assert np.array_equal(again.corrupted["knn"], first.corrupted["knn"])
    assert load_cached_robustness(store, rows, digits=N)[1] == []
    # another seed or subset is another cache entry
    assert {m.id for m in load_cached_robustness(store, rows, digits=N, random_state=1)[1]} == {m.id for m in rows}


@pytest.mark.slow  # trains its own models (module fixture)
def test_a_model_that_cannot_take_images_is_left_out_with_a_message(small, sample_data):
    store, _ = problems_store(small, sample_data)
    imported = RobustModel("my_preds", "my_preds", "my predictions (file)", "0" * 64, None,
                           "a prediction file has no model to run on corrupted digits")
    rows = robustness_models(store, extra=[imported])
    kept, notes = select_models(rows, None)
    assert "my_preds" not in {m.id for m in kept}
    assert notes == ["my_preds: left out: a prediction file has no model to run on corrupted digits."]
    result = compute_robustness(store, rows, digits=N, corruptions=["shift"])
    assert "my_preds" not in result.corrupted and result.skipped == notes
    with pytest.raises(UnknownModelError, match="unknown model .resnet.; the trained models are: sgd, knn, knn\\+shifts, my_preds"):
        select_models(rows, ["resnet"])


@pytest.mark.slow  # trains its own models (module fixture)
def test_table_figure_cells_map_back_to_models_and_corruptions(small, sample_data):
    store, _ = problems_store(small, sample_data)
    result = compute_robustness(store, robustness_models(store), digits=N)
    table = result.table(3)
    fig = plot_robustness_table(table, flipped=result.flipped_counts(3), corruption_columns=result.corruptions,
                                selected=("knn", "rotate"))
    col = list(table.columns).index("rotate")
    assert table_cell(1 * table.shape[1] + col, table) == (table.index[1], "rotate")
    assert len(fig.data[1].x) == table.size
    weakest = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert len(weakest) == len(result.corruptions)
    curves = plot_severity_curves(result.long_table(), catalog_names={m.id: m.name for m in result.models})
    colours = {t.name: t.line.color for t in curves.data}
    assert colours["knn"] == colours["knn+shifts"] != colours["sgd"]


# ------------------------------------------------------------------ slices


def test_digit_properties_measure_what_they_say(sample_data):
    X = sample_data.X_test[:40]
    props = digit_properties(X)
    assert list(props.columns) == list(PROPERTIES)
    assert np.allclose(props["ink"], X.sum(axis=1) / 255)
    assert props["width"].between(1, 28).all() and props["height"].between(1, 28).all()
    leaning = corrupt(X, "shear", 5, random_state=0)
    thick = corrupt(X, "thicken", 3)
    assert (digit_properties(thick)["thickness"] > props["thickness"]).mean() > 0.9
    assert not np.allclose(digit_properties(leaning)["slant"], props["slant"])


def test_find_slices_finds_a_planted_weak_range_worst_first():
    rng = np.random.default_rng(0)
    n = 2000
    props = pd.DataFrame({name: rng.normal(size=n) for name in PROPERTIES})
    correct = rng.random(n) > 0.02
    weak = props["thickness"] > 1.2  # ~230 digits the model gets wrong a third of the time
    correct[weak] = rng.random(weak.sum()) > 0.33
    found = find_slices(correct, props)
    assert not found.empty and found.iloc[0]["property"] == "thickness" and found.iloc[0]["low"] > 0.8
    assert (found["n"] >= 50).all() and (found["gap"] >= 0.02).all()
    assert list(found["accuracy"]) == sorted(found["accuracy"])
    for row in found.itertuples():
        mask = slice_mask(props, row.slice)
        assert mask.sum() == row.n and (~correct[mask]).sum() == row.errors
        assert row.error_share == pytest.approx(row.errors / (~correct).sum())


# ------------------------------------------------------------------ CLI


@pytest.mark.slow  # trains its own models (module fixture)
def test_robustness_cli_prints_the_table_and_writes_the_csv(small, sample_data, tmp_path, capsys):
    out = tmp_path / "r.csv"
    rc = main(["robustness", "--source", "sample", "--models-dir", str(small), "--digits", str(N),
               "--models", "knn", "--corruptions", "shift", "rotate", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "clean" in text and "rotate" in text and "knn+shifts" in text and "sgd" not in text
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["model", "corruption", "severity", "accuracy"]
    assert len(rows) == 2 * 2 * 6  # knn and knn+shifts x 2 corruptions x severities 0-5
    store = make_store(small, sample_data)
    idx = select_digits(sample_data.y_test, N)
    knn = next(m for m in robustness_models(store) if m.id == "knn")
    clean = np.mean(store.cached_predictions(knn.record).y_pred[idx] == sample_data.y_test[idx])
    zero = [float(r["accuracy"]) for r in rows if r["model"] == "knn" and r["severity"] == "0"]
    assert zero == [pytest.approx(clean, abs=1e-6)] * 2


@pytest.mark.parametrize("args, message", [
    (["--digits", "0"], "digits 0: use a number from 10 to the test set's 1,000 digits, or 'all'"),
    (["--digits", "1001"], "digits 1001"),
    (["--digits", "many"], "digits 'many' is not a number"),
    (["--corruptions", "blur"], "unknown corruption 'blur'"),
    (["--models", "resnet"], "unknown model 'resnet'"),
    (["--models", "mlp"], "model 'mlp' is not trained on this data"),
])
@pytest.mark.slow  # trains its own models (module fixture)
def test_robustness_cli_bad_input_gets_a_clear_message(args, message, small, capsys):
    assert main(["robustness", "--source", "sample", "--models-dir", str(small), *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow  # trains its own models (module fixture)
def test_slices_cli_prints_one_slice_per_line(small, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArtifactWarning)
        rc = main(["slices", "sgd", "--source", "sample", "--models-dir", str(small), "--top", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0 and lines[0].startswith("# sgd (SGD (hinge))")
    assert 1 <= len(lines) - 1 <= 3
    assert all(" digits, accuracy " in line and "of the model's errors" in line for line in lines[1:])
    assert main(["slices", "nope", "--source", "sample", "--models-dir", str(small)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
