"""Parse one wrk run (bench-wrk.py + bench-wrk.lua) into numbers.

The bench runs, on the load host::

    bench-wrk.py --dir DIR --script bench-wrk.lua   # n, c, url... from DIR/run.json:
                                                    # wrk -t T -c C -d LIMIT --timeout S --latency -s bench-wrk.lua URL

and leaves wrk.txt (wrk's stdout), wrk.err, wrk.json (written by the Lua
script's done()) and loadgen.json. wrk.json is the source: wrk's text rounds
and scales its units (ms, s, k), the JSON holds wrk's integers (µs, counts).

What the numbers mean, from wrk 4.1.0's source (src/wrk.c, src/stats.c) and
checked against the real binary (tests/test_benchreport_wrk_live.py):

* `requests` counts complete responses, whatever their status; responses
  with status > 399 are also counted in errors.status. The Lua script counts
  non-2xx itself (`non_2xx`, 3xx included): `failed` adds it to the socket
  errors, like abparse's `failed` adds ab's non-2xx.
* `status_counts` ({"200": k, "502": k, ...}, bench-wrk.lua's per-thread counts
  added up; absent in older runs) says which codes the non-2xx were. Its
  non-2xx codes must add up to `non_2xx` and its codes > 399 to wrk's own
  errors.status: a warning says when not (status_check).
* errors.connect/read/write are socket errors (wrk reconnects after each, and
  the request in flight is lost: not in `requests`); errors.timeout counts
  responses that came later than --timeout (they ARE in `requests`, but not
  in the latency histogram). A request never answered is counted nowhere,
  so a run where the server stops answering ends at -d: capped.
* Each thread stops at its share of n; responses handled in the same
  event-loop pass can add a few more, so `requests` may exceed n by up to
  the requests in flight. Fewer than n means wrk stopped at -d: capped.
* `duration_us` runs to the last thread's share ("threads"); when a thread
  never got its share (a capped run), or without LuaJIT's ffi, it is wrk's own
  runtime ("wrk"), which ends when wrk stopped.
* wrk corrects its latency histogram for coordinated omission before done():
  each response slower than twice the expected interval E = runtime / (requests
  / c) adds synthetic samples at its time - E, - 2E... So when max > 2E the
  percentiles are wrk's corrected ones, not the measured times (max always is
  measured). `percentiles_from` says which.
* wrk.json's latency_hist_us is that (corrected) histogram, [[µs, count], ...]
  (bench-wrk.lua; null when dumping it would have taken too long, absent in
  older runs): several load hosts' runs are merged from it, with wrk's own
  percentile rule (hist_percentile).
* wrk has no lone first request: all c connections start at once, so ab's
  ceiling (abparse.ab_ceiling_rps) does not apply. Like ab it sends HTTP/1.0
  (bench-wrk.lua), a connection per request.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ERROR_KINDS = ("connect", "read", "write", "status", "timeout")
_RE_REQUESTS = re.compile(r"^\s*(\d+) requests in ")


@dataclass
class WrkRun:
    """One wrk run, parsed and cross-checked: the numbers the summary uses."""

    requested: int | None
    exit_code: int | None
    data: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    requests: int | None = None
    duration_s: float | None = None
    duration_from: str | None = None
    bytes_received: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    #: responses per HTTP status, {"200": k, ...}; None when wrk.json has none (older runs)
    status_counts: dict[str, int] | None = None
    threads: int | None = None
    threads_reached: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    p99_9_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    correction_interval_ms: float | None = None
    #: wrk's latency histogram (µs, count), sorted; None when wrk.json has none
    latency_hist: list[tuple[int, int]] | None = None

    @property
    def has_stats(self) -> bool:
        """wrk ran to its done() and counted something."""
        return self.requests is not None and self.duration_s is not None

    @property
    def complete(self) -> int | None:
        return self.requests if self.has_stats else None

    @property
    def rps(self) -> float | None:
        """Responses per second over duration_s (wrk's own req/s uses its runtime)."""
        if not self.has_stats or not self.duration_s:
            return None
        return round(self.requests / self.duration_s, 2)

    @property
    def failed(self) -> int | None:
        """Socket errors, late responses and non-2xx answers."""
        if not self.has_stats:
            return None
        e = self.errors
        return e["connect"] + e["read"] + e["write"] + e["timeout"] + self.non_2xx

    @property
    def capped(self) -> bool:
        """wrk stopped at -d before every thread had its share of n."""
        if not self.has_stats:
            return False
        if self.threads is not None and self.threads_reached is not None:
            return self.threads_reached < self.threads
        return self.requested is not None and self.requests < self.requested

    @property
    def percentiles_corrected(self) -> bool:
        """The percentiles include wrk's synthetic samples (some response took > 2E)."""
        if self.max_ms is None or self.correction_interval_ms is None:
            return False
        return self.max_ms > 2 * self.correction_interval_ms

    @property
    def percentiles_from(self) -> str | None:
        if self.p50_ms is None:
            return None
        return "wrk-corrected" if self.percentiles_corrected else "wrk"


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return int(value)


def _ms(value: Any) -> float | None:
    v = _int(value)
    return None if v is None else v / 1000.0


def _read(path: Path) -> str | None:
    return path.read_text(errors="replace") if path.is_file() else None


def _last_line(text: str | None) -> str | None:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else None


def text_requests(stdout: str) -> int | None:
    """The count in wrk's "N requests in T, B read" line."""
    for line in stdout.splitlines():
        if (m := _RE_REQUESTS.match(line)):
            return int(m.group(1))
    return None


def apply_json(run: WrkRun, data: dict[str, Any]) -> None:
    """Fill `run` from wrk.json, noting what does not add up."""
    run.data = data
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    run.errors = {k: _int(errors.get(k)) or 0 for k in ERROR_KINDS}
    run.requests = _int(data.get("requests"))
    duration = _int(data.get("duration_us"))
    run.duration_s = duration / 1e6 if duration and duration > 0 else None
    run.duration_from = data.get("duration_from") if run.duration_s else None
    run.bytes_received = _int(data.get("bytes"))
    run.non_2xx = _int(data.get("non_2xx")) or 0
    run.status_counts = status_counts(data.get("status_counts"))
    run.warnings.extend(status_check(run.status_counts, run.non_2xx, "wrk.json", errors.get("status")))
    run.threads = _int(data.get("threads"))
    run.threads_reached = _int(data.get("threads_reached_share"))
    interval = _int(data.get("correction_interval_us"))
    run.correction_interval_ms = interval / 1000.0 if interval else None
    lat = data.get("latency_us") if isinstance(data.get("latency_us"), dict) else {}
    lo, hi = _int(lat.get("min")), _int(lat.get("max"))
    # No latency sample (every response came after --timeout): wrk reports its
    # empty histogram's min as 2^64-1 and percentiles as 0. Not measurements.
    if run.requests and lo is not None and hi is not None and 0 < lo <= hi:
        run.p50_ms, run.p90_ms = _ms(lat.get("p50")), _ms(lat.get("p90"))
        run.p99_ms, run.p99_9_ms = _ms(lat.get("p99")), _ms(lat.get("p99_9"))
        run.max_ms, run.mean_ms = hi / 1000.0, _ms(lat.get("mean"))
    run.latency_hist = histogram(data.get("latency_hist_us"))
    counted = _int(data.get("responses_counted"))
    if run.requests is not None and counted is not None and counted != run.requests:
        run.warnings.append(f"wrk counted {run.requests} responses, the Lua script {counted}")


def status_counts(raw: Any) -> dict[str, int] | None:
    """A client's status_counts (wrk.json's, rate.json's) as {"200": k, ...} in code order; None when
    absent or malformed."""
    if not isinstance(raw, dict):
        return None
    out = {}
    for code, count in raw.items():
        k = _int(count)
        if not str(code).isdigit() or k is None or k < 0:
            return None
        out[str(int(code))] = k
    return dict(sorted(out.items(), key=lambda item: int(item[0])))


def non_2xx_codes(counts: dict[str, int]) -> dict[str, int]:
    """The counts of the codes outside 200-299 (the clients' non-2xx)."""
    return {code: k for code, k in counts.items() if not 200 <= int(code) <= 299}


def status_check(counts: dict[str, int] | None, non_2xx: int, source: str, over_399: Any = None) -> list[str]:
    """Warnings when status_counts disagree with the client's non_2xx (and wrk's errors.status, its own
    count of codes > 399): the codes shown for the non-2xx would not be theirs."""
    if counts is None:
        return []
    out = []
    codes = sum(non_2xx_codes(counts).values())
    if codes != non_2xx:
        out.append(f"{source}: non_2xx is {non_2xx}, but its status_counts have {codes} non-2xx answers")
    wrk_own = _int(over_399)
    high = sum(k for code, k in counts.items() if int(code) > 399)
    if wrk_own is not None and wrk_own != high:
        out.append(f"{source}: wrk counted {wrk_own} answers with status > 399, its status_counts {high}")
    return out


def histogram(raw: Any) -> list[tuple[int, int]] | None:
    """wrk.json's latency_hist_us as sorted (µs, count) pairs; None when absent or malformed."""
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            return None
        value, count = _int(item[0]), _int(item[1])
        if value is None or count is None or count < 0:
            return None
        out.append((value, count))
    return sorted(out)


def hist_percentile(hist: list[tuple[int, int]], p: float) -> int | None:
    """wrk's percentile of a histogram (src/stats.c stats_percentile): the first value whose running
    count reaches round(p / 100 × count + 0.5), C's round (half away from zero); None when empty."""
    total = sum(count for _, count in hist)
    if total <= 0:
        return None
    rank = math.floor(p / 100.0 * total + 0.5 + 0.5)
    running = 0
    for value, count in hist:
        running += count
        if running >= rank:
            return value
    return hist[-1][0]


def merge_histograms(hists: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """The histogram of the union of several runs' samples."""
    merged: dict[int, int] = {}
    for hist in hists:
        for value, count in hist:
            merged[value] = merged.get(value, 0) + count
    return sorted(merged.items())


def load_wrk_run(directory: Path, requested: int | None = None, exit_code: int | None = None) -> WrkRun:
    """Read one run's raw files (wrk.txt, wrk.err, wrk.json), parse and cross-check them.

    `requested` is the n asked for; `exit_code` is wrk's status.
    """
    run = WrkRun(requested=requested, exit_code=exit_code)
    stdout, stderr = _read(directory / "wrk.txt"), _read(directory / "wrk.err")
    raw = _read(directory / "wrk.json")
    rc = f" (wrk exit code {exit_code})" if exit_code not in (None, 0) else ""
    if stdout is None and raw is None:
        run.error = "wrk.txt missing: wrk did not run or its output was not fetched"
        return run
    if raw is None:
        run.error = (_last_line(stderr) or "wrk wrote no results (wrk.json missing)") + rc
        return run
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        run.error = f"wrk.json unreadable: {exc}"
        return run
    apply_json(run, data)
    if not run.has_stats:
        run.error = "wrk.json lacks requests or duration_us" + rc
        return run
    if exit_code not in (None, 0):
        run.error = (_last_line(stderr) or "wrk exited with an error after writing results") + rc
    if run.requests == 0:
        e = run.errors
        run.error = (f"no response from the server in {run.duration_s:g} s (connect {e['connect']}, "
                     f"read {e['read']}, write {e['write']}, timeout {e['timeout']})")
    if stdout is not None:
        shown = text_requests(stdout)
        if shown is not None and shown != run.requests:
            run.warnings.append(f"wrk.txt says {shown} requests, wrk.json {run.requests}")
    if stderr and stderr.strip():
        run.warnings.append(f"wrk.err: {_last_line(stderr)}")
    return run
