"""benchhost.clients.wrk + wrk.lua + benchhost.clients.wrk against REAL wrk on loopback.

tests/httpserver.py (the `server` fixture of conftest.py, HTTP/1.1, keep-alive
for HTTP/1.1 clients) answers after ?delay= seconds with ?status=, or stalls
after the first requests (?slow_after=&slow=). wrk 4.1 (Debian's `wrk`) runs
through the bench's own wrapper, as run_one.yml runs it (run.json in the
folder, `benchhost.clients.wrk --dir DIR --script wrk.lua`); the figures are
checked against what we know independently: the n we asked for, the
server's sleep, the count of requests it answered, the time limit.

Also the fixture generator: `PYTHONPATH=.:app:tests python tests/benchreport/test_wrk_live.py
capture tests/data/benchreport` re-records tests/data/benchreport/wrk and
tests/data/benchreport/clients-run, which tests/benchreport/test_wrk.py reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchhost.clients import wrk as wrk_client
from benchreport import model, render
from benchreport.summary import build_summary
from benchrun import HOST_ENV, LUA, WRK_CLIENT, bench_ab, bench_wrk, write_json, write_run
from httpserver import Server, closed_port

WRK = shutil.which("wrk")


def bench_wrk_once(out: Path, url: str, n: int, c: int, delay: float, **kwargs) -> dict:
    """One wrk run into `out` as the bench does it (benchrun.bench_wrk); returns loadgen.json."""
    return bench_wrk(out, url, n, c, delay, **kwargs)


def wrapper_module():
    return wrk_client


# --------------------------------------------------------------------------
# Tests

pytestmark = pytest.mark.skipif(WRK is None, reason="wrk missing: apt-get install -y wrk")


def test_threads_divide_c():
    pick = wrapper_module().pick_threads
    assert pick(200, 2) == 2 and pick(200, 8) == 8 and pick(10, 4) == 2
    assert pick(7, 4) == 1  # a prime: one thread, else 7 // t * t < 7 connections
    assert pick(3, 8) == 3  # never more threads than connections (wrk refuses)
    assert all(c % pick(c, cpus) == 0 and pick(c, cpus) <= min(c, cpus) for c in range(1, 60) for cpus in (1, 2, 3, 8))


def test_wrapper_reads_its_parameters_from_run_json(server, tmp_path):
    out = tmp_path / "results" / "20260101T000000Z" / "uwsgi-tuned-wrk"
    url = server.url("delay=0.01&key=params")
    lg = bench_wrk_once(out, url, 40, 4, 0.01, mode="uwsgi", time_limit=20, timeout=3, threads=2)
    assert sorted(p.name for p in out.iterdir()) == [
        "loadgen.json", "outcome.json", "run.json", "wrk.err", "wrk.json", "wrk.txt"]  # markers removed
    assert lg["wrk_argv"] == ["wrk", "-t", "2", "-c", "4", "-d", "20s", "--timeout", "3s", "--latency",
                              "-s", str(LUA), url]
    assert (lg["client"], lg["wrk_rc"], lg["threads"], lg["killed"]) == ("wrk", 0, 2, False)
    assert lg["kill_after_s"] == 20 + 3 + 30 and lg["signalled"]
    data = json.loads((out / "wrk.json").read_text())
    assert sum(t["share"] for t in data["per_thread"]) == 40  # n from run.json, shared by the threads
    [rec] = build_summary(out.parent, {})
    assert (rec["mode"], rec["client"], rec["n"], rec["c"], rec["time_limit_s"]) == ("uwsgi", "wrk", 40, 4, 20)
    assert rec["error"] is None and rec["client_rc"] == 0 and rec["client_threads"] == 2
    assert rec["warnings"] == ["server.json missing: no server CPU or memory"]  # no sampler here


@pytest.mark.parametrize("run,message", [
    (None, "run.json: FileNotFoundError"),
    ({"url": "http://127.0.0.1:9/", "n": 2, "c": 4, "time_limit": 1, "timeout": 1}, "need n >= c >= 1"),
    ({"url": "http://127.0.0.1:9/", "n": 4, "c": 2, "time_limit": 1}, "KeyError: 'timeout'"),
])
def test_wrapper_refuses_a_bad_run_json(tmp_path, run, message):
    if run is not None:
        write_json(tmp_path / "run.json", run)
    proc = subprocess.run([*WRK_CLIENT, "--dir", str(tmp_path)], env=HOST_ENV,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and message in proc.stderr
    assert not (tmp_path / "loadgen.json").exists() and not (tmp_path / "wrk.txt").exists()


def test_threads_must_divide_c(tmp_path):
    write_run(tmp_path, "http://127.0.0.1:9/", 10, 5, 0, client="wrk")
    proc = subprocess.run([*WRK_CLIENT, "--dir", str(tmp_path), "--threads", "2"], env=HOST_ENV,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--threads must divide run.json's c" in proc.stderr


@pytest.mark.parametrize("n,c,threads", [(300, 10, 2), (301, 9, 3), (120, 7, 1)])
def test_stops_after_n_well_before_the_time_limit(server, tmp_path, n, c, threads):
    delay, key = 0.02, f"n{n}c{c}"
    started = time.monotonic()
    lg = bench_wrk_once(tmp_path, server.url(f"delay={delay}&key={key}"), n, c, delay,
                        time_limit=30, threads=threads)
    elapsed = time.monotonic() - started
    run = wrk_client.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
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
    # wrk.lua's histogram dump: wrk's own percentiles come out of it (what merging several hosts uses)
    hist = run.latency_hist
    assert hist and sum(count for _, count in hist) >= run.requests  # wrk's correction may add samples
    assert (hist[0][0], hist[-1][0]) == (run.data["latency_us"]["min"], run.data["latency_us"]["max"])
    for p, key in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p99_9")):
        assert wrk_client.hist_percentile(hist, p) == run.data["latency_us"][key], p


@pytest.mark.parametrize("status,in_wrk_errors", [(503, True), (404, True), (302, False)])
def test_non_2xx_are_counted(server, tmp_path, status, in_wrk_errors):
    n = 40
    lg = bench_wrk_once(tmp_path, server.url(f"status={status}&key=s{status}"), n, 4, 0)
    run = wrk_client.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert run.error is None and run.requests >= n
    assert run.non_2xx == run.requests and run.failed == run.requests
    # wrk's own count only has status > 399
    assert run.errors["status"] == (run.requests if in_wrk_errors else 0)


@pytest.mark.parametrize("c,threads", [(1, 1), (4, 2)])
def test_status_counts_name_the_non_2xx(server, tmp_path, c, threads):
    """wrk.lua counts the answers per status (each thread its own, added up in done()), and the
    report names the non-2xx codes."""
    n, first_ok = 60, 20  # the key's first 20 answers are 200, the rest 502
    out = tmp_path / "results" / "20260101T000000Z" / "quart-tuned-wrk"
    lg = bench_wrk_once(out, server.url(f"status=502&status_after={first_ok}&key=codes{c}"), n, c, 0, mode="quart",
                        threads=threads)
    data = json.loads((out / "wrk.json").read_text())
    assert lg["wrk_rc"] == 0 and n <= data["requests"] < n + c
    # every answer, by code; the 502s are the Lua script's non-2xx and wrk's own errors.status
    bad = data["requests"] - first_ok
    assert data["status_counts"] == {"200": first_ok, "502": bad}
    assert data["non_2xx"] == data["errors"]["status"] == bad
    [rec] = build_summary(out.parent, {})
    assert rec["status_counts"] == {"200": first_ok, "502": bad} and rec["failed_detail"]["non_2xx"] == bad
    assert not any("status_counts" in w for w in rec["warnings"])
    assert f"- quart/tuned/wrk: {bad} non-2xx: 502 × {bad}\n" in render.markdown(model.records([rec]), out.parent.name)


def test_late_answers_are_timeouts_outside_the_histogram(server, tmp_path):
    n, c = 10, 2  # 4 fast answers, then 6 after 1.2 s > --timeout 1
    lg = bench_wrk_once(tmp_path, server.url("slow_after=4&slow=1.2&key=late"), n, c, 0, timeout=1)
    run = wrk_client.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert run.requests == n and not run.capped
    assert run.errors["timeout"] == 6 and run.failed == 6
    assert run.max_ms < 1000  # only the fast ones are in wrk's histogram


def test_capped_at_the_time_limit(server, tmp_path):
    n, c, delay = 50, 2, 0.3
    started = time.monotonic()
    lg = bench_wrk_once(tmp_path, server.url(f"delay={delay}&key=cap"), n, c, delay, time_limit=1)
    run = wrk_client.load_wrk_run(tmp_path, requested=n, exit_code=lg["wrk_rc"])
    assert not lg["signalled"] and lg["wrk_rc"] == 0 and run.error is None
    assert run.capped and 0 < run.requests < n and run.threads_reached == 0
    # wrk ran its -d of 1 s; the margin above is its stop on a busy machine, not a
    # figure of wrk's (the point is that it was capped, well before n)
    assert run.duration_from == "wrk" and 1.0 <= run.duration_s < 3.0
    assert run.requests <= c * (run.duration_s // delay)
    assert time.monotonic() - started < 10


def test_server_gone_mid_run(tmp_path):
    srv = Server()
    try:
        threading.Timer(0.5, srv.proc.kill).start()
        lg = bench_wrk_once(tmp_path, srv.url("delay=0.05&key=gone"), 400, 4, 0.05, time_limit=2)
    finally:
        srv.stop()
    run = wrk_client.load_wrk_run(tmp_path, requested=400, exit_code=lg["wrk_rc"])
    assert run.capped and 0 < run.requests < 400
    assert run.errors["connect"] + run.errors["read"] > 0 and run.failed > 0


def test_refused_is_an_error(tmp_path):
    lg = bench_wrk_once(tmp_path, f"http://127.0.0.1:{closed_port()}/", 4, 2, 0)
    run = wrk_client.load_wrk_run(tmp_path, requested=4, exit_code=lg["wrk_rc"])
    assert lg["wrk_rc"] != 0 and not run.has_stats
    assert run.error.startswith("unable to connect to 127.0.0.1") and "exit code" in run.error


def test_both_clients_in_one_report(server, tmp_path):
    """ab and wrk on the same server: they agree where ab's lone first request costs
    little (many rounds), and differ where it is a third of the run (3 rounds vs 2)."""
    if shutil.which("ab") is None:
        pytest.skip("ab missing")
    run_dir = tmp_path / "results" / "20260101T000000Z"
    for mode, n, c, delay in (("uwsgi", 400, 10, 0.05), ("gunicorn", 20, 10, 0.5)):
        url = server.url(f"delay={delay}&key={mode}")
        bench_ab(run_dir / f"{mode}-tuned", url, n, c, delay, mode=mode, server_pid=server.pid)
        bench_wrk_once(run_dir / f"{mode}-tuned-wrk", url, n, c, delay, mode=mode, server_pid=server.pid)
    records = build_summary(run_dir, {})
    assert [(r["mode"], r["client"]) for r in records] == [
        ("gunicorn", "ab"), ("gunicorn", "wrk"), ("uwsgi", "ab"), ("uwsgi", "wrk")]
    wrk = next(r for r in records if r["mode"] == "uwsgi" and r["client"] == "wrk")
    assert wrk["ab_ceiling_rps"] is None and wrk["steady_rps"] is None and wrk["raw_dir"] == "uwsgi-tuned-wrk"
    rows = {row.mode: row for row in render.compared(model.records(records))}
    # Live figures on a shared machine: compared within the run, as ratios (the 10% rule itself is
    # tested on recorded runs in test_wrk.py). ab's lone first request weighs on gunicorn's 3 rounds,
    # not on uwsgi's 41.
    assert rows["gunicorn"].agree is False and rows["gunicorn"].ratio > 1.3
    assert abs(rows["uwsgi"].ratio - 1) < abs(rows["gunicorn"].ratio - 1)
    assert any("ceiling" in why for why in rows["gunicorn"].why)
    md = render.markdown(model.records(records), run_dir.name)
    assert "## Clients compared" in md and "| client |" in md and "client CPU %" in md


# --------------------------------------------------------------------------
# Fixture capture: real runs, written where tests/benchreport/test_wrk.py reads them

def capture(dest: Path) -> None:
    """Re-record tests/data/benchreport/wrk and clients-run from real runs (~15 s)."""
    cases, run = dest / "wrk", dest / "clients-run"
    for d in (cases, run):
        if d.exists():
            shutil.rmtree(d)
    srv = Server()
    try:
        bench_wrk_once(cases / "ok", srv.url("delay=0.05&key=a"), 200, 10, 0.05)
        bench_wrk_once(cases / "errors", srv.url("status=503&slow_after=12&slow=1.2&key=b"), 20, 4, 0, timeout=1)
        bench_wrk_once(cases / "capped", srv.url("delay=0.3&key=c"), 50, 2, 0.3, time_limit=1)
        bench_wrk_once(cases / "refused", f"http://127.0.0.1:{closed_port()}/", 4, 2, 0)
        # ab and wrk on the same "modes", as bench.yml -e client=both leaves them
        for mode, n, c, delay in (("uwsgi", 400, 10, 0.05), ("gunicorn", 20, 10, 0.5)):
            url = srv.url(f"delay={delay}&key={mode}")
            bench_ab(run / f"{mode}-tuned", url, n, c, delay, mode=mode, server_pid=srv.pid)
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
    if sys.argv[1:2] == ["capture"] and len(sys.argv) == 3:
        capture(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: PYTHONPATH=.:app:tests {sys.argv[0]} capture DEST_DIR")
