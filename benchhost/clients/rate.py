"""Send requests at a constant rate (an open model), as DIR/run.json says, and time each from its schedule.

Runs on the load host with the system Python (stdlib only):

    benchhost.clients.rate --dir DIR

DIR/run.json is the bench's plan entry (schema 2; this reads url, rate,
duration, c, time_limit and timeout; for a user's app its "requests", the
plan's seed and the part's index: benchhost.routes). Request i is due at t0 + i / rate, for
n = round(rate x duration) requests. At its time it gets a new connection
and one HTTP/1.0 GET, as ab and wrk.lua send them, whatever the
earlier requests are doing: a stalled server does not slow the schedule
down. Each request's latency runs from the moment it was DUE, so the
requests that were due during a stall carry the stall (a closed-loop client,
ab or wrk, would have sent them after it, and timed them from then: the
coordinated omission). A user's app's request has its route's method,
headers and body, and an answer other than the route's expect is failed
("unexpected"); with several routes (the mix) each request's route is drawn
by weight from a generator seeded with the plan's seed and the part's index:
the same seed sends the same routes in the same order. The latency from when the connection was actually
opened is kept too (service_latency_us), and so is the lag between the two.
Each request's opening and answer are timed as they happen (the clock read
for each), not when the loop's pass began.

c caps the open connections (a descriptor each): a request due while c are
open waits for one to close, and its lag says so. The bench sets c above
rate x delay with room (bench_rate_headroom), so the cap is a guard, not a
closed loop; late_sends counts the requests opened more than LATE_MS late,
and the report marks a run whose lag p99 is over LATE_MS (over 1% of its
requests late) as client-limited.

Writes into DIR:

* rate.json: {"client": "rate", "rate", "duration_s", "n", "sent", "complete"
  (answers of any status), "ok" (2xx), "non_2xx", "status_counts"
  {"200": k, ...}, "errors" {"connect", "read", "timeout"}, "failed" (errors
  + non_2xx; a user's app's: errors + unexpected), "unexpected" (a user's
  app: answers other than their route's expect; null for the built-in app),
  "routes" (a user's app: per route name, {"sent", "answered", "unexpected"}),
  "unsent" (due after time_limit: the run was capped), "capped",
  "started_at", "ended_at" (UTC, to the second), "first_due_at" (the first
  request's due time, seconds since the epoch: rate.tsv's sched_ms count
  from it), "elapsed_s" (first due time to the last
  answer), "rps" (the rate the answers came at: (complete - 1) / (last answer
  - first answer); the schedule's rate when the server keeps up, less when it
  falls behind, and not lowered by the last requests' own latency as
  complete / elapsed_s would be), "latency_us" {"min", "p50", "p90",
  "p99", "p99_9", "max", "mean"} from the due time, "service_latency_us" (the
  same keys, from the connection's opening), "lag_us" {"p50", "p99", "max"},
  "late_sends", "max_open", "latency_hist_ms" [[ms, count], ...] (whole-ms
  bins of the latency from the due time of the answered requests: load hosts'
  parts merge by adding them)}. Percentiles are nearest-rank over the
  answered requests.
* rate.tsv: a header, then one line per request sent: sched_ms (its due time
  since t0), lag_ms, latency_ms, service_ms, status (0: no HTTP answer; the
  two latencies are then empty).
* loadgen.json: {"client": "rate", "argv", "started_at", "ended_at", "started",
  "ended", "cpus", "cpu_stat_before", "cpu_stat_after", "client_cpu_ms",
  "interrupted"}.

Why our own client: see docs/design.md ("Why a client of our own"). In short, the open-model
tools Debian packages do not fit: httperf busy-polls a whole core and caps at
1024 descriptors, wrk's Lua delay() opens the connection before the scheduled
send (an idle connection then holds a server's worker), hey, siege, ab and
h2load pace each connection (closed loop).

SIGTERM, SIGINT or SIGHUP stop the schedule and the open requests at once
(the requests still open count as timeouts); the files are still written,
loadgen.json's "interrupted" naming the signal.

Reading the files back (load_rate_run, result: the progress line's figures and benchreport's, read
once, here): rate.json holds the figures above, in µs; the reader gives them in ms. rate.tsv's line
count is checked against rate.json's sent.

Several load hosts' parts merge by adding their latency_hist_ms
(benchhost.numbers.merge_histograms) and taking the nearest rank (rank_percentile),
the rule the client uses itself (nearest_rank).
"""

from __future__ import annotations

import argparse
import collections
import errno
import json
import math
import os
import resource
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchhost import routes
from benchhost.clients import Client, register
from benchhost.numbers import (answered_rps, finite, histogram, integer, merge_histograms, status_check,
                               status_counts)
from benchhost.process import STOP_SIGNALS, cpu_line, now, raise_nofile
from benchhost.result import Result, cpu_pct, highest, lower_bound, read_loadgen, rounded, with_loadgen


RATE_JSON, RATE_TSV = "rate.json", "rate.tsv"
TSV_HEADER = ("sched_ms", "lag_ms", "latency_ms", "service_ms", "status")
#: A request opened later than this after its due time counts as a late send.
LATE_MS = 10.0
#: The first request is due this long after the schedule is built.
START_AFTER_S = 0.05
#: Requests due within this much of now open now (epoll's timeout is in whole ms).
TICK_S = 0.0005
READ_SIZE = 65536


def read_run(directory: Path) -> dict:
    """url, rate, duration, c, time_limit, timeout from DIR/run.json; SystemExit naming what is wrong."""
    path = directory / "run.json"
    try:
        run = json.loads(path.read_text())
        params = {"url": str(run["url"]), "rate": float(run["rate"]), "duration": float(run["duration"]),
                  "requests": routes.of_run(run),
                  "seed": f"{run.get('seed') or 0}-{(run.get('part') or {}).get('index', 0)}"}
        for key in ("c", "time_limit", "timeout"):
            params[key] = int(run[key])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"benchhost.clients.rate: {path}: {type(exc).__name__}: {exc}")
    problems = [f"{k} must be positive: {params[k]}" for k in ("rate", "duration", "c", "time_limit", "timeout")
                if not params[k] > 0 or not math.isfinite(params[k])]
    if urlsplit(params["url"]).scheme != "http":
        problems.append(f"url must be http://: {params['url']}")
    if problems:
        sys.exit(f"benchhost.clients.rate: {path}: " + "; ".join(problems))
    params["n"] = max(1, round(params["rate"] * params["duration"]))
    return params


def request_bytes(url: str) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or "localhost"
    port = parts.port or 80
    head = f"GET {target} HTTP/1.0\r\nHost: {parts.netloc}\r\nUser-Agent: flaskbench-rate\r\nAccept: */*\r\n\r\n"
    return host, port, head.encode("ascii")


def answer_status(buf: bytes) -> int:
    """The HTTP status of a whole answer (head, and a body as long as its Content-Length); 0 otherwise."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].split()
    if not sep or len(line) < 2 or not line[0].startswith(b"HTTP/") or not line[1].isdigit():
        return 0
    for field in head.split(b"\r\n")[1:]:
        name, _, value = field.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit() and len(body) < int(value):
            return 0
    return int(line[1])


class StopSignals:
    """SIGTERM, SIGINT and SIGHUP set `name` (the first one's) and wake the schedule's epoll.

    The handler only sets a flag, which the loop reads between requests: an
    exception raised from it could land between the appends of open_one or
    inside close, leaving the per-request lists out of step or a request
    neither answered nor failed. Python runs handlers between bytecodes and
    retries an epoll_wait a signal interrupted, so the signal's byte, which
    the C handler writes to the wakeup pipe (`fd`, in the epoll), is what
    ends the wait at once.
    """

    def __init__(self) -> None:
        self.name: str | None = None
        self.fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handler)

    def _handler(self, signum: int, _frame: object) -> None:
        if self.name is None:
            self.name = signal.Signals(signum).name

    def drain(self) -> None:
        try:
            while os.read(self.fd, 512):
                pass
        except BlockingIOError:
            pass


class Schedule:
    """The open-model run: request i opens at t0 + i / rate, whatever the others do.

    One thread and epoll, no busy wait: it sleeps until the next due time or
    the next socket event. A request is a non-blocking connect, one send once
    writable, and reads to the server's close (HTTP/1.0): about 8 system calls.
    """

    def __init__(self, params: dict, stop: StopSignals) -> None:
        self.params, self.stop = params, stop
        host, port, payload = request_bytes(params["url"])
        # a user's app: a payload per route, and which one each request takes (the mix: by weight, seeded)
        self.requests = params.get("requests")
        self.payloads = [routes.request_bytes(params["url"], r) for r in self.requests] if self.requests else [payload]
        self.mix = routes.Mix(self.requests or [{}], params.get("seed", 0))
        self.address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
        self.family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        self.n, self.rate, self.cap = params["n"], params["rate"], params["c"]
        self.timeout = float(params["timeout"])
        # per request opened: due, opened, ended (monotonic s; ended None: no answer), status
        self.due: list[float] = []
        self.opened: list[float] = []
        self.ended: list[float | None] = []
        self.status: list[int] = []
        self.route: list[int] = []
        self.errors = {"connect": 0, "read": 0, "timeout": 0}
        self.max_open = 0
        self.t0 = 0.0
        self.t0_epoch = 0.0
        self.epoll = select.epoll()
        self.epoll.register(stop.fd, select.EPOLLIN)
        self.conns: dict[int, list] = {}  # fd -> [index, socket, connected, buffer]
        self.deadlines: collections.deque = collections.deque()  # (deadline, fd, index), in opening order

    def open_one(self) -> float:
        """Open the next request; its opening time, read as it opens (not when its loop pass began)."""
        i = len(self.due)
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        now = time.monotonic()
        self.due.append(self.t0 + i / self.rate)
        self.opened.append(now)
        self.ended.append(None)
        self.status.append(0)
        self.route.append(self.mix.next())
        if sock.connect_ex(self.address) not in (0, errno.EINPROGRESS):
            sock.close()
            self.errors["connect"] += 1
            return now
        fd = sock.fileno()
        self.conns[fd] = [i, sock, False, bytearray()]
        # edge-triggered: one event when the connect completes, then one per arrival of data
        self.epoll.register(fd, select.EPOLLOUT | select.EPOLLIN | select.EPOLLET)
        self.deadlines.append((now + self.timeout, fd, i))
        self.max_open = max(self.max_open, len(self.conns))
        return now

    def close(self, fd: int, error: str | None) -> None:
        """Close a request: answered (its end read now, after its last read) or an error of that kind."""
        i, sock, _, buf = self.conns.pop(fd)
        self.epoll.unregister(fd)
        sock.close()
        if error is None:
            status = answer_status(bytes(buf))
            if status:
                self.ended[i], self.status[i] = time.monotonic(), status
                return
            error = "read"
        self.errors[error] += 1

    def on_event(self, fd: int, event: int) -> None:
        if fd == self.stop.fd:
            self.stop.drain()  # the loop's top reads stop.name
            return
        conn = self.conns.get(fd)
        if conn is None:
            return
        sock = conn[1]
        if not conn[2]:
            if event & select.EPOLLERR or not event & select.EPOLLOUT:
                self.close(fd, "connect")  # refused, unreachable
                return
            conn[2] = True
            try:
                sock.send(self.payloads[self.route[conn[0]]])  # a few hundred bytes: one send
            except OSError:
                self.close(fd, "read")
                return
            if not event & select.EPOLLIN:
                return
        while True:
            try:
                chunk = sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                # a reset after the whole answer still counts as an answer
                self.close(fd, None if answer_status(bytes(conn[3])) else "read")
                return
            if not chunk:
                self.close(fd, None)
                return
            conn[3] += chunk

    def expire(self, now: float) -> None:
        while self.deadlines and self.deadlines[0][0] <= now:
            _, fd, i = self.deadlines.popleft()
            conn = self.conns.get(fd)
            if conn is not None and conn[0] == i:
                self.close(fd, "timeout")

    def run(self) -> tuple[int, str | None]:
        """Open every request at its time; (requests not sent: time_limit or a stop, the stop's signal)."""
        self.t0 = time.monotonic() + START_AFTER_S
        self.t0_epoch = time.time() + START_AFTER_S
        cap_at = self.t0 + self.params["time_limit"]
        stop = self.stop
        while stop.name is None:
            now = time.monotonic()
            if now >= cap_at:
                break
            self.expire(now)
            sent = len(self.due)
            # each open reads the clock again: a batch due together is stamped as each really opened
            while (sent < self.n and self.t0 + sent / self.rate <= now + TICK_S and len(self.conns) < self.cap
                   and stop.name is None):
                now = self.open_one()
                sent += 1
            if sent >= self.n and not self.conns:
                break
            wake = [cap_at, self.deadlines[0][0] if self.deadlines else cap_at]
            if sent < self.n and len(self.conns) < self.cap:
                wake.append(self.t0 + sent / self.rate)
            timeout = max(0.0, min(wake) - time.monotonic())
            for fd, event in self.epoll.poll(timeout):
                self.on_event(fd, event)
        for fd in list(self.conns):
            self.close(fd, "timeout")
        return self.n - len(self.due), stop.name


def nearest_rank(values: list[float], p: float) -> float | None:
    """The p-th percentile of sorted values, nearest-rank (as ab's table)."""
    if not values:
        return None
    k = max(1, math.ceil(p / 100 * len(values)))
    return values[min(k, len(values)) - 1]


def figures(values_s: list[float]) -> dict:
    """min, p50, p90, p99, p99_9, max, mean in whole µs; nulls when there is nothing."""
    v = sorted(values_s)
    out = {key: nearest_rank(v, p) for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9))}
    out.update({"min": v[0] if v else None, "max": v[-1] if v else None, "mean": sum(v) / len(v) if v else None})
    return {k: (None if x is None else round(x * 1e6)) for k, x in out.items()}


def route_counts(s: Schedule, answered: list[int]) -> dict[str, dict[str, int]]:
    """Per route of a user's app: the requests sent, answered and answered other than its expect."""
    out = {str(r.get("name")): {"sent": 0, "answered": 0, "unexpected": 0} for r in s.requests}
    for k in s.route:
        out[str(s.requests[k].get("name"))]["sent"] += 1
    for i in answered:
        each = out[str(s.requests[s.route[i]].get("name"))]
        each["answered"] += 1
        each["unexpected"] += int(routes.unexpected(s.status[i], s.requests[s.route[i]]))
    return out


def results(s: Schedule, unsent: int) -> tuple[dict, list[str]]:
    """rate.json's record and rate.tsv's lines."""
    sent = len(s.due)
    answered = [i for i in range(sent) if s.ended[i] is not None]
    latency = [s.ended[i] - s.due[i] for i in answered]
    service = [s.ended[i] - s.opened[i] for i in answered]
    lags = sorted(max(0.0, s.opened[i] - s.due[i]) for i in range(sent))
    counts: dict[str, int] = {}
    for i in answered:
        counts[str(s.status[i])] = counts.get(str(s.status[i]), 0) + 1
    ok = sum(k for code, k in counts.items() if code.startswith("2"))
    non_2xx = len(answered) - ok
    wrong = None if not s.requests else sum(1 for i in answered if routes.unexpected(s.status[i], s.requests[s.route[i]]))
    ends = sorted(s.ended[i] for i in answered)
    elapsed = (ends[-1] - s.t0) if ends else None
    span = ends[-1] - ends[0] if len(ends) > 1 else 0.0
    hist: dict[int, int] = {}
    for x in latency:
        ms = int(x * 1000)
        hist[ms] = hist.get(ms, 0) + 1
    lag = figures(lags)
    record = {
        "client": "rate", "rate": s.rate, "duration_s": s.params["duration"], "n": s.n, "sent": sent,
        "first_due_at": round(s.t0_epoch, 6),
        "complete": len(answered), "ok": ok, "non_2xx": non_2xx, "status_counts": dict(sorted(counts.items())),
        "errors": s.errors, "failed": sum(s.errors.values()) + (non_2xx if wrong is None else wrong),
        "unexpected": wrong, "routes": route_counts(s, answered) if s.requests else None,
        "unsent": unsent, "capped": unsent > 0,
        "elapsed_s": None if elapsed is None else round(elapsed, 6),
        "rps": round((len(ends) - 1) / span, 2) if span > 0 else None,
        "latency_us": figures(latency), "service_latency_us": figures(service),
        "lag_us": {k: lag[k] for k in ("p50", "p99", "max")},
        "late_sends": sum(1 for x in lags if x * 1000 > LATE_MS),
        "max_open": s.max_open, "connections_cap": s.params["c"],
        "latency_hist_ms": [[ms, k] for ms, k in sorted(hist.items())],
    }
    lines = ["\t".join(TSV_HEADER)]
    for i in range(sent):
        done = s.ended[i] is not None
        lines.append("\t".join((
            f"{(s.due[i] - s.t0) * 1000:.3f}", f"{max(0.0, s.opened[i] - s.due[i]) * 1000:.3f}",
            f"{(s.ended[i] - s.due[i]) * 1000:.3f}" if done else "",
            f"{(s.ended[i] - s.opened[i]) * 1000:.3f}" if done else "", str(s.status[i] if done else 0))))
    return record, lines


def main() -> int:
    stop = StopSignals()  # first: a stop from here on still writes the files
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, help="the run's folder, holding run.json")
    args = parser.parse_args()
    directory = Path(args.dir)
    params = read_run(directory)
    hard = raise_nofile()
    if params["c"] + 64 > hard:
        sys.exit(f"benchhost.clients.rate: c={params['c']} connections need more descriptors than this host allows ({hard})")
    for name in (RATE_JSON, RATE_TSV, "loadgen.json"):
        (directory / name).unlink(missing_ok=True)
    record = {"client": "rate", "argv": sys.argv, "cpus": os.cpu_count() or 1, "started_at": now(),
              "started": time.time(), "cpu_stat_before": cpu_line(), "interrupted": None}
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        schedule = Schedule(params, stop)
    except OSError as exc:  # the host's name does not resolve
        sys.exit(f"benchhost.clients.rate: {params['url']}: {exc}")
    unsent, record["interrupted"] = schedule.run()
    rate, lines = results(schedule, unsent)
    after = resource.getrusage(resource.RUSAGE_SELF)
    rate["started_at"], rate["ended_at"] = record["started_at"], now()
    record.update({"ended_at": rate["ended_at"], "ended": time.time(), "cpu_stat_after": cpu_line(),
                   "client_cpu_ms": round(((after.ru_utime - before.ru_utime)
                                           + (after.ru_stime - before.ru_stime)) * 1000)})
    (directory / RATE_TSV).write_text("\n".join(lines) + "\n")
    (directory / RATE_JSON).write_text(json.dumps(rate) + "\n")
    (directory / "loadgen.json").write_text(json.dumps(record) + "\n")
    print(json.dumps({k: rate[k] for k in ("rate", "n", "sent", "complete", "failed", "rps", "latency_us")}))
    return 0


# ---------------------------------------------------------------- reading its files

@dataclass(frozen=True)
class RateRow:
    """One request of rate.tsv: due time since t0, how late it opened, its latencies (None: no answer)."""

    sched_ms: float
    lag_ms: float
    latency_ms: float | None
    service_ms: float | None
    status: int

    @property
    def answered(self) -> bool:
        return self.latency_ms is not None and self.status > 0


@dataclass
class RateRun:
    """One rate run's figures (rate.json), in the summary's units (ms); None where not measured."""

    data: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    rate: float | None = None
    duration_s: float | None = None
    scheduled: int | None = None
    sent: int | None = None
    unsent: int = 0
    complete: int | None = None
    failed: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    #: a user's app: answers other than their route's expect (None: the built-in app)
    unexpected: int | None = None
    elapsed_s: float | None = None
    #: the rate the answers came at: (complete - 1) / the span from the first answer to the last
    rps: float | None = None
    #: from the due time (corrected): p50, p90, p99, p99.9, max, mean
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    #: from the connection's opening (what a closed-loop client would report)
    service_ms: dict[str, float | None] = field(default_factory=dict)
    lag_ms: dict[str, float | None] = field(default_factory=dict)
    late_sends: int | None = None
    max_open: int | None = None
    hist_ms: list[tuple[int, int]] | None = None

    @property
    def capped(self) -> bool:
        return self.unsent > 0


def _ms(figures: Any) -> dict[str, float | None]:
    """rate.json's µs figures as ms (3 decimals)."""
    if not isinstance(figures, dict):
        return {}
    return {k: (None if (v := finite(x)) is None else round(v / 1000.0, 3)) for k, x in figures.items()}


def rank_percentile(hist: list[tuple[int, int]], p: float) -> int | None:
    """Nearest rank over a histogram (benchhost.clients.rate's rule): the value at rank max(1, ceil(p/100 × count))."""
    total = sum(count for _, count in hist)
    if total <= 0:
        return None
    rank = max(1, math.ceil(p / 100.0 * total))
    running = 0
    for value, count in hist:
        running += count
        if running >= rank:
            return value
    return hist[-1][0]


def parse_tsv(text: str) -> list[RateRow]:
    """rate.tsv's rows; ValueError naming the line when one is not five fields of numbers."""
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != TSV_HEADER:
        raise ValueError(f"header is not {' '.join(TSV_HEADER)}")
    rows = []
    for k, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            if len(cells) != len(TSV_HEADER):
                raise ValueError(f"{len(cells)} fields")
            rows.append(RateRow(float(cells[0]), float(cells[1]), float(cells[2]) if cells[2] else None,
                                float(cells[3]) if cells[3] else None, int(cells[4])))
        except ValueError as exc:
            raise ValueError(f"line {k}: {exc}") from None
    return rows


def apply_json(run: RateRun, data: dict[str, Any]) -> None:
    """rate.json's figures into `run`."""
    run.data = data
    run.rate, run.duration_s = finite(data.get("rate")), finite(data.get("duration_s"))
    run.scheduled, run.sent, run.complete = integer(data.get("n")), integer(data.get("sent")), integer(data.get("complete"))
    run.unsent = integer(data.get("unsent")) or 0
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    run.errors = {k: integer(errors.get(k)) or 0 for k in ("connect", "read", "timeout")}
    run.non_2xx = integer(data.get("non_2xx")) or 0
    run.unexpected = integer(data.get("unexpected"))
    run.failed = integer(data.get("failed"))
    run.elapsed_s, run.rps = finite(data.get("elapsed_s")), finite(data.get("rps"))
    run.latency_ms, run.service_ms = _ms(data.get("latency_us")), _ms(data.get("service_latency_us"))
    run.lag_ms = _ms(data.get("lag_us"))
    run.late_sends, run.max_open = integer(data.get("late_sends")), integer(data.get("max_open"))
    run.hist_ms = histogram(data.get("latency_hist_ms"))


def load_rate_run(directory: Path) -> RateRun:
    """Read one rate run's rate.json and check it against rate.tsv's line count."""
    run = RateRun()
    path = directory / RATE_JSON
    if not path.is_file():
        run.error = f"{RATE_JSON} missing: benchhost.clients.rate did not run or its output was not fetched"
        return run
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        run.error = f"{RATE_JSON} unreadable: {exc}"
        return run
    apply_json(run, data)
    if run.complete is None:
        run.error = f"{RATE_JSON} lacks complete"
    elif run.complete == 0:
        e = run.errors
        run.error = (f"no answer from the server to {run.sent} requests sent (connect {e['connect']}, "
                     f"read {e['read']}, timeout {e['timeout']})")
    if run.hist_ms is None and run.complete:
        run.warnings.append(f"{RATE_JSON} has no latency_hist_ms: its load hosts' parts cannot be merged")
    tsv = directory / RATE_TSV
    if not tsv.is_file():
        run.warnings.append(f"{RATE_TSV} missing: no per-request times (timeline, percentile curve)")
    else:
        lines = sum(1 for line in tsv.read_text().splitlines()[1:] if line.strip())
        if run.sent is not None and lines != run.sent:
            run.warnings.append(f"{RATE_TSV} has {lines} requests, {RATE_JSON} says {run.sent} sent")
    return run


def failed_detail(run: RateRun) -> dict[str, int]:
    """The failed by kind: the errors and the non-2xx answers, or a user's app's unexpected answers."""
    return {**run.errors, **({"non_2xx": run.non_2xx} if run.unexpected is None else {"unexpected": run.unexpected})}


def result(folder: Path, requested: int | None = None) -> Result:
    """What the run reports (benchhost.result), from rate.json (rate.tsv) and loadgen.json: latencies from
    the schedule. `requested` is not needed: rate.json says what was scheduled and left unsent."""
    out = with_loadgen(Result(CLIENT.name), read_loadgen(folder), CLIENT.rc_key, CLIENT.cpu_key)
    run = load_rate_run(folder)
    out.error, out.warnings, out.capped = run.error, list(run.warnings), run.capped
    if run.complete is not None:
        lat = run.latency_ms
        out.rps, out.complete, out.time_taken_s, out.failed = run.rps, run.complete, run.elapsed_s, run.failed
        out.failed_detail = failed_detail(run)
        out.status_counts = status_counts((run.data or {}).get("status_counts"))
        out.warnings.extend(status_check(out.status_counts, run.non_2xx, RATE_JSON))
        out.mean_ms, out.p50_ms, out.p99_ms, out.max_ms = lat.get("mean"), lat.get("p50"), lat.get("p99"), lat.get("max")
        out.percentiles_from = "rate-scheduled" if out.p99_ms is not None else None
        out.p99_lower_bound = lower_bound(out.failed, out.failed_detail, CLIENT.timed_failures, out.p99_ms)
    return out


def measures(rec: Any, files: Any, warnings: list[str], errors: list[str]) -> None:
    """Fill in a report record's figures of a constant-rate run (rate.json; benchhost.clients'
    Client.measures): latencies from the schedule."""
    if files.error and files.missing([RATE_JSON]):
        return  # the run failed before benchhost.clients.rate wrote anything: the error says why
    run = load_rate_run(files.directory)
    warnings.extend(run.warnings)
    if run.error is not None:
        errors.append(run.error)
    if files.loadgen.get("interrupted"):
        errors.append(f"benchhost.clients.rate was interrupted ({files.loadgen['interrupted']})")
    if rec.client_rc is not None and rec.client_rc != 0:  # its figures may be a partial run's
        errors.append(f"benchhost.clients.rate exited {rec.client_rc}")
    rec.capped = run.capped
    if run.complete is None:
        return
    lat = run.latency_ms
    rec.rps, rec.complete, rec.time_taken_s, rec.failed = run.rps, run.complete, run.elapsed_s, run.failed
    rec.failed_detail = failed_detail(run)
    rec.status_counts = status_counts((run.data or {}).get("status_counts"))
    warnings.extend(status_check(rec.status_counts, run.non_2xx, RATE_JSON))
    rec.mean_ms, rec.p50_ms, rec.p99_ms, rec.max_ms = lat.get("mean"), lat.get("p50"), lat.get("p99"), lat.get("max")
    rec.percentiles_from = "rate-scheduled" if rec.p99_ms is not None else None
    rec.p99_service_ms, rec.lag_p99_ms, rec.late_sends = run.service_ms.get("p99"), run.lag_ms.get("p99"), run.late_sends
    rec.client_detail = {"p90_ms": lat.get("p90"), "p99_9_ms": lat.get("p99_9"), "duration_s": run.duration_s,
                         "scheduled": run.scheduled, "sent": run.sent, "unsent": run.unsent,
                         "service_p50_ms": run.service_ms.get("p50"), "lag_max_ms": run.lag_ms.get("max"),
                         "max_open": run.max_open}
    rec.loadgen_cpu_pct = cpu_pct(finite(files.loadgen.get("client_cpu_ms")), 1, rec.time_taken_s)


def merge(rec: Any, parts: list[tuple[Any, Any]]) -> bool:
    """Several load hosts' parts into `rec` (Client.merge). req/s: the answers over the longest part's span
    of answers, as the client's own rps (each (complete - 1) / its rps: the parts start together, so the
    union's span is about the longest); service p99 and lag p99 the parts' highest (the union's is at most
    that), late sends summed; percentiles from the parts' latency_hist_ms added up (whole ms, nearest rank:
    "rate-scheduled-merged"), max the highest. False when a part's rate.json has no histogram."""
    recs = [p for p, _ in parts]
    rec.rps = rounded(answered_rps([(p.complete, p.rps) for p in recs]), 2)  # as the app runner's knee search
    for key in ("p99_service_ms", "lag_p99_ms"):
        values = [getattr(p, key) for p in recs]
        setattr(rec, key, max(values) if values and all(v is not None for v in values) else None)
    late = [p.late_sends for p in recs]
    rec.late_sends = sum(v for v in late if v is not None) if all(v is not None for v in late) else None
    hists = [load_rate_run(files.directory).hist_ms for _, files in parts]
    if not all(h is not None for h in hists):
        return False
    merged = merge_histograms([h for h in hists if h is not None])
    rank = {p: rank_percentile(merged, p) for p in (50, 90, 99, 99.9)}
    rec.p50_ms, rec.p99_ms = rank[50], rank[99]
    rec.max_ms = highest([p.max_ms for p in recs])
    rec.percentiles_from = "rate-scheduled-merged" if merged else None
    rec.client_detail = {"p90_ms": rank[90], "p99_9_ms": rank[99.9],
                         **{k: sum((p.client_detail or {}).get(k) or 0 for p in recs)
                            for k in ("scheduled", "sent", "unsent")}}
    return True


#: report.md's paragraph on rate runs.
EXPLANATION = (
    "Constant-rate runs (client rate, benchhost.clients.rate): rate /s is the requests per second scheduled, whatever "
    "the server did, n the requests scheduled and c the cap on open connections; req/s is the rate the "
    "answers came at (from the first answer to the last: the schedule's rate when the server keeps up, less "
    "when it falls behind) and % of ideal 100 × req/s / rate. p50/p99/max are timed from each request's scheduled send, so a stall counts for every request "
    "that was due during it (corrected for coordinated omission); summary.json's p99_service_ms is timed "
    "from when the connection opened, as a closed-loop client would report it. A rate run is client-limited "
    "when bench-rate opened connections late (lag p99 over 10 ms: over 1% of its sends more than 10 ms late). The "
    "closed-loop picks of \"What to use\" leave rate runs out: the knee ranks them."
)


#: An open model: its requests are due at a rate, c only caps the open connections. A read error or a
#: timeout reached the server without a complete answer.
CLIENT = register(Client(
    name="rate", module="benchhost.clients.rate", files=(RATE_JSON, RATE_TSV), result=result, by_rate=True,
    counts_statuses=True, mixes=True, reached_not_complete=("read", "timeout"), rc_key="rate_rc", cpu_key="client_cpu_ms",
    label="bench-rate", busy_means="it may not have kept its schedule", latencies="schedule",
    explanation=EXPLANATION, measures=measures, merge=merge, part_keys=("rate", "p99_service_ms", "lag_p99_ms", "late_sends"),
    failed_note=(("connect", "read", "timeout", "non_2xx"),
                 "bench-rate counts non-2xx answers in its complete requests and req/s, errors not")))


if __name__ == "__main__":
    sys.exit(main())
