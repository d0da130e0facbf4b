"""core.analysis.label_errors and ``python -m core suspects`` on real models trained on the sample."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import make_store

from core.analysis.evaluation import accuracy, confusion
from core.analysis.label_errors import SUSPECT_COLUMNS, apply_corrections, combined_probabilities, marks_frame, rank_suspects
from core.cli.main import main
from core.errors import OptionsError
from core.store.marks import clear_mark, load_marks, marks_path, save_mark

N_FLIPS = 20
RECALL_AT_50 = 0.9  # measured: 20 of 20 flips in the top 50 for seeds 0-5 (every catalog model on the sample)


def flipped(preds, *, seed: int = 0):
    """The same predictions against test labels of which N_FLIPS are changed to another digit."""
    rng = np.random.default_rng(seed)
    y = next(iter(preds.values())).y_true.copy()
    idx = rng.choice(len(y), size=N_FLIPS, replace=False)
    y[idx] = (y[idx] + rng.integers(1, 10, size=N_FLIPS)) % 10
    return {name: replace(p, y_true=y) for name, p in preds.items()}, set(idx.tolist())


@pytest.mark.parametrize("seed", [0, 1])
def test_flipped_labels_come_out_near_the_top(preds, seed):
    noisy, flips = flipped(preds, seed=seed)
    table = rank_suspects(noisy, top=50)
    recall = len(flips & set(table["index"])) / N_FLIPS
    assert recall >= RECALL_AT_50, recall
    # the untouched labels rank those digits far lower
    clean = rank_suspects(preds)
    position = {int(i): r for r, i in enumerate(clean["index"])}
    assert np.median([position[i] for i in flips]) > 100


def test_suspect_table(preds, sample_data):
    table = rank_suspects(preds)
    assert list(table.columns) == SUSPECT_COLUMNS
    assert len(table) == sample_data.n_test and sorted(table["index"]) == list(range(sample_data.n_test))
    assert table["score"].is_monotonic_increasing
    assert (table["suggested"] != table["given"]).all()
    assert np.array_equal(table["given"], sample_data.y_test[table["index"]])
    first = table.iloc[0]
    averaged = [p for p in preds.values() if p.score_kind == "probability"]
    assert first["disagreeing"] == sum(int(p.y_pred[first["index"]] != first["given"]) for p in averaged)
    assert (table["n_models"] == len(averaged)).all()
    assert len(rank_suspects(preds, top=7)) == 7
    with pytest.raises(OptionsError):
        rank_suspects(preds, top=0)


def test_only_probability_models_are_averaged_unless_calibrated(preds):
    probs, used = combined_probabilities(preds)
    assert set(used) == {n for n, p in preds.items() if p.score_kind == "probability"}
    expected = np.mean([preds[n].scores for n in used], axis=0)
    np.testing.assert_allclose(probs, expected / expected.sum(axis=1, keepdims=True))
    probs_all, used_all = combined_probabilities(preds, calibrate_decision=True)
    assert set(used_all) == set(preds)
    np.testing.assert_allclose(probs_all.sum(axis=1), 1.0)
    with pytest.raises(OptionsError, match="none of the models gives probabilities"):
        combined_probabilities({"sgd": preds["sgd"]})


def test_marks_persist_across_a_restart(tmp_path, sample_data):
    fp = sample_data.fingerprint
    save_mark(make_store(tmp_path, sample_data), 3, 7)
    save_mark(make_store(tmp_path, sample_data), 5, None)
    save_mark(make_store(tmp_path, sample_data), 9, 1)
    clear_mark(make_store(tmp_path, sample_data), 9)
    assert marks_path(make_store(tmp_path, sample_data)).parent == tmp_path / "label_marks"
    assert fp in marks_path(make_store(tmp_path, sample_data)).name
    # a new process reads the file the first one wrote
    code = (
        "import json, sys; from core.data.sources import load_sample; from core.store.marks import load_marks; "
        "from core.store.artifacts import ArtifactStore; from core.store.settings import Settings; "
        f"store = ArtifactStore({str(tmp_path)!r}, data=load_sample(), key_file=Settings.from_env().signing_key_file); "
        "print(json.dumps({str(k): v for k, v in load_marks(store).items()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"3": 7, "5": None}
    assert not list(tmp_path.rglob("*.tmp"))  # atomic write left no temp file
    frame = marks_frame(load_marks(make_store(tmp_path, sample_data)), sample_data.y_test)
    assert frame.to_dict("records") == [
        {"index": 3, "given": int(sample_data.y_test[3]), "verdict": "wrong", "corrected": 7},
        {"index": 5, "given": int(sample_data.y_test[5]), "verdict": "fine", "corrected": int(sample_data.y_test[5])},
    ]
    with pytest.raises(OptionsError, match="outside the test set"):
        save_mark(make_store(tmp_path, sample_data), sample_data.n_test, 1)
    with pytest.raises(OptionsError, match="not a digit"):
        save_mark(make_store(tmp_path, sample_data), 1, 12)


def test_corrected_labels_change_the_metrics_by_exactly_the_marked_digits(preds):
    p = preds["knn"]
    wrong = np.flatnonzero(p.y_pred != p.y_true)[:6]
    right = np.flatnonzero(p.y_pred == p.y_true)[:2]
    marks = {int(i): int(p.y_pred[i]) for i in wrong}  # the model was right, the label wrong
    marks |= {int(i): int((p.y_true[i] + 1) % 10) for i in right}  # now the model is wrong
    marks[int(np.flatnonzero(p.y_pred == p.y_true)[5])] = None  # "label is fine" changes nothing
    fixed = apply_corrections(p, marks)
    changed = np.flatnonzero(fixed.y_true != p.y_true)
    assert sorted(changed) == sorted(int(i) for i, d in marks.items() if d is not None)
    n = len(p.y_true)
    assert accuracy(fixed) * n == pytest.approx(accuracy(p) * n + len(wrong) - len(right))
    assert int(confusion(fixed).sum()) == n
    assert np.array_equal(fixed.y_pred, p.y_pred) and fixed.scores is p.scores
    assert apply_corrections(p, {}) is p
    with pytest.raises(OptionsError, match="outside this test set"):
        apply_corrections(p, {n + 5: 1})


def test_cli_suspects(capsys, sample_models_dir, preds):
    folder, _ = sample_models_dir
    code = main(["suspects", "--top", "5", "--source", "sample", "--models-dir", str(folder)])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line.split() for line in out.splitlines() if not line.startswith("#")]
    expected = rank_suspects(preds, top=5)
    assert [[int(x) for x in line[:3]] for line in lines] == expected[["index", "given", "suggested"]].to_numpy().tolist()
    assert [float(line[3]) for line in lines] == pytest.approx(expected["score"].round(4).tolist(), abs=1e-4)


@pytest.mark.parametrize("argv,message", [(["--top", "0"], "at least 1"), (["--models", "resnet"], "unknown model")])
def test_cli_suspects_bad_input(capsys, sample_models_dir, argv, message):
    folder, _ = sample_models_dir
    code = main(["suspects", *argv, "--source", "sample", "--models-dir", str(folder)])
    assert code == 2 and message in capsys.readouterr().err


def test_cli_suspects_without_models(capsys, tmp_path):
    code = main(["suspects", "--source", "sample", "--models-dir", str(tmp_path)])
    assert code == 2 and "no model is trained" in capsys.readouterr().err


def test_training_set_suspects_from_out_of_fold_probabilities(sample_data):
    from core.analysis.label_errors import train_suspects
    from core.progress import reporting

    rng = np.random.default_rng(0)
    y = sample_data.y_train.copy()
    idx = rng.choice(len(y), size=N_FLIPS, replace=False)
    y[idx] = (y[idx] + rng.integers(1, 10, size=N_FLIPS)) % 10
    seen = []
    with reporting(lambda fraction, message: seen.append(fraction)):
        table = train_suspects(sample_data.X_train, y, model="knn", folds=3, top=50)
    assert seen[-1] == 1.0 and len(seen) == 4  # one report per fold, then done
    assert len(set(idx.tolist()) & set(table["index"])) >= 12  # measured 15 of 20 (knn, 3 folds, seed 0)
    with pytest.raises(OptionsError, match="decision scores"):
        train_suspects(sample_data.X_train, y, model="svc_ovo")


def test_disagreement_counts_only_the_models_averaged(preds):
    """A tile says "k of n models disagree" for the n models behind its score: with the decision-score
    models left out, n is the number of probability models (not all trained ones), and k <= n."""
    table = rank_suspects(preds)
    n_proba = sum(p.score_kind == "probability" for p in preds.values())
    assert n_proba < len(preds)
    assert (table["n_models"] == n_proba).all() and (table["disagreeing"] <= n_proba).all()
    joined = rank_suspects(preds, calibrate_decision=True)
    assert (joined["n_models"] == len(preds)).all()
