"""Light HTML views for places where a chart library would cost more than it shows.

Each builder returns an HTML string (unit-testable, no Streamlit call); pages pass it to
``st.html``. They exist for speed: a Plotly chart costs the browser 50-200 ms to draw on this
project's 2-core machine and the first one in a tab loads Plotly's 4.7 MB script, and the data
grid behind ``st.dataframe`` loads 1.3 MB more. The Draw page shows every model's answer after
every stroke, and Home is the first page a user opens, so both use these instead
(docs/ui-benchmark.md has the measurements).

- :func:`answer_cards_html`: every model's top-3 answer for one digit, as cards with bars
  (``<div class="answer-card">`` per model; browser tests count them).
- :func:`class_balance_html`: training and test digits per class as paired bars.
- :func:`table_html`: a plain table of rows (dicts), numbers right-aligned.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from core.models.catalog import ScoreKind
from core.plots.metrics import BLUE, ORANGE
from dashboard.components import score_label

__all__ = ["answer_cards_html", "class_balance_html", "table_html"]

_LIGHT_BLUE = "#9ecae1"  # the runners-up

_CARDS_CSS = """
<style>
.answer-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px;margin:2px 0 10px}
.answer-card{border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:6px 10px 8px;background:rgba(128,128,128,.05)}
.answer-card .who{font-weight:600;font-size:15px}
.answer-card .kind{color:rgba(128,128,128,1);font-size:12px;margin:0 0 4px}
.answer-row{display:grid;grid-template-columns:52px 1fr 62px;align-items:center;gap:6px;font-size:13px;
 font-variant-numeric:tabular-nums;line-height:20px}
.answer-row .bar{height:12px;border-radius:2px;background:rgba(128,128,128,.15);overflow:hidden}
.answer-row .bar>div{height:100%}
.answer-row .val{text-align:right}
</style>
"""


def answer_cards_html(answers: pd.DataFrame) -> str:
    """One card per row of ``answers`` (core.analysis.evaluation.predict_digit: label, prediction,
    score_kind, top_digits, top_scores), in the order given. Probabilities get bars on a 0-100%
    scale; decision scores (whose scale differs between models) get bars relative to the
    card's own range, and the card says they are not probabilities."""
    parts = [_CARDS_CSS, '<div class="answer-grid">']
    for row in answers.itertuples(index=False):
        is_proba = ScoreKind(row.score_kind).is_probability
        scores = [float(s) for s in row.top_scores]
        if is_proba:
            widths = [100 * min(max(s, 0.0), 1.0) for s in scores]
            kind = "top-3 probabilities"
        else:
            low, high = min(scores), max(scores)
            span = high - low
            widths = [100.0 if span == 0 else 15 + 85 * (s - low) / span for s in scores]
            kind = "top-3 decision scores (not probabilities)"
        rows = []
        for k, (digit, score, width) in enumerate(zip(row.top_digits, scores, widths)):
            colour = BLUE if k == 0 else _LIGHT_BLUE
            rows.append(
                f'<div class="answer-row"><span>digit {int(digit)}</span>'
                f'<div class="bar"><div style="width:{width:.1f}%;background:{colour}"></div></div>'
                f'<span class="val">{score_label(score, row.score_kind)}</span></div>'
            )
        parts.append(
            f'<div class="answer-card" data-model="{html.escape(str(row.model), quote=True)}">'
            f'<div class="who">{html.escape(str(row.label))}: {int(row.prediction)}</div>'
            f'<div class="kind">{kind}</div>{"".join(rows)}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


_BALANCE_CSS = """
<style>
.balance{display:grid;grid-template-columns:18px 1fr 64px;gap:3px 8px;align-items:center;font-size:13px;
 font-variant-numeric:tabular-nums;max-width:520px}
.balance .bars div{height:8px;border-radius:2px;margin:1px 0}
.balance .n{text-align:right;color:rgba(128,128,128,1);font-size:12px;line-height:1.15}
.balance-key{font-size:12px;margin-top:6px}
.balance-key span{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:middle}
</style>
"""


def class_balance_html(train_counts: Sequence[int], test_counts: Sequence[int]) -> str:
    """Digits 0-9 with two bars each: the share of the training set (blue) and of the test set
    (orange) holding that digit, on one scale, with the counts beside them."""
    train = np.asarray(train_counts, dtype=float)
    test = np.asarray(test_counts, dtype=float)
    if train.shape != test.shape or train.ndim != 1 or len(train) == 0:
        raise ValueError(f"train_counts and test_counts must be two equal-length lists, got {train.shape} and {test.shape}.")
    share_train = train / max(train.sum(), 1)
    share_test = test / max(test.sum(), 1)
    top = max(float(share_train.max()), float(share_test.max()), 1e-12)
    parts = [_BALANCE_CSS, '<div class="balance">']
    for digit, (a, b, na, nb) in enumerate(zip(share_train, share_test, train, test)):
        parts.append(
            f'<span>{digit}</span><div class="bars" title="digit {digit}: {100 * a:.1f}% of training, {100 * b:.1f}% of test">'
            f'<div style="width:{100 * a / top:.1f}%;background:{BLUE}"></div>'
            f'<div style="width:{100 * b / top:.1f}%;background:{ORANGE}"></div></div>'
            f'<span class="n">{int(na):,}<br>{int(nb):,}</span>'
        )
    parts.append("</div>")
    parts.append(f'<div class="balance-key"><span style="background:{BLUE}"></span>training'
                 f'<span style="background:{ORANGE}"></span>test (bars: share of each set)</div>')
    return "".join(parts)


_TABLE_CSS = """
<style>
table.plain{border-collapse:collapse;font-size:14px;margin:4px 0 8px;width:100%}
table.plain th,table.plain td{padding:4px 10px;border-bottom:1px solid rgba(128,128,128,.25);text-align:left}
table.plain th{font-weight:600;border-bottom:1px solid rgba(128,128,128,.6)}
table.plain td.num,table.plain th.num{text-align:right;font-variant-numeric:tabular-nums}
</style>
"""


def table_html(rows: Sequence[Mapping[str, object]], *, formats: Mapping[str, str] | None = None) -> str:
    """A plain HTML table of ``rows`` (dicts with the same keys, in column order). Numbers are
    right-aligned and formatted with ``formats[column]`` (e.g. ``"{:.2f}"``); None is blank."""
    NUM = ' class="num"'  # noqa: N806
    formats = dict(formats or {})
    columns = list(rows[0]) if rows else []
    numeric = {c for c in columns if any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)}

    def cell(column: str, value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            text = ""
        elif column in formats:
            text = formats[column].format(value)
        else:
            text = str(value)
        return f"<td{NUM if column in numeric else ''}>{html.escape(text)}</td>"

    head = "".join(f"<th{NUM if c in numeric else ''}>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(c, r.get(c)) for c in columns) + "</tr>" for r in rows)
    return f'{_TABLE_CSS}<table class="plain"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
