"""Questions pages and commands ask the store: which models are trained, the newest model of a
name, and test-set predictions without unpickling when they are cached."""

from __future__ import annotations

import warnings

from core.errors import ArtifactError, ArtifactWarning
from core.models.catalog import MODEL_NAMES, get_spec
from core.models.predict import TestPredictions
from core.store.artifacts import ArtifactStore
from core.store.records import TrainedModel

__all__ = ["latest_model", "latest_predictions", "trained_names", "trained_predictions"]


def trained_names(store: ArtifactStore) -> list[str]:
    """The catalog models with a usable artifact for the store's data, in catalog order, then the
    imported models (core.store.imports) by name. Reads JSON only."""
    return [s.name for s in store.statuses() if s.trained]


def latest_model(store: ArtifactStore, name: str) -> TrainedModel | None:
    """The most recently trained usable model of catalog model ``name``, or None."""
    record = store.latest(name)
    return None if record is None else store.load(record)


def latest_predictions(store: ArtifactStore, name: str, *, quiet: bool = True) -> TestPredictions | None:
    """Test-set predictions of ``name``'s newest model: from the cache, else by loading it and
    predicting (and caching). None when it is not trained. ``quiet`` hides ArtifactWarnings."""
    record = store.latest(name)
    if record is None:
        return None
    preds = store.cached_predictions(record)
    if preds is not None:
        return preds
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", ArtifactWarning)
        model = store.load(record)
    return None if model is None else store.predictions(model)


def trained_predictions(store: ArtifactStore, names: list[str]) -> dict[str, TestPredictions]:
    """Test-set predictions of the trained models ``names``. Raises UnknownModelError for a name
    not in the catalog and ArtifactError, naming the training command, for an untrained one."""
    for name in names:
        if name in MODEL_NAMES:
            get_spec(name)
        else:
            store.latest(name)  # UnknownModelError unless it is an imported model
    out: dict[str, TestPredictions] = {}
    for name in names:
        preds = latest_predictions(store, name)
        if preds is None:
            data = store.data
            raise ArtifactError(
                f"model {name!r} is not trained on this data ({data.description}) in {store.folder.resolve()}; "
                f"train it first: python -m core train --models {name} --source {data.source}"
            )
        out[name] = preds
    return out
