"""One colour per catalog model, on every chart of every page.

Each catalog model (:data:`core.models.catalog.MODEL_NAMES`) has a fixed colour, so a model keeps
its colour whichever models a chart shows and in whatever order. Charts key their traces
by the model's name or its label (``"CNN (PyTorch)"``), sometimes with a suffix in brackets
(``"CNN (PyTorch) (temperature)"``); :func:`model_colour` understands all three.
"""

from __future__ import annotations

from core.models.catalog import MODEL_NAMES, MODELS

__all__ = ["MODEL_COLOURS", "PALETTE", "model_colour"]

#: Plotly's qualitative "D3" palette (ten distinct hues); the catalog has fewer models.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)

#: Catalog name -> colour: the strongest model (the CNN) gets the first, most legible hue; the grey,
#: which reads as "disabled", goes to the weakest (SGD). A model added to the catalog later gets
#: the next unused hue.
_PREFERRED = {"cnn": 0, "random_forest": 1, "knn": 2, "logreg": 3, "svc_ovo": 4, "svc_ovr": 5, "mlp": 6, "sgd": 7}
_spare = iter(k for k in range(len(PALETTE)) if k not in _PREFERRED.values())
MODEL_COLOURS: dict[str, str] = {
    name: PALETTE[_PREFERRED[name]] if name in _PREFERRED else PALETTE[next(_spare, 9)] for name in MODEL_NAMES
}
_BY_LABEL: dict[str, str] = {MODELS[name].label: colour for name, colour in MODEL_COLOURS.items()}
_OTHER = "#444444"


def model_colour(key: str) -> str:
    """The colour of the catalog model named ``key``, labelled ``key``, or whose label starts
    ``key`` followed by a suffix (``"MLP (temperature)"``); a dark grey for anything else."""
    if key in MODEL_COLOURS:
        return MODEL_COLOURS[key]
    if key in _BY_LABEL:
        return _BY_LABEL[key]
    for label in sorted(_BY_LABEL, key=len, reverse=True):  # the longest label that prefixes the key
        if key.startswith(label + " "):
            return _BY_LABEL[label]
    return _OTHER
