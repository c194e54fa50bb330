"""The bench's run plan: bench.yml's parameters and the mode table in, the list of runs out.

roles/bench calls plan() through the filter flaskbench_plan on the controller,
before any host is touched; its runs are plan.json's (roles/bench/tasks/run.yml
adds each run's URL and hosts). A bad parameter raises PlanError, whose message
names the parameter and its value as the user gave it.

With app=DIR the runs bench a user's app (DIR/flaskbench-app.yml, flaskbench.appspec)
in the modes that serve it (flaskbench.userapp.modes_for): a point per route of
the description (route= picks routes by name, route=mix is their weighted mix
for wrk and rate), each run carrying its "requests" (benchhost.routes), the
app's record (name, spec_sha, routes, budget, the modes skipped and why) and no
delay: the app calls no slow API of ours, so there is no ideal and the knee's
budget is the app's budget_ms.

thresholds=FILE (or, with app=DIR and no thresholds=, the app's own `thresholds:` file) is read and held
against the plan's points before any host changes (benchreport.thresholds: every selector names a mode,
profile, client or route of the plan and selects a point; every metric is one its points measure); the
plan names the file, which the role keeps with the results for the report to judge.

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
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from benchhost import clients as registry
from benchhost import search
from benchreport import thresholds as limits
from flaskbench import appspec, userapp

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
#: A user's app's n and c when neither is given: no mode table's bench applies, and its latency is
#: unknown, so a small first look (ab: 1000 requests, 10 at a time); c given alone: auto_rounds x c.
APP_BENCH = {"n": 1000, "c": 10}
#: route=MIX: the weighted mix of the app's routes (wrk and rate).
MIX = "mix"
#: What a route's name keeps in a folder's name (benchhost.run's SAFE_NAME), the rest a dash.
FOLDER_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


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
    #: the app's latency budget, ms, for the knee (left out: 1.5 x delay, or a user's app's budget_ms)
    budget_ms: Given = ""
    #: a user's app: the folder of its flaskbench-app.yml (left out: the built-in app)
    app: Given = ""
    #: a thresholds file (benchreport.thresholds; left out: the app's own, else none)
    thresholds: Given = ""


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
class App:
    """A user's app as the plan benches it: its description, digest, and the modes that serve it or not."""

    spec: appspec.AppSpec
    spec_sha: str
    served: dict[str, str]
    skipped: dict[str, str]

    @property
    def name(self) -> str:
        return self.spec.name

    def route_names(self) -> list[str]:
        return [r.name for r in self.spec.routes]

    def requests(self, route: str) -> list[dict[str, Any]]:
        """The requests of a point: the route's, or every route's for the mix (benchhost.routes)."""
        return [userapp.route_dict(r) for r in self.spec.routes if route in (MIX, r.name)]

    def folder_tags(self) -> dict[str, str]:
        """Each route's (and the mix's) part of a run folder's name: its name's safe characters, unique."""
        tags: dict[str, str] = {}
        for i, name in enumerate([*self.route_names(), MIX]):
            tag = FOLDER_UNSAFE.sub("-", name).strip("-") or f"route{i + 1}"
            tags[name] = tag if tag not in tags.values() else f"{tag}-{i + 1}"
        return tags

    def record(self) -> dict[str, Any]:
        """What the plan, every run.json, bench.json and summary.json say of it."""
        return {"name": self.name, "spec_sha": self.spec_sha, "dir": str(self.spec.directory), "budget_ms": self.spec.budget_ms,
                "routes": [userapp.route_dict(r) for r in self.spec.routes], "skipped": dict(self.skipped)}


@dataclass(frozen=True)
class Plan:
    """The runs in the order they run, the shuffle's seed, and what they should take."""

    runs: list[Run]
    seed: int
    estimate_s: float
    #: a user's app's record (App.record); None for the built-in app
    app: dict[str, Any] | None = None
    #: the thresholds the report will judge: {"file": its absolute path, "count", "given": thresholds=FILE or
    #: the app's}; None without
    thresholds: dict[str, Any] | None = None

    def lines(self) -> list[str]:
        """One line per run, then the total: what the role shows before any host changes."""
        count = f"{len(self.runs)} run" + ("" if len(self.runs) == 1 else "s")
        total = f"{count}, about {round(self.estimate_s / 60, 1)} min, seed {self.seed}"
        return [describe(run) for run in self.runs] + app_lines(self.app) + thresholds_lines(self.thresholds) + [total]


def thresholds_lines(found: Mapping[str, Any] | None) -> list[str]:
    """The plan's line on its thresholds: the file and how many, judged after the report."""
    if found is None:
        return []
    count = found["count"]
    return [f"thresholds {found['file']} ({found['given']}): {count} threshold{'s' if count != 1 else ''},"
            " judged once the report is written"]


def app_lines(app: Mapping[str, Any] | None) -> list[str]:
    """The plan's lines on a user's app: which it is, its budget, and the modes that cannot serve it."""
    if app is None:
        return []
    lines = [f"app {app['name']} (spec {app['spec_sha']}): routes {', '.join(r['name'] for r in app['routes'])};"
             f" budget {app['budget_ms']:g} ms"]
    if app["skipped"]:
        lines.append("not run (cannot serve it): " + "; ".join(f"{m}: {why}" for m, why in app["skipped"].items()))
    return lines


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


def mode_names(mode: Given, modes: Modes, app: App | None = None) -> list[str]:
    """all: every mode; gevent: the gevent modes the table expects to work, but the /db ones, which
    measure the database (psycopg2 serially, by design): the ones to sweep; else a comma list of names.
    With a user's app, only the modes that serve it: a group keeps those, a named one that cannot is an
    error giving its reason."""
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
    return names if app is None else serving(mode, names, app)


def serving(mode: Given, names: list[str], app: App) -> list[str]:
    """The modes of `names` that serve the app: all of them for a list of names, else an error naming the
    first that cannot and why; a group's (all, gevent) that can."""
    can = [name for name in names if name in app.served]
    grouped = text(mode) in ("all", "gevent")
    cannot = next((name for name in names if name not in app.served), None)
    if cannot is not None and not grouped:
        raise PlanError(f"mode={mode}: {cannot} cannot serve {app.name}: {app.skipped.get(cannot, 'not deployed')};"
                        f" the modes that can: {', '.join(app.served)}")
    if not can:
        raise PlanError(f"mode={mode}: none of these modes can serve {app.name}; the modes that can:"
                        f" {', '.join(app.served) or '(none)'}")
    return can


def load_app(given: Given) -> App | None:
    """app=DIR's description, checked whole (flaskbench.appspec: its errors as they are); None without app."""
    if text(given) == "":
        return None
    try:
        spec = appspec.load(Path(text(given)).expanduser())
    except appspec.AppSpecError as err:
        raise PlanError(str(err)) from None
    served, skipped = userapp.modes_for(spec)
    return App(spec=spec, spec_sha=userapp.spec_digest(spec), served=served, skipped=skipped)


def load_thresholds(given: Given, app: App | None) -> tuple[Path, str, list[limits.Threshold]] | None:
    """thresholds=FILE's thresholds, else the app's own (flaskbench-app.yml's `thresholds:`), read and checked
    alone (benchreport.thresholds: its errors as they are, each naming the file and the entry); None without."""
    if text(given) != "":
        path, how = Path(text(given)).expanduser(), "thresholds="
    elif app is not None and app.spec.thresholds is not None:
        path, how = app.spec.thresholds, f"{app.name}'s flaskbench-app.yml"
    else:
        return None
    if not path.is_file():
        raise PlanError(f"thresholds={given}: no such file (a YAML list of thresholds: docs/thresholds.md)")
    try:
        return path.resolve(), how, limits.load(path)
    except limits.ThresholdsError as err:
        raise PlanError(*err.messages) from None


def check_thresholds(found: tuple[Path, str, list[limits.Threshold]] | None, points: list[Run]) -> dict | None:
    """The thresholds against the planned points (benchreport.thresholds.check_scope): what the plan records."""
    if found is None:
        return None
    path, how, read = found
    try:
        limits.check_scope(read, [limits.Planned.of(point) for point in points], str(path))
    except limits.ThresholdsError as err:
        raise PlanError(*err.messages) from None
    return {"file": str(path), "count": len(read), "given": how}


def app_routes(route: Given, app: App, clients_asked: list[str]) -> list[str]:
    """The routes to bench, each a point: every route of the app (route left out), or the names given;
    mix: the weighted mix, which only clients choosing each request's route can send (not ab)."""
    names = comma_list(route) or app.route_names()
    valid = app.route_names()
    unknown = [name for name in names if name not in valid and name != MIX]
    if unknown:
        raise PlanError(f"route={route}: {app.name} has no route {', '.join(unknown)}; its routes:"
                        f" {', '.join(valid)}, or {MIX} (their weighted mix)")
    one_shape = [name for name in clients_asked if not registry.get(name).mixes]
    if MIX in names and one_shape:
        raise PlanError(f"route={route}: {' and '.join(one_shape)} sends one request shape, not the weighted mix:"
                        " use client=wrk or client=rate for the mix, or name routes (one point each)")
    return list(dict.fromkeys(names))


def check_delay(p: Params, app: App | None) -> None:
    """A user's app calls no slow API of ours: there is no delay to set."""
    if app is not None and text(p.delay) != "":
        raise PlanError(f"delay={p.delay}: {app.name} is your own app, which has no slow-API delay;"
                        " leave delay out (its latency budget is budget_ms)")


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
    #: a user's app (None: the built-in app) and its routes to bench, a point each (a name, or MIX)
    app: App | None = None
    routes: list[str] | None = None


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
    tags = asked.app.folder_tags() if asked.app is not None else {}
    for name in asked.modes:
        m = modes[name]
        bench = APP_BENCH if asked.app is not None else m["bench"]
        cs = lists.c or [bench["c"]]
        # a user's app has no delay: None, and its runs are sized by its budget (benchhost.search.latency_s)
        delays = lists.delay or [None if asked.app is not None else m["bench"]["delay"]]
        for profile in asked.profiles:
            for route in asked.routes or [None]:
                base = base_run(p, s, name, profile, m, limit, watch)
                if asked.budget_ms is not None:  # the knee's budget (benchreport.knee), every rate run's
                    base["budget_ms"] = asked.budget_ms
                if asked.app is not None and route is not None:
                    base.update(app_run(asked.app, route))
                tag = f"-{tags[route]}" if route is not None else ""
                for client in asked.clients:
                    if registry.get(client).by_rate and asked.search is not None:
                        points += search_points(base, s, client, asked, delays, duration, len(loadgens), tag)
                    elif registry.get(client).by_rate:
                        points += rate_points(base, s, client, lists.rate or [], delays, duration, len(loadgens), tag)
                    else:
                        points += load_points(base, s, client, cs, delays, lists, bench, tag)
    return points


def app_run(app: App, route: str) -> Run:
    """What a user's app's run adds: its route (the report's row: the route's name, or mix), the path of its
    URL, the requests its client sends (benchhost.routes) and the app's record."""
    requests = app.requests(route)
    return {"route": route, "path": requests[0]["path"], "requests": requests, "app": app.record()}


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
                hosts: int, tag: str = "") -> list[Run]:
    """client=rate: n = rate x duration; c, the connections the schedule may open, rate x (headroom x
    delay + 1 s), at least one per load host (a user's app: its budget for the delay)."""
    points = []
    for delay in delays:
        for rate in rates:
            r = float(rate)
            name = (f"{base['mode']}-{base['profile']}-{client}{rate}{tag}"
                    + (f"-d{delay}" if len(delays) > 1 else ""))
            n, c = search.rate_size(r, duration, search.latency_s({**base, "delay": delay}), float(s.rate_headroom),
                                    hosts)
            points.append({**base, "client": client, "name": name, "rate": r, "duration": duration,
                           "n": n, "c": c, "delay": delay})
    return points


def search_points(base: Run, s: Settings, client: str, asked: Asked, delays: list[Any], duration: float,
                  hosts: int, tag: str = "") -> list[Run]:
    """rate=auto: per delay, `steps` slots of one knee search (benchhost.search), each sized for the first
    rate; the app runner decides each step's rate from the steps before, and skips the slots it does not need."""
    found = asked.search or {}
    start, steps = found["start_rate"], int(found["steps"])
    points = []
    for delay in delays:
        budget = search.budget_ms(None if delay is None else float(delay), asked.budget_ms)
        if not budget:
            raise PlanError(f"rate=auto: delay={delay} gives no latency budget (1.5 x delay): give budget_ms=MS")
        group = f"{base['mode']}-{base['profile']}-auto{tag}" + (f"-d{delay}" if len(delays) > 1 else "")
        latency = search.latency_s({**base, "delay": delay})
        each = float(s.rate_headroom) * latency + 1
        most = max(hosts, 1) * min(float(s.rate_max_per_host), int(s.rate_max_connections) / each)
        spec = {"group": group, "start": start, "precision": found["precision"], "budget_ms": budget, "steps": steps,
                "headroom": float(s.rate_headroom), "max_rate": round(most, 1)}
        n, c = search.rate_size(start, duration, latency, float(s.rate_headroom), hosts)
        points += [{**base, "client": client, "name": f"{group}-s{k}", "rate": start, "duration": duration,
                    "n": n, "c": c, "delay": delay, "search": {**spec, "step": k}} for k in range(1, steps + 1)]
    return points


def load_points(base: Run, s: Settings, client: str, cs: list[int], delays: list[Any], lists: Lists,
                bench: Mapping[str, Any], tag: str = "") -> list[Run]:
    """ab or wrk: a point per c, delay and n (bench: the mode table's n when neither n nor c is given, or
    a user's app's APP_BENCH); the folder's name says what the sweep varies, and the route (tag) of a user's app."""
    points = []
    for c in cs:
        rounds = s.auto_rounds.get(client, registry.get(client).auto_rounds)
        ns = lists.n or ([bench["n"]] if lists.c is None else [int(rounds) * c])
        for delay in delays:
            for n in ns:
                name = (f"{base['mode']}-{base['profile']}" + (f"-{client}" if registry.get(client).in_names else "")
                        + tag + (f"-c{c}" if len(cs) > 1 else "") + (f"-d{delay}" if len(delays) > 1 else "")
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
            load = r["duration"] + search.latency_s(r)
        else:
            load = (float(math.ceil(r["n"] / r["c"])) + 1) * search.latency_s(r)
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
    one by one (a user's app's description first: the modes depend on it; the thresholds file last), then
    the thresholds against the points, the points, the estimate,
    the control port, the inventory, the split. A check of
    every point or run names each one it refuses, a line each.
    """
    app = load_app(p.app)
    asked = Asked(modes=mode_names(p.mode, modes, app), profiles=profiles(p.profile), clients=clients(p.client),
                  lists=read_lists(p), app=app)
    check_delay(p, app)
    time_limit(p.time_limit)
    max_minutes(p.max_minutes)
    monitor(p.monitor)
    repeats = repeat(p.repeat)
    given_budget = float(text(p.budget_ms)) if text(p.budget_ms) else None
    asked = dataclasses.replace(asked, search=search_settings(p, asked.lists, repeats),
                                budget_ms=given_budget if app is None or given_budget else app.spec.budget_ms,
                                routes=app_routes(p.route, app, asked.clients) if app is not None else None)
    given_seed = seed(p.seed)
    seed_used = new_seed() if given_seed is None else given_seed
    found = load_thresholds(p.thresholds, app)
    points = plan_points(p, s, modes, asked, loadgens)
    held = check_thresholds(found, points)
    check_c_and_n(points, s)
    runs = in_rounds(points, repeats, seed_used)
    total_s = estimate_s(runs, s)
    check_estimate(runs, total_s, p.max_minutes)
    check_control_port(s.control_port, modes)
    check_inventory(loadgens, apps)
    runs = split_over(runs, loadgens)
    check_connections(runs, loadgens)
    check_rates(runs, s, loadgens)
    return Plan(runs=runs, seed=seed_used, estimate_s=total_s, app=app.record() if app is not None else None,
                thresholds=held)
