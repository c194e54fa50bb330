"""The slow upstream API (aiohttp): `GET /?delay=D` answers after D seconds.

Run: python -m benchapp.slow_api --host 0.0.0.0 --port 8000 [--grpc-port 8001] [--workers N]

It is the bench's fixture, not what is measured: one aiohttp process tops
out near 720 req/s at c=1000 on two cores, below what the tuned gevent modes
reach, so --workers N runs N processes on one port (SO_REUSEPORT).

The same delay is also served over gRPC (benchapp.grpc_api) on --grpc-port,
by a grpc.aio server on the same asyncio loop as aiohttp in each worker; 0
turns it off. gRPC is imported in the workers only, after the fork.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Callable

from aiohttp import web

from benchapp.delay import DelayError, error_body, parse_delay
from benchapp.supervisor import supervise

BODY = "slow api response"


def env_max_delay() -> float:
    """The longest delay allowed: BENCHAPP_MAX_DELAY, or 30."""
    return float(os.environ.get("BENCHAPP_MAX_DELAY") or 30)


def create_app(max_delay: float | None = None) -> web.Application:
    """The slow API; `max_delay` defaults to BENCHAPP_MAX_DELAY or 30."""
    limit = env_max_delay() if max_delay is None else max_delay

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


async def _run(args: argparse.Namespace, ready: Callable[[], None]) -> None:
    """HTTP and gRPC on one loop until SIGTERM/SIGINT, then a graceful stop of both.

    `ready` is called once both listen: a worker that fails before (a port
    taken, bad code) makes the supervisor exit 1 instead of respawning it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    grpc_server = None
    try:
        if args.grpc_port:  # first: when HTTP answers (the readiness checks), gRPC does too
            from benchapp.grpc_api import start_server

            grpc_server = await start_server(args.host, args.grpc_port, env_max_delay())
        await web.TCPSite(runner, args.host, args.port, backlog=args.backlog,
                          reuse_port=args.workers > 1).start()
        ready()
        await stop.wait()
    finally:
        # Both stop accepting at once and finish what they hold: gRPC calls
        # within the longest delay, HTTP within aiohttp's shutdown timeout
        # (systemd's TimeoutStopSec caps it all).
        stopping = [runner.cleanup()]
        if grpc_server is not None:
            stopping.append(grpc_server.stop(env_max_delay()))
        await asyncio.gather(*stopping)


def _serve(args: argparse.Namespace, ready: Callable[[], None] = lambda: None) -> None:
    asyncio.run(_run(args, ready))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    # A deep backlog: a c=1000 bench opens its upstream connections in a burst.
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--grpc-port", type=int, default=8001,
                        help="the delay over gRPC (flaskbench.SlowApi/Delay); 0: no gRPC")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (0: one per CPU)")
    args = parser.parse_args(argv)
    if args.workers == 0:
        args.workers = len(os.sched_getaffinity(0))
    if args.workers > 1:
        # Each worker binds its own sockets (SO_REUSEPORT) after the fork; gRPC
        # is imported there too, as it must not cross a fork.
        sys.exit(supervise("slow_api", lambda ready: _serve(args, ready), args.workers))
    else:
        _serve(args)


if __name__ == "__main__":
    main()
