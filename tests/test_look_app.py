"""Pages that show what core computes, as a user reads it (AppTest on the sample models): the CNN's
training curve on the Leaderboard, label-error tiles counting the models averaged, the Tune
button naming every best setting, and the Precision recall threshold printed short."""

from __future__ import annotations

import re

from apptest_support import assert_clean, run_page

from core.analysis.evaluation import binary_analysis, threshold_for
from core.models.catalog import MODELS


def test_leaderboard_shows_the_cnn_training_curve(env):
    at = run_page("pages/1_Leaderboard.py")
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert any(c.startswith(f"{MODELS['cnn'].label}: ") and "epochs" in c for c in captions), captions
    assert any(c.startswith("MLP: ") and "epochs" in c for c in captions), captions


def test_label_error_tiles_count_the_models_averaged(env, preds):
    at = run_page("pages/6_Label_errors.py")
    assert_clean(at)
    n_proba = sum(p.score_kind == "probability" for p in preds.values())
    text = " ".join(m.value for m in at.markdown)
    counts = {int(n) for n in re.findall(r"of (\d+) models disagree", text)}
    assert counts == {n_proba}, (counts, n_proba)
    at.sidebar.checkbox(key="le_calibrate").check().run()
    text = " ".join(m.value for m in at.markdown)
    assert {int(n) for n in re.findall(r"of (\d+) models disagree", text)} == {len(preds)}


def test_move_to_target_prints_a_short_threshold(env, preds):
    at = run_page("pages/3_Precision_recall.py", {"model": "logreg"})
    assert_clean(at)
    at.number_input(key="pr_target").set_value(97.0)
    at.button(key="pr_target_button").click().run()
    assert_clean(at)
    exact = threshold_for(binary_analysis(preds["logreg"], 5), precision=0.97)
    assert exact is not None and len(repr(float(exact))) > 8  # a long float, as the one in the report
    shown = [s.value for s in at.success] + [c.value for c in at.caption]
    assert not any(repr(float(exact)) in t for t in shown), shown
    assert any(re.search(r"Threshold moved to \d\.\d{4}\b", t) for t in shown), shown
