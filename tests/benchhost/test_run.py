"""benchhost.run, the plan runner: the app and load runners on loopback, with the real clients.

Each test writes a plan.json; the runners run the real clients (benchhost.clients),
a fake sampler (--sampler: it writes server.json when stopped), a fake mode
command and a fake journalctl (each records its argv); tests/httpserver.py is
the app. The runners are started with `python -S -m benchhost.run` (no
site-packages: the hosts' system Python has only the stdlib), and every wait
here is bounded.
"""

from __future__ import annotations

import http.client
import json
import signal
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from benchhost import run as runner_program
from benchrun import ROOT
from httpserver import Server, closed_port
from planrunners import (TOKEN, Runners, calls, long_run, processes_under, progress, read, run_entry,
                         wait_for_the_client, wait_until, write_plan)


def request(port: int, method: str, path: str, token: str | None = TOKEN, body: dict | None = None
            ) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {} if token is None else {"X-Flaskbench-Token": token}
        conn.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_one_load_host_runs_ab_then_wrk(tmp_path: Path, scripts: Path, server: Server, runners: Runners) -> None:
    runs = [run_entry(server, tmp_path.name, "r-ab"),
            run_entry(server, tmp_path.name, "r-wrk", client="wrk", monitor=True)]
    plan = write_plan(tmp_path / "plan", scripts, runs)
    app = runners.start(plan, "app", "--linger", "0.3", "--journalctl", str(scripts / "journalctl"))
    load = runners.start(plan, "load", "--host", "lg1")
    assert runners.finish(load)[0] == 0
    rc, log = runners.finish(app)
    assert rc == 0, log

    lines = progress(plan)
    assert [line.get("name") for line in lines] == ["r-ab", "r-wrk", None]
    assert lines[-1] == {"finished": True, "runs": 2}
    for i, line in enumerate(lines[:2]):
        assert line["index"] == i and line["error"] is None and list(line["parts"]) == ["lg1"]
        summary = line["parts"]["lg1"]
        assert set(summary) == {"rps", "failed", "complete", "p99_ms", "status_counts", "started_at", "ended_at",
                                "warning"}
        assert summary["rps"] > 0 and summary["failed"] == 0 and summary["complete"] >= 20
        assert summary["p99_ms"] is not None and summary["warning"] is None
        assert summary["started_at"] <= summary["ended_at"]
    assert lines[0]["parts"]["lg1"]["complete"] == 20
    # ab counts no codes; wrk's every answer, all 200 here
    assert lines[0]["parts"]["lg1"]["status_counts"] is None
    assert lines[1]["parts"]["lg1"]["status_counts"] == {"200": lines[1]["parts"]["lg1"]["complete"]}

    base = plan.parent
    for run, client_files in zip(runs, (("ab.txt", "ab.err", "ab.tsv", "ab.csv"), ("wrk.txt", "wrk.err", "wrk.json"))):
        app_dir, load_dir = base / "app" / run["name"], base / "load" / "lg1" / run["name"]
        assert read(app_dir / "run.json") == run
        assert read(app_dir / "server.json")["stopped_by"] == "stop-file"
        part_run = read(load_dir / "run.json")
        assert part_run == {**run, "part": {"host": "lg1", "index": 0, "of": 1}, "point": {"n": 20, "c": 2}}
        assert read(load_dir / "loadgen.json")["client"] == run["client"]
        for name in client_files:
            assert (load_dir / name).is_file(), name
    assert read(base / "app" / "r-ab" / "outcome.json") == {"error": None, "blocked": None}
    assert read(base / "app" / "r-wrk" / "outcome.json") == {"error": None, "blocked": 2}

    # 20 measured + a warm-up of min(warmup_requests, c) = 2, at delay=0
    assert server.answered(f"{tmp_path.name}-r-ab") == 22
    assert calls(scripts, "mode") == [["set", "m", "tuned", "--timeout", "60", "--quick-stop"],
                                      ["set", "m", "tuned", "--timeout", "60", "--quick-stop", "--monitor",
                                       "--monitor-max-blocking", "0.1"]]
    sampled = calls(scripts, "sample")
    assert len(sampled) == 2 and sampled[0][sampled[0].index("--max-seconds") + 1] == "155"
    journal, patch = calls(scripts, "journal")
    asked = ["--unit", "flask-test.service", "--output", "json", "--output-fields", "MESSAGE", "--no-pager"]
    assert journal[:-2] == asked and journal[-2] == "--since" and journal[-1].startswith("@")
    assert patch == [*asked, "--grep", "^flaskbench-gevent-patch: ", "--lines", "1"]
    found = read(base / "app" / "r-wrk" / "monitor.json")
    assert (found["reports"], found["error"], found["patch"]) == (2, None, {"patched": {"socket": True},
                                                                           "warnings": []})
    assert [(b["reports"], b["at_least_s"], b["stack"]) for b in found["blocks"]] == [(2, 0.2, 0)]
    assert found["stacks"] == [[{"file": "/srv/app/db.py", "line": 7, "function": "query",
                                 "code": "cur.execute(sql)"}]]
    assert not (base / "app" / "r-ab" / "monitor.json").exists()


def test_two_load_hosts_each_run_their_part(tmp_path: Path, scripts: Path, server: Server,
                                            runners: Runners) -> None:
    hosts = ("lg1", "lg2")
    runs = [run_entry(server, tmp_path.name, "r-ab", loadgens=hosts, expect="hang"),
            run_entry(server, tmp_path.name, "r-wrk", client="wrk", loadgens=hosts)]
    plan = write_plan(tmp_path / "plan", scripts, runs, loadgens=hosts)
    app = runners.start(plan, "app", "--linger", "0.3")
    loads = [runners.start(plan, "load", "--host", h) for h in hosts]
    for load in loads:
        rc, log = runners.finish(load)
        assert rc == 0, log
    assert runners.finish(app)[0] == 0

    lines = progress(plan)
    assert len(lines) == 3 and lines[-1] == {"finished": True, "runs": 2}
    for line in lines[:2]:
        assert line["error"] is None and sorted(line["parts"]) == ["lg1", "lg2"]
        for summary in line["parts"].values():
            assert summary["complete"] >= 10 and summary["failed"] == 0 and summary["rps"] > 0
    assert [s["complete"] for s in lines[0]["parts"].values()] == [10, 10]
    # expect is set: no warm-up, only the 2 x 10 measured requests
    assert server.answered(f"{tmp_path.name}-r-ab") == 20
    for k, host in enumerate(hosts):
        part_run = read(plan.parent / "load" / host / "r-ab" / "run.json")
        assert (part_run["n"], part_run["c"]) == (10, 1)
        assert part_run["part"] == {"host": host, "index": k, "of": 2}
        assert part_run["point"] == {"n": 20, "c": 2}
        assert (plan.parent / "load" / host / "r-wrk" / "wrk.json").is_file()


def test_a_rate_run_splits_its_schedule_between_the_load_hosts(tmp_path: Path, scripts: Path, server: Server,
                                                               runners: Runners) -> None:
    """client=rate: each load host schedules its part's rate over the run's duration (benchhost.clients.rate)."""
    hosts = ("lg1", "lg2")
    run = run_entry(server, tmp_path.name, "r-rate", client="rate", n=60, c=20, loadgens=hosts)
    run.update(rate=30.0, duration=2.0)
    for part in run["parts"]:
        part["rate"] = 15.0
    plan = write_plan(tmp_path / "plan", scripts, [run], loadgens=hosts)
    app = runners.start(plan, "app", "--linger", "0.3")
    loads = [runners.start(plan, "load", "--host", h) for h in hosts]
    for load in loads:
        rc, log = runners.finish(load)
        assert rc == 0, log
        assert "rate=15/s n=30" in log
    assert runners.finish(app)[0] == 0
    line = progress(plan)[0]
    assert line["error"] is None and sorted(line["parts"]) == ["lg1", "lg2"]
    for summary in line["parts"].values():
        assert summary["complete"] == 30 and summary["failed"] == 0
        assert 12 < summary["rps"] < 18 and summary["p99_ms"] >= 10
    for k, host in enumerate(hosts):
        folder = plan.parent / "load" / host / "r-rate"
        part_run = read(folder / "run.json")
        assert (part_run["n"], part_run["c"], part_run["rate"]) == (30, 10, 15.0)
        assert part_run["point"] == {"n": 60, "c": 20, "rate": 30.0}
        assert read(folder / "rate.json")["sent"] == 30
        assert read(folder / "loadgen.json")["client"] == "rate"
    # 2 x 30 scheduled + each host's warm-up of min(warmup_requests, its c) = 10
    assert server.answered(f"{tmp_path.name}-r-rate") == 80


def test_failed_runs_are_recorded_and_the_next_one_runs(tmp_path: Path, scripts: Path, server: Server,
                                                        runners: Runners) -> None:
    # a switch that fails skips its run; a client that fails (wrk needs n >= c) is the run's error
    runs = [run_entry(server, tmp_path.name, "r-broken", mode="broken"), run_entry(server, tmp_path.name, "r-ok"),
            run_entry(server, tmp_path.name, "r-wrk", client="wrk", n=1)]
    plan = write_plan(tmp_path / "plan", scripts, runs)
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1")
    assert runners.finish(load)[0] == 0
    assert runners.finish(app)[0] == 0

    lines = progress(plan)
    error = "switch: flask-broken.service did not start"
    assert lines[0] == {"index": 0, "name": "r-broken", "error": error, "parts": {}}
    assert read(plan.parent / "app" / "r-broken" / "outcome.json") == {"error": error, "blocked": None}
    assert not (plan.parent / "load" / "lg1" / "r-broken").exists()
    assert server.answered(f"{tmp_path.name}-r-broken") == 0
    assert lines[1]["error"] is None and lines[1]["parts"]["lg1"]["complete"] == 20
    error = lines[2]["error"]
    assert error.startswith("loadgen lg1: benchhost.clients.wrk exit status 1: ") and "need n >= c" in error
    assert lines[2]["parts"]["lg1"]["complete"] is None
    assert read(plan.parent / "app" / "r-wrk" / "outcome.json")["error"] == error
    assert lines[3] == {"finished": True, "runs": 3}


def test_the_endpoint_wants_the_token_and_a_missing_load_host_skips_the_run(
        tmp_path: Path, scripts: Path, server: Server, runners: Runners) -> None:
    port = closed_port()
    plan = write_plan(tmp_path / "plan", scripts, [run_entry(server, tmp_path.name, "r")], port=port)
    app = runners.start(plan, "app", "--linger", "0", "--warm-wait", "3")

    def warm() -> bool:
        try:
            return request(port, "GET", "/state")[1]["phase"] == "warm"
        except OSError:
            return False
    wait_until(warm, "warm phase")
    assert request(port, "GET", "/state") == (200, {"index": 0, "phase": "warm", "start_in": None, "error": None})
    assert request(port, "GET", "/state", token="f" * 32)[0] == 403
    assert request(port, "GET", "/state", token=None)[0] == 403
    assert request(port, "POST", "/warm", token="f" * 32, body={"index": 0, "host": "lg1"})[0] == 403
    assert request(port, "GET", "/mode")[0] == 404
    assert request(port, "POST", "/warm", body={"index": 1, "host": "lg1"})[0] == 409
    assert request(port, "POST", "/done", body={"index": 0, "host": "lg1", "error": None, "summary": {}})[0] == 409
    assert request(port, "POST", "/warm", body={"index": 0, "host": "nobody"})[0] == 400

    # a load runner whose plan has another token stops at once
    other = write_plan(tmp_path / "other", scripts, [run_entry(server, tmp_path.name, "r")], port=port,
                       token="f" * 32)
    rc, log = runners.finish(runners.start(other, "load", "--host", "lg1"), timeout=10)
    assert rc == 1 and "403" in log

    rc, log = runners.finish(app)
    assert rc == 0, log
    error = "warm: no warm-up from lg1 within 3 s"
    assert progress(plan) == [{"index": 0, "name": "r", "error": error, "parts": {}},
                              {"finished": True, "runs": 1}]
    assert not (plan.parent / "app" / "r" / "server.json").exists()


def test_sigterm_to_the_app_runner_leaves_no_process(tmp_path: Path, scripts: Path, server: Server,
                                                     runners: Runners) -> None:
    plan = long_run(tmp_path, scripts, server)
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1", "--lost-after", "1")
    wait_for_the_client(plan)
    app.send_signal(signal.SIGTERM)
    assert runners.finish(app, timeout=15)[0] == 143
    assert progress(plan)[-1] == {"interrupted": "SIGTERM"}
    assert read(plan.parent / "app" / "r" / "server.json")["stopped_by"] == "SIGTERM"
    assert not (plan.parent / "app" / "r" / "outcome.json").exists()  # collect says "not run"

    # the load runner finds the endpoint gone, stops its client and exits by itself
    rc, log = runners.finish(load, timeout=15)
    assert rc == 1 and "did not answer for 1 s" in log
    assert read(plan.parent / "load" / "lg1" / "r" / "loadgen.json")["interrupted"] == "SIGTERM"
    assert processes_under(tmp_path) == []


def test_sigint_to_the_load_runner_stops_its_client(tmp_path: Path, scripts: Path, server: Server,
                                                    runners: Runners) -> None:
    plan = long_run(tmp_path, scripts, server, time_limit=3, timeout=1)
    app = runners.start(plan, "app", "--linger", "0", "--done-grace", "0")
    load = runners.start(plan, "load", "--host", "lg1")
    wait_for_the_client(plan)
    load.send_signal(signal.SIGINT)
    assert runners.finish(load, timeout=15)[0] == 130
    assert read(plan.parent / "load" / "lg1" / "r" / "loadgen.json")["interrupted"] == "SIGTERM"
    assert processes_under(tmp_path / "plan" / "load") == []
    # the app runner waits for the part's result time_limit + timeout + --done-grace after go
    assert runners.finish(app, timeout=15)[0] == 0
    assert progress(plan) == [{"index": 0, "name": "r", "error": "loadgen lg1: no result within 4 s of go",
                               "parts": {}}, {"finished": True, "runs": 1}]
    assert read(plan.parent / "app" / "r" / "server.json")["stopped_by"] == "stop-file"
    assert processes_under(tmp_path) == []


def test_a_load_runner_without_endpoint_exits_by_itself(tmp_path: Path, scripts: Path, server: Server,
                                                        runners: Runners, runner_module: ModuleType) -> None:
    # the bound from the plan (lost_after); --lost-after, as the other tests use, overrides it
    plan = write_plan(tmp_path / "plan", scripts, [run_entry(server, tmp_path.name, "r")], lost_after=0.5)
    started = time.monotonic()
    rc, log = runners.finish(runners.start(plan, "load", "--host", "lg1"))
    # the message names the bound it gave up on; without the plan's, it would have waited the default
    assert rc == 1 and "did not answer for 0.5 s" in log
    assert time.monotonic() - started < runner_module.LOST_AFTER_S


def test_a_deadline_in_the_past_stops_at_once(tmp_path: Path, scripts: Path, server: Server,
                                              runners: Runners) -> None:
    plan = write_plan(tmp_path / "plan", scripts, [run_entry(server, tmp_path.name, "r")], deadline=time.time() - 1)
    for role, options in (("app", ()), ("load lg1", ("--host", "lg1"))):
        rc, log = runners.finish(runners.start(plan, role.split()[0], *options))
        # at once: its first check stops it, before any step logs (no serving, no waiting for the endpoint)
        assert rc == 124 and [line.split(" ", 1)[1] for line in log.splitlines()] == [
            f"benchhost.run {role}: stopped: deadline"], log
    assert progress(plan) == [{"interrupted": "deadline"}]
    assert calls(scripts, "mode") == []
    assert not (plan.parent / "app").exists()


def test_a_rate_run_without_a_rate_is_refused(runner_module: ModuleType, tmp_path: Path, server: Server,
                                              scripts: Path) -> None:
    run = run_entry(server, "x", "r-rate", client="rate", n=10, c=2)
    run.update(rate=0, duration="soon")
    with pytest.raises(runner_module.PlanError) as err:
        runner_module.load_plan(write_plan(tmp_path / "plan", scripts, [run]))
    assert "runs[0].rate must be above 0: 0" in str(err.value)
    assert "runs[0].duration is not a number: 'soon'" in str(err.value)
    assert "runs[0].parts[0].rate is not a number: None" in str(err.value)


def test_a_bad_plan_or_host_is_refused(tmp_path: Path, scripts: Path, server: Server, runners: Runners) -> None:
    run = run_entry(server, tmp_path.name, "r")
    run["parts"][0]["n"] = 19
    plan = write_plan(tmp_path / "plan", scripts, [run])
    rc, log = runners.finish(runners.start(plan, "app"), timeout=10)
    assert rc == 2 and "parts add up to n=19 c=2, not the run's n=20 c=2" in log
    plan = write_plan(tmp_path / "good", scripts, [run_entry(server, tmp_path.name, "r")])
    rc, log = runners.finish(runners.start(plan, "load", "--host", "lg9"), timeout=10)
    assert rc == 2 and "lg9 is not in loadgens" in log
    assert progress(plan) == []


@pytest.fixture(scope="module")
def runner_module() -> ModuleType:
    return runner_program


AB_TEXT = """\
Concurrency Level:      2
Time taken for tests:   0.111 seconds
Complete requests:      20
Failed requests:        1
   (Connect: 0, Receive: 0, Length: 1, Exceptions: 0)
Non-2xx responses:      3
Requests per second:    180.52 [#/sec] (mean)
Percentage of the requests served within a certain time (ms)
  50%     10
  99%     52
 100%     60 (longest request)
"""


def test_summaries_read_the_clients_figures(runner_module: ModuleType, tmp_path: Path) -> None:
    """The progress line's figures are the client's Result, read by its module as benchreport reads it."""
    (tmp_path / "loadgen.json").write_text(json.dumps({"started_at": "a", "ended_at": "b"}))
    assert runner_module.summarize(tmp_path, "ab") == {"rps": None, "failed": None, "complete": None, "p99_ms": None,
                                                       "status_counts": None, "started_at": "a", "ended_at": "b"}
    (tmp_path / "ab.txt").write_text("apr_socket_connect(): Connection refused (111)")
    assert runner_module.summarize(tmp_path, "ab")["rps"] is None
    (tmp_path / "ab.txt").write_text(AB_TEXT)
    assert runner_module.summarize(tmp_path, "ab") == {"rps": 180.52, "failed": 4, "complete": 20, "p99_ms": 52.0,
                                                       "status_counts": None, "started_at": "a", "ended_at": "b"}
    assert runner_module.summarize(tmp_path, "wrk") == {"rps": None, "failed": None, "complete": None,
                                                        "p99_ms": None, "status_counts": None,
                                                        "started_at": "a", "ended_at": "b"}
    wrk = {"requests": 200, "duration_us": 2_000_000, "non_2xx": 1,
           "errors": {"connect": 1, "read": 2, "write": 0, "status": 1, "timeout": 3},
           "latency_us": {"min": 1_000, "p99": 12_345, "max": 20_000}, "status_counts": {"200": 199, "502": 1}}
    (tmp_path / "wrk.json").write_text(json.dumps(wrk))
    assert runner_module.summarize(tmp_path, "wrk") == {"rps": 100.0, "failed": 7, "complete": 200, "p99_ms": 12.345,
                                                        "status_counts": {"200": 199, "502": 1},
                                                        "started_at": "a", "ended_at": "b"}
    rate = {"complete": 10, "failed": 2, "rps": 5.0, "latency_us": {"p99": 7_500}, "status_counts": {"200": 10}}
    (tmp_path / "rate.json").write_text(json.dumps(rate))
    assert runner_module.summarize(tmp_path, "rate") == {"rps": 5.0, "failed": 2, "complete": 10, "p99_ms": 7.5,
                                                         "status_counts": {"200": 10},
                                                         "started_at": "a", "ended_at": "b"}


def test_the_warm_up_asks_without_delay(runner_module: ModuleType) -> None:
    assert runner_module.warm_url("http://10.0.0.1:3000/?delay=1") == "http://10.0.0.1:3000/?delay=0"
    assert runner_module.warm_url("http://h:1/x?a=1&delay=0.5") == "http://h:1/x?a=1&delay=0"
    assert runner_module.warm_url("http://h:1/x") == "http://h:1/x?delay=0"


def test_the_host_side_needs_only_the_standard_library() -> None:
    """Every module of benchhost imports the standard library and benchhost, nothing else (the hosts'
    system Python has nothing more; the runner tests run it with -S)."""
    for path in sorted((ROOT / "benchhost").rglob("*.py")):
        modules = {line.split()[1].split(".")[0] for line in path.read_text().splitlines()
                   if line.startswith(("import ", "from ")) and not line.startswith("from __future__")}
        assert modules <= set(sys.stdlib_module_names) | {"benchhost"}, (path, modules - set(sys.stdlib_module_names))


def test_a_plan_with_stringified_numbers_is_read(runner_module: ModuleType, tmp_path: Path) -> None:
    # Ansible's templating may hand numbers over as strings; the wrappers read them with int() too
    run = {"name": "r", "mode": "m", "profile": "tuned", "client": "wrk", "n": "20", "c": "2",
           "url": "http://h:1/?delay=0", "unit": "u", "time_limit": "30", "timeout": "5", "monitor": "False",
           "parts": [{"host": "lg1", "n": "10", "c": "1"}, {"host": "lg2", "n": 10, "c": 1}]}
    plan = {"schema": 1, "token": TOKEN, "deadline": "1764669999", "control": {"address": "10.0.0.1", "port": "8099"},
            "loadgens": ["lg1", "lg2"], "mode_command": "/usr/local/sbin/flaskbench-mode",
            "switch_timeout": "60", "monitor_max_blocking": "0.1", "warmup_requests": "50", "lost_after": "60",
            "runs": [run]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    read_plan = runner_module.load_plan(tmp_path / "plan.json")
    assert read_plan["control"]["port"] == 8099 and read_plan["deadline"] == 1764669999
    assert read_plan["mode_command"] == ["/usr/local/sbin/flaskbench-mode"] and read_plan["lost_after"] == 60
    assert runner_module.mode_argv(read_plan, run) == ["/usr/local/sbin/flaskbench-mode", "set", "m", "tuned",
                                                       "--timeout", "60", "--quick-stop"]
    run["parts"][1]["host"] = "lg3"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(runner_module.PlanError, match=r"parts are for \['lg1', 'lg3'\]"):
        runner_module.load_plan(tmp_path / "plan.json")


@pytest.mark.parametrize("last", ["measured", "skipped"])
def test_the_app_runner_ends_once_every_load_host_has_seen_the_end(tmp_path: Path, scripts: Path, server: Server,
                                                                   runners: Runners, last: str) -> None:
    hosts = ("lg1", "lg2")
    runs = [run_entry(server, tmp_path.name, "r1", loadgens=hosts),
            run_entry(server, tmp_path.name, "r2", loadgens=hosts, mode="m" if last == "measured" else "broken")]
    plan = write_plan(tmp_path / "plan", scripts, runs, loadgens=hosts)
    app = runners.start(plan, "app", "--linger", "30")  # the cap, not the wait
    loads = [runners.start(plan, "load", "--host", h) for h in hosts]
    for load in loads:
        assert runners.finish(load)[0] == 0
    loads_ended = time.monotonic()
    rc, log = runners.finish(app)
    assert rc == 0, log
    assert time.monotonic() - loads_ended < 15, log  # well before --linger's 30 s
    assert progress(plan)[-1] == {"finished": True, "runs": 2}


def test_a_load_host_is_through_only_once_its_last_answer_is_written(runner_module: ModuleType, tmp_path: Path,
                                                                      scripts: Path, server: Server) -> None:
    """The app runner exits once every load host is through; a host marked through while its answer was
    still unsent (the old state() and post() marked it first) could lose that answer to the exit and retry
    a closed port until --lost-after (seen once in CI: a load runner still polling 40 s on)."""
    runs = [run_entry(server, tmp_path.name, "r1", loadgens=("lg1", "lg2"))]
    plan = json.loads(write_plan(tmp_path / "plan", scripts, runs, loadgens=("lg1", "lg2")).read_text())
    control = runner_module.Control(plan)
    control.finish(1)
    state = control.state()  # what a GET /state answers: computing it marks nobody
    assert state["phase"] == "finished" and control.through == set()
    control.seen("lg1", state)  # the handler, after writing the answer
    assert control.through == {"lg1"}
    control.begin(0)
    control.set_phase("go")
    assert control.post("done", {"index": 0, "host": "lg2", "error": None, "summary": {}})[0] == 200
    assert control.through == {"lg1"}  # the last run's result taken, its answer not yet written
    control.mark_through("lg2")
    assert control.through == {"lg1", "lg2"}


def test_a_knee_search_finds_the_servers_knee(tmp_path: Path, scripts: Path, server: Server,
                                             runners: Runners) -> None:
    """rate=auto: the app runner decides each step's rate from the steps before (benchhost.search) and the load
    runner runs it; the server answers one request at a time in 14 ms (about 70 req/s), so 10, 20 and 40 req/s
    hold (40 at 57% busy: room for a loaded machine's jitter), 80 does not (over 110%: the answers fall behind
    and p99 grows past 100 ms), and the bisection tries 60 (86% busy), which a busy machine may or may not
    hold: either outcome ends the search (within 50%), at 60 or at 40."""
    spec = {"group": "m-tuned", "start": 10, "precision": 0.5, "budget_ms": 100, "steps": 6, "headroom": 3,
            "max_rate": 1000}
    runs = []
    for k in range(1, 7):
        run = run_entry(server, tmp_path.name, f"m-tuned-auto-s{k}", client="rate", n=10, c=2, delay=0.02)
        run.update(rate=10.0, duration=3.0, search=spec, url=server.url(f"delay=0.014&cap=1&key={tmp_path.name}"))
        run["parts"][0]["rate"] = 10.0
        runs.append(run)
    plan = write_plan(tmp_path / "plan", scripts, runs)
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1")
    assert runners.finish(load)[0] == 0
    rc, log = runners.finish(app)
    assert rc == 0, log
    lines = progress(plan)
    steps = [line["search"] for line in lines if "rate" in line.get("search", {})]
    assert [s["rate"] for s in steps] == [10, 20, 40, 80, 60]
    assert [s["over"] is None for s in steps[:4]] == [True, True, True, False]
    knee = 60 if steps[4]["over"] is None else 40
    assert lines[5]["search"]["done"].startswith(f"knee {knee} req/s, within ")
    assert lines[-1] == {"finished": True, "runs": 6}
    assert not (plan.parent / "load" / "lg1" / "m-tuned-auto-s6").exists()
    step = read(plan.parent / "load" / "lg1" / "m-tuned-auto-s4" / "run.json")
    assert (step["rate"], step["n"], step["point"]["rate"]) == (80.0, 240, 80.0)
    assert read(plan.parent / "app" / "m-tuned-auto-s4" / "run.json")["rate"] == 80
