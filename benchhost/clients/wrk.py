"""Run wrk once for n requests, as DIR/run.json says, and record what the load host spent doing it.

Runs on the load host with the system Python (stdlib only), beside
wrk.lua:

    benchhost.clients.wrk --dir DIR [--script wrk.lua] [--threads T]

DIR/run.json is the bench's plan entry (schema 2; this reads url, n, c,
time_limit and timeout). Writes into DIR: wrk.txt (stdout), wrk.err
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
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

from benchhost.process import Interrupted, cpu_line, now, raise_nofile, release_signals, spawn, stop_on_signals

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
        params = {"url": str(run["url"])}
        for key in ("n", "c", "time_limit", "timeout"):
            params[key] = int(run[key])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"benchhost.clients.wrk: {path}: {type(exc).__name__}: {exc}")
    if params["n"] < params["c"] or params["c"] < 1:
        sys.exit(f"benchhost.clients.wrk: {path}: need n >= c >= 1 (n={params['n']}, c={params['c']})")
    return params


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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record["cpu_stat_after"] = cpu_line()
    record["ended_at"] = now()
    record["ended"] = time.time()
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record["wrk_cpu_ms"] = round(used * 1000)
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


if __name__ == "__main__":
    sys.exit(main())
