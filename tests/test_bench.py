"""End-to-end smoke test of ``python -m core.bench --quick`` on the offline sample."""

from __future__ import annotations

import csv
import math

import pytest

from core.cli import bench

FAMILIES = ["knn", "logreg"]  # the cheapest pairs on the 4,000-digit sample (a few seconds each)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert bench.main(["--quick", "--out", str(out), "--families", *FAMILIES]) == 0
    with open(out / "bench.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return out, rows, (out / "bench.md").read_text()


def _num(row, key):
    return float(row[key])


def test_files_have_expected_columns(result):
    _, rows, md = result
    keys = [k for k, _ in bench.COLUMNS]
    assert list(rows[0]) == keys
    header = next(line for line in md.splitlines() if line.startswith("| model |"))
    assert [c.strip() for c in header.strip("|").split("|")] == [h for _, h in bench.COLUMNS]
    assert [(r["family"], r["kind"]) for r in rows] == [(f, k) for f in FAMILIES for k in ("catalog", "tutorial")]
    for line in ("machine", "threads", "data", "versions", "date", "Totals", "Targets"):
        assert line in md
    assert "sample" in md and "not applicable" in md  # targets are for full MNIST only


def test_metrics_are_sane(result):
    _, rows, _ = result
    assert len(rows) == 2 * len(FAMILIES), [r["model"] for r in rows]  # a row per catalog model and counterpart
    for r in rows:
        assert 50 < _num(r, "accuracy_pct") <= 100
        assert 0 < _num(r, "macro_f1_pct") <= 100
        for key in ("fit_s", "predict_s", "latency_ms", "latency_1t_ms", "model_mb"):
            assert _num(r, key) > 0, (r["model"], key)
        assert r["training_set"] == "4,000"


def test_ratios_match_the_rows(result):
    _, rows, md = result
    tutorial = {r["family"]: r for r in rows if r["kind"] == "tutorial"}
    assert sorted(tutorial) == sorted(FAMILIES) and len(rows) == 2 * len(FAMILIES)
    for r in rows:
        if r["kind"] == "tutorial":
            assert r["time_ratio"] == r["error_ratio"] == ""
            continue
        t = tutorial[r["family"]]
        total = lambda row: _num(row, "fit_s") + _num(row, "predict_s")
        err = lambda row: 100 - _num(row, "accuracy_pct")
        assert math.isclose(_num(r, "time_ratio"), total(r) / total(t), rel_tol=1e-9)
        assert math.isclose(_num(r, "error_ratio"), err(r) / err(t), rel_tol=1e-9)
        # the markdown shows the same ratio, rounded
        line = next(line for line in md.splitlines() if line.startswith(f"| {r['model']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        shown = float(cells[[k for k, _ in bench.COLUMNS].index("time_ratio")])
        assert abs(shown - total(r) / total(t)) <= 0.0005 + 1e-12
    cat = sum(total(r) for r in rows if r["kind"] == "catalog")
    tut = sum(total(r) for r in rows if r["kind"] == "tutorial")
    assert f"speed-up {tut / cat:.2f}x" in md
    assert "Deskewing the training and test sets once takes" in md


def test_only_one_side_has_no_ratios(tmp_path):
    assert bench.main(["--quick", "--out", str(tmp_path), "--families", "knn", "--only", "catalog"]) == 0
    with open(tmp_path / "bench.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows] == ["catalog"]
    assert rows[0]["time_ratio"] == rows[0]["error_ratio"] == ""
    assert "speed-up n/a" in (tmp_path / "bench.md").read_text()


def test_heavy_entry_is_opt_in():
    assert all(e.kind != "heavy" for e in bench.entries())
    heavy = [e for e in bench.entries(heavy=True) if e.kind == "heavy"]
    assert len(heavy) == 1 and heavy[0].options.augment == "shifts" and "opt-in" in heavy[0].notes


def test_families_and_targets_come_from_the_catalog_and_the_targets_file(tmp_path):
    from core.models.catalog import MODEL_NAMES

    assert bench.FAMILIES + bench.DEEP_FAMILIES == MODEL_NAMES
    assert bench.TARGETS_FILE.parent.name == "benchmarks" and "core" not in bench.TARGETS_FILE.parts[-3:-1]
    targets = bench.load_targets()
    assert targets["accuracy"]["knn"] == 0.97 and targets["best"]["accuracy"] == 0.992
    rows = [{"family": "knn", "kind": "catalog", "accuracy_pct": 96.0, "model": "catalog: KNN"}]
    tot = {"speedup": None}
    checks = {name: ok for name, ok, _ in bench.check_targets(rows, tot, targets)}
    assert checks["knn >= 97%"] is False
    custom = tmp_path / "t.toml"
    custom.write_text("[accuracy]\nknn = 0.95\n")
    checks = {name: ok for name, ok, _ in bench.check_targets(rows, tot, bench.load_targets(custom))}
    assert checks == {"knn >= 95%": True}
    assert bench.load_targets(tmp_path / "missing.toml") == {}
