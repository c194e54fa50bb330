"""Each run on the wall clock: the answers of each second and their p99, and the server's CPU between samples
(benchreport.rundata's per-second series).
"""

from __future__ import annotations

from collections.abc import Mapping

from benchreport import render
from benchreport.fmt import DASH
from benchreport.html.names import run_name
from benchreport.html.parts import Chart, EXACT, escape, figure, table
from benchreport.html.resources import core_share_pct, cpu_window_s, cpu_window_source
from benchreport.model import Record, counts_for_stats
from benchreport.rundata import RunData, run_timeline


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
                  "two consecutive samples of server.json (benchhost.sample reads the unit's processes about "
                  "every 0.25 s), drawn at the middle of their interval. Both share the wall clock: x is "
                  "seconds since the run's first request started (ab) or its client started (rate; wrk, which "
                  "keeps no per-request times: its runs show the CPU only); samples before 0 are the "
                  "sampler's baseline, taken before the load began.")
    ordered = render.in_group_order(records)
    runs = [(r, found) for r in ordered if counts_for_stats(r) and (found := run_timeline(raws[r.raw_dir]))]
    wrk_runs = [r for r in ordered if counts_for_stats(r) and render.histogram_only(r)]
    wrk = "/".join(render.clients(wrk_runs))  # the clients that keep only a histogram
    if not runs:
        chart.absent = ("No run has per-request times (ab.tsv, rate.tsv) or server samples (server.json's "
                        "samples): nothing to draw second by second"
                        + (f" ({wrk} keeps no per-request times, only a latency histogram)." if wrk_runs else "."))
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
                     figure(max((s.p99_ms for s in tl.seconds if s.p99_ms is not None), default=None)),
                     figure(taken), figure(cpu_ms), figure(over_s), figure(average, 1), figure(tl.peak_cpu_pct, 1),
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
            cpu = (f"server CPU {figure(cpu_ms)} ms over {figure(over_s)} s ({escape(cpu_window_source(rec))}), "
                   f"{figure(average, 1)}% of a core")
        elif cpu_ms is not None:
            cpu = f"server CPU {figure(cpu_ms)} ms ({escape(cpu_window_source(rec))}: its seconds not recorded)"
        else:
            cpu = "server CPU not measured (server.json missing or without its counters)"
        cpu += (f"; at most {figure(tl.peak_cpu_pct, 1)}% between two samples" if tl.cpu
                else "; no samples in server.json")
        title = f"{escape(name)}: " + (f"{tl.requests} requests; " if tl.seconds else "") + cpu
        visible = [j // per_run == i for j in range(per_run * len(runs))]
        buttons.append(dict(label=name, method="update", args=[{"visible": visible}, {"title.text": title}]))
        details.append(f"<details><summary>{escape(name)}: {len(tl.seconds)} s of answers, {len(tl.cpu)} CPU "
                       f"intervals (t0: {escape(tl.since)})</summary>"
                       + (table(["second", "requests ended", "p99 ms of those"],
                                [[s.t, s.completed, figure(s.p99_ms)] for s in tl.seconds]) if tl.seconds else "")
                       + (table(["from s", "to s", "server CPU % of a core"],
                                [[figure(c.t_from - tl.t0), figure(c.t_to - tl.t0), figure(c.pct, 1)] for c in tl.cpu])
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
        chart.how += (f" {len(wrk_runs)} {wrk} run(s): CPU only"
                      + (", and only those whose server.json has samples." if len(wrk_runs) > sum(
                          1 for r, _ in runs if render.histogram_only(r)) else "."))
    return chart
