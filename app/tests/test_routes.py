"""Routes, validation and failure paths, with Flask's test client and real services."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from benchapp import slow_api as slow_api_module
from benchapp.app import create_app
from benchapp.config import Config, ConfigError
from benchapp.delay import DEFAULT_DELAY, DelayError, parse_delay
from conftest import free_port

BAD_DELAYS = ["abc", "-1", "nan", "inf", "-inf", "1e9", "", "   ", "0x1", "1_0", "31", "1,5"]
# "Fast" failures are timed against a connect timeout made long on purpose:
# a refused connection fails at once, so the only way to come near this is to
# wait for a timer (a retry, a connect timeout) that the test must catch. Half
# of it is the bound: a loaded machine has seconds of room, a regression does not fit.
SLOW_CONNECT = 10
FAST = SLOW_CONNECT / 2


def make_client(upstream_url: str, **env: str):
    config = Config.from_env({"BENCHAPP_UPSTREAM_URL": upstream_url, "BENCHAPP_MODE": "test", **env})
    app = create_app(config)
    app.testing = True
    return app.test_client()


@pytest.fixture(params=["new", "pooled", "gevent"])
def client(request, slow_api):
    return make_client(slow_api, BENCHAPP_UPSTREAM=request.param)


def test_index_answers_the_seed_body_byte_for_byte(client):
    resp = client.get("/?delay=0")
    assert resp.status_code == 200
    assert resp.data == b"Hi there! slow api response"


def test_delay_is_passed_to_the_slow_api(client):
    start = time.monotonic()
    assert client.get("/?delay=0.3").status_code == 200
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_bad_delay_is_a_400_that_says_what_is_allowed(client, raw):
    resp = client.get("/", query_string={"delay": raw})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["allowed"] == {"min": 0, "max": 30.0}
    assert "from 0 to 30" in body["detail"]


@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_bad_delay_is_refused_on_db_and_send_too(client, raw):
    assert client.get("/db", query_string={"delay": raw}).status_code == 400
    assert client.post("/send", query_string={"delay": raw}).status_code == 400


def test_delay_parsing():
    assert parse_delay(None, 30) == DEFAULT_DELAY == 1.0
    assert parse_delay(" 2.5 ", 30) == 2.5
    assert parse_delay("30", 30) == 30.0
    assert parse_delay("1e1", 30) == 10.0
    assert str(parse_delay("-0", 30)) == "0.0"
    for raw in BAD_DELAYS:
        with pytest.raises(DelayError):
            parse_delay(raw, 30)


def test_slow_api_validates_the_same_way():
    import asyncio

    async def check():
        async with TestClient(TestServer(slow_api_module.create_app(30))) as cli:
            for raw in BAD_DELAYS:
                resp = await cli.get("/", params={"delay": raw})
                assert resp.status == 400, raw
                assert "from 0 to 30" in (await resp.json())["detail"]
            ok = await cli.get("/", params={"delay": "0"})
            assert ok.status == 200 and await ok.text() == "slow api response"

    asyncio.run(check())


def test_upstream_refusing_connections_is_a_fast_502():
    for kind in ("new", "pooled", "gevent"):
        client = make_client(f"http://127.0.0.1:{free_port()}/", BENCHAPP_UPSTREAM=kind,
                             BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
        start = time.monotonic()
        resp = client.get("/?delay=0")
        assert resp.status_code == 502
        assert time.monotonic() - start < FAST
        assert resp.get_json()["error"] == "slow API unavailable"


@pytest.fixture()
def silent_upstream():
    """Accepts connections and never answers: an upstream slower than any timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


@pytest.mark.parametrize("kind", ["new", "pooled", "gevent"])
def test_upstream_slower_than_the_timeout_is_a_504(silent_upstream, kind):
    client = make_client(silent_upstream, BENCHAPP_UPSTREAM=kind, BENCHAPP_MAX_DELAY="0.5",
                         BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    resp = client.get("/?delay=0.1")
    elapsed = time.monotonic() - start
    assert resp.status_code == 504
    # Gave up at the 1 s timeout: not before it, and not never (the silent
    # upstream holds the connection for the whole test).
    assert 1.0 <= elapsed < 5.0


def test_upstream_timeout_must_exceed_the_maximum_delay():
    with pytest.raises(ConfigError, match="must exceed"):
        Config.from_env({"BENCHAPP_MAX_DELAY": "30", "BENCHAPP_UPSTREAM_TIMEOUT": "30"})
    with pytest.raises(ConfigError, match="BENCHAPP_MAX_DELAY"):
        Config.from_env({"BENCHAPP_MAX_DELAY": "-1"})
    assert Config.from_env({}).upstream_timeout > Config.from_env({}).max_delay


def test_db_route_uses_the_pool_and_answers_both_results(slow_api, postgres):
    client = make_client(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn, BENCHAPP_DB_POOL_SIZE="3")
    for _ in range(5):
        resp = client.get("/db?delay=0.2")
        assert resp.status_code == 200, resp.data
        assert resp.data.startswith(b"Hi there! slow api response 20")  # NOW() as ISO date
    pool = client.application.extensions["benchapp_pool"]
    assert pool.opened == 1  # sequential requests reuse one connection
    assert pool.idle == 1
    pool.close()  # not left to the garbage collector: the next test counts connections


def test_db_connections_are_bounded_and_none_leak(slow_api, postgres):
    import psycopg2

    client_app = make_client(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn, BENCHAPP_DB_POOL_SIZE="3").application
    errors: list[BaseException] = []

    def hit():
        try:
            with client_app.test_client() as c:
                assert c.get("/db?delay=0.2").status_code == 200
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    pool = client_app.extensions["benchapp_pool"]
    assert pool.opened <= 3 and pool.idle == pool.opened
    with psycopg2.connect(postgres.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'benchapp'")
        assert cur.fetchone()[0] == pool.opened
    pool.close()


def test_database_unreachable_is_a_fast_503(slow_api):
    client = make_client(slow_api, BENCHAPP_DATABASE_DSN=f"host=127.0.0.1 port={free_port()} dbname=x user=x",
                         BENCHAPP_DB_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    start = time.monotonic()
    resp = client.get("/db?delay=0")
    assert resp.status_code == 503
    assert time.monotonic() - start < FAST
    assert resp.get_json()["error"] == "database unavailable"
    assert client.get("/?delay=0").status_code == 200  # the rest keeps working


def test_no_database_configured_is_a_503(slow_api):
    resp = make_client(slow_api).get("/db?delay=0")
    assert resp.status_code == 503
    assert "BENCHAPP_DATABASE_DSN" in resp.get_json()["detail"]


def test_db_recovers_after_postgres_restarts_without_an_app_restart(slow_api, postgres):
    client = make_client(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn)
    assert client.get("/db?delay=0").status_code == 200
    postgres.stop()
    try:
        assert client.get("/db?delay=0").status_code == 503
    finally:
        postgres.start()
    # The pooled connection died with the old server: dropped, replaced, no error.
    assert client.get("/db?delay=0").status_code == 200


def test_send_hands_work_to_the_background_and_answers_202(client):
    delay = 1.5
    start = time.monotonic()
    resp = client.post(f"/send?delay={delay}")
    assert resp.status_code == 202
    # Answered before the work finished: by its state, and by the clock with
    # the work's whole delay as margin (doing the work first would take it all).
    assert client.get("/healthz").get_json()["background"]["done"] == 0
    assert time.monotonic() - start < delay
    assert resp.get_json()["runner"] == "thread"  # this process is not patched
    deadline = time.monotonic() + delay + 5
    while time.monotonic() < deadline:
        counts = client.get("/healthz").get_json()["background"]
        if counts["done"] == 1:
            break
        time.sleep(0.05)
    assert counts == {"started": 1, "done": 1, "failed": 0}


def test_healthz_reports_mode_and_that_the_shared_module_patches_nothing(client):
    body = client.get("/healthz").get_json()
    assert body["mode"] == "test"
    assert body["patched"] is False and body["loop"] is None
    assert body["pid"] > 0


def test_async_view_answers_like_index(client):
    """/async awaits the slow API through aiohttp (asyncio.run per call when unpatched)."""
    start = time.monotonic()
    resp = client.get("/async?delay=0.3")
    assert resp.status_code == 200
    assert resp.data == b"Hi there! slow api response"
    assert time.monotonic() - start >= 0.3
    assert client.get("/async?delay=abc").status_code == 400


def test_async_session_holds_the_configured_pool_size():
    """aiohttp's connector allows 100 connections by default; the async view's
    session takes the app's pool size, as the sync pool does."""
    import asyncio

    from benchapp.async_views import GeventFlask, client_timeout

    app = GeventFlask(__name__)
    app.gevent_patched = True

    async def limit() -> int:
        session = app.loop_session(client_timeout(1, 5), 700)
        try:
            return session.connector.limit
        finally:
            await session.close()

    assert asyncio.run(limit()) == 700


def test_async_view_maps_upstream_failures_like_index(silent_upstream):
    refused = make_client(f"http://127.0.0.1:{free_port()}/")
    resp = refused.get("/async?delay=0")
    assert resp.status_code == 502 and resp.get_json()["error"] == "slow API unavailable"
    silent = make_client(silent_upstream, BENCHAPP_MAX_DELAY="0.5", BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    assert silent.get("/async?delay=0.1").status_code == 504
    assert 1.0 <= time.monotonic() - start < 5.0  # the 1 s timeout; the silent upstream never answers


# --- /grpc: the slow API over gRPC ---------------------------------------------


@pytest.fixture()
def grpc_client(slow_api, slow_api_grpc):
    return make_client(slow_api, BENCHAPP_UPSTREAM_GRPC=slow_api_grpc)


def test_grpc_route_answers_like_index_over_one_channel(grpc_client):
    start = time.monotonic()
    resp = grpc_client.get("/grpc?delay=0.3")
    assert resp.status_code == 200
    assert resp.data == b"Hi there! slow api response"
    assert time.monotonic() - start >= 0.3
    fetch = grpc_client.application.extensions["benchapp_grpc"]
    channels = list(fetch._channels)
    assert grpc_client.get("/grpc?delay=0").status_code == 200
    assert fetch._channels == channels and len(channels) == 1  # made once, reused
    body = grpc_client.get("/healthz").get_json()
    assert body["grpc_gevent"] is False  # imported, but not patched for gevent


def test_grpc_channels_are_separate_connections_used_in_turn():
    """grpc_channels=3: three HTTP/2 connections (three client ports seen by the
    server), the calls round-robin over them, so they spread over the slow
    API's processes; identical channels would share one connection."""
    from concurrent import futures

    import grpc

    from benchapp import grpc_api
    from benchapp.grpc_client import GrpcFetch

    peers: list[str] = []

    def delay(_raw: bytes, context: grpc.ServicerContext) -> bytes:
        peers.append(context.peer())
        return grpc_api.BODY_BYTES

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(grpc_api.SERVICE, {
        "Delay": grpc.unary_unary_rpc_method_handler(delay)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        fetch = GrpcFetch(f"127.0.0.1:{port}", connect_timeout=5, timeout=5, channels=3)
        assert [fetch(0) for _ in range(6)] == [grpc_api.BODY] * 6
        assert len(set(peers)) == 3, peers
        assert peers[:3] == peers[3:]  # in turn
    finally:
        server.stop(0)


@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_grpc_route_refuses_bad_delays(grpc_client, raw):
    assert grpc_client.get("/grpc", query_string={"delay": raw}).status_code == 400


def test_slow_api_grpc_validates_the_same_way(slow_api_grpc):
    import grpc

    from benchapp import grpc_api

    with grpc.insecure_channel(slow_api_grpc) as channel:
        call = channel.unary_unary(grpc_api.METHOD, request_serializer=lambda text: text.encode(),
                                   response_deserializer=grpc_api.decode_body)
        for raw in BAD_DELAYS:
            with pytest.raises(grpc.RpcError) as err:
                call(raw, timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raw
            assert "from 0 to 30" in err.value.details()
        assert call("0", timeout=5) == "slow api response"


def test_grpc_upstream_refusing_connections_is_a_fast_502():
    client = make_client(f"http://127.0.0.1:{free_port()}/", BENCHAPP_UPSTREAM_GRPC=f"127.0.0.1:{free_port()}",
                         BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    for _ in range(2):  # the failed channel is dropped; the next request tries again
        start = time.monotonic()
        resp = client.get("/grpc?delay=0")
        assert resp.status_code == 502
        assert time.monotonic() - start < FAST  # refused at once, not after the connect timeout
        assert resp.get_json()["error"] == "slow API unavailable"


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


def test_grpc_upstream_slower_than_the_deadline_is_a_504(slow_api, sleepy_grpc):
    client = make_client(slow_api, BENCHAPP_UPSTREAM_GRPC=sleepy_grpc, BENCHAPP_MAX_DELAY="0.5",
                         BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    resp = client.get("/grpc?delay=0.1")
    elapsed = time.monotonic() - start
    assert resp.status_code == 504
    assert 1.0 <= elapsed < 5.0  # the 1 s deadline, not the server's 10 s sleep


def test_grpc_target_comes_from_the_environment():
    assert Config.from_env({}).upstream_grpc == "127.0.0.1:8001"
    assert Config.from_env({"BENCHAPP_UPSTREAM_GRPC": "10.0.0.2:9001"}).upstream_grpc == "10.0.0.2:9001"


def test_grpc_recovers_after_the_slow_api_restarts_without_an_app_restart(tmp_path):
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
    client = make_client(url, BENCHAPP_UPSTREAM_GRPC=f"127.0.0.1:{grpc_port}",
                         BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    with running(argv, base_env(), url + "healthz", tmp_path / "first.log"):
        assert client.get("/grpc?delay=0").status_code == 200
    down = time.monotonic()
    while time.monotonic() - down < 6.0:
        start = time.monotonic()
        assert client.get("/grpc?delay=0").status_code == 502
        assert time.monotonic() - start < FAST
        time.sleep(0.05)
    with running(argv, base_env(), url + "healthz", tmp_path / "again.log"):
        up = time.monotonic()
        while client.get("/grpc?delay=0").status_code != 200:
            assert time.monotonic() - up < reconnect_bound, f"gRPC did not reconnect within {reconnect_bound:g} s"
            time.sleep(0.05)


def test_the_app_imports_neither_aiohttp_nor_requests():
    """Each mode switch of the bench pays the app's import: aiohttp (async views)
    and requests (the seed's upstream client) load on first use only."""
    import subprocess
    import sys

    code = "import benchapp.patched, sys; print(sorted(m for m in ('aiohttp', 'requests') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out
