"""flaskbench_bench: a bench's progress, and its clean-up when it is interrupted.

Active in any playbook that runs the bench role (bench.yml, the drills'
c1000 bench); silent otherwise.

- Progress: one line per finished run, as it lands, built from the run's own
  files by benchreport:
  `[7/30] uwsgi-gevent tuned c=200 (wrk): 177.5 req/s (88.8% of ideal), p99 1131 ms, 0 failed, about 4 min left`
- Ctrl-C (SIGINT, or SIGTERM/SIGHUP to ansible-playbook) during a bench:
  Ansible stops as it always does, then, before the process exits, this runs
  playbooks/bench_stop.yml with the same inventory: the load clients and the
  sampler are stopped on the hosts, and the app host is released and back
  in the mode and profile its lock recorded. The clean-up runs in a session
  of its own, so a second Ctrl-C does not cut it short.
"""

from __future__ import annotations

import atexit
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

DOCUMENTATION = r"""
name: flaskbench_bench
type: aggregate
short_description: a bench's progress lines, and its clean-up when interrupted
description:
  - One line per finished bench run (req/s, % of ideal, p99, failures, time left).
  - On SIGINT, SIGTERM or SIGHUP during a bench, runs playbooks/bench_stop.yml before ansible-playbook exits.
requirements:
  - enabled in ansible.cfg (callbacks_enabled)
"""

REPO = Path(__file__).resolve().parents[2]
STOP_PLAYBOOK = REPO / "playbooks" / "bench_stop.yml"
#: Seconds the clean-up may take (it stops processes and switches one mode back).
STOP_TIMEOUT_S = 240


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

    # --- knowing a bench is on -------------------------------------------------

    def v2_playbook_on_start(self, playbook: Any) -> None:
        # Called in the main thread: the only place signal handlers may be set.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(sig)
            signal.signal(sig, self._on_signal(previous))
        atexit.register(self._clean_up)

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
        facts = res.get("ansible_facts") or {}
        if "bench_run_id" in facts and "bench_runs_total" in facts:
            self.run_id = str(facts["bench_run_id"])
            self.total = int(facts["bench_runs_total"])
            self.done, self.started, self.released = 0, time.monotonic(), False
        elif "bench_local" in facts:
            self.results_dir = Path(str(facts["bench_local"])).parent
        elif self.run_id and str(res.get("dest", "")).endswith("/outcome.json"):
            # run_one.yml's last step: the run's files are all on the controller
            self.done += 1
            self._progress(Path(str(res["dest"])).parent.name)
        elif self.run_id and "unlock" in (res.get("cmd") or []):
            self.released = True  # restore.yml: the host is back, nothing left to clean

    # --- progress ----------------------------------------------------------------

    def _progress(self, run_name: str) -> None:
        line = f"[{self.done}/{self.total}] {run_name}"
        try:
            line = f"[{self.done}/{self.total}] {self._figures(run_name)}"
        except Exception as err:  # noqa: BLE001 - a progress line must never fail a bench
            line += f" (no figures yet: {type(err).__name__})"
        left = self.total - self.done
        if self.done and left:
            per_run = (time.monotonic() - self.started) / self.done
            line += f", about {max(1, round(per_run * left / 60))} min left"
        self._display.display(line, color="bright blue")

    def _figures(self, run_name: str) -> str:
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from benchreport.summary import build_record  # the report's own reading of the files

        assert self.results_dir is not None
        r = build_record(self.results_dir / run_name, {}, self.results_dir).as_dict()
        if r.get("expected"):
            outcome = "as expected" if r.get("as_expected") else "UNEXPECTEDLY answered"
            return f"{r['mode']} {r['profile']} c={r['c']} ({r['client']}): {r['expected']}, {outcome}"
        if r.get("error"):
            return f"{run_name}: error: {r['error']}"
        pct = "" if r.get("pct_of_ideal") is None else f" ({r['pct_of_ideal']:.1f}% of ideal)"
        rps = "–" if r.get("rps") is None else f"{r['rps']:.1f}"
        p99 = "–" if r.get("p99_ms") is None else f"{r['p99_ms']:.0f}"
        return (f"{r['mode']} {r['profile']} c={r['c']} ({r['client']}): {rps} req/s{pct}, "
                f"p99 {p99} ms, {r.get('failed', 0)} failed")

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
