"""A user's app's requests (bench.yml -e app=DIR): what each load client sends and how it judges the answer.

A run of a user's app carries "requests" in its run.json: one route of the app's
flaskbench-app.yml, or all of them for the weighted mix (route=mix), each
{"name", "method", "path", "headers", "body", "expect", "weight"}. A run of the
built-in app has none (its clients send a GET to run.json's url). An answer
whose status is not its route's `expect` counts as failed ("unexpected").

The mix picks each request's route by weight / the sum of the weights, from a
seeded generator (the plan's seed and the load host's part): the same seed
sends the same routes in the same order. Standard library only: it runs on the
bench hosts.
"""

from __future__ import annotations

import bisect
import http.client
import random
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

#: The keys of one request, as flaskbench.userapp.route_dict writes them.
KEYS = ("name", "method", "path", "headers", "body", "expect", "weight")


def of_run(run: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The run's requests; None for a run of the built-in app."""
    found = run.get("requests")
    return [dict(r) for r in found] if isinstance(found, list) and found else None


def is_mix(requests: list[dict[str, Any]] | None) -> bool:
    return requests is not None and len(requests) > 1


class Mix:
    """Which route each request takes: by weight, from a generator seeded with `seed` (deterministic)."""

    def __init__(self, requests: list[dict[str, Any]], seed: int | str) -> None:
        self.ends = list(accumulate(float(r.get("weight") or 1.0) for r in requests))
        self.random = random.Random(str(seed))

    def next(self) -> int:
        if len(self.ends) == 1:
            return 0
        return min(bisect.bisect_right(self.ends, self.random.random() * self.ends[-1]), len(self.ends) - 1)


def header_lines(request: dict[str, Any], host: str) -> list[str]:
    """The request's header lines: Host, the route's own headers, the body's length."""
    lines = [f"Host: {host}", "User-Agent: flaskbench", "Accept: */*"]
    own = dict(request.get("headers") or {})
    lines = [line for line in lines if line.split(":")[0].lower() not in {k.lower() for k in own}]
    lines += [f"{name}: {value}" for name, value in own.items()]
    if request.get("body") is not None:
        lines.append(f"Content-Length: {len(str(request['body']).encode())}")
    return lines


def target(url: str, path: str | None = None) -> str:
    """The request target: `path` (a route's, query included), else the url's own."""
    parts = urlsplit(url)
    return path or ((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))


def request_bytes(url: str, request: dict[str, Any]) -> bytes:
    """One HTTP/1.0 request of `request` to `url`'s host (a connection per request, as ab and wrk send)."""
    head = [f"{request.get('method') or 'GET'} {target(url, request.get('path'))} HTTP/1.0",
            *header_lines(request, urlsplit(url).netloc)]
    body = str(request["body"]).encode() if request.get("body") is not None else b""
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def unexpected(status: int, request: dict[str, Any]) -> bool:
    """An answer whose status is not the route's `expect` (200 when it says none)."""
    return status != int(request.get("expect") or 200)


def by_expect(counts: dict[str, int], sent: dict[int, int]) -> int:
    """Answers that cannot all be expected, when which request an answer was for is not known (wrk's mix):
    per status, the answers with it beyond the requests sent that expect it."""
    return sum(max(0, k - sent.get(int(code), 0)) for code, k in counts.items())


def probe(url: str, request: dict[str, Any], timeout: float) -> str | None:
    """Send the request once: None when it answers its expected status, else what went wrong (naming the
    route, the status got and the one expected)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port or 80, timeout=timeout)
    what = f"route {request.get('name')} ({request.get('method') or 'GET'} {request.get('path')})"
    expect = int(request.get("expect") or 200)
    try:
        body = str(request["body"]).encode() if request.get("body") is not None else None
        conn.request(request.get("method") or "GET", target(url, request.get("path")), body=body,
                     headers=dict(request.get("headers") or {}))
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return f"{what}: no answer ({exc or type(exc).__name__}), expected {expect}"
    finally:
        conn.close()
    return None if status == expect else f"{what} answered {status}, expected {expect}"
