"""A user's own Flask app, as its flaskbench-app.yml describes it (docs/your-app.md).

    python -m flaskbench.appspec DIR    # validate DIR/flaskbench-app.yml: a summary (exit 0) or the error (exit 2)

`load(DIR)` reads and checks the whole file before anything touches a host: every
problem is an AppSpecError naming the file, the field (`routes[2].expect`) and the
bad value with what is allowed. That includes the app's requirements against the
packages the servers run with (app/requirements.txt): a requirement that excludes
a pinned version would either fail to install or replace the servers' package;
and its thresholds file, read as the bench reads it (benchreport.thresholds; the
bench checks it against its plan too).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchreport import thresholds as limits
from flaskbench import reqfiles as reqs

FILENAME = "flaskbench-app.yml"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
REQUIRED = ("name", "wsgi", "requirements", "routes", "health", "budget_ms")
OPTIONAL = ("asgi", "env", "thresholds")
ROUTE_KEYS = ("path", "method", "headers", "body", "expect", "name", "weight")
# The name becomes part of directories and unit names on the app host.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What the deploy puts in place of ${...} in an env value: the local hosts' services,
# which the inventory knows and the app's author does not (docs/your-app.md).
PLACEHOLDERS = {
    "flaskbench_postgres": "user:password@host:port/database of the hosts' PostgreSQL",
    "flaskbench_slow_api": "host:port of the hosts' slow API",
}
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# RFC 9110's token: the characters a header name may have.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class AppSpecError(ValueError):
    """The description is wrong; the message names the file, the field and what is allowed."""


@dataclass(frozen=True)
class Target:
    """`module.path:attr`, or `module.path:factory()` when the app comes from a factory."""

    module: str
    attr: str
    factory: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.attr}{'()' if self.factory else ''}"


@dataclass(frozen=True)
class Route:
    path: str
    name: str  # "GET /path" unless given: a route's row in the report
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    expect: int = 200
    weight: float = 1.0  # its share of a mix (wrk, rate): weight / sum of weights


@dataclass(frozen=True)
class AppSpec:
    directory: Path
    name: str
    wsgi: Target
    requirements: Path  # inside directory
    routes: tuple[Route, ...]
    health: str
    budget_ms: float  # the knee: the highest rate whose p99 stays within it
    asgi: Target | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: the bench's thresholds (bench.yml holds a bench of the app to them unless -e thresholds= says
    #: otherwise); inside directory
    thresholds: Path | None = None

    @property
    def file(self) -> Path:
        return self.directory / FILENAME


class _Checker:
    """The checks, each raising an AppSpecError that starts with the file's path."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, where: str, problem: str) -> AppSpecError:
        return AppSpecError(f"{self.file}: {where}: {problem}" if where else f"{self.file}: {problem}")

    def keys(self, where: str, data: object, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        if not isinstance(data, dict):
            raise self.fail(where, f"{data!r} is not a mapping")
        unknown = [str(k) for k in data if k not in required + optional]
        if unknown:
            raise self.fail(where, f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                                   f"allowed: {', '.join(required + optional)}")
        missing = [k for k in required if k not in data]
        if missing:
            raise self.fail(where, f"missing {', '.join(missing)}")
        return data

    def string(self, where: str, value: object) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"{value!r} is not a string (quote it in YAML)" if value != ""
                            else "is empty")
        return value

    def number(self, where: str, value: object) -> float:
        # bool is an int to Python, never a number to a person
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise self.fail(where, f"{value!r} is not a positive number")
        return float(value)

    def path(self, where: str, value: object) -> str:
        text = self.string(where, value)
        if not text.startswith("/") or any(c.isspace() for c in text):
            raise self.fail(where, f"{text!r} is not a URL path: it starts with / and has no spaces")
        return text

    def target(self, where: str, value: object) -> Target:
        text = self.string(where, value)
        module, sep, attr = text.partition(":")
        factory = attr.endswith("()")
        attr = attr.removesuffix("()")
        if not sep or not all(p.isidentifier() for p in [*module.split("."), attr]):
            raise self.fail(where, f"{text!r} is not module.path:attr or module.path:factory() "
                                   f"(Python identifiers, no arguments)")
        return Target(module, attr, factory)

    def strings(self, where: str, value: object, name: re.Pattern[str], what: str,
                placeholders: bool = False) -> dict[str, str]:
        """A mapping of names to one-line strings; `placeholders` (env only, the values the deploy fills):
        each ${...} must be one of PLACEHOLDERS."""
        if not isinstance(value, dict):
            raise self.fail(where, f"{value!r} is not a mapping of {what}s to strings")
        for key, item in value.items():
            if not isinstance(key, str) or not name.fullmatch(key):
                raise self.fail(where, f"{key!r} is not a valid {what}")
            if not isinstance(item, str):
                raise self.fail(f"{where}.{key}", f"{item!r} is not a string (quote it in YAML)")
            if "\n" in item or "\0" in item:
                raise self.fail(f"{where}.{key}", f"{item!r} has a newline or NUL")
            for found in PLACEHOLDER.findall(item) if placeholders else ():
                if found not in PLACEHOLDERS:
                    raise self.fail(f"{where}.{key}", f"${{{found}}} is not a placeholder the deploy fills; "
                                                      f"valid: {', '.join('${%s}' % p for p in PLACEHOLDERS)}")
        return dict(value)

    def inside(self, where: str, directory: Path, value: object) -> Path:
        """A file of the app's directory: a relative path that stays inside it (no .., no symlink out)."""
        text = self.string(where, value)
        path = (directory / text).resolve()
        if not path.is_relative_to(directory.resolve()):
            raise self.fail(where, f"{text!r} is outside the app directory {directory}")
        if not path.is_file():
            raise self.fail(where, f"{text!r}: no such file in {directory}")
        return path

    def requirements(self, directory: Path, value: object) -> Path:
        return self.inside("requirements", directory, value)

    def thresholds(self, directory: Path, value: object) -> Path:
        """The thresholds file, read as the bench reads it (benchreport.thresholds: its errors as they are)."""
        path = self.inside("thresholds", directory, value)
        try:
            limits.load(path)
        except limits.ThresholdsError as err:
            raise self.fail("thresholds", str(err)) from None
        return path

    def route(self, where: str, data: object) -> Route:
        data = self.keys(where, data, ("path",), ROUTE_KEYS[1:])
        path = self.path(f"{where}.path", data["path"])
        method = data.get("method", "GET")
        if method not in METHODS:
            raise self.fail(f"{where}.method", f"{method!r} is not one of {', '.join(METHODS)}")
        expect = data.get("expect", 200)
        if isinstance(expect, bool) or not isinstance(expect, int) or not 100 <= expect <= 599:
            raise self.fail(f"{where}.expect", f"{expect!r} is not an HTTP status: an integer from 100 to 599")
        return Route(
            path=path,
            name=self.string(f"{where}.name", data["name"]) if "name" in data else f"{method} {path}",
            method=method,
            headers=self.strings(f"{where}.headers", data.get("headers", {}), HEADER_NAME, "header name"),
            body=self.string(f"{where}.body", data["body"]) if "body" in data else None,
            expect=expect,
            weight=self.number(f"{where}.weight", data["weight"]) if "weight" in data else 1.0,
        )

    def routes(self, value: object) -> tuple[Route, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("routes", f"{value!r} is not a non-empty list of routes")
        routes = tuple(self.route(f"routes[{i}]", r) for i, r in enumerate(value))
        seen: set[str] = set()
        for i, route in enumerate(routes):
            if route.name in seen:
                raise self.fail(f"routes[{i}].name", f"{route.name!r} names another route too: "
                                                     f"give each its own name (it is the route's row)")
            seen.add(route.name)
        return routes


def read(file: Path) -> dict[str, Any]:
    """The file's mapping, or an AppSpecError saying why there is none."""
    check = _Checker(file)
    if not file.is_file():
        raise check.fail("", f"no such file (an app directory holds its {FILENAME}: docs/your-app.md)")
    try:
        data = yaml.safe_load(file.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise check.fail("", f"not YAML: {err}") from None
    if not isinstance(data, dict):
        raise check.fail("", f"not a mapping of fields but {type(data).__name__}")
    return data


def load(app_dir: Path | str, pins: dict[str, reqs.Version] | None = None) -> AppSpec:
    """The app's description, checked whole (pins: the servers' packages, app/requirements.txt's by default)."""
    directory = Path(app_dir)
    file = directory / FILENAME
    check = _Checker(file)
    data = check.keys("", read(file), REQUIRED, OPTIONAL)
    name = check.string("name", data["name"])
    if not NAME.fullmatch(name):
        raise check.fail("name", f"{name!r}: letters, digits, '.', '_' and '-', 64 at most, "
                                 f"starting with a letter or digit")
    spec = AppSpec(
        directory=directory,
        name=name,
        wsgi=check.target("wsgi", data["wsgi"]),
        asgi=check.target("asgi", data["asgi"]) if "asgi" in data else None,
        requirements=check.requirements(directory, data["requirements"]),
        env=check.strings("env", data.get("env", {}), ENV_NAME, "environment variable name", placeholders=True),
        routes=check.routes(data["routes"]),
        health=check.path("health", data["health"]),
        budget_ms=check.number("budget_ms", data["budget_ms"]),
        thresholds=check.thresholds(directory, data["thresholds"]) if "thresholds" in data else None,
    )
    try:
        reqs.check_against(spec.requirements, reqs.server_pins() if pins is None else pins, directory)
    except reqs.RequirementsError as err:
        raise check.fail("requirements", str(err)) from None
    return spec


def summary(spec: AppSpec) -> list[str]:
    """What the CLI prints for a valid description."""
    lines = [f"{spec.name}: {spec.file} is valid",
             f"  wsgi: {spec.wsgi}" + (" (a factory)" if spec.wsgi.factory else ""),
             f"  requirements: {spec.requirements.relative_to(spec.directory.resolve())}, "
             f"none conflicting with the servers' pinned packages"]
    if spec.asgi:
        lines.append(f"  asgi: {spec.asgi}")
    if spec.env:
        lines.append(f"  env: {', '.join(spec.env)}")
    total = sum(r.weight for r in spec.routes)
    lines.append(f"  routes: {len(spec.routes)}")
    for r in spec.routes:
        lines.append(f"    {r.name}: {r.method} {r.path} -> {r.expect}, {100 * r.weight / total:.0f}% of a mix")
    lines.append(f"  health: {spec.health}; budget: p99 within {spec.budget_ms:g} ms")
    if spec.thresholds:
        count = len(limits.load(spec.thresholds))
        lines.append(f"  thresholds: {spec.thresholds.relative_to(spec.directory.resolve())}, {count} "
                     f"threshold{'s' if count != 1 else ''} the bench holds it to")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flaskbench.appspec", description=__doc__.split("\n")[0])
    parser.add_argument("app_dir", type=Path, help=f"the app's directory, holding its {FILENAME}")
    args = parser.parse_args(argv)
    try:
        spec = load(args.app_dir)
    except AppSpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(summary(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
