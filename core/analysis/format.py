"""One number formatter for every page, table and chart: honest, plain, consistent.

* :func:`honest_decimal`: a score in [0, 1] (AP, AUC, F1, a probability) with at least
  ``decimals`` decimals, and more when rounding would print ``1.000`` or ``0.000`` for a value
  that is not exactly 1 or 0 (AP 0.99985 is ``0.9999``, never ``1.000``).
* :func:`honest_percent`: a share (0-1) as a percentage with a fixed number of decimals, and the
  same rule at 0% and 100% (``99.96%``, never ``100.0%`` for a value below 1).
* :func:`plain_number`: any number without scientific notation, to a few significant digits
  (``250``, ``28``, ``0.0123``, ``12,345``).
* :func:`fixed_decimals`: a column of numbers with one number of decimals for all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["MAX_DECIMALS", "fixed_decimals", "honest_decimal", "honest_percent", "plain_number"]

#: The most decimals the honest formatters add before they fall back to ``>0.9999…``.
MAX_DECIMALS = 6


def _honest(value: float, decimals: int, low: float, high: float, max_decimals: int) -> str:
    """``value`` with ``decimals`` or more decimals, so that it prints ``low`` or ``high`` only
    when it is exactly that; beyond ``max_decimals``, ``>…9`` / ``<0.…1``."""
    for d in range(decimals, max(decimals, max_decimals) + 1):
        text = f"{value:.{d}f}"
        shown = float(text)
        if (shown >= high and value < high) or (shown <= low and value > low):
            continue
        return text
    d = max(decimals, max_decimals)
    step = 10.0**-d
    if value > (low + high) / 2:
        return f">{high - step:.{d}f}"
    return f"<{low + step:.{d}f}"


def honest_decimal(value: float, *, decimals: int = 3, max_decimals: int = MAX_DECIMALS) -> str:
    """A score in [0, 1] with ``decimals`` decimals, or as many more (up to ``max_decimals``) as
    it takes not to show ``1.000``/``0.000`` for a value that is not exactly 1/0.
    ``honest_decimal(0.99985) == "0.9999"`` (or ``"0.9998"``: never ``"1.000"``)."""
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    return _honest(value, decimals, 0.0, 1.0, max_decimals)


def honest_percent(share: float, *, decimals: int = 1, max_decimals: int = 4) -> str:
    """A share (0-1) as a percentage with ``decimals`` decimals (``1.4%``, ``45.0%``), more when
    rounding would show 0% or 100% for a share that is not exactly 0 or 1 (``99.96%``); a share
    too close to the edge for ``max_decimals`` shows as ``>99.9999%`` / ``<0.0001%``."""
    share = float(share)
    if not math.isfinite(share):
        return "n/a"
    return _honest(100.0 * share, decimals, 0.0, 100.0, max_decimals) + "%"


def plain_number(value: float, *, significant: int = 3) -> str:
    """``value`` to ``significant`` significant digits, never in scientific notation, with
    thousands separators: ``plain_number(251.7) == "252"``, ``plain_number(28.04) == "28"``,
    ``plain_number(0.0123456) == "0.0123"``, ``plain_number(12345.6) == "12,346"``."""
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(value))))
    decimals = max(0, significant - 1 - magnitude)
    rounded = round(value, decimals)
    text = f"{rounded:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "−")


def fixed_decimals(values: Iterable[float], *, decimals: int = 2) -> list[str]:
    """Each number with exactly ``decimals`` decimals (``95.00``, ``94.30``, ``95.05``); blanks
    for missing values. One column of a table, one look."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            out.append("")
        else:
            out.append(f"{float(v):.{decimals}f}")
    return out
