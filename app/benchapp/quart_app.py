"""The Quart app: the Flask app's routes and contract on asyncio ("rewrite it async").

Quart is Flask's API on asyncio; this app answers like benchapp.app for the
routes a peer needs: `GET /?delay=D` (the slow API through aiohttp),
`GET /db?delay=D` (D/2 in the slow API, then `SELECT NOW(), pg_sleep(D/2)`
through an asyncpg pool: benchapp.aiodb) and `GET /healthz`. It shares the
Flask app's code for everything but the I/O: the settings (benchapp.config),
the delay's validation (benchapp.delay), the 400/502/503/504 mapping and
its exceptions (benchapp.errors), and the aiohttp call of the slow API with
its error mapping (benchapp.async_views.fetch_async, the Flask app's /async).

Upstream per profile, as the Flask app: `new` opens an aiohttp session (a
connection) per request, `pooled` keeps one keep-alive session per process
holding up to BENCHAPP_HTTP_POOL_SIZE connections. The session and the
database pool are made in the serving process's loop (before_serving) and
closed after serving (after_serving): servers run the app in each worker.

Nothing here is gevent: /healthz says patched false, as the sync modes do.
"""

from __future__ import annotations

import asyncio
import os

import aiohttp
from quart import Quart, jsonify, request

from benchapp.aiodb import AsyncPool
from benchapp.async_views import client_timeout, fetch_async
from benchapp.blocking import BlockingCounter
from benchapp.config import Config
from benchapp.delay import parse_delay
from benchapp.errors import CONTRACT_ERRORS, error_response

#: /db's statement, benchapp.app's (`SELECT NOW(), pg_sleep(%s)`) in asyncpg's placeholders.
DB_QUERY = "SELECT NOW(), pg_sleep($1)"


def create_app(config: Config | None = None) -> Quart:
    """Build the app from `config` (default: the environment)."""
    cfg = config or Config.from_env()
    app = Quart(__name__)
    app.config["BENCHAPP"] = cfg
    timeout = client_timeout(cfg.upstream_connect_timeout, cfg.upstream_timeout)
    pool = AsyncPool(cfg.database_dsn, cfg.db_pool_size, cfg.db_connect_timeout,
                     acquire_timeout=cfg.upstream_timeout,
                     statement_timeout_ms=int((cfg.max_delay + 5) * 1000))
    app.extensions["benchapp_pool"] = pool
    sessions: list[aiohttp.ClientSession] = []  # the pooled profile's one session, once serving
    monitor = BlockingCounter()  # never subscribed: no gevent here

    @app.before_serving
    async def open_clients() -> None:
        if cfg.upstream == "pooled":
            sessions.append(aiohttp.ClientSession(timeout=timeout.aiohttp(),
                                                  connector=aiohttp.TCPConnector(limit=cfg.http_pool_size)))
        await pool.open()

    @app.after_serving
    async def close_clients() -> None:
        while sessions:
            await sessions.pop().close()
        await pool.close()

    async def contract_error(err: Exception):
        """400/502/503/504: the shared mapping (benchapp.errors), as the Flask app's."""
        body, status = error_response(err, cfg)
        return jsonify(body), status

    for error in CONTRACT_ERRORS:
        app.register_error_handler(error, contract_error)

    def delay_arg() -> float:
        return parse_delay(request.args.get("delay"), cfg.max_delay)

    async def fetch(delay: float) -> str:
        return await fetch_async(cfg.upstream_url, delay, timeout, sessions[0] if sessions else None)

    @app.get("/")
    async def index():
        return "Hi there! " + await fetch(delay_arg())

    @app.get("/db")
    async def db():
        delay = delay_arg()
        text = await fetch(delay / 2)
        now, _ = await pool.query(DB_QUERY, delay / 2)
        return f"Hi there! {text} {now.isoformat()}"

    @app.get("/healthz")
    async def healthz():
        loop = asyncio.get_running_loop()
        return jsonify(
            mode=cfg.mode,
            profile=cfg.profile,
            server=cfg.server,
            pid=os.getpid(),
            upstream=cfg.upstream,
            db_pool={"size": cfg.db_pool_size, "idle": pool.idle, "opened": pool.opened},
            monitor=monitor.state(),
            # The gevent facts the Flask app reports, as they stand here.
            patched=False, loop=None, psycogreen=False, grpc_gevent=False,
            framework="quart",
            asyncio_loop=f"{type(loop).__module__}.{type(loop).__name__}",
        )

    return app
