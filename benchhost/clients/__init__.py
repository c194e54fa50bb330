"""The load clients: one module each, run as `python3 -m benchhost.clients.NAME --dir DIR`, and this
registry of what the rest of the project needs to know about them, so that nothing branches on a
client's name.

A client's module holds how it is started (its main), how its raw files are read, and its `result`
(benchhost.result.Result); it registers itself with `register(Client(...))` at its end. Adding a client
is that module plus its name in BUILTIN (tests/benchhost/test_clients.py adds one without either, through
register). Loaded on first use, so that `python3 -m benchhost.clients.NAME` runs a module that was not
imported before.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from benchhost.result import Result

#: The clients this package holds, in the report's order (bench.yml's `client` takes their names).
BUILTIN = ("ab", "wrk", "rate")


@dataclass(frozen=True)
class Client:
    """One load client, as the plan, the runners, the progress line and the report see it."""

    name: str
    #: run as `python3 -m MODULE --dir DIR` on a load host (DIR/run.json is its plan entry)
    module: str
    #: its raw files in a run folder, the one without which nothing was measured first
    files: tuple[str, ...]
    #: the run folder into a Result: (folder, requested n or None) -> Result
    result: Callable[[Path, Any], Result]
    #: an open model: scheduled at a rate (run.json's rate and duration; c only caps the connections),
    #: its ideal the rate; else closed, c connections each sending its next request when one answers,
    #: its ideal c / delay
    by_rate: bool = False
    #: it counts the answers by HTTP status (Result.status_counts)
    counts_statuses: bool = False
    #: the failed_detail kinds that make up `failed`; None: every kind
    failed_kinds: tuple[str, ...] | None = None
    #: the failed kinds that were answered and are timed in its percentiles
    timed_failures: tuple[str, ...] = ("non_2xx",)
    #: the failed kinds that reached the server without a complete answer (the server saw them)
    reached_not_complete: tuple[str, ...] = ()
    #: it sends one request alone before the others (ab): its own ceiling on req/s
    lone_first: bool = False
    #: loadgen.json's keys for the client's exit status and its CPU time (ms)
    rc_key: str = ""
    cpu_key: str = ""
    #: how many cores its CPU share is over: loadgen.json's key for it, or None for one core
    cores_key: str | None = None
    #: its name is in its runs' folder names and the report's labels (False: ab, the first client, whose
    #: runs keep the bare mode-profile names)
    in_names: bool = True
    #: a closed-model point given c but not n gets n = this x c (bench_auto_rounds overrides it)
    auto_rounds: int = 10

    def load(self, run: dict[str, Any]) -> str:
        """The load of a run (or a part of one) as the progress line says it: "rate=50/s" or "c=200"."""
        return f"rate={float(run['rate']):g}/s" if self.by_rate else f"c={run['c']}"


_REGISTRY: dict[str, Client] = {}


def register(client: Client) -> Client:
    """Add a client (a second one under a name already taken is refused: it would shadow the first)."""
    known = _REGISTRY.get(client.name)
    if known is not None and known.module != client.module:
        raise ValueError(f"client {client.name!r} is already registered ({known.module})")
    _REGISTRY[client.name] = client
    return client


def _loaded() -> dict[str, Client]:
    for name in BUILTIN:
        if name not in _REGISTRY:
            importlib.import_module(f"{__name__}.{name}")
    return _REGISTRY


def names() -> tuple[str, ...]:
    """Every client's name, the built-in ones first, in their order."""
    return tuple(sorted(_loaded(), key=lambda name: BUILTIN.index(name) if name in BUILTIN else len(BUILTIN)))


def get(name: object) -> Client | None:
    """The client called `name`; None when there is none."""
    return _loaded().get(name) if isinstance(name, str) else None
