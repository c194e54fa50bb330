"""benchhost.search: the knee's rule and the search's decisions against simulated servers."""

from __future__ import annotations

from typing import Callable

from benchhost.numbers import answered_rps
from benchhost.search import KEEP_UP, Search, Trial, budget_ms, trial, verdict

Server = Callable[[float], tuple[float, int]]


def knee_at(knee: float, below_ms: float = 100.0) -> Server:
    """p99 flat below the knee, far over any budget above it."""
    return lambda rate: (below_ms, 0) if rate <= knee else (5000.0, 0)


def run(search: Search, server: Server, answers: Callable[[float], float] = lambda rate: rate) -> Search:
    """The search against `server`, whose answers come at answers(rate) (by default: it keeps up)."""
    while (rate := search.next_rate()) is not None:
        p99, failed = server(rate)
        search.trials.append(Trial(rate, p99, failed, rps=answers(rate)))
    return search


def test_the_rule() -> None:
    assert budget_ms(0.3) == 450.0 and budget_ms(0.3, 200) == 200.0 and budget_ms(None) is None
    assert verdict(450.0, 0, 0, 450.0) is None
    assert verdict(450.001, 0, 0, 450.0) == "p99 450.001 ms > 450 ms"
    assert verdict(100.0, 2, 0, 450.0) == "2 failed requests"
    assert verdict(100.0, 0, 5, 450.0) == "5 requests left unsent (capped)"
    assert verdict(None, 0, 0, 450.0) == "no p99 measured"
    # the answers keep up: at least KEEP_UP of the rate scheduled (equal is within)
    assert KEEP_UP == 0.95
    assert verdict(100.0, 0, 0, 450.0, 95.0, 100.0) is None
    assert verdict(100.0, 0, 0, 450.0, 102.0, 100.0) is None
    assert verdict(100.0, 0, 0, 450.0, 409.71, 475.0) == "answered 409.71 req/s, 86% of the 475 req/s scheduled (< 95%)"
    assert verdict(100.0, 0, 0, 450.0, 94.6, 100.0) == "answered 94.6 req/s, 94.6% of the 100 req/s scheduled (< 95%)"
    assert verdict(100.0, 0, 0, 450.0, None, 100.0) == "answered rate not measured"
    assert verdict(100.0, 0, 0, 450.0, None, None) is None  # no schedule given: the answers not judged
    # the other criteria come first
    assert verdict(460.0, 0, 0, 450.0, 50.0, 100.0) == "p99 460 ms > 450 ms"
    assert verdict(100.0, 3, 0, 450.0, 50.0, 100.0) == "3 failed requests"


def test_a_server_that_falls_behind_does_not_hold_the_rate() -> None:
    # p99 within the budget at every rate (a short run ends before the backlog shows), but the server
    # answers at most 410 req/s: the knee is under 410 / KEEP_UP, not where p99 would put it
    s = run(Search(start=50, precision=0.05, budget_ms=1500, steps=12), knee_at(10_000, 1200.0),
            answers=lambda rate: min(rate, 410.0))
    good, bad = s.bounds()
    assert good is not None and bad is not None and good <= 410 / KEEP_UP < bad
    assert "% of the" in s.judged(bad) and s.outcome().startswith(f"knee {good:g} req/s")
    # the repetition of a noisy step is judged on the median of the answered rates
    s = Search(start=100, precision=0.1, budget_ms=150, steps=12)
    s.trials += [Trial(100, 140.0, 0, rps=90.0), Trial(100, 140.0, 0, rps=99.0), Trial(100, 140.0, 0, rps=100.0)]
    assert s.judged(100) is None
    s.trials.append(Trial(200, 100.0, 0))
    assert s.judged(200) == "answered rate not measured"


def test_a_steps_answered_rate_is_the_records() -> None:
    # one load host: its own rps; several: their answers over the longest part's span (as benchreport merges)
    assert trial(100, None, {"lg1": {"p99_ms": 10.0, "failed": 0, "complete": 300, "rps": 99.5}}).rps == 99.5
    parts = {"lg1": {"p99_ms": 10.0, "failed": 0, "complete": 301, "rps": 100.0},   # span 3 s
             "lg2": {"p99_ms": 12.0, "failed": 0, "complete": 300, "rps": 74.75}}  # span 4 s
    t = trial(200, None, parts)
    assert (t.p99_ms, t.failed, t.rps) == (12.0, 0, 600 / 4.0)
    assert answered_rps([(301, 100.0), (300, 74.75)]) == 150.0
    assert trial(200, None, {**parts, "lg3": {"p99_ms": 1.0, "failed": 0, "complete": 1, "rps": None}}).rps is None


def test_finds_a_knee_at_730_within_the_precision() -> None:
    s = run(Search(start=50, precision=0.1, budget_ms=150, steps=12), knee_at(730))
    rates = [t.rate for t in s.trials]
    assert rates[:5] == [50, 100, 200, 400, 800]
    good, bad = s.bounds()
    assert good <= 730 < bad and (bad - good) / good <= 0.1
    assert len(rates) <= 9
    assert s.outcome().startswith(f"knee {good:g} req/s, within ")


def test_a_start_over_the_budget_runs_again_then_searches_down() -> None:
    s = run(Search(start=400, precision=0.1, budget_ms=150, steps=12), knee_at(30))
    good, bad = s.bounds()
    assert [t.rate for t in s.trials[:3]] == [400, 400, 200] and good <= 30 < bad and (bad - good) / good <= 0.1


def test_a_first_step_over_the_budget_that_was_a_warm_up_is_judged_on_its_repeat() -> None:
    """A server slow in its first seconds only (its threads and connections being made): the start rate is
    run again and judged on the repeat, so the search grows instead of bisecting down to the cold start."""
    calls = []

    def cold_then_knee_at_500(rate: float) -> tuple[float, int]:
        calls.append(rate)
        return (275.0, 0) if len(calls) == 1 else knee_at(500)(rate)

    s = run(Search(start=50, precision=0.1, budget_ms=200, steps=12), cold_then_knee_at_500)
    assert [t.rate for t in s.trials[:4]] == [50, 50, 100, 200]
    assert s.warmed_up() and s.judged(50) is None and s.alone(s.trials[0]) == "p99 275 ms > 200 ms"
    good, bad = s.bounds()
    assert good <= 500 < bad and (bad - good) / good <= 0.1
    # without the rule the search went down from 50 (bad) and found a knee under 50
    assert good > 50


def test_a_step_within_noise_is_repeated_once() -> None:
    # 140 ms against a 150 ms budget: within 10%, repeated; the rate is judged on both
    s = run(Search(start=100, precision=0.1, budget_ms=150, steps=12),
            lambda rate: (140.0, 0) if rate <= 100 else (5000.0, 0))
    assert [t.rate for t in s.trials][:3] == [100, 100, 200]
    assert sum(t.rate == 100 for t in s.trials) == 2


def test_the_step_cap_gives_at_least() -> None:
    s = run(Search(start=50, precision=0.1, budget_ms=150, steps=3), knee_at(10_000))
    assert [t.rate for t in s.trials] == [50, 100, 200]
    assert s.outcome() == "knee ≥ 200 req/s: the step cap (3) came first"


def test_the_load_hosts_limit_caps_the_growth() -> None:
    s = run(Search(start=50, precision=0.1, budget_ms=150, steps=12, max_rate=300), knee_at(10_000))
    assert [t.rate for t in s.trials] == [50, 100, 200, 300]
    assert s.outcome() == "knee ≥ 300 req/s: the load hosts' limit came first"


def test_an_error_breaks_the_budget() -> None:
    s = Search(start=50, precision=0.1, budget_ms=150, steps=12)
    s.trials.append(Trial(50, None, None, error="loadgen lg1: no result"))
    assert s.bounds() == (None, 50) and s.next_rate() == 25
    assert s.outcome() == "no knee: 50 req/s broke the budget (loadgen lg1: no result)"
