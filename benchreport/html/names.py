"""How report.html names, groups and colours the runs: a colour family per group, a shade and a marker per
mode, the names of points and runs, and the counted runs' spread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchreport import fmt, model, render
from benchreport.fmt import DASH
from benchreport.model import Record, counts_for_stats, spread


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


def group_of(rec: Record) -> str:
    return str(rec.group or render.NO_GROUP)


@dataclass(frozen=True)
class Style:
    """How a mode is drawn in the line charts: its colour (a shade of its group's family) and marker."""

    colour: str | None = None
    symbol: str | None = None


def mode_styles(records: list[Record]) -> dict[str, Style]:
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
            styles[name] = Style(colour, SYMBOLS[i % len(SYMBOLS)])
    return styles


def several(records: list[Record], key: Callable[[Record], Any]) -> bool:
    return len({key(r) for r in records}) > 1


def point_name(rec: Record, records: list[Record]) -> str:
    """mode and profile, plus the client, c, n and delay where they vary in `records`, and the route
    where the mode ran on several (each mode has its own route: /db, /grpc...)."""
    parts = [render.mode_label(rec), str(rec.profile or DASH)]
    if several(records, render.client_name):
        parts.append(render.client_name(rec))
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


def counted_runs(recs: list[Record]) -> list[Record]:
    return [r for r in recs if counts_for_stats(r)]


def spread_of(recs: list[Record], key: str) -> dict[str, Any]:
    """model.spread (median, min, max) of the counted records' `key`, and how many values ("runs")."""
    values = [float(v) for r in counted_runs(recs) if (v := getattr(r, key)) is not None]
    return {**spread(values), "runs": len(values)}


def xcat(groups: list[tuple[str, list[Record]]], indices: list[int]) -> list[list[str]]:
    """Multicategory x values: [groups, labels] for the render.chart_groups positions `indices`."""
    return [[group_of(groups[i][1][0]) for i in indices], [groups[i][0].replace("\n", "<br>") for i in indices]]


def bar_colour(series: str, several_clients: bool) -> str:
    profile = series.split(" ")[0]
    light = several_clients and series.endswith(" wrk")
    return (PROFILE_COLOURS_LIGHT if light else PROFILE_COLOURS).get(profile, "#7e57c2")


def p99_bound_mark(recs: list[Record]) -> str:
    """The p99 mark (fmt.p99_mark) of some runs' median: ≥ when any is a lower bound, ≤ an upper, ≶ both."""
    return fmt.BOUND_MARKS.get(model.bound([r for r in recs if r.p99_ms is not None], "p99_ms") or "", "")


def p99_bound_note(recs: list[Record]) -> str:
    """A hover's line for a p99 that is only a bound ("" when exact)."""
    return {fmt.LOWER_BOUND_MARK: "<br>≥ a lower bound: failed requests are not in it",
            fmt.UPPER_BOUND_MARK: "<br>≤ an upper bound: its load hosts' highest",
            fmt.NO_BOUND_MARK: "<br>≶ no bound either way (failed requests left out, load hosts' highest)",
            "": ""}[p99_bound_mark(recs)]
