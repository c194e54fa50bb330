"""Build summary.json: one record per (mode, profile, client) from the raw files the bench fetched.

Layout of a run (written by bench.yml, read here)::

    results/<run-id>/<mode>-<profile>/       ab (the default client)
        ab.txt     ab's stdout
        ab.err     ab's stderr (error messages, "Finished N requests"); may be empty
        ab.tsv     ab -g output (one row per request)
        ab.csv     ab -e output (percentiles)
        meta.json  what was asked and what was sampled, schema below
    results/<run-id>/<mode>-<profile>-wrk/   wrk (bench client=wrk or both)
        wrk.txt    wrk's stdout
        wrk.err    wrk's stderr
        wrk.json   the figures bench-wrk.lua's done() wrote (see benchreport.wrkparse)
        meta.json

Every figure in a record comes from these files; what was not measured is
null, never estimated. A directory with a meta.json but no ab output (the mode
could not start) still gets a record, with `error` set.

meta.json (schema 1). Required: mode, profile, n, c, delay. Everything else
may be absent or null, and then the matching summary figures are null.
Numbers may also arrive as numeric strings (templating); anything else
non-numeric in n, c or delay is an error for that run::

    {
      "schema": 1,
      "run_id": "20261122T040000Z",          # the results/<run-id> name
      "mode": "uwsgi-gevent",                # a key of modes.yml
      "profile": "tuned",                    # seed | tuned
      "client": "ab",                        # ab | wrk; absent (runs before wrk) means ab
      "n": 2000,                             # ab -n asked for
      "c": 200,                              # ab -c
      "delay": 1,                            # seconds, the ?delay= of the URL
      "route": "/",                          # path requested (from modes.yml)
      "url": "http://10.89.7.11:3000/?delay=1",
      "time_limit_s": 300,                   # ab -t (must precede -n on ab's command line)
      "timeout_s": 40,                       # ab -s
      "ab_argv": ["ab", "-r", "-t", "300", "-n", "2000", "..."],
      "ab_rc": 0,                            # ab's exit status; null if ab was not run
                                             # (wrk runs: wrk_argv, wrk_rc and "threads",
                                             #   wrk's -t, instead of ab_argv and ab_rc)
      "started_at": "2026-11-22T04:00:00Z",  # ISO 8601, just before ab started
      "ended_at": "2026-11-22T04:00:11Z",    # just after ab ended
      "app_host": "app1",
      "loadgen_host": "loadgen1",
      "error": null,                         # text when the mode could not start or
                                             # ab could not be run; null otherwise
      "monitor": false,                      # gevent's monitor thread ran (bench monitor=true)
      "blocked": null,                       # hub blockages it reported during the run
                                             #   (count from the unit's journal); null when off
      "server": {                            # the mode's unit on the app host
        "unit": "flask-uwsgi-gevent.service",
        "cpu_ns_before": 1200000000,         # CPU time (user+system) of the unit's
        "cpu_ns_after": 9800000000,          #   processes, ns, just before/after ab:
                                             #   systemd CPUUsageNSec, or the sum of
                                             #   utime+stime over the unit's cgroup pids
                                             #   from /proc (ticks * 1e9 / CLK_TCK)
        "cpu_source": "systemd",             # systemd | proc
        "peak_rss_kib": 181234,              # peak resident memory during the run, KiB:
                                             #   systemd MemoryPeak / 1024, or the max over
                                             #   samples of the sum of VmRSS of the pids
        "rss_source": "proc",                # systemd | proc
        "rss_samples": 11                    # how many samples gave peak_rss_kib (proc)
      },
      "loadgen": {                           # the host running ab
        "cpus": 2,
        "cpu_stat_before": "cpu  4705 0 1200 99871 12 0 30 0 0 0",  # first line of
        "cpu_stat_after":  "cpu  5705 0 1500 100871 12 0 40 0 0 0", #   /proc/stat, verbatim
        "ab_cpu_ms": 850,                    # ab's own user+system CPU, ms (optional;
                                             #   wrk_cpu_ms for wrk)
        "killed": false                      # true when ab outlived the bench's hard cap
                                             #   and was killed (the run is an error)
      }
    }

Derived figures:

* cpu_ms = (cpu_ns_after - cpu_ns_before) / 1e6; cpu_ms_per_req = cpu_ms / complete;
  peak_rss_mib = peak_rss_kib / 1024.
* ideal_rps = c / delay; pct_of_ideal = 100 * rps / ideal_rps (the issue's definitions).
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
  (see benchreport.abparse.steady_throughput).
* For wrk the ab_ceiling_* figures, pct_of_ceiling and steady_rps are null: wrk
  opens all c connections at once, it has no lone first request to bound it.
  rps = requests / duration (benchreport.wrkparse), complete = wrk's requests
  (it may pass n by the requests in flight when the threads stopped).
* loadgen_cpu_pct = ab's own CPU (loadgen.ab_cpu_ms) as % of one core over ab's
  timed run (time_taken_s). ab is single-threaded: near 100 means the client,
  not the server, set the pace. Null for runs under 1 s (ab_cpu_ms also holds
  ab's start-up and its writing of the -g/-e files, and is counted in ticks).
  For wrk it is wrk_cpu_ms as % of its `threads` cores: near 100 means the same.
* host_cpu_pct = busy share of all CPUs between the two /proc/stat lines (100 =
  every CPU busy). /proc/stat is not namespaced: on the local test containers it
  is the whole machine (the app container included), on a VM the load host.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from benchreport.abparse import AbRun, ab_ceiling_rps, load_ab_run, steady_throughput
from benchreport.wrkparse import WrkRun, load_wrk_run

META = "meta.json"
REQUIRED_META = ("mode", "profile", "n", "c", "delay")
PROFILE_ORDER = {"seed": 0, "tuned": 1}
CLIENTS = ("ab", "wrk")
#: Result folders of the clients other than ab end with -<client>.
CLIENT_SUFFIXES = {"wrk": "-wrk"}
#: ab's CPU share is not reported for shorter runs (start-up and tick counting dominate).
MIN_AB_CPU_RUN_S = 1.0


def load_modes(path: Path | None) -> dict[str, dict[str, Any]]:
    """The `modes` mapping of modes.yml (titles, seed figures, default bench flags)."""
    if path is None or not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get("modes") or {})


def run_dirs(run_dir: Path) -> list[Path]:
    """Subdirectories of a run that hold a bench result (a meta.json or ab output)."""
    return sorted(
        d for d in run_dir.iterdir()
        if d.is_dir() and any((d / name).is_file() for name in (META, "ab.txt", "wrk.txt", "wrk.json"))
    )


def _finite(x: Any) -> float | None:
    """A number from JSON, or None. Numeric strings count (a template may have
    stringified them); bools, other strings and NaN are not measurements."""
    if isinstance(x, str):
        try:
            x = float(x.strip())
        except ValueError:
            return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def _int(x: Any) -> int | None:
    """An integer from JSON (or an integral numeric string), else None."""
    f = _finite(x)
    return int(f) if f is not None and f == int(f) else None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


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


def _split_dirname(name: str) -> tuple[str, str | None, str]:
    """`<mode>-<profile>[-wrk]` -> (mode, profile, client); modes contain dashes, profiles do not."""
    client = "ab"
    for other, suffix in CLIENT_SUFFIXES.items():
        if name.endswith(suffix):
            name, client = name[: -len(suffix)], other
    mode, sep, profile = name.rpartition("-")
    return ((mode, profile) if sep and profile in PROFILE_ORDER else (name, None)) + (client,)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def build_record(directory: Path, modes: dict[str, dict[str, Any]], run_dir: Path) -> dict[str, Any]:
    """One summary object for one `<mode>-<profile>` directory."""
    warnings: list[str] = []
    errors: list[str] = []
    meta: dict[str, Any] = {}
    if (directory / META).is_file():
        try:
            meta = json.loads((directory / META).read_text())
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            errors.append(f"{META} unreadable: {exc}")
            meta = {}
    else:
        errors.append(f"{META} missing")
    missing = [k for k in REQUIRED_META if meta.get(k) is None]
    if meta and missing:
        errors.append(f"{META} lacks {', '.join(missing)}")
    for key, conv in (("n", _int), ("c", _int), ("delay", _finite)):
        if meta.get(key) is not None and conv(meta[key]) is None:
            errors.append(f"{META}: {key} is not a number: {meta[key]!r}")

    dir_mode, dir_profile, dir_client = _split_dirname(directory.name)
    mode = str(meta.get("mode") or dir_mode)
    profile = meta.get("profile") or dir_profile
    client = str(meta.get("client") or dir_client)
    if client not in CLIENTS:
        errors.append(f"{META}: unknown client {client!r}")
    n, c, delay = _int(meta.get("n")), _int(meta.get("c")), _finite(meta.get("delay"))
    if meta.get("error"):
        errors.append(str(meta["error"]))
    server = meta.get("server") if isinstance(meta.get("server"), dict) else {}
    loadgen = meta.get("loadgen") if isinstance(meta.get("loadgen"), dict) else {}
    if loadgen.get("killed") is True:
        errors.append(f"{client} was killed: it outlived its time limit and timeout (bench hard cap)")

    if client == "wrk":
        m = _wrk_measures(directory, meta, loadgen, n, warnings, errors)
    else:
        m = _ab_measures(directory, meta, loadgen, n, c, delay, warnings, errors)
    rps, complete, capped, time_taken = m["rps"], m["complete"], m["capped"], m["time_taken_s"]
    ideal = (c / delay) if (c and delay) else None
    ceiling = m.get("ceiling")
    steady = m.get("steady")

    cpu_before, cpu_after = _finite(server.get("cpu_ns_before")), _finite(server.get("cpu_ns_after"))
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None:
        if cpu_after >= cpu_before:
            cpu_ms = (cpu_after - cpu_before) / 1e6
        else:
            warnings.append("server CPU counter went backwards (processes exited?): CPU not reported")
    rss_kib = _finite(server.get("peak_rss_kib"))
    client_cpu_ms, cores = m["client_cpu_ms"], m["client_cores"]

    spec = modes.get(mode, {})
    bench = spec.get("bench") or {}
    if modes and mode not in modes:
        warnings.append(f"mode {mode!r} is not in modes.yml")
    seed_params = {k: bench.get(k) for k in ("n", "c", "delay")} if bench else None

    rec: dict[str, Any] = {
        "mode": mode,
        "profile": profile,
        "client": client,
        "title": spec.get("title"),
        "n": n,
        "c": c,
        "delay": (int(delay) if delay == int(delay) else delay) if delay is not None else None,
        "route": meta.get("route"),
        "url": meta.get("url"),
        "complete": complete,
        "failed": m["failed"],
        "failed_detail": m["failed_detail"],
        "capped": capped,
        "time_limit_s": _int(meta.get("time_limit_s")),
        "time_taken_s": time_taken,
        "rps": rps,
        "ideal_rps": _round(ideal, 3),
        "pct_of_ideal": _round(100.0 * rps / ideal, 1) if (rps is not None and ideal) else None,
        "ab_ceiling_rps": _round(ceiling, 3),
        "ab_ceiling_pct": _round(100.0 * ceiling / ideal, 1) if (ceiling and ideal) else None,
        "pct_of_ceiling": _round(100.0 * rps / ceiling, 1) if (rps is not None and ceiling) else None,
        "steady_rps": _round(steady.rps, 2) if steady else None,
        "steady_rps_from": steady.source if steady else None,
        "mean_ms": m["mean_ms"],
        "p50_ms": m["p50_ms"],
        "p99_ms": m["p99_ms"],
        "max_ms": m["max_ms"],
        "percentiles_from": m["percentiles_from"],
        "connect_mean_ms": m.get("connect_mean_ms"),
        "connect_max_ms": m.get("connect_max_ms"),
        "cpu_ms": _round(cpu_ms, 1),
        "cpu_ms_per_req": _round(cpu_ms / complete, 3) if (cpu_ms is not None and complete) else None,
        "cpu_source": server.get("cpu_source") if cpu_ms is not None else None,
        "peak_rss_mib": _round(rss_kib / 1024.0, 1) if rss_kib is not None else None,
        "rss_source": server.get("rss_source") if rss_kib is not None else None,
        "loadgen_cpu_pct": (
            _round(100.0 * client_cpu_ms / (time_taken * 1000.0 * cores), 1)
            if (client_cpu_ms is not None and cores and time_taken and time_taken >= MIN_AB_CPU_RUN_S)
            else None
        ),
        "host_cpu_pct": _round(cpu_stat_busy_pct(loadgen.get("cpu_stat_before"), loadgen.get("cpu_stat_after")), 1),
        "seed_rps": _finite(spec.get("seed_rps")),
        "seed_params": seed_params,
        "at_seed_params": (seed_params == {"n": n, "c": c, "delay": delay}) if seed_params else None,
        "ab_rc": m["rc"] if client == "ab" else None,
        "client_rc": m["rc"],
        "client_threads": cores if client == "wrk" else None,
        "client_detail": m.get("detail"),
        "started_at": meta.get("started_at"),
        "ended_at": meta.get("ended_at"),
        "error": "; ".join(errors) or None,
        "monitor": bool(meta.get("monitor")),
        "blocked": _int_or_none(meta.get("blocked")) if meta.get("monitor") else None,
        "warnings": warnings,
        "raw_dir": directory.relative_to(run_dir).as_posix(),
    }
    rec.update(expectation(spec, rec))
    return rec


def expectation(spec: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """What the mode table expects of this mode (its `expect`) and whether the run bore it out.

    Only failure is ever expected (gRPC without init_gevent hangs): the run
    is as expected when it did not fully succeed (an error, a failed request,
    the time cap, or nothing answered). A run that fully succeeded is not.
    """
    expect = spec.get("expect") if isinstance(spec.get("expect"), dict) else None
    if not expect:
        return {"expected": None, "expected_why": None, "as_expected": None}
    succeeded = (not rec.get("error") and not rec.get("capped") and rec.get("failed") == 0
                 and bool(rec.get("complete")))
    return {"expected": str(expect.get("outcome") or "failure"),
            "expected_why": " ".join(str(expect.get("why") or "").split()) or None,
            "as_expected": not succeeded}


def unexpected_error(rec: dict[str, Any]) -> bool:
    """A run error the report must end non-zero for: any, but an expected failure's."""
    return bool(rec.get("error")) and not (rec.get("expected") and rec.get("as_expected"))


def _ab_measures(directory: Path, meta: dict[str, Any], loadgen: dict[str, Any], n: int | None,
                 c: int | None, delay: float | None, warnings: list[str], errors: list[str]) -> dict[str, Any]:
    """The client-specific figures of an ab run (ab.txt, ab.tsv, ab.csv)."""
    ab_rc = _int(meta.get("ab_rc"))
    ab: AbRun | None = None
    if (directory / "ab.txt").is_file() or not meta.get("error"):
        ab = load_ab_run(directory, requested=n, exit_code=ab_rc)
        warnings.extend(ab.warnings)
        if ab.error is not None and str(ab.error) not in errors:
            errors.append(str(ab.error))
    t = ab.text if ab else None
    ok = bool(ab and t and t.has_stats)
    complete = t.complete if ok and t else None
    capped = bool(ab.capped) if ab else False
    conn = t.connection_times.get("connect") if ok and t else None
    return {
        "rc": ab_rc,
        "rps": t.rps if ok and t else None,
        "complete": complete,
        "capped": capped,
        "time_taken_s": t.time_taken_s if ok and t else None,
        "failed": ab.failed if ok and ab else None,
        "failed_detail": (
            {
                "connect": t.connect_errors, "receive": t.receive_errors, "length": t.length_errors,
                "exceptions": t.exceptions, "non_2xx": t.non_2xx, "write": t.write_errors,
            }
            if ok and t else None
        ),
        "mean_ms": t.mean_ms if ok and t else None,
        "p50_ms": ab.p50_ms if ok and ab else None,
        "p99_ms": ab.p99_ms if ok and ab else None,
        "max_ms": ab.max_ms if ok and ab else None,
        "percentiles_from": ab.percentiles_from if ok and ab else None,
        "connect_mean_ms": conn.mean if conn else None,
        "connect_max_ms": conn.max if conn else None,
        "ceiling": None if capped else ab_ceiling_rps(n, c, delay),
        "steady": steady_throughput(ab.tsv, complete, t.time_taken_s) if ok and ab and t else None,
        "client_cpu_ms": _finite(loadgen.get("ab_cpu_ms")),
        "client_cores": 1,
    }


def _wrk_measures(directory: Path, meta: dict[str, Any], loadgen: dict[str, Any], n: int | None,
                  warnings: list[str], errors: list[str]) -> dict[str, Any]:
    """The client-specific figures of a wrk run (wrk.json); no ab ceiling, no steady rate."""
    wrk_rc = _int(meta.get("wrk_rc"))
    run: WrkRun | None = None
    if any((directory / f).is_file() for f in ("wrk.txt", "wrk.json")) or not meta.get("error"):
        run = load_wrk_run(directory, requested=n, exit_code=wrk_rc)
        warnings.extend(run.warnings)
        if run.error is not None and run.error not in errors:
            errors.append(run.error)
    ok = bool(run and run.has_stats)
    threads = run.threads if ok and run and run.threads else _int(meta.get("threads"))
    return {
        "rc": wrk_rc,
        "rps": run.rps if ok and run else None,
        "complete": run.complete if ok and run else None,
        "capped": bool(run.capped) if run else False,
        "time_taken_s": run.duration_s if ok and run else None,
        "failed": run.failed if ok and run else None,
        "failed_detail": (
            {**{k: run.errors[k] for k in ("connect", "read", "write", "timeout")}, "non_2xx": run.non_2xx}
            if ok and run else None
        ),
        "mean_ms": run.mean_ms if ok and run else None,
        "p50_ms": run.p50_ms if ok and run else None,
        "p99_ms": run.p99_ms if ok and run else None,
        "max_ms": run.max_ms if ok and run else None,
        "percentiles_from": run.percentiles_from if ok and run else None,
        "client_cpu_ms": _finite(loadgen.get("wrk_cpu_ms")),
        "client_cores": threads,
        "detail": (
            {"p90_ms": run.p90_ms, "p99_9_ms": run.p99_9_ms, "duration_from": run.duration_from,
             "correction_interval_ms": run.correction_interval_ms, "threads_reached": run.threads_reached}
            if ok and run else None
        ),
    }


def sort_key(modes: dict[str, dict[str, Any]]):
    """Order records as modes.yml lists the modes, seed before tuned."""
    order = {name: i for i, name in enumerate(modes)}

    def key(rec: dict[str, Any]) -> tuple:
        client = rec.get("client") or "ab"
        return (order.get(rec["mode"], len(order)), rec["mode"], PROFILE_ORDER.get(rec["profile"], 9),
                str(rec["profile"]), CLIENTS.index(client) if client in CLIENTS else len(CLIENTS), client)

    return key


def build_summary(run_dir: Path, modes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """All records of a run, in a stable order."""
    records = [build_record(d, modes, run_dir) for d in run_dirs(run_dir)]
    return sorted(records, key=sort_key(modes))


def write_summary(records: list[dict[str, Any]], path: Path) -> None:
    """summary.json: strict JSON (no NaN), stable key order, one file per run."""
    path.write_text(json.dumps(records, indent=2, allow_nan=False) + "\n")
