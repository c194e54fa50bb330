"""Run folders as the bench leaves them, made on loopback for the live tests and the captures.

run_one.yml writes run.json, runs benchhost.clients.ab or
benchhost.clients.wrk (--dir: they read run.json and write the client's files and
loadgen.json), samples the unit into server.json and writes outcome.json.
`bench_ab` and `bench_wrk` do the same against a local process; `write_run`,
`write_outcome` and `ServerSampler` are the pieces, for runs that call the
client some other way (tests/benchreport/test_live.py's bench_once).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

#: The repository (tests/ sits at its top; the tests in tests/<package>/ take their paths from here).
ROOT = Path(__file__).resolve().parent.parent
#: The recorded runs and client outputs the report's tests read.
DATA = ROOT / "tests" / "data" / "benchreport"
#: The host side's programs as the bench hosts run them: python3 -m benchhost.X with the package's
#: folder on PYTHONPATH (the bench role's bench_host_env), so a test runs this checkout's code.
HOST_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
AB_CLIENT = [sys.executable, "-m", "benchhost.clients.ab"]
WRK_CLIENT = [sys.executable, "-m", "benchhost.clients.wrk"]
RATE_CLIENT = [sys.executable, "-m", "benchhost.clients.rate"]
LUA = ROOT / "benchhost" / "clients" / "wrk.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def edit_json(path: Path, **changes: Any) -> dict:
    """Change some keys of a JSON object file; return the new object."""
    data = json.loads(path.read_text())
    data.update(changes)
    write_json(path, data)
    return data


def write_run(out: Path, url: str, n: int, c: int, delay: float, *, mode: str = "test", profile: str = "tuned",
              client: str = "ab", time_limit: int | None = 30, timeout: int | None = 5, monitor: bool = False,
              expect: str | None = None) -> dict:
    """run.json (schema 2) in `out`, created: the plan entry the bench writes before a run."""
    out.mkdir(parents=True, exist_ok=True)
    parsed = urlparse(url)
    run = {
        "schema": 2, "run_id": out.parent.name, "name": out.name, "mode": mode, "profile": profile,
        "client": client, "n": n, "c": c, "delay": delay, "route": parsed.path or "/", "port": parsed.port,
        "url": url, "monitor": monitor, "expect": expect, "time_limit": time_limit, "timeout": timeout,
        "unit": "test-server", "app_host": "localhost", "loadgen_host": "localhost",
    }
    write_json(out / "run.json", run)
    return run


def write_outcome(out: Path, error: str | None = None, blocked: int | None = None) -> None:
    """outcome.json, as the bench writes it after the run."""
    write_json(out / "outcome.json", {"error": error, "blocked": blocked})


def _proc_cpu_ns(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 10**9 // CLK_TCK  # utime, stime


def _proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ServerSampler:
    """benchhost.sample's figures for one local process: `with ServerSampler(pid, out):` writes server.json.

    With pid None it does nothing (no server.json, as when the sampler failed).
    """

    def __init__(self, pid: int | None, out: Path) -> None:
        self.pid, self.out = pid, out
        self.peak, self.samples = 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, _proc_rss_kib(self.pid))
                self.samples += 1
            except OSError:
                pass
            self.stop.wait(0.05)

    def __enter__(self) -> ServerSampler:
        if self.pid:
            self.before = _proc_cpu_ns(self.pid)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.pid:
            return
        self.stop.set()
        self.thread.join()
        write_json(self.out / "server.json", {
            "unit": "test-server", "cpu_ns_before": self.before, "cpu_ns_after": _proc_cpu_ns(self.pid),
            "cpu_source": "proc", "peak_rss_kib": self.peak or None, "rss_source": "proc",
            "rss_samples": self.samples,
        })


def bench_ab(out: Path, url: str, n: int, c: int, delay: float, *, server_pid: int | None = None,
             **spec: Any) -> dict:
    """One ab run as run_one.yml does it: run.json, benchhost.clients.ab --dir, server.json, outcome.json.

    Returns loadgen.json's object.
    """
    run = write_run(out, url, n, c, delay, client="ab", **spec)
    with ServerSampler(server_pid, out):
        subprocess.run([*AB_CLIENT, "--dir", str(out)], check=True, capture_output=True, env=HOST_ENV,
                       timeout=run["time_limit"] + run["timeout"] + 60)
    write_outcome(out)
    return json.loads((out / "loadgen.json").read_text())


def bench_wrk(out: Path, url: str, n: int, c: int, delay: float, *, threads: int = 0,
              server_pid: int | None = None, **spec: Any) -> dict:
    """One wrk run as run_one.yml does it: run.json, benchhost.clients.wrk --dir --script, server.json, outcome.json.

    Returns loadgen.json's object.
    """
    run = write_run(out, url, n, c, delay, client="wrk", **spec)
    argv = [*WRK_CLIENT, "--dir", str(out), "--script", str(LUA)]
    if threads:
        argv += ["--threads", str(threads)]
    with ServerSampler(server_pid, out):
        subprocess.run(argv, check=True, capture_output=True, env=HOST_ENV,
                       timeout=run["time_limit"] + run["timeout"] + 60)
    write_outcome(out)
    return json.loads((out / "loadgen.json").read_text())

