"""An interrupted bench leaves no client behind: the wrappers kill theirs on a stop signal.

playbooks/bench_stop.yml (run by the bench's callback on Ctrl-C, or by hand)
sends SIGTERM to benchhost.clients.ab and benchhost.clients.wrk on the load host; each must
kill its client at once and say so in loadgen.json, not wait for its cap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchrun import AB_CLIENT, HOST_ENV, LUA, WRK_CLIENT, write_run


def client_stub(tmp_path: Path, name: str) -> Path:
    """A client that ignores its limits and writes its pid, like a wedged ab or wrk."""
    stub = tmp_path / name
    stub.write_text(f"#!/bin/sh\necho $$ > {tmp_path / (name + '.pid')}\nexec sleep 300\n")
    stub.chmod(0o755)
    return stub


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie awaiting its parent is gone for our purpose
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("client,sig", [("ab", signal.SIGTERM), ("ab", signal.SIGHUP), ("wrk", signal.SIGTERM),
                                        ("wrk", signal.SIGINT)])
def test_a_stop_signal_kills_the_client_and_is_recorded(tmp_path: Path, client: str, sig: signal.Signals) -> None:
    out = tmp_path / "run"
    write_run(out, "http://127.0.0.1:9/", 10, 2, 0, time_limit=200, timeout=30, client=client)
    stub = client_stub(tmp_path, client)
    argv = [*(AB_CLIENT if client == "ab" else WRK_CLIENT), "--dir", str(out),
            f"--{client}", str(stub)] + (["--script", str(LUA)] if client == "wrk" else [])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=HOST_ENV)
    pid_file = tmp_path / f"{client}.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    client_pid = int(pid_file.read_text())
    proc.send_signal(sig)
    # bounded by the mechanism: the wrapper kills at once; 20 s is only a busy machine's margin,
    # far below the 260 s cap (time_limit + timeout + 30) it would otherwise wait for
    proc.wait(timeout=20)
    assert proc.returncode == 0, proc.stderr.read()
    record = json.loads((out / "loadgen.json").read_text())
    assert record["interrupted"] == sig.name and record["killed"] is False
    assert not alive(client_pid)
