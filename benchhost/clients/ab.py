"""Run ApacheBench once, as DIR/run.json says, and record what the load host spent doing it.

Runs on the load host with the system Python (stdlib only):

    benchhost.clients.ab --dir DIR

DIR/run.json is the bench's plan entry (schema 2; this reads url, n, c,
time_limit and timeout). Writes into DIR: ab.txt (stdout), ab.err (stderr),
ab.tsv (-g), ab.csv (-e) and loadgen.json:

    {"client": "ab", "ab_argv", "ab_rc", "started_at", "ended_at", "cpus",
     "cpu_stat_before", "cpu_stat_after", "ab_cpu_ms", "kill_after_s", "killed"}

ab is bounded by its own -t (time_limit) and -s (timeout); the kill-after cap,
time_limit + timeout + 30 s, is a last resort that ends a wedged client, so
a bench step can never hang. SIGTERM, SIGINT or SIGHUP (an interrupted
bench's clean-up, playbooks/bench_stop.yml) kill ab at once; loadgen.json
then says "interrupted" with the signal's name.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from benchhost.process import Interrupted, cpu_line, now, raise_nofile, release_signals, spawn, stop_on_signals


#: Seconds past time_limit + timeout before a wedged client is killed.
KILL_GRACE_S = 30


def read_run(directory):
    """url, n, c, time_limit and timeout from DIR/run.json; SystemExit naming what is wrong."""
    path = os.path.join(directory, "run.json")
    try:
        with open(path) as fh:
            run = json.load(fh)
        params = {"url": str(run["url"])}
        for key in ("n", "c", "time_limit", "timeout"):
            params[key] = int(run[key])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"benchhost.clients.ab: {path}: {type(exc).__name__}: {exc}")
    return params


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, help="the run's folder, holding run.json")
    parser.add_argument("--ab", default="ab", help="the ab binary (tests)")
    args = parser.parse_args()
    run = read_run(args.dir)
    kill_after = run["time_limit"] + run["timeout"] + KILL_GRACE_S

    raise_nofile()
    path = lambda name: os.path.join(args.dir, name)  # noqa: E731
    # -t must come before -n: ab's -t sets -n to 50000 itself.
    argv = [args.ab, "-r", "-t", str(run["time_limit"]), "-n", str(run["n"]), "-c", str(run["c"]),
            "-s", str(run["timeout"]), "-g", path("ab.tsv"), "-e", path("ab.csv"), run["url"]]
    record = {"client": "ab", "ab_argv": argv, "cpus": os.cpu_count(), "started_at": now(), "started": time.time(),
              "cpu_stat_before": cpu_line(), "kill_after_s": kill_after, "killed": False,
              "interrupted": None}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop_on_signals()
    with open(path("ab.txt"), "wb") as out, open(path("ab.err"), "wb") as err:
        proc = spawn(argv, stdout=out, stderr=err)
        try:
            release_signals()
            record["ab_rc"] = proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
            record["ab_rc"] = proc.wait()
            record["killed"] = True
        except Interrupted as why:
            proc.kill()
            record["ab_rc"] = proc.wait()
            record["interrupted"] = str(why)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record["cpu_stat_after"] = cpu_line()
    record["ended_at"] = now()
    record["ended"] = time.time()
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record["ab_cpu_ms"] = round(used * 1000)
    with open(path("loadgen.json"), "w") as fh:
        json.dump(record, fh)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
