"""The report's model: a run's Record and the words every part of benchreport uses about records.

The readers (runfiles, rundata, ..., over the clients' own readers in benchhost.clients) turn a run's files
into figures; benchreport.summary puts them on Records (one per run folder);
the analysis (knee, compare, whattouse) and the renderers read Records, never
summary.json's dicts. summary.json is a list of Record.as_dict(); compare and
any other reader of an older or newer file get Records back with
Record.from_dict.

The shared vocabulary, defined here only:

* a point: (mode, profile, client, c, n, delay, route, rate), normalised
  (point_key); a point's repetitions (repeat=K) share it;
* the metrics compared and ranked (METRICS): req/s, p99, CPU ms per request;
* a point's stats over its counted repetitions (counts_for_stats: no error, no
  expected failure): {median, min, max, cv} per metric (spread), cv = sample
  stdev / mean as a fraction; a point is noisy when its req/s cv is over
  NOISY_CV; it is repeated when it counted 2 or more repetitions;
* the figure a point is judged on (value: the repetitions' median, else the
  record's own), its cv, and whether its p99 is only a bound (bound).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A figure read from JSON: one definition for the host side and the report (benchhost.numbers).
from benchhost import clients
from benchhost.numbers import finite, integer

#: A run folder's Records, as benchreport writes them (a JSON list of Record.as_dict()).
SUMMARY = "summary.json"
#: A point is noisy when the cv of its req/s is over this fraction.
NOISY_CV = 0.05
#: A point is matched on this tuple (normalised by point_key); a point without a rate leaves it out of its JSON.
POINT_KEYS = ("mode", "profile", "client", "c", "n", "delay", "route", "rate")
Point = tuple[Any, ...]
#: Record fields left out of summary.json when None (newer than the runs recorded before them).
OMITTED = ("budget_ms", "search", "app")


def text(x: Any) -> str | None:
    return None if x is None else str(x)


def round_or_none(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


@dataclass(frozen=True)
class Metric:
    """A figure compared between runs and ranked within one: its Record field and which way is better."""

    key: str
    label: str
    higher_is_better: bool
    #: decimals shown; None: whole numbers from 100 up, one decimal below (ms, as the report shows them)
    digits: int | None
    #: the Record field of the figure's resolution (± the same unit), when it has one
    resolution_key: str | None = None


METRICS = (
    Metric("rps", "req/s", True, 2),
    Metric("p99_ms", "p99 ms", False, None),
    Metric("cpu_ms_per_req", "CPU ms/req", False, 3, "cpu_ms_per_req_resolution"),
)
#: The figures a point's repetitions are summarised on (Record.stats' keys).
STATS_METRICS = tuple(m.key for m in METRICS)


@dataclass
class Record:
    """One run's figures: a row of summary.json (as_dict), in this key order; from_dict reads one back."""

    mode: str | None
    profile: str | None
    client: str | None
    title: str | None = None
    #: the mode's group in the report (benchapp.modes.Mode.group: gevent, peers, threads and processes)
    group: str | None = None
    n: int | None = None
    c: int | None = None
    delay: float | int | None = None
    #: client=rate: the req/s scheduled for the whole point (all load hosts); null for ab and wrk
    rate: float | None = None
    route: str | None = None
    url: str | None = None
    complete: int | None = None
    failed: int | None = None
    failed_detail: dict[str, int] | None = None
    #: answers per HTTP status, {"200": k, ...}: wrk's (wrk.json) and rate's (rate.json); null for ab
    status_counts: dict[str, int] | None = None
    capped: bool = False
    time_limit_s: int | None = None
    time_taken_s: float | None = None
    rps: float | None = None
    ideal_rps: float | None = None
    pct_of_ideal: float | None = None
    ab_ceiling_rps: float | None = None
    ab_ceiling_pct: float | None = None
    pct_of_ceiling: float | None = None
    steady_rps: float | None = None
    steady_rps_from: str | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    percentiles_from: str | None = None
    #: several load hosts whose percentiles could not be merged: p99_ms is the parts' highest, an upper bound
    p99_upper_bound: bool = False
    #: failed requests not timed in the percentiles (errors, timeouts): the p99 of all sent is at least p99_ms
    p99_lower_bound: bool = False
    #: client=rate: p99 timed from the connection's opening (what a closed-loop client reports; p99_ms is
    #: timed from the schedule), how late the client opened its connections (p99), and how many opened
    #: more than 10 ms late (several load hosts: the highest p99s, an upper bound, and the sum)
    p99_service_ms: float | None = None
    lag_p99_ms: float | None = None
    late_sends: int | None = None
    connect_mean_ms: int | None = None
    connect_max_ms: int | None = None
    #: the server's CPU over cpu_window and per request it worked on (cpu_divisor_requests), ± its
    #: resolution (benchreport.serverfigures)
    cpu_ms: float | None = None
    cpu_ms_per_req: float | None = None
    cpu_source: str | None = None
    cpu_window: dict[str, Any] | None = None
    cpu_divisor_requests: int | None = None
    cpu_ms_per_req_resolution: float | None = None
    #: the server's peak memory in the load window (rss_source says where from)
    peak_rss_mib: float | None = None
    rss_source: str | None = None
    loadgen_cpu_pct: float | None = None
    host_cpu_pct: float | None = None
    #: the load hosts the run was split over (run.json's parts; 1 without), and each one's figures
    #: (None with one load host: the record is its figures)
    loadgens: int = 1
    parts: list[dict[str, Any]] | None = None
    #: the client, not the server, may have set the pace: why (client_limited_why, "; "-joined)
    client_limited: bool = False
    client_limited_why: str | None = None
    seed_rps: float | None = None
    seed_params: dict[str, Any] | None = None
    at_seed_params: bool | None = None
    client_rc: int | None = None
    client_threads: int | None = None
    client_detail: dict[str, Any] | None = None
    started_at: str | None = None
    ended_at: str | None = None
    error: str | None = None
    monitor: bool = False
    #: gevent's monitor reports during the run (outcome.json; null when off); from monitor.json
    #: (benchreport.readiness.monitor_figures): the blocks they make, the longest (at least, s), the call
    #: sites ({"site", "library", "blocks", "reports", "longest_s"}), the threshold, what gevent patched
    #: ({"patched": {module: bool}, "warnings": [...]}) and why monitor.json could not tell
    blocked: int | None = None
    blocked_blocks: int | None = None
    blocked_longest_s: float | None = None
    blocked_sites: list[dict[str, Any]] | None = None
    #: blocks (and their monitor reports) while a module was imported: a worker starting, not a request
    blocked_at_import: int | None = None
    blocked_import_reports: int | None = None
    monitor_threshold_s: float | None = None
    gevent_patch: dict[str, Any] | None = None
    monitor_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    raw_dir: str = ""
    expected: str | None = None
    expected_why: str | None = None
    as_expected: bool | None = None
    #: repeat=K: this run's repetition of its point (1 when run.json has none), how many of the
    #: point's records count (no error, no expected failure), run.json's K and the run order's seed
    #: None: not stated (a summary.json from before repeat=K; summary writes 1 when run.json has none)
    repetition: int | None = None
    #: None: not stated (a summary.json from before repeat=K)
    repeats: int | None = None
    repeats_planned: int | None = None
    shuffle_seed: int | None = None
    #: per metric of STATS_METRICS, {median, min, max, cv} over the point's counted records
    stats: dict[str, dict[str, float | None]] | None = None
    noisy: bool = False
    #: client=rate: the knee of the record's (mode, profile, delay, route) over its rates (benchreport.knee):
    #: the highest rate kept within p99 <= 1.5 x delay with 0 failed, and why not higher
    knee_rps: float | None = None
    knee_why: str | None = None
    #: the slow API's CPU over the load window (upstream.json, benchreport.cpucost) and per request the app
    #: worked on, its host, why null; the clients' own CPU per request; what a request cost each host
    #: ({"role", "host", "cpu_ms_per_req", "cores", "machine"}) and the machine limit from it (benchreport.knee)
    upstream_host: str | None = None
    upstream_cpu_ms: float | None = None
    upstream_cpu_ms_per_req: float | None = None
    #: what the slow API's CPU was measured over ({"from", "to", "s", "source"}: cpu_window's rule)
    upstream_cpu_window: dict[str, Any] | None = None
    upstream_cpu_why: str | None = None
    client_cpu_ms_per_req: float | None = None
    cpu_hosts: list[dict[str, Any]] | None = None
    machine_limit_rps: float | None = None
    machine_limit_why: str | None = None
    #: client=rate: the machine limit at the knee's rate (else the lowest over the budget) and the knee as % of it
    knee_machine_limit_rps: float | None = None
    knee_pct_of_machine_limit: float | None = None
    #: commit, hosts and key package versions (benchreport.environment.for_record); null without environment.json
    environment: dict[str, Any] | None = None
    #: client=rate: the app's own latency budget (bench.yml's budget_ms; else the knee's is 1.5 x delay) and,
    #: for a step of a knee search (rate=auto), run.json's "search" ({"group", "step", "precision", ...})
    budget_ms: float | None = None
    search: dict[str, Any] | None = None
    #: a user's app (bench.yml -e app=DIR): run.json's record of it, {"name", "spec_sha", "dir", "budget_ms",
    #: "routes", "skipped": {mode: why it cannot serve the app}}; absent for the built-in app
    app: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The summary.json object (strict JSON types, the fields' order); the fields of OMITTED only when set,
        so that a run without them keeps the summary.json it always had."""
        return {k: v for k, v in dataclasses.asdict(self).items() if not (k in OMITTED and v is None)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """A summary.json object as a Record: keys it does not know are ignored (a newer summary), missing
        ones take their defaults (an older one)."""
        return cls(**{f.name: data.get(f.name, _default(f)) for f in dataclasses.fields(cls)})


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def app_of(records: list[Record]) -> dict[str, Any] | None:
    """The user's app the records bench (the first one's record of it); None for the built-in app."""
    return next((r.app for r in records if r.app), None)


def app_option(records: list[Record]) -> str:
    """" -e app=DIR" for a command that benches the records' app again; "" for the built-in app."""
    app = app_of(records)
    return f" -e app={app['dir']}" if app and app.get("dir") else ""


def records(data: list[Mapping[str, Any]]) -> list[Record]:
    """summary.json's objects as Records."""
    return [Record.from_dict(d) for d in data]


# -- a point and its repetitions ----------------------------------------------------------------


def point_key(rec: Record) -> Point | None:
    """The record's point, normalised so that 1 and 1.0 s, or a missing client (ab), match; None
    without a mode (a folder without run.json: nothing says what it measured)."""
    if rec.mode is None:
        return None
    return (str(rec.mode), text(rec.profile), str(rec.client or clients.BUILTIN[0]), integer(rec.c), integer(rec.n),
            finite(rec.delay), text(rec.route), finite(rec.rate))


def points(records: list[Record]) -> list[list[Record]]:
    """The records grouped by point, in the records' order; a record without a point alone."""
    groups: dict[Any, list[Record]] = {}
    for i, rec in enumerate(records):
        key = point_key(rec)
        groups.setdefault(key if key is not None else ("unnamed", i), []).append(rec)
    return list(groups.values())


def counts_for_stats(rec: Record) -> bool:
    """Whether a record's figures go into its point's stats: no error and no expected failure."""
    return not rec.error and not (rec.expected and rec.as_expected)


def unexpected_error(rec: Record) -> bool:
    """A run error the report must end non-zero for: any, but an expected failure's."""
    return bool(rec.error) and not (rec.expected and rec.as_expected)


def repeated(rec: Record) -> bool:
    """Whether the record says its point ran (and counted) 2 or more times: `repeats` >= 2."""
    return (integer(rec.repeats) or 0) >= 2


def any_repeated(records: list[Record]) -> bool:
    """Whether any point ran 2 or more times (counted repeats, or run.json's K)."""
    return any(repeated(r) or (integer(r.repeats_planned) or 0) >= 2 for r in records)


def sample_cv(values: list[float]) -> float | None:
    """Sample stdev (n - 1) / |mean|: a point's few repetitions are a sample of its runs, and the population
    stdev (n) would understate their spread (by 18% at 3 values); None for fewer than 2 values or a mean of 0."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    return statistics.stdev(values) / abs(mean) if mean != 0 else None


def spread(values: list[float]) -> dict[str, float | None]:
    """{median, min, max, cv} of some values; cv = sample stdev / mean (a fraction), null for fewer
    than 2 values or a mean of 0; all null without values."""
    if not values:
        return {"median": None, "min": None, "max": None, "cv": None}
    return {"median": round_or_none(statistics.median(values), 3), "min": min(values), "max": max(values),
            "cv": round_or_none(sample_cv(values), 4)}


def stat(rec: Record, metric: str, what: str) -> Any:
    """One figure of the point's stats (what: median, min, max, cv); None when the record has none."""
    entry = rec.stats.get(metric) if isinstance(rec.stats, Mapping) else None
    return entry.get(what) if isinstance(entry, Mapping) else None


def figure(rec: Record, metric: str) -> float | None:
    """The record's own figure of a metric."""
    return finite(getattr(rec, metric))


def value(rec: Record, metric: str) -> float | None:
    """The figure a point is judged on: the repeats' median when the record has one (and `repeats`, when
    stated, is 2 or more: one run's own figure is its figure), else the record's own."""
    if rec.repeats is None or repeated(rec):
        median = finite(stat(rec, metric, "median"))
        if median is not None:
            return median
    return figure(rec, metric)


def cv(rec: Record, metric: str) -> float | None:
    """The metric's coefficient of variation over the point's repeats (a fraction), or None: no
    stats, a negative or non-numeric cv, or `repeats` < 2 (one run has no spread to measure)."""
    if rec.repeats is not None and (integer(rec.repeats) or 0) < 2:
        return None
    found = finite(stat(rec, metric, "cv"))
    return found if found is not None and found >= 0 else None


def noisy(rec: Record) -> bool:
    """Whether the record's point is noisy: summary says so, or its req/s cv is over NOISY_CV."""
    found = finite(stat(rec, "rps", "cv"))
    return bool(rec.noisy) or (found is not None and found > NOISY_CV)


def not_comparable(rec: Record) -> str | None:
    """Why this record's figures are no yardstick (for compare, what-to-use), or None."""
    if rec.expected:  # run.json's or the mode table's expectation: the bench expects it to fail
        if rec.as_expected:
            return f"expected failure ({rec.expected})"
        return f"expected to {rec.expected} but succeeded: the expectation needs updating first"
    if rec.error:
        return f"error: {rec.error}"
    if value(rec, "rps") is None:
        return "no req/s measured"
    return None


def values(recs: list[Record], metric: str) -> list[float]:
    """The point's usable repetitions' own figures of a metric (the Mann-Whitney test's samples)."""
    return [v for r in recs if not_comparable(r) is None and (v := figure(r, metric)) is not None]


def bound(recs: list[Record], metric: str) -> str | None:
    """A p99 that is only a bound on some of its records: "lower" (failed requests not in it), "upper"
    (its load hosts' highest), "none" (both); None: exact, or another metric."""
    if metric != "p99_ms":
        return None
    lower = any(r.p99_lower_bound for r in recs)
    upper = any(r.p99_upper_bound for r in recs)
    return "none" if lower and upper else "lower" if lower else "upper" if upper else None
