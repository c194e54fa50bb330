"""How often benchreport.steps finds a step that is not there, and how often it finds one that is.

    python -m benchreport.falsealarms RESULTS_DIR [--series 200] [--runs 8] [--seed 1]

From a results folder (read as `history` reads it, benchreport.runlist):

* real: every series of 2 or more runs on one fingerprint, and the steps
  found in them; and the run-to-run spread of a point's figure between runs
  (the sample cv of the series' run figures), per metric: repetitions within one
  run agree more closely than runs do, and a detector tuned on repetitions
  alone would call every run's own offset a step; and the machine's
  differences between consecutive runs, which history pools with a series'
  own (every real series', both fingerprints: one machine);
* synthetic: per point that ran 3 or more repetitions in one run, per metric,
  `--series` histories of `--runs` runs with no change in them, each run's
  repetitions drawn (with replacement) from that run's real per-repeat
  figures and multiplied by a run offset 1 + N(0, s), s the metric's
  run-to-run spread measured above (the root mean square of the series' cvs;
  0 with --no-offset), for K = 1, 3 and 5 repetitions a run. A history with any
  step is a false alarm; one whose last step is for the worse would fail
  --check. Then the same histories with a step planted (the metric 30%
  and 15% worse from the middle run on, and from the newest run only): the
  share in which that step is found at its run.

Prints a table; docs/history.md and docs/results.md quote its figures. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from benchreport import compare, history, noisefloors, runlist, steps
from benchreport.model import METRICS, NOISY_CV, Metric, sample_cv
from benchreport.steps import Rule, Sample

REPEATS = (1, 3, 5)
PLANTED_PCT = (30.0, 15.0)


@dataclass(frozen=True)
class Pool:
    """One point's repetitions in one run: the figures a synthetic run draws from, and the point's floor."""

    label: str
    metric: Metric
    values: tuple[float, ...]
    floor_pct: float


def pools(hist: history.History) -> list[Pool]:
    """Every (run, point, metric) with 3 or more repetitions' own figures."""
    out = []
    for s in hist.series:
        if s.subject.is_knee:
            continue
        for e in s.entries:
            if len(e.values) >= 3:
                out.append(Pool(f"{e.run.run_id} {s.subject.label()}", s.metric, e.values, s.rule.floor_pct))
    return out


def run_spread(hist: history.History) -> dict[str, list[float]]:
    """Per metric, the cv of the run figures of each series with 2 or more runs."""
    out: dict[str, list[float]] = {m.key: [] for m in METRICS}
    for s in hist.series:
        if s.metric.key in out and len(s.entries) >= 2:
            found = sample_cv([e.level for e in s.entries])
            if found is not None:
                out[s.metric.key].append(found)
    return out


def rms(values: list[float]) -> float:
    return math.sqrt(statistics.fmean(v * v for v in values)) if values else 0.0


def synthetic(pool: Pool, runs: int, repeats: int, offset: float, rnd: random.Random) -> list[list[float]]:
    """A history of `runs` runs of unchanged code: each run's repetitions drawn from the pool, times its offset."""
    out = []
    for _ in range(runs):
        shift = 1.0 + rnd.gauss(0.0, offset)
        out.append([v * shift for v in rnd.choices(pool.values, k=repeats)])
    return out


def samples(history_values: list[list[float]]) -> list[Sample]:
    return [Sample(statistics.median(v), tuple(v), sample_cv(v)) for v in history_values]


def planted(history_values: list[list[float]], metric: Metric, at: int, pct: float) -> list[list[float]]:
    """The same history, the metric `pct` worse from run `at` on."""
    factor = 1.0 - pct / 100.0 if metric.higher_is_better else 1.0 + pct / 100.0
    return [v if i < at else [x * factor for x in v] for i, v in enumerate(history_values)]


@dataclass
class Tally:
    series: int = 0
    alarms: int = 0
    steps: int = 0
    check_fails: int = 0

    def add(self, found: list[steps.Step], metric: Metric) -> None:
        self.series += 1
        self.alarms += bool(found)
        self.steps += len(found)
        if found and (found[-1].change_pct > 0) != metric.higher_is_better:
            self.check_fails += 1


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "–"


def share_found(power: dict[tuple[str, float, str, str], Tally], key: tuple[str, float, str, str]) -> str:
    tally = power.get(key)
    return pct(tally.alarms, tally.series) if tally else "–"


def measure(hist: history.History, series: int, runs: int, seed: int, offset: bool) -> list[str]:
    """The report's lines."""
    rnd = random.Random(seed)
    lines = []
    real = [s for s in hist.series if len(s.entries) >= 2]
    n_steps = sum(len(s.steps) for s in real)
    lines.append(f"real: {len(real)} series of 2 or more runs on one fingerprint in {hist.results}: {n_steps} steps "
                 f"found, {sum(s.untested is not None for s in real)} newest changes too few values to test")
    spread = run_spread(hist)
    offsets = {}
    for m in METRICS:
        cvs = spread[m.key]
        offsets[m.key] = rms(cvs) if offset else 0.0
        lines.append(f"  run-to-run cv of {m.label}: {len(cvs)} series, median "
                     f"{100 * statistics.median(cvs) if cvs else 0:.2f}%, max {100 * max(cvs) if cvs else 0:.2f}%, "
                     f"rms {100 * rms(cvs):.2f}% (the synthetic runs' offset sd: {100 * offsets[m.key]:.2f}%)")
    # the machine's differences between consecutive runs, which history pools with a series' own (from every
    # fingerprint here: one machine)
    machine = {m.key: tuple(d for s in real if s.metric.key == m.key for d in steps.relative_differences(s.samples()))
               for m in METRICS}
    for m in METRICS:
        found = steps.spread_of(machine[m.key])
        lines.append(f"  the machine's run-to-run spread of {m.label} (pooled with a series' own): "
                     + (f"{100 * found.sigma:.2f}% from {found.df} differences" if found else "none"))
    found_pools = pools(hist)
    lines.append(f"synthetic: {len(found_pools)} (run, point, metric) pools of 3+ repetitions, {series} histories "
                 f"each of {runs} runs, seed {seed}; threshold {hist.threshold_pct:g}%, the points' floors")
    for repeats in REPEATS:
        null: dict[str, Tally] = {m.key: Tally() for m in METRICS}
        power: dict[tuple[str, float, str, str], Tally] = {}
        for pool in found_pools:
            quiet = (sample_cv(list(pool.values)) or 0.0) <= NOISY_CV
            rule = Rule(pool.floor_pct, hist.threshold_pct, compare.CV_FACTOR, compare.MW_ALPHA,
                        compare.MW_MIN_REPEATS, machine[pool.metric.key])
            for _ in range(series):
                values = synthetic(pool, runs, repeats, offsets[pool.metric.key], rnd)
                null[pool.metric.key].add(steps.find(samples(values), rule), pool.metric)
                for size in PLANTED_PCT:
                    for where, at in (("middle", runs // 2), ("newest", runs - 1)):
                        got = steps.find(samples(planted(values, pool.metric, at, size)), rule)
                        for group in ("all", "quiet") if quiet else ("all",):
                            tally = power.setdefault((pool.metric.key, size, where, group), Tally())
                            tally.series += 1
                            tally.alarms += any(s.at == at for s in got)
        lines.append(f"  {repeats} repetition{'s' if repeats > 1 else ''} a run (quiet: a pool whose repetitions' "
                     f"cv <= {100 * NOISY_CV:g}%):")
        for m in METRICS:
            t = null[m.key]
            caught = ", ".join(
                f"{size:g}% from the {where} run {share_found(power, (m.key, size, where, 'all'))} "
                f"(quiet {share_found(power, (m.key, size, where, 'quiet'))})"
                for size in PLANTED_PCT for where in ("middle", "newest"))
            lines.append(f"    {m.label}: false alarms in {pct(t.alarms, t.series)} of {t.series} histories "
                         f"({t.steps} steps), --check fails {pct(t.check_fails, t.series)}; "
                         f"worse steps found: {caught}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchreport.falsealarms",
                                     description="Measure history's step detection: false alarms and power.")
    parser.add_argument("results", type=Path, help="a results folder (runs with repeat=3 or more)")
    parser.add_argument("--series", type=int, default=200, help="histories per pool; default: %(default)s")
    parser.add_argument("--runs", type=int, default=8, help="runs per history; default: %(default)s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-offset", action="store_true", help="no run-to-run offset: repetitions' spread only")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"benchreport.falsealarms: {args.results} is not a directory", file=sys.stderr)
        return 2
    hist = history.build(args.results, runlist.read_results(args.results), noisefloors.load())
    print("\n".join(measure(hist, args.series, args.runs, args.seed, not args.no_offset)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
