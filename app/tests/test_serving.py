"""Every mode's real server, started as its unit starts it, under concurrent load.

Concurrency is asserted as a ratio to the request's own delay, never as an
absolute time: 10 requests of 0.5 s that overlap finish in about one delay,
serialised ones in about ten.
"""

from __future__ import annotations

import re
import signal
import threading
import time

import pytest

from concurrent.futures import ThreadPoolExecutor

from benchapp.modes import load_modes
from conftest import answer_within, concurrent_get, healthz, http_get, serve_mode

MODES = load_modes()
DELAY = 0.5
COUNT = 10
OVERLAP_MAX = 3.0  # all 10 within 3 delays: they ran together
SERIAL_MIN = 4.0  # beyond 4 delays: they queued behind each other
# Modes the table marks as failing (expect) have their own test.
ANSWERING = [name for name, mode in MODES.items() if not mode.expected_to_fail]
EXPECTED_TO_FAIL = [name for name, mode in MODES.items() if mode.expected_to_fail]
HANG_WAIT = 3.0  # seconds a client waits before calling a request hung


def expected_body(route: str) -> str:
    return "Hi there! slow api response" + (" " if route == "/db" else "")


@pytest.mark.modes
@pytest.mark.parametrize("profile", ["tuned", "seed"])
@pytest.mark.parametrize("name", ANSWERING)
def test_mode_serves_concurrent_requests(name, profile, slow_api, slow_api_grpc, postgres, tmp_path):
    mode = MODES[name]
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_UPSTREAM_GRPC": slow_api_grpc,
           "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(mode, profile, tmp_path, **env) as served:
        state = healthz(served.url)
        assert (state["mode"], state["profile"], state["server"]) == (name, profile, mode.server)
        assert state["patched"] is mode.gevent  # the sync modes stay unpatched
        assert state["psycogreen"] is ("psycogreen" in mode.patch)
        assert state["grpc_gevent"] is ("grpc" in mode.patch)
        # gevent.libev.corecext.loop or gevent.libuv.loop.loop: the table's choice
        assert (state["loop"] or "").split(".")[1:2] == ([mode.loop] if mode.gevent else [])
        assert state["upstream"] == mode.profiles[profile]["upstream"]

        warm = http_get(f"{served.url}{mode.route}?delay=0")
        assert warm.status == 200, warm

        answers, elapsed = concurrent_get(f"{served.url}{mode.route}?delay={DELAY}", COUNT)
        assert [a.status for a in answers] == [200] * COUNT, [a.body[:200] for a in answers]
        assert all(a.body.startswith(expected_body(mode.route)) for a in answers)
        if mode.route in ("/", "/grpc"):
            assert all(a.body == "Hi there! slow api response" for a in answers)

        ratio = elapsed / DELAY
        if mode.concurrency == "overlap":
            assert ratio < OVERLAP_MAX, f"{name}: {COUNT} requests took {ratio:.1f} delays"
        else:
            assert ratio > SERIAL_MIN, f"{name}: {COUNT} requests took only {ratio:.1f} delays"

        assert http_get(f"{served.url}/?delay=abc").status == 400
        assert served.proc.poll() is None


# One profile: each run waits out its bounded hang (about 15 s), and the
# profiles of the expected failure differ only in worker counts.
@pytest.mark.modes
@pytest.mark.parametrize("profile", ["tuned"])
@pytest.mark.parametrize("name", EXPECTED_TO_FAIL)
def test_mode_fails_as_the_table_expects(name, profile, slow_api, slow_api_grpc, postgres, tmp_path):
    """An `expect`ed mode starts and /healthz answers; its route then does what
    the table says (hang: 20 concurrent requests, none answered within the
    client timeout), and SIGTERM still stops it, all in bounded time."""
    mode = MODES[name]
    assert mode.expect["outcome"] == "hang"  # the only outcome this test knows
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_UPSTREAM_GRPC": slow_api_grpc,
           "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(mode, profile, tmp_path, **env) as served:
        state = healthz(served.url)
        assert (state["mode"], state["profile"], state["patched"]) == (name, profile, mode.gevent)
        assert state["grpc_gevent"] is ("grpc" in mode.patch)
        assert http_get(f"{served.url}/?delay=0").status == 200  # HTTP to the slow API still works

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(lambda _: answer_within(f"{served.url}{mode.route}?delay=0", HANG_WAIT),
                                    range(20)))
        elapsed = time.monotonic() - start
        assert answers == [None] * 20, f"{name} answered: {answers}"
        assert elapsed < HANG_WAIT + 2  # the clients' timeouts bounded it
        if mode.options(profile)["workers"] == 1:
            # The one worker is wedged: not even /healthz answers.
            assert answer_within(f"{served.url}/healthz", 1.0) is None

        # Bounded stop: Gunicorn ends the wedged worker after its graceful
        # timeout, under systemd's stop timeout, and exits cleanly.
        grace = mode.options(profile)["graceful_timeout"]
        sent = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(grace + 5) == 0
        assert time.monotonic() - sent < grace + 5


@pytest.mark.modes
def test_psycopg2_blocks_and_psycogreen_overlaps(slow_api, postgres, tmp_path):
    """The seed's bonus: 5 concurrent /db requests under one gevent worker."""
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
    took = {}
    for name in ("psycopg2", "psycogreen"):
        workdir = tmp_path / name
        workdir.mkdir()
        with serve_mode(MODES[name], "tuned", workdir, **env) as served:
            http_get(f"{served.url}/db?delay=0")
            answers, took[name] = concurrent_get(f"{served.url}/db?delay=1", 5)
            assert [a.status for a in answers] == [200] * 5
    # psycopg2's pg_sleep(0.5) runs one at a time; with psycogreen all five overlap.
    assert took["psycogreen"] < 2.0 * 1
    assert took["psycopg2"] > 1.5 * took["psycogreen"]


@pytest.mark.modes
def test_gevent_monitor_catches_psycopg2_blocking_the_hub(slow_api, postgres, tmp_path):
    """With gevent's monitor thread on, psycopg2's pg_sleep holds the hub past
    the threshold and is reported; psycogreen yields and is not."""
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn,
           "GEVENT_MONITOR_THREAD_ENABLE": "true", "GEVENT_MAX_BLOCKING_TIME": "0.1"}
    caught = {}
    for name in ("psycopg2", "psycogreen"):
        workdir = tmp_path / name
        workdir.mkdir()
        with serve_mode(MODES[name], "tuned", workdir, **env) as served:
            for _ in range(3):
                assert http_get(f"{served.url}/db?delay=1").status == 200
            time.sleep(0.3)  # the monitor thread wakes every max_blocking_time
            monitor = healthz(served.url)["monitor"]
            assert monitor["enabled"] is True and monitor["max_blocking_time"] == 0.1
            caught[name] = monitor["blocked"]
    assert caught["psycopg2"] >= 1, caught
    assert caught["psycogreen"] == 0, caught


def test_gevent_monitor_is_off_unless_asked(slow_api, postgres, tmp_path):
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(MODES["psycopg2"], "tuned", tmp_path, **env) as served:
        assert http_get(f"{served.url}/db?delay=0.3").status == 200
        assert healthz(served.url)["monitor"] == {"enabled": False, "max_blocking_time": 0.1, "blocked": 0}
    with serve_mode(MODES["uwsgi"], "tuned", tmp_path, **env) as served:  # not patched: no monitor
        assert healthz(served.url)["monitor"] == {"enabled": False, "max_blocking_time": None, "blocked": None}


def test_slow_api_runs_several_workers_on_one_port(tmp_path):
    """--workers N forks N processes sharing the port; SIGTERM stops them all."""
    import subprocess
    import sys

    from conftest import base_env, free_port, running

    from benchapp.grpc_client import GrpcFetch

    port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "benchapp.slow_api", "--host", "127.0.0.1", "--port", str(port),
            "--grpc-port", str(grpc_port), "--workers", "2"]
    with running(argv, base_env(), url + "/healthz", tmp_path / "slow_api.log") as proc:
        pids = {int(healthz(url)["pid"]) for _ in range(40)}
        answers, elapsed = concurrent_get(f"{url}/?delay={DELAY}", COUNT)
        assert [a.body for a in answers] == ["slow api response"] * COUNT
        assert elapsed / DELAY < OVERLAP_MAX
        # Both workers bound the gRPC port too (SO_REUSEPORT); calls overlap.
        listeners = subprocess.run(["ss", "-Hltnp", f"sport = :{grpc_port}"], capture_output=True, text=True).stdout
        grpc_pids = {int(p) for p in re.findall(r"pid=(\d+)", listeners)}
        fetch = GrpcFetch(f"127.0.0.1:{grpc_port}", 1.0, 10.0)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=COUNT) as pool:
            bodies = list(pool.map(lambda _: fetch(DELAY), range(COUNT)))
        assert bodies == ["slow api response"] * COUNT
        assert (time.monotonic() - start) / DELAY < OVERLAP_MAX
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2 and pids <= {int(p) for p in children}
        assert grpc_pids == {int(p) for p in children}
    assert proc.returncode == 0
    assert subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True).returncode == 1  # none left


def test_slow_api_exits_1_when_its_workers_die_at_start(tmp_path):
    """A worker that cannot start (here: its port is taken) is not respawned in
    a loop: the supervisor stops and exits 1, so systemd restarts it afresh."""
    import socket
    import subprocess
    import sys

    from conftest import base_env, free_port

    with socket.socket() as taken:  # bound without SO_REUSEPORT: the workers' bind fails
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "benchapp.slow_api", "--host", "127.0.0.1", "--port", str(port),
                "--grpc-port", str(free_port()), "--workers", "2"]
        proc = subprocess.run(argv, env=base_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "died" in proc.stderr and "exiting 1" in proc.stderr
    assert proc.stderr.count("starting another") == 0


GRACEFUL = [name for name in ANSWERING if MODES[name].server != "devserver" and MODES[name].front != "nginx"]


@pytest.mark.modes
@pytest.mark.parametrize("name", GRACEFUL)
def test_sigterm_finishes_the_requests_in_flight(name, slow_api, slow_api_grpc, postgres, tmp_path):
    """systemd stops a unit with SIGTERM: the server stops accepting, answers
    what it holds, then exits 0 (uWSGI's default SIGTERM would reload)."""
    mode = MODES[name]
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_UPSTREAM_GRPC": slow_api_grpc,
           "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(mode, "tuned", tmp_path, **env) as served:
        assert http_get(f"{served.url}{mode.route}?delay=0").status == 200
        answers = []
        client = threading.Thread(target=lambda: answers.append(http_get(f"{served.url}{mode.route}?delay=1")))
        client.start()
        time.sleep(0.4)  # the request is in flight, waiting on the slow API
        sent = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        client.join(10)
        code = served.proc.wait(15)
        assert [a.status for a in answers] == [200], answers
        assert code == 0, f"{name} exited {code} on SIGTERM"
        assert time.monotonic() - sent >= 0.4  # it waited for the request
