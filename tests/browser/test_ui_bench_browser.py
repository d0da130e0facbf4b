"""benchmarks/ui_bench.py end to end on the sample: it drives every timed interaction in Chromium
once against the session's Streamlit server and prints a row for each (a smoke test that the
benchmark still runs; the figures themselves are measured on full MNIST, see
docs/ui-benchmark.md). Starting its own server is what the benchmark does by default; the
browser tests' server is the same command on the same models."""

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


def test_ui_bench_times_every_interaction(server, sample_models_dir, tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import ui_bench

    folder, models = sample_models_dir
    out_file = tmp_path / "ui.md"
    # its own process: Playwright's sync API cannot start inside the session's (the browser fixture's)
    # event loop. Chromium's profile and socket (at most 107 bytes of path) go under a short TMPDIR.
    short_tmp = tempfile.mkdtemp(prefix="uib-", dir="/tmp")
    try:
        result = subprocess.run(
            [sys.executable, "benchmarks/ui_bench.py", "--source", "sample", "--models-dir", str(folder), "--reps", "1",
             "--no-floor", "--url", server.url, "--server-pid", str(server.proc.pid), "--out", str(out_file)],
            cwd=ROOT, env={**os.environ, "TMPDIR": short_tmp}, capture_output=True, text=True, timeout=600, check=False,
        )
    finally:
        shutil.rmtree(short_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    table = out_file.read_text()
    for name, what in ui_bench.INTERACTIONS:
        if name == "Robustness page open, cached results":  # nothing computed on the sample: the row says so
            assert re.search(rf"^\| {re.escape(name)} \| .* \| 0 \| .*n/a: nothing cached", table, re.M), table
            continue
        row = re.search(rf"^\| {re.escape(name)} \| {re.escape(what)} \| 1 \| (\d+\.\d+) \| (\d+\.\d+) \| (\d+\.\d+) \| (meets|misses) ",
                        table, re.M)
        assert row, (name, table)
        assert 0 < float(row[1]) < 120
    assert f"{len(models)} trained in" in table
    assert re.search(r"after visiting every page: \*\*\d+ MB\*\*", table)
