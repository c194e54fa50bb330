"""The app server's CPU and peak memory over a run's load window: server.json read against the clients' times.

benchhost.sample runs from before "go" to after every load host is done, and
systemd's MemoryPeak is the unit's since it started (a mode kept running
carries an earlier run's over), so server.json's totals are not the run's.
The run's figures come from its series (server.json's samples, about every
0.25 s, on the wall clock) over the load window:

* the window runs from the first request's due time (client=rate:
  rate.json's first_due_at; older rate.json without it, and ab and wrk:
  loadgen.json's `started`, just before the client starts) to the client's
  end (loadgen.json's `ended`, once it exited); with several load hosts
  from the earliest part's start to the latest part's end. The load hosts'
  clocks and the app host's are taken to agree (as the timeline does).
* CPU: the series' cumulative cpu_ns at each edge, interpolated linearly
  between the two samples around it (the samples are 0.25 s apart: the
  edge falls between them), the end's less the start's (source "samples").
  When the series does not span the window (no samples, runs before it was
  kept, a window outside it) or its CPU went back inside it, the totals:
  cpu_ns_after - cpu_ns_before over the sampler's whole life (source
  "totals (<why>)"): more than the window's.
* peak memory: the highest rss_kib of the samples inside the window (the two
  around it when none falls inside), "samples in the load window"; when
  the series does not span the window, server.json's peak_rss_kib if it is
  the sampler's own /proc readings ("proc readings over the sampler's
  run": before "go" to after done). systemd's MemoryPeak is never reported
  (older server.json gave it as peak_rss_kib, rss_source "systemd").
* resolution, a bound on the CPU figure's error, in ns. /proc counts each
  pid's utime and stime in ticks (1 / clk_tck s, server.json's; 100 Hz
  when it does not say), each truncated, so a pid's reading is below its
  true CPU by less than 2 ticks, and a difference of two readings is off
  by less than 2 ticks per pid: 2 x tick x pids_read (every pid the sampler
  read: a bound, the window's own pids may be fewer). Interpolating at an
  edge puts it between the two samples' values, off by at most
  max(f, 1 - f) x the CPU between them (f: where the edge falls between
  them); both edges' are added. The series is /proc's whatever cpu_source
  says, so a windowed figure always carries the ticks. The totals: proc's
  2 x tick x pids_read; systemd's CPUUsageNSec moves in µs (cgroup v2's
  usage_usec), 2 x SYSTEMD_STEP_NS, but over the sampler's longer window
  (cpu_window says so). A /proc figure's is null when server.json does not
  say pids_read (runs before it). Not bounded: the CPU a pid used between
  its last reading and its exit, which /proc no longer shows.

CPU per request carries its resolution (the bound / the divisor): report.md
and report.html print it beside the figure ("2.0 ± 1.0") when it is over
RESOLUTION_SHOWN (5%) of it, and no ranking tells apart two figures closer
than their resolutions added (within_resolution; a point's resolution is its
records' highest, point_resolution): whattouse's "best by CPU", knee's tie
break by CPU at the knee.

The divisor of CPU per request (cpu_divisor): the requests the server
worked on, answered or not: ab's complete (its receive and length errors
are counted in it; ab stops at a -s timeout), wrk's requests + read errors
(the request in flight on a cut connection; its timeouts are late answers,
already in requests), rate's complete + read + timeout errors. Connect
errors (and wrk's write errors) never reached it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchhost import clients
from benchreport.model import Record, finite, integer
from benchreport.runfiles import Sample, server_samples

SAMPLES = "samples"
#: Linux's USER_HZ: /proc's CPU tick when server.json does not give its clk_tck.
DEFAULT_CLK_TCK = 100
#: systemd's CPUUsageNSec moves in these steps (cgroup v2's usage_usec x 1000).
SYSTEMD_STEP_NS = 1000
WINDOW_RSS = "samples in the load window"
SAMPLER_RSS = "proc readings over the sampler's run"


@dataclass(frozen=True)
class Window:
    """The load window: Unix s, the earliest start to the latest end."""

    start: float
    end: float


@dataclass
class ServerFigures:
    """The server's CPU (ns) and peak memory (KiB) of a run, where they came from and the CPU's resolution."""

    cpu_ns: float | None = None
    cpu_source: str | None = None
    #: {"from", "to", "s", "source"}: what the CPU was measured over
    cpu_window: dict[str, Any] | None = None
    resolution_ns: float | None = None
    peak_rss_kib: int | None = None
    rss_source: str | None = None
    warnings: list[str] = field(default_factory=list)


def _first_due(directory: Path) -> float | None:
    """rate.json's first_due_at (None when absent or unreadable: the caller falls back)."""
    try:
        data = json.loads((directory / "rate.json").read_text())
    except (OSError, ValueError):
        return None
    return finite(data.get("first_due_at")) if isinstance(data, dict) else None


def load_window(parts: list[tuple[Path, dict[str, Any]]], client: str | None) -> tuple[Window | None, str]:
    """The load window from each load host's (folder, loadgen.json); None and why when a part lacks its times."""
    if not parts:
        return None, "no loadgen.json"
    known = clients.get(client)
    scheduled = known is not None and known.by_rate  # its load starts at the first request's due time
    starts, ends = [], []
    for directory, loadgen in parts:
        start = _first_due(directory) if scheduled else None
        start = start if start is not None else finite(loadgen.get("started"))
        end = finite(loadgen.get("ended"))
        if start is None or end is None:
            return None, "no load window: loadgen.json has no started/ended"
        starts.append(start)
        ends.append(end)
    window = Window(min(starts), max(ends))
    return (window, "") if window.end > window.start else (None, "no load window: it ends before it starts")


def cpu_at(samples: list[Sample], t: float) -> tuple[float, float] | None:
    """The cumulative CPU (ns) at t, interpolated between the samples around it, and the most that can be
    off (max(f, 1 - f) x the CPU between them); None outside the series."""
    for a, b in zip(samples, samples[1:]):
        if a.t <= t <= b.t:
            if b.t == a.t:
                return float(a.cpu_ns), 0.0
            f = (t - a.t) / (b.t - a.t)
            step = b.cpu_ns - a.cpu_ns
            return a.cpu_ns + f * step, max(f, 1.0 - f) * abs(step)
    return None


def _spans(samples: list[Sample] | None, window: Window | None) -> str | None:
    """Why the series cannot give the window's figures (None: it can)."""
    if window is None:
        return None
    if not samples:
        return "no samples in server.json"
    if samples[0].t > window.start or samples[-1].t < window.end:
        return "the samples do not span the load window"
    lo = max(i for i, s in enumerate(samples) if s.t <= window.start)
    hi = min(i for i, s in enumerate(samples) if s.t >= window.end)
    span = samples[lo:hi + 1]
    if any(b.cpu_ns < a.cpu_ns for a, b in zip(span, span[1:])):
        return "the samples' CPU went back in the load window"
    return None


def window_peak_rss(samples: list[Sample], window: Window) -> int | None:
    """The highest rss_kib of the samples inside the window; the two around it when none falls inside."""
    inside = [s.rss_kib for s in samples if window.start <= s.t <= window.end and s.rss_kib is not None]
    if inside:
        return max(inside)
    before = [s for s in samples if s.t <= window.start and s.rss_kib is not None]
    after = [s for s in samples if s.t >= window.end and s.rss_kib is not None]
    around = [s.rss_kib for s in (before[-1:] + after[:1]) if s.rss_kib is not None]
    return max(around) if around else None


def tick_ns(server: dict[str, Any]) -> float:
    """/proc's CPU tick in ns (server.json's clk_tck; DEFAULT_CLK_TCK without it)."""
    hz = integer(server.get("clk_tck"))
    return 1e9 / (hz if hz and hz > 0 else DEFAULT_CLK_TCK)


def ticks_bound(server: dict[str, Any]) -> float | None:
    """2 ticks per pid read (utime and stime each truncated); None when server.json does not say how many."""
    pids = integer(server.get("pids_read"))
    return None if pids is None or pids < 0 else 2.0 * tick_ns(server) * pids


def _window_dict(start: float | None, end: float | None, source: str) -> dict[str, Any]:
    seconds = end - start if start is not None and end is not None else None
    return {"from": start, "to": end, "s": None if seconds is None else round(seconds, 3), "source": source}


def _totals(server: dict[str, Any], why: str, out: ServerFigures) -> None:
    """The CPU of the sampler's whole life (cpu_ns_before to cpu_ns_after), saying why not the window's."""
    before, after = finite(server.get("cpu_ns_before")), finite(server.get("cpu_ns_after"))
    if before is None or after is None:
        return
    if after < before:
        out.warnings.append("server CPU counter went backwards (processes exited?): CPU not reported")
        return
    out.cpu_ns = after - before
    out.cpu_source = None if server.get("cpu_source") is None else str(server.get("cpu_source"))
    out.cpu_window = _window_dict(finite(server.get("started")), finite(server.get("ended")), f"totals ({why})")
    out.resolution_ns = 2.0 * SYSTEMD_STEP_NS if out.cpu_source == "systemd" else ticks_bound(server)


def _sampler_peak(server: dict[str, Any], out: ServerFigures) -> None:
    """server.json's peak_rss_kib when it is the sampler's own /proc readings (never systemd's MemoryPeak)."""
    rss = integer(server.get("peak_rss_kib"))
    if rss is None:
        return
    if server.get("rss_source") == "proc":
        out.peak_rss_kib, out.rss_source = rss, SAMPLER_RSS
    else:
        out.warnings.append(f"server.json's peak memory is {server.get('rss_source') or 'of unknown source'} "
                            "(systemd's MemoryPeak: the unit's since it started, carried over from earlier "
                            "runs): not reported as the run's")


def server_figures(server: dict[str, Any], window: Window | None, no_window: str = "no load window") -> ServerFigures:
    """The run's CPU and peak memory from server.json: over the load window from its samples when they span
    it, else its totals (see the module's docstring)."""
    out = ServerFigures()
    if not server:
        return out
    samples = server_samples(server)
    why = no_window if window is None else _spans(samples, window)
    if why is not None or window is None or not samples:
        _totals(server, why or "no samples in server.json", out)
        _sampler_peak(server, out)
        return out
    start, end = cpu_at(samples, window.start), cpu_at(samples, window.end)
    assert start is not None and end is not None  # _spans: the series spans the window
    out.cpu_ns = max(0.0, end[0] - start[0])
    out.cpu_source = str(server.get("samples_cpu_source") or "proc")
    out.cpu_window = _window_dict(window.start, window.end, SAMPLES)
    ticks = ticks_bound(server)
    out.resolution_ns = None if ticks is None else ticks + start[1] + end[1]
    out.peak_rss_kib, out.rss_source = window_peak_rss(samples, window), WINDOW_RSS
    if out.peak_rss_kib is None:
        out.rss_source = None
        _sampler_peak(server, out)
    return out


def cpu_divisor(client: str | None, complete: int | None, failed_detail: dict[str, Any] | None) -> int | None:
    """The requests the server worked on: complete plus the errors that reached it but are not in it."""
    if complete is None:
        return None
    detail = failed_detail or {}
    known = clients.get(client)  # the errors that reached the server but are not in its complete
    reached = known.reached_not_complete if known is not None else ()
    return complete + sum(integer(detail.get(k)) or 0 for k in reached)


#: A figure's resolution is shown beside it ("2.0 ± 1.0") when over this share of the figure.
RESOLUTION_SHOWN = 0.05


def shows_resolution(value: float | None, resolution: float | None) -> bool:
    """Whether a resolution is worth printing beside its figure (over RESOLUTION_SHOWN of it)."""
    return value is not None and resolution is not None and resolution > RESOLUTION_SHOWN * abs(value)


def within_resolution(a: float, res_a: float | None, b: float, res_b: float | None) -> bool:
    """Two figures closer than their resolutions added: the measurement cannot tell them apart (no
    resolution: exact)."""
    return abs(a - b) <= (res_a or 0.0) + (res_b or 0.0)


def point_resolution(records: list[Record], key: str = "cpu_ms_per_req_resolution") -> float | None:
    """A point's resolution over its records (a median of repetitions is no finer than its coarsest one):
    the highest; None when none has one."""
    found = [v for r in records
             if (v := finite(getattr(r, key))) is not None]
    return max(found) if found else None
