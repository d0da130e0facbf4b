"""dashboard.html_views: the light HTML views on Home and the Draw page, on real models' answers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.models.catalog import ScoreKind
from core.models.predict import predict_digit
from dashboard.html_views import answer_cards_html, class_balance_html, table_html


def _widths(card: str) -> list[float]:
    return [float(w) for w in re.findall(r"width:([\d.]+)%", card)]


def test_answer_cards_one_card_per_model_in_order(sample_models, sample_data):
    models = list(sample_models.values())
    answers = predict_digit(models, sample_data.X_test[0])
    page = answer_cards_html(answers)
    cards = [re.match(r'"([^"]+)">(.*)', part, re.S).groups() for part in page.split('<div class="answer-card" data-model=')[1:]]
    assert [name for name, _ in cards] == [m.record.name for m in models]
    for row, (_, card) in zip(answers.itertuples(index=False), cards):
        assert f"{row.label}: {row.prediction}" in card
        assert card.count('class="answer-row"') == len(row.top_digits) <= 3  # no zero-probability runners-up
        assert [int(d) for d in re.findall(r"<span>digit (\d)</span>", card)] == list(row.top_digits)
        widths = _widths(card)
        assert widths == sorted(widths, reverse=True)  # best first
        if ScoreKind(row.score_kind).is_probability:
            assert "top-3 probabilities" in card
            np.testing.assert_allclose(widths, [100 * s for s in row.top_scores], atol=0.06)
        else:
            assert "decision scores (not probabilities)" in card
            assert "%" not in re.sub(r"width:[\d.]+%", "", card)  # no score shown as a percentage


def test_answer_cards_escape_labels(sample_models, sample_data):
    answers = predict_digit([sample_models["mlp"]], sample_data.X_test[0])
    answers.loc[0, "label"] = "<script>x</script>"
    page = answer_cards_html(answers)
    assert "<script>x" not in page and "&lt;script&gt;x" in page


def test_class_balance_bars_follow_the_shares(sample_data):
    counts = sample_data.class_counts()
    page = class_balance_html(counts["train"], counts["test"])
    widths = _widths(page)
    assert len(widths) == 20
    train_share = np.asarray(counts["train"]) / np.sum(counts["train"])
    test_share = np.asarray(counts["test"]) / np.sum(counts["test"])
    top = max(train_share.max(), test_share.max())
    np.testing.assert_allclose(widths[0::2], 100 * train_share / top, atol=0.06)
    np.testing.assert_allclose(widths[1::2], 100 * test_share / top, atol=0.06)
    assert f"{int(counts['train'][0]):,}" in page


def test_class_balance_refuses_mismatched_counts():
    with pytest.raises(ValueError, match="equal-length"):
        class_balance_html([1, 2, 3], [1, 2])


def test_table_formats_numbers_and_blanks():
    page = table_html([{"model": "KNN", "accuracy %": 98.456, "fit s": None},
                       {"model": "<b>", "accuracy %": 95.0, "fit s": 1.25}], formats={"accuracy %": "{:.2f}"})
    assert "<td>KNN</td>" in page and "&lt;b&gt;" in page
    assert '<td class="num">98.46</td>' in page and '<td class="num"></td>' in page
    assert '<th class="num">accuracy %</th>' in page and "<th>model</th>" in page
