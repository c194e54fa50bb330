"""Run wrk once for n requests, as DIR/run.json says, and record what the load host spent doing it.

Runs on the load host with the system Python (stdlib only), beside
wrk.lua:

    benchhost.clients.wrk --dir DIR [--script wrk.lua] [--threads T]

DIR/run.json is the bench's plan entry (schema 2; this reads url, n, c,
time_limit and timeout, and a user's app's "requests" and the plan's seed:
benchhost.routes, written for wrk.lua as DIR/wrk-requests.lua). Writes into DIR: wrk.txt (stdout), wrk.err
(stderr), wrk.json (written by the Lua script's done()) and loadgen.json:

    {"client": "wrk", "wrk_argv", "wrk_rc", "threads", "started_at", "ended_at",
     "cpus", "cpu_stat_before", "cpu_stat_after", "wrk_cpu_ms", "signalled",
     "kill_after_s", "killed"}

Why a wrapper and not plain wrk: wrk 4.1 only stops on its -d duration, and
its main thread sleeps that long even when every thread has stopped. The Lua
script stops each thread at its share of n and leaves a marker file; once all
threads have one this wrapper sends SIGINT, wrk's own Ctrl-C, which ends the
sleep and runs done(). -d is time_limit (a run that hits it is capped); the
kill-after cap, time_limit + timeout + 30 s, is a last resort that ends a
wedged client, so a bench step can never hang.

Threads: wrk gives each thread c / t connections, rounded down, so t must
divide c or fewer than c connections are open. t is the largest divisor of c
not above min(cpus, c) (c=200 on 2 CPUs: 2; a prime c: 1).
SIGTERM, SIGINT or SIGHUP to this wrapper (an interrupted bench's clean-up,
playbooks/bench_stop.yml) kill wrk at once; loadgen.json then says
"interrupted" with the signal's name.

Reading the files back (load_wrk_run, result: the progress line's figures and benchreport's, read
once, here): wrk.json is the source; wrk's text rounds and scales its units (ms, s, k), the JSON holds
wrk's integers (µs, counts).

What the numbers mean, from wrk 4.1.0's source (src/wrk.c, src/stats.c) and
checked against the real binary (tests/benchreport/test_wrk_live.py):

* `requests` counts complete responses, whatever their status; responses
  with status > 399 are also counted in errors.status. The Lua script counts
  non-2xx itself (`non_2xx`, 3xx included): `failed` adds it to the socket
  errors, like benchhost.clients.ab's `failed` adds ab's non-2xx.
* A user's app: `unexpected` counts the answers other than the route's
  expect, and `failed` counts them instead of non_2xx; per answer for one
  route, from the status counts for a mix (wrk.lua says why:
  `unexpected_from`).
* `status_counts` ({"200": k, "502": k, ...}, wrk.lua's per-thread counts
  added up; absent in older runs) says which codes the non-2xx were. Its
  non-2xx codes must add up to `non_2xx` and its codes > 399 to wrk's own
  errors.status: a warning says when not (status_check).
* errors.connect/read/write are socket errors (wrk reconnects after each, and
  the request in flight is lost: not in `requests`); errors.timeout counts
  responses that came later than --timeout (they ARE in `requests`, but not
  in the latency histogram). A request never answered is counted nowhere,
  so a run where the server stops answering ends at -d: capped.
* Each thread stops at its share of n; responses handled in the same
  event-loop pass can add a few more, so `requests` may exceed n by up to
  the requests in flight. Fewer than n means wrk stopped at -d: capped.
* `duration_us` runs to the last thread's share ("threads"); when a thread
  never got its share (a capped run), or without LuaJIT's ffi, it is wrk's own
  runtime ("wrk"), which ends when wrk stopped.
* wrk corrects its latency histogram for coordinated omission before done():
  each response slower than twice the expected interval E = runtime / (requests
  / c) adds synthetic samples at its time - E, - 2E... So when max > 2E the
  percentiles are wrk's corrected ones, not the measured times (max always is
  measured). `percentiles_from` says which.
* wrk.json's latency_hist_us is that (corrected) histogram, [[µs, count], ...]
  (wrk.lua; null when dumping it would have taken too long, absent in
  older runs): several load hosts' runs are merged from it, with wrk's own
  percentile rule (hist_percentile).
* wrk has no lone first request: all c connections start at once, so ab's
  ceiling (benchhost.clients.ab.ab_ceiling_rps) does not apply. Like ab it sends HTTP/1.0
  (wrk.lua), a connection per request.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchhost import routes
from benchhost.clients import Client, register
from benchhost.numbers import count, finite, histogram, integer, merge_histograms, status_check, status_counts
from benchhost.process import (Interrupted, cpu_line, end_of_run, now, raise_nofile, release_signals, spawn,
                               stop_on_signals)
from benchhost.result import Result, cpu_pct, highest, lower_bound, read_loadgen, with_loadgen


#: How often the marker files are looked for; bounds how late SIGINT comes.
POLL_S = 0.005
#: SIGINT is sent again at this interval until wrk exits: a signal that lands
#: before wrk installs its handler is ignored (wrk starts with SIGINT ignored).
RESIGNAL_S = 0.5
#: Seconds past time_limit + timeout before a wedged client is killed.
KILL_GRACE_S = 30


def pick_threads(c: int, cpus: int) -> int:
    """The largest t <= min(cpus, c) that divides c (wrk opens t * (c // t) connections)."""
    for t in range(max(1, min(cpus, c)), 0, -1):
        if c % t == 0:
            return t
    return 1


def read_run(directory: Path) -> dict:
    """url, n, c, time_limit and timeout from DIR/run.json; SystemExit naming what is wrong."""
    path = directory / "run.json"
    try:
        run = json.loads(path.read_text())
        params = {"url": str(run["url"]), "requests": routes.of_run(run), "seed": int(run.get("seed") or 0)}
        for key in ("n", "c", "time_limit", "timeout"):
            params[key] = int(run[key])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"benchhost.clients.wrk: {path}: {type(exc).__name__}: {exc}")
    if params["n"] < params["c"] or params["c"] < 1:
        sys.exit(f"benchhost.clients.wrk: {path}: need n >= c >= 1 (n={params['n']}, c={params['c']})")
    return params


def lua_string(value: str) -> str:
    """A Lua string literal of `value` (its UTF-8 bytes, decimal escapes where needed)."""
    out = []
    for byte in value.encode():
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_requests(requests: list[dict]) -> str:
    """The routes as a Lua file returning a list of {name, method, path, headers, body, expect, weight}."""
    items = []
    for r in requests:
        headers = ", ".join(f"[{lua_string(k)}] = {lua_string(str(v))}" for k, v in (r.get("headers") or {}).items())
        body = "nil" if r.get("body") is None else lua_string(str(r["body"]))
        items.append(f"  {{name = {lua_string(str(r.get('name')))}, method = {lua_string(r.get('method') or 'GET')}, "
                     f"path = {lua_string(str(r['path']))}, headers = {{{headers}}}, body = {body}, "
                     f"expect = {int(r.get('expect') or 200)}, weight = {float(r.get('weight') or 1.0)!r}}},")
    return "return {\n" + "\n".join(items) + "\n}\n"


def run(args: argparse.Namespace, params: dict) -> dict:
    """Start wrk, signal it when every thread has its share, return loadgen.json's record."""
    out = Path(args.dir)
    cpus = os.cpu_count() or 1
    threads = args.threads or pick_threads(params["c"], cpus)
    kill_after = params["time_limit"] + params["timeout"] + KILL_GRACE_S
    done_prefix = str(out / "wrk-done.")
    for stale in out.glob("wrk-done.*"):
        stale.unlink()
    (out / "wrk.json").unlink(missing_ok=True)
    argv = [args.wrk, "-t", str(threads), "-c", str(params["c"]), "-d", f"{params['time_limit']}s",
            "--timeout", f"{params['timeout']}s", "--latency", "-s", args.script, params["url"]]
    env = {**os.environ, "BENCH_WRK_N": str(params["n"]), "BENCH_WRK_THREADS": str(threads),
           "BENCH_WRK_C": str(params["c"]), "BENCH_WRK_OUT": str(out / "wrk.json"),
           "BENCH_WRK_DONE": done_prefix}
    if params["requests"]:
        (out / "wrk-requests.lua").write_text(lua_requests(params["requests"]))
        env.update(BENCH_WRK_REQUESTS=str(out / "wrk-requests.lua"), BENCH_WRK_SEED=str(params["seed"]))
    markers = [Path(f"{done_prefix}{i}") for i in range(threads)]
    record: dict = {"client": "wrk", "wrk_argv": argv, "threads": threads, "cpus": cpus,
                    "started_at": now(), "started": time.time(), "cpu_stat_before": cpu_line(), "signalled": False,
                    "kill_after_s": kill_after, "killed": False, "interrupted": None}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop_on_signals()
    with open(out / "wrk.txt", "wb") as so, open(out / "wrk.err", "wb") as se:
        proc = spawn(argv, stdout=so, stderr=se, env=env)
        deadline = time.monotonic() + kill_after
        next_signal = 0.0
        try:
            release_signals()
            while proc.poll() is None:
                t = time.monotonic()
                if t >= deadline:
                    proc.kill()
                    record["killed"] = True
                    break
                if t >= next_signal and all(m.exists() for m in markers):
                    proc.send_signal(signal.SIGINT)
                    record["signalled"] = True
                    next_signal = t + RESIGNAL_S
                time.sleep(POLL_S)
        except Interrupted as why:
            proc.kill()
            record["interrupted"] = str(why)
        record["wrk_rc"] = proc.wait()
    record["wrk_cpu_ms"] = end_of_run(record, before)
    for m in markers:
        m.unlink(missing_ok=True)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, help="the run's folder, holding run.json")
    parser.add_argument("--threads", type=int, default=0, help="wrk -t; 0: see above")
    parser.add_argument("--wrk", default="wrk", help="the wrk binary (tests)")
    parser.add_argument("--script", default=str(Path(__file__).resolve().with_name("wrk.lua")),
                        help="wrk.lua; default: beside this file")
    args = parser.parse_args()
    params = read_run(Path(args.dir))
    if args.threads and params["c"] % args.threads:
        parser.error("--threads must divide run.json's c (wrk gives each thread c // t connections)")

    raise_nofile()
    record = run(args, params)
    with open(os.path.join(args.dir, "loadgen.json"), "w") as fh:
        json.dump(record, fh)
    print(json.dumps(record))
    return 0


# ---------------------------------------------------------------- reading its files

ERROR_KINDS = ("connect", "read", "write", "status", "timeout")
_RE_REQUESTS = re.compile(r"^\s*(\d+) requests in ")


@dataclass
class WrkRun:
    """One wrk run, parsed and cross-checked: the numbers the summary uses."""

    requested: int | None
    exit_code: int | None
    data: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    requests: int | None = None
    duration_s: float | None = None
    duration_from: str | None = None
    bytes_received: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    #: a user's app: the answers other than their route's expect (None: the built-in app)
    unexpected: int | None = None
    #: responses per HTTP status, {"200": k, ...}; None when wrk.json has none (older runs)
    status_counts: dict[str, int] | None = None
    threads: int | None = None
    threads_reached: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    p99_9_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    correction_interval_ms: float | None = None
    #: wrk's latency histogram (µs, count), sorted; None when wrk.json has none
    latency_hist: list[tuple[int, int]] | None = None

    @property
    def has_stats(self) -> bool:
        """wrk ran to its done() and counted something."""
        return self.requests is not None and self.duration_s is not None

    @property
    def complete(self) -> int | None:
        return self.requests if self.has_stats else None

    @property
    def rps(self) -> float | None:
        """Responses per second over duration_s (wrk's own req/s uses its runtime)."""
        if not self.has_stats or not self.duration_s:
            return None
        return round(self.requests / self.duration_s, 2)

    @property
    def failed(self) -> int | None:
        """Socket errors, late responses and non-2xx answers."""
        if not self.has_stats:
            return None
        e = self.errors
        wrong = self.non_2xx if self.unexpected is None else self.unexpected
        return e["connect"] + e["read"] + e["write"] + e["timeout"] + wrong

    @property
    def capped(self) -> bool:
        """wrk stopped at -d before every thread had its share of n."""
        if not self.has_stats:
            return False
        if self.threads is not None and self.threads_reached is not None:
            return self.threads_reached < self.threads
        return self.requested is not None and self.requests < self.requested

    @property
    def percentiles_corrected(self) -> bool:
        """The percentiles include wrk's synthetic samples (some response took > 2E)."""
        if self.max_ms is None or self.correction_interval_ms is None:
            return False
        return self.max_ms > 2 * self.correction_interval_ms

    @property
    def percentiles_from(self) -> str | None:
        if self.p50_ms is None:
            return None
        return "wrk-corrected" if self.percentiles_corrected else "wrk"


def _ms(value: Any) -> float | None:
    v = count(value)
    return None if v is None else v / 1000.0


def _read(path: Path) -> str | None:
    return path.read_text(errors="replace") if path.is_file() else None


def _last_line(text: str | None) -> str | None:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else None


def text_requests(stdout: str) -> int | None:
    """The count in wrk's "N requests in T, B read" line."""
    for line in stdout.splitlines():
        if (m := _RE_REQUESTS.match(line)):
            return int(m.group(1))
    return None


def apply_json(run: WrkRun, data: dict[str, Any]) -> None:
    """Fill `run` from wrk.json, noting what does not add up."""
    run.data = data
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    run.errors = {k: count(errors.get(k)) or 0 for k in ERROR_KINDS}
    run.requests = count(data.get("requests"))
    duration = count(data.get("duration_us"))
    run.duration_s = duration / 1e6 if duration and duration > 0 else None
    run.duration_from = data.get("duration_from") if run.duration_s else None
    run.bytes_received = count(data.get("bytes"))
    run.non_2xx = count(data.get("non_2xx")) or 0
    run.unexpected = count(data.get("unexpected"))
    run.status_counts = status_counts(data.get("status_counts"))
    run.warnings.extend(status_check(run.status_counts, run.non_2xx, "wrk.json", errors.get("status")))
    run.threads = count(data.get("threads"))
    run.threads_reached = count(data.get("threads_reached_share"))
    interval = count(data.get("correction_interval_us"))
    run.correction_interval_ms = interval / 1000.0 if interval else None
    lat = data.get("latency_us") if isinstance(data.get("latency_us"), dict) else {}
    lo, hi = count(lat.get("min")), count(lat.get("max"))
    # No latency sample (every response came after --timeout): wrk reports its
    # empty histogram's min as 2^64-1 and percentiles as 0. Not measurements.
    if run.requests and lo is not None and hi is not None and 0 < lo <= hi:
        run.p50_ms, run.p90_ms = _ms(lat.get("p50")), _ms(lat.get("p90"))
        run.p99_ms, run.p99_9_ms = _ms(lat.get("p99")), _ms(lat.get("p99_9"))
        run.max_ms, run.mean_ms = hi / 1000.0, _ms(lat.get("mean"))
    run.latency_hist = histogram(data.get("latency_hist_us"))
    counted = count(data.get("responses_counted"))
    if run.requests is not None and counted is not None and counted != run.requests:
        run.warnings.append(f"wrk counted {run.requests} responses, the Lua script {counted}")


def hist_percentile(hist: list[tuple[int, int]], p: float) -> int | None:
    """wrk's percentile of a histogram (src/stats.c stats_percentile): the first value whose running
    count reaches round(p / 100 × count + 0.5), C's round (half away from zero); None when empty."""
    total = sum(k for _, k in hist)
    if total <= 0:
        return None
    rank = math.floor(p / 100.0 * total + 0.5 + 0.5)
    running = 0
    for value, k in hist:
        running += k
        if running >= rank:
            return value
    return hist[-1][0]


def load_wrk_run(directory: Path, requested: int | None = None, exit_code: int | None = None) -> WrkRun:
    """Read one run's raw files (wrk.txt, wrk.err, wrk.json), parse and cross-check them.

    `requested` is the n asked for; `exit_code` is wrk's status.
    """
    run = WrkRun(requested=requested, exit_code=exit_code)
    stdout, stderr = _read(directory / "wrk.txt"), _read(directory / "wrk.err")
    raw = _read(directory / "wrk.json")
    rc = f" (wrk exit code {exit_code})" if exit_code not in (None, 0) else ""
    if stdout is None and raw is None:
        run.error = "wrk.txt missing: wrk did not run or its output was not fetched"
        return run
    if raw is None:
        run.error = (_last_line(stderr) or "wrk wrote no results (wrk.json missing)") + rc
        return run
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        run.error = f"wrk.json unreadable: {exc}"
        return run
    apply_json(run, data)
    if not run.has_stats:
        run.error = "wrk.json lacks requests or duration_us" + rc
        return run
    if exit_code not in (None, 0):
        run.error = (_last_line(stderr) or "wrk exited with an error after writing results") + rc
    if run.requests == 0:
        e = run.errors
        run.error = (f"no response from the server in {run.duration_s:g} s (connect {e['connect']}, "
                     f"read {e['read']}, write {e['write']}, timeout {e['timeout']})")
    if stdout is not None:
        shown = text_requests(stdout)
        if shown is not None and shown != run.requests:
            run.warnings.append(f"wrk.txt says {shown} requests, wrk.json {run.requests}")
    if stderr and stderr.strip():
        run.warnings.append(f"wrk.err: {_last_line(stderr)}")
    return run


def _figures(out: Any, run: WrkRun) -> None:
    """The run's figures into `out` (a Result, or a report's record: the same fields)."""
    out.rps, out.complete, out.time_taken_s, out.failed = run.rps, run.complete, run.duration_s, run.failed
    out.failed_detail = {**{k: run.errors[k] for k in ("connect", "read", "write", "timeout")},
                         **({"non_2xx": run.non_2xx} if run.unexpected is None else {"unexpected": run.unexpected})}
    out.status_counts = run.status_counts
    out.mean_ms, out.p50_ms, out.p99_ms, out.max_ms = run.mean_ms, run.p50_ms, run.p99_ms, run.max_ms
    out.percentiles_from = run.percentiles_from


def result(folder: Path, requested: int | None = None) -> Result:
    """What the run reports (benchhost.result), from wrk.json (wrk.txt, wrk.err) and loadgen.json."""
    out = with_loadgen(Result(CLIENT.name), read_loadgen(folder), CLIENT.rc_key, CLIENT.cpu_key)
    run = load_wrk_run(folder, requested=requested, exit_code=out.client_rc)
    out.error, out.warnings, out.capped = run.error, list(run.warnings), bool(run.capped)
    if run.has_stats:
        _figures(out, run)
        out.p99_lower_bound = lower_bound(out.failed, out.failed_detail, CLIENT.timed_failures, out.p99_ms)
    return out


def measures(rec: Any, files: Any, warnings: list[str], errors: list[str]) -> None:
    """Fill in a report record's figures of a wrk run (wrk.json; wrk.txt, wrk.err; benchhost.clients'
    Client.measures): no ceiling, no steady rate."""
    if files.error and len(files.missing(["wrk.txt", "wrk.json"])) == 2:
        return  # the run failed before wrk wrote anything: the error says why
    run = load_wrk_run(files.directory, requested=rec.n, exit_code=rec.client_rc)
    warnings.extend(run.warnings)
    if run.error is not None:
        errors.append(run.error)
    rec.capped = bool(run.capped)
    threads = run.threads if run.has_stats and run.threads else integer(files.loadgen.get("threads"))
    rec.client_threads = threads
    if not run.has_stats:
        return
    if files.missing(["wrk.txt"]):
        warnings.append("wrk.txt missing: wrk's own text not cross-checked")
    _figures(rec, run)
    rec.client_detail = {"p90_ms": run.p90_ms, "p99_9_ms": run.p99_9_ms, "duration_from": run.duration_from,
                         "correction_interval_ms": run.correction_interval_ms,
                         "threads_reached": run.threads_reached}
    rec.loadgen_cpu_pct = cpu_pct(finite(files.loadgen.get("wrk_cpu_ms")), threads, rec.time_taken_s)


def merge(rec: Any, parts: list[tuple[Any, Any]]) -> bool:
    """Several load hosts' parts into `rec` (Client.merge): the latency histograms added up (wrk's rule,
    hist_percentile: "wrk-merged", "wrk-corrected-merged" when a part's includes wrk's correction), max the
    highest. False when a part's wrk.json has no latency_hist_us."""
    hists = []
    for _, files in parts:
        try:
            data = json.loads((files.directory / "wrk.json").read_text())
        except (OSError, ValueError):
            data = None
        hist = histogram(data.get("latency_hist_us")) if isinstance(data, dict) else None
        if hist is None:
            return False
        hists.append(hist)
    merged = merge_histograms(hists)
    pct = {p: hist_percentile(merged, p) for p in (50, 90, 99, 99.9)}
    ms = {p: None if v is None else v / 1000.0 for p, v in pct.items()}
    rec.p50_ms, rec.p99_ms = ms[50], ms[99]
    rec.max_ms = highest([p.max_ms for p, _ in parts])
    corrected = any(p.percentiles_from == "wrk-corrected" for p, _ in parts)
    rec.percentiles_from = ("wrk-corrected-merged" if corrected else "wrk-merged") if merged else None
    details = [p.client_detail or {} for p, _ in parts]
    rec.client_detail = {
        "p90_ms": ms[90], "p99_9_ms": ms[99.9],
        "duration_from": "+".join(sorted({str(d.get("duration_from")) for d in details})),
        "correction_interval_ms": highest([d.get("correction_interval_ms") for d in details]),
        "threads_reached": sum(d.get("threads_reached") or 0 for d in details),
    }
    return True


#: report.md's paragraph on wrk runs.
EXPLANATION = (
    "wrk runs (client wrk): req/s is responses over the time to the n-th; wrk opens its c "
    "connections at once (HTTP/1.0, a connection per request, as ab) and has no lone first "
    "request, so ab's ceiling does not apply to it; "
    "client CPU % is wrk's CPU as % of its threads' cores (near 100: the client set the pace); "
    "failed counts socket errors, answers later than the timeout and non-2xx answers."
)


#: A socket error loses the request in flight (it reached the server: a read error, not a connect one);
#: a timeout is still answered and counted. wrk spreads its connections over threads (loadgen.json's).
CLIENT = register(Client(
    name="wrk", module="benchhost.clients.wrk", files=("wrk.json", "wrk.txt", "wrk.err"), result=result,
    counts_statuses=True, mixes=True, reached_not_complete=("read",), rc_key="wrk_rc", cpu_key="wrk_cpu_ms",
    cores_key="threads", explanation=EXPLANATION, in_both=True, binary="wrk", latencies="histogram", measures=measures, merge=merge,
    failed_note=(("connect", "read", "write", "timeout", "non_2xx"),
                 "wrk counts late and non-2xx answers in its requests and req/s, socket errors not")))


if __name__ == "__main__":
    sys.exit(main())
