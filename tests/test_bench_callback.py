"""The bench's callback: a progress line per finished run, and a clean-up only after an interrupted bench."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchrun import load_module

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "benchreport" / "clients-run"


def load_callback():
    return load_module(ROOT / "plugins" / "callback" / "flaskbench_bench.py", "flaskbench_bench_cb")


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


def test_a_line_per_finished_run_with_its_figures(callback, tmp_path: Path) -> None:
    _, cb = callback
    run_dir = tmp_path / "20261202T000000Z"
    shutil.copytree(DATA, run_dir)
    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_run_id": run_dir.name, "bench_runs_total": "2"}}))
    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_local": str(run_dir / "uwsgi-tuned")}}))
    cb.v2_runner_on_ok(ok({"dest": str(run_dir / "uwsgi-tuned" / "outcome.json")}))
    cb.v2_runner_on_ok(ok({"dest": str(run_dir / "uwsgi-tuned-wrk" / "outcome.json")}))
    first, second = cb._display.lines
    assert first.startswith("[1/2] uwsgi tuned c=") and " req/s (" in first and "% of ideal), p99 " in first
    assert first.endswith("min left")
    assert second.startswith("[2/2] uwsgi tuned c=") and "(wrk)" in second and "left" not in second


def test_an_expected_failure_reads_as_expected(callback, tmp_path: Path, monkeypatch) -> None:
    module, cb = callback
    import benchreport.summary as summary

    class Rec:
        def as_dict(self) -> dict:
            return {"mode": "grpc-gevent-noinit", "profile": "seed", "c": 10, "client": "ab", "expected": "hang",
                    "as_expected": True, "error": "ab timed out"}
    monkeypatch.setattr(summary, "build_record", lambda *a, **k: Rec())
    cb.results_dir = tmp_path
    assert cb._figures("grpc-gevent-noinit-seed") == "grpc-gevent-noinit seed c=10 (ab): hang, as expected"


def test_a_run_without_its_files_still_gets_a_line(callback, tmp_path: Path) -> None:
    _, cb = callback
    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_run_id": "r", "bench_runs_total": 3}}))
    cb.v2_runner_on_ok(ok({"ansible_facts": {"bench_local": str(tmp_path / "r" / "x-tuned")}}))
    cb.v2_runner_on_ok(ok({"dest": str(tmp_path / "r" / "x-tuned" / "outcome.json")}))
    [line] = cb._display.lines
    assert line.startswith("[1/3] ")


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
