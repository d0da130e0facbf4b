"""``python -m core map``: every test digit as a point in 2-D, written as CSV.

Writes ``index,x,y,label,placement`` per test digit to ``--out`` and prints the map's faithfulness:
``trustworthiness: 0.xx`` (sklearn, k=10, stratified subset) and the 2-D 10-nearest-neighbour
label agreement, then where the digits sit (core.analysis.map_placement): how many lie deep inside
another digit's cluster (likely label errors) and on a border, by label -> cluster. Maps are cached as store side files (core.analysis.embedding); ``--force``
recomputes. ``--space`` is ``pixels`` (deskewed PCA-50) or a trained model with a hidden layer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.analysis.embedding import METHODS, NEIGHBOURS, PIXELS, check_space, load_or_build_map, map_frame
from core.analysis.map_placement import place_digits, summarize_placement
from core.cli.common import FitsBar, add_data_arguments, workspace_from_args
from core.errors import ConfigError, OptionsError
from core.models.catalog import MODEL_NAMES, get_spec
from core.progress import reporting
from core.store.queries import latest_model, trained_names

NAME = "map"
HELP = "write a 2-D map (UMAP, t-SNE or PCA) of the test digits as CSV and print how faithful it is"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", default=PIXELS, metavar="SPACE",
                        help=f"feature space: {PIXELS} (deskewed PCA-50, default) or a trained model with a hidden layer "
                             "(mlp, cnn)")
    parser.add_argument("--method", default="umap", metavar="METHOD", help=f"layout: {', '.join(METHODS)} (default umap)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the layout (default 0)")
    parser.add_argument("--out", required=True, metavar="FILE.csv", help="where to write index,x,y,label")
    parser.add_argument("--force", action="store_true", help="recompute even when the map is cached")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.method not in METHODS:
        raise OptionsError(f"unknown --method {args.method!r}; choose one of {', '.join(METHODS)}.")
    if args.space != PIXELS and args.space not in MODEL_NAMES:
        raise OptionsError(f"unknown --space {args.space!r}; choose {PIXELS} or a trained model with a hidden layer "
                           f"({', '.join(n for n in MODEL_NAMES if get_spec(n).features)}).")
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; give a file name such as map.csv.")
    ws = workspace_from_args(args)
    pipeline, model_id, pred = None, "", None
    if args.space != PIXELS:
        check_space(args.space, trained_names(ws.store))  # names the spaces that work
        model = latest_model(ws.store, args.space)
        if model is None:
            raise OptionsError(f"model {args.space!r} could not be loaded; retrain it (python -m core train --models "
                               f"{args.space} --force) or use --space {PIXELS}.")
        pipeline, model_id = model.pipeline, model.record.model_sha256
        pred = ws.store.predictions(model).y_pred
    bar = FitsBar(f"map {args.space} {args.method}")
    try:
        with reporting(bar):
            layout = load_or_build_map(ws.store, space=args.space, method=args.method, random_state=args.seed,
                                       pipeline=pipeline, name=args.space, model_id=model_id, force=args.force)
    finally:
        bar.close()
    frame = map_frame(layout, ws.data.y_test)
    placed = place_digits(layout.xy, ws.data.y_test, k=NEIGHBOURS)
    frame["placement"] = placed["placement"]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False, float_format="%.5f")
    except OSError as exc:
        raise ConfigError(f"cannot write --out {str(out)!r}: {exc.strerror or exc}") from exc
    source = "cached" if layout.from_cache else f"computed in {layout.seconds:.1f} s"
    print(f"map of {len(frame):,} test digits ({ws.data.description}), {METHODS[args.method]} of {args.space}, "
          f"seed {args.seed}: {source}; wrote {out}", file=sys.stderr)
    print(f"trustworthiness: {layout.trustworthiness:.2f} (k=10, {layout.n_subset:,} digits)")
    print(f"neighbour agreement: {layout.neighbour_agreement:.2f} (share of 10 nearest 2-D neighbours with the same label)")
    for placement in ("deep", "border"):
        print(summarize_placement(placed, placement=placement, pred=pred).describe())
    return 0
