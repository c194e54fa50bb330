"""Calls to the slow API, in the seed's way or pooled.

`new` is the seed's behaviour (requests.get: a new TCP connection per call);
`pooled` keeps one urllib3 pool of keep-alive connections per process, which
saves the connect and much of requests' per-call CPU; `gevent` (gevent modes
only) keeps a geventhttpclient pool: its C response parser and gevent-native
sockets cost about a third of urllib3's CPU per call (0.13 against 0.35 ms,
measured side by side in one process). All raise the same errors so the
views map failures the same way.
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import urlencode, urlsplit

import urllib3

# The errors live with the app's failure contract (benchapp.errors), shared
# with the Quart app; imported from here too.
from benchapp.errors import UpstreamBadAnswer, UpstreamDown, UpstreamTimeout  # noqa: F401


Fetch = Callable[[float], str]


def _check_status(status: int, text: str) -> str:
    if status != 200:
        raise UpstreamBadAnswer(f"slow API answered {status}: {text[:200]}")
    return text


def new_connection_client(url: str, connect_timeout: float, read_timeout: float) -> Fetch:
    """The seed's client: requests.get, one connection per call (requests is
    imported here: only the seed profiles use it, and every import costs each
    start of a mode)."""
    import requests

    def fetch(delay: float) -> str:
        try:
            resp = requests.get(url, params={"delay": repr(delay)}, timeout=(connect_timeout, read_timeout))
        except requests.exceptions.ReadTimeout as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except requests.exceptions.RequestException as exc:
            raise UpstreamDown(str(exc)) from exc
        return _check_status(resp.status_code, resp.text)

    return fetch


def pooled_client(url: str, connect_timeout: float, read_timeout: float, size: int) -> Fetch:
    """One keep-alive pool per process; safe under threads and greenlets."""
    http = urllib3.PoolManager(
        num_pools=4,
        maxsize=size,
        block=False,
        retries=False,
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
    )

    def fetch(delay: float) -> str:
        try:
            resp = http.request("GET", url, fields={"delay": repr(delay)})
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise UpstreamDown(str(exc)) from exc
        return _check_status(resp.status, resp.data.decode("utf-8", "replace"))

    return fetch


def gevent_client(url: str, connect_timeout: float, read_timeout: float, size: int) -> Fetch:
    """One geventhttpclient pool of up to `size` keep-alive connections per
    process (a call past them waits for a free one); for patched processes."""
    from geventhttpclient import HTTPClient
    from geventhttpclient.response import HTTPConnectionClosed

    parts = urlsplit(url)
    client = HTTPClient(parts.hostname or "127.0.0.1", parts.port or 80, concurrency=size,
                        connection_timeout=connect_timeout, network_timeout=read_timeout)
    # A failed connect is the upstream down (502), even a connect timeout;
    # geventhttpclient raises both kinds as the same OSError, so the pool's
    # connect is told apart here (it has no hook for it).
    pool = client._connection_pool  # noqa: SLF001
    connect = pool.get_socket

    def get_socket():  # noqa: ANN202 (geventhttpclient's socket type)
        try:
            return connect()
        except OSError as exc:
            raise UpstreamDown(f"cannot connect to the slow API at {parts.netloc}: {exc}") from exc

    pool.get_socket = get_socket
    path = parts.path or "/"

    def fetch(delay: float) -> str:
        try:
            with client.get(f"{path}?{urlencode({'delay': repr(delay)})}") as resp:
                status, body = resp.status_code, resp.read()
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no answer within {read_timeout:g} s") from exc
        except (OSError, HTTPConnectionClosed) as exc:
            raise UpstreamDown(str(exc)) from exc
        return _check_status(status, body.decode("utf-8", "replace"))

    return fetch


#: The kinds of client a profile can ask for (the mode table's upstream option).
CLIENTS = {"new": lambda url, c, r, size: new_connection_client(url, c, r),
           "pooled": pooled_client, "gevent": gevent_client}


def make_client(kind: str, url: str, connect_timeout: float, read_timeout: float, size: int) -> Fetch:
    """The client a profile asks for."""
    return CLIENTS[kind](url, connect_timeout, read_timeout, size)
