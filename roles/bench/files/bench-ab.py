#!/usr/bin/python3
"""Run ApacheBench once and record what the load host spent doing it.

Runs on the load host with the system Python (stdlib only). Writes into --dir:
ab.txt (stdout), ab.err (stderr), ab.tsv (-g), ab.csv (-e) and loadgen.json:

    {"ab_argv", "ab_rc", "started_at", "ended_at", "cpus",
     "cpu_stat_before", "cpu_stat_after", "ab_cpu_ms", "killed"}

ab is bounded by its own -t and -s; --kill-after is a last resort that ends
a wedged client, so a bench step can never hang.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cpu_line():
    with open("/proc/stat") as fh:
        return fh.readline().strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--c", type=int, required=True)
    parser.add_argument("--time-limit", type=int, required=True, help="ab -t, seconds")
    parser.add_argument("--timeout", type=int, required=True, help="ab -s, seconds per request")
    parser.add_argument("--kill-after", type=int, required=True, help="hard cap on ab's run, seconds")
    parser.add_argument("--ab", default="ab")
    parser.add_argument("url")
    args = parser.parse_args()

    # ab needs a descriptor per concurrent connection; SSH sessions start
    # with a soft limit of 1024, so raise it to the hard limit for ab.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.makedirs(args.dir, exist_ok=True)
    path = lambda name: os.path.join(args.dir, name)  # noqa: E731
    # -t must come before -n: ab's -t sets -n to 50000 itself.
    argv = [args.ab, "-r", "-t", str(args.time_limit), "-n", str(args.n), "-c", str(args.c),
            "-s", str(args.timeout), "-g", path("ab.tsv"), "-e", path("ab.csv"), args.url]
    record = {"ab_argv": argv, "cpus": os.cpu_count(), "started_at": now(), "cpu_stat_before": cpu_line(),
              "killed": False}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path("ab.txt"), "wb") as out, open(path("ab.err"), "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        try:
            record["ab_rc"] = proc.wait(args.kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
            record["ab_rc"] = proc.wait()
            record["killed"] = True
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record["cpu_stat_after"] = cpu_line()
    record["ended_at"] = now()
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record["ab_cpu_ms"] = round(used * 1000)
    with open(path("loadgen.json"), "w") as fh:
        json.dump(record, fh)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
