"""Latency distributions: one percentile curve per point (its repetitions' requests pooled, benchreport.rundata),
one chart per load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from benchhost import clients
from benchreport import fmt, render
from benchreport.fmt import DASH
from benchreport.html.names import PROFILE_DASH, Style, counted_runs, group_of, point_name
from benchreport.html.parts import Chart, escape, figure, table
from benchreport.model import Record
from benchreport.rundata import Latencies, RunData, pooled


#: The percentiles of the latency tables (and the nines axis' ticks).
TABLE_PERCENTILES = (50, 90, 99, 99.9)
LATENCY_FAMILY = "Latency distribution by mode"


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
                   styles: Mapping[str, Style]) -> list[Chart]:
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
        client = render.client_name(rec)
        # a constant-rate run's load is its schedule, its rate (its c is a cap on connections); the others' their c
        scheduled = rec.rate is not None
        key = (client, rec.rate if scheduled else rec.c, rec.delay, scheduled)
        loads.setdefault(key, []).append(recs)
    charts = []
    for (client, c, delay, scheduled), points in sorted(
            loads.items(), key=lambda kv: (clients.index(kv[0][0]),
                                           kv[0][1] or 0, kv[0][2] or 0)):
        everything = [r for recs in points for r in recs]
        ns = sorted({r.n for r in everything if r.n is not None})
        load = f"{c:g} req/s scheduled" if scheduled and c is not None else f"c={c}"
        label = (f"{client}, {load}" + (f" (n={', '.join(map(str, ns))})" if ns else "")
                 + (f", delay {delay:g} s" if delay is not None else ""))
        key = f"latency-{client}-{'r' if scheduled else 'c'}{figure(c)}-d{figure(delay)}"
        fig = go.Figure()
        rows = []
        titled: set[str] = set()
        drawn: list[str] = []
        top = 0.0
        for recs in points:
            rec = recs[0]
            name = point_name(rec, everything)
            counted = counted_runs(recs)
            if not counted:
                continue
            group = group_of(rec)
            style = styles.get(render.mode_label(rec), Style())
            line = dict(color=style.colour, dash=PROFILE_DASH.get(str(rec.profile), "dot"))
            lat = pooled([raws[r.raw_dir] for r in counted])
            summary_p99 = [fmt.p99_mark(r) + figure(r.p99_ms) for r in counted]
            if lat is not None and lat.count:
                xs, ys, texts = curve(lat)
                top = max(top, max(xs))
                fig.add_trace(go.Scatter(
                    name=name, x=xs, y=ys, mode="lines", line_shape="hv", line=line, legendgroup=group,
                    legendgrouptitle_text=group if group not in titled else None, hovertext=texts,
                    hovertemplate=f"{escape(name)}<br>%{{hovertext}}<extra></extra>"))
                pcts = [lat.percentile(p) for p in TABLE_PERCENTILES]
                rows.append([group, name, lat.source, lat.runs, lat.count, *map(figure, pcts), figure(lat.max_ms),
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
                        line=line, marker=dict(symbol=style.symbol), legendgroup=group,
                        legendgrouptitle_text=group if group not in titled else None, showlegend=not shown,
                        hovertext=[f"repetition {r.repetition}: p{p:g} {wp[p]:g} ms (wrk's own figure)"
                                   for p in ps],
                        hovertemplate=f"{escape(name)}<br>%{{hovertext}}<extra></extra>"))
                    rows.append([group, f"{name} (repetition {r.repetition})",
                                 "wrk.json latency_us (a repetition has no histogram)", 1, DASH,
                                 *(figure(wp.get(p)) for p in TABLE_PERCENTILES), figure(wp.get(100)),
                                 figure(r.p99_ms)])
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
