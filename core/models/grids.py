"""What can be tuned per catalog model: each parameter's user-facing name, type and default values.

The short name is also the key in ``TrainOptions.params`` (``pca`` is the number of PCA
components), so a search's best candidate trains as a variant without translation.
:func:`parse_grid` turns ``["C=1,10", "gamma=scale,0.01"]`` into typed values over the model's
default grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import OptionsError
from core.models.catalog import MODEL_NAMES, get_spec

__all__ = [
    "GRIDS",
    "TUNABLE_MODELS",
    "ParamSpec",
    "default_grid",
    "format_value",
    "parse_grid",
    "parse_values",
    "pipeline_path",
    "train_params",
    "validate_grid",
]


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter: ``name`` (user-facing, also the ``TrainOptions.params`` key),
    ``kind`` (``int``, ``float`` or ``layers``: hidden layer sizes written ``256`` or ``256x128``),
    ``choices`` (strings also allowed, e.g. ``scale``), whether ``None`` is allowed, a lower
    bound, and the default values searched."""

    name: str
    kind: str
    default: tuple[Any, ...]
    choices: tuple[str, ...] = ()
    allow_none: bool = False
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def describe(self) -> str:
        parts = {"int": "an integer", "float": "a number", "layers": "layer sizes like 256 or 256x128",
                 "str": "one of"}[self.kind]
        if self.kind == "str":
            parts += " " + ", ".join(self.choices)
        elif self.choices:
            parts += " or one of " + ", ".join(self.choices)
        if self.minimum is not None and self.maximum is not None:
            parts += f" >= {self.minimum:g} and <= {self.maximum:g}"
        elif self.minimum is not None:
            parts += f" >= {self.minimum:g}"
        if self.allow_none:
            parts += " or None"
        return parts

    def parse(self, text: str, *, model: str = "") -> Any:
        """``text`` as this parameter's type; OptionsError names the value and the expected type."""
        raw = text.strip()
        where = f"{model}: " if model else ""
        bad = OptionsError(f"{where}value {raw!r} for {self.name} is not {self.describe()}.")
        if raw.lower() == "none":
            if self.allow_none:
                return None
            raise bad
        if raw in self.choices:
            return raw
        try:
            if self.kind == "int":
                value: Any = int(raw)
            elif self.kind == "float":
                value = float(raw)
                if not math.isfinite(value):
                    raise ValueError(raw)
            elif self.kind == "layers":
                value = tuple(int(part) for part in raw.lower().split("x"))
                if not value or min(value) < 1 or len(value) > 8 or (self.maximum is not None and max(value) > self.maximum):
                    raise ValueError(raw)
                return value
            else:
                raise ValueError(raw)
        except ValueError:
            raise bad from None
        if self.minimum is not None and value < self.minimum:
            raise bad
        if self.maximum is not None and value > self.maximum:
            raise bad
        return value


def _p(name: str, kind: str, default: Sequence[Any], **kw) -> ParamSpec:
    return ParamSpec(name, kind, tuple(default), **kw)


_C = _p("C", "float", (1.0, 10.0, 30.0), minimum=1e-12, maximum=1e12, help="SVM/logistic regularisation (larger: less)")
_GAMMA = _p("gamma", "float", ("scale", 0.01, 0.05), choices=("scale", "auto"), minimum=1e-12, maximum=1e6,
            help="RBF kernel width")
_PCA = lambda default: _p("pca", "int", default, minimum=1, maximum=784, help="PCA components (at most 784 pixels)")

#: model name -> its tunable parameters, default values included. A catalog model without an
#: entry (e.g. ``cnn`` until it gets one) cannot be searched; add a tuple here to change that.
GRIDS: dict[str, tuple[ParamSpec, ...]] = {
    "sgd": (_p("alpha", "float", (1e-5, 1e-4, 1e-3), minimum=0, maximum=1e6, help="L2 penalty"),),
    "logreg": (_p("C", "float", (0.1, 1.0, 10.0), minimum=1e-12, maximum=1e12, help="inverse regularisation"),),
    "random_forest": (
        _p("n_estimators", "int", (25, 50, 100), minimum=1, maximum=2000, help="trees"),
        _p("max_features", "float", ("sqrt", 0.1), choices=("sqrt", "log2"), allow_none=True, minimum=1e-9, maximum=1.0,
           help="features per split (fraction, sqrt, log2, None: all)"),
    ),
    "knn": (
        _p("n_neighbors", "int", (1, 3, 4, 6), minimum=1, maximum=1000, help="k"),
        _p("weights", "str", ("uniform", "distance"), choices=("uniform", "distance")),
        _PCA((35, 50)),
    ),
    "svc_ovo": (_C, _GAMMA, _PCA((50,))),
    "svc_ovr": (_C, _GAMMA, _PCA((40,))),
    "mlp": (
        _p("hidden_layer_sizes", "layers", ((128,), (256,)), maximum=4096, help="hidden layer sizes, e.g. 256 or 256x128"),
        _p("alpha", "float", (1e-4, 1e-3), minimum=0, maximum=1e6, help="L2 penalty"),
    ),
}
#: The most candidates one search evaluates (each is ``folds`` fits).
MAX_CANDIDATES = 500
TUNABLE_MODELS: tuple[str, ...] = tuple(n for n in MODEL_NAMES if n in GRIDS)


def _specs(name: str) -> dict[str, ParamSpec]:
    get_spec(name)  # UnknownModelError for names outside the catalog
    if name not in GRIDS:
        raise OptionsError(
            f"model {name!r} has no search grid yet; models that can be tuned: {', '.join(TUNABLE_MODELS)}."
        )
    return {p.name: p for p in GRIDS[name]}


def default_grid(name: str) -> dict[str, list[Any]]:
    """Catalog model ``name``'s default grid: parameter name -> values."""
    return {p.name: list(p.default) for p in _specs(name).values()}


def format_value(value: Any) -> str:
    """A grid value as the user writes it (``256x128`` for layer tuples, ``None``)."""
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        # plain decimals, never scientific notation ("0.00001", not "1e-05"), as few digits as round-trip
        text = f"{value:.12f}".rstrip("0").rstrip(".")
        return text if float(text) == value else repr(value)
    return "None" if value is None else str(value)


def parse_values(name: str, param: str, text: str) -> list[Any]:
    """``"1,10,30"`` as the typed values of ``param`` of model ``name`` (duplicates dropped)."""
    specs = _specs(name)
    if param not in specs:
        raise OptionsError(
            f"{name}: unknown parameter {param!r}; valid names are: {', '.join(specs)}."
        )
    parts = [t for t in text.split(",") if t.strip()]
    if not parts:
        raise OptionsError(f"{name}: no values for {param}; write e.g. {param}={','.join(map(format_value, specs[param].default))}.")
    values: list[Any] = []
    for part in parts:
        value = specs[param].parse(part, model=name)
        if value not in values:
            values.append(value)
    return values


def parse_grid(name: str, assignments: Sequence[str] = (), *, base: dict[str, Sequence[Any]] | None = None) -> dict[str, list[Any]]:
    """The grid for model ``name``: ``base`` (default: the model's default grid) with each
    ``"NAME=V1,V2,..."`` of ``assignments`` replacing that parameter's values.

    OptionsError for an unknown parameter (listing the valid ones), a value of the wrong type,
    a malformed assignment or an empty grid."""
    specs = _specs(name)
    grid = {k: list(v) for k, v in (default_grid(name) if base is None else base).items()}
    for assignment in assignments:
        param, sep, text = str(assignment).partition("=")
        if not sep:
            raise OptionsError(f"{name}: {assignment!r} is not NAME=V1,V2,...; valid names are: {', '.join(specs)}.")
        grid[param.strip()] = parse_values(name, param.strip(), text)
    return validate_grid(name, grid)


def validate_grid(name: str, grid: dict[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """``grid`` checked against model ``name``'s parameters (values are re-parsed from their text,
    so a wrong type is an OptionsError); an empty grid or parameter is an error."""
    specs = _specs(name)
    if not grid:
        raise OptionsError(f"{name}: the grid is empty; give at least one parameter, e.g. "
                           f"--param {next(iter(specs))}=... (valid names: {', '.join(specs)}).")
    checked: dict[str, list[Any]] = {}
    for param, values in grid.items():
        if param not in specs:
            raise OptionsError(f"{name}: unknown parameter {param!r}; valid names are: {', '.join(specs)}.")
        values = list(values)
        if not values:
            raise OptionsError(f"{name}: the grid has no values for {param}; give at least one.")
        checked[param] = [specs[param].parse(format_value(v), model=name) for v in values]
    n_candidates = math.prod(len(v) for v in checked.values())
    if n_candidates > MAX_CANDIDATES:
        raise OptionsError(
            f"{name}: the grid has {n_candidates:,} candidates ({' x '.join(str(len(v)) for v in checked.values())}); "
            f"at most {MAX_CANDIDATES} are searched at once. Give fewer values per parameter."
        )
    return checked


def pipeline_path(pipeline, param: str) -> str:
    if param == "pca":
        return "pca__n_components"
    names = pipeline.get_params()
    for path in (f"model__{param}", f"model__estimator__{param}"):
        if path in names:
            return path
    raise OptionsError(f"parameter {param!r} is not in this model's pipeline.")  # a GRIDS mistake


def train_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (e.g. a search's ``best_params``) minus the values equal to the catalog's
    defaults, ready for ``TrainOptions(params=...)``: the catalog default trains as itself."""
    spec = get_spec(name)
    defaults = {**spec.params, "pca": spec.pca}
    return {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}


def settings_text(name: str, params: dict[str, Any]) -> str:
    """Every setting of ``params`` (e.g. a search's ``best_params``) as the user writes them, the
    ones equal to the catalog's default too: ``n_neighbors=3, weights=distance, pca=35``. A button
    that trains "KNN with n_neighbors=3" while weights and pca stay at their defaults should say so."""
    get_spec(name)
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
