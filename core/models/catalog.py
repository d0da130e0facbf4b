"""The model catalog: stable names, labels, descriptions and Pipeline factories.

Every factory returns an unfitted scikit-learn Pipeline that takes raw (n, 784) uint8
pixels, so callers never preprocess by hand. Hyperparameters and why they were chosen are
in the README ("Model catalog"); :data:`CATALOG_VERSION` changes whenever a factory does,
which invalidates cached artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from core.data.preprocessing import AUGMENT_FACTOR, Augmented, Deskew, scale_pixels
from core.errors import MissingExtraError, UnknownModelError

__all__ = ["ModelSpec", "MODELS", "MODEL_NAMES", "AUGMENTATIONS", "get_spec", "build_pipeline", "UnknownModelError",
           "ScoreKind", "is_available", "unavailable_reason"]

#: Bump when any factory, default parameter or preprocessing step changes.
CATALOG_VERSION = "3"

#: Training-set augmentations a user can switch on per model (see core.data.preprocessing).
AUGMENTATIONS: tuple[str, ...] = tuple(AUGMENT_FACTOR)

N_JOBS = -1  # use both cores where the estimator can


class ScoreKind(StrEnum):
    """What a model's per-digit scores are: probabilities (``predict_proba``, rows sum to 1)
    or decision-function values (any scale; not probabilities)."""

    PROBABILITY = "probability"
    DECISION = "decision score"

    @property
    def is_probability(self) -> bool:
        return self is ScoreKind.PROBABILITY


@dataclass(frozen=True)
class ModelSpec:
    """One catalog entry.

    ``factory(params, random_state)`` returns the final estimator; :func:`build_pipeline`
    puts the preprocessing in front. ``pca`` is the number of PCA components (None: none).
    """

    name: str
    label: str
    description: str
    factory: Callable[[dict[str, Any], int], Any]
    params: dict[str, Any] = field(default_factory=dict)
    pca: int | None = None
    deskew: bool = True
    augment: str = "none"
    has_proba: bool = True
    #: Optional extra (``pip install -e ".[<extra>]"``) and the modules it provides; None: base install.
    extra: str | None = None
    requires: tuple[str, ...] = ()
    #: Its own feature space for maps (core.analysis.embedding.hidden_features), e.g. "last hidden layer"; "" when none.
    features: str = ""

    @property
    def score_kind(self) -> ScoreKind:
        """Probabilities (predict_proba) or decision scores (decision_function)."""
        return ScoreKind.PROBABILITY if self.has_proba else ScoreKind.DECISION


def _sgd(p: dict, rs: int):
    return SGDClassifier(loss="hinge", random_state=rs, n_jobs=N_JOBS, **p)


def _rf(p: dict, rs: int):
    return RandomForestClassifier(random_state=rs, n_jobs=N_JOBS, **p)


def _knn(p: dict, rs: int):
    return KNeighborsClassifier(n_jobs=N_JOBS, **p)


def _logreg(p: dict, rs: int):
    return LogisticRegression(random_state=rs, **p)


def _svc_ovo(p: dict, rs: int):
    return SVC(kernel="rbf", decision_function_shape="ovr", random_state=rs, **p)


def _svc_ovr(p: dict, rs: int):
    return OneVsRestClassifier(SVC(kernel="rbf", random_state=rs, **p), n_jobs=N_JOBS)


def _mlp(p: dict, rs: int):
    return MLPClassifier(random_state=rs, **p)


def _cnn(p: dict, rs: int):
    """Steps ``images`` (pixels -> (n, 1, 28, 28)) and ``model`` (skorch CNN); see core.models.cnn."""
    reason = unavailable_reason("cnn")
    if reason:
        raise MissingExtraError(f"CNN (PyTorch): {reason}")
    try:
        from core.models import cnn
    except ImportError as exc:  # present but broken (e.g. a torch that fails to load)
        raise MissingExtraError(f'CNN (PyTorch): not installed ({exc}): pip install -e ".[cnn]"') from None
    return [("images", cnn.ToImages()), ("model", cnn.make_net(p, rs))]


_SPECS = [
    ModelSpec(
        "sgd", "SGD (hinge)",
        "Linear SVM trained by stochastic gradient descent on deskewed pixels scaled to 0-1.",
        _sgd, {"alpha": 1e-4, "max_iter": 10, "tol": 1e-3}, has_proba=False,
    ),
    ModelSpec(
        "random_forest", "Random forest",
        "50 fully grown trees on deskewed pixels.",
        _rf, {"n_estimators": 50},
    ),
    ModelSpec(
        "knn", "KNN",
        "4 nearest neighbours, distance-weighted, in a 35-component PCA space of deskewed digits.",
        _knn, {"n_neighbors": 4, "weights": "distance"}, pca=35,
    ),
    ModelSpec(
        "logreg", "Logistic regression",
        "Multinomial logistic regression (lbfgs) on deskewed pixels scaled to 0-1.",
        _logreg, {"max_iter": 50, "C": 1.0},
    ),
    ModelSpec(
        "svc_ovo", "SVC (RBF, one-vs-one)",
        "RBF-kernel SVM, 45 pairwise classifiers, on 50 PCA components of deskewed digits.",
        _svc_ovo, {"C": 10.0, "gamma": "scale", "cache_size": 1000}, pca=50, has_proba=False,
    ),
    ModelSpec(
        "svc_ovr", "SVC (RBF, one-vs-rest)",
        "Ten RBF-kernel SVMs, each digit against the rest, on 40 PCA components of deskewed digits.",
        _svc_ovr, {"C": 10.0, "gamma": "scale", "tol": 1e-2, "cache_size": 1000}, pca=40, has_proba=False,
    ),
    ModelSpec(
        "mlp", "MLP",
        "Neural network, one hidden layer of 256 ReLUs, Adam with early stopping, on 100 PCA components of deskewed digits.",
        _mlp, {"hidden_layer_sizes": (256,), "early_stopping": True, "max_iter": 200}, pca=100,
        features="hidden layer (256 ReLUs)",
    ),
    ModelSpec(
        "cnn", "CNN (PyTorch)",
        "Convolutional network (three 3x3 conv blocks of 16/32/64 filters with batch norm, a dense layer of 128), "
        "10 epochs (6 on fewer than 10,000 digits) of AdamW with a one-cycle learning rate on randomly shifted, "
        "rotated and scaled deskewed digits.",
        _cnn, {"max_epochs": 10}, extra="cnn", requires=("torch", "skorch"),
        features="last hidden layer (dense, 128 units)",
    ),
]

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The catalog entry called ``name``; raises :class:`UnknownModelError` listing valid names."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise UnknownModelError(
            f"unknown model {name!r}; valid names are: {', '.join(MODEL_NAMES)}."
        ) from None


def unavailable_reason(name: str) -> str:
    """Why catalog model ``name`` cannot be built here (e.g. ``not installed: pip install -e ".[cnn]"``),
    or "" when it can. Cheap: looks the modules up without importing them."""
    spec = get_spec(name)
    missing = [module for module in spec.requires if not _importable(module)]
    if not missing:
        return ""
    return f'not installed: pip install -e ".[{spec.extra}]"' + f" (missing {', '.join(missing)})"


def is_available(name: str) -> bool:
    """True when catalog model ``name`` can be built (its optional extra, if any, is installed)."""
    return not unavailable_reason(name)


def _importable(module: str) -> bool:
    import importlib.util
    import sys

    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def build_pipeline(
    name: str,
    *,
    deskew: bool | None = None,
    augment: str | None = None,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
) -> Pipeline:
    """An unfitted Pipeline for catalog model ``name`` taking (n, 784) uint8 pixels.

    ``deskew`` and ``augment`` (one of :data:`AUGMENTATIONS`) override the entry's defaults;
    ``params`` override its estimator parameters; the key ``pca`` in ``params`` overrides the
    number of PCA components (None: no PCA). Raises :class:`MissingExtraError` when the model
    needs an optional extra that is not installed (see :func:`unavailable_reason`). With
    augmentation, the steps after deskewing and scaling are fitted on augmented copies (see
    ``core.data.preprocessing.Augmented``).
    """
    spec = get_spec(name)
    use_deskew = spec.deskew if deskew is None else bool(deskew)
    merged = {**spec.params, **(params or {})}
    n_pca = merged.pop("pca", spec.pca)
    steps: list[tuple[str, Any]] = []
    if use_deskew:
        steps.append(("deskew", Deskew()))
    steps.append(("scale", FunctionTransformer(scale_pixels, feature_names_out="one-to-one")))
    learner: list[tuple[str, Any]] = []
    if n_pca:
        learner.append(("pca", PCA(n_components=n_pca, random_state=random_state)))
    made = spec.factory(merged, random_state)  # an estimator, or a list of (name, step) ending in "model"
    learner.extend(made if isinstance(made, list) else [("model", made)])
    kind = spec.augment if augment is None else augment
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {kind!r}; choose one of {', '.join(AUGMENTATIONS)}.")
    if kind == "none":
        return Pipeline(steps + learner)
    return Pipeline([*steps, ("augmented", Augmented(Pipeline(learner), kind=kind))])
