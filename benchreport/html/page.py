"""report.html whole: the charts in order, what could not be drawn, the run's table and notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from benchhost import clients as registry
from benchreport import render, thresholds
from benchreport.html.knees import knee_charts
from benchreport.html.latency import latency_charts
from benchreport.html.names import mode_styles, run_name
from benchreport.html.parts import Chart, RIGHT, escape, head, section, write_text
from benchreport.html.resources import resources_chart
from benchreport.html.throughput import ideal_chart, sweep_charts
from benchreport.html.timeline import timeline_chart
from benchreport.model import Record, app_of, counts_for_stats
from benchreport.rundata import NO_HISTOGRAM, RunData
from benchreport.runfiles import SERVER, Timing


REPORT = "report.html"




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
                add("wrk.json without its latency histogram (latency_hist_us: wrk.lua leaves it out "
                    "when dumping it would take too long): wrk's own p50, p90, p99 and p99.9 of each "
                    "repetition drawn as points, no curve", text.removesuffix(f" {NO_HISTOGRAM}"))
            elif (client := registry.of_record(rec.client)) is not None and client.keeps_request_times:
                add("no per-request data: left out of the latency distributions and the timeline", text)
            else:
                add("no per-request data: left out of the latency distributions", text)
        if raw.folder and not raw.server_json:
            add("server.json missing: no server CPU or peak memory", f"{rec.raw_dir}/{SERVER}")
        elif raw.folder and raw.samples is None:
            add("server.json without per-second samples (written before benchhost.sample kept them): no "
                "server CPU in the timeline", f"{rec.raw_dir}/{SERVER}")
    wrk = [r for r in records if counts_for_stats(r) and render.histogram_only(r)]
    lines = [f"{kind}: {', '.join(names)}" for kind, names in kinds.items()]
    if wrk:
        names = "/".join(render.clients(wrk))
        lines.append(f"{names} keeps no per-request times (only a latency histogram): the timeline shows only the "
                     f"server's CPU of the {len(wrk)} {names} run{'s' if len(wrk) != 1 else ''}")
    return lines


def full_table(records: list[Record]) -> str:
    """The run's table (render.columns: report.md's), a row per record, a heading row per group."""
    cols = render.columns(records)
    head = "".join(f"<th{RIGHT if right else ''}>{escape(h)}</th>" for h, right, _ in cols)
    body = []
    for group, recs in render.by_group(records) if render.grouped(records) else [(None, records)]:
        if group is not None or render.grouped(records):
            what = render.GROUPS.get(group) if group is not None else "modes not in the mode table"
            body.append(f"<tr class=\"group\"><td colspan=\"{len(cols)}\">{escape(group or render.NO_GROUP)}"
                        + (f": {escape(what)}" if what else "") + "</td></tr>")
        for rec in recs:
            # the failed cell's hover names the non-2xx codes (the notes say it too)
            codes = render.non_2xx_text(rec)
            body.append("<tr>" + "".join(
                f"<td{RIGHT if right else ''}"
                + (f" title=\"non-2xx: {escape(codes)}\"" if codes and h == "failed" else "")
                + f">{escape(fn(rec))}</td>"
                for h, right, fn in cols) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def charts(records: list[Record], raws: Mapping[str, RunData]) -> tuple[list[Chart], list[str]]:
    """The page's charts, in order, and what is missing (missing_lines); raws: benchreport.rundata's, by raw_dir."""
    styles = mode_styles(records)
    ideal = [r for r in records if not r.app]  # a user's app has no delay, so no ideal to chart
    out = [*([ideal_chart(ideal)] if ideal else []), *sweep_charts(records, styles), *knee_charts(records, styles),
           *latency_charts(records, raws, styles),
           timeline_chart(records, raws), resources_chart(records)]
    return out, missing_lines(records, raws)


def app_html(records: list[Record]) -> str:
    """A user's app: what it is and the modes not run for it, and why (report.md's "Your app"); "" otherwise."""
    app = app_of(records)
    if app is None:
        return ""
    intro = render.app_section(records)[2]
    skipped = app.get("skipped") or {}
    rows = "".join(f"<tr><td>{escape(mode)}</td><td>{escape(str(why))}</td></tr>" for mode, why in skipped.items())
    table = (f"<h3 id=\"not-run\">Modes not run for {escape(str(app.get('name')))}</h3>"
             f"<table><tr><th>mode</th><th>why</th></tr>{rows}</table>") if skipped else ""
    return f"<h2 id=\"your-app\">Your app: {escape(str(app.get('name')))}</h2><p class=\"how\">{escape(intro)}</p>{table}"


def thresholds_html(checked: thresholds.Checked | None) -> str:
    """report.md's "Thresholds": each threshold on each point it selects, a failed row marked; "" without."""
    if checked is None:
        return ""
    intro = f"<h2 id=\"thresholds\">Thresholds</h2><p class=\"how\">{escape(checked.intro())}</p>"
    if checked.error is not None:
        return intro
    rows = "".join(f"<tr class=\"{escape(row[0])}\">" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in render.thresholds_rows(checked))
    return (f"{intro}<table class=\"thresholds\"><thead><tr><th>result</th><th>threshold</th><th>selects</th>"
            f"<th>point</th><th>measured</th></tr></thead><tbody>{rows}</tbody></table>")


def page(run_dir: Path, records: list[Record], raws: Mapping[str, RunData], run_id: str,
         timing: Timing | None = None, checked: thresholds.Checked | None = None) -> str:
    """report.html's text (checked: the thresholds judged, benchreport.thresholds.judge)."""
    found, missing = charts(records, raws)
    modes = list(dict.fromkeys(render.mode_label(r) for r in records))
    starts = sorted(r.started_at for r in records if r.started_at)
    ends = sorted(r.ended_at for r in records if r.ended_at)
    meta = [f"{len(records)} runs of {len(modes)} modes",
            "clients " + ", ".join(render.clients(records)),
            "profiles " + ", ".join(sorted({str(r.profile) for r in records if r.profile}))]
    if starts:
        meta.append(f"from {starts[0]}" + (f" to {ends[-1]}" if ends else ""))
    share = render.timing_line(timing)
    if share:
        meta.append(f"bench time: {share}")
    if missing:
        missing_html = ("<div class=\"missing\" id=\"missing\"><h2>What this page could not show</h2><ul>"
                        + "".join(f"<li>{escape(line)}</li>" for line in missing) + "</ul></div>")
    else:
        missing_html = ("<div class=\"missing none\" id=\"missing\"><p>Every raw file the charts read was "
                        "there.</p></div>")
    best = render.what_to_use_lines(records)
    best_html = ("<h2>What to use</h2><p class=\"how\">The best mode by req/s, p99 and CPU per request at each "
                 "concurrency, and its margin over the next mode (report.md's \"What to use\").</p><ul>"
                 + "".join(f"<li>{escape(line)}</li>" for line in best) + "</ul>") if best else ""
    notes = render.notes(records)
    notes_html = "<h2>Notes</h2><ul>" + ("".join(f"<li>{escape(n)}</li>" for n in notes) if notes else
                                         "<li>none: every run completed without failures.</li>") + "</ul>"
    heads: dict[str, str] = {}
    for c in found:
        heads.setdefault(c.family or c.title, c.key)  # a family's link goes to its first chart
    if checked is not None:
        heads = {"Thresholds": "thresholds", **heads}
    nav = " · ".join(f"<a href=\"#{escape(key)}\">{escape(text)}</a>" for text, key in heads.items())
    return "\n".join([
        *head(f"Bench run {run_id}"),
        f"<h1>Bench run {escape(run_id)}</h1>",
        f"<p class=\"meta\">{escape('; '.join(meta))}. Written by benchreport from summary.json and the raw files "
        f"in {escape(run_dir.resolve().name)}/.</p>",
        f"<p class=\"meta\">{nav} · <a href=\"#all-runs\">All runs</a></p>",
        missing_html, app_html(records), thresholds_html(checked), best_html,
        *(section(c, i == 0 or found[i - 1].family != c.family) for i, c in enumerate(found)),
        "<h2 id=\"all-runs\">All runs</h2><p class=\"how\">The table of report.md: one row per run, by group.</p>",
        full_table(records),
        f"<p class=\"how\">{escape(render.client_limited_footnote(records) or '')}</p>",
        f"<p class=\"how\">{escape(render.p99_bound_footnote(records) or '')}</p>", notes_html,
        "</body></html>", ""])


def write(run_dir: Path, records: list[Record], raws: Mapping[str, RunData], run_id: str | None = None,
          timing: Timing | None = None, path: Path | None = None,
          checked: thresholds.Checked | None = None) -> Path:
    """Write report.html into run_dir; its path. raws: benchreport.rundata.read_all's."""
    return write_text(path or run_dir / REPORT, page(run_dir, records, raws, run_id or run_dir.resolve().name,
                                                     timing, checked))
