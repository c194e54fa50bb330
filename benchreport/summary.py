"""Build summary.json: one Record per run folder (mode, profile, client) from the files the bench left.

The folder's files and their schema: benchreport.runfiles. Every figure in a
record comes from them; what was not measured is null, never estimated. A
folder whose client left no output (the mode could not start) still gets a
record, with `error` set; so does a folder without run.json (its mode,
profile and client null, the error naming the missing file).

Derived figures:

* The server's CPU and memory over the load window (benchreport.serverfigures says how):
  cpu_ms = the unit's CPU over cpu_window, {"from", "to" (Unix s), "s", "source"}: source
  "samples" = server.json's series interpolated linearly at the window's edges (from the first
  request's due time, rate, or the client's start, ab and wrk, to the client's end; the earliest
  and latest part's with several load hosts); "totals (<why>)" = cpu_ns_after - cpu_ns_before
  over the sampler's whole life (from/to its started/ended, null in older server.json) when the
  series does not span the window. cpu_source: "proc" (the series' /proc) or the totals' own.
  cpu_divisor_requests = the requests the server worked on: complete + the ones that reached it
  but are not in complete (wrk: read errors; rate: read and timeout errors; ab: none, its
  receive errors are in complete); not connect errors. cpu_ms_per_req = cpu_ms /
  cpu_divisor_requests; cpu_ms_per_req_resolution = the CPU figure's bound (/proc's 2 ticks per
  pid read, plus the interpolation at the edges; systemd's totals: 2 µs) / cpu_divisor_requests,
  in ms: figures closer than their resolutions added are not ranked apart (whattouse, knee).
  Null where server.json does not say pids_read (older runs).
  peak_rss_mib = the highest summed VmRSS of the samples in the load window / 1024, rss_source
  "samples in the load window"; without a series that spans it, server.json's peak_rss_kib when
  the sampler read it from /proc ("proc readings over the sampler's run"); never systemd's
  MemoryPeak (the unit's since it started: null, with a warning).
* ideal_rps = c / delay; pct_of_ideal = 100 * rps / ideal_rps (the issue's definitions); both null for a
  user's app (bench.yml -e app=DIR: `app`, its record from run.json), which has no delay, whatever the client.
* ab_ceiling_rps = n / (delay * (1 + ceil((n-1)/c))): ab sends one request alone
  and opens its other c connections only when it has answered, so with a server
  that answers after exactly `delay` s it cannot finish n requests sooner than
  delay * (1 + ceil((n-1)/c)). At the seed's n=2000 c=200 delay=1 that is 11 s,
  181.8 req/s. ab_ceiling_pct = 100 * ab_ceiling_rps / ideal_rps = 100 * n /
  (c * (1 + ceil((n-1)/c))): the best % of ideal ab itself can show (90.9 at the
  seed's flags). n is the -n asked for; null for a capped run (ab stopped at its
  time limit, not after n), for delay 0 and when n or c is missing.
  pct_of_ceiling = 100 * rps / ab_ceiling_rps: how close the server came to what
  ab can show (100 = the server added nothing ab could see).
* steady_rps = (complete - 1) / (end of the last request - start of the 2nd):
  the rate once ab's lone first request is out of the way; steady_rps_from says
  how the span was measured: "first-request" = ab's total time minus the first
  request's time (both to 1 ms), "whole-seconds" = from the -g file's whole-second
  starts (+-1 s over the span, so only for spans >= 20 s). Null otherwise
  (see benchhost.clients.ab.steady_throughput).
* status_counts: answers per HTTP status, {"200": k, "502": k, ...} (codes in
  order), which says what the non-2xx in failed_detail were: wrk's from wrk.json
  (wrk.lua counts them), rate's from rate.json; null for ab (it counts
  non-2xx without their codes) and for older wrk runs. A warning says when the
  counts disagree with the client's non_2xx (benchhost.numbers.status_check). Several
  load hosts: the parts' counts added up (null when a part has none).
* For wrk the ab_ceiling_* figures, pct_of_ceiling and steady_rps are null: wrk
  opens all c connections at once, it has no lone first request to bound it.
  rps = requests / duration (benchhost.clients.wrk), complete = wrk's requests
  (it may pass n by the requests in flight when the threads stopped).
* loadgen_cpu_pct = ab's own CPU (loadgen.json's ab_cpu_ms) as % of one core over ab's
  timed run (time_taken_s). ab is single-threaded: near 100 means the client,
  not the server, set the pace. Null for runs under 1 s (ab_cpu_ms also holds
  ab's start-up and its writing of the -g/-e files, and is counted in ticks).
  For wrk it is wrk_cpu_ms as % of its `threads` cores: near 100 means the same.
* host_cpu_pct = busy share of all CPUs between the two /proc/stat lines (100 =
  every CPU busy). /proc/stat is not namespaced: on the local test containers it
  is the whole machine (the app container included), on a VM the load host.

Constant-rate runs (client=rate, benchhost.clients.rate, which reads its rate.json):

* rate: the req/s scheduled for the whole point (run.json's `point.rate`, else
  its `rate`); n the requests scheduled (rate x duration), c the cap on open
  connections. ideal_rps = rate and pct_of_ideal = 100 * rps / rate.
* rps: rate.json's, the rate the answers came at ((complete - 1) / the span
  from the first answer to the last: the schedule's rate when the server keeps
  up, less when it falls behind); time_taken_s = elapsed_s (first due time to
  the last answer); complete = answers of any status, failed = connect, read
  and timeout errors + non-2xx (failed_detail: each), capped = requests left
  unsent at time_limit.
* p50/p99/max/mean_ms are timed from each request's SCHEDULED send (corrected
  for coordinated omission; percentiles_from "rate-scheduled"); p99_service_ms
  from when its connection opened (what a closed-loop client would report);
  lag_p99_ms how late connections opened; late_sends how many opened more
  than 10 ms late. client_detail: p90_ms, p99_9_ms, duration_s, scheduled,
  sent, unsent, service_p50_ms, lag_max_ms, max_open.
* loadgen_cpu_pct: client_cpu_ms as % of one core (benchhost.clients.rate is one thread).
* client_limited also when lag_p99_ms > 10 ms: over 1% of the requests
  opened more than 10 ms after they were due, the client did not keep its
  schedule (a few late sends on a busy machine do not mark the run: their
  lateness is in the latency, timed from the schedule, anyway).
* Several load hosts: merged as wrk's, but rps = (complete summed - 1) / the
  longest part's span of answers (each (complete - 1) / its rps: the parts
  start together, so the union's span is about the longest); percentiles from
  the parts' latency_hist_ms added up (whole ms, nearest rank: "rate-scheduled-merged");
  p99_service_ms and lag_p99_ms the parts' highest (an upper bound), late_sends
  summed; each part in `parts` with its own rate, p99_service_ms, lag_p99_ms,
  late_sends.
* upstream_host, upstream_cpu_ms, upstream_cpu_ms_per_req, upstream_cpu_why: the
  slow API's unit over the load window (upstream.json), per request the app worked
  on; client_cpu_ms_per_req: the clients' own CPU over the same requests; cpu_hosts:
  what a request cost each host, with its cores (benchreport.cpucost says how);
  machine_limit_rps and machine_limit_why: the rate that would saturate the CPUs
  (benchreport.knee.machine_limit), on every record from its own figures;
  knee_machine_limit_rps and knee_pct_of_machine_limit: client=rate, the knee's
  group's limit at the knee's rate (else the lowest over the budget) and the knee
  as % of it.
* knee_rps, knee_why: per (mode, profile, delay, route) over its rates, the
  highest rate with it and every lower one at p99 <= 1.5 x delay, 0 failed,
  the answers at >= 95% of the rate (rps: the answers kept up with the
  schedule) and every repetition present and clean (benchreport.knee says how), on
  every rate record of the group; null for ab and wrk.
* A rate run whose client exited non-zero (loadgen.json's rate_rc) has an
  error ("benchhost.clients.rate exited 1"): its figures may be a partial run's.

Several load hosts (the plan runner: run.json's `parts`, each host's files in
<name>/loadgen/<host>/, see benchreport.runfiles): one record per run, its
parts merged (_merged_measures says how: req/s = complete summed / the slowest
part's time, percentiles from all the parts' requests). Its fields:

* loadgens: how many load hosts the run was split over (run.json's parts; else
  the loadgen/<host>/ folders; 1 for a one-host run).
* parts: per load host, {"host", "n", "c", "complete", "failed", "capped", "rps",
  "time_taken_s", "p50_ms", "p99_ms", "max_ms", "loadgen_cpu_pct",
  "host_cpu_pct", "client_threads", "client_rc", "started_at", "ended_at",
  "error"}; null for a one-host run (the record is its figures).
* p99_upper_bound: true when some part had no per-request data (no ab.tsv, a
  wrk.json without latency_hist_us): p99_ms is then the parts' highest p99,
  which bounds the union's from above, and p50_ms is null.
* loadgen_cpu_pct, host_cpu_pct: the busiest part's.

Failed requests and the percentiles (every client, every record):

* failed = the failed_detail summed (the client's Client.failed_kinds: all of its kinds but
  ab's "write": ab counts a failed write apart, and the same request also
  fails as a length or receive error). When the client's own total and its
  kinds disagree, the record's warnings say so with both figures (the
  client's output is not to be trusted there).
* p99_lower_bound: true when some failed requests are not timed in the
  percentiles: failed minus the failures that were answered and timed
  (Client.timed_failures: non-2xx answers for every client, ab's length failures) is
  over 0, or failed > 0 without a failed_detail. Connect, read/receive,
  write and timeout errors (and ab's exceptions) are left out of p50/p99/max
  (wrk, rate) or sit in ab's -g file at 0 ms: the p99 of the requests sent
  is at least p99_ms. With p99_upper_bound too, p99_ms bounds nothing.

Client-limited (issue 12): client_limited is true, and client_limited_why says
why ("; "-joined), when a load host's CPU was busy >= CLIENT_BUSY_PCT (90) over
the run (host_cpu_pct; each part's with several), when the client itself used
>= 90% of its cores (loadgen_cpu_pct), or when ab's req/s was >= CLIENT_CEILING_PCT
(95) of its own ceiling (pct_of_ceiling). Records with an error are not judged.
A load host that is also the app host (and the local containers, where /proc/stat
is the whole machine) shares its CPU with the app: the reason says so when run.json
shows it.

Repeats (repeat=K: the bench runs every point K times; run.json's optional
`repetition`, `repeats` and `seed`). A point is (mode, profile, client, c, n,
delay, route), as benchreport.compare matches them. summary.json keeps one
record per run folder, every repetition; each record also carries:

* repetition: run.json's (1..K); 1 when absent (older runs ran each point once).
* repeats: how many records of its point in this run have neither an error nor
  an expected failure (the values its stats are over); repeats_planned is
  run.json's K (null when absent). shuffle_seed: run.json's `seed` (null when absent).
* stats: for each of rps, p99_ms and cpu_ms_per_req, {"median", "min", "max",
  "cv"} over those records' values (null ones left out); cv = SAMPLE stdev
  (statistics.stdev, n - 1: the repetitions are a sample of the runs the
  point could give) / mean as a FRACTION (0.031 = 3.1%), null for fewer than
  2 values or a mean of 0. Every record of a point carries the same stats.
* noisy: the point has 2 or more req/s values and their cv is over NOISY_CV (5%).

Folders of one point that share a repetition number (a copied folder, or
several runs before repeat=K) get a warning: compare takes them for duplicates.

benchreport.compare reads repeats, stats.<metric>.cv and stats.<metric>.median
(model.value, cv and bound read them), and each repetition's own
metric figures (its Mann-Whitney test), failed and complete (the failed
share), p99_lower_bound and p99_upper_bound.

group: the mode's group (benchapp.modes.Mode.group, derived from the table's server
and patch): "gevent" (the entry patches with gevent), "peers" (granian, waitress,
uvicorn: what a Flask user runs instead), "threads and processes" (the rest); null
when the mode is not in the table. report.md sub-heads its table by it.

environment: when the run folder holds environment.json (benchreport.environment),
every record carries the project's commit and dirty flag, its app and load
hosts in short (kernel, CPU model, cores, memory, somaxconn, container or VM;
the load host with the record's client version) and the versions of the
servers and key libraries in the app's venv; null when it does not.
"""


from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchhost import clients
from benchhost.clients.rate import LATE_MS
from benchhost.numbers import status_counts
from benchhost.result import cpu_pct
from benchreport import cpucost, environment, knee, readiness, serverfigures
from benchreport.model import (NOISY_CV, STATS_METRICS, Record, counts_for_stats, finite, integer, point_key,
                               round_or_none, sample_cv, spread, text)
from benchreport.runfiles import (LOADGEN, OUTCOME, RUN, SERVER, RunFiles, Timing, is_run_dir, part_dirs,
                                  read_run)

if TYPE_CHECKING:  # the caller loads the table (benchreport.__main__ puts app/ on the path)
    from benchapp.modes import Mode

PROFILE_ORDER = {"seed": 0, "tuned": 1}
#: Client-limited: the load host's CPU busy at least this % of the run (cpu_stat), or the client's own
#: CPU at least this % of its cores (loadgen_cpu_pct)...
CLIENT_BUSY_PCT = 90.0
#: ...or ab's req/s at least this % of its own ceiling (pct_of_ceiling).
CLIENT_CEILING_PCT = 95.0


def run_dirs(run_dir: Path) -> list[Path]:
    """Subfolders of a run that hold a bench result (see benchreport.runfiles.MARKERS)."""
    return sorted(d for d in run_dir.iterdir() if is_run_dir(d))


def cpu_stat_busy_pct(before: str | None, after: str | None) -> float | None:
    """Busy % of all CPUs between two `cpu` lines of /proc/stat.

    Fields: user nice system idle iowait irq softirq steal [guest guest_nice];
    guest time is already inside user/nice, so it is not added again.
    """
    if not before or not after:
        return None
    try:
        b = [int(v) for v in before.split()[1:9]]
        a = [int(v) for v in after.split()[1:9]]
    except ValueError:
        return None
    if len(a) < 8 or len(b) < 8:
        return None
    d = [x - y for x, y in zip(a, b)]
    total = sum(d)
    idle = d[3] + d[4]
    if total <= 0 or min(d) < 0:
        return None
    return 100.0 * (total - idle) / total


def build_record(directory: Path, modes: Mapping[str, Mode], run_dir: Path,
                 env: Mapping[str, Any] | None = None, env_error: str | None = None) -> Record:
    """The Record of one run folder; env: the run's environment.json (benchreport.environment.load)."""
    files = read_run(directory)
    spec = files.run
    errors, warnings = list(files.errors), list(files.warnings)
    client = files.client
    parts = part_dirs(directory)
    if client is None and parts:  # no run.json to say: the load hosts' files do
        client = read_run(parts[0]).client
    rec = Record(mode=spec.mode if spec else None, profile=spec.profile if spec else None, client=client,
                 raw_dir=directory.relative_to(run_dir).as_posix(), repetition=1)
    if spec is not None:
        rec.n, rec.c = spec.n, spec.c
        rec.delay = (int(spec.delay) if spec.delay == int(spec.delay) else spec.delay) if spec.delay is not None else None
        rec.route, rec.url, rec.time_limit_s, rec.monitor = spec.route, spec.url, spec.time_limit, spec.monitor
        rec.repetition = spec.repetition if spec.repetition is not None else 1
        rec.repeats_planned, rec.shuffle_seed = spec.repeats, spec.seed
        rec.rate = spec.point_rate if by_rate(client) else None
        rec.budget_ms, rec.search, rec.app = spec.budget_ms, spec.search, spec.app
    rec.loadgens = len(spec.parts) if spec is not None and spec.parts else max(len(parts), 1)
    if files.error:
        errors.append(files.error)
    elif spec is not None:
        gone = [name for name in (LOADGEN, SERVER, OUTCOME)
                if not (directory / name).is_file() and not (parts and name == LOADGEN)]
        if gone:
            warnings.append(f"{', '.join(gone)} missing: " + "; ".join(
                {LOADGEN: "no client exit status, CPU or times", SERVER: "no server CPU or memory",
                 OUTCOME: "the bench recorded no outcome (error, hub blockages)"}[g] for g in gone))
    if parts:
        ceiling = _merged_measures(rec, files, parts, warnings, errors)
    else:
        ceiling = _client_measures(rec, files, warnings, errors)

    # a rate run's ideal is its schedule; the closed-loop clients' is c answers every delay; a user's app has
    # no delay, so no ideal to hold any client's figures to (not made up from its schedule either)
    ideal = None if rec.app else rec.rate if by_rate(rec.client) else (rec.c / rec.delay) if (rec.c and rec.delay) else None
    rec.ideal_rps = round_or_none(ideal, 3)
    rec.pct_of_ideal = round_or_none(100.0 * rec.rps / ideal, 1) if (rec.rps is not None and ideal) else None
    rec.ab_ceiling_rps = round_or_none(ceiling, 3)
    rec.ab_ceiling_pct = round_or_none(100.0 * ceiling / ideal, 1) if (ceiling and ideal) else None
    rec.pct_of_ceiling = round_or_none(100.0 * rec.rps / ceiling, 1) if (rec.rps is not None and ceiling) else None
    _server_figures(rec, files, parts, warnings)
    rec.p99_lower_bound = p99_lower_bound(rec)
    rec.blocked = files.blocked if rec.monitor else None
    if rec.monitor:
        readiness.monitor_figures(rec, files.monitor)

    mode = modes.get(rec.mode) if rec.mode is not None else None
    if modes and rec.mode is not None and mode is None:
        warnings.append(f"mode {rec.mode!r} is not in modes.yml")
    table_expect = (mode.expect or {}) if mode is not None else {}
    if mode is not None:
        rec.title, rec.group = mode.title, getattr(mode, "group", None)
    if mode is not None and not rec.app:  # the seed's figures and flags are the built-in app's
        rec.seed_rps = finite(mode.seed_rps)
        rec.seed_params = {k: mode.bench.get(k) for k in ("n", "c", "delay")} if mode.bench else None
        rec.at_seed_params = (rec.seed_params == {"n": rec.n, "c": rec.c, "delay": spec.delay if spec else None}
                              if rec.seed_params else None)
    expected = table_expect.get("outcome")
    if spec is not None and spec.expect_given:
        if mode is not None and spec.expect != expected:
            warnings.append(f"{RUN} expects {spec.expect or 'success'}, modes.yml now "
                            f"{expected or 'success'}: the run's own expectation is used")
        expected = spec.expect
    why = table_expect.get("why") if table_expect.get("outcome") == expected else None
    _cpu_costs(rec, directory, run_dir, spec, env)  # after the app's CPU per request
    rec.environment = environment.for_record(env, spec.app_host if spec else None,
                                             spec.loadgen_host if spec else None, client)
    if env_error:
        warnings.append(f"{env_error}: the environment is not recorded")
    rec.error = "; ".join(dict.fromkeys(errors)) or None
    rec.warnings = warnings
    rec.expected, rec.expected_why, rec.as_expected = expectation(rec, expected, why).values()
    reasons = client_limits(rec, spec)
    rec.client_limited, rec.client_limited_why = bool(reasons), "; ".join(reasons) or None
    return rec


def _client_measures(rec: Record, files: RunFiles, warnings: list[str], errors: list[str]) -> float | None:
    """The client's figures of one load host's folder (loadgen.json and the client's files); ab's ceiling."""
    client = rec.client
    lg = files.loadgen
    if lg.get("killed") is True:
        errors.append(f"{client or 'the client'} was killed: it outlived its time limit and timeout (bench hard cap)")
    rec.started_at, rec.ended_at = text(lg.get("started_at")), text(lg.get("ended_at"))
    rec.client_rc = integer(lg.get(f"{client}_rc"))
    known = clients.get(client)
    ceiling = None  # the client's own bound on req/s (ab's; the others have none)
    if known is not None and known.measures is not None:
        ceiling = known.measures(rec, files, warnings, errors)
    elif known is not None:
        _result_measures(rec, known, files, warnings, errors)
    rec.host_cpu_pct = round_or_none(cpu_stat_busy_pct(lg.get("cpu_stat_before"), lg.get("cpu_stat_after")), 1)
    if (why := failed_mismatch(rec)) is not None:
        warnings.append(why)
    return ceiling


def _result_measures(rec: Record, client: clients.Client, files: RunFiles, warnings: list[str],
                     errors: list[str]) -> None:
    """The figures of a client that has no measures of its own: its Result (Client.result)."""
    if files.error and len(files.missing(client.files)) == len(client.files):
        return  # the run failed before the client wrote anything: the error says why
    out = client.result(files.directory, rec.n)
    warnings.extend(out.warnings)
    if out.error is not None:
        errors.append(out.error)
    rec.capped = bool(out.capped)
    if out.complete is None:
        return
    rec.rps, rec.complete, rec.time_taken_s, rec.failed = out.rps, out.complete, out.time_taken_s, out.failed
    rec.failed_detail = dict(out.failed_detail) or None
    rec.status_counts = status_counts(out.status_counts)
    rec.mean_ms, rec.p50_ms, rec.p99_ms, rec.max_ms = out.mean_ms, out.p50_ms, out.p99_ms, out.max_ms
    rec.percentiles_from = out.percentiles_from
    cores = integer(files.loadgen.get(client.cores_key)) if client.cores_key else 1
    if client.cores_key:
        rec.client_threads = cores
    rec.loadgen_cpu_pct = cpu_pct(out.client_cpu_ms, cores, rec.time_taken_s)


def by_rate(name: str | None) -> bool:
    """Whether the client called `name` is scheduled at a rate (an open model)."""
    client = clients.get(name)
    return client is not None and client.by_rate


def failed_mismatch(rec: Record) -> str | None:
    """A warning when `failed` is not its failed_detail summed (the client's failed_kinds), with the
    figures; None when they agree or either is missing."""
    if rec.failed is None or not rec.failed_detail:
        return None
    client = clients.get(rec.client)
    kinds = (client.failed_kinds if client is not None else None) or tuple(rec.failed_detail)
    kinds = tuple(k for k in kinds if k in rec.failed_detail)  # non_2xx, or a user's app's unexpected
    total = sum(rec.failed_detail.get(k) or 0 for k in kinds)
    if total == rec.failed:
        return None
    each = ", ".join(f"{k} {rec.failed_detail.get(k) or 0}" for k in kinds)
    return (f"failed is {rec.failed} but its kinds add up to {total} ({each}): the client's counts disagree, "
            "the failed figure is the client's total")


def p99_lower_bound(rec: Record) -> bool:
    """Whether some failed requests are not timed in the percentiles (the client's timed_failures): then
    the p99 of the requests sent is at least p99_ms."""
    if not rec.failed or rec.p99_ms is None:
        return False
    if not rec.failed_detail:
        return True  # failures of unknown kind: they may be anywhere
    client = clients.get(rec.client)
    kinds = client.timed_failures if client is not None else ("non_2xx",)
    timed = sum(rec.failed_detail.get(k) or 0 for k in kinds)
    return rec.failed > timed


#: A part's figures kept in the record's `parts` (summary.json), with its "host" (and the client's
#: part_keys).
PART_KEYS = ("n", "c", "complete", "failed", "capped", "rps", "time_taken_s", "p50_ms", "p99_ms", "max_ms",
             "loadgen_cpu_pct", "host_cpu_pct", "client_threads", "client_rc", "started_at", "ended_at")


def _merged_measures(rec: Record, files: RunFiles, dirs: list[Path], warnings: list[str],
                     errors: list[str]) -> float | None:
    """One record from several load hosts' parts (<name>/loadgen/<host>/); ab's ceiling for the whole.

    Each part is measured as a one-host run (its own n and c), then:

    * complete, failed (and failed_detail, status_counts) summed; capped when any part was;
      time_taken_s the slowest part's.
    * rps = the parts' complete summed / the slowest part's time. Not the sum of the
      parts' req/s: the parts start together (the runner's common start) but a
      part that ends early has its rate over its own shorter time, and adding it
      would count those requests as if it had kept the pace to the end. Summed
      complete over the slowest time is the rate the server sustained over the
      whole load; it equals the sum when the parts end together.
    * percentiles from the merged per-request data: ab's -g rows of every part
      (the union's nearest rank, benchhost.clients.ab.rank_ms: "tsv-merged"), wrk's latency
      histograms added up (wrk's rule, benchhost.clients.wrk.hist_percentile: "wrk-merged",
      "wrk-corrected-merged" when a part's includes wrk's correction). When a
      part lacks them (no ab.tsv, no latency_hist_us): p50 null, p99 and max the
      parts' highest, p99_upper_bound true ("max-of-parts"): the union's p99 is
      at most the highest of the parts' p99.
    * mean_ms weighted by complete; connect max the highest, mean weighted.
    * client CPU per part in `parts`; the record's loadgen_cpu_pct and host_cpu_pct
      the highest part's (the busiest client is the one that may set the pace).
    * no steady_rps (each client's first request and clock are its own).
    * ab's ceiling: the parts' n over the slowest part's bound (n_k / its ceiling).
    """
    spec = files.run
    planned = [p.host for p in spec.parts] if spec is not None and spec.parts else []
    found = {d.name: d for d in dirs}
    for host in planned:
        if host not in found:
            errors.append(f"loadgen {host}: no files from this load host (its archive was not collected?)")
    for host in found:
        if planned and host not in planned:
            warnings.append(f"loadgen/{host}/ is not one of run.json's parts ({', '.join(planned)})")
    measured: list[tuple[str, Record, RunFiles, float | None, bool]] = []
    for host, directory in found.items():
        pfiles = read_run(directory)
        pwarn, perr = list(pfiles.errors) + list(pfiles.warnings), []
        share = next((p for p in (spec.parts or ()) if p.host == host), None) if spec else None
        own = pfiles.run
        n = own.n if own is not None and own.n is not None else (share.n if share else None)
        c = own.c if own is not None and own.c is not None else (share.c if share else None)
        if spec is not None:
            pfiles.run = dataclasses.replace(spec, n=n, c=c, parts=None)
        pfiles.error = files.error  # an outcome error explains a part without output (no second error)
        part = Record(mode=rec.mode, profile=rec.profile, client=rec.client, n=n, c=c, delay=rec.delay,
                      rate=(own.rate if own is not None and own.rate is not None else share.rate if share else None)
                      if by_rate(rec.client) else None)
        if LOADGEN not in pfiles.present:
            pwarn.append(f"{LOADGEN} missing: no client exit status, CPU or times")
        named = pfiles.loadgen.get("client")
        if clients.get(named) is not None and rec.client is not None and named != rec.client:
            pwarn.append(f"{LOADGEN} says client {named}, run.json {rec.client}")
        ceiling = _client_measures(part, pfiles, pwarn, perr)
        errors.extend(f"loadgen {host}: {e}" for e in perr)
        warnings.extend(f"loadgen {host}: {w}" for w in pwarn if not w.startswith(f"{RUN} missing"))
        part.error = "; ".join(dict.fromkeys(perr)) or None
        measured.append((host, part, pfiles, ceiling, part.complete is not None and bool(part.time_taken_s)))
    client = clients.get(rec.client)
    keys = PART_KEYS + (client.part_keys if client is not None else ())
    rec.parts = [{"host": host, **{k: getattr(p, k) for k in keys}, "error": p.error}
                 for host, p, _, _, _ in measured]
    recs = [p for _, p, _, _, _ in measured]
    rec.started_at = min((p.started_at for p in recs if p.started_at), default=None)
    rec.ended_at = max((p.ended_at for p in recs if p.ended_at), default=None)
    codes = [p.client_rc for p in recs if p.client_rc is not None]
    rec.client_rc = next((code for code in codes if code != 0), 0 if codes else None)
    rec.capped = any(p.capped for p in recs)
    rec.loadgen_cpu_pct = max((p.loadgen_cpu_pct for p in recs if p.loadgen_cpu_pct is not None), default=None)
    rec.host_cpu_pct = max((p.host_cpu_pct for p in recs if p.host_cpu_pct is not None), default=None)
    rec.client_threads = max((p.client_threads for p in recs if p.client_threads), default=None)
    if not measured or not all(ok for *_, ok in measured) or len(measured) < len(planned):
        if measured and not files.error:
            warnings.append("the parts are not merged (a load host measured nothing): no figures for the run")
        return None
    rec.complete = sum(p.complete for p in recs)
    rec.time_taken_s = max(p.time_taken_s for p in recs)
    rec.rps = round_or_none(rec.complete / rec.time_taken_s, 2)
    fails = [p.failed for p in recs]
    rec.failed = sum(fails) if all(f is not None for f in fails) else None
    details = [p.failed_detail for p in recs if p.failed_detail]
    if details:
        rec.failed_detail = {k: sum(d.get(k) or 0 for d in details) for k in details[0]}
    counts = [p.status_counts for p in recs]
    if counts and all(c is not None for c in counts):
        rec.status_counts = status_counts(_added(counts))
    rec.mean_ms = _weighted([(p.mean_ms, p.complete) for p in recs], 3)
    merged = client is not None and client.merge is not None and client.merge(
        rec, [(p, f) for _, p, f, _, _ in measured])
    if not merged:  # no per-request data from some part: the union's p99 is at most the highest part's
        _bounded_percentiles(rec, recs)
    if client is not None and client.lone_first and not rec.capped and all(ceiling for *_, ceiling, _ in measured):
        slowest = max(p.n / ceiling for _, p, _, ceiling, _ in measured)  # each part's least time
        return sum(p.n for p in recs) / slowest
    return None


def _added(counts: list[Any]) -> dict[str, int]:
    """Several {key: count} added up."""
    out: dict[str, int] = {}
    for each in counts:
        for key, k in each.items():
            out[key] = out.get(key, 0) + k
    return out


def _weighted(pairs: list[tuple[float | None, int | None]], digits: int) -> float | None:
    """The mean of values weighted by counts; None when one is missing or no count."""
    if not pairs or any(v is None or w is None for v, w in pairs):
        return None
    total = sum(w for _, w in pairs)
    return round_or_none(sum(v * w for v, w in pairs) / total, digits) if total else None


def _bounded_percentiles(rec: Record, parts: list[Record]) -> None:
    """p99 and max of the parts' highest, p50 none: some part has no per-request data (see _merged_measures)."""
    p99s = [p.p99_ms for p in parts]
    maxes = [p.max_ms for p in parts]
    rec.p50_ms = None
    rec.p99_ms = max(p99s) if p99s and all(v is not None for v in p99s) else None
    rec.max_ms = max(maxes) if maxes and all(v is not None for v in maxes) else None
    rec.p99_upper_bound = rec.p99_ms is not None
    rec.percentiles_from = "max-of-parts" if rec.p99_ms is not None else None


def client_limits(rec: Record, spec: Any = None) -> list[str]:
    """Why the client may have set the pace rather than the server (empty: no sign of it).

    A load host whose CPU was busy >= CLIENT_BUSY_PCT over the run (host_cpu_pct, per part
    with several), a client using >= CLIENT_BUSY_PCT of its cores (loadgen_cpu_pct), or ab's
    req/s at >= CLIENT_CEILING_PCT of ab's own ceiling (pct_of_ceiling). Runs with an error or
    no req/s are not judged. When the load host is the app host too (or on local containers,
    where /proc/stat is the whole machine) a busy CPU is the app's as much as the client's.
    """
    if rec.error or rec.rps is None:
        return []
    why = []
    shared = spec is not None and spec.app_host is not None and spec.app_host == spec.loadgen_host
    client = rec.client or "the client"
    known = clients.get(rec.client)
    own_cores = known.cores_key if known is not None else ""
    sources = ([(p["host"], p) for p in rec.parts] if rec.parts
               else [(spec.loadgen_host if spec is not None else None,
                      {k: getattr(rec, k) for k in ("host_cpu_pct", "loadgen_cpu_pct", "client_threads")})])
    for host, fig in sources:
        where = f"load host {host}" if host else "the load host"
        busy = fig.get("host_cpu_pct")
        if busy is not None and busy >= CLIENT_BUSY_PCT:
            why.append(f"{where}'s CPU was {busy:g}% busy" + (" (the app's host too)" if shared and not rec.parts else ""))
        own = fig.get("loadgen_cpu_pct")
        if own is not None and own >= CLIENT_BUSY_PCT:
            cores = "a core" if own_cores is None else f"its {fig.get('client_threads')} threads' cores"
            why.append(f"{client} used {own:g}% of {cores}" + (f" on {host}" if rec.parts else ""))
    if rec.pct_of_ceiling is not None and rec.pct_of_ceiling >= CLIENT_CEILING_PCT:
        why.append(f"req/s at {rec.pct_of_ceiling:g}% of ab's own ceiling ({rec.ab_ceiling_rps:.2f} req/s)")
    lag, late = rec.lag_p99_ms, rec.late_sends
    if lag is not None and lag > LATE_MS:
        figures = [f"lag p99 {lag:g} ms" if lag is not None else None,
                   f"{late} sends more than {LATE_MS:g} ms late" if late is not None else None]
        why.append(f"bench-rate opened its connections late ({', '.join(f for f in figures if f)}): the schedule "
                   "was not kept")
    return why


def _server_figures(rec: Record, files: RunFiles, parts: list[Path], warnings: list[str]) -> None:
    """CPU time and peak memory of the mode's unit over the load window (benchreport.serverfigures)."""
    loadgens = [(d, read_run(d).loadgen) for d in parts] if parts else (
        [(files.directory, files.loadgen)] if files.loadgen else [])
    window, why = serverfigures.load_window(loadgens, rec.client)
    found = serverfigures.server_figures(files.server, window, why)
    warnings.extend(found.warnings)
    if found.cpu_ns is not None:
        cpu_ms = found.cpu_ns / 1e6
        rec.cpu_ms, rec.cpu_source, rec.cpu_window = round_or_none(cpu_ms, 1), found.cpu_source, found.cpu_window
        divisor = serverfigures.cpu_divisor(rec.client, rec.complete, rec.failed_detail)
        if divisor:
            rec.cpu_divisor_requests, rec.cpu_ms_per_req = divisor, round_or_none(cpu_ms / divisor, 3)
            if found.resolution_ns is not None:
                rec.cpu_ms_per_req_resolution = round_or_none(found.resolution_ns / 1e6 / divisor, 3)
    if found.peak_rss_kib is not None:
        rec.peak_rss_mib, rec.rss_source = round_or_none(found.peak_rss_kib / 1024.0, 1), found.rss_source


def _cpu_costs(rec: Record, directory: Path, run_dir: Path, spec: Any, env: Mapping[str, Any] | None) -> None:
    """The slow API's and the clients' CPU per request, and the machine limit (benchreport.cpucost, knee)."""
    for key, value in cpucost.cpu_costs(rec, directory, run_dir, spec, env).items():
        setattr(rec, key, value)
    limit = knee.machine_limit(rec.cpu_hosts)
    rec.machine_limit_rps = limit.rps if limit is not None else None
    rec.machine_limit_why = knee.limit_text(limit)


def expectation(rec: Record, expected: str | None, why: str | None) -> dict[str, Any]:
    """What the run was expected to do (run.json's `expect`) and whether it bore it out.

    Only failure is ever expected (gRPC without init_gevent hangs): the run
    is as expected when it did not fully succeed (an error, a failed request,
    the time cap, or nothing answered). A run that fully succeeded is not.
    """
    if not expected:
        return {"expected": None, "expected_why": None, "as_expected": None}
    succeeded = not rec.error and not rec.capped and rec.failed == 0 and bool(rec.complete)
    return {"expected": str(expected), "expected_why": " ".join(str(why or "").split()) or None,
            "as_expected": not succeeded}


def add_knees(records: list[Record]) -> None:
    """knee_rps and knee_why on every rate record (benchreport.knee: per mode, profile, delay, route)."""
    for found in knee.knees(records):
        limit = knee.knee_limit(found)
        for rec in found.records:
            rec.knee_rps, rec.knee_why = found.knee_rps, found.why
            if limit is not None and limit.limit is not None:
                rec.knee_machine_limit_rps, rec.knee_pct_of_machine_limit = limit.limit.rps, limit.share(found.knee_rps)


def sort_key(modes: Mapping[str, Any]):
    """Order records as modes.yml lists the modes, seed before tuned, ab before wrk before rate, a rate
    sweep's rates ascending; unnamed runs last."""
    order = {name: i for i, name in enumerate(modes)}

    def key(rec: Record) -> tuple:
        mode, profile, client = rec.mode, rec.profile, rec.client or ""
        return (mode is None, order.get(mode, len(order)), str(mode or rec.raw_dir or ""),
                PROFILE_ORDER.get(profile, 9), str(profile or ""),
                clients.index(client), client, finite(rec.rate) or 0.0)

    return key


def add_repeat_stats(records: list[Record]) -> None:
    """Fill in repeats, stats and noisy: per point, over its records that count (counts_for_stats)."""
    points: dict[Any, list[Record]] = {}
    for i, rec in enumerate(records):
        key = point_key(rec)
        points.setdefault(key if key is not None else ("unnamed", i), []).append(rec)
    for recs in points.values():
        counted = [r for r in recs if counts_for_stats(r)]
        stats = {}
        for metric in STATS_METRICS:
            values = [v for r in counted if (v := finite(getattr(r, metric))) is not None]
            stats[metric] = spread(values)
        rps_values = [v for r in counted if (v := finite(r.rps)) is not None]
        rps_cv = sample_cv(rps_values)
        noisy = rps_cv is not None and rps_cv > NOISY_CV
        numbers = [r.repetition for r in recs]
        shared = sorted({k for k in numbers if numbers.count(k) > 1})
        for rec in recs:
            rec.repeats, rec.noisy = len(counted), bool(noisy)
            rec.stats = {m: dict(v) for m, v in stats.items()}
            if rec.mode is not None and rec.repetition in shared:
                rec.warnings.append(f"{numbers.count(rec.repetition)} run folders of this point are its "
                                    f"repetition {rec.repetition} (a copied folder?): compare will not "
                                    "match the point")


def build_records(run_dir: Path, modes: Mapping[str, Mode]) -> list[Record]:
    """All Records of a run, in a stable order (a point's repetitions in order)."""
    env, env_error = environment.load(run_dir)
    records = [build_record(d, modes, run_dir, env, env_error) for d in run_dirs(run_dir)]
    add_repeat_stats(records)
    add_knees(records)
    key = sort_key(modes)
    return sorted(records, key=lambda r: (*key(r), r.repetition))


def build_summary(run_dir: Path, modes: Mapping[str, Mode]) -> list[dict[str, Any]]:
    """summary.json's objects: the run's Records as dicts."""
    return [r.as_dict() for r in build_records(run_dir, modes)]


#: Beside summary.json (a list, one record per run: its format stays): what is about the whole bench.
BENCH = "bench.json"
BENCH_SCHEMA = 1


def write_bench(path: Path, run_id: str, timing: Timing | None, app: Mapping[str, Any] | None = None,
                thresholds: Mapping[str, Any] | None = None) -> None:
    """bench.json: {"schema", "run_id", "timing"}: timing.json's object as collect wrote it (null
    without one): load_s, wall_s, load_share, runs_planned, runs_done, interrupted...; "app" for a user's
    app: its record (name, spec_sha, routes, budget_ms, the modes skipped and why: model.Record.app); and
    "thresholds" when the run was held to some (benchreport.thresholds.Checked.as_dict: the bench role's
    last task names its "failed")."""
    data = {"schema": BENCH_SCHEMA, "run_id": run_id, "timing": dict(timing.data) if timing is not None else None}
    if app:
        data["app"] = dict(app)
    if thresholds is not None:
        data["thresholds"] = dict(thresholds)
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def write_summary(records: list[Record], path: Path) -> None:
    """summary.json: the Records as dicts, strict JSON (no NaN), stable key order, one file per run."""
    path.write_text(json.dumps([r.as_dict() for r in records], indent=2, allow_nan=False) + "\n")
