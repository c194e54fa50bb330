"""Run ApacheBench once, as DIR/run.json says, and record what the load host spent doing it.

Runs on the load host with the system Python (stdlib only):

    benchhost.clients.ab --dir DIR

DIR/run.json is the bench's plan entry (schema 2; this reads url, n, c,
time_limit and timeout, and a user's app's "requests": benchhost.routes). Writes into DIR: ab.txt (stdout), ab.err (stderr),
ab.tsv (-g), ab.csv (-e) and loadgen.json:

    {"client": "ab", "ab_argv", "ab_rc", "started_at", "ended_at", "cpus",
     "cpu_stat_before", "cpu_stat_after", "ab_cpu_ms", "kill_after_s", "killed"}

A user's app's route (one: ab sends one request shape) is sent with its method
(-m; HEAD is -i), headers (-H) and body (-p ab.body, -T its Content-Type), and
-l (its pages may vary in length: not a failure). ab counts only non-2xx
answers as failed, so its status per answer comes from -v 3 (a line per
answer, "LOG: Response code = 201" or "WARNING: Response code not 2xx (404)"):
those lines are taken out of ab.txt and counted into loadgen.json's
"status_counts" and "unexpected" (answers other than the route's expect),
which `failed` then counts instead of ab's non-2xx.

ab is bounded by its own -t (time_limit) and -s (timeout); the kill-after cap,
time_limit + timeout + 30 s, is a last resort that ends a wedged client, so
a bench step can never hang. SIGTERM, SIGINT or SIGHUP (an interrupted
bench's clean-up, playbooks/bench_stop.yml) kill ab at once; loadgen.json
then says "interrupted" with the signal's name.

Reading the files back (load_ab_run, result: the progress line's figures and benchreport's, read
once, here): ab.txt, ab.err, ab.tsv and ab.csv become one `AbRun`.

Why not just trust ab's text? Because ab has sharp edges that would make the
report lie, all confirmed against ab's source (support/ab.c) and the real binary:

* The `-e` CSV row for percentile i reads ``stats[int(0.5 + done * i / 100)]``.
  When that index reaches ``done`` (p99 with fewer than 50 requests, p95..p99
  with 10) ab reads past its data and prints garbage (a stray small number, or
  0.000 after a time-capped run). `csv_row_valid` tells those rows apart; ab's
  rank there can only mean its last (slowest) request, so they take row 100.
* `-t` resets ab's request count to 50000, so `-t` must come *before* `-n`
  (``-n 5 -t 1`` runs 50000 requests or 1 second, whichever ends first).
  A time-capped run prints normal statistics, just with fewer complete
  requests than asked: `capped` compares ab's count with the `-n` we asked for.
* With `-r`, requests that fail on receive (connection refused included) are
  still counted as "Complete requests" and appear in the TSV with zero times;
  one refused connection can count twice in "Failed requests" (Receive and
  Exceptions). So `failed` may exceed `complete`; `bytes_received == 0` is the
  clear sign that nothing answered at all.
* ab aborts without statistics on a fatal error (``apr_pollset_poll: The
  timeout specified has expired (70007)`` when nothing answers within `-s`,
  ``apr_socket_recv: Connection refused (111)`` without `-r`, ``Test aborted
  after 10 failures``); the message is on stderr, stdout may end with
  ``Total of N requests completed``. That becomes a structured `AbError`.
* Non-2xx responses are not in ab's "Failed requests"; `AbRun.failed` adds them.
* ab sends ONE request alone, and opens its other connections only when that
  one has answered (measured: ``ab -n 20 -c 10`` against a server answering
  after 1 s takes 3.0 s, its -g file shows 1 request started in the first
  second, then 10, then 9). With a server delay D, n requests at concurrency c
  take at least D x (1 + ceil((n-1)/c)): `ab_ceiling_rps`. `steady_throughput`
  measures the rate after that lone request.
* The -g file is sorted by total time, not by start; its `seconds` column is
  the start in whole epoch seconds, the times are whole ms (ab rounds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchhost import routes
from benchhost.clients import Client, register
from benchhost.numbers import finite, integer, status_counts
from benchhost.process import (Interrupted, cpu_line, end_of_run, now, raise_nofile, release_signals, spawn,
                               stop_on_signals)
from benchhost.result import Result, cpu_pct, highest, lower_bound, read_loadgen, rounded, with_loadgen


#: Seconds past time_limit + timeout before a wedged client is killed.
KILL_GRACE_S = 30


def read_run(directory):
    """url, n, c, time_limit and timeout from DIR/run.json; SystemExit naming what is wrong."""
    path = os.path.join(directory, "run.json")
    try:
        with open(path) as fh:
            run = json.load(fh)
        params = {"url": str(run["url"]), "requests": routes.of_run(run)}
        for key in ("n", "c", "time_limit", "timeout"):
            params[key] = int(run[key])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"benchhost.clients.ab: {path}: {type(exc).__name__}: {exc}")
    if routes.is_mix(params["requests"]):
        sys.exit(f"benchhost.clients.ab: {path}: ab sends one request shape, not a mix of routes")
    return params


def request_args(request: dict | None, body_file: str) -> list[str]:
    """ab's options for a user's app's route: its method, headers and body (written to body_file)."""
    if request is None:
        return []
    headers = dict(request.get("headers") or {})
    kind = next((headers.pop(k) for k in list(headers) if k.lower() == "content-type"), "text/plain")
    args = []
    if request.get("body") is not None:
        with open(body_file, "w") as fh:
            fh.write(str(request["body"]))
        args += ["-p", body_file, "-T", kind]  # -p before -m: -m after it keeps the body
    method = request.get("method") or "GET"
    if method == "HEAD":
        args.append("-i")
    elif method != "GET" and not (method == "POST" and request.get("body") is not None):
        args += ["-m", method]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return args


_RE_ANSWER = re.compile(r"^(?:LOG: Response code = (\d{3})|WARNING: Response code not 2xx \((\d{3})\))$", re.M)
_RE_VERBOSE = re.compile(r"INFO: \S+ header == \n---\n.*?\n---\n|LOG: header received:\n.*?"
                         r"(?:^LOG: Response code = \d{3}|^WARNING: Response code not 2xx \(\d{3}\))\n",
                         re.M | re.S)


def answers(verbose: str, request: dict) -> tuple[str, dict[str, int], int]:
    """ab -v 3's stdout into ab.txt's text (its lines per answer taken out), the answers per status and
    how many were not the route's expect."""
    counts: dict[str, int] = {}
    for ok, other in _RE_ANSWER.findall(verbose):
        code = ok or other
        counts[code] = counts.get(code, 0) + 1
    wrong = sum(k for code, k in counts.items() if routes.unexpected(int(code), request))
    return _RE_VERBOSE.sub("", verbose), dict(sorted(counts.items())), wrong


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, help="the run's folder, holding run.json")
    parser.add_argument("--ab", default="ab", help="the ab binary (tests)")
    args = parser.parse_args()
    run = read_run(args.dir)
    kill_after = run["time_limit"] + run["timeout"] + KILL_GRACE_S

    raise_nofile()
    path = lambda name: os.path.join(args.dir, name)  # noqa: E731
    # -t must come before -n: ab's -t sets -n to 50000 itself.
    request = (run["requests"] or [None])[0]
    # a user's app: its answers' statuses (-v 3, taken out of ab.txt below) and pages of any length (-l)
    checks = [] if request is None else ["-l", "-v", "3"]
    argv = [args.ab, "-r", "-t", str(run["time_limit"]), "-n", str(run["n"]), "-c", str(run["c"]),
            "-s", str(run["timeout"]), "-g", path("ab.tsv"), "-e", path("ab.csv"), *checks,
            *request_args(request, path("ab.body")), run["url"]]
    record = {"client": "ab", "ab_argv": argv, "cpus": os.cpu_count(), "started_at": now(), "started": time.time(),
              "cpu_stat_before": cpu_line(), "kill_after_s": kill_after, "killed": False,
              "interrupted": None}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop_on_signals()
    with open(path("ab.txt"), "wb") as out, open(path("ab.err"), "wb") as err:
        proc = spawn(argv, stdout=out, stderr=err)
        try:
            release_signals()
            record["ab_rc"] = proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
            record["ab_rc"] = proc.wait()
            record["killed"] = True
        except Interrupted as why:
            proc.kill()
            record["ab_rc"] = proc.wait()
            record["interrupted"] = str(why)
    record["ab_cpu_ms"] = end_of_run(record, before)
    if request is not None:
        text, record["status_counts"], record["unexpected"] = answers(Path(path("ab.txt")).read_text(
            errors="replace"), request)
        Path(path("ab.txt")).write_text(text)
    with open(path("loadgen.json"), "w") as fh:
        json.dump(record, fh)
    print(json.dumps(record))
    return 0


# ---------------------------------------------------------------- reading its files

#: Percentiles ab prints in its text table.
TEXT_PERCENTILES = (50, 66, 75, 80, 90, 95, 98, 99, 100)


@dataclass(frozen=True)
class AbError:
    """Why ab produced no statistics: the line it printed and what it had done."""

    message: str
    exit_code: int | None = None
    completed_before_abort: int | None = None

    def __str__(self) -> str:
        text = self.message
        if self.exit_code not in (None, 0):
            text += f" (ab exit code {self.exit_code})"
        if self.completed_before_abort is not None:
            text += f"; {self.completed_before_abort} requests completed before the abort"
        return text


@dataclass(frozen=True)
class ConnTimes:
    """One row of ab's "Connection Times (ms)" table (integers, as ab prints them)."""

    min: int
    mean: int
    sd: float
    median: int
    max: int


@dataclass
class AbText:
    """Everything ab's stdout (and stderr) says, before any cross-checking."""

    complete: int | None = None
    failed: int | None = None
    connect_errors: int = 0
    receive_errors: int = 0
    length_errors: int = 0
    exceptions: int = 0
    write_errors: int = 0
    non_2xx: int = 0
    time_taken_s: float | None = None
    rps: float | None = None
    mean_ms: float | None = None
    mean_across_ms: float | None = None
    bytes_received: int | None = None
    html_bytes: int | None = None
    document_length: int | None = None
    concurrency: int | None = None
    server_software: str | None = None
    document_path: str | None = None
    connection_times: dict[str, ConnTimes] = field(default_factory=dict)
    text_percentiles: dict[int, int] = field(default_factory=dict)
    finished: int | None = None
    completed_before_abort: int | None = None
    error_lines: list[str] = field(default_factory=list)

    @property
    def has_stats(self) -> bool:
        """ab printed its results block (it did not abort)."""
        return self.complete is not None and self.time_taken_s is not None


@dataclass(frozen=True)
class TsvRow:
    """One request from ab's `-g` file. Times are integer ms, rounded by ab."""

    starttime: str
    seconds: int
    ctime: int
    dtime: int
    ttime: int
    wait: int


@dataclass
class AbRun:
    """One ab run, parsed and cross-checked: the numbers the summary uses."""

    text: AbText
    requested: int | None
    csv: dict[int, float] | None
    tsv: list[TsvRow] | None
    exit_code: int | None
    error: AbError | None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    percentiles_from: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> int | None:
        return self.text.complete

    @property
    def failed(self) -> int | None:
        """ab's failed requests plus non-2xx responses (ab counts those apart)."""
        if self.text.failed is None:
            return None
        return self.text.failed + self.text.non_2xx

    @property
    def capped(self) -> bool:
        """The run ended before all requested requests completed (ab's -t limit)."""
        if not self.text.has_stats:
            return False
        if self.requested is not None and self.text.complete is not None:
            return self.text.complete < self.requested
        return self.text.finished is not None and self.text.complete is not None and (
            self.text.finished < self.text.complete
        )


_INT_FIELDS = {
    "Complete requests": "complete",
    "Failed requests": "failed",
    "Write errors": "write_errors",
    "Non-2xx responses": "non_2xx",
    "Concurrency Level": "concurrency",
}
_NUM = r"(-?\d+(?:\.\d+)?)"
_RE_FIELD = re.compile(r"^([A-Z][A-Za-z0-9 -]+):\s+(.*?)\s*$")
_RE_BREAKDOWN = re.compile(
    r"^\s*\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)\s*$"
)
_RE_CONN = re.compile(
    rf"^(Connect|Processing|Waiting|Total):\s+(\d+)\s+(\d+)\s+{_NUM}\s+(\d+)\s+(\d+)\s*$"
)
_RE_PERC = re.compile(r"^\s*(\d+)%\s+(\d+)(?: \(longest request\))?\s*$")
_RE_FINISHED = re.compile(r"^Finished (\d+) requests\s*$")
_RE_TOTAL_OF = re.compile(r"^Total of (\d+) requests completed\s*$")
_RE_APR_ERR = re.compile(r"^[^\s].*: .* \(-?\d+\)$")
# ab prints "Benchmarking HOST (be patient)..." without a newline; whatever comes
# next ("..done", "Total of N requests completed", or stderr under 2>&1) shares the line
_RE_BENCHMARKING = re.compile(r"^Benchmarking \S+ (?:\[through [^\]]*\] )?\(be patient\)\.*(?:done)?")
# stderr lines that are progress, not errors
_RE_PROGRESS = re.compile(r"^(Completed \d+ requests|Finished \d+ requests)\s*$")


def _num(text: str) -> float:
    """The first number in `text` (ab appends units and notes)."""
    m = re.match(_NUM, text.strip())
    if not m:
        raise ValueError(f"no number in {text!r}")
    return float(m.group(1))


def parse_ab_text(stdout: str, stderr: str = "") -> AbText:
    """Parse ab's stdout (and stderr, which holds errors and progress lines).

    Works the same when the two streams were captured together (``2>&1``).
    """
    res = AbText()
    section = None
    for raw in (stdout + "\n" + stderr).splitlines():
        line = _RE_BENCHMARKING.sub("", raw.rstrip("\n"))
        stripped = line.strip()
        if not stripped:
            continue
        if (m := _RE_FINISHED.match(stripped)):
            res.finished = int(m.group(1))
            continue
        if (m := _RE_TOTAL_OF.match(stripped)):
            res.completed_before_abort = int(m.group(1))
            continue
        if stripped.startswith("Connection Times (ms)"):
            section = "conn"
            continue
        if stripped.startswith("Percentage of the requests served"):
            section = "perc"
            continue
        if section == "conn" and (m := _RE_CONN.match(stripped)):
            res.connection_times[m.group(1).lower()] = ConnTimes(
                int(m.group(2)), int(m.group(3)), float(m.group(4)), int(m.group(5)), int(m.group(6))
            )
            continue
        if section == "perc" and (m := _RE_PERC.match(line)):
            res.text_percentiles[int(m.group(1))] = int(m.group(2))
            continue
        if (m := _RE_BREAKDOWN.match(line)):
            res.connect_errors, res.receive_errors, res.length_errors, res.exceptions = (
                int(g) for g in m.groups()
            )
            continue
        if (m := _RE_FIELD.match(line)) and not _RE_APR_ERR.match(stripped):
            key, value = m.group(1), m.group(2)
            if key in _INT_FIELDS:
                setattr(res, _INT_FIELDS[key], int(_num(value)))
            elif key == "Time taken for tests":
                res.time_taken_s = _num(value)
            elif key == "Requests per second":
                res.rps = _num(value)
            elif key == "Time per request":
                if "across all concurrent requests" in value:
                    res.mean_across_ms = _num(value)
                else:
                    res.mean_ms = _num(value)
            elif key == "Total transferred":
                res.bytes_received = int(_num(value))
            elif key == "HTML transferred":
                res.html_bytes = int(_num(value))
            elif key == "Document Length":
                res.document_length = None if value.startswith("Variable") else int(_num(value))
            elif key == "Server Software":
                res.server_software = value or None
            elif key == "Document Path":
                res.document_path = value
            continue
        if _is_error_line(stripped):
            res.error_lines.append(stripped)
    return res


def _is_error_line(line: str) -> bool:
    """Lines ab prints when it gives up (see apr_err() and err() in ab.c)."""
    if _RE_PROGRESS.match(line):
        return False
    return bool(
        _RE_APR_ERR.match(line)
        or line.startswith(("Test aborted", "ab: ", "Could not", "Cannot ", "Send request"))
        or "invalid URL" in line
        or line.startswith("SSL ")
    )


def parse_csv(text: str) -> dict[int, float]:
    """Parse the `-e` file: percentage served (0..100) -> time in ms."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("Percentage served"):
        raise ValueError("not an ab -e CSV file (missing 'Percentage served' header)")
    out: dict[int, float] = {}
    for ln in lines[1:]:
        pct, _, ms = ln.partition(",")
        out[int(pct)] = float(ms)
    return out


def parse_tsv(text: str) -> list[TsvRow]:
    """Parse the `-g` file: one row per request ab recorded (ab's 'complete')."""
    lines = text.splitlines()
    if not lines or lines[0].split("\t")[:2] != ["starttime", "seconds"]:
        raise ValueError("not an ab -g TSV file (missing 'starttime\\tseconds' header)")
    rows = []
    for ln in lines[1:]:
        if not ln.strip():
            continue
        parts = ln.split("\t")
        if len(parts) != 6:
            raise ValueError(f"bad ab -g row: {ln!r}")
        rows.append(TsvRow(parts[0], *(int(p) for p in parts[1:])))
    return rows


def csv_index(pct: int, done: int) -> int:
    """The index into ab's sorted times that ab uses for CSV row `pct`."""
    if pct <= 0:
        return 0
    if pct >= 100:
        return done - 1
    return int(0.5 + done * pct / 100.0)


def csv_row_valid(pct: int, done: int) -> bool:
    """Whether ab's CSV row `pct` holds real data (ab does not bound-check)."""
    return done > 0 and csv_index(pct, done) < done


def rank_ms(sorted_ms: list[float], pct: int) -> float | None:
    """ab's own nearest-rank rule applied to a sorted list, clamped to the last item.

    Used on the TSV's total times so a replacement row means what ab meant.
    """
    if not sorted_ms:
        return None
    return sorted_ms[min(csv_index(pct, len(sorted_ms)), len(sorted_ms) - 1)]


def ab_ceiling_rps(n: int | None, c: int | None, delay: float | None) -> float | None:
    """The most req/s ab can show for n requests at concurrency c, delay D s each.

    ab's first request runs alone, then c at a time: at least 1 + ceil((n-1)/c)
    rounds of D seconds. None when a figure is missing or D is 0 (no bound).
    """
    if not n or not c or not delay or n < 1 or c < 1 or delay <= 0:
        return None
    return n / (delay * (1 + math.ceil((n - 1) / c)))


@dataclass(frozen=True)
class Steady:
    """Throughput after ab's lone first request: (complete - 1) / span_s."""

    rps: float
    span_s: float
    source: str  # "first-request" (exact to ~1 ms) or "whole-seconds" (+-1 s)


#: Below this span the whole-seconds estimate (+-1 s) is too coarse to report.
STEADY_MIN_COARSE_SPAN_S = 20.0
#: Below this span even the exact figure (+-1 ms) is not worth reporting.
STEADY_MIN_EXACT_SPAN_S = 0.1
#: Slack (ms) for ab's own bookkeeping between two events it times.
_SLACK_MS = 20


def steady_throughput(rows: list[TsvRow] | None, complete: int | None,
                      time_taken_s: float | None) -> Steady | None:
    """Requests per second from the start of ab's 2nd request to the end of its last.

    Exact source ("first-request"): ab's `Time taken` runs from its first
    request's start to its last request's end (ms resolution), and the 2nd
    request starts when the 1st ends, so the span is time_taken - ttime of the
    1st request. The 1st request is the one that started first; it is known
    for sure when it is alone in the earliest whole second of the -g file
    (always so when the server takes >= 1 s). The -g file must then agree:
    the next starts fall in the second the 1st ended in, and the last end in
    the second ab's total time points at; otherwise this ab did not behave as
    assumed and the exact figure is not used.

    Fallback ("whole-seconds"): start of the 2nd request = its whole second,
    end = max(seconds*1000 + ttime): each side is up to 1 s early, so the span
    is right within +-1 s; reported only for spans >= STEADY_MIN_COARSE_SPAN_S.

    None when the -g file is missing or does not hold one row per complete
    request, or when neither source gives a trustworthy span.
    """
    if not rows or complete is None or complete < 2 or len(rows) != complete:
        return None
    s0 = min(r.seconds for r in rows)
    head = [r for r in rows if r.seconds == s0]
    last_end_lo = max(r.seconds * 1000 + r.ttime for r in rows)  # each true end is in [x, x+1000)
    if len(head) == 1 and time_taken_s is not None:
        first = head[0]
        s1 = min(r.seconds for r in rows if r is not first)
        total_ms = time_taken_s * 1000.0
        span_ms = total_ms - first.ttime
        base = s0 * 1000  # the 1st request started in [base, base + 1000)
        second_start_fits = (s1 * 1000 + 1000 > base + first.ttime - _SLACK_MS
                             and s1 * 1000 <= base + 1000 + first.ttime + _SLACK_MS)
        last_end_fits = (last_end_lo <= base + 1000 + total_ms + _SLACK_MS
                         and last_end_lo + 1000 >= base + total_ms - _SLACK_MS)
        if second_start_fits and last_end_fits and span_ms >= STEADY_MIN_EXACT_SPAN_S * 1000:
            return Steady((complete - 1) * 1000.0 / span_ms, span_ms / 1000.0, "first-request")
    start_ms = (s0 if len(head) > 1 else min(r.seconds for r in rows if r is not head[0])) * 1000
    span_ms = last_end_lo - start_ms
    if span_ms < STEADY_MIN_COARSE_SPAN_S * 1000:
        return None
    return Steady((complete - 1) * 1000.0 / span_ms, span_ms / 1000.0, "whole-seconds")


def _read(path: Path) -> str | None:
    return path.read_text(errors="replace") if path.is_file() else None


def load_ab_run(
    directory: Path,
    requested: int | None = None,
    exit_code: int | None = None,
    stdout_name: str = "ab.txt",
    stderr_name: str = "ab.err",
    tsv_name: str = "ab.tsv",
    csv_name: str = "ab.csv",
) -> AbRun:
    """Read one run's raw files, parse and cross-check them.

    `requested` is the `-n` the bench asked for (to tell a capped run);
    `exit_code` is ab's status (non-zero with statistics still means trouble).
    """
    stdout = _read(directory / stdout_name)
    stderr = _read(directory / stderr_name) or ""
    text = parse_ab_text(stdout or "", stderr)
    run = AbRun(text=text, requested=requested, csv=None, tsv=None, exit_code=exit_code, error=None)

    if stdout is None:
        run.error = AbError(f"{stdout_name} missing: ab did not run or its output was not fetched", exit_code)
        return run
    if not text.has_stats:
        message = text.error_lines[-1] if text.error_lines else _last_line(stderr) or "ab printed no results"
        run.error = AbError(message, exit_code, text.completed_before_abort)
        return run
    if exit_code not in (None, 0):
        run.error = AbError(
            text.error_lines[-1] if text.error_lines else "ab exited with an error after printing results",
            exit_code,
        )
    if text.complete and text.bytes_received == 0:
        run.error = AbError(
            f"no byte received from the server: all {text.complete} requests failed "
            f"(Connect {text.connect_errors}, Receive {text.receive_errors}, "
            f"Exceptions {text.exceptions})",
            exit_code,
        )

    csv_text = _read(directory / csv_name)
    tsv_text = _read(directory / tsv_name)
    try:
        run.csv = parse_csv(csv_text) if csv_text is not None else None
    except ValueError as exc:
        run.warnings.append(f"{csv_name}: {exc}")
    try:
        run.tsv = parse_tsv(tsv_text) if tsv_text is not None else None
    except ValueError as exc:
        run.warnings.append(f"{tsv_name}: {exc}")
    _cross_check(run)
    _percentiles(run)
    return run


def _last_line(text: str) -> str | None:
    lines = [_RE_BENCHMARKING.sub("", ln).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not _RE_PROGRESS.match(ln)]
    return lines[-1] if lines else None


def _cross_check(run: AbRun) -> None:
    """Compare ab's summary with its own per-request data; disagreements become warnings."""
    t = run.text
    if run.tsv is not None and t.complete is not None and len(run.tsv) != t.complete:
        run.warnings.append(f"ab.tsv has {len(run.tsv)} rows but ab reports {t.complete} complete requests")
    if t.rps is not None and t.time_taken_s and t.complete is not None:
        # ab prints time with 3 decimals and rps with 2: allow for both roundings.
        lo = t.complete / (t.time_taken_s + 0.0005)
        hi = t.complete / max(t.time_taken_s - 0.0005, 1e-9)
        if not lo - 0.006 <= t.rps <= hi + 0.006:
            run.warnings.append(
                f"ab's {t.rps} req/s disagrees with {t.complete} requests / {t.time_taken_s} s"
            )
    if t.finished is not None and t.complete is not None and t.finished != t.complete:
        run.warnings.append(f"ab says it finished {t.finished} requests but reports {t.complete} complete")


def _percentiles(run: AbRun) -> None:
    """p50, p99 and max in ms, from the CSV (ab's exact times), else the TSV, else ab's text.

    A CSV row past ab's data is one whose rank index is >= done: clamped, that
    rank is the slowest request, so it takes row 100 (always valid). Mixing in
    the TSV's whole-ms value there could put p99 above max.
    """
    done = run.text.complete or 0
    tsv_sorted = sorted(float(r.ttime) for r in run.tsv) if run.tsv else []
    sources: set[str] = set()
    values: dict[int, float | None] = {}
    for pct in (50, 99, 100):
        value: float | None = None
        src = ""
        if run.csv is not None and done and 100 in run.csv:
            value, src = (run.csv[pct] if csv_row_valid(pct, done) and pct in run.csv else run.csv[100]), "csv"
        elif tsv_sorted:
            value, src = rank_ms(tsv_sorted, pct), "tsv"
        elif pct in run.text.text_percentiles:
            value, src = float(run.text.text_percentiles[pct]), "text"
        elif pct == 100 and "total" in run.text.connection_times:
            value, src = float(run.text.connection_times["total"].max), "text"
        if value is not None and not math.isfinite(value):
            value = None
        if value is not None:
            sources.add(src)
        values[pct] = value
    run.p50_ms, run.p99_ms, run.max_ms = values[50], values[99], values[100]
    run.percentiles_from = "+".join(sorted(sources)) or None


def failures(ab: AbRun, loadgen: dict) -> tuple[int | None, dict[str, int], dict[str, int] | None]:
    """failed, failed_detail and the answers per status: ab's failed and its non-2xx; for a user's app
    (loadgen.json's "unexpected", from -v 3) ab's failed and the answers other than the route's expect."""
    t = ab.text
    detail = {"connect": t.connect_errors, "receive": t.receive_errors, "length": t.length_errors,
              "exceptions": t.exceptions, "non_2xx": t.non_2xx, "write": t.write_errors}
    wrong = integer(loadgen.get("unexpected"))
    if wrong is None or t.failed is None:
        return ab.failed, detail, None
    detail.pop("non_2xx")
    return t.failed + wrong, {**detail, "unexpected": wrong}, status_counts(loadgen.get("status_counts"))


def result(folder: Path, requested: int | None = None) -> Result:
    """What the run reports (benchhost.result), from ab.txt, ab.err, ab.csv, ab.tsv and loadgen.json;
    `requested` is the -n asked for (to tell a capped run)."""
    out = with_loadgen(Result(CLIENT.name), read_loadgen(folder), CLIENT.rc_key, CLIENT.cpu_key)
    ab = load_ab_run(folder, requested=requested, exit_code=out.client_rc)
    out.error = None if ab.error is None else str(ab.error)
    out.warnings, out.capped = list(ab.warnings), bool(ab.capped)
    t = ab.text
    if t.has_stats:
        out.rps, out.complete, out.time_taken_s = t.rps, t.complete, t.time_taken_s
        out.failed, out.failed_detail, out.status_counts = failures(ab, read_loadgen(folder))
        out.mean_ms, out.p50_ms, out.p99_ms, out.max_ms = t.mean_ms, ab.p50_ms, ab.p99_ms, ab.max_ms
        out.percentiles_from = ab.percentiles_from
        out.p99_lower_bound = lower_bound(out.failed, out.failed_detail, CLIENT.timed_failures, out.p99_ms)
    return out


def measures(rec: Any, files: Any, warnings: list[str], errors: list[str]) -> float | None:
    """Fill in a report record's figures of an ab run (ab.txt, ab.err, ab.tsv, ab.csv; benchhost.clients'
    Client.measures); return ab's ceiling, req/s."""
    if files.error and not (files.directory / "ab.txt").is_file():
        return None  # the run failed before ab wrote anything: the error says why
    ab = load_ab_run(files.directory, requested=rec.n, exit_code=rec.client_rc)
    warnings.extend(ab.warnings)
    if ab.error is not None:
        errors.append(str(ab.error))
    t = ab.text
    rec.capped = bool(ab.capped)
    spec = files.run
    ceiling = None if rec.capped or spec is None else ab_ceiling_rps(rec.n, rec.c, spec.delay)
    if not t.has_stats:
        return ceiling
    gone = files.missing(["ab.tsv", "ab.csv"])
    if gone:
        warnings.append(f"{' and '.join(gone)} missing: percentiles from {ab.percentiles_from or 'nowhere'}"
                        + ("; no steady rate" if "ab.tsv" in gone else ""))
    conn = t.connection_times.get("connect")
    rec.rps, rec.complete, rec.time_taken_s = t.rps, t.complete, t.time_taken_s
    rec.failed, rec.failed_detail, counted = failures(ab, files.loadgen)
    if counted is not None:
        rec.status_counts = counted
    rec.mean_ms, rec.p50_ms, rec.p99_ms, rec.max_ms = t.mean_ms, ab.p50_ms, ab.p99_ms, ab.max_ms
    rec.percentiles_from = ab.percentiles_from
    rec.connect_mean_ms, rec.connect_max_ms = (conn.mean, conn.max) if conn else (None, None)
    steady = steady_throughput(ab.tsv, t.complete, t.time_taken_s)
    rec.steady_rps, rec.steady_rps_from = (rounded(steady.rps, 2), steady.source) if steady else (None, None)
    rec.loadgen_cpu_pct = cpu_pct(finite(files.loadgen.get("ab_cpu_ms")), 1, rec.time_taken_s)
    return ceiling


def merge(rec: Any, parts: list[tuple[Any, Any]]) -> bool:
    """Several load hosts' parts into `rec` (Client.merge): percentiles from every part's -g rows (the
    union's nearest rank: "tsv-merged"); connect max the highest, mean weighted by complete. False when
    a part has no ab.tsv."""
    rec.connect_max_ms = highest([p.connect_max_ms for p, _ in parts])
    pairs = [(p.connect_mean_ms, p.complete) for p, _ in parts]
    total = sum(w or 0 for _, w in pairs)
    known = pairs and total and all(v is not None and w is not None for v, w in pairs)
    rec.connect_mean_ms = int(round(sum(v * w for v, w in pairs) / total, 0)) if known else None
    times: list[float] = []
    for _, files in parts:
        try:
            rows = parse_tsv((files.directory / "ab.tsv").read_text())
        except (OSError, ValueError):
            return False
        times.extend(float(r.ttime) for r in rows)
    times.sort()
    rec.p50_ms, rec.p99_ms, rec.max_ms = rank_ms(times, 50), rank_ms(times, 99), rank_ms(times, 100)
    rec.percentiles_from = "tsv-merged" if times else None
    return True


#: ab counts write errors apart (a failed write is a length or receive failure too); its non-2xx and
#: wrong-length answers are timed. It does not count statuses, and sends its first request alone: 50
#: rounds put its ceiling at 98% of the ideal c / delay.
CLIENT = register(Client(
    name="ab", module="benchhost.clients.ab", files=("ab.txt", "ab.err", "ab.tsv", "ab.csv"), result=result,
    failed_kinds=("connect", "receive", "length", "exceptions", "non_2xx", "unexpected"),
    timed_failures=("non_2xx", "length", "unexpected"),
    lone_first=True, rc_key="ab_rc", cpu_key="ab_cpu_ms", in_names=False, auto_rounds=50, in_both=True, binary="ab",
    latencies="requests", measures=measures, merge=merge,
    failed_note=(("connect", "receive", "length", "exceptions", "non_2xx"),
                 "ab counts failed requests in its complete count and req/s")))


if __name__ == "__main__":
    sys.exit(main())
