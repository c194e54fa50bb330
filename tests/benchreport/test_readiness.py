"""benchreport.readiness: gevent readiness per gevent mode and route, from the runs' monitor.json
(benchhost.monitor's), in report.md and the terminal's short version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchhost import monitor
from benchreport import model, readiness, render, short
from benchreport.summary import build_summary
from benchrun import ROOT, edit_json, write_json

SAMPLE = ROOT / "tests" / "data" / "benchreport" / "run-sample"
MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"
VENV = "/opt/flaskbench/venv/lib/python3.11/site-packages"
PATCHED = {"patched": {name: True for name in ("socket", "ssl", "time", "dns")}, "warnings": []}
#: psycopg2's stack as the monitor reports it: the app's line last (cursor.execute blocks in C).
DB_STACK = [{"file": f"{VENV}/flask/app.py", "line": 880, "function": "dispatch_request",
             "code": "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)"},
            {"file": f"{VENV}/benchapp/app.py", "line": 120, "function": "db", "code": "rows = db.query(delay)"},
            {"file": f"{VENV}/benchapp/db.py", "line": 41, "function": "query", "code": "cur.execute(SQL, (delay,))"}]
#: an unpatched socket read inside urllib3: the app's line and the library call that blocked
HTTP_STACK = [{"file": f"{VENV}/benchapp/upstream.py", "line": 30, "function": "fetch", "code": "pool.request()"},
              {"file": "/usr/lib/python3.11/socket.py", "line": 706, "function": "readinto",
               "code": "return self._sock.recv_into(b)"}]


def found(blocks: list[tuple[int, int]], stacks: list[list[dict]], patch: dict | None = PATCHED) -> dict:
    """A monitor.json: blocks as (reports, stack index)."""
    return {"schema": monitor.SCHEMA, "threshold_s": 0.1, "reports": sum(n for n, _ in blocks),
            "blocks": [{"at": 1.0 + i, "reports": n, "at_least_s": round(n * 0.1, 3), "greenlet": "<g>", "stack": s}
                       for i, (n, s) in enumerate(blocks)],
            "stacks": stacks, "dropped_reports": 0, "dropped_stacks": 0, "patch": patch, "error": None}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "20261207T050000Z"
    shutil.copytree(SAMPLE, dest)
    for run in ("psycopg2-seed", "psycogreen-seed"):  # requests answered (the sample's gevent runs have none)
        for name in ("ab.txt", "ab.err", "loadgen.json", "server.json"):
            shutil.copyfile(dest / "uwsgi-tuned" / name, dest / run / name)
    return dest


def monitored(run_dir: Path, name: str, data: dict | None) -> None:
    edit_json(run_dir / name / "run.json", monitor=True, route="/db")
    edit_json(run_dir / name / "outcome.json", blocked=None if data is None else data.get("reports"))
    if data is not None:
        write_json(run_dir / name / monitor.MONITOR_FILE, data)


def records(run_dir: Path) -> list[model.Record]:
    return model.records(build_summary(run_dir, load_modes(MODES_FILE)))


def test_call_sites_are_the_apps_line_and_the_library_call_inside_it() -> None:
    assert readiness.call_site(DB_STACK) == ("benchapp/db.py:41 in query: cur.execute(SQL, (delay,))", None)
    assert readiness.call_site(HTTP_STACK) == ("benchapp/upstream.py:30 in fetch: pool.request()",
                                               "socket.py:706 in readinto: return self._sock.recv_into(b)")
    assert readiness.call_site([]) == ("(no Python frame in the report)", None)


def test_blocking_in_c_is_not_safe_and_the_cooperative_driver_is_safe(run_dir: Path) -> None:
    monitored(run_dir, "psycopg2-seed", found([(3, 0), (1, 0), (2, 1)], [DB_STACK, HTTP_STACK]))
    monitored(run_dir, "psycogreen-seed", found([], []))
    recs = records(run_dir)
    by_mode = {v.mode: v for v in readiness.verdicts(recs)}
    assert set(by_mode) == {"psycopg2", "psycogreen"}  # the gevent modes of the sample

    bad = by_mode["psycopg2"]
    assert (bad.verdict, bad.route, bad.blocks, bad.reports, bad.longest_s) == ("not safe", "/db", 3, 6, 0.3)
    assert readiness.site_lines(bad) == [
        "benchapp/db.py:41 in query: cur.execute(SQL, (delay,)): 2 block(s), the longest at least 0.3 s",
        "benchapp/upstream.py:30 in fetch: pool.request() (blocked in socket.py:706 in readinto: "
        "return self._sock.recv_into(b)): 1 block(s), the longest at least 0.2 s"]
    assert bad.why.startswith("the hub was blocked over 0.1 s 3 time(s) (6 monitor reports, the longest at least")
    good = by_mode["psycogreen"]
    assert (good.verdict, good.sites) == ("safe", [])
    assert good.why.startswith("no block over 0.1 s in 1 monitored run(s) (")

    md = render.markdown(recs, run_dir.name)
    section = md[md.index("## gevent readiness"):]
    assert "- **psycopg2** `/db`: **not safe**: the hub was blocked" in section
    assert "  - `benchapp/db.py:41 in query: cur.execute(SQL, (delay,)): 2 block(s)" in section
    assert "- **psycogreen** `/db`: **safe**: no block over 0.1 s" in section
    terminal = "\n".join(short.lines(recs, None))
    assert "gevent readiness" in terminal
    assert ("psycopg2 /db: not safe: benchapp/db.py:41 in query: cur.execute(SQL, (delay,)): 2 block(s), the "
            "longest at least 0.3 s (and 1 more sites)") in terminal
    assert "psycogreen /db: safe" in terminal


def test_unmonitored_or_untold_is_unknown_with_what_to_run(run_dir: Path) -> None:
    by_mode = {v.mode: v for v in readiness.verdicts(records(run_dir))}
    assert by_mode["psycopg2"].verdict == "unknown"
    assert "`ansible-playbook bench.yml -e mode=psycopg2 -e monitor=true`" in by_mode["psycopg2"].why
    monitored(run_dir, "psycopg2-seed", None)  # monitored, but no monitor.json
    monitored(run_dir, "psycogreen-seed", found([], [], patch=None))  # no patch line from the app
    by_mode = {v.mode: v for v in readiness.verdicts(records(run_dir))}
    assert by_mode["psycopg2"].verdict == "unknown" and "no monitor.json" in by_mode["psycopg2"].why
    assert by_mode["psycogreen"].verdict == "unknown" and "did not say what gevent patched" in by_mode["psycogreen"].why


def test_a_module_left_unpatched_or_a_warning_is_not_safe(run_dir: Path) -> None:
    patch = {"patched": {**PATCHED["patched"], "ssl": False}, "warnings": ["Monkey-patching ssl after ssl ..."]}
    monitored(run_dir, "psycogreen-seed", found([], [], patch=patch))
    (v,) = [v for v in readiness.verdicts(records(run_dir)) if v.mode == "psycogreen"]
    assert (v.verdict, v.unpatched, v.blocks) == ("not safe", ["ssl"], 0)
    assert "gevent.monkey left unpatched: ssl" in v.why and "warned (1)" in v.why


def test_no_gevent_mode_no_section(run_dir: Path) -> None:
    recs = [r for r in records(run_dir) if r.group != "gevent"]
    assert readiness.verdicts(recs) == [] and "gevent readiness" not in render.markdown(recs, run_dir.name)


def test_a_driver_that_waits_in_c_is_named_when_the_monitor_saw_nothing_past_its_threshold(run_dir: Path) -> None:
    """psycopg2 without a wait callback: safe by the monitor (no wait past 0.1 s), with the caution;
    with blocks, the driver is named among the causes."""
    psycopg2 = "psycopg2 (no wait callback: psycogreen's patch_psycopg() sets one)"
    monitored(run_dir, "psycogreen-seed", found([], [], patch={**PATCHED, "drivers": [psycopg2]}))
    monitored(run_dir, "psycopg2-seed", found([(2, 0)], [DB_STACK], patch={**PATCHED, "drivers": [psycopg2]}))
    by_mode = {v.mode: v for v in readiness.verdicts(records(run_dir))}
    quiet, blocked = by_mode["psycogreen"], by_mode["psycopg2"]
    assert (quiet.verdict, quiet.drivers) == ("safe", [psycopg2])
    assert quiet.why.endswith(f"; but it loaded {psycopg2}: each of its waits holds the hub, none past 0.1 s here "
                              "(a slower query would block every request of the process)")
    assert blocked.verdict == "not safe" and f"; it loaded {psycopg2} in 1 monitored run(s)" in blocked.why
    monitored(run_dir, "psycogreen-seed", found([], [], patch={**PATCHED, "drivers": []}))
    quiet = {v.mode: v for v in readiness.verdicts(records(run_dir))}["psycogreen"]
    assert quiet.verdict == "safe" and "loaded" not in quiet.why


def test_a_block_while_a_worker_imports_the_app_is_not_counted(run_dir: Path) -> None:
    """gevent-pywsgi's and Gunicorn's workers import the app after the fork, before they accept: a block
    there (importlib's frames in the stack) holds no request."""
    importing = [{"file": f"{VENV}/shop/models.py", "line": 7, "function": "<module>",
                  "code": "from flask_sqlalchemy import SQLAlchemy"},
                 {"file": "<frozen importlib._bootstrap_external>", "line": 147, "function": "_path_stat",
                  "code": None}]
    monitored(run_dir, "psycogreen-seed", found([(6, 0)], [importing]))
    monitored(run_dir, "psycopg2-seed", found([(6, 0), (2, 1)], [importing, DB_STACK]))
    by_mode = {v.mode: v for v in readiness.verdicts(records(run_dir))}
    quiet, blocked = by_mode["psycogreen"], by_mode["psycopg2"]
    assert (quiet.verdict, quiet.blocks, quiet.reports, quiet.at_import) == ("safe", 0, 0, 1)
    assert quiet.why.endswith("; 1 block(s) while a worker imported the app, before it served, not counted")
    assert (blocked.verdict, blocked.blocks, blocked.reports, blocked.at_import) == ("not safe", 1, 2, 1)
    assert [s["site"] for s in blocked.sites] == ["benchapp/db.py:41 in query: cur.execute(SQL, (delay,))"]
    # the table's "hub blocks": the monitor's reports while serving (8 - 6, and 6 - 6)
    rows = {line.split(" | ")[0].strip("| ") + "-" + line.split(" | ")[1]: line
            for line in render.markdown_table(records(run_dir)).splitlines()[2:]}
    assert rows["psycopg2-seed"].endswith("| 2 |") and rows["psycogreen-seed"].endswith("| 0 |")
