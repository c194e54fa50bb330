"""The bench's report play with thresholds (roles/bench/tasks/report.yml): the report is written, then the play's
last task fails naming each failed threshold with its figure; with every threshold passed, the play passes.

Run on localhost through ansible-playbook with the repository's ansible.cfg, on a copy of the recorded sweep
tests/data/benchreport/wrk-sweep holding a thresholds.yml, as bench.yml's app host play leaves it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchrun import DATA, ROOT

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
LAST = "TASK [bench : Fail when a mode could not be benchmarked or a threshold failed]"


def report_play(tmp_path: Path, thresholds: str) -> tuple[subprocess.CompletedProcess, Path]:
    if not PLAYBOOK.exists():
        pytest.fail(f"{PLAYBOOK} not found: run `make venv`")
    run_dir = tmp_path / "results" / "20261202T135627Z"
    shutil.copytree(DATA / "wrk-sweep", run_dir, ignore=shutil.ignore_patterns("README.md"))
    (run_dir / "thresholds.yml").write_text(thresholds)
    play = tmp_path / "report.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  vars: {bench_app_host: localhost, ansible_python_interpreter: '{{ ansible_playbook_python }}'}\n"
        "  tasks:\n    - ansible.builtin.include_role: {name: bench, tasks_from: report.yml}\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    result = subprocess.run(
        [str(PLAYBOOK), "-i", "localhost,", str(play), "-e", f"bench_results_dir={run_dir.parent}",
         "-e", f"bench_run_id={run_dir.name}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return result, run_dir


def test_a_failed_threshold_fails_the_play_after_the_report(tmp_path):
    result, run_dir = report_play(tmp_path, "- p99_ms < 1500\n- {mode: granian, check: 'failed == 0'}\n")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    # the report first: printed by the callback, and its files written
    assert "  thresholds     2 of 6 failed (thresholds.yml; medians over repetitions)" in out
    assert (run_dir / "report.md").is_file() and (run_dir / "junit.xml").is_file()
    assert json.loads((run_dir / "bench.json").read_text())["thresholds"]["passed"] == 4
    # then the last task, naming each failed threshold with its figure
    last = out[out.index(LAST):]
    assert "fatal: [localhost]: FAILED!" in last and "TASK [" not in last[len(LAST):]
    message = " ".join(last.split())
    assert ("thresholds failed (thresholds.yml): p99_ms < 1500 at uwsgi-gevent/tuned wrk c=1000: 1715 ms, the median "
            "of 3; p99_ms < 1500 at granian/tuned wrk c=1000: 19238 ms, the median of 3") in message
    assert "these runs failed" not in message


def test_thresholds_that_pass_let_the_play_pass(tmp_path):
    result, run_dir = report_play(tmp_path, "- {client: wrk, check: 'p99_ms < 20000'}\n- failed == 0\n")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "  thresholds     all 8 passed (thresholds.yml; medians over repetitions)" in out
    assert "skipping: [localhost]" in out[out.index(LAST):]
