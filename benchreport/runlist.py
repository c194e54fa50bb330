"""Every run in a results folder, read for `python -m benchreport history`: good, partial or broken, never dropped.

A run is a folder results/<run-id>/ (dot-folders such as .scripts, and the
`latest` link, are not runs). Its state:

* ok: summary.json holds the run's records (benchreport.summary wrote it);
* partial: the bench stopped early (timing.json's `interrupted`: summary.json
  then holds what finished, and its points count), or there is no
  summary.json but the bench's own files are there (a run still going, one
  interrupted before its report, one whose report was never built);
* broken: summary.json unreadable or not a list of records, or holding none,
  or a folder with none of a run's files.

`why` says what is wrong, in words a reader can act on. environment.json is
read for the commit, the dirty flag and the fingerprint (benchreport.fingerprint);
without it, or unreadable, the run is still listed (`env_why` says why it
has no fingerprint). When the run was made: its id's UTC time (the bench
names a run by when it planned it), else environment.json's recorded_at,
else its first record's start.

read_run never raises: anything unexpected makes the run broken with the
reason, so one bad folder cannot take the listing down.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport import environment, fingerprint
from benchreport.fingerprint import Fingerprint
from benchreport.model import SUMMARY, Record, point_key, records
from benchreport.runfiles import is_run_dir, load_timing

OK, PARTIAL, BROKEN = "ok", "partial", "broken"
STATES = (OK, PARTIAL, BROKEN)
REPORT = "report.html"
#: Files the bench writes into a run's folder before its report (bench.yml, benchreport.collect).
BENCH_FILES = ("plan.json", "progress.jsonl", "timing.json", environment.ENVIRONMENT)
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"
#: A run's folder that is not a run: the `latest` link, hidden folders.
NOT_RUNS = ("latest",)


@dataclass
class Run:
    """One results/<run-id>/ folder as history sees it."""

    run_id: str
    path: Path
    status: str = OK
    why: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    env_why: str | None = None
    fingerprint: Fingerprint | None = None
    commit: str | None = None
    dirty: bool | None = None
    when: datetime.datetime | None = None
    #: report.html beside summary.json, when there is one
    report: Path | None = None

    @property
    def modes(self) -> list[str]:
        return list(dict.fromkeys(str(r.mode) for r in self.records if r.mode is not None))

    @property
    def points(self) -> int:
        return len({k for r in self.records if (k := point_key(r)) is not None})

    @property
    def short_commit(self) -> str:
        return (self.commit or "?")[:10]


def run_time(run_id: str) -> datetime.datetime | None:
    """The UTC time a run id names (20261207T013034Z), or None."""
    try:
        return datetime.datetime.strptime(run_id, RUN_ID_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def _iso(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        found = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=datetime.timezone.utc)


def _summary(path: Path) -> tuple[list[Record] | None, str | None]:
    """summary.json's Records, or (None, why not)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"{SUMMARY} unreadable: {exc}".replace("\n", " ")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        return None, f"{SUMMARY} is not a bench summary (a JSON list of records)"
    if not data:
        return None, f"{SUMMARY} holds no record"
    return records(data), None


def _stopped(path: Path) -> str | None:
    """Why the bench stopped early, from timing.json ("interrupted (SIGTERM) after 0 of 1 runs"), or None."""
    timing, _ = load_timing(path)
    if timing is None or not timing.interrupted:
        return None
    done = ("" if timing.runs_done is None or timing.runs_planned is None
            else f" after {timing.runs_done} of {timing.runs_planned} runs")
    return f"interrupted ({timing.interrupted}){done}"


def _read(run: Run) -> None:
    path = run.path
    env, run.env_why = environment.load(path)
    recorded = None
    if env is None and run.env_why is None:
        run.env_why = f"no {environment.ENVIRONMENT}"
    if env is not None:
        controller = env.get("controller") if isinstance(env.get("controller"), dict) else {}
        run.commit = controller.get("commit") if isinstance(controller.get("commit"), str) else None
        run.dirty = controller.get("dirty") if isinstance(controller.get("dirty"), bool) else None
        recorded = _iso(controller.get("recorded_at"))
        run.fingerprint = fingerprint.of(env)
        if run.fingerprint is None:
            run.env_why = f"{environment.ENVIRONMENT} describes no host"
    stopped = _stopped(path)
    if (path / SUMMARY).is_file():
        found, why = _summary(path / SUMMARY)
        if found is None:
            run.status, run.why = BROKEN, [str(why)]
        else:
            run.records = found
            if stopped:
                run.status, run.why = PARTIAL, [f"{stopped}: {SUMMARY} holds what finished"]
    else:
        bench = [name for name in BENCH_FILES if (path / name).is_file()]
        folders = [d for d in sorted(path.iterdir()) if is_run_dir(d)]
        if not bench and not folders:
            run.status, run.why = BROKEN, ["none of a run's files (no summary.json, plan.json or run folders)"]
        else:
            what = stopped or f"no report built: python -m benchreport {path}"
            plural = "" if len(folders) == 1 else "s"
            run.status, run.why = PARTIAL, [f"no {SUMMARY} ({what}; {len(folders)} run folder{plural})"]
    if (path / REPORT).is_file():
        run.report = path / REPORT
    started = [t for r in run.records if (t := _iso(r.started_at)) is not None]
    run.when = run_time(run.run_id) or recorded or (min(started) if started else None)


def read_run(path: Path) -> Run:
    """One run folder, never raising: what cannot be read makes the run broken, with the reason."""
    run = Run(path.name, path)
    try:
        _read(run)
    except Exception as exc:  # noqa: BLE001 - a folder history cannot read is listed as broken, not fatal
        run.status, run.why, run.records = BROKEN, [f"unreadable: {exc!r}"], []
        run.when = run.when or run_time(run.run_id)
    return run


def run_folders(results: Path) -> list[Path]:
    """The folders of `results` that are runs: every directory but dot-folders and symlinks (`latest`)."""
    return [d for d in sorted(results.iterdir())
            if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") and d.name not in NOT_RUNS]


def read_results(results: Path) -> list[Run]:
    """Every run of `results`, oldest first (runs with no time last, by id)."""
    found = [read_run(d) for d in run_folders(results)]
    far = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)
    return sorted(found, key=lambda r: (r.when or far, r.run_id))
