"""Is the app gevent-safe? A verdict per gevent mode and route, from the runs with gevent's monitor on.

A run with monitor on (bench.yml -e monitor=true) leaves monitor.json
(benchhost.monitor): the monitor's reports of a hub held longer than the
threshold, grouped into blocks with their stacks, and what gevent.monkey
patched. monitor_figures puts a run's on its Record, the stacks reduced to
call sites; verdicts() judges each gevent mode and route over its records:

* safe: monitored under load (answers counted), no block over the threshold,
  every module patched and no MonkeyPatchWarning;
* not safe: a block (with its call sites, the count per site) or a module
  left unpatched or a warning;
* unknown: not monitored, or the monitor could not tell (what to run says how).

A call site is the innermost frame of the app's own code (outside the
standard library and installed packages, or in APP_PACKAGES): the line of
the app that made the blocking call, even when the call blocked in C where no
Python frame shows (psycopg2's cursor.execute, a ctypes call); when the
innermost frame is a library's, it is named too (the library call that
blocked).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchreport.model import Record, app_option, finite, integer

#: Packages that are the app's own code even where they are installed under site-packages
#: (the built-in app is installed into the app host's venv).
APP_PACKAGES = ("benchapp",)
LIBRARY_DIR = re.compile(r"/(site-packages|dist-packages)/|/lib/python\d+\.\d+/")
SAFE, NOT_SAFE, UNKNOWN = "safe", "not safe", "unknown"


def is_library(path: str) -> bool:
    if any(f"/{package}/" in path for package in APP_PACKAGES):
        return False
    return path.startswith("<") or LIBRARY_DIR.search(path) is not None


def short_path(path: str) -> str:
    """benchapp/db.py, psycopg2/extras.py, socket.py: the path from the package (or the stdlib) down."""
    for package in APP_PACKAGES:
        at = path.rfind(f"/{package}/")
        if at >= 0:
            return path[at + 1:]
    match = None
    for match in LIBRARY_DIR.finditer(path):
        pass
    if match is not None:
        return path[match.end():]
    return "/".join(path.split("/")[-2:])


def frame_text(frame: Mapping[str, Any]) -> str:
    code = frame.get("code")
    return f"{short_path(str(frame.get('file')))}:{frame.get('line')} in {frame.get('function')}" + (
        f": {code}" if code else "")


def call_site(frames: list[Mapping[str, Any]]) -> tuple[str, str | None]:
    """(the app's innermost frame, the library's innermost frame when it is deeper) of a stack, outermost
    first."""
    if not frames:
        return "(no Python frame in the report)", None
    own = [f for f in frames if not is_library(str(f.get("file")))]
    app = own[-1] if own else frames[-1]
    inner = frames[-1]
    return frame_text(app), None if inner is app else frame_text(inner)


def at_import(frames: list[Mapping[str, Any]]) -> bool:
    """The stack is a module being imported (importlib's frames in it)."""
    return any(str(f.get("file", "")).startswith("<frozen importlib") for f in frames)


def serving_reports(rec: Record) -> int | None:
    """The monitor's reports in a run while the app served: all of them less those while a worker
    imported it (None: not monitored)."""
    return None if rec.blocked is None else max(0, rec.blocked - (rec.blocked_import_reports or 0))


def monitor_figures(rec: Record, found: Mapping[str, Any] | None) -> None:
    """A monitored run's monitor.json on its Record: blocks, the longest, call sites, the patch state."""
    if found is None:
        rec.monitor_error = "no monitor.json (the bench's runner wrote none: a run before it was kept?)"
        return
    if found.get("error"):
        rec.monitor_error = str(found["error"])
        return
    rec.monitor_threshold_s = finite(found.get("threshold_s"))
    patch = found.get("patch")
    rec.gevent_patch = patch if isinstance(patch, dict) else None
    stacks = found.get("stacks") if isinstance(found.get("stacks"), list) else []
    blocks = [b for b in found.get("blocks") or [] if isinstance(b, dict)]
    sites: dict[tuple[str, str | None], dict[str, Any]] = {}
    serving = []
    rec.blocked_at_import = rec.blocked_import_reports = 0
    for block in blocks:
        index = integer(block.get("stack"))
        stack = stacks[index] if index is not None and 0 <= index < len(stacks) else None
        if isinstance(stack, list) and at_import(stack):
            # A worker importing the app (gevent-pywsgi's and Gunicorn's import after the fork) before
            # it accepts: no request waits on that hub, so it does not count against the app.
            rec.blocked_at_import += 1
            rec.blocked_import_reports += integer(block.get("reports")) or 1
            continue
        serving.append(block)
        site, library = call_site(stack) if isinstance(stack, list) else ("(stack not kept)", None)
        entry = sites.setdefault((site, library), {"site": site, "library": library, "blocks": 0, "reports": 0,
                                                   "longest_s": None})
        entry["blocks"] += 1
        entry["reports"] += integer(block.get("reports")) or 1
        longest = finite(block.get("at_least_s"))
        if longest is not None:
            entry["longest_s"] = max(longest, entry["longest_s"] or 0.0)
    rec.blocked_blocks = len(serving)
    rec.blocked_sites = sorted(sites.values(), key=lambda s: (-s["blocks"], s["site"]))
    rec.blocked_longest_s = max((s["longest_s"] for s in sites.values() if s["longest_s"] is not None),
                                default=None)


@dataclass
class Verdict:
    """One gevent mode and route: safe, not safe or unknown, why, and what the runs found."""

    mode: str
    route: str | None
    verdict: str
    why: str
    runs: int = 0
    blocks: int = 0
    reports: int = 0
    longest_s: float | None = None
    threshold_s: float | None = None
    sites: list[dict[str, Any]] = field(default_factory=list)
    unpatched: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: blocks while a worker imported the app (not counted: no request waited)
    at_import: int = 0
    #: C database drivers the app loaded that wait without yielding (benchapp.patching.blocking_drivers)
    drivers: list[str] = field(default_factory=list)


def _seconds(x: float | None) -> str:
    return "?" if x is None else f"{x:g} s"


def _judge(mode: str, route: str | None, records: list[Record]) -> Verdict:
    verdict = Verdict(mode, route, UNKNOWN, "")
    monitored = [r for r in records if r.monitor]
    told = [r for r in monitored if r.blocked is not None and r.monitor_error is None]
    run_it = f"run `ansible-playbook bench.yml{app_option(records)} -e mode={mode} -e monitor=true`"
    if not told:
        why = "; ".join(sorted({r.monitor_error for r in monitored if r.monitor_error})) if monitored else ""
        verdict.why = (f"the monitor could not tell ({why}): " if monitored else
                       "not run with gevent's monitor thread: ") + run_it
        return verdict
    verdict.runs = len(told)
    verdict.threshold_s = max((r.monitor_threshold_s for r in told if r.monitor_threshold_s is not None),
                              default=None)
    verdict.reports = sum(serving_reports(r) or 0 for r in told)
    verdict.at_import = sum(r.blocked_at_import or 0 for r in told)
    verdict.blocks = sum(r.blocked_blocks if r.blocked_blocks is not None else (r.blocked or 0) for r in told)
    verdict.longest_s = max((r.blocked_longest_s for r in told if r.blocked_longest_s is not None), default=None)
    merged: dict[tuple[str, str | None], dict[str, Any]] = {}
    for r in told:
        for s in r.blocked_sites or []:
            m = merged.setdefault((s["site"], s.get("library")), {**s, "blocks": 0, "reports": 0, "longest_s": None})
            m["blocks"] += s.get("blocks") or 0
            m["reports"] += s.get("reports") or 0
            if s.get("longest_s") is not None:
                m["longest_s"] = max(s["longest_s"], m["longest_s"] or 0.0)
    verdict.sites = sorted(merged.values(), key=lambda s: (-s["blocks"], s["site"]))
    patches = [r.gevent_patch for r in told if r.gevent_patch]
    verdict.unpatched = sorted({m for p in patches for m, ok in (p.get("patched") or {}).items() if not ok})
    verdict.warnings = sorted({str(w) for p in patches for w in p.get("warnings") or []})
    verdict.drivers = sorted({str(d) for p in patches for d in p.get("drivers") or []})
    # A driver that waits in C holds the hub for each wait: the monitor only sees the waits past
    # its threshold, so a safe verdict says it was loaded, and a blocked hub names it as a cause.
    drivers = f"it loaded {', '.join(verdict.drivers)}" if verdict.drivers else ""
    problems = []
    if verdict.reports:
        problems.append(f"the hub was blocked over {_seconds(verdict.threshold_s)} {verdict.blocks} time(s) "
                        f"({verdict.reports} monitor reports, the longest at least {_seconds(verdict.longest_s)})")
    if verdict.unpatched:
        problems.append(f"gevent.monkey left unpatched: {', '.join(verdict.unpatched)}")
    if verdict.warnings:
        problems.append(f"gevent.monkey warned ({len(verdict.warnings)}): {verdict.warnings[0]}")
    if problems and drivers:
        problems.append(drivers)
    runs = f"{verdict.runs} monitored run(s)"
    if problems:
        verdict.verdict, verdict.why = NOT_SAFE, "; ".join(problems) + f" in {runs}"
    elif not any(r.complete for r in told):
        verdict.why = f"no request was answered in the {runs}: " + run_it
    elif len(patches) < len(told):
        verdict.why = (f"no block over {_seconds(verdict.threshold_s)} in {runs}, but the app did not say what "
                       "gevent patched (its code predates the patch line: deploy it with site.yml), then " + run_it)
    else:
        verdict.verdict = SAFE
        verdict.why = (f"no block over {_seconds(verdict.threshold_s)} in {runs} "
                       f"({sum(r.complete or 0 for r in told)} requests answered); every module patched")
        if drivers:
            verdict.why += (f"; but {drivers}: each of its waits holds the hub, none past "
                            f"{_seconds(verdict.threshold_s)} here (a slower query would block every request of "
                            f"the process)")
    if verdict.at_import:
        verdict.why += (f"; {verdict.at_import} block(s) while a worker imported the app, before it served, "
                        "not counted")
    return verdict


def verdicts(records: Iterable[Record]) -> list[Verdict]:
    """A verdict per gevent mode and route of the records, in their order; [] without gevent modes."""
    groups: dict[tuple[str, str | None], list[Record]] = {}
    for r in records:
        if r.group == "gevent" and r.mode is not None:
            groups.setdefault((r.mode, r.route), []).append(r)
    return [_judge(mode, route, rs) for (mode, route), rs in groups.items()]


def site_lines(verdict: Verdict) -> list[str]:
    """One line per call site: where, how often, the longest, the library call inside it."""
    out = []
    for s in verdict.sites:
        longest = f", the longest at least {_seconds(s['longest_s'])}" if s.get("longest_s") is not None else ""
        inside = f" (blocked in {s['library']})" if s.get("library") else ""
        out.append(f"{s['site']}{inside}: {s['blocks']} block(s){longest}")
    return out
