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
is better). Their change is 100 × (B − A) / A, in %. Verdict per metric, and
the test that gave it (MetricChange.test: text, JSON and compare.html say it):

* within noise: |change| <= the noise band ("band"); for CPU ms/request also
  when A and B differ by no more than their resolutions added (summary.json's
  cpu_ms_per_req_resolution, a median's its coarsest repetition's: whole
  clock ticks over few requests; "within resolution ±0.2");
* faster / slower: outside the band, better / worse (for p99 and CPU ms/req,
  "faster" means lower). With 3 or more repetitions a side (their own values:
  each repetition is a record of summary.json) only when the one-sided exact
  Mann-Whitney U test (benchreport.mannwhitney) on those values, in the
  change's direction, gives p <= MW_ALPHA (0.05), else within noise
  ("band+mann-whitney p=0.05", "band+mann-whitney p=0.2"); with 3 vs 3 the
  smallest p there is is 1/20 = 0.05: every B repetition beyond every A one.
  With 2 repetitions on a side, the band alone ("band").
* needs repeats: a side without a spread of its own (one run, no cv): a
  change beyond the band is reported ("slower (needs repeats)", test "needs
  repeats") but never regresses or improves the point, so a CI job does not
  fail on one run's noise. Run the point with repeat=K (3 or more for the
  significance test).
* undecided: a p99 that is only a bound (summary.json's p99_lower_bound:
  failed requests are not in it, so the true p99 is at least the figure;
  p99_upper_bound: the highest of its load hosts', at most) leaves the
  verdict open when the true figure could fall on the other side ("bounds:
  B's p99 is a lower bound"): a p99 "improvement" whose B is a lower bound is
  no improvement. The table marks such figures ≥ (lower bound), ≤ (upper
  bound), ≶ (both: no bound either way).

Noise band, per metric and point (noise_band): the floor, or when both
records carry a coefficient of variation for the metric (the repeat
feature's keys, below; summary.json's is the SAMPLE stdev / mean) max(floor,
CV_FACTOR (2) × max(cv_A, cv_B)). The floor (point_floors): `--noise PCT`
for every metric when given, else benchreport/noise_floors.json's
(benchreport.noisefloors) for the point's client, metric and run length (its
n); the comparison says when those floors are PROVISIONAL (not measured).

Failed requests: the share failed / (complete + failed) over the point's
counted repetitions (failed and complete summed), in %: every request that
ended, answered or failed (a failed request that was answered, a non-2xx,
counts in both, so the share is a slight underestimate, the same on both
sides). A rise of more than FAILED_SHARE_PP (0.1) percentage points, or any
rise from 0 failed, regresses the point; a fall of more than that, or to 0
failed, is a reason to call it improved; a point whose share rose at all is
never improved (mixed when a metric was faster).

Regression, per point: a metric with a verdict (not "needs repeats", not
undecided) outside its band AND worse by more than `--threshold` (default
DEFAULT_THRESHOLD_PCT, 10%), i.e. worse by more than max(band, threshold),
and significant when tested; or the failed share rose (above). Improvement
mirrors it, with no metric slower and the failed share not risen. Point
verdicts (POINT_VERDICTS): regressed > improved > mixed (faster and slower
metrics, all within the threshold; or faster with a failed share that rose)
> slower > faster > within noise.

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
compared and the cv sets the band; the usable repetitions' own figures go to
the Mann-Whitney test, their failed and complete to the failed share; a note
says "median of k of K repetitions" (and how many were left out: an error or
expected failure).

summary.json's records are read back as benchreport.model.Records (unknown
keys ignored, missing ones at their defaults). The fields read for noise
(benchreport.model's value, cv and bound say how):

    repeats                      how many times the point ran (and counted);
                                 when stated and < 2 the cvs and medians are ignored
    repetition                   which run of its point (1..K)
    stats[metric]["cv"]          >= 0: stddev / mean of the metric over the
                                 repeats, a FRACTION (0.04 = 4%)
    stats[metric]["median"]      compared instead of the record's own figure when
                                 present, unless repeats < 2 (min and max are not read)

with metric one of "rps", "p99_ms", "cpu_ms_per_req". And from every usable
repetition's record: its own figure (the Mann-Whitney test's values), failed
and complete (the failed share, summed over them), p99_lower_bound and
p99_upper_bound (a p99 that is only a bound on any of them is one for the point).

Exit status (EXIT_*): 0 no point regressed; 1 at least one regressed;
2 a run not found, without a readable summary.json, no point in common, a
bad command line, noise_floors.json unreadable, or --html's page not
written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport import mannwhitney, noisefloors, serverfigures
from benchreport.fmt import BOUND_MARKS, DASH, LOWER_BOUND_MARK, figure
from benchreport.model import (METRICS, POINT_KEYS, SUMMARY, Metric, Point, Record, bound, cv, integer,
                               not_comparable, point_key, records, repeated, value, values)

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where bench.yml files its runs (bench_results_dir: the playbook's directory).
DEFAULT_RESULTS = REPO_ROOT / "results"

EXIT_OK, EXIT_REGRESSED, EXIT_USAGE = 0, 1, 2

DEFAULT_THRESHOLD_PCT = 10.0
#: band = max(floor, CV_FACTOR × max(cv_A, cv_B)), when both records carry a cv.
CV_FACTOR = 2.0
#: A rise of the failed share by more than this many percentage points regresses a point (any rise from 0 does).
FAILED_SHARE_PP = 0.1
#: The Mann-Whitney test runs with at least this many repetitions' values a side...
MW_MIN_REPEATS = 3
#: ...and a change is faster or slower only at a one-sided p at most this.
MW_ALPHA = 0.05
#: MetricChange.test: what gave the verdict.
TEST_BAND, TEST_NEEDS_REPEATS = "band", "needs repeats"


FASTER, SLOWER, NOISE, NOT_MEASURED, UNDECIDED = "faster", "slower", "within noise", "not measured", "undecided"
REGRESSED, IMPROVED, MIXED = "regressed", "improved", "mixed"
POINT_VERDICTS = (REGRESSED, IMPROVED, MIXED, SLOWER, FASTER, NOISE)
COMPARED, NOT_COMPARABLE, ONLY_A, ONLY_B = "compared", "not comparable", "only in A", "only in B"


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
    #: what gave the verdict: "band", "band+mann-whitney p=0.05", "needs repeats", "bounds: ..."; "" not measured
    test: str = TEST_BAND
    floor_pct: float | None = None
    p_value: float | None = None
    #: a p99 that is only a bound: "lower", "upper" or "none" (both: no bound either way); None: exact
    a_bound: str | None = None
    b_bound: str | None = None
    #: both sides carry a cv (ran 2+ times): the band can be measured, a verdict can be given
    cvs: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "change_pct": _round(self.change_pct, 2),
                "band_pct": _round(self.band_pct, 2), "band_from": self.band_from,
                "verdict": self.verdict, "regressed": self.regressed, "improved": self.improved,
                "test": self.test, "floor_pct": _round(self.floor_pct, 2), "p_value": _round(self.p_value, 4),
                "a_bound": self.a_bound, "b_bound": self.b_bound}


@dataclass
class PointResult:
    """One point: compared (metrics, verdict, reasons), not comparable (why), or in one run only."""

    point: dict[str, Any]
    status: str
    verdict: str | None = None
    metrics: list[MetricChange] = field(default_factory=list)
    failed_a: int | None = None
    failed_b: int | None = None
    #: failed / (complete + failed) in %, over the point's counted repetitions
    failed_share_a: float | None = None
    failed_share_b: float | None = None
    #: why the point regressed or improved; why it is not comparable
    reasons: list[str] = field(default_factory=list)
    #: what a reader should know (capped runs, percentiles measured differently...)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"point": self.point, "label": point_label(self.point), "status": self.status}
        if self.status == COMPARED:
            out.update(verdict=self.verdict, metrics={m.metric: m.as_dict() for m in self.metrics},
                       failed={"a": self.failed_a, "b": self.failed_b},
                       failed_share_pct={"a": _round(self.failed_share_a, 4), "b": _round(self.failed_share_b, 4)})
        out.update(reasons=self.reasons, notes=self.notes)
        return out


@dataclass
class Comparison:
    """Both runs, the settings used and every point's result (A's order, then B's own points)."""

    run_a: Path
    run_b: Path
    #: --noise: one floor for every metric; None: the floors file's
    noise_pct: float | None
    threshold_pct: float
    points: list[PointResult]
    floors: noisefloors.Floors | None = None

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

    def tests(self) -> set[str]:
        """The tests that gave the compared metrics' verdicts ("band", "needs repeats", "band+mann-whitney")."""
        return {m.test.split(" p=")[0].split(":")[0] for p in self.compared() for m in p.metrics if m.test}


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


def load_records(run: Path) -> list[Record]:
    """summary.json's records as Records (model.Record.from_dict); a missing or malformed file is a CompareError
    (never a traceback)."""
    path = run / SUMMARY
    if not path.is_file():
        raise CompareError(f"{run} has no {SUMMARY} (write it with `python -m benchreport {run}`)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CompareError(f"{path} unreadable: {exc}".replace("\n", " ")) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CompareError(f"{path} is not a bench summary (a JSON list of records)")
    return records(data)


# -- points and figures -------------------------------------------------------------------------


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


def noise_band(a: Record, b: Record, metric: str, floor_pct: float) -> tuple[float, str]:
    """The band (in %) a change must leave to count, and where it came from: "cv" when both records carry
    one and CV_FACTOR × the larger is over the floor, else "floor" (a cv of two or three values can be
    near 0 by chance: the floor, the measured run-to-run spread, still holds)."""
    cv_a, cv_b = cv(a, metric), cv(b, metric)
    if cv_a is None or cv_b is None:
        return floor_pct, "floor"
    from_cv = 100.0 * CV_FACTOR * max(cv_a, cv_b)
    return (from_cv, "cv") if from_cv > floor_pct else (floor_pct, "floor")


def point_floors(key: Point, noise_pct: float | None, floors: noisefloors.Floors | None) -> dict[str, float]:
    """Each metric's floor in % for a point: --noise when given, else the floors file's for its client,
    metric and n."""
    if noise_pct is not None or floors is None:
        return {m.key: noise_pct if noise_pct is not None else 0.0 for m in METRICS}
    point = point_dict(key)
    return {m.key: floors.floor(point["client"], m.key, point["n"]) for m in METRICS}


def _open_sides(a_bound: str | None, b_bound: str | None, rise: bool | None) -> list[str]:
    """The sides whose bound lets their true figure fall where the verdict would change (rise: B's figure is
    above A's beyond the band, False below, None within the band)."""
    def open_up(side: str | None) -> bool:
        return side in ("lower", "none")

    def open_down(side: str | None) -> bool:
        return side in ("upper", "none")

    if rise is None:  # within noise: any bound could take the true figure out of the band
        return [s for s, b in (("A", a_bound), ("B", b_bound)) if b is not None]
    if rise:  # B above A: undone if B might be lower or A higher
        return [s for s, bad in (("A", open_up(a_bound)), ("B", open_down(b_bound))) if bad]
    return [s for s, bad in (("A", open_down(a_bound)), ("B", open_up(b_bound))) if bad]


BOUND_WORDS = {"lower": "a lower bound (failed requests are not in it)", "upper": "an upper bound (its load hosts' "
               "highest)", "none": "no bound either way (failed requests not in it, and its load hosts' highest)"}


def change_pct(a: float | None, b: float | None) -> float | None:
    """100 × (b − a) / a; None when either is missing or a is 0 and b not (no relative change)."""
    if a is None or b is None:
        return None
    if a == 0:
        return 0.0 if b == 0 else None
    # rounded so that 100 -> 90 is exactly -10 (a threshold of 10% is "more than 10")
    return round(100.0 * (b - a) / a, 6)


def compare_metric(metric: Metric, a: Record, b: Record, floor_pct: float,
                   threshold_pct: float, recs_a: list[Record] | None = None,
                   recs_b: list[Record] | None = None) -> MetricChange:
    """One metric's change, verdict, the test that gave it, and whether it regressed or improved beyond the
    threshold (recs_a, recs_b: the point's repetitions, for the significance test and the p99's bounds)."""
    recs_a, recs_b = recs_a or [a], recs_b or [b]
    va, vb = value(a, metric.key), value(b, metric.key)
    band, source = noise_band(a, b, metric.key, floor_pct)
    change = change_pct(va, vb)
    found = MetricChange(metric.key, va, vb, change, band, source, NOT_MEASURED, test="", floor_pct=floor_pct,
                         a_bound=bound(recs_a, metric.key), b_bound=bound(recs_b, metric.key),
                         cvs=cv(a, metric.key) is not None and cv(b, metric.key) is not None)
    if change is None:
        return found
    resolution = within_resolution(metric, va, vb, recs_a, recs_b)
    if resolution is not None:  # whole clock ticks apart or less: no change can be told
        found.verdict, found.test = NOISE, resolution
        return found
    outside = abs(change) > band
    open_sides = _open_sides(found.a_bound, found.b_bound, (change > 0) if outside else None)
    if open_sides:
        found.verdict = UNDECIDED
        found.test = "bounds: " + ", ".join(
            f"{side}'s {metric.label.split()[0]} is {BOUND_WORDS[found.a_bound if side == 'A' else found.b_bound]}"
            for side in open_sides)
        return found
    if not outside:
        found.verdict, found.test = NOISE, TEST_BAND
        return found
    better = change if metric.higher_is_better else -change
    found.verdict = FASTER if better > 0 else SLOWER
    if not found.cvs:  # one run on a side: no spread to judge by
        found.test = TEST_NEEDS_REPEATS
        return found
    found.test = TEST_BAND
    xs, ys = values(recs_a, metric.key), values(recs_b, metric.key)
    if len(xs) >= MW_MIN_REPEATS and len(ys) >= MW_MIN_REPEATS:
        found.p_value = mannwhitney.p_value(ys, xs, greater=change > 0)
        found.test = f"band+mann-whitney p={found.p_value:.2g}"
        if found.p_value > MW_ALPHA:
            found.verdict = NOISE
            return found
    beyond = abs(better) > threshold_pct
    found.regressed, found.improved = better < 0 and beyond, better > 0 and beyond
    return found


def within_resolution(metric: Metric, va: float | None, vb: float | None, recs_a: list[Record],
                      recs_b: list[Record]) -> str | None:
    """"within resolution ±x" when A and B differ by no more than their resolutions added (a median's is
    its coarsest repetition's, serverfigures.point_resolution; None where not measured: exact); else None."""
    if metric.resolution_key is None or va is None or vb is None:
        return None
    res_a = serverfigures.point_resolution(recs_a, metric.resolution_key)
    res_b = serverfigures.point_resolution(recs_b, metric.resolution_key)
    if res_a is None and res_b is None:
        return None
    total = (res_a or 0.0) + (res_b or 0.0)
    return f"within resolution ±{total:.3g}" if abs(vb - va) <= total else None


def failed_sums(recs: list[Record]) -> tuple[int | None, float | None]:
    """Failed requests over the point's counted repetitions, and their share of the requests that ended
    (failed / (complete + failed), in %); None where a repetition lacks the figure."""
    counted = [r for r in recs if not_comparable(r) is None] or recs[:1]
    fails = [integer(r.failed) for r in counted]
    completes = [integer(r.complete) for r in counted]
    if any(f is None for f in fails):
        return None, None
    failed = sum(f for f in fails if f is not None)
    if any(c is None for c in completes):
        return failed, None
    ended = failed + sum(c for c in completes if c is not None)
    return failed, (100.0 * failed / ended if ended else None)


def failed_change(result: PointResult) -> tuple[list[str], list[str], bool]:
    """(regression reasons, improvement reasons, whether the share rose at all) from the failed requests."""
    fa, fb, sa, sb = result.failed_a, result.failed_b, result.failed_share_a, result.failed_share_b
    worse: list[str] = []
    better: list[str] = []
    if fa == 0 and (fb or 0) > 0:
        worse.append(f"failed requests 0 -> {fb}")
    elif (fa or 0) > 0 and fb == 0:
        better.append(f"failed requests {fa} -> 0")
    elif sa is not None and sb is not None:
        text = f"failed share {sa:.2f}% -> {sb:.2f}% ({sb - sa:+.2f} points; failed {fa} -> {fb})"
        if round(sb - sa, 9) > FAILED_SHARE_PP:
            worse.append(text)
        elif round(sa - sb, 9) > FAILED_SHARE_PP:
            better.append(text)
    rose = (fa == 0 and (fb or 0) > 0) or (sa is not None and sb is not None and sb > sa)
    return worse, better, rose


def compare_point(key: Point, a: Record, b: Record, floors: Mapping[str, float],
                  threshold_pct: float, recs_a: list[Record] | None = None,
                  recs_b: list[Record] | None = None) -> PointResult:
    """A point in each run (its representative records, and all its repetitions): not comparable (why), or
    its metrics and verdict. floors: each metric's floor in % (point_floors)."""
    recs_a, recs_b = recs_a or [a], recs_b or [b]
    result = PointResult(point_dict(key), COMPARED)
    why = [f"{side}: {reason}" for side, rec in (("A", a), ("B", b)) if (reason := not_comparable(rec))]
    if why:
        result.status, result.reasons = NOT_COMPARABLE, why
        return result
    result.metrics = [compare_metric(m, a, b, floors[m.key], threshold_pct, recs_a, recs_b) for m in METRICS]
    result.failed_a, result.failed_share_a = failed_sums(recs_a)
    result.failed_b, result.failed_share_b = failed_sums(recs_b)
    labels = {m.key: m.label for m in METRICS}
    worse = [f"{labels[m.metric]} {m.change_pct:+.1f}%" for m in result.metrics if m.regressed]
    better = [f"{labels[m.metric]} {m.change_pct:+.1f}%" for m in result.metrics if m.improved]
    failed_worse, failed_better, share_rose = failed_change(result)
    worse += failed_worse
    better += failed_better
    slower = any(m.verdict == SLOWER for m in result.metrics)
    faster = any(m.verdict == FASTER for m in result.metrics)
    if worse:
        result.verdict, result.reasons = REGRESSED, worse
    elif better and not slower and not share_rose:
        result.verdict, result.reasons = IMPROVED, better
    elif (better or faster) and (slower or share_rose):
        result.verdict, result.reasons = MIXED, better
    else:
        result.verdict = SLOWER if slower else FASTER if faster else NOISE
    result.notes = point_notes(a, b, recs_a, recs_b)
    if share_rose and not failed_worse:
        result.notes.append(f"failed share rose {result.failed_share_a:.2f}% -> {result.failed_share_b:.2f}% "
                            f"(within {FAILED_SHARE_PP:g} points: not a regression, never an improvement)")
    pending = [f"{labels[m.metric]} {m.change_pct:+.1f}%" for m in result.metrics
               if m.test == TEST_NEEDS_REPEATS and m.verdict in (FASTER, SLOWER)]
    if pending:
        result.notes.append(f"needs repeats: {', '.join(pending)} beyond the floor, but a side ran once (no spread "
                            f"to judge by): run the point with repeat=K ({MW_MIN_REPEATS} or more) for a verdict")
    return result


def point_notes(a: Record, b: Record, recs_a: list[Record] | None = None,
                recs_b: list[Record] | None = None) -> list[str]:
    """Differences in how the two runs measured, which the figures alone do not show."""
    notes = [f"capped in {side} (stopped at its time limit)" for side, rec in (("A", a), ("B", b))
             if rec.capped]
    for key, what in (("percentiles_from", "p99 from"), ("cpu_source", "CPU from"), ("loadgens", "load hosts")):
        va, vb = getattr(a, key), getattr(b, key)
        if va != vb and va is not None and vb is not None:
            notes.append(f"{what} {va} in A, {vb} in B")
    notes += [f"p99 in {side} is an upper bound (its load hosts' highest)" for side, rec in (("A", a), ("B", b))
              if rec.p99_upper_bound]
    notes += [f"p99 in {side} is a lower bound ({LOWER_BOUND_MARK}): failed requests are not in it"
              for side, recs in (("A", recs_a or [a]), ("B", recs_b or [b]))
              if bound(recs, "p99_ms") in ("lower", "none")]
    notes += [f"client-limited in {side}: {rec.client_limited_why}" for side, rec in (("A", a), ("B", b))
              if rec.client_limited]
    return notes


def index(records: list[Record]) -> tuple[dict[Point, list[Record]], list[Record]]:
    """Records by point, in the summary's order; and the records that name no point."""
    by_point: dict[Point, list[Record]] = {}
    unnamed = []
    for rec in records:
        key = point_key(rec)
        if key is None:
            unnamed.append(rec)
        else:
            by_point.setdefault(key, []).append(rec)
    return by_point, unnamed


def repeat_group(recs: list[Record]) -> bool:
    """Whether several records of one point are its repetitions (repeat=K), i.e. one point.

    With `repetition` numbers (benchreport.summary writes one on every record): when they are all
    different (a copied run folder repeats its number: a duplicate). Without them (another
    summary's records): when one carries `repeats` >= 2. Otherwise duplicates, not comparable."""
    numbers = [integer(r.repetition) for r in recs]
    if None not in numbers:
        return len(set(numbers)) == len(numbers)
    return any(repeated(r) for r in recs)


def representative(recs: list[Record]) -> Record:
    """The record a point is compared on: every repetition carries the same stats (its median and
    cv), so the first one with usable figures, else the first (its reason says why not)."""
    return next((r for r in recs if not_comparable(r) is None), recs[0])


def repeat_note(side: str, recs: list[Record]) -> str | None:
    """For a repeated point: how many repetitions its figures are the median of, and how many did not count."""
    if len(recs) < 2:
        return None
    counted = sum(not_comparable(r) is None for r in recs)
    left = len(recs) - counted
    return (f"{side}: median of {counted} of {len(recs)} repetitions"
            + (f" ({left} left out: error or expected failure)" if left else ""))


def compare_runs(records_a: list[Record], records_b: list[Record], run_a: Path, run_b: Path,
                 noise_pct: float | None = None, threshold_pct: float = DEFAULT_THRESHOLD_PCT,
                 floors: noisefloors.Floors | None = None) -> Comparison:
    """Every point of either run: compared, not comparable, or only in one run. noise_pct: one floor for
    every metric (--noise); None: the floors file's (`floors`, else benchreport/noise_floors.json).

    Raises CompareError when no point is in both runs (nothing would guard anything), or when the floors
    file is needed and unreadable."""
    if noise_pct is None and floors is None:
        try:
            floors = noisefloors.load()
        except noisefloors.FloorsError as exc:
            raise CompareError(str(exc)) from None
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
            result = compare_point(key, representative(recs_a), representative(recs_b),
                                   point_floors(key, noise_pct, floors), threshold_pct, recs_a, recs_b)
            result.notes += [note for side, recs in (("A", recs_a), ("B", recs_b))
                             if (note := repeat_note(side, recs))]
            points.append(result)
    for side, unnamed in (("A", unnamed_a), ("B", unnamed_b)):
        for rec in unnamed:
            points.append(PointResult({k: None for k in POINT_KEYS}, NOT_COMPARABLE,
                                      reasons=[f"{side}: {rec.raw_dir or '?'}/ has no run.json: "
                                               "its point is unknown"]))
    return Comparison(run_a, run_b, noise_pct, threshold_pct, points, floors if noise_pct is None else None)


# -- output -------------------------------------------------------------------------------------


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)




def _cell(x: Any) -> str:
    return DASH if x is None else str(x)


def _change_cell(m: MetricChange) -> str:
    """`+5.8% faster`; in brackets the band when it comes from the runs' cvs, the Mann-Whitney p when tested,
    "needs repeats" when a side ran once, the bound when a p99 left the verdict open:
    `+5.8% faster (±4.2%, p=0.05)`, `+26.7% slower (needs repeats)`, `-30.0% undecided (B ≥)`."""
    if m.change_pct is None:
        return NOT_MEASURED
    extra = [f"±{m.band_pct:.1f}%"] if m.band_from == "cv" else []
    if m.p_value is not None:
        extra.append(f"p={m.p_value:.2g}")
    if m.test == TEST_NEEDS_REPEATS and m.verdict in (FASTER, SLOWER):
        extra.append(TEST_NEEDS_REPEATS)
    if m.verdict == UNDECIDED:
        extra += [f"{side} {BOUND_MARKS[b]}" for side, b in (("A", m.a_bound), ("B", m.b_bound)) if b]
    return f"{m.change_pct:+.1f}% {m.verdict}" + (f" ({', '.join(extra)})" if extra else "")


def _bounded(x: float | None, digits: int | None, side_bound: str | None) -> str:
    """A figure, with ≥, ≤ or ≶ before it when it is only a bound (BOUND_MARKS)."""
    text = figure(x, digits)
    return BOUND_MARKS[side_bound] + text if side_bound and x is not None else text


def _failed_cell(p: PointResult) -> str:
    """`10→500`; with the failed shares when some failed: `10→500 (0.50%→25.00%)`."""
    text = f"{DASH if p.failed_a is None else p.failed_a}→{DASH if p.failed_b is None else p.failed_b}"
    if (p.failed_a or p.failed_b) and p.failed_share_a is not None and p.failed_share_b is not None:
        text += f" ({p.failed_share_a:.2f}%→{p.failed_share_b:.2f}%)"
    return text


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
            row += [f"{_bounded(m.a, metric.digits, m.a_bound)}→{_bounded(m.b, metric.digits, m.b_bound)}",
                    _change_cell(m)]
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


def floor_text(cmp: Comparison) -> str:
    """The floors used: `floor 12% (--noise)`, or the file's, each metric's figures over the compared points
    (`floors req/s 5%, p99 ms 5%, CPU ms/req 25% by client, metric and run length (benchreport/...)`)."""
    if cmp.noise_pct is not None or cmp.floors is None:
        return f"floor {cmp.noise_pct or 0:g}% (--noise)"
    used: dict[str, set[float]] = {}
    for p in cmp.compared():
        for m in p.metrics:
            if m.floor_pct is not None:
                used.setdefault(m.metric, set()).add(m.floor_pct)
    labels = {m.key: m.label for m in METRICS}
    figures = ", ".join(f"{labels[k]} {'/'.join(f'{v:g}' for v in sorted(vs))}%" for k, vs in used.items())
    head = f"floors {figures} by client, metric and run length" if figures else "floors"
    return f"{head} ({cmp.floors.describe()})"


def noise_line(cmp: Comparison) -> str:
    """Which noise band applied: the floor (single runs), the runs' cvs, or both; and what the floors are."""
    floor = floor_text(cmp)
    measured = [m.cvs for p in cmp.compared() for m in p.metrics if m.verdict != NOT_MEASURED]
    if not any(measured):
        return f"no noise estimate (single runs): {floor}; a verdict needs repeats (repeat=K)"
    rule = f"max(floor, {CV_FACTOR:g} × the larger of the two runs' cv)"
    tail = f"; with {MW_MIN_REPEATS}+ repetitions a side also Mann-Whitney p <= {MW_ALPHA:g}"
    if all(measured):
        return f"noise band: {rule} (shown as ±% when the cv sets it), {floor}{tail}"
    return (f"noise band: {rule} where both records carry one (shown as ±% when the cv sets it), else the "
            f"{floor} and a verdict needs repeats{tail}")


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
             noise_line(cmp), rule_line(cmp), ""]
    header, right, rows = table_rows(cmp)
    lines.append(aligned(header, right, rows))
    for heading, items in point_lists(cmp):
        lines += ["", f"{heading}:", *(f"- {item}" for item in items)]
    lines += ["", summary_line(cmp)]
    return "\n".join(lines)


def rule_line(cmp: Comparison) -> str:
    """What regresses a point."""
    return (f"regressed: a metric worse by more than {cmp.threshold_pct:g}% and outside the noise band (both sides "
            f"repeated), or the failed share (failed / (complete + failed)) up by more than {FAILED_SHARE_PP:g} "
            "points or from 0 failed")


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
        "failed_share_threshold_pp": FAILED_SHARE_PP, "mann_whitney_alpha": MW_ALPHA,
        "noise_floors": None if cmp.floors is None else {
            "file": str(cmp.floors.path), "provisional": cmp.floors.provisional, "source": cmp.floors.source},
        "noise": noise_line(cmp),
        "points": [p.as_dict() for p in cmp.points],
        "counts": cmp.counts(),
        "exit": cmp.exit_code(),
    }


# -- command line -------------------------------------------------------------------------------
