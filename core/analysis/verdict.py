"""The Draw page's headline: what the models say about one drawn digit, and when to hedge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analysis.format import honest_percent, plain_number
from core.analysis.trust import confidence
from core.models.catalog import ScoreKind
from core.models.predict import TestPredictions

__all__ = ["AGREEMENT", "HEDGE_SHARE", "InkReference", "Verdict", "confidence_threshold", "ink_statistics", "verdict"]


#: A model is "not confident" on a digit when its confidence is below the level under which
#: lie its HEDGE_SHARE least confident test digits.
HEDGE_SHARE = 0.02
#: The headline is clear only when at least this share of the models give the best model's answer.
AGREEMENT = 0.6
#: Ink statistics outside MNIST's [INK_QUANTILE, 1 - INK_QUANTILE] range are "far from MNIST".
INK_QUANTILE = 0.001

#: The statistics the "not a digit" check uses. Not ``fill``: a firmly drawn "1" (a plain
#: vertical bar) is denser than MNIST's 0.1-99.9% range, and it is a digit.
INK_STATS = ("height", "width", "ink")


def ink_statistics(X: np.ndarray) -> pd.DataFrame:
    """Per digit (n, 784): ``height`` and ``width`` of the ink's bounding box (pixels above 25%
    of 255), ``ink`` (total ink / 255, in full pixels) and ``fill`` (ink / box area)."""
    imgs = np.asarray(X).reshape(-1, 28, 28)  # no float copy: 60,000 digits as float64 are 376 MB (1 s)
    mask = imgs > 64
    rows, cols = mask.any(axis=2), mask.any(axis=1)

    def extent(m: np.ndarray) -> np.ndarray:
        lo = np.where(m.any(axis=1), np.argmax(m, axis=1), 0)
        hi = np.where(m.any(axis=1), 27 - np.argmax(m[:, ::-1], axis=1), -1)
        return (hi - lo + 1).astype(float)

    height, width = extent(rows), extent(cols)
    ink = imgs.sum(axis=(1, 2), dtype=np.float64) / 255.0
    fill = ink / np.maximum(height * width, 1.0)
    return pd.DataFrame({"height": height, "width": width, "ink": ink, "fill": fill})


@dataclass(frozen=True)
class InkReference:
    """MNIST's usual range of each ink statistic: ``low`` and ``high`` (dicts by statistic)."""

    low: dict[str, float]
    high: dict[str, float]

    @classmethod
    def from_digits(cls, X: np.ndarray, *, quantile: float = INK_QUANTILE) -> InkReference:
        """The [quantile, 1 - quantile] range of each statistic over real digits ``X`` (n, 784)."""
        stats = ink_statistics(X)
        return cls({k: float(stats[k].quantile(quantile)) for k in INK_STATS},
                   {k: float(stats[k].quantile(1 - quantile)) for k in INK_STATS})

    def unusual(self, pixels: np.ndarray) -> list[str]:
        """Plain-words reasons why the digit ``pixels`` (784,) is unlike MNIST (empty if none)."""
        s = ink_statistics(np.asarray(pixels).reshape(1, 784)).iloc[0]
        words = {"height": "tall", "width": "wide", "ink": "much ink"}
        out = []
        for k in INK_STATS:
            usual = f"MNIST's usual {plain_number(self.low[k])}–{plain_number(self.high[k])}"
            if s[k] < self.low[k]:
                out.append(f"{k} {plain_number(s[k])} is below {usual} (not {words[k]} enough)")
            elif s[k] > self.high[k]:
                out.append(f"{k} {plain_number(s[k])} is above {usual} (too {words[k]})")
        return out


def confidence_threshold(preds: TestPredictions, *, share: float = HEDGE_SHARE) -> float:
    """The confidence below which lie the model's ``share`` least confident test digits."""
    return float(np.quantile(confidence(preds.scores, preds.score_kind), share))


@dataclass(frozen=True)
class Verdict:
    """The Draw page's headline as data.

    ``kind``: "clear", "unsure" or "not a digit"; ``headline``: e.g. "Prediction: 7",
    "Not sure: 4 or 9?", "This does not look like a digit"; ``digit``: the best model's
    answer; ``candidates``: the digits in question, best first; ``agree``/``n_models``: how
    many models give ``digit``; ``confident``: whether the most accurate model is confident;
    ``reasons``: plain sentences behind the verdict (none repeats the agreement count).
    """

    kind: str
    headline: str
    digit: int
    candidates: tuple[int, ...]
    agree: int
    n_models: int
    confident: bool
    reasons: tuple[str, ...]

    def sentence(self, best_label: str, *, accuracy: float | None = None) -> str:
        """The caption under the headline, each fact once: who says what, how many agree, why.
        ``best_label``: the most accurate model's label; ``accuracy`` (0-1) its test accuracy."""
        acc = f" ({honest_percent(accuracy, decimals=1)} on the test set)" if accuracy is not None else ""
        agree = (f"all {self.n_models} models agree" if self.agree == self.n_models > 1
                 else f"{self.agree} of {self.n_models} models agree")
        text = f"{best_label}, the most accurate trained model{acc}, says {self.digit}; {agree}."
        if self.reasons:
            text += " " + " ".join(r[:1].upper() + r[1:].rstrip(".") + "." for r in self.reasons)
        return text


def _confidence_of(row) -> float:
    scores = np.asarray(row["top_scores"], dtype=float)
    if ScoreKind(row["score_kind"]).is_probability:
        return float(scores[0])
    return float(scores[0] - scores[1]) if len(scores) > 1 else float("inf")


def _sure_text(row) -> str:
    value = _confidence_of(row)
    if ScoreKind(row["score_kind"]).is_probability:
        return f"{row['label']} is {honest_percent(value, decimals=1)} sure of {int(row['prediction'])}"
    return f"{row['label']} is sure of {int(row['prediction'])}"


def verdict(
    answers: pd.DataFrame,
    *,
    thresholds: dict[str, float],
    pixels: np.ndarray | None = None,
    ink_reference: InkReference | None = None,
) -> Verdict:
    """Decide the headline from every model's answer to one digit.

    ``answers``: core.models.predict.predict_digit's table with the most accurate model first
    (columns model, label, prediction, score_kind, top_digits, top_scores); ``thresholds``:
    model name -> :func:`confidence_threshold` (a model is *sure* at or above its threshold);
    ``pixels`` (784,) and ``ink_reference`` enable the "not a digit" check on ink statistics.

    Rules, in order:

    1. "not a digit" when the ink is outside MNIST's range (a dot, a bar, a filled square);
    2. "clear" when every model gives the same digit (two or more models): unanimity is the
       strongest evidence there is, and hedging it is as wrong as over-claiming;
    3. "not a digit" when no model is sure;
    4. "unsure" ("Not sure: 4 or 9?") when fewer than :data:`AGREEMENT` of the models give the
       best model's digit (when sure models are among those who disagree, the reason names two
       of them: "LogReg is 99.95% sure of 8 but MLP is 99.9% sure of 3"), or the best model is
       not sure;
    5. "clear" otherwise.
    """
    if answers.empty:
        raise ValueError("verdict needs at least one model's answer.")
    best = answers.iloc[0]
    digit = int(best["prediction"])
    n = len(answers)
    agree = int((answers["prediction"] == digit).sum())
    sure = [row for _, row in answers.iterrows() if _confidence_of(row) >= thresholds.get(row["model"], -np.inf)]
    confident = _confidence_of(best) >= thresholds.get(best["model"], -np.inf)
    votes = answers["prediction"].value_counts()
    others = [int(d) for d in votes.index if int(d) != digit]
    top = [int(d) for d in best["top_digits"]]
    second = others[0] if others else (top[1] if len(top) > 1 else digit)
    candidates = (digit, second)

    unusual = ink_reference.unusual(pixels) if (ink_reference is not None and pixels is not None) else []
    if unusual:
        return Verdict("not a digit", "This does not look like a digit", digit, candidates, agree, n, confident,
                       tuple(unusual))
    if agree == n and n > 1:
        return Verdict("clear", f"Prediction: {digit}", digit, (digit,), agree, n, confident, ())
    if not sure:
        return Verdict("not a digit", "This does not look like a digit", digit, candidates, agree, n, confident,
                       ("no model is as sure as on 98% of the test digits",))
    sure_digits = list(dict.fromkeys(int(r["prediction"]) for r in sure))  # in order of accuracy
    # sure models that disagree matter when the vote is split anyway; one outlier among many agreeing
    # models (often a linear model sure of its own mistake) does not make a clear answer unsure
    split = len(sure_digits) > 1 and agree / n < AGREEMENT
    if split:
        a = next(r for r in sure if int(r["prediction"]) == sure_digits[0])
        b = next(r for r in sure if int(r["prediction"]) == sure_digits[1])
        sure_reason = f"{_sure_text(a)} but {_sure_text(b)}: when sure models disagree, their confidence means little"
        second = sure_digits[1] if sure_digits[0] == digit else sure_digits[0]
        candidates = (digit, second)
    reasons: list[str] = []
    if split:
        reasons.append(sure_reason)
    elif agree / n < AGREEMENT:
        reasons.append(f"the others say {', '.join(str(d) for d in others)}")
    if not confident:
        reasons.append(f"{best['label']} is less sure than on 98% of the test digits")
    if reasons:
        return Verdict("unsure", f"Not sure: {digit} or {second}?", digit, candidates, agree, n, confident, tuple(reasons))
    return Verdict("clear", f"Prediction: {digit}", digit, (digit,), agree, n, confident,
                   (f"{best['label']} is as sure as on most test digits",))
