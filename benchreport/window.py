"""CPU over a run's load window, from a sampler's per-second series (bench-sample.py's "samples").

The load window of a run is from its first request's due time (rate.json's
first_due_at; ab and wrk: loadgen.json's "started", the client's start) to
the client's end (loadgen.json's "ended"); with several load hosts, the
earliest start and the latest end of the parts (`load_window`).

The CPU a unit spent in the window is its cumulative CPU (the series'
cpu_ns) at the window's end minus at its start, each read by linear
interpolation between the two samples around it (`cpu_in_window`). A
window edge outside the series by at most `slack_s` (one sampling step,
sample_every_s, plus SLACK_S) is clamped to the series' first or last
sample (no CPU is extrapolated: it is left out, and `covered_s` says how
much of the window the series covered); further out, the series does not
cover the window and nothing is reported. A counter that went backwards in
the window (a pid gone and its number reused) gives nothing either.

CPU per request divides by the requests the server worked on
(`requests_worked_on`): those answered (any status) plus those it took and
did not answer in time (timeouts, read errors); not those whose connection
was refused (connect errors: the server never saw them).

benchreport.summary uses it for the slow API's CPU (upstream.json, the
same schema as server.json); the app's figure (server.json) follows the
same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from benchreport.runfiles import Sample, finite, integer, server_samples

#: How far past the series a window's edge may lie (besides one sampling step) and still be clamped.
SLACK_S = 0.5


@dataclass(frozen=True)
class WindowCpu:
    """CPU of a unit in a window: cpu_ns over [start, end]; covered_s the part of it the series spans."""

    start: float
    end: float
    cpu_ns: float
    covered_s: float

    @property
    def window_s(self) -> float:
        return self.end - self.start

    @property
    def cpu_ms(self) -> float:
        return self.cpu_ns / 1e6


def _at(samples: list[Sample], t: float) -> float:
    """The cumulative CPU ns at t (t within the series): linear between the samples around it."""
    for a, b in zip(samples, samples[1:]):
        if a.t <= t <= b.t:
            if b.t == a.t:
                return float(b.cpu_ns)
            return a.cpu_ns + (b.cpu_ns - a.cpu_ns) * (t - a.t) / (b.t - a.t)
    return float(samples[-1].cpu_ns if t >= samples[-1].t else samples[0].cpu_ns)


def cpu_in_window(samples: list[Sample] | None, start: float | None, end: float | None,
                  slack_s: float = 1.0 + SLACK_S) -> WindowCpu | None:
    """The CPU the series' unit spent between start and end (Unix s); None when the series does not
    cover the window (an edge more than slack_s outside it), has fewer than two samples, or its
    counter went backwards in the window."""
    if not samples or len(samples) < 2 or start is None or end is None or end <= start:
        return None
    first, last = samples[0].t, samples[-1].t
    if start < first - slack_s or end > last + slack_s or start > last or end < first:
        return None
    lo, hi = max(start, first), min(end, last)
    inside = [s for s in samples if lo < s.t < hi]
    path = [_at(samples, lo), *(float(s.cpu_ns) for s in inside), _at(samples, hi)]
    if any(b < a for a, b in zip(path, path[1:])):
        return None
    return WindowCpu(start, end, path[-1] - path[0], max(0.0, hi - lo))


def series_slack(sampler: Mapping[str, Any]) -> float:
    """slack_s for a sampler's file: its sampling step (sample_every_s, 1 s when absent) + SLACK_S."""
    every = finite(sampler.get("sample_every_s"))
    return (every if every is not None and every > 0 else 1.0) + SLACK_S


def unit_cpu_in_window(sampler: Mapping[str, Any], start: float | None, end: float | None) -> WindowCpu | None:
    """cpu_in_window over a sampler file's object (server.json, upstream.json)."""
    return cpu_in_window(server_samples(dict(sampler)), start, end, series_slack(sampler))


def load_window(loadgens: Iterable[Mapping[str, Any]], rates: Iterable[Mapping[str, Any] | None] = ()
                ) -> tuple[float | None, float | None]:
    """(start, end) of a run's load, Unix s: the earliest first_due_at of the parts' rate.json (else
    the earliest loadgen.json "started") to the latest loadgen.json "ended"; None where unknown."""
    loadgens = [lg for lg in loadgens if isinstance(lg, Mapping)]
    due = [v for r in rates if isinstance(r, Mapping) and (v := finite(r.get("first_due_at"))) is not None]
    started = [v for lg in loadgens if (v := finite(lg.get("started"))) is not None]
    ended = [v for lg in loadgens if (v := finite(lg.get("ended"))) is not None]
    start = min(due) if due else (min(started) if started else None)
    return start, (max(ended) if ended else None)


def requests_worked_on(complete: Any, failed_detail: Mapping[str, Any] | None) -> int | None:
    """The requests the server worked on: answered (complete, any status) + timed out + read errors
    (failed_detail's "timeout" and "read": wrk's and bench-rate.py's; ab counts its own in complete).
    Connect errors are left out. None without complete."""
    done = integer(complete)
    if done is None:
        return None
    detail = failed_detail or {}
    return done + sum(integer(detail.get(k)) or 0 for k in ("timeout", "read"))


def per_request(cpu_ms: float | None, requests: int | None, digits: int = 3) -> float | None:
    """cpu_ms / requests, rounded; None when either is missing or no request."""
    if cpu_ms is None or not requests:
        return None
    return round(cpu_ms / requests, digits)
