"""Requirements files: the packages the servers are pinned to, and an app's requirements checked against them.

The app is installed into a venv next to the servers' pinned packages (app/requirements.txt),
so an app's requirement that excludes a pinned version cannot be met without changing
what the servers run with: that is an error naming both, found before any host changes.
Only what the files say is checked; what the app's packages require in turn is pip's to
resolve when it installs them with the pins as constraints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

SERVER_REQUIREMENTS = Path(__file__).resolve().parents[1] / "app" / "requirements.txt"
# A requirement's markers are evaluated for the app hosts: Debian 12's CPython 3.11 on Linux.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
          "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython"}
# pip's per-requirement options after the requirement itself (--hash=..., --config-settings ...)
TRAILING_OPTIONS = re.compile(r"\s+--?[A-Za-z].*$")
# lines pip reads as a local path or a URL, not as a named requirement
LOCATION = re.compile(r"^(\.|/|~|[A-Za-z][\w+.-]*://)")

__all__ = ["RequirementsError", "Version", "check_against", "read", "server_pins"]


class RequirementsError(ValueError):
    """A requirement that cannot be read, or that conflicts with a pinned server package."""


def logical_lines(file: Path) -> Iterator[tuple[int, str]]:
    """The file's lines, each continued one (ending in a backslash) joined to the next, with its first line's number."""
    start, parts = 0, []
    for number, line in enumerate(file.read_text().splitlines(), 1):
        start = start or number
        parts.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            yield start, " ".join(parts)
            start, parts = 0, []
    if parts:
        yield start, " ".join(parts)


def read(file: Path, inside: Path, seen: tuple[Path, ...] = ()) -> Iterator[tuple[str, Requirement]]:
    """Each named requirement as (where: "file line N", requirement), following -r into files under `inside`."""
    if file.resolve() in seen:
        return  # pip would loop; the requirements were read once already
    for number, raw in logical_lines(file):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        where = f"{file.name} line {number}"
        if not line or LOCATION.match(line):
            continue
        if line.startswith("-"):
            option, _, value = line.partition(" ") if " " in line else line.partition("=")
            if option in ("-r", "--requirement"):
                included = (file.parent / value.strip()).resolve()
                if not included.is_relative_to(inside.resolve()) or not included.is_file():
                    raise RequirementsError(f"{where}: {value.strip()!r} is not a file inside {inside}")
                yield from read(included, inside, (*seen, file.resolve()))
            continue  # pip's own options (-c, -e, --index-url...): pip's business
        try:
            yield where, Requirement(TRAILING_OPTIONS.sub("", line))
        except InvalidRequirement as err:
            raise RequirementsError(f"{where}: {line!r} is not a requirement: {err}") from None


def server_pins(file: Path = SERVER_REQUIREMENTS) -> dict[str, Version]:
    """The servers' packages and their exact versions (name==version lines)."""
    pins = {}
    for _, req in read(file, file.parent.parent):
        spec = list(req.specifier)
        if len(spec) == 1 and spec[0].operator == "==":
            pins[canonicalize_name(req.name)] = Version(spec[0].version)
    return pins


def check_against(file: Path, pins: dict[str, Version], inside: Path) -> None:
    """Raise RequirementsError at the first requirement that excludes a pinned server package's version."""
    for where, req in read(file, inside):
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None or (req.marker is not None and not req.marker.evaluate(TARGET)):
            continue
        theirs = f"{canonicalize_name(req.name)}=={pinned}"
        if req.url:
            raise RequirementsError(f"{where}: {req} installs {req.name} from a URL, "
                                    f"but the servers run with {theirs} (app/requirements.txt)")
        if not req.specifier.contains(pinned, prereleases=True):
            raise RequirementsError(f"{where}: {req} excludes {theirs}, which the servers run with "
                                    f"(app/requirements.txt): allow {pinned} or drop the bound")
