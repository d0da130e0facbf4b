"""The map: layouts of the sample's 1,000 test digits, their faithfulness, caching as store side
files, model feature spaces, selections, the figure, and ``python -m core map``.

PCA layouts keep most tests fast; one test runs real UMAP (about a minute the first time in a
process: numba compiles it) and is marked slow."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest
from conftest import make_store
from sklearn.manifold import trustworthiness

from core.analysis.embedding import (
    PIXELS,
    build_map,
    cached_map,
    check_space,
    faithfulness,
    feature_spaces,
    hidden_features,
    load_or_build_map,
    map_features,
    map_frame,
)
from core.analysis.map_placement import place_digits, summarize_placement
from core.analysis.map_selection import (
    Selection,
    format_selection,
    parse_selection,
    selection_from_shape,
    selection_mask,
    summarize_selection,
)
from core.cli.main import main
from core.errors import OptionsError
from core.plots.embedding import DIGIT_COLOURS, braille_digits, plot_map


@pytest.fixture(scope="module")
def pca_map(sample_data):
    return build_map(sample_data, method="pca", random_state=0)


# ------------------------------------------------------------------ layouts


def test_pca_map_of_the_sample(pca_map, sample_data):
    assert pca_map.xy.shape == (1000, 2) and pca_map.xy.dtype == np.float32
    assert pca_map.train_xy.shape == (4000, 2)  # all 4,000 training digits (fewer than the 10,000 sample)
    np.testing.assert_array_equal(pca_map.train_index, np.arange(4000))
    assert 0.5 < pca_map.trustworthiness < 1 and 0.1 < pca_map.neighbour_agreement < 1
    frame = map_frame(pca_map, sample_data.y_test)
    assert list(frame.columns) == ["index", "x", "y", "label"] and len(frame) == 1000


def test_faithfulness_tells_a_good_picture_from_noise(sample_data):
    feats = map_features(sample_data).test
    labels = sample_data.y_test
    rng = np.random.default_rng(0)
    noise = faithfulness(feats, rng.normal(size=(len(labels), 2)), labels)
    sorted_by_label = faithfulness(feats, np.column_stack([labels * 10.0, rng.normal(size=len(labels))]), labels)
    assert noise.neighbour_agreement < 0.2 < 0.9 < sorted_by_label.neighbour_agreement
    assert noise.trustworthiness < 0.6  # random neighbourhoods: about 0.5
    # the figure is sklearn's trustworthiness on (here: all) the digits
    xy = feats[:, :2]
    assert faithfulness(feats, xy, labels).trustworthiness == pytest.approx(trustworthiness(feats, xy, n_neighbors=10))


@pytest.mark.slow
def test_real_umap_on_the_sample_is_faithful(sample_data, tmp_path):
    store = make_store(tmp_path, sample_data)
    layout = load_or_build_map(store, method="umap", random_state=0)
    assert layout.xy.shape == (1000, 2) and layout.train_xy.shape == (4000, 2)
    assert layout.trustworthiness > 0.9 and layout.neighbour_agreement > 0.85
    pca = build_map(sample_data, method="pca")
    assert layout.neighbour_agreement > pca.neighbour_agreement + 0.2  # UMAP separates the digits, PCA does not
    again = cached_map(store, method="umap", random_state=0)
    assert again is not None and again.from_cache
    np.testing.assert_array_equal(again.xy, layout.xy)


# ------------------------------------------------------------------ caching


def test_layout_saved_once_and_reused(sample_data, tmp_path):
    store = make_store(tmp_path, sample_data)
    assert cached_map(store, method="pca") is None
    first = load_or_build_map(store, method="pca")
    files = list((tmp_path / "maps").glob("*.npz"))
    assert len(files) == 1 and not first.from_cache
    with np.load(files[0], allow_pickle=False) as f:  # plain arrays, no pickle inside
        assert set(f.files) == {"xy", "train_xy", "train_index", "meta"}
    second = load_or_build_map(store, method="pca")
    assert second.from_cache and second.trustworthiness == first.trustworthiness
    np.testing.assert_array_equal(second.xy, first.xy)
    assert cached_map(store, method="pca", random_state=1) is None  # another seed is another map


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape"])
def test_corrupt_cached_layout_is_recomputed_with_a_warning(sample_data, tmp_path, damage):
    problems: list[str] = []
    store = make_store(tmp_path, sample_data, problem=problems.append)
    good = load_or_build_map(store, method="pca")
    path = next((tmp_path / "maps").glob("*.npz"))
    if damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        arrays["xy"] = arrays["xy"][:10]
        np.savez(path, **arrays)
    again = load_or_build_map(store, method="pca")
    assert not again.from_cache
    np.testing.assert_allclose(again.xy, good.xy, rtol=1e-5, atol=1e-5)
    assert len(problems) == 1 and path.name in problems[0] and "computed again" in problems[0]
    assert load_or_build_map(store, method="pca").from_cache  # the file was rewritten whole


# ------------------------------------------------------------ feature spaces


def test_mlp_hidden_layer_features(sample_models, sample_data):
    pipe = sample_models["mlp"].pipeline
    feats = hidden_features(pipe, sample_data.X_test[:50])
    mlp = pipe[-1]
    assert feats.shape == (50, mlp.coefs_[0].shape[1]) and (feats >= 0).all()  # ReLU activations
    # the hidden layer followed by the output layer gives the model's own scores
    logits = feats @ mlp.coefs_[-1] + mlp.intercepts_[-1]
    np.testing.assert_array_equal(mlp.classes_[logits.argmax(1)], pipe.predict(sample_data.X_test[:50]))


def test_cnn_last_hidden_layer_features(sample_models, sample_data):
    import torch

    pipe = sample_models["cnn"].pipeline
    feats = hidden_features(pipe, sample_data.X_test[:40])
    net = pipe[-1]
    assert feats.shape == (40, 128)
    with torch.no_grad():
        logits = net.module_.head[-1](torch.from_numpy(feats)).numpy()
    np.testing.assert_array_equal(logits.argmax(1), pipe.predict(sample_data.X_test[:40]))


def test_models_without_hidden_layers_have_no_space(sample_models, sample_data):
    assert hidden_features(sample_models["logreg"].pipeline, sample_data.X_test[:3]) is None
    assert hidden_features(sample_models["knn"].pipeline, sample_data.X_test[:3]) is None
    trained = list(sample_models)
    assert feature_spaces(trained) == [PIXELS, "mlp", "cnn"]
    with pytest.raises(OptionsError, match=r"logreg.*no hidden layer.*spaces that work: pixels, mlp, cnn"):
        check_space("logreg", trained)
    with pytest.raises(OptionsError, match=r"'cnn' is not trained.*spaces that work: pixels, mlp"):
        check_space("cnn", ["logreg", "mlp"])
    with pytest.raises(OptionsError, match="no hidden layer"):
        map_features(sample_data, space="logreg", pipeline=sample_models["logreg"].pipeline, name="logreg")


def test_mlp_space_map(sample_models, sample_data, tmp_path):
    store = make_store(tmp_path, sample_data)
    model = sample_models["mlp"]
    layout = load_or_build_map(store, space="mlp", method="pca", pipeline=model.pipeline, name="mlp",
                               model_id=model.record.model_sha256)
    pixels = load_or_build_map(store, method="pca")
    assert layout.xy.shape == (1000, 2) and not np.allclose(layout.xy, pixels.xy)
    # a model's features separate the digits better than raw pixels do
    assert layout.neighbour_agreement > pixels.neighbour_agreement
    assert cached_map(store, space="mlp", method="pca", model_id="another-artifact") is None


# ------------------------------------------------------------------ selection


def test_box_and_lasso_selection():
    xy = np.array([[0, 0], [1, 1], [2, 2], [3, 0.5], [5, 5]], dtype=float)
    box = selection_from_shape("box", [2.5, 0.5], [0, 2.2])
    assert selection_mask(xy, box).tolist() == [False, True, True, False, False]
    triangle = selection_from_shape("lasso", [0.5, 4, 4], [0, 0, 3])
    assert selection_mask(xy, triangle).tolist() == [False, False, False, True, False]
    for sel in (box, triangle):
        assert parse_selection(format_selection(sel)) == sel  # the URL form reopens the same region


def test_selection_text_keeps_urls_short():
    angles = np.linspace(0, 2 * np.pi, 500, endpoint=False)
    sel = selection_from_shape("lasso", np.cos(angles) * 3.14159265, np.sin(angles) * 2.71828)
    assert len(sel.x) <= 80
    assert len(format_selection(sel)) < 1500
    assert parse_selection(format_selection(sel)) == sel


@pytest.mark.parametrize("text", ["", "box:1,2,3", "lasso:1,2;3,4", "circle:1,2,3,4", "box:a,b,c,d", "lasso:1,2;3;4,5"])
def test_malformed_selection_is_refused(text):
    with pytest.raises(OptionsError):
        parse_selection(text)


def test_selection_summary():
    labels = np.array([1, 1, 2, 7, 7, 9])
    pred = np.array([1, 7, 2, 7, 1, 9])
    mask = np.array([True, True, False, True, True, False])
    s = summarize_selection(mask, labels, pred)
    assert s.n == 4 and s.n_errors == 2
    assert s.indices.tolist() == [1, 4, 0, 3]  # the model's errors first
    assert s.counts["by_label"].sum() == 4 and s.counts.loc[7, "by_label"] == 2
    assert s.counts.loc[1, "by_prediction"] == 2
    assert s.inside == pytest.approx(0.5) and s.outside == pytest.approx(1.0)
    empty = summarize_selection(np.zeros(6, bool), labels, pred)
    assert empty.n == 0 and empty.inside is None and empty.outside == pytest.approx(4 / 6)


# ------------------------------------------------------------------- figure


def _frame(pca_map, preds, sample_data):
    p = preds["knn"]
    return pd.DataFrame({"index": np.arange(1000), "x": pca_map.xy[:, 0], "y": pca_map.xy[:, 1], "label": p.y_true,
                         "pred": p.y_pred, "correct": p.y_pred == p.y_true, "confidence": p.scores.max(1),
                         "suspect": np.arange(1000) < 3, "correct_b": preds["logreg"].y_pred == p.y_true,
                         "hover": braille_digits(sample_data.X_test)})


def test_map_figure_traces(pca_map, preds, sample_data):
    frame = _frame(pca_map, preds, sample_data)
    bg = pd.DataFrame({"x": pca_map.train_xy[:, 0], "y": pca_map.train_xy[:, 1]})
    fig = plot_map(frame, colour="label", background=bg, model_label="KNN")
    assert all(t.type == "scattergl" for t in fig.data)
    assert fig.data[0].name == "training digits" and fig.data[0].customdata is None
    by_label = {t.name: t for t in fig.data[1:11]}
    for d in range(10):
        trace = by_label[f"label {d}"]
        assert trace.marker.color == DIGIT_COLOURS[d]
        assert (np.asarray(trace.customdata)[:, 1] == d).all()
    wrong = next(t for t in fig.data if t.name == "KNN wrong")
    assert len(wrong.x) == int((~frame["correct"]).sum())
    suspects = next(t for t in fig.data if t.name == "label suspects")
    assert sorted(np.asarray(suspects.customdata)[:, 0].tolist()) == [0, 1, 2]
    assert "%{text}" in fig.data[1].hovertemplate and "KNN" in fig.data[1].hovertemplate
    plain = plot_map(frame, colour="label", show_errors=False, show_suspects=False)
    assert {t.name for t in plain.data} == {f"label {d}" for d in range(10)}


def test_map_figure_colourings_and_selection(pca_map, preds, sample_data):
    frame = _frame(pca_map, preds, sample_data)
    pair = plot_map(frame, colour="pair", show_suspects=False)
    assert sum(len(t.x) for t in pair.data) == 1000
    assert {t.name for t in pair.data} <= {"both right", "A right, B wrong", "A wrong, B right", "both wrong"}
    conf = plot_map(frame, colour="confidence", show_errors=False, show_suspects=False)
    assert len(conf.data) == 1 and conf.data[0].marker.colorbar.title.text == "confidence"
    chosen = [5, 17, 400]
    fig = plot_map(frame, colour="correct", selected=chosen, selection={"kind": "box", "x": [0, 1], "y": [0, 1]})
    picked = []
    for t in fig.data:
        picked += np.asarray(t.customdata)[list(t.selectedpoints), 0].tolist()
    assert sorted(picked) == chosen and fig.layout.shapes[0].type == "rect"
    with pytest.raises(ValueError, match="unknown colouring"):
        plot_map(frame, colour="rainbow")
    with pytest.raises(ValueError, match="needs the column 'quality'"):
        plot_map(frame, colour="quality")


def test_braille_digits_draw_the_ink_cropped_to_it():
    img = np.zeros((4, 784), dtype=np.uint8)
    img[1].reshape(28, 28)[:, 13:15] = 255  # a vertical bar in the middle: cells 6 and 7 of every line
    img[2].reshape(28, 28)[0, 0] = 255  # one pixel in the top-left corner: Braille dot 1
    img[3].reshape(28, 28)[27, 27] = 255  # bottom-right: dot 8
    blank, bar, top_left, bottom_right = braille_digits(img)
    assert blank == "\u2800"
    lines = bar.split("<br>")
    assert len(lines) == 7 and all(len(line) == 2 and "\u2800" not in line for line in lines)
    assert len(set(lines)) == 1
    assert top_left == chr(0x2801) and bottom_right == chr(0x2880)


# ---------------------------------------------------------------------- CLI


def _cli(capsys, *args):
    rc = main(["map", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_writes_the_map(capsys, tmp_path, sample_data):
    out_csv = tmp_path / "map.csv"
    rc, out, err = _cli(capsys, "--method", "pca", "--source", "sample", "--models-dir", str(tmp_path / "models"),
                        "--out", str(out_csv))
    assert rc == 0, err
    trust = re.search(r"^trustworthiness: (0\.\d\d) ", out, re.M)
    agree = re.search(r"^neighbour agreement: (0\.\d\d) ", out, re.M)
    assert trust and agree
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["index", "x", "y", "label", "placement"] and len(rows) == 1000
    assert [int(r["label"]) for r in rows] == sample_data.y_test.tolist()
    deep = re.search(r"^deep inside another cluster: (\d+) digits", out, re.M)
    assert deep and int(deep[1]) == sum(r["placement"] == "deep" for r in rows)
    assert re.search(r"^on a border: \d+ digits", out, re.M)
    layout = cached_map(make_store(tmp_path / "models", sample_data), method="pca")
    assert float(trust[1]) == pytest.approx(layout.trustworthiness, abs=0.005)
    np.testing.assert_allclose([float(rows[7]["x"]), float(rows[7]["y"])], layout.xy[7], atol=1e-4)
    rc, _, err = _cli(capsys, "--method", "pca", "--source", "sample", "--models-dir", str(tmp_path / "models"),
                      "--out", str(out_csv))
    assert rc == 0 and "cached" in err


@pytest.mark.parametrize(("flag", "value", "names"), [
    ("--method", "isomap", "umap, tsne, pca"),
    ("--space", "raw", "pixels or a trained model with a hidden layer (mlp, cnn)"),
])
def test_cli_names_the_allowed_values(capsys, tmp_path, flag, value, names):
    rc, _, err = _cli(capsys, flag, value, "--source", "sample", "--models-dir", str(tmp_path), "--out", str(tmp_path / "m.csv"))
    assert rc == 2 and value in err and names in err
    assert not (tmp_path / "m.csv").exists()


def test_cli_model_without_features_names_the_spaces_that_work(capsys, sample_models_dir, tmp_path):
    folder, _ = sample_models_dir
    rc, _, err = _cli(capsys, "--space", "knn", "--method", "pca", "--source", "sample", "--models-dir", str(folder),
                      "--out", str(tmp_path / "m.csv"))
    assert rc == 2 and "'knn' has no hidden layer" in err and "spaces that work: pixels, mlp, cnn" in err


def test_cli_maps_a_model_space(capsys, sample_models_dir, tmp_path):
    folder, _ = sample_models_dir
    rc, out, err = _cli(capsys, "--space", "mlp", "--method", "pca", "--source", "sample", "--models-dir", str(folder),
                        "--out", str(tmp_path / "m.csv"))
    assert rc == 0, err
    assert "MLP" not in out and "PCA of mlp" in err and re.search(r"trustworthiness: 0\.\d\d", out)


def test_selection_dataclass_round_trip():
    sel = Selection("box", (0.0, 1.0), (2.0, 3.0))
    assert sel.as_dict() == {"kind": "box", "x": [0.0, 1.0], "y": [2.0, 3.0]}


# ----------------------------------------------------------------- placement


def test_placement_finds_a_digit_deep_inside_another_cluster_and_one_on_a_border():
    rng = np.random.default_rng(0)
    zeros = rng.normal(0, 0.3, (40, 2))
    ones = rng.normal(0, 0.3, (40, 2)) + [10, 0]
    stray = [[10.05, 0.02]]  # labelled 0, drawn among the ones
    between = [[5, 0], [5.2, 0.1], [4.8, -0.1], [5.1, -0.2]]  # two 0s, two 1s halfway
    xy = np.vstack([zeros, ones, stray, between])
    labels = np.array([0] * 40 + [1] * 40 + [0] + [0, 0, 1, 1])
    placed = place_digits(xy, labels, k=5)
    assert placed.loc[80, "placement"] == "deep" and placed.loc[80, "cluster"] == 1
    assert (placed.loc[:39, "placement"] == "inside").all()
    pred = labels.copy()
    pred[80] = 1  # the model answers the cluster's digit: a likely label error
    deep = summarize_placement(placed, placement="deep", pred=pred)
    assert deep.n == 1 and deep.pairs == (((0, 1), 1),) and deep.model_wrong == deep.model_says_cluster == 1
    assert deep.describe().startswith("deep inside another cluster: 1 digits; label -> cluster: 0 -> 1 (1)")
    border = summarize_placement(placed, placement="border")
    assert set(border.pairs) <= {((0, 1), c) for c in range(1, 5)} | {((1, 0), c) for c in range(1, 5)}
    assert border.n == int((placed["placement"] == "border").sum())


def test_placement_rejects_bad_input():
    with pytest.raises(OptionsError, match="n x 2"):
        place_digits(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(OptionsError, match="smaller k"):
        place_digits(np.zeros((5, 2)), np.zeros(5), k=5)
    with pytest.raises(OptionsError, match="unknown placement 'edge'"):
        summarize_placement(place_digits(np.random.default_rng(0).random((20, 2)), np.zeros(20), k=3), placement="edge")
