"""benchapp.patching: the gevent entry points say once, when the monitor is on, what gevent patched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.patching import MARK, MODULES

APP_DIR = Path(__file__).resolve().parent.parent


def start(code: str, monitor: bool) -> list[str]:
    """The patch lines a fresh process running `code` writes on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEVENT_")}
    if monitor:
        env.update(GEVENT_MONITOR_THREAD_ENABLE="true", GEVENT_MAX_BLOCKING_TIME="0.1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True, cwd=APP_DIR, env=env)
    return [line for line in out.stderr.splitlines() if line.startswith(MARK)]


@pytest.mark.parametrize("entry", ["benchapp.patched", "benchapp.patched_psycogreen"])
def test_an_entry_point_says_everything_was_patched(entry: str) -> None:
    (line,) = start(f"import {entry}", monitor=True)
    state = json.loads(line[len(MARK):])
    assert state == {"patched": {name: True for name in (*MODULES, "dns")}, "warnings": []}


def test_ssl_imported_first_is_the_warning_gevent_gives() -> None:
    (line,) = start("from ssl import SSLContext\nimport benchapp.patched", monitor=True)
    (warning,) = json.loads(line[len(MARK):])["warnings"]
    assert "Monkey-patching ssl after ssl has already been imported" in warning


def test_nothing_is_said_without_the_monitor() -> None:
    assert start("import benchapp.patched", monitor=False) == []
