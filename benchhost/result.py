"""What one run of a load client reports, whichever client it was: the progress line's figures and the
run's summary (benchreport) read the same.

Each client's module (benchhost.clients.NAME) reads its raw files into this with its `result(folder)`;
the registry (benchhost.clients) says which. None where the files do not hold a figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchhost.numbers import finite, integer

LOADGEN = "loadgen.json"


@dataclass
class Result:
    """One client run, normalized."""

    client: str
    #: answers per second; complete answers (any status); failed (socket errors, timeouts, non-2xx)
    rps: float | None = None
    complete: int | None = None
    failed: int | None = None
    #: failed by kind, where the client tells them apart ({"connect": k, ..., "non_2xx": k})
    failed_detail: dict[str, int] = field(default_factory=dict)
    #: the span the rate is over, s
    time_taken_s: float | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    #: where the percentiles come from ("csv", "wrk-corrected", "rate-scheduled", ...)
    percentiles_from: str | None = None
    #: some failed requests are not timed in the percentiles: the p99 of all sent is at least p99_ms
    p99_lower_bound: bool = False
    #: answers per HTTP status, {"200": k, ...}; None when the client does not count them (ab)
    status_counts: dict[str, int] | None = None
    #: the run ended (time limit) before all it was asked to send was answered or sent
    capped: bool = False
    #: loadgen.json's: the load window (UTC), the client's exit status and CPU time
    started_at: str | None = None
    ended_at: str | None = None
    client_rc: int | None = None
    client_cpu_ms: float | None = None
    #: why nothing (or not everything) was measured; what does not add up
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def lower_bound(failed: int | None, failed_detail: dict[str, int], timed: tuple[str, ...],
                p99_ms: float | None) -> bool:
    """Whether some failed requests are not timed in the percentiles (`timed`: the failed kinds that
    were answered and are timed): then the p99 of the requests sent is at least p99_ms."""
    if not failed or p99_ms is None:
        return False
    if not failed_detail:
        return True  # failures of unknown kind: they may be anywhere
    return failed > sum(failed_detail.get(k) or 0 for k in timed)


def read_loadgen(folder: Path) -> dict[str, Any]:
    """The folder's loadgen.json (the client's wrapper writes it); {} when absent or unreadable."""
    try:
        data = json.loads((folder / LOADGEN).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def with_loadgen(result: Result, loadgen: dict[str, Any], rc_key: str, cpu_key: str) -> Result:
    """`result` with loadgen.json's window, exit status and CPU time (the client names its keys)."""
    started, ended = loadgen.get("started_at"), loadgen.get("ended_at")
    result.started_at = None if started is None else str(started)
    result.ended_at = None if ended is None else str(ended)
    result.client_rc = integer(loadgen.get(rc_key))
    result.client_cpu_ms = finite(loadgen.get(cpu_key))
    return result


#: A client's CPU share is not reported for shorter runs (start-up and tick counting dominate).
MIN_CPU_RUN_S = 1.0


def rounded(x: float | None, digits: int) -> float | None:
    """x rounded to `digits`; None stays None."""
    return None if x is None else round(x, digits)


def cpu_pct(cpu_ms: float | None, cores: int | None, taken_s: float | None) -> float | None:
    """A client's own CPU as % of its cores over its timed run (None for runs under MIN_CPU_RUN_S)."""
    if cpu_ms is None or not cores or not taken_s or taken_s < MIN_CPU_RUN_S:
        return None
    return rounded(100.0 * cpu_ms / (taken_s * 1000.0 * cores), 1)


def highest(values: list[Any]) -> Any:
    """The highest of values that are not None; None when there is none."""
    return max((v for v in values if v is not None), default=None)
