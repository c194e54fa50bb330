"""The live tests' HTTP server: its own process on 127.0.0.1, the port chosen by the OS.

`python tests/httpserver.py` serves and prints the port as its first stdout
line; `Server()` starts it and stops it (tests/conftest.py's `server` fixture).

GET /?QUERY answers, per ?key= (each key counts its own requests from 0):

  delay=S               after S seconds
  status=N              with status N (default 200)
  status_after=K        ...with status N from the key's K-th request on only (200 before)
  slow_after=K&slow=S   after S seconds (default 5) from the key's K-th request on
  cap=K                 at most K of the key's requests at a time (the others queue): a knee at K / delay
  vary=1                with a body i % 3 bytes longer for the key's i-th request
  stall_at=K&stall=S    the key's K-th request freezes the whole server for S seconds
                        (once per key): every answer due in that time waits for its end,
                        as when a process stops (a pause, a blocked event loop)

GET /count?key=K answers how many other requests with that key it has taken.

/orders (a user's app's route, bench.yml -e app=DIR): any method with ?key= answers
201 to POST and 404 to the others; GET /seen?key=K answers the last such request
with that key as JSON ({"method", "headers", "body"}).

HTTP/1.1, answering HTTP/1.0 requests (ab's and the bench's wrk's) with
`Connection: close`, as real servers do (gunicorn, gevent, nginx...): the
client then knows the close is the end of the answer, not an error.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request

BODY = b"Hi there! slow api response"


def serve() -> None:
    """Serve on 127.0.0.1 until killed; the port is the first stdout line."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    counters: dict[str, int] = {}
    seen: dict[str, dict] = {}
    lock = threading.Lock()
    frozen_until = [0.0]
    caps: dict[str, threading.Semaphore] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without TCP_NODELAY the body
        # waits for the client's delayed ACK (+40 ms per request on keep-alive)
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            key = q.get("key", "")
            if url.path == "/orders":
                return self.order(key)
            if url.path == "/seen":
                return self.answer(200, json.dumps(seen.get(key)).encode())
            if url.path == "/count":
                body, status = str(counters.get(key, 0)).encode(), 200
            else:
                with lock:
                    i = counters.get(key, 0)
                    counters[key] = i + 1
                    if "stall_at" in q and i == int(q["stall_at"]):
                        frozen_until[0] = time.monotonic() + float(q.get("stall", 2))
                delay = float(q.get("delay", 0))
                if "slow_after" in q and i >= int(q["slow_after"]):
                    delay = float(q.get("slow", 5))
                with lock:
                    cap = caps.setdefault(key, threading.Semaphore(int(q["cap"]))) if "cap" in q else None
                if cap is not None:
                    cap.acquire()
                time.sleep(delay)
                if cap is not None:
                    cap.release()
                time.sleep(max(0.0, frozen_until[0] - time.monotonic()))
                body = BODY + b"." * (i % 3 if "vary" in q else 0)
                status = int(q.get("status", 200))
                if "status_after" in q and i < int(q["status_after"]):
                    status = 200
            self.answer(status, body)

        def order(self, key: str) -> None:
            """/orders: 201 to POST, 404 to the rest; the request kept for /seen."""
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                counters[key] = counters.get(key, 0) + 1
                seen[key] = {"method": self.command, "headers": dict(self.headers.items()),
                             "body": body.decode(errors="replace")}
            self.answer(201 if self.command == "POST" else 404, b"order" if self.command != "HEAD" else b"")

        do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815 (http.server's names)

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            if self.request_version == "HTTP/1.0":
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client stopped with this request in flight

        def log_message(self, *args: object) -> None:
            pass

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except OSError:
                self.close_connection = True

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Server:
    """The server subprocess: its port and pid (for /proc sampling)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"test server did not start: {line!r}")
        self.port = int(line)
        self.pid = self.proc.pid

    def url(self, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{('?' + query) if query else ''}"

    def answered(self, key: str) -> int:
        """How many requests with ?key=key the server has taken (answered or answering)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count?key={key}", timeout=5) as resp:
            return int(resp.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


#: closed_port's sockets, bound for as long as this process runs
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port nobody listens on: connections to it are refused for as long as this process runs.

    A socket of ours stays bound to it, not listening: a port bound then released could be taken by
    another process (a test server, a client's ephemeral port) before the test used it. SO_REUSEADDR
    lets a listener that also sets it, and is given this port (the plan runner's control endpoint,
    http.server's), bind it on purpose; nothing else can.
    """
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


if __name__ == "__main__":
    serve()
