"""The bench's run plan made in process (flaskbench.plan), as the bench role makes it: parameters as bench.yml's
`-e name=value` gives them (strings), the mode table the roles see, the settings the role's defaults.

Shared by tests/flaskbench/test_plan.py, tests/ansible/test_bench_params.py and tests/benchhost/test_clients.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flaskbench import plan as planner
from flaskbench.plan import Params, Settings
from rolespecs import lookup_modes, role_defaults

MODES = lookup_modes()
ONE_HOST = ("fake-loadgen",)


def role_settings(**changes: Any) -> Settings:
    """The role's defaults (bench_<field>), with changes as -e bench_<field>=... would make them."""
    defaults = role_defaults("bench")
    fields = {f.name: defaults[f"bench_{f.name}"] for f in dataclasses.fields(Settings)}
    return Settings(**{**fields, **changes})


def params(*given: str) -> Params:
    """bench.yml's parameters from `name=value` strings, as -e passes them."""
    return Params(**dict(p.split("=", 1) for p in given))


def plan_for(*given: str, loadgens: tuple[str, ...] = ONE_HOST, apps: tuple[str, ...] = ("fake-app",),
             settings: Settings | None = None, drawn: int = 12345) -> planner.Plan:
    return planner.plan(params(*given), settings or role_settings(), MODES, list(loadgens), list(apps),
                        new_seed=lambda: drawn)
