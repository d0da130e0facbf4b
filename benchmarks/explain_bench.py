"""Time per model to explain one test digit (core.analysis.explain): ``python benchmarks/explain_bench.py``.

Prints, for every trained catalog model, the one-off neighbour-index build (per feature
space, cached after) and the median / max seconds to explain one digit (occlusion maps,
class weights, nearest training digits) with a warm index, against the 0.5 s target.
Options: ``--source/--mnist-dir/--models-dir`` as for ``python -m core``, ``--digits N``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings

from core.analysis.explain import clear_neighbour_cache, time_explanations
from core.cli.common import add_data_arguments, workspace_from_args
from core.errors import ArtifactWarning
from core.models.catalog import MODEL_NAMES
from core.store.queries import latest_model

TARGET_S = 0.5


def load_average() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--digits", type=int, default=20, help="test digits per model (default 20)")
    args = parser.parse_args(argv)
    ws = workspace_from_args(args)
    data = ws.data
    models = {}
    for name in MODEL_NAMES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ArtifactWarning)
            model = latest_model(ws.store, name)
        if model is None:
            print(f"skipped {name}: not trained (python -m core train --models {name})", file=sys.stderr)
        else:
            models[name] = model.pipeline
    if not models:
        print("error: no trained models; train them first with python -m core train", file=sys.stderr)
        return 2
    clear_neighbour_cache()
    load_before = load_average()
    table = time_explanations(models, data, n_digits=args.digits)
    load_after = load_average()
    print(f"data: {data.description}; {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
          f"load average before {load_before}, after {load_after}")
    print(f"{'model':<15}{'index build s':>15}{'explain median s':>18}{'explain max s':>15}  target <= {TARGET_S} s")
    for row in table.itertuples(index=False):
        ok = "ok" if row.explain_max_s <= TARGET_S else "SLOW"
        print(f"{row.model:<15}{row.index_build_s:>15.2f}{row.explain_median_s:>18.3f}{row.explain_max_s:>15.3f}  {ok}")
    return 0 if (table["explain_max_s"] <= TARGET_S).all() else 1


if __name__ == "__main__":
    sys.exit(main())
