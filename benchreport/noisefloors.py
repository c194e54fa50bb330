"""benchreport/noise_floors.json: compare's noise floor per client, metric and run length.

A point without a noise estimate of its own (fewer than two repetitions a
side: no cv) is judged against a floor: the run-to-run spread its metric
shows between runs of the same code at that run length. One flat figure
does not fit every metric: two back-to-back runs of the same code (wrk,
c=20, n=400, one repetition each) differed by 26.7% in CPU ms/request while
their req/s agreed within 1%. The file holds the floors and where they came
from::

    {"schema": 1,
     "provisional": true,            # placeholders, not measurements: compare says so
     "source": {"runs": ["20261201T000000Z", ...],   # the run ids measured
                "date": "2026-12-01", "machine": "...",
                "how": "how each figure was computed"},
     "floors": {"<client>": {"<metric>": [{"max_n": 1000, "pct": 8.0},
                                          {"max_n": 10000, "pct": 4.0},
                                          {"max_n": null, "pct": 2.0}]}}}

client: ab, wrk, rate (every one); metric: rps, p99_ms, cpu_ms_per_req
(every one). A metric's buckets by run length, n = the point's requests
(run.json's n: asked for ab and wrk, scheduled for rate): ascending max_n,
the last one null (any longer run). The floor of a point is its client's
metric's first bucket with n <= max_n; a point without n takes the largest
floor of the list (the shortest runs spread the most). pct: a percentage >= 0
of the metric's figure.

load() reads and checks the file (FloorsError says what is wrong); the
repository's file is checked by the tests.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parent / "noise_floors.json"
SCHEMA = 1
CLIENTS = ("ab", "wrk", "rate")
METRICS = ("rps", "p99_ms", "cpu_ms_per_req")


class FloorsError(ValueError):
    """Why noise_floors.json cannot be used: one line."""


@dataclass(frozen=True)
class Bucket:
    """Runs of at most max_n requests (None: any longer one) have this floor, in %."""

    max_n: int | None
    pct: float


@dataclass
class Floors:
    """The file's floors and where they came from."""

    path: Path
    provisional: bool
    source: dict[str, Any]
    table: dict[str, dict[str, list[Bucket]]] = field(default_factory=dict)

    def buckets(self, client: str | None, metric: str) -> list[Bucket]:
        return self.table[client if client in self.table else "ab"][metric]  # a record without client is ab's

    def floor(self, client: str | None, metric: str, n: int | None) -> float:
        """The floor in % of `metric` for a point of `client` with n requests (see the module's docstring)."""
        found = self.buckets(client, metric)
        if n is None:
            return max(b.pct for b in found)
        return next(b.pct for b in found if b.max_n is None or n <= b.max_n)

    def describe(self) -> str:
        """Where the floors come from, in a few words: the file, PROVISIONAL when they are."""
        name = f"benchreport/{self.path.name}" if self.path == PATH else str(self.path)
        return name + (", PROVISIONAL: placeholders, not measured yet" if self.provisional else "")


def _buckets(raw: Any, where: str) -> list[Bucket]:
    if not isinstance(raw, list) or not raw:
        raise FloorsError(f"{where}: not a non-empty list of buckets")
    out = []
    for k, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"max_n", "pct"}:
            raise FloorsError(f"{where}[{k}]: not {{\"max_n\", \"pct\"}}")
        max_n, pct = item["max_n"], item["pct"]
        if max_n is not None and (isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 1):
            raise FloorsError(f"{where}[{k}]: max_n {max_n!r} is not a whole number >= 1 or null")
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not math.isfinite(pct) or pct < 0:
            raise FloorsError(f"{where}[{k}]: pct {pct!r} is not a percentage >= 0")
        out.append(Bucket(max_n, float(pct)))
    bounds = [b.max_n for b in out]
    if bounds[-1] is not None or None in bounds[:-1]:
        raise FloorsError(f"{where}: only the last bucket has max_n null, and it must")
    if bounds[:-1] != sorted(set(bounds[:-1])):  # type: ignore[type-var]
        raise FloorsError(f"{where}: max_n must ascend")
    return out


def parse(data: Any, path: Path = PATH) -> Floors:
    """The floors of a parsed noise_floors.json; FloorsError when it is not as the docstring says."""
    if not isinstance(data, dict):
        raise FloorsError(f"{path}: not a JSON object")
    if data.get("schema") != SCHEMA:
        raise FloorsError(f"{path}: schema {data.get('schema')!r}, this reader knows {SCHEMA}")
    if not isinstance(data.get("provisional"), bool):
        raise FloorsError(f"{path}: provisional must be true or false")
    source = data.get("source")
    if not isinstance(source, dict) or not {"runs", "date", "machine", "how"} <= set(source):
        raise FloorsError(f"{path}: source must hold runs, date, machine and how")
    if not isinstance(source["runs"], list) or not isinstance(source["how"], str) or not source["how"].strip():
        raise FloorsError(f"{path}: source.runs must be a list and source.how say how the floors were computed")
    if not data["provisional"] and (not source["runs"] or not source["date"] or not source["machine"]):
        raise FloorsError(f"{path}: measured floors (provisional false) must name their runs, date and machine")
    floors = data.get("floors")
    if not isinstance(floors, dict) or set(floors) != set(CLIENTS):
        raise FloorsError(f"{path}: floors must have exactly the clients {', '.join(CLIENTS)}")
    table = {}
    for client in CLIENTS:
        metrics = floors[client]
        if not isinstance(metrics, dict) or set(metrics) != set(METRICS):
            raise FloorsError(f"{path}: floors.{client} must have exactly the metrics {', '.join(METRICS)}")
        table[client] = {m: _buckets(metrics[m], f"{path}: floors.{client}.{m}") for m in METRICS}
    return Floors(path, data["provisional"], dict(source), table)


def load(path: Path = PATH) -> Floors:
    """Read and check noise_floors.json."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FloorsError(f"{path} unreadable: {exc}".replace("\n", " ")) from None
    return parse(data, path)
