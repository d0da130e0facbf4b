"""How well do models trained on MNIST read digits drawn on the dashboard's canvas?

Renders synthetic drawn digits (tests/drawn_digits.py: a "neat" and a "sloppy" set),
prepares them with core.data.drawing.prepare_canvas, and prints each model's accuracy for each
training augmentation, beside its accuracy on the real MNIST test digits. Models go to a
scratch folder (default /tmp/mnist_drawn_models), never to the repo's models/.

    python scripts/measure_drawn.py                       # knn, svc_ovo, mlp on the 4,000-digit sample
    python scripts/measure_drawn.py --full-mnist /path/to/mnist   # also a few full-MNIST fits
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from drawn_digits import drawn_set, photo_of

from core.data.drawing import prepare_canvas, prepare_upload
from core.data.sources import MnistData, load_mnist, load_sample
from core.models.catalog import AUGMENTATIONS
from core.store.artifacts import ArtifactStore
from core.store.records import TrainOptions
from core.store.settings import Settings
from core.store.training import train_model


def drawn_arrays(
    n_per_digit: int, *, sloppy: bool, seed: int, thicken: bool = True, photo: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 784) prepared pixels and (n,) true labels of a synthetic drawn set, from the canvas
    or (``photo``) from JPEG photos of the drawings on shaded paper."""
    drawings = drawn_set(n_per_digit, seed=seed, sloppy=sloppy)
    if photo:
        X = np.stack([prepare_upload(_jpeg(photo_of(d.rgba, seed=i))).pixels for i, d in enumerate(drawings)])
    else:
        X = np.stack([prepare_canvas(d.rgba, thicken=thicken).pixels for d in drawings])
    return X, np.array([d.label for d in drawings])


def _jpeg(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def measure(name: str, data: MnistData, augment: str, sets: dict, folder: Path) -> dict[str, float]:
    store = ArtifactStore(folder, data=data, key_file=Settings.from_env().signing_key_file)
    model = train_model(store, name, options=TrainOptions(augment=augment))
    row = {"fit_s": model.record.fit_seconds}  # as recorded when it was fitted, also for a cached model
    row["mnist_test"] = float(np.mean(model.pipeline.predict(data.X_test) == data.y_test))
    for label, (X, y) in sets.items():
        row[label] = float(np.mean(model.pipeline.predict(X) == y))
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["knn", "svc_ovo", "mlp"])
    ap.add_argument("--augment", nargs="+", default=list(AUGMENTATIONS), choices=AUGMENTATIONS)
    ap.add_argument("--per-digit", type=int, default=50, help="drawings of each digit per set (default 50)")
    ap.add_argument("--models-path", default="/tmp/mnist_drawn_models")
    ap.add_argument(
        "--full-mnist", metavar="DIR", help="IDX folder: also fit the models on full MNIST (no augmentation)"
    )
    args = ap.parse_args(argv)
    folder = Path(args.models_path)

    print("preparing drawings...", flush=True)
    sets = {
        "neat": drawn_arrays(args.per_digit, sloppy=False, seed=101),
        "sloppy": drawn_arrays(args.per_digit, sloppy=True, seed=102),
        "neat, no thickening": drawn_arrays(args.per_digit, sloppy=False, seed=101, thicken=False),
        "sloppy, no thickening": drawn_arrays(args.per_digit, sloppy=True, seed=102, thicken=False),
        "neat, photographed": drawn_arrays(args.per_digit, sloppy=False, seed=101, photo=True),
    }
    n = len(sets["neat"][1])
    cols = list(sets)
    print(f"{n} drawings per set; accuracy on MNIST test digits and on each drawn set\n")
    print("| data | model | augment | fit s | MNIST test | " + " | ".join(cols) + " |")
    print("|---" * (5 + len(cols)) + "|")

    runs = [(load_sample(), "sample 4k", name, aug) for name in args.models for aug in args.augment]
    if args.full_mnist:
        full = load_mnist("idx", mnist_dir=args.full_mnist)
        runs += [(full, "full 60k", name, "none") for name in args.models]
    for data, data_label, name, aug in runs:
        r = measure(name, data, aug, sets, folder)
        cells = " | ".join(f"{100 * r[c]:.1f}%" for c in cols)
        print(
            f"| {data_label} | {name} | {aug} | {r['fit_s']:.1f} | {100 * r['mnist_test']:.1f}% | {cells} |", flush=True
        )


if __name__ == "__main__":
    main()
