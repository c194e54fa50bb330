"""The knee's rule and the knee search (rate=auto): one definition for the app runner and benchreport.

A rate is within the latency budget when nothing went wrong, p99 <= the budget
(equal is within), no request failed, none was left unsent and the answers
kept up with the schedule: the rate they came at (a record's rps, from the
first answer to the last) is at least KEEP_UP x the scheduled rate (verdict).
The budget is the app's own (budget_ms) or BUDGET_FACTOR x its delay. A
server that answers slower than the schedule sends does not hold that rate:
its queue grows as long as the run lasts, and a short run may end before the
backlog pushes p99 over the budget.

The search (Search) looks for the highest rate within the budget without
knowing the scale: it starts at `start` req/s and doubles the rate while the
steps keep the budget; once one breaks it, it bisects between the highest
good and the lowest bad rate until (bad - good) / good <= precision. A step
whose p99 is within NOISE of the budget is run once more at the same rate, and
the rate is judged on both (their median p99 and answered rate, their most failed).
The first step, when it breaks the budget, runs once more too and the rate is
judged on the repeat alone: it is the server's first seconds after the switch
(seen: Granian with 1000 threads a worker, p99 275 ms at 50 req/s in its first
3 s, a knee over 500 req/s in another run). It stops at
`steps` steps, or at max_rate (what the load hosts can schedule), with what
it found: the knee, or "at least" the highest good rate when no rate broke
the budget. Standard library and benchhost.numbers only: it runs on the bench hosts.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from benchhost.numbers import answered_rps

#: The built-in app's latency budget: p99 at most this times its delay.
BUDGET_FACTOR = 1.5
#: A rate is held only when its answers came at least this share of it: a server that keeps up answers at the
#: scheduled rate give or take the spread of its latencies over the span of answers (clean runs: 97-104%);
#: one that falls behind answers at what it can (uWSGI at 475 req/s scheduled: 86%, its queue growing).
KEEP_UP = 0.95
#: A step whose p99 is within this fraction of the budget is repeated once (it may be noise).
NOISE = 0.1
#: The search grows the rate by this factor until a step breaks the budget.
GROWTH = 2.0
#: Below this rate a search whose first step broke the budget gives up: no knee.
MIN_RATE = 1.0


def budget_ms(delay_s: float | None, given_ms: float | None = None) -> float | None:
    """The budget: the app's own when given, else 1.5 x delay in ms, rounded to 1 ns (1.5 x 0.3 s is
    449.99999999999994 in floats, and a p99 of exactly 450 ms must be within it)."""
    if given_ms is not None:
        return float(given_ms)
    return None if delay_s is None else round(BUDGET_FACTOR * delay_s * 1000.0, 6)


def over_p99(p99: float, budget: float) -> str:
    """"p99 2085.24 ms > 1500 ms": :g's six digits, or the µs when those would not show p99 over the budget
    (1500.001 prints "1500" with :g)."""
    shown = f"{p99:g}"
    if float(shown) <= budget:
        shown = f"{p99:.3f}".rstrip("0").rstrip(".")
    return f"p99 {shown} ms > {budget:g} ms"


def behind(answered: float, rate: float) -> str:
    """"answered 409.71 req/s, 86% of the 475 req/s scheduled (< 95%)": the share to whole percent, or to
    more digits when those would not show it under KEEP_UP (94.6% is not "95%")."""
    share, digits = answered / rate, 0
    while digits < 4 and round(share * 100, digits) >= KEEP_UP * 100:
        digits += 1
    return (f"answered {answered:g} req/s, {share * 100:.{digits}f}% of the {rate:g} req/s scheduled "
            f"(< {KEEP_UP:.0%})")


def verdict(p99_ms: float | None, failed: int | None, unsent: int, budget: float | None,
            answered: float | None = None, rate: float | None = None) -> str | None:
    """Why a rate's figures are over the budget; None when within it (every repetition ran clean). `answered`:
    the rate the answers came at, `rate` the one scheduled (the whole point's); without `rate` the answers
    are not judged (a caller that has no schedule), with it an answered rate not measured fails."""
    if budget is None:
        return "no delay: no latency budget"
    if p99_ms is None:
        return "no p99 measured"
    if p99_ms > budget:
        return over_p99(p99_ms, budget)
    if failed:
        return f"{failed} failed request{'s' if failed != 1 else ''}"
    if failed is None:
        return "failed requests not measured"
    if unsent:
        return f"{unsent} requests left unsent (capped)"
    if rate is not None:
        if answered is None:
            return "answered rate not measured"
        if answered < KEEP_UP * rate:
            return behind(answered, rate)
    return None


def nice(rate: float) -> float:
    """A rate to three significant digits: step rates a person reads (and folders and records match)."""
    return float(f"{rate:.3g}")


@dataclass
class Trial:
    """One step run: the rate it scheduled and what came back (p99: the worst part's; failed: all parts';
    rps: the rate the answers came at, all parts', benchhost.numbers.answered_rps)."""

    rate: float
    p99_ms: float | None
    failed: int | None
    unsent: int = 0
    error: str | None = None
    rps: float | None = None


@dataclass
class Search:
    """The state of one knee search: its settings and the steps run so far."""

    start: float
    precision: float
    budget_ms: float
    steps: int
    max_rate: float | None = None
    trials: list[Trial] = field(default_factory=list)

    def alone(self, t: Trial) -> str | None:
        """Why one step is over the budget on its own figures (None: within)."""
        return t.error or verdict(t.p99_ms, t.failed, t.unsent, self.budget_ms, t.rps, t.rate)

    def warmed_up(self) -> bool:
        """The first step broke the budget and ran again: it was the server's first seconds after the
        switch (threads, connections, caches still being made), and the rate is judged on the repeat."""
        return (len(self.trials) >= 2 and self.trials[1].rate == self.trials[0].rate
                and self.trials[0].error is None and self.alone(self.trials[0]) is not None)

    def judged(self, rate: float) -> str | None:
        """Why `rate` is over the budget over all its steps (None: within); a first step that was a
        warm-up (warmed_up) left out."""
        at = [t for t in self.trials if t.rate == rate]
        if self.warmed_up() and rate == self.trials[0].rate:
            at = at[1:]
        wrong = next((t.error for t in at if t.error), None)
        if wrong:
            return wrong
        p99s = [t.p99_ms for t in at if t.p99_ms is not None]
        fails = [t.failed for t in at if t.failed is not None]
        answered = [t.rps for t in at if t.rps is not None]
        return verdict(statistics.median(p99s) if p99s else None, max(fails) if len(fails) == len(at) else None,
                       max(t.unsent for t in at), self.budget_ms,
                       statistics.median(answered) if len(answered) == len(at) else None, rate)

    def bounds(self) -> tuple[float | None, float | None]:
        """(good, bad): the highest rate within the budget below the lowest rate over it, and that one."""
        rates = sorted({t.rate for t in self.trials})
        bad = next((r for r in rates if self.judged(r) is not None), None)
        good = max((r for r in rates if (bad is None or r < bad) and self.judged(r) is None), default=None)
        return good, bad

    def noisy(self, trial: Trial) -> bool:
        """A clean step whose p99 is within NOISE of the budget, not yet repeated."""
        return (trial.error is None and trial.p99_ms is not None and not trial.failed
                and abs(trial.p99_ms - self.budget_ms) <= NOISE * self.budget_ms
                and sum(t.rate == trial.rate for t in self.trials) == 1)

    def next_rate(self) -> float | None:
        """The next step's rate; None when the search is done."""
        if len(self.trials) >= self.steps:
            return None
        if not self.trials:
            return self.start
        if len(self.trials) == 1 and self.trials[0].error is None and self.alone(self.trials[0]) is not None:
            return self.trials[0].rate  # a first step over the budget may be the server warming up: once more
        if self.noisy(self.trials[-1]):
            return self.trials[-1].rate
        good, bad = self.bounds()
        if bad is None:
            if self.max_rate is not None and good is not None and good >= self.max_rate:
                return None
            grown = nice(good * GROWTH) if good is not None else self.start
            return grown if self.max_rate is None else min(grown, self.max_rate)
        if good is None:
            lower = nice(bad / GROWTH)
            return lower if lower >= MIN_RATE else None
        if (bad - good) / good <= self.precision:
            return None
        middle = nice((good + bad) / 2)
        return middle if good < middle < bad else None

    def outcome(self) -> str:
        """What the search found, in one line."""
        good, bad = self.bounds()
        if good is None:
            return (f"no knee: {bad:g} req/s broke the budget ({self.judged(bad)})" if bad is not None
                    else "no knee: no step ran")
        if bad is None:
            why = ("the load hosts' limit" if self.max_rate is not None and good >= self.max_rate
                   else f"the step cap ({self.steps})" if len(self.trials) >= self.steps else "the search's end")
            return f"knee ≥ {good:g} req/s: {why} came first"
        reached = (bad - good) / good
        text = f"knee {good:g} req/s, within {reached:.0%} ({bad:g} req/s: {self.judged(bad)})"
        if reached <= self.precision:
            return text
        return text + (f"; the step cap ({self.steps}) came first" if len(self.trials) >= self.steps
                       else "; the search stopped before its precision")


def latency_s(run: dict) -> float:
    """The latency a run's connections and estimate are sized by: the slow API's delay, or a user's app's
    budget (budget_ms: the app calls no slow API of ours, it has no delay)."""
    if run.get("delay") is not None:
        return float(run["delay"])
    return float(run.get("budget_ms") or 0) / 1000.0


def rate_size(rate: float, duration: float, delay: float, headroom: float, hosts: int) -> tuple[int, int]:
    """A rate run's n and c: n = rate x duration; c, the connections the schedule may open,
    rate x (headroom x delay + 1 s), at least one per load host."""
    return max(1, int(round(rate * duration, 0))), max(hosts, 1, math.ceil(rate * (headroom * delay + 1)))


def split(n: int, c: int, rate: float | None, hosts: list[str]) -> list[dict]:
    """A run's parts over its load hosts: c evenly (the first hosts one more), n in proportion to each
    part's c (the last host the rest); a rate run's part schedules its share of the rate."""
    k, parts, left = len(hosts), [], n
    for i, host in enumerate(hosts):
        c_part = c // k + (1 if i < c % k else 0)
        n_part = left if i == k - 1 else (n * c_part) // c
        left -= n_part
        part: dict = {"host": host, "c": c_part, "n": n_part}
        if rate is not None:
            part["rate"] = rate * n_part / n
        parts.append(part)
    return parts


def step_run(run: dict, rate: float, repetition: int) -> dict:
    """What a search's slot becomes at `rate`: its rate, n, c, parts and repetition (the published step)."""
    spec, hosts = run["search"], [part["host"] for part in run["parts"]]
    n, c = rate_size(rate, float(run["duration"]), latency_s(run), float(spec["headroom"]), len(hosts))
    return {"rate": rate, "n": n, "c": c, "parts": split(n, c, rate, hosts), "repetition": repetition,
            "search": spec}


def trial(rate: float, error: str | None, parts: dict) -> Trial:
    """A step's Trial from the load hosts' summaries (benchhost.run's /done): the worst part's p99, every
    part's failed (None when one did not count them), the rate all parts' answers came at (as benchreport
    merges a split run's: benchhost.numbers.answered_rps; None when a part did not measure it)."""
    summaries = [s for s in parts.values() if isinstance(s, dict)]
    p99s = [s["p99_ms"] for s in summaries if isinstance(s.get("p99_ms"), (int, float))]
    fails = [s["failed"] for s in summaries if isinstance(s.get("failed"), int)]
    answered = answered_rps([(s.get("complete"), s.get("rps")) for s in summaries]) if summaries else None
    return Trial(rate, max(p99s) if p99s and len(p99s) == len(summaries) else None,
                 sum(fails) if summaries and len(fails) == len(summaries) else None, 0, error, answered)
