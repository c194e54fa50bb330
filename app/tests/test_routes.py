"""The routes both apps serve, one suite over both: the Flask app (benchapp.app)
and the Quart app (benchapp.quart_app, the same API on asyncio).

Each case runs against each app's test client (tests/clients.py), with real
services on loopback: the seed's body, the delay's validation (400), the
slow API refusing (502) or too slow (504), /db through each app's pool
(psycopg2's, asyncpg's) and the database unreachable (503), /healthz.
What only one app has is tested with that app: test_app.py (the Flask app:
/send, /async, /grpc, gevent) and test_quart_app.py (the Quart app).
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from clients import APPS
from conftest import BAD_DELAYS, FAST, SLOW_CONNECT, free_port

#: Every app with every upstream client it has: "flask-new" ... "quart-pooled".
APP_UPSTREAMS = [pytest.param((app, kind), id=f"{app}-{kind}") for app, kinds in APPS.items() for kind in kinds]


@pytest.fixture(params=list(APPS))
def app_client(request, clients):
    """make(upstream_url, **env): a client of each app in turn ("flask", "quart")."""
    return lambda upstream_url, **env: clients(request.param, upstream_url, **env)


@pytest.fixture(params=APP_UPSTREAMS)
def upstream_client(request, clients):
    """make(upstream_url, **env): a client of each app with each of its upstream clients."""
    app, kind = request.param
    return lambda upstream_url, **env: clients(app, upstream_url, BENCHAPP_UPSTREAM=kind, **env)


@pytest.fixture()
def client(upstream_client, slow_api):
    return upstream_client(slow_api)


def test_index_answers_the_seed_body_byte_for_byte(client):
    resp = client.get("/?delay=0")
    assert resp.status == 200
    assert resp.body == b"Hi there! slow api response"


def test_delay_is_passed_to_the_slow_api(client):
    start = time.monotonic()
    resp = client.get("/?delay=0.3")
    assert resp.status == 200
    assert resp.body == b"Hi there! slow api response"
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("route", ["/", "/db"])
@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_bad_delay_is_a_400_that_says_what_is_allowed(client, route, raw):
    """The same body from both apps (both call benchapp.delay and benchapp.errors)."""
    resp = client.get(route, query_string={"delay": raw})
    assert resp.status == 400, (route, raw)
    body = resp.json()
    assert body["allowed"] == {"min": 0, "max": 30.0}
    assert "from 0 to 30" in body["detail"]
    assert body == {"error": "bad delay", "allowed": {"min": 0, "max": 30.0},
                    "detail": f"delay must be a number of seconds from 0 to 30, got {raw!r}"}


def test_upstream_refusing_connections_is_a_fast_502(upstream_client):
    client = upstream_client(f"http://127.0.0.1:{free_port()}/", BENCHAPP_UPSTREAM_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    start = time.monotonic()
    resp = client.get("/?delay=0")
    assert resp.status == 502
    assert time.monotonic() - start < FAST
    assert resp.json()["error"] == "slow API unavailable"


def test_upstream_slower_than_the_timeout_is_a_504(silent_upstream, upstream_client):
    client = upstream_client(silent_upstream, BENCHAPP_MAX_DELAY="0.5", BENCHAPP_UPSTREAM_TIMEOUT="1")
    start = time.monotonic()
    resp = client.get("/?delay=0.1")
    elapsed = time.monotonic() - start
    assert resp.status == 504
    assert resp.json() == {"error": "slow API timed out", "detail": "no answer within 1 s"}
    # Gave up at the 1 s timeout: not before it, and not never (the silent
    # upstream holds the connection for the whole test).
    assert 1.0 <= elapsed < 5.0


def test_db_route_uses_the_pool_and_answers_both_results(slow_api, postgres, app_client):
    client = app_client(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn, BENCHAPP_DB_POOL_SIZE="3")
    for _ in range(5):
        start = time.monotonic()
        resp = client.get("/db?delay=0.4")
        assert resp.status == 200, resp.body
        assert resp.body.startswith(b"Hi there! slow api response 20")  # NOW() as ISO date
        assert time.monotonic() - start >= 0.4  # 0.2 in the slow API, then pg_sleep(0.2)
    assert (client.pool.opened, client.pool.idle) == (1, 1)  # sequential requests reuse one connection
    assert client.get("/healthz").json()["db_pool"] == {"size": 3, "idle": 1, "opened": 1}


def test_db_connections_are_bounded_none_leak_and_the_waits_overlap(slow_api, postgres, app_client):
    """8 concurrent /db on a pool of 3: they share 3 connections (none more,
    none leaked), and pg_sleep does not hold the server up (threads in the
    Flask app, the loop in the Quart app's): statements run together."""
    import psycopg2

    client = app_client(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn, BENCHAPP_DB_POOL_SIZE="3")
    replies = client.gather("/db?delay=0.4", 8)
    assert [r.status for r in replies] == [200] * 8, [r.body[:200] for r in replies]
    # NOW() is when each statement began, by the database's clock. Served one
    # after the other, each began after the previous pg_sleep(0.2) ended; a
    # start less than 0.2 s after another's is a statement that ran while the
    # other slept. (The database's clock: a loaded machine cannot fake it.)
    began = sorted(datetime.fromisoformat(r.body.decode().rsplit(" ", 1)[1]) for r in replies)
    assert min((b - a).total_seconds() for a, b in zip(began, began[1:])) < 0.2, began
    assert client.pool.opened <= 3 and client.pool.idle == client.pool.opened
    with psycopg2.connect(postgres.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'benchapp'")
        assert cur.fetchone()[0] == client.pool.opened


def test_database_unreachable_is_a_fast_503(slow_api, app_client):
    client = app_client(slow_api, BENCHAPP_DATABASE_DSN=f"host=127.0.0.1 port={free_port()} dbname=x user=x",
                        BENCHAPP_DB_CONNECT_TIMEOUT=str(SLOW_CONNECT))
    start = time.monotonic()
    resp = client.get("/db?delay=0")
    assert resp.status == 503
    assert time.monotonic() - start < FAST
    assert resp.json()["error"] == "database unavailable"
    assert client.get("/?delay=0").status == 200  # the rest keeps working


def test_no_database_configured_is_a_503(slow_api, app_client):
    resp = app_client(slow_api).get("/db?delay=0")
    assert resp.status == 503
    assert "BENCHAPP_DATABASE_DSN" in resp.json()["detail"]


def test_db_recovers_after_postgres_restarts_without_an_app_restart(slow_api, postgres, app_client):
    client = app_client(slow_api, BENCHAPP_DATABASE_DSN=postgres.dsn)
    assert client.get("/db?delay=0").status == 200
    postgres.stop()
    try:
        assert client.get("/db?delay=0").status == 503
    finally:
        postgres.start()
    # The pooled connection died with the old server: dropped, replaced, no error.
    assert client.get("/db?delay=0").status == 200


def test_healthz_reports_the_mode_and_that_nothing_is_patched(client):
    """Neither the shared Flask module nor the Quart app patches anything (the
    gevent entry points do: test_serving.py)."""
    body = client.get("/healthz").json()
    assert body["mode"] == "test"
    assert body["pid"] > 0
    assert (body["patched"], body["loop"], body["psycogreen"], body["grpc_gevent"]) == (False, None, False, False)
    assert body["monitor"] == {"enabled": False, "max_blocking_time": None, "blocked": None}
