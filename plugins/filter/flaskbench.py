"""Jinja filters shared by every role: how one host reaches another, and the
open-files cap. One implementation each, instead of an expression per role.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

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


class FilterModule:
    """flaskbench filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "flaskbench_address": flaskbench_address,
            "flaskbench_peer": flaskbench_peer,
            "flaskbench_nofile": flaskbench_nofile,
        }
