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
    #: it can choose each request's route: a user's app's weighted mix (route=mix; benchhost.routes)
    mixes: bool = False
    #: the failed_detail kinds that make up `failed`; None: every kind
    failed_kinds: tuple[str, ...] | None = None
    #: the failed kinds that were answered and are timed in its percentiles ("unexpected": a user's app's
    #: answers other than its route's expect, benchhost.routes)
    timed_failures: tuple[str, ...] = ("non_2xx", "unexpected")
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
    #: one of the two closed-model clients bench.yml's `client=both` runs side by side
    in_both: bool = False
    #: the command whose version environment.json records for it (benchhost.env --client); None: none
    binary: str | None = None
    #: its name in the report's sentences ("bench-rate" for rate)
    label: str = ""
    #: what a client at 90% of its cores means, in report.md's notes
    busy_means: str = "the client may have set the pace"
    #: how the report reads its per-request latencies for the charts (benchreport.rundata): "requests"
    #: (each request's start and time, ab.tsv), "schedule" (each answer on the schedule's clock, rate.tsv),
    #: "histogram" (a latency histogram, no request's time); None: none kept
    latencies: str | None = None
    #: the failed kinds report.md's notes spell out, and what the client counts in its req/s; None: the
    #: note says failed_detail as it is
    failed_note: tuple[tuple[str, ...], str] | None = None
    #: its own figures in summary.json's record (benchreport.summary): `measures(rec, files, warnings,
    #: errors) -> its ceiling on req/s or None` fills the record (any object with summary.json's fields)
    #: from a folder's files (`files`: .directory, .run, .loadgen, .error, .missing(names)); None: the
    #: record is filled from `result`
    measures: Callable[..., float | None] | None = None
    #: several load hosts' parts into one record: `merge(rec, parts) -> bool` sets the union's
    #: percentiles (parts: (the part's record, its files)), False when some part has no per-request data
    #: (the record then bounds them by the parts' highest); None: always bounded so
    merge: Callable[..., bool] | None = None
    #: report.md's paragraph on its runs, under the table (a closed-model client's before ab's ceiling
    #: note, an open-model one's after it); "": none
    explanation: str = ""
    #: the figures a record's `parts` keep for each load host beside benchreport.summary.PART_KEYS
    part_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def keeps_request_times(self) -> bool:
        """Whether it keeps each request's time (the report's timeline draws them), not only a histogram."""
        return self.latencies in ("requests", "schedule")

    @property
    def histogram_only(self) -> bool:
        """Whether its latencies are only a histogram (the timeline draws its runs' server CPU alone)."""
        return self.latencies == "histogram"

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


def index(name: str) -> int:
    """Where the client called `name` comes in names() (an unknown one last)."""
    order = names()
    return order.index(name) if name in order else len(order)


def of_record(name: object) -> Client | None:
    """A record's client: the one called `name`, the first built-in one (ab) when the record names none
    (runs from before there were others)."""
    return get(BUILTIN[0] if name is None else name)


def label_order(name: str) -> tuple[bool, str]:
    """Sort key of client names as the report lists them: the client whose runs keep the bare names
    first, then by name."""
    client = get(name)
    return (client is None or client.in_names, name)


def both() -> list[str]:
    """What bench.yml's `client=both` runs: the clients that are part of it, in the registry's order."""
    return [name for name in names() if get(name).in_both]


def binaries() -> list[str]:
    """The commands whose versions environment.json records (benchhost.env --client)."""
    return [binary for name in names() if (binary := get(name).binary)]
