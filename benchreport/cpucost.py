"""What a request cost each host of a run: the app, the slow API and the clients (CPU ms per request).

A record's figures for the knee's machine limit (benchreport.knee.machine_limit):

* upstream_cpu_ms, upstream_cpu_ms_per_req, upstream_cpu_window: the slow API's
  unit over the run's load window, by the app server's rule
  (benchreport.serverfigures: from the first request's due time, or the
  client's start, to the client's end, interpolated between upstream.json's
  samples; its totals when they do not span the window, which
  upstream_cpu_window's source says), over the requests the app worked on
  (serverfigures.cpu_divisor: not connect errors). upstream.json is
  benchhost.sample's (server.json's schema), written by the slow API host's
  runner into <name>/upstream/<host>/, or beside server.json when the slow
  API runs on the app host (benchhost.run). upstream_host names the host;
  upstream_cpu_why says why the figures are null ("no slow API host in the
  plan", "upstream.json missing", "its samples do not cover the load
  window"...).
* client_cpu_ms_per_req: the clients' own CPU (loadgen.json's ab_cpu_ms,
  wrk_cpu_ms or, for benchhost.clients.rate, client_cpu_ms; every load host's added
  up) over the same requests. It includes the client's start-up and its
  writing of its files.
* cpu_hosts: one entry per role and host, {"role": "app" | "slow API" |
  "client", "host", "cpu_ms_per_req", "cores", "machine"}: the app's
  cpu_ms_per_req (server.json's), the slow API's, each load host's client CPU
  over the whole run's requests (a load host's share of the cost); "cores" and
  "machine" from environment.json (`host_cores`, `machine_of`): null where it
  does not describe the host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchreport import serverfigures
from benchreport.model import Record, finite

UPSTREAM = "upstream.json"
#: Where the slow API host's runner's files of a run land: <name>/upstream/<host>/ (benchreport.collect).
UPSTREAM_DIR = "upstream"
ROLE_APP, ROLE_UPSTREAM, ROLE_CLIENT = "app", "slow API", "client"
#: loadgen.json's key for the client's own CPU, by client.
CLIENT_CPU_KEYS = {"ab": "ab_cpu_ms", "wrk": "wrk_cpu_ms", "rate": "client_cpu_ms"}


def per_request(cpu_ms: float | None, requests: int | None, digits: int = 3) -> float | None:
    """cpu_ms / requests, rounded; None when either is missing or no request."""
    if cpu_ms is None or not requests:
        return None
    return round(cpu_ms / requests, digits)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def upstream_file(directory: Path, app_host: str | None) -> tuple[str | None, Path | None]:
    """(host, path) of a run's upstream.json: <name>/upstream/<host>/upstream.json, else beside server.json
    (the slow API on the app host); (None, None) when there is none."""
    parent = directory / UPSTREAM_DIR
    if parent.is_dir():
        for host_dir in sorted(parent.iterdir()):
            if (host_dir / UPSTREAM).is_file():
                return host_dir.name, host_dir / UPSTREAM
    if (directory / UPSTREAM).is_file():
        return app_host, directory / UPSTREAM
    return None, None


def _parts(directory: Path, loadgen_host: str | None) -> list[tuple[str | None, Path]]:
    """(host, folder) of each load host's files: <name>/loadgen/<host>/, else <name>/ itself."""
    parent = directory / "loadgen"
    found = sorted(d for d in parent.iterdir() if d.is_dir()) if parent.is_dir() else []
    return [(d.name, d) for d in found] if found else [(loadgen_host, directory)]


def plan_upstream(run_dir: Path) -> dict[str, Any] | None:
    """plan.json's upstream ({"host", "unit"}) of a plan runner's bench; None without a plan or a slow API."""
    plan = _read(run_dir / "plan.json")
    upstream = plan.get("upstream") if plan is not None else None
    return upstream if isinstance(upstream, dict) else None


def host_cores(env: Mapping[str, Any] | None, host: str | None) -> float | None:
    """The CPUs a host may use: environment.json's cores, its cgroup quota when that is lower."""
    info = ((env or {}).get("hosts") or {}).get(host) if host is not None else None
    if not isinstance(info, Mapping):
        return None
    cores, quota = finite(info.get("cores")), finite(info.get("cpu_quota_cores"))
    if cores is not None and quota is not None:
        return min(cores, quota)
    return cores if cores is not None else quota


def machine_of(env: Mapping[str, Any] | None, host: str | None) -> str | None:
    """Which machine a host is on: hosts of one machine share its CPUs.

    Its kernel's boot_id (benchhost.env: containers of one machine share it); for a
    description without one, a container is on the machine its kernel, CPU model and
    memory name (the local test containers share all three); any other host is a
    machine of its own. None when environment.json does not describe the host.
    """
    info = ((env or {}).get("hosts") or {}).get(host) if host is not None else None
    if not isinstance(info, Mapping):
        return None
    if info.get("boot_id"):
        return f"boot {info['boot_id']}"
    if info.get("container") is True:
        return "containers on " + " / ".join(str(info.get(k)) for k in ("kernel", "kernel_version", "cpu_model",
                                                                         "mem_total_mib"))
    return f"host {host}"


def cpu_costs(rec: Record, directory: Path, run_dir: Path, spec: Any, env: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record's upstream_*, client_cpu_ms_per_req and cpu_hosts (the module's docstring)."""
    out: dict[str, Any] = {"upstream_host": None, "upstream_cpu_ms": None, "upstream_cpu_ms_per_req": None,
                           "upstream_cpu_window": None, "upstream_cpu_why": None, "client_cpu_ms_per_req": None,
                           "cpu_hosts": None}
    app_host = getattr(spec, "app_host", None)
    client = rec.client
    requests = serverfigures.cpu_divisor(client, rec.complete, rec.failed_detail)
    parts = _parts(directory, getattr(spec, "loadgen_host", None))
    loadgens = [(host, _read(folder / "loadgen.json") or {}) for host, folder in parts]
    window, no_window = serverfigures.load_window([(folder, lg) for (_, folder), (_, lg) in zip(parts, loadgens)],
                                                  client)

    host, path = upstream_file(directory, app_host)
    planned = plan_upstream(run_dir)
    if path is None:
        if planned is None and not (run_dir / "plan.json").is_file():
            out["upstream_cpu_why"] = "not sampled (a bench before the slow API was sampled)"
        elif planned is None:
            out["upstream_cpu_why"] = "no slow API host in the plan"
        else:
            host = planned.get("host")
            out["upstream_cpu_why"] = f"{UPSTREAM} missing (the slow API host's sampler left none)"
    else:
        sampled = _read(path)
        figures = serverfigures.server_figures(sampled, window, no_window) if sampled else None
        if sampled is None:
            out["upstream_cpu_why"] = f"{UPSTREAM} unreadable"
        elif window is None:
            out["upstream_cpu_why"] = no_window
        elif figures is None or figures.cpu_ns is None:
            out["upstream_cpu_why"] = f"{UPSTREAM} has no CPU figures"
        else:
            cpu_ms = figures.cpu_ns / 1e6
            out["upstream_cpu_ms"], out["upstream_cpu_window"] = round(cpu_ms, 1), figures.cpu_window
            out["upstream_cpu_ms_per_req"] = per_request(cpu_ms, requests)
            if out["upstream_cpu_ms_per_req"] is None:
                out["upstream_cpu_why"] = "no request answered"
    out["upstream_host"] = host

    key = CLIENT_CPU_KEYS.get(rec.client or "")
    client_ms = [finite(lg.get(key)) if key else None for _, lg in loadgens]
    if client_ms and all(ms is not None for ms in client_ms):
        out["client_cpu_ms_per_req"] = per_request(sum(client_ms), requests)  # type: ignore[arg-type]

    def entry(role: str, name: str | None, cpu: float | None) -> dict[str, Any]:
        return {"role": role, "host": name, "cpu_ms_per_req": cpu, "cores": host_cores(env, name),
                "machine": machine_of(env, name)}

    hosts = [entry(ROLE_APP, app_host, finite(rec.cpu_ms_per_req))]
    hosts.append(entry(ROLE_UPSTREAM, host, out["upstream_cpu_ms_per_req"]))  # null: not measured
    for (name, _), ms in zip(loadgens, client_ms):
        hosts.append(entry(ROLE_CLIENT, name, per_request(ms, requests, 4)))
    out["cpu_hosts"] = hosts
    return out
