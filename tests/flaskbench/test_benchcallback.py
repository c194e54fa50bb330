"""The bench's callback: a progress line per finished run, the report as plain lines, and a clean-up only
after an interrupted bench."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchrun import ROOT
from flaskbench import benchcallback

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def load_callback():
    return benchcallback


class Shown:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def display(self, msg: str, **_: object) -> None:
        self.lines.append(msg)


def ok(result: dict) -> SimpleNamespace:
    return SimpleNamespace(_result=result, _task=SimpleNamespace(get_name=lambda: "a task"))


@pytest.fixture()
def callback(tmp_path: Path):
    module = load_callback()
    cb = module.CallbackModule()
    cb._display = Shown()
    return module, cb


RUNS = [
    {"name": "uwsgi-tuned", "mode": "uwsgi", "profile": "tuned", "client": "ab", "c": 200, "delay": 1, "expect": None},
    {"name": "uwsgi-tuned-wrk", "mode": "uwsgi", "profile": "tuned", "client": "wrk", "c": 200, "delay": 1,
     "expect": None},
    {"name": "grpc-gevent-noinit-seed", "mode": "grpc-gevent-noinit", "profile": "seed", "client": "ab", "c": 10,
     "delay": 1, "expect": "hang"},
    {"name": "uwsgi-tuned-rate400", "mode": "uwsgi", "profile": "tuned", "client": "rate", "rate": 400.0,
     "c": 1600, "delay": 1, "expect": None},
]


def start_bench(cb, tmp_path: Path, total: int = 3) -> Path:
    """The facts of bench's "Name this run", then the controller's plan.json being written."""
    run_dir = tmp_path / "20261202T000000Z"
    run_dir.mkdir()
    (run_dir / "plan.json").write_text(json.dumps({"runs": RUNS}))
    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_run_id": run_dir.name, "bench_runs_total": str(total)}}))
    cb.v2_runner_on_ok(ok({"dest": str(run_dir / "plan.json"), "changed": True}))
    # the copy to the hosts has the same tail: it must not move the results folder
    cb.v2_runner_on_ok(ok({"dest": f"/var/tmp/flaskbench-bench/{run_dir.name}/plan.json"}))
    return run_dir


def poll(*entries: dict) -> SimpleNamespace:
    """An item of bench's "Follow the runs": progress.jsonl as it stood (raw: cat)."""
    return ok({"stdout": "".join(json.dumps(e) + "\n" for e in entries), "rc": 0})


def part(rps: float, p99: float, failed: int = 0, complete: int = 2000) -> dict:
    return {"rps": rps, "p99_ms": p99, "failed": failed, "complete": complete}


def test_a_line_per_finished_run_as_the_poll_sees_it(callback, tmp_path: Path) -> None:
    _, cb = callback
    start_bench(cb, tmp_path)
    first = {"index": 0, "name": "uwsgi-tuned", "error": None, "parts": {"lg1": part(177.5, 1131)}}
    cb.v2_runner_item_on_ok(poll())                      # nothing finished yet
    cb.v2_runner_item_on_ok(poll(first))
    cb.v2_runner_item_on_ok(poll(first))                 # seen already: no second line
    assert cb._display.lines == ["[1/3] uwsgi tuned c=200 (ab): 177.5 req/s (88.8% of ideal), p99 1131 ms, 0 failed, "
                                 "about 1 min left"]
    # two load hosts: their req/s and failures add up, p99 is the worse one, a lower bound (≥) with failures
    second = {"index": 1, "name": "uwsgi-tuned-wrk", "error": None,
              "parts": {"lg1": part(80.0, 1100, failed=1), "lg2": part(90.0, 1200, failed=2)}}
    cb.v2_runner_item_on_ok(poll(first, second))
    assert cb._display.lines[1].startswith("[2/3] uwsgi tuned c=200 (wrk): 170.0 req/s (85.0% of ideal), "
                                           "p99 ≥1200 ms, 3 failed")


def test_the_non_2xx_codes_follow_the_failures(callback, tmp_path: Path) -> None:
    """wrk's and rate's status_counts, added up over the load hosts; ab has none."""
    _, cb = callback
    start_bench(cb, tmp_path)
    lg1 = {**part(80.0, 1100, failed=3), "status_counts": {"200": 1997, "502": 2, "503": 1}}
    lg2 = {**part(90.0, 1200, failed=4), "status_counts": {"200": 1997, "502": 3}}  # and 1 socket error
    cb.v2_runner_item_on_ok(poll({"index": 1, "name": "uwsgi-tuned-wrk", "error": None,
                                  "parts": {"lg1": lg1, "lg2": lg2}},
                                 {"index": 0, "name": "uwsgi-tuned", "error": None,
                                  "parts": {"lg1": {**part(177.5, 1131, failed=2), "status_counts": None}}}))
    assert cb._display.lines[0].startswith("[1/3] uwsgi tuned c=200 (wrk): 170.0 req/s (85.0% of ideal), "
                                           "p99 ≥1200 ms, 7 failed (502 × 5, 503 × 1), about")
    assert cb._display.lines[1].startswith("[2/3] uwsgi tuned c=200 (ab): 177.5 req/s (88.8% of ideal), "
                                           "p99 ≥1131 ms, 2 failed, about")


def test_a_rate_run_reads_against_its_schedule(callback, tmp_path: Path) -> None:
    _, cb = callback
    start_bench(cb, tmp_path, total=4)
    cb.v2_runner_item_on_ok(poll({"index": 3, "name": "uwsgi-tuned-rate400", "error": None,
                                  "parts": {"lg1": part(380.0, 1480.5, complete=4000)}}))
    assert cb._display.lines[0].startswith("[1/4] uwsgi tuned rate=400/s (rate): 380.0 req/s (95.0% of the rate), "
                                           "p99 1480 ms, 0 failed")


def test_an_expected_failure_and_an_error_read_as_such(callback, tmp_path: Path) -> None:
    _, cb = callback
    start_bench(cb, tmp_path)
    cb.v2_runner_item_on_ok(poll({"index": 2, "name": "grpc-gevent-noinit-seed", "error": None,
                             "parts": {"lg1": part(0, None, failed=10, complete=0)}},
                            {"index": 0, "name": "uwsgi-tuned", "error": "switch: uwsgi did not answer /healthz"}))
    assert cb._display.lines[0].startswith("[1/3] grpc-gevent-noinit seed c=10 (ab): expected hang: 0 answered, 10 failed")
    assert cb._display.lines[1].startswith("[2/3] uwsgi tuned c=200 (ab): error: switch: uwsgi did not answer /healthz")


def test_a_user_apps_run_names_its_route_and_has_no_ideal(callback, tmp_path: Path) -> None:
    """bench.yml -e app=DIR: no delay, so no % of ideal (nor of the rate); the route names the run."""
    _, cb = callback
    run_dir = start_bench(cb, tmp_path, total=2)
    app = {"name": "shop", "spec_sha": "0" * 16}
    runs = [{"name": "uwsgi-tuned-wrk-order", "mode": "uwsgi", "profile": "tuned", "client": "wrk", "c": 10,
             "delay": None, "expect": None, "route": "order", "app": app},
            {"name": "uwsgi-tuned-rate50-mix", "mode": "uwsgi", "profile": "tuned", "client": "rate", "rate": 50.0,
             "c": 80, "delay": None, "expect": None, "route": "mix", "app": app}]
    (run_dir / "plan.json").write_text(json.dumps({"runs": runs}))
    cb.v2_runner_item_on_ok(poll({"index": 0, "name": "uwsgi-tuned-wrk-order", "error": None,
                                  "parts": {"lg1": {**part(900.0, 12, failed=1),
                                                    "status_counts": {"201": 1999, "500": 1}}}},
                                 {"index": 1, "name": "uwsgi-tuned-rate50-mix", "error": None,
                                  "parts": {"lg1": part(50.0, 20)}}))
    assert cb._display.lines[0].startswith("[1/2] uwsgi tuned order c=10 (wrk): 900.0 req/s, p99 ≥12 ms, 1 failed "
                                           "(answers 201 × 1999, 500 × 1)")
    assert cb._display.lines[1].startswith("[2/2] uwsgi tuned mix rate=50/s (rate): 50.0 req/s, p99 20 ms, 0 failed")


def test_a_line_without_figures_still_counts(callback, tmp_path: Path) -> None:
    _, cb = callback
    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_run_id": "r", "bench_runs_total": 3}}))
    cb.v2_runner_item_on_ok(poll({"index": 0, "name": "x-tuned", "error": None, "parts": {}}))  # no plan.json known
    [line] = cb._display.lines
    assert line.startswith("[1/3] x-tuned (no figures")


def test_the_clean_up_runs_only_for_an_interrupted_unreleased_bench(callback, monkeypatch) -> None:
    module, cb = callback
    started = []
    monkeypatch.setattr(module.subprocess, "Popen", lambda argv, **kw: started.append(argv) or SimpleNamespace(
        wait=lambda timeout: 0))
    handler = cb._on_signal(signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)  # no bench yet: only Ansible's own interruption
    cb._clean_up()
    assert started == []

    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_run_id": "R1", "bench_runs_total": 1}}))
    with pytest.raises(KeyboardInterrupt):
        cb._on_signal(signal.SIG_DFL)(signal.SIGTERM, None)
    cb._clean_up()
    cb._clean_up()  # once only
    assert len(started) == 1 and started[0][1].endswith("playbooks/bench_stop.yml")
    assert "bench_stop_run_id=R1" in started[0]

    cb2 = module.CallbackModule()
    cb2._display = Shown()
    cb2.v2_runner_on_ok(ok({"ansible_facts": {"bench_run_id": "R2", "bench_runs_total": 1}}))
    cb2.v2_runner_on_ok(ok({"cmd": ["/usr/local/sbin/flaskbench-mode", "unlock", "R2"]}))  # released
    with pytest.raises(KeyboardInterrupt):
        cb2._on_signal(signal.default_int_handler)(signal.SIGINT, None)
    cb2._clean_up()
    assert len(started) == 1


# -- the report ---------------------------------------------------------------------------------

#: A report as benchreport prints it: quotes, a line that starts like a list item, a 150-column table line.
TABLE_LINE = "  " + "  ".join(f"mode-{k:02d}/tuned {k * 11.5:9.2f}" for k in range(6)).ljust(148, "-")
REPORT = ["In short (2 runs of 2 modes):", "  best by req/s  c=200: uwsgi-gevent/tuned 95.7% of ideal, 191.44 req/s",
          "", 'Bench run "sweep": the \'modes\'', "- a line that looks like a list item", TABLE_LINE]


def report_task(stdout: str, run_dir: str) -> SimpleNamespace:
    """bench's "Turn the raw results into the report" as it ends (its marker var, its command and stdout)."""
    return SimpleNamespace(
        _result={"changed": True, "rc": 0, "stdout": stdout, "stderr": "",
                 "cmd": ["/venv/bin/python", "-m", "benchreport", run_dir]},
        _task=SimpleNamespace(get_name=lambda: "bench : Turn the raw results into the report",
                              vars={"bench_callback_prints_stdout": True}))


def test_the_report_is_printed_as_plain_lines(callback, tmp_path: Path) -> None:
    """Exactly benchreport's lines: unquoted, no "- " before them, a 150-column line in one piece."""
    _, cb = callback
    assert len(TABLE_LINE) == 150
    run_dir = str(start_bench(cb, tmp_path))
    cb.v2_runner_on_ok(report_task("\n".join(REPORT), run_dir))
    assert cb._display.lines == [*REPORT, "", f"Results: {run_dir} (results/latest)"]
    # another task's stdout (the same shape, no marker) is not a report
    cb.v2_runner_on_ok(ok({"stdout": "In short (1 run of 1 mode):", "cmd": ["true"]}))
    assert len(cb._display.lines) == len(REPORT) + 2


def test_the_callback_tells_the_play_it_prints_the_report(callback) -> None:
    """report.yml's debug fallback runs only when this play var is absent (no callback: a user's ansible.cfg)."""
    module, cb = callback
    play = SimpleNamespace(vars={"bench_app": "fb-app"})
    cb.v2_playbook_on_play_start(play)
    assert play.vars == {"bench_app": "fb-app", module.PRESENT_VAR: True}
    tasks = (ROOT / "roles" / "bench" / "tasks" / "report.yml").read_text()
    assert f"when: not ({module.PRESENT_VAR} | default(false))" in tasks
    assert f"{module.PRINT_MARKER}: true" in tasks


def run_report_play(tmp_path: Path, run_dir: Path, callbacks: str | None) -> str:
    """roles/bench/tasks/report.yml on localhost through ansible-playbook with the repository's ansible.cfg,
    its callbacks, or `callbacks` instead; the output."""
    if not PLAYBOOK.exists():
        pytest.fail(f"{PLAYBOOK} not found: run `make venv`")
    play = tmp_path / "report.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  vars: {bench_app_host: localhost, ansible_python_interpreter: '{{ ansible_playbook_python }}'}\n"
        "  tasks:\n    - ansible.builtin.include_role: {name: bench, tasks_from: report.yml}\n")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CALLBACKS_ENABLED"}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    if callbacks is not None:
        env["ANSIBLE_CALLBACKS_ENABLED"] = callbacks
    result = subprocess.run(
        [str(PLAYBOOK), "-i", "localhost,", str(play), "-e", f"bench_results_dir={run_dir.parent}",
         "-e", f"bench_run_id={run_dir.name}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_a_bench_prints_the_report_as_benchreport_does_and_without_the_callback_a_debug_list(tmp_path):
    """End to end through Ansible: with the callback (ansible.cfg's), benchreport's output line for line
    and the debug task skipped; with the callback not enabled, the report is still there, as the debug list."""
    run_dir = tmp_path / "results" / "sweep"
    shutil.copytree(ROOT / "tests" / "data" / "benchreport" / "wrk-sweep", run_dir,
                    ignore=shutil.ignore_patterns("README.md"))
    out = run_report_play(tmp_path, run_dir, None).splitlines()
    report = subprocess.run([sys.executable, "-m", "benchreport", str(run_dir)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=True).stdout.splitlines()
    assert max(len(line) for line in report) > 80  # a table line wider than Ansible's debug would keep
    start = out.index(report[0])
    assert out[start:start + len(report) + 2] == [*report, "", f"Results: {run_dir} (results/latest)"]
    [shown] = [k for k, line in enumerate(out) if line.startswith("TASK [bench : Show the report (without")]
    assert "skipping: [localhost]" in out[shown + 1:shown + 4]

    out = run_report_play(tmp_path, run_dir, "ansible.posix.profile_tasks")
    assert report[0] not in out.splitlines()  # no plain lines: Ansible's own output, the debug list
    assert "In short (12 runs of 2 modes" in out and "msg:" in out and "(results/latest)" in out
