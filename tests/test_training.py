import json
import multiprocessing as mp
import pickle

import numpy as np
import pytest
from conftest import MarkerPayload, make_store, resign_record

from core.errors import ArtifactWarning
from core.models.catalog import MODEL_NAMES
from core.store.records import TrainOptions
from core.store.training import train_model

# Floors well under what each model reaches on the 4,000/1,000 sample (see README), far above chance (10%).
FLOORS = {"sgd": 0.88, "random_forest": 0.93, "knn": 0.94, "logreg": 0.90, "svc_ovo": 0.95, "svc_ovr": 0.95, "mlp": 0.92, "cnn": 0.95}
SMALL = TrainOptions(max_train=600)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_trains_and_clears_floor(sample_models, sample_data, name):
    model = sample_models[name]
    acc = float(np.mean(model.pipeline.predict(sample_data.X_test) == sample_data.y_test))
    assert acc >= FLOORS[name], f"{name}: {acc:.3f}"
    rec = model.record
    assert rec.name == name and rec.n_train == 4000 and rec.data_fingerprint == sample_data.fingerprint
    assert rec.fit_seconds > 0 and rec.model_bytes == model.path.stat().st_size
    assert rec.versions["sklearn"] and rec.options["deskew"] in (True, False)


def test_cache_hit_returns_the_saved_model(tmp_path, sample_data):
    first = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert not first.from_cache
    again = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert again.from_cache and again.record == first.record
    X = sample_data.X_test[:50]
    np.testing.assert_array_equal(again.pipeline.predict(X), first.pipeline.predict(X))
    assert make_store(tmp_path, sample_data).record("knn", options=SMALL) == first.record
    assert sorted(p.suffix for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [".joblib", ".json"]


def test_key_changes_with_everything_that_changes_the_result(sample_data, tmp_path):
    base = make_store('.', sample_data).key("knn", options=SMALL)
    assert make_store('.', sample_data).key("knn", options=TrainOptions(max_train=600)) == base
    others = {
        make_store('.', sample_data).key("knn", options=TrainOptions(max_train=601)),
        make_store('.', sample_data).key("knn", options=TrainOptions(max_train=600, deskew=False)),
        make_store('.', sample_data).key("knn", options=TrainOptions(max_train=600, augment="shifts")),
        make_store('.', sample_data).key("knn", options=TrainOptions(max_train=600, params={"n_neighbors": 3})),
        make_store('.', sample_data).key("knn", options=SMALL, random_state=1),
        make_store('.', sample_data).key("mlp", options=SMALL),
    }
    assert base not in others and len(others) == 6
    assert make_store(tmp_path, sample_data).record("knn", options=TrainOptions(max_train=601)) is None


def _artifact(tmp_path, sample_data, name="knn"):
    model = train_model(make_store(tmp_path, sample_data), name, options=SMALL)
    return model, model.path, model.path.with_suffix(".json")


def test_truncated_artifact_warns_and_retrains(tmp_path, sample_data):
    model, joblib_path, _ = _artifact(tmp_path, sample_data)
    joblib_path.write_bytes(joblib_path.read_bytes()[:100])
    with pytest.warns(ArtifactWarning, match="unusable"):
        again = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert not again.from_cache and again.notes
    assert make_store(tmp_path, sample_data).load("knn", options=SMALL).from_cache


def test_corrupt_json_warns_and_retrains(tmp_path, sample_data):
    _, _, json_path = _artifact(tmp_path, sample_data)
    json_path.write_text("{not json")
    with pytest.warns(ArtifactWarning):
        again = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert not again.from_cache
    assert json.loads(json_path.read_text())["key"] == again.record.key



def test_tampered_file_is_never_unpickled(tmp_path, sample_data):
    _, joblib_path, _ = _artifact(tmp_path, sample_data)
    marker = tmp_path / "code-ran"
    joblib_path.write_bytes(pickle.dumps(MarkerPayload(str(marker))))
    with pytest.warns(ArtifactWarning, match="SHA-256"):
        again = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert not marker.exists()
    assert not again.from_cache


def test_stale_versions_are_retrained(tmp_path, sample_data):
    _, _, json_path = _artifact(tmp_path, sample_data)
    record = json.loads(json_path.read_text())
    record["versions"]["sklearn"] = "0.24.2"
    json_path.write_text(json.dumps(record))
    resign_record(json_path)  # validly signed, but by an older scikit-learn
    with pytest.warns(ArtifactWarning, match="trained with sklearn 0.24.2"):
        assert make_store(tmp_path, sample_data).load("knn", options=SMALL) is None
    assert not json_path.exists()


def test_bad_options_and_names(sample_data, tmp_path):
    from core.models.catalog import UnknownModelError

    with pytest.raises(UnknownModelError, match="valid names"):
        train_model(make_store(tmp_path, sample_data), "nope")
    with pytest.raises(ValueError, match="unknown augmentation 'flips'"):
        train_model(make_store(tmp_path, sample_data), "knn", options=TrainOptions(augment="flips"))
    with pytest.raises(ValueError, match="max_train=5 is too small"):
        train_model(make_store(tmp_path, sample_data), "knn", options=TrainOptions(max_train=5))


def test_augmentation_trains_on_five_times_the_digits(tmp_path, sample_data):
    model = train_model(make_store(tmp_path, sample_data), "knn", options=TrainOptions(max_train=300, augment="shifts"))
    assert model.record.n_train == 1500 and model.record.options["augment"] == "shifts"
    assert "shifts augmentation" in model.record.options_summary()


def _train_in_process(folder, queue):
    from core.data.sources import load_sample

    model = train_model(make_store(folder, load_sample()), "logreg", options=TrainOptions(max_train=1500))
    queue.put((model.from_cache, model.record.model_sha256))


def test_two_processes_training_the_same_key_end_with_one_good_artifact(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_train_in_process, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(r[0] for r in results) == [False, True]  # one trained, the other waited and loaded
    assert results[0][1] == results[1][1]
    assert len(list(tmp_path.glob("*.joblib"))) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_latest_record_finds_the_newest_variant_for_this_data(tmp_path, sample_data):
    from core.data.sources import load_sample

    assert make_store(tmp_path, sample_data).latest("knn") is None
    plain = train_model(make_store(tmp_path, sample_data), "knn", options=SMALL)
    assert make_store(tmp_path, sample_data).latest("knn") == plain.record
    shifted = train_model(make_store(tmp_path, sample_data), "knn", options=TrainOptions(max_train=300, augment="shifts"))
    found = make_store(tmp_path, sample_data).latest("knn")
    assert found == shifted.record and found.options["augment"] == "shifts"
    again = make_store(tmp_path, sample_data).load("knn", options=found.train_options())
    assert again.from_cache and again.record == shifted.record
    assert make_store(tmp_path, load_sample(random_state=5)).latest("knn") is None
    assert make_store(tmp_path, sample_data).latest("mlp") is None
