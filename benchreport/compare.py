"""`python -m benchreport compare RUN_A RUN_B`: what changed from run A to run B, point by point.

A CI job runs the bench, then compares the new run (B) with a kept baseline
(A) and fails on exit 1. Only the two runs' summary.json files are read
(`python -m benchreport RUN_DIR` writes them); nothing is written, unless
`--html [PATH]` asks for the comparison as a self-contained page
(benchreport.comparehtml: a chart per metric, A's and B's bars with the noise
band and the verdicts, and the table): to PATH, or without one into RUN_B's
folder as compare-<A's id>.html (the newer run keeps its comparisons, one
per baseline). A page that cannot be written exits 2.

A *point* is one measured configuration: (mode, profile, client, c, n, delay,
route, and a constant-rate run's rate). Two records are compared only when all
agree: a change of flags changes the figures for reasons that are not the
server's.

Metrics (METRICS): req/s (higher is better), p99 ms and CPU ms/request (lower
is better). Their change is 100 × (B − A) / A, in %. Verdict per metric:

* within noise: |change| <= the noise band;
* faster / slower: outside the band, better / worse (for p99 and CPU ms/req,
  "faster" means lower).

Noise band, per metric and point (noise_band):

* when both records carry a coefficient of variation for the metric (the
  repeat feature's keys, below): 2 × max(cv_A, cv_B) — two spreads of the
  noisier run, so a change within what the repeats themselves scattered is
  not called a change (`--noise` does not apply: the runs' own spread is
  the better estimate);
* otherwise (single runs, today's summaries) the floor, `--noise`, default
  DEFAULT_NOISE_PCT (5%): "no noise estimate (single runs)".

Regression, per point: a metric outside its band AND worse by more than
`--threshold` (default DEFAULT_THRESHOLD_PCT, 10%), i.e. worse by more than
max(band, threshold); or failed requests went from 0 to more than 0.
Improvement mirrors it: a metric better by more than max(band, threshold), or
failed requests from more than 0 to 0, and no metric slower. Point verdicts
(POINT_VERDICTS): regressed > improved > mixed (faster and slower metrics,
all within the threshold) > slower > faster > within noise.

Not compared: a point whose record, in either run, has an error or an
expected failure (run.json or the mode table expects the mode to fail, e.g.
hang: its figures are no baseline), measured no req/s, has no run.json (no point to match), or appears
twice in one run without being repetitions. Those are listed as "not comparable" with the reason; a
point in only one run is listed as such. Neither fails the comparison (a run
error already makes the bench itself exit 3).

Repetitions (repeat=K) are one point (repeat_group): records of a point that
each carry their own `repetition` number (or, without those, of which one
carries `repeats` >= 2). The point is compared on its first usable record
(representative): every repetition carries the same stats, so the median is
compared and the cv sets the band; a note says "median of k of K
repetitions" (and how many were left out: an error or expected failure).

Keys read for noise (the one place; the repeat feature writes them):

    record["repeats"]                      int: how many times the point ran (and
                                           counted); when present and < 2 the cvs
                                           and medians are ignored
    record["repetition"]                   int: which run of its point (1..K)
    record["stats"][metric]["cv"]          float >= 0: stddev / mean of the metric
                                           over the repeats, a FRACTION (0.04 = 4%)
    record["stats"][metric]["median"]      float: compared instead of record[metric]
                                           when present, unless repeats < 2 (min and
                                           max are not read)

with metric one of "rps", "p99_ms", "cpu_ms_per_req".

Exit status (EXIT_*): 0 no point regressed; 1 at least one regressed;
2 a run not found, without a readable summary.json, no point in common, a
bad command line, or --html's page not written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport.runfiles import finite, integer

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where bench.yml files its runs (bench_results_dir: the playbook's directory).
DEFAULT_RESULTS = REPO_ROOT / "results"
SUMMARY = "summary.json"

EXIT_OK, EXIT_REGRESSED, EXIT_USAGE = 0, 1, 2

DEFAULT_NOISE_PCT = 5.0
DEFAULT_THRESHOLD_PCT = 10.0
#: band = CV_FACTOR × max(cv_A, cv_B), when both records carry a cv.
CV_FACTOR = 2.0

# The repeat feature's keys (see the module's docstring).
REPEATS_KEY = "repeats"
REPETITION_KEY = "repetition"
STATS_KEY = "stats"
CV_KEY = "cv"
MEDIAN_KEY = "median"

#: rate: a constant-rate run's scheduled req/s (client rate); a point without one leaves it out of its JSON.
POINT_KEYS = ("mode", "profile", "client", "c", "n", "delay", "route", "rate")

FASTER, SLOWER, NOISE, NOT_MEASURED = "faster", "slower", "within noise", "not measured"
REGRESSED, IMPROVED, MIXED = "regressed", "improved", "mixed"
POINT_VERDICTS = (REGRESSED, IMPROVED, MIXED, SLOWER, FASTER, NOISE)
COMPARED, NOT_COMPARABLE, ONLY_A, ONLY_B = "compared", "not comparable", "only in A", "only in B"
DASH = "–"

#: A comparison's points are matched on this tuple (normalised by point_key).
Point = tuple[Any, ...]


@dataclass(frozen=True)
class Metric:
    """A figure compared between runs: its summary.json key and which way is better."""

    key: str
    label: str
    higher_is_better: bool
    #: decimals shown; None: whole numbers from 100 up, one decimal below (ms, as the report shows them)
    digits: int | None


METRICS = (
    Metric("rps", "req/s", True, 2),
    Metric("p99_ms", "p99 ms", False, None),
    Metric("cpu_ms_per_req", "CPU ms/req", False, 3),
)


class CompareError(Exception):
    """Why two runs cannot be compared: one line for stderr, exit 2."""


@dataclass
class MetricChange:
    """One metric of one point: both figures, the change and its verdict."""

    metric: str
    a: float | None
    b: float | None
    change_pct: float | None
    band_pct: float
    band_from: str  # "cv" or "floor"
    verdict: str
    regressed: bool = False
    improved: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "change_pct": _round(self.change_pct, 2),
                "band_pct": _round(self.band_pct, 2), "band_from": self.band_from,
                "verdict": self.verdict, "regressed": self.regressed, "improved": self.improved}


@dataclass
class PointResult:
    """One point: compared (metrics, verdict, reasons), not comparable (why), or in one run only."""

    point: dict[str, Any]
    status: str
    verdict: str | None = None
    metrics: list[MetricChange] = field(default_factory=list)
    failed_a: int | None = None
    failed_b: int | None = None
    #: why the point regressed or improved; why it is not comparable
    reasons: list[str] = field(default_factory=list)
    #: what a reader should know (capped runs, percentiles measured differently...)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"point": self.point, "label": point_label(self.point), "status": self.status}
        if self.status == COMPARED:
            out.update(verdict=self.verdict, metrics={m.metric: m.as_dict() for m in self.metrics},
                       failed={"a": self.failed_a, "b": self.failed_b})
        out.update(reasons=self.reasons, notes=self.notes)
        return out


@dataclass
class Comparison:
    """Both runs, the settings used and every point's result (A's order, then B's own points)."""

    run_a: Path
    run_b: Path
    noise_pct: float
    threshold_pct: float
    points: list[PointResult]

    def compared(self) -> list[PointResult]:
        return [p for p in self.points if p.status == COMPARED]

    def counts(self) -> dict[str, int]:
        """How many points compared, per verdict, and how many were not."""
        done = self.compared()
        counts = {"compared": len(done)}
        counts.update({v.replace(" ", "_"): sum(p.verdict == v for p in done) for v in POINT_VERDICTS})
        for status in (NOT_COMPARABLE, ONLY_A, ONLY_B):
            counts[status.replace(" ", "_")] = sum(p.status == status for p in self.points)
        return counts

    def exit_code(self) -> int:
        return EXIT_REGRESSED if any(p.verdict == REGRESSED for p in self.points) else EXIT_OK

    def band_sources(self) -> set[str]:
        return {m.band_from for p in self.compared() for m in p.metrics if m.verdict != NOT_MEASURED}


# -- reading the runs ---------------------------------------------------------------------------


def resolve_run(arg: str, results: Path) -> Path:
    """The run folder `arg` names: a bare name (a run id, `latest`) is looked up in `results` first,
    anything with a slash is a path. `latest` is a symlink: it is resolved, so the output names the run."""
    given = Path(arg)
    bare = os.sep not in arg and arg not in (".", "..")
    candidates = [results / arg, given] if bare else [given]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    looked = " or ".join(str(p) for p in dict.fromkeys(candidates))
    raise CompareError(f"run {arg!r} not found (no folder {looked})")


def load_records(run: Path) -> list[dict[str, Any]]:
    """summary.json's records; a missing or malformed file is a CompareError (never a traceback)."""
    path = run / SUMMARY
    if not path.is_file():
        raise CompareError(f"{run} has no {SUMMARY} (write it with `python -m benchreport {run}`)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CompareError(f"{path} unreadable: {exc}".replace("\n", " ")) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CompareError(f"{path} is not a bench summary (a JSON list of records)")
    return data


# -- points and figures -------------------------------------------------------------------------


def point_key(rec: Mapping[str, Any]) -> Point | None:
    """The record's point, normalised so that 1 and 1.0 s, or a missing client (ab), match; None
    without a mode (a folder without run.json: nothing says what it measured)."""
    if rec.get("mode") is None:
        return None
    delay = finite(rec.get("delay"))
    return (str(rec["mode"]), _text(rec.get("profile")), str(rec.get("client") or "ab"),
            integer(rec.get("c")), integer(rec.get("n")), delay, _text(rec.get("route")), finite(rec.get("rate")))


def point_dict(key: Point) -> dict[str, Any]:
    """The point as a JSON object (integral delays as ints)."""
    out = dict(zip(POINT_KEYS, key))
    if out["rate"] is None:
        del out["rate"]
    delay = out["delay"]
    if delay is not None and delay == int(delay):
        out["delay"] = int(delay)
    return out


def point_label(point: Mapping[str, Any]) -> str:
    """mode/profile/client c=.. n=.. delay=.. route: how the lists name a point."""
    delay = point.get("delay")
    return (f"{point.get('mode')}/{point.get('profile')}/{point.get('client')} c={point.get('c')} "
            f"n={point.get('n')} delay={DASH if delay is None else f'{delay:g}'} {point.get('route') or DASH}")


def repeated(rec: Mapping[str, Any]) -> bool:
    """Whether the record says its point ran (and counted) 2 or more times: `repeats` >= 2."""
    return (integer(rec.get(REPEATS_KEY)) or 0) >= 2


def value(rec: Mapping[str, Any], metric: str) -> float | None:
    """The figure compared: the repeats' median when the record has one (and `repeats`, when
    present, is 2 or more: one run's own figure is its figure), else the record's own."""
    if rec.get(REPEATS_KEY) is None or repeated(rec):
        median = finite(_stat(rec, metric).get(MEDIAN_KEY))
        if median is not None:
            return median
    return finite(rec.get(metric))


def cv(rec: Mapping[str, Any], metric: str) -> float | None:
    """The metric's coefficient of variation over the point's repeats (a fraction), or None: no
    stats, a negative or non-numeric cv, or `repeats` < 2 (one run has no spread to measure)."""
    repeats = rec.get(REPEATS_KEY)
    if repeats is not None and (integer(repeats) or 0) < 2:
        return None
    found = finite(_stat(rec, metric).get(CV_KEY))
    return found if found is not None and found >= 0 else None


def _stat(rec: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    stats = rec.get(STATS_KEY)
    entry = stats.get(metric) if isinstance(stats, Mapping) else None
    return entry if isinstance(entry, Mapping) else {}


def noise_band(a: Mapping[str, Any], b: Mapping[str, Any], metric: str, floor_pct: float) -> tuple[float, str]:
    """The band (in %) a change must leave to count, and where it came from ("cv" or "floor")."""
    cv_a, cv_b = cv(a, metric), cv(b, metric)
    if cv_a is None or cv_b is None:
        return floor_pct, "floor"
    return 100.0 * CV_FACTOR * max(cv_a, cv_b), "cv"


def change_pct(a: float | None, b: float | None) -> float | None:
    """100 × (b − a) / a; None when either is missing or a is 0 and b not (no relative change)."""
    if a is None or b is None:
        return None
    if a == 0:
        return 0.0 if b == 0 else None
    # rounded so that 100 -> 90 is exactly -10 (a threshold of 10% is "more than 10")
    return round(100.0 * (b - a) / a, 6)


def compare_metric(metric: Metric, a: Mapping[str, Any], b: Mapping[str, Any],
                   floor_pct: float, threshold_pct: float) -> MetricChange:
    """One metric's change, verdict, and whether it regressed or improved beyond the threshold."""
    va, vb = value(a, metric.key), value(b, metric.key)
    band, source = noise_band(a, b, metric.key, floor_pct)
    change = change_pct(va, vb)
    if change is None:
        return MetricChange(metric.key, va, vb, None, band, source, NOT_MEASURED)
    better = change if metric.higher_is_better else -change
    if abs(change) <= band:
        return MetricChange(metric.key, va, vb, change, band, source, NOISE)
    beyond = abs(better) > threshold_pct
    return MetricChange(metric.key, va, vb, change, band, source, FASTER if better > 0 else SLOWER,
                        regressed=better < 0 and beyond, improved=better > 0 and beyond)


def not_comparable(rec: Mapping[str, Any]) -> str | None:
    """Why this record's figures are no yardstick, or None."""
    if rec.get("expected"):  # run.json's or the mode table's expectation: the bench expects it to fail
        if rec.get("as_expected"):
            return f"expected failure ({rec['expected']})"
        return f"expected to {rec['expected']} but succeeded: the expectation needs updating first"
    if rec.get("error"):
        return f"error: {rec['error']}"
    if value(rec, "rps") is None:
        return "no req/s measured"
    return None


def compare_point(key: Point, a: Mapping[str, Any], b: Mapping[str, Any],
                  floor_pct: float, threshold_pct: float) -> PointResult:
    """A point present once in each run: not comparable (why), or its metrics and verdict."""
    result = PointResult(point_dict(key), COMPARED)
    why = [f"{side}: {reason}" for side, rec in (("A", a), ("B", b)) if (reason := not_comparable(rec))]
    if why:
        result.status, result.reasons = NOT_COMPARABLE, why
        return result
    result.metrics = [compare_metric(m, a, b, floor_pct, threshold_pct) for m in METRICS]
    result.failed_a, result.failed_b = integer(a.get("failed")), integer(b.get("failed"))
    labels = {m.key: m.label for m in METRICS}
    worse = [f"{labels[m.metric]} {m.change_pct:+.1f}%" for m in result.metrics if m.regressed]
    better = [f"{labels[m.metric]} {m.change_pct:+.1f}%" for m in result.metrics if m.improved]
    if result.failed_a == 0 and (result.failed_b or 0) > 0:
        worse.append(f"failed requests 0 -> {result.failed_b}")
    if (result.failed_a or 0) > 0 and result.failed_b == 0:
        better.append(f"failed requests {result.failed_a} -> 0")
    slower = any(m.verdict == SLOWER for m in result.metrics)
    faster = any(m.verdict == FASTER for m in result.metrics)
    if worse:
        result.verdict, result.reasons = REGRESSED, worse
    elif better and not slower:
        result.verdict, result.reasons = IMPROVED, better
    elif (better or faster) and slower:
        result.verdict, result.reasons = MIXED, better
    else:
        result.verdict = SLOWER if slower else FASTER if faster else NOISE
    result.notes = point_notes(a, b)
    return result


def point_notes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Differences in how the two runs measured, which the figures alone do not show."""
    notes = [f"capped in {side} (stopped at its time limit)" for side, rec in (("A", a), ("B", b))
             if rec.get("capped")]
    for key, what in (("percentiles_from", "p99 from"), ("cpu_source", "CPU from"), ("loadgens", "load hosts")):
        if a.get(key) != b.get(key) and a.get(key) is not None and b.get(key) is not None:
            notes.append(f"{what} {a[key]} in A, {b[key]} in B")
    notes += [f"p99 in {side} is an upper bound (its load hosts' highest)" for side, rec in (("A", a), ("B", b))
              if rec.get("p99_upper_bound")]
    notes += [f"client-limited in {side}: {rec.get('client_limited_why')}" for side, rec in (("A", a), ("B", b))
              if rec.get("client_limited")]
    return notes


def index(records: list[dict[str, Any]]) -> tuple[dict[Point, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Records by point, in the summary's order; and the records that name no point."""
    by_point: dict[Point, list[dict[str, Any]]] = {}
    unnamed = []
    for rec in records:
        key = point_key(rec)
        if key is None:
            unnamed.append(rec)
        else:
            by_point.setdefault(key, []).append(rec)
    return by_point, unnamed


def repeat_group(recs: list[dict[str, Any]]) -> bool:
    """Whether several records of one point are its repetitions (repeat=K), i.e. one point.

    With `repetition` numbers (benchreport.summary writes one on every record): when they are all
    different (a copied run folder repeats its number: a duplicate). Without them (another
    summary's records): when one carries `repeats` >= 2. Otherwise duplicates, not comparable."""
    numbers = [integer(r.get(REPETITION_KEY)) for r in recs]
    if None not in numbers:
        return len(set(numbers)) == len(numbers)
    return any(repeated(r) for r in recs)


def representative(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The record a point is compared on: every repetition carries the same stats (its median and
    cv), so the first one with usable figures, else the first (its reason says why not)."""
    return next((r for r in recs if not_comparable(r) is None), recs[0])


def repeat_note(side: str, recs: list[dict[str, Any]]) -> str | None:
    """For a repeated point: how many repetitions its figures are the median of, and how many did not count."""
    if len(recs) < 2:
        return None
    counted = sum(not_comparable(r) is None for r in recs)
    left = len(recs) - counted
    return (f"{side}: median of {counted} of {len(recs)} repetitions"
            + (f" ({left} left out: error or expected failure)" if left else ""))


def compare_runs(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]], run_a: Path, run_b: Path,
                 noise_pct: float = DEFAULT_NOISE_PCT,
                 threshold_pct: float = DEFAULT_THRESHOLD_PCT) -> Comparison:
    """Every point of either run: compared, not comparable, or only in one run.

    Raises CompareError when no point is in both runs (nothing would guard anything)."""
    by_a, unnamed_a = index(records_a)
    by_b, unnamed_b = index(records_b)
    if not set(by_a) & set(by_b):
        raise CompareError(f"no point in common between {run_a} and {run_b} "
                           "(a point is mode, profile, client, c, n, delay, route, rate)")
    points: list[PointResult] = []
    for key in [*by_a, *(k for k in by_b if k not in by_a)]:
        recs_a, recs_b = by_a.get(key, []), by_b.get(key, [])
        if not recs_b or not recs_a:
            points.append(PointResult(point_dict(key), ONLY_A if recs_a else ONLY_B))
        elif dup := [f"{side}: {len(recs)} records for this point" for side, recs in (("A", recs_a), ("B", recs_b))
                     if len(recs) > 1 and not repeat_group(recs)]:
            points.append(PointResult(point_dict(key), NOT_COMPARABLE, reasons=dup))
        else:
            result = compare_point(key, representative(recs_a), representative(recs_b), noise_pct, threshold_pct)
            result.notes += [note for side, recs in (("A", recs_a), ("B", recs_b))
                             if (note := repeat_note(side, recs))]
            points.append(result)
    for side, unnamed in (("A", unnamed_a), ("B", unnamed_b)):
        for rec in unnamed:
            points.append(PointResult({k: None for k in POINT_KEYS}, NOT_COMPARABLE,
                                      reasons=[f"{side}: {rec.get('raw_dir') or '?'}/ has no run.json: "
                                               "its point is unknown"]))
    return Comparison(run_a, run_b, noise_pct, threshold_pct, points)


# -- output -------------------------------------------------------------------------------------


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _text(x: Any) -> str | None:
    return None if x is None else str(x)


def _fig(x: float | None, digits: int | None) -> str:
    if x is None:
        return DASH
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1
    return f"{x:.{digits}f}"


def _cell(x: Any) -> str:
    return DASH if x is None else str(x)


def _change_cell(m: MetricChange) -> str:
    """`+5.8% faster`; with the band when it comes from the runs' cvs: `+5.8% faster (±4.2%)`."""
    if m.change_pct is None:
        return NOT_MEASURED
    band = f" (±{m.band_pct:.1f}%)" if m.band_from == "cv" else ""
    return f"{m.change_pct:+.1f}% {m.verdict}{band}"


def _failed_cell(p: PointResult) -> str:
    return f"{DASH if p.failed_a is None else p.failed_a}→{DASH if p.failed_b is None else p.failed_b}"


def table_rows(cmp: Comparison) -> tuple[list[str], list[bool], list[list[str]]]:
    """Header, right-alignment and cells of the compared points' table."""
    header = ["mode", "profile", "client", "c", "n", "delay s", "route"]
    right = [False, False, False, True, True, True, False]
    for m in METRICS:
        header += [f"{m.label} A→B", f"Δ {m.label}"]
        right += [True, False]
    header += ["failed A→B", "point"]
    right += [True, False]
    rows = []
    for p in cmp.compared():
        pt = p.point
        row = [str(pt["mode"]), str(pt["profile"] or DASH), str(pt["client"]), _cell(pt["c"]), _cell(pt["n"]),
               DASH if pt["delay"] is None else f"{pt['delay']:g}", str(pt["route"] or DASH)]
        for metric, m in zip(METRICS, p.metrics):
            row += [f"{_fig(m.a, metric.digits)}→{_fig(m.b, metric.digits)}", _change_cell(m)]
        row += [_failed_cell(p), p.verdict or DASH]
        rows.append(row)
    return header, right, rows


def aligned(header: list[str], right: list[bool], rows: list[list[str]]) -> str:
    """A fixed-width table as render.text_table draws it (header, dashes, rows)."""
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    out = []
    for k, row in enumerate(table):
        cells = [c.rjust(widths[i]) if right[i] else c.ljust(widths[i]) for i, c in enumerate(row)]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def noise_line(cmp: Comparison) -> str:
    """Which noise band applied: the floor (single runs), the runs' cvs, or both."""
    floor = (f"default floor {cmp.noise_pct:g}%" if cmp.noise_pct == DEFAULT_NOISE_PCT
             else f"floor {cmp.noise_pct:g}% (--noise)")
    sources = cmp.band_sources()
    if sources <= {"floor"}:
        return f"no noise estimate (single runs): {floor}"
    rule = f"{CV_FACTOR:g} × the larger of the two runs' cv"
    if sources == {"cv"}:
        return f"noise band: {rule} (shown as ±%)"
    return f"noise band: {rule} where both records carry one (shown as ±%), else the {floor}"


def summary_line(cmp: Comparison) -> str:
    """The last line: compared, regressed, improved, then what else there was."""
    c = cmp.counts()
    others = ", ".join(f"{c[v.replace(' ', '_')]} {v}" for v in (MIXED, SLOWER, FASTER, NOISE))
    rest = f"{c['not_comparable']} not comparable, {c['only_in_A']} only in A, {c['only_in_B']} only in B"
    return (f"{c['compared']} points compared: {c['regressed']} regressed, {c['improved']} improved "
            f"({others}); {rest}")


def text_report(cmp: Comparison) -> str:
    """What the terminal shows: the runs, the rules, the table, the lists, the count."""
    lines = [f"Compare A {cmp.run_a.name} ({cmp.run_a}) -> B {cmp.run_b.name} ({cmp.run_b})",
             noise_line(cmp),
             f"regressed: a metric worse by more than {cmp.threshold_pct:g}% and outside the noise band, "
             "or failed requests from 0 to more", ""]
    header, right, rows = table_rows(cmp)
    lines.append(aligned(header, right, rows))
    for heading, items in point_lists(cmp):
        lines += ["", f"{heading}:", *(f"- {item}" for item in items)]
    lines += ["", summary_line(cmp)]
    return "\n".join(lines)


def point_lists(cmp: Comparison) -> list[tuple[str, list[str]]]:
    """The lists under the table, (heading, items), the empty ones left out: the compared points with
    reasons or notes, then the points not comparable, only in A, only in B."""
    changed = []
    for p in cmp.compared():
        if p.reasons or p.notes:
            why = f"{p.verdict}: {', '.join(p.reasons)}" if p.reasons else p.verdict
            changed.append(f"{point_label(p.point)}: " + "; ".join([str(why), *p.notes]))
    out = [("Points", changed)] if changed else []
    for status in (NOT_COMPARABLE, ONLY_A, ONLY_B):
        found = [p for p in cmp.points if p.status == status]
        if found:
            out.append((f"{status[0].upper()}{status[1:]}", [
                (point_label(p.point) if p.point.get("mode") is not None else "(unnamed)")
                + (f": {'; '.join(p.reasons)}" if p.reasons else "") for p in found]))
    return out


def as_json(cmp: Comparison) -> dict[str, Any]:
    """The machine-readable result (--json)."""
    return {
        "run_a": {"id": cmp.run_a.name, "path": str(cmp.run_a)},
        "run_b": {"id": cmp.run_b.name, "path": str(cmp.run_b)},
        "noise_floor_pct": cmp.noise_pct, "threshold_pct": cmp.threshold_pct, "cv_factor": CV_FACTOR,
        "noise": noise_line(cmp),
        "points": [p.as_dict() for p in cmp.points],
        "counts": cmp.counts(),
        "exit": cmp.exit_code(),
    }


# -- command line -------------------------------------------------------------------------------


def percent(text: str) -> float:
    """A percentage from the command line: `10` or `10%`, >= 0."""
    try:
        x = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not math.isfinite(x) or x < 0:
        raise argparse.ArgumentTypeError(f"not a percentage >= 0: {text!r}")
    return x


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport compare",
        description="Compare two bench runs' summary.json point by point (req/s, p99, CPU ms/request).",
        epilog=f"A point is ({', '.join(POINT_KEYS)}). Noise band: {CV_FACTOR:g} × max(cv_A, cv_B) when both "
        "records carry stats.<metric>.cv, else --noise. A point regressed when a metric is outside the band "
        "and worse by more than --threshold, or failed requests went from 0 to more. Exit status: "
        f"{EXIT_OK} no regression, {EXIT_REGRESSED} a point regressed, {EXIT_USAGE} a run missing, "
        "without summary.json, no point in common, --html's page not written, or usage.",
    )
    parser.add_argument("run_a", help="the baseline: a run id under --results, `latest`, or a run folder's path")
    parser.add_argument("run_b", help="the run compared with it (same forms)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="where run ids are looked up; default: %(default)s")
    parser.add_argument("--noise", type=percent, default=DEFAULT_NOISE_PCT, metavar="PCT",
                        help="noise floor in %% when the runs carry no cv; default: %(default)g")
    parser.add_argument("--threshold", type=percent, default=DEFAULT_THRESHOLD_PCT, metavar="PCT",
                        help="a worse change beyond the band regresses when larger than this, in %%; "
                        "default: %(default)g")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    parser.add_argument("--html", nargs="?", const="", default=None, metavar="PATH",
                        help="also write the comparison as a self-contained page (charts and the table): to "
                        "PATH, or without one to RUN_B's folder as compare-<A's id>.html")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, compare, print; the exit status says whether a point regressed."""
    args = build_parser().parse_args(argv)
    try:
        run_a, run_b = (resolve_run(a, args.results) for a in (args.run_a, args.run_b))
        cmp = compare_runs(load_records(run_a), load_records(run_b), run_a, run_b, args.noise, args.threshold)
    except CompareError as exc:
        print(f"benchreport compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    page = None
    if args.html is not None:
        from benchreport import comparehtml  # plotly loads only when a page is asked for

        try:
            page = comparehtml.write(cmp, Path(args.html) if args.html else None)
        except OSError as exc:
            print(f"benchreport compare: --html: cannot write the page: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        result = as_json(cmp) | ({"html": str(page.resolve())} if page is not None else {})
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print(text_report(cmp))
        if page is not None:
            print(f"Wrote {page.resolve()}")
    return cmp.exit_code()
