"""ASGI entry point: the Flask app through asgiref's WsgiToAsgi (uvicorn-asgiref).

Flask's docs ("ASGI") give this path for an ASGI server: wrap the WSGI app in
`asgiref.wsgi.WsgiToAsgi` and serve the result. WsgiToAsgi runs the app
through `sync_to_async` in its default thread-sensitive mode, and outside any
`ThreadSensitiveContext` asgiref then runs every such call on one shared
thread per process: the requests of a process run one at a time, whatever the
server's concurrency (asgiref issue #347; measured: 10 concurrent 0.5 s
requests took 5 s under uvicorn).

BENCHAPP_ASGI_THREAD picks the thread (the mode table's profile option
`asgi_thread`):

- `process` (the default, Flask's documented path as is): that one thread.
- `request`: each request in its own `asgiref.sync.ThreadSensitiveContext`,
  asgiref's documented way to group thread-sensitive calls per request
  rather than per process (Django's ASGIHandler does the same): a thread per
  request, so requests overlap as under a threaded WSGI server.

In both, each request starts from a fresh, empty context (FreshContext).
WsgiToAsgi alone answers a request that arrived on a keep-alive connection
during the previous response (wrk's, or pipelined) with a 500,
"RuntimeError: CurrentThreadExecutor already quit or is broken": the app's
thread calls `send` through AsyncToSync, which runs each call as a task in
a copy of that thread's context, holding AsyncToSync's executor for that
call; uvicorn starts the waiting request from within the last send() of the
previous response, so the new request's task inherits that executor, quit
by then, and sync_to_async submits the app to it. Measured with wrk -c5 on
a bare Flask app under uvicorn: 5 of 12 requests failed; two pipelined
requests: the second failed every time.
"""

from __future__ import annotations

from benchapp.asgiwrap import ASGI_THREADS, FreshContext, ThreadPerRequest, wrap
from benchapp.wsgi import app as flask_app

__all__ = ["ASGI_THREADS", "FreshContext", "ThreadPerRequest", "app", "asgi_app"]


def asgi_app(how: str | None = None):
    """The Flask app as ASGI, its WSGI calls on one thread per process or per request."""
    return wrap(flask_app, how)


app = asgi_app()
