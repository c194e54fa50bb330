"""gevent.pywsgi server for the gevent-pywsgi mode, optionally pre-forked.

Patching comes first, before the app or anything else is imported. With
--workers N > 1 the parent binds the socket once and forks N children that
accept on it (the kernel spreads connections); benchapp.supervisor replaces a
child that dies while serving, and exits 1 when one dies before it served.
Each child imports the app itself, after the fork (as Gunicorn does without
--preload): a broken app or config is then a worker dying at start, which
ends the unit non-zero for systemd to restart, and no client pool, thread or
channel of the app's ever crosses a fork.
"""

# benchapp.patching imports nothing gevent patches; it logs what was patched when monitored
from benchapp.patching import patch_all

patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Callable  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from benchapp.supervisor import supervise  # noqa: E402

#: The workers' own graceful stop: seconds for the requests in flight.
STOP_TIMEOUT = 10


def _load(server: WSGIServer, entry: str) -> WSGIServer:
    """`server` serving the app of module `entry`, imported here (in the worker)."""
    server.application = importlib.import_module(entry).app
    return server


def _serve(server: WSGIServer, ready: Callable[[], None] = lambda: None) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting and finish in-flight requests."""
    stop = lambda: gevent.spawn(server.stop, timeout=STOP_TIMEOUT)  # noqa: E731
    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    server.start()  # accepting: the supervisor may count this worker as serving
    ready()
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", default="benchapp.patched")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--backlog", type=int, default=128)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    # An unbounded pool, not plain spawn: stop() waits only for handlers it
    # tracks, so only with a pool does SIGTERM let requests in flight finish.
    # The app comes later, in the worker (_load).
    server = WSGIServer((args.host, args.port), None, backlog=args.backlog, spawn=Pool(),
                        log=None if args.quiet else "default")
    # Bound before any fork: one socket for all workers, and a port in use
    # fails here, at once, not in every worker.
    server.init_socket()
    if args.workers <= 1:
        _serve(_load(server, args.entry))
        return
    # Above the workers' STOP_TIMEOUT, under the unit's TimeoutStopSec (15 s).
    sys.exit(supervise("pywsgi", lambda ready: _serve(_load(server, args.entry), ready), args.workers,
                       stop_timeout=STOP_TIMEOUT + 3))


if __name__ == "__main__":
    main()
