"""benchreport and benchhost/clients/ab.py against REAL ab runs on loopback.

tests/httpserver.py (a subprocess, the `server` fixture of conftest.py)
answers after ?delay= seconds, with ?status=, a body length that varies
(?vary=) or a stall after the first requests (?slow_after=&slow=). ab
(apache2-utils) runs against it with small n and c, through the bench's
wrapper (benchhost.clients.ab --dir) or, for the edge cases the wrapper never asks
for (no -r, -n before -t, 2>&1), directly; the parser's figures are checked
against what we know independently: the server's sleep, ab's per-request
TSV, arithmetic on ab's own totals, the count of requests we sent.

Also the fixture generator: `PYTHONPATH=.:app:tests python tests/benchreport/test_live.py
capture tests/data/benchreport` re-records the files tests/benchhost/test_clients_ab.py
and tests/benchreport/test_report.py use.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchhost.clients import ab as ab_client
from benchreport import EXIT_RUN_ERROR, model, render
from benchreport.summary import build_summary, cpu_stat_busy_pct
from benchrun import AB_CLIENT, HOST_ENV, ROOT, ServerSampler, bench_ab, write_json, write_outcome, write_run
from httpserver import Server, closed_port

AB = shutil.which("ab")


# --------------------------------------------------------------------------
# One bench step with ab called directly (argv the wrapper never builds)

def _cpu_stat_line() -> str:
    return Path("/proc/stat").read_text().splitlines()[0]


def bench_once(
    out: Path, url: str, n: int, c: int, delay: float, *, mode: str = "test", profile: str = "tuned",
    time_limit: int | None = None, timeout: int = 5, server_pid: int | None = None,
    recv_errors_ok: bool = True, n_before_t: bool = False, combined: bool = False,
) -> int:
    """Run ab once into `out` (ab.txt, ab.err, ab.tsv, ab.csv and the bench's JSON files); return ab's status."""
    write_run(out, url, n, c, delay, mode=mode, profile=profile, time_limit=time_limit, timeout=timeout)
    argv = ["ab"] + (["-r"] if recv_errors_ok else [])
    limit = ["-t", str(time_limit)] if time_limit else []
    argv += (["-n", str(n)] + limit) if n_before_t else (limit + ["-n", str(n)])
    argv += ["-c", str(c), "-s", str(timeout), "-g", str(out / "ab.tsv"), "-e", str(out / "ab.csv"), url]

    stat_before = _cpu_stat_line()
    started = datetime.now(timezone.utc)
    t0 = os.times()
    with ServerSampler(server_pid, out), open(out / "ab.txt", "w") as so:
        if combined:  # one file, as `ab ... >ab.txt 2>&1` leaves it
            rc = subprocess.run(argv, stdout=so, stderr=subprocess.STDOUT, timeout=120).returncode
        else:
            with open(out / "ab.err", "w") as se:
                rc = subprocess.run(argv, stdout=so, stderr=se, timeout=120).returncode
    t1 = os.times()
    ended = datetime.now(timezone.utc)
    write_json(out / "loadgen.json", {
        "client": "ab",
        "ab_argv": [a.replace(str(out) + "/", "") for a in argv],
        "ab_rc": rc,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ended_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "cpu_stat_before": stat_before,
        "cpu_stat_after": _cpu_stat_line(),
        "ab_cpu_ms": round((t1.children_user + t1.children_system - t0.children_user - t0.children_system) * 1000),
        "killed": False,
    })
    write_outcome(out)
    return rc


# --------------------------------------------------------------------------
# Tests

pytestmark = pytest.mark.skipif(AB is None, reason="ab missing: apt-get install -y apache2-utils")


def _tsv_sorted(run: ab_client.AbRun) -> list[float]:
    assert run.tsv is not None
    return sorted(float(r.ttime) for r in run.tsv)

def test_ok_run_matches_tsv_and_the_server_delay(server, tmp_path):
    n, c, delay = 60, 6, 0.05
    rc = bench_once(tmp_path, server.url(f"delay={delay}&key=ok"), n, c, delay, server_pid=server.pid)
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
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
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert not ab_client.csv_row_valid(99, n) and ab_client.csv_row_valid(98, n)
    assert run.p99_ms == run.max_ms == run.csv[100]
    assert abs(run.p99_ms - _tsv_sorted(run)[-1]) <= 0.5  # the TSV's slowest, in whole ms
    assert run.csv[98] <= run.p99_ms and run.percentiles_from == "csv"

def test_heartbeat_lines_and_finished_count(server, tmp_path):
    n = 200  # above 150 ab prints "Completed 100 requests"... on stderr
    rc = bench_once(tmp_path, server.url("delay=0&key=hb"), n, 10, 0)
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert "Finished 200 requests" in (tmp_path / "ab.err").read_text()
    assert run.text.finished == n == run.complete == len(run.tsv)
    assert run.error is None and not run.capped

def test_non_2xx_counts_as_failed(server, tmp_path):
    n = 20
    rc = bench_once(tmp_path, server.url("status=503&key=503"), n, 2, 0)
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert run.text.failed == 0  # ab itself does not call them failed
    assert run.text.non_2xx == n and run.failed == n
    assert run.error is None

def test_length_failures_match_the_bodies_we_sent(server, tmp_path):
    # request i gets i % 3 extra bytes: of 30 requests, 10 share the first
    # answer's length and 20 differ, whatever order they complete in
    n = 30
    rc = bench_once(tmp_path, server.url("vary=1&delay=0.01&key=vary"), n, 3, 0.01)
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert run.text.length_errors == 20 and run.text.failed == 20 and run.failed == 20
    assert run.text.complete == n

def test_connection_refused_with_r_is_an_error_with_stats(tmp_path):
    n = 20
    rc = bench_once(tmp_path, f"http://127.0.0.1:{closed_port()}/", n, 2, 1)
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert rc == 0 and run.text.has_stats
    assert run.text.bytes_received == 0 and run.text.receive_errors > 0
    assert run.failed >= run.complete  # ab may count one refusal twice
    assert run.error is not None and "no byte received" in run.error.message

def test_connection_refused_without_r_is_a_structured_error(tmp_path):
    rc = bench_once(tmp_path, f"http://127.0.0.1:{closed_port()}/", 4, 2, 1, recv_errors_ok=False)
    run = ab_client.load_ab_run(tmp_path, requested=4, exit_code=rc)
    assert rc != 0 and not run.text.has_stats
    assert run.error.message == "apr_socket_recv: Connection refused (111)"
    assert run.error.exit_code == rc and run.p50_ms is None

def test_timeout_abort_keeps_the_partial_count(server, tmp_path):
    # c=1: 3 fast answers, then the server stalls 3 s > ab's -s 1
    rc = bench_once(tmp_path, server.url("slow_after=3&slow=3&key=stall"), 6, 1, 0, timeout=1)
    run = ab_client.load_ab_run(tmp_path, requested=6, exit_code=rc)
    assert rc != 0 and not run.text.has_stats
    assert "timeout specified has expired" in run.error.message
    assert run.error.completed_before_abort == 3

def test_time_capped_run(server, tmp_path):
    n, c, delay = 50, 2, 0.3
    rc = bench_once(tmp_path, server.url(f"delay={delay}&key=cap"), n, c, delay, time_limit=1)
    run = ab_client.load_ab_run(tmp_path, requested=n, exit_code=rc)
    assert rc == 0 and run.error is None and run.capped
    assert 0 < run.complete < n and len(run.tsv) == run.complete
    # c connections, each answered after >= 0.3 s, in ab's elapsed time
    assert run.text.time_taken_s >= 1.0
    assert run.complete <= c * math.floor(run.text.time_taken_s / delay)

def test_n_before_t_is_not_a_cap(server, tmp_path):
    """Why bench.yml must pass -t before -n: -t resets ab's count to 50000."""
    rc = bench_once(tmp_path, server.url("delay=0.1&key=order"), 5, 1, 0.1, time_limit=1, n_before_t=True)
    run = ab_client.load_ab_run(tmp_path, requested=5, exit_code=rc)
    assert run.complete > 5

def test_ab_sends_its_first_request_alone(server, tmp_path):
    """The fact behind ab_ceiling_rps and steady_rps, on the real binary: with a
    1 s server, 20 requests at c=10 take 3 s (1, then 10, then 9), not 2."""
    n, c, delay = 20, 10, 1
    run_dir = tmp_path / "results" / "20260101T000000Z"
    bench_once(run_dir / "uwsgi-tuned", server.url(f"delay={delay}&key=lone"), n, c, delay,
               mode="uwsgi", profile="tuned", server_pid=server.pid)
    run = ab_client.load_ab_run(run_dir / "uwsgi-tuned", requested=n, exit_code=0)
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
    bench_ab(run_dir / "uwsgi-seed", server.url("delay=0.05&key=e1"), 40, 4, 0.05,
             mode="uwsgi", profile="seed", server_pid=server.pid)
    bench_ab(run_dir / "uwsgi-tuned", server.url("delay=0.05&key=e2"), 40, 8, 0.05,
             mode="uwsgi", profile="tuned", server_pid=server.pid)
    modes = load_modes(ROOT / "app" / "benchapp" / "modes.yml")
    records = build_summary(run_dir, modes)
    assert [(r["mode"], r["profile"]) for r in records] == [("uwsgi", "seed"), ("uwsgi", "tuned")]
    for rec in records:
        sampled = json.loads((run_dir / rec["raw_dir"] / "server.json").read_text())
        loadgen = json.loads((run_dir / rec["raw_dir"] / "loadgen.json").read_text())
        assert rec["error"] is None and rec["complete"] == 40 and rec["warnings"] == []
        assert (rec["client_rc"], rec["started_at"], rec["ended_at"]) == (
            0, loadgen["started_at"], loadgen["ended_at"])
        assert rec["ideal_rps"] == pytest.approx(rec["c"] / 0.05)
        assert rec["pct_of_ideal"] == pytest.approx(100 * rec["rps"] / rec["ideal_rps"], abs=0.05)
        assert rec["pct_of_ideal"] <= 100.5  # the server sleeps 0.05 s per request
        cpu_ms = (sampled["cpu_ns_after"] - sampled["cpu_ns_before"]) / 1e6
        assert rec["cpu_ms_per_req"] == pytest.approx(cpu_ms / 40, abs=0.001)
        assert rec["peak_rss_mib"] == pytest.approx(sampled["peak_rss_kib"] / 1024, abs=0.05)
        assert 0 <= rec["host_cpu_pct"] <= 100
        assert rec["loadgen_cpu_pct"] is None  # a ~0.55 s run: too short for ab's CPU share
        # 1 lone request + ceil(39/c) rounds of 0.05 s
        assert rec["ab_ceiling_rps"] == pytest.approx(40 / (0.05 * (1 + math.ceil(39 / rec["c"]))), abs=0.001)
        assert rec["pct_of_ceiling"] <= 100.5
        assert rec["seed_rps"] == modes["uwsgi"].seed_rps and rec["time_limit_s"] == 30

    proc = subprocess.run([sys.executable, "-m", "benchreport", str(run_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run_dir / "summary.json").read_text()) == records
    latest = run_dir.parent / "latest"
    assert latest.is_symlink() and os.readlink(latest) == run_dir.name
    assert latest.resolve() == run_dir.resolve()
    assert (run_dir / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "uwsgi  seed" in proc.stdout and render.text_table(model.records(records)) in proc.stdout

    # a mode that did not start: the report is still written, exit status 3
    broken = run_dir / "gunicorn-seed"
    write_run(broken, server.url("delay=0.05"), 40, 4, 0.05, mode="gunicorn", profile="seed")
    write_outcome(broken, error="flask-gunicorn did not report /healthz within 30 s")
    proc = subprocess.run([sys.executable, "-m", "benchreport", str(run_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_RUN_ERROR, proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary) == 3
    bad = next(r for r in summary if r["mode"] == "gunicorn")
    assert bad["error"].startswith("flask-gunicorn did not report") and bad["rps"] is None
    assert "gunicorn/seed: ERROR: flask-gunicorn did not report" in proc.stdout
    assert bad["error"] == "flask-gunicorn did not report /healthz within 30 s"  # nothing added




# --------------------------------------------------------------------------
# benchhost.clients.ab, the load host's wrapper: parameters from run.json

def wrapper_module():
    """benchhost.clients.ab, to run its main() in-process."""
    return ab_client


def test_wrapper_runs_ab_as_run_json_says(server, tmp_path):
    out = tmp_path / "results" / "20260101T000000Z" / "uwsgi-tuned"
    n, c, delay, time_limit, timeout = 30, 3, 0.02, 20, 4
    url = server.url(f"delay={delay}&key=wrapper")
    lg = bench_ab(out, url, n, c, delay, mode="uwsgi", time_limit=time_limit, timeout=timeout,
                  server_pid=server.pid)
    assert sorted(p.name for p in out.iterdir()) == [
        "ab.csv", "ab.err", "ab.tsv", "ab.txt", "loadgen.json", "outcome.json", "run.json", "server.json"]
    # -t before -n (ab's -t resets -n), the files in --dir, the URL of run.json
    assert lg["ab_argv"] == ["ab", "-r", "-t", "20", "-n", "30", "-c", "3", "-s", "4",
                             "-g", str(out / "ab.tsv"), "-e", str(out / "ab.csv"), url]
    assert (lg["client"], lg["ab_rc"], lg["killed"]) == ("ab", 0, False)
    assert lg["kill_after_s"] == time_limit + timeout + 30  # the cap the Ansible task used to compute
    assert lg["cpus"] == os.cpu_count() and isinstance(lg["ab_cpu_ms"], int) and lg["ab_cpu_ms"] >= 0
    assert lg["cpu_stat_before"].startswith("cpu ") and lg["cpu_stat_after"].startswith("cpu ")
    start = datetime.strptime(lg["started_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert start <= datetime.strptime(lg["ended_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert server.answered("wrapper") == n
    [rec] = build_summary(out.parent, {})
    assert (rec["mode"], rec["client"], rec["n"], rec["c"], rec["complete"], rec["failed"]) == ("uwsgi", "ab", n, c, n, 0)
    assert rec["time_limit_s"] == time_limit and rec["client_rc"] == 0 and not rec["capped"]
    assert rec["error"] is None and rec["warnings"] == [] and rec["p50_ms"] >= delay * 1000 - 1
    assert rec["host_cpu_pct"] == round(cpu_stat_busy_pct(lg["cpu_stat_before"], lg["cpu_stat_after"]), 1)


def test_wrapper_kills_a_wedged_client(tmp_path, monkeypatch):
    """The hard cap (time_limit + timeout + grace) ends a client that ignores its own limits."""
    fake = tmp_path / "ab"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    out = tmp_path / "r" / "x-tuned"
    write_run(out, "http://127.0.0.1:9/", 4, 2, 0, time_limit=1, timeout=0)
    module = wrapper_module()
    monkeypatch.setattr(module, "KILL_GRACE_S", 0)
    monkeypatch.setattr(sys, "argv", ["benchhost.clients.ab", "--dir", str(out), "--ab", str(fake)])
    started = datetime.now(timezone.utc)
    assert module.main() == 0
    assert (datetime.now(timezone.utc) - started).total_seconds() < 10
    lg = json.loads((out / "loadgen.json").read_text())
    assert lg["killed"] is True and lg["kill_after_s"] == 1 and lg["ab_rc"] == -9
    write_outcome(out)
    [rec] = build_summary(out.parent, {})
    assert rec["error"].startswith("ab was killed: it outlived its time limit and timeout")


@pytest.mark.parametrize("content,message", [
    (None, "run.json: FileNotFoundError"),
    ({"n": 4, "c": 2, "time_limit": 1, "timeout": 1}, "KeyError: 'url'"),
    ({"url": "http://127.0.0.1:9/", "n": "four", "c": 2, "time_limit": 1, "timeout": 1}, "ValueError"),
])
def test_wrapper_refuses_a_bad_run_json(tmp_path, content, message):
    if content is not None:
        write_json(tmp_path / "run.json", content)
    proc = subprocess.run([*AB_CLIENT, "--dir", str(tmp_path)], env=HOST_ENV,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and message in proc.stderr and str(tmp_path / "run.json") in proc.stderr
    assert not (tmp_path / "ab.txt").exists() and not (tmp_path / "loadgen.json").exists()


# --------------------------------------------------------------------------
# Fixture capture: real runs, written where tests/benchhost/test_clients_ab.py reads them

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
        write_run(run / "psycogreen-seed", "http://localhost:3000/db?delay=1", 10, 5, 1,
                  mode="psycogreen", profile="seed", time_limit=None, timeout=None)
        write_outcome(run / "psycogreen-seed", error="flask-psycogreen did not report /healthz within 30 s")
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
    if sys.argv[1:2] == ["capture"] and len(sys.argv) == 3:
        capture(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: PYTHONPATH=.:app:tests {sys.argv[0]} capture DEST_DIR")
