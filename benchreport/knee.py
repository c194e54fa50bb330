"""The knee of a constant-rate sweep (client=rate): the highest rate a mode keeps within its latency budget.

A rate run (benchhost.clients.rate) schedules its requests at a fixed rate whatever the
server does and times each from its due time, so its p99 includes the
requests that waited behind a stall. Over a sweep of rates the p99 stays near
the app's delay until the server saturates, then climbs: the knee is where.

The machine's limit (machine_limit): the rate at which the CPUs would be
saturated by what a request costs, from the CPU ms per request each host
spent on it (a record's cpu_hosts, benchreport.cpucost: the app's unit, the
slow API's unit, each load host's client) and the hosts' cores
(environment.json). Hosts that are separate machines each bound it:
cores x 1000 / (the CPU ms a request costs on that host); hosts that share one
machine (the local test containers: one kernel, /proc/stat is the whole
machine; benchhost.env's boot_id, see cpucost.machine_of) share its cores, so
the CPU ms their roles spend per request are added up:

    limit_rps = min over machines of  cores(machine) x 1000 / sum of the cpu ms/request of its roles

A machine's cores are the most any of its hosts may use (a host alone: its
cgroup quota when lower). A role whose CPU was not measured (the slow API
without a sampled host) is left out and named: the limit is then an upper
bound, and so is one leaving out a host whose cores environment.json does
not give. No limit without the app's CPU per request or its machine's cores.
Each knee is stated as a share of the limit, with the CPU figures at the
knee's rate (the median over its repetitions), or, when there is no knee,
at the lowest rate over the budget (knee_limit says which); summary.json
records knee_machine_limit_rps and knee_pct_of_machine_limit on the group's
records, and every record its own machine_limit_rps (its own figures).

Groups: the rate records of one (mode, profile, delay, route), by scheduled
rate (the record's `rate`: the whole point's, all load hosts together). Any
failed or unsent request in any repetition fails the rate, and so does a
repetition that went wrong in any way (repetition_failures, in repetition
order, the first one named):

* a record with an error: no answer from the server, a missing or unreadable
  rate.json, a client that was interrupted or killed (summary.json's `error`
  says which), or an expected failure that happened ("expected failure (hang)");
* a record whose client exited non-zero (client_rc), error or not;
* a repetition planned but absent: run.json's repeats = K (the records'
  repeats_planned) and no record of repetition k <= K at that rate.

Then, over its repetitions that count (model.counts_for_stats: no error, no
expected failure):

* p99: the median of their p99_ms (timed from the schedule);
* failed: the most failed requests of any of them (one failing repetition is
  enough to fail the rate), and capped: any of them left requests unsent;
* answered: the median of their rps, the rate the answers came at (from the
  first answer to the last; a split run's, all its load hosts' answers:
  benchhost.numbers.answered_rps);
* a rate is within the budget when no repetition went wrong, p99 <=
  BUDGET_FACTOR (1.5) x delay (equal is within), no request failed, none
  was left unsent and the answers kept up with the schedule: answered >=
  KEEP_UP (95%) x the rate (a server answering slower than the schedule
  does not hold it: its queue grows as long as the run lasts, and a short
  run may end before p99 shows it); a rate without a counted repetition, or
  without a p99 or an answered rate, is not.

knee_rps: the highest rate such that it and every lower rate were within the
budget; None when even the lowest was not. knee_why: the first criterion
that failed, at the first rate above the knee ("p99 1840 ms > 1500 ms at 150
req/s", "answered 409.71 req/s, 86% of the 475 req/s scheduled (< 95%) at 475
req/s", "repetition 3: no answer from the server to 400 requests sent
(connect 0, read 0, timeout 400) at 100 req/s"), or, when every rate passed, that the knee is at least the highest
rate run (a sweep that went higher would tell more). summary.json records
both on every rate record of the group (benchreport.summary.add_knees);
report.md ranks the groups by knee_rps (ties: the lower CPU ms/request at the
knee, unless the two are within their resolutions, serverfigures.within_resolution:
then in the groups' order), report.html draws p99 against the rate with the
budget and each knee.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchhost import clients, search
from benchreport import serverfigures
from benchreport.model import Record, counts_for_stats, finite, integer

#: The latency budget: p99 at most this times the app's delay (benchhost.search: the rule the runner's search uses).
BUDGET_FACTOR = search.BUDGET_FACTOR


def budget_text(found: list[Knee], times: str = "×") -> str:
    """The budget the knees were judged by, in words: "1.5 × delay" (the built-in app's), "200 ms (budget_ms)"
    (a user's app's, or -e budget_ms), or each of them when the groups differ."""
    given = sorted({k.budget_given_ms for k in found if k.budget_given_ms is not None})
    by_delay = not found or any(k.budget_given_ms is None for k in found)
    return " or ".join([f"{BUDGET_FACTOR:g} {times} delay"] * by_delay + [f"{b:g} ms (budget_ms)" for b in given])
#: A held rate's answers come at least this share of it (benchhost.search.KEEP_UP).
KEEP_UP = search.KEEP_UP


def group_key(rec: Record) -> tuple | None:
    """(mode, profile, delay, route) of a rate record with a rate; None for any other."""
    client = clients.get(rec.client)  # the clients whose runs have a knee: the ones scheduled at a rate
    if client is None or not client.by_rate or rec.mode is None or finite(rec.rate) is None:
        return None
    return (rec.mode, rec.profile, finite(rec.delay), rec.route)


def _median(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


@dataclass
class Step:
    """One rate of a group: its records, the figures judged, and why it is over the budget (None: within)."""

    rate: float
    records: list[Record]
    counted: list[Record]
    p99_ms: float | None
    failed: int | None
    unsent: int
    cpu_ms_per_req: float | None
    over: str | None
    #: the repetitions that went wrong ("repetition 3: <why>"), repetition order
    failures: list[str] = field(default_factory=list)
    #: the CPU figure's resolution: its counted records' highest (serverfigures.point_resolution)
    cpu_ms_per_req_resolution: float | None = None
    #: the rate the answers came at: the median of its counted records' rps
    rps: float | None = None


@dataclass
class Knee:
    """One (mode, profile, delay, route): its rates in order, the knee and why it is not higher."""

    mode: str
    profile: str | None
    delay: float | None
    route: str | None
    steps: list[Step] = field(default_factory=list)
    knee_rps: float | None = None
    why: str = ""
    #: the app's own budget (its records' budget_ms); None: 1.5 x delay
    budget_given_ms: float | None = None

    @property
    def budget_ms(self) -> float | None:
        """The app's own budget, else 1.5 x delay in ms (benchhost.search.budget_ms)."""
        return search.budget_ms(self.delay, self.budget_given_ms)

    @property
    def name(self) -> str:
        return f"{self.mode}/{self.profile or '?'}"

    @property
    def at_knee(self) -> Step | None:
        return next((s for s in self.steps if s.rate == self.knee_rps), None)

    @property
    def open_ended(self) -> bool:
        """Every rate passed: the knee is at least the highest rate run."""
        return self.knee_rps is not None and self.knee_rps == self.steps[-1].rate

    @property
    def records(self) -> list[Record]:
        return [r for s in self.steps for r in s.records]


def _went_wrong(rec: Record) -> str | None:
    """Why one repetition did not run clean: its error, an expected failure that happened, a non-zero client
    exit; None when it did."""
    if rec.error:
        return str(rec.error)
    if rec.expected and rec.as_expected:
        return f"expected failure ({rec.expected})"
    rc = integer(rec.client_rc)
    if rc is not None and rc != 0:
        return f"the client exited {rc}"
    return None


def repetition_failures(records: list[Record]) -> list[str]:
    """Every repetition of one rate that went wrong, in repetition order: "repetition 2: <why>", and
    "repetition 3 of 3: planned, no record" for each one run.json's repeats planned that is absent."""
    out = []
    for rec in sorted(records, key=lambda r: integer(r.repetition) or 1):
        why = _went_wrong(rec)
        if why is not None:
            out.append(f"repetition {integer(rec.repetition) or 1}: {why}")
    planned = max((k for r in records if (k := integer(r.repeats_planned)) is not None), default=None)
    found = {integer(r.repetition) or 1 for r in records}
    out += [f"repetition {k} of {planned}: planned, no record" for k in range(1, (planned or 0) + 1)
            if k not in found]
    return out


def step(rate: float, records: list[Record], budget_ms: float | None) -> Step:
    """A rate's figures over its counted repetitions, and whether it kept the budget."""
    failures = repetition_failures(records)
    counted = [r for r in records if counts_for_stats(r)]
    p99 = _median([finite(r.p99_ms) for r in counted])
    fails = [integer(r.failed) for r in counted]
    failed = max((f for f in fails if f is not None), default=None)
    unsent = max((integer((r.client_detail or {}).get("unsent")) or 0 for r in counted), default=0)
    cpu = _median([finite(r.cpu_ms_per_req) for r in counted])
    answered = [finite(r.rps) for r in counted]
    if failures:  # a lost repetition may have been the one over the budget: its rate cannot pass
        over = failures[0]
    elif not counted:
        over = "no run without an error"
    else:
        over = search.verdict(p99, failed, unsent, budget_ms,
                              _median(answered) if None not in answered else None, rate)
    return Step(rate, records, counted, p99, failed, unsent, cpu, over, failures,
                cpu_ms_per_req_resolution=serverfigures.point_resolution(counted),
                rps=_median(answered))


def judge(knee: Knee) -> None:
    """knee_rps and why, from the steps in rate order."""
    for s in knee.steps:
        if s.over is not None:
            knee.why = f"{s.over} at {s.rate:g} req/s"
            return
        knee.knee_rps = s.rate
    knee.why = f"every rate run passed: the knee is at least {knee.knee_rps:g} req/s (the highest run)"


def knees(records: list[Record]) -> list[Knee]:
    """Every group's knee, in the order of the groups' first records."""
    groups: dict[tuple, dict[float, list[Record]]] = {}
    for rec in records:
        key = group_key(rec)
        if key is not None:
            groups.setdefault(key, {}).setdefault(float(rec.rate), []).append(rec)
    out = []
    for (mode, profile, delay, route), by_rate in groups.items():
        given = [b for recs in by_rate.values() for r in recs if (b := finite(r.budget_ms)) is not None]
        knee = Knee(mode, profile, delay, route, budget_given_ms=given[0] if given else None)
        knee.steps = [step(rate, by_rate[rate], knee.budget_ms) for rate in sorted(by_rate)]
        judge(knee)
        out.append(knee)
    return out


def _cpu_order(a: Knee, b: Knee) -> int:
    """-1 when a's CPU ms/request at the knee is lower than b's by more than their resolutions, 1 when
    higher, 0 when the measurement cannot tell them apart (or one has none: measured goes first)."""
    at_a, at_b = a.at_knee, b.at_knee
    cpu_a = at_a.cpu_ms_per_req if at_a is not None else None
    cpu_b = at_b.cpu_ms_per_req if at_b is not None else None
    if cpu_a is None or cpu_b is None:
        return (cpu_a is None) - (cpu_b is None)
    assert at_a is not None and at_b is not None
    if serverfigures.within_resolution(cpu_a, at_a.cpu_ms_per_req_resolution, cpu_b, at_b.cpu_ms_per_req_resolution):
        return 0
    return -1 if cpu_a < cpu_b else 1


def ranked(found: list[Knee]) -> list[Knee]:
    """By knee_rps, highest first; a tie to the lower CPU ms/request at the knee, unless the two are within
    their resolutions (then in the groups' order); no knee last."""
    by_knee = sorted(found, key=lambda k: (k.knee_rps is None, -(k.knee_rps or 0.0)))
    out: list[Knee] = []
    for k in by_knee:  # inserted after every knee it does not clearly beat: ties keep their order
        i = len(out)
        while i > 0 and out[i - 1].knee_rps == k.knee_rps and _cpu_order(k, out[i - 1]) < 0:
            i -= 1
        out.insert(i, k)
    return out


def knee_text(k: Knee, unit: bool = True) -> str:
    """"120 req/s", "≥ 150 req/s" (every rate passed) or "none"; without the unit for a table's column."""
    if k.knee_rps is None:
        return "none"
    return ("≥ " if k.open_ended else "") + f"{k.knee_rps:g}" + (" req/s" if unit else "")


# ---------------------------------------------------------------- the machine's limit

@dataclass
class MachineLimit:
    """The rate that would saturate the binding machine's CPUs; each machine's own bound in `machines`."""

    rps: float
    #: the binding machine: its hosts, cores and [(role, host, cpu ms/request)] added up on it
    hosts: list[str]
    cores: float
    terms: list[tuple[str, str | None, float]]
    #: roles whose CPU per request was not measured (left out: the limit is then an upper bound)
    missing: list[str]
    #: every machine's bound, req/s, by its hosts ("fb-app+fb-api")
    machines: dict[str, float] = field(default_factory=dict)
    #: hosts whose cores environment.json does not give (their machine is left out: an upper bound too)
    unknown_cores: list[str] = field(default_factory=list)


def machine_limit(entries: list[Mapping[str, Any]] | None) -> MachineLimit | None:
    """The machine's limit from a record's cpu_hosts ({"role", "host", "cpu_ms_per_req", "cores", "machine"});
    None without the app's CPU per request or the cores of a machine it counts on (the module's docstring)."""
    entries = [e for e in entries or [] if isinstance(e, Mapping)]
    app = [e for e in entries if e.get("role") == "app"]
    if not app or any(finite(e.get("cpu_ms_per_req")) is None for e in app):
        return None
    missing = list(dict.fromkeys(str(e.get("role")) for e in entries if finite(e.get("cpu_ms_per_req")) is None))
    machines: dict[str, list[Mapping[str, Any]]] = {}
    for e in entries:
        if finite(e.get("cpu_ms_per_req")) is None:
            continue
        key = e.get("machine") or f"host {e.get('host')}"
        machines.setdefault(str(key), []).append(e)
    bounds, unknown = [], []
    for on in machines.values():
        cpu = sum(float(finite(e.get("cpu_ms_per_req")) or 0.0) for e in on)
        cores = [c for e in on if (c := finite(e.get("cores"))) is not None]
        hosts = list(dict.fromkeys(str(e.get("host")) for e in on))
        if not cores:
            if any(e.get("role") == "app" for e in on):
                return None  # the app's machine's CPUs unknown: no limit
            unknown += hosts
            continue
        if cpu <= 0:
            continue
        terms = [(str(e.get("role")), e.get("host"), float(finite(e.get("cpu_ms_per_req")) or 0.0)) for e in on]
        bounds.append((max(cores) * 1000.0 / cpu, hosts, max(cores), terms))
    if not bounds:
        return None
    rps, hosts, cores, terms = min(bounds, key=lambda b: b[0])
    return MachineLimit(round(rps, 1), hosts, cores, terms, missing,
                        {"+".join(b[1]): round(b[0], 1) for b in bounds}, unknown)


def _rps(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def _ms(x: float) -> str:
    return f"{x:.3g}" if x < 1 else f"{x:.3f}".rstrip("0").rstrip(".")


def limit_text(limit: MachineLimit | None) -> str:
    """"machine limit ≈ 1875 req/s: 2 cores / (app 0.8 + slow API 0.2 + client 0.067 ms/request)", with the
    other machines' bounds and the roles not measured; "machine limit: not measured" without one."""
    if limit is None:
        return "machine limit: not measured (the app's CPU per request or the hosts' cores unknown)"
    roles: dict[str, float] = {}
    for role, _host, cpu in limit.terms:
        roles[role] = roles.get(role, 0.0) + cpu  # several load hosts on one machine: their clients together
    cores = f"{limit.cores:g} core{'s' if limit.cores != 1 else ''}"
    text = (f"machine limit ≈ {_rps(limit.rps)} req/s: {cores} / ("
            + " + ".join(f"{role} {_ms(cpu)}" for role, cpu in roles.items()) + " ms/request)")
    if len(limit.machines) > 1:
        text += f" on {'+'.join(limit.hosts)}; " + ", ".join(
            f"{name} {_rps(rps)}" for name, rps in limit.machines.items() if name != "+".join(limit.hosts))
    if limit.missing:
        text += f"; {', '.join(limit.missing)} not measured (the limit is at most this)"
    if limit.unknown_cores:
        text += f"; the cores of {', '.join(limit.unknown_cores)} unknown (left out: the limit is at most this)"
    return text


@dataclass
class KneeLimit:
    """A knee's machine limit: the limit, the rate whose CPU figures it is from and why that rate."""

    limit: MachineLimit | None
    rate: float
    which: str

    def share(self, knee_rps: float | None) -> float | None:
        """The knee as % of the limit."""
        if knee_rps is None or self.limit is None or not self.limit.rps:
            return None
        return round(100.0 * knee_rps / self.limit.rps, 1)


def _median_hosts(records: list[Record]) -> list[dict[str, Any]] | None:
    """cpu_hosts over a rate's records: each (role, host)'s median CPU ms/request, its cores and machine."""
    rows: dict[tuple, dict[str, Any]] = {}
    values: dict[tuple, list[float | None]] = {}
    for rec in records:
        for e in rec.cpu_hosts or []:
            key = (e.get("role"), e.get("host"))
            rows.setdefault(key, dict(e))
            values.setdefault(key, []).append(finite(e.get("cpu_ms_per_req")))
    if not rows:
        return None
    return [{**row, "cpu_ms_per_req": _median(values[key])} for key, row in rows.items()]


def knee_limit(k: Knee) -> KneeLimit | None:
    """The machine limit at the knee's rate, or, without a knee, at the lowest rate over the budget."""
    at = k.at_knee
    which = "the knee's rate"
    if at is None:
        at = next((s for s in k.steps if s.over is not None), None)
        which = "the lowest rate over the budget (no knee)"
    if at is None:
        return None
    return KneeLimit(machine_limit(_median_hosts(at.counted or at.records)), at.rate, which)


def knee_limit_text(k: Knee) -> str:
    """A knee's line: "machine limit ≈ X req/s: ...; CPU at 1200 req/s (the knee's rate); knee 1200 req/s =
    64% of the machine's limit"."""
    kl = knee_limit(k)
    if kl is None:
        return "machine limit: not measured"
    text = f"{limit_text(kl.limit)}; CPU at {kl.rate:g} req/s ({kl.which})"
    share = kl.share(k.knee_rps)
    if share is not None:
        text += f"; knee {knee_text(k)} = {share:g}% of the machine's limit"
    return text

