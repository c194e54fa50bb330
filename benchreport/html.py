"""report.html: the run's report as one self-contained interactive page, beside report.md.

`python -m benchreport RUN_DIR` writes it with report.md and chart.png;
`python -m benchreport.html RUN_DIR` (re)writes it alone from the run's
summary.json (say for a run made before report.html existed).

Every figure comes from summary.json's records (the ones report.md shows,
benchreport.summary) or from the run's raw files read with benchreport's own
readers (abparse.parse_tsv for ab's -g file, wrkparse.load_wrk_run for
wrk.json, rateparse.parse_tsv for bench-rate.py's rate.tsv,
runfiles.server_samples for server.json's series; runfiles.part_dirs for the
load hosts' folders of a split run).
Nothing is typed in. The charts (plotly; its JavaScript is embedded once, so
the file opens without a network):

* % of ideal by mode: one bar per point and profile (render.chart_bars, the
  same bars as chart.png): the median of the repetitions, their min–max as
  an error bar, ab's ceiling and the seed's published figure as markers.
* req/s and p99 against concurrency: one line per mode and profile that ran
  at two or more c (a sweep); the median of the repetitions, min–max as
  error bars (summary.spread over the records' own rps and p99_ms).
* the knee (constant-rate runs, client=rate; benchreport.knee): per delay, the
  p99 timed from the schedule against the rate scheduled, one line per mode
  and profile (the median of a rate's repetitions, min–max as error bars),
  the budget 1.5 × delay as a dashed line, the rates over it crossed and each
  knee a star; each mode's machine limit (benchreport.knee.machine_limit) in
  the text and, when within twice the highest rate, as a dotted line. Only when
  rate runs are in the run.
* latency distribution: one percentile curve per point (its repetitions'
  requests pooled, and the load hosts' of a split run), one chart per load
  (client, c, delay; a rate run's load is its rate). rate: every answered
  request's time from its scheduled send, from rate.tsv (whole ms, nearest
  rank: as rate.json's latency_hist_ms). ab: every request's total time from ab.tsv
  (whole ms), percentiles by ab's nearest-rank rule (abparse.rank_ms). wrk:
  wrk.json's latency histogram (latency_hist_us; wrk's percentile rule,
  wrkparse.hist_percentile; corrected for coordinated omission by wrk when
  summary's percentiles_from says "corrected"); without the histogram, wrk's
  own five figures (p50, p90, p99, p99.9, max) as points.
* timeline of each run (a menu picks the run), on one wall-clock axis:
  requests completed in each second since the run's first start and the p99
  of those, from ab.tsv (ab records each start in whole seconds: an end is
  start second + total time, right to ±1 s) or rate.tsv (an end is the
  scheduled send + its latency, on the clock from loadgen.json's start), and
  below them the server's CPU
  as % of one core between consecutive samples of server.json's series
  (bench-sample.py, about one every 0.25 s: runfiles.cpu_per_second). wrk keeps
  no per-request times: its runs show the CPU only, from loadgen.json's
  start (its `started`, Unix s). A run whose server.json has no samples (older runs) shows its
  answers only and is named at the top.
* CPU ms per request and peak RSS per point and profile (medians of the
  repetitions; CPU with its min–max), both over the load window (summary's
  cpu_window). The timeline's "% of a core" is that CPU over the same
  window's seconds.

The modes' group (summary's `group`) is the first level of every bar chart's
axis, and the legend's sections of the line charts (colours: one family per
group). Under each chart a table gives the numbers it draws; at the end, the
run's full table (render.columns, as report.md; a failed cell's hover names
the non-2xx codes, render.non_2xx_text) and its notes. Runs with an
error or an expected failure are left out of the charts (they have no
figures to draw) and listed; a raw file that is missing or unreadable is
named at the top of the page with what it left out.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchreport import fmt, knee, model, render, rundata, serverfigures
from benchreport.fmt import DASH
from benchreport.abparse import TsvRow, rank_ms
from benchreport.model import Record, counts_for_stats, finite, spread
from benchreport.rundata import NO_HISTOGRAM, Latencies, RunData, pooled
from benchreport.runfiles import (CLIENTS, SERVER, CpuSecond, cpu_per_second,
                                  server_samples)
from benchreport.summary import load_timing

REPORT = "report.html"
SUMMARY = "summary.json"
#: Colour families of the groups (plotly colour scales); modes of a group get shades of it.
GROUP_SCALES = {"gevent": "Blues", "peers": "Greens", "threads and processes": "Oranges"}
OTHER_SCALE = "Greys"
#: Bar colours of the profiles (as chart.png); wrk's bars lighter when both clients ran.
PROFILE_COLOURS = {"seed": "#9e9e9e", "tuned": "#1f77b4"}
PROFILE_COLOURS_LIGHT = {"seed": "#cfcfcf", "tuned": "#8fbbd9"}
PROFILE_DASH = {"seed": "dash", "tuned": "solid"}
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star",
           "hexagon", "pentagon", "star-triangle-up", "hourglass")
CEILING_COLOUR = render.CEILING_COLOUR
IDEAL_COLOUR = "#2e7d32"
#: The percentiles of the latency tables (and the nines axis' ticks).
TABLE_PERCENTILES = (50, 90, 99, 99.9)
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
#: How hover labels print a figure: as summary.json has it (up to 3 decimals, trailing zeros dropped;
#: d3-format), not rounded to the axis' tick precision.
EXACT = ":.3~f"
SWEEP_FAMILY = "Throughput and p99 against concurrency (a sweep)"
LATENCY_FAMILY = "Latency distribution by mode"


@dataclass(frozen=True)
class Second:
    """One second of a run's timeline (since its t0): requests that ended in it and their p99."""

    t: int
    completed: int
    p99_ms: float | None


def per_second(ends: Iterable[tuple[int, float]]) -> list[Second]:
    """(second an answer ended in, its latency ms) -> every second from 0 to the last end with the
    answers that ended in it and their p99 (ab's nearest rank); seconds with none included: a stall
    shows as a gap. Ends before 0 (none expected) count in second 0."""
    by_second: dict[int, list[float]] = {}
    for t, ms in ends:
        by_second.setdefault(max(t, 0), []).append(ms)
    out = []
    for t in range(0, max(by_second, default=-1) + 1):
        times = sorted(by_second.get(t, []))
        out.append(Second(t, len(times), rank_ms(times, 99) if times else None))
    return out


def timeline(rows: list[TsvRow]) -> list[Second]:
    """An ab run second by second from its first start second. End = start second + total time."""
    if not rows:
        return []
    t0 = min(r.seconds for r in rows)
    return per_second(((r.seconds * 1000 + r.ttime) // 1000 - t0, float(r.ttime)) for r in rows)




@dataclass
class RunTimeline:
    """One run on the wall clock: t0 (Unix s) and, from it, the answers of each second and the server's CPU."""

    t0: float
    #: what t0 is, for the axis and the table
    since: str
    seconds: list[Second]
    cpu: list[CpuSecond]

    @property
    def requests(self) -> int:
        return sum(s.completed for s in self.seconds)

    @property
    def peak_cpu_pct(self) -> float | None:
        return max((c.pct for c in self.cpu), default=None)


def run_timeline(rec: Record, raw: RunData) -> RunTimeline | None:
    """A run's timeline from its per-request data (ab.tsv, rate.tsv) and its server samples; t0 the
    first request's start second (ab), else the client's start (loadgen.json: rate, wrk), else the first
    sample. None when it has neither."""
    cpu = cpu_per_second(raw.samples or [])
    if raw.rows:
        t0, since = float(min(r.seconds for r in raw.rows)), "the first request's start (ab's whole second)"
        seconds = timeline(raw.rows)
    elif raw.answers and raw.started is not None:
        t0, since = raw.started, "the client's start (loadgen.json), its schedule's first send 0.05 s after"
        seconds = per_second((math.floor(end - t0), ms) for end, ms in raw.answers)
    elif cpu:
        t0, since = ((raw.started, "the client's start (loadgen.json)") if raw.started is not None
                     else (cpu[0].t_from, "the first server sample"))
        seconds = []
    else:
        return None
    return RunTimeline(t0, since, seconds, cpu)


# --- names, colours, tables --------------------------------------------------------------------

def group_of(rec: Record) -> str:
    return str(rec.group or render.NO_GROUP)


def _fmt(value: Any, digits: int = 3) -> str:
    """A figure as it is (up to `digits` decimals, trailing zeros dropped); a dash for None."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def _range(low: Any, high: Any) -> str:
    return DASH if low is None or high is None else f"{_fmt(low)}–{_fmt(high)}"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


#: The class of a right-aligned (numeric) cell.
RIGHT = ' class="r"'


def table(headers: list[str], rows: Iterable[list[Any]], right_from: int = 1,
          caption: str | None = None, right: Sequence[bool] | None = None) -> str:
    """A plain HTML table; cells are escaped, columns from `right_from` on right-aligned (or those
    `right` marks, one flag per column)."""
    flags = list(right) if right is not None else [i >= right_from for i in range(len(headers))]
    head = "".join(f"<th{RIGHT if flags[i] else ''}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{RIGHT if flags[i] else ''}>{_e(c)}</td>" for i, c in enumerate(row))
        + "</tr>" for row in rows)
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def mode_styles(records: list[Record]) -> dict[str, dict[str, str]]:
    """Per mode label: a colour (a shade of its group's family) and a marker symbol."""
    from plotly.colors import sample_colorscale

    by_group: dict[str, list[str]] = {}
    for rec in render.in_group_order(records):
        names = by_group.setdefault(group_of(rec), [])
        if render.mode_label(rec) not in names:
            names.append(render.mode_label(rec))
    styles = {}
    for group, names in by_group.items():
        scale = GROUP_SCALES.get(group, OTHER_SCALE)
        spots = [0.45 + 0.5 * i / (len(names) - 1) for i in range(len(names))] if len(names) > 1 else [0.75]
        for i, (name, colour) in enumerate(zip(names, sample_colorscale(scale, spots))):
            styles[name] = {"colour": colour, "symbol": SYMBOLS[i % len(SYMBOLS)]}
    return styles


def several(records: list[Record], key: Callable[[Record], Any]) -> bool:
    return len({key(r) for r in records}) > 1


def point_name(rec: Record, records: list[Record]) -> str:
    """mode and profile, plus the client, c, n and delay where they vary in `records`, and the route
    where the mode ran on several (each mode has its own route: /db, /grpc...)."""
    parts = [render.mode_label(rec), str(rec.profile or DASH)]
    if several(records, lambda r: r.client or "ab"):
        parts.append(str(rec.client or "ab"))
    for key, fmt in (("rate", "rate={}/s"), ("c", "c={}"), ("n", "n={}"), ("delay", "delay={}")):
        if several(records, lambda r, k=key: getattr(r, k)):
            value = getattr(rec, key)
            parts.append(fmt.format(DASH if value is None else (f"{value:g}" if key in ("delay", "rate") else value)))
    if several([r for r in records if r.mode == rec.mode], lambda r: r.route):
        parts.append(str(rec.route or DASH))
    return " ".join(parts)


def run_name(rec: Record, records: list[Record]) -> str:
    """One run as the notes name it (mode/profile[/client][ (repetition k)]), with its c when c varies."""
    return render.run_label(rec) + (f" c={rec.c}" if several(records, lambda r: r.c) else "")


def _counted(recs: list[Record]) -> list[Record]:
    return [r for r in recs if counts_for_stats(r)]


def _spread_of(recs: list[Record], key: str) -> dict[str, Any]:
    """summary.spread (median, min, max) of the counted records' `key`, and how many values ("runs")."""
    values = [float(v) for r in _counted(recs) if (v := getattr(r, key)) is not None]
    return {**spread(values), "runs": len(values)}


# --- the charts --------------------------------------------------------------------------------

@dataclass
class Chart:
    """One section of the page: a figure (None: nothing to draw, `absent` says why) and its table."""

    key: str
    title: str
    how: str
    figure: Any = None
    table: str = ""
    absent: str | None = None
    #: the mode labels this chart draws (the page's test looks for them in the rendered chart)
    modes: list[str] = field(default_factory=list)
    #: charts of one family (the sweep's two, the latency charts) share a heading and `how`
    family: str | None = None


def error_bars(medians: list[float], lows: list[float], highs: list[float], runs: list[int],
               color: str | None = "black", thickness: float = 1.2) -> dict[str, Any]:
    """Plotly's error_y for a min–max around each median; hidden when no point had 2 or more runs
    (a single run's range is its own value: plotly would draw a flat cap on every bar)."""
    out = dict(type="data", symmetric=False, visible=any(n > 1 for n in runs), thickness=thickness,
               array=[h - m for m, h in zip(medians, highs)], arrayminus=[m - lo for m, lo in zip(medians, lows)])
    return {**out, "color": color} if color else out


def _xcat(groups: list[tuple[str, list[Record]]], indices: list[int]) -> list[list[str]]:
    """Multicategory x values: [groups, labels] for the render.chart_groups positions `indices`."""
    return [[group_of(groups[i][1][0]) for i in indices], [groups[i][0].replace("\n", "<br>") for i in indices]]


def _bar_colour(series: str, several_clients: bool) -> str:
    profile = series.split(" ")[0]
    light = several_clients and series.endswith(" wrk")
    return (PROFILE_COLOURS_LIGHT if light else PROFILE_COLOURS).get(profile, "#7e57c2")


def ideal_chart(records: list[Record]) -> Chart:
    """% of ideal by mode (a point per x in a sweep), one bar per profile: render.chart_bars' bars."""
    import plotly.graph_objects as go

    profiles = {r.profile for r in records}
    chart = Chart("pct-of-ideal", "Throughput as % of ideal, by mode"
                  + (": seed vs tuned" if {"seed", "tuned"} <= profiles else ""),
                  "req/s as % of ideal (c / delay): 100% means every connection got its answer right after "
                  "the delay. A bar is the median of the point's repetitions, its error bar their min–max; "
                  "the orange mark is ab's ceiling (the most % of ideal ab itself can show at that n and c), "
                  "the diamond the seed's published figure. The axis groups modes by group."
                  + (" A constant-rate run's ideal is its rate: 100% means the answers came as fast as the "
                     "requests were scheduled." if "rate" in render.clients(records) else ""))
    ordered = render.in_group_order(records)
    groups = render.chart_groups(ordered)
    bars = render.chart_bars(ordered)
    several_clients = len(render.clients(ordered)) > 1
    series = render.series_order(ordered)
    fig = go.Figure()
    rows = []
    legend_shown: set[str] = set()

    def once(kind: str) -> bool:
        """Whether this is the first trace of its kind (the legend names each kind once)."""
        first = kind not in legend_shown
        legend_shown.add(kind)
        return first

    for name in series:
        mine = [b for b in bars if b["series"] == name]
        drawn = [b for b in mine if b["pct"] is not None]
        if drawn:
            fig.add_trace(go.Bar(
                name=name, offsetgroup=name, x=_xcat(groups, [b["x"] for b in drawn]),
                y=[b["pct"] for b in drawn], marker_color=_bar_colour(name, several_clients),
                error_y=error_bars([b["pct"] for b in drawn], [b["min_pct"] for b in drawn],
                                   [b["max_pct"] for b in drawn], [len(b["counted"]) for b in drawn]),
                customdata=[[b["min_pct"], b["max_pct"], b["rps"], len(b["counted"]), len(b["records"])]
                            for b in drawn],
                hovertemplate=("%{x}<br>" + name + f": <b>%{{y{EXACT}}}% of ideal</b> (median)<br>min–max "
                               f"%{{customdata[0]{EXACT}}}–%{{customdata[1]{EXACT}}}%<br>median req/s "
                               f"%{{customdata[2]{EXACT}}}<br>"
                               "runs counted %{customdata[3]} of %{customdata[4]}<extra></extra>")))
        ceilings = [b for b in mine if b["ceiling_pct"] is not None]
        if ceilings:
            fig.add_trace(go.Scatter(
                name="ab's ceiling", legendgroup="ceiling", showlegend=once("ceiling"), offsetgroup=name,
                mode="markers", x=_xcat(groups, [b["x"] for b in ceilings]),
                y=[b["ceiling_pct"] for b in ceilings],
                marker=dict(symbol="line-ew", size=16, line=dict(width=3, color=CEILING_COLOUR)),
                hovertemplate=f"%{{x}}<br>ab's ceiling at this n and c: %{{y{EXACT}}}% of ideal<extra></extra>"))
        failed = [b for b in mine if b["pct"] is None]
        if failed:
            fig.add_trace(go.Scatter(
                name="no figure (error, or no ideal)", legendgroup="error", showlegend=once("error"),
                offsetgroup=name, mode="markers",
                x=_xcat(groups, [b["x"] for b in failed]), y=[0] * len(failed),
                marker=dict(symbol="x", size=11, color="#c62828"),
                hovertext=[f"{name}: " + "; ".join(str(r.error or (
                    "no % of ideal (no ideal at delay 0)" if not r.delay else "no % of ideal"))
                    for r in b["records"]) for b in failed],
                hovertemplate="%{x}<br>%{hovertext}<extra></extra>"))
        for b in mine:
            rec = b["records"][0]
            rows.append([group_of(rec), groups[b["x"]][0].replace("\n", " "), name,
                         f"{len(b['counted'])} of {len(b['records'])}", _fmt(b["pct"]),
                         _range(b["min_pct"], b["max_pct"]), _fmt(b["rps"]), _fmt(b["ceiling_pct"]),
                         "; ".join(str(r.error) for r in b["records"] if r.error) or ""])
    seed_series = next((s for s in series if s.split(" ")[0] == "seed"), None)
    published_x, published_y = [], []
    seen: set[str] = set()
    for i, (_, recs) in enumerate(groups):
        rec = recs[0]
        p, seed = rec.seed_params or {}, rec.seed_rps
        if render.mode_label(rec) in seen or seed is None or not p.get("c") or not p.get("delay"):
            continue
        seen.add(render.mode_label(rec))
        published_x.append(i)
        published_y.append(100.0 * seed / (p["c"] / p["delay"]))
    if published_x and seed_series is not None:
        fig.add_trace(go.Scatter(
            name="seed's published figure", offsetgroup=seed_series, mode="markers",
            x=_xcat(groups, published_x), y=published_y, marker=dict(symbol="diamond", size=9, color="black"),
            hovertemplate=f"%{{x}}<br>the seed's published req/s as % of its own ideal: %{{y{EXACT}}}%"
                          "<extra></extra>"))
    fig.add_hline(y=100, line=dict(color=IDEAL_COLOUR, dash="dash", width=1),
                  annotation_text="ideal: c / delay" + (" (rate runs: the rate)" if "rate" in render.clients(records)
                                                        else ""), annotation_position="top left")
    fig.update_layout(barmode="group", scattermode="group", height=520, margin=dict(t=40, b=10),
                      yaxis_title="req/s as % of ideal", legend=dict(orientation="h", y=1.08),
                      xaxis=dict(tickangle=-35))
    chart.figure = fig
    chart.table = table(["group", "mode", "series", "runs counted", "median % of ideal", "min–max %",
                         "median req/s", "ab's ceiling %", "error"], rows, right_from=3)
    chart.modes = list(dict.fromkeys(render.mode_label(r) for r in ordered))
    return chart


def sweep_series(records: list[Record]) -> dict[tuple, dict[int, list[Record]]]:
    """Per (mode, profile, client, delay, route): its records by c, for those that ran at two or more c
    (ab and wrk: a rate run's c is only its cap on connections; the knee chart draws rate sweeps)."""
    found: dict[tuple, dict[int, list[Record]]] = {}
    for rec in render.in_group_order(records):
        if rec.mode is None or rec.c is None or rec.client == "rate":  # c: a rate's cap
            continue
        key = (rec.mode, rec.profile, rec.client or "ab", rec.delay, rec.route)
        found.setdefault(key, {}).setdefault(int(rec.c), []).append(rec)
    return {k: v for k, v in found.items() if len(v) >= 2}


def _bound_mark(recs: list[Record]) -> str:
    """The p99 mark (fmt.p99_mark) of some runs' median: ≥ when any is a lower bound, ≤ an upper, ≶ both."""
    return fmt.BOUND_MARKS.get(model.bound([r for r in recs if r.p99_ms is not None], "p99_ms") or "", "")


def _bound_note(recs: list[Record]) -> str:
    """A hover's line for a p99 that is only a bound ("" when exact)."""
    return {fmt.LOWER_BOUND_MARK: "<br>≥ a lower bound: failed requests are not in it",
            fmt.UPPER_BOUND_MARK: "<br>≤ an upper bound: its load hosts' highest",
            fmt.NO_BOUND_MARK: "<br>≶ no bound either way (failed requests left out, load hosts' highest)",
            "": ""}[_bound_mark(recs)]


def sweep_charts(records: list[Record], styles: Mapping[str, Mapping[str, str]]) -> list[Chart]:
    """req/s and p99 against c, one line per mode and profile that ran at several c."""
    import plotly.graph_objects as go

    found = sweep_series(records)
    how = ("One line per mode and profile that ran at two or more concurrencies; a point is the median "
           "of the repetitions at that c, its error bar their min–max. Runs with an error are left out. "
           "Legend sections are the modes' groups (click a mode to hide it).")
    metrics = (("rps", "Throughput against concurrency", "req/s", "sweep-rps"),
               ("p99_ms", "p99 latency against concurrency", "p99 ms", "sweep-p99"))
    if not found:
        return [Chart("sweep", SWEEP_FAMILY, how, absent="No mode ran at more than one concurrency in this run: "
                      "nothing to draw against c. A sweep (bench.yml -e c=50,200,1000) draws req/s and p99 "
                      "against c here, one line per mode.")]
    all_recs = [r for by_c in found.values() for recs in by_c.values() for r in recs]
    charts = []
    for metric, title, unit, key in metrics:
        fig = go.Figure()
        rows = []
        titled: set[str] = set()
        drawn: list[str] = []
        for (mode, profile, client, delay, route), by_c in found.items():
            first = next(iter(by_c.values()))[0]
            name = point_name(replace(first, c=None, n=None), [replace(r, c=None, n=None) for r in all_recs])
            xs, ys, lows, highs, ks = [], [], [], [], []
            for c in sorted(by_c):
                counted = _counted(by_c[c])
                values = [float(v) for r in counted if (v := getattr(r, metric)) is not None]
                stats = spread(values)
                rows.append([group_of(first), name, c, f"{len(values)} of {len(by_c[c])}",
                             _fmt(stats["median"]), _range(stats["min"], stats["max"]),
                             ", ".join(_fmt(v) for v in values) or DASH])
                if stats["median"] is None:
                    continue
                xs.append(c)
                ys.append(stats["median"])
                lows.append(stats["min"])
                highs.append(stats["max"])
                ks.append([stats["min"], stats["max"], len(values), _bound_note(counted) if metric == "p99_ms" else ""])
            if not xs:
                continue
            group = group_of(first)
            style = styles.get(render.mode_label(first), {})
            fig.add_trace(go.Scatter(
                name=name, x=xs, y=ys, mode="lines+markers", legendgroup=group,
                legendgrouptitle_text=group if group not in titled else None,
                line=dict(color=style.get("colour"), dash=PROFILE_DASH.get(str(profile), "dot")),
                marker=dict(symbol=style.get("symbol"), size=8),
                error_y=error_bars(ys, lows, highs, [k[2] for k in ks], color=None, thickness=1),
                customdata=ks,
                hovertemplate=(f"{_e(name)}<br>c=%{{x}}: <b>%{{y{EXACT}}} {unit}</b> (median)<br>min–max "
                               f"%{{customdata[0]{EXACT}}}–%{{customdata[1]{EXACT}}}<br>runs %{{customdata[2]}}"
                               "%{customdata[3]}<extra></extra>")))
            titled.add(group)
            drawn.append(str(mode))
        if not drawn:
            charts.append(Chart(key, title, how, table=table(
                ["group", "mode", "c", "runs counted", f"median {unit}", "min–max", "each run"], rows, right_from=2),
                absent=f"Every run of the sweep had an error: no {unit} to draw.", family=SWEEP_FAMILY))
            continue
        cs = sorted({c for by_c in found.values() for c in by_c})
        fig.update_layout(height=480, margin=dict(t=30),
                          xaxis=dict(title="concurrency c", type="log", tickvals=cs, ticktext=[str(c) for c in cs]),
                          yaxis_title=unit, showlegend=True, legend=dict(groupclick="toggleitem"))
        charts.append(Chart(key, title, how, figure=fig,
                            table=table(["group", "mode", "c", "runs counted", f"median {unit}", "min–max",
                                         "each run"], rows, right_from=2),
                            modes=list(dict.fromkeys(drawn)), family=SWEEP_FAMILY))
    return charts


KNEE_FAMILY = "The knee: p99 against the scheduled rate (constant-rate runs)"
BUDGET_COLOUR = "#c62828"


def knee_charts(records: list[Record], styles: Mapping[str, Mapping[str, str]]) -> list[Chart]:
    """Per delay, p99 against the scheduled rate, a line per mode and profile (benchreport.knee): the budget
    as a horizontal line, the rates over it crossed, each knee a star. None without rate runs."""
    import plotly.graph_objects as go

    found = knee.knees(render.in_group_order(records))
    how = (f"Constant-rate runs (client rate): x is the rate scheduled, y the p99 timed from each request's "
           f"scheduled send (the median of the rate's repetitions, their min–max as the error bar). The dashed "
           f"line is the latency budget, {knee.BUDGET_FACTOR:g} × delay; a rate is within it when its p99 is "
           "at most that and no request failed or was left unsent (a cross marks a rate that is not). The star "
           "is the knee: the highest rate at which it and every lower rate were within the budget. report.md's "
           "\"Knee\" ranks the modes by it.")
    charts = []
    for delay in sorted({k.delay for k in found}, key=lambda d: (d is None, d or 0)):
        mine = [k for k in found if k.delay == delay]
        # the ranking in words: at a glance, and where several stars share a rate
        said = f"{how} Knees, best first: {'; '.join(f'{k.name} {knee.knee_text(k)}' for k in knee.ranked(mine))}."
        said += " " + " ".join(f"{k.name}: {knee.knee_limit_text(k)}." for k in knee.ranked(mine))
        fig = go.Figure()
        rows = []
        titled: set[str] = set()
        drawn: list[str] = []
        for k in mine:
            first = k.steps[0].records[0]
            group = group_of(first)
            style = styles.get(k.mode, {})
            name = k.name + (f" {k.route}" if len({kk.route for kk in mine if kk.mode == k.mode}) > 1 else "")
            have = [s for s in k.steps if s.p99_ms is not None]
            for s in k.steps:
                rows.append([group, name, _fmt(s.rate), f"{len(s.counted)} of {len(s.records)}",
                             _bound_mark(s.counted) + _fmt(s.p99_ms),
                             _fmt(s.failed), s.unsent, _cpu_fmt(s.cpu_ms_per_req, s.cpu_ms_per_req_resolution),
                             s.over or "within the budget",
                             knee.knee_text(k) if s.rate == k.knee_rps else ""])
            if not have:
                continue
            spreads = [spread([float(r.p99_ms) for r in s.counted if r.p99_ms is not None]) for s in have]
            fig.add_trace(go.Scatter(
                name=name, x=[s.rate for s in have], y=[s.p99_ms for s in have], mode="lines+markers",
                legendgroup=group, legendgrouptitle_text=group if group not in titled else None,
                line=dict(color=style.get("colour"), dash=PROFILE_DASH.get(str(k.profile), "dot")),
                marker=dict(size=[8 if s.over is None else 12 for s in have],
                            symbol=[style.get("symbol") if s.over is None else "x" for s in have]),
                error_y=error_bars([s.p99_ms or 0.0 for s in have], [sp["min"] for sp in spreads],
                                   [sp["max"] for sp in spreads], [len(s.counted) for s in have], color=None,
                                   thickness=1),
                customdata=[[len(s.counted), s.failed, s.over or "within the budget", _bound_note(s.counted)]
                            for s in have],
                hovertemplate=(f"{_e(name)}<br>%{{x:g}} req/s scheduled: p99 <b>%{{y{EXACT}}} ms</b> (median of "
                               "%{customdata[0]})<br>failed %{customdata[1]}: %{customdata[2]}%{customdata[3]}"
                               "<extra></extra>")))
            at = k.at_knee
            if at is not None and at.p99_ms is not None:
                fig.add_trace(go.Scatter(
                    # no text label: several modes often share a knee's rate, their labels would overlap
                    name=f"knee of {name}", x=[at.rate], y=[at.p99_ms], mode="markers", showlegend=False,
                    legendgroup=group, cliponaxis=False,
                    marker=dict(symbol="star", size=18, color=style.get("colour"), line=dict(width=1, color="black")),
                    hovertemplate=f"{_e(name)}: knee <b>{_e(knee.knee_text(k))}</b><br>{_e(k.why)}<extra></extra>"))
            titled.add(group)
            drawn.append(k.mode)
        title = "p99 against the scheduled rate" + (f", delay {delay:g} s" if delay is not None else "")
        key = f"knee-d{_fmt(delay)}"
        headers = ["group", "mode", "rate req/s", "runs counted", "median p99 ms", "failed (most of a run)",
                   "unsent", "median CPU ms/req", "verdict", "knee"]
        if not drawn:
            charts.append(Chart(key, title, said, table=table(headers, rows, right_from=2), family=KNEE_FAMILY,
                                absent="No rate run has a p99 to draw (every one had an error)."))
            continue
        if delay is not None:
            budget = knee.BUDGET_FACTOR * delay * 1000.0
            fig.add_hline(y=budget, line=dict(color=BUDGET_COLOUR, dash="dash", width=1),
                          annotation_text=f"budget: {knee.BUDGET_FACTOR:g} × delay = {budget:g} ms",
                          annotation_position="top left")
        top = max(s.rate for k in mine for s in k.steps)
        for k in mine:  # the machine's limit, where the x axis can show it without squashing the rates
            kl = knee.knee_limit(k)
            if kl is not None and kl.limit is not None and kl.limit.rps <= 2 * top:
                fig.add_vline(x=kl.limit.rps, line=dict(color=styles.get(k.mode, {}).get("colour"), dash="dot", width=1),
                              annotation_text=f"machine limit {k.name} ≈ {kl.limit.rps:g}", annotation_position="top")
        fig.update_layout(height=480, margin=dict(t=30), xaxis=dict(title="rate scheduled (req/s)", rangemode="tozero"),
                          # log: past the knee p99 grows tenfold, and the budget's region must stay readable
                          yaxis=dict(title="p99 ms (from the schedule, log scale)", type="log"), showlegend=True,
                          legend=dict(groupclick="toggleitem"))
        charts.append(Chart(key, title, said, figure=fig, table=table(headers, rows, right_from=2),
                            modes=list(dict.fromkeys(drawn)), family=KNEE_FAMILY))
    return charts


def nines(p: float) -> float:
    """The x of percentile p on the nines axis: -log10(1 - p/100) (p90 -> 1, p99 -> 2, p99.9 -> 3)."""
    return -math.log10(1.0 - p / 100.0)


def curve(lat: Latencies) -> tuple[list[float], list[float], list[str]]:
    """A percentile curve (x on the nines axis, y ms, hover text) of a latency histogram: each distinct
    latency from the share of requests faster than it, to the slowest request's own rank."""
    total = lat.count
    xs, ys, texts = [], [], []
    below = 0
    for ms, n in lat.hist:
        p = 100.0 * below / total
        xs.append(nines(p))
        ys.append(ms)
        texts.append(f"from p{p:.4g}: {n} request{'s' if n != 1 else ''} at {ms:g} ms")
        below += n
    last = 100.0 * (total - 1) / total
    if total > 1 and (not xs or nines(last) > xs[-1]):
        xs.append(nines(last))
        ys.append(lat.hist[-1][0])
        texts.append(f"max: {lat.hist[-1][0]:g} ms (the slowest of {total})")
    return xs, ys, texts


def latency_charts(records: list[Record], raws: Mapping[str, RunData],
                   styles: Mapping[str, Mapping[str, str]]) -> list[Chart]:
    """One chart per load (client, c, delay): a percentile curve per point."""
    import plotly.graph_objects as go

    how = ("The latency of every request of a point (its repetitions pooled), slowest at the right: "
           "x is the percentile on a 'nines' scale (p90, p99, p99.9 equally spaced), y the time in ms. "
           "ab: each request's total time from ab.tsv (whole ms). wrk: its latency histogram (wrk corrects "
           "it for coordinated omission when a response took over twice its expected interval). rate: each "
           "answered request's time from its scheduled send, from rate.tsv (whole ms, as rate.json's "
           "histogram): a stall counts for every request due during it. "
           "Hover for the exact values; the table gives the percentiles by the client's own rule.")
    ordered = render.in_group_order(records)
    loads: dict[tuple, list[list[Record]]] = {}
    for recs in render.points(ordered):
        rec = recs[0]
        if rec.mode is None:
            continue
        client = rec.client or "ab"
        # a rate run's load is its schedule (its c is a cap on connections); the others' their c
        key = (client, rec.rate if client == "rate" else rec.c, rec.delay)
        loads.setdefault(key, []).append(recs)
    charts = []
    for (client, c, delay), points in sorted(
            loads.items(), key=lambda kv: (CLIENTS.index(kv[0][0]) if kv[0][0] in CLIENTS else len(CLIENTS),
                                           kv[0][1] or 0, kv[0][2] or 0)):
        everything = [r for recs in points for r in recs]
        ns = sorted({r.n for r in everything if r.n is not None})
        load = f"{c:g} req/s scheduled" if client == "rate" and c is not None else f"c={c}"
        label = (f"{client}, {load}" + (f" (n={', '.join(map(str, ns))})" if ns else "")
                 + (f", delay {delay:g} s" if delay is not None else ""))
        key = f"latency-{client}-{'r' if client == 'rate' else 'c'}{_fmt(c)}-d{_fmt(delay)}"
        fig = go.Figure()
        rows = []
        titled: set[str] = set()
        drawn: list[str] = []
        top = 0.0
        for recs in points:
            rec = recs[0]
            name = point_name(rec, everything)
            counted = _counted(recs)
            if not counted:
                continue
            group = group_of(rec)
            style = styles.get(render.mode_label(rec), {})
            line = dict(color=style.get("colour"), dash=PROFILE_DASH.get(str(rec.profile), "dot"))
            lat = pooled([raws[r.raw_dir] for r in counted])
            summary_p99 = [fmt.p99_mark(r) + _fmt(r.p99_ms) for r in counted]
            if lat is not None and lat.count:
                xs, ys, texts = curve(lat)
                top = max(top, max(xs))
                fig.add_trace(go.Scatter(
                    name=name, x=xs, y=ys, mode="lines", line_shape="hv", line=line, legendgroup=group,
                    legendgrouptitle_text=group if group not in titled else None, hovertext=texts,
                    hovertemplate=f"{_e(name)}<br>%{{hovertext}}<extra></extra>"))
                pcts = [lat.percentile(p) for p in TABLE_PERCENTILES]
                rows.append([group, name, lat.source, lat.runs, lat.count, *map(_fmt, pcts), _fmt(lat.max_ms),
                             ", ".join(summary_p99)])
            else:
                shown = False
                for r in counted:
                    wp = raws[r.raw_dir].wrk_points
                    if not wp:
                        continue
                    ps = [p for p in (50, 90, 99, 99.9) if wp.get(p) is not None]
                    xs = [nines(p) for p in ps]
                    top = max([top, *xs])
                    fig.add_trace(go.Scatter(
                        name=f"{name} (wrk's percentiles)", x=xs, y=[wp[p] for p in ps], mode="lines+markers",
                        line=line, marker=dict(symbol=style.get("symbol")), legendgroup=group,
                        legendgrouptitle_text=group if group not in titled else None, showlegend=not shown,
                        hovertext=[f"repetition {r.repetition}: p{p:g} {wp[p]:g} ms (wrk's own figure)"
                                   for p in ps],
                        hovertemplate=f"{_e(name)}<br>%{{hovertext}}<extra></extra>"))
                    rows.append([group, f"{name} (repetition {r.repetition})",
                                 "wrk.json latency_us (a repetition has no histogram)", 1, DASH,
                                 *(_fmt(wp.get(p)) for p in TABLE_PERCENTILES), _fmt(wp.get(100)),
                                 _fmt(r.p99_ms)])
                    shown = True
                if not shown:
                    rows.append([group, name, "no per-request data", len(counted), DASH,
                                 *([DASH] * len(TABLE_PERCENTILES)), DASH, ", ".join(summary_p99)])
                    continue
            titled.add(group)
            drawn.append(render.mode_label(rec))
        headers = ["group", "point", "from", "runs", "requests", *(f"p{p:g} ms" for p in TABLE_PERCENTILES),
                   "max ms", "p99 ms in summary.json (each run)"]
        title = f"Latency distribution: {label}"
        if not rows:
            continue  # every run at this load failed: listed at the top
        if not drawn:
            charts.append(Chart(key, title, how, table=table(headers, rows, right_from=3), family=LATENCY_FAMILY,
                                absent="No per-request data for any run at this load: nothing to draw "
                                       "(see what is missing at the top)."))
            continue
        ticks = [0.0, nines(50), nines(75), *(float(k) for k in range(1, int(math.ceil(top)) + 1))]
        fig.update_layout(
            height=460, margin=dict(t=30), yaxis_title="latency ms", showlegend=True,  # even for one curve
            legend=dict(groupclick="toggleitem"),
            xaxis=dict(title="percentile", tickvals=ticks,
                       ticktext=["p0", "p50", "p75", *(f"p{100 - 10 ** -k * 100:.{max(k - 2, 0)}f}"
                                                      for k in range(1, len(ticks) - 2))]))
        charts.append(Chart(key, title, how, figure=fig, table=table(headers, rows, right_from=3),
                            modes=list(dict.fromkeys(drawn)), family=LATENCY_FAMILY))
    return charts


def _cpu_fmt(value: float | None, resolution: float | None) -> str:
    """CPU ms per request, "± resolution" after it where that is not negligible (serverfigures)."""
    text = _fmt(value)
    return text + f" ± {_fmt(resolution)}" if serverfigures.shows_resolution(value, resolution) else text


def cpu_window_s(rec: Record) -> float | None:
    """The seconds the record's server CPU was measured over (summary's cpu_window.s)."""
    window = rec.cpu_window
    return finite(window.get("s")) if isinstance(window, Mapping) else None


def cpu_window_source(rec: Record) -> str:
    """What the record's server CPU was measured over, in words (summary's cpu_window.source)."""
    window = rec.cpu_window
    source = str(window.get("source")) if isinstance(window, Mapping) and window.get("source") else None
    return {None: "its window not recorded", "samples": "the load window, from the samples"}.get(
        source, f"the sampler's whole run: {source}")


def core_share_pct(rec: Record) -> float | None:
    """The server's CPU as % of one core: its CPU over its own window's seconds (the same window)."""
    cpu_ms, seconds = finite(rec.cpu_ms), cpu_window_s(rec)
    return 100.0 * cpu_ms / (seconds * 1000.0) if cpu_ms is not None and seconds else None


def timeline_chart(records: list[Record], raws: Mapping[str, RunData]) -> Chart:
    """Per run with per-request data or server samples (a menu picks it): the answers of each second
    and their p99 above, the server's CPU below, on one wall-clock axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chart = Chart("timeline", "Timeline of each run: completed requests, p99 and server CPU, second by second",
                  "Pick a run in the menu. Top: bars are the requests that ended in each second, the line "
                  "their p99 (right axis); from ab.tsv, where ab records each start in whole seconds, so an "
                  "end (start + its time) is right to ±1 s, or from rate.tsv (an end is the request's "
                  "scheduled send + its latency from it, on the clock from the client's start in "
                  "loadgen.json: right to about 0.1 s). Gaps are seconds in which no request ended (a "
                  "stall, or ab's rounds at a long delay). Bottom: the server's CPU as % of one core between "
                  "two consecutive samples of server.json (bench-sample.py reads the unit's processes about "
                  "every 0.25 s), drawn at the middle of their interval. Both share the wall clock: x is "
                  "seconds since the run's first request started (ab) or its client started (rate; wrk, which "
                  "keeps no per-request times: its runs show the CPU only); samples before 0 are the "
                  "sampler's baseline, taken before the load began.")
    ordered = render.in_group_order(records)
    runs = [(r, found) for r in ordered if counts_for_stats(r) and (found := run_timeline(r, raws[r.raw_dir]))]
    wrk_runs = [r for r in ordered if counts_for_stats(r) and (r.client or "ab") == "wrk"]
    if not runs:
        chart.absent = ("No run has per-request times (ab.tsv, rate.tsv) or server samples (server.json's "
                        "samples): nothing to draw second by second"
                        + (" (wrk keeps no per-request times, only a latency histogram)." if wrk_runs else "."))
        return chart
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38],
                        specs=[[{"secondary_y": True}], [{"secondary_y": False}]])
    buttons = []
    details = []
    rows = []
    per_run = 3  # traces of a run: its bars, its p99 line, its CPU line
    for i, (rec, tl) in enumerate(runs):
        busy = [s.completed for s in tl.seconds]
        cpu_ms, taken, over_s = rec.cpu_ms, rec.time_taken_s, cpu_window_s(rec)
        average = core_share_pct(rec)
        rows.append([render.run_label(rec), rec.c, tl.requests if tl.seconds else DASH, len(tl.seconds),
                     max(busy, default=DASH), sum(1 for b in busy if b == 0) if busy else DASH,
                     _fmt(max((s.p99_ms for s in tl.seconds if s.p99_ms is not None), default=None)),
                     _fmt(taken), _fmt(cpu_ms), _fmt(over_s), _fmt(average, 1), _fmt(tl.peak_cpu_pct, 1),
                     len(tl.cpu)])
        name = run_name(rec, ordered)
        mid = [(c.t_from + c.t_to) / 2 - tl.t0 for c in tl.cpu]
        fig.add_trace(go.Bar(
            name="completed in the second", x=[s.t + 0.5 for s in tl.seconds], y=busy, width=0.9,
            customdata=[s.t for s in tl.seconds], marker_color="#1f77b4", visible=i == 0, legendgroup="completed",
            hovertemplate="second %{customdata}: <b>%{y} requests ended</b><extra></extra>"),
            row=1, col=1, secondary_y=False)
        fig.add_trace(go.Scatter(
            name="p99 of those (ms)", x=[s.t + 0.5 for s in tl.seconds], y=[s.p99_ms for s in tl.seconds],
            customdata=[s.t for s in tl.seconds], mode="lines+markers", line=dict(color="#c62828"),
            visible=i == 0, connectgaps=False, legendgroup="p99",
            hovertemplate=f"second %{{customdata}}: p99 <b>%{{y{EXACT}}} ms</b><extra></extra>"),
            row=1, col=1, secondary_y=True)
        fig.add_trace(go.Scatter(
            name="server CPU (% of a core)", x=mid, y=[c.pct for c in tl.cpu], mode="lines+markers",
            line=dict(color="#6a1b9a"), visible=i == 0, legendgroup="cpu",
            customdata=[[c.t_from - tl.t0, c.t_to - tl.t0] for c in tl.cpu],
            hovertemplate=(f"%{{customdata[0]:.1f}} to %{{customdata[1]:.1f}} s: server CPU <b>%{{y:.1f}}%</b> "
                           "of a core<extra></extra>")), row=2, col=1)
        if cpu_ms is not None and average is not None:
            cpu = (f"server CPU {_fmt(cpu_ms)} ms over {_fmt(over_s)} s ({_e(cpu_window_source(rec))}), "
                   f"{_fmt(average, 1)}% of a core")
        elif cpu_ms is not None:
            cpu = f"server CPU {_fmt(cpu_ms)} ms ({_e(cpu_window_source(rec))}: its seconds not recorded)"
        else:
            cpu = "server CPU not measured (server.json missing or without its counters)"
        cpu += (f"; at most {_fmt(tl.peak_cpu_pct, 1)}% between two samples" if tl.cpu
                else "; no samples in server.json")
        title = f"{_e(name)}: " + (f"{tl.requests} requests; " if tl.seconds else "") + cpu
        visible = [j // per_run == i for j in range(per_run * len(runs))]
        buttons.append(dict(label=name, method="update", args=[{"visible": visible}, {"title.text": title}]))
        details.append(f"<details><summary>{_e(name)}: {len(tl.seconds)} s of answers, {len(tl.cpu)} CPU "
                       f"intervals (t0: {_e(tl.since)})</summary>"
                       + (table(["second", "requests ended", "p99 ms of those"],
                                [[s.t, s.completed, _fmt(s.p99_ms)] for s in tl.seconds]) if tl.seconds else "")
                       + (table(["from s", "to s", "server CPU % of a core"],
                                [[_fmt(c.t_from - tl.t0), _fmt(c.t_to - tl.t0), _fmt(c.pct, 1)] for c in tl.cpu])
                          if tl.cpu else "") + "</details>")
        if i == 0:
            fig.update_layout(title=dict(text=title, font=dict(size=13), x=0.01, xanchor="left", y=0.97,
                                         yanchor="top"))
    # the menu under the run's title (container top), above the plot
    fig.update_layout(
        height=620, margin=dict(t=120), barmode="overlay", legend=dict(orientation="h", y=-0.12),
        updatemenus=[dict(buttons=buttons, active=0, direction="down", x=0, xanchor="left", y=1.2,
                          yanchor="top", showactive=True)])
    fig.update_xaxes(title_text="seconds since the run's first request started (rate, wrk: since the client's start)",
                     row=2, col=1)
    fig.update_yaxes(title_text="requests ended in the second", secondary_y=False, rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="p99 ms", secondary_y=True, rangemode="tozero", showgrid=False,
                     tickmode="auto", row=1, col=1)
    fig.update_yaxes(title_text="server CPU % of a core", rangemode="tozero", row=2, col=1)
    chart.figure = fig
    chart.table = table(["run", "c", "requests", "seconds", "most ended in a second", "seconds with none",
                         "highest p99 ms of a second", "client's time s", "server CPU ms (its window)",
                         "server CPU window s", "server CPU % of a core (average over its window)",
                         "server CPU % of a core (busiest interval)", "CPU intervals"], rows) + "".join(details)
    chart.modes = [render.mode_label(runs[0][0])]
    if wrk_runs:
        chart.how += (f" {len(wrk_runs)} wrk run(s): CPU only"
                      + (", and only those whose server.json has samples." if len(wrk_runs) > sum(
                          1 for r, _ in runs if (r.client or "ab") == "wrk") else "."))
    return chart


def resources_chart(records: list[Record]) -> Chart:
    """CPU ms per request (median, min–max) and peak RSS (median) per point and profile."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chart = Chart("cpu-rss", "Server CPU per request and peak memory, by mode",
                  "Top: the server's CPU time per request (ms; the unit's CPU over the load window / the "
                  "requests it worked on: answered, timed out or cut on read), the median of the repetitions "
                  "with their min–max. Bottom: the unit's peak resident memory in the load window (MiB), the "
                  "median of the repetitions. Runs with an error are left out.")
    ordered = render.in_group_order(records)
    groups = render.chart_groups(ordered)
    bars = render.chart_bars(ordered)
    several_clients = len(render.clients(ordered)) > 1
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("CPU ms per request", "peak RSS MiB"))
    rows = []
    drawn = False
    for name in render.series_order(ordered):
        mine = [b for b in bars if b["series"] == name]
        cpu = [(b, _spread_of(b["records"], "cpu_ms_per_req")) for b in mine]
        rss = [(b, _spread_of(b["records"], "peak_rss_mib")) for b in mine]
        colour = _bar_colour(name, several_clients)
        for row, found, unit in ((1, cpu, "CPU ms/request"), (2, rss, "peak RSS MiB")):
            have = [(b, s) for b, s in found if s["median"] is not None]
            if not have:
                continue
            drawn = True
            fig.add_trace(go.Bar(
                name=name, legendgroup=name, showlegend=row == 1 or not any(s["median"] is not None
                                                                         for _, s in cpu),
                offsetgroup=name, marker_color=colour, x=_xcat(groups, [b["x"] for b, _ in have]),
                y=[s["median"] for _, s in have],
                error_y=error_bars([s["median"] for _, s in have], [s["min"] for _, s in have],
                                   [s["max"] for _, s in have], [s["runs"] for _, s in have]),
                customdata=[[s["min"], s["max"]] for _, s in have],
                hovertemplate=(f"%{{x}}<br>{_e(name)}: <b>%{{y{EXACT}}} {unit}</b> (median)<br>min–max "
                               f"%{{customdata[0]{EXACT}}}–%{{customdata[1]{EXACT}}}<extra></extra>")),
                row=row, col=1)
        for (b, c), (_, m) in zip(cpu, rss):
            rec = b["records"][0]
            rows.append([group_of(rec), groups[b["x"]][0].replace("\n", " "), name,
                         _cpu_fmt(c["median"], serverfigures.point_resolution(b["records"])),
                         _range(c["min"], c["max"]), _fmt(m["median"]), _range(m["min"], m["max"]),
                         ", ".join(sorted({str(r.cpu_source) for r in b["records"] if r.cpu_source}))
                         or DASH])
    if not drawn:
        chart.absent = "No run has the server's CPU or memory (server.json missing or every run failed)."
        return chart
    fig.update_layout(barmode="group", height=640, margin=dict(t=40), legend=dict(orientation="h", y=1.07))
    fig.update_xaxes(tickangle=-35, row=2, col=1)
    fig.update_yaxes(title_text="ms / request", row=1, col=1)
    fig.update_yaxes(title_text="MiB", row=2, col=1)
    chart.figure = fig
    chart.table = table(["group", "mode", "series", "median CPU ms/req", "min–max", "median peak RSS MiB",
                         "min–max", "CPU from"], rows, right_from=3)
    chart.modes = list(dict.fromkeys(render.mode_label(r) for r in ordered))
    return chart


# --- what is missing ---------------------------------------------------------------------------

def missing_lines(records: list[Record], raws: Mapping[str, RunData]) -> list[str]:
    """What the page could not show and why, one line per kind (the runs named)."""
    kinds: dict[str, list[str]] = {}

    def add(kind: str, name: str) -> None:
        kinds.setdefault(kind, []).append(name)

    for rec in records:
        name = run_name(rec, records)
        if not counts_for_stats(rec):
            add("left out of every chart: an error or an expected failure, no figures (see Notes)", name)
            continue
        raw = raws[rec.raw_dir]
        for text in raw.missing:
            if text.endswith(NO_HISTOGRAM):
                add("wrk.json without its latency histogram (latency_hist_us: bench-wrk.lua leaves it out "
                    "when dumping it would take too long): wrk's own p50, p90, p99 and p99.9 of each "
                    "repetition drawn as points, no curve", text.removesuffix(f" {NO_HISTOGRAM}"))
            elif (rec.client or "ab") in ("ab", "rate"):
                add("no per-request data: left out of the latency distributions and the timeline", text)
            else:
                add("no per-request data: left out of the latency distributions", text)
        if raw.folder and not raw.server_json:
            add("server.json missing: no server CPU or peak memory", f"{rec.raw_dir}/{SERVER}")
        elif raw.folder and raw.samples is None:
            add("server.json without per-second samples (written before bench-sample.py kept them): no "
                "server CPU in the timeline", f"{rec.raw_dir}/{SERVER}")
    wrk = [r for r in records if counts_for_stats(r) and (r.client or "ab") == "wrk"]
    lines = [f"{kind}: {', '.join(names)}" for kind, names in kinds.items()]
    if wrk:
        lines.append(f"wrk keeps no per-request times (only a latency histogram): the timeline shows only the "
                     f"server's CPU of the {len(wrk)} wrk run{'s' if len(wrk) != 1 else ''}")
    return lines


# --- the page ----------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
p.meta { color: #555; margin-top: 0; } p.how { color: #444; max-width: 75em; }
.missing { background: #fff8e1; border: 1px solid #ffcc80; padding: .4em 1em; border-radius: 4px; }
.missing.none { background: #f1f8e9; border-color: #c5e1a5; }
p.absent { background: #f5f5f5; border-left: 4px solid #bdbdbd; padding: .6em 1em; }
h3 { margin-top: 1.2em; }
table { border-collapse: collapse; font-size: 13px; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; } th { background: #f5f5f5; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { background: #eef3fb; font-weight: bold; }
details { margin: .4em 0; } summary { cursor: pointer; color: #1a5fb4; }
"""


def section(chart: Chart, first_of_family: bool = True) -> str:
    """A chart's <section>: heading, how to read it (once per family), the figure or why not, its numbers."""
    how = f"<p class=\"how\">{_e(chart.how)}</p>"
    if chart.family is None or chart.family == chart.title:
        head = f"<h2>{_e(chart.title)}</h2>{how}"
    else:
        head = (f"<h2>{_e(chart.family)}</h2>{how}" if first_of_family else "") + f"<h3>{_e(chart.title)}</h3>"
    if chart.figure is None:
        body = f"<p class=\"absent\">{_e(chart.absent or 'nothing to draw')}</p>"
    else:
        body = chart.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.key}",
                                    config=PLOT_CONFIG)
    numbers = f"<details><summary>The numbers in this chart</summary>{chart.table}</details>" if chart.table else ""
    state = "chart-absent" if chart.figure is None else "chart-drawn"
    return (f"<section class=\"chart {state}\" id=\"{_e(chart.key)}\" data-chart=\"{_e(chart.key)}\" "
            f"data-modes=\"{_e(json.dumps(chart.modes))}\">{head}{body}{numbers}</section>")


def full_table(records: list[Record]) -> str:
    """The run's table (render.columns: report.md's), a row per record, a heading row per group."""
    cols = render.columns(records)
    head = "".join(f"<th{RIGHT if right else ''}>{_e(h)}</th>" for h, right, _ in cols)
    body = []
    for group, recs in render.by_group(records) if render.grouped(records) else [(None, records)]:
        if group is not None or render.grouped(records):
            what = render.GROUPS.get(group) if group is not None else "modes not in the mode table"
            body.append(f"<tr class=\"group\"><td colspan=\"{len(cols)}\">{_e(group or render.NO_GROUP)}"
                        + (f": {_e(what)}" if what else "") + "</td></tr>")
        for rec in recs:
            # the failed cell's hover names the non-2xx codes (the notes say it too)
            codes = render.non_2xx_text(rec)
            body.append("<tr>" + "".join(
                f"<td{RIGHT if right else ''}"
                + (f" title=\"non-2xx: {_e(codes)}\"" if codes and h == "failed" else "") + f">{_e(fn(rec))}</td>"
                for h, right, fn in cols) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def charts(records: list[Record], raws: Mapping[str, RunData]) -> tuple[list[Chart], list[str]]:
    """The page's charts, in order, and what is missing (missing_lines); raws: benchreport.rundata's, by raw_dir."""
    styles = mode_styles(records)
    out = [ideal_chart(records), *sweep_charts(records, styles), *knee_charts(records, styles),
           *latency_charts(records, raws, styles),
           timeline_chart(records, raws), resources_chart(records)]
    return out, missing_lines(records, raws)


def head(title: str) -> list[str]:
    """A page's start, to its <body>: the title, the style and plotly.js embedded once."""
    from plotly.offline import get_plotlyjs

    return [
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">", f"<title>{_e(title)}</title>",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<style>{STYLE}</style>",
        # plotly's own offline embedding: its config first (no MathJax from a CDN), then plotly.js, once
        "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script>",
        "</head><body>"]


def write_text(path: Path, text: str) -> Path:
    """Write a page whole (a temporary file renamed over it): a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def page(run_dir: Path, records: list[Record], raws: Mapping[str, RunData], run_id: str,
         timing: Mapping[str, Any] | None = None) -> str:
    """report.html's text."""
    found, missing = charts(records, raws)
    modes = list(dict.fromkeys(render.mode_label(r) for r in records))
    starts = sorted(r.started_at for r in records if r.started_at)
    ends = sorted(r.ended_at for r in records if r.ended_at)
    meta = [f"{len(records)} runs of {len(modes)} modes",
            "clients " + ", ".join(render.clients(records)),
            "profiles " + ", ".join(sorted({str(r.profile) for r in records if r.profile}))]
    if starts:
        meta.append(f"from {starts[0]}" + (f" to {ends[-1]}" if ends else ""))
    share = render.timing_line(dict(timing) if timing else None)
    if share:
        meta.append(f"bench time: {share}")
    if missing:
        missing_html = ("<div class=\"missing\" id=\"missing\"><h2>What this page could not show</h2><ul>"
                        + "".join(f"<li>{_e(line)}</li>" for line in missing) + "</ul></div>")
    else:
        missing_html = ("<div class=\"missing none\" id=\"missing\"><p>Every raw file the charts read was "
                        "there.</p></div>")
    best = render.what_to_use_lines(records)
    best_html = ("<h2>What to use</h2><p class=\"how\">The best mode by req/s, p99 and CPU per request at each "
                 "concurrency, and its margin over the next mode (report.md's \"What to use\").</p><ul>"
                 + "".join(f"<li>{_e(line)}</li>" for line in best) + "</ul>") if best else ""
    notes = render.notes(records)
    notes_html = "<h2>Notes</h2><ul>" + ("".join(f"<li>{_e(n)}</li>" for n in notes) if notes else
                                         "<li>none: every run completed without failures.</li>") + "</ul>"
    heads: dict[str, str] = {}
    for c in found:
        heads.setdefault(c.family or c.title, c.key)  # a family's link goes to its first chart
    nav = " · ".join(f"<a href=\"#{_e(key)}\">{_e(text)}</a>" for text, key in heads.items())
    return "\n".join([
        *head(f"Bench run {run_id}"),
        f"<h1>Bench run {_e(run_id)}</h1>",
        f"<p class=\"meta\">{_e('; '.join(meta))}. Written by benchreport from summary.json and the raw files "
        f"in {_e(run_dir.resolve().name)}/.</p>",
        f"<p class=\"meta\">{nav} · <a href=\"#all-runs\">All runs</a></p>",
        missing_html, best_html,
        *(section(c, i == 0 or found[i - 1].family != c.family) for i, c in enumerate(found)),
        "<h2 id=\"all-runs\">All runs</h2><p class=\"how\">The table of report.md: one row per run, by group.</p>",
        full_table(records),
        f"<p class=\"how\">{_e(render.client_limited_footnote(records) or '')}</p>",
        f"<p class=\"how\">{_e(render.p99_bound_footnote(records) or '')}</p>", notes_html,
        "</body></html>", ""])


def write(run_dir: Path, records: list[Record], raws: Mapping[str, RunData], run_id: str | None = None,
          timing: Mapping[str, Any] | None = None, path: Path | None = None) -> Path:
    """Write report.html into run_dir; its path. raws: benchreport.rundata.read_all's."""
    return write_text(path or run_dir / REPORT, page(run_dir, records, raws, run_id or run_dir.resolve().name,
                                                     timing))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport.html",
        description="Write RUN_DIR/report.html from its summary.json and raw files "
                    "(python -m benchreport RUN_DIR writes it with the rest of the report).")
    parser.add_argument("run_dir", type=Path, help="results/<run-id> holding summary.json")
    args = parser.parse_args(argv)
    summary = args.run_dir / SUMMARY
    if not summary.is_file():
        print(f"benchreport.html: no {summary}: run python -m benchreport {args.run_dir} first", file=sys.stderr)
        return 1
    try:
        records = model.records(json.loads(summary.read_text()))
    except ValueError as exc:
        print(f"benchreport.html: {summary} unreadable: {exc}", file=sys.stderr)
        return 1
    timing, _ = load_timing(args.run_dir)
    print(f"Wrote {write(args.run_dir, records, rundata.read_all(args.run_dir, records), timing=timing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
