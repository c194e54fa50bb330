"""Turn summary records into report.md, a plain-text table and chart.png.

The table and the notes say what the numbers are worth: a capped run, failed
requests counted in ab's req/s, slow connects, a run at other flags than the
seed's published figure. A reader should not need summary.json to spot those.
The non-2xx answers are named by status where the client counted them
(summary's status_counts, wrk and rate): "268 non-2xx: 504 × 268".
When ab and wrk both ran on a mode and profile, "clients compared" sets their
req/s side by side, so a figure that depends on the client is seen as such.
"Repeats" (repeat=K) gives each point's median, range and spread over its
repetitions, or says that every point ran once (no noise estimate).
"Environment" says what the figures were measured on (the records'
`environment`: commit, hosts, server versions), or that it was not recorded.
"Thresholds" (bench.yml -e thresholds=FILE) lists each threshold on each point it
selects, passed or failed, with the figure measured (benchreport.thresholds).

The table is ordered and sub-headed by the modes' group (the records' `group`:
gevent, peers, threads and processes; GROUPS), and "What to use"
(benchreport.whattouse) names the best mode at each concurrency by req/s, p99
and CPU per request with its margin over the next mode; the terminal gets one
line per concurrency of it (what_to_use_lines).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchhost import clients as registry
from benchreport import advice, knee, kneesearch, readiness, serverfigures, thresholds, whattouse
from benchreport.fmt import DASH, LOWER_BOUND_MARK, NO_BOUND_MARK, UPPER_BOUND_MARK, g, ms, num, p99_mark
from benchreport.model import NOISY_CV, Record, any_repeated, app_of, finite, noisy, point_key, points, stat
from benchreport.runfiles import Timing

#: An environment.json object (benchreport.environment: a host, the packages).
Facts = Mapping[str, Any]
CEILING_COLOUR = "#e65100"
#: ab and wrk "agree" when their req/s differ by at most this share of ab's.
AGREE_WITHIN = 0.10
#: After the req/s of a client-limited record (summary.client_limits), explained under the table.
CLIENT_LIMITED_MARK = "†"


def _rps(rec: Record) -> str:
    """ab's req/s; an errored run's figure is not a throughput (all refused: thousands/s)."""
    if rec.expected and rec.as_expected:
        return f"{rec.expected} (expected)"
    if rec.error:
        return "error"
    if rec.rps is None:
        return DASH
    text = f"{rec.rps:.2f}"
    text = text + " (capped)" if rec.capped else text
    return text + f" {CLIENT_LIMITED_MARK}" if rec.client_limited else text


def _p99(rec: Record) -> str:
    """p99 ms with its bound's mark (p99_mark)."""
    return p99_mark(rec) + ms(rec.p99_ms)


def non_2xx_text(rec: Record) -> str | None:
    """The non-2xx answers by status, "502 × 268, 503 × 4" (summary.json's status_counts); None without
    any, or when the client did not count codes (ab)."""
    counts = rec.status_counts or {}
    codes = [(code, k) for code, k in counts.items() if k and not 200 <= int(code) <= 299]
    return ", ".join(f"{code} × {k}" for code, k in codes) or None


def _failed(rec: Record) -> str:
    if rec.failed is None:
        return DASH
    return str(rec.failed)


def cpu_text(value: Any, resolution: Any, digits: int) -> str:
    """CPU ms per request, "± resolution" after it where that is not negligible (serverfigures)."""
    text = num(value, digits)
    res = resolution if isinstance(resolution, (int, float)) else None
    if value is not None and serverfigures.shows_resolution(float(value), res):
        text += f" ± {res:.{digits}f}"
    return text


#: (header, right-aligned, cell function) for both tables.
COLUMNS: list[tuple[str, bool, Callable[[Record], str]]] = [
    ("mode", False, lambda r: mode_label(r)),
    ("profile", False, lambda r: str(r.profile or DASH)),
    ("c", True, lambda r: num(r.c, 0)),
    ("n", True, lambda r: num(r.n, 0)),
    ("delay s", True, lambda r: DASH if r.delay is None else f"{r.delay:g}"),
    ("req/s", True, _rps),
    ("% of ideal", True, lambda r: DASH if r.error else num(r.pct_of_ideal, 1)),
    ("% of ceiling", True, lambda r: DASH if r.error else num(r.pct_of_ceiling, 1)),
    ("failed", True, _failed),
    ("p50 ms", True, lambda r: ms(r.p50_ms)),
    ("p99 ms", True, _p99),
    ("max ms", True, lambda r: ms(r.max_ms)),
    ("CPU ms/req", True, lambda r: cpu_text(r.cpu_ms_per_req, r.cpu_ms_per_req_resolution, 2)),
    ("peak RSS MiB", True, lambda r: num(r.peak_rss_mib, 1)),
    ("ab CPU %", True, lambda r: num(r.loadgen_cpu_pct, 1)),  # "client CPU %" with wrk
    ("host CPU %", True, lambda r: num(r.host_cpu_pct, 1)),
    ("seed's req/s", True, lambda r: num(r.seed_rps, 2)),
]


#: Shown when a run had gevent's monitor thread on (bench.yml -e monitor=true).
def _hub_blocks(r: Record) -> str:
    reports = readiness.serving_reports(r)
    return DASH if reports is None else str(reports)


MONITOR_COLUMN: tuple[str, bool, Callable[[Record], str]] = ("hub blocks", True, _hub_blocks)


#: Shown when a run used more than one client (bench.yml -e client=both).
CLIENT_COLUMN: tuple[str, bool, Callable[[Record], str]] = (
    "client", False, lambda r: client_name(r))


#: Shown when a point ran more than once (bench.yml -e repeat=K): which repetition the row is.
REPETITION_COLUMN: tuple[str, bool, Callable[[Record], str]] = (
    "rep", True, lambda r: str(r.repetition or 1))


#: Shown when a constant-rate run is in the table (client=rate): the req/s it scheduled.
RATE_COLUMN: tuple[str, bool, Callable[[Record], str]] = (
    "rate /s", True, lambda r: DASH if r.rate is None else f"{r.rate:g}")


#: Shown when a run was split over several load hosts (the plan runner): how many.
LOADGENS_COLUMN: tuple[str, bool, Callable[[Record], str]] = (
    "load hosts", True, lambda r: str(r.loadgens or 1))


#: The groups of modes in the report's order, with what each one is (benchapp.modes.GROUPS names
#: them; a test keeps the two equal). Records of another or no group come after them.
GROUPS = {
    "gevent": "the entry monkey-patches with gevent",
    "peers": "what a Flask user runs instead of gevent",
    "threads and processes": "no gevent: worker processes and threads, with or without nginx in front",
}
#: The heading of the records without a group (a mode not in the table, a folder without run.json).
NO_GROUP = "other"


def by_group(records: list[Record]) -> list[tuple[str | None, list[Record]]]:
    """The records split by `group`, GROUPS' order first, then other groups as they come, None last;
    each group's records in their own order."""
    found: dict[str | None, list[Record]] = {}
    for rec in records:
        found.setdefault(rec.group, []).append(rec)
    order = {name: i for i, name in enumerate(GROUPS)}
    seen = list(found)
    return sorted(found.items(), key=lambda kv: (kv[0] is None, order.get(kv[0], len(order)), seen.index(kv[0])))


def grouped(records: list[Record]) -> bool:
    """Whether the records carry groups at all (summaries built without the mode table do not)."""
    return any(r.group for r in records)


def in_group_order(records: list[Record]) -> list[Record]:
    """The records as the tables show them: by group (by_group), else in their own order."""
    return [rec for _, recs in by_group(records) for rec in recs]


def several_loadgens(records: list[Record]) -> bool:
    return any((r.loadgens or 1) > 1 for r in records)


def client_limited_footnote(records: list[Record]) -> str | None:
    """The line under the table that explains its † (None when no record is client-limited)."""
    if not any(r.client_limited for r in records):
        return None
    rate = (", or bench-rate did not keep its schedule (lag p99 over 10 ms: over 1% of its sends late)"
            if any(r.client_limited and by_rate(r) for r in records) else "")
    return (f"{CLIENT_LIMITED_MARK} client-limited: a load host's CPU was at least 90% busy, the client "
            f"used at least 90% of its cores, or ab ran at 95% or more of its own ceiling{rate}; the figure "
            "measures the client as much as the server (why: in the notes).")


def p99_bound_footnote(records: list[Record]) -> str | None:
    """The line under the table that explains its p99 marks ≥ and ≶ (None when no p99 is a lower bound)."""
    marks = {p99_mark(r) for r in records}
    if not marks & {LOWER_BOUND_MARK, NO_BOUND_MARK}:
        return None
    both = (f"; {NO_BOUND_MARK} a p99 that is both that and the highest of its load hosts' p99 (an upper bound): "
            "no bound either way" if NO_BOUND_MARK in marks else "")
    return (f"{LOWER_BOUND_MARK} p99 is a lower bound: the run's failed requests (errors, timeouts) are not in "
            "its percentiles, so the p99 of all the requests sent is at least that" + both + ".")


def clients(records: list[Record]) -> list[str]:
    """The clients of these records, ab first."""
    found = {client_name(r) for r in records}
    return sorted(found, key=registry.label_order)


def client_name(rec: Record) -> str:
    """The record's client's name (a record without one is ab's: runs from before there were others)."""
    return str(rec.client) if rec.client is not None else registry.BUILTIN[0]


def histogram_only(rec: Record) -> bool:
    """Whether the record's client keeps only a latency histogram, no request's own time (wrk)."""
    client = registry.of_record(rec.client)
    return client is not None and client.histogram_only


def by_rate(rec: Record) -> bool:
    """Whether the record's client is scheduled at a rate (an open model)."""
    client = registry.of_record(rec.client)
    return client is not None and client.by_rate


def columns(records: list[Record]) -> list[tuple[str, bool, Callable[[Record], str]]]:
    """The table's columns for these records."""
    cols = list(COLUMNS)
    if len(clients(records)) > 1:
        cols.insert(2, CLIENT_COLUMN)
    if any(registry.label_order(name)[0] for name in clients(records)):  # not ab's alone
        cols = [("client CPU %", right, fn) if head == "ab CPU %" else (head, right, fn)
                for head, right, fn in cols]
    if any_repeated(records):
        cols.insert(cols.index(next(c for c in cols if c[0] == "profile")) + 1, REPETITION_COLUMN)
    if several_loadgens(records):
        cols.insert(cols.index(next(c for c in cols if c[0] == "delay s")) + 1, LOADGENS_COLUMN)
    if any(by_rate(r) for r in records):
        cols.insert(cols.index(next(c for c in cols if c[0] == "delay s")) + 1, RATE_COLUMN)
    if records and all(r.app for r in records):  # a user's app: a row per route, no delay, so no ideal
        cols = [ROUTE_COLUMN if c[0] == "delay s" else c for c in cols if c[0] not in APP_WITHOUT]
    return cols + ([MONITOR_COLUMN] if any(r.monitor for r in records) else [])


#: A user's app's rows are its routes (or their mix); it has no delay, so none of the figures that need one.
ROUTE_COLUMN = ("route", False, lambda r: str(r.route or DASH))
APP_WITHOUT = ("% of ideal", "% of ceiling", "seed's req/s")


def app_section(records: list[Record]) -> list[str]:
    """report.md's section on a user's app (bench.yml -e app=DIR): what it is, and the modes not run for it
    and why (flaskbench.userapp.modes_for); empty for the built-in app."""
    app = app_of(records)
    if app is None:
        return []
    routes = ", ".join(f"{r.get('name')} ({r.get('method')} {r.get('path')} → {r.get('expect')})"
                       for r in app.get("routes") or [])
    lines = [f"## Your app: {app.get('name')}", "",
             f"{app.get('name')} (its flaskbench-app.yml and requirements: spec {app.get('spec_sha')}), budget "
             f"{finite(app.get('budget_ms')) or 0:g} ms; routes {routes}. Each route is a row of its own (route), their "
             "weighted mix the route mix; an answer other than its route's status is failed. It calls no slow API "
             "of ours: no delay, so no % of ideal, and the knee's budget is its budget_ms.", ""]
    skipped = app.get("skipped") or {}
    if skipped:
        lines += [f"### Modes not run for {app.get('name')}", "", "| mode | why |", "|:---|:---|",
                  *(f"| {mode} | {str(why).replace('|', '/')} |" for mode, why in skipped.items()), ""]
    return lines


def rows(records: list[Record]) -> list[list[str]]:
    """The table's cells, one list per record."""
    return [[fn(rec) for _, _, fn in columns(records)] for rec in records]


def markdown_table(records: list[Record], all_records: list[Record] | None = None) -> str:
    """A GitHub-flavoured markdown table, one row per record; its columns those of all_records
    (default: these records), so that the groups' tables line up."""
    cols = columns(records if all_records is None else all_records)
    head = "| " + " | ".join(h for h, _, _ in cols) + " |"
    align = "|" + "|".join("---:" if right else ":---" for _, right, _ in cols) + "|"
    body = ["| " + " | ".join(cell.replace("|", "\\|") for cell in (fn(rec) for _, _, fn in cols)) + " |"
            for rec in records]
    return "\n".join([head, align, *body])


def grouped_tables(records: list[Record]) -> list[str]:
    """report.md's results: one table per group under a "### group: what it is" heading (by_group),
    or the one table when the records carry no group."""
    if not grouped(records):
        return [markdown_table(records), ""]
    lines = []
    for group, recs in by_group(records):
        what = GROUPS.get(group) if group is not None else "modes not in the mode table"
        lines += [f"### {group or NO_GROUP}" + (f": {what}" if what else ""), "",
                  markdown_table(recs, records), ""]
    return lines


def text_table(records: list[Record]) -> str:
    """The same table as fixed-width text, for the end of the play: rows in group order, a
    "[group]" line before each group's when the records carry more than one."""
    cols = columns(records)
    parts = by_group(records) if grouped(records) else [(None, records)]
    labelled = len(parts) > 1
    table = [[h for h, _, _ in cols]]
    heads = {}
    for group, recs in parts:
        if labelled:
            heads[len(table)] = f"[{group or NO_GROUP}]"
        table += [[fn(rec) for _, _, fn in cols] for rec in recs]
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    out = []
    for k, row in enumerate(table):
        if k in heads:
            out.append(heads[k])
        cells = [
            cell.rjust(widths[i]) if cols[i][1] else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def what_to_use_lines(records: list[Record]) -> list[str]:
    """The terminal's short "what to use": one line per concurrency (and delay and client where
    they vary) with the best mode by req/s, p99 and CPU per request (benchreport.whattouse)."""
    return whattouse.text_lines(records)


def mode_label(rec: Record) -> str:
    """The record's mode, or for a run folder without run.json its folder name."""
    return str(rec.mode) if rec.mode is not None else f"{rec.raw_dir}/ (no run.json)"


def run_label(rec: Record) -> str:
    """mode/profile, and /client for a client other than ab (ab's names stay as they were), a rate run's
    rate."""
    if rec.mode is None:
        return mode_label(rec)
    client = client_name(rec)
    rep = (f" (repetition {rec.repetition or 1})"
           if max(rec.repeats or 0, rec.repeats_planned or 0) >= 2 else "")
    rate = f" at {rec.rate:g} req/s" if rec.rate is not None else ""
    return f"{rec.mode}/{rec.profile or '?'}" + ("" if not registry.label_order(client)[0] else f"/{client}") + rate + rep


def failed_text(rec: Record) -> str:
    """A run's failed requests by kind (its client's failed_note: the kinds, and what it counts in its req/s)."""
    client = registry.of_record(rec.client)
    d = rec.failed_detail or {}
    kinds, counts = client.failed_note if client is not None and client.failed_note else (tuple(d), "")
    if "unexpected" in d:  # a user's app: answers other than the route's expect, not non-2xx, failed
        kinds = tuple(dict.fromkeys("unexpected" if k == "non_2xx" else k for k in kinds))
        counts = counts.replace("non-2xx", "unexpected")
    each = ", ".join(f"{k.replace('_', '-')} {d.get(k, 0)}" for k in kinds)
    return f"{rec.failed} failed ({each})" + (f"; {counts}" if counts else "")


def busy_text(rec: Record) -> str:
    """A client that used 90% or more of its cores: what it means (its client's busy_means)."""
    client = registry.of_record(rec.client)
    label = client.label if client is not None else client_name(rec)
    cores = (f"its {rec.client_threads} threads' cores" if client is None or client.cores_key is not None
             else "a core")
    means = client.busy_means if client is not None else registry.Client.busy_means
    return f"{label} used {rec.loadgen_cpu_pct}% of {cores}: {means}"


def notes(records: list[Record]) -> list[str]:
    """What a reader must know before trusting a row, one line per fact."""
    out: list[str] = []
    seed_noted: set[str] = set()
    for rec in records:
        name = run_label(rec)
        if rec.expected:
            verdict = ("as the mode table expects" if rec.as_expected
                       else "UNEXPECTEDLY it fully succeeded")
            out.append(f"{name}: expected to {rec.expected} ({rec.expected_why or 'see modes.yml'}); "
                       f"{verdict}")
        if rec.error:
            label = "expected failure" if rec.expected and rec.as_expected else "ERROR"
            out.append(f"{name}: {label}: {rec.error}")
        if rec.capped:
            limit = rec.time_limit_s
            limit_text = f"the {limit:g} s time limit" if limit is not None else "its time limit"
            out.append(
                f"{name}: capped by {limit_text}: {rec.complete} of {rec.n} requests "
                f"completed in {rec.time_taken_s} s"
            )
        if rec.failed:
            out.append(f"{name}: {failed_text(rec)}")
        codes = non_2xx_text(rec)
        if codes and (rec.failed_detail or {}).get("non_2xx"):
            out.append(f"{name}: {rec.failed_detail['non_2xx']} non-2xx: {codes}")
        if rec.percentiles_from == "wrk-corrected":
            interval = (rec.client_detail or {}).get("correction_interval_ms")
            out.append(
                f"{name}: p50/p99 include wrk's coordinated-omission correction (synthetic samples for "
                f"responses slower than 2 × {interval} ms); max is measured"
            )
        if rec.parts:
            each = ", ".join(
                f"{p['host']} {DASH if p.get('rps') is None else format(p['rps'], '.2f')} req/s "
                f"in {DASH if p.get('time_taken_s') is None else format(p['time_taken_s'], '.2f')} s"
                + (f" (host CPU {p['host_cpu_pct']:g}%)" if p.get("host_cpu_pct") is not None else "")
                for p in rec.parts)
            out.append(f"{name}: {len(rec.parts)} of {rec.loadgens} load hosts ({each}); req/s is their "
                       "complete requests over the slowest one's time, percentiles over all their requests")
        if rec.p99_upper_bound and rec.p99_lower_bound:
            out.append(f"{name}: p99 is no bound either way ({NO_BOUND_MARK}): the highest of its load hosts' p99 "
                       f"(their per-request data could not be merged), and {rec.failed} failed requests "
                       "are not in it")
        elif rec.p99_upper_bound:
            out.append(f"{name}: p99 is an upper bound ({UPPER_BOUND_MARK}): the highest of its load hosts' p99, "
                       "their per-request data could not be merged")
        elif rec.p99_lower_bound and rec.p99_ms is not None:
            out.append(f"{name}: p99 is a lower bound ({LOWER_BOUND_MARK}): {rec.failed} failed requests "
                       "(errors, timeouts) are not in it, so the p99 of all the requests sent is at least that")
        if rec.client_limited:
            out.append(f"{name}: client-limited ({CLIENT_LIMITED_MARK}): {rec.client_limited_why}")
        if rec.connect_max_ms is not None and rec.connect_max_ms >= 1000:
            out.append(
                f"{name}: slowest TCP connect took {rec.connect_max_ms} ms "
                "(a dropped SYN is retried after 1 s, 3 s...: the listen queue was likely full)"
            )
        if rec.loadgen_cpu_pct is not None and rec.loadgen_cpu_pct >= 90:
            out.append(f"{name}: {busy_text(rec)}")
        if (rec.seed_rps is not None and rec.at_seed_params is False and rec.mode not in seed_noted
                and not by_rate(rec)):  # the seed's figure is closed-loop: no rate compares with it
            seed_noted.add(rec.mode)
            p = rec.seed_params or {}
            out.append(
                f"{rec.mode}: ran at n={rec.n} c={rec.c} delay={rec.delay}; the seed's "
                f"{rec.seed_rps} req/s was measured at n={p.get('n')} c={p.get('c')} delay={p.get('delay')}"
            )
        for warning in rec.warnings or []:
            out.append(f"{name}: {warning}")
    return out


def ceiling_note(records: list[Record]) -> str | None:
    """One paragraph on ab's own ceiling, with the bound for each n, c, delay in the run.

    Runs with an error are left out (their table row shows no throughput).
    None when no run has a ceiling (all capped, delay 0, errors, no figures).
    """
    groups: dict[tuple, list[Record]] = {}
    for rec in records:
        if rec.ab_ceiling_pct is not None and not rec.error:
            split = (rec.loadgens or 1) > 1 and bool(rec.parts)
            shares = tuple((p.get("n"), p.get("c")) for p in rec.parts) if split else ()
            groups.setdefault((rec.n, rec.c, rec.delay, shares), []).append(rec)
    if not groups:
        return None
    parts = []
    for (n, c, delay, shares), recs in groups.items():
        who = "" if len(groups) == 1 else " (" + ", ".join(run_label(r) for r in recs) + ")"
        bound = f"so at most {recs[0].ab_ceiling_rps:.2f} req/s = {recs[0].ab_ceiling_pct:.1f}% of ideal{who}"
        if shares:  # one ab per load host, started together: the slowest one's bound is the run's
            slowest = max(delay * (1 + math.ceil((pn - 1) / pc)) for pn, pc in shares)
            parts.append(f"at n={n} c={c} delay={g(delay)} s split over {len(shares)} load hosts (n/c "
                         + ", ".join(f"{pn}/{pc}" for pn, pc in shares)
                         + f"): the slowest share needs at least {g(round(slowest, 6))} s, {bound}")
            continue
        rounds = 1 + math.ceil((n - 1) / c)
        parts.append(
            f"at n={n} c={c} delay={g(delay)} s: at least {g(delay)} × (1 + ⌈{n - 1}/{c}⌉) = "
            f"{g(delay * rounds)} s, {bound}"
        )
    text = (
        "ab's ceiling: ab sends one request alone and opens its other c connections only when that "
        "one has answered, so against a server that answers after exactly delay seconds it needs at "
        "least delay × (1 + ⌈(n − 1)/c⌉) seconds for n requests; "
        + "; ".join(parts)
        + ". No mode can score more than that % of ideal through ab; % of ceiling is 100 × req/s over "
        "that bound (100 = the server added nothing ab could see). summary.json's steady_rps is the "
        "rate after that first request."
    )
    without = [
        f"{run_label(r)} ({'capped: ab stopped at its time limit' if r.capped else 'delay 0'})"
        for r in records
        if r.ab_ceiling_pct is None and not r.error and (r.capped or r.delay == 0)
    ]
    if without:
        text += " No ceiling for " + ", ".join(without) + "."
    return text


def _usable(rec: Record | None) -> bool:
    return bool(rec) and not rec.error and rec.rps is not None


def _why(ab: Record, wrk: Record) -> list[str]:
    """What in the two runs' own figures can explain a gap (hints, not proof)."""
    why = []
    ceiling = ab.ab_ceiling_rps
    if ceiling and (ab.pct_of_ceiling or 0) >= 95 and wrk.rps > ceiling:
        why.append(f"ab at {ab.pct_of_ceiling:g}% of its ceiling, wrk above it")
    for rec in (ab, wrk):
        if rec.loadgen_cpu_pct is not None and rec.loadgen_cpu_pct >= 90:
            why.append(f"{rec.client} CPU {rec.loadgen_cpu_pct:g}%")
        if rec.capped:
            why.append(f"{rec.client} capped")
        if rec.failed:
            why.append(f"{rec.client} {rec.failed} failed")
    return why


@dataclass
class ClientPair:
    """One point and repetition that ab and wrk both ran: their req/s side by side."""

    mode: str
    profile: str | None
    repetition: int
    ab: Record
    wrk: Record
    #: wrk's req/s over ab's; None when either has none (an error, nothing measured)
    ratio: float | None
    #: within AGREE_WITHIN of each other; None without a ratio
    agree: bool | None
    #: what in the two runs' figures can explain a gap (when they do not agree)
    why: list[str]


def compared(records: list[Record]) -> list[ClientPair]:
    """One pair per point (mode, profile, c, n, delay, route) and repetition that ab and wrk both ran,
    in the records' order: repetition k of ab's point beside repetition k of wrk's."""
    pairs: dict[tuple, dict[str, Record]] = {}
    for rec in records:
        key = point_key(rec)
        if key is None:
            continue
        mode, profile, client, c, n, delay, route, _rate = key
        pairs.setdefault((mode, profile, c, n, delay, route, rec.repetition or 1), {})[client] = rec
    rows = []
    for (mode, profile, *_, repetition), by in pairs.items():
        first, second = registry.both()  # client=both's two, side by side
        if first not in by or second not in by:
            continue
        ab, wrk = by[first], by[second]
        ratio = wrk.rps / ab.rps if _usable(ab) and _usable(wrk) and ab.rps > 0 else None
        agree = None if ratio is None else abs(ratio - 1) <= AGREE_WITHIN
        rows.append(ClientPair(mode, profile, repetition, ab, wrk, ratio, agree,
                               _why(ab, wrk) if agree is False else []))
    return rows


def compare_table(records: list[Record]) -> str | None:
    """The "clients compared" markdown table; None when no mode ran under both clients."""
    rows = compared(records)
    if not rows:
        return None
    rep = any_repeated(records)
    lines = [
        "| mode | profile |" + (" rep |" if rep else "")
        + " c | n | delay s | ab req/s | wrk req/s | wrk / ab | ab's ceiling req/s | verdict |",
        "|:---|:---|" + ("---:|" if rep else "") + "---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for row in rows:
        ab, wrk = row.ab, row.wrk
        if row.agree is None:
            verdict = "no comparison: " + ", ".join(
                f"{r.client} {'error' if r.error else 'not measured'}" for r in (ab, wrk) if not _usable(r))
        elif row.agree:
            verdict = "agree (within 10%)"
        else:
            verdict = f"**differ by {abs(row.ratio - 1) * 100:.0f}%**" + (
                ": " + "; ".join(row.why) if row.why else "")
        cells = [
            str(row.mode), str(row.profile or DASH), *([str(row.repetition)] if rep else []),
            num(ab.c, 0), num(ab.n, 0),
            DASH if ab.delay is None else f"{ab.delay:g}", _rps(ab), _rps(wrk),
            DASH if row.ratio is None else f"{row.ratio:.2f}",
            num(ab.ab_ceiling_rps, 2), verdict,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


REPEATS_TEXT = "Differences smaller than a point's spread are within noise: do not rank modes on them."
SINGLE_RUN_LINE = "Each point ran once: no noise estimate (repeat=K gives one)."


def repeats_table(records: list[Record]) -> str:
    """The "Repeats" markdown table: one row per point, over its counted repetitions."""
    rate = any(by_rate(r) for r in records)
    lines = ["| mode | profile | client | c |" + (" rate /s |" if rate else "") + " K | median req/s | min–max "
             "req/s | CV % | median p99 ms | median CPU ms/req | noise |",
             "|:---|:---|:---|---:|" + ("---:|" if rate else "") + "---:|---:|---:|---:|---:|---:|:---|"]
    for recs in points(records):
        rec = recs[0]
        k = rec.repeats or 0
        planned = max([len(recs), *(r.repeats_planned or 0 for r in recs)])
        low, high = stat(rec, "rps", "min"), stat(rec, "rps", "max")
        cv = stat(rec, "rps", "cv")
        cells = [mode_label(rec), str(rec.profile or DASH), client_name(rec),
                 num(rec.c, 0), *([RATE_COLUMN[2](rec)] if rate else []),
                 str(k) if k == planned else f"{k} of {planned}",
                 num(stat(rec, "rps", "median"), 2),
                 DASH if low is None or high is None else f"{low:.2f}–{high:.2f}",
                 DASH if cv is None else f"{100 * cv:.1f}",
                 ms(stat(rec, "p99_ms", "median")),
                 cpu_text(stat(rec, "cpu_ms_per_req", "median"), serverfigures.point_resolution(recs), 3),
                 "noisy" if noisy(rec) else ""]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def repeats_section(records: list[Record]) -> list[str]:
    """report.md's "Repeats": the table and what it means, or the one line for single runs."""
    if not any_repeated(records):
        return [SINGLE_RUN_LINE, ""]
    return ["## Repeats", "", repeats_table(records), "",
            "K: the repetitions that count (no error, no expected failure; \"k of K\" when some did not); "
            "median, min–max and CV % (population stdev / mean) are over them; noisy: req/s CV over "
            f"{100 * NOISY_CV:g}%. {REPEATS_TEXT}", ""]


def verdict_section(records: list[Record]) -> list[str]:
    """"Verdict": one per workload (benchreport.advice), the other modes, what to run for one, its runs."""
    found = advice.verdicts(records)
    if not found:
        return []
    lines = ["## Verdict", "",
             "Drawn only from the runs that can tell modes apart, the strongest first: the knees of a rate sweep, "
             "else a closed-loop point past the client's ceiling (not client-limited, below "
             f"{advice.AT_CEILING_PCT:g}% of it), else CPU per request resolved to ±5% over long runs. A gevent mode "
             "is named with what gevent's monitor found (safe, not safe, unknown) and never recommended when not "
             "safe. \"What to use\" below gives the best mode at each setting.", ""]
    for v in found:
        where = advice.title(v, len(found) > 1)
        lines += ([f"**{where}**", ""] if where else []) + [" ".join(v.lead), ""]
        lines += [f"- {o}" for o in v.others] + ([""] if v.others else [])
        lines += ["To run:", "", *(f"    {cmd}" for cmd in v.to_run), ""] if v.to_run else []
        lines += [f"Rests on {len(v.runs)} run{'s' if len(v.runs) != 1 else ''}"
                  + (f" ({v.evidence})" if v.evidence else "") + ": " + ", ".join(f"`{r}`" for r in v.runs), ""]
    return lines


def readiness_section(records: list[Record]) -> list[str]:
    """"gevent readiness": a verdict per gevent mode and route (benchreport.readiness), its call sites."""
    found = readiness.verdicts(records)
    if not found:
        return []
    lines = ["## gevent readiness", "",
             "Per gevent mode and route, from the runs with gevent's monitor thread on (bench.yml -e monitor=true): "
             "safe when no greenlet held the hub longer than the threshold and gevent.monkey patched every "
             "module; each call site is the app's line that made the blocking call (blocked in C when no "
             "deeper Python frame shows), with the library call inside it where there is one; a block lasts "
             "at least its reports x the threshold (the monitor checks once per threshold).", ""]
    for v in found:
        lines.append(f"- **{v.mode}** `{v.route or '?'}`: **{v.verdict}**: {v.why}")
        lines += [f"  - `{site}`" for site in readiness.site_lines(v)]
    return lines + [""]


def thresholds_rows(checked: thresholds.Checked) -> list[list[str]]:
    """The "Thresholds" table's cells: failed first, then passed and skipped, each in the file's order."""
    order = {thresholds.FAILED: 0, thresholds.PASSED: 1, thresholds.SKIPPED: 2}
    return [[r.status, r.threshold.check, r.threshold.selects(), r.point, r.measured]
            for r in sorted(checked.results, key=lambda r: order[r.status])]


def thresholds_section(checked: thresholds.Checked | None) -> list[str]:
    """report.md's "Thresholds": each threshold on each point it selects, passed or failed, and the figure."""
    if checked is None:
        return []
    lines = ["## Thresholds", "", checked.intro(), ""]
    if checked.error is not None:
        return lines
    lines += ["| result | threshold | selects | point | measured |", "|:---|:---|:---|:---|:---|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in thresholds_rows(checked)]
    return lines + [""]


def knee_section(records: list[Record]) -> list[str]:
    """report.md's "Knee": the rate sweeps' knees ranked (benchreport.knee); empty without rate runs."""
    found = knee.ranked(knee.knees(records))
    if not found:
        return []
    vary = [k for k in ("delay", "route") if len({getattr(f, k) for f in found}) > 1]
    head = ["rank", "mode", "profile", *(["delay s"] if "delay" in vary else []),
            *(["route"] if "route" in vary else []), "knee req/s", "p99 ms at the knee", "CPU ms/req at the knee",
            "rates run (req/s)", "why not higher"]
    lines = ["## Knee", "",
             f"The constant-rate sweeps: for each mode and profile, the highest scheduled rate at which it and every "
             f"lower rate run kept p99 ≤ {knee.budget_text(found)} (timed from the schedule; the median of a "
             "rate's repetitions) with no failed request and none left unsent. Ranked by the knee, a tie by the "
             "lower CPU ms/request at the knee (unless the two are within their resolutions, ±: then in the "
             "records' order); ≥: every rate run passed, so the knee is at least the highest "
             "(a sweep that goes higher tells more); none: even the lowest rate failed.", "",
             "| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if h in ("rank", "delay s") or h.startswith(("knee", "p99", "CPU"))
                            else ":---" for h in head) + "|"]
    for i, k in enumerate(found, start=1):
        at = k.at_knee
        rates = ", ".join(f"{st.rate:g}" + (f" ({len(st.records)})" if len(st.records) > 1 else "") for st in k.steps)
        cells = [str(i) if k.knee_rps is not None else DASH, k.mode, str(k.profile or DASH),
                 *([DASH if k.delay is None else g(k.delay)] if "delay" in vary else []),
                 *([str(k.route or DASH)] if "route" in vary else []), knee.knee_text(k, unit=False),
                 ms(at.p99_ms if at else None),
                 cpu_text(at.cpu_ms_per_req, at.cpu_ms_per_req_resolution, 3) if at else DASH, rates, k.why]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    repeated_rates = any(len(st.records) > 1 for k in found for st in k.steps)
    return lines + ["", *(["(n) after a rate: its repetitions.", ""] if repeated_rates else []),
                    *machine_limit_lines(found)]


def knee_search_section(records: list[Record]) -> list[str]:
    """report.md's "Knee search": each rate=auto search's steps and what it found (benchreport.kneesearch)."""
    lines = []
    for found in kneesearch.searches(records):
        lines += [f"## Knee search: {found.group}", "",
                  f"rate=auto: the rate doubled until a step broke the budget (p99 ≤ {found.budget_ms:g} ms, nothing "
                  f"failed, the answers at ≥ {knee.KEEP_UP:.0%} of the rate), then bisected to within "
                  f"{found.precision:.0%}; a step within 10% of the budget ran twice.",
                  "", "| step | rate req/s | answered req/s | p99 ms | failed | verdict |",
                  "|---:|---:|---:|---:|---:|:---|"]
        lines += [f"| {r.step} | {r.rate:g} | {DASH if r.rps is None else f'{r.rps:g}'} | {ms(r.p99_ms)} | "
                  f"{DASH if r.failed is None else r.failed} | "
                  + ("within" if r.over is None else r.over).replace("|", "\\|") + " |" for r in found.rows]
        lines += ["", f"Found: {found.found}.", ""]
    return lines


MACHINE_LIMIT_TEXT = (
    "Machine limit: the rate at which the CPUs would be saturated by what a request costs: each machine's "
    "cores × 1000 / the CPU ms a request costs there (the app's unit, the slow API's unit, the clients; hosts "
    "that share one machine, as the local containers do, add theirs up), the lowest machine's. CPU per "
    "request over the load window and the requests the app worked on, the median of the rate's repetitions "
    "at the knee's rate, or, without a knee, at the lowest rate over the budget.")


def machine_limit_lines(found: list[knee.Knee]) -> list[str]:
    """The knees' machine limits (benchreport.knee.knee_limit_text), one line per mode and profile."""
    if not found:
        return []
    return [MACHINE_LIMIT_TEXT, "", *(f"- {k.name}: {knee.knee_limit_text(k)}" for k in found), ""]


COMPARE_TEXT = (
    "Clients compared: req/s of ab and of wrk at the same point (mode, profile, c, n, delay) and "
    "repetition (rep: ab's k-th run beside wrk's k-th), one after the other; "
    "they agree when they differ by at most 10% of ab's. Known causes of a gap: ab sends its first "
    "request alone (its ceiling, above: wrk, which opens its c connections at once, can pass it); "
    "both send HTTP/1.0, a connection per request, so connection handling is not a cause; a client using a "
    "whole core per thread sets the pace itself; failed requests count in both clients' req/s."
)


def short_version(line: Any) -> str | None:
    """The version in a tool's version line: "This is ApacheBench, Version 2.3 <...>" -> "2.3"."""
    if line is None:
        return None
    match = re.search(r"(?<![\w.])v?(\d+(?:\.\d+)+[\w.+~-]*)", str(line))
    return match.group(1) if match else str(line)


def _virt(host: Facts) -> str:
    kind, vm = host.get("virtualization"), host.get("vm")
    if host.get("container"):
        return (f"container ({kind})" if kind else "container") + (
            f" in a VM ({vm})" if vm and vm != "none" else "")
    if kind == "none":
        return "bare metal"
    return f"VM ({kind})" if kind else "virtualization unknown"


def host_line(role: str, host: Facts | None) -> str:
    """One host of the Environment section."""
    if not host:
        return f"{role} host: not in environment.json"
    cores = host.get("cores")
    cores_text = "? cores" if cores is None else f"{cores} core{'s' if cores != 1 else ''}"
    if host.get("cpu_quota_cores") is not None:
        cores_text += f" (cgroup quota {host['cpu_quota_cores']:g})"
    mem = host.get("mem_total_mib")
    mem_text = "? MiB" if mem is None else f"{mem} MiB"
    if host.get("mem_limit_mib") is not None:
        mem_text += f" (cgroup limit {host['mem_limit_mib']} MiB)"
    parts = [str(host.get("os") or "OS unknown"), f"kernel {host.get('kernel') or '?'}",
             str(host.get("cpu_model") or "CPU unknown"), cores_text, mem_text,
             f"somaxconn {DASH if host.get('somaxconn') is None else host['somaxconn']}", _virt(host)]
    return f"{role} host {host.get('name')}: " + ", ".join(parts)


def environment_section(records: list[Record]) -> list[str]:
    """report.md's "Environment": the commit, one line per host, the server versions on one line."""
    lines = ["## Environment", ""]
    envs = [r.environment for r in records if r.environment]
    if not envs:
        return lines + ["- environment not recorded (no environment.json in the run folder)", ""]
    for commit, dirty in dict.fromkeys((e.get("commit"), e.get("dirty")) for e in envs):
        state = {True: "dirty: tracked files differed from it", False: "clean",
                 None: "dirty or not: unknown"}[dirty]
        lines.append(f"- commit {commit} ({state})" if commit else "- commit unknown (not a git checkout)")
    hosts: dict[tuple[str, str | None], Facts | None] = {}
    clients_seen: dict[str | None, dict[str, str]] = {}
    packages: dict[str | None, Facts] = {}
    for rec, env in ((r, r.environment) for r in records if r.environment):
        for role, key in (("app", "app_host"), ("load", "loadgen_host")):
            host = env.get(key)
            hosts.setdefault((role, (host or {}).get("name")), host)
        lg = env.get("loadgen_host") or {}
        if lg.get("client_version") is not None:
            clients_seen.setdefault(lg.get("name"), {})[client_name(rec)] = lg["client_version"]
        if env.get("packages"):
            packages.setdefault((env.get("app_host") or {}).get("name"), env["packages"])
    both = {name for role, name in hosts if name is not None and role == "app"} & {
        name for role, name in hosts if name is not None and role == "load"}
    for (role, name), host in hosts.items():
        if name in both and role == "load":
            continue  # one line, as app host
        line = host_line("app and load" if name in both else role, host)
        versions = clients_seen.get(name) if role == "load" or name in both else None
        if versions:
            line += "; " + ", ".join(f"{c} {short_version(v)}" for c, v in sorted(versions.items()))
        lines.append(f"- {line}")
    if not packages:
        lines.append("- servers and libraries: not recorded")
    for name, found in packages.items():
        where = f" (app host {name})" if len(packages) > 1 else ""
        lines.append(f"- servers and libraries{where}: "
                     + ", ".join(f"{pkg} {short_version(v)}" for pkg, v in found.items()))
    return lines + [""]


def _seconds(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def timing_line(timing: Timing | None) -> str | None:
    """"load N s of M s wall (P%)" from timing.json (benchreport.collect), with the runs done and an
    interruption when there was one; None without timing.json or its figures."""
    if timing is None:
        return None
    load, wall = timing.load_s, timing.wall_s
    if load is None or wall is None or wall <= 0:
        return None
    text = f"load {_seconds(load)} s of {_seconds(wall)} s wall ({100 * load / wall:.0f}%)"
    planned, done = timing.runs_planned, timing.runs_done
    if planned is not None and done is not None and planned:
        text += f"; {done} of {planned} runs done"
    if timing.interrupted:
        text += f"; interrupted ({timing.interrupted})"
    return text


def markdown(records: list[Record], run_id: str, timing: Timing | None = None,
             checked: thresholds.Checked | None = None) -> str:
    """report.md: heading, the bench's load share (timing.json), table, how to read it, the thresholds
    (checked: benchreport.thresholds.judge's), notes."""
    starts = sorted(r.started_at for r in records if r.started_at)
    ends = sorted(r.ended_at for r in records if r.ended_at)
    lines = [f"# Bench run {run_id}", ""]
    if starts and ends:
        lines += [f"From {starts[0]} to {ends[-1]}.", ""]
    share = timing_line(timing)
    if share:
        lines += [f"Bench time: {share} (the rest: switching modes, warming up, the hosts' set-up and "
                  "fetching the results).", ""]
    lines += (["## Results", ""] if grouped(records) else []) + grouped_tables(records)
    if grouped(records):  # what follows is about every group's table, not the last one's
        lines += ["### How to read the tables", ""]
    for footnote in (client_limited_footnote(records), p99_bound_footnote(records)):
        if footnote:
            lines += [footnote, ""]
    lines += [
        "req/s and failed come from ab's output; % of ideal is 100 × req/s / (c / delay); "
        "% of ceiling is 100 × req/s / the most ab itself can show at that n, c and delay (below); "
        "p50/p99/max are total request times in ms; CPU ms/req is the CPU time of the mode's "
        "processes over the load window (the first request's due time or the client's start to "
        "its end) divided by the requests the server worked on (answered, timed out or cut on "
        "read), ± its resolution where the clock ticks make it coarse; peak RSS MiB is the highest "
        "sum of their resident memory sampled in that window; ab CPU % is ab's own CPU time as % of one "
        "core over its run (ab is single-threaded: near 100 means the client set the pace); "
        "host CPU % is the busy share of all CPUs in the load host's /proc/stat, which on the "
        "local test containers is the whole machine (app container included) and on a VM the "
        "load host alone; seed's req/s is the seed's published figure for the mode at "
        "its own default flags."
        + (" hub blocks counts the reports of gevent's monitor thread during the run: a "
           "greenlet held the event loop longer than its threshold (a blocking call, such as "
           "psycopg2 without psycogreen), those while a worker imported the app left out (no request "
           "waited on them); – for modes without gevent." if any(r.monitor for r in records) else "")
        + " – means not measured.",
        "",
    ]
    if several_loadgens(records):
        lines += [
            "load hosts: the run was split over that many load hosts, started together (each its share "
            "of c and n); req/s is their complete requests summed over the slowest one's time, failed "
            "and complete are summed, p50/p99/max are over all their requests (ab's -g rows, wrk's "
            f"histograms; {UPPER_BOUND_MARK} marks a p99 that is only the highest of theirs), ab/client "
            "CPU % and host CPU % are the busiest host's (each one's in the notes and summary.json's parts).",
            "",
        ]
    explained = [c for name in clients(records) if (c := registry.of_record(name)) is not None and c.explanation]
    lines += [line for c in explained if not c.by_rate for line in (c.explanation, "")]
    ceiling = ceiling_note(records)
    if ceiling:
        lines += [ceiling, ""]
    lines += [line for c in explained if c.by_rate for line in (c.explanation, "")]
    lines += app_section(records)
    lines += thresholds_section(checked)
    lines += verdict_section(records)
    lines += whattouse.markdown_section(records)
    lines += readiness_section(records)
    lines += knee_section(records)
    lines += knee_search_section(records)
    lines += repeats_section(records)
    table = compare_table(records)
    if table:
        lines += ["## Clients compared", "", table, "", COMPARE_TEXT, ""]
    lines += environment_section(records)
    lines += [
        "## Notes",
        "",
    ]
    found = notes(records)
    lines += [f"- {note}" for note in found] if found else ["- none: every run completed without failures."]
    return "\n".join(lines) + "\n"


def chart_groups(records: list[Record]) -> list[tuple[str, list[Record]]]:
    """The chart's x positions: one per mode, or per mode and (c, n, delay, route) when a mode ran at
    several (a sweep); with its label and records, in the records' order."""
    params: dict[str, set] = {}
    for rec in records:
        params.setdefault(mode_label(rec), set()).add(_params(rec))
    groups: dict[tuple, list[Record]] = {}
    for rec in records:
        mode = mode_label(rec)
        groups.setdefault((mode, _params(rec) if len(params[mode]) > 1 else None), []).append(rec)
    out = []
    for (mode, key), recs in groups.items():
        label = mode
        if key is not None:
            c, n, delay, route, rate = key
            # a rate run's c and n follow from its rate (the connection cap, rate x duration)
            label += f"\nrate={g(rate)}/s" if rate is not None else f"\nc={num(c, 0)} n={num(n, 0)}"
            label += f" delay={DASH if delay is None else g(delay)}"
            label += f" {route}" if len({p[3] for p in params[mode]}) > 1 else ""
        out.append((label, recs))
    return out


def _params(rec: Record) -> tuple:
    return (rec.c, rec.n, rec.delay, rec.route, rec.rate)


def bar_series(rec: Record, several: bool) -> str:
    """A chart's bar series: the profile, plus the client when the run had more than one."""
    return str(rec.profile) + (f" {client_name(rec)}" if several else "")


def series_order(records: list[Record]) -> list[str]:
    """The bar series side by side: seed before tuned, ab before wrk."""
    order = {"seed": 0, "tuned": 1}
    several = len(clients(records)) > 1
    return sorted({bar_series(r, several) for r in records},
                  key=lambda p: (order.get(p.split(" ")[0], 9), p.split(" ")[0], p.endswith(" wrk"), p))


@dataclass
class Bar:
    """One bar of chart.png (and of report.html's % of ideal): one point of one series."""

    #: the x position (chart_groups' index) and the series (bar_series)
    x: int
    series: str
    #: the point's repetitions, and those without an error and with a % of ideal
    records: list[Record]
    counted: list[Record]
    #: median, min and max of the counted ones' % of ideal (None without any), their median req/s
    pct: float | None
    min_pct: float | None
    max_pct: float | None
    rps: float | None
    #: ab's ceiling as % of ideal, when known
    ceiling_pct: float | None


def chart_bars(records: list[Record]) -> list[Bar]:
    """chart.png's bars: one per x position (chart_groups) and series, i.e. one per point."""
    several = len(clients(records)) > 1
    bars: dict[tuple[int, str], list[Record]] = {}
    for i, (_, recs) in enumerate(chart_groups(records)):
        for rec in recs:
            bars.setdefault((i, bar_series(rec, several)), []).append(rec)
    out = []
    for (i, series), recs in bars.items():
        good = [r for r in recs if not r.error and r.pct_of_ideal is not None]
        pcts = [r.pct_of_ideal for r in good]
        rps = [r.rps for r in good if r.rps is not None]
        out.append(Bar(i, series, recs, good, statistics.median(pcts) if pcts else None,
                       min(pcts, default=None), max(pcts, default=None), statistics.median(rps) if rps else None,
                       next((r.ab_ceiling_pct for r in recs if not r.error and r.ab_ceiling_pct is not None), None)))
    return out


def chart(records: list[Record], path: Path, title: str = "") -> None:
    """chart.png: % of ideal per mode (per point in a sweep), one bar per profile side by side.

    One bar per point: with repeat=K its height is the median of the
    repetitions' % of ideal (those without an error) and a black error bar spans
    their min to max; its label gives the median req/s and "median of k".
    A diamond over the seed bar marks the seed's published figure as % of its
    own ideal; an orange line across each bar marks ab's ceiling for that run
    (the most % of ideal ab can show at its n and c); hatching marks capped
    runs and runs with failed requests; an error shows as a labelled gap, not a
    zero bar that would read as 'slow'. With more than one client each
    (profile, client) gets its own bar, wrk's in a lighter shade with a dot
    hatch; wrk has no ceiling line (no lone first request).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    groups = chart_groups(records)
    modes = [label for label, _ in groups]
    several = len(clients(records)) > 1

    def profile_of(series: str) -> str:
        return series.split(" ")[0]

    profiles = series_order(records)
    base = {"seed": "#9e9e9e", "tuned": "#1f77b4"}
    lighter = {"seed": "#cfcfcf", "tuned": "#8fbbd9"}
    colours = {p: (lighter if p.endswith(" wrk") else base).get(profile_of(p), f"C{k + 2}")
               for k, p in enumerate(profiles)}
    width = 0.8 / max(len(profiles), 1)

    def xpos(i: int, prof: str) -> float:
        return i + (profiles.index(prof) - (len(profiles) - 1) / 2) * width

    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * len(modes) + 2) + 3.5, 5.5), dpi=100)
    top = 100.0
    hatched = published = ceiling_drawn = ranged = False
    for bar in chart_bars(records):
        i, prof, recs, good = bar.x, bar.series, bar.records, bar.counted
        x = xpos(i, prof)
        ceiling = bar.ceiling_pct
        if ceiling is not None:
            ax.hlines(ceiling, x - width / 2, x + width / 2, colors=CEILING_COLOUR, linewidth=2, zorder=3)
            ceiling_drawn = True
        if not good:
            ax.text(x, 2, "error" if any(r.error for r in recs) else "n/a", rotation=90, ha="center",
                    va="bottom", fontsize=8, color="#c62828")
            continue
        pct, low, high = bar.pct, bar.min_pct, bar.max_pct
        top = max(top, high)
        hatch = "//" if any(r.capped or r.failed for r in good) else None
        hatched = hatched or hatch is not None
        if several and prof.endswith(" wrk"):
            hatch = (hatch or "") + ".."
        ax.bar(x, pct, width=width * 0.95, color=colours[prof], hatch=hatch, edgecolor="white")
        if len(good) > 1:
            ax.errorbar(x, pct, yerr=[[pct - low], [high - pct]], fmt="none", ecolor="black", elinewidth=1,
                        capsize=3, zorder=4)
            ranged = True
        label = ""
        if bar.rps is not None:
            mid = bar.rps
            label = f"{mid:.{0 if mid >= 10 else 1}f}/s" + (f"\nmedian of {len(good)}" if len(good) > 1 else "")
        failed = [r.failed for r in good if r.failed]
        if failed:
            label += f"\n{max(failed)} failed" if len(good) == 1 else f"\nfailed in {len(failed)}"
        if any(r.capped for r in good):
            label += "\ncapped"
        # above the ceiling line when the bar comes close to it, so the line stays readable
        above = max(high, ceiling) if ceiling is not None and ceiling - high < 8 else high
        ax.text(x, above + 1, label, ha="center", va="bottom", fontsize=7)
    seen: set[str] = set()
    for i, (_, recs) in enumerate(groups):
        rec = recs[0]
        if mode_label(rec) in seen:
            continue  # the published figure once per mode, at its first point
        seen.add(mode_label(rec))
        p, seed = rec.seed_params or {}, rec.seed_rps
        if seed is not None and p.get("c") and p.get("delay"):
            pct = 100.0 * seed / (p["c"] / p["delay"])
            top = max(top, pct)
            seed_series = next((p for p in profiles if profile_of(p) == "seed"), None)
            ax.plot([xpos(i, seed_series) if seed_series else i], [pct], marker="D", color="black",
                    linestyle="none")
            published = True
    ax.axhline(100, color="#2e7d32", linewidth=1, linestyle="--")
    ax.set_xticks(range(len(modes)))
    ax.set_xticklabels(modes, rotation=30, ha="right", fontsize=9)
    ax.set_ylabel("req/s as % of ideal (c / delay)")
    ax.set_ylim(0, top * 1.18)
    ax.set_title(title or "Throughput as % of ideal, per mode and profile")
    handles = [Patch(facecolor=colours[p], label=p) for p in profiles]
    if hatched:
        handles.append(Patch(facecolor="#cccccc", hatch="//", edgecolor="white", label="capped or failed requests"))
    if published:
        handles.append(Line2D([], [], marker="D", color="black", linestyle="none",
                              label="seed's published figure\n(at its default n, c, delay)"))
    if ceiling_drawn:
        handles.append(Line2D([], [], color=CEILING_COLOUR, linewidth=2,
                              label="ab's ceiling: n / (c × (1 + ⌈(n−1)/c⌉))\n(ab sends its first request alone)"))
    if ranged:
        handles.append(Line2D([], [], color="black", marker="_", markersize=8, linewidth=1,
                              label="repetitions: median (bar),\nmin–max (line)"))
    handles.append(Line2D([], [], color="#2e7d32", linestyle="--", label="ideal: c / delay"))
    # legend low in the right margin, leaving its top for the ceiling values
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=8, frameon=False)
    levels = sorted({r.ab_ceiling_pct for r in records
                     if r.ab_ceiling_pct is not None and not r.error}, reverse=True)
    last_y = None
    for level in levels:  # one label per distinct ceiling, nudged apart so none overlap
        y = level if last_y is None else min(level, last_y - top * 0.05)
        ax.annotate(f"ab's ceiling {level:.1f}%", xy=(1.0, level), xycoords=("axes fraction", "data"),
                    xytext=(1.01, y), textcoords=("axes fraction", "data"), va="center", fontsize=8,
                    color=CEILING_COLOUR, annotation_clip=False)
        last_y = y
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
