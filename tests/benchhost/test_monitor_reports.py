"""benchhost.monitor on real reports: a gevent process with the monitor thread on blocks its hub, once in
Python (time.sleep, unpatched) and once in C (libc's usleep through ctypes, where gevent sees no frame);
its stderr is stamped line by line as journald stamps it and read back as `journalctl --output json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchhost import monitor

THRESHOLD = 0.1
#: Each request blocks the hub this long: several monitor periods, so one block of several reports.
BLOCK_S = 0.45

APP = f"""
import ctypes, sys, time
import gevent

libc = ctypes.CDLL(None)

def query():
    if sys.argv[1] == "c":
        libc.usleep({int(BLOCK_S * 1e6)})   # blocks in C: no Python frame below this line
    else:
        time.sleep({BLOCK_S})               # the unpatched time.sleep blocks the hub too

def view():
    query()

def cooperative():
    gevent.sleep({BLOCK_S})                 # waits in the hub: no report

gevent.joinall([gevent.spawn(view if sys.argv[1] != "none" else cooperative)])
gevent.sleep(0.3)
"""


def journal(tmp_path: Path, how: str) -> list[str]:
    """The process's stderr as journalctl --output json lines, each stamped when it arrived."""
    script = tmp_path / "blockapp.py"
    script.write_text(APP)
    env = {**os.environ, "GEVENT_MONITOR_THREAD_ENABLE": "true", "GEVENT_MAX_BLOCKING_TIME": str(THRESHOLD)}
    proc = subprocess.Popen([sys.executable, str(script), how], stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(json.dumps({"__REALTIME_TIMESTAMP": str(int(time.time() * 1e6)),
                                     "MESSAGE": line.rstrip("\n")}))
    finally:
        assert proc.wait(timeout=30) == 0
    return lines


@pytest.mark.parametrize("how", ["python", "c"])
def test_a_blocked_hub_is_one_block_with_the_line_that_blocked(tmp_path: Path, how: str) -> None:
    lines = journal(tmp_path, how)
    found = monitor.findings(monitor.parse_reports(monitor.journal_entries(lines)), THRESHOLD)
    assert found["reports"] == sum(monitor.BLOCKED_MARK in line for line in lines) >= 2
    (block,) = found["blocks"]  # consecutive reports of one greenlet: one block
    assert block["reports"] == found["reports"]
    assert block["at_least_s"] == pytest.approx(found["reports"] * THRESHOLD)
    assert "view" in block["greenlet"] and block["at"] is not None
    (stack,) = found["stacks"]
    *_, outer, inner = stack
    assert (outer["function"], outer["code"]) == ("view", "query()")
    call = "libc.usleep(" if how == "c" else "time.sleep("
    assert inner["file"].endswith("blockapp.py") and inner["function"] == "query"
    assert inner["code"].startswith(call)


def test_a_cooperative_wait_is_not_reported(tmp_path: Path) -> None:
    found = monitor.findings(monitor.parse_reports(monitor.journal_entries(journal(tmp_path, "none"))), THRESHOLD)
    assert (found["reports"], found["blocks"], found["stacks"]) == (0, [], [])


def report(at: float, greenlet: str, line: int) -> list[tuple[float, str]]:
    lines = ["=" * 80, "", f"2026-12-07T05:16:08Z : Greenlet {greenlet} appears to be blocked",
             "    Reported by <tracer>", "Blocked Stack (for thread id 0x1):",
             '  File "/srv/app/benchapp/db.py", line 7, in query', f"    step{line}()", "", "Info:",
             '  File "/usr/lib/python3.11/threading.py", line 1, in run', "    x()"]
    return [(at, text) for text in lines]


def test_blocks_are_split_by_greenlet_and_by_a_gap_and_stacks_are_shared() -> None:
    entries = [*report(0.0, "<g1>", 1), *report(0.11, "<g1>", 1),   # one block of two reports
               *report(0.5, "<g1>", 1),                              # a gap: another block
               *report(0.61, "<g2>", 2),                             # another greenlet
               (0.62, "[pid: 7|app: 0] GET /db => 200"),             # the server's own line between
               *report(0.72, "<g2>", 2)]
    found = monitor.findings(monitor.parse_reports(entries), THRESHOLD)
    assert found["reports"] == 5
    assert [(b["greenlet"], b["reports"], b["stack"]) for b in found["blocks"]] == [
        ("<g1>", 2, 0), ("<g1>", 1, 0), ("<g2>", 2, 1)]
    assert [s[-1]["code"] for s in found["stacks"]] == ["step1()", "step2()"]


def test_the_file_is_capped_but_the_count_stays_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor, "MAX_BLOCKS", 3)
    monkeypatch.setattr(monitor, "MAX_STACKS", 2)
    entries = [e for i in range(6) for e in report(i * 1.0, f"<g{i}>", i)]
    found = monitor.findings(monitor.parse_reports(entries), THRESHOLD)
    assert (found["reports"], len(found["blocks"]), found["dropped_reports"]) == (6, 3, 3)
    assert (len(found["stacks"]), found["dropped_stacks"]) == (2, 4)
    assert [b["stack"] for b in found["blocks"]] == [0, 1, None]


def test_the_patch_line_and_a_message_that_is_not_utf8() -> None:
    lines = [json.dumps({"MESSAGE": [0xff, 0x41]}), "not json",
             json.dumps({"MESSAGE": monitor.PATCH_MARK + '{"patched": {"ssl": false}, "warnings": ["w"]}'})]
    entries = list(monitor.journal_entries(lines))
    assert entries[:2] == [(None, "\ufffdA"), (None, "not json")]
    assert monitor.patch_state(entries) == {"patched": {"ssl": False}, "warnings": ["w"]}
