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

Measuring them (`python -m benchreport.noisefloors RUN_DIR... > FILE`):
from runs with repeat=K (K >= 3) of the same code on one machine, each
point's sample cv (stdev / mean over its counted repetitions, summary.json's
stats) per metric; per client, metric and bucket the largest cv of its
points, cv_max; the floor is FLOOR_SIGMAS x sqrt(2) x cv_max, in %,
rounded up to a half percent. A floor judges the change between ONE run of
A and ONE run of B: their difference spreads sqrt(2) times one run's, and
2 of those (FLOOR_SIGMAS) leave about 5% of the changes between runs of
unchanged code outside it if they spread normally, fewer since cv_max is
the noisiest point's. A bucket no run measured takes the floor of the
nearest shorter one that was (a longer run averages over more requests: no
noisier), or of the nearest longer one when none shorter was. The file
records every point's cvs ("measured") beside the floors, so that the
figures can be checked against their runs.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport.model import STATS_METRICS, SUMMARY, Record, records, stat
from benchhost import clients
from benchreport.runfiles import CLIENTS

#: The repository's measured floors; PATH is what compare reads (the tests point it at fixed ones).
REPOSITORY = Path(__file__).resolve().parent / "noise_floors.json"
PATH = REPOSITORY
SCHEMA = 1
#: The run lengths (n, requests) the measured floors are bucketed by: up to each, then any longer.
BUCKETS = (1000, 10000, None)
#: A floor is this many standard deviations of the difference of two single runs.
FLOOR_SIGMAS = 2.0
#: A point's cv counts only over at least this many repetitions.
MIN_REPEATS = 3


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
        return self.table[client if client in self.table else clients.BUILTIN[0]][metric]  # a record without client is ab's

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
        if not isinstance(metrics, dict) or set(metrics) != set(STATS_METRICS):
            raise FloorsError(f"{path}: floors.{client} must have exactly the metrics {', '.join(STATS_METRICS)}")
        table[client] = {m: _buckets(metrics[m], f"{path}: floors.{client}.{m}") for m in STATS_METRICS}
    return Floors(path, data["provisional"], dict(source), table)


def load(path: Path | None = None) -> Floors:
    """Read and check noise_floors.json (PATH when no path is given)."""
    path = PATH if path is None else path
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FloorsError(f"{path} unreadable: {exc}".replace("\n", " ")) from None
    return parse(data, path)


# -- measuring the floors -----------------------------------------------------------------------


def bucket_of(n: int | None) -> int | None:
    """The measured bucket's max_n a run of n requests falls in (None: the last, any longer)."""
    return next(b for b in BUCKETS if b is None or (n is not None and n <= b))


def floor_pct(cv_max: float) -> float:
    """FLOOR_SIGMAS x sqrt(2) x cv (a fraction), in %, rounded up to a half percent."""
    return math.ceil(FLOOR_SIGMAS * math.sqrt(2.0) * cv_max * 100.0 * 2.0 - 1e-9) / 2.0


def measured_points(runs: dict[str, list[Record]]) -> list[dict[str, Any]]:
    """Each repeated point of the runs, {"run", "client", "mode", "profile", "n", "c", "rate", "repeats", "cv":
    {metric: cv}} (noise_floors.json's `measured`): its stats over MIN_REPEATS or more counted repetitions, one
    entry per point."""
    out: list[dict[str, Any]] = []
    for run_id, records in runs.items():
        seen = set()
        for rec in records:
            key = (rec.mode, rec.profile, rec.client, rec.c, rec.n, rec.delay, rec.route, rec.rate)
            if key in seen or rec.client not in CLIENTS or (rec.repeats or 0) < MIN_REPEATS:
                continue
            seen.add(key)
            out.append({"run": run_id, "client": rec.client, "mode": rec.mode, "profile": rec.profile, "n": rec.n,
                        "c": rec.c, "rate": rec.rate, "repeats": rec.repeats,
                        "cv": {m: stat(rec, m, "cv") for m in STATS_METRICS}})
    return out


def floors_from(points: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The floors table from measured points (the module's docstring says how); FloorsError when a client
    and metric has no measured point at all."""
    table: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for client in CLIENTS:
        table[client] = {}
        for metric in STATS_METRICS:
            worst: dict[int | None, float] = {}
            for p in points:
                cv = p["cv"].get(metric)
                if p["client"] == client and cv is not None:
                    b = bucket_of(p["n"])
                    worst[b] = max(worst.get(b, 0.0), float(cv))
            if not worst:
                raise FloorsError(f"no repeated {client} point measured {metric}: run one (repeat=3 or more)")
            order = list(BUCKETS)
            row = []
            for i, b in enumerate(order):
                shorter = [worst[x] for x in reversed(order[:i + 1]) if x in worst]
                longer = [worst[x] for x in order[i + 1:] if x in worst]
                row.append({"max_n": b, "pct": floor_pct((shorter or longer)[0])})
            table[client][metric] = row
    return table


def measure(run_dirs: list[Path], machine: str, date: str) -> dict[str, Any]:
    """A noise_floors.json object from the runs' summary.json files."""
    runs = {}
    for run in run_dirs:
        try:
            runs[run.name] = records(json.loads((run / SUMMARY).read_text()))
        except (OSError, ValueError) as exc:
            raise FloorsError(f"{run}: no readable summary.json: {exc}".replace("\n", " ")) from None
    points = measured_points(runs)
    how = (f"python -m benchreport.noisefloors over the runs: per client, metric and run length (n up to "
           f"{', '.join(str(b) for b in BUCKETS if b)}, then longer) the largest sample cv of a point repeated "
           f"{MIN_REPEATS} or more times; floor = {FLOOR_SIGMAS:g} x sqrt(2) x cv, rounded up to 0.5%; a bucket "
           "no point measured takes the nearest shorter measured bucket's floor (else the nearest longer's)")
    return {"schema": SCHEMA, "provisional": False,
            "source": {"runs": sorted(runs), "date": date, "machine": machine, "how": how},
            "floors": floors_from(points), "measured": points}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import datetime

    parser = argparse.ArgumentParser(prog="python -m benchreport.noisefloors",
                                     description="Measure compare's noise floors from repeated runs of the same "
                                     "code (repeat=3 or more); prints a noise_floors.json.")
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding summary.json")
    parser.add_argument("--machine", required=True, help="what the runs ran on, in words")
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    args = parser.parse_args(argv)
    try:
        data = measure(args.runs, args.machine, args.date)
        parse(data)
    except FloorsError as exc:
        print(f"benchreport.noisefloors: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
