"""Waitress for the waitress mode, with a graceful stop on SIGTERM.

Waitress serves in one process: an asyncore loop in the main thread reads
and writes every connection, a pool of `--threads` threads runs the app.
waitress-serve has no stop of its own: SIGTERM's default action ends the
process with the requests in flight unanswered (and SIGINT stops the loop
before their answers are written). Here SIGTERM or SIGINT closes the
listening socket, keeps the loop running until no connection has a request
being read, served or written (at most STOP_TIMEOUT), then stops the
threads and exits 0, as the unit's other servers do.

Options left out keep waitress's own defaults (the seed profile); the names
are waitress's (waitress-serve --help).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import socket
import time

from waitress import wasyncore
from waitress.server import create_server

#: Seconds the requests in flight get after SIGTERM, under the unit's 15 s stop timeout.
STOP_TIMEOUT = 10


def _busy(server) -> bool:
    """Whether any connection is reading, serving or writing a request."""
    return any(ch.requests or ch.request is not None or ch.total_outbufs_len
               for ch in list(server.active_channels.values()))


class _Wakeup(wasyncore.dispatcher):
    """The read end of signal.set_wakeup_fd's socket, in the loop: a signal
    ends the loop's wait at once (else up to asyncore_loop_timeout, 1 s)."""

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        self.recv(512)


def serve(server, stop_timeout: float = STOP_TIMEOUT) -> None:
    """Run `server` until SIGTERM/SIGINT, then drain it (see the module's docstring)."""
    stop: list[float] = []

    def on_signal(_signum, _frame) -> None:
        stop.append(time.monotonic())

    adj, sockets = server.adj, server._map
    wake_read, wake_write = socket.socketpair()
    wake_write.setblocking(False)
    _Wakeup(wake_read, map=sockets)
    signal.set_wakeup_fd(wake_write.fileno())
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop:
        wasyncore.loop(timeout=adj.asyncore_loop_timeout, map=sockets, use_poll=adj.asyncore_use_poll, count=1)
    # Stop accepting: close the listening socket only (server.close() would
    # close the trigger too, which the app threads use to wake the loop).
    wasyncore.dispatcher.close(server)
    deadline = stop[0] + stop_timeout
    while _busy(server) and time.monotonic() < deadline:
        wasyncore.loop(timeout=0.1, map=sockets, use_poll=adj.asyncore_use_poll, count=1)
    server.task_dispatcher.shutdown(timeout=max(0.1, deadline - time.monotonic()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entry", default="benchapp.wsgi", help="the module holding `app`")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--threads", type=int, help="threads running the app (waitress: 4)")
    parser.add_argument("--connection-limit", type=int, help="open connections before accepting stops (waitress: 100)")
    parser.add_argument("--backlog", type=int, help="the listen backlog (waitress: 1024)")
    parser.add_argument("--asyncore-use-poll", action="store_true",
                        help="poll() instead of select(), which fails on descriptors past 1023")
    args = parser.parse_args(argv)

    options = {"threads": args.threads, "connection_limit": args.connection_limit, "backlog": args.backlog}
    options = {k: v for k, v in options.items() if v is not None}
    if args.asyncore_use_poll:
        options["asyncore_use_poll"] = True
    logging.basicConfig()  # waitress's warnings (queue depth, connection limit), as waitress.serve does
    app = importlib.import_module(args.entry).app
    server = create_server(app, host=args.host, port=args.port, **options)
    server.print_listen("waitress serving on http://{}:{}")
    serve(server)


if __name__ == "__main__":
    main()
