"""Where a mode's CPU goes: one worker under load, sampled by py-spy, on this machine.

    .venv/bin/python -m flaskbench.profile [--mode gevent-pywsgi] [--profile tuned]
        [--connections 200] [--delay 1] [--seconds 15] [--out DIR]

Starts, all on loopback and each for a bounded time: the slow API
(benchapp.slow_api, 2 processes), the mode's server with one worker
(benchapp.serve --cores 1: "cores" counts resolve to 1), wrk at the given
connections against `/?delay=D`, and py-spy sampling the server's processes
while wrk runs. Prints the share of samples by what they were doing (the
upstream call, the server's HTTP handling, Flask, the hub) and the top
functions by their own time; writes py-spy's collapsed stacks to
DIR/stacks.txt (a flame graph's input). Everything it started stops when it
ends, Ctrl-C included.

Why a script: py-spy samples a running process without changing it, but a
worker needs the slow API, load and the right moment; this puts them
together. It runs on the controller, not on the bench hosts (py-spy needs
ptrace, which the hardened units forbid).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent / "app"
BIN = Path(sys.executable).parent

#: What a sample was doing, by the first of these found in its stack (inner frames first).
CATEGORIES = (
    ("upstream call (the client to the slow API)", ("geventhttpclient/", "urllib3/", "requests/",
                                                     "benchapp/upstream.py", "aiohttp/")),
    ("Flask (routing, request context, view, response)", ("flask/", "werkzeug/")),
    ("the server's HTTP handling (parse, write)", ("gevent/pywsgi.py", "gunicorn/", "email/", "http/client.py")),
)
OTHER = "the hub and the rest (event loop, accept, scheduling)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summarize(lines: list[str], top: int = 12) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """py-spy's raw output ("frame;frame;... COUNT" per line): the samples, the
    samples by category (CATEGORIES, most first), the top functions by own samples."""
    total = 0
    by_category: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.strip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[re.sub(r":\d+\)$", ")", frames[-1])] += n
        for name, marks in CATEGORIES:
            if any(mark in frame for frame in frames for mark in marks):
                by_category[name] += n
                break
        else:
            by_category[OTHER] += n
    return total, by_category.most_common(), own.most_common(top)


def wait_for(url: str, seconds: float) -> None:
    end = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > end:
                raise SystemExit(f"profile-worker: {url} did not answer within {seconds:g} s")
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="gevent-pywsgi")
    parser.add_argument("--profile", default="tuned", choices=("seed", "tuned"))
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--seconds", type=int, default=15, help="py-spy's sampling time (wrk runs 6 s longer)")
    parser.add_argument("--out", type=Path, default=None, help="where stacks.txt goes (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.delay < 0 or not 1 <= args.seconds <= 120:
        parser.error("--connections must be 1 or more, --delay 0 or more, --seconds from 1 to 120")
    spy, wrk = BIN / "py-spy", shutil.which("wrk")
    if not spy.exists() or wrk is None:
        parser.error(f"needs {spy} (make venv) and wrk (make deps)")
    out = args.out or Path(tempfile.mkdtemp(prefix="profile-worker."))
    out.mkdir(parents=True, exist_ok=True)

    api_port, app_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(APP_DIR), "BENCHAPP_UPSTREAM_URL": f"http://127.0.0.1:{api_port}/"}
    procs: list[subprocess.Popen] = []

    def start(argv: list[str], log: str) -> subprocess.Popen:
        with open(out / log, "w") as fh:
            procs.append(subprocess.Popen(argv, cwd=APP_DIR, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        return procs[-1]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        start([sys.executable, "-m", "benchapp.slow_api", "--host", "127.0.0.1", "--port", str(api_port),
               "--grpc-port", "0", "--workers", "2"], "slow_api.log")
        server = start([sys.executable, "-m", "benchapp.serve", "--mode", args.mode, "--profile", args.profile,
                        "--host", "127.0.0.1", "--port", str(app_port), "--cores", "1"], "server.log")
        wait_for(f"http://127.0.0.1:{api_port}/?delay=0", 30)
        wait_for(f"http://127.0.0.1:{app_port}/healthz", 60)
        url = f"http://127.0.0.1:{app_port}/?delay={args.delay:g}"
        load = start([wrk, "-t2", f"-c{args.connections}", f"-d{args.seconds + 6}s", "--latency", url], "wrk.txt")
        time.sleep(3)  # past the first round of connections
        stacks = out / "stacks.txt"
        spy_run = subprocess.run([str(spy), "record", "--pid", str(server.pid), "--subprocesses", "--duration",
                                  str(args.seconds), "--rate", "100", "--format", "raw", "--output", str(stacks)],
                                 capture_output=True, text=True, timeout=args.seconds + 60)
        load.wait(timeout=args.seconds + 60)
        if spy_run.returncode != 0 or not stacks.exists():
            print(f"profile-worker: py-spy failed ({spy_run.returncode}): {spy_run.stderr.strip()[-500:]}",
                  file=sys.stderr)
            return 1
        total, categories, own = summarize(stacks.read_text().splitlines())
        rate = re.search(r"Requests/sec:\s*([\d.]+)", (out / "wrk.txt").read_text())
        print(f"{args.mode} ({args.profile}, one worker), wrk c={args.connections} delay={args.delay:g}: "
              f"{rate.group(1) if rate else '?'} req/s; {total} samples in {args.seconds} s")
        for name, n in categories:
            print(f"  {100 * n / max(total, 1):5.1f}%  {name}")
        print("  top functions by own samples:")
        for name, n in own:
            print(f"  {100 * n / max(total, 1):5.1f}%  {name[:110]}")
        print(f"stacks: {stacks}")
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


if __name__ == "__main__":
    sys.exit(main())
