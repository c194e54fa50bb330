"""The plan runners (benchhost.run) on loopback, as tests/benchhost's tests drive them: a plan.json and its runs,
the fake sampler, mode command and journalctl (each records its argv), the runner processes, their progress.

The fixtures `scripts` (the fakes in a folder) and `runners` (a Runners whose processes are killed at
teardown) are in conftest.py. Used by tests/benchhost/test_run.py, test_run_upstream.py and test_clients.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchrun import HOST_ENV
from httpserver import Server, closed_port

TOKEN = "0123456789abcdef0123456789abcdef"
#: A plan on loopback ends in a few seconds; this only bounds a broken runner.
WAIT_S = 40

FAKE_SAMPLER = """
import argparse, json, os, signal, sys, time
p = argparse.ArgumentParser()
for opt in ("--unit", "--out", "--stop-file", "--max-seconds", "--ready-file"):
    p.add_argument(opt, required=True)
a = p.parse_args()
started = time.time()
open(a.ready_file, "w").close()
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample.calls"), "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
why = []
signal.signal(signal.SIGTERM, lambda *_: why.append("SIGTERM"))
parent, end = os.getppid(), time.monotonic() + float(a.max_seconds)
while not why:
    if os.path.exists(a.stop_file):
        why.append("stop-file")
    elif os.getppid() != parent:
        why.append("orphaned")
    elif time.monotonic() > end:
        why.append("max-seconds")
    else:
        time.sleep(0.02)
with open(a.out, "w") as fh:
    json.dump({"unit": a.unit, "fake": True, "stopped_by": why[0], "started": started, "stopped": time.time()}, fh)
"""

# flaskbench-mode's way: one JSON object on stdout, exit 1 and "msg" when the switch failed.
FAKE_MODE = """
import json, os, sys
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mode.calls"), "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[2] == "broken":
    print(json.dumps({"failed": True, "msg": "flask-broken.service did not start"}))
    sys.exit(1)
print(json.dumps({"changed": True}))
"""

# journalctl --output json: two reports of gevent's monitor since go (a block of two periods: one
# block); asked with --grep, the app's patch line.
FAKE_JOURNALCTL = """
import json, os, sys
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "journal.calls"), "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
if "--grep" in sys.argv:
    lines = ['flaskbench-gevent-patch: {"patched": {"socket": true}, "warnings": []}']
else:
    report = ["=" * 80, "", "2026-12-02T08:00:00Z : Greenlet <Greenlet at 0x1: view> appears to be blocked",
              "    Reported by <tracer>", "Blocked Stack (for thread id 0x2):",
              '  File "/srv/app/db.py", line 7, in query', "    cur.execute(sql)", "", "Info:",
              '  File "/usr/lib/threading.py", line 1, in run', "    x()"]
    lines = ["started", *report, *report, "ok"]
for i, line in enumerate(lines):
    print(json.dumps({"__REALTIME_TIMESTAMP": str(1795320600000000 + i * 5000), "MESSAGE": line}))
"""


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def calls(scripts: Path, name: str) -> list[list[str]]:
    path = scripts / f"{name}.calls"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_entry(server: Server, key: str, name: str, client: str = "ab", n: int = 20, c: int = 2,
              delay: float = 0.01, loadgens: tuple[str, ...] = ("lg1",), mode: str = "m",
              expect: str | None = None, monitor: bool = False, time_limit: int = 30,
              timeout: int = 5) -> dict:
    """A plan's run: run.json's entry (schema 2) and its parts, n and c split as evenly as they go."""
    k = len(loadgens)
    parts = [{"host": h, "c": c // k + (i < c % k), "n": n // k + (i < n % k)} for i, h in enumerate(loadgens)]
    return {
        "schema": 2, "run_id": "20261202T080000Z", "name": name, "mode": mode, "profile": "tuned",
        "client": client, "n": n, "c": c, "delay": delay, "route": "/", "port": 0,
        "url": server.url(f"delay={delay}&key={key}-{name}"), "monitor": monitor, "expect": expect,
        "time_limit": time_limit, "timeout": timeout, "unit": "flask-test.service", "app_host": "app",
        "loadgen_host": loadgens[0], "repetition": 1, "repeats": 1, "seed": None, "parts": parts,
    }


def write_plan(folder: Path, scripts: Path, runs: list[dict], loadgens: tuple[str, ...] = ("lg1",),
               port: int | None = None, deadline: float | None = None, token: str = TOKEN,
               **more: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    plan = {
        "schema": 1, "run_id": "20261202T080000Z", "token": token, "created_at": time.time(),
        "deadline": time.time() + 300 if deadline is None else deadline,
        "control": {"address": "127.0.0.1", "port": port or closed_port()},
        "app_host": "app", "loadgens": list(loadgens),
        "mode_command": str(scripts / "flaskbench-mode"), "switch_timeout": 60,
        "monitor_max_blocking": 0.1, "warmup_requests": 50, "runs": runs, **more,
    }
    path = folder / "plan.json"
    path.write_text(json.dumps(plan, indent=2))
    path.chmod(0o600)
    return path


class Runners:
    """The runner processes a test starts; any left at teardown are killed."""

    def __init__(self, scripts: Path) -> None:
        self.procs: list[subprocess.Popen] = []
        self.scripts = scripts

    def start(self, plan: Path, role: str, *options: str) -> subprocess.Popen:
        """The runner as the bench role starts it (python3 -m benchhost.run, the package on PYTHONPATH), with
        -S: nothing from site-packages; the app and upstream runners start the fake sampler."""
        sampler = ["--sampler", str(self.scripts / "sample")] if role in ("app", "upstream") else []
        argv = [sys.executable, "-S", "-m", "benchhost.run", role, "--plan", str(plan), *sampler, *options]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=HOST_ENV)
        self.procs.append(proc)
        return proc

    @staticmethod
    def finish(proc: subprocess.Popen, timeout: float = WAIT_S) -> tuple[int, str]:
        """The exit status and stderr (the runner's log)."""
        _out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err


def progress(plan: Path) -> list[dict]:
    path = plan.parent / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"no {what} within {timeout} s"
        time.sleep(0.05)


def processes_under(folder: Path) -> list[str]:
    """Processes whose command line names the folder (runners, wrappers, ab, wrk, the sampler)."""
    try:
        import psutil  # type: ignore[import-not-found]
    except ImportError:
        out = subprocess.run(["pgrep", "-a", "-f", str(folder)], capture_output=True, text=True).stdout
        return out.splitlines()
    return [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
            if str(folder) in " ".join(p.info["cmdline"] or [])]


def long_run(tmp_path: Path, scripts: Path, server: Server, time_limit: int = 30, timeout: int = 5) -> Path:
    """A plan whose one run would last ~50 s (2000 requests at 0.05 s over 2 connections)."""
    run = run_entry(server, tmp_path.name, "r", n=2000, delay=0.05, time_limit=time_limit, timeout=timeout)
    return write_plan(tmp_path / "plan", scripts, [run])


def wait_for_the_client(plan: Path) -> None:
    wait_until(lambda: (plan.parent / "load" / "lg1" / "r" / "ab.txt").exists(), "ab started")
    time.sleep(0.3)
