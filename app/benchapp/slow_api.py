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
import time

from aiohttp import web

from benchapp.delay import DelayError, error_body, parse_delay

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


async def _run(args: argparse.Namespace) -> None:
    """HTTP and gRPC on one loop until SIGTERM/SIGINT, then a graceful stop of both."""
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
        await stop.wait()
    finally:
        # Both stop accepting at once and finish what they hold: gRPC calls
        # within the longest delay, HTTP within aiohttp's shutdown timeout
        # (systemd's TimeoutStopSec caps it all).
        stopping = [runner.cleanup()]
        if grpc_server is not None:
            stopping.append(grpc_server.stop(env_max_delay()))
        await asyncio.gather(*stopping)


def _serve(args: argparse.Namespace) -> None:
    asyncio.run(_run(args))


#: A worker that dies sooner than this after its start is broken, not unlucky
#: (bad code or config): respawning it would spin. The supervisor exits non-zero
#: instead, and systemd's Restart=on-failure starts the service afresh, new code
#: included.
EARLY_DEATH_S = 2.0


def _supervise(args: argparse.Namespace) -> int:
    """Fork the workers, replace one that dies, pass SIGTERM/SIGINT on to all.

    Returns the exit status: 0 after a signal, 1 when a worker died early.
    """
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                _serve(args)
                code = 0
            except BaseException:  # the traceback goes to the journal, the status to the parent
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(args.workers):
        spawn()
    status = 0
    while children:
        try:
            pid, wstatus = os.wait()
        except ChildProcessError:
            break
        lived = time.monotonic() - children.pop(pid, 0.0)
        if stopping:
            continue
        if lived < EARLY_DEATH_S:
            print(f"slow_api worker {pid} died {lived:.1f} s after its start (status {wstatus}); "
                  "stopping the others and exiting 1", file=sys.stderr)
            status = 1
            stop(signal.SIGTERM, None)
            continue
        print(f"slow_api worker {pid} exited (status {wstatus}); starting another", file=sys.stderr)
        spawn()
    return status


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
        sys.exit(_supervise(args))
    else:
        _serve(args)


if __name__ == "__main__":
    main()
