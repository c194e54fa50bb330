"""The Flask app every mode serves.

It patches nothing: whether it runs on threads or greenlets is decided by the
entry point that imports it (benchapp.wsgi, benchapp.patched, ...).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable

from flask import Flask, jsonify, request

from benchapp.async_views import GeventFlask, client_timeout, fetch_async
from benchapp.blocking import BlockingCounter
from benchapp.config import Config
from benchapp.db import Pool
from benchapp.delay import parse_delay
from benchapp.errors import CONTRACT_ERRORS, error_response
from benchapp.grpc_client import GrpcFetch, grpc_gevent_active
from benchapp.upstream import make_client


def gevent_patched() -> bool:
    """Whether an entry point monkey-patched this process (creates no hub)."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


def gevent_state() -> dict[str, Any]:
    """What gevent did to this process: patched or not, and which loop runs.

    Reading the loop creates the hub: call it from a request, never at import
    (uWSGI forks its workers after the import, and a libuv loop created
    before a plain fork fails in the child)."""
    state: dict[str, Any] = {"patched": gevent_patched(), "loop": None, "psycogreen": False,
                             "grpc_gevent": grpc_gevent_active()}
    if "gevent" in sys.modules:
        if state["patched"]:
            import gevent

            loop = gevent.get_hub().loop
            state["loop"] = f"{type(loop).__module__}.{type(loop).__name__}"
    if "psycopg2" in sys.modules:
        import psycopg2.extensions

        state["psycogreen"] = psycopg2.extensions.get_wait_callback() is not None
    return state


def spawn_background(func: Callable[[], None], patched: bool) -> str:
    """Run work after the response: a greenlet when patched, else a thread."""
    if patched:
        import gevent

        gevent.spawn(func)
        return "greenlet"
    threading.Thread(target=func, daemon=True).start()
    return "thread"


class Counters:
    """Background jobs started, finished and failed (shown by /healthz)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = {"started": 0, "done": 0, "failed": 0}

    def add(self, key: str) -> None:
        with self._lock:
            self.values[key] += 1


def create_app(config: Config | None = None) -> Flask:
    """Build the app from `config` (default: the environment)."""
    cfg = config or Config.from_env()
    app = GeventFlask(__name__)
    app.config["BENCHAPP"] = cfg
    fetch = make_client(cfg.upstream, cfg.upstream_url, cfg.upstream_connect_timeout,
                        cfg.upstream_timeout, cfg.http_pool_size)
    pool = Pool(cfg.database_dsn, cfg.db_pool_size, cfg.db_connect_timeout,
                acquire_timeout=cfg.upstream_timeout,
                statement_timeout_ms=int((cfg.max_delay + 5) * 1000))
    app.extensions["benchapp_pool"] = pool
    # The channel is made on the first /grpc call, in the serving process.
    grpc_fetch = GrpcFetch(cfg.upstream_grpc, cfg.upstream_connect_timeout, cfg.upstream_timeout,
                           channels=cfg.grpc_channels)
    app.extensions["benchapp_grpc"] = grpc_fetch
    background = Counters()
    # Entry points patch before importing the app, so this cannot change later.
    patched = gevent_patched()
    app.gevent_patched = patched
    blocking = BlockingCounter()
    if patched:
        blocking.subscribe()

    def delay_arg() -> float:
        return parse_delay(request.args.get("delay"), cfg.max_delay)

    def contract_error(err: Exception):
        """400/502/503/504: the shared mapping (benchapp.errors), as the Quart app's."""
        body, status = error_response(err, cfg)
        return jsonify(body), status

    for error in CONTRACT_ERRORS:
        app.register_error_handler(error, contract_error)

    @app.get("/")
    def index():
        return "Hi there! " + fetch(delay_arg())

    @app.get("/grpc")
    def grpc_route():
        """/ over gRPC: one channel per process, the upstream timeout as deadline."""
        return "Hi there! " + grpc_fetch(delay_arg())

    @app.get("/db")
    def db():
        delay = delay_arg()
        text = fetch(delay / 2)
        now, _ = pool.query("SELECT NOW(), pg_sleep(%s)", (delay / 2,))
        return f"Hi there! {text} {now.isoformat()}"

    @app.post("/send")
    def send():
        delay = delay_arg()

        def work() -> None:
            background.add("started")
            try:
                fetch(delay)
            except Exception:  # counted, never raised into the hub
                background.add("failed")
            else:
                background.add("done")

        how = spawn_background(work, patched)
        return jsonify(accepted=True, runner=how), 202

    async_timeout = client_timeout(cfg.upstream_connect_timeout, cfg.upstream_timeout)

    @app.get("/async")
    async def slow_async():
        """/ as an async view: the slow API through aiohttp, awaited (pooled:
        one keep-alive session per process, as the sync client)."""
        session = app.loop_session(async_timeout, cfg.http_pool_size) if cfg.upstream != "new" else None
        return "Hi there! " + await fetch_async(cfg.upstream_url, delay_arg(), async_timeout, session)

    @app.get("/healthz")
    def healthz():
        return jsonify(
            mode=cfg.mode,
            profile=cfg.profile,
            server=cfg.server,
            pid=os.getpid(),
            upstream=cfg.upstream,
            background=dict(background.values),
            db_pool={"size": cfg.db_pool_size, "idle": pool.idle, "opened": pool.opened},
            monitor=blocking.state(),
            **gevent_state(),
        )

    return app
