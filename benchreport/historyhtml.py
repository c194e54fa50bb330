"""index.html: `python -m benchreport history`'s page, one self-contained file in the results folder.

What benchreport.history found (nothing is computed again here), in order:
what --check says, every run (a link to its report.html, when, commit and
dirty flag, fingerprint, state and why, modes and points, the steps it is
the first run after), the fingerprints and what each holds, the steps with
the commits between, then a trend chart per subject (a point: req/s, p99 and
CPU ms/request one under the other on one time axis; a knee: its knee). Each
fingerprint is a series of its own, in its own colour: runs on different
fingerprints are never joined by a line. A run's marker carries its noise
band, its repetitions' min–max, as an error bar; a step's first run is
marked with a triangle (red for the worse, green for the better).

Built with benchreport.html.parts like report.html and compare's page:
plotly.js embedded once, no network needed.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchreport import history
from benchreport.fmt import DASH, figure
from benchreport.history import Found, History, Series, Subject
from benchreport.html import parts
from benchreport.runlist import Run

#: One colour per fingerprint, in the order of their first run.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
WORSE_COLOUR, BETTER_COLOUR = "#c62828", "#2e7d32"


def _x(run: Run) -> str | None:
    return run.when.strftime("%Y-%m-%d %H:%M:%S") if run.when else None


def _link(run: Run, page_dir: Path) -> str:
    e = parts.escape
    if run.report is None:
        return e(run.run_id)
    return f"<a href=\"{e(Path(os.path.relpath(run.report, page_dir)).as_posix())}\">{e(run.run_id)}</a>"


def colours(hist: History) -> dict[str, str]:
    return {fp.digest: COLOURS[i % len(COLOURS)] for i, (fp, _) in enumerate(hist.fingerprints())}


def slug(subject: Subject, i: int) -> str:
    return f"trend-{i}-" + "".join(c if c.isalnum() else "-" for c in subject.label())[:60].strip("-")


def trend_chart(subject: Subject, found: list[Series], key: str, palette: dict[str, str]) -> parts.Chart:
    """A subject's metrics one under the other over time, a series (colour) per fingerprint."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metrics = subject.metrics
    chart = parts.Chart(
        key, subject.label(),
        "Each run's figure (the median of its repetitions) over time, one colour per fingerprint (runs on "
        "different fingerprints are never joined); the error bar is the run's noise band, its repetitions' "
        "min–max; a triangle marks the first run after a step (red: worse, green: better).",
        family="Trends")
    chart.modes = [str(subject.point[0])]
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[m.label for m in metrics])
    rows = []
    shown: set[str] = set()
    for row, metric in enumerate(metrics, start=1):
        for s in (x for x in found if x.metric.key == metric.key):
            digest, entries = s.fingerprint.digest, s.entries
            colour = palette.get(digest, COLOURS[0])
            fig.add_trace(go.Scatter(
                x=[_x(e.run) for e in entries], y=[e.level for e in entries], mode="lines+markers",
                name=f"fp {digest}", legendgroup=digest, showlegend=digest not in shown,
                line=dict(color=colour), marker=dict(color=colour, size=7),
                error_y=dict(type="data", symmetric=False, color=colour, thickness=1.2,
                             array=[e.high - e.level for e in entries],
                             arrayminus=[e.level - e.low for e in entries],
                             visible=any(e.repeats > 1 for e in entries)),
                customdata=[[e.run.run_id, e.run.short_commit + (" dirty" if e.run.dirty else ""), e.repeats,
                             figure(e.low, metric.digits), figure(e.high, metric.digits),
                             DASH if e.cv is None else f"{100 * e.cv:.2f}%"] for e in entries],
                hovertemplate=(f"%{{customdata[0]}} (commit %{{customdata[1]}}, fp {digest})<br>"
                               f"<b>%{{y{parts.EXACT}}} {metric.label}</b><br>%{{customdata[2]}} repetitions, "
                               "min–max %{customdata[3]}–%{customdata[4]}, cv %{customdata[5]}<extra></extra>")),
                row=row, col=1)
            shown.add(digest)
            for found_step in s.steps:
                e = entries[found_step.step.at]
                fig.add_trace(go.Scatter(
                    x=[_x(e.run)], y=[e.level], mode="markers", showlegend=False,
                    name=f"step ({'worse' if found_step.worse else 'better'})",
                    marker=dict(symbol="triangle-down" if found_step.worse else "triangle-up", size=15,
                                color=WORSE_COLOUR if found_step.worse else BETTER_COLOUR),
                    hovertemplate=f"step {found_step.step.change_pct:+.1f}% from {e.run.run_id}<extra></extra>"),
                    row=row, col=1)
            rows += [[f"fp {digest}", metric.label, e.run.run_id, history.when_text(e.run),
                      e.run.short_commit + (" dirty" if e.run.dirty else ""), figure(e.level, metric.digits),
                      f"{figure(e.low, metric.digits)}–{figure(e.high, metric.digits)}", e.repeats,
                      DASH if e.cv is None else f"{100 * e.cv:.2f}%"] for e in entries]
        fig.update_yaxes(title_text=metric.label, rangemode="tozero", row=row, col=1)  # a change at its true size
    fig.update_layout(height=260 * len(metrics) + 60, margin=dict(t=40, b=20, l=90),
                      legend=dict(orientation="h", y=1.08), hovermode="closest")
    chart.figure = fig
    chart.table = parts.table(["fingerprint", "metric", "run", "when", "commit", "figure", "min–max", "repetitions",
                               "cv"], rows, right_from=5)
    return chart


def runs_table(hist: History, page_dir: Path) -> str:
    e = parts.escape
    starts: dict[str, list[str]] = {}
    for s in hist.series:
        for f in s.steps:
            starts.setdefault(f.first.run_id, []).append(
                f"{'worse' if f.worse else 'better'}: {s.subject.label()} {s.metric.label} {f.step.change_pct:+.1f}%")
    head = ["run", "when", "commit", "fingerprint", "state", "modes", "points", "why / notes", "first run after a step"]
    body = []
    for run in hist.runs:
        notes = list(run.why) + ([f"no fingerprint: {run.env_why}"] if run.fingerprint is None and run.env_why else [])
        fp = (f"<a href=\"#fp-{e(run.fingerprint.digest)}\">{e(run.fingerprint.digest)}</a>" if run.fingerprint
              else DASH)
        cells = [_link(run, page_dir), e(history.when_text(run)),
                 e(run.short_commit + (" (dirty)" if run.dirty else "")), fp,
                 f"<span class=\"state-{e(run.status)}\">{e(run.status)}</span>", e(", ".join(run.modes) or DASH),
                 e(run.points if run.records else DASH), "<br>".join(e(n) for n in notes) or DASH,
                 "<br>".join(e(x) for x in starts.get(run.run_id, [])) or DASH]
        body.append(f"<tr class=\"run {e(run.status)}\" data-run=\"{e(run.run_id)}\" data-state=\"{e(run.status)}\">"
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<table id=\"runs\"><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def fingerprints_table(hist: History) -> str:
    e = parts.escape
    body = []
    for fp, runs in hist.fingerprints():
        body.append(f"<tr id=\"fp-{e(fp.digest)}\"><td>{e(fp.digest)}</td><td class=\"r\">{len(runs)}</td>"
                    f"<td>{e(runs[0].run_id)} – {e(runs[-1].run_id)}</td>"
                    f"<td>{'<br>'.join(e(line) for line in fp.describe())}</td></tr>")
    if not body:
        return "<p class=\"absent\">No run has a readable environment.json: no fingerprint, no trend.</p>"
    return ("<table id=\"fingerprints\"><thead><tr><th>fingerprint</th><th class=\"r\">runs</th><th>from – to</th>"
            f"<th>what it holds</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def _commits_cell(found: Found) -> str:
    e = parts.escape
    if found.commits:
        return (f"<details><summary>{e(found.commit_summary())}</summary>"
                f"<pre>{e(chr(10).join(found.commits))}</pre></details>")
    return e(found.commit_summary())


def steps_table(hist: History) -> str:
    e = parts.escape
    found = sorted(((s, f) for s in hist.series for f in s.steps),
                   key=lambda sf: (sf[1].first.when is None, sf[1].first.when, sf[0].subject.sort_key()))
    if not found:
        return "<p class=\"absent\">No step found in any series.</p>"
    head = ["first run after", "last run before", "point", "metric", "change", "before → after", "needed", "p",
            "fingerprint", "way", "commits between"]
    body = []
    for s, f in found:
        st, m = f.step, s.metric
        cells = [e(f.first.run_id), e(f.last.run_id), e(s.subject.label()), e(m.label), e(f"{st.change_pct:+.1f}%"),
                 e(f"{figure(st.before, m.digits)} → {figure(st.after, m.digits)}"), e(f"±{st.needed_pct:.1f}%"),
                 e(f"{st.p_value:.2g}"), e(s.fingerprint.digest), e("worse" if f.worse else "better"),
                 _commits_cell(f)]
        body.append(f"<tr class=\"step {'worse' if f.worse else 'better'}\">"
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<table id=\"steps\"><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def page(hist: History, page_dir: Path) -> str:
    """index.html's text."""
    e = parts.escape
    trends = hist.trends()
    palette = colours(hist)
    charts = [trend_chart(subject, found, slug(subject, i), palette) for i, (subject, found) in enumerate(trends)]
    counts = history.state_counts(hist.runs)
    check = history.check_lines(hist, with_commits=False)  # the steps' table lists them
    regressed = hist.exit_code() == history.EXIT_REGRESSED
    nav = " · ".join(f"<a href=\"#{e(c.key)}\">{e(c.title)}</a>" for c in charts)
    return "\n".join([
        *parts.head(f"Bench history: {hist.results.name}"),
        f"<h1>Bench history: {e(hist.results.name)}</h1>",
        f"<p class=\"meta\">{len(hist.runs)} runs ({e(counts or 'none')}) in {e(hist.results)}; "
        f"{len(hist.fingerprints())} fingerprints; {len(trends)} trends (a point or a knee measured in 2 or more "
        f"runs on one fingerprint). Written by python -m benchreport history from each run's summary.json and "
        f"environment.json.</p>",
        f"<div class=\"missing{'' if regressed else ' none'}\" id=\"check\"><p>--check "
        f"{'exits 1' if regressed else 'exits 0'}:</p><ul>" + "".join(f"<li>{e(line)}</li>" for line in check)
        + "</ul></div>",
        "<h2>Runs</h2><p class=\"how\">Every folder of the results, oldest first; a partial or broken run is "
        "listed with why. A run's id links to its report.html.</p>", runs_table(hist, page_dir),
        "<h2>Fingerprints</h2><p class=\"how\">What must match for two runs to share a trend line: per role each "
        "host's CPU, cores, memory, kernel, OS and Python, the app host's key packages, the load client's "
        "version.</p>", fingerprints_table(hist),
        "<h2 id=\"steps-found\">Steps</h2><p class=\"how\">Where a series' level changed beyond noise "
        f"(the change above max(the threshold {hist.threshold_pct:g}%, the noise band) and a one-sided "
        "Mann-Whitney p ≤ 0.05 between the runs before and after: docs/history.md), with the commits between the "
        "last run before and the first after.</p>", steps_table(hist),
        f"<h2 id=\"trends\">Trends</h2><p class=\"how\">{e(charts[0].how) if charts else ''}</p>",
        f"<p class=\"meta\">{nav}</p>" if charts else
        "<p class=\"absent\">No point was measured in two runs on one fingerprint yet.</p>",
        *(parts.section(c, first_of_family=False) for c in charts),
        "</body></html>", ""])


def write(hist: History, path: Path | None = None) -> Path:
    """Write index.html (into the results folder without `path`); its path."""
    path = path or hist.results / history.INDEX
    return parts.write_text(path, page(hist, path.parent))
