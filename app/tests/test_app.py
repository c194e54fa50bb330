"""The Flask app only (benchapp.app): /send, /async, /grpc and its imports.

What the Flask app shares with the Quart app (/, /db, /healthz, the failure
contract) is tested on both in test_routes.py; these routes the Quart app
does not have.
"""

from __future__ import annotations

import threading
import time

import pytest

from clients import APPS
from conftest import BAD_DELAYS, FAST, SLOW_CONNECT, free_port


@pytest.fixture()
def flask_client(clients):
    """make(upstream_url, **env): a test client of the Flask app (tests/clients.py)."""
    return lambda upstream_url, **env: clients("flask", upstream_url, **env)


@pytest.fixture(params=APPS["flask"])
def client(request, slow_api, flask_client):
    return flask_client(slow_api, BENCHAPP_UPSTREAM=request.param)


# --- /send: work after the response --------------------------------------------


@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_bad_delay_is_refused_on_send_too(client, raw):
    assert client.post("/send", query_string={"delay": raw}).status == 400


def test_send_hands_work_to_the_background_and_answers_202(client):
    delay = 1.5
    start = time.monotonic()
    resp = client.post(f"/send?delay={delay}")
    assert resp.status == 202
    # Answered before the work finished: by its state, and by the clock with
    # the work's whole delay as margin (doing the work first would take it all).
    assert client.get("/healthz").json()["background"]["done"] == 0
    assert time.monotonic() - start < delay
    assert resp.json()["runner"] == "thread"  # this process is not patched
    deadline = time.monotonic() + delay + 5
    while time.monotonic() < deadline:
        counts = client.get("/healthz").json()["background"]
        if counts["done"] == 1:
            break
        time.sleep(0.05)
    assert counts == {"started": 1, "done": 1, "failed": 0}


# --- /async: an async view, under gevent or asyncio.run ----------------------------


def test_async_view_answers_like_index(client):
    """/async awaits the slow API through aiohttp (asyncio.run per call when unpatched)."""
    start = time.monotonic()
    resp = client.get("/async?delay=0.3")
    assert resp.status == 200
    assert resp.body == b"Hi there! slow api response"
    assert time.monotonic() - start >= 0.3
    assert client.get("/async?delay=abc").status == 400


def test_async_view_maps_upstream_failures_like_index(silent_upstream, flask_client):
    refused = flask_client(f"http://127.0.0.1:{free_port()}/")
    resp = refused.get("/async?delay=0")
    assert resp.status == 502 and resp.json()["error"] == "slow API unavailable"
    silent = flask_client(silent_upstream, BENCHAPP_MAX_DELAY="0.5", BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    assert silent.get("/async?delay=0.1").status == 504
    assert 1.0 <= time.monotonic() - start < 5.0  # the 1 s timeout; the silent upstream never answers


# --- /grpc: the slow API over gRPC ---------------------------------------------


@pytest.fixture()
def grpc_client(slow_api, slow_api_grpc, flask_client):
    return flask_client(slow_api, BENCHAPP_UPSTREAM_GRPC=slow_api_grpc)


def test_grpc_route_answers_like_index_over_one_channel(grpc_client):
    start = time.monotonic()
    resp = grpc_client.get("/grpc?delay=0.3")
    assert resp.status == 200
    assert resp.body == b"Hi there! slow api response"
    assert time.monotonic() - start >= 0.3
    fetch = grpc_client.app.extensions["benchapp_grpc"]
    channels = list(fetch._channels)
    assert grpc_client.get("/grpc?delay=0").status == 200
    assert fetch._channels == channels and len(channels) == 1  # made once, reused
    body = grpc_client.get("/healthz").json()
    assert body["grpc_gevent"] is False  # imported, but not patched for gevent


@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_grpc_route_refuses_bad_delays(grpc_client, raw):
    assert grpc_client.get("/grpc", query_string={"delay": raw}).status == 400


def test_grpc_upstream_refusing_connections_is_a_fast_502(flask_client):
    client = flask_client(f"http://127.0.0.1:{free_port()}/", BENCHAPP_UPSTREAM_GRPC=f"127.0.0.1:{free_port()}",
                          BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    for _ in range(2):  # the failed channel is dropped; the next request tries again
        start = time.monotonic()
        resp = client.get("/grpc?delay=0")
        assert resp.status == 502
        assert time.monotonic() - start < FAST  # refused at once, not after the connect timeout
        assert resp.json()["error"] == "slow API unavailable"


@pytest.fixture()
def sleepy_grpc():
    """A gRPC server of the slow API's method that sleeps past any deadline."""
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    from benchapp import grpc_api

    release = threading.Event()

    def delay(_request: bytes, _context) -> bytes:
        release.wait(10)
        return grpc_api.BODY_BYTES

    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        grpc_api.SERVICE, {"Delay": grpc.unary_unary_rpc_method_handler(delay)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    release.set()
    server.stop(0)


def test_grpc_upstream_slower_than_the_deadline_is_a_504(slow_api, sleepy_grpc, flask_client):
    client = flask_client(slow_api, BENCHAPP_UPSTREAM_GRPC=sleepy_grpc, BENCHAPP_MAX_DELAY="0.5",
                          BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    resp = client.get("/grpc?delay=0.1")
    elapsed = time.monotonic() - start
    assert resp.status == 504
    assert 1.0 <= elapsed < 5.0  # the 1 s deadline, not the server's 10 s sleep


def test_grpc_recovers_after_the_slow_api_restarts_without_an_app_restart(tmp_path, flask_client):
    """Down: a fast 502 on the kept channel. Up again after 6 s of failing
    calls: answers within RECONNECT_BOUND, no app restart.

    CHANNEL_OPTIONS caps gRPC's reconnect backoff at 1 s (jitter: +-20 %), so
    the channel tries again at most 1.2 s after the server is back; gRPC's
    default backoff had grown to 2.4-3.3 s by then (1 s, x1.6 per attempt).
    The bound sits between: 0.8 s of room for a loaded machine, still short
    of the uncapped backoff."""
    from conftest import PYTHON, base_env, running

    from benchapp.grpc_client import CHANNEL_OPTIONS

    cap = dict(CHANNEL_OPTIONS)["grpc.max_reconnect_backoff_ms"] / 1000
    reconnect_bound = cap * 1.2 + 0.8
    assert reconnect_bound < 2.4
    port, grpc_port = free_port(), free_port()
    argv = [PYTHON, "-m", "benchapp.slow_api", "--host", "127.0.0.1", "--port", str(port),
            "--grpc-port", str(grpc_port)]
    url = f"http://127.0.0.1:{port}/"
    client = flask_client(url, BENCHAPP_UPSTREAM_GRPC=f"127.0.0.1:{grpc_port}",
                          BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    with running(argv, base_env(), url + "healthz", tmp_path / "first.log"):
        assert client.get("/grpc?delay=0").status == 200
    down = time.monotonic()
    while time.monotonic() - down < 6.0:
        start = time.monotonic()
        assert client.get("/grpc?delay=0").status == 502
        assert time.monotonic() - start < FAST
        time.sleep(0.05)
    with running(argv, base_env(), url + "healthz", tmp_path / "again.log"):
        up = time.monotonic()
        while client.get("/grpc?delay=0").status != 200:
            assert time.monotonic() - up < reconnect_bound, f"gRPC did not reconnect within {reconnect_bound:g} s"
            time.sleep(0.05)


# --- What the app imports ----------------------------------------------------------


def test_the_app_imports_neither_aiohttp_nor_requests():
    """Each mode switch of the bench pays the app's import: aiohttp (async views)
    and requests (the seed's upstream client) load on first use only."""
    import subprocess
    import sys

    code = "import benchapp.patched, sys; print(sorted(m for m in ('aiohttp', 'requests') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out
