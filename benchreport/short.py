"""The bench's answer in a few lines: what `python -m benchreport RUN_DIR` prints first.

When a bench ends, the play shows benchreport's output (roles/bench/tasks/report.yml);
these lines come before the full table, so a person who opens no file still
sees the answer:

    In short (12 runs of 2 modes; points ran up to 3 times: medians):
      verdict   Serve it with uwsgi-gevent/tuned (...; tuned flags: workers=cores, ...): at c=1000 (wrk), ...
                granian/tuned falls behind at c=1000 (wrk): 289 req/s (29% of ideal), ...
      rests on  6 runs (a sweep past the client's ceiling): uwsgi-gevent-tuned-wrk-c1000-r1, ...
      best by req/s  c=200: uwsgi-gevent/tuned 95.7% of ideal, 191.44 req/s (granian/tuned within noise)
                     c=1000: uwsgi-gevent/tuned 83.0% of ideal, 830.19 req/s
      best by p99    c=200: uwsgi-gevent/tuned 1143 ms
                     c=1000: uwsgi-gevent/tuned 1715 ms (granian/tuned within noise)
      best by CPU    c=200: uwsgi-gevent/tuned 0.875 ms/request (granian/tuned within noise)
                     c=1000: uwsgi-gevent/tuned 0.799 ms/request (granian/tuned within noise)
      report.html    /abs/path/results/<run-id>/report.html

The verdict (benchreport.advice, one per route and delay; several without one share a
"no verdict" row) has a column of its own, so the rows after it keep theirs.
After them, when a rate sweep ran (client=rate), its knees best first
(benchreport.knee: the highest rate kept at p99 <= 1.5 x delay with no
failure), with the p99 and CPU per request at the knee:

      knee (p99 <= 1.5 x delay)  uwsgi-gevent/tuned 100 req/s (p99 1195 ms, CPU 0.835 ms/request)
                                 granian/tuned 50 req/s (p99 1016 ms, CPU 1.570 ms/request)

With thresholds (bench.yml -e thresholds=FILE), how many failed, then each failed one and
some passed ones, with the figure measured (benchreport.thresholds):

      thresholds     1 of 6 failed (thresholds.yml; medians over repetitions)
                     FAILED p99_ms < 1500 at uwsgi-gevent/tuned wrk c=1000: 1715 ms, the median of 3
                     passed p99_ms < 1500 at uwsgi-gevent/tuned wrk c=200: 1143 ms, the median of 3

The picks are report.md's "What to use" (benchreport.whattouse.settings: per
concurrency, delay and client, the best point among those without an error or
a failed request; a repeated point's median): one line per metric, one entry
per setting (a line each); the settings where no point qualified are named on
one line, and a setting whose points failed as expected (the gRPC no-init
hang) on a line of its own, not counted among the errors:
"c=10 (grpc-gevent-noinit/tuned: expected hang)". A pick within noise of the
next mode says so ("<next> within noise"), or within the CPU figures'
resolution ("<next> within resolution"), a client-limited one too. Runs with
an error are counted in the first line.
"""

from __future__ import annotations

from pathlib import Path

from benchreport import advice, fmt, knee, readiness, serverfigures, thresholds, whattouse
from benchreport.model import Record, finite, unexpected_error
INDENT = "  "
#: How each metric's line is named, and the unit after its figure.
LABELS = {"rps": "best by req/s", "p99_ms": "best by p99", "cpu_ms_per_req": "best by CPU"}
UNITS = {"rps": " req/s", "p99_ms": " ms", "cpu_ms_per_req": " ms/request"}
#: The knees the short version names (report.md's "Knee" has them all).
KNEES_SHOWN = 5
#: Why a setting's points were not usable, unless they failed as expected.
FAILED_TEXT = "errors or failed requests: see the notes"
#: The passed thresholds named here (every failed one is: report.md's "Thresholds" has them all).
PASSED_SHOWN = 8
#: The other modes the verdict names here, and the run folders (report.md's "Verdict" has them all).
OTHERS_SHOWN = 3
RUNS_SHOWN = 4


def head(records: list[Record]) -> str:
    """"In short (N runs of M modes; ...):" with the errors and the repetitions."""
    modes = {r.mode for r in records if r.mode is not None}
    errors = sum(1 for r in records if unexpected_error(r))
    rounds = max((r.repeats or 0 for r in records), default=0)
    notes = [f"{len(records)} run{'s' if len(records) != 1 else ''} of {len(modes)} mode{'s' if len(modes) != 1 else ''}"]
    if errors:
        notes.append(f"{errors} with an error, see the notes")
    if rounds >= 2:
        notes.append(f"points ran up to {rounds} times: medians")
    return f"In short ({'; '.join(notes)}):"


def figure(pick: whattouse.Pick) -> str:
    """The best point's figure: req/s as % of ideal with the req/s, p99 in ms, CPU in ms/request."""
    key = pick.metric.key
    text = fmt.figure(pick.best_value, pick.metric.digits)
    res = pick.best.resolution(key) if pick.best is not None else None
    if serverfigures.shows_resolution(pick.best_value, res):  # whole clock ticks over few requests
        text += f" ± {fmt.figure(res, pick.metric.digits)}"
    text += UNITS[key]
    if key == "rps" and pick.best is not None and pick.best_value is not None:
        ideal = finite(pick.best.rep.ideal_rps)
        if ideal:
            text = f"{100.0 * pick.best_value / ideal:.1f}% of ideal, {text}"
    return text


def entry(pick: whattouse.Pick) -> str:
    """mode/profile and its figure, and whether the next mode is within noise or it was client-limited."""
    if pick.best is None:
        return "not measured"
    notes = []
    if pick.noise in (whattouse.WITHIN, whattouse.WITHIN_RESOLUTION) and pick.next is not None:
        notes.append(f"{pick.next.name} within {'noise' if pick.noise == whattouse.WITHIN else 'resolution'}")
    if pick.best.client_limited:
        notes.append("client-limited")
    return f"{pick.best.name} {figure(pick)}" + (f" ({'; '.join(notes)})" if notes else "")


def best_rows(records: list[Record]) -> list[tuple[str, list[str]]]:
    """Per metric, its label and its best point at each setting (whattouse.settings)."""
    found = whattouse.settings(records)
    if not found:
        return []
    vary_delay, vary_client = whattouse.varies(found)
    rows = []
    for key, label in LABELS.items():
        entries = [f"{whattouse.setting_label(s, vary_delay, vary_client)}: "
                   + entry(next(p for p in s.picks if p.metric.key == key)) for s in found if s.candidates]
        if entries:
            rows.append((label, entries))
    # Every point there had an error or failed requests (the notes say which and why), or failed as
    # expected (the gRPC no-init hang): that one is named, it is no problem of the run.
    empty = [whattouse.setting_label(s, vary_delay, vary_client) for s in found if not s.candidates and not s.expected]
    entries = [", ".join(empty) + f" ({FAILED_TEXT})"] if empty else []
    for s in found:
        if not s.candidates and s.expected:
            others = f"; {FAILED_TEXT}" if len(s.expected) < len(s.left_out) else ""
            label = whattouse.setting_label(s, vary_delay, vary_client)
            entries.append(f"{label} ({whattouse.expected_text(s)}{others})")
    if entries:
        rows.append(("no usable point", entries))
    return rows


def aligned(rows: list[tuple[str, list[str]]]) -> list[str]:
    """Label, then each entry on its own line, the entries in one column after the longest label."""
    width = max((len(label) for label, _ in rows), default=0) + 2
    out = []
    for label, entries in rows:
        out += [INDENT + (label if i == 0 else "").ljust(width) + text for i, text in enumerate(entries)]
    return out


def knee_rows(records: list[Record]) -> list[tuple[str, list[str]]]:
    """The rate sweeps' knees, best first (benchreport.knee.ranked), at most KNEES_SHOWN of them."""
    found = knee.ranked(knee.knees(records))
    if not found:
        return []
    delays = len({k.delay for k in found}) > 1
    entries = []
    for k in found[:KNEES_SHOWN]:
        at = k.at_knee
        cpu = None if at is None or at.cpu_ms_per_req is None else f"{at.cpu_ms_per_req:.3f}" + (
            f" ± {at.cpu_ms_per_req_resolution:.3f}"
            if serverfigures.shows_resolution(at.cpu_ms_per_req, at.cpu_ms_per_req_resolution) else "")
        figures = f" (p99 {fmt.ms(at.p99_ms)} ms" + (
            f", CPU {cpu} ms/request)" if cpu is not None else ")") if at else ""
        where = f"delay {k.delay:g} s: " if delays and k.delay is not None else ""
        entries.append(f"{where}{k.name} {knee.knee_text(k)}{figures}" + ("" if at else f": {k.why}"))
    if len(found) > KNEES_SHOWN:
        entries.append(f"and {len(found) - KNEES_SHOWN} more (report.md's \"Knee\")")
    return [(f"knee (p99 <= {knee.budget_text(found, 'x')})", entries)]


def readiness_rows(records: list[Record]) -> list[tuple[str, list[str]]]:
    """Each gevent mode and route's verdict (benchreport.readiness), a blocking one's busiest call site;
    nothing when no run had the monitor (report.md says what to run)."""
    entries = []
    for v in readiness.verdicts(records) if any(r.monitor for r in records) else []:
        sites = readiness.site_lines(v)
        detail = sites[0] + (f" (and {len(sites) - 1} more sites)" if len(sites) > 1 else "") if sites else v.why
        entries.append(f"{v.mode} {v.route or '?'}: {v.verdict}" + ("" if v.verdict == readiness.SAFE else
                                                                    f": {detail}"))
    return [("gevent readiness", entries)] if entries else []


def thresholds_rows(checked: thresholds.Checked | None) -> list[tuple[str, list[str]]]:
    """"thresholds  2 of 12 failed (FILE; medians over repetitions)", then every failed one and the first
    PASSED_SHOWN passed ones, each with its figure."""
    if checked is None:
        return []
    entries = [f"{checked.head()} ({checked.file}; medians over repetitions)"]
    entries += [f"FAILED {r.line}" for r in checked.of(thresholds.FAILED)]
    passed = checked.of(thresholds.PASSED)
    entries += [f"passed {r.line}" for r in passed[:PASSED_SHOWN]]
    if len(passed) > PASSED_SHOWN:
        entries.append(f"and {len(passed) - PASSED_SHOWN} more passed (report.md's \"Thresholds\")")
    entries += [f"skipped {r.line}" for r in checked.of(thresholds.SKIPPED)]
    return [("thresholds", entries)]


def runs_text(v: advice.Verdict) -> str:
    """"6 runs (a sweep past the client's ceiling): a, b, ..." with at most RUNS_SHOWN folders named."""
    shown = ", ".join(v.runs[:RUNS_SHOWN]) + (f", … (report.md's \"Verdict\" names all {len(v.runs)})"
                                              if len(v.runs) > RUNS_SHOWN else "")
    what = f" ({v.evidence})" if v.evidence else ""
    return f"{len(v.runs)} run{'s' if len(v.runs) != 1 else ''}{what}: {shown}"


def verdict_rows(records: list[Record]) -> list[tuple[str, list[str]]]:
    """The verdict per workload (benchreport.advice): the recommendation, the other modes (at most
    OTHERS_SHOWN), what to run for one, the runs it rests on."""
    found = advice.verdicts(records)
    rows = []
    # Several workloads: the ones without a verdict on one row (report.md says why and what to run for each).
    silent = [v for v in found if v.pick is None] if len(found) > 1 else []
    for v in found:
        if v in silent:
            continue
        where = advice.title(v, len(found) > 1)
        others = v.others[:OTHERS_SHOWN] + ([f"and {len(v.others) - OTHERS_SHOWN} more (report.md's \"Verdict\")"]
                                            if len(v.others) > OTHERS_SHOWN else [])
        rows.append((f"verdict ({where})" if where else "verdict", v.lead + others))
        if v.to_run:
            rows.append(("to run", v.to_run))
        rows.append(("rests on", [runs_text(v)]))
    if silent:
        rows.append(("no verdict", ["; ".join(advice.title(v, True) for v in silent)
                                    + " (report.md's \"Verdict\": why, and what to run for one)"]))
    return rows


def lines(records: list[Record], page: Path | None, checked: thresholds.Checked | None = None) -> list[str]:
    """The short version: its head, the verdict, the best modes, the knees, gevent readiness, the thresholds
    (checked: benchreport.thresholds.judge's), report.html's absolute path."""
    where = str(page.resolve()) if page is not None else "not written (see the warning above)"
    # The verdict in a column of its own: the detail rows keep theirs whatever the verdict's labels.
    return [head(records), *aligned(verdict_rows(records)),
            *aligned([*best_rows(records), *knee_rows(records), *readiness_rows(records), *thresholds_rows(checked),
                      ("report.html", [where])])]
