"""Throughput: % of ideal per point (chart.png's bars, render.chart_bars), and req/s and p99 against
concurrency for a sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from benchreport import render
from benchreport.fmt import DASH
from benchreport.html.names import (CEILING_COLOUR, IDEAL_COLOUR, PROFILE_DASH, Style, bar_colour, counted_runs,
                                    group_of, p99_bound_note, point_name, xcat)
from benchreport.html.parts import Chart, EXACT, error_bars, escape, figure, span, table
from benchreport.model import Record, spread


SWEEP_FAMILY = "Throughput and p99 against concurrency (a sweep)"


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
                     "requests were scheduled." if any(render.by_rate(r) for r in records) else ""))
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
        mine = [b for b in bars if b.series == name]
        drawn = [b for b in mine if b.pct is not None]
        if drawn:
            fig.add_trace(go.Bar(
                name=name, offsetgroup=name, x=xcat(groups, [b.x for b in drawn]),
                y=[b.pct for b in drawn], marker_color=bar_colour(name, several_clients),
                error_y=error_bars([b.pct for b in drawn], [b.min_pct for b in drawn],
                                   [b.max_pct for b in drawn], [len(b.counted) for b in drawn]),
                customdata=[[b.min_pct, b.max_pct, b.rps, len(b.counted), len(b.records)]
                            for b in drawn],
                hovertemplate=("%{x}<br>" + name + f": <b>%{{y{EXACT}}}% of ideal</b> (median)<br>min–max "
                               f"%{{customdata[0]{EXACT}}}–%{{customdata[1]{EXACT}}}%<br>median req/s "
                               f"%{{customdata[2]{EXACT}}}<br>"
                               "runs counted %{customdata[3]} of %{customdata[4]}<extra></extra>")))
        ceilings = [b for b in mine if b.ceiling_pct is not None]
        if ceilings:
            fig.add_trace(go.Scatter(
                name="ab's ceiling", legendgroup="ceiling", showlegend=once("ceiling"), offsetgroup=name,
                mode="markers", x=xcat(groups, [b.x for b in ceilings]),
                y=[b.ceiling_pct for b in ceilings],
                marker=dict(symbol="line-ew", size=16, line=dict(width=3, color=CEILING_COLOUR)),
                hovertemplate=f"%{{x}}<br>ab's ceiling at this n and c: %{{y{EXACT}}}% of ideal<extra></extra>"))
        failed = [b for b in mine if b.pct is None]
        if failed:
            fig.add_trace(go.Scatter(
                name="no figure (error, or no ideal)", legendgroup="error", showlegend=once("error"),
                offsetgroup=name, mode="markers",
                x=xcat(groups, [b.x for b in failed]), y=[0] * len(failed),
                marker=dict(symbol="x", size=11, color="#c62828"),
                hovertext=[f"{name}: " + "; ".join(str(r.error or (
                    "no % of ideal (no ideal at delay 0)" if not r.delay else "no % of ideal"))
                    for r in b.records) for b in failed],
                hovertemplate="%{x}<br>%{hovertext}<extra></extra>"))
        for b in mine:
            rec = b.records[0]
            rows.append([group_of(rec), groups[b.x][0].replace("\n", " "), name,
                         f"{len(b.counted)} of {len(b.records)}", figure(b.pct),
                         span(b.min_pct, b.max_pct), figure(b.rps), figure(b.ceiling_pct),
                         "; ".join(str(r.error) for r in b.records if r.error) or ""])
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
            x=xcat(groups, published_x), y=published_y, marker=dict(symbol="diamond", size=9, color="black"),
            hovertemplate=f"%{{x}}<br>the seed's published req/s as % of its own ideal: %{{y{EXACT}}}%"
                          "<extra></extra>"))
    fig.add_hline(y=100, line=dict(color=IDEAL_COLOUR, dash="dash", width=1),
                  annotation_text="ideal: c / delay" + (" (rate runs: the rate)" if any(render.by_rate(r) for r in records)
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
        if rec.mode is None or rec.c is None or rec.rate is not None:  # c: a constant-rate run's cap
            continue
        key = (rec.mode, rec.profile, render.client_name(rec), rec.delay, rec.route)
        found.setdefault(key, {}).setdefault(int(rec.c), []).append(rec)
    return {k: v for k, v in found.items() if len(v) >= 2}


def sweep_charts(records: list[Record], styles: Mapping[str, Style]) -> list[Chart]:
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
                counted = counted_runs(by_c[c])
                values = [float(v) for r in counted if (v := getattr(r, metric)) is not None]
                stats = spread(values)
                rows.append([group_of(first), name, c, f"{len(values)} of {len(by_c[c])}",
                             figure(stats["median"]), span(stats["min"], stats["max"]),
                             ", ".join(figure(v) for v in values) or DASH])
                if stats["median"] is None:
                    continue
                xs.append(c)
                ys.append(stats["median"])
                lows.append(stats["min"])
                highs.append(stats["max"])
                ks.append([stats["min"], stats["max"], len(values),
                           p99_bound_note(counted) if metric == "p99_ms" else ""])
            if not xs:
                continue
            group = group_of(first)
            style = styles.get(render.mode_label(first), Style())
            fig.add_trace(go.Scatter(
                name=name, x=xs, y=ys, mode="lines+markers", legendgroup=group,
                legendgrouptitle_text=group if group not in titled else None,
                line=dict(color=style.colour, dash=PROFILE_DASH.get(str(profile), "dot")),
                marker=dict(symbol=style.symbol, size=8),
                error_y=error_bars(ys, lows, highs, [k[2] for k in ks], color=None, thickness=1),
                customdata=ks,
                hovertemplate=(f"{escape(name)}<br>c=%{{x}}: <b>%{{y{EXACT}}} {unit}</b> (median)<br>min–max "
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
