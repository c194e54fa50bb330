"""The bench's load share (timing.json, written by benchreport.collect) in report.md, the printed text and bench.json."""

from __future__ import annotations

import json
import shutil

from benchreport import collect, render
from benchreport.__main__ import main as cli_main
from benchreport.runfiles import Timing
from planfiles import CLIENTS_RUN, bench_hosts, make_plan, plan_run, read_json, results_for, write_json


def test_timing_line():
    timing = {"load_s": 120.4, "wall_s": 300.2, "load_share": 0.401, "runs_planned": 12, "runs_done": 10,
              "interrupted": "SIGTERM"}
    assert render.timing_line(Timing(timing)) == "load 120 s of 300 s wall (40%); 10 of 12 runs done; interrupted (SIGTERM)"
    assert render.timing_line(Timing({"load_s": 4.0, "wall_s": 8.0})) == "load 4.0 s of 8.0 s wall (50%)"
    for bad in (None, {}, {"load_s": 4.0, "wall_s": None}, {"load_s": "4", "wall_s": 8}, {"load_s": 1, "wall_s": 0}):
        assert render.timing_line(None if bad is None else Timing(bad)) is None


def test_the_load_share_is_printed_and_written(tmp_path, capsys):
    sources = {"uwsgi-tuned": {"fb-loadgen": CLIENTS_RUN / "uwsgi-tuned"},
               "uwsgi-tuned-wrk": {"fb-loadgen": CLIENTS_RUN / "uwsgi-tuned-wrk"}}
    plan = make_plan([plan_run(name, by) for name, by in sources.items()], ["fb-loadgen"])
    run_dir = results_for(tmp_path, plan, bench_hosts(tmp_path / "hosts", plan, sources))
    assert collect.collect(run_dir) == 0
    timing = read_json(run_dir / "timing.json")
    timing.update(collected_at=plan["created_at"] + 16.0, wall_s=16.0, load_share=0.25)  # a fixed wall time
    write_json(run_dir / "timing.json", timing)
    capsys.readouterr()
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    out = capsys.readouterr().out
    line = "load 4.0 s of 16 s wall (25%); 2 of 2 runs done"
    lines = out.splitlines()
    named = next(i for i, text in enumerate(lines) if text.startswith("Bench run "))  # after the short version
    assert lines[named + 1] == f"Bench time: {line}"  # right under the run's name
    md = (run_dir / "report.md").read_text()
    head = md.split("| mode |")[0]  # the header area, before the table
    assert f"Bench time: {line}" in head
    bench = read_json(run_dir / "bench.json")
    assert bench == {"schema": 1, "run_id": run_dir.name, "timing": timing}
    assert isinstance(json.loads((run_dir / "summary.json").read_text()), list)  # its format unchanged


def test_without_timing_json_nothing_is_said(tmp_path, capsys):
    run_dir = tmp_path / "r"
    shutil.copytree(CLIENTS_RUN / "uwsgi-tuned", run_dir / "uwsgi-tuned")
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    assert "Bench time" not in capsys.readouterr().out
    assert "Bench time" not in (run_dir / "report.md").read_text()
    assert read_json(run_dir / "bench.json")["timing"] is None
    (run_dir / "timing.json").write_text("{not json")
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    assert "timing.json unreadable" in capsys.readouterr().err
