"""benchhost/drillload.py against a real local HTTP server.

The server answers /ok with 200, /slow with 200 after 0.2 s and /bad with
502; a closed loopback port stands in for an app that is down. The script
runs as a subprocess, the way the drill playbook runs it on the load host.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchrun import ROOT

SCRIPT = ROOT / "benchhost" / "drillload.py"  # the drills role copies this one file and runs it


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/slow":
            time.sleep(0.2)
        status = {"/ok": 200, "/slow": 200, "/bad": 502}.get(self.path, 404)
        body = b"ok" if status == 200 else b"nope"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 128
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drill(tmp_path: Path, url: str, *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), url, *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc


def test_exact_count_with_requests(server: str, tmp_path: Path) -> None:
    result, proc = drill(tmp_path, f"{server}/ok", "--concurrency", "4", "--requests", "50")
    assert result["total"] == 50
    assert result["succeeded"] == 50
    assert result["failed"] == 0
    assert result["failed_pct"] == 0
    assert result["by_status"] == {"200": 50}
    assert result["by_error"] == {}
    assert result["requests_planned"] == 50
    assert result["concurrency"] == 4
    assert result["expect"] == 200
    assert result["first_failure_s"] is None and result["last_failure_s"] is None
    assert sum(b["succeeded"] for b in result["timeline"]) == 50
    assert sum(b["failed"] for b in result["timeline"]) == 0
    assert [b["t"] for b in result["timeline"]] == list(range(len(result["timeline"])))
    lat = result["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert result["succeeded_latency_ms"] == lat
    assert "50 requests" in proc.stdout and "50 succeeded" in proc.stdout


def test_concurrency_overlaps(server: str, tmp_path: Path) -> None:
    # Serially 20 x 0.2 s = 4 s; ten at a time it takes about 0.4 s.
    result, _ = drill(tmp_path, f"{server}/slow", "--concurrency", "10", "--requests", "20")
    assert result["total"] == 20 and result["succeeded"] == 20
    # Overlapping, not serial: under the serial 4 s by a margin a busy machine keeps.
    assert 0.4 <= result["elapsed_s"] < 3.0
    assert result["latency_ms"]["p50"] >= 200


def test_expect_other_status_counts_as_success(server: str, tmp_path: Path) -> None:
    result, _ = drill(tmp_path, f"{server}/bad", "--concurrency", "2", "--requests", "10",
                      "--expect", "502")
    assert result["succeeded"] == 10 and result["failed"] == 0
    assert result["by_status"] == {"502": 10}
    assert result["first_failure_s"] is None


def test_unexpected_status_is_failure(server: str, tmp_path: Path) -> None:
    result, _ = drill(tmp_path, f"{server}/bad", "--concurrency", "2", "--requests", "10")
    assert result["total"] == 10
    assert result["succeeded"] == 0 and result["failed"] == 10
    assert result["failed_pct"] == 100
    assert result["by_status"] == {"502": 10}
    assert result["by_error"] == {}
    assert result["succeeded_latency_ms"] is None
    assert result["latency_ms"] is not None
    assert sum(b["failed"] for b in result["timeline"]) == 10


def test_refused_port_paces_failures(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/ok"
    result, _ = drill(tmp_path, url, "--concurrency", "2", "--duration", "1",
                      "--retry-pause", "0.1")
    assert result["requests_planned"] is None
    assert result["total"] > 0
    assert result["failed"] == result["total"] and result["succeeded"] == 0
    assert result["failed_pct"] == 100
    assert list(result["by_error"]) == ["refused"]
    assert result["by_status"] == {}
    # Two threads, one try per 0.1 s for 1 s: about 20, nowhere near a tight loop.
    assert result["total"] <= 40
    assert result["first_failure_s"] is not None
    assert result["first_failure_s"] <= result["last_failure_s"] <= 1.0
    assert result["last_failure_s"] >= 0.5
    assert 0.9 <= result["elapsed_s"] < 5.0  # its 1 s, and a slow start on a busy machine


def test_progress_file_ends_at_total(server: str, tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    result, _ = drill(tmp_path, f"{server}/slow", "--concurrency", "3", "--requests", "6",
                      "--progress", str(progress))
    assert progress.read_text() == f"{result['total']}\n"
    assert int(progress.read_text()) == 6


def test_duration_caps_requests(server: str, tmp_path: Path) -> None:
    result, _ = drill(tmp_path, f"{server}/slow", "--concurrency", "2", "--requests", "100000",
                      "--duration", "1")
    assert result["requests_planned"] == 100000
    assert result["elapsed_s"] < 5.0  # the 1 s duration, not 100000 requests' worth
    assert 0 < result["total"] < 100000
    assert result["failed"] == 0


@pytest.mark.parametrize(("args", "named"), [
    (["{server}/ok", "--concurrency", "10", "--requests", "5"],
     ["--requests (5)", "--concurrency (10)"]),
    (["{server}/ok", "--concurrency", "0"], ["--concurrency", "got 0"]),
    (["ftp://x", "--concurrency", "1"], ["URL", "'ftp://x'"]),
    (["{server}/ok", "--concurrency", "1", "--duration", "0"], ["--duration", "got 0"]),
    (["{server}/ok", "--concurrency", "1", "--retry-pause", "-1"], ["--retry-pause", "got -1"]),
])
def test_bad_arguments_exit_2(server: str, tmp_path: Path, args: list[str],
                              named: list[str]) -> None:
    out = tmp_path / "out.json"
    argv = [a.format(server=server) for a in args]
    proc = subprocess.run([sys.executable, str(SCRIPT), *argv, "--out", str(out)],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    for text in named:
        assert text in last
    assert not out.exists()
