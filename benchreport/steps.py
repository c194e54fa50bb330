"""Steps in a metric's history: the runs from which its level changed, beyond noise.

A series is one metric of one point on one fingerprint, a Sample per run,
oldest first: the run's figure (its repetitions' median), the repetitions'
own figures and their cv. `find` is binary segmentation of a
piecewise-constant fit, each split accepted only by a test:

1. In a segment of runs (at first, all of them), the split where a level
   before and a level after fit best: the least sum of absolute deviations of
   the runs' figures from their side's median (an L1 fit, as asv's
   step_detect uses; a median shrugs off one odd run).
2. The split is a step when, between the runs before it and the runs after it
   (within the segment):
   * the change of level, 100 × (after - before) / before with each side's
     level the median of its runs' figures, is larger than both the
     threshold (compare's, 10%) and the noise band, the largest of: the
     floor (noise_floors.json's for the point, as compare's), CV_FACTOR (2)
     × the median cv of a side's runs' repetitions, and a two-sample t
     interval (99.9%) on the runs' figures, σ from the relative differences
     between consecutive runs, the series' own (6 runs or more) or pooled
     with the machine's other points' (Rule.others), the wider (run_spreads,
     spread_pct): the run-to-run spread, which repetitions within one run do
     not show (one run's own offset is no step);
   * and the one-sided Mann-Whitney U test of the two sides' pooled values
     (every repetition of every run), in the change's direction, gives p <=
     alpha (0.05), with at least min_values (3) values a side: fewer cannot
     reach p <= 0.05 (2 against 3: 1/10), so a step needs repeats (or runs).
3. A step splits the segment in two and each half is searched the same way; a
   segment whose best split is no step has none.
4. Each step is judged again between its neighbours (the runs since the step
   before against the runs up to the step after), so that its change is its
   own; one that no longer passes is dropped.

What it does not find: a change smaller than the threshold or the noise; a
short excursion that came back, when the best split of its segment is not
at its edges; a step whose side has fewer than 3 values (the newest run alone,
run once: `untested` names that case, so that a reader knows to repeat it).

Pure functions over numbers: benchreport.history builds the series, says which
way is worse and which commits lie between.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from benchreport import mannwhitney

#: The test enumerates exactly up to this many splits of the pooled values (10 against 7: 19 448), beyond it
#: the normal approximation: a history pools many repetitions, and an exact p over 40 values would take seconds.
EXACT_LIMIT = 20_000
#: A run-to-run spread is measured from this many differences between consecutive runs on (the series' and the
#: machine's other points' together); with fewer, a series is judged as compare judges two runs...
MIN_DF = 3
#: ...and a series' own, alone, from this many (6 runs).
MIN_OWN = 5
#: The median absolute deviation of a normal sample is this many standard deviations.
NORMAL_MAD = 0.6745
#: Student's t, one-sided 0.9995 (a two-sided 99.9% interval), by degrees of freedom; then the normal's.
#: Wider than 99% because σ comes from few runs, by a median: at 0.995, 2.3-2.7% of 8-run synthetic histories of
#: unchanged code stepped in CPU ms/request, whose runs spread by 19%; at 0.9995, 0.36% (docs/history.md).
T_9995 = (636.62, 31.599, 12.924, 8.610, 6.869, 5.959, 5.408, 5.041, 4.781, 4.587, 4.437, 4.318, 4.221, 4.140,
          4.073, 4.015, 3.965, 3.922, 3.883, 3.850, 3.819, 3.792, 3.768, 3.745, 3.725, 3.707, 3.690, 3.674, 3.659,
          3.646)
T_BEYOND = ((40, 3.551), (60, 3.460), (120, 3.373))
T_NORMAL = 3.291


@dataclass(frozen=True)
class Sample:
    """One run's figure of the metric, its repetitions' own figures (the test's values) and their cv."""

    level: float
    values: tuple[float, ...]
    cv: float | None = None


@dataclass(frozen=True)
class Spread:
    """How far a run's figure strays from run to run (σ, a fraction of the figure) and from how many
    differences between consecutive runs."""

    sigma: float
    df: int


@dataclass(frozen=True)
class Rule:
    """When a split is a step: the point's floor and compare's threshold, factor, alpha and minimum values; the
    relative differences between consecutive runs of the machine's other points (their run-to-run spread joins
    the series' own: a short series has too few runs to show it)."""

    floor_pct: float
    threshold_pct: float
    cv_factor: float
    alpha: float
    min_values: int
    others: tuple[float, ...] = ()


@dataclass(frozen=True)
class Step:
    """A change of level from sample `at` on: the runs compared (samples[start:at] against samples[at:end]),
    both levels, the change and what it had to exceed, and the test's p (None: not testable)."""

    at: int
    start: int
    end: int
    before: float
    after: float
    change_pct: float
    band_pct: float
    needed_pct: float
    p_value: float | None


def level(side: Sequence[Sample]) -> float:
    """A side's level: the median of its runs' figures."""
    return statistics.median(s.level for s in side)


def within(side: Sequence[Sample]) -> float:
    """The median cv of a side's runs' repetitions (a fraction); 0 when no run has one."""
    cvs = [s.cv for s in side if s.cv is not None]
    return statistics.median(cvs) if cvs else 0.0


def t_quantile(df: int) -> float:
    """Student's t at one-sided 0.9995 for df >= 1 degrees of freedom."""
    if df <= len(T_9995):
        return T_9995[df - 1]
    return next((t for most, t in T_BEYOND if df <= most), T_NORMAL)


def relative_differences(samples: Sequence[Sample]) -> list[float]:
    """|b - a| / |a| for each pair of consecutive runs (a fraction); pairs from a level of 0 left out."""
    return [abs(b.level - a.level) / abs(a.level) for a, b in zip(samples, samples[1:]) if a.level != 0]


def spread_of(differences: Sequence[float]) -> Spread | None:
    """σ = median |d| / (0.6745 × sqrt 2) over relative differences between consecutive runs (robust: a step moves
    one difference, not their median), df their count; None with fewer than MIN_DF."""
    if len(differences) < MIN_DF:
        return None
    return Spread(statistics.median(differences) / (NORMAL_MAD * math.sqrt(2.0)), len(differences))


def run_spreads(samples: Sequence[Sample], others: Sequence[float] = ()) -> tuple[Spread, ...]:
    """The run-to-run spreads a change must clear: the series' own from its consecutive runs (with MIN_OWN
    differences: a noisy point's runs spread more than the machine's other points'), and its own pooled with
    the machine's other points' (`others`: benchreport.history; a short series cannot show its own)."""
    own = relative_differences(samples)
    found = [spread_of(own) if len(own) >= MIN_OWN else None, spread_of([*own, *others])]
    return tuple(s for s in found if s is not None)


def spread_pct(spreads: Sequence[Spread], k: int, m: int, scale: float = 1.0) -> float:
    """The change the runs' spread allows between k runs and m runs, in % of the level before: a two-sample
    t interval, t(df) × σ × sqrt(1/k + 1/m), σ a fraction of the series' typical level, times `scale` (that level
    over the level before: a change is a share of the level before); the widest of `spreads`', 0 without one."""
    return max((100.0 * t_quantile(s.df) * s.sigma * math.sqrt(1.0 / k + 1.0 / m) * scale for s in spreads),
               default=0.0)


def band(before: Sequence[Sample], after: Sequence[Sample], rule: Rule, spreads: Sequence[Spread] = (),
         typical: float | None = None) -> float:
    """The noise band in %: the largest of the floor, cv_factor × the repetitions' cv (the larger side's median),
    and the runs' own spread (spread_pct; typical: the series' median figure, the level σ is a share of)."""
    base = abs(level(before))
    scale = abs(typical) / base if typical is not None and base else 1.0
    return max(rule.floor_pct, 100.0 * rule.cv_factor * max(within(before), within(after)),
               spread_pct(spreads, len(before), len(after), scale))


def _cost(levels: Sequence[float]) -> float:
    mid = statistics.median(levels)
    return sum(abs(x - mid) for x in levels)


def best_split(samples: Sequence[Sample], start: int, end: int) -> int:
    """The split of samples[start:end] (start < at < end) with the best two-level L1 fit; ties: the larger
    change of median, then the earlier split."""
    levels = [s.level for s in samples]

    def rank(at: int) -> tuple[float, float, int]:
        left, right = levels[start:at], levels[at:end]
        return (_cost(left) + _cost(right), -abs(statistics.median(right) - statistics.median(left)), at)

    return min(range(start + 1, end), key=rank)


def judge(samples: Sequence[Sample], start: int, at: int, end: int, rule: Rule,
          spreads: Sequence[Spread] = ()) -> Step | None:
    """samples[start:at] against samples[at:end] as a Step (p_value None when a side has too few values to test),
    or None when the change is within the threshold or the noise band (or the level before is 0); spreads: the
    series' run_spreads, shares of its median figure."""
    before, after = samples[start:at], samples[at:end]
    a, b = level(before), level(after)
    if a == 0:
        return None
    change = 100.0 * (b - a) / abs(a)
    noise = band(before, after, rule, spreads, level(samples))
    needed = max(noise, rule.threshold_pct)
    if abs(change) <= needed:
        return None
    x = [v for s in after for v in s.values]
    y = [v for s in before for v in s.values]
    p = None
    if len(x) >= rule.min_values and len(y) >= rule.min_values:
        p = mannwhitney.p_value(x, y, greater=change > 0, exact_limit=EXACT_LIMIT)
    return Step(at, start, end, a, b, change, noise, needed, p)


def significant(step: Step | None, rule: Rule) -> bool:
    return step is not None and step.p_value is not None and step.p_value <= rule.alpha


def find(samples: Sequence[Sample], rule: Rule) -> list[Step]:
    """Every step of the series, oldest first: binary segmentation, each split tested; then each step judged again
    between its neighbours (the runs since the step before it against those up to the step after it), so that its
    levels and change are its own, not mixed with another step's (one that no longer passes is dropped)."""
    spreads = run_spreads(samples, rule.others)
    cuts: list[int] = []
    segments = [(0, len(samples))]
    while segments:
        start, end = segments.pop()
        if end - start < 2:
            continue
        at = best_split(samples, start, end)
        if significant(judge(samples, start, at, end, rule, spreads), rule):
            cuts.append(at)
            segments += [(start, at), (at, end)]
    cuts.sort()
    while True:
        bounds = [0, *cuts, len(samples)]
        found = [judge(samples, bounds[i], at, bounds[i + 2], rule, spreads) for i, at in enumerate(cuts)]
        kept = [step for step in found if significant(step, rule)]
        if len(kept) == len(cuts):
            return kept  # type: ignore[return-value]
        cuts = [step.at for step in kept]  # type: ignore[union-attr]


def untested(samples: Sequence[Sample], steps: Sequence[Step], rule: Rule) -> Step | None:
    """The newest run against the runs since the last step, when it changed by more than a step must but too
    few values make it testable (p_value None); else None."""
    if len(samples) < 2:
        return None
    start = steps[-1].at if steps else 0
    if start >= len(samples) - 1:
        return None
    step = judge(samples, start, len(samples) - 1, len(samples), rule, run_spreads(samples, rule.others))
    return step if step is not None and step.p_value is None else None
