#!/usr/bin/python3
"""HTTP load client for fault drills (stdlib only).

ApacheBench cannot measure a drill: once the app's port closes, ab aborts
with "Test aborted after 10 failures" after ten refused connections, even
with -r. This client keeps going: every failure (refused, reset, timeout,
unexpected status) is recorded as data, and after a connection-level error
the thread pauses --retry-pause seconds, so the failure count follows the
downtime instead of a tight loop.

Each request opens a new connection (no keep-alive, like ab without -k),
GETs the URL's path and query, reads the whole body and closes. No new
request starts after the --duration deadline, which caps the run even when
--requests is given. Exit status is 0 whenever the run completes, 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
from urllib.parse import urlsplit

Record = tuple[float, float, "int | str"]  # start offset s, duration ms, outcome


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="HTTP load client for fault drills.")
    p.add_argument("url")
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--requests", type=int, default=None)
    p.add_argument("--duration", type=float, default=120.0)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--retry-pause", type=float, default=0.05)
    p.add_argument("--expect", type=int, default=200)
    p.add_argument("--progress", default=None)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    parts = urlsplit(a.url)
    if parts.scheme != "http" or not parts.hostname:
        p.error(f"URL must be http://host[:port]/path, got {a.url!r}")
    if a.concurrency < 1:
        p.error(f"--concurrency must be >= 1, got {a.concurrency}")
    if a.requests is not None and a.requests < a.concurrency:
        p.error(f"--requests ({a.requests}) must be >= --concurrency ({a.concurrency})")
    for name in ("duration", "timeout"):
        if not getattr(a, name) > 0:
            p.error(f"--{name} must be > 0, got {getattr(a, name)}")
    if a.retry_pause < 0:
        p.error(f"--retry-pause must be >= 0, got {a.retry_pause}")
    return a


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError,
                        http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "reset"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "timeout"
    return f"error:{type(exc).__name__}"


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def percentiles(durations: list[float]) -> dict[str, float] | None:
    if not durations:
        return None
    s = sorted(durations)

    def rank(pct: float) -> float:  # nearest-rank
        return round(s[max(1, math.ceil(pct / 100 * len(s))) - 1], 3)

    return {"p50": rank(50), "p99": rank(99), "max": round(s[-1], 3)}


def run(a: argparse.Namespace) -> dict:
    parts = urlsplit(a.url)
    host, port = parts.hostname, parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    records: list[Record] = []  # list.append is atomic under the GIL
    lock = threading.Lock()
    taken = 0
    start = time.monotonic()
    deadline = start + a.duration

    def take_slot() -> bool:
        nonlocal taken
        if time.monotonic() >= deadline:
            return False
        with lock:
            if a.requests is not None and taken >= a.requests:
                return False
            taken += 1
            return True

    def worker() -> None:
        while take_slot():
            t0 = time.monotonic()
            outcome: int | str
            conn = http.client.HTTPConnection(host, port, timeout=a.timeout)
            try:
                conn.request("GET", target, headers={"Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                outcome = resp.status
            except Exception as exc:  # every failure is data
                outcome = error_kind(exc)
            finally:
                conn.close()
            t1 = time.monotonic()
            records.append((t0 - start, (t1 - t0) * 1000, outcome))
            if isinstance(outcome, str) and a.retry_pause > 0:
                time.sleep(max(0.0, min(a.retry_pause, deadline - time.monotonic())))

    done = threading.Event()

    def progress() -> None:
        while not done.wait(0.2):
            write_atomic(a.progress, f"{len(records)}\n")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.concurrency)]
    if a.progress:
        write_atomic(a.progress, "0\n")
        reporter = threading.Thread(target=progress, daemon=True)
        reporter.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    done.set()
    if a.progress:
        reporter.join()
        write_atomic(a.progress, f"{len(records)}\n")
    return summarize(a, records, elapsed)


def summarize(a: argparse.Namespace, records: list[Record], elapsed: float) -> dict:
    ok = [r for r in records if r[2] == a.expect]
    failed_starts = [r[0] for r in records if r[2] != a.expect]
    by_status: dict[str, int] = {}
    by_error: dict[str, int] = {}
    buckets = max(math.ceil(elapsed), max((int(r[0]) + 1 for r in records), default=0))
    timeline = [{"t": i, "succeeded": 0, "failed": 0} for i in range(buckets)]
    for start, _, outcome in records:
        if isinstance(outcome, int):
            by_status[str(outcome)] = by_status.get(str(outcome), 0) + 1
        else:
            by_error[outcome] = by_error.get(outcome, 0) + 1
        timeline[int(start)]["succeeded" if outcome == a.expect else "failed"] += 1
    total = len(records)
    return {
        "url": a.url,
        "concurrency": a.concurrency,
        "requests_planned": a.requests,
        "duration_cap_s": a.duration,
        "expect": a.expect,
        "elapsed_s": round(elapsed, 3),
        "total": total,
        "succeeded": len(ok),
        "failed": len(failed_starts),
        "failed_pct": round(100 * len(failed_starts) / total, 3) if total else 0,
        "by_status": dict(sorted(by_status.items())),
        "by_error": dict(sorted(by_error.items())),
        "rps": round(total / elapsed, 3) if elapsed > 0 else 0,
        "latency_ms": percentiles([r[1] for r in records]),
        "succeeded_latency_ms": percentiles([r[1] for r in ok]),
        "first_failure_s": round(min(failed_starts), 3) if failed_starts else None,
        "last_failure_s": round(max(failed_starts), 3) if failed_starts else None,
        "timeline": timeline,
    }


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    result = run(a)
    write_atomic(a.out, json.dumps(result, indent=1) + "\n")
    lat = result["latency_ms"] or {"p50": None, "p99": None}
    errors = " ".join(f"{k}={v}" for k, v in result["by_error"].items()) or "none"
    print(f"drill-load: {result['total']} requests in {result['elapsed_s']} s "
          f"({result['rps']} req/s), {result['succeeded']} succeeded, "
          f"{result['failed']} failed ({result['failed_pct']}%), errors: {errors}, "
          f"p50 {lat['p50']} ms, p99 {lat['p99']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
