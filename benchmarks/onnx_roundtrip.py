"""ONNX round trip: export every trained catalog model, import the file back, compare.

For each model trained in ``--models-dir`` (read only): export it (core.models.export), import
the bytes into a scratch store (core.store.imports: layout, scale and output kind detected,
test set predicted), and print the test accuracy before and after, the share of test digits
with the same answer, the export and import times, the ONNX file's size and the imported
model's single-digit latency (median of warm calls).

    python benchmarks/onnx_roundtrip.py --source sample --models-dir /tmp/models --outside-cnn 300
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

from core.errors import DashboardError
from core.models.catalog import MODEL_NAMES, get_spec
from core.models.export import export_onnx
from core.models.predict import single_digit_latency_ms
from core.store.artifacts import ArtifactStore
from core.store.imports import import_onnx
from core.store.queries import latest_model
from core.store.records import TrainOptions
from core.store.settings import Settings
from core.store.workspace import open_workspace


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=None)
    p.add_argument("--mnist-dir", default=None)
    p.add_argument("--models-dir", required=True)
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES))
    p.add_argument("--augment", default=None, help="the variant trained with this augmentation (default: the newest variant)")
    p.add_argument("--outside-cnn", type=int, default=0, metavar="STEPS",
                   help="also train a plain PyTorch CNN for STEPS batches, export it two ways and import it")
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
            record = ws.store.latest(name) if args.augment is None else ws.store.record(name, TrainOptions(augment=args.augment))
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
            try:
                imported, _notes = import_onnx(target, f"{name}.onnx", name=f"rt_{name}", payload=payload)
            except DashboardError as exc:
                print(f"| {name} ({model.record.options_summary()}) | {100 * np.mean(before.y_pred == before.y_true):.2f} "
                      f"| refused: {str(exc).split(';')[0]} | | {export_s:.1f} | | {len(payload) / 1e6:.2f} | |", flush=True)
                continue
            import_s = time.perf_counter() - start
            after = target.predictions(imported)
            acc_b = 100 * np.mean(before.y_pred == before.y_true)
            acc_a = 100 * np.mean(after.y_pred == after.y_true)
            same = 100 * np.mean(before.y_pred == after.y_pred)
            latency = single_digit_latency_ms(imported.pipeline, data.X_test, repeats=31)
            print(f"| {name} ({model.record.options_summary()}) | {acc_b:.2f} | {acc_a:.2f} | {same:.2f} | {export_s:.1f} | {import_s:.1f} | "
                  f"{len(payload) / 1e6:.2f} | {latency:.2f} |", flush=True)
        if args.outside_cnn:
            outside_cnn(target, data, steps=args.outside_cnn, scratch=Path(scratch))
    return 0


def outside_cnn(target: ArtifactStore, data, *, steps: int, scratch: Path) -> None:
    """A CNN trained outside the project (plain PyTorch, ``steps`` batches of 64 on 0-1 pixels),
    exported PyTorch-style (NCHW logits) and Keras-style (NHWC softmax on 0-255), imported."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 49, 10))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    images = torch.tensor(data.X_train.reshape(-1, 1, 28, 28), dtype=torch.float32) / 255.0
    labels = torch.tensor(data.y_train, dtype=torch.int64)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(labels), (64,))
        loss = nn.functional.cross_entropy(net(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    train_s = time.perf_counter() - start
    with torch.no_grad():
        test = torch.tensor(data.X_test.reshape(-1, 1, 28, 28), dtype=torch.float32) / 255.0
        own = 100 * float((net(test).argmax(1).numpy() == data.y_test).mean())

    class Keras(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return torch.softmax(self.net(x.permute(0, 3, 1, 2) / 255.0), dim=1)

    print(f"\nOutside CNN: {steps} Adam steps of 64 digits in {train_s:.0f} s; PyTorch's own test accuracy {own:.2f}%")
    print("| export | file KB | import s | detected | accuracy after import % | latency ms/digit | predict ms/digit (whole test set) |")
    print("|---|---|---|---|---|---|---|")
    for style, module, example in (("PyTorch NCHW logits", net, torch.zeros(2, 1, 28, 28)),
                                   ("Keras-style NHWC softmax 0-255", Keras(), torch.zeros(2, 28, 28, 1))):
        path = scratch / f"{style.split()[0].lower()}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), str(path), input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
        start = time.perf_counter()
        model, _ = import_onnx(target, path, name=f"outside_{style.split()[0].lower().replace('-', '_')}")
        import_s = time.perf_counter() - start
        preds = target.predictions(model)
        rec = model.record
        latency = single_digit_latency_ms(model.pipeline, data.X_test, repeats=31)
        print(f"| {style} | {path.stat().st_size / 1e3:.0f} | {import_s:.1f} | {rec.layout}, {rec.scale}, {rec.output_kind} | "
              f"{100 * rec.accuracy_at_import:.2f} | {latency:.2f} | {preds.per_digit_ms:.3f} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
