"""Train a catalog model once: fit it (core.models.fitting) and save it through the store.

A cached artifact with the same key is loaded instead of fitting again.
"""

from __future__ import annotations

import numpy as np

from core.data.label_fixes import LabelFixes
from core.errors import OptionsError
from core.models.catalog import get_spec
from core.models.fitting import train_pipeline
from core.progress import report
from core.store.artifacts import ArtifactStore
from core.store.records import MIN_TRAIN, TrainedModel, TrainOptions

__all__ = ["check_training_data", "train_model"]


def check_training_data(y_train: np.ndarray) -> None:
    """OptionsError, before any fitting, for training labels no classifier can learn from: fewer
    than :data:`MIN_TRAIN` digits or a single class."""
    n = len(y_train)
    classes = np.unique(y_train)
    if n < MIN_TRAIN or len(classes) < 2:
        raise OptionsError(
            f"the training set has {n:,} digit{'s' if n != 1 else ''} of {len(classes)} class"
            f"{'es' if len(classes) != 1 else ''} ({', '.join(map(str, classes[:10].tolist())) or 'none'}); training needs at "
            f"least {MIN_TRAIN} digits of at least 2 classes. Check MNIST_DIR / --mnist-dir (the IDX files) or --source."
        )


def train_model(
    store: ArtifactStore,
    name: str,
    *,
    options: TrainOptions | None = None,
    random_state: int = 0,
    force: bool = False,
) -> TrainedModel:
    """Catalog model ``name`` fitted on ``store.data.X_train`` (n, 784) and saved in ``store``.

    Loads the cached artifact when one matches the key; otherwise fits and saves (progress
    through :func:`core.progress.report`). ``force`` retrains anyway, replacing the old
    artifact only once the new one is complete. Raises UnknownModelError, OptionsError, and
    ArtifactError (naming the folder) when the folder cannot be written.
    """
    spec = get_spec(name)
    check_training_data(store.data.y_train)
    resolved = store.resolve(name, options)
    key = store.key(name, options, random_state)
    notes: list[str] = []

    def cached() -> TrainedModel | None:
        if force:
            return None
        model, message = store.load_with_reason(name, key)
        if message:
            notes.append(message)
            store.report_problem(message)
        if model is not None:
            model.notes.extend(notes)
        return model

    store.remove_stale_temp_files()
    hit = cached()
    if hit is not None:
        return hit
    with store.writing(name, key):
        hit = cached()  # another process may have trained it while we waited for the lock
        if hit is not None:
            return hit
        X, y = _training_set(store, options)
        fit = train_pipeline(name, X, y, resolved=resolved, random_state=random_state)
        report(0.95, f"saving {spec.label}")
        model = store.save(
            name, fit.pipeline, options=options, random_state=random_state, fit_seconds=fit.fit_seconds, n_train=fit.n_fit,
        )
        report(1.0, f"{spec.label} trained in {fit.fit_seconds:.1f} s")
    model.notes.extend([*notes, *fit.notes])
    return model


def _training_set(store: ArtifactStore, options: TrainOptions | None):
    """The store's training digits, with ``options.label_fixes`` applied (relabelled, dropped)."""
    fixes = options.label_fixes if options is not None else None
    if fixes is None:
        return store.data.X_train, store.data.y_train
    if not isinstance(fixes, LabelFixes):
        raise OptionsError("this model was trained with label fixes that are not at hand (only their summary is); "
                           "give the marks again (--label-fixes FILE|marks) to retrain it.")
    return fixes.apply(store.data.X_train, store.data.y_train)
