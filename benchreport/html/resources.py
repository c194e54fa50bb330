"""Resources: CPU ms per request and peak RSS per point and profile, over the load window.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchreport import render, serverfigures
from benchreport.fmt import DASH
from benchreport.html.names import bar_colour, group_of, spread_of, xcat
from benchreport.html.parts import Chart, EXACT, error_bars, escape, figure, span, table
from benchreport.model import Record, finite


def cpu_figure(value: float | None, resolution: float | None) -> str:
    """CPU ms per request, "± resolution" after it where that is not negligible (serverfigures)."""
    text = figure(value)
    return text + f" ± {figure(resolution)}" if serverfigures.shows_resolution(value, resolution) else text


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
        mine = [b for b in bars if b.series == name]
        cpu = [(b, spread_of(b.records, "cpu_ms_per_req")) for b in mine]
        rss = [(b, spread_of(b.records, "peak_rss_mib")) for b in mine]
        colour = bar_colour(name, several_clients)
        for row, found, unit in ((1, cpu, "CPU ms/request"), (2, rss, "peak RSS MiB")):
            have = [(b, s) for b, s in found if s["median"] is not None]
            if not have:
                continue
            drawn = True
            fig.add_trace(go.Bar(
                name=name, legendgroup=name, showlegend=row == 1 or not any(s["median"] is not None
                                                                         for _, s in cpu),
                offsetgroup=name, marker_color=colour, x=xcat(groups, [b.x for b, _ in have]),
                y=[s["median"] for _, s in have],
                error_y=error_bars([s["median"] for _, s in have], [s["min"] for _, s in have],
                                   [s["max"] for _, s in have], [s["runs"] for _, s in have]),
                customdata=[[s["min"], s["max"]] for _, s in have],
                hovertemplate=(f"%{{x}}<br>{escape(name)}: <b>%{{y{EXACT}}} {unit}</b> (median)<br>min–max "
                               f"%{{customdata[0]{EXACT}}}–%{{customdata[1]{EXACT}}}<extra></extra>")),
                row=row, col=1)
        for (b, c), (_, m) in zip(cpu, rss):
            rec = b.records[0]
            rows.append([group_of(rec), groups[b.x][0].replace("\n", " "), name,
                         cpu_figure(c["median"], serverfigures.point_resolution(b.records)),
                         span(c["min"], c["max"]), figure(m["median"]), span(m["min"], m["max"]),
                         ", ".join(sorted({str(r.cpu_source) for r in b.records if r.cpu_source}))
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
