"""The commits between two runs: `git log --oneline BEFORE..AFTER` in the project's checkout.

environment.json records the commit a run was made from (benchreport.environment);
when a trend steps, the commits between the last run before and the first
after are the suspects. The checkout may not have them (a results folder
copied from another machine, a shallow clone): then only the two ids are
known, and `between` says so with None.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 10
REPO_ROOT = Path(__file__).resolve().parent.parent


def between(before: str, after: str, repo: Path = REPO_ROOT) -> list[str] | None:
    """`git log --oneline before..after`'s lines (newest first; [] for one commit); None when git cannot say
    (no git, not a checkout, either commit unknown to it)."""
    try:
        done = subprocess.run(["git", "-C", str(repo), "log", "--oneline", "--no-decorate", f"{before}..{after}",
                               "--"], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return [line for line in done.stdout.splitlines() if line.strip()]
