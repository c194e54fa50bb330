"""Read one constant-rate run (bench-rate.py, client=rate) into numbers.

The bench runs, on the load host::

    bench-rate.py --dir DIR     # rate, duration, c, url... from DIR/run.json

and leaves rate.json (its figures), rate.tsv (one line per request sent) and
loadgen.json. Request i is due at t0 + i / rate whatever the server does, and
its latency runs from that due time: a stall's requests carry the stall
(corrected for coordinated omission). What the files hold (bench-rate.py's
docstring is the reference):

* rate.json: {"client": "rate", "rate", "duration_s", "n" (scheduled), "sent",
  "complete" (answers of any status), "ok" (2xx), "non_2xx", "status_counts",
  "errors" {"connect", "read", "timeout"}, "failed" (errors + non_2xx),
  "unsent" and "capped" (due after time_limit: never sent), "started_at",
  "ended_at", "elapsed_s" (first due time to the last answer), "rps" (the rate
  the answers came at: (complete - 1) / (last answer - first answer); null
  with fewer than two), "latency_us" {"min", "p50", "p90", "p99", "p99_9", "max",
  "mean"} from the due time, "service_latency_us" (the same, from the
  connection's opening: what a closed-loop client reports), "lag_us" {"p50",
  "p99", "max"} (how late connections opened), "late_sends" (opened more
  than 10 ms late), "max_open", "connections_cap", "latency_hist_ms" [[ms,
  count], ...] (whole-ms bins of the answered requests' latency from the due
  time)}. Percentiles are nearest-rank over the answered requests.
* rate.tsv: a header, then `sched_ms  lag_ms  latency_ms  service_ms  status`
  per request sent (sched_ms since t0; status 0 and the latencies empty when
  no HTTP answer came).
* loadgen.json: {"client": "rate", "started_at", "ended_at", "started", "ended"
  (Unix s), "cpus", "cpu_stat_before", "cpu_stat_after", "client_cpu_ms",
  "interrupted", ...}.

Several load hosts' parts merge by adding their latency_hist_ms
(wrkparse.merge_histograms) and taking the nearest rank (rank_percentile),
the rule bench-rate.py uses itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport.model import finite, integer
from benchreport.wrkparse import histogram

RATE_JSON, RATE_TSV = "rate.json", "rate.tsv"
TSV_HEADER = ("sched_ms", "lag_ms", "latency_ms", "service_ms", "status")
#: A connection opened later than this after its due time is a late send (bench-rate.py's LATE_MS).
LATE_MS = 10.0


@dataclass(frozen=True)
class RateRow:
    """One request of rate.tsv: due time since t0, how late it opened, its latencies (None: no answer)."""

    sched_ms: float
    lag_ms: float
    latency_ms: float | None
    service_ms: float | None
    status: int

    @property
    def answered(self) -> bool:
        return self.latency_ms is not None and self.status > 0


@dataclass
class RateRun:
    """One rate run's figures (rate.json), in the summary's units (ms); None where not measured."""

    data: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    rate: float | None = None
    duration_s: float | None = None
    scheduled: int | None = None
    sent: int | None = None
    unsent: int = 0
    complete: int | None = None
    failed: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    elapsed_s: float | None = None
    #: the rate the answers came at: (complete - 1) / the span from the first answer to the last
    rps: float | None = None
    #: from the due time (corrected): p50, p90, p99, p99.9, max, mean
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    #: from the connection's opening (what a closed-loop client would report)
    service_ms: dict[str, float | None] = field(default_factory=dict)
    lag_ms: dict[str, float | None] = field(default_factory=dict)
    late_sends: int | None = None
    max_open: int | None = None
    hist_ms: list[tuple[int, int]] | None = None

    @property
    def capped(self) -> bool:
        return self.unsent > 0


def _ms(figures: Any) -> dict[str, float | None]:
    """rate.json's µs figures as ms (3 decimals)."""
    if not isinstance(figures, dict):
        return {}
    return {k: (None if (v := finite(x)) is None else round(v / 1000.0, 3)) for k, x in figures.items()}


def rank_percentile(hist: list[tuple[int, int]], p: float) -> int | None:
    """Nearest rank over a histogram (bench-rate.py's rule): the value at rank max(1, ceil(p/100 × count))."""
    total = sum(count for _, count in hist)
    if total <= 0:
        return None
    rank = max(1, math.ceil(p / 100.0 * total))
    running = 0
    for value, count in hist:
        running += count
        if running >= rank:
            return value
    return hist[-1][0]


def parse_tsv(text: str) -> list[RateRow]:
    """rate.tsv's rows; ValueError naming the line when one is not five fields of numbers."""
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != TSV_HEADER:
        raise ValueError(f"header is not {' '.join(TSV_HEADER)}")
    rows = []
    for k, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            if len(cells) != len(TSV_HEADER):
                raise ValueError(f"{len(cells)} fields")
            rows.append(RateRow(float(cells[0]), float(cells[1]), float(cells[2]) if cells[2] else None,
                                float(cells[3]) if cells[3] else None, int(cells[4])))
        except ValueError as exc:
            raise ValueError(f"line {k}: {exc}") from None
    return rows


def apply_json(run: RateRun, data: dict[str, Any]) -> None:
    """rate.json's figures into `run`."""
    run.data = data
    run.rate, run.duration_s = finite(data.get("rate")), finite(data.get("duration_s"))
    run.scheduled, run.sent, run.complete = integer(data.get("n")), integer(data.get("sent")), integer(data.get("complete"))
    run.unsent = integer(data.get("unsent")) or 0
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    run.errors = {k: integer(errors.get(k)) or 0 for k in ("connect", "read", "timeout")}
    run.non_2xx = integer(data.get("non_2xx")) or 0
    run.failed = integer(data.get("failed"))
    run.elapsed_s, run.rps = finite(data.get("elapsed_s")), finite(data.get("rps"))
    run.latency_ms, run.service_ms = _ms(data.get("latency_us")), _ms(data.get("service_latency_us"))
    run.lag_ms = _ms(data.get("lag_us"))
    run.late_sends, run.max_open = integer(data.get("late_sends")), integer(data.get("max_open"))
    run.hist_ms = histogram(data.get("latency_hist_ms"))


def load_rate_run(directory: Path) -> RateRun:
    """Read one rate run's rate.json and check it against rate.tsv's line count."""
    run = RateRun()
    path = directory / RATE_JSON
    if not path.is_file():
        run.error = f"{RATE_JSON} missing: bench-rate.py did not run or its output was not fetched"
        return run
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        run.error = f"{RATE_JSON} unreadable: {exc}"
        return run
    apply_json(run, data)
    if run.complete is None:
        run.error = f"{RATE_JSON} lacks complete"
    elif run.complete == 0:
        e = run.errors
        run.error = (f"no answer from the server to {run.sent} requests sent (connect {e['connect']}, "
                     f"read {e['read']}, timeout {e['timeout']})")
    if run.hist_ms is None and run.complete:
        run.warnings.append(f"{RATE_JSON} has no latency_hist_ms: its load hosts' parts cannot be merged")
    tsv = directory / RATE_TSV
    if not tsv.is_file():
        run.warnings.append(f"{RATE_TSV} missing: no per-request times (timeline, percentile curve)")
    else:
        lines = sum(1 for line in tsv.read_text().splitlines()[1:] if line.strip())
        if run.sent is not None and lines != run.sent:
            run.warnings.append(f"{RATE_TSV} has {lines} requests, {RATE_JSON} says {run.sent} sent")
    return run
