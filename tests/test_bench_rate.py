"""bench-rate.py, the constant-rate (open-model) client, against the test server on loopback.

The proofs issue 14 asks for: at a rate the server sustains, the figures match
the schedule and the delay; when the server stalls once for 2 s, the p99
timed from each request's schedule includes the requests that were due
during the stall, where a closed-loop client (ab) on the same stall reports
a p99 that does not.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchreport import abparse
from httpserver import Server, closed_port

ROOT = Path(__file__).resolve().parent.parent
RATE = ROOT / "roles" / "bench" / "files" / "bench-rate.py"
AB = shutil.which("ab")


@pytest.fixture()
def server():
    srv = Server()
    yield srv
    srv.stop()


def write_run(folder: Path, url: str, rate: float, duration: float, c: int = 1000, *,
              time_limit: int = 60, timeout: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps({
        "schema": 2, "mode": "test", "profile": "tuned", "client": "rate", "url": url, "rate": rate,
        "duration": duration, "n": round(rate * duration), "c": c, "delay": 0, "time_limit": time_limit,
        "timeout": timeout}))
    return folder


def run_rate(folder: Path, timeout: float = 60) -> tuple[dict, list[list[str]]]:
    done = subprocess.run([sys.executable, str(RATE), "--dir", str(folder)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in (folder / "rate.tsv").read_text().splitlines()]
    assert rows[0] == ["sched_ms", "lag_ms", "latency_ms", "service_ms", "status"]
    return json.loads((folder / "rate.json").read_text()), rows[1:]


def test_a_sustainable_rate_matches_the_schedule_and_the_delay(tmp_path, server):
    delay, rate, duration = 0.05, 100, 3
    result, rows = run_rate(write_run(tmp_path, server.url(f"key=steady&delay={delay}"), rate, duration))
    assert (result["n"], result["sent"], result["complete"], result["failed"]) == (300, 300, 300, 0)
    assert result["status_counts"] == {"200": 300}
    # request i was due at i / rate: the schedule itself, to the µs
    assert [float(r[0]) for r in rows] == pytest.approx([i * 10.0 for i in range(300)], abs=0.001)
    assert server.answered("steady") == 300
    # the answers came at the schedule's pace: the whole run is the schedule plus about one delay
    last_due = (300 - 1) / rate
    assert last_due + delay <= result["elapsed_s"] < last_due + delay + 1.0
    # the answers came at the schedule's rate
    assert result["rps"] == pytest.approx(rate, rel=0.1)
    # each request took the delay, give or take the machine's noise
    assert delay * 1e6 <= result["latency_us"]["p50"] < (delay + 0.25) * 1e6
    assert result["service_latency_us"]["p50"] <= result["latency_us"]["p50"]
    assert result["max_open"] < 100  # about rate x delay open at once, not a growing queue
    loadgen = json.loads((tmp_path / "loadgen.json").read_text())
    assert loadgen["client"] == "rate" and loadgen["interrupted"] is None and loadgen["client_cpu_ms"] > 0
    assert loadgen["started"] < result["first_due_at"] < loadgen["started"] + 1


def p99_ms_of_ab(folder: Path, url: str, n: int, c: int) -> float:
    assert AB, "ab (apache2-utils, make deps) is needed for the closed-loop comparison"
    done = subprocess.run([AB, "-n", str(n), "-c", str(c), "-s", "10", url], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ab.txt").write_text(done.stdout)
    parsed = abparse.parse_ab_text(done.stdout)
    assert parsed.failed == 0 and parsed.non_2xx == 0 and parsed.complete == n
    return float(parsed.text_percentiles[99])


def test_a_stall_is_in_the_rate_clients_p99_and_not_in_a_closed_loop_clients(tmp_path, server):
    """The server freezes for 2 s at its 100th request: ~200 of 400 requests were due in that time."""
    query = "delay=0.02&stall_at=100&stall=2"
    result, rows = run_rate(write_run(tmp_path / "rate", server.url(f"key=open&{query}"), 100, 4))
    closed_p99 = p99_ms_of_ab(tmp_path / "ab", server.url(f"key=closed&{query}"), 400, 2)
    open_p99 = result["latency_us"]["p99"] / 1000
    (tmp_path / "p99.json").write_text(json.dumps({"rate_p99_ms": open_p99, "ab_p99_ms": closed_p99}))
    print(f"same 2 s stall: constant-rate p99 {open_p99:.0f} ms, closed-loop (ab -c 2) p99 {closed_p99:.0f} ms")
    assert result["failed"] == 0 and result["complete"] == 400
    # the requests due during the stall waited for its end: a quarter of them by over 1.5 s
    stalled = [float(r[2]) for r in rows if 1000 <= float(r[0]) < 1500]
    assert len(stalled) == 50 and min(stalled) > 1000
    assert open_p99 > 1500
    # they were sent on time (the schedule did not wait for the server)
    assert result["lag_us"]["p99"] < 500_000
    # ab's two connections each waited once: 2 of 400 requests, below its p99
    assert closed_p99 < 500
    assert open_p99 > 3 * closed_p99


def test_errors_are_counted_by_kind(tmp_path, server):
    result, _ = run_rate(write_run(tmp_path / "status", server.url("key=e&status=503"), 50, 1))
    assert result["status_counts"] == {"503": 50} and result["non_2xx"] == 50 and result["failed"] == 50
    assert result["ok"] == 0
    result, rows = run_rate(write_run(tmp_path / "refused", f"http://127.0.0.1:{closed_port()}/", 50, 1))
    assert result["errors"]["connect"] == 50 and result["complete"] == 0 and result["failed"] == 50
    assert result["latency_us"]["p99"] is None and [r[2:] for r in rows] == [["", "", "0"]] * 50
    result, _ = run_rate(write_run(tmp_path / "slow", server.url("key=t&delay=3"), 20, 0.5, timeout=1))
    assert result["errors"]["timeout"] == 10 and result["complete"] == 0
    assert result["failed"] == 10 and result["non_2xx"] == 0 and result["ok"] == 0  # every timeout is a failure


def test_the_connection_cap_delays_sends_and_says_so(tmp_path, server):
    """c caps the open connections: a request due while they are all open waits, and its lag shows it."""
    result, _ = run_rate(write_run(tmp_path, server.url("key=cap&delay=0.2"), 100, 1, c=5))
    assert result["complete"] == 100 and result["failed"] == 0
    assert result["max_open"] == 5
    assert result["late_sends"] > 50 and result["lag_us"]["max"] > 1_000_000
    # timed from the schedule, the wait for a connection is in the latency
    assert result["latency_us"]["p99"] > result["service_latency_us"]["p99"] + 1_000_000


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_ends_the_run_and_still_writes_the_files(tmp_path, server, sig):
    """bench_stop.yml's SIGTERM (a Ctrl-C'd bench), or a signal by hand: the schedule stops at once."""
    folder = write_run(tmp_path, server.url("key=stop&delay=0.5"), 50, 30)
    proc = subprocess.Popen([sys.executable, str(RATE), "--dir", str(folder)], stdout=subprocess.DEVNULL)
    time.sleep(1.5)
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 0
    loadgen = json.loads((folder / "loadgen.json").read_text())
    result = json.loads((folder / "rate.json").read_text())
    assert loadgen["interrupted"] == sig.name
    assert 0 < result["sent"] < 200 and result["unsent"] == 1500 - result["sent"]


@pytest.mark.parametrize("field,value,message", [
    ("rate", 0, "rate must be positive"),
    ("rate", -5, "rate must be positive"),
    ("rate", "fast", "ValueError"),
    ("duration", 0, "duration must be positive"),
    ("url", "https://127.0.0.1/", "url must be http://"),
    ("url", "http://no-such-host.invalid/", "no-such-host.invalid"),
])
def test_a_bad_run_json_is_refused_before_any_request(tmp_path, field, value, message):
    folder = write_run(tmp_path, "http://127.0.0.1:9/", 10, 1)
    run = json.loads((folder / "run.json").read_text())
    run[field] = value
    (folder / "run.json").write_text(json.dumps(run))
    done = subprocess.run([sys.executable, str(RATE), "--dir", str(folder)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 1 and message in done.stderr
    assert not (folder / "rate.json").exists()
