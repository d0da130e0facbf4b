import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from core.models.catalog import MODEL_NAMES, MODELS, UnknownModelError, build_pipeline, get_spec

EXPECTED = ("sgd", "random_forest", "knn", "logreg", "svc_ovo", "svc_ovr", "mlp", "cnn")


def test_catalog_names_are_stable():
    assert MODEL_NAMES == EXPECTED
    for name, spec in MODELS.items():
        assert spec.name == name and spec.label and spec.description.endswith(".")


@pytest.mark.parametrize("name", EXPECTED)
def test_factory_builds_a_fresh_pipeline(name):
    pipe = build_pipeline(name, random_state=3)
    assert isinstance(pipe, Pipeline)
    assert pipe is not build_pipeline(name)
    clone(pipe)  # a valid scikit-learn estimator
    assert ("deskew" in pipe.named_steps) == get_spec(name).deskew
    assert hasattr(pipe, "predict_proba") == get_spec(name).has_proba


def test_options_override_defaults():
    pipe = build_pipeline("knn", deskew=False, params={"n_neighbors": 7})
    assert "deskew" not in pipe.named_steps
    assert pipe.named_steps["model"].n_neighbors == 7


def test_unknown_name_lists_valid_ones():
    with pytest.raises(UnknownModelError) as err:
        get_spec("resnet")
    assert "unknown model 'resnet'" in str(err.value)
    for name in EXPECTED:
        assert name in str(err.value)
