#!/usr/bin/env python3
"""Interrupt a bench mid-run, as a person pressing Ctrl-C would, and check it cleaned up.

    bench_interrupt.py --repo DIR --results DIR -i INVENTORY [-i ...]

1. Starts bench.yml (wrk, long enough to be caught mid-load).
2. Once its client runs, starts a second bench: it must fail at once, naming
   the first run as the holder of the app host.
3. Sends SIGINT to the first ansible-playbook and waits: its callback must
   report the clean-up (playbooks/bench_stop.yml) as done.
Prints one JSON line; exit 0 when all held, 1 otherwise (the reason in the JSON).
The hosts' side (no client or sampler left, the lock released, the mode
restored) is checked by the verify playbook that runs this.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


def wait_for(path: Path, pattern: str, proc: subprocess.Popen, timeout: float) -> re.Match | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        match = re.search(pattern, path.read_text(errors="replace"))
        if match:
            return match
        time.sleep(0.5)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("-i", "--inventory", action="append", required=True, help="-i=PATH or -i PATH")
    parser.add_argument("--mode", default="uwsgi-gevent")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    playbook = str(Path(sys.executable).with_name("ansible-playbook"))
    base = [playbook, str(args.repo / "bench.yml")] + [a for i in args.inventory for a in ("-i", i)]
    base += ["-e", f"bench_results_dir={args.results}", "-e", f"mode={args.mode}"]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    result: dict = {"ok": False}

    first_log = args.results / "interrupted-bench.log"
    with open(first_log, "wb") as out:
        first = subprocess.Popen(base + ["-e", "client=wrk", "-e", "n=6000", "-e", "c=50"], cwd=args.repo,
                                 env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        run_id = wait_for(first_log, r"TASK \[bench : Follow the runs\]", first, 300)
        if not run_id or first.poll() is not None:
            result["why"] = f"the first bench never reached its client (exit {first.poll()}); see {first_log}"
            return 1
        time.sleep(6)  # past the switch and the warm-up: the client is under way

        second = subprocess.run(base + ["-e", "n=10", "-e", "c=5"], cwd=args.repo, env=env,
                                capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        held = re.search(r"is held by bench run (\S+)", " ".join((second.stdout + second.stderr).split()))
        result["second_bench"] = {"rc": second.returncode, "held_by": held.group(1) if held else None}
        if second.returncode == 0 or not held:
            result["why"] = "a second bench was not refused while the first ran"
            return 1

        first.send_signal(signal.SIGINT)
        rc = first.wait(300)
        text = first_log.read_text(errors="replace")
        done = re.search(r"flaskbench: clean-up (done|failed[^\n]*)", text)
        result["first_bench"] = {"rc": rc, "cleanup": done.group(1) if done else None,
                                 "interrupted": "interrupted (SIGINT)" in text}
        if not done or done.group(1) != "done":
            result["why"] = f"the interrupted bench did not report its clean-up done; see {first_log}"
            return 1
        result["ok"] = True
        return 0
    finally:
        if first.poll() is None:
            first.kill()
        print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
