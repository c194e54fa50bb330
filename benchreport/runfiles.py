"""The files of one run's folder, read and checked: what was asked, what happened.

Layout of a bench run (written by bench.yml and the load host's wrapper, read here)::

    results/<run-id>/<name>/     one folder per mode, profile and client
        run.json      the plan entry, written by the bench before the run (below)
        loadgen.json  what the load host spent (benchhost.clients.ab / benchhost.clients.wrk)
        server.json   the mode's unit on the app host (benchhost.sample)
        upstream.json the slow API's unit (benchhost.sample, server.json's schema) when it runs on the app
                      host; on a host of its own in upstream/<host>/upstream.json (benchreport.cpucost)
        outcome.json  written by the bench after the run: {"error", "blocked"}
        monitor.json  gevent's monitor reports (blocks, their stacks) and what gevent patched, when the run
                      had monitor on (benchhost.monitor says what it holds)
        ab.txt, ab.err, ab.tsv, ab.csv    ab's stdout, stderr, -g and -e files
        wrk.txt, wrk.err, wrk.json        wrk's stdout, stderr and wrk.lua's figures
        rate.json, rate.tsv               benchhost.clients.rate's figures and per-request lines (client=rate:
                                          constant-rate load; benchhost.clients.rate says what they hold)

With several load hosts (the plan runner, benchreport.collect) the run is split
into parts, one per load host, that start together: <name>/ keeps run.json
(the whole run, with `parts`), server.json and outcome.json, and each load
host's files go to its own folder::

    results/<run-id>/<name>/loadgen/<host>/
        run.json      the part's: n and c are the part's, plus "part" and "point" (below)
        loadgen.json, ab.txt, ab.err, ab.tsv, ab.csv / wrk.txt, wrk.err, wrk.json / rate.json, rate.tsv

benchreport.summary makes one record of them (the parts merged). With one load
host the files stay directly in <name>/ as above (its run.json may carry
parts, part and point too).

run.json (schema 2). Required: mode, profile, client, n, c, delay (null for a user's app's run,
which has "app": its record, "requests": its routes, benchhost.routes, and "path"); numbers may
arrive as numeric strings (templating), anything else non-numeric there is an
error for that run::

    {"schema": 2, "run_id": "20261122T040000Z", "name": "uwsgi-gevent-tuned-wrk",
     "mode": "uwsgi-gevent", "profile": "tuned", "client": "wrk",      # ab | wrk | rate
     "n": 2000, "c": 200, "delay": 1, "route": "/", "port": 3000,
     "url": "http://10.89.7.11:3000/?delay=1",                        # what the client requests
     "monitor": false,            # gevent's monitor thread on (its blockages land in outcome.json)
     "expect": null,              # or the outcome the mode table expects ("hang"; a mapping's "outcome")
     "time_limit": 300,           # s, the whole run (ab -t, wrk -d)
     "timeout": 40,               # s, per request (ab -s, wrk --timeout)
     "unit": "flask-uwsgi-gevent.service", "app_host": "app1", "loadgen_host": "loadgen1",
     "repetition": 2, "repeats": 3,   # optional (repeat=K): this run is the 2nd of the point's 3
     "seed": 1234,                    # optional: the seed that shuffled the run order
     "parts": [{"host": "loadgen1", "c": 100, "n": 1000},    # optional (the plan runner): one per
               {"host": "loadgen2", "c": 100, "n": 1000}]}   # load host; their c's and n's sum to c, n
    # without repetition/repeats (older runs): repetition 1 of 1; seed null
    # a part's run.json (loadgen/<host>/run.json): n, c its own, plus
    #   "part": {"host": "loadgen2", "index": 1, "of": 2}, "point": {"n": 2000, "c": 200}
    # client=rate (benchhost.clients.rate): also "rate" (req/s scheduled) and "duration" (s of schedule);
    #   n = round(rate x duration) is the requests scheduled, c the cap on open connections;
    #   each part has its "rate" (the shares add up to the run's), and a part's "point" the whole "rate"

loadgen.json (the wrapper's)::

    {"client": "ab", "ab_argv": [...], "ab_rc": 0,       # wrk: wrk_argv, wrk_rc, "threads"; rate: argv,
                                                         # client_cpu_ms
     "started_at": "2026-11-22T04:00:00Z", "ended_at": "2026-11-22T04:00:11Z",
     "started": 1795320600.21, "ended": 1795320611.43,   # Unix s: just before the client started, once
                                                         # it exited (the load window; absent in older runs)
     "cpus": 2, "cpu_stat_before": "cpu  4705 0 1200 ...", "cpu_stat_after": "cpu  5705 ...",
     "ab_cpu_ms": 850,                                   # wrk: wrk_cpu_ms
     "kill_after_s": 370, "killed": false}               # killed: the client outlived the cap

server.json (benchhost.sample's)::

    {"unit": "flask-uwsgi-gevent.service",
     "cpu_ns_before": 1200000000, "cpu_ns_after": 9800000000,   # the unit's CPU time, ns, at the sampler's
     "cpu_source": "systemd",            # first and last reading: systemd (CPUUsageNSec) | proc (utime+stime
                                         # of its pids)
     "started": 1795320598.2, "ended": 1795320610.9,   # wall clock of those readings, Unix s (absent in
                                         # older runs)
     "peak_rss_kib": 181234,             # max over the sampler's readings of the pids' summed VmRSS (older
     "rss_source": "proc", "rss_samples": 11,   # runs: systemd's MemoryPeak / 1024 there, rss_source "systemd")
     "memory_peak_kib": 190000,          # systemd's MemoryPeak / 1024: the unit's since it started (not the
                                         # run's: a kept mode carries it over); null where not set
     "clk_tck": 100, "pids_read": 3,     # /proc's CPU tick (Hz) and the pids read (absent in older runs)
     "samples": [                        # the run as a series (absent in runs before it was kept)
       {"t": 1795320598.25,              # wall clock, Unix s (ms precision): lines up with the clients'
        "cpu_ns": 250000000,             # the unit's pids' cumulative CPU (utime+stime from /proc), ns
        "rss_kib": 33864}, ...],         # their summed VmRSS
     "sample_every_s": 0.25,             # at most one sample per this (1.0 in older runs), plus the final
                                         # reading; doubled each time the series is thinned (over 3600
                                         # samples: every other one dropped)
     "samples_cpu_source": "proc"}       # the series' CPU, /proc's whatever cpu_source says
    # the first sample is the baseline (before "go"), the last the final reading (after the load hosts
    # are done); CPU between two samples = the difference of their cpu_ns over their t's (server_samples,
    # cpu_per_second); the run's CPU and peak memory over the load window: benchreport.serverfigures

outcome.json (the bench's, after the run)::

    {"error": null,      # or why the run failed (the mode did not start, the client could not run)
     "blocked": null}    # hub blockages gevent's monitor reported (journal count); null when off
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchhost import clients
from benchhost.monitor import MONITOR_FILE
from benchreport.model import finite, integer

RUN, LOADGEN, SERVER, OUTCOME = "run.json", "loadgen.json", "server.json", "outcome.json"
#: The schema-1 file bench.yml wrote before run.json (no longer read).
OLD_META = "meta.json"
SCHEMA = 2
#: The load clients (benchhost.clients' registry), in the report's order.
CLIENTS = clients.names()
#: The client's files, the one without which nothing was measured first.
RAW_FILES = {name: clients.get(name).files for name in CLIENTS}
REQUIRED = ("mode", "profile", "client", "n", "c", "delay")
#: A folder holding any of these is a run folder.
MARKERS = (RUN, LOADGEN, SERVER, OUTCOME, OLD_META) + tuple(name for files in RAW_FILES.values() for name in files)
#: Written by benchreport.collect (the plan runner's bench): how long the bench ran load, of its wall time.
TIMING = "timing.json"
#: Where a run of several load hosts keeps each host's files: <name>/loadgen/<host>/.
LOADGEN_DIR = "loadgen"



def _text(x: Any) -> str | None:
    return None if x is None else str(x)


@dataclass(frozen=True)
class Sample:
    """One sample of server.json's series: wall-clock time (Unix s), cumulative CPU ns, summed RSS KiB."""

    t: float
    cpu_ns: int
    rss_kib: int | None


@dataclass(frozen=True)
class CpuSecond:
    """The server's CPU between two consecutive samples, as % of one core; t_from/t_to Unix s."""

    t_from: float
    t_to: float
    pct: float


def server_samples(server: dict[str, Any]) -> list[Sample] | None:
    """server.json's series in time order; None when it has none (runs before it was kept, or not a
    list); readings without a time or a CPU figure are skipped."""
    raw = server.get("samples")
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        t, cpu = finite(item.get("t")), integer(item.get("cpu_ns"))
        if t is not None and cpu is not None:
            out.append(Sample(t, cpu, integer(item.get("rss_kib"))))
    return sorted(out, key=lambda s: s.t)


def cpu_per_second(samples: list[Sample]) -> list[CpuSecond]:
    """CPU % of one core over each pair of consecutive samples (a counter that went back, a pid gone
    and its number reused, gives no figure for that pair)."""
    out = []
    for a, b in zip(samples, samples[1:]):
        if b.t > a.t and b.cpu_ns >= a.cpu_ns:
            out.append(CpuSecond(a.t, b.t, 100.0 * (b.cpu_ns - a.cpu_ns) / ((b.t - a.t) * 1e9)))
    return out


def _outcome(x: Any) -> str | None:
    """run.json's expect: an outcome ("hang"), or the mode table's {outcome, why}; None for success."""
    if isinstance(x, dict):
        x = x.get("outcome")
    return _text(x) or None


@dataclass(frozen=True)
class PartSpec:
    """One load host's share of a run (run.json's `parts`)."""

    host: str
    c: int | None
    n: int | None
    #: client=rate: this load host's scheduled req/s
    rate: float | None = None


@dataclass(frozen=True)
class RunSpec:
    """run.json: what the bench asked for. Numbers are None when absent or not numbers."""

    mode: str
    profile: str
    #: ab | wrk (anything else is an error of the run, and nothing is measured)
    client: str | None
    n: int | None
    c: int | None
    delay: float | None
    schema: int | None = None
    run_id: str | None = None
    name: str | None = None
    route: str | None = None
    port: int | None = None
    url: str | None = None
    monitor: bool = False
    expect: str | None = None
    #: whether run.json has an `expect` key at all (else the mode table says)
    expect_given: bool = False
    time_limit: int | None = None
    timeout: int | None = None
    unit: str | None = None
    app_host: str | None = None
    loadgen_host: str | None = None
    #: repeat=K: which repetition of its point this run is (1..K) and K; None when run.json has none
    repetition: int | None = None
    repeats: int | None = None
    #: the seed that shuffled the run order (None when run.json has none)
    seed: int | None = None
    #: the load hosts' shares, in the plan's order (None when run.json has no `parts`)
    parts: tuple[PartSpec, ...] | None = None
    #: client=rate: the req/s scheduled (this load host's, in a part's run.json) and the schedule's seconds
    rate: float | None = None
    duration: float | None = None
    #: client=rate: the whole run's req/s (a part's `point`; else `rate`)
    point_rate: float | None = None
    #: the app's own latency budget, ms (budget_ms), and a knee search's step ("search": rate=auto)
    budget_ms: float | None = None
    search: dict[str, Any] | None = None
    #: a user's app (bench.yml -e app=DIR): its record (flaskbench.plan.App.record); None for the built-in app
    app: dict[str, Any] | None = None


@dataclass(frozen=True)
class Timing:
    """timing.json's object (benchreport.collect: how long the bench ran load, of its wall time) and the
    figures the report reads from it; a figure of the wrong type reads as None."""

    #: as collect wrote it (bench.json keeps it whole)
    data: dict[str, Any]

    def _number(self, key: str) -> float | None:
        x = self.data.get(key)
        return x if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None

    def _count(self, key: str) -> int | None:
        x = self.data.get(key)
        return x if isinstance(x, int) else None

    @property
    def load_s(self) -> float | None:
        return self._number("load_s")

    @property
    def wall_s(self) -> float | None:
        return self._number("wall_s")

    @property
    def runs_planned(self) -> int | None:
        return self._count("runs_planned")

    @property
    def runs_done(self) -> int | None:
        return self._count("runs_done")

    @property
    def interrupted(self) -> Any:
        """Why the bench stopped early (the signal's name); empty or None when it did not."""
        return self.data.get("interrupted")


def load_timing(run_dir: Path) -> tuple[Timing | None, str | None]:
    """timing.json (None when absent) and a warning when it is there but unreadable."""
    path = run_dir / TIMING
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"{TIMING} unreadable: {exc}"
    if not isinstance(data, dict):
        return None, f"{TIMING} unreadable: not a JSON object"
    return Timing(data), None


@dataclass
class RunFiles:
    """One run folder's JSON files, read; `errors` and `warnings` say what is wrong or missing."""

    directory: Path
    run: RunSpec | None = None
    loadgen: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    #: outcome.json's error (why the run failed) and hub blockage count
    error: str | None = None
    blocked: int | None = None
    #: monitor.json's object (benchhost.monitor), None without it
    monitor: dict[str, Any] | None = None
    #: which of loadgen.json, server.json, outcome.json were there (and readable)
    present: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def client(self) -> str | None:
        """run.json's client; without run.json, what loadgen.json or the raw files show."""
        if self.run is not None and self.run.client is not None:
            return self.run.client
        named = self.loadgen.get("client")
        if clients.get(named) is not None:
            return str(named)
        for client in clients.names():
            files = clients.get(client).files
            if len(self.missing(files)) < len(files):
                return client
        return None

    def missing(self, names: tuple[str, ...] | list[str]) -> list[str]:
        """Those of `names` not in the folder."""
        return [name for name in names if not (self.directory / name).is_file()]


def is_run_dir(directory: Path) -> bool:
    """A folder the bench wrote for one run (any of its files is there)."""
    return directory.is_dir() and any((directory / name).is_file() for name in MARKERS)


def part_dirs(directory: Path) -> list[Path]:
    """The load hosts' folders of a run of several (<name>/loadgen/<host>/), by host name; [] otherwise."""
    parent = directory / LOADGEN_DIR
    if not parent.is_dir():
        return []
    return sorted(d for d in parent.iterdir() if is_run_dir(d))


def _load_object(path: Path, errors: list[str]) -> dict[str, Any] | None:
    """A JSON object from `path`; None (and a message in `errors`) when unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        errors.append(f"{path.name} unreadable: {exc}")
        return None
    if not isinstance(data, dict):
        errors.append(f"{path.name} unreadable: not a JSON object")
        return None
    return data


def parse_run(data: dict[str, Any], errors: list[str]) -> RunSpec | None:
    """run.json's object as a RunSpec; None when it lacks what names the run."""
    app = data["app"] if isinstance(data.get("app"), dict) else None
    # a user's app calls no slow API of ours: its runs have no delay
    missing = [k for k in REQUIRED if data.get(k) is None and not (k == "delay" and app is not None)]
    if missing:
        errors.append(f"{RUN} lacks {', '.join(missing)}")
    for key, conv in (("n", integer), ("c", integer), ("delay", finite),
                      ("time_limit", integer), ("timeout", integer), ("port", integer),
                      ("repetition", integer), ("repeats", integer), ("seed", integer),
                      ("rate", finite), ("duration", finite)):
        if data.get(key) is not None and conv(data[key]) is None:
            errors.append(f"{RUN}: {key} is not a number: {data[key]!r}")
    client = data.get("client")
    if client is not None and clients.get(client) is None:
        errors.append(f"{RUN}: unknown client {client!r} (expected one of {', '.join(clients.names())})")
    if any(data.get(k) is None for k in ("mode", "profile")):
        return None
    monitor = data.get("monitor")
    parts = None
    if data.get("parts") is not None:
        raw = data["parts"]
        if isinstance(raw, list) and all(isinstance(p, dict) and p.get("host") for p in raw):
            parts = tuple(PartSpec(str(p["host"]), integer(p.get("c")), integer(p.get("n")), finite(p.get("rate")))
                          for p in raw)
        else:
            errors.append(f"{RUN}: parts is not a list of {{host, c, n}}: {raw!r}")
    return RunSpec(
        mode=str(data["mode"]), profile=str(data["profile"]), client=_text(client),
        n=integer(data.get("n")), c=integer(data.get("c")), delay=finite(data.get("delay")),
        schema=integer(data.get("schema")), run_id=_text(data.get("run_id")), name=_text(data.get("name")),
        route=_text(data.get("route")), port=integer(data.get("port")), url=_text(data.get("url")),
        monitor=monitor is True or str(monitor).lower() == "true",
        expect=_outcome(data.get("expect")), expect_given="expect" in data,
        time_limit=integer(data.get("time_limit")), timeout=integer(data.get("timeout")),
        unit=_text(data.get("unit")), app_host=_text(data.get("app_host")),
        loadgen_host=_text(data.get("loadgen_host")),
        repetition=integer(data.get("repetition")), repeats=integer(data.get("repeats")),
        seed=integer(data.get("seed")), parts=parts,
        rate=finite(data.get("rate")), duration=finite(data.get("duration")),
        point_rate=finite((data.get("point") or {}).get("rate")) if isinstance(data.get("point"), dict)
        else finite(data.get("rate")),
        budget_ms=finite(data.get("budget_ms")),
        search=data["search"] if isinstance(data.get("search"), dict) else None,
        app=app,
    )


def read_run(directory: Path) -> RunFiles:
    """Read run.json, loadgen.json, server.json and outcome.json of one run folder.

    Without a usable run.json the run cannot be named: `errors` says so (the
    caller still reads what the client left). A missing loadgen.json,
    server.json or outcome.json is a warning (the figures they hold are null).
    """
    files = RunFiles(directory)
    run_path = directory / RUN
    if run_path.is_file():
        data = _load_object(run_path, files.errors)
        if data is not None:
            if integer(data.get("schema")) not in (None, SCHEMA):
                files.warnings.append(f"{RUN}: schema {data.get('schema')!r}, this report reads {SCHEMA}")
            files.run = parse_run(data, files.errors)
    elif (directory / OLD_META).is_file():
        files.errors.append(f"{RUN} missing: this folder has the old layout ({OLD_META}, before schema "
                            f"{SCHEMA}); its mode, profile and client are unknown")
    else:
        files.errors.append(f"{RUN} missing: the run's mode, profile and client are unknown")
    for name in (LOADGEN, SERVER, OUTCOME):
        path = directory / name
        if not path.is_file():
            continue
        data = _load_object(path, files.warnings)
        if data is None:
            continue
        files.present.add(name)
        if name == LOADGEN:
            files.loadgen = data
        elif name == SERVER:
            files.server = data
        else:
            files.error = _text(data.get("error")) or None
            files.blocked = integer(data.get("blocked"))
    if (directory / MONITOR_FILE).is_file():
        files.monitor = _load_object(directory / MONITOR_FILE, files.warnings)
    return files
