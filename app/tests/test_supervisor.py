"""benchapp.supervisor: tiny workers first, then the real gevent-pywsgi server.

The supervisor forks and sets signal handlers, so each case runs it in its own
process: this file, run as a script, with the scenario's worker (see the
bottom). Workers leave `<pid>.ready` files in a directory once they serve, so
the test knows whom to kill and can check that none is left afterwards.
Bounds are generous (the hosts are shared): "promptly" is within 20 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

PROMPTLY = 20.0  # seconds: far above the supervisor's 0.2 s tick plus a fork


# --- helpers --------------------------------------------------------------------

def start(scenario: str, workdir: Path, count: int = 2) -> subprocess.Popen:
    from conftest import APP_DIR, base_env

    return subprocess.Popen([sys.executable, __file__, scenario, str(workdir), str(count)],
                            env=base_env(), cwd=APP_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def ready_pids(workdir: Path) -> set[int]:
    return {int(p.name.split(".")[0]) for p in workdir.glob("*.ready")}


def wait_for(what: Callable[[], bool], proc: subprocess.Popen, timeout: float = PROMPTLY) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if proc.poll() is not None:
            raise AssertionError(f"supervisor exited {proc.returncode}: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """The supervisor's exit status and stderr, once it exits by itself (bounded)."""
    try:
        _, err = proc.communicate(timeout=PROMPTLY)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the supervisor did not exit within {PROMPTLY} s: {proc.communicate()[1][-2000:]}")
    return proc.returncode, err


# --- the supervisor with tiny workers --------------------------------------------

def test_a_worker_dying_at_start_ends_the_supervisor_with_1_and_no_child_left(tmp_path):
    """One worker fails before ready (the others serve): not respawned, the
    others are stopped, the supervisor exits 1 for systemd to restart it."""
    proc = start("one_fails_at_start", tmp_path, count=3)
    code, err = finish(proc)
    assert code == 1, err
    assert "died before it was ready (exit code 1); stopping the others and exiting 1" in err, err
    assert "starting another" not in err
    assert "RuntimeError: broken at start" in err  # the worker's traceback is kept
    started = {int(p.name.split(".")[0]) for p in tmp_path.glob("*.started")}
    assert len(started) == 3  # none respawned
    assert not any(alive(pid) for pid in started)


def test_a_worker_killed_after_ready_is_replaced_then_sigterm_exits_0(tmp_path):
    """The fault drill's case: SIGKILL a serving worker, a new one takes its
    place and the supervisor stays up; SIGTERM then stops them all, exit 0."""
    proc = start("serve", tmp_path, count=2)
    try:
        wait_for(lambda: len(ready_pids(tmp_path)) == 2, proc)
        first = ready_pids(tmp_path)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(ready_pids(tmp_path) - first) == 1, proc)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        code, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert f"worker {victim} exited (killed by SIGKILL); starting another" in err
    assert not any(alive(pid) for pid in ready_pids(tmp_path))
    # The workers stopped by themselves (their handler ran), none was SIGKILLed.
    assert {int(p.name.split(".")[0]) for p in tmp_path.glob("*.stopped")} == ready_pids(tmp_path) - {victim}


def test_a_worker_dying_right_after_ready_is_replaced_not_counted_as_broken(tmp_path):
    """Readiness, not a start window, tells a crash from a broken start: a
    worker that dies the instant after it served is replaced."""
    proc = start("first_dies_after_ready", tmp_path, count=2)
    try:
        wait_for(lambda: len(ready_pids(tmp_path)) == 3, proc)  # the one that died, and two serving
        proc.send_signal(signal.SIGTERM)
        code, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert "exited (exit code 3); starting another" in err
    assert "exiting 1" not in err


def test_sigterm_waits_for_the_workers_within_a_bound_then_sigkills(tmp_path):
    """A worker that ignores SIGTERM is SIGKILLed after stop_timeout (1 s
    here); the stop still ends in exit 0, with no worker left."""
    proc = start("ignores_sigterm", tmp_path, count=2)
    try:
        wait_for(lambda: len(ready_pids(tmp_path)) == 2, proc)
        proc.send_signal(signal.SIGTERM)
        code, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert "still running 1 s after the stop signal: SIGKILL" in err
    assert not any(alive(pid) for pid in ready_pids(tmp_path))


# --- through the real gevent-pywsgi server ---------------------------------------

def test_gevent_pywsgi_ends_non_zero_when_its_workers_die_at_start(tmp_path):
    """Started as its unit starts it (benchapp.serve, 2 workers), with a config
    the app refuses: each worker imports the app after the fork and dies
    before serving, so the server exits 1 instead of respawning them."""
    from conftest import APP_DIR, PYTHON, base_env, free_port

    port = free_port()
    argv = [PYTHON, "-m", "benchapp.serve", "--mode", "gevent-pywsgi", "--profile", "tuned",
            "--cores", "2", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.run(argv, env=base_env(BENCHAPP_MAX_DELAY="not-a-number"), cwd=APP_DIR,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "BENCHAPP_MAX_DELAY='not-a-number' is not a number" in proc.stderr
    assert "pywsgi worker" in proc.stderr and "died before it was ready" in proc.stderr, proc.stderr[-3000:]
    assert "starting another" not in proc.stderr
    left = subprocess.run(["pgrep", "-f", f"benchapp.pywsgi .*--port {port}"], capture_output=True)
    assert left.returncode == 1, left.stdout  # no worker left behind


# --- the scenarios' workers (this file run as a script) -------------------------------

def _mark(workdir: Path, what: str) -> None:
    (workdir / f"{os.getpid()}.{what}").touch()


def _first(workdir: Path) -> bool:
    """True in exactly one worker: the first to get here."""
    try:
        os.close(os.open(workdir / "first", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def _serve_until_sigterm(workdir: Path, ready: Callable[[], None]) -> None:
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    ready()
    _mark(workdir, "ready")
    while not stopped:
        signal.pause()
    _mark(workdir, "stopped")


def _scenario(name: str, workdir: Path) -> Callable[[Callable[[], None]], None]:
    def one_fails_at_start(ready: Callable[[], None]) -> None:
        _mark(workdir, "started")
        if _first(workdir):
            raise RuntimeError("broken at start")
        _serve_until_sigterm(workdir, ready)

    def serve(ready: Callable[[], None]) -> None:
        _serve_until_sigterm(workdir, ready)

    def first_dies_after_ready(ready: Callable[[], None]) -> None:
        if _first(workdir):
            ready()
            _mark(workdir, "ready")
            os._exit(3)
        _serve_until_sigterm(workdir, ready)

    def ignores_sigterm(ready: Callable[[], None]) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ready()
        _mark(workdir, "ready")
        while True:
            signal.pause()

    return locals()[name]


if __name__ == "__main__":
    from benchapp.supervisor import supervise

    scenario, directory, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    stop_timeout = 1.0 if scenario == "ignores_sigterm" else 10.0
    sys.exit(supervise("test", _scenario(scenario, directory), workers, stop_timeout=stop_timeout))
