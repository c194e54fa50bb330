"""The environment of a bench run: results/<run-id>/environment.json, and each record's share of it.

The bench runs benchhost.env on the app host (with --venv,
the app's virtualenv) and on the load host (with --client ab/wrk), fetches
the JSON each prints, and merges them here with the controller's side (the
project's git commit)::

    python -m benchreport.environment RUN_DIR \\
        --host app1 app RUN_DIR/hosts/app1.app.json \\
        --host loadgen1 loadgen RUN_DIR/hosts/loadgen1.loadgen.json \\
        [--repo DIR]        # the project checkout; default: the one holding benchreport

--host NAME ROLE FILE is repeatable (ROLE: app, loadgen or upstream, the slow
API's host; a host with several roles may be given once per role, its
descriptions are merged). An
environment.json already in RUN_DIR is merged into, so the hosts may also be
added one call at a time. A host file that is missing or unreadable is
recorded as such (the host's `errors`), never fatal. Exit status: 0 written,
1 RUN_DIR is not a directory or environment.json could not be written,
2 bad command line.

environment.json (schema 1)::

    {"schema": 1,
     "controller": {"commit": "16cd4a2...", "dirty": false,  # null, null outside a git checkout
                    "python": "3.11.2", "ansible": "2.19.14",  # ansible-core's, null if not importable
                    "recorded_at": "2026-12-02T04:45:02Z"},
     "hosts": {"app1": {"roles": ["app"], ...benchhost.env's object: hostname, kernel, os,
                        cpu_model, cores, mem_total_mib, somaxconn, virtualization, container,
                        packages...},
               "loadgen1": {"roles": ["loadgen"], ..., "clients": {"ab": "This is ApacheBench, ..."}}}}

`dirty` looks at tracked files only (`git status --porcelain
--untracked-files=no`): an untracked results/ folder does not make a tree dirty.

benchreport reads it back (`load`) and gives every summary record its
`environment` (`for_record`): the commit, the record's app and load hosts in
short, and the versions of the servers and key libraries (PACKAGES).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ENVIRONMENT = "environment.json"
SCHEMA = 1
#: upstream: the slow API's host (its cores bound the knee's machine limit, benchreport.knee)
ROLES = ("app", "loadgen", "upstream")
GIT_TIMEOUT_S = 10
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The servers and key libraries a record names (normalised names, as benchhost.env lists them).
PACKAGES = ("flask", "werkzeug", "gevent", "greenlet", "gunicorn", "pyuwsgi", "grpcio", "aiohttp",
            "psycopg2-binary", "psycogreen",
            # the quart mode: the framework and its database driver
            "quart", "asyncpg",
            # the peer servers, and asgiref's WsgiToAsgi (uvicorn-asgiref)
            "granian", "waitress", "uvicorn", "asgiref")
#: What a record keeps of each host's description.
HOST_KEYS = ("name", "os", "kernel", "cpu_model", "cores", "cpu_quota_cores", "mem_total_mib", "mem_limit_mib",
             "somaxconn", "virtualization", "container", "vm")


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_info(repo: Path | str = REPO_ROOT) -> dict[str, Any]:
    """{"commit", "dirty"} of the checkout holding `repo`; both null when it is not one (or git is missing).

    dirty: a tracked file differs from the commit (staged or not); untracked files do not count.
    """
    head = _git(Path(repo), "rev-parse", "--verify", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return {"commit": None, "dirty": None}
    status = _git(Path(repo), "status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None or status.returncode != 0 else bool(status.stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}


def ansible_version() -> str | None:
    """ansible-core's version when it is importable here (the play's Python), else None."""
    try:
        from ansible.release import __version__  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - not installed, or broken: not recorded
        return None
    return str(__version__)


def controller_info(repo: Path | str = REPO_ROOT) -> dict[str, Any]:
    """The controller's part: git commit and dirty flag, Python and Ansible versions, when."""
    return {**git_info(repo), "python": platform.python_version(), "ansible": ansible_version(),
            "recorded_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def read_host(path: Path | str) -> dict[str, Any]:
    """benchhost.env's object from a file; unreadable: {"errors": [why]}."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return {"errors": [f"{Path(path).name} unreadable: {exc}"]}
    if not isinstance(data, dict):
        return {"errors": [f"{Path(path).name} unreadable: not a JSON object"]}
    return data


def merge_host(old: Mapping[str, Any] | None, role: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A host's entry with one more description: the new keys win, roles and errors add up."""
    old = dict(old or {})
    roles = set(old.get("roles") or []) | {role}
    errors = list(dict.fromkeys([*(old.get("errors") or []), *(data.get("errors") or [])]))
    merged = {**old, **{k: v for k, v in data.items() if v is not None or k not in old}}
    for key in ("clients", "servers"):  # both descriptions may name some
        if isinstance(old.get(key), dict) and isinstance(data.get(key), dict):
            merged[key] = {**old[key], **data[key]}
    merged["roles"] = sorted(roles, key=lambda r: (ROLES.index(r) if r in ROLES else len(ROLES), r))
    merged["errors"] = errors
    return merged


def merge(run_dir: Path | str, hosts: Iterable[tuple[str, str, Any]], repo: Path | str = REPO_ROOT,
          ) -> dict[str, Any]:
    """Write RUN_DIR/environment.json from (name, role, file or dict) triples; return what was written.

    An environment.json already there is merged into (its hosts kept, the
    controller's part refreshed).
    """
    run_dir = Path(run_dir)
    path = run_dir / ENVIRONMENT
    env: dict[str, Any] = {"schema": SCHEMA, "controller": controller_info(repo), "hosts": {}}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            if isinstance(old, dict) and isinstance(old.get("hosts"), dict):
                env["hosts"] = old["hosts"]
        except (OSError, ValueError):
            pass  # replaced
    for name, role, source in hosts:
        data = dict(source) if isinstance(source, Mapping) else read_host(source)
        env["hosts"][str(name)] = merge_host(env["hosts"].get(str(name)), str(role), data)
    env["hosts"] = dict(sorted(env["hosts"].items()))
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=f".{ENVIRONMENT}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(env, indent=2, allow_nan=False) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return env


def load(run_dir: Path | str) -> tuple[dict[str, Any] | None, str | None]:
    """(environment.json's object, None); (None, None) when there is none; (None, why) when unreadable."""
    path = Path(run_dir) / ENVIRONMENT
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"{ENVIRONMENT} unreadable: {exc}"
    if not isinstance(data, dict) or not isinstance(data.get("hosts", {}), dict):
        return None, f"{ENVIRONMENT} unreadable: not an object with a hosts mapping"
    return data, None


def _short(env: Mapping[str, Any], name: str | None) -> dict[str, Any] | None:
    host = (env.get("hosts") or {}).get(name) if name is not None else None
    if not isinstance(host, dict):
        return None
    return {key: (name if key == "name" else host.get(key)) for key in HOST_KEYS}


def only_host(env: Mapping[str, Any], role: str) -> str | None:
    """The one host with this role (for a record whose run.json names none), else None."""
    named = [name for name, host in (env.get("hosts") or {}).items()
             if isinstance(host, dict) and role in (host.get("roles") or [])]
    return named[0] if len(named) == 1 else None


def for_record(env: Mapping[str, Any] | None, app_host: str | None, loadgen_host: str | None,
               client: str | None) -> dict[str, Any] | None:
    """A summary record's `environment`: commit, dirty, its two hosts in short, the key packages.

    A host environment.json does not describe is null (a record whose run.json
    names no host gets the one host of that role, if there is one);
    loadgen_host carries client_version, the version line of the record's
    client (ab or wrk).
    """
    if env is None:
        return None
    app_host = app_host if app_host is not None else only_host(env, "app")
    loadgen_host = loadgen_host if loadgen_host is not None else only_host(env, "loadgen")
    controller = env.get("controller") or {}
    app, loadgen = _short(env, app_host), _short(env, loadgen_host)
    if loadgen is not None:
        clients = (env["hosts"][loadgen_host].get("clients") or {})
        loadgen["client_version"] = clients.get(client) if client else None
    packages = ((env.get("hosts") or {}).get(app_host) or {}).get("packages") if app_host else None
    packages = packages if isinstance(packages, dict) else {}
    servers = ((env.get("hosts") or {}).get(app_host) or {}).get("servers") if app_host else None
    key = {name: packages[name] for name in PACKAGES if name in packages}
    for name, line in (servers or {}).items() if isinstance(servers, dict) else ():
        if line is not None:
            key[str(name)] = str(line)  # nginx: its own version line
    return {"commit": controller.get("commit"), "dirty": controller.get("dirty"),
            "app_host": app, "loadgen_host": loadgen, "packages": key}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport.environment",
        description="Merge the hosts' benchhost.env output and the project's git commit into RUN_DIR/environment.json.",
        epilog="Exit status: 0 written, 1 RUN_DIR missing or not writable, 2 usage.")
    parser.add_argument("run_dir", type=Path, help="results/<run-id>")
    parser.add_argument("--host", nargs=3, action="append", default=[], metavar=("NAME", "ROLE", "FILE"),
                        help=f"an inventory host, its role ({' or '.join(ROLES)}) and benchhost.env's JSON; repeatable")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the project checkout (default: %(default)s)")
    args = parser.parse_args(argv)
    for name, role, _ in args.host:
        if role not in ROLES:
            parser.error(f"--host {name} {role}: the role is one of {', '.join(ROLES)}")
    if not args.run_dir.is_dir():
        print(f"benchreport.environment: {args.run_dir} is not a directory", file=sys.stderr)
        return 1
    try:
        env = merge(args.run_dir, [tuple(h) for h in args.host], args.repo)
    except OSError as exc:
        print(f"benchreport.environment: {args.run_dir / ENVIRONMENT} not written: {exc}", file=sys.stderr)
        return 1
    c = env["controller"]
    print(f"Wrote {args.run_dir / ENVIRONMENT}: commit {c['commit'] or 'unknown'}"
          f"{' (dirty)' if c['dirty'] else ''}, hosts {', '.join(env['hosts']) or 'none'}")
    for name, host in env["hosts"].items():
        for error in host.get("errors") or []:
            print(f"  {name}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
