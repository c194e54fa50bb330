"""`python -m benchreport history [RESULTS_DIR]`: every run, each point's trend per fingerprint, and its steps.

The runs come from benchreport.runlist (good, partial and broken alike). A
*series* is one metric of one subject on one fingerprint, a run an entry,
oldest first:

* a subject is a point (model.point_key: mode, profile, client, c, n, delay,
  route, rate), with req/s, p99 and CPU ms/request; or a knee: a rate sweep's
  (mode, profile, delay, route) over the rates it ran (`sweep`: the rates, or
  the search's settings for rate=auto: a knee is only comparable with one
  found over the same rates), with its knee_rps (0 when no rate held);
* an entry is the run's figure (model.value: the repetitions' median), the
  repetitions' own figures (model.values), their min and max (the chart's
  noise band) and cv. A run whose point has an error or an expected failure,
  or duplicate records, gives no entry (compare's rules: not_comparable,
  repeat_group);
* runs are only in one series when their fingerprints match
  (benchreport.fingerprint); a run without one is in none.

benchreport.steps finds the steps of each series (the method and its
false-alarm rate: docs/history.md), the run-to-run spread it allows for
pooled from the series' runs and the other points' on its fingerprint (a
series of few runs cannot show its own); a step names the first run after it,
the last run before, and the commits between them (benchreport.commits).
A p99 step whose sides hold a p99 that is only a bound the wrong way is
undecided, as in compare, and not a step.

`--check`: for each subject, the series on the fingerprint of its newest
run; exit 1 when any of them has a last step for the worse (lower req/s or
knee, higher p99 or CPU ms/request): the newest run is after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport import commits, compare, knee, noisefloors, runlist, steps
from benchreport.fingerprint import Fingerprint
from benchreport.fmt import DASH, figure
from benchreport.model import METRICS, Metric, Point, Record, bound, cv, not_comparable, stat, value, values
from benchreport.runlist import Run
from benchreport.steps import Rule, Sample, Step

EXIT_OK, EXIT_REGRESSED, EXIT_USAGE = compare.EXIT_OK, compare.EXIT_REGRESSED, compare.EXIT_USAGE
INDEX = "index.html"
#: A rate sweep's knee, followed like a metric (higher is better).
KNEE = Metric("knee_rps", "knee req/s", True, 0)
#: How many commits the terminal lists per step before "... and N more", each cut at this width.
COMMITS_SHOWN = 10
COMMIT_WIDTH = 100


class HistoryError(Exception):
    """Why history cannot run: one line for stderr, exit 2."""


@dataclass(frozen=True)
class Subject:
    """What a trend follows: a point, or a knee (c, n and rate None, `sweep` the rates it was found over)."""

    point: Point
    sweep: str | None = None

    @property
    def is_knee(self) -> bool:
        return self.sweep is not None

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (KNEE,) if self.is_knee else METRICS

    def label(self) -> str:
        if not self.is_knee:
            return compare.point_label(compare.point_dict(self.point))
        mode, profile, client, _, _, delay, route, _ = self.point
        return (f"knee of {mode}/{profile}/{client} delay={DASH if delay is None else f'{delay:g}'} "
                f"{route or DASH} over {self.sweep}")

    def sort_key(self) -> tuple[Any, ...]:
        """Points before knees, then by mode, profile, client, c, n, delay, route, rate (None as "" or 0)."""
        mode, profile, client, c, n, delay, route, rate = self.point
        return (self.is_knee, str(mode), str(profile or ""), str(client), c or 0, n or 0, delay or 0, str(route or ""),
                rate or 0, self.sweep or "")


@dataclass(frozen=True)
class Entry:
    """One run's figure in a series, its repetitions' own figures, their min–max and cv, and its p99 bound."""

    run: Run
    level: float
    values: tuple[float, ...]
    low: float
    high: float
    cv: float | None
    bound: str | None = None

    @property
    def repeats(self) -> int:
        return len(self.values)


@dataclass
class Found:
    """A step of a series: the test's figures, the runs either side of it, which way, the commits between."""

    step: Step
    first: Run
    last: Run
    worse: bool
    #: `git log --oneline last..first`; None: the checkout does not have both commits (or a run has none)
    commits: list[str] | None = None

    def commit_summary(self) -> str:
        """Which commits lie between, without listing them: "3 commits abc..def"; or why only the ids are known."""
        a, b = self.last.commit, self.first.commit
        dirty = [f"{r.run_id} from a dirty tree" for r in (self.last, self.first) if r.dirty]
        tail = f" ({'; '.join(dirty)})" if dirty else ""
        if a is None or b is None:
            return (f"commits unknown (no commit in {self.last.run_id if a is None else self.first.run_id}'s "
                    f"environment.json){tail}")
        if a == b:
            return f"same commit {a[:10]}: no code changed between the runs{tail}"
        if self.commits is None:
            return f"{a[:10]}..{b[:10]} (not in this checkout: git log cannot list them){tail}"
        return f"{len(self.commits)} commits {a[:10]}..{b[:10]}{tail}"


@dataclass
class Series:
    """One metric of one subject on one fingerprint: its entries, oldest first, and what steps found."""

    fingerprint: Fingerprint
    subject: Subject
    metric: Metric
    entries: list[Entry]
    rule: Rule
    steps: list[Found] = field(default_factory=list)
    #: the newest run changed by more than a step must, with too few values to test (run it with repeat=3)
    untested: Step | None = None
    #: steps not taken because a p99 that is only a bound leaves them open (the reason, per step)
    undecided: list[str] = field(default_factory=list)

    def samples(self) -> list[Sample]:
        return [Sample(e.level, e.values, e.cv) for e in self.entries]

    def regression(self) -> Found | None:
        """The last step, when it is for the worse: the newest run is after it."""
        return self.steps[-1] if self.steps and self.steps[-1].worse else None


@dataclass
class History:
    """A results folder's runs and every series with an entry (drawn and checked when 2 or more)."""

    results: Path
    runs: list[Run]
    series: list[Series]
    threshold_pct: float
    floors: noisefloors.Floors

    def trends(self) -> list[tuple[Subject, list[Series]]]:
        """The subjects measured in 2 or more runs of one fingerprint, each with all of its series."""
        by_subject: dict[Subject, list[Series]] = {}
        for s in self.series:
            by_subject.setdefault(s.subject, []).append(s)
        return [(subject, found) for subject, found in sorted(by_subject.items(), key=lambda kv: kv[0].sort_key())
                if any(len(s.entries) >= 2 for s in found)]

    def checked(self) -> list[Series]:
        """Per subject, its series on the fingerprint of its newest run (the ones --check judges)."""
        out = []
        for _, found in self.trends():
            newest = max((e for s in found for e in s.entries), key=lambda e: (e.run.when is not None, e.run.when,
                                                                                 e.run.run_id))
            digest = newest.run.fingerprint.digest if newest.run.fingerprint else None
            out += [s for s in found if s.fingerprint.digest == digest]
        return out

    def steps(self) -> list[tuple[Series, Found]]:
        """Every step of every series, by the time of its first run after, then by subject."""
        def order(sf: tuple[Series, Found]) -> tuple[Any, ...]:
            first = sf[1].first
            return (first.when is None, first.when.timestamp() if first.when else 0.0, first.run_id,
                    sf[0].subject.sort_key(), sf[0].metric.key)

        return sorted(((s, f) for s in self.series for f in s.steps), key=order)

    def regressions(self) -> list[tuple[Series, Found]]:
        return [(s, found) for s in self.checked() if (found := s.regression()) is not None]

    def exit_code(self) -> int:
        return EXIT_REGRESSED if self.regressions() else EXIT_OK

    def fingerprints(self) -> list[tuple[Fingerprint, list[Run]]]:
        """Every fingerprint with its runs, in the order of their first run."""
        out: dict[str, tuple[Fingerprint, list[Run]]] = {}
        for run in self.runs:
            if run.fingerprint is not None:
                out.setdefault(run.fingerprint.digest, (run.fingerprint, []))[1].append(run)
        return list(out.values())


# -- building the series ------------------------------------------------------------------------


def sweep_text(recs: Sequence[Record]) -> str:
    """What a knee was found over: "rates 50, 100 req/s"; a search's start, top and precision."""
    search = next((r.search for r in recs if isinstance(r.search, dict)), None)
    if search is not None:
        return (f"rate=auto from {figure(search.get('start'), None)} to {figure(search.get('max_rate'), None)} "
                f"req/s, precision {figure(100 * (search.get('precision') or 0), None)}%")
    rates = sorted({r.rate for r in recs if r.rate is not None})
    return "rates " + ", ".join(f"{x:g}" for x in rates) + " req/s"


def point_entries(run: Run, recs: list[Record]) -> dict[str, Entry]:
    """A point's entries in one run, per metric; none when its records are duplicates or not comparable."""
    if len(recs) > 1 and not compare.repeat_group(recs):
        return {}
    rep = compare.representative(recs)
    if not_comparable(rep) is not None:
        return {}
    usable = [r for r in recs if not_comparable(r) is None]
    out = {}
    for metric in METRICS:
        level = value(rep, metric.key)
        if level is None:
            continue
        own = tuple(values(usable, metric.key)) or (level,)
        low, high = stat(rep, metric.key, "min"), stat(rep, metric.key, "max")
        if len(own) < 2 or low is None or high is None:
            low, high = min(own), max(own)
        out[metric.key] = Entry(run, level, own, float(low), float(high), cv(rep, metric.key),
                                bound(usable, metric.key))
    return out


def knee_entries(run: Run) -> dict[Subject, Entry]:
    """The run's knees, per sweep (a group with no rate held: 0)."""
    groups: dict[tuple, list[Record]] = {}
    for rec in run.records:
        if (key := knee.group_key(rec)) is not None:
            groups.setdefault(key, []).append(rec)
    out = {}
    for (mode, profile, delay, route), recs in groups.items():
        if not any(r.knee_why or r.knee_rps is not None for r in recs):
            continue  # summary found no knee for it (an older summary): nothing to follow
        found = next((r.knee_rps for r in recs if r.knee_rps is not None), 0.0)
        client = next(str(r.client) for r in recs)
        subject = Subject((mode, profile, client, None, None, delay, route, None), sweep_text(recs))
        out[subject] = Entry(run, float(found), (float(found),), float(found), float(found), None)
    return out


def _open(series_metric: Metric, before: Sequence[Entry], after: Sequence[Entry], rise: bool) -> str | None:
    """Why a p99 step is undecided: a side whose p99 is only a bound could lie on the other side of it."""
    if series_metric.key != "p99_ms":
        return None
    up = ("lower", "none")  # the true figure may be higher
    down = ("upper", "none")  # ...or lower
    sides = [("before", e) for e in before if e.bound in (up if rise else down)]
    sides += [("after", e) for e in after if e.bound in (down if rise else up)]
    if not sides:
        return None
    side, e = sides[0]
    return f"{e.run.run_id} ({side}): {compare.BOUND_WORDS[e.bound]}"  # type: ignore[index]


def detect(series: Series, repo: Path) -> None:
    """Fill the series' steps, untested newest change and undecided steps."""
    samples = series.samples()
    found = steps.find(samples, series.rule)
    kept = []
    for step in found:
        before, after = series.entries[step.start:step.at], series.entries[step.at:step.end]
        why = _open(series.metric, before, after, step.change_pct > 0)
        if why:
            series.undecided.append(f"{step.change_pct:+.1f}% from {after[0].run.run_id} undecided: {why}")
            continue
        kept.append(step)
    for step in kept:
        first, last = series.entries[step.at].run, series.entries[step.at - 1].run
        rise = step.change_pct > 0
        listed = None
        if first.commit and last.commit and first.commit != last.commit:
            listed = commits.between(last.commit, first.commit, repo)
        series.steps.append(Found(step, first, last, rise != series.metric.higher_is_better, listed))
    series.untested = steps.untested(samples, kept, series.rule)


def differences(table: dict[tuple[str, Subject, str], list[Entry]]) -> dict[tuple[str, Subject, str], list[float]]:
    """Each series' relative differences between consecutive runs (steps.relative_differences)."""
    return {key: steps.relative_differences([Sample(e.level, e.values, e.cv) for e in entries])
            for key, entries in table.items()}


def others(found: dict[tuple[str, Subject, str], list[float]], key: tuple[str, Subject, str]) -> tuple[float, ...]:
    """The differences of every other series of the same fingerprint and metric: the machine's run-to-run spread,
    which a series of few runs cannot show."""
    digest, subject, metric = key
    return tuple(d for (fp, other, m), diffs in found.items() if fp == digest and m == metric and other != subject
                 for d in diffs)


def build(results: Path, runs: list[Run], floors: noisefloors.Floors,
          threshold_pct: float = compare.DEFAULT_THRESHOLD_PCT, repo: Path = commits.REPO_ROOT) -> History:
    """Every series of the runs (oldest first: read_results' order), with its steps."""
    table: dict[tuple[str, Subject, str], list[Entry]] = {}
    prints: dict[str, Fingerprint] = {}
    for run in runs:
        if run.fingerprint is None or not run.records:
            continue
        prints[run.fingerprint.digest] = run.fingerprint
        by_point, _ = compare.index(run.records)
        for key, recs in by_point.items():
            for metric, entry in point_entries(run, recs).items():
                table.setdefault((run.fingerprint.digest, Subject(key), metric), []).append(entry)
        for subject, entry in knee_entries(run).items():
            table.setdefault((run.fingerprint.digest, subject, KNEE.key), []).append(entry)
    metrics = {m.key: m for m in (*METRICS, KNEE)}
    found = differences(table)
    out = []
    for (digest, subject, key), entries in table.items():
        point = compare.point_dict(subject.point)
        client = "rate" if subject.is_knee else point["client"]
        floor = floors.floor(client, "rps" if subject.is_knee else key, point.get("n"))
        rule = Rule(floor, threshold_pct, compare.CV_FACTOR, compare.MW_ALPHA, compare.MW_MIN_REPEATS,
                    others(found, (digest, subject, key)))
        series = Series(prints[digest], subject, metrics[key], entries, rule)
        if len(entries) >= 2:
            detect(series, repo)
        out.append(series)
    return History(results, runs, out, threshold_pct, floors)


# -- text -----------------------------------------------------------------------------------------


def when_text(run: Run) -> str:
    return run.when.strftime("%Y-%m-%d %H:%MZ") if run.when else "time unknown"


def run_line(run: Run, results: Path) -> str:
    """One run in one line: id, when, commit (dirty), fingerprint, state, what it measured or why not, report."""
    commit = f"{run.short_commit}{' dirty' if run.dirty else ''}"
    fp = f"fp {run.fingerprint.digest}" if run.fingerprint else "fp none"
    parts = [run.run_id, when_text(run), f"{commit:<16}", f"{fp:<11}", f"{run.status:<7}"]
    if run.records:
        parts.append(f"{run.points} points ({len(run.records)} records): {', '.join(run.modes)}")
    parts += run.why
    if run.fingerprint is None and run.env_why:
        parts.append(f"no fingerprint: {run.env_why}")
    if run.report is not None:
        parts.append(str(run.report.relative_to(results)) if run.report.is_relative_to(results)
                     else str(run.report))
    return "  ".join(parts)


def step_line(series: Series, found: Found) -> str:
    """A step, in a line: point, metric, size, the run after it, fingerprint, test, commits."""
    s, m = found.step, series.metric
    unit = m.label.split()[-1] if m.key == "p99_ms" else m.label
    return (f"{'worse' if found.worse else 'better'}: {series.subject.label()}: {m.label} "
            f"{s.change_pct:+.1f}% ({figure(s.before, m.digits)} -> {figure(s.after, m.digits)} {unit}) from "
            f"{found.first.run_id} (after {found.last.run_id}; fp {series.fingerprint.digest}; needed "
            f"±{s.needed_pct:.1f}%, Mann-Whitney p={s.p_value:.2g}); {found.commit_summary()}")


def commit_lines(found: list[tuple[Series, Found]], limit: int = COMMITS_SHOWN) -> list[str]:
    """The commits between the runs either side of the steps, once per pair of runs: a heading, then up to
    `limit` of `git log --oneline`'s lines (cut at COMMIT_WIDTH)."""
    pairs: dict[tuple[str, str], Found] = {}
    for _, f in found:
        pairs.setdefault((f.last.run_id, f.first.run_id), f)
    lines = []
    for (last, first), f in pairs.items():
        if not f.commits:
            continue
        lines.append(f"  {last} -> {first}: {f.commit_summary()}:")
        lines += [f"      {c if len(c) <= COMMIT_WIDTH else c[:COMMIT_WIDTH - 1] + '…'}" for c in f.commits[:limit]]
        if len(f.commits) > limit:
            lines.append(f"      … and {len(f.commits) - limit} more (git log --oneline "
                         f"{f.last.short_commit}..{f.first.short_commit})")
    return lines


def state_counts(runs: list[Run]) -> str:
    """"16 ok, 1 partial": how many runs in each state."""
    return ", ".join(f"{n} {state}" for state in runlist.STATES if (n := sum(r.status == state for r in runs)))


def listing(history: History) -> list[str]:
    """The terminal's lines: a line per run, the fingerprints, the steps found."""
    lines = [f"{len(history.runs)} runs in {history.results} ({state_counts(history.runs)})"]
    lines += [run_line(run, history.results) for run in history.runs]
    prints = history.fingerprints()
    if prints:
        lines += ["", "Fingerprints (what must match for runs to share a trend):"]
        for fp, runs in prints:
            lines.append(f"  {fp.digest}: {len(runs)} runs, {runs[0].run_id} to {runs[-1].run_id}")
            lines += [f"      {line}" for line in fp.describe()]
    found = history.steps()
    lines += ["", f"{len(history.trends())} trends (a point or a knee measured in 2 or more runs on one "
              f"fingerprint); {len(found)} steps found{':' if found else '.'}"]
    lines += [f"  {step_line(s, f)}" for s, f in found]
    if any(f.commits for _, f in found):
        lines += ["", "Commits between the runs either side of a step:", *commit_lines(found)]
    for s in history.series:
        lines += [f"  undecided: {s.subject.label()}: {s.metric.label} {why}" for why in s.undecided]
    return lines


def untested_line(series: Series) -> str | None:
    """The newest run's change for the worse that a step would need but too few values leave untested."""
    u = series.untested
    if u is None or (u.change_pct > 0) == series.metric.higher_is_better:
        return None
    newest = series.entries[-1]
    return (f"untested: {series.subject.label()}: {series.metric.label} {u.change_pct:+.1f}% in {newest.run.run_id} "
            f"against the {u.at - u.start} runs before it (needed ±{u.needed_pct:.1f}%), too few values to test "
            f"({newest.repeats} in the newest run): run the point with repeat=3 or more")


def check_lines(history: History, with_commits: bool = True) -> list[str]:
    """--check's verdict: each regression (point, metric, run, size) and the commits between (unless the page
    lists them elsewhere), the untested changes, the last line."""
    regressed = history.regressions()
    lines = [f"REGRESSED {step_line(s, f)}" for s, f in regressed]
    lines += commit_lines(regressed) if with_commits else []
    lines += [line for s in history.checked() if (line := untested_line(s))]
    checked = history.checked()
    if history.exit_code() == EXIT_REGRESSED:
        lines.append(f"check: {len(history.regressions())} series of {len(checked)} regressed: their newest run "
                     "is after a step for the worse (exit 1)")
    else:
        lines.append(f"check: no newest run is after a step for the worse ({len(checked)} series checked; exit 0)")
    return lines
