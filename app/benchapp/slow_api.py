"""The slow upstream API (aiohttp): `GET /?delay=D` answers after D seconds.

Run: python -m benchapp.slow_api --host 0.0.0.0 --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import os

from aiohttp import web

from benchapp.delay import DelayError, error_body, parse_delay

BODY = "slow api response"


def create_app(max_delay: float | None = None) -> web.Application:
    """The slow API; `max_delay` defaults to BENCHAPP_MAX_DELAY or 30."""
    limit = float(os.environ.get("BENCHAPP_MAX_DELAY") or 30) if max_delay is None else max_delay

    async def handle(request: web.Request) -> web.Response:
        try:
            delay = parse_delay(request.query.get("delay"), limit)
        except DelayError as err:
            return web.json_response(error_body(err, limit), status=400)
        await asyncio.sleep(delay)
        return web.Response(text=BODY)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"service": "slow_api", "pid": os.getpid(), "max_delay": limit})

    app = web.Application()
    app.add_routes([web.get("/", handle), web.get("/healthz", healthz)])
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    # A deep backlog: a c=1000 bench opens its upstream connections in a burst.
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args(argv)
    web.run_app(create_app(), host=args.host, port=args.port, backlog=args.backlog,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
