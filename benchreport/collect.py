"""`python -m benchreport.collect RUN_DIR`: unpack the bench hosts' archives into the run's layout.

The plan runner (benchhost.run) runs a whole bench on each
host; Ansible then packs every host's plan dir into one archive and fetches
it to RUN_DIR/.archives/<host>.tgz, beside RUN_DIR/plan.json (the
controller's). An archive holds, relative to the plan dir (a single leading
folder, such as the run id, is tolerated)::

    app/<name>/            the app runner's files of a run (run.json with parts, server.json, outcome.json)
    load/<host>/<name>/    a load runner's (its part's run.json, loadgen.json, the client's files)
    upstream/<host>/<name>/  the slow API host's runner's (upstream.json: plan.json's upstream.host, when
                           it is not the app host; on the app host upstream.json is in app/<name>/)
    progress.jsonl         the app runner's journal (one line per run; finished or interrupted)
    plan.json              the plan as the host got it (not used: RUN_DIR/plan.json is the controller's)

This writes, in RUN_DIR (the layout benchreport.runfiles describes):

* <name>/: the app host's files (not its `stop` marker). With ONE load host the
  client's files go directly in <name>/ too, and run.json stays the app's with
  the load host's own keys added (part, point: nothing lost, the app's win);
  with SEVERAL, each load host's folder goes to <name>/loadgen/<host>/ as is (and
  when the app host's run.json is missing, <name>/run.json is a part's with the
  point's n and c, without "part").
* <name>/upstream/<host>/: the slow API host's files of the run (upstream.json), as they are.
* <name>/outcome.json for a run that has files but none from the app runner:
  {"error": "not run: the bench was interrupted"} (or, when the app host's
  archive is missing, "no outcome: ... not collected"), with "written_by":
  "benchreport.collect". A run without any file gets no folder.
* progress.jsonl: the app host's, copied.
* timing.json: {"planned_at", "collected_at", "runs_planned", "runs_done",
  "load_s", "wall_s", "load_share", "interrupted", "hosts_collected"}: load_s
  is the sum over runs of the longest part's ended - started (loadgen.json's
  epoch floats; its ISO started_at/ended_at, whole seconds, for older
  wrappers); runs_done counts the runs with the app
  runner's own outcome.json; interrupted is the signal or "deadline" the app
  runner's journal ends with (null when it finished); hosts_collected lists
  the hosts whose archive was unpacked so far.
* plan.json without its token.

Then the archives read are deleted, and .archives with them when empty (an
unreadable archive is kept, and named on stderr).

Running it again is harmless: with no archive left and timing.json there it
says so and changes nothing; with archives it unpacks them over what is there,
keeping the first collected_at (so wall_s stays the bench's).

Safety: archive members are extracted only when they are regular files or
folders with a relative path that stays inside (no absolute path, no `..`,
no link or device); others are skipped and named on stderr. Where Python has
tarfile's data filter (3.12, 3.11.4) it is applied as well.

Exit status: 0 something was collected (now or by an earlier run); 2 nothing
was (no plan.json, no archive, none readable), or a bad command line.
Missing archives (a host unreachable) are named on stderr.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

PLAN, TIMING, PROGRESS = "plan.json", "timing.json", "progress.jsonl"
ARCHIVES = ".archives"
ARCHIVE_SUFFIX = ".tgz"
#: The app runner's marker that tells its sampler to stop: not a result.
APP_SKIP = frozenset({"stop", "sampler.ready", "upstream.stop", "upstream.ready"})
NOT_RUN = "not run: the bench was interrupted"
WRITTEN_BY = "benchreport.collect"
EXIT_OK, EXIT_NOTHING = 0, 2
#: What a run folder of several load hosts keeps them in: <name>/loadgen/<host>/ (benchreport.runfiles).
LOADGEN_DIR = "loadgen"
#: ...and the slow API's host its own: <name>/upstream/<host>/ (benchreport.runfiles).
UPSTREAM_DIR = "upstream"


def upstream_host(plan: dict[str, Any]) -> str | None:
    """plan.json's upstream.host (the slow API's, sampled by its own runner unless it is the app host); None."""
    upstream = plan.get("upstream")
    return upstream.get("host") if isinstance(upstream, dict) and upstream.get("host") is not None else None


class Collector:
    """One collection of RUN_DIR: messages go to `say` (stderr)."""

    def __init__(self, run_dir: Path, say=None) -> None:
        self.run_dir = run_dir
        self.messages: list[str] = []
        self._say = say or (lambda text: print(f"collect: {text}", file=sys.stderr))

    def say(self, text: str) -> None:
        self.messages.append(text)
        self._say(text)


def safe_name(name: Any) -> bool:
    """A host or run name usable as one path component of the results (no separator, no dot file)."""
    return (isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name
            and "\0" not in name and not name.startswith("."))


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why an archive member must not be extracted; None when it is a plain file or folder inside."""
    name = member.name
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in its path"
    if not (member.isfile() or member.isdir()):
        return "not a regular file or folder (a link or a device)"
    return None


def extract(archive: Path, dest: Path, col: Collector) -> bool:
    """Unpack the safe members of `archive` into `dest`; False when the archive is unreadable."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = member_problem(member)
                if problem:
                    col.say(f"{archive.name}: member {member.name!r} not extracted: {problem}")
                    continue
                try:
                    if hasattr(tarfile, "data_filter"):
                        tar.extract(member, dest, filter="data")
                    else:
                        tar.extract(member, dest, set_attrs=False)
                except (tarfile.TarError, OSError) as exc:  # FilterError is a TarError
                    col.say(f"{archive.name}: member {member.name!r} not extracted: {exc}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        col.say(f"{archive.name}: unreadable ({exc}): kept in {ARCHIVES}/")
        return False
    return True


def archive_root(top: Path) -> Path:
    """The plan dir inside an unpacked archive: `top`, or its one folder when the archive had a leading one."""
    if any((top / name).exists() for name in ("app", "load", UPSTREAM_DIR, PROGRESS, PLAN)):
        return top
    subdirs = [d for d in top.iterdir() if d.is_dir()]
    if len(subdirs) == 1 and any((subdirs[0] / name).exists() for name in ("app", "load", UPSTREAM_DIR, PROGRESS)):
        return subdirs[0]
    return top


def run_folders(parent: Path, col: Collector, where: str) -> dict[str, Path]:
    """The run folders under app/ or load/<host>/ of an unpacked archive, by name."""
    if not parent.is_dir():
        return {}
    out = {}
    for d in sorted(parent.iterdir()):
        if not d.is_dir():
            continue
        if not safe_name(d.name):
            col.say(f"{where}/{d.name}: not a usable run name, skipped")
            continue
        out[d.name] = d
    return out


def copy_files(src: Path, dst: Path, skip: frozenset[str] = frozenset(), keep: frozenset[str] = frozenset()) -> int:
    """Copy src's files (its subfolders too) into dst; `skip` names are left out at the top,
    `keep` names are not overwritten there. Returns how many files were copied."""
    count = 0
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.iterdir()):
        if path.name in skip or path.is_symlink():
            continue
        target = dst / path.name
        if path.is_dir():
            count += copy_files(path, target)
        elif path.is_file():
            if path.name in keep and target.exists():
                continue
            if target.is_dir():
                shutil.rmtree(target)
            shutil.copyfile(path, target)
            count += 1
    return count


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def merge_run_json(dest: Path, app_run: Path | None, load_run: Path) -> None:
    """<name>/run.json with one load host: the app's (or the one already there) plus the load host's
    own keys (part, point); the app's values win."""
    base = read_json(app_run) if app_run is not None and app_run.is_file() else None
    if not isinstance(base, dict):
        base = read_json(dest / "run.json")
    load = read_json(load_run)
    if not isinstance(base, dict):
        if load_run.is_file():
            shutil.copyfile(load_run, dest / "run.json")
        return
    if isinstance(load, dict):
        for key, value in load.items():
            base.setdefault(key, value)
    write_json(dest / "run.json", base)


def parse_time(text: Any) -> float | None:
    """Epoch seconds of loadgen.json's "2026-11-24T01:12:10Z"."""
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def load_seconds(folder: Path) -> float | None:
    """The longest part's ended_at - started_at of one run folder (either layout); None without one."""
    files = [folder / "loadgen.json", *sorted((folder / LOADGEN_DIR).glob("*/loadgen.json"))]
    spans = []
    for path in files:
        data = read_json(path) if path.is_file() else None
        if isinstance(data, dict):
            # epoch floats where the wrapper wrote them, else its ISO seconds
            start, end = number(data.get("started")), number(data.get("ended"))
            if start is None or end is None:
                start, end = parse_time(data.get("started_at")), parse_time(data.get("ended_at"))
            if start is not None and end is not None and end >= start:
                spans.append(end - start)
    return max(spans) if spans else None


def interrupted(progress: Path) -> str | None:
    """The signal (or "deadline") the app runner's journal ends with; None when it finished or is absent."""
    if not progress.is_file():
        return None
    last = None
    for line in progress.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            if entry.get("interrupted"):
                last = str(entry["interrupted"])
            elif entry.get("finished"):
                last = None
    return last


def strip_token(run_dir: Path, plan: dict[str, Any]) -> None:
    if "token" in plan:
        write_json(run_dir / PLAN, {k: v for k, v in plan.items() if k != "token"})


def collect(run_dir: Path, say=None) -> int:
    """Unpack RUN_DIR/.archives into RUN_DIR's layout; the exit status (module docstring)."""
    col = Collector(run_dir, say)
    plan = read_json(run_dir / PLAN)
    if not isinstance(plan, dict):
        col.say(f"{run_dir / PLAN}: missing or unreadable: nothing collected")
        return EXIT_NOTHING
    strip_token(run_dir, plan)
    app_host = plan.get("app_host")
    loadgens = [h for h in plan.get("loadgens") or [] if isinstance(h, str)]
    upstream = upstream_host(plan)
    for host in [app_host, *loadgens, *([upstream] if upstream is not None else [])]:
        if not safe_name(host):
            col.say(f"plan.json: host name {host!r} is not usable as a folder name: nothing collected")
            return EXIT_NOTHING
    several = len(loadgens) > 1
    hosts = list(dict.fromkeys([app_host, *loadgens, *([upstream] if upstream is not None else [])]))
    previous = read_json(run_dir / TIMING)
    previous = previous if isinstance(previous, dict) else {}
    done_before = [h for h in previous.get("hosts_collected") or [] if h in hosts]
    archives = run_dir / ARCHIVES
    if not archives.is_dir():
        if previous:
            col.say(f"no {ARCHIVES}/ in {run_dir}: already collected ({TIMING} is there), nothing changed")
            return EXIT_OK
        col.say(f"no {ARCHIVES}/ in {run_dir}: nothing to collect")
        return EXIT_NOTHING

    for extra in sorted(archives.glob(f"*{ARCHIVE_SUFFIX}")):
        if extra.name[: -len(ARCHIVE_SUFFIX)] not in hosts:
            col.say(f"{ARCHIVES}/{extra.name}: not a host of the plan ({', '.join(hosts)}): ignored")
    work = run_dir / f".collect-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    roots: dict[str, Path] = {}
    read_ok: list[Path] = []
    try:
        for host in hosts:
            archive = archives / f"{host}{ARCHIVE_SUFFIX}"
            if not archive.is_file():
                if host not in done_before:
                    role = " and ".join(r for r, yes in (("app host", host == app_host),
                                                          ("load host", host in loadgens),
                                                          ("slow API host", host == upstream)) if yes)
                    col.say(f"no archive from {role} {host} ({ARCHIVES}/{archive.name}): its files are missing")
                continue
            if extract(archive, work / host, col):
                roots[host] = archive_root(work / host)
                read_ok.append(archive)
        if not roots:
            if done_before:
                col.say("no new archive read; what was collected before is unchanged")
                return EXIT_OK
            col.say("no archive could be read: nothing collected")
            return EXIT_NOTHING
        place(run_dir, plan, roots, several, app_collected=app_host in roots or app_host in done_before, col=col)
        write_timing(run_dir, plan, previous, sorted(set(done_before) | set(roots)))
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    for archive in read_ok:
        archive.unlink()
    try:
        archives.rmdir()
    except OSError:
        pass  # an unreadable archive is still there
    return EXIT_OK


def place(run_dir: Path, plan: dict[str, Any], roots: dict[str, Path], several: bool, *,
          app_collected: bool, col: Collector) -> None:
    """Copy the unpacked runs into RUN_DIR/<name>/ (the module's layout)."""
    app_host = plan["app_host"]
    loadgens = [h for h in plan.get("loadgens") or [] if isinstance(h, str)]
    app: dict[str, Path] = {}
    if app_host in roots:
        app = run_folders(roots[app_host] / "app", col, f"{app_host}:app")
        progress = roots[app_host] / PROGRESS
        if progress.is_file():
            shutil.copyfile(progress, run_dir / PROGRESS)
    load: dict[str, dict[str, Path]] = {}
    for host in loadgens:
        if host in roots:
            load[host] = run_folders(roots[host] / "load" / host, col, f"{host}:load/{host}")
            if not load[host] and not (roots[host] / "load" / host).is_dir():
                col.say(f"{host}'s archive holds no load/{host}/: no client files from it")
    sampled: dict[str, Path] = {}  # the slow API host's runs (its own runner's), by name
    upstream = upstream_host(plan)
    if upstream is not None and upstream != app_host and upstream in roots:
        sampled = run_folders(roots[upstream] / UPSTREAM_DIR / upstream, col, f"{upstream}:upstream/{upstream}")
    names = list(dict.fromkeys([*app, *(name for runs in load.values() for name in runs), *sampled]))
    for name in names:
        dest = run_dir / name
        if dest.exists() and not dest.is_dir():
            col.say(f"{name}: {dest} exists and is not a folder: run not collected")
            continue
        dest.mkdir(exist_ok=True)
        own_outcome = app.get(name) is not None and (app[name] / "outcome.json").is_file()
        if name in app:
            copy_files(app[name], dest, skip=APP_SKIP)
        for host, runs in load.items():
            if name not in runs:
                continue
            if several:
                copy_files(runs[name], dest / LOADGEN_DIR / host)
                if not (dest / "run.json").is_file():  # no app host's: the run from a part's (its point's n, c)
                    whole = read_json(runs[name] / "run.json")
                    if isinstance(whole, dict):
                        point = whole.get("point") if isinstance(whole.get("point"), dict) else {}
                        whole.update({k: point[k] for k in ("n", "c") if k in point})
                        whole.pop("part", None)
                        write_json(dest / "run.json", whole)
            else:
                copy_files(runs[name], dest, skip=frozenset({"run.json"}))
                merge_run_json(dest, app[name] / "run.json" if name in app else None, runs[name] / "run.json")
        if name in sampled:
            copy_files(sampled[name], dest / UPSTREAM_DIR / upstream)
        outcome = dest / "outcome.json"
        old = read_json(outcome) if outcome.is_file() else None
        ours = isinstance(old, dict) and old.get("written_by") == WRITTEN_BY
        if not own_outcome and (old is None or ours) and any(dest.iterdir()):
            error = NOT_RUN if app_collected else (
                f"no outcome: the app host {app_host}'s archive was not collected")
            write_json(outcome, {"error": error, "blocked": None, "written_by": WRITTEN_BY})


def write_timing(run_dir: Path, plan: dict[str, Any], previous: dict[str, Any], hosts_collected: list[str]) -> None:
    """RUN_DIR/timing.json (the module's docstring), from what RUN_DIR now holds."""
    runs = [r for r in plan.get("runs") or [] if isinstance(r, dict)]
    names = [str(r["name"]) for r in runs if safe_name(r.get("name"))]
    if not names:  # a plan without names: every run folder there is
        names = [d.name for d in sorted(run_dir.iterdir()) if d.is_dir() and safe_name(d.name)]
    done, load_s = 0, 0.0
    for name in names:
        folder = run_dir / name
        if not folder.is_dir():
            continue
        outcome = read_json(folder / "outcome.json")
        if isinstance(outcome, dict) and outcome.get("written_by") != WRITTEN_BY:
            done += 1
        load_s += load_seconds(folder) or 0.0
    planned_at = number(plan.get("created_at"))
    collected_at = number(previous.get("collected_at")) or round(time.time(), 3)
    wall_s = collected_at - planned_at if planned_at is not None else None
    write_json(run_dir / TIMING, {
        "planned_at": planned_at, "collected_at": collected_at,
        "runs_planned": len(runs), "runs_done": done,
        "load_s": round(load_s, 3),
        "wall_s": None if wall_s is None else round(wall_s, 3),
        "load_share": round(load_s / wall_s, 4) if wall_s and wall_s > 0 else None,
        "interrupted": interrupted(run_dir / PROGRESS),
        "hosts_collected": hosts_collected,
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport.collect",
        description="Unpack RUN_DIR/.archives/<host>.tgz (the plan runners' folders) into the run's layout, "
                    "write timing.json and remove the token from plan.json.",
        epilog="Exit status: 0 collected (or already), 2 nothing collected or usage.")
    parser.add_argument("run_dir", type=Path, help="results/<run-id> holding plan.json and .archives/")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        print(f"collect: {args.run_dir} is not a directory", file=sys.stderr)
        return EXIT_NOTHING
    return collect(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
