"""Thresholds: pass/fail checks on a bench's figures (bench.yml -e thresholds=FILE; docs/thresholds.md).

A thresholds file is a YAML list. An entry is a check, `METRIC OP NUMBER`, on every point, or a
mapping whose `check` is narrowed to the points its selectors (mode, profile, client, route: a name
or a list of names) match:

    - p99_ms < 1500
    - failed == 0
    - {mode: uwsgi-gevent, check: "pct_of_ideal >= 80"}
    - {mode: gunicorn, route: order, check: "cpu_ms_per_req <= 1.0"}
    - {check: "knee_rps >= 800"}

load() reads and checks the file alone (YAML, metrics, operators, numbers); check_scope() checks it
against what a bench plans or ran (flaskbench.plan, before any host changes; `python -m benchreport
check` against a recorded run): every selector names a mode, profile, client or route of it, selects a
point, and its metric is one those points measure. judge() holds each threshold against each point it
selects, on the figure the report ranks by (the point's median over its repetitions, stats.<metric>.median;
failed: the most of any repetition, as the knee counts them, so one failing repetition is not voted
away); knee_rps against each rate sweep's or rate=auto search's knee (benchreport.knee). A rate=auto
search's steps are probes the search chose, not points anyone asked for: its other figures are judged
at its knee's rate. A figure that is null (an error, not measured) fails, "not measured"; a point that
failed as the mode table expects (expected hang) is skipped.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchhost import clients
from benchreport import fmt, knee
from benchreport.model import Record, counts_for_stats, finite, integer, points, spread

#: Where a bench keeps the thresholds it was held to: a copy in its run folder (roles/bench/tasks/run.yml).
FILENAME = "thresholds.yml"
#: The JUnit file benchreport writes beside report.md (benchreport.junit).
JUNIT = "junit.xml"

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
#: The selectors an entry narrows its check with: each matches a run's field of the same name.
SELECTORS = ("mode", "profile", "client", "route")
KEYS = ("check", *SELECTORS)
CHECK = re.compile(r"\s*(?P<metric>[^\s<>=!~]+)\s*(?P<op>[<>=!~]+)\s*(?P<value>.*?)\s*")
# A plain decimal number: YAML's nan and inf, and Python's float("nan"), are no threshold.
NUMBER = re.compile(r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?")

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
#: How the report says what each figure was judged on.
RULE = ("each figure is the point's median over its repetitions (summary.json's stats.<metric>.median; "
        "failed: the most of any repetition), knee_rps the knee of each rate sweep or rate=auto search, "
        "a rate=auto search's other figures those at its knee's rate; a figure not measured fails")


@dataclass(frozen=True)
class Figure:
    """A figure a threshold may check: its Record field, its unit and decimals as the report shows it."""

    key: str
    unit: str
    #: decimals; None: whole numbers from 100 up, one decimal below (ms, as the report shows them)
    digits: int | None
    #: the measure it needs of a planned point (Planned): a rate client's knee, an ideal...
    needs: str | None = None


FIGURES = {m.key: m for m in (
    Figure("rps", " req/s", 2),
    Figure("pct_of_ideal", "%", 1, "ideal"),
    Figure("failed", " failed", 0),
    Figure("p50_ms", " ms", None),
    Figure("p99_ms", " ms", None),
    Figure("max_ms", " ms", None),
    Figure("cpu_ms_per_req", " ms/request", 3),
    Figure("peak_rss_mib", " MiB", 1),
    Figure("knee_rps", " req/s", None, "knee"),
)}
#: Why a planned point has no such figure, by Figure.needs.
NEEDS = {
    "knee": "only client=rate measures a knee (a rate sweep, or rate=auto); its points' client: {clients}",
    "ideal": "none of its points has an ideal to measure against (c / delay, or a rate): your own app calls no"
             " slow API of ours, and delay 0 gives none",
}


class ThresholdsError(ValueError):
    """A thresholds file that cannot be held against a bench: one message per problem, each naming the file
    and the entry."""

    def __init__(self, *messages: str) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Threshold:
    """One entry: `metric op value` on the points its selectors match (an empty selector matches any)."""

    entry: int  # 1-based, as a person counts the file's entries
    metric: str
    op: str
    value: float
    number: str  # the value as written
    mode: tuple[str, ...] = ()
    profile: tuple[str, ...] = ()
    client: tuple[str, ...] = ()
    route: tuple[str, ...] = ()

    @property
    def check(self) -> str:
        return f"{self.metric} {self.op} {self.number}"

    def selector(self, key: str) -> tuple[str, ...]:
        return getattr(self, key)

    def selects(self) -> str:
        """"every point", or "mode uwsgi-gevent, route order"."""
        parts = [f"{key} {', '.join(self.selector(key))}" for key in SELECTORS if self.selector(key)]
        return "; ".join(parts) or "every point"

    def matches(self, fields: Mapping[str, Any]) -> bool:
        return all(not self.selector(k) or str(fields.get(k)) in self.selector(k) for k in SELECTORS)

    def passes(self, measured: float) -> bool:
        return OPERATORS[self.op](measured, self.value)

    def __str__(self) -> str:
        return self.check if not any(self.selector(k) for k in SELECTORS) else f"{self.check} ({self.selects()})"


# -- reading a file -------------------------------------------------------------------------------


def _names(value: Any) -> tuple[str, ...] | None:
    """A selector's names: a name or a non-empty list of names; None when it is neither."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(x, (str, int, float)) and not isinstance(x, bool) and str(x).strip()
                            for x in items):
        return None
    return tuple(str(x).strip() for x in items)


def _check(text: str) -> tuple[str, str, float, str]:
    """`METRIC OP NUMBER` -> (metric, op, value, the number as written); a ValueError says what is wrong."""
    found = CHECK.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not METRIC OP NUMBER (for example: p99_ms < 1500)")
    metric, op, number = found["metric"], found["op"], found["value"]
    if metric not in FIGURES:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(FIGURES)}")
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}; valid: {' '.join(OPERATORS)}")
    if number == "":
        raise ValueError(f"{text!r} compares {metric} with nothing: give a number (for example: {metric} {op} 100)")
    if not NUMBER.fullmatch(number) or not math.isfinite(float(number)):
        raise ValueError(f"{number!r} is not a number: a threshold compares {metric} with a number, not a string")
    return metric, op, float(number), number


def _entry(i: int, item: Any) -> Threshold:
    """One entry of the file, or a ValueError saying what is wrong with it."""
    if isinstance(item, str):
        item = {"check": item}
    if not isinstance(item, dict):
        raise ValueError(f"{item!r} is neither a check (\"METRIC OP NUMBER\") nor a mapping with one")
    unknown = [str(k) for k in item if k not in KEYS]
    if unknown:
        raise ValueError(f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
    if "check" not in item:
        raise ValueError(f"no check: {{check: \"METRIC OP NUMBER\"}} ({', '.join(SELECTORS)} only select points)")
    if not isinstance(item["check"], str):
        raise ValueError(f"check: {item['check']!r} is not a string \"METRIC OP NUMBER\" (quote it in YAML)")
    selectors = {}
    for key in SELECTORS:
        if key in item:
            names = _names(item[key])
            if names is None:
                raise ValueError(f"{key}: {item[key]!r} is not a name or a list of names")
            selectors[key] = names
    metric, op, number, written = _check(item["check"])
    return Threshold(i, metric, op, number, written, **selectors)


def _shown(item: Any) -> str:
    """An entry as a message names it: its check, else the entry itself."""
    check = item.get("check") if isinstance(item, dict) else item
    return repr(check) if isinstance(check, str) else repr(item)


def parse(data: Any, file: str) -> list[Threshold]:
    """The thresholds of a file's YAML data; ThresholdsError names every entry that is wrong, a line each."""
    if data is None or data == []:
        raise ThresholdsError(f"{file}: lists no threshold: a YAML list of checks, METRIC OP NUMBER (docs/thresholds.md)")
    if not isinstance(data, list):
        raise ThresholdsError(f"{file}: not a YAML list of thresholds but a {type(data).__name__}"
                              " (each entry \"METRIC OP NUMBER\", or a mapping with a check: docs/thresholds.md)")
    found, wrong = [], []
    for i, item in enumerate(data, start=1):
        try:
            found.append(_entry(i, item))
        except ValueError as err:
            wrong.append(f"{file}: entry {i} ({_shown(item)}): {err}")
    if wrong:
        raise ThresholdsError(*wrong)
    return found


def load(path: Path | str) -> list[Threshold]:
    """The thresholds of a file, checked alone (check_scope holds them against a bench)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ThresholdsError(f"{path}: cannot be read ({getattr(err, 'strerror', None) or err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ThresholdsError(f"{path}: not YAML: {' '.join(str(err).split())}") from None
    return parse(data, str(path))


# -- against a bench ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """A point as a bench plans or ran it: what selectors match, and what it measures."""

    mode: str | None
    profile: str | None
    client: str | None
    route: str | None
    #: its client schedules a rate (client=rate): a knee
    knee: bool
    #: it has an ideal: a rate, or the built-in app at a delay above 0
    ideal: bool

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> Planned:
        """From a plan's run (flaskbench.plan) or a Record's fields (as_dict): mode, profile, client, route,
        rate, delay, app."""
        client = clients.of_record(fields.get("client"))
        by_rate = client is not None and client.by_rate
        delay = finite(fields.get("delay"))
        return cls(fields.get("mode"), fields.get("profile"), str(fields.get("client") or clients.BUILTIN[0]),
                   None if fields.get("route") is None else str(fields.get("route")), by_rate,
                   by_rate or (not fields.get("app") and bool(delay)))

    def fields(self) -> dict[str, Any]:
        return {"mode": self.mode, "profile": self.profile, "client": self.client, "route": self.route}


def check_scope(thresholds: list[Threshold], planned: Iterable[Planned], file: str, where: str = "the plan") -> None:
    """Each threshold against the bench's points: its selectors name what the bench has, select a point, and
    its metric is one those points measure; ThresholdsError names each that does not."""
    planned = list(planned)
    wrong = []
    for t in thresholds:
        head = f"{file}: entry {t.entry} ({t.check!r})"
        unknown = []
        for key in SELECTORS:
            have = list(dict.fromkeys(str(p.fields()[key]) for p in planned if p.fields()[key] is not None))
            missing = [name for name in t.selector(key) if name not in have]
            if missing:
                unknown.append(f"{key} {', '.join(missing)} is not in {where} (its {key}s: {', '.join(have) or 'none'})")
        if unknown:
            wrong.append(f"{head}: " + "; ".join(unknown))
            continue
        selected = [p for p in planned if t.matches(p.fields())]
        if not selected:
            wrong.append(f"{head}: {t.selects()} selects no point of {where}")
            continue
        needs = FIGURES[t.metric].needs
        if needs is not None and not any(getattr(p, needs) for p in selected):
            used = ", ".join(dict.fromkeys(str(p.client) for p in selected))
            wrong.append(f"{head}: {t.metric}: {NEEDS[needs].format(clients=used)}")
    if wrong:
        raise ThresholdsError(*wrong)


# -- judging a run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One threshold on one point: passed, failed or skipped, with what was measured."""

    threshold: Threshold
    point: str
    status: str
    value: float | None
    #: the figure in words ("1715 ms, the median of 3"), or why none ("not measured: ...", a skip's reason)
    measured: str
    runs: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        """"p99_ms < 1500 at uwsgi-gevent/tuned wrk c=1000: 1715 ms, the median of 3"."""
        return f"{self.threshold.check} at {self.point}: {self.measured}"

    def as_dict(self) -> dict[str, Any]:
        t = self.threshold
        return {"entry": t.entry, "check": t.check, "selects": t.selects(), "point": self.point, "status": self.status,
                "value": self.value, "measured": self.measured, "runs": list(self.runs)}


@dataclass
class Checked:
    """A run's thresholds judged: the file they came from and a result per threshold and point; or why the
    file could not be judged (`error`: a recorded copy that does not read, which fails the run)."""

    file: str
    thresholds: list[Threshold] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    error: str | None = None

    def of(self, status: str) -> list[Result]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.of(FAILED))

    def failed_lines(self) -> list[str]:
        """What the bench's last task names: each failed threshold at its point with its figure."""
        return [f"not judged: {self.error}"] if self.error is not None else [r.line for r in self.of(FAILED)]

    def head(self) -> str:
        """"2 of 12 failed" (and the skipped), or why nothing was judged."""
        if self.error is not None:
            return f"not judged: {self.error}"
        done = len(self.results) - len(self.of(SKIPPED))
        text = f"{len(self.of(FAILED))} of {done} failed" if self.of(FAILED) else f"all {done} passed"
        if self.of(SKIPPED):
            text += f", {len(self.of(SKIPPED))} skipped"
        return text

    def intro(self) -> str:
        """report.md's (and report.html's) first line on them."""
        count = len(self.thresholds)
        return (f"From {self.file}: {count} threshold{'s' if count != 1 else ''} on the points each selects, "
                f"{self.head()}; {RULE}.")

    def as_dict(self) -> dict[str, Any]:
        """bench.json's "thresholds" (roles/bench/tasks/report.yml's last task reads `failed`)."""
        return {"file": self.file, "error": self.error, "thresholds": [str(t) for t in self.thresholds],
                "passed": len(self.of(PASSED)), "skipped": len(self.of(SKIPPED)), "failed": self.failed_lines(),
                "results": [r.as_dict() for r in self.results]}


@dataclass
class Target:
    """What a threshold is held against: a point's records (a search's: those at its knee's rate), or a knee."""

    fields: dict[str, Any]
    records: list[Record]
    #: the parts of its label, in order: (key, text); label: the ones the report shows (labels)
    parts: list[tuple[str, str]]
    found: knee.Knee | None = None
    #: why there is no record to judge (a search without a knee)
    missing: str | None = None
    label: str = ""


def _parts(rec: Record, search: bool = False) -> list[tuple[str, str]]:
    client = clients.of_record(rec.client)
    if search:
        load = "rate=auto, at its knee"
    elif client is not None and client.by_rate:  # its rate says the client
        load = f"rate={fmt.g(float(rec.rate or 0))}"
    else:
        load = f"{rec.client or clients.BUILTIN[0]} c={rec.c}"
    return [("mode", f"{rec.mode}/{rec.profile}"), ("load", load), ("n", f"n={rec.n}"),
            ("delay", f"delay={fmt.g(float(rec.delay))}" if finite(rec.delay) is not None else ""),
            ("route", f"route {rec.route}" if rec.route is not None else "")]


def _knee_parts(k: knee.Knee) -> list[tuple[str, str]]:
    return [("mode", k.name), ("load", "knee"), ("n", ""),
            ("delay", f"delay={fmt.g(k.delay)}" if k.delay is not None else ""),
            ("route", f"route {k.route}" if k.route is not None else "")]


def _fields(rec: Record) -> dict[str, Any]:
    return {"mode": rec.mode, "profile": rec.profile, "client": rec.client or clients.BUILTIN[0], "route": rec.route}


def targets(records: list[Record]) -> tuple[list[Target], list[Target]]:
    """(the points, the knees): every point with a mode (a rate=auto search as one, at its knee's rate), and
    every rate sweep's or search's knee."""
    found = knee.knees(records)
    searched = [k for k in found if any(isinstance(r.search, dict) for r in k.records)]
    in_search = {id(r) for k in searched for r in k.records}
    out = []
    for recs in points(records):
        first = recs[0]
        if first.mode is not None and id(first) not in in_search:
            out.append(Target(_fields(first), recs, _parts(first)))
    for k in searched:
        first = k.records[0]
        at = k.at_knee
        out.append(Target(_fields(first), at.records if at is not None else [], _parts(first, search=True),
                          missing=None if at is not None else f"no knee: {k.why}"))
    knees = [Target(_fields(k.records[0]), k.records, _knee_parts(k), found=k)
             for k in found]
    return out, knees


#: The parts of a label left out where every label stays unique without them (a user's app's route never).
OPTIONAL_PARTS = ("n", "delay", "route")


def labels(found: list[Target]) -> None:
    """Each target's label: mode/profile and its load (client and c, or rate), then n, delay and route where
    the labels need them to tell the targets apart (a user's app's route always: it is the row's name)."""
    named = any(r.app for t in found for r in t.records)
    keep = set(OPTIONAL_PARTS) - ({"route"} if named else set())

    def label(t: Target, dropped: set[str]) -> str:
        return " ".join(text for key, text in t.parts if text and key not in dropped)

    dropped: set[str] = set()
    for key in OPTIONAL_PARTS:
        if key in keep and len({label(t, dropped | {key}) for t in found}) == len({label(t, dropped) for t in found}):
            dropped.add(key)
    for t in found:
        t.label = label(t, dropped)


def _error(recs: list[Record]) -> str:
    first = next((r.error for r in recs if r.error), None)
    return f"not measured: error: {first}" if first else "not measured: no run counted"


def _figure(metric: Figure, x: float) -> str:
    if metric.key == "failed":
        return f"{int(x)}{metric.unit}"
    return fmt.figure(x, metric.digits) + metric.unit


def measure(recs: list[Record], metric: str) -> tuple[float | None, str]:
    """A point's figure of a metric over its counted repetitions and how to say it; None: not measured."""
    m = FIGURES[metric]
    counted = [r for r in recs if counts_for_stats(r)]
    if not counted:
        return None, _error(recs)
    if metric == "failed":  # one failing repetition fails the point, as in the knee
        found = [v for r in counted if (v := integer(r.failed)) is not None]
        x = float(max(found)) if found else None
        how = f", the most of {len(counted)}" if len(counted) > 1 else ""
    else:
        # summary.json's stats.<metric>.median where it keeps one: the same rule over the same records
        # (summary.add_repeat_stats), so every metric is judged alike, those stats does not keep too
        x = spread([v for r in counted if (v := finite(getattr(r, metric))) is not None])["median"]
        how = f", the median of {len(counted)}" if len(counted) > 1 else ""
    if x is None:
        return None, "not measured"
    return x, _figure(m, x) + how


def _knee_measure(k: knee.Knee) -> tuple[float | None, str]:
    if k.knee_rps is None:
        return None, f"not measured: no rate kept the budget ({k.why})"
    return k.knee_rps, knee.knee_text(k)


def _expected(recs: list[Record]) -> str | None:
    """A point every record of which failed as the mode table expects: why it is skipped."""
    if recs and all(r.expected and r.as_expected for r in recs):
        return f"skipped: expected failure ({recs[0].expected}): not measured by design"
    return None


def judge(thresholds: list[Threshold], records: list[Record], file: str) -> Checked:
    """Every threshold on every point (or knee) it selects, in the file's order then the records'. A threshold
    that selects none of the run's points fails: a CI job must not pass on points that never ran."""
    found, knees = targets(records)
    labels(found)
    labels(knees)
    results = []
    for t in thresholds:
        pool = knees if t.metric == "knee_rps" else found
        chosen = [x for x in pool if t.matches(x.fields)]
        if not chosen:
            results.append(Result(t, t.selects(), FAILED, None, "not measured: none of its points ran"))
        for x in chosen:
            runs = tuple(r.raw_dir for r in x.records)
            skip = _expected(x.records)
            if skip is not None:
                results.append(Result(t, x.label, SKIPPED, None, skip, runs))
                continue
            if x.found is not None:
                measured, said = _knee_measure(x.found)
            elif x.missing is not None:
                measured, said = None, f"not measured: {x.missing}"
            else:
                measured, said = measure(x.records, t.metric)
            ok = measured is not None and t.passes(measured)
            results.append(Result(t, x.label, PASSED if ok else FAILED, measured, said, runs))
    return Checked(file, list(thresholds), results)


def judge_file(path: Path, records: list[Record], shown: str | None = None) -> Checked:
    """A file's thresholds judged on a run; a file that does not read is a Checked with its error."""
    try:
        return judge(load(path), records, shown or str(path))
    except ThresholdsError as err:
        return Checked(shown or str(path), error=str(err))
