#!/usr/bin/python3
"""Run wrk once for n requests and record what the load host spent doing it.

Runs on the load host with the system Python (stdlib only), beside
bench-wrk.lua. Writes into --dir: wrk.txt (stdout), wrk.err (stderr),
wrk.json (written by the Lua script's done()) and loadgen.json:

    {"client": "wrk", "wrk_argv", "wrk_rc", "threads", "started_at", "ended_at",
     "cpus", "cpu_stat_before", "cpu_stat_after", "wrk_cpu_ms", "signalled",
     "killed"}

Why a wrapper and not plain wrk: wrk 4.1 only stops on its -d duration, and
its main thread sleeps that long even when every thread has stopped. The Lua
script stops each thread at its share of n and leaves a marker file; once all
threads have one this wrapper sends SIGINT, wrk's own Ctrl-C, which ends the
sleep and runs done(). -d is the time limit (a run that hits it is capped);
--kill-after is a last resort that ends a wedged client, so a bench step can
never hang.

Threads: wrk gives each thread c / t connections, rounded down, so t must
divide c or fewer than c connections are open. t is the largest divisor of c
not above min(cpus, c) (c=200 on 2 CPUs: 2; a prime c: 1).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

#: How often the marker files are looked for; bounds how late SIGINT comes.
POLL_S = 0.005
#: SIGINT is sent again at this interval until wrk exits: a signal that lands
#: before wrk installs its handler is ignored (wrk starts with SIGINT ignored).
RESIGNAL_S = 0.5


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cpu_line() -> str:
    with open("/proc/stat") as fh:
        return fh.readline().strip()


def pick_threads(c: int, cpus: int) -> int:
    """The largest t <= min(cpus, c) that divides c (wrk opens t * (c // t) connections)."""
    for t in range(max(1, min(cpus, c)), 0, -1):
        if c % t == 0:
            return t
    return 1


def run(args: argparse.Namespace) -> dict:
    """Start wrk, signal it when every thread has its share, return loadgen.json's record."""
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    cpus = os.cpu_count() or 1
    threads = args.threads or pick_threads(args.c, cpus)
    done_prefix = str(out / "wrk-done.")
    for stale in out.glob("wrk-done.*"):
        stale.unlink()
    (out / "wrk.json").unlink(missing_ok=True)
    argv = [args.wrk, "-t", str(threads), "-c", str(args.c), "-d", f"{args.time_limit}s",
            "--timeout", f"{args.timeout}s", "--latency", "-s", args.script, args.url]
    env = {**os.environ, "BENCH_WRK_N": str(args.n), "BENCH_WRK_THREADS": str(threads),
           "BENCH_WRK_C": str(args.c), "BENCH_WRK_OUT": str(out / "wrk.json"),
           "BENCH_WRK_DONE": done_prefix}
    markers = [Path(f"{done_prefix}{i}") for i in range(threads)]
    record: dict = {"client": "wrk", "wrk_argv": argv, "threads": threads, "cpus": cpus,
                    "started_at": now(), "cpu_stat_before": cpu_line(), "signalled": False,
                    "killed": False}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out / "wrk.txt", "wb") as so, open(out / "wrk.err", "wb") as se:
        proc = subprocess.Popen(argv, stdout=so, stderr=se, env=env)
        deadline = time.monotonic() + args.kill_after
        next_signal = 0.0
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
        record["wrk_rc"] = proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record["cpu_stat_after"] = cpu_line()
    record["ended_at"] = now()
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record["wrk_cpu_ms"] = round(used * 1000)
    for m in markers:
        m.unlink(missing_ok=True)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--n", type=int, required=True, help="requests in total")
    parser.add_argument("--c", type=int, required=True, help="connections (wrk -c)")
    parser.add_argument("--threads", type=int, default=0, help="wrk -t; 0: see above")
    parser.add_argument("--time-limit", type=int, required=True, help="wrk -d, seconds: the cap")
    parser.add_argument("--timeout", type=int, required=True, help="wrk --timeout, seconds")
    parser.add_argument("--kill-after", type=int, required=True, help="hard cap on wrk's run, seconds")
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--script", default=str(Path(__file__).resolve().with_name("bench-wrk.lua")))
    parser.add_argument("url")
    args = parser.parse_args()
    if args.n < args.c or args.c < 1:
        parser.error("need n >= c >= 1")
    if args.threads and args.c % args.threads:
        parser.error("--threads must divide --c (wrk gives each thread c // t connections)")

    # wrk needs a descriptor per connection; SSH sessions start with a soft
    # limit of 1024, so raise it to the hard limit for wrk.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    record = run(args)
    with open(os.path.join(args.dir, "loadgen.json"), "w") as fh:
        json.dump(record, fh)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
