"""Flask async views under gevent, after Flask's docs ("Async with Gevent",
"Combining with async/await"), written for Python 3.11.

Flask runs an ``async def`` view through ``Flask.async_to_sync``, by default
asgiref's, which does not mix with gevent's patching. Here, in a patched
process, every coroutine runs on one asyncio loop per process, kept running
in a dedicated greenlet; the view's greenlet waits on the future
cooperatively. The docs build the loop with ``asyncio.EventLoop()`` (3.13+);
3.11 has ``asyncio.new_event_loop()``, whose selector gevent has patched.
The loop is created on first use, in the worker: servers fork after import.
Unpatched (thread) modes run each coroutine with ``asyncio.run``.
aiohttp is imported on the first async call, not with the app: it is a
third of the app's import time, and every mode switch of the bench pays
the import.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask

from benchapp.upstream import UpstreamBadAnswer, UpstreamDown, UpstreamTimeout

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True)
class Timeouts:
    """The upstream's connect and read timeouts, as aiohttp.ClientTimeout takes them."""

    connect: float
    read: float

    def aiohttp(self) -> "aiohttp.ClientTimeout":
        import aiohttp

        return aiohttp.ClientTimeout(sock_connect=self.connect, sock_read=self.read)


class GeventFlask(Flask):
    """Flask whose async views run on a per-process asyncio loop in a greenlet."""

    gevent_patched = False
    _loop: asyncio.AbstractEventLoop | None = None
    _loop_pid: int | None = None
    _session: "aiohttp.ClientSession | None" = None

    def greenlet_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop_pid != os.getpid():
            import gevent

            loop = asyncio.new_event_loop()
            gevent.spawn(loop.run_forever)
            self._loop, self._loop_pid, self._session = loop, os.getpid(), None
        return self._loop

    def loop_session(self, timeout: Timeouts, size: int) -> "aiohttp.ClientSession | None":
        """One keep-alive session on the greenlet loop (None when unpatched:
        asyncio.run closes its loop after each call), holding up to `size`
        connections like the sync pool: aiohttp's default of 100 made the
        101st concurrent view wait a whole upstream delay for a free one
        (p99 2 s at c=200, delay 1). Call from a coroutine."""
        if not self.gevent_patched:
            return None
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(timeout=timeout.aiohttp(),
                                                  connector=aiohttp.TCPConnector(limit=size))
        return self._session

    def async_to_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            if not self.gevent_patched:
                return asyncio.run(func(*args, **kwargs))
            future = asyncio.run_coroutine_threadsafe(func(*args, **kwargs), self.greenlet_loop())
            return future.result()

        return run


def client_timeout(connect_timeout: float, read_timeout: float) -> Timeouts:
    return Timeouts(connect_timeout, read_timeout)


async def fetch_async(url: str, delay: float, timeout: Timeouts,
                      session: "aiohttp.ClientSession | None" = None) -> str:
    """The slow API through aiohttp, raising the sync clients' errors (502/504).
    With a session, its keep-alive pool (tuned); without, a connection per call (seed)."""
    import aiohttp

    try:
        if session is None:
            async with aiohttp.ClientSession(timeout=timeout.aiohttp()) as own:
                async with own.get(url, params={"delay": repr(delay)}) as resp:
                    text = await resp.text()
        else:
            async with session.get(url, params={"delay": repr(delay)}) as resp:
                text = await resp.text()
    except asyncio.TimeoutError as exc:
        raise UpstreamTimeout(f"no answer within {timeout.read:g} s") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamDown(str(exc)) from exc
    if resp.status != 200:
        raise UpstreamBadAnswer(f"slow API answered {resp.status}: {text[:200]}")
    return text
