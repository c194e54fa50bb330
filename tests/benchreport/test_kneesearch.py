"""benchreport.kneesearch and report.md's "Knee search": a search's steps in order and what it found."""

from __future__ import annotations

from benchreport import kneesearch, render
from benchreport.model import Record

SPEC = {"group": "m-tuned-auto", "start": 100, "precision": 0.1, "budget_ms": 150, "steps": 12, "headroom": 3,
        "max_rate": 1500}


def step(k: int, rate: float, p99: float, failed: int = 0, repetition: int = 1, rps: float | None = None) -> Record:
    return Record(mode="m", profile="tuned", client="rate", rate=rate, delay=0.1, route="/", p99_ms=p99,
                  failed=failed, repetition=repetition, search={**SPEC, "step": k}, rps=rate if rps is None else rps)


RECORDS = [step(1, 100, 102), step(2, 200, 104), step(3, 400, 900), step(4, 300, 140), step(5, 300, 145, repetition=2),
           step(6, 350, 400, failed=3)]


def test_the_steps_in_order_and_what_was_found() -> None:
    [found] = kneesearch.searches(list(reversed(RECORDS)))
    assert [(r.step, r.rate, r.over) for r in found.rows] == [
        (1, 100, None), (2, 200, None), (3, 400, "p99 900 ms > 150 ms"), (4, 300, None), (5, 300, None),
        (6, 350, "p99 400 ms > 150 ms")]
    # six of its twelve steps recorded: it stopped early (an interrupted bench)
    assert found.found == "knee 300 req/s, within 17% (350 req/s: p99 400 ms > 150 ms); the search stopped before its precision"


def test_report_md_lists_the_steps() -> None:
    lines = render.knee_search_section(RECORDS)
    assert lines[0] == "## Knee search: m-tuned-auto"
    assert "| 3 | 400 | 400 | 900 | 0 | p99 900 ms > 150 ms |" in lines
    assert any(line.startswith("Found: knee 300 req/s") for line in lines)
    assert render.knee_search_section([]) == []


def test_a_step_whose_answers_fell_behind_broke_the_budget() -> None:
    """p99 within the budget, the answers at 86% of the rate: the step is over (the live uWSGI case)."""
    recs = [step(1, 100, 102), step(2, 200, 104, rps=172.0), step(3, 150, 103, rps=149.5)]
    [found] = kneesearch.searches(recs)
    assert [(r.rate, r.rps, r.over) for r in found.rows] == [
        (100, 100, None), (200, 172.0, "answered 172 req/s, 86% of the 200 req/s scheduled (< 95%)"),
        (150, 149.5, None)]
    assert found.found.startswith("knee 150 req/s, within 33% (200 req/s: answered 172 req/s")
    assert "| 2 | 200 | 172 | 104 | 0 | answered 172 req/s, 86% of the 200 req/s scheduled (< 95%) |" in \
        render.knee_search_section(recs)
