"""The app's gRPC client to the slow API (benchapp.grpc_api's Delay method).

One channel per process (or `channels`, each its own HTTP/2 connection:
gRPC shares one connection between identical channels unless told to keep
a local subchannel pool; the calls go round-robin, so they spread over the
slow API's worker processes), made on the first call and reused: the servers
fork after importing the app (uWSGI) or import it in each worker (Gunicorn),
and gRPC objects must not cross a fork, so nothing of gRPC is created, or
even imported, until a request needs it. Failures raise the HTTP clients'
errors, so /grpc answers 502 and 504 exactly as / does.

Whether gRPC cooperates with gevent is decided before this module runs:
`benchapp.patched_grpc` calls grpc.experimental.gevent.init_gevent() right
after monkey-patching; `benchapp.patched` does not (the mode that shows why
it is needed).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from typing import Any, Callable

from benchapp.upstream import UpstreamBadAnswer, UpstreamDown, UpstreamTimeout

# After the slow API was down, a channel waits out its reconnect backoff
# (up to 120 s by default) before it tries again, failing every call
# meanwhile; capped at 1 s, the app recovers as fast as its HTTP clients.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


def grpc_gevent_active() -> bool:
    """Whether grpc.experimental.gevent.init_gevent() ran in this process
    (False while gRPC is not even imported)."""
    if "grpc" not in sys.modules:
        return False
    from grpc._cython import cygrpc

    return bool(getattr(cygrpc, "g_gevent_activated", False))


class GrpcFetch:
    """`fetch(delay) -> body` over gRPC with a deadline, one channel per process."""

    def __init__(self, target: str, connect_timeout: float, timeout: float, channels: int = 1) -> None:
        self.target = target
        self.channels = channels
        self._next = itertools.count()
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._channels: list[Any] = []
        self._calls: list[Callable[..., str]] = []

    def _method(self) -> Callable[..., str]:
        pid = os.getpid()
        if self._pid != pid:  # first call in this process, or in a fork's child
            with self._lock:
                if self._pid != pid:
                    import grpc

                    from benchapp import grpc_api

                    options = CHANNEL_OPTIONS + ((("grpc.use_local_subchannel_pool", 1),) if self.channels > 1 else ())
                    channels = []
                    try:
                        for _ in range(self.channels):
                            channels.append(grpc.insecure_channel(self.target, options=options))
                            self._connect(grpc, channels[-1])
                    except UpstreamDown:
                        for channel in channels:
                            channel.close()  # not kept: the next request connects again
                        raise
                    self._calls = [channel.unary_unary(grpc_api.METHOD, request_serializer=grpc_api.encode_delay,
                                                       response_deserializer=grpc_api.decode_body)
                                   for channel in channels]
                    self._channels, self._pid = channels, pid
        return self._calls[next(self._next) % len(self._calls)]

    def _connect(self, grpc: Any, channel: Any) -> None:
        """Connect before the first call, within the connect timeout, as the
        HTTP clients do (and gRPC client libraries such as pymilvus): an
        unreachable slow API is a 502 after the connect timeout, a refusing
        one a 502 at once, not a 504 after the whole deadline."""
        settled = threading.Event()
        seen: list[Any] = []
        final = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                 grpc.ChannelConnectivity.SHUTDOWN)

        def watch(state: Any) -> None:
            seen.append(state)
            if state in final:
                settled.set()

        channel.subscribe(watch, try_to_connect=True)
        try:
            settled.wait(self.connect_timeout)
        finally:
            channel.unsubscribe(watch)
        if not settled.is_set():
            raise UpstreamDown(f"gRPC: {self.target} not ready within {self.connect_timeout:g} s")
        if seen[-1] != grpc.ChannelConnectivity.READY:
            raise UpstreamDown(f"gRPC: {self.target} {seen[-1].name.lower()}")

    def __call__(self, delay: float) -> str:
        method = self._method()
        import grpc

        try:
            return method(delay, timeout=self.timeout)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            detail = f"gRPC {getattr(code, 'name', code)}: {exc.details() if isinstance(exc, grpc.Call) else exc}"
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise UpstreamTimeout(detail) from exc
            if code == grpc.StatusCode.UNAVAILABLE:
                raise UpstreamDown(detail) from exc
            raise UpstreamBadAnswer(detail) from exc
