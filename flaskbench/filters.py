"""The project's Jinja filters (plugins/filter/ loads them from here).

Shared by every role: how one host reaches another, and the open-files cap (one
implementation each, instead of an expression per role). The bench role's:
flaskbench_plan, the door into flaskbench.plan.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ansible.errors import AnsibleFilterError

from flaskbench import plan as planner
from flaskbench import userapp
from flaskbench.appspec import AppSpecError

LOOPBACK = "127.0.0.1"


def flaskbench_address(host: str, hostvars: Mapping[str, Any]) -> str:
    """Where other hosts reach `host`: its flaskbench_address, else its ansible_host, else its name.

    molecule's podman connection makes ansible_host a container name, so a
    scenario sets flaskbench_address; real inventories usually need neither.
    """
    hv = hostvars[host]
    for key in ("flaskbench_address", "ansible_host"):
        if key in hv and hv[key]:
            return str(hv[key])
    return str(host)


def flaskbench_peer(group_hosts: list[str] | None, hostvars: Mapping[str, Any], me: str) -> str:
    """The address `me` uses for the first host of a group: loopback when it is `me` (or the group is empty)."""
    peer = (list(group_hosts or []) or [me])[0]
    return LOOPBACK if peer == me else flaskbench_address(peer, hostvars)


_NOFILE = re.compile(r"^Max open files\s+\S+\s+(\S+)", re.MULTILINE)


def flaskbench_nofile(limits: str, wanted: int) -> int:
    """`wanted` open files, capped at the hard limit in a /proc/<pid>/limits text.

    systemd cannot give a unit more than it holds itself (less inside containers).
    """
    match = _NOFILE.search(limits)
    if not match:
        raise ValueError("no 'Max open files' line in the limits given")
    hard = match.group(1)
    return int(wanted) if hard == "unlimited" else min(int(wanted), int(hard))


def flaskbench_plan(modes: Mapping[str, Any], params: Mapping[str, Any], settings: Mapping[str, Any],
                    loadgens: Sequence[str], apps: Sequence[str]) -> dict[str, Any]:
    """modes | flaskbench_plan(params, settings, loadgens, apps): {error, runs, seed, estimate_s, lines, app,
    thresholds}.

    params: bench.yml's parameters (flaskbench.plan.Params' fields); settings: the role's bench_<field>
    (flaskbench.plan.Settings'); loadgens and apps: the inventory's groups. error is None, or the
    refusal (the rest then empty); app: a user's app's record (flaskbench.plan.App.record) or None;
    thresholds: {file, count, given} (flaskbench.plan.Plan.thresholds) or None.
    """
    try:
        p, s = planner.Params(**params), planner.Settings(**settings)
    except TypeError as err:  # the role's call and the module disagree: a bug, not a user's mistake
        raise AnsibleFilterError(f"flaskbench_plan: {err}") from err
    try:
        made = planner.plan(p, s, modes, list(loadgens), list(apps))
    except planner.PlanError as err:
        return {"error": str(err), "runs": [], "seed": None, "estimate_s": None, "lines": [], "app": None,
                "thresholds": None}
    return {"error": None, "runs": made.runs, "seed": made.seed, "estimate_s": made.estimate_s,
            "lines": made.lines(), "app": made.app, "thresholds": made.thresholds}


def flaskbench_app(app_dir: str) -> dict[str, Any]:
    """app_dir | flaskbench_app: the user's app of app_dir/flaskbench-app.yml as site.yml deploys it
    (flaskbench.userapp.deployment); its description's first error fails the task."""
    try:
        return userapp.deployment(str(app_dir))
    except AppSpecError as err:
        raise AnsibleFilterError(f"app={app_dir}: {err}") from None


def flaskbench_app_env(env: Mapping[str, str], fill: Mapping[str, str]) -> dict[str, str]:
    """env | flaskbench_app_env(fill): the app's environment, its ${placeholders} filled."""
    try:
        return userapp.fill_env({str(k): str(v) for k, v in env.items()}, {str(k): str(v) for k, v in fill.items()})
    except ValueError as err:
        raise AnsibleFilterError(str(err)) from None


#: Every filter, by name (plugins/filter/flaskbench.py).
FILTERS = {
    "flaskbench_address": flaskbench_address,
    "flaskbench_peer": flaskbench_peer,
    "flaskbench_nofile": flaskbench_nofile,
    "flaskbench_plan": flaskbench_plan,
    "flaskbench_app": flaskbench_app,
    "flaskbench_app_env": flaskbench_app_env,
}
