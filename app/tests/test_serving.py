"""Every mode's real server, started as its unit starts it, under concurrent load.

Concurrency is asserted as a ratio to the request's own delay, never as an
absolute time: 10 requests of 0.5 s that overlap finish in about one delay,
serialised ones in about ten.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from benchapp.modes import load_modes
from conftest import concurrent_get, healthz, http_get, serve_mode

MODES = load_modes()
DELAY = 0.5
COUNT = 10
OVERLAP_MAX = 3.0  # all 10 within 3 delays: they ran together
SERIAL_MIN = 4.0  # beyond 4 delays: they queued behind each other


def expected_body(route: str) -> str:
    return "Hi there! slow api response" + (" " if route == "/db" else "")


@pytest.mark.modes
@pytest.mark.parametrize("profile", ["tuned", "seed"])
@pytest.mark.parametrize("name", list(MODES))
def test_mode_serves_concurrent_requests(name, profile, slow_api, postgres, tmp_path):
    mode = MODES[name]
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(mode, profile, tmp_path, **env) as served:
        state = healthz(served.url)
        assert (state["mode"], state["profile"], state["server"]) == (name, profile, mode.server)
        assert state["patched"] is mode.gevent  # the sync modes stay unpatched
        assert state["psycogreen"] is ("psycogreen" in mode.patch)
        # gevent.libev.corecext.loop or gevent.libuv.loop.loop: the table's choice
        assert (state["loop"] or "").split(".")[1:2] == ([mode.loop] if mode.gevent else [])
        assert state["upstream"] == mode.profiles[profile]["upstream"]

        warm = http_get(f"{served.url}{mode.route}?delay=0")
        assert warm.status == 200, warm

        answers, elapsed = concurrent_get(f"{served.url}{mode.route}?delay={DELAY}", COUNT)
        assert [a.status for a in answers] == [200] * COUNT, [a.body[:200] for a in answers]
        assert all(a.body.startswith(expected_body(mode.route)) for a in answers)
        if mode.route == "/":
            assert all(a.body == "Hi there! slow api response" for a in answers)

        ratio = elapsed / DELAY
        if mode.concurrency == "overlap":
            assert ratio < OVERLAP_MAX, f"{name}: {COUNT} requests took {ratio:.1f} delays"
        else:
            assert ratio > SERIAL_MIN, f"{name}: {COUNT} requests took only {ratio:.1f} delays"

        assert http_get(f"{served.url}/?delay=abc").status == 400
        assert served.proc.poll() is None


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

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "benchapp.slow_api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with running(argv, base_env(), url + "/healthz", tmp_path / "slow_api.log") as proc:
        pids = {int(healthz(url)["pid"]) for _ in range(40)}
        answers, elapsed = concurrent_get(f"{url}/?delay={DELAY}", COUNT)
        assert [a.body for a in answers] == ["slow api response"] * COUNT
        assert elapsed / DELAY < OVERLAP_MAX
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2 and pids <= {int(p) for p in children}
    assert proc.returncode == 0
    assert subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True).returncode == 1  # none left


GRACEFUL = [name for name, mode in MODES.items() if mode.server != "devserver" and mode.front != "nginx"]


@pytest.mark.modes
@pytest.mark.parametrize("name", GRACEFUL)
def test_sigterm_finishes_the_requests_in_flight(name, slow_api, postgres, tmp_path):
    """systemd stops a unit with SIGTERM: the server stops accepting, answers
    what it holds, then exits 0 (uWSGI's default SIGTERM would reload)."""
    mode = MODES[name]
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
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
