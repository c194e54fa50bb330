"""bench.yml refuses bad parameters before any host is touched, end to end through ansible-playbook.

The inventory's hosts point at a closed port on loopback: had the playbook
tried to reach them, the recap would show them unreachable. Every error must
name the parameter and its bad value. The plan's every refusal and rule is
tested in process in tests/flaskbench/test_plan.py (flaskbench.plan); these few cases
check the role passes the parameters, the inventory and the refusal through.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchrun import ROOT
from flaskbench import plan as planner
from plans import role_settings
from rolespecs import lookup_modes

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inventory(tmp_path: Path, groups: tuple[str, ...] = ("loadgen", "app")) -> Path:
    port = closed_port()
    lines = ["all:", "  children:"]
    for group in groups:
        lines += [f"    {group}:", "      hosts:",
                  f"        fake-{group}:",
                  "          ansible_host: 127.0.0.1",
                  f"          ansible_port: {port}"]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_bench(inv: Path, *params: str) -> subprocess.CompletedProcess:
    if not PLAYBOOK.exists():
        pytest.fail(f"{PLAYBOOK} not found: run `make venv`")
    args = [str(PLAYBOOK), "-i", str(inv), "bench.yml"]
    for p in params:
        args += ["-e", p]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def assert_refused_before_hosts(result: subprocess.CompletedProcess, expected: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-2000:]
    assert expected in out, out[-2000:]
    recap = out[out.rfind("PLAY RECAP"):]
    assert "fake-" not in recap, recap  # no inventory host was contacted
    assert "unreachable=1" not in recap


# One refusal from each stage of the plan: a parameter alone, a list, a point, the split over the hosts.
BAD = [
    (["mode=nope"], "mode=nope: unknown mode nope; valid modes: all, gevent, devserver"),
    (["mode=uwsgi", "c=50,"], "c=50,: must be a whole number of requests (1 or more), or a comma list of them (an empty item"),
    (["mode=devserver", "n=10,5", "c=5,10"], "n=5 is less than c=10 (mode devserver): n must be at least c"),
    (["mode=uwsgi", "client=rate", "rate=5000"],
     "rate=5000.0 (uwsgi-tuned-rate5000): 5000.0 req/s per load host, more than one load host schedules (bench_rate_max_per_host=1500"),
]


@pytest.mark.parametrize("params,expected", BAD, ids=[" ".join(p) for p, _ in BAD])
def test_bad_parameter_fails_naming_it_before_any_host_changes(tmp_path, params, expected):
    assert_refused_before_hosts(run_bench(inventory(tmp_path), *params), expected)


def app_host_inventory(tmp_path: Path, max_delay: float) -> Path:
    """An app host on this machine whose flaskbench-mode reports a deployed max_delay; an unreachable load host."""
    fake = tmp_path / "flaskbench-mode"
    fake.write_text("#!/bin/sh\n"
                    f"echo '{{\"mode\": \"uwsgi\", \"profile\": \"tuned\", \"monitor\": false, \"max_delay\": {float(max_delay)}}}'\n")
    fake.chmod(0o755)
    port = closed_port()
    path = tmp_path / "hosts.yml"
    path.write_text(f"""all:
  children:
    app:
      hosts:
        local-app:
          ansible_connection: local
          ansible_python_interpreter: {sys.executable}
          flaskbench_mode_command: {fake}
          # Where the bench would install its scripts (the unreachable load host stops it first).
          bench_scripts_dir: {tmp_path / "scripts"}
    loadgen:
      hosts:
        fake-loadgen:
          ansible_host: 127.0.0.1
          ansible_port: {port}
""")
    return path


@pytest.mark.parametrize("delay,ok", [("31", False), ("30", True), ("12.5", False), ("12", True)])
def test_delay_is_checked_against_the_deployed_apps_limit(tmp_path, delay, ok):
    """The limit comes from the app host (flaskbench-mode get: app.env), not a copy in the bench."""
    limit = 30 if delay in ("31", "30") else 12
    result = run_bench(app_host_inventory(tmp_path, limit), "mode=uwsgi", "n=20", "c=10", f"delay={delay}")
    out = result.stdout + result.stderr
    refusal = f"delay={float(delay)} (uwsgi-tuned): the app on local-app accepts 0 to {float(limit)} s"
    assert (refusal in out) is not ok, out[-3000:]
    # Refused: the bench's hosts are never asked for anything more; accepted: on to them (the
    # load host is unreachable here, so the scripts' install stops there).
    assert ("TASK [bench : Read the bench scripts' digest on the bench hosts]" in out) is ok, out[-3000:]
    assert ("UNREACHABLE" in out) is ok, out[-3000:]
    assert not (tmp_path / "scripts").exists()


def test_a_missing_host_group_fails_clearly(tmp_path):
    result = run_bench(inventory(tmp_path, ("app",)), "mode=uwsgi")
    assert_refused_before_hosts(result, "the inventory needs a host in group loadgen")
    assert "found loadgen=[], app=['fake-app']" in result.stdout + result.stderr


def loadgens_inventory(tmp_path: Path, count: int) -> Path:
    port = closed_port()
    lines = ["all:", "  children:", "    app:", "      hosts:", "        fake-app:",
             "          ansible_host: 127.0.0.1", f"          ansible_port: {port}", "    loadgen:", "      hosts:"]
    for i in range(count):
        lines += [f"        fake-loadgen{i}:", "          ansible_host: 127.0.0.1", f"          ansible_port: {port}"]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def shown_plan(out: str) -> list[str]:
    """The lines of the role's "Show the plan" (one message, a run a line: a YAML block, never wrapped)."""
    task = out[out.index("TASK [bench : Show the plan]"):]
    block = re.search(r"^( *)msg: \|-\n((?:\1 +\S.*\n)+)", task, re.M)
    assert block, task[:2000]
    return [line.strip() for line in block.group(2).splitlines()]


def test_valid_parameters_are_planned_as_the_module_plans_them_then_go_to_the_hosts(tmp_path):
    """The role passes every parameter, the mode table and the load hosts to flaskbench.plan, shows its plan
    (a sweep of both clients, repeated with a seed, split over three load hosts), then goes on to the
    (unreachable) app host."""
    params = ["mode=uwsgi,gunicorn", "profile=both", "client=both", "c=30,200", "delay=0.1", "repeat=2", "seed=7",
              "max_minutes=60"]
    result = run_bench(loadgens_inventory(tmp_path, 3), *params)
    out = result.stdout + result.stderr
    hosts = [f"fake-loadgen{i}" for i in range(3)]
    expected = planner.plan(planner.Params(**dict(p.split("=", 1) for p in params)), role_settings(),
                            lookup_modes(), hosts, ["fake-app"])
    assert len(expected.runs) == 32
    assert shown_plan(out) == expected.lines(), out[-3000:]
    assert "uwsgi-seed-c30-r1 n=1500 c=30 limit=300s timeout=90s split c=10+10+10 n=500+500+500" in expected.lines()
    assert result.returncode != 0
    assert "fake-app" in out[out.rfind("PLAY RECAP"):]
    assert "UNREACHABLE" in out


SHOP = ROOT / "examples" / "shop"


def deployed_app_inventory(tmp_path: Path, app: dict | None) -> Path:
    """An app host on this machine whose flaskbench-mode get shows `app` as deployed (site.yml -e app=DIR's
    record, or null: the built-in app); an unreachable load host."""
    path = app_host_inventory(tmp_path, 30)
    state = {"mode": "uwsgi", "profile": "tuned", "monitor": False, "max_delay": 30.0, "app": app}
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "flaskbench-mode").write_text(f"#!/bin/sh\ncat {tmp_path / 'state.json'}\n")
    return path


@pytest.mark.parametrize("deployed", ["same", "other", "built-in"])
def test_the_app_host_must_serve_the_app_described(tmp_path, deployed):
    """Checked against flaskbench-mode get's "app" before anything changes on the app host."""
    from flaskbench import appspec, userapp

    sha = userapp.spec_digest(appspec.load(SHOP))
    app = {"same": {"name": "shop", "spec_sha": sha}, "other": {"name": "shop", "spec_sha": "0" * 16},
           "built-in": None}[deployed]
    result = run_bench(deployed_app_inventory(tmp_path, app), f"app={SHOP}", "mode=uwsgi", "route=catalog")
    out = " ".join((result.stdout + result.stderr).split())  # the message as one line, however Ansible wraps it
    said = {"other": f"local-app serves shop (spec {'0' * 16}), not shop as",
            "built-in": "local-app serves the built-in app, not shop as"}.get(deployed)
    if said is None:
        assert "TASK [bench : Read the bench scripts' digest on the bench hosts]" in out, out[-3000:]
    else:
        assert said in out and f"(spec {sha}): run `ansible-playbook site.yml -e app={SHOP}` first" in out, out[-3000:]
        assert "TASK [bench : Read the bench scripts' digest on the bench hosts]" not in out
    assert not (tmp_path / "scripts").exists()


def test_without_app_the_app_host_must_serve_the_built_in_app(tmp_path):
    result = run_bench(deployed_app_inventory(tmp_path, {"name": "shop", "spec_sha": "0" * 16}), "mode=uwsgi",
                       "n=20", "c=10")
    out = " ".join((result.stdout + result.stderr).split())
    assert "local-app serves your app shop (site.yml -e app=DIR), not the built-in app: bench it with -e app=DIR" in out
    assert "TASK [bench : Read the bench scripts' digest on the bench hosts]" not in out


def test_an_apps_refusal_comes_before_any_host(tmp_path):
    result = run_bench(inventory(tmp_path), f"app={SHOP}", "mode=psycopg2")
    assert_refused_before_hosts(result, "mode=psycopg2: psycopg2 cannot serve shop: benches PostgreSQL")


# -- thresholds=FILE -------------------------------------------------------------------------------------------

def test_a_threshold_the_plan_cannot_hold_is_refused_before_any_host(tmp_path):
    bad = tmp_path / "ci.yml"
    bad.write_text("- p99_ms < 1500\n- {mode: uwsgi, check: 'knee_rps >= 800'}\n")
    result = run_bench(inventory(tmp_path), "mode=uwsgi", "client=wrk", f"thresholds={bad}")
    assert_refused_before_hosts(result, f"{bad}: entry 2 ('knee_rps >= 800'): knee_rps: only client=rate measures a "
                                        "knee")


def both_local_inventory(tmp_path: Path) -> Path:
    """The app host and the load host on this machine (every folder the bench writes under tmp_path), whose
    flaskbench-mode shows the built-in app and refuses the lock: another bench holds the host, so the bench stops
    right after writing plan.json and keeping the thresholds, before any run."""
    fake = tmp_path / "flaskbench-mode"
    fake.write_text("#!/bin/sh\n"
                    "if [ \"$1\" = lock ]; then echo '{\"changed\": false, \"msg\": \"held by a test\"}'; exit 3; fi\n"
                    "echo '{\"mode\": \"uwsgi\", \"profile\": \"tuned\", \"monitor\": false, \"max_delay\": 30.0}'\n")
    fake.chmod(0o755)
    host = (f"          ansible_connection: local\n          ansible_python_interpreter: {sys.executable}\n"
            f"          flaskbench_mode_command: {fake}\n          bench_scripts_dir: {tmp_path / 'scripts'}\n"
            f"          bench_remote_dir: {tmp_path / 'remote'}\n")
    path = tmp_path / "hosts.yml"
    path.write_text(f"all:\n  children:\n    app:\n      hosts:\n        local-app:\n{host}"
                    f"    loadgen:\n      hosts:\n        local-loadgen:\n{host}")
    return path


def test_the_thresholds_are_planned_and_kept_with_the_results(tmp_path):
    """The plan names the file; the app host's play keeps a copy with the results (what the report judges)."""
    ci = tmp_path / "ci.yml"
    ci.write_text("# the bench's thresholds\n- p99_ms < 1500\n- {mode: uwsgi, check: 'failed == 0'}\n")
    results = tmp_path / "results"
    result = run_bench(both_local_inventory(tmp_path), "mode=uwsgi", "client=wrk", "c=10", "n=20", "delay=0.1",
                       f"thresholds={ci}", f"bench_results_dir={results}")
    out = result.stdout + result.stderr
    assert f"thresholds {ci} (thresholds=): 2 thresholds, judged once the report is written" in shown_plan(out)
    assert "held by a test" in out and result.returncode != 0, out[-3000:]  # stopped at the lock, before any run
    [kept] = results.glob("*/thresholds.yml")
    assert kept.read_text() == ci.read_text() and (kept.parent / "plan.json").is_file()
