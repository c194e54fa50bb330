"""bench-wrk.py + bench-wrk.lua + benchreport.wrkparse against REAL wrk on loopback.

A small HTTP/1.1 keep-alive server (this file, run as a subprocess) answers
after ?delay= seconds with ?status=, or stalls after the first requests
(?slow_after=&slow=). wrk 4.1 (Debian's `wrk`) runs through the bench's own
wrapper; the figures are checked against what we know independently: the n
we asked for, the server's sleep, the count of requests it answered, the
time limit.

Also the fixture generator: `python tests/test_benchreport_wrk_live.py
capture tests/data/benchreport` re-records tests/data/benchreport/wrk and
tests/data/benchreport/clients-run, which test_benchreport_wrk.py reads.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchreport import render, wrkparse  # noqa: E402
from benchreport.summary import build_summary  # noqa: E402

WRK = shutil.which("wrk")
WRAPPER = ROOT / "roles" / "bench" / "files" / "bench-wrk.py"
LUA = ROOT / "roles" / "bench" / "files" / "bench-wrk.lua"
BODY = b"Hi there! slow api response"


# --------------------------------------------------------------------------
# The server (its own process: `python this_file.py serve`)

def serve() -> None:
    """Serve HTTP/1.1 (1.0 to 1.0 requests, as the bench's wrk sends) on 127.0.0.1;
    the port is the first stdout line.

    GET /count answers how many other requests it has answered (per ?key=).
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    counters: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without TCP_NODELAY the body
        # waits for the client's delayed ACK (+40 ms per request on keep-alive)
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/count":
                body = str(counters.get(q.get("key", ""), 0)).encode()
                status = 200
            else:
                with lock:
                    i = counters.get(q.get("key", ""), 0)
                    counters[q.get("key", "")] = i + 1
                delay = float(q.get("delay", 0))
                if "slow_after" in q and i >= int(q["slow_after"]):
                    delay = float(q.get("slow", 5))
                time.sleep(delay)
                body, status = BODY, int(q.get("status", 200))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            if self.request_version == "HTTP/1.0":
                # as real servers do (gunicorn, gevent, nginx...): the client
                # then knows the close is the end of this answer, not an error
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # wrk stopped with this request in flight

        def log_message(self, *args: object) -> None:
            pass

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except OSError:
                self.close_connection = True

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Server:
    """The server subprocess: its port and pid."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "serve"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"test server did not start: {line!r}")
        self.port = int(line)
        self.pid = self.proc.pid

    def url(self, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{('?' + query) if query else ''}"

    def answered(self, key: str) -> int:
        """How many requests with ?key=key the server has answered (or is answering)."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count?key={key}", timeout=5) as resp:
            return int(resp.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------
# One bench step, as run_one.yml does it for client=wrk

def bench_wrk_once(out: Path, url: str, n: int, c: int, delay: float, *, mode: str = "test",
                   profile: str = "tuned", time_limit: int = 30, timeout: int = 5,
                   threads: int = 0) -> dict:
    """Run bench-wrk.py into `out` and write meta.json as the bench does; return loadgen.json."""
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(WRAPPER), "--dir", str(out), "--n", str(n), "--c", str(c),
            "--time-limit", str(time_limit), "--timeout", str(timeout),
            "--kill-after", str(time_limit + timeout + 30), "--script", str(LUA)]
    if threads:
        argv += ["--threads", str(threads)]
    subprocess.run(argv + [url], check=True, capture_output=True, timeout=time_limit + timeout + 60)
    lg = json.loads((out / "loadgen.json").read_text())
    meta = {
        "schema": 1, "run_id": out.parent.name, "mode": mode, "profile": profile, "client": "wrk",
        "n": n, "c": c, "delay": delay, "route": "/", "url": url,
        "time_limit_s": time_limit, "timeout_s": timeout,
        "wrk_argv": [a if a != str(LUA) else "bench-wrk.lua" for a in lg["wrk_argv"]],
        "wrk_rc": lg["wrk_rc"], "threads": lg["threads"],
        "started_at": lg["started_at"], "ended_at": lg["ended_at"],
        "app_host": "localhost", "loadgen_host": "localhost", "error": None,
        "monitor": False, "blocked": None, "server": None,
        "loadgen": {k: lg.get(k) for k in ("cpus", "cpu_stat_before", "cpu_stat_after", "wrk_cpu_ms", "killed")},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return lg


def wrapper_module():
    spec = importlib.util.spec_from_file_location("bench_wrk", WRAPPER)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------
# Tests

pytestmark = pytest.mark.skipif(WRK is None, reason="wrk missing: apt-get install -y wrk")


@pytest.fixture(scope="module")
def server():
    srv = Server()
    yield srv
    srv.stop()


def test_threads_divide_c():
    pick = wrapper_module().pick_threads
    assert pick(200, 2) == 2 and pick(200, 8) == 8 and pick(10, 4) == 2
    assert pick(7, 4) == 1  # a prime: one thread, else 7 // t * t < 7 connections
    assert pick(3, 8) == 3  # never more threads than connections (wrk refuses)
    assert all(c % pick(c, cpus) == 0 and pick(c, cpus) <= min(c, cpus) for c in range(1, 60) for cpus in (1, 2, 3, 8))


@pytest.mark.parametrize("n,c,threads", [(300, 10, 2), (301, 9, 3), (120, 7, 1)])
def test_stops_after_n_well_before_the_time_limit(server, tmp_path, n, c, threads):
    delay, key = 0.02, f"n{n}c{c}"
    started = time.monotonic()
    lg = bench_wrk_once(tmp_path, server.url(f"delay={delay}&key={key}"), n, c, delay,
                        time_limit=30, threads=threads)
    elapsed = time.monotonic() - started
    run = wrkparse.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert lg["wrk_rc"] == 0 and lg["signalled"] and not lg["killed"] and run.error is None
    assert elapsed < 15, "wrk was not stopped at n: it slept its -d"
    # n responses, plus at most what was in flight when the threads stopped
    assert n <= run.requests < n + c and not run.capped
    assert run.threads == threads and run.threads_reached == threads
    shares = [t["share"] for t in run.data["per_thread"]]
    assert sum(shares) == n and max(shares) - min(shares) <= 1
    # the server answered what wrk counted, and at most c - threads more (abandoned in flight)
    time.sleep(delay * 3)
    answered = server.answered(key)
    assert run.requests <= answered <= run.requests + c
    # c connections answered after `delay` each: n/c rounds at least
    assert run.duration_from == "threads"
    assert run.duration_s >= (n // c) * delay * 0.98
    assert run.rps == pytest.approx(run.requests / run.duration_s, abs=0.01)
    assert run.rps <= c / delay * 1.02
    assert delay * 1000 <= run.p50_ms <= run.p99_ms <= run.max_ms
    assert run.failed == 0 and run.non_2xx == 0


@pytest.mark.parametrize("status,in_wrk_errors", [(503, True), (404, True), (302, False)])
def test_non_2xx_are_counted(server, tmp_path, status, in_wrk_errors):
    n = 40
    lg = bench_wrk_once(tmp_path, server.url(f"status={status}&key=s{status}"), n, 4, 0)
    run = wrkparse.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert run.error is None and run.requests >= n
    assert run.non_2xx == run.requests and run.failed == run.requests
    # wrk's own count only has status > 399
    assert run.errors["status"] == (run.requests if in_wrk_errors else 0)


def test_late_answers_are_timeouts_outside_the_histogram(server, tmp_path):
    n, c = 10, 2  # 4 fast answers, then 6 after 1.2 s > --timeout 1
    lg = bench_wrk_once(tmp_path, server.url("slow_after=4&slow=1.2&key=late"), n, c, 0, timeout=1)
    run = wrkparse.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert run.requests == n and not run.capped
    assert run.errors["timeout"] == 6 and run.failed == 6
    assert run.max_ms < 1000  # only the fast ones are in wrk's histogram


def test_capped_at_the_time_limit(server, tmp_path):
    n, c, delay = 50, 2, 0.3
    started = time.monotonic()
    lg = bench_wrk_once(tmp_path, server.url(f"delay={delay}&key=cap"), n, c, delay, time_limit=1)
    run = wrkparse.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert not lg["signalled"] and lg["wrk_rc"] == 0 and run.error is None
    assert run.capped and 0 < run.requests < n and run.threads_reached == 0
    assert run.duration_from == "wrk" and 1.0 <= run.duration_s < 1.5
    assert run.requests <= c * (run.duration_s // delay)
    assert time.monotonic() - started < 10


def test_server_gone_mid_run(tmp_path):
    srv = Server()
    try:
        threading.Timer(0.5, srv.proc.kill).start()
        lg = bench_wrk_once(tmp_path, srv.url("delay=0.05&key=gone"), 400, 4, 0.05, time_limit=2)
    finally:
        srv.stop()
    run = wrkparse.load_wrk_run(tmp_path, requested=400, exit_code=lg["wrk_rc"])
    assert run.capped and 0 < run.requests < 400
    assert run.errors["connect"] + run.errors["read"] > 0 and run.failed > 0


def test_refused_is_an_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lg = bench_wrk_once(tmp_path, f"http://127.0.0.1:{port}/", 4, 2, 0)
    run = wrkparse.load_wrk_run(tmp_path, requested=4, exit_code=lg["wrk_rc"])
    assert lg["wrk_rc"] != 0 and not run.has_stats
    assert run.error.startswith("unable to connect to 127.0.0.1") and "exit code" in run.error


def test_both_clients_in_one_report(server, tmp_path):
    """ab and wrk on the same server: they agree where ab's lone first request costs
    little (many rounds), and differ where it is a third of the run (3 rounds vs 2)."""
    ab_live = pytest.importorskip("test_benchreport_live")
    if ab_live.AB is None:
        pytest.skip("ab missing")
    run_dir = tmp_path / "results" / "20260101T000000Z"
    for mode, n, c, delay in (("uwsgi", 400, 10, 0.05), ("gunicorn", 20, 10, 0.5)):
        url = server.url(f"delay={delay}&key={mode}")
        ab_live.bench_once(run_dir / f"{mode}-tuned", url, n, c, delay, mode=mode)
        bench_wrk_once(run_dir / f"{mode}-tuned-wrk", url, n, c, delay, mode=mode)
    records = build_summary(run_dir, {})
    assert [(r["mode"], r["client"]) for r in records] == [
        ("gunicorn", "ab"), ("gunicorn", "wrk"), ("uwsgi", "ab"), ("uwsgi", "wrk")]
    wrk = next(r for r in records if r["mode"] == "uwsgi" and r["client"] == "wrk")
    assert wrk["ab_ceiling_rps"] is None and wrk["steady_rps"] is None and wrk["raw_dir"] == "uwsgi-tuned-wrk"
    rows = {row["mode"]: row for row in render.compared(records)}
    assert rows["uwsgi"]["agree"] is True
    assert rows["gunicorn"]["agree"] is False and rows["gunicorn"]["ratio"] > 1.3
    assert any("ceiling" in why for why in rows["gunicorn"]["why"])
    md = render.markdown(records, run_dir.name)
    assert "## Clients compared" in md and "| client |" in md and "client CPU %" in md


# --------------------------------------------------------------------------
# Fixture capture: real runs, written where test_benchreport_wrk.py reads them

def _stamp(out: Path, **changes: object) -> None:
    meta = json.loads((out / "meta.json").read_text())
    meta.update(changes)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def capture(dest: Path) -> None:
    """Re-record tests/data/benchreport/wrk and clients-run from real runs (~15 s)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_benchreport_live as ab_live

    cases, run = dest / "wrk", dest / "clients-run"
    for d in (cases, run):
        if d.exists():
            shutil.rmtree(d)
    srv = Server()
    try:
        bench_wrk_once(cases / "ok", srv.url("delay=0.05&key=a"), 200, 10, 0.05)
        bench_wrk_once(cases / "errors", srv.url("status=503&slow_after=12&slow=1.2&key=b"), 20, 4, 0, timeout=1)
        bench_wrk_once(cases / "capped", srv.url("delay=0.3&key=c"), 50, 2, 0.3, time_limit=1)
        bench_wrk_once(cases / "refused", f"http://127.0.0.1:{ab_live.closed_port()}/", 4, 2, 0)
        # ab and wrk on the same "modes", as bench.yml -e client=both leaves them
        for mode, n, c, delay in (("uwsgi", 400, 10, 0.05), ("gunicorn", 20, 10, 0.5)):
            url = srv.url(f"delay={delay}&key={mode}")
            ab_live.bench_once(run / f"{mode}-tuned", url, n, c, delay, mode=mode, server_pid=srv.pid)
            _stamp(run / f"{mode}-tuned", client="ab")
            bench_wrk_once(run / f"{mode}-tuned-wrk", url, n, c, delay, mode=mode)
    finally:
        srv.stop()
    gone = Server()
    try:
        threading.Timer(0.5, gone.proc.kill).start()
        bench_wrk_once(cases / "server-gone", gone.url("delay=0.05&key=d"), 400, 4, 0.05, time_limit=2)
    finally:
        gone.stop()
    print(f"captured at {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} into {cases} and {run}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["capture"] and len(sys.argv) == 3:
        capture(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} serve | capture DEST_DIR")
