"""report.md's "What to use": the best mode at each concurrency, from the run's own figures.

Settings: the points (benchreport.model.point_key) are split by (c, delay,
client); the section names delay and client only when they vary in the run.
At each setting, for each of METRICS (req/s: higher is better; p99 ms
and CPU ms/request: lower is better):

* candidates: the points with at least one record that counts
  (model.counts_for_stats: no error, no expected failure) and no failed
  request in any of those records (a mode that answers fast by failing is no
  recommendation: such points are listed as left out, with their count), and
  with the metric measured. Seed and tuned profiles both count; a point is
  named mode/profile.
* a point's figure is what compare compares: the median of its counted
  repetitions (stats.<metric>.median) when it ran 2 or more times, else its
  one record's figure (model.value).
* best: the best figure (the first in the records' order on a tie); next: the
  best point of another mode (the winner's other profile is not a rival
  mode).
* margin = how far the best is ahead, in % of the next one's figure:
  100 × (best − next) / next for req/s, 100 × (next − best) / next for the others.
* resolution (CPU ms/request): a point's is its records' highest
  cpu_ms_per_req_resolution (serverfigures); when the best and the next are
  closer than their resolutions added, the measurement cannot tell them
  apart: no margin is claimed ("within resolution"), whatever the noise. The
  figure shows "± resolution" where that is over 5% of it.
* noise: the band is compare's (compare.noise_band): the floor, the metric's
  measured run-to-run spread for the best point's client and run length
  (benchreport/noise_floors.json), or when both points carry a cv for the
  metric (repeat=K, K >= 2: model.cv) max(floor, CV_FACTOR × the larger
  cv), in %. A margin within the band is "within noise". Beyond the floor
  with one run on a side there is no noise estimate of the points' own: the
  margin is given without a verdict, labelled so. Without a readable floors
  file the floor is 0 (only the cvs judge).

Constant-rate runs (client=rate) are left out: their req/s is their schedule,
and their ranking is the knee (benchreport.knee, report.md's "Knee").

Client-limited points (summary's client_limited, on any counted repetition)
are named as such wherever they appear in the section, and listed per setting.

`settings(records)` gives the picks; `markdown_section` and `text_lines` draw
them (report.md, and the terminal's one line per setting). A setting without a
pick says why: NONE_TEXT, or, when its points failed as the plan expected (the
gRPC no-init hang), "no usable point (grpc-gevent-noinit/tuned: expected hang)".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from benchhost import clients
from benchreport import compare, fmt, model, noisefloors, serverfigures
from benchreport.fmt import DASH
from benchreport.model import METRICS, Metric, Point, Record, counts_for_stats, finite, integer, point_key
WITHIN, AHEAD, NO_ESTIMATE = "within noise", "outside noise", "no noise estimate"
#: The two figures are closer than their resolutions added (CPU ms/request: serverfigures): not ranked apart.
WITHIN_RESOLUTION = "within resolution"
#: The metrics whose records carry a resolution, and its field.
RESOLUTION_KEY = {"cpu_ms_per_req": "cpu_ms_per_req_resolution"}
#: How the terminal names each metric.
SHORT_LABEL = {"rps": "req/s", "p99_ms": "p99", "cpu_ms_per_req": "CPU"}
#: The figure's unit after it, in the terminal.
UNIT = {"rps": "", "p99_ms": " ms", "cpu_ms_per_req": " ms/req"}
#: A setting where no point qualified.
NONE_TEXT = "none: every point had an error, an expected failure or failed requests"


@dataclass
class Candidate:
    """One point of a setting: its counted records (the first one carries the point's stats)."""

    key: Point
    records: list[Record]

    @property
    def rep(self) -> Record:
        return self.records[0]

    @property
    def mode(self) -> str:
        return str(self.key[0])

    @property
    def name(self) -> str:
        return f"{self.key[0]}/{self.key[1] or '?'}"

    @property
    def group(self) -> str | None:
        return self.rep.group

    @property
    def client_limited(self) -> bool:
        return any(r.client_limited for r in self.records)

    @property
    def failed(self) -> int:
        return sum(integer(r.failed) or 0 for r in self.records)

    @property
    def runs(self) -> int:
        return len(self.records)

    def value(self, metric: str) -> float | None:
        return model.value(self.rep, metric)

    def cv(self, metric: str) -> float | None:
        return model.cv(self.rep, metric)

    def resolution(self, metric: str) -> float | None:
        """The figure's resolution (its records' highest, serverfigures.point_resolution); None: exact."""
        key = RESOLUTION_KEY.get(metric)
        return serverfigures.point_resolution(self.records, key) if key else None


@dataclass
class Pick:
    """The best point by one metric at one setting, and its margin over the next mode's best."""

    metric: Metric
    best: Candidate | None = None
    best_value: float | None = None
    next: Candidate | None = None
    next_value: float | None = None
    #: how far ahead, in % of the next one's figure (>= 0); None without a next one (or its figure 0)
    margin_pct: float | None = None
    #: the noise band in % (CV_FACTOR × the larger cv); None: no noise estimate
    band_pct: float | None = None
    #: WITHIN, AHEAD, NO_ESTIMATE or WITHIN_RESOLUTION; None without a next one
    noise: str | None = None


@dataclass
class Setting:
    """One (c, delay, client) of the run: a pick per metric, and what was left out and why."""

    c: int | None
    delay: float | None
    client: str
    picks: list[Pick] = field(default_factory=list)
    #: (mode/profile, why): points with an error, an expected failure or failed requests
    left_out: list[tuple[str, str]] = field(default_factory=list)
    #: (mode/profile, what was expected, e.g. "hang"): the left-out points that failed as expected
    expected: list[tuple[str, str]] = field(default_factory=list)
    #: mode/profile of the candidates that were client-limited
    client_limited: list[str] = field(default_factory=list)
    #: how many points qualified (0: the picks are empty)
    candidates: int = 0
    #: the points that qualified, in the records' order (benchreport.advice ranks them all)
    points: list[Candidate] = field(default_factory=list)


def _setting_order(key: tuple) -> tuple:
    c, delay, client = key
    return (delay is None, delay or 0, *clients.label_order(client), c is None, c or 0)


def _expected_failure(recs: list[Record]) -> str | None:
    """What a point was expected to do ("hang") when one of its records failed as expected, else None."""
    return next((str(r.expected) for r in recs if r.expected and r.as_expected), None)


def _why_left_out(recs: list[Record]) -> str:
    """Why none of a point's records count: an expected failure, else its error."""
    expected = _expected_failure(recs)
    return f"expected to {expected}" if expected else "error"


def pick(metric: Metric, candidates: list[Candidate]) -> Pick:
    """The best candidate by `metric`, the next mode's best, the margin and its noise verdict."""
    measured = [(cand, v) for cand in candidates if (v := finite(cand.value(metric.key))) is not None]
    result = Pick(metric)
    if not measured:
        return result
    better = (lambda v: -v) if metric.higher_is_better else (lambda v: v)
    ranked = sorted(measured, key=lambda cv: better(cv[1]))  # stable: the records' order on a tie
    result.best, result.best_value = ranked[0]
    rival = next(((cand, v) for cand, v in ranked[1:] if cand.mode != result.best.mode), None)
    if rival is None:
        return result
    result.next, result.next_value = rival
    resolutions = (result.best.resolution(metric.key), result.next.resolution(metric.key))
    if resolutions != (None, None) and serverfigures.within_resolution(
            result.best_value, resolutions[0], result.next_value, resolutions[1]):
        result.noise = WITHIN_RESOLUTION  # the measurement cannot tell them apart: no margin is claimed
        return result
    if result.next_value != 0:
        ahead = (result.best_value - result.next_value) / result.next_value
        result.margin_pct = round(100.0 * (ahead if metric.higher_is_better else -ahead), 6)
    band, source = compare.noise_band(result.best.rep, result.next.rep, metric.key, floor_pct(result.best, metric))
    within = result.margin_pct is not None and result.margin_pct <= band
    if source == "floor" and None in (result.best.cv(metric.key), result.next.cv(metric.key)):
        result.band_pct = band if within and band > 0 else None
        result.noise = WITHIN if result.band_pct is not None else NO_ESTIMATE  # one run a side: only the floor
    else:
        result.band_pct, result.noise = band, WITHIN if within else AHEAD
    return result


@functools.lru_cache(maxsize=4)
def _floors(path: Path) -> noisefloors.Floors | None:
    try:
        return noisefloors.load(path)
    except noisefloors.FloorsError:
        return None


def floor_pct(cand: Candidate, metric: Metric) -> float:
    """The metric's noise floor in % for a point of cand's client and run length (0 without a floors file)."""
    floors = _floors(noisefloors.PATH)
    return floors.floor(cand.rep.client, metric.key, integer(cand.rep.n)) if floors else 0.0


def settings(records: list[Record]) -> list[Setting]:
    """Every (c, delay, client) of the records, ordered by delay, client (ab first) and c, with its picks."""
    by_setting: dict[tuple, dict[Point, list[Record]]] = {}
    for rec in records:
        key = point_key(rec)
        if key is None:
            continue
        known = clients.get(key[2])
        if known is not None and known.by_rate:  # a rate run's req/s is its schedule: the knee ranks those
            continue
        _, _, client, c, _, delay, _, _ = key
        by_setting.setdefault((c, delay, client), {}).setdefault(key, []).append(rec)
    out = []
    for (c, delay, client) in sorted(by_setting, key=_setting_order):
        setting = Setting(c, delay, client)
        candidates = []
        for key, recs in by_setting[(c, delay, client)].items():
            counted = [r for r in recs if counts_for_stats(r)]
            name = f"{key[0]}/{key[1] or '?'}"
            if not counted:
                setting.left_out.append((name, _why_left_out(recs)))
                if (expected := _expected_failure(recs)) is not None:
                    setting.expected.append((name, expected))
                continue
            cand = Candidate(key, counted)
            if cand.failed:
                setting.left_out.append((name, f"{cand.failed} failed request{'s' if cand.failed != 1 else ''}"))
                continue
            candidates.append(cand)
            if cand.client_limited:
                setting.client_limited.append(name)
        setting.candidates, setting.points = len(candidates), candidates
        setting.picks = [pick(metric, candidates) for metric in METRICS]
        out.append(setting)
    return out


# -- drawing ------------------------------------------------------------------------------------




def _figure(p: Pick, cand: Candidate | None, x: float | None) -> str:
    """A figure as the table shows it: ≤ before an upper-bound p99, ± its resolution where that is not
    negligible, (median of K) for a repeated point."""
    if cand is None:
        return DASH
    text = fmt.figure(x, p.metric.digits)
    res = cand.resolution(p.metric.key)
    if serverfigures.shows_resolution(x, res):
        text += f" ± {fmt.figure(res, p.metric.digits)}"
    if p.metric.key == "p99_ms" and any(r.p99_upper_bound for r in cand.records) and cand.runs == 1:
        text = "≤" + text
    return text + (f" (median of {cand.runs})" if cand.runs > 1 else "")


def _who(cand: Candidate | None) -> str:
    """mode/profile (group), client-limited when it was."""
    if cand is None:
        return DASH
    text = cand.name + (f" ({cand.group})" if cand.group else "")
    return text + (", client-limited" if cand.client_limited else "")


def margin_text(p: Pick) -> str:
    """"12.0% ahead (noise ±4.0%)", "1.2% ahead: within noise (±4.0%)", "3.1% ahead (no noise
    estimate: ...)", or why there is no margin."""
    if p.best is None:
        return DASH
    if p.next is None:
        return "no other mode measured"
    if p.noise == WITHIN_RESOLUTION:
        return "no margin: within the two figures' resolutions (±), the measurement cannot tell them apart"
    if p.margin_pct is None:
        return "no margin (the next figure is 0)"
    ahead = f"{p.margin_pct:.1f}% ahead"
    if p.noise == WITHIN:
        return f"{ahead}: within noise (±{p.band_pct:.1f}%)"
    if p.noise == AHEAD:
        return f"{ahead} (noise ±{p.band_pct:.1f}%)"
    return f"{ahead} (no noise estimate: " + (
        "one run per point)" if p.best.runs < 2 or p.next.runs < 2 else "no cv)")


def varies(found: list[Setting]) -> tuple[bool, bool]:
    """Whether the settings differ in delay, and in client (their labels name what differs)."""
    return len({s.delay for s in found}) > 1, len({s.client for s in found}) > 1


def setting_label(s: Setting, delay: bool, client: bool) -> str:
    """c=200, with the delay and client when they vary in the run."""
    text = f"c={DASH if s.c is None else s.c}"
    if delay:
        text += f" delay {DASH if s.delay is None else f'{s.delay:g}'} s"
    if client:
        text += f" {s.client}"
    return text


def markdown_section(records: list[Record]) -> list[str]:
    """report.md's "What to use" lines (empty when no record names a point)."""
    found = settings(records)
    if not found:
        return []
    vary_delay, vary_client = varies(found)
    same = []
    if not vary_delay and found[0].delay is not None:
        same.append(f"delay {found[0].delay:g} s")
    if not vary_client:
        same.append(f"client {found[0].client}")
    repeated = any(c.runs > 1 for s in found for p in s.picks for c in (p.best, p.next) if c)
    lines = [
        "## What to use", "",
        "Generated from this run's figures" + (f" (all at {', '.join(same)})" if same else "") + ": at each "
        "concurrency, the best mode by req/s (higher), p99 and CPU ms/request (lower), seed and tuned "
        "profiles alike, among the points without an error, an expected failure or a failed request; "
        "its margin is how far it is ahead of the best point of another mode, in % of that one's figure. "
        "A figure is the median of the point's repetitions when it ran more than once. Within noise: the "
        f"margin is within compare's noise band: the metric's measured run-to-run spread at that run length "
        f"(benchreport/noise_floors.json), or {compare.CV_FACTOR:g} × the larger of the two points' CV when "
        "that is wider" + ("." if repeated else "; every point here ran once, so a margin beyond the floor "
                           "is given without a verdict (repeat=K gives one).")
        + (" Within resolution: two CPU figures closer than their resolutions (±) added, which the "
           "measurement cannot tell apart, so no margin is claimed." if any(
               p.noise == WITHIN_RESOLUTION for s in found for p in s.picks) else ""),
        "",
    ]
    head = ["c"] + (["delay s"] if vary_delay else []) + (["client"] if vary_client else [])
    lines.append("| " + " | ".join(head + ["by", "best", "figure", "next best mode", "figure", "margin"]) + " |")
    lines.append("|" + "---:|" * (1 + vary_delay) + (":---|" if vary_client else "") + ":---|" * 2
                 + "---:|:---|---:|:---|")
    for s in found:
        where = [DASH if s.c is None else str(s.c)]
        where += [DASH if s.delay is None else f"{s.delay:g}"] if vary_delay else []
        where += [s.client] if vary_client else []
        rows = [[DASH, f"{NONE_TEXT} (below)", DASH, DASH, DASH, DASH]] if not s.candidates else [
            [p.metric.label, _who(p.best) if p.best else "none: not measured", _figure(p, p.best, p.best_value),
             _who(p.next), _figure(p, p.next, p.next_value), margin_text(p)] for p in s.picks]
        for row in rows:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in where + row) + " |")
    lines.append("")
    extra = []
    for s in found:
        label = setting_label(s, vary_delay, vary_client)
        if s.client_limited:
            extra.append(f"- {label}: client-limited (the client, not only the server, may have set the pace; "
                         f"see the notes): {', '.join(s.client_limited)}")
        if s.left_out:
            extra.append(f"- {label}: left out: " + ", ".join(f"{n} ({why})" for n, why in s.left_out))
    return lines + (extra + [""] if extra else [])


def _short(p: Pick) -> str:
    label = SHORT_LABEL.get(p.metric.key, p.metric.label)
    if p.best is None:
        return f"{label} {DASH}"
    text = f"{label} {p.best.name} {fmt.figure(p.best_value, p.metric.digits)}{UNIT.get(p.metric.key, '')}"
    notes = []
    if p.next is None:
        notes.append("no other mode")
    elif p.noise == WITHIN_RESOLUTION:
        notes.append(f"{p.next.name} within resolution")
    elif p.margin_pct is not None:
        notes.append(f"{p.margin_pct:.1f}% ahead, " + {WITHIN: "within noise", AHEAD: "outside noise",
                                                         NO_ESTIMATE: "no noise estimate"}[p.noise])
    if p.best.client_limited:
        notes.append("client-limited")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def expected_text(s: Setting) -> str:
    """"grpc-gevent-noinit/tuned: expected hang": the setting's points that failed as expected."""
    return ", ".join(f"{name}: expected {what}" for name, what in s.expected)


def none_text(s: Setting) -> str:
    """Why a setting has no pick: NONE_TEXT, or, when points failed as expected (the gRPC no-init hang),
    "no usable point (grpc-gevent-noinit/tuned: expected hang)", the other points' failures after it."""
    if not s.expected:
        return NONE_TEXT
    others = "; the others: an error or failed requests" if len(s.expected) < len(s.left_out) else ""
    return f"no usable point ({expected_text(s)}{others})"


def text_lines(records: list[Record]) -> list[str]:
    """The terminal's "what to use": one line per setting with its three winners (empty without points)."""
    found = settings(records)
    vary_delay, vary_client = varies(found)
    return [f"{setting_label(s, vary_delay, vary_client)}: "
            + ("; ".join(_short(p) for p in s.picks) if s.candidates else none_text(s)) for s in found]
