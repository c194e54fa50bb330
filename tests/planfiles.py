"""A plan runner's bench, faked from recorded run folders: the hosts' plan dirs and their archives.

The plan runner (benchhost/run.py, /tmp spec "plan runner") leaves
on every host a plan dir: app/<name>/ on the app host (run.json with parts,
server.json, outcome.json, the sampler's stop file), load/<host>/<name>/ on
each load host (the part's run.json, loadgen.json and the client's files),
progress.jsonl and plan.json; Ansible packs each into results/<run_id>/.archives/<host>.tgz.
`bench_hosts` makes those folders from tests/data/benchreport's recorded
runs (one recorded folder per load host and run: its client files become that
host's part), `pack` the archives, `results_for` the controller's run folder.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLIENTS_RUN = ROOT / "tests" / "data" / "benchreport" / "clients-run"
RUN_ID = "20261202T080000Z"
TOKEN = "0123456789abcdef0123456789abcdef"
APP_FILES = ("server.json",)
CLIENT_FILES = ("loadgen.json", "ab.txt", "ab.err", "ab.tsv", "ab.csv", "wrk.txt", "wrk.err", "wrk.json")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def plan_run(name: str, sources: dict[str, Path], **changes: Any) -> dict:
    """A plan entry (RUN): the first source's run.json, n and c the sums of the sources' (one part each)."""
    parts = []
    for host, source in sources.items():
        rec = read_json(source / "run.json")
        parts.append({"host": host, "c": rec["c"], "n": rec["n"]})
    run = read_json(next(iter(sources.values())) / "run.json")
    run.update(run_id=RUN_ID, name=name, c=sum(p["c"] for p in parts), n=sum(p["n"] for p in parts),
               loadgen_host=parts[0]["host"], app_host="fb-app", parts=parts)
    run.update(changes)
    return run


def make_plan(runs: list[dict], loadgens: list[str], *, app_host: str = "fb-app",
              created_at: float | None = None) -> dict:
    return {
        "schema": 1, "run_id": RUN_ID, "token": TOKEN,
        "created_at": time.time() - 100 if created_at is None else created_at,
        "deadline": int(time.time()) + 3600, "control": {"address": "10.89.7.11", "port": 8099},
        "app_host": app_host, "loadgens": loadgens,
        "mode_command": "/usr/local/sbin/flaskbench-mode", "switch_timeout": 60, "monitor_max_blocking": 0.1,
        "warmup_requests": 50, "runs": runs,
    }


def bench_hosts(base: Path, plan: dict, sources: dict[str, dict[str, Path]], *,
                app_outcome: set[str] | None = None, interrupted: str | None = None) -> dict[str, Path]:
    """Every host's plan dir under base/<host>/; sources: run name -> load host -> recorded folder.

    The app runner wrote outcome.json for the runs in app_outcome (all by default); with
    `interrupted`, its journal ends with that signal instead of "finished".
    """
    app_host, loadgens = plan["app_host"], plan["loadgens"]
    dirs = {h: base / h for h in dict.fromkeys([app_host, *loadgens])}
    for d in dirs.values():
        write_json(d / "plan.json", plan)
    runs = {r["name"]: r for r in plan["runs"]}
    progress = []
    for index, (name, by_host) in enumerate(sources.items()):
        run = runs[name]
        app_dir = dirs[app_host] / "app" / name
        write_json(app_dir / "run.json", run)
        first = next(iter(by_host.values()))
        for file in APP_FILES:
            if (first / file).is_file():
                shutil.copyfile(first / file, app_dir / file)
        (app_dir / "stop").touch()
        if app_outcome is None or name in app_outcome:
            write_json(app_dir / "outcome.json", {"error": None, "blocked": None})
            progress.append({"index": index, "name": name, "error": None, "parts": {}})
        for k, (host, source) in enumerate(by_host.items()):
            part = next(p for p in run["parts"] if p["host"] == host)
            load_dir = dirs[host] / "load" / host / name
            write_json(load_dir / "run.json", {**run, "n": part["n"], "c": part["c"],
                                               "part": {"host": host, "index": k, "of": len(loadgens)},
                                               "point": {"n": run["n"], "c": run["c"]}})
            for file in CLIENT_FILES:
                if (source / file).is_file():
                    shutil.copyfile(source / file, load_dir / file)
    progress.append({"interrupted": interrupted} if interrupted else {"finished": True, "runs": len(progress)})
    (dirs[app_host] / "progress.jsonl").write_text("".join(json.dumps(p) + "\n" for p in progress))
    return dirs


def pack(plan_dir: Path, archive: Path, *, prefix: str = "", extra: list[tarfile.TarInfo] | None = None) -> Path:
    """plan_dir as a tar.gz (paths relative to it, under `prefix` when given), plus `extra` members."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(plan_dir, arcname=prefix or ".")
        for member in extra or []:
            data = b"evil\n" if member.isfile() else b""
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return archive


def results_for(tmp_path: Path, plan: dict, dirs: dict[str, Path], *, skip: tuple[str, ...] = (),
                prefix: str = "") -> Path:
    """results/<run_id>/ as the controller has it before collect: plan.json and .archives/<host>.tgz."""
    run_dir = tmp_path / "results" / RUN_ID
    write_json(run_dir / "plan.json", plan)
    for host, d in dirs.items():
        if host not in skip:
            pack(d, run_dir / ".archives" / f"{host}.tgz", prefix=prefix)
    return run_dir


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative path: to compare two states of a folder."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
