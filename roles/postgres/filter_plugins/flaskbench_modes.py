"""Jinja filters over the mode table (app/benchapp/modes.yml) for the roles.

The table writes process counts as integers or as "cores" / "N*cores" (see
benchapp.modes.resolve_count); the postgres role needs the largest count any
mode may run on a host to size max_connections, so it resolves them the same
way here, on the controller, without importing the app.
"""

from __future__ import annotations

import re
from typing import Any

_CORES_EXPR = re.compile(r"^(?:(\d+)\s*\*\s*)?cores$")


def resolve_count(value: Any, cores: int) -> int:
    """An integer, or "cores" / "N*cores" resolved with `cores`."""
    if isinstance(value, str):
        match = _CORES_EXPR.match(value.strip())
        if not match:
            raise ValueError(f"not a process count: {value!r}")
        return int(match.group(1) or 1) * int(cores)
    return int(value)


def max_workers(table: dict[str, Any], cores: int) -> int:
    """The most worker processes any mode and profile of `table` runs on `cores` CPUs.

    `table` is the parsed modes.yml (with its `modes` key) or its `modes` mapping.
    A mode without a `workers` option runs one process.
    """
    modes = table.get("modes", table)
    counts = [
        resolve_count(options.get("workers", 1), cores)
        for mode in modes.values()
        for options in mode.get("profiles", {}).values()
    ]
    return max(counts, default=1)


class FilterModule:
    """flaskbench mode table filters."""

    def filters(self) -> dict[str, Any]:
        return {"flaskbench_max_workers": max_workers}
