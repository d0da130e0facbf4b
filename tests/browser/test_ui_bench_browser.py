"""benchmarks/ui_bench.py end to end on the sample: it starts the app, drives every timed
interaction in Chromium once and prints a row for each (a smoke test that the benchmark still
runs; the figures themselves are measured on full MNIST, see docs/ui-benchmark.md)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.browser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ui_bench_times_every_interaction(sample_models_dir, tmp_path):
    from conftest import _require_chromium

    _require_chromium()
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from ui_bench import INTERACTIONS

    folder, models = sample_models_dir
    out_file = tmp_path / "ui.md"
    # Chromium's profile (and its socket, at most 107 bytes of path) goes under TMPDIR: a short one
    short_tmp = tempfile.mkdtemp(prefix="uib-", dir="/tmp")
    env = {**os.environ, "TMPDIR": short_tmp}
    result = subprocess.run(
        [sys.executable, "benchmarks/ui_bench.py", "--source", "sample", "--models-dir", str(folder), "--reps", "1",
         "--no-floor", "--out", str(out_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    shutil.rmtree(short_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    table = out_file.read_text()
    for name, what in INTERACTIONS:
        if name == "Robustness page open, cached results":  # nothing computed on the sample: the row says so
            assert re.search(rf"^\| {re.escape(name)} \| .* \| 0 \| .*n/a: nothing cached", table, re.M), table
            continue
        row = re.search(rf"^\| {re.escape(name)} \| {re.escape(what)} \| 1 \| (\d+\.\d+) \| (\d+\.\d+) \| (\d+\.\d+) \| (meets|misses) ",
                        table, re.M)
        assert row, (name, table)
        assert 0 < float(row[1]) < 120
    assert f"{len(models)} trained in" in table
    assert re.search(r"after visiting every page: \*\*\d+ MB\*\*", table)
