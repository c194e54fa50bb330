"""gevent's monkey-patching for the entry points, and what it could not patch.

Imports only what gevent itself imports before patching (json, os, sys,
warnings), so an entry point can still patch first by calling patch_all()
from here. With gevent's monitor thread on (GEVENT_MONITOR_THREAD_ENABLE,
bench.yml -e monitor=true) it logs one line to stderr, the unit's journal,
for the bench's runner (benchhost.monitor reads it into monitor.json)::

    flaskbench-gevent-patch: {"patched": {"socket": true, ..., "dns": true}, "warnings": [...]}

A module left unpatched keeps blocking the hub (a patch_all() with some of
them off, or a server that patched differently); a MonkeyPatchWarning says
a module was imported too early to be patched whole (ssl imported first).
"""

from __future__ import annotations

import json
import os
import sys
import warnings

from gevent import monkey

MARK = "flaskbench-gevent-patch: "
#: The standard modules a gevent app relies on being cooperative.
MODULES = ("socket", "ssl", "select", "selectors", "threading", "time", "os", "subprocess", "signal", "queue")


def monitored() -> bool:
    return os.environ.get("GEVENT_MONITOR_THREAD_ENABLE", "").strip().lower() in ("1", "true", "yes", "on")


def state(caught: list[warnings.WarningMessage]) -> dict:
    """Which of MODULES gevent patched (dns: socket.getaddrinfo), and its warnings while patching."""
    patched = {name: bool(monkey.is_module_patched(name)) for name in MODULES}
    patched["dns"] = bool(monkey.is_object_patched("socket", "getaddrinfo"))
    return {"patched": patched,
            "warnings": [str(w.message) for w in caught if issubclass(w.category, monkey.MonkeyPatchWarning)]}


#: What patch_all() found, for the line loaded() logs once the app is imported.
_PATCHED: dict = {}


def blocking_drivers(modules: dict | None = None) -> list[str]:
    """C database drivers the app has loaded that wait for their server without yielding to gevent:
    psycopg2 without a wait callback (psycogreen sets one), mysqlclient, pyodbc, cx_Oracle.
    Each such wait holds the hub; the monitor sees it only when one lasts past its threshold."""
    loaded = sys.modules if modules is None else modules
    found = []
    extensions = loaded.get("psycopg2.extensions")
    if extensions is not None and getattr(extensions, "get_wait_callback", lambda: True)() is None:
        found.append("psycopg2 (no wait callback: psycogreen's patch_psycopg() sets one)")
    for module, name in (("MySQLdb", "mysqlclient (MySQLdb)"), ("pyodbc", "pyodbc"), ("cx_Oracle", "cx_Oracle")):
        if module in loaded:
            found.append(f"{name} (waits in C; a pure-Python driver yields)")
    return found


def patch_all() -> None:
    """gevent.monkey.patch_all(); its warnings still shown; the patch line when the monitor is on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkey.patch_all()
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    _PATCHED.update(state(caught))
    if monitored():
        print(MARK + json.dumps(_PATCHED, sort_keys=True), file=sys.stderr, flush=True)


def loaded() -> None:
    """Once the app is imported: the patch line again, with the blocking drivers it loaded
    (benchhost.monitor keeps the last line)."""
    if monitored() and _PATCHED:
        print(MARK + json.dumps({**_PATCHED, "drivers": blocking_drivers()}, sort_keys=True),
              file=sys.stderr, flush=True)
