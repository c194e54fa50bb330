"""benchreport against REAL ab runs on loopback.

A tiny HTTP server (this file, run as a subprocess) answers after ?delay=
seconds, with ?status=, a body length that varies (?vary=) or a stall after
the first requests (?slow_after=&slow=). ab (apache2-utils) runs against it
with small n and c; the parser's figures are checked against what we know
independently: the server's sleep, ab's per-request TSV, arithmetic on ab's
own totals, the count of requests we sent.

Also the fixture generator: `python tests/test_benchreport_live.py capture
tests/data/benchreport` re-records the files test_benchreport_parse.py uses.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchreport import EXIT_RUN_ERROR, abparse, render  # noqa: E402
from benchreport.summary import build_summary, load_modes  # noqa: E402

AB = shutil.which("ab")
CLK_TCK = os.sysconf("SC_CLK_TCK")
BODY = b"Hi there! slow api response"


# --------------------------------------------------------------------------
# The server (runs in its own process: `python this_file.py serve`)

def serve() -> None:
    """Serve on 127.0.0.1, an OS-chosen port, printed as the first stdout line."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    counters: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            with lock:
                i = counters.get(q.get("key", ""), 0)
                counters[q.get("key", "")] = i + 1
            delay = float(q.get("delay", 0))
            if "slow_after" in q and i >= int(q["slow_after"]):
                delay = float(q.get("slow", 5))
            time.sleep(delay)
            body = BODY + b"." * (i % 3 if "vary" in q else 0)
            self.send_response(int(q.get("status", 200)))
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Server:
    """The server subprocess: its port and pid (for /proc sampling)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve"], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"test server did not start: {line!r}")
        self.port = int(line)
        self.pid = self.proc.pid

    def url(self, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{('?' + query) if query else ''}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# One bench step, as bench.yml does it: sample, run ab, sample, write meta.json

def _proc_cpu_ns(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 10**9 // CLK_TCK  # utime, stime


def _proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_stat_line() -> str:
    return Path("/proc/stat").read_text().splitlines()[0]


def bench_once(
    out: Path, url: str, n: int, c: int, delay: float, *, mode: str = "test", profile: str = "tuned",
    time_limit: int | None = None, timeout: int = 5, server_pid: int | None = None,
    recv_errors_ok: bool = True, n_before_t: bool = False, combined: bool = False,
) -> int:
    """Run ab once into `out` (ab.txt, ab.err, ab.tsv, ab.csv, meta.json); return ab's status."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["ab"] + (["-r"] if recv_errors_ok else [])
    limit = ["-t", str(time_limit)] if time_limit else []
    argv += (["-n", str(n)] + limit) if n_before_t else (limit + ["-n", str(n)])
    argv += ["-c", str(c), "-s", str(timeout), "-g", str(out / "ab.tsv"), "-e", str(out / "ab.csv"), url]

    peak = {"rss": 0, "samples": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak["rss"] = max(peak["rss"], _proc_rss_kib(server_pid))
                peak["samples"] += 1
            except OSError:
                pass
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    cpu_before = _proc_cpu_ns(server_pid) if server_pid else None
    stat_before = _cpu_stat_line()
    started = datetime.now(timezone.utc)
    if server_pid:
        sampler.start()
    t0 = os.times()
    with open(out / "ab.txt", "w") as so:
        if combined:  # one file, as `ab ... >ab.txt 2>&1` leaves it
            rc = subprocess.run(argv, stdout=so, stderr=subprocess.STDOUT, timeout=120).returncode
        else:
            with open(out / "ab.err", "w") as se:
                rc = subprocess.run(argv, stdout=so, stderr=se, timeout=120).returncode
    t1 = os.times()
    stop.set()
    if server_pid:
        sampler.join()
    ended = datetime.now(timezone.utc)
    meta = {
        "schema": 1,
        "run_id": out.parent.name,
        "mode": mode,
        "profile": profile,
        "n": n,
        "c": c,
        "delay": delay,
        "route": "/",
        "url": url,
        "time_limit_s": time_limit,
        "timeout_s": timeout,
        "ab_argv": [a.replace(str(out) + "/", "") for a in argv],
        "ab_rc": rc,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ended_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "app_host": "localhost",
        "loadgen_host": "localhost",
        "error": None,
        "server": {
            "unit": "test-server",
            "cpu_ns_before": cpu_before,
            "cpu_ns_after": _proc_cpu_ns(server_pid) if server_pid else None,
            "cpu_source": "proc" if server_pid else None,
            "peak_rss_kib": peak["rss"] or None,
            "rss_source": "proc" if server_pid else None,
            "rss_samples": peak["samples"],
        },
        "loadgen": {
            "cpus": os.cpu_count(),
            "cpu_stat_before": stat_before,
            "cpu_stat_after": _cpu_stat_line(),
            "ab_cpu_ms": round((t1.children_user + t1.children_system - t0.children_user - t0.children_system) * 1000),
        },
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return rc


# --------------------------------------------------------------------------
# Tests

pytestmark = pytest.mark.skipif(AB is None, reason="ab missing: apt-get install -y apache2-utils")

@pytest.fixture(scope="module")
def server():
    srv = Server()
    yield srv
    srv.stop()

def _tsv_sorted(run: abparse.AbRun) -> list[float]:
    assert run.tsv is not None
    return sorted(float(r.ttime) for r in run.tsv)

def test_ok_run_matches_tsv_and_the_server_delay(server, tmp_path):
    n, c, delay = 60, 6, 0.05
    rc = bench_once(tmp_path, server.url(f"delay={delay}&key=ok"), n, c, delay, server_pid=server.pid)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    t = run.text
    assert rc == 0 and run.error is None and run.warnings == []
    assert t.complete == n and len(run.tsv) == n
    assert run.failed == 0 and not run.capped
    # ab's req/s and mean time are its totals divided, within its print rounding
    assert t.rps == pytest.approx(t.complete / t.time_taken_s, abs=0.01 + t.rps * 0.001)
    assert t.mean_ms == pytest.approx(c * t.time_taken_s * 1000 / t.complete, rel=0.002)
    # every request waited at least the server's sleep
    tsv = _tsv_sorted(run)
    assert tsv[0] >= delay * 1000 - 1
    assert run.p50_ms >= delay * 1000 - 1
    # percentiles agree with the TSV's own ranks (the TSV is ab's data rounded to 1 ms)
    assert run.percentiles_from == "csv"
    assert abs(run.p50_ms - tsv[int(0.5 + n * 0.5)]) <= 0.5
    assert abs(run.p99_ms - tsv[int(0.5 + n * 0.99)]) <= 0.5
    assert abs(run.max_ms - tsv[-1]) <= 0.5
    assert run.p50_ms <= run.p99_ms <= run.max_ms
    # ab's text percentile table says the same, in whole ms
    assert abs(t.text_percentiles[100] - run.max_ms) <= 0.5

def test_csv_rows_past_abs_data_mean_the_slowest_request(server, tmp_path):
    n, c = 50, 5  # ab's CSV row 99 reads stats[50]: past its 50 entries
    rc = bench_once(tmp_path, server.url("delay=0.02&key=csv50"), n, c, 0.02)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert not abparse.csv_row_valid(99, n) and abparse.csv_row_valid(98, n)
    assert run.p99_ms == run.max_ms == run.csv[100]
    assert abs(run.p99_ms - _tsv_sorted(run)[-1]) <= 0.5  # the TSV's slowest, in whole ms
    assert run.csv[98] <= run.p99_ms and run.percentiles_from == "csv"

def test_heartbeat_lines_and_finished_count(server, tmp_path):
    n = 200  # above 150 ab prints "Completed 100 requests"... on stderr
    rc = bench_once(tmp_path, server.url("delay=0&key=hb"), n, 10, 0)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert "Finished 200 requests" in (tmp_path / "ab.err").read_text()
    assert run.text.finished == n == run.complete == len(run.tsv)
    assert run.error is None and not run.capped

def test_non_2xx_counts_as_failed(server, tmp_path):
    n = 20
    rc = bench_once(tmp_path, server.url("status=503&key=503"), n, 2, 0)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert run.text.failed == 0  # ab itself does not call them failed
    assert run.text.non_2xx == n and run.failed == n
    assert run.error is None

def test_length_failures_match_the_bodies_we_sent(server, tmp_path):
    # request i gets i % 3 extra bytes: of 30 requests, 10 share the first
    # answer's length and 20 differ, whatever order they complete in
    n = 30
    rc = bench_once(tmp_path, server.url("vary=1&delay=0.01&key=vary"), n, 3, 0.01)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert run.text.length_errors == 20 and run.text.failed == 20 and run.failed == 20
    assert run.text.complete == n

def test_connection_refused_with_r_is_an_error_with_stats(tmp_path):
    n = 20
    rc = bench_once(tmp_path, f"http://127.0.0.1:{closed_port()}/", n, 2, 1)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert rc == 0 and run.text.has_stats
    assert run.text.bytes_received == 0 and run.text.receive_errors > 0
    assert run.failed >= run.complete  # ab may count one refusal twice
    assert run.error is not None and "no byte received" in run.error.message

def test_connection_refused_without_r_is_a_structured_error(tmp_path):
    rc = bench_once(tmp_path, f"http://127.0.0.1:{closed_port()}/", 4, 2, 1, recv_errors_ok=False)
    run = abparse.load_ab_run(tmp_path, requested=4, exit_code=rc)
    assert rc != 0 and not run.text.has_stats
    assert run.error.message == "apr_socket_recv: Connection refused (111)"
    assert run.error.exit_code == rc and run.p50_ms is None

def test_timeout_abort_keeps_the_partial_count(server, tmp_path):
    # c=1: 3 fast answers, then the server stalls 3 s > ab's -s 1
    rc = bench_once(tmp_path, server.url("slow_after=3&slow=3&key=stall"), 6, 1, 0, timeout=1)
    run = abparse.load_ab_run(tmp_path, requested=6, exit_code=rc)
    assert rc != 0 and not run.text.has_stats
    assert "timeout specified has expired" in run.error.message
    assert run.error.completed_before_abort == 3

def test_time_capped_run(server, tmp_path):
    n, c, delay = 50, 2, 0.3
    rc = bench_once(tmp_path, server.url(f"delay={delay}&key=cap"), n, c, delay, time_limit=1)
    run = abparse.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert rc == 0 and run.error is None and run.capped
    assert 0 < run.complete < n and len(run.tsv) == run.complete
    # c connections, each answered after >= 0.3 s, in ab's elapsed time
    assert run.text.time_taken_s >= 1.0
    assert run.complete <= c * math.floor(run.text.time_taken_s / delay)

def test_n_before_t_is_not_a_cap(server, tmp_path):
    """Why bench.yml must pass -t before -n: -t resets ab's count to 50000."""
    rc = bench_once(tmp_path, server.url("delay=0.1&key=order"), 5, 1, 0.1, time_limit=1, n_before_t=True)
    run = abparse.load_ab_run(tmp_path, requested=5, exit_code=rc)
    assert run.complete > 5

def test_ab_sends_its_first_request_alone(server, tmp_path):
    """The fact behind ab_ceiling_rps and steady_rps, on the real binary: with a
    1 s server, 20 requests at c=10 take 3 s (1, then 10, then 9), not 2."""
    n, c, delay = 20, 10, 1
    run_dir = tmp_path / "results" / "20260101T000000Z"
    bench_once(run_dir / "uwsgi-tuned", server.url(f"delay={delay}&key=lone"), n, c, delay,
               mode="uwsgi", profile="tuned", server_pid=server.pid)
    run = abparse.load_ab_run(run_dir / "uwsgi-tuned", requested=n, exit_code=0)
    per_second = [count for _, count in sorted(Counter(r.seconds for r in run.tsv).items())]
    assert per_second[0] == 1 and sum(per_second) == n
    assert run.text.time_taken_s >= 3.0 - 0.01
    rec = build_summary(run_dir, {})[0]
    assert rec["error"] is None and rec["complete"] == n
    assert rec["ab_ceiling_rps"] == pytest.approx(20 / 3, abs=0.001) and rec["ab_ceiling_pct"] == 66.7
    assert 90 <= rec["pct_of_ceiling"] <= 100.5
    # after the lone request: 19 requests in 2 rounds of 1 s
    assert rec["steady_rps_from"] == "first-request"
    assert rec["steady_rps"] == pytest.approx(19 / 2.0, rel=0.05) and rec["steady_rps"] <= 9.5 + 0.01
    assert rec["loadgen_cpu_pct"] is not None and 0 <= rec["loadgen_cpu_pct"] < 50


def test_summary_render_and_cli_end_to_end(server, tmp_path):
    run_dir = tmp_path / "results" / "20260101T000000Z"
    bench_once(run_dir / "uwsgi-seed", server.url("delay=0.05&key=e1"), 40, 4, 0.05,
               mode="uwsgi", profile="seed", server_pid=server.pid)
    bench_once(run_dir / "uwsgi-tuned", server.url("delay=0.05&key=e2"), 40, 8, 0.05,
               mode="uwsgi", profile="tuned", server_pid=server.pid)
    modes = load_modes(ROOT / "app" / "benchapp" / "modes.yml")
    records = build_summary(run_dir, modes)
    assert [(r["mode"], r["profile"]) for r in records] == [("uwsgi", "seed"), ("uwsgi", "tuned")]
    for rec in records:
        meta = json.loads((run_dir / rec["raw_dir"] / "meta.json").read_text())
        assert rec["error"] is None and rec["complete"] == 40
        assert rec["ideal_rps"] == pytest.approx(rec["c"] / 0.05)
        assert rec["pct_of_ideal"] == pytest.approx(100 * rec["rps"] / rec["ideal_rps"], abs=0.05)
        assert rec["pct_of_ideal"] <= 100.5  # the server sleeps 0.05 s per request
        cpu_ms = (meta["server"]["cpu_ns_after"] - meta["server"]["cpu_ns_before"]) / 1e6
        assert rec["cpu_ms_per_req"] == pytest.approx(cpu_ms / 40, abs=0.001)
        assert rec["peak_rss_mib"] == pytest.approx(meta["server"]["peak_rss_kib"] / 1024, abs=0.05)
        assert 0 <= rec["host_cpu_pct"] <= 100
        assert rec["loadgen_cpu_pct"] is None  # a ~0.55 s run: too short for ab's CPU share
        # 1 lone request + ceil(39/c) rounds of 0.05 s
        assert rec["ab_ceiling_rps"] == pytest.approx(40 / (0.05 * (1 + math.ceil(39 / rec["c"]))), abs=0.001)
        assert rec["pct_of_ceiling"] <= 100.5
        assert rec["seed_rps"] == modes["uwsgi"]["seed_rps"]

    proc = subprocess.run([sys.executable, "-m", "benchreport", str(run_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run_dir / "summary.json").read_text()) == records
    latest = run_dir.parent / "latest"
    assert latest.is_symlink() and os.readlink(latest) == run_dir.name
    assert latest.resolve() == run_dir.resolve()
    assert (run_dir / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "uwsgi  seed" in proc.stdout and render.text_table(records) in proc.stdout

    # a mode that did not start: the report is still written, exit status 3
    broken = run_dir / "gunicorn-seed"
    broken.mkdir()
    (broken / "meta.json").write_text(json.dumps(
        {"schema": 1, "mode": "gunicorn", "profile": "seed", "n": 40, "c": 4, "delay": 0.05,
         "ab_rc": None, "error": "flask-gunicorn did not report /healthz within 30 s"}))
    proc = subprocess.run([sys.executable, "-m", "benchreport", str(run_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_RUN_ERROR, proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary) == 3
    bad = next(r for r in summary if r["mode"] == "gunicorn")
    assert bad["error"].startswith("flask-gunicorn did not report") and bad["rps"] is None
    assert "gunicorn/seed: ERROR: flask-gunicorn did not report" in proc.stdout



# --------------------------------------------------------------------------
# Fixture capture: real runs, written where test_benchreport_parse.py reads them

def capture(dest: Path) -> None:
    """Re-record tests/data/benchreport from real ab runs (takes ~10 s)."""
    srv = Server()
    try:
        run = dest / "run-sample"
        cases = dest / "ab"
        for d in (run, cases):
            if d.exists():
                shutil.rmtree(d)
        # a sample run directory, as bench.yml would leave it (mode names borrowed)
        bench_once(run / "uwsgi-seed", srv.url("delay=0.05&key=a"), 50, 5, 0.05,
                   mode="uwsgi", profile="seed", server_pid=srv.pid)
        bench_once(run / "uwsgi-tuned", srv.url("delay=0.05&key=b"), 200, 10, 0.05,
                   mode="uwsgi", profile="tuned", server_pid=srv.pid)
        bench_once(run / "devserver-seed", srv.url("delay=0.3&key=c"), 50, 2, 0.3,
                   mode="devserver", profile="seed", time_limit=1, server_pid=srv.pid)
        bench_once(run / "gunicorn-seed", srv.url("status=503&key=d"), 20, 2, 0,
                   mode="gunicorn", profile="seed", server_pid=srv.pid)
        bench_once(run / "gunicorn-tuned", f"http://127.0.0.1:{closed_port()}/", 20, 2, 1,
                   mode="gunicorn", profile="tuned")
        bench_once(run / "psycopg2-seed", srv.url("delay=3&key=e"), 4, 2, 3,
                   mode="psycopg2", profile="seed", timeout=1, server_pid=srv.pid)
        (run / "psycogreen-seed").mkdir()
        (run / "psycogreen-seed" / "meta.json").write_text(json.dumps({
            "schema": 1, "mode": "psycogreen", "profile": "seed", "n": 10, "c": 5, "delay": 1,
            "route": "/db", "ab_rc": None,
            "error": "flask-psycogreen did not report /healthz within 30 s"}, indent=2) + "\n")
        # parser-only edge cases
        bench_once(cases / "length", srv.url("vary=1&delay=0.01&key=f"), 30, 3, 0.01)
        bench_once(cases / "refused-no-r", f"http://127.0.0.1:{closed_port()}/", 4, 2, 1,
                   recv_errors_ok=False)
        bench_once(cases / "stall-abort", srv.url("slow_after=3&slow=3&key=g"), 6, 1, 0, timeout=1)
        # stdout and stderr captured together (2>&1)
        bench_once(cases / "combined", srv.url("delay=0&key=h"), 200, 10, 0, combined=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["capture"] and len(sys.argv) == 3:
        capture(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} serve | capture DEST_DIR")
