"""A run's environment fingerprint: what must match for two runs' figures to sit on one trend line.

Built from environment.json (benchreport.environment): per role (app, loadgen,
upstream), each host's machine (CPU model, cores, cgroup CPU quota, memory,
kernel, OS, architecture, virtualization, Python), the app host's key
packages (environment.PACKAGES) and servers (nginx), the load host's client
version lines (ab, wrk). Hosts are keyed by role, not by name: a renamed host
on the same hardware stays comparable.

Left out on purpose: the host's name, boot_id (changes at every boot),
somaxconn (the project's base role sets it: a code change, which the
commits between two runs explain) and every other package (pip, certifi...:
versions that do not serve a request). Memory is rounded to half a GiB:
MemTotal moves by a few MiB with the kernel's own reservations.

The digest is the first DIGEST_CHARS hex digits of the SHA-256 of the
canonical JSON of `contents`; `describe` says what it holds in a few lines.
A run without a readable environment.json has no fingerprint: nothing says
which machine it ran on, so it is compared with no other run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchreport.environment import PACKAGES, ROLES

DIGEST_CHARS = 8
#: What of each host's description makes its machine (benchhost.env's keys).
HOST_FIELDS = ("cpu_model", "cores", "cpu_quota_cores", "mem_gib", "mem_limit_mib", "kernel", "os", "machine",
               "virtualization", "python")


@dataclass(frozen=True)
class Fingerprint:
    """The short digest and the canonical object it hashes."""

    digest: str
    contents: Mapping[str, Any]

    def describe(self) -> list[str]:
        """One line per role's hosts, then the packages and clients: what the digest stands for."""
        lines = []
        for role, hosts in self.contents["hosts"].items():
            for host in hosts:
                quota = f" (quota {host['cpu_quota_cores']:g})" if host.get("cpu_quota_cores") else ""
                lines.append(f"{role}: {host.get('cpu_model') or '?'}, {host.get('cores') or '?'} cores{quota}, "
                             f"{host.get('mem_gib') if host.get('mem_gib') is not None else '?'} GiB, "
                             f"kernel {host.get('kernel') or '?'}, {host.get('os') or '?'}, "
                             f"{host.get('virtualization') or 'bare metal'}, Python {host.get('python') or '?'}")
        packages = self.contents["packages"]
        if packages:
            lines.append("packages: " + ", ".join(f"{k} {v}" for k, v in packages.items()))
        for name, line in self.contents["clients"].items():
            lines.append(f"{name}: {line}")
        return lines


def _host(host: Mapping[str, Any]) -> dict[str, Any]:
    mib = host.get("mem_total_mib")
    mem = round(mib / 1024 * 2) / 2 if isinstance(mib, (int, float)) and not isinstance(mib, bool) else None
    described = {**host, "mem_gib": mem}
    return {key: described.get(key) for key in HOST_FIELDS}


def contents(env: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical object: {"hosts": {role: [machine, ...]}, "packages": {...}, "clients": {...}}."""
    hosts = env.get("hosts") if isinstance(env.get("hosts"), Mapping) else {}
    by_role: dict[str, list[dict[str, Any]]] = {}
    packages: dict[str, str] = {}
    client_lines: dict[str, str] = {}
    for _, host in sorted(hosts.items()):
        roles = host.get("roles") if isinstance(host, Mapping) else None
        if not isinstance(roles, list):
            continue  # not a host benchreport.environment wrote
        for role in roles:
            by_role.setdefault(str(role), []).append(_host(host))
        if "app" in roles:
            found = host.get("packages") if isinstance(host.get("packages"), Mapping) else {}
            packages.update({name: str(found[name]) for name in PACKAGES if found.get(name) is not None})
            servers = host.get("servers") if isinstance(host.get("servers"), Mapping) else {}
            # "nginx version: nginx/1.22.1" -> "nginx/1.22.1": the version, not the banner
            packages.update({str(k): str(v).split("version:")[-1].strip() for k, v in sorted(servers.items())
                             if v is not None})
        if "loadgen" in roles:
            found = host.get("clients") if isinstance(host.get("clients"), Mapping) else {}
            client_lines.update({str(k): str(v) for k, v in sorted(found.items()) if v is not None})
    order = {role: i for i, role in enumerate(ROLES)}
    roles = sorted(by_role, key=lambda r: (order.get(r, len(ROLES)), r))
    return {"hosts": {r: sorted(by_role[r], key=lambda h: json.dumps(h, sort_keys=True)) for r in roles},
            "packages": packages, "clients": client_lines}


def of(env: Mapping[str, Any] | None) -> Fingerprint | None:
    """environment.json's fingerprint; None without one (or without any host described)."""
    if not env:
        return None
    found = contents(env)
    if not found["hosts"]:
        return None
    digest = hashlib.sha256(json.dumps(found, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return Fingerprint(digest[:DIGEST_CHARS], found)
