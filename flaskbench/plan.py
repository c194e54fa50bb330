"""The bench's run plan: bench.yml's parameters and the mode table in, the list of runs out.

roles/bench calls plan() through the filter flaskbench_plan on the controller,
before any host is touched; its runs are plan.json's (roles/bench/tasks/run.yml
adds each run's URL and hosts). A bad parameter raises PlanError, whose message
names the parameter and its value as the user gave it.

Values come as bench.yml passes them: `-e name=value` gives strings, a
playbook's vars or `-e '{...}'` numbers and booleans. Each is read the way the
role's Jinja read it (`value | string | trim`), so that every command plans,
and is refused, as it was.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from benchhost import clients as registry
from benchhost import search

#: A parameter as given: a string from -e name=value, else a YAML or JSON scalar.
Given = str | int | float | bool | None
Run = dict[str, Any]
#: The mode table as the lookup flaskbench_modes gives it: name -> mode (route, port, patch, expect, bench...).
Modes = Mapping[str, Mapping[str, Any]]

NUMBER = re.compile(r"[0-9]+([.][0-9]*)?|[.][0-9]+")
WHOLE = re.compile(r"[0-9]+")
MINUTES = re.compile(r"[0-9]+([.][0-9]+)?")
LIST_HINT = ", or a comma list of them (an empty item is not one)"
PROFILES = {"seed": ["seed"], "tuned": ["tuned"], "both": ["seed", "tuned"]}
MONITOR = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
#: A seed left out is drawn in [0, SEED_END), as Ansible's `2147483647 | random` drew it.
SEED_END = 2147483647
#: rate=auto's defaults: the first step's rate, the step cap, the precision (bad - good) / good.
SEARCH = {"start_rate": 50.0, "steps": 12, "precision": 0.1}
#: run.json's schema, which every run carries.
RUN_SCHEMA = 2


class PlanError(ValueError):
    """Parameters the plan refuses: one message per refusal, each naming the parameter and its value."""

    def __init__(self, *messages: str) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Params:
    """bench.yml's parameters, as given; the defaults are bench.yml's."""

    mode: Given = ""
    profile: Given = "tuned"
    n: Given = ""
    c: Given = ""
    delay: Given = ""
    route: Given = ""
    rate: Given = ""
    duration: Given = ""
    time_limit: Given = 300
    monitor: Given = False
    client: Given = "ab"
    repeat: Given = 1
    seed: Given = ""
    max_minutes: Given = 120
    #: rate=auto (a knee search, benchhost.search): its first rate, step cap and precision; left out: SEARCH's
    start_rate: Given = ""
    steps: Given = ""
    precision: Given = ""
    #: the app's latency budget, ms, for the knee (left out: 1.5 x delay)
    budget_ms: Given = ""


@dataclass(frozen=True)
class Settings:
    """The role's settings the plan reads: roles/bench/defaults/main.yml's bench_<field>.

    Kept as given: the messages print them so, the checks convert them.
    """

    rate_duration: float
    rate_headroom: float
    rate_max_per_host: float
    rate_max_connections: int
    auto_rounds: Mapping[str, int]
    run_estimate_s: float
    ab_timeout: int
    expect_timeout: int
    expect_time_limit: int
    max_concurrency: int
    control_port: int


@dataclass(frozen=True)
class Lists:
    """n, c, delay and rate as comma lists (a sweep), each None when left out."""

    n: list[int] | None
    c: list[int] | None
    delay: list[float] | None
    rate: list[str] | None  # as typed: a rate run's folder is named after it (-rate200.5); ["auto"]: a search


@dataclass(frozen=True)
class Plan:
    """The runs in the order they run, the shuffle's seed, and what they should take."""

    runs: list[Run]
    seed: int
    estimate_s: float

    def lines(self) -> list[str]:
        """One line per run, then the total: what the role shows before any host changes."""
        count = f"{len(self.runs)} run" + ("" if len(self.runs) == 1 else "s")
        total = f"{count}, about {round(self.estimate_s / 60, 1)} min, seed {self.seed}"
        return [describe(run) for run in self.runs] + [total]


def text(value: Given) -> str:
    """A parameter as the role's Jinja read it: `value | string | trim`."""
    return str(value).strip()


def comma_list(value: Given) -> list[str] | None:
    """A comma list's items, stripped; None when the value is left out (empty)."""
    given = text(value)
    return None if given == "" else [item.strip() for item in given.split(",")]


def hint(value: Given) -> str:
    """Says an empty item is no number when the value was a list."""
    return LIST_HINT if "," in str(value) else ""


def mode_names(mode: Given, modes: Modes) -> list[str]:
    """all: every mode; gevent: the gevent modes the table expects to work, but the /db ones, which
    measure the database (psycopg2 serially, by design): the ones to sweep; else a comma list of names."""
    asked = text(mode)
    if asked == "all":
        names = list(modes)
    elif asked == "gevent":
        names = [name for name, m in modes.items()
                 if m["gevent"] and m["expect"] is None and m["route"] != "/db"]
    else:
        names = [name for name in (comma_list(mode) or []) if name != ""]
    unknown = list(dict.fromkeys(name for name in names if name not in modes))
    if not names or unknown:
        raise PlanError(f"mode={mode}: unknown mode {', '.join(unknown) or '(none given)'};"
                        f" valid modes: all, gevent, {', '.join(modes)}")
    return names


def profiles(profile: Given) -> list[str]:
    if not isinstance(profile, str) or profile not in PROFILES:
        raise PlanError(f"profile={profile}: must be seed, tuned or both")
    return PROFILES[profile]


def client_choices() -> dict[str, list[str]]:
    """What client= takes: each registered client (benchhost.clients), both among the closed-model ones."""
    names = registry.names()
    closed = [name for name in names if not registry.get(name).by_rate]
    return {**{name: [name] for name in closed}, "both": registry.both(), **{name: [name] for name in names if name not in closed}}


def clients(client: Given) -> list[str]:
    choices = client_choices()
    if text(client) not in choices:
        *first, last = choices
        raise PlanError(f"client={client}: must be {', '.join(first)} or {last}")
    return choices[text(client)]


def by_rate(run: Run) -> bool:
    """The run's client is an open model: scheduled at run["rate"] (c only caps its connections)."""
    return registry.get(run["client"]).by_rate


def read_lists(p: Params) -> Lists:
    """n, c, delay and rate, each checked: client=rate takes rate (and duration), the others n and c."""
    n, c, delay, rate = (comma_list(v) for v in (p.n, p.c, p.delay, p.rate))
    by_rate = any(registry.get(name).by_rate for name in client_choices().get(text(p.client), []))
    if not by_rate and (rate is not None or text(p.duration) != ""):
        name, value = ("rate", p.rate) if rate is not None else ("duration", p.duration)
        raise PlanError(f"{name}={value}: only client=rate sends at a rate (-e client=rate)")
    if by_rate and rate is None:
        raise PlanError("client=rate: needs rate=R, the requests per second to schedule (or a comma list of them)")
    if by_rate and (n is not None or c is not None):
        name, value = ("n", p.n) if n is not None else ("c", p.c)
        raise PlanError(f"{name}={value}: client=rate takes rate and duration instead (it sends rate x"
                        " duration requests, each on a connection of its own when it is due)")
    if by_rate:
        if "auto" in (rate or []) and len(rate or []) > 1:
            raise PlanError(f"rate={p.rate}: auto searches for the knee on its own, not in a list")
        if rate != ["auto"] and not all(NUMBER.fullmatch(r) and float(r) > 0 for r in rate or []):
            raise PlanError(f"rate={p.rate}: must be a number of requests per second above 0{hint(p.rate)}")
        duration = text(p.duration)
        if duration != "" and not (NUMBER.fullmatch(duration) and float(duration) > 0):
            raise PlanError(f"duration={p.duration}: must be a number of seconds above 0")
    wrong = [f"{name}={value}: must be a whole number of requests (1 or more){hint(str(value))}"
             for name, value, items in (("n", p.n, n), ("c", p.c, c))
             if items is not None and not all(WHOLE.fullmatch(item) for item in items)]
    if wrong:
        raise PlanError(*wrong)
    if delay is not None and not all(NUMBER.fullmatch(d) for d in delay):
        raise PlanError(f"delay={p.delay}: must be a number of seconds (0 or more){hint(p.delay)}")
    return Lists(n=None if n is None else [int(x) for x in n], c=None if c is None else [int(x) for x in c],
                 delay=None if delay is None else [float(x) for x in delay], rate=rate)


def search_settings(p: Params, lists: Lists, repeats: int) -> dict[str, float] | None:
    """rate=auto's start_rate, steps and precision, checked (None without rate=auto, which they need);
    budget_ms checked whatever the rate (the knee's budget of every rate run)."""
    budget = text(p.budget_ms)
    if budget != "" and not (NUMBER.fullmatch(budget) and float(budget) > 0):
        raise PlanError(f"budget_ms={p.budget_ms}: must be a number of milliseconds above 0 (the p99 the knee allows)")
    if budget != "" and lists.rate is None:
        raise PlanError(f"budget_ms={p.budget_ms}: only client=rate has a knee to budget (-e client=rate)")
    given = {name: text(getattr(p, name)) for name in SEARCH if text(getattr(p, name)) != ""}
    if lists.rate != ["auto"]:
        if given:
            name = next(iter(given))
            raise PlanError(f"{name}={getattr(p, name)}: only rate=auto searches (-e rate=auto)")
        return None
    if repeats > 1:
        raise PlanError(f"repeat={p.repeat}: rate=auto repeats a step itself where its p99 is within noise"
                        " of the budget; leave repeat out")
    found = {**SEARCH, **{k: float(v) for k, v in given.items() if NUMBER.fullmatch(v)}}
    if "start_rate" in given and not (NUMBER.fullmatch(given["start_rate"]) and found["start_rate"] > 0):
        raise PlanError(f"start_rate={p.start_rate}: must be a number of requests per second above 0")
    if "steps" in given and not (WHOLE.fullmatch(given["steps"]) and found["steps"] >= 2):
        raise PlanError(f"steps={p.steps}: must be a whole number of steps, 2 or more")
    if "precision" in given and not (NUMBER.fullmatch(given["precision"]) and 0 < found["precision"] < 1):
        raise PlanError(f"precision={p.precision}: must be a fraction between 0 and 1 (0.1: the knee within 10%)")
    return found


def time_limit(value: Given) -> int:
    if not WHOLE.fullmatch(text(value)) or int(text(value)) < 1:
        raise PlanError(f"time_limit={value}: must be a whole number of seconds (1 or more)")
    return int(text(value))


def max_minutes(value: Given) -> float:
    if not MINUTES.fullmatch(text(value)) or float(text(value)) <= 0:
        raise PlanError(f"max_minutes={value}: must be a number of minutes above 0")
    return float(text(value))


def monitor(value: Given) -> bool:
    if str(value).lower() not in MONITOR:
        raise PlanError(f"monitor={value}: must be true or false")
    return MONITOR[str(value).lower()]


def repeat(value: Given) -> int:
    if not WHOLE.fullmatch(text(value)) or int(text(value)) < 1:
        raise PlanError(f"repeat={value}: must be a whole number of runs per point (1 or more)")
    return int(text(value))


def seed(value: Given) -> int | None:
    """The seed given, or None for a random one."""
    if text(value) == "":
        return None
    if not WHOLE.fullmatch(text(value)):
        raise PlanError(f"seed={value}: must be a whole number (the run order's shuffle seed),"
                        " or left out for a random one")
    return int(text(value))


def draw_seed() -> int:
    """A seed for a plan given none; recorded in every run.json, so that -e seed=... replays the order."""
    return random.SystemRandom().randrange(SEED_END)


@dataclass(frozen=True)
class Asked:
    """What the parameters ask for, checked: the modes, profiles and clients, and the lists."""

    modes: list[str]
    profiles: list[str]
    clients: list[str]
    lists: Lists
    #: rate=auto's settings (search_settings); None without it
    search: dict[str, float] | None = None
    budget_ms: float | None = None


def plan_points(p: Params, s: Settings, modes: Modes, asked: Asked, loadgens: Sequence[str]) -> list[Run]:
    """One point per mode, profile, client, c, delay and n (or rate): every combination of the lists.

    Without n, a point given its c gets n = rounds x c (auto_rounds): 50 for ab, whose own ceiling is
    then 98% of the ideal c / delay (it sends one request alone first), 10 for wrk, which has no such
    ceiling; so no figure is bounded by the client. Without c, the mode table's n, c and delay (the
    seed's flags).
    """
    limit, watch, lists = time_limit(p.time_limit), monitor(p.monitor), asked.lists
    duration = float(text(p.duration)) if text(p.duration) else float(s.rate_duration)
    points: list[Run] = []
    for name in asked.modes:
        m = modes[name]
        cs = lists.c or [m["bench"]["c"]]
        delays = lists.delay or [m["bench"]["delay"]]
        for profile in asked.profiles:
            base = base_run(p, s, name, profile, m, limit, watch)
            if asked.budget_ms is not None:  # the knee's budget (benchreport.knee), every rate run's
                base["budget_ms"] = asked.budget_ms
            for client in asked.clients:
                if registry.get(client).by_rate and asked.search is not None:
                    points += search_points(base, s, client, asked, delays, duration, len(loadgens))
                elif registry.get(client).by_rate:
                    points += rate_points(base, s, client, lists.rate or [], delays, duration, len(loadgens))
                else:
                    points += load_points(base, s, client, cs, delays, lists, m)
    return points


def base_run(p: Params, s: Settings, name: str, profile: str, m: Mapping[str, Any], limit: int, watch: bool) -> Run:
    """What every run of a mode and profile shares, whatever its client and load."""
    expect = m["expect"]
    return {
        "mode": name, "profile": profile,
        "route": p.route if p.route else m["route"],
        "port": m["port"],
        "monitor": watch and m["patch"] != "none",
        "expect": expect["outcome"] if expect is not None else None,
        "schema": RUN_SCHEMA,
        # a mode the table expects to fail (its expect) gets short limits, so the bench shows it fast
        "time_limit": min(limit, int(s.expect_time_limit)) if expect is not None else limit,
        "timeout": int(s.expect_timeout) if expect is not None else int(s.ab_timeout),
        "unit": m["unit"],
    }


def rate_points(base: Run, s: Settings, client: str, rates: list[str], delays: list[Any], duration: float,
                hosts: int) -> list[Run]:
    """client=rate: n = rate x duration; c, the connections the schedule may open, rate x (headroom x
    delay + 1 s), at least one per load host."""
    points = []
    for delay in delays:
        for rate in rates:
            r = float(rate)
            name = f"{base['mode']}-{base['profile']}-{client}{rate}" + (f"-d{delay}" if len(delays) > 1 else "")
            n, c = search.rate_size(r, duration, delay, float(s.rate_headroom), hosts)
            points.append({**base, "client": client, "name": name, "rate": r, "duration": duration,
                           "n": n, "c": c, "delay": delay})
    return points


def search_points(base: Run, s: Settings, client: str, asked: Asked, delays: list[Any], duration: float,
                  hosts: int) -> list[Run]:
    """rate=auto: per delay, `steps` slots of one knee search (benchhost.search), each sized for the first
    rate; the app runner decides each step's rate from the steps before, and skips the slots it does not need."""
    found = asked.search or {}
    start, steps = found["start_rate"], int(found["steps"])
    points = []
    for delay in delays:
        budget = search.budget_ms(float(delay), asked.budget_ms)
        if not budget:
            raise PlanError(f"rate=auto: delay={delay} gives no latency budget (1.5 x delay): give budget_ms=MS")
        group = f"{base['mode']}-{base['profile']}-auto" + (f"-d{delay}" if len(delays) > 1 else "")
        each = float(s.rate_headroom) * float(delay) + 1
        most = max(hosts, 1) * min(float(s.rate_max_per_host), int(s.rate_max_connections) / each)
        spec = {"group": group, "start": start, "precision": found["precision"], "budget_ms": budget, "steps": steps,
                "headroom": float(s.rate_headroom), "max_rate": round(most, 1)}
        n, c = search.rate_size(start, duration, delay, float(s.rate_headroom), hosts)
        points += [{**base, "client": client, "name": f"{group}-s{k}", "rate": start, "duration": duration,
                    "n": n, "c": c, "delay": delay, "search": {**spec, "step": k}} for k in range(1, steps + 1)]
    return points


def load_points(base: Run, s: Settings, client: str, cs: list[int], delays: list[Any], lists: Lists,
                m: Mapping[str, Any]) -> list[Run]:
    """ab or wrk: a point per c, delay and n; the folder's name says what the sweep varies."""
    points = []
    for c in cs:
        rounds = s.auto_rounds.get(client, registry.get(client).auto_rounds)
        ns = lists.n or ([m["bench"]["n"]] if lists.c is None else [int(rounds) * c])
        for delay in delays:
            for n in ns:
                name = (f"{base['mode']}-{base['profile']}" + (f"-{client}" if registry.get(client).in_names else "")
                        + (f"-c{c}" if len(cs) > 1 else "") + (f"-d{delay}" if len(delays) > 1 else "")
                        + (f"-n{n}" if len(ns) > 1 else ""))
                points.append({**base, "client": client, "name": name, "n": n, "c": c, "delay": delay})
    return points


def shuffled(points: list[Run], key: str) -> list[Run]:
    """Ansible's `shuffle(seed=key)`: random.Random(key).shuffle, so a seed recorded by either replays."""
    order = list(points)
    random.Random(key).shuffle(order)
    return order


def in_rounds(points: list[Run], repeats: int, seed_used: int) -> list[Run]:
    """Every point `repeats` times, each round in its own order (seeded, so it can be replayed): a
    drift of the machine during the bench spreads over every point instead of biasing one."""
    runs = []
    for k in range(1, repeats + 1):
        order = points if repeats == 1 else shuffled(points, f"{seed_used}-{k}")
        for point in order:
            runs.append({**point, "name": point["name"] + ("" if repeats == 1 else f"-r{k}"),
                         "repetition": k, "repeats": repeats, "seed": seed_used})
    return runs


def check_c_and_n(points: list[Run], s: Settings) -> None:
    most = int(s.max_concurrency)
    wrong = []
    for r in points:
        c, n = int(r["c"]), int(r["n"])
        if c >= 1 and (by_rate(r) or (n >= c and c <= most)):
            continue
        if c < 1:
            wrong.append(f"c={r['c']}: must be 1 or more")
        elif c > most:
            wrong.append(f"c={r['c']}: ab accepts at most {s.max_concurrency}")
        else:
            wrong.append(f"n={r['n']} is less than c={r['c']} (mode {r['mode']}): n must be at least c")
    if wrong:
        raise PlanError(*dict.fromkeys(wrong))


def estimate_s(runs: list[Run], s: Settings) -> float:
    """What the runs should take: each its load, (n / c + 1) x delay (a rate run: duration + delay),
    capped by its time limit, plus run_estimate_s for its switch and warm-up."""
    total = 0.0
    for r in runs:
        if by_rate(r):
            load = r["duration"] + r["delay"]
        else:
            load = (float(math.ceil(r["n"] / r["c"])) + 1) * r["delay"]
        total = total + min(load, r["time_limit"]) + float(s.run_estimate_s)
    return total


def check_estimate(runs: list[Run], total_s: float, given: Given) -> None:
    """A sweep can plan hours without noticing: past max_minutes, it is refused."""
    if total_s > max_minutes(given) * 60:
        raise PlanError(f"the plan's {len(runs)} runs would take about {int(round(total_s / 60, 0))} min,"
                        f" more than max_minutes={given}: run fewer points or repeats, or raise it (-e max_minutes=N)")


def check_control_port(port: Given, modes: Modes) -> None:
    ports = sorted({int(m["port"]) for m in modes.values()})
    try:
        number = int(text(port))
    except ValueError:
        number = 0
    if not 1024 <= number <= 65535 or number in ports:
        raise PlanError(f"bench_control_port={port}: the runners' control port must be 1024 to 65535 and"
                        f" not a mode's port ({', '.join(map(str, ports))})")


def check_inventory(loadgens: Sequence[str], apps: Sequence[str]) -> None:
    if not loadgens or not apps:
        found = f"loadgen={[str(h) for h in loadgens]}, app={[str(h) for h in apps]}"  # as Jinja printed the lists
        raise PlanError("the inventory needs a host in group loadgen (runs ab and wrk) and one in group app"
                        f" (serves the modes); found {found}")


def split_over(runs: list[Run], hosts: Sequence[str]) -> list[Run]:
    """Several load hosts run every point together: c evenly (the first hosts one more), n in
    proportion to each part's c (the last host the rest); a rate run's part schedules its share of the
    requests over the same duration."""
    return [{**r, "parts": search.split(int(r["n"]), int(r["c"]), r["rate"] if by_rate(r) else None, list(hosts)),
             "loadgens": list(hosts)} for r in runs]


def check_connections(runs: list[Run], hosts: Sequence[str]) -> None:
    """Each load host needs a connection of its own in every run."""
    k = len(hosts)
    wrong = [f"c={r['c']} ({r['name']}): fewer connections than the {k} load hosts ({', '.join(hosts)}),"
             f" which split every run's c between them: use c of {k} or more, or fewer hosts in the loadgen group"
             for r in runs if int(r["c"]) < k]
    if wrong:
        raise PlanError(*dict.fromkeys(wrong))


def check_rates(runs: list[Run], s: Settings, hosts: Sequence[str]) -> None:
    """What one load host can schedule: benchhost.clients.rate's CPU per request and a descriptor per open
    connection bound it, whatever the server does."""
    wrong = []
    for r in runs:
        if not by_rate(r):
            continue
        most_rate = max(part["rate"] for part in r["parts"])
        most_c = max(part["c"] for part in r["parts"])
        if most_rate <= float(s.rate_max_per_host) and most_c <= int(s.rate_max_connections):
            continue
        if most_rate > float(s.rate_max_per_host):
            why = (f"{round(most_rate, 1)} req/s per load host, more than one load host schedules"
                   f" (bench_rate_max_per_host={s.rate_max_per_host}: benchhost.clients.rate spends about 0.3 ms of CPU"
                   " per request)")
        else:
            why = (f"up to {most_c} open connections per load host (rate x ({s.rate_headroom} x delay + 1 s)),"
                   f" more than bench_rate_max_connections={s.rate_max_connections}")
        wrong.append(f"rate={r['rate']} ({r['name']}): {why}: use a lower rate, a shorter delay or more hosts"
                     f" in the loadgen group ({len(hosts)} now)")
    if wrong:
        raise PlanError(*dict.fromkeys(wrong))


def describe(run: Run) -> str:
    """A run in one line: its folder's name, n, c, its caps, and its parts when several hosts share it."""
    line = f"{run['name']} n={run['n']} c={run['c']} limit={run['time_limit']}s timeout={run['timeout']}s"
    if by_rate(run):
        line += f" rate={run['rate']}"
    if run.get("search"):
        line += f" (rate=auto: step {run['search']['step']} of at most {run['search']['steps']})"
    parts = run.get("parts") or []
    if len(parts) > 1:
        line += (f" split c={'+'.join(str(p['c']) for p in parts)} n={'+'.join(str(p['n']) for p in parts)}"
                 + (f" rate={'+'.join(str(round(p['rate'], 1)) for p in parts)}" if by_rate(run) else ""))
    return line


def plan(p: Params, s: Settings, modes: Modes, loadgens: Sequence[str], apps: Sequence[str],
         new_seed: Callable[[], int] = draw_seed) -> Plan:
    """The runs bench.yml's parameters ask for, split over the load hosts, in the order they run.

    Raises PlanError at the first check that fails, in the order the role always checked: the parameters
    one by one, then the points, the estimate, the control port, the inventory, the split. A check of
    every point or run names each one it refuses, a line each.
    """
    asked = Asked(modes=mode_names(p.mode, modes), profiles=profiles(p.profile), clients=clients(p.client),
                  lists=read_lists(p))
    time_limit(p.time_limit)
    max_minutes(p.max_minutes)
    monitor(p.monitor)
    repeats = repeat(p.repeat)
    asked = dataclasses.replace(asked, search=search_settings(p, asked.lists, repeats),
                                budget_ms=float(text(p.budget_ms)) if text(p.budget_ms) else None)
    given_seed = seed(p.seed)
    seed_used = new_seed() if given_seed is None else given_seed
    points = plan_points(p, s, modes, asked, loadgens)
    check_c_and_n(points, s)
    runs = in_rounds(points, repeats, seed_used)
    total_s = estimate_s(runs, s)
    check_estimate(runs, total_s, p.max_minutes)
    check_control_port(s.control_port, modes)
    check_inventory(loadgens, apps)
    runs = split_over(runs, loadgens)
    check_connections(runs, loadgens)
    check_rates(runs, s, loadgens)
    return Plan(runs=runs, seed=seed_used, estimate_s=total_s)
