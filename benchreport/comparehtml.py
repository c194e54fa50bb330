"""compare.html: `python -m benchreport compare RUN_A RUN_B --html [PATH]` as one self-contained page.

What the terminal's comparison says (benchreport.compare: its points, changes,
verdicts and noise bands; nothing is computed again here), drawn: one chart
per metric (req/s, p99 ms, CPU ms/request) with a pair of bars per compared
point, A's and B's figures (the figure compare compares: the repeats' median
when the point ran several times), A's bar carrying the metric's noise band
as an error bar (a B inside it is "within noise") and B's bar coloured by the
metric's verdict. Under them compare's table (compare.table_rows) and its
lists (compare.point_lists: why a point regressed or improved, the points not
comparable or in one run only). Hovering a bar gives the exact figures, the
change, the band and where it came from, and the test that gave the verdict
(compare's MetricChange.test: "band", "band+mann-whitney p=0.05", "needs
repeats", "bounds: ..."); each chart's table has it as a column, and marks a
p99 that is only a bound (≥ lower: failed requests not in it, ≤ upper, ≶
neither).

The page is built with benchreport.html.parts' pieces (plotly embedded once, its
sections and tables), so it opens without a network like report.html.
Without a PATH it goes to RUN_B's folder as compare-<A's id>.html (DEFAULT_NAME):
the newer run keeps its comparisons, one per baseline.
"""

from __future__ import annotations

from pathlib import Path

from benchreport import compare
from benchreport.html import parts
from benchreport.compare import FASTER, NOISE, NOT_MEASURED, SLOWER, Comparison, PointResult
from benchreport.fmt import BOUND_MARKS, DASH
from benchreport.model import METRICS, Metric

#: compare.html's name in RUN_B's folder when --html has no path: {a} is run A's id.
DEFAULT_NAME = "compare-{a}.html"
#: B's bar by the metric's verdict; A's bars in one neutral colour.
VERDICT_COLOURS = {FASTER: "#2e7d32", SLOWER: "#c62828", NOISE: "#90a4ae", NOT_MEASURED: "#e0e0e0",
                   compare.UNDECIDED: "#ffb300"}
A_COLOUR = "#5c6bc0"
#: What the charts' legend and hover call the runs.
A_NAME, B_NAME = "A (baseline)", "B"


def default_path(cmp: Comparison) -> Path:
    """Where --html without a path writes: RUN_B/compare-<A's id>.html."""
    return cmp.run_b / DEFAULT_NAME.format(a=cmp.run_a.name)


def point_names(points: list[PointResult]) -> list[str]:
    """mode/profile of each point, plus client, c, n, delay and route where they vary among `points`."""
    varying = [k for k in ("client", "c", "n", "delay", "route") if len({p.point.get(k) for p in points}) > 1]
    names = []
    for p in points:
        parts = [f"{p.point.get('mode')}/{p.point.get('profile')}"]
        for key in varying:
            value = p.point.get(key)
            parts.append(str(value) if key in ("client", "route") else
                         f"{key}={DASH if value is None else f'{value:g}'}")
        names.append(" ".join(parts))
    return names


def _marked(x: float | None, bound: str | None) -> str:
    """A figure with ≥, ≤ or ≶ before it when it is only a bound (BOUND_MARKS)."""
    text = parts.figure(x)
    return BOUND_MARKS[bound] + text if bound and x is not None else text


def _bound_words(m: compare.MetricChange) -> str:
    """The hover's line for a p99 that is only a bound on a side ("" when neither is)."""
    sides = [f"{side}'s p99 is {compare.BOUND_WORDS[b]}" for side, b in (("A", m.a_bound), ("B", m.b_bound)) if b]
    return "<br>" + "; ".join(sides) if sides else ""


def metric_chart(cmp: Comparison, metric: Metric) -> parts.Chart:
    """A's and B's figure of `metric` at each compared point: A with its noise band, B by its verdict."""
    import plotly.graph_objects as go

    better = "higher" if metric.higher_is_better else "lower"
    chart = parts.Chart(
        f"compare-{metric.key}", f"{metric.label}: A against B",
        f"Per point, A's figure (left bar) and B's (right bar); {better} is better. The error bar on A is the "
        "noise band (± its % of A's figure: the floor, or 2 × the larger cv of the two runs' repeats when "
        "larger): a B inside it is within noise. B's bar is green when faster, red when slower, grey within "
        "noise, amber undecided (a p99 that is only a bound). A figure is the repeats' median when the point "
        "ran more than once; the table's test column says what gave each verdict.")
    points = cmp.compared()
    changes = [next(m for m in p.metrics if m.metric == metric.key) for p in points]
    names = point_names(points)
    shown = [(name, p, m) for name, p, m in zip(names, points, changes) if m.a is not None or m.b is not None]
    rows = [[name, _marked(m.a, m.a_bound), _marked(m.b, m.b_bound), parts.figure(m.change_pct, 1),
             f"±{parts.figure(m.band_pct, 1)} ({m.band_from})", m.verdict, m.test or DASH,
             p.verdict or DASH]
            for name, p, m in zip(names, points, changes)]
    chart.table = parts.table(["point", f"A {metric.label}", f"B {metric.label}", "change %", "noise band %",
                                   "verdict", "test", "point's verdict"], rows)
    if not shown:
        chart.absent = f"No compared point has {metric.label} in either run."
        return chart
    xs = [name for name, _, _ in shown]
    hover = [[m.change_pct, m.band_pct, m.band_from, m.verdict, p.verdict, m.test or DASH,
              _bound_words(m)] for _, p, m in shown]
    tail = ("<br>change %{customdata[0]:+.1f}% (noise band ±%{customdata[1]:.1f}%, from %{customdata[2]}): "
            "<b>%{customdata[3]}</b> (test: %{customdata[5]})%{customdata[6]}<br>point: %{customdata[4]}"
            "<extra></extra>")
    fig = go.Figure()
    fig.add_trace(go.Bar(
        name=A_NAME, offsetgroup="A", x=xs, y=[m.a for _, _, m in shown], marker_color=A_COLOUR,
        customdata=hover,
        error_y=dict(type="data", symmetric=True, color="black", thickness=1.2,
                     array=[abs(m.a) * m.band_pct / 100.0 if m.a is not None else None for _, _, m in shown]),
        hovertemplate=f"%{{x}}<br>A: <b>%{{y{parts.EXACT}}} {metric.label}</b>" + tail))
    for verdict, colour in VERDICT_COLOURS.items():  # one trace per verdict: the legend names the colours
        mine = [i for i, (_, _, m) in enumerate(shown) if m.verdict == verdict]
        if mine:
            fig.add_trace(go.Bar(
                name=f"{B_NAME}: {verdict}", offsetgroup="B", x=[xs[i] for i in mine],
                y=[shown[i][2].b for i in mine], customdata=[hover[i] for i in mine], marker_color=colour,
                hovertemplate=f"%{{x}}<br>B: <b>%{{y{parts.EXACT}}} {metric.label}</b>" + tail))
    fig.update_layout(barmode="group", height=480, margin=dict(t=30, b=10, l=110), yaxis_title=metric.label,
                      legend=dict(orientation="h", y=1.1), xaxis=dict(tickangle=-25, automargin=True,
                                                                      categoryorder="array", categoryarray=xs))
    chart.figure = fig
    chart.modes = list(dict.fromkeys(str(p.point.get("mode")) for _, p, _ in shown))
    return chart


def page(cmp: Comparison) -> str:
    """compare.html's text."""
    e = parts.escape
    charts = [metric_chart(cmp, m) for m in METRICS]
    header, right, rows = compare.table_rows(cmp)
    lists = "".join(f"<h3>{e(heading)}</h3><ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"
                    for heading, items in compare.point_lists(cmp))
    verdict = ("at least one point regressed (compare exits 1)" if cmp.exit_code() == compare.EXIT_REGRESSED
               else "no point regressed (compare exits 0)")
    title = f"Compare {cmp.run_a.name} → {cmp.run_b.name}"
    return "\n".join([
        *parts.head(title),
        f"<h1>{e(title)}</h1>",
        f"<p class=\"meta\">A (baseline): {e(cmp.run_a.name)} ({e(cmp.run_a)})<br>B: {e(cmp.run_b.name)} "
        f"({e(cmp.run_b)})</p>",
        f"<p class=\"meta\">{e(compare.noise_line(cmp))}. {e(compare.rule_line(cmp).capitalize()[:1])}"
        f"{e(compare.rule_line(cmp)[1:])}. "
        f"A point is mode, profile, client, c, n, delay, route and a rate run's rate: all must match.</p>",
        f"<div class=\"missing{' none' if cmp.exit_code() == compare.EXIT_OK else ''}\" id=\"verdict\"><p>"
        f"{e(compare.summary_line(cmp))}: {e(verdict)}.</p></div>",
        *(parts.section(c) for c in charts),
        "<h2 id=\"points\">Every compared point</h2><p class=\"how\">compare's table: A→B figures, the change "
        "and its verdict per metric (± the noise band when it comes from the runs' cv), the failed requests and "
        "the point's verdict.</p>",
        parts.table(header, rows, right=right), lists,
        "</body></html>", ""])


def write(cmp: Comparison, path: Path | None = None) -> Path:
    """Write compare.html (default_path without `path`); its path."""
    return parts.write_text(path or default_path(cmp), page(cmp))

