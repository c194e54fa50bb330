"""bench.yml refuses bad parameters before any host is touched.

The inventory's hosts point at a closed port on loopback: had the playbook
tried to reach them, the recap would show them unreachable. Every error must
name the parameter and its bad value.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


BAD = [
    (["mode=nope"], "mode=nope: unknown mode nope; valid modes: all, gevent, devserver"),
    (["mode=uwsgi,nope"], "unknown mode nope"),
    (["mode="], "mode=: unknown mode (none given)"),
    (["mode=uwsgi", "profile=fast"], "profile=fast: must be seed, tuned or both"),
    (["mode=uwsgi", "n=abc"], "n=abc: must be a whole number"),
    (["mode=uwsgi", "c=-5"], "c=-5: must be a whole number"),
    (["mode=uwsgi", "c=0"], "c=0: must be 1 or more"),
    (["mode=uwsgi", "n=5", "c=10"], "n=5 is less than c=10"),
    (["mode=devserver", "n=10,5", "c=5,10"], "n=5 is less than c=10"),  # any combination
    (["mode=uwsgi", "c=50,abc"], "c=50,abc: must be a whole number of requests (1 or more), or a comma list"),
    (["mode=uwsgi", "c=50,"], "c=50,: must be a whole number of requests (1 or more), or a comma list of them (an empty item"),
    (["mode=uwsgi", "n=1,,2"], "n=1,,2: must be a whole number"),
    (["mode=uwsgi", "delay=1,x"], "delay=1,x: must be a number of seconds (0 or more), or a comma list"),
    (["mode=uwsgi", "delay=0.5,-1"], "delay=0.5,-1: must be a number of seconds"),
    (["mode=uwsgi,gunicorn", "profile=both", "c=50,200,1000", "repeat=5", "max_minutes=30"],
     "the plan's 60 runs would take about 56 min, more than max_minutes=30"),
    (["mode=uwsgi,gunicorn", "c=50", "max_minutes=1"], "more than max_minutes=1: run fewer points or repeats, or raise it (-e max_minutes=N)"),
    (["mode=uwsgi", "max_minutes=0"], "max_minutes=0: must be a number of minutes above 0"),
    (["mode=uwsgi", "c=30000", "n=30000"], "c=30000: ab accepts at most 20000"),
    (["mode=uwsgi", "delay=-1"], "delay=-1: must be a number of seconds (0 or more)"),
    (["mode=uwsgi", "delay=nan"], "delay=nan:"),
    (["mode=uwsgi", "delay=inf"], "delay=inf:"),
    (["mode=uwsgi", "delay=1e9"], "delay=1e9:"),
    (["mode=uwsgi", "delay=abc"], "delay=abc:"),
    (["mode=uwsgi", "time_limit=0"], "time_limit=0: must be a whole number of seconds"),
    (["mode=uwsgi", "time_limit=5m"], "time_limit=5m:"),
    (["mode=uwsgi", "monitor=maybe"], "monitor=maybe: must be true or false"),
    (["mode=uwsgi", "client=wrk2"], "client=wrk2: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "client="], "client=: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "client=ab,wrk"], "client=ab,wrk: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "client=WRK"], "client=WRK: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "repeat=0"], "repeat=0: must be a whole number of runs per point (1 or more)"),
    (["mode=uwsgi", "repeat=-1"], "repeat=-1: must be a whole number of runs per point"),
    (["mode=uwsgi", "repeat=1.5"], "repeat=1.5: must be a whole number of runs per point"),
    (["mode=uwsgi", "repeat=two"], "repeat=two: must be a whole number of runs per point"),
    (["mode=uwsgi", "seed=x1"], "seed=x1: must be a whole number"),
    (["mode=uwsgi", "client=rate"], "client=rate: needs rate=R, the requests per second to schedule"),
    (["mode=uwsgi", "client=rate", "rate=0"], "rate=0: must be a number of requests per second above 0"),
    (["mode=uwsgi", "client=rate", "rate=-5"], "rate=-5: must be a number of requests per second above 0"),
    (["mode=uwsgi", "client=rate", "rate=fast"], "rate=fast: must be a number of requests per second above 0"),
    (["mode=uwsgi", "client=rate", "rate=100,,200"], "rate=100,,200: must be a number of requests per second above 0, or a comma list of them (an empty item"),
    (["mode=uwsgi", "client=rate", "rate=100", "duration=0"], "duration=0: must be a number of seconds above 0"),
    (["mode=uwsgi", "client=rate", "rate=100", "duration=ten"], "duration=ten: must be a number of seconds above 0"),
    (["mode=uwsgi", "client=rate", "rate=100", "c=50"], "c=50: client=rate takes rate and duration instead"),
    (["mode=uwsgi", "client=rate", "rate=100", "n=500"], "n=500: client=rate takes rate and duration instead"),
    (["mode=uwsgi", "rate=100"], "rate=100: only client=rate sends at a rate (-e client=rate)"),
    (["mode=uwsgi", "client=wrk", "duration=5"], "duration=5: only client=rate sends at a rate"),
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


@pytest.mark.parametrize("missing", ["loadgen", "app"])
def test_missing_host_group_fails_clearly(tmp_path, missing):
    groups = tuple(g for g in ("loadgen", "app") if g != missing)
    result = run_bench(inventory(tmp_path, groups), "mode=uwsgi")
    assert_refused_before_hosts(result, "the inventory needs a host in group loadgen")
    assert re.search(rf"{missing}=\[\]", result.stdout + result.stderr)


def test_valid_parameters_get_past_validation_to_the_hosts(tmp_path):
    """The counter-check: good parameters do reach the (unreachable) app host."""
    result = run_bench(inventory(tmp_path), "mode=uwsgi,gunicorn", "profile=both", "n=20", "c=10", "delay=0.1")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "fake-app" in out[out.rfind("PLAY RECAP"):]
    assert "UNREACHABLE" in out


@pytest.mark.parametrize("client,names", [
    ("both", ["uwsgi-seed", "uwsgi-seed-wrk", "gunicorn-seed", "gunicorn-seed-wrk"]),
    ("wrk", ["uwsgi-seed-wrk", "gunicorn-seed-wrk"]),
    ("ab", ["uwsgi-seed", "gunicorn-seed"]),
])
def test_client_plans_one_run_per_mode_profile_and_client(tmp_path, client, names):
    """client=both runs ab then wrk on each mode and profile; wrk's folder ends in -wrk."""
    result = run_bench(inventory(tmp_path), "mode=uwsgi,gunicorn", "profile=seed", "n=20", "c=10",
                       f"client={client}")
    out = result.stdout + result.stderr
    task = out[out.index("TASK [bench : Check c and n of every run]"):]
    task = task[:task.index("TASK [", 1)]
    planned = re.findall(r"^ok: \[localhost\] => \(item=(\S+) n=\S+ c=\S+ limit=300s timeout=90s\)$", task, re.M)
    assert planned == names, out[-3000:]
    assert "fake-app" in out[out.rfind("PLAY RECAP"):]  # valid: on to the (unreachable) app host


def test_a_rate_sweep_plans_a_run_per_rate_with_room_for_its_connections(tmp_path):
    """client=rate: n = rate x duration; c, the connection cap, rate x (3 x delay + 1 s) (bench_rate_headroom)."""
    result = run_bench(inventory(tmp_path), "mode=uwsgi-gevent", "client=rate", "rate=50,200.5", "duration=4",
                       "delay=0.5")
    out = result.stdout + result.stderr
    assert planned_points(out) == [("uwsgi-gevent-tuned-rate50", 200, 125),
                                   ("uwsgi-gevent-tuned-rate200.5", 802, 502)], out[-3000:]
    assert "fake-app" in out[out.rfind("PLAY RECAP"):]  # valid: on to the (unreachable) app host


def test_a_mode_expected_to_hang_gets_short_limits(tmp_path):
    """The table's expected failure (gRPC without init_gevent) is bounded tighter than the rest."""
    result = run_bench(inventory(tmp_path), "mode=grpc-gevent-noinit,uwsgi", "profile=tuned", "n=20", "c=10",
                       "time_limit=120")
    out = result.stdout + result.stderr
    task = out[out.index("TASK [bench : Check c and n of every run]"):]
    task = task[:task.index("TASK [", 1)]
    planned = re.findall(r"^ok: \[localhost\] => \(item=(\S+) n=\S+ c=\S+ (limit=\S+ timeout=\S+)\)$", task, re.M)
    planned = [" ".join(p) for p in planned]
    assert planned == ["grpc-gevent-noinit-tuned limit=30s timeout=10s",
                       "uwsgi-tuned limit=120s timeout=90s"], out[-3000:]


def planned_runs(out: str) -> list[str]:
    task = out[out.index("TASK [bench : Check c and n of every run]"):]
    task = task[:task.index("TASK [", 1)]
    return re.findall(r"^ok: \[localhost\] => \(item=(\S+) n=\S+ c=\S+ limit=\S+ timeout=\S+\)$", task, re.M)


def planned_points(out: str) -> list[tuple[str, int, int]]:
    task = out[out.index("TASK [bench : Check c and n of every run]"):]
    task = task[:task.index("TASK [", 1)]
    return [(name, int(n), int(c)) for name, n, c in
            re.findall(r"^ok: \[localhost\] => \(item=(\S+) n=(\d+) c=(\d+) limit", task, re.M)]


def test_a_sweep_plans_every_combination_and_sizes_n(tmp_path):
    """c and delay as lists: a point each; n left out is 50 x c for ab (its ceiling then 98% of ideal), 10 x c for wrk."""
    result = run_bench(inventory(tmp_path), "mode=uwsgi-gevent", "c=50,200", "delay=0.5,1", "client=both")
    out = result.stdout + result.stderr
    assert planned_points(out) == [
        ("uwsgi-gevent-tuned-c50-d0.5", 2500, 50), ("uwsgi-gevent-tuned-c50-d1.0", 2500, 50),
        ("uwsgi-gevent-tuned-c200-d0.5", 10000, 200), ("uwsgi-gevent-tuned-c200-d1.0", 10000, 200),
        ("uwsgi-gevent-tuned-wrk-c50-d0.5", 500, 50), ("uwsgi-gevent-tuned-wrk-c50-d1.0", 500, 50),
        ("uwsgi-gevent-tuned-wrk-c200-d0.5", 2000, 200), ("uwsgi-gevent-tuned-wrk-c200-d1.0", 2000, 200)]
    assert "fake-app" in out[out.rfind("PLAY RECAP"):]  # valid: on to the (unreachable) app host


def test_mode_gevent_selects_the_gevent_modes_expected_to_work(tmp_path):
    import yaml
    table = yaml.safe_load((ROOT / "app" / "benchapp" / "modes.yml").read_text())["modes"]
    wanted = [name for name, m in table.items()
              if m.get("patch", "none") != "none" and not m.get("expect") and m["route"] != "/db"]
    result = run_bench(inventory(tmp_path), "mode=gevent", "n=20", "c=10")
    out = result.stdout + result.stderr
    assert [name for name, _, _ in planned_points(out)] == [f"{name}-tuned" for name in wanted], out[-2000:]
    assert "uwsgi-gevent-tuned" in [name for name, _, _ in planned_points(out)]


def loadgens_inventory(tmp_path: Path, count: int) -> Path:
    port = closed_port()
    lines = ["all:", "  children:", "    app:", "      hosts:", "        fake-app:",
             "          ansible_host: 127.0.0.1", f"          ansible_port: {port}", "    loadgen:", "      hosts:"]
    for i in range(count):
        lines += [f"        fake-loadgen{i}:", "          ansible_host: 127.0.0.1", f"          ansible_port: {port}"]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_several_load_hosts_split_c_and_n(tmp_path):
    """Every run's c and n are split between the load hosts; the parts add up to the point."""
    result = run_bench(loadgens_inventory(tmp_path, 3), "mode=uwsgi", "n=1000", "c=200")
    out = result.stdout + result.stderr
    assert re.search(r"^ok: \[localhost\] => \(item=uwsgi-tuned c=67\+67\+66 n=335\+335\+330\)$", out, re.M), out[-3000:]
    assert "fake-app" in out[out.rfind("PLAY RECAP"):]


def test_fewer_connections_than_load_hosts_is_refused(tmp_path):
    result = run_bench(loadgens_inventory(tmp_path, 3), "mode=uwsgi", "n=20", "c=2")
    assert_refused_before_hosts(result, "c=2 (uwsgi-tuned): fewer connections than the 3 load hosts")


def test_the_control_port_may_not_be_a_modes_port(tmp_path):
    result = run_bench(inventory(tmp_path), "mode=uwsgi", "n=20", "c=10", "bench_control_port=3000")
    assert_refused_before_hosts(result, "bench_control_port=3000: the runners' control port must be")


def test_without_c_the_tables_flags_stay_and_a_given_c_sizes_n(tmp_path):
    result = run_bench(inventory(tmp_path), "mode=devserver,uwsgi", "profile=seed")
    assert planned_points(result.stdout) == [("devserver-seed", 10, 5), ("uwsgi-seed", 2000, 200)]
    result = run_bench(inventory(tmp_path), "mode=devserver", "profile=seed", "c=20")
    assert planned_points(result.stdout) == [("devserver-seed", 1000, 20)]


def test_repeat_runs_every_point_k_times_each_round_shuffled_by_the_seed(tmp_path):
    params = ["mode=uwsgi,gunicorn,uwsgi-gevent", "profile=both", "n=20", "c=10", "repeat=3"]
    first = planned_runs((r := run_bench(inventory(tmp_path), *params, "seed=7")).stdout + r.stderr)
    again = planned_runs((r := run_bench(inventory(tmp_path), *params, "seed=7")).stdout + r.stderr)
    other = planned_runs((r := run_bench(inventory(tmp_path), *params, "seed=8")).stdout + r.stderr)
    points = sorted(f"{m}-{p}" for m in ("uwsgi", "gunicorn", "uwsgi-gevent") for p in ("seed", "tuned"))
    assert len(first) == 18
    rounds = [first[i * 6:(i + 1) * 6] for i in range(3)]
    for k, names in enumerate(rounds, start=1):
        assert all(name.endswith(f"-r{k}") for name in names), names
        assert sorted(name[: -len(f"-r{k}")] for name in names) == points  # every point once a round
    assert len({tuple(n.rsplit("-r", 1)[0] for n in names) for names in rounds}) > 1  # rounds differ in order
    assert first == again  # the seed replays the order
    assert first != other


def test_one_run_per_point_keeps_its_name_and_records_the_seed(tmp_path):
    result = run_bench(inventory(tmp_path), "mode=uwsgi", "n=20", "c=10")
    out = result.stdout + result.stderr
    assert planned_runs(out) == ["uwsgi-tuned"]  # no -r1: one run per point is named as before
    assert "TASK [bench : Choose the seed of the run order]" in out
