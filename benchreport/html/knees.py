"""The knee of a constant-rate sweep: p99 from the schedule against the rate, the budget, each knee and the
machine's limit (benchreport.knee).
"""

from __future__ import annotations

from collections.abc import Mapping

from benchreport import knee, render
from benchreport.html.names import PROFILE_DASH, Style, group_of, p99_bound_mark, p99_bound_note
from benchreport.html.parts import Chart, EXACT, error_bars, escape, figure, table
from benchreport.html.resources import cpu_figure
from benchreport.model import Record, spread


KNEE_FAMILY = "The knee: p99 against the scheduled rate (constant-rate runs)"
BUDGET_COLOUR = "#c62828"


def knee_charts(records: list[Record], styles: Mapping[str, Style]) -> list[Chart]:
    """Per delay, p99 against the scheduled rate, a line per mode and profile (benchreport.knee): the budget
    as a horizontal line, the rates over it crossed, each knee a star. None without rate runs."""
    import plotly.graph_objects as go

    found = knee.knees(render.in_group_order(records))
    how = (f"Constant-rate runs (client rate): x is the rate scheduled, y the p99 timed from each request's "
           f"scheduled send (the median of the rate's repetitions, their min–max as the error bar). The dashed "
           f"line is the latency budget, {knee.budget_text(found)}; a rate is within it when its p99 is "
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
            style = styles.get(k.mode, Style())
            name = k.name + (f" {k.route}" if len({kk.route for kk in mine if kk.mode == k.mode}) > 1 else "")
            have = [s for s in k.steps if s.p99_ms is not None]
            for s in k.steps:
                rows.append([group, name, figure(s.rate), f"{len(s.counted)} of {len(s.records)}",
                             p99_bound_mark(s.counted) + figure(s.p99_ms),
                             figure(s.failed), s.unsent, cpu_figure(s.cpu_ms_per_req, s.cpu_ms_per_req_resolution),
                             s.over or "within the budget",
                             knee.knee_text(k) if s.rate == k.knee_rps else ""])
            if not have:
                continue
            spreads = [spread([float(r.p99_ms) for r in s.counted if r.p99_ms is not None]) for s in have]
            fig.add_trace(go.Scatter(
                name=name, x=[s.rate for s in have], y=[s.p99_ms for s in have], mode="lines+markers",
                legendgroup=group, legendgrouptitle_text=group if group not in titled else None,
                line=dict(color=style.colour, dash=PROFILE_DASH.get(str(k.profile), "dot")),
                marker=dict(size=[8 if s.over is None else 12 for s in have],
                            symbol=[style.symbol if s.over is None else "x" for s in have]),
                error_y=error_bars([s.p99_ms or 0.0 for s in have], [sp["min"] for sp in spreads],
                                   [sp["max"] for sp in spreads], [len(s.counted) for s in have], color=None,
                                   thickness=1),
                customdata=[[len(s.counted), s.failed, s.over or "within the budget", p99_bound_note(s.counted)]
                            for s in have],
                hovertemplate=(f"{escape(name)}<br>%{{x:g}} req/s scheduled: p99 <b>%{{y{EXACT}}} ms</b> (median of "
                               "%{customdata[0]})<br>failed %{customdata[1]}: %{customdata[2]}%{customdata[3]}"
                               "<extra></extra>")))
            at = k.at_knee
            if at is not None and at.p99_ms is not None:
                fig.add_trace(go.Scatter(
                    # no text label: several modes often share a knee's rate, their labels would overlap
                    name=f"knee of {name}", x=[at.rate], y=[at.p99_ms], mode="markers", showlegend=False,
                    legendgroup=group, cliponaxis=False,
                    marker=dict(symbol="star", size=18, color=style.colour, line=dict(width=1, color="black")),
                    hovertemplate=f"{escape(name)}: knee <b>{escape(knee.knee_text(k))}</b><br>{escape(k.why)}"
                                  "<extra></extra>"))
            titled.add(group)
            drawn.append(k.mode)
        title = "p99 against the scheduled rate" + (f", delay {delay:g} s" if delay is not None else "")
        key = f"knee-d{figure(delay)}"
        headers = ["group", "mode", "rate req/s", "runs counted", "median p99 ms", "failed (most of a run)",
                   "unsent", "median CPU ms/req", "verdict", "knee"]
        if not drawn:
            charts.append(Chart(key, title, said, table=table(headers, rows, right_from=2), family=KNEE_FAMILY,
                                absent="No rate run has a p99 to draw (every one had an error)."))
            continue
        for budget in sorted({k.budget_ms for k in mine if k.budget_ms is not None}):
            fig.add_hline(y=budget, line=dict(color=BUDGET_COLOUR, dash="dash", width=1),
                          annotation_text=f"budget: {knee.budget_text([k for k in mine if k.budget_ms == budget])}"
                                          + ("" if mine[0].budget_given_ms is not None else f" = {budget:g} ms"),
                          annotation_position="top left")
        top = max(s.rate for k in mine for s in k.steps)
        for k in mine:  # the machine's limit, where the x axis can show it without squashing the rates
            kl = knee.knee_limit(k)
            if kl is not None and kl.limit is not None and kl.limit.rps <= 2 * top:
                fig.add_vline(x=kl.limit.rps, line=dict(color=styles.get(k.mode, Style()).colour, dash="dot", width=1),
                              annotation_text=f"machine limit {k.name} ≈ {kl.limit.rps:g}", annotation_position="top")
        fig.update_layout(height=480, margin=dict(t=30), xaxis=dict(title="rate scheduled (req/s)", rangemode="tozero"),
                          # log: past the knee p99 grows tenfold, and the budget's region must stay readable
                          yaxis=dict(title="p99 ms (from the schedule, log scale)", type="log"), showlegend=True,
                          legend=dict(groupclick="toggleitem"))
        charts.append(Chart(key, title, said, figure=fig, table=table(headers, rows, right_from=2),
                            modes=list(dict.fromkeys(drawn)), family=KNEE_FAMILY))
    return charts
