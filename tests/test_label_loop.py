"""The label-cleaning loop on real digits: training marks and the marks CSV (every bad input
refused with the line named, nothing imported), label fixes in the artifact key, the
cleaned variant, and the flip experiment: 200 flipped training labels, ranked out of fold,
reviewed, retrained, and the cleaned model wins back accuracy the flips cost."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_store

from core.analysis.oof import compute_out_of_fold, load_out_of_fold, oof_side_key, rank_train_labels
from core.analysis.variants import loop_verdict, variant_options, variant_predictions
from core.cli.main import main
from core.data.label_fixes import DROP, LabelFixes
from core.data.sources import MnistData
from core.errors import ArtifactError, OptionsError
from core.store.marks import load_marks, save_mark
from core.store.records import TrainOptions
from core.store.train_marks import (
    MarksImportError,
    import_marks,
    label_fixes_from,
    load_train_marks,
    marks_csv,
    save_train_mark,
    train_marks_path,
)
from core.store.training import train_model


def _csv(data, rows, header="split,index,given,verdict,corrected,fingerprint"):
    lines = [header]
    for split, index, verdict, corrected in rows:
        labels = data.y_train if split == "train" else data.y_test
        given = int(labels[index]) if 0 <= index < len(labels) else 0
        lines.append(f"{split},{index},{given},{verdict},{corrected},{data.fingerprint}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- marks, CSV


def test_training_marks_round_trip_through_csv(tmp_path, sample_data):
    store = make_store(tmp_path / "a", sample_data)
    save_train_mark(store, 3, 7)
    save_train_mark(store, 5, DROP)
    save_train_mark(store, 8, None)
    save_mark(store, 2, 4)  # the test marks keep working beside them
    text = marks_csv(store)
    assert text.splitlines()[0] == "split,index,given,verdict,corrected,fingerprint"
    assert train_marks_path(store).name.startswith("train-") and sample_data.fingerprint in train_marks_path(store).name

    other = make_store(tmp_path / "b", sample_data)
    assert import_marks(other, text) == (3, 1)
    assert load_train_marks(other) == {3: 7, 5: DROP, 8: None}
    assert load_marks(other) == {2: 4}
    assert marks_csv(other) == text


@pytest.mark.parametrize("rows, header, message", [
    ([("train", 1, "wrong", 3)], "split,index,given,verdict,corrected,fingerprint,note", r"line 1: unknown column\(s\) 'note'"),
    ([("train", 1, "wrong", 3), ("train", 99999, "wrong", 3)], None, r"line 3: train index 99999 is outside the train set \(0-3999\)"),
    ([("test", 1000, "fine", "")], None, r"line 2: test index 1000 is outside the test set \(0-999\)"),
    ([("train", 1, "wrong", 12)], None, r"line 2: corrected label 12 is not a digit 0-9"),
    ([("train", 1, "wrong", -1)], None, r"line 2: corrected label -1 is not a digit 0-9"),
    ([("train", 1, "wrong", 3), ("train", 2, "fine", ""), ("train", 1, "ambiguous", "")], None,
     r"line 4: train index 1 is marked 'drop' here and 3 on line 2"),
    ([("train", 1, "maybe", "")], None, r"line 2: verdict 'maybe' is not one of wrong, ambiguous, fine"),
    ([("test", 1, "ambiguous", "")], None, r"line 2: verdict 'ambiguous' is not one of wrong, fine for the test set"),
    ([("train", "x", "wrong", 3)], None, r"line 2: train index 'x' is not a whole number"),
])
def test_bad_marks_csv_names_the_line_and_imports_nothing(tmp_path, sample_data, rows, header, message):
    store = make_store(tmp_path, sample_data)
    save_train_mark(store, 0, 5)
    before = train_marks_path(store).read_bytes()
    if rows and rows[0][1] == "x":
        text = f"split,index,given,verdict,corrected,fingerprint\ntrain,x,1,wrong,3,{sample_data.fingerprint}\n"
    else:
        text = _csv(sample_data, rows, **({"header": header} if header else {}))
    with pytest.raises(MarksImportError, match=message):
        import_marks(store, text)
    assert train_marks_path(store).read_bytes() == before  # nothing imported
    assert load_marks(store) == {}


def test_identical_duplicates_are_one_mark(tmp_path, sample_data):
    store = make_store(tmp_path, sample_data)
    assert import_marks(store, _csv(sample_data, [("train", 1, "wrong", 3), ("train", 1, "wrong", 3)])) == (1, 0)


def test_marks_for_other_data_are_refused_naming_the_fingerprint(tmp_path, sample_data):
    store = make_store(tmp_path, sample_data)
    text = _csv(sample_data, [("train", 1, "wrong", 3)]).replace(sample_data.fingerprint, "0123456789abcdef")
    with pytest.raises(MarksImportError, match=rf"line 2: these marks are for data '0123456789abcdef', this data is "
                                               rf"{sample_data.fingerprint}"):
        import_marks(store, text)
    # the side file of another data set is refused too
    save_train_mark(store, 1, 3)
    path = train_marks_path(store)
    raw = json.loads(path.read_text())
    raw["fingerprint"] = "0123456789abcdef"
    path.write_text(json.dumps(raw))
    with pytest.raises(OptionsError, match="marks for data '0123456789abcdef'"):
        load_train_marks(store)


def test_a_given_label_that_is_not_the_datas_is_refused(tmp_path, sample_data):
    store = make_store(tmp_path, sample_data)
    wrong_given = (int(sample_data.y_train[1]) + 1) % 10
    text = (f"split,index,given,verdict,corrected,fingerprint\n"
            f"train,1,{wrong_given},wrong,3,{sample_data.fingerprint}\n")
    with pytest.raises(MarksImportError, match=rf"line 2: train digit 1 is labelled {int(sample_data.y_train[1])} here"):
        import_marks(store, text)


def test_cli_marks_import_bad_file_exits_2_naming_the_line(tmp_path, sample_data, capsys):
    path = tmp_path / "marks.csv"
    path.write_text(_csv(sample_data, [("train", 1, "wrong", 3), ("train", 4000, "wrong", 3)]))
    code = main(["marks", "import", str(path), "--source", "sample", "--models-dir", str(tmp_path / "m")])
    assert code == 2
    assert "line 3: train index 4000 is outside the train set" in capsys.readouterr().err
    assert not (tmp_path / "m" / "label_marks").exists() or not list((tmp_path / "m" / "label_marks").glob("train-*.json"))


# --------------------------------------------------------------- label fixes


def test_zero_marks_say_the_variant_would_equal_the_original(tmp_path, sample_data, capsys):
    store = make_store(tmp_path, sample_data)
    with pytest.raises(OptionsError, match="would equal the original"):
        label_fixes_from(store, "marks")
    save_train_mark(store, 4, None)  # "label is right" is no fix either
    save_train_mark(store, 5, int(sample_data.y_train[5]))  # nor the given digit again
    with pytest.raises(OptionsError, match="would equal the original"):
        label_fixes_from(store, "marks")
    code = main(["train", "--models", "knn", "--label-fixes", "marks", "--source", "sample", "--models-dir", str(tmp_path)])
    assert code == 2 and "would equal the original" in capsys.readouterr().err
    with pytest.raises(OptionsError, match="would equal the original"):
        TrainOptions(label_fixes=LabelFixes()).resolved("knn")


def test_label_fixes_are_part_of_the_key_and_named_in_the_record(tmp_path, sample_data):
    store = make_store(tmp_path, sample_data)
    a = LabelFixes(relabel=((1, 3),), drop=(2,))
    b = LabelFixes(relabel=((1, 4),), drop=(2,))
    keys = {store.key("knn"), store.key("knn", variant_options(a)), store.key("knn", variant_options(b))}
    assert len(keys) == 3
    assert store.key("knn", TrainOptions()) == store.key("knn")  # models without fixes keep their keys
    X, y = a.apply(sample_data.X_train, sample_data.y_train)
    assert len(y) == sample_data.n_train - 1 and y[1] == 3 and np.array_equal(X[2], sample_data.X_train[3])
    with pytest.raises(OptionsError, match="training index 4000 is outside this training set"):
        LabelFixes(drop=(4000,)).apply(sample_data.X_train, sample_data.y_train)


# ------------------------------------------------------------ the whole loop


@pytest.mark.slow  # fits KNN 5 times and logistic regression twice
def test_flip_experiment_cleaned_variant_recovers_accuracy(tmp_path, sample_data):
    """200 training labels flipped to another digit: ranked out of fold (KNN), the top 300
    suspects reviewed by an oracle (the true label), KNN retrained on the cleaned labels."""
    rng = np.random.default_rng(0)
    flipped = np.sort(rng.choice(sample_data.n_train, 200, replace=False))
    y_noisy = np.array(sample_data.y_train, copy=True)
    y_noisy[flipped] = (y_noisy[flipped] + rng.integers(1, 10, size=200)) % 10
    noisy = MnistData(np.array(sample_data.X_train), y_noisy, np.array(sample_data.X_test), np.array(sample_data.y_test),
                      "sample", "200 flipped training labels", "")
    clean_store, store = make_store(tmp_path / "clean", sample_data), make_store(tmp_path / "noisy", noisy)
    name = "logreg"
    clean = train_model(clean_store, name)
    acc_clean = float(np.mean(clean_store.predictions(clean).y_pred == sample_data.y_test))

    oof = compute_out_of_fold(store, ["knn"], scope="train", folds=5)
    assert store.side_path("oof", oof_side_key("knn", scope="train", folds=5, seed=0), ".npz").is_file()
    assert load_out_of_fold(store, ["knn"]) is not None  # cached: the page reads it without fitting
    table = rank_train_labels(oof, top=300)
    assert table["score"].is_monotonic_increasing
    found = np.isin(table["index"], flipped)
    assert found.sum() >= 120  # most flips are among the 300 most suspect
    for index in table["index"]:
        index = int(index)
        save_train_mark(store, index, int(sample_data.y_train[index]) if index in set(flipped) else None)

    fixes = label_fixes_from(store, "marks")
    assert len(fixes.relabel) == found.sum() and not fixes.drop
    train_model(store, name)
    train_model(store, name, options=variant_options(fixes))
    rec_a, pa = variant_predictions(store, name, None)
    rec_b, pb = variant_predictions(store, name, fixes)
    assert rec_b.label_fixes == fixes.summary() and "labels cleaned" in rec_b.options_summary()
    verdict = loop_verdict(rec_a, pa, rec_b, pb, load_marks(store))
    acc_noisy, acc_cleaned = verdict.original.accuracy_a, verdict.original.accuracy_b
    cost = acc_clean - acc_noisy
    print(f"\nflip experiment ({name}): clean {acc_clean:.4f}, 200 flipped {acc_noisy:.4f}, cleaned {acc_cleaned:.4f}; "
          f"{int(found.sum())} of 200 flips in the top 300; McNemar p {verdict.original.p_value:.3g}")
    assert cost > 0, "the flips cost accuracy"
    assert acc_cleaned > acc_noisy, (acc_clean, acc_noisy, acc_cleaned)
    assert (acc_cleaned - acc_noisy) / cost >= 0.25  # a measurable share of what the flips cost is back
    with pytest.raises(ArtifactError, match="is not trained"):
        variant_predictions(store, name, LabelFixes(drop=(1,)))
