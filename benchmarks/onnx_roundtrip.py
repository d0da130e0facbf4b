"""ONNX round trip: export every trained catalog model, import the file back, compare.

For each model trained in ``--models-dir`` (read only): export it (core.models.export), import
the bytes into a scratch store (core.store.imports: layout, scale and output kind detected,
test set predicted), and print the test accuracy before and after, the share of test digits
with the same answer, the export and import times, the ONNX file's size and the imported
model's single-digit latency (median of warm calls).

    python benchmarks/onnx_roundtrip.py --source sample --models-dir /tmp/models
    MNIST_DIR=/path/to/mnist python benchmarks/onnx_roundtrip.py --source idx --models-dir models
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.models.catalog import MODEL_NAMES, get_spec
from core.models.export import export_onnx
from core.models.predict import single_digit_latency_ms
from core.store.artifacts import ArtifactStore
from core.store.imports import import_onnx
from core.store.queries import latest_model
from core.store.settings import Settings
from core.store.workspace import open_workspace


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=None)
    p.add_argument("--mnist-dir", default=None)
    p.add_argument("--models-dir", required=True)
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES))
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    ws = open_workspace(Settings.from_env().with_(source=args.source, mnist_dir=args.mnist_dir, models_dir=args.models_dir))
    data = ws.data
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()} {platform.processor() or ''}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores; data: {data.description}")
    print("| model | accuracy before % | after % | same answer % | export s | import s | ONNX MB | latency ms/digit |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        target = ArtifactStore(Path(scratch) / "imports", data=data, key_file=ws.settings.signing_key_file)
        # the newest artifact of each model is copied and loaded from the copy: the store removes an
        # artifact it cannot load, and the models folder may be shared with running trainers
        copies = ArtifactStore(Path(scratch) / "models", data=data, key_file=ws.settings.signing_key_file)
        copies.folder.mkdir()
        for name in args.models:
            record = ws.store.latest(name)
            if record is not None:
                for path in ws.store.record_paths(record).all()[:3]:
                    if path.exists():
                        shutil.copy2(path, copies.folder / path.name)
            model = latest_model(copies, name)
            if model is None:
                print(f"| {name} | not trained | | | | | | |")
                continue
            before = copies.predictions(model)
            start = time.perf_counter()
            payload = export_onnx(model.pipeline, score_kind=str(get_spec(name).score_kind))
            export_s = time.perf_counter() - start
            start = time.perf_counter()
            imported, _notes = import_onnx(target, f"{name}.onnx", name=f"rt_{name}", payload=payload)
            import_s = time.perf_counter() - start
            after = target.predictions(imported)
            acc_b = 100 * np.mean(before.y_pred == before.y_true)
            acc_a = 100 * np.mean(after.y_pred == after.y_true)
            same = 100 * np.mean(before.y_pred == after.y_pred)
            latency = single_digit_latency_ms(imported.pipeline, data.X_test, repeats=31)
            print(f"| {name} ({model.record.options_summary()}) | {acc_b:.2f} | {acc_a:.2f} | {same:.2f} | {export_s:.1f} | {import_s:.1f} | "
                  f"{len(payload) / 1e6:.2f} | {latency:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
