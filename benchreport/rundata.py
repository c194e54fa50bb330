"""The per-request and per-second data of a run's folders that the report's charts draw.

summary.json keeps a run's figures; report.html also draws each point's
latency distribution and each run's timeline, from data too big for the
summary. This reader gets it once, for the records that count
(model.counts_for_stats), and benchreport.__main__ passes it to the page
(benchreport.html), which reads no run folder itself:

* ab: every request's total time from ab.tsv (benchhost.clients.ab.parse_tsv; the load
  hosts' rows pooled);
* rate: every answered request's end (Unix s) and latency from its schedule,
  from rate.tsv (benchhost.clients.rate.parse_tsv) put on the clock by loadgen.json's start;
* wrk: wrk.json's latency histogram (merged over the load hosts), else wrk's
  own five percentiles (one load host);
* server.json's series (runfiles.server_samples), when the client started,
  and whether the folder and its server.json are there;
* from those, each run on the wall clock (run_timeline): the answers of each
  second and their p99, and the server's CPU between samples.

`missing` names what was not there or not readable, for the page's list.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchhost import clients
from benchhost.clients.ab import TsvRow, parse_tsv, rank_ms
from benchhost.clients.rate import RATE_TSV, rank_percentile
from benchhost.clients.rate import parse_tsv as parse_rate_tsv
from benchhost.clients.wrk import hist_percentile, load_wrk_run
from benchhost.numbers import merge_histograms
from benchreport.model import Record, counts_for_stats, finite
from benchreport.runfiles import LOADGEN, SERVER, CpuSecond, Sample, cpu_per_second, part_dirs, server_samples

#: What a wrk.json without latency_hist_us lacks (wrk.lua leaves it out when dumping it would take too long).
NO_HISTOGRAM = "has no latency histogram"


@dataclass
class Latencies:
    """Per-request latencies of one or more runs, in ms, and the client's percentile rule."""

    #: (latency ms, how many requests) ascending
    hist: list[tuple[float, int]]
    #: the client's Client.latencies: "requests" (ab's nearest rank over ab.tsv's whole-ms times) |
    #: "histogram" (wrk's rule over its µs histogram) | "schedule" (benchhost.clients.rate's nearest rank
    #: over rate.tsv's times in whole ms, as its latency_hist_ms)
    rule: str
    source: str
    runs: int = 1
    #: wrk's histogram in µs (its percentile rule works on it)
    hist_us: list[tuple[int, int]] | None = None

    @property
    def count(self) -> int:
        return sum(n for _, n in self.hist)

    def percentile(self, p: float) -> float | None:
        if self.rule == "histogram" and self.hist_us is not None:
            value = hist_percentile(self.hist_us, p)
            return None if value is None else value / 1000.0
        if self.rule == "schedule":
            return rank_percentile(self.hist, p)
        ordered = [ms for ms, n in self.hist for _ in range(n)]
        return rank_ms(ordered, p)  # ab's nearest-rank rule, which takes any percentage

    @property
    def max_ms(self) -> float | None:
        return self.hist[-1][0] if self.hist else None


@dataclass
class RunData:
    """What one record's raw files hold for the charts (None: not there; `missing` says why)."""

    rec: Record
    rows: list[TsvRow] | None = None
    hist_us: list[tuple[int, int]] | None = None
    #: wrk's own percentiles (ms), one load host's run: {50: .., 90: .., 99: .., 99.9: .., 100: ..}
    wrk_points: dict[float, float] | None = None
    #: rate.tsv's answered requests (the load hosts' pooled): (when it ended, Unix s; its latency from the
    #: schedule, ms)
    answers: list[tuple[float, float]] | None = None
    #: when the client started (loadgen.json's `started`, Unix s; the earliest load host's)
    started: float | None = None
    #: server.json's series (a sample about every 0.25 s) (None: no server.json, or one without samples)
    samples: list[Sample] | None = None
    #: the run's folder is there, and its server.json
    folder: bool = False
    server_json: bool = False
    missing: list[str] = field(default_factory=list)

    def latencies(self) -> Latencies | None:
        if self.rows:
            return Latencies(counted(float(row.ttime) for row in self.rows), "requests", "ab.tsv")
        if self.answers:
            return Latencies(counted(float(math.floor(ms)) for _, ms in self.answers), "schedule", "rate.tsv")
        if self.hist_us:
            return Latencies([(us / 1000.0, n) for us, n in self.hist_us], "histogram", "wrk.json latency_hist_us",
                             hist_us=list(self.hist_us))
        return None


def counted(values: Iterable[float]) -> list[tuple[float, int]]:
    """(value, how many times) ascending."""
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts.items())


def read_rows(run_dir: Path, path: Path, parse: Callable[[str], list[Any]], raw: RunData) -> list[Any] | None:
    """A client's per-request file parsed; None, and why in raw.missing, when missing or unreadable."""
    try:
        return parse(path.read_text())
    except OSError:
        raw.missing.append(f"{path.relative_to(run_dir)} missing")
    except ValueError as exc:
        raw.missing.append(f"{path.relative_to(run_dir)} unreadable ({exc})")
    return None


def read_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from a run's file; None when missing, unreadable or not an object (the summary
    already warned about it)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def client_start(directory: Path) -> float | None:
    """When the client started on one load host: loadgen.json's `started` (Unix s), else its started_at."""
    loadgen = read_object(directory / LOADGEN)
    if loadgen is None:
        return None
    started = finite(loadgen.get("started"))
    return started if started is not None else epoch(loadgen.get("started_at"))


def read(run_dir: Path, rec: Record) -> RunData:
    """The per-request data of one record: ab.tsv's or rate.tsv's rows (the load hosts' pooled) or wrk's
    histogram (merged), else wrk's own percentiles; `missing` names what was not there."""
    raw = RunData(rec)
    directory = run_dir / str(rec.raw_dir or "")
    if not rec.raw_dir or not directory.is_dir():
        raw.missing.append(f"{rec.raw_dir or '?'}/ (the run's folder) missing")
        return raw
    raw.folder, raw.server_json = True, (directory / SERVER).is_file()
    raw.samples = read_samples(directory)
    dirs = part_dirs(directory) or [directory]
    starts = [t for d in dirs if (t := client_start(d)) is not None]
    raw.started = min(starts) if starts else None
    client = clients.of_record(rec.client)
    reader = READERS.get(client.latencies) if client is not None and client.latencies else None
    if reader is not None:
        reader(raw, run_dir, dirs)
    return raw


def _read_requests(raw: RunData, run_dir: Path, dirs: list[Path]) -> None:
    """Each request's start and time (a client that keeps them, ab's -g rows)."""
    rows: list[TsvRow] = []
    for d in dirs:
        found = read_rows(run_dir, d / "ab.tsv", parse_tsv, raw)
        if found is None:
            return
        rows.extend(found)
    raw.rows = rows


def _read_schedule(raw: RunData, run_dir: Path, dirs: list[Path]) -> None:
    """Each answer on the clock of the client's schedule (rate.tsv: due time + latency after its start)."""
    answers: list[tuple[float, float]] = []
    for d in dirs:
        found = read_rows(run_dir, d / RATE_TSV, parse_rate_tsv, raw)
        t0 = client_start(d)
        if found is None:
            return
        if t0 is None:  # its schedule cannot be put on the clock
            raw.missing.append(f"{(d / LOADGEN).relative_to(run_dir)} without the client's start: its "
                               "rate.tsv has no time of day")
            return
        answers += [(t0 + (r.sched_ms + r.latency_ms) / 1000.0, r.latency_ms) for r in found
                    if r.answered and r.latency_ms is not None]
    raw.answers = answers


def _read_histogram(raw: RunData, run_dir: Path, dirs: list[Path]) -> None:
    """The parts' latency histograms added up (wrk.json's latency_hist_us: no request's own time)."""
    hists = []
    for d in dirs:
        run = load_wrk_run(d)
        where = (d / "wrk.json").relative_to(run_dir)
        if run.data is None:
            raw.missing.append(f"{where} missing or unreadable")
            return
        if len(dirs) == 1 and run.p50_ms is not None:
            # wrk's own figures: drawn when a repetition of the point lacks its histogram
            raw.wrk_points = {50: run.p50_ms, 90: run.p90_ms, 99: run.p99_ms, 99.9: run.p99_9_ms,
                              100: run.max_ms}
        if run.latency_hist is None:
            raw.missing.append(f"{where} {NO_HISTOGRAM}")
            return
        hists.append(run.latency_hist)
    raw.hist_us = merge_histograms(hists)


#: How a client's per-request latencies are read, by its Client.latencies.
READERS: dict[str, Callable[[RunData, Path, list[Path]], None]] = {
    "requests": _read_requests, "schedule": _read_schedule, "histogram": _read_histogram}


def read_samples(directory: Path) -> list[Sample] | None:
    """server.json's series (runfiles.server_samples); None without server.json or samples."""
    server = read_object(directory / SERVER)
    return None if server is None else server_samples(server)


def pooled(raws: list[RunData]) -> Latencies | None:
    """One point's latencies: its repetitions' requests together (None unless every one has them)."""
    found = [r.latencies() for r in raws]
    if not found or any(lat is None for lat in found):
        return None
    lats = [lat for lat in found if lat is not None]
    if lats[0].rule == "histogram":
        merged = merge_histograms([lat.hist_us or [] for lat in lats])
        return Latencies([(us / 1000.0, n) for us, n in merged], "histogram", lats[0].source, len(lats), merged)
    counts: dict[float, int] = {}
    for lat in lats:
        for ms, n in lat.hist:
            counts[ms] = counts.get(ms, 0) + n
    return Latencies(sorted(counts.items()), lats[0].rule, lats[0].source, len(lats))

def epoch(text: Any) -> float | None:
    """An ISO time (loadgen.json's started_at: "2026-11-22T04:00:00Z") as Unix seconds; None if not one."""
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class Second:
    """One second of a run's timeline (since its t0): requests that ended in it and their p99."""

    t: int
    completed: int
    p99_ms: float | None


def per_second(ends: Iterable[tuple[int, float]]) -> list[Second]:
    """(second an answer ended in, its latency ms) -> every second from 0 to the last end with the
    answers that ended in it and their p99 (ab's nearest rank); seconds with none included: a stall
    shows as a gap. Ends before 0 (none expected) count in second 0."""
    by_second: dict[int, list[float]] = {}
    for t, ms in ends:
        by_second.setdefault(max(t, 0), []).append(ms)
    out = []
    for t in range(0, max(by_second, default=-1) + 1):
        times = sorted(by_second.get(t, []))
        out.append(Second(t, len(times), rank_ms(times, 99) if times else None))
    return out


def timeline(rows: list[TsvRow]) -> list[Second]:
    """An ab run second by second from its first start second. End = start second + total time."""
    if not rows:
        return []
    t0 = min(r.seconds for r in rows)
    return per_second(((r.seconds * 1000 + r.ttime) // 1000 - t0, float(r.ttime)) for r in rows)


@dataclass
class RunTimeline:
    """One run on the wall clock: t0 (Unix s) and, from it, the answers of each second and the server's CPU."""

    t0: float
    #: what t0 is, for the axis and the table
    since: str
    seconds: list[Second]
    cpu: list[CpuSecond]

    @property
    def requests(self) -> int:
        return sum(s.completed for s in self.seconds)

    @property
    def peak_cpu_pct(self) -> float | None:
        return max((c.pct for c in self.cpu), default=None)


def run_timeline(raw: RunData) -> RunTimeline | None:
    """A run's timeline from its per-request data (ab.tsv, rate.tsv) and its server samples; t0 the
    first request's start second (ab), else the client's start (loadgen.json: rate, wrk), else the first
    sample. None when it has neither."""
    cpu = cpu_per_second(raw.samples or [])
    if raw.rows:
        t0, since = float(min(r.seconds for r in raw.rows)), "the first request's start (ab's whole second)"
        seconds = timeline(raw.rows)
    elif raw.answers and raw.started is not None:
        t0, since = raw.started, "the client's start (loadgen.json), its schedule's first send 0.05 s after"
        seconds = per_second((math.floor(end - t0), ms) for end, ms in raw.answers)
    elif cpu:
        t0, since = ((raw.started, "the client's start (loadgen.json)") if raw.started is not None
                     else (cpu[0].t_from, "the first server sample"))
        seconds = []
    else:
        return None
    return RunTimeline(t0, since, seconds, cpu)


def read_all(run_dir: Path, records: list[Record]) -> dict[str, RunData]:
    """Every record's data, by its raw_dir; a record that does not count gets none (it is not drawn)."""
    return {r.raw_dir: read(run_dir, r) if counts_for_stats(r) else RunData(r) for r in records}
