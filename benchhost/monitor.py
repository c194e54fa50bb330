"""gevent's monitor thread in a unit's journal: its reports of a blocked hub, and what the app patched.

With GEVENT_MONITOR_THREAD_ENABLE=true, gevent checks every
GEVENT_MAX_BLOCKING_TIME seconds whether the hub ran since the last check; when
it did not, it prints a report to stderr (gevent._tracer, gevent.util), one
journal line per line::

    ================================================================================
    <blank>
    2026-12-07T05:16:08Z : Greenlet <Greenlet at 0x7f..: handler> appears to be blocked
        Reported by <gevent._gevent_c_tracer.GreenletTracer object at 0x7f..>
    Blocked Stack (for thread id 0x7f..):
      File "/srv/app/benchapp/db.py", line 40, in query
        cur.execute(sql)
    <blank>
    Info:
    ...                                   (every thread's stack, the greenlet tree)

The stack is the hub's thread at the check, innermost call last: for a call
blocking in C (a driver without a gevent wait callback) its last frame is the
Python line that called into C. gevent does not say how long the hub was held:
a block that lasts several periods is reported at each check, so consecutive
reports of one greenlet (BLOCK_GAP periods apart at most) are one block of at
least that many periods.

The app's gevent entry points (benchapp.patching) log one PATCH_MARK line at
start when the monitor is on: which standard modules gevent.monkey patched and
its warnings.

monitor.json, beside outcome.json (read by benchreport)::

    {"schema": 1, "threshold_s": 0.1,
     "reports": 12,                  # the monitor's reports since "go" (outcome.json's "blocked")
     "blocks": [{"at": 1795320600.2,  # Unix s of the first report (the journal's time)
                 "reports": 4, "at_least_s": 0.4, "greenlet": "<Greenlet ...>",
                 "stack": 0}, ...],   # an index into stacks
     "stacks": [[{"file", "line", "function", "code"}, ...], ...],   # outermost first
     "dropped_reports": 0,           # reports of the blocks past MAX_BLOCKS (not kept)
     "dropped_stacks": 0,            # distinct stacks past MAX_STACKS (their blocks' stack: null)
     "patch": {"patched": {"socket": true, ...}, "warnings": [...]} | null,
     "error": null}                  # or why the journal could not be read
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MONITOR_FILE = "monitor.json"
SCHEMA = 1
BLOCKED_MARK = "appears to be blocked"
#: The line benchapp.patching logs at start (the JSON object follows it).
PATCH_MARK = "flaskbench-gevent-patch: "
#: A hub blocked in every request makes a report each period, each with a stack of
#: 40-odd frames: the file keeps every distinct call site and the blocks' shape, not
#: every report (the count stays whole in "reports").
MAX_BLOCKS = 500
MAX_STACKS = 50
#: Frames kept of a stack, the innermost (where it blocked); a Flask request is ~40 deep.
MAX_FRAMES = 60
#: Consecutive reports of one greenlet this many periods apart or less are one block: within a
#: block the checks come one period (plus the printing) apart; between two blocks the hub ran, so
#: the check in between saw a switch and said nothing (two periods: 0.106 s and 0.206 s measured).
BLOCK_GAP = 1.5

HEADER = re.compile(r"^(?P<when>\S+) : Greenlet (?P<greenlet>.*) appears to be blocked\s*$")
#: A greenlet's address: its repr gains its name after the first report ("Greenlet-0").
ADDRESS = re.compile(r"\bat (0x[0-9a-fA-F]+)")
FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+), in (?P<function>.*)$')


@dataclass
class Report:
    at: float | None
    greenlet: str
    frames: list[dict] = field(default_factory=list)


def journal_entries(lines: Iterable[bytes | str]) -> Iterator[tuple[float | None, str]]:
    """(Unix s, message) of `journalctl --output json` lines; a line that is not JSON is a message
    without a time (--output cat)."""
    for raw in lines:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = text.rstrip("\n")
        try:
            entry = json.loads(text)
        except ValueError:
            yield None, text
            continue
        if not isinstance(entry, dict):
            yield None, text
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journald's form of a message that is not valid UTF-8
            message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
        stamp = entry.get("__REALTIME_TIMESTAMP")
        at = int(stamp) / 1e6 if isinstance(stamp, str) and stamp.isdigit() else None
        yield at, message if isinstance(message, str) else ""


def parse_reports(entries: Iterable[tuple[float | None, str]]) -> Iterator[Report]:
    """The monitor's reports, each with its blocked stack; other lines (the app's own, a report's
    Info part) are skipped, so lines of other processes between a report's lines do no harm."""
    report: Report | None = None
    in_stack = False
    for at, message in entries:
        header = HEADER.match(message.strip())
        if header:
            if report is not None:
                yield report
            report, in_stack = Report(at, header["greenlet"]), False
            continue
        if report is None:
            continue
        if message.startswith("Blocked Stack"):
            in_stack = True
        elif message.strip() == "Info:":
            in_stack = False
        elif in_stack:
            frame = FRAME.match(message)
            if frame:
                report.frames.append({"file": frame["file"], "line": int(frame["line"]),
                                      "function": frame["function"], "code": None})
            elif message.startswith("    ") and report.frames and report.frames[-1]["code"] is None:
                report.frames[-1]["code"] = message.strip()
    if report is not None:
        yield report


def patch_state(entries: Iterable[tuple[float | None, str]]) -> dict | None:
    """The last PATCH_MARK line's object, or None."""
    found = None
    for _at, message in entries:
        if message.startswith(PATCH_MARK):
            try:
                data = json.loads(message[len(PATCH_MARK):])
            except ValueError:
                continue
            if isinstance(data, dict):
                found = data
    return found


def same_greenlet(a: str, b: str) -> bool:
    x, y = ADDRESS.search(a), ADDRESS.search(b)
    return x[1] == y[1] if x and y else a == b


def findings(reports: Iterable[Report], threshold: float) -> dict:
    """monitor.json's blocks and stacks (without patch and error): consecutive reports of one greenlet
    made one block, the stacks deduplicated, both capped."""
    out: dict = {"schema": SCHEMA, "threshold_s": threshold, "reports": 0, "blocks": [], "stacks": [],
                 "dropped_reports": 0, "dropped_stacks": 0}
    index: dict[str, int] = {}
    last: dict | None = None
    last_at: float | None = None
    for report in reports:
        out["reports"] += 1
        gap = None if report.at is None or last_at is None else report.at - last_at
        last_at = report.at
        if (last is not None and same_greenlet(last["greenlet"], report.greenlet) and gap is not None
                and gap <= BLOCK_GAP * threshold):
            last["reports"] += 1
            last["at_least_s"] = round(last["reports"] * threshold, 3)
            continue
        frames = report.frames[-MAX_FRAMES:]
        key = json.dumps(frames)
        if key not in index:
            if len(out["stacks"]) >= MAX_STACKS:
                out["dropped_stacks"] += 1
                index[key] = -1
            else:
                index[key] = len(out["stacks"])
                out["stacks"].append(frames)
        if len(out["blocks"]) >= MAX_BLOCKS:
            out["dropped_reports"] += 1
            last = None
            continue
        last = {"at": report.at, "reports": 1, "at_least_s": threshold, "greenlet": report.greenlet,
                "stack": index[key] if index[key] >= 0 else None}
        out["blocks"].append(last)
    return out
