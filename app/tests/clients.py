"""One synchronous test client for either app: the Flask app (benchapp.app) or
the Quart app (benchapp.quart_app), so one suite checks the contract both keep.

    client = make_app_client("quart", upstream_url, BENCHAPP_UPSTREAM="pooled")
    reply = client.get("/?delay=0")       # Reply(status, body); reply.json()
    replies = client.gather("/db?delay=0.4", 8)   # concurrent, as a worker serves them
    client.close()

Flask: its test client; `gather` runs each request on a thread of its own, as
the threaded servers do. Quart: its test client driven from a loop of the
client's own, the app's serving lifecycle (before_serving, after_serving) run
around it as a worker does, so the asyncpg pool and the keep-alive session
live on that loop; `gather` awaits the requests together on it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

from benchapp.config import Config

#: The apps, and the upstream clients (BENCHAPP_UPSTREAM) each one has.
APPS = {"flask": ("new", "pooled", "gevent"), "quart": ("new", "pooled")}


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def config(upstream_url: str, **env: str) -> Config:
    return Config.from_env({"BENCHAPP_UPSTREAM_URL": upstream_url, "BENCHAPP_MODE": "test", **env})


class FlaskClient:
    """The Flask app through Flask's test client."""

    name = "flask"

    def __init__(self, upstream_url: str, **env: str) -> None:
        from benchapp.app import create_app

        self.app = create_app(config(upstream_url, **env))
        self.app.testing = True
        self._client = self.app.test_client()

    @property
    def pool(self):
        return self.app.extensions["benchapp_pool"]

    def get(self, path: str, query_string: dict[str, str] | None = None) -> Reply:
        resp = self._client.get(path, query_string=query_string)
        return Reply(resp.status_code, resp.data)

    def post(self, path: str, query_string: dict[str, str] | None = None) -> Reply:
        resp = self._client.post(path, query_string=query_string)
        return Reply(resp.status_code, resp.data)

    def gather(self, path: str, count: int) -> list[Reply]:
        """`count` concurrent requests, each on a thread (and test client) of its own."""
        replies: list[Reply | BaseException | None] = [None] * count

        def one(i: int) -> None:
            try:
                resp = self.app.test_client().get(path)
                replies[i] = Reply(resp.status_code, resp.data)
            except BaseException as exc:  # noqa: BLE001 - raised below, in the test's thread
                replies[i] = exc

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return replies  # type: ignore[return-value]

    def close(self) -> None:
        """Close the pool's connections: later tests count them in pg_stat_activity."""
        self.pool.close()


class QuartClient:
    """The Quart app through Quart's test client, served on a loop of its own until close()."""

    name = "quart"

    def __init__(self, upstream_url: str, **env: str) -> None:
        from benchapp.quart_app import create_app

        self.app = create_app(config(upstream_url, **env))
        self.loop = asyncio.new_event_loop()
        self._served = self.app.test_app()
        self.loop.run_until_complete(self._served.__aenter__())  # before_serving
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


AppClient = FlaskClient | QuartClient
CLIENTS: dict[str, type[FlaskClient] | type[QuartClient]] = {"flask": FlaskClient, "quart": QuartClient}


def make_app_client(app: str, upstream_url: str, **env: str) -> AppClient:
    return CLIENTS[app](upstream_url, **env)
