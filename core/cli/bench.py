"""Benchmark: the catalog's models against tutorial-style MNIST pipelines, in one run.

``python -m core.bench`` trains every default catalog model cold (no artifact cache) and
its tutorial counterpart (library defaults, as the classic MNIST walkthroughs build them),
evaluates both on the whole test set, prints one table and writes it as markdown and CSV
into ``--out``. ``--quick`` runs on the 5,000-digit offline sample as a smoke test.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn
import threadpoolctl
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from core.analysis.evaluation import TestPredictions, accuracy, classification_table
from core.data import preprocessing
from core.data.sources import DataSourceError, MnistData, load_mnist, load_sample
from core.models.catalog import MODEL_NAMES, build_pipeline, get_spec, is_available
from core.models.fitting import train_pipeline
from core.models.predict import model_scores, single_digit_latency_ms
from core.store.records import TrainOptions

#: Catalog models without a tutorial counterpart (kind "deep": own targets, not in the speed-up totals).
DEEP_FAMILIES: tuple[str, ...] = ("cnn",)
#: Every other catalog model; those with a tutorial counterpart in :data:`TUTORIAL` also get its row.
FAMILIES: tuple[str, ...] = tuple(n for n in MODEL_NAMES if n not in DEEP_FAMILIES)
COLUMNS = [  # CSV column -> markdown header
    ("model", "model"), ("family", "family"), ("kind", "kind"), ("training_set", "training set"),
    ("accuracy_pct", "accuracy %"), ("macro_f1_pct", "macro F1 %"), ("fit_s", "fit s"),
    ("predict_s", "predict s (test set)"), ("latency_ms", "1-digit latency ms"),
    ("latency_1t_ms", "1-digit latency ms, 1 thread"), ("model_mb", "model MB"),
    ("n_jobs", "n_jobs"), ("time_ratio", "time ratio cat/tut"), ("error_ratio", "error ratio cat/tut"),
    ("notes", "notes"),
]
#: The targets live outside the installed package, in the repository's benchmarks/ folder.
TARGETS_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "targets.toml"
SVC_SUBSET, SVC_OVR_SUBSET = 20_000, 10_000


def _float_pixels(X):
    """0-255 as float64, the dtype ``fetch_openml`` hands the tutorials."""
    return np.asarray(X, dtype=np.float64)


def _div255(X):
    return np.asarray(X, dtype=np.float64) / 255.0


def _raw(est):
    return make_pipeline(FunctionTransformer(_float_pixels), est)


def _scaled(est):
    return make_pipeline(FunctionTransformer(_div255), est)


@dataclass(frozen=True)
class Entry:
    """One row to measure.

    Catalog rows (``options`` set) fit cold through :func:`core.models.fitting.train_pipeline`,
    exactly as the app trains them; tutorial rows
    fit ``build()``, an unfitted estimator taking (n, 784) uint8, on the first
    ``max_train`` training digits (all when None), as tutorials slice.
    """

    model: str
    family: str
    kind: str  # "catalog", "tutorial" or "heavy"
    build: Callable[[], Any] | None = None
    max_train: int | None = None
    options: TrainOptions | None = None
    notes: str = ""


TUTORIAL: dict[str, tuple[str, Callable[[], Any], int | None]] = {
    "sgd": ("SGDClassifier(), raw 0-255 pixels", lambda: _raw(SGDClassifier(random_state=0)), None),
    "random_forest": ("RandomForestClassifier(100), raw pixels",
                      lambda: _raw(RandomForestClassifier(n_estimators=100, random_state=0)), None),
    "knn": ("KNeighborsClassifier(), raw pixels", lambda: _raw(KNeighborsClassifier()), None),
    "svc_ovo": ("SVC() rbf, raw pixels", lambda: _raw(SVC()), SVC_SUBSET),
    "svc_ovr": ("OneVsRestClassifier(SVC()), raw pixels", lambda: _raw(OneVsRestClassifier(SVC())), SVC_OVR_SUBSET),
    "logreg": ("LogisticRegression(max_iter=200), pixels/255",
               lambda: _scaled(LogisticRegression(max_iter=200)), None),
    "mlp": ("MLPClassifier((256,), early_stopping), pixels/255",
            lambda: _scaled(MLPClassifier((256,), early_stopping=True, random_state=0)), None),
}


def entries(families=FAMILIES, *, only: str | None = None, heavy: bool = False) -> list[Entry]:
    """Rows in run order: per family the catalog model, then its tutorial counterpart."""
    rows = []
    for fam in families:
        if fam in DEEP_FAMILIES:
            if only in (None, "catalog"):
                rows.append(Entry(f"catalog: {get_spec(fam).label}", fam, "deep", options=TrainOptions(),
                                  notes="no tutorial counterpart; not in the speed-up totals"))
            continue
        if only in (None, "catalog"):
            rows.append(Entry(f"catalog: {get_spec(fam).label}", fam, "catalog", options=TrainOptions()))
        if only in (None, "tutorial") and fam in TUTORIAL:
            label, build, max_train = TUTORIAL[fam]
            rows.append(Entry(f"tutorial: {label}", fam, "tutorial", build=build, max_train=max_train))
    if heavy and only in (None, "catalog"):
        rows.append(Entry(f"catalog: {get_spec('svc_ovo').label} + shifts", "svc_ovo", "heavy",
                          options=TrainOptions(augment="shifts"),
                          notes="opt-in, augmented: TrainOptions(augment='shifts'), ±1-pixel shifts of the deskewed digits"))
    return rows


def _n_jobs(est) -> str:
    values = {v for k, v in est.get_params().items() if k == "n_jobs" or k.endswith("__n_jobs")}
    return ", ".join(sorted("1 (default)" if v is None else str(v) for v in values)) or "n/a"


def _model_mb(est) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(est, path)
        return path.stat().st_size / 1e6


def _fit_catalog(entry: Entry, data: MnistData) -> tuple[Any, dict[str, Any]]:
    fit_jobs = _n_jobs(build_pipeline(entry.family, params=entry.options.params))
    resolved = entry.options.resolved(entry.family, n_train=data.n_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: train_pipeline reports it in notes
        fit = train_pipeline(entry.family, data.X_train, data.y_train, resolved=resolved, random_state=0)
    predict_jobs = _n_jobs(fit.pipeline)
    notes = ["stopped at max_iter (ConvergenceWarning)"] if fit.notes else []
    return fit.pipeline, {
        "training_set": f"{fit.n_fit:,}" + (" (5x shifts)" if resolved["augment"] != "none" else ""),
        "fit_s": round(fit.fit_seconds, 3), "model_mb": _model_mb(fit.pipeline), "notes": notes,
        "n_jobs": fit_jobs if fit_jobs == predict_jobs else f"{fit_jobs} fit, {predict_jobs} predict",
    }


def _fit_tutorial(entry: Entry, data: MnistData) -> tuple[Any, dict[str, Any]]:
    X, y = data.X_train, data.y_train
    subset = entry.max_train is not None and entry.max_train < len(y)
    if subset:
        X, y = X[: entry.max_train], y[: entry.max_train]
    est = entry.build()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    fit_s = time.perf_counter() - start
    converged = not any(w.category.__name__ == "ConvergenceWarning" for w in caught)
    return est, {
        "training_set": f"{len(y):,}" + (" (first digits)" if subset else ""), "fit_s": fit_s,
        "model_mb": _model_mb(est), "n_jobs": _n_jobs(est),
        "notes": [] if converged else ["stopped at max_iter (ConvergenceWarning)"],
    }


def run_entry(entry: Entry, data: MnistData) -> dict[str, Any]:
    """Fit ``entry`` cold on the training set and evaluate it on the whole test set."""
    est, fit = (_fit_catalog if entry.options is not None else _fit_tutorial)(entry, data)
    notes = ([entry.notes] if entry.notes else []) + fit["notes"]
    start = time.perf_counter()
    scores, kind = model_scores(est, data.X_test)
    y_pred = np.asarray(est.classes_)[np.argmax(scores, axis=1)]
    predict_s = time.perf_counter() - start
    preds = TestPredictions(data.y_test, y_pred, scores, kind, predict_s, single_digit_latency_ms(est, data.X_test))
    with threadpoolctl.threadpool_limits(1):  # OpenMP/BLAS pools of 1: no waiting for a busy core
        latency_1t = single_digit_latency_ms(est, data.X_test)
    return {
        "model": entry.model, "family": entry.family, "kind": entry.kind, "training_set": fit["training_set"],
        "accuracy_pct": 100 * accuracy(preds),
        "macro_f1_pct": 100 * float(classification_table(preds).loc["macro avg", "f1"]),
        "fit_s": fit["fit_s"], "predict_s": predict_s, "latency_ms": preds.latency_ms, "latency_1t_ms": latency_1t,
        "model_mb": fit["model_mb"], "n_jobs": fit["n_jobs"], "time_ratio": None, "error_ratio": None,
        "notes": "; ".join(notes),
    }


def add_ratios(rows: list[dict]) -> None:
    """On each default catalog row: (fit+predict) and error rate, catalog / tutorial of its family."""
    tutorial = {r["family"]: r for r in rows if r["kind"] == "tutorial"}
    for r in rows:
        t = tutorial.get(r["family"])
        if r["kind"] == "catalog" and t is not None:
            r["time_ratio"] = (r["fit_s"] + r["predict_s"]) / (t["fit_s"] + t["predict_s"])
            t_err = 100 - t["accuracy_pct"]
            r["error_ratio"] = (100 - r["accuracy_pct"]) / t_err if t_err > 0 else None


def totals(rows: list[dict], deskew_s: float = 0.0) -> dict[str, float | None]:
    """Summed fit+predict seconds of the default catalog (deskewing once, as in one
    ``python -m core train``) and of the tutorial suite; ``deskew_s`` is reported alongside."""
    cat_rows = [r for r in rows if r["kind"] == "catalog"]
    cat = sum(r["fit_s"] + r["predict_s"] for r in cat_rows)
    tut = sum(r["fit_s"] + r["predict_s"] for r in rows if r["kind"] == "tutorial")
    both = bool(cat_rows) and any(r["kind"] == "tutorial" for r in rows)
    return {"catalog_s": cat, "tutorial_s": tut, "speedup": tut / cat if both and cat > 0 else None,
            "deskew_s": deskew_s}


def time_deskew(data: MnistData) -> float:
    """Seconds to deskew the training plus the test set once."""
    start = time.perf_counter()
    preprocessing.deskew(data.X_train)
    preprocessing.deskew(data.X_test)
    return time.perf_counter() - start


def load_targets(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The targets from ``benchmarks/targets.toml`` (or ``path``); empty when the file is absent
    (e.g. an installed copy without the repository), so the report says "no targets"."""
    file = Path(path) if path is not None else TARGETS_FILE
    try:
        with open(file, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}


def check_targets(rows: list[dict], tot: dict, targets: dict[str, Any] | None = None) -> list[tuple[str, bool | None, str]]:
    """(target, passed or None when not measured, measured value) for the targets in ``targets``
    (default: :func:`load_targets`)."""
    targets = load_targets() if targets is None else targets
    goals = targets.get("accuracy", {})
    best_target = targets.get("best", {}).get("accuracy")
    speedup_target = targets.get("speed", {}).get("speedup")
    cat = {r["family"]: r for r in rows if r["kind"] in ("catalog", "deep")}
    tut = {r["family"]: r for r in rows if r["kind"] == "tutorial"}
    out = []
    for fam in FAMILIES:
        if fam in cat and fam in tut:
            a, b = cat[fam]["accuracy_pct"], tut[fam]["accuracy_pct"]
            out.append((f"{fam}: catalog >= tutorial accuracy", a >= b, f"{a:.2f}% vs {b:.2f}%"))
    for fam, goal in goals.items():
        if fam in cat:
            a = cat[fam]["accuracy_pct"]
            out.append((f"{fam} >= {100 * goal:g}%", a >= 100 * goal, f"{a:.2f}%"))
    cnn_targets = targets.get("cnn", {})
    if "cnn" in cat and cnn_targets:
        r = cat["cnn"]
        for key, limit in cnn_targets.items():
            ok = r[key] >= limit if key == "accuracy_pct" else r[key] <= limit
            out.append((f"cnn {key} {'>=' if key == 'accuracy_pct' else '<='} {limit:g}", ok, f"{r[key]:.2f}"))
    best = max((r for r in rows if r["kind"] in ("catalog", "heavy", "deep")), key=lambda r: r["accuracy_pct"], default=None)
    if best and best_target is not None:
        ok = best["accuracy_pct"] >= 100 * best_target
        out.append((f"best catalog model >= {100 * best_target:g}%", ok, f"{best['accuracy_pct']:.2f}% ({best['model']})"))
    if tot["speedup"] is not None and speedup_target is not None:
        out.append((f"default catalog >= {speedup_target:g}x faster than tutorials", tot["speedup"] >= speedup_target,
                    f"{tot['speedup']:.2f}x ({tot['catalog_s']:.1f} s vs {tot['tutorial_s']:.1f} s)"))
    return out


def environment(data: MnistData) -> dict[str, str]:
    """Machine, threads, data and versions, as short strings."""
    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((line.split()[1] for line in _lines("/proc/meminfo") if line.startswith("MemTotal")), None)
    pools = "; ".join(f"{p['internal_api']} ({p['user_api']}) {p['num_threads']} threads"
                      for p in threadpoolctl.threadpool_info())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.platform()}; CPU {cpu}; {os.cpu_count()} logical CPUs (os.cpu_count); "
                   f"RAM {int(mem) / 2**20:.1f} GiB" if mem else f"{platform.platform()}; CPU {cpu}",
        "threads": f"threadpoolctl: {pools or 'none loaded'}; n_jobs per row in the table "
                   f"(catalog -1 = all cores where the estimator takes n_jobs; tutorials library defaults)",
        "data": f"{data.description}, {data.location} [{data.reason or data.source}]; fingerprint {data.fingerprint}",
        "versions": f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
                    f"scipy {scipy.__version__}, joblib {joblib.__version__}, threadpoolctl {threadpoolctl.__version__}",
    }


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _fmt(key: str, value) -> str:
    if value is None or value == "":
        return "" if key in ("time_ratio", "error_ratio", "notes") else "-"
    if isinstance(value, float):
        digits = {"accuracy_pct": 2, "macro_f1_pct": 2, "latency_ms": 2, "latency_1t_ms": 2, "time_ratio": 3, "error_ratio": 3,
                  "model_mb": 1, "predict_s": 2}.get(key, 1)
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(k, r[k]) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


NOTE = (
    "Times are wall-clock seconds; predict = scores for the whole test set; latency = "
    "`core.models.predict.single_digit_latency_ms` (median of 15 single-digit `predict` calls after 3 warm-up calls), "
    "with the default thread pools and inside "
    "`threadpoolctl.threadpool_limits(1)` (n_jobs unchanged). Ratios are catalog / tutorial of the same family "
    "(time: fit + predict); below 1 means the catalog is faster / makes fewer errors. Catalog rows are trained "
    "cold by `core.models.fitting.train_pipeline` (fit s = its fit time, model MB = "
    "its joblib file), so they predict as the app does. They run in one process as `python -m core train` "
    "does: the deskew memo starts empty, the first catalog row pays for deskewing the training and test sets "
    "and the later rows reuse it. Tutorial rows get float64 pixels, as `fetch_openml` returns them."
)


def report(rows: list[dict], env: dict, tot: dict, targets: list, *, wall_s: float, load: str, full: bool) -> str:
    """The whole result as markdown: context, table, totals, targets."""
    speed = f"{tot['speedup']:.2f}x" if tot["speedup"] is not None else "n/a"
    totals_line = (
        f"**Totals** (fit + predict): default catalog {tot['catalog_s']:.1f} s, tutorial suite "
        f"{tot['tutorial_s']:.1f} s, speed-up {speed}. Whole run (with latency and size measurements): {wall_s:.0f} s."
    )
    deskew_line = (
        f"Deskewing the training and test sets once takes {tot['deskew_s']:.1f} s (measured before the run); "
        "the first catalog row includes it."
    )
    parts = [
        "# Benchmark: catalog vs tutorial-style pipelines", "",
        *(f"- **{k}**: {v}" for k, v in env.items()),
        f"- **load average** (1/5/15 min) at start / end: {load}", "",
        markdown_table(rows), "", NOTE, "", totals_line, "", deskew_line, "",
        "## Targets" + ("" if full else " (not applicable: not full MNIST, shown for the smoke test only)"), "",
        *(f"- {'PASS' if ok else 'FAIL' if ok is False else 'n/a'}: {name} ({value})" for name, ok, value in targets),
        *([] if targets else ["- no targets (benchmarks/targets.toml not found)"]),
    ]
    return "\n".join(parts) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k, _ in COLUMNS])
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r[k] is None else r[k]) for k, _ in COLUMNS})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR"), help="folder of IDX files (default: $MNIST_DIR)")
    p.add_argument("--out", default="bench_results", help="folder for bench.md and bench.csv (default: bench_results)")
    p.add_argument("--quick", action="store_true", help="smoke test on the 5,000-digit offline sample")
    p.add_argument("--only", choices=("catalog", "tutorial"), help="run one side only (no ratios)")
    p.add_argument("--families", nargs="+", choices=FAMILIES + DEEP_FAMILIES, metavar="FAMILY",
                   default=[*FAMILIES, *(f for f in DEEP_FAMILIES if is_available(f))],
                   help=f"model families to run (default: all installed): {', '.join(FAMILIES + DEEP_FAMILIES)}")
    p.add_argument("--targets", default=str(TARGETS_FILE), help="TOML file of targets (default: benchmarks/targets.toml)")
    p.add_argument("--include-heavy", action="store_true",
                   help="also the opt-in svc_ovo with +/-1 pixel shifts (300k digits; ~8+ min on 2 cores)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        data = load_sample() if args.quick else load_mnist("auto", mnist_dir=args.mnist_dir)
    except (OSError, ValueError, DataSourceError) as exc:  # bad folder (IdxFormatError), offline: say why
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(data)
    for k, v in env.items():
        print(f"{k}: {v}")
    load0 = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    t0 = time.perf_counter()
    deskew_s = time_deskew(data) if args.only != "tutorial" else 0.0
    rows = []
    preprocessing.clear_deskew_memo()  # start cold, then share deskewing as `core train` does
    for entry in entries(args.families, only=args.only, heavy=args.include_heavy):
        print(f"[{time.perf_counter() - t0:6.0f} s, load {os.getloadavg()[0]:.1f}] {entry.model} ...",
              file=sys.stderr, flush=True)
        row = run_entry(entry, data)
        print(f"         {row['accuracy_pct']:.2f}%  fit {row['fit_s']:.1f} s  predict {row['predict_s']:.2f} s",
              file=sys.stderr, flush=True)
        rows.append(row)
    wall_s = time.perf_counter() - t0
    load = f"{load0} / " + "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    add_ratios(rows)
    tot = totals(rows, deskew_s)
    full = data.n_train == 60_000 and data.n_test == 10_000
    text = report(rows, env, tot, check_targets(rows, tot, load_targets(args.targets)), wall_s=wall_s, load=load, full=full)
    (out / "bench.md").write_text(text)
    write_csv(rows, out / "bench.csv")
    print(text)
    print(f"wrote {out / 'bench.md'} and {out / 'bench.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
