"""benchhost.run's slow API sampling: the upstream runner on its own host, or a second sampler on the app host.

As tests/benchhost/test_run.py (its plans, fixtures and runners, on loopback with
the real clients, and its fake benchhost.sample, which records when it started
and stopped: a test can see the slow API's series spans the load), with the
plan's upstream for the slow API's unit.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from httpserver import Server
from planrunners import (Runners, calls, long_run, processes_under, progress, read, run_entry, wait_for_the_client,
                         write_plan)

UNIT = "slow-api.service"
UPSTREAM = {"host": "api", "unit": UNIT}


def test_the_upstream_runner_samples_the_slow_api_over_every_run(tmp_path: Path, scripts: Path, server: Server,
                                                                 runners: Runners) -> None:
    runs = [run_entry(server, tmp_path.name, "r-ab"), run_entry(server, tmp_path.name, "r-broken", mode="broken"),
            run_entry(server, tmp_path.name, "r-wrk", client="wrk")]
    plan = write_plan(tmp_path / "plan", scripts, runs, upstream=UPSTREAM)
    app = runners.start(plan, "app", "--linger", "20")  # the cap: it ends once the slow API's runner saw the end
    load = runners.start(plan, "load", "--host", "lg1")
    upstream = runners.start(plan, "upstream", "--host", "api")
    assert runners.finish(load)[0] == 0
    rc, log = runners.finish(upstream)
    assert rc == 0, log
    ended = time.monotonic()
    rc, log = runners.finish(app)
    assert rc == 0, log
    assert time.monotonic() - ended < 10, log  # well before --linger's 20 s
    assert progress(plan)[-1] == {"finished": True, "runs": 3}

    base = plan.parent
    for name in ("r-ab", "r-wrk"):
        sampled = read(base / "upstream" / "api" / name / "upstream.json")
        assert sampled["unit"] == UNIT and sampled["stopped_by"] == "stop-file"
        # its first reading before the load, its last after it (with a sample after the load's end)
        loadgen = read(base / "load" / "lg1" / name / "loadgen.json")
        assert sampled["started"] < loadgen["started"] and sampled["stopped"] >= loadgen["ended"] + 1.0
        assert sorted(p.name for p in (base / "upstream" / "api" / name).iterdir()) == ["upstream.json"]
        # the app's own sampler is untouched: no upstream.json beside server.json
        assert read(base / "app" / name / "server.json")["unit"] == "flask-test.service"
        assert not (base / "app" / name / "upstream.json").exists()
    units = [argv[argv.index("--unit") + 1] for argv in calls(scripts, "sample")]
    # the skipped run (its switch failed at once) may be over before the slow API's runner looks
    assert units.count("flask-test.service") == 2 and units.count(UNIT) in (2, 3)
    assert "did not start sampling" not in log


def test_on_the_app_host_the_app_runner_samples_the_slow_api_beside_server_json(
        tmp_path: Path, scripts: Path, server: Server, runners: Runners) -> None:
    plan = write_plan(tmp_path / "plan", scripts, [run_entry(server, tmp_path.name, "r")],
                      upstream={"host": "app", "unit": UNIT})
    # no runner of its own there
    rc, log = runners.finish(runners.start(plan, "upstream", "--host", "app"), timeout=10)
    assert rc == 2 and "not the plan's slow API host on its own" in log
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1")
    assert runners.finish(load)[0] == 0
    assert runners.finish(app)[0] == 0
    folder = plan.parent / "app" / "r"
    sampled, server_json = read(folder / "upstream.json"), read(folder / "server.json")
    loadgen = read(plan.parent / "load" / "lg1" / "r" / "loadgen.json")
    assert sampled["unit"] == UNIT and server_json["unit"] == "flask-test.service"
    assert sampled["stopped_by"] == "stop-file" and sampled["started"] < loadgen["started"]
    assert sampled["stopped"] >= loadgen["ended"] + 1.0
    # its stop and ready files are gone (the app's sampler.ready stays: collect leaves it out)
    assert sorted(p.name for p in folder.iterdir()) == ["outcome.json", "run.json", "sampler.ready", "server.json",
                                                        "upstream.json"]
    assert progress(plan)[0]["error"] is None
    assert not (plan.parent / "upstream").exists()


def test_sigterm_to_the_upstream_runner_stops_its_sampler(tmp_path: Path, scripts: Path, server: Server,
                                                          runners: Runners) -> None:
    plan = long_run(tmp_path, scripts, server)
    data = json.loads(plan.read_text())
    plan.write_text(json.dumps({**data, "upstream": UPSTREAM}))
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1", "--lost-after", "1")
    upstream = runners.start(plan, "upstream", "--host", "api")
    wait_for_the_client(plan)
    upstream.send_signal(signal.SIGTERM)
    rc, log = runners.finish(upstream, timeout=15)
    assert rc == 143, log
    assert read(plan.parent / "upstream" / "api" / "r" / "upstream.json")["stopped_by"] == "SIGTERM"
    assert processes_under(tmp_path / "plan" / "upstream") == []
    app.send_signal(signal.SIGTERM)
    assert runners.finish(app, timeout=15)[0] == 143
    assert runners.finish(load, timeout=15)[0] == 1
    assert processes_under(tmp_path) == []


def test_the_upstream_runner_stops_with_the_plan(tmp_path: Path, scripts: Path, server: Server,
                                                 runners: Runners) -> None:
    # past the deadline at once; without an endpoint after lost_after; the app runner gone: the same
    past = write_plan(tmp_path / "past", scripts, [run_entry(server, tmp_path.name, "r")], deadline=time.time() - 1,
                      upstream=UPSTREAM)
    assert runners.finish(runners.start(past, "upstream", "--host", "api"), timeout=10)[0] == 124
    alone = write_plan(tmp_path / "alone", scripts, [run_entry(server, tmp_path.name, "r")], lost_after=0.5,
                       upstream=UPSTREAM)
    started = time.monotonic()
    rc, log = runners.finish(runners.start(alone, "upstream", "--host", "api"), timeout=10)
    assert rc == 1 and "did not answer for 0.5 s" in log and time.monotonic() - started < 5
    # a plan without a slow API has no upstream runner; a bad upstream is refused
    plain = write_plan(tmp_path / "plain", scripts, [run_entry(server, tmp_path.name, "r")])
    rc, log = runners.finish(runners.start(plain, "upstream", "--host", "api"), timeout=10)
    assert rc == 2 and "upstream: None" in log
    bad = write_plan(tmp_path / "bad", scripts, [run_entry(server, tmp_path.name, "r")], upstream={"host": "api"})
    rc, log = runners.finish(runners.start(bad, "app"), timeout=10)
    assert rc == 2 and "upstream must be null or hold a host name and a unit" in log
