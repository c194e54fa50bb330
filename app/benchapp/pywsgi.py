"""gevent.pywsgi server for the gevent-pywsgi mode, optionally pre-forked.

Patching comes first, before the app or anything else is imported. With
--workers N > 1 the parent binds the socket once and forks N children that
accept on it (the kernel spreads connections), and replaces a child that dies.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402


def _serve(server: WSGIServer) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting and finish in-flight requests."""
    stop = lambda: gevent.spawn(server.stop, timeout=10)  # noqa: E731
    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    server.serve_forever()


def _fork_child(server: WSGIServer) -> int:
    pid = os.fork()  # gevent's fork reinitialises the hub in the child
    if pid == 0:
        try:
            _serve(server)
        finally:
            os._exit(0)
    return pid


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", default="benchapp.patched")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--backlog", type=int, default=128)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    app = importlib.import_module(args.entry).app
    # An unbounded pool, not plain spawn: stop() waits only for handlers it
    # tracks, so only with a pool does SIGTERM let requests in flight finish.
    server = WSGIServer((args.host, args.port), app, backlog=args.backlog, spawn=Pool(),
                        log=None if args.quiet else "default")
    server.init_socket()
    if args.workers <= 1:
        _serve(server)
        return

    children = {_fork_child(server) for _ in range(args.workers)}
    stopping = False

    def shutdown(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    gevent.signal_handler(signal.SIGTERM, shutdown)
    gevent.signal_handler(signal.SIGINT, shutdown)
    while children:
        pid, status = os.waitpid(-1, 0)
        children.discard(pid)
        if not stopping:
            print(f"pywsgi worker {pid} exited ({status}); starting another", file=sys.stderr)
            children.add(_fork_child(server))


if __name__ == "__main__":
    main()
