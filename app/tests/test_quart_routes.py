"""The Quart app (benchapp.quart_app, the quart mode): the Flask app's contract on asyncio.

The same cases as test_routes.py, against Quart's test client: the seed's
body, the delay's validation (400), the slow API refusing (502) or too slow
(504), /db through the asyncpg pool and the database unreachable (503), with
real services on loopback. Each client runs the app's serving lifecycle
(before_serving/after_serving) on one event loop of its own, as a worker
does: the pool and the keep-alive session live on that loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from benchapp import app as flask_app_module
from benchapp.aiodb import libpq_params
from benchapp.config import Config
from benchapp.modes import load_modes
from benchapp.quart_app import create_app
from conftest import concurrent_get, free_port, healthz, http_get, serve_mode
from test_routes import BAD_DELAYS, FAST, SLOW_CONNECT, silent_upstream  # noqa: F401 (a fixture)


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class QuartClient:
    """Quart's test client, driven synchronously: the app is served (its
    before_serving ran) on a loop of its own until close()."""

    def __init__(self, upstream_url: str, **env: str) -> None:
        config = Config.from_env({"BENCHAPP_UPSTREAM_URL": upstream_url, "BENCHAPP_MODE": "test", **env})
        self.app = create_app(config)
        self.loop = asyncio.new_event_loop()
        self._served = self.app.test_app()
        self.loop.run_until_complete(self._served.__aenter__())
        self._client = self._served.test_client()

    @property
    def pool(self):
        return self.app.extensions["benchapp_pool"]

    async def _get(self, path: str, query_string: dict[str, str] | None = None) -> Reply:
        resp = await self._client.get(path, query_string=query_string)
        return Reply(resp.status_code, await resp.get_data())

    def get(self, path: str, query_string: dict[str, str] | None = None) -> Reply:
        return self.loop.run_until_complete(self._get(path, query_string))

    def gather(self, path: str, count: int) -> list[Reply]:
        """`count` concurrent requests, as a worker's loop would serve them."""
        async def all_of() -> list[Reply]:
            return list(await asyncio.gather(*(self._get(path) for _ in range(count))))

        return self.loop.run_until_complete(all_of())

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._served.__aexit__(None, None, None))  # after_serving
        finally:
            self.loop.close()


@pytest.fixture()
def clients() -> Iterator[Any]:
    """make(upstream_url, **env) -> a served QuartClient, closed after the test."""
    made: list[QuartClient] = []

    def make(upstream_url: str, **env: str) -> QuartClient:
        made.append(QuartClient(upstream_url, **env))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=["new", "pooled"])
def client(request, slow_api, clients):
    return clients(slow_api, BENCHAPP_UPSTREAM=request.param)


def test_index_answers_the_seed_body_byte_for_byte(client):
    start = time.monotonic()
    resp = client.get("/?delay=0.3")
    assert resp.status == 200
    assert resp.body == b"Hi there! slow api response"
    assert time.monotonic() - start >= 0.3  # the delay reached the slow API


def test_bad_delay_is_a_400_on_every_route_like_the_flask_apps(client, slow_api):
    """Same validation and body as the Flask app: both call benchapp.delay and benchapp.errors."""
    flask = flask_app_module.create_app(Config.from_env({"BENCHAPP_UPSTREAM_URL": slow_api})).test_client()
    for raw in BAD_DELAYS:
        for route in ("/", "/db"):
            resp = client.get(route, query_string={"delay": raw})
            assert resp.status == 400, (route, raw)
            body = resp.json()
            assert body["allowed"] == {"min": 0, "max": 30.0}
            assert "from 0 to 30" in body["detail"]
            assert body == flask.get(route, query_string={"delay": raw}).get_json()


def test_upstream_refusing_connections_is_a_fast_502(clients):
    for kind in ("new", "pooled"):
        client = clients(f"http://127.0.0.1:{free_port()}/", BENCHAPP_UPSTREAM=kind,
                         BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
        start = time.monotonic()
        resp = client.get("/?delay=0")
        assert resp.status == 502
        assert time.monotonic() - start < FAST
        assert resp.json()["error"] == "slow API unavailable"


@pytest.mark.parametrize("kind", ["new", "pooled"])
def test_upstream_slower_than_the_timeout_is_a_504(silent_upstream, clients, kind):  # noqa: F811
    client = clients(silent_upstream, BENCHAPP_UPSTREAM=kind, BENCHAPP_MAX_DELAY="0.5",
                     BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    resp = client.get("/?delay=0.1")
    elapsed = time.monotonic() - start
    assert resp.status == 504
    assert resp.json() == {"error": "slow API timed out", "detail": "no answer within 1 s"}
    assert 1.0 <= elapsed < 5.0  # the 1 s timeout; the silent upstream never answers


def test_db_route_uses_the_pool_and_answers_both_results(slow_api, postgres, clients):
    client = clients(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn, BENCHAPP_DB_POOL_SIZE="3")
    for _ in range(3):
        start = time.monotonic()
        resp = client.get("/db?delay=0.4")
        assert resp.status == 200, resp.body
        assert resp.body.startswith(b"Hi there! slow api response 20")  # NOW() as ISO date
        assert time.monotonic() - start >= 0.4  # 0.2 in the slow API, then pg_sleep(0.2)
    assert (client.pool.opened, client.pool.idle) == (1, 1)  # sequential requests reuse one connection
    health = client.get("/healthz").json()
    assert health["db_pool"] == {"size": 3, "idle": 1, "opened": 1}


def test_db_waits_cooperatively_and_connections_are_bounded(slow_api, postgres, clients):
    """8 concurrent /db on a pool of 3: they share 3 connections (none more,
    none leaked), and pg_sleep yields to the loop: 3 at a time take about 3
    rounds of 0.2 s, not 8."""
    import psycopg2

    client = clients(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn, BENCHAPP_DB_POOL_SIZE="3")
    start = time.monotonic()
    replies = client.gather("/db?delay=0.4", 8)
    elapsed = time.monotonic() - start
    assert [r.status for r in replies] == [200] * 8, [r.body[:200] for r in replies]
    assert elapsed < 8 * 0.2  # the sleeps overlapped (serialised: 1.6 s of pg_sleep alone)
    assert client.pool.opened <= 3 and client.pool.idle == client.pool.opened
    with psycopg2.connect(postgres.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'benchapp'")
        assert cur.fetchone()[0] == client.pool.opened


def test_database_unreachable_is_a_fast_503(slow_api, clients):
    client = clients(slow_api, BENCHAPP_DATABASE_DSN=f"host=127.0.0.1 port={free_port()} dbname=x user=x",
                     BENCHAPP_DB_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    start = time.monotonic()
    resp = client.get("/db?delay=0")
    assert resp.status == 503
    assert time.monotonic() - start < FAST
    assert resp.json()["error"] == "database unavailable"
    assert client.get("/?delay=0").status == 200  # the rest keeps working


def test_no_database_configured_is_a_503(slow_api, clients):
    resp = clients(slow_api).get("/db?delay=0")
    assert resp.status == 503
    assert "BENCHAPP_DATABASE_DSN" in resp.json()["detail"]


def test_db_recovers_after_postgres_restarts_without_an_app_restart(slow_api, postgres, clients):
    client = clients(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn)
    assert client.get("/db?delay=0").status == 200
    postgres.stop()
    try:
        assert client.get("/db?delay=0").status == 503
    finally:
        postgres.start()
    # The pooled connection died with the old server: dropped, replaced, no error.
    assert client.get("/db?delay=0").status == 200


def test_healthz_reports_the_mode_and_no_gevent(client):
    body = client.get("/healthz").json()
    assert body["mode"] == "test" and body["framework"] == "quart"
    assert (body["patched"], body["loop"], body["psycogreen"], body["grpc_gevent"]) == (False, None, False, False)
    assert body["monitor"] == {"enabled": False, "max_blocking_time": None, "blocked": None}
    assert body["asyncio_loop"].startswith("asyncio.")


def test_libpq_connection_strings_become_asyncpg_arguments():
    assert libpq_params("host=10.0.0.5 port=5432 dbname=benchapp user=benchapp password=s3cr=t") == {
        "host": "10.0.0.5", "port": 5432, "database": "benchapp", "user": "benchapp", "password": "s3cr=t"}
    assert libpq_params("  host = x   user='a b' ") == {"host": "x", "user": "a b"}
    assert libpq_params(r"password='it\'s a \\ pass' user=x") == {"password": "it's a \\ pass", "user": "x"}
    assert libpq_params("") == {}
    with pytest.raises(ValueError, match="'gssencmode' is not supported"):
        libpq_params("host=x gssencmode=disable")
    with pytest.raises(ValueError, match="malformed"):
        libpq_params("host")


# --- The quart mode's real server (uvicorn), started as its unit starts it -----------

@pytest.fixture()
def flaky_api():
    """An HTTP slow API: 200 at once, a 500 for delay 0.3, no answer for 0.4 or more."""
    import http.server
    import threading
    from urllib.parse import parse_qs, urlparse

    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            delay = float(parse_qs(urlparse(self.path).query).get("delay", ["0"])[0])
            if delay >= 0.4:
                release.wait(30)  # slower than the app's upstream timeout
                return
            status, body = (500, b"broken") if delay == 0.3 else (200, b"slow api response")
            self.send_response(status)
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


QUART_MODES = [name for name, mode in load_modes().items() if mode.entry == "benchapp.quart_asgi"]


@pytest.mark.modes
@pytest.mark.parametrize("name", QUART_MODES)
def test_quart_server_keeps_the_error_contract(name, flaky_api, tmp_path):
    """Through the mode's own server: 400 for a bad delay, 502 when the slow API
    answers an error, 503 when the database is unreachable, 504 when the slow
    API outlasts the upstream timeout, on each of its workers' loops."""
    from test_serving import pipelined

    env = {"BENCHAPP_UPSTREAM_URL": flaky_api,
           "BENCHAPP_DATABASE_DSN": f"host=127.0.0.1 port={free_port()} dbname=x user=x",
           "BENCHAPP_MAX_DELAY": "0.5", "BENCHAPP_UPSTREAM_TIMEOUT": "1"}
    with serve_mode(load_modes()[name], "tuned", tmp_path, **env) as served:
        assert http_get(f"{served.url}/?delay=0").body == "Hi there! slow api response"
        # Requests pipelined on one connection, as wrk's keep-alive ones may arrive.
        assert pipelined(served.url, "/?delay=0", 3) == [200] * 3
        assert pipelined(served.url, "/?delay=abc", 2) == [400] * 2
        bad = http_get(f"{served.url}/db?delay=abc")
        assert bad.status == 400 and "from 0 to 0.5" in bad.body, bad
        broken = http_get(f"{served.url}/?delay=0.3")
        assert broken.status == 502 and "slow API unavailable" in broken.body, broken
        no_db = http_get(f"{served.url}/db?delay=0")
        assert no_db.status == 503 and "database unavailable" in no_db.body, no_db
        slow = http_get(f"{served.url}/?delay=0.45")
        assert slow.status == 504 and 1.0 <= slow.seconds < 5.0, slow
        assert served.proc.poll() is None


@pytest.mark.modes
@pytest.mark.parametrize("profile", ["tuned", "seed"])
@pytest.mark.parametrize("name", QUART_MODES)
def test_quart_server_db_route_overlaps(name, profile, slow_api, postgres, tmp_path):
    """/db, not the bench's route, checked apart: 10 concurrent /db?delay=0.5
    through the real server and PostgreSQL answer together (the slow API's
    half and pg_sleep's half both awaited), each with NOW()."""
    mode = load_modes()[name]
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(mode, profile, tmp_path, **env) as served:
        assert http_get(f"{served.url}/db?delay=0").status == 200
        answers, elapsed = concurrent_get(f"{served.url}/db?delay=0.5", 10)
        assert [a.status for a in answers] == [200] * 10, [a.body[:200] for a in answers]
        assert all(a.body.startswith("Hi there! slow api response 20") for a in answers)
        assert elapsed / 0.5 < 3.0  # together (serialised: 10 x 0.25 s of pg_sleep alone)
        state = healthz(served.url)
        assert (state["mode"], state["server"], state["framework"]) == (name, mode.server, "quart")
        assert state["db_pool"]["opened"] <= state["db_pool"]["size"]


def test_quart_profiles_are_uvicorns_defaults_and_ours(monkeypatch):
    """seed: uvicorn as its docs start it (1 worker, its own backlog of 2048,
    the access log on); tuned: one worker (modes.yml says why), backlog 4096, no access log."""
    from benchapp.serve import build_argv, server_env

    monkeypatch.setattr("benchapp.serve.somaxconn", lambda: 4096)
    mode = load_modes()["quart"]
    assert (mode.server, mode.entry, mode.route, mode.concurrency) == ("uvicorn", "benchapp.quart_asgi", "/", "overlap")
    seed = build_argv(mode, "seed", cores=2, python="/v/bin/python")
    assert seed == ["/v/bin/uvicorn", "--host", "0.0.0.0", "--port", "3000", "--workers", "1", "benchapp.quart_asgi:app"]
    tuned = build_argv(mode, "tuned", cores=2, python="/v/bin/python")
    assert tuned == ["/v/bin/uvicorn", "--host", "0.0.0.0", "--port", "3000", "--workers", "1",
                     "--backlog", "4096", "--no-access-log", "benchapp.quart_asgi:app"]
    assert [server_env(mode, p)["BENCHAPP_UPSTREAM"] for p in ("seed", "tuned")] == ["new", "pooled"]
