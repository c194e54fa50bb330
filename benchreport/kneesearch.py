"""The knee searches (rate=auto): each search's steps in the order they ran, and what it found.

A search's steps are ordinary rate records (benchreport.knee ranks their knee with every other);
their run.json's "search" ({"group", "step", "start", "precision", "budget_ms", "steps", "max_rate"})
says which search and which step. What the search found is replayed from its records with
benchhost.search, the rule the app runner decided the steps with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchhost import search
from benchreport.model import Record, finite, integer


@dataclass
class Row:
    """One step: its number, rate, p99 (the record's: its load hosts merged), failed, the rate its answers
    came at (the record's rps), and why it broke the budget (None: within)."""

    step: int
    rate: float
    p99_ms: float | None
    failed: int | None
    over: str | None
    rps: float | None = None


@dataclass
class KneeSearch:
    group: str
    precision: float
    budget_ms: float
    rows: list[Row] = field(default_factory=list)
    found: str = ""


def _trial(rec: Record) -> search.Trial:
    rc = integer(rec.client_rc)
    error = rec.error or (f"the client exited {rc}" if rc else None)
    unsent = integer((rec.client_detail or {}).get("unsent")) or 0
    return search.Trial(float(rec.rate or 0), finite(rec.p99_ms), integer(rec.failed), unsent,
                        None if error is None else str(error), finite(rec.rps))


def searches(records: list[Record]) -> list[KneeSearch]:
    """Every search among the records, in the order of their first steps."""
    groups: dict[str, list[Record]] = {}
    for rec in records:
        if isinstance(rec.search, dict) and finite(rec.rate) is not None:
            groups.setdefault(str(rec.search.get("group")), []).append(rec)
    out = []
    for group, recs in groups.items():
        recs.sort(key=lambda r: integer((r.search or {}).get("step")) or 0)
        spec = recs[0].search or {}
        replay = search.Search(finite(spec.get("start")) or 0.0, finite(spec.get("precision")) or 0.0,
                               finite(spec.get("budget_ms")) or 0.0, integer(spec.get("steps")) or len(recs),
                               finite(spec.get("max_rate")))
        found = KneeSearch(group, replay.precision, replay.budget_ms)
        for rec in recs:
            t = _trial(rec)
            found.rows.append(Row(integer((rec.search or {}).get("step")) or 0, t.rate, t.p99_ms, t.failed,
                                  t.error or search.verdict(t.p99_ms, t.failed, t.unsent, replay.budget_ms,
                                                            t.rps, t.rate), t.rps))
            replay.trials.append(t)
        found.found = replay.outcome()
        out.append(found)
    return out
