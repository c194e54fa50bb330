"""How the report writes a figure, shared by every renderer (report.md, the terminal, report.html, compare).

A figure not measured is a dash; a figure that is only a bound carries its
mark before it: ≥ a lower bound (failed requests are not in it), ≤ an upper
bound (the highest of its load hosts'), ≶ both (no bound either way).
"""

from __future__ import annotations

from typing import Any

from benchreport.model import Record

DASH = "–"
#: Before a p99 that is an upper bound (several load hosts whose requests could not be merged)...
UPPER_BOUND_MARK = "≤"
#: ...a lower bound (failed requests are not in it: summary.json's p99_lower_bound)...
LOWER_BOUND_MARK = "≥"
#: ...or both: the figure bounds the true p99 neither way.
NO_BOUND_MARK = "≶"
#: model.bound's words as marks.
BOUND_MARKS = {"lower": LOWER_BOUND_MARK, "upper": UPPER_BOUND_MARK, "none": NO_BOUND_MARK}


def num(value: Any, digits: int) -> str:
    """A figure with `digits` decimals (an int as it is); a dash for None."""
    if value is None:
        return DASH
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}f}"


def ms(value: float | None) -> str:
    """ms: whole numbers from 100 up (ab's own resolution is 1 ms), one decimal below."""
    if value is None:
        return DASH
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def figure(x: float | None, digits: int | None) -> str:
    """A metric's figure (model.Metric.digits): `digits` decimals; None: whole numbers from 100 up, one decimal
    below (ms, as the report shows them); a dash for None."""
    if x is None:
        return DASH
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1
    return f"{x:.{digits}f}"


def g(x: float) -> str:
    """A number without trailing zeros: 1, 0.05, 2.5."""
    return f"{x:g}"


def bound_mark(lower: bool, upper: bool) -> str:
    """≥ a lower bound, ≤ an upper one, ≶ both, "" exact."""
    return NO_BOUND_MARK if lower and upper else LOWER_BOUND_MARK if lower else UPPER_BOUND_MARK if upper else ""


def p99_mark(rec: Record) -> str:
    """The mark before a record's p99 (p99_lower_bound, p99_upper_bound); "" an exact one or none."""
    if rec.p99_ms is None:
        return ""
    return bound_mark(bool(rec.p99_lower_bound), bool(rec.p99_upper_bound))
