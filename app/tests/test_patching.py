"""benchapp.patching: the gevent entry points say once, when the monitor is on, what gevent patched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.patching import MARK, MODULES, blocking_drivers

APP_DIR = Path(__file__).resolve().parent.parent


def start(code: str, monitor: bool) -> list[str]:
    """The patch lines a fresh process running `code` writes on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEVENT_")}
    if monitor:
        env.update(GEVENT_MONITOR_THREAD_ENABLE="true", GEVENT_MAX_BLOCKING_TIME="0.1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True, cwd=APP_DIR, env=env)
    return [line for line in out.stderr.splitlines() if line.startswith(MARK)]


PSYCOPG2 = "psycopg2 (no wait callback: psycogreen's patch_psycopg() sets one)"


@pytest.mark.parametrize("entry,drivers", [("benchapp.patched", [PSYCOPG2]), ("benchapp.patched_psycogreen", [])])
def test_an_entry_point_says_everything_was_patched_then_the_blocking_drivers_its_app_loaded(
        entry: str, drivers: list[str]) -> None:
    """The line as gevent patched, then again once the app is imported: the built-in app loads
    psycopg2 (benchapp.db), waiting in C unless psycogreen set its wait callback."""
    first, last = start(f"import {entry}", monitor=True)
    everything = {"patched": {name: True for name in (*MODULES, "dns")}, "warnings": []}
    assert json.loads(first[len(MARK):]) == everything
    assert json.loads(last[len(MARK):]) == {**everything, "drivers": drivers}


def test_blocking_drivers_are_the_c_drivers_that_do_not_yield() -> None:
    class Extensions:
        def __init__(self, callback: object) -> None:
            self.callback = callback

        def get_wait_callback(self) -> object:
            return self.callback

    assert blocking_drivers({"psycopg2.extensions": Extensions(None)}) == [PSYCOPG2]
    assert blocking_drivers({"psycopg2.extensions": Extensions(print)}) == []
    assert blocking_drivers({"MySQLdb": object(), "json": object()}) == [
        "mysqlclient (MySQLdb) (waits in C; a pure-Python driver yields)"]
    assert blocking_drivers({}) == []


def test_ssl_imported_first_is_the_warning_gevent_gives() -> None:
    line = start("from ssl import SSLContext\nimport benchapp.patched", monitor=True)[-1]
    (warning,) = json.loads(line[len(MARK):])["warnings"]
    assert "Monkey-patching ssl after ssl has already been imported" in warning


def test_nothing_is_said_without_the_monitor() -> None:
    assert start("import benchapp.patched", monitor=False) == []
