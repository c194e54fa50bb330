"""Every mode's real server, started as its unit starts it, under concurrent load.

Concurrency is asserted as a ratio to the request's own delay, never as an
absolute time: 10 requests of 0.5 s that overlap finish in about one delay,
serialised ones in about ten.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import threading
import time

import pytest

from concurrent.futures import ThreadPoolExecutor

from benchapp.modes import load_modes
from conftest import answer_within, concurrent_get, healthz, http_get, pipelined, serve_mode

MODES = load_modes()
DELAY = 0.5
COUNT = 10
OVERLAP_MAX = 3.0  # all 10 within 3 delays: they ran together
SERIAL_MIN = 4.0  # beyond 4 delays: they queued behind each other
# Modes the table marks as failing (expect) have their own test.
ANSWERING = [name for name, mode in MODES.items() if not mode.expected_to_fail]
EXPECTED_TO_FAIL = [name for name, mode in MODES.items() if mode.expected_to_fail]
HANG_WAIT = 3.0  # seconds a client waits before calling a request hung
UNIT_STOP_TIMEOUT = 15.0  # flask_app_stop_timeout: systemd SIGKILLs a unit still running after it


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
        expected = mode.concurrency_in(profile)
        if expected == "overlap":
            assert ratio < OVERLAP_MAX, f"{name}: {COUNT} requests took {ratio:.1f} delays"
        elif expected == "serial":
            assert ratio > SERIAL_MIN, f"{name}: {COUNT} requests took only {ratio:.1f} delays"
        else:
            # At most `expected` at once: ceil(COUNT / expected) rounds of one
            # delay each, no fewer (the mechanism's bound), and not many more.
            rounds = math.ceil(COUNT / expected)
            assert rounds - 0.2 < ratio < rounds + OVERLAP_MAX - 1, (
                f"{name}: {COUNT} requests took {ratio:.1f} delays, expected about {rounds} ({expected} at once)")

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
        # The 20 clients wait side by side (a pool of 20), each giving up after
        # HANG_WAIT: about one HANG_WAIT in all. An unbounded wait would never
        # end, and waits one after another would take 20 of them.
        assert elapsed < 2 * HANG_WAIT
        if mode.options(profile)["workers"] == 1:
            # The one worker is wedged: not even /healthz answers.
            assert answer_within(f"{served.url}/healthz", 1.0) is None

        # Bounded stop: Gunicorn ends the wedged worker after its graceful
        # timeout and exits cleanly, before systemd's stop timeout would
        # SIGKILL it (the table asserts grace < UNIT_STOP_TIMEOUT).
        grace = mode.options(profile)["graceful_timeout"]
        sent = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(UNIT_STOP_TIMEOUT) == 0
        assert time.monotonic() - sent < UNIT_STOP_TIMEOUT
        assert grace < UNIT_STOP_TIMEOUT


@pytest.mark.modes
def test_psycopg2_blocks_and_psycogreen_overlaps(slow_api, postgres, tmp_path):
    """The seed's bonus: 5 concurrent /db requests under one gevent worker.

    /db?delay=D fetches the slow API for D/2 (cooperative in both modes) then
    runs pg_sleep(D/2): psycopg2 holds the hub for it, psycogreen yields. So
    psycopg2's five sleeps run one after another, and psycogreen's five
    requests take about as long as one. Measured against each server's own
    lone request, not the clock, so a loaded machine slows both sides alike.
    """
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
    delay, count = 1.0, 5
    alone, together = {}, {}
    for name in ("psycopg2", "psycogreen"):
        workdir = tmp_path / name
        workdir.mkdir()
        with serve_mode(MODES[name], "tuned", workdir, **env) as served:
            http_get(f"{served.url}/db?delay=0")
            alone[name] = http_get(f"{served.url}/db?delay={delay}").seconds
            answers, together[name] = concurrent_get(f"{served.url}/db?delay={delay}", count)
            assert [a.status for a in answers] == [200] * count
    # A lower bound from the mechanism (load only adds to it): five pg_sleeps
    # that hold the hub cannot end before their sum.
    assert together["psycopg2"] >= count * delay / 2, together
    # Overlapping: all five within 2 lone requests (ideally 1; serialised
    # sleeps would take 1/2 + 5/2 = 3), i.e. under 0.4 x their serial sum.
    assert together["psycogreen"] < 0.4 * count * alone["psycogreen"], (together, alone)
    assert together["psycopg2"] > 1.5 * together["psycogreen"], together


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
            # The monitor thread checks the hub every max_blocking_time (0.1 s)
            # and counts a block while it lasts (each pg_sleep holds the hub
            # for 0.5 s). Wait a few periods for its report, polling where one
            # is expected rather than betting on one fixed sleep.
            deadline = time.monotonic() + (5.0 if name == "psycopg2" else 0.3)
            while (monitor := healthz(served.url)["monitor"])["blocked"] == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
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


# --- The error contract through the peers' own servers ------------------------------
#
# test_routes checks the 400/502/503/504 contract through the apps' test clients;
# Flask's is what the WSGI servers of the seed hand requests to. The peers put
# something else in between (Granian's Rust HTTP and WSGI bridge, Waitress's
# task threads, uvicorn and asgiref's WsgiToAsgi): the contract is checked
# through each of them, started as its unit starts it.

SEED_SERVERS = ("devserver", "uwsgi", "gunicorn", "pywsgi")
# The peers serving the Flask app (its /grpc gives the 502 here); the quart
# mode's app has no /grpc: test_quart_app checks its contract through uvicorn.
PEERS = [name for name in ANSWERING
         if MODES[name].server not in SEED_SERVERS and MODES[name].entry != "benchapp.quart_asgi"]


@pytest.fixture()
def hanging_api():
    """An HTTP slow API that answers at once, but never for a delay of 0.15 or more."""
    import http.server
    from urllib.parse import parse_qs, urlparse

    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if float(parse_qs(urlparse(self.path).query).get("delay", ["0"])[0]) >= 0.15:
                release.wait(30)  # slower than the app's upstream timeout
                return
            body = b"slow api response"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.modes
@pytest.mark.parametrize("name", PEERS)
def test_peer_servers_keep_the_error_contract(name, hanging_api, tmp_path):
    """400 for a bad delay, 502 when the slow API refuses (gRPC), 503 when the
    database is unreachable, 504 when the slow API outlasts the upstream timeout;
    and requests pipelined on one connection answered alike (WsgiToAsgi alone
    answered the second with a 500: benchapp.flask_asgi)."""
    from conftest import free_port

    mode = MODES[name]
    env = {"BENCHAPP_UPSTREAM_URL": hanging_api, "BENCHAPP_UPSTREAM_GRPC": f"127.0.0.1:{free_port()}",
           "BENCHAPP_DATABASE_DSN": f"host=127.0.0.1 port={free_port()} dbname=x user=x",
           "BENCHAPP_MAX_DELAY": "0.2", "BENCHAPP_UPSTREAM_TIMEOUT": "0.5"}
    with serve_mode(mode, "tuned", tmp_path, **env) as served:
        assert http_get(f"{served.url}/?delay=0").status == 200
        assert pipelined(served.url, "/?delay=0", 3) == [200] * 3
        assert pipelined(served.url, "/?delay=abc", 2) == [400] * 2
        bad = http_get(f"{served.url}/?delay=abc")
        assert bad.status == 400 and "from 0 to 0.2" in bad.body, bad
        refused = http_get(f"{served.url}/grpc?delay=0")
        assert refused.status == 502 and "slow API unavailable" in refused.body, refused
        no_db = http_get(f"{served.url}/db?delay=0")
        assert no_db.status == 503 and "database unavailable" in no_db.body, no_db
        slow = http_get(f"{served.url}/?delay=0.18")
        assert slow.status == 504 and 0.5 <= slow.seconds < 4.5, slow  # the 0.5 s upstream timeout
        assert served.proc.poll() is None


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
        # A single uvicorn process re-raises SIGTERM once it has finished: systemd
        # counts that death, like exit 0, as a clean stop (SuccessExitStatus).
        clean = (0, -signal.SIGTERM) if mode.server == "uvicorn" and mode.options("tuned")["workers"] == 1 else (0,)
        assert code in clean, f"{name} exited {code} on SIGTERM"
        assert time.monotonic() - sent >= 0.4  # it waited for the request


# --- Stopping uWSGI while it starts ------------------------------------------------
#
# systemd may stop a unit at any moment after starting it (a mode switch, a
# deploy that restarts twice). uWSGI ignores SIGTERM (SIG_IGN) from the start
# of its setup until its master loop installs a handler, after the app loaded
# and every worker forked, while the first workers already answer; and each
# worker is forked with SIGHUP ignored until it sets its own handler, so the
# master's graceful SIGHUP to a starting worker was lost and the master waited
# for it forever. Either way systemd's SIGKILL ended it 15 s later.
# benchapp.serve's uWSGI hooks keep both signals blocked (pending, not lost)
# until a handler exists; these tests stop uWSGI inside those windows.

UWSGI_HTTP = [name for name in ANSWERING if MODES[name].server == "uwsgi" and MODES[name].protocol == "http"]


def _first_per_worker_kind(names: list[str]) -> list[str]:
    """One mode per kind of uWSGI worker, as each handles SIGHUP its own way:
    threaded (stops its loop) or async/gevent (exits when idle)."""
    kinds: dict[bool, str] = {}
    for name in names:
        kinds.setdefault("gevent" in MODES[name].options("tuned"), name)
    return list(kinds.values())


# A SIGTERM that reaches uWSGI's graceful handler ends an idle instance in
# about 1-2.5 s (measured): its workers finish at once (a threaded worker's
# 100 threads in under a second), then the master exits at its next 1 s tick
# (master_interval). A lost SIGTERM never ends it. The bound leaves room for
# a loaded machine and stays under the unit's stop timeout, where systemd
# would SIGKILL.
STOP_BOUND = 10.0
WINDOW_HELD = 2  # seconds a hook holds uWSGI inside a start-up window (libc sleep())


def start_uwsgi(mode, workdir, *extra: str):
    """`mode`'s uWSGI with serve.py's argv (plus `extra`), on a free port."""
    from conftest import APP_DIR, PYTHON, base_env, free_port

    from benchapp.serve import build_argv, server_env

    port = free_port()
    argv = build_argv(mode, "tuned", host="127.0.0.1", port=port, python=PYTHON) + list(extra)
    log = workdir / f"{mode.name}-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=base_env(**server_env(mode, "tuned")), cwd=APP_DIR,
                                stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}", log


def sigterm_and_time(proc, log, bound: float) -> tuple[int, float]:
    """SIGTERM now; (exit code, seconds to exit). Fails (and kills) past `bound`."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"still running {bound:g} s after SIGTERM\n--- {log} ---\n{log.read_text(errors='replace')[-3000:]}")
    return code, time.monotonic() - sent


def wait_log(log, text: str, proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"exited {proc.returncode}\n{log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in {log} within {timeout} s"
        time.sleep(0.01)


@pytest.mark.modes
@pytest.mark.parametrize("name", UWSGI_HTTP)
def test_uwsgi_stops_on_sigterm_right_after_start(name, tmp_path):
    """SIGTERM the moment the process starts, and again the moment it first
    answers: both end it, well within the unit's stop timeout."""
    from conftest import wait_http

    mode = MODES[name]
    proc, _, log = start_uwsgi(mode, tmp_path)
    try:
        code, _ = sigterm_and_time(proc, log, STOP_BOUND)
        # Still Python starting (SIGTERM's default action), or uWSGI's graceful stop.
        assert code in (0, -signal.SIGTERM), code
    finally:
        proc.kill()
        proc.wait()

    proc, url, log = start_uwsgi(mode, tmp_path)
    try:
        wait_http(url + "/healthz", proc)  # a worker answers: the master may still be forking others
        code, _ = sigterm_and_time(proc, log, STOP_BOUND)
        assert code == 0, log.read_text(errors="replace")[-3000:]
    finally:
        proc.kill()
        proc.wait()


# Where a SIGTERM used to be lost, held open by a hook that sleeps there, and
# the log line that says uWSGI is inside.
START_WINDOWS = {
    # The master loaded the app and forks no worker yet: SIGTERM was SIG_IGN.
    "master-loading": ("--hook-post-app", "(post app)"),
    # The master's graceful handler is set, the workers are still starting:
    # its SIGHUP to them was SIG_IGN there.
    "workers-starting": ("--hook-post-fork", "(master-start)"),
}


@pytest.mark.modes
@pytest.mark.parametrize("window", START_WINDOWS)
@pytest.mark.parametrize("name", _first_per_worker_kind(UWSGI_HTTP))
def test_uwsgi_sigterm_inside_a_start_window_is_not_lost(name, window, tmp_path):
    hook, inside = START_WINDOWS[window]
    proc, _, log = start_uwsgi(MODES[name], tmp_path, hook, f"callint:sleep {WINDOW_HELD}")
    try:
        wait_log(log, inside, proc)
        # Not vacuous: no worker has set its handlers yet (the accepting hooks
        # run right after), so the signals are still blocked everywhere.
        assert "(accepting)" not in log.read_text(errors="replace")
        code, _ = sigterm_and_time(proc, log, WINDOW_HELD + STOP_BOUND)
    finally:
        proc.kill()
        proc.wait()
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert "graceful shutdown triggered" in text  # the graceful handler ran, not a reload or a kill
