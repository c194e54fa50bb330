"""Calls to the slow API, in the seed's way or pooled.

`new` is the seed's behaviour (requests.get: a new TCP connection per call);
`pooled` keeps one urllib3 pool of keep-alive connections per process, which
saves the connect and much of requests' per-call CPU. Both raise the same two
errors so the views map failures the same way.
"""

from __future__ import annotations

from typing import Callable

import requests
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
    """The seed's client: requests.get, one connection per call."""

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


def make_client(kind: str, url: str, connect_timeout: float, read_timeout: float, size: int) -> Fetch:
    """The client a profile asks for."""
    if kind == "new":
        return new_connection_client(url, connect_timeout, read_timeout)
    return pooled_client(url, connect_timeout, read_timeout, size)
