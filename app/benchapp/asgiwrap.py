"""Flask (any WSGI app) as ASGI through asgiref's WsgiToAsgi, safely: see benchapp.flask_asgi's
docstring for the two threads BENCHAPP_ASGI_THREAD picks and why each request gets a fresh context.
Shared by the built-in app's entry (flask_asgi) and a user's (user_asgiref).
"""

from __future__ import annotations

import asyncio
import contextvars
import os

from asgiref.sync import ThreadSensitiveContext
from asgiref.wsgi import WsgiToAsgi

from benchapp.config import ConfigError

ASGI_THREADS = ("process", "request")


class ThreadPerRequest:
    """An ASGI app that runs `inner` for each request in its own thread-sensitive context."""

    def __init__(self, inner: WsgiToAsgi) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        async with ThreadSensitiveContext():
            await self.inner(scope, receive, send)


class FreshContext:
    """An ASGI app that runs `inner` for each request in a new, empty context."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        # Awaited: cancelling this request's task cancels the inner one too.
        await asyncio.get_running_loop().create_task(self.inner(scope, receive, send),
                                                     context=contextvars.Context())


def wrap(wsgi_app, how: str | None = None):
    """`wsgi_app` as ASGI, its WSGI calls on one thread per process or per request."""
    how = os.environ.get("BENCHAPP_ASGI_THREAD", "process") if how is None else how
    if how not in ASGI_THREADS:
        raise ConfigError(f"BENCHAPP_ASGI_THREAD={how!r}, expected one of {ASGI_THREADS}")
    wrapped = WsgiToAsgi(wsgi_app)
    return FreshContext(wrapped if how == "process" else ThreadPerRequest(wrapped))
