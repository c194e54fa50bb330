"""The mode table (modes.yml) as Python objects.

modes.yml is the single source of truth; this module only loads and checks it,
so a bad entry fails at load time with the mode's name instead of half-way
through a server start or a bench run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchapp.config import UPSTREAMS

# FLASKBENCH_MODES_FILE points everything that reads the table (the app's
# launcher, flaskbench-mode, the roles' lookup, benchreport) at another copy:
# the tests use it to show a new entry reaches every consumer.
MODES_FILE = Path(os.environ.get("FLASKBENCH_MODES_FILE") or Path(__file__).with_name("modes.yml"))
PROFILES = ("seed", "tuned")
SERVERS = ("devserver", "uwsgi", "gunicorn", "pywsgi", "granian", "waitress", "uvicorn")
PATCHES = ("none", "gevent", "gevent+psycogreen", "gevent+grpc")
FRONTS = ("none", "nginx")
PROTOCOLS = ("http", "uwsgi")
CONCURRENCY = ("serial", "overlap")
# What an `expect`ed mode's route does instead of answering (checked by the
# tests and by flask_app's check_mode): `hang` = no answer at all within a
# client timeout, while /healthz answered before the route was asked.
# Another outcome needs both checks taught first.
OUTCOMES = ("hang",)
# upstream: benchapp.config's (the app's setting); gevent (geventhttpclient) needs gevent's patching.
# The report's groups of modes (Mode.group), in the report's order: derived
# from server and patch, so a new mode falls in one without a second edit.
# gevent: the entry monkey-patches with gevent (any server); peers: an
# unpatched mode on a server a Flask user picks instead of gevent
# (PEER_SERVERS); threads and processes: the rest (the dev server, uWSGI and
# Gunicorn with worker processes and threads, nginx in front of them).
GROUPS = ("gevent", "peers", "threads and processes")
PEER_SERVERS = ("granian", "waitress", "uvicorn")
# gevent.config.loop values (GEVENT_LOOP): the C libev loop, gevent's default
# on Linux, or libuv.
LOOPS = {"libev": "libev-cext", "libuv": "libuv"}

# Profile options that are process, thread or connection counts.
COUNT_OPTIONS = {"workers", "grpc_channels", "threads", "gevent", "worker_connections", "listen",
                 "blocking_threads", "backpressure", "connection_limit"}
# uvicorn-asgiref: the thread WsgiToAsgi runs the app on (benchapp.flask_asgi).
ASGI_THREADS = ("process", "request")

_CORES_EXPR = re.compile(r"^(?:(\d+)\s*\*\s*)?cores$")


class ModeTableError(ValueError):
    """The mode table is malformed; the message names the mode and field."""


def usable_cores() -> int:
    """CPUs this process may run on (what a server can really use)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_count(value: Any, cores: int) -> Any:
    """Turn "cores" / "N*cores" into an integer; leave other values alone."""
    if isinstance(value, str):
        match = _CORES_EXPR.match(value.strip())
        if match:
            return int(match.group(1) or 1) * cores
    return value


@dataclass(frozen=True)
class Mode:
    """One way of serving the app, with its two profiles."""

    name: str
    title: str
    server: str
    entry: str
    patch: str
    front: str
    protocol: str
    port: int
    route: str
    bench: dict[str, float]
    # serial, overlap or a count (at most that many at once); None only for
    # an `expect`ed mode; a {seed, tuned} mapping where the profiles differ
    # (concurrency_in gives one profile's)
    concurrency: str | int | dict[str, str | int] | None
    seed_rps: float | None
    profiles: dict[str, dict[str, Any]]
    backend_port: int | None = None
    loop: str | None = None
    expect: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expected_to_fail(self) -> bool:
        """True when the table says the mode's route does not answer (expect)."""
        return self.expect is not None

    @property
    def unit(self) -> str:
        """The systemd unit that runs this mode (one per mode, mutually conflicting)."""
        return f"flask-{self.name}.service"

    @property
    def database(self) -> bool:
        """True when the mode's route spends its time in PostgreSQL too (/db)."""
        return self.route == "/db"

    @property
    def gevent(self) -> bool:
        """True when the entry point monkey-patches with gevent."""
        return self.patch != "none"

    @property
    def group(self) -> str:
        """The report's group (one of GROUPS): gevent when the entry patches, peers for an unpatched
        peer server (PEER_SERVERS), else threads and processes."""
        if self.gevent:
            return "gevent"
        return "peers" if self.server in PEER_SERVERS else "threads and processes"

    @property
    def listen_port(self) -> int:
        """The port the server itself binds (behind nginx: the backend port)."""
        return self.backend_port if self.front == "nginx" else self.port

    @property
    def listen_host(self) -> str:
        """Behind nginx the server is reachable on loopback only."""
        return "127.0.0.1" if self.front == "nginx" else "0.0.0.0"

    def for_user_app(self, asgi: bool = False) -> tuple[str | None, str | None]:
        """(entry, None) when this mode can serve a user's app, the entry that imports it;
        (None, why) when it cannot. `asgi`: the app names an ASGI target too."""
        if self.expect is not None:
            return None, f"a demonstration of the built-in app failing ({self.expect['outcome']})"
        if self.patch not in ("none", "gevent"):
            return None, BUILT_IN_PATCHES.get(self.patch, f"patches for the built-in app ({self.patch})")
        if self.route != "/":
            return None, "benches " + BUILT_IN_ROUTES.get(self.route, f"the built-in app's {self.route} route")
        entry = USER_ENTRIES.get(self.entry)
        if entry is None:
            return None, f"its entry {self.entry} is the built-in app's alone"
        if entry == "benchapp.user_asgi" and not asgi:
            return None, f"serves an ASGI app ({self.title}); give `asgi:` in flaskbench-app.yml to bench yours here"
        return entry, None

    def concurrency_in(self, profile: str) -> str | int | None:
        """What concurrent slow requests do under `profile` (serial or overlap)."""
        return self.concurrency.get(profile) if isinstance(self.concurrency, dict) else self.concurrency

    def options(self, profile: str, cores: int | None = None) -> dict[str, Any]:
        """The profile's options with core-count expressions resolved."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
        n = usable_cores() if cores is None else cores
        return {k: resolve_count(v, n) for k, v in self.profiles[profile].items()}


# A user's app (flaskbench-app.yml, deployed with site.yml -e app=DIR) is
# served by the modes whose entry has a user-app twin here: the same server,
# flags and patching, the user's target instead of benchapp's. The rest are
# skipped with their reason (for_user_app).
USER_ENTRIES = {
    "benchapp.wsgi": "benchapp.user_wsgi",
    "benchapp.patched": "benchapp.user_patched",
    "benchapp.flask_asgi": "benchapp.user_asgiref",
    "benchapp.quart_asgi": "benchapp.user_asgi",  # the app's own ASGI target (`asgi:`)
}
#: Why a mode whose entry patches more than gevent is the built-in app's alone.
BUILT_IN_PATCHES = {
    "gevent+psycogreen": "psycogreen against the built-in app's own database (/db)",
    "gevent+grpc": "gRPC's gevent hook for the built-in app's /grpc route",
}
#: Why a mode with another route is the built-in app's alone.
BUILT_IN_ROUTES = {
    "/db": "PostgreSQL from the built-in app's /db route",
    "/async": "the built-in app's async views (/async)",
    "/grpc": "gRPC to the slow API from the built-in app's /grpc route",
}


def _check_expect(name: str, raw: Any) -> dict[str, str] | None:
    """`expect: {outcome, why}`: the mode's route is known not to answer."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"outcome", "why"}:
        raise ModeTableError(f"mode {name}: expect needs exactly outcome and why, got {raw!r}")
    if raw["outcome"] not in OUTCOMES:
        raise ModeTableError(f"mode {name}: expect outcome={raw['outcome']!r}, expected one of {OUTCOMES}")
    if not isinstance(raw["why"], str) or not raw["why"].strip():
        raise ModeTableError(f"mode {name}: expect needs a why (what goes wrong, and the evidence)")
    return {"outcome": raw["outcome"], "why": " ".join(raw["why"].split())}


def _check(name: str, raw: dict[str, Any], defaults: dict[str, Any]) -> Mode:
    def choice(key: str, allowed: tuple[str, ...]) -> str:
        value = raw.get(key)
        if value not in allowed:
            raise ModeTableError(f"mode {name}: {key}={value!r}, expected one of {allowed}")
        return value

    server = choice("server", SERVERS)
    front = choice("front", FRONTS)
    protocol = choice("protocol", PROTOCOLS)
    if protocol == "uwsgi" and (server != "uwsgi" or front != "nginx"):
        raise ModeTableError(f"mode {name}: the uwsgi protocol needs server uwsgi behind nginx")
    backend_port = raw.get("backend_port")
    if front == "nginx" and not backend_port:
        backend_port = defaults.get("backend_port")
        if not backend_port:
            raise ModeTableError(f"mode {name}: front nginx needs backend_port")
    patch = choice("patch", PATCHES)
    profiles = raw.get("profiles") or {}
    if set(profiles) != set(PROFILES):
        raise ModeTableError(f"mode {name}: profiles must be exactly {PROFILES}")
    for pname, opts in profiles.items():
        for key in COUNT_OPTIONS & set(opts or {}):
            value = opts[key]
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1
                    or isinstance(value, str) and _CORES_EXPR.match(value.strip())):
                raise ModeTableError(f"mode {name} profile {pname}: {key}={value!r}, expected a count (1 or more), "
                                     f"'cores' or 'N*cores'")
        upstream = (opts or {}).get("upstream")
        if upstream not in UPSTREAMS:
            raise ModeTableError(f"mode {name} profile {pname}: upstream={upstream!r}, expected {UPSTREAMS}")
        if upstream == "gevent" and not patch.startswith("gevent"):
            raise ModeTableError(f"mode {name} profile {pname}: upstream=gevent needs a gevent patch, not {patch!r}")
        if "asgi_thread" in (opts or {}) and (server != "uvicorn" or opts["asgi_thread"] not in ASGI_THREADS):
            raise ModeTableError(f"mode {name} profile {pname}: asgi_thread={opts['asgi_thread']!r} needs server "
                                 f"uvicorn and one of {ASGI_THREADS}")
    if patch == "gevent+grpc" and server != "gunicorn":
        # init_gevent must run in the serving process before any gRPC object:
        # of our servers, only Gunicorn imports the app after its fork.
        raise ModeTableError(f"mode {name}: patch gevent+grpc needs server gunicorn (imports the app after the fork)")
    loop = raw.get("loop", "libev" if patch != "none" else None)
    if patch == "none" and loop is not None:
        raise ModeTableError(f"mode {name}: loop={loop!r} needs a gevent patch")
    if patch != "none" and loop not in LOOPS:
        raise ModeTableError(f"mode {name}: loop={loop!r}, expected one of {tuple(LOOPS)}")
    bench = raw.get("bench") or {}
    if not {"n", "c", "delay"} <= set(bench):
        raise ModeTableError(f"mode {name}: bench needs n, c and delay")
    expect = _check_expect(name, raw.get("expect"))
    if expect is None:
        # One value, or one per profile where they differ; a count N: at most
        # N at once (a pool smaller than the tests' concurrent requests).
        raw_concurrency = raw.get("concurrency")
        values = list(raw_concurrency.values()) if isinstance(raw_concurrency, dict) else [raw_concurrency]
        if (isinstance(raw_concurrency, dict) and set(raw_concurrency) != set(PROFILES)
                or not all(v in CONCURRENCY or isinstance(v, int) and not isinstance(v, bool) and v >= 2
                           for v in values)):
            raise ModeTableError(f"mode {name}: concurrency={raw_concurrency!r}, expected one of {CONCURRENCY} "
                                 f"or a count (2 or more), or one of those for each profile {PROFILES}")
        concurrency: str | int | dict[str, str | int] | None = (
            dict(raw_concurrency) if isinstance(raw_concurrency, dict) else raw_concurrency)
    elif "concurrency" in raw:
        # Requests that never answer neither overlap nor queue: `expect` says what they do.
        raise ModeTableError(f"mode {name}: a mode with expect has no concurrency")
    else:
        concurrency = None
    known = {
        "title", "server", "entry", "patch", "front", "protocol", "port", "route",
        "bench", "concurrency", "seed_rps", "profiles", "backend_port", "loop", "expect",
    }
    return Mode(
        name=name,
        title=str(raw.get("title") or name),
        server=server,
        entry=str(raw["entry"]),
        patch=patch,
        front=front,
        protocol=protocol,
        port=int(raw.get("port") or defaults.get("app_port", 3000)),
        route=str(raw.get("route", "/")),
        bench=dict(bench),
        concurrency=concurrency,
        seed_rps=raw.get("seed_rps"),
        profiles={k: dict(v) for k, v in profiles.items()},
        backend_port=int(backend_port) if backend_port else None,
        loop=loop,
        expect=expect,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def load_modes(path: Path | str = MODES_FILE) -> dict[str, Mode]:
    """Load and check the mode table, keeping its order."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    defaults = data.get("defaults") or {}
    modes = {name: _check(name, raw or {}, defaults) for name, raw in data["modes"].items()}
    # One nginx site serves every nginx mode (the nginx role's backend switch).
    nginx_ports = {m.port for m in modes.values() if m.front == "nginx"}
    if len(nginx_ports) > 1:
        raise ModeTableError(f"the nginx modes must share one port, found {sorted(nginx_ports)}")
    return modes


def get_mode(name: str, modes: dict[str, Mode] | None = None) -> Mode:
    """The mode called `name`, or an error naming the valid modes."""
    table = load_modes() if modes is None else modes
    if name not in table:
        raise ValueError(f"unknown mode {name!r}; valid modes: {', '.join(table)}")
    return table[name]


def markdown_table(modes: dict[str, Mode] | None = None) -> str:
    """docs/modes.md's table of modes, generated so the docs cannot drift."""
    table = load_modes() if modes is None else modes

    def flags(m: Mode, profile: str) -> str:
        return " ".join(f"{k}={v}" for k, v in m.profiles[profile].items())

    rows = ["| mode | server | entry (patching) | port | route | bench n/c/delay | seed profile | tuned profile | seed req/s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for m in table.values():
        b = m.bench
        seed = "" if m.seed_rps is None else f"{m.seed_rps:g}"
        front = f"nginx :{m.port} → {m.protocol} :{m.backend_port}" if m.front == "nginx" else f"{m.port}"
        patch = m.patch if m.loop in (None, "libev") else f"{m.patch}, {m.loop} loop"
        title = f"{m.title} (**expected to fail: {m.expect['outcome']}**)" if m.expect else m.title
        rows.append(f"| `{m.name}` | {title} | `{m.entry}` ({patch}) | {front} | `{m.route}` "
                    f"| {b['n']}/{b['c']}/{b['delay']:g} | {flags(m, 'seed')} | {flags(m, 'tuned')} | {seed} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
