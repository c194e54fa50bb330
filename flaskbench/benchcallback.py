"""The callback flaskbench_bench (plugins/callback/flaskbench_bench.py loads it from here): a bench's progress, and its clean-up when it is interrupted.

Active in any playbook that runs the bench role (bench.yml, the drills'
c1000 bench); silent otherwise.

- Progress: one line per finished run, as it lands: the bench's poll of the
  app host's progress.jsonl (the plan runner's line per run: each load
  host's req/s, failures and p99) with the run's plan entry (plan.json):
  `[7/30] uwsgi-gevent tuned c=200 (wrk): 177.5 req/s (88.8% of ideal), p99 1131 ms, 0 failed, about 4 min left`
  (a run with failed requests shows `p99 ≥1131 ms`: the failed ones are not in its percentiles, so the
  p99 of all the requests sent is at least that; summary.json's p99_lower_bound; and non-2xx answers
  by status after the failures, "268 failed (502 × 268)", when the client counted codes: wrk and rate
  do, ab does not)
- The report: when bench's "Turn the raw results into the report" ends (the task that carries the
  var `bench_callback_prints_stdout: true`, roles/bench/tasks/report.yml), its stdout as plain lines,
  exactly as `python -m benchreport RUN_DIR` prints it (no quotes, no "- ", no wrapping), then
  "Results: RUN_DIR (results/latest)". The play var `flaskbench_bench_callback` (set at each play's
  start) tells report.yml this callback is there; without it (a user's own ansible.cfg) report.yml
  shows the report as a debug list instead.
- Ctrl-C (SIGINT, or SIGTERM/SIGHUP to ansible-playbook) during a bench:
  Ansible stops as it always does, then, before the process exits, this runs
  playbooks/bench_stop.yml with the same inventory: the load clients and the
  sampler are stopped on the hosts, and the app host is released and back
  in the mode and profile its lock recorded. The clean-up runs in a session
  of its own, so a second Ctrl-C does not cut it short.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ansible import context
from ansible.plugins.callback import CallbackBase

from benchhost import clients
from benchhost.numbers import non_2xx_codes, status_counts


REPO = Path(__file__).resolve().parents[1]
STOP_PLAYBOOK = REPO / "playbooks" / "bench_stop.yml"
#: Seconds the clean-up may take (it stops processes and switches one mode back).
STOP_TIMEOUT_S = 240
#: The task var that marks the report's task: its stdout is printed as plain lines when it ends.
PRINT_MARKER = "bench_callback_prints_stdout"
#: The play var set at each play's start: report.yml shows the report itself (a debug list) without it.
PRESENT_VAR = "flaskbench_bench_callback"


def non_2xx(parts: list[dict]) -> str:
    """" (502 × 268, 503 × 2)": the load hosts' non-2xx answers by status (their status_counts added up);
    empty when there were none or the client did not count codes (ab)."""
    codes: dict[int, int] = {}
    for part in parts:
        for code, k in non_2xx_codes(status_counts(part.get("status_counts")) or {}).items():
            if k > 0:
                codes[int(code)] = codes.get(int(code), 0) + k
    return f" ({', '.join(f'{code} × {k}' for code, k in sorted(codes.items()))})" if codes else ""


def answers(parts: list[dict]) -> str:
    """" (answers 201 × 18, 404 × 2)": the load hosts' answers by status; empty when not counted."""
    codes: dict[int, int] = {}
    for part in parts:
        for code, k in (status_counts(part.get("status_counts")) or {}).items():
            codes[int(code)] = codes.get(int(code), 0) + k
    return f" (answers {', '.join(f'{code} × {k}' for code, k in sorted(codes.items()))})" if codes else ""


class CallbackModule(CallbackBase):
    """Progress and clean-up for bench.yml."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "flaskbench_bench"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.run_id: str | None = None
        self.results_dir: Path | None = None
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.released = False
        self.interrupted: str | None = None
        self.cleaned = False
        self.seen: set = set()
        self.plan: dict | None = None

    # --- knowing a bench is on -------------------------------------------------

    def v2_playbook_on_start(self, playbook: Any) -> None:
        # Called in the main thread: the only place signal handlers may be set.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(sig)
            signal.signal(sig, self._on_signal(previous))
        atexit.register(self._clean_up)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        # The play the strategy runs (TaskQueueManager.run's copy): its vars are every task's play vars.
        try:
            play.vars[PRESENT_VAR] = True
        except Exception:  # noqa: BLE001 - then report.yml's debug shows the report as well
            pass

    def _on_signal(self, previous: Any):
        def handler(signum: int, frame: Any) -> None:
            if self.run_id and not self.released:
                self.interrupted = signal.Signals(signum).name
            if callable(previous):
                previous(signum, frame)
            elif signum == signal.SIGINT or previous == signal.SIG_DFL:
                raise KeyboardInterrupt
        return handler

    def v2_runner_on_ok(self, result: Any) -> None:
        res = result._result
        if (getattr(result._task, "vars", None) or {}).get(PRINT_MARKER):
            self._print_report(res)
            return
        facts = res.get("ansible_facts") or {}
        if "bench_run_id" in facts and "bench_runs_total" in facts:
            self.run_id = str(facts["bench_run_id"])
            self.total = int(facts["bench_runs_total"])
            self.done, self.started, self.released = 0, time.monotonic(), False
            self.seen, self.plan = set(), None
        elif self.run_id and self.results_dir is None and str(res.get("dest", "")).endswith(f"/{self.run_id}/plan.json"):
            self.results_dir = Path(str(res["dest"])).parent
        elif self.run_id and "unlock" in (res.get("cmd") or []):
            self.released = True  # restore.yml: the host is back, nothing left to clean
        self._follow(res)

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._follow(result._result)

    # --- progress ----------------------------------------------------------------

    def _follow(self, res: dict) -> None:
        """New lines of the app host's progress.jsonl, as bench's "Follow the runs" read them."""
        if not self.run_id or not isinstance(res.get("stdout"), str) or '"index"' not in res["stdout"]:
            return
        for text in res["stdout"].splitlines():
            try:
                entry = json.loads(text)
            except ValueError:
                continue
            if not isinstance(entry, dict) or "index" not in entry or entry["index"] in self.seen:
                continue
            self.seen.add(entry["index"])
            self.done += 1
            self._progress(entry)

    def _progress(self, entry: dict) -> None:
        line = f"[{self.done}/{self.total}] {entry.get('name')}"
        try:
            line = f"[{self.done}/{self.total}] {self._figures(entry)}"
        except Exception as err:  # noqa: BLE001 - a progress line must never fail a bench
            line += f" (no figures: {type(err).__name__})"
        left = self.total - self.done
        if self.done and left:
            per_run = (time.monotonic() - self.started) / self.done
            line += f", about {max(1, round(per_run * left / 60))} min left"
        self._display.display(line, color="bright blue")

    def _run(self, index: int) -> dict:
        if self.plan is None and self.results_dir is not None:
            self.plan = json.loads((self.results_dir / "plan.json").read_text())
        return (self.plan or {}).get("runs", [])[index]

    def _figures(self, entry: dict) -> str:
        run = self._run(int(entry["index"]))
        found = entry.get("search") or {}
        if found.get("done"):  # a knee search's slot it did not need
            return f"{run['mode']} {run['profile']} rate=auto: {found['done']}"
        if found.get("step"):  # a knee search's step: its rate was decided on the app host
            run = {**run, "rate": found["rate"]}
        client = clients.get(run.get("client"))
        route = f" {run['route']}" if run.get("app") else ""  # a user's app: a run per route
        what = f"{run['mode']} {run['profile']}{route} {client.load(run)} ({run['client']})"
        if entry.get("error"):
            return f"{what}: error: {entry['error']}"
        parts = [p for p in (entry.get("parts") or {}).values() if isinstance(p, dict)]
        total = lambda key: sum(p[key] for p in parts if isinstance(p.get(key), (int, float)))  # noqa: E731
        failed, complete = total("failed"), total("complete")
        if run.get("expect"):
            return f"{what}: expected {run['expect']}: {complete} answered, {failed} failed{non_2xx(parts)}"
        rps = total("rps") if any(isinstance(p.get("rps"), (int, float)) for p in parts) else None
        p99s = [p["p99_ms"] for p in parts if isinstance(p.get("p99_ms"), (int, float))]
        if run.get("app"):  # a user's app has no delay: no ideal
            ideal, of = None, ""
        elif client.by_rate:  # an open model: its ideal is the schedule
            ideal, of = float(run["rate"]), "of the rate"
        else:
            ideal, of = (float(run["c"]) / float(run["delay"]) if float(run["delay"]) > 0 else None), "of ideal"
        pct = f" ({100 * rps / ideal:.1f}% {of})" if rps is not None and ideal else ""
        rps_text = "–" if rps is None else f"{rps:.1f}"
        # failed requests are not timed in the percentiles (non-2xx aside): the p99 of all sent is at least this
        p99 = "–" if not p99s else ("≥" if failed else "") + f"{max(p99s):.0f}"
        step = f" (search step {found['step']}: {found['over'] or 'within the budget'})" if found.get("step") else ""
        # a user's app: its answers by status (what failed is what its routes did not expect, 2xx or not)
        codes = answers(parts) if run.get("app") else non_2xx(parts)
        return f"{what}: {rps_text} req/s{pct}, p99 {p99} ms, {failed} failed{codes}{step}"

    # --- the report ------------------------------------------------------------------

    def _print_report(self, res: dict) -> None:
        """The report task's stdout line by line, as benchreport printed it, then where the results are
        (the run folder: the command's last argument)."""
        lines = str(res.get("stdout") or "").splitlines()
        cmd = res.get("cmd")
        run_dir = cmd[-1] if isinstance(cmd, list) and cmd else self.results_dir
        if run_dir:
            lines += ["", f"Results: {run_dir} (results/latest)"]
        for line in lines:
            self._display.display(line)

    # --- clean-up ------------------------------------------------------------------

    def _clean_up(self) -> None:
        """Run playbooks/bench_stop.yml once, after an interruption during a bench."""
        if not self.interrupted or self.cleaned or not self.run_id:
            return
        self.cleaned = True
        argv = [str(Path(sys.argv[0]).with_name("ansible-playbook")), str(STOP_PLAYBOOK),
                "-e", f"bench_stop_run_id={self.run_id}"]
        if not Path(argv[0]).exists():
            argv[0] = "ansible-playbook"
        for source in context.CLIARGS.get("inventory") or ():
            argv += ["-i", source]
        print(f"\nflaskbench: bench {self.run_id} interrupted ({self.interrupted}): stopping its load "
              f"clients and sampler and restoring the app host ({STOP_PLAYBOOK.name})...", flush=True)
        # Its output goes to a file (a pipe would die with this process on a
        # second Ctrl-C, and the clean-up with it); shown when it ends.
        log = Path(tempfile.gettempdir()) / f"flaskbench-bench-stop-{self.run_id}.log"
        try:
            with open(log, "wb") as out:
                proc = subprocess.Popen(argv, cwd=REPO, start_new_session=True, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT)
            rc = proc.wait(STOP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired, KeyboardInterrupt) as err:
            print(f"flaskbench: the clean-up did not finish ({type(err).__name__}, its log: {log}); run "
                  f"`ansible-playbook {STOP_PLAYBOOK.relative_to(REPO)} -e bench_stop_run_id={self.run_id}`",
                  flush=True)
            return
        if rc != 0:
            print(log.read_text(errors="replace")[-4000:], flush=True)
        print(f"flaskbench: clean-up {'done' if rc == 0 else f'failed (exit {rc})'} (its log: {log}).", flush=True)
