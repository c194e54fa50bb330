"""benchapp.supervisor: tiny workers first, then the real gevent-pywsgi server.

The supervisor forks and sets signal handlers, so each case runs it in its own
process: this file, run as a script, with the scenario's worker (see the
bottom), or the real server. The `supervised` fixture starts it, in a process
group of its own, and at teardown SIGKILLs that whole group (the supervisor
and any worker it left) and reaps the supervisor, whatever the test did.
Workers leave `<pid>.ready` files in a directory once they serve, so the test
knows whom to kill and can check that none is left afterwards.
Bounds are generous (the hosts are shared): "promptly" is within 20 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

PROMPTLY = 20.0  # seconds: far above the supervisor's 0.2 s tick plus a fork


# --- the fixture: start, a handle, always kill and reap --------------------------------

@dataclass(frozen=True)
class Launch:
    """What `supervised` starts: this file's scenario `name` over `workers`
    workers, or, with `serve_mode`, that mode's real server under benchapp.serve."""

    name: str
    workers: int = 2
    serve_mode: bool = False
    env: dict[str, str] = field(default_factory=dict)
    exit_within: float = PROMPTLY  # seconds the supervisor gets to exit by itself

    def argv(self, workdir: Path, port: int) -> list[str]:
        if self.serve_mode:
            return [sys.executable, "-m", "benchapp.serve", "--mode", self.name, "--profile", "tuned",
                    "--cores", str(self.workers), "--host", "127.0.0.1", "--port", str(port)]
        return [sys.executable, __file__, self.name, str(workdir), str(self.workers)]


def scenario(name: str, workers: int = 2):
    """Run the test with `supervised`: the supervisor over `workers` of scenario `name`."""
    return pytest.mark.parametrize("supervised", [Launch(name, workers)], indirect=True, ids=[name])


@dataclass
class Supervised:
    """The running supervisor: its process, its workers' directory, the port it was given."""

    proc: subprocess.Popen
    workdir: Path
    port: int
    exit_within: float

    def ready_pids(self) -> set[int]:
        return pids(self.workdir, "ready")

    def wait_for(self, what: Callable[[], bool], timeout: float = PROMPTLY) -> None:
        """Until `what()` holds; fails at once if the supervisor exits meanwhile."""
        deadline = time.monotonic() + timeout
        while not what():
            if self.proc.poll() is not None:
                code, err = self.finish()
                raise AssertionError(f"supervisor exited {code}: {err[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s")
            time.sleep(0.05)

    def finish(self) -> tuple[int, str]:
        """The supervisor's exit status and stderr, once it exits by itself (bounded)."""
        try:
            _, err = self.proc.communicate(timeout=self.exit_within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the supervisor did not exit within {self.exit_within} s") from None
        return self.proc.returncode, err

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send `signum`, then finish()."""
        self.proc.send_signal(signum)
        return self.finish()

    def group_left(self) -> bool:
        """Whether any process of the supervisor's group (its workers) is still there.

        The supervisor reaps each worker before it exits, so once it has exited
        and been reaped the group is empty unless a worker escaped it."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.fixture()
def supervised(request, tmp_path: Path) -> Iterator[Supervised]:
    """The supervisor of `request.param` (a Launch: see `scenario`), started in
    a process group of its own; at teardown the group is SIGKILLed (a no-op
    when all exited) and the supervisor reaped, within PROMPTLY."""
    from conftest import APP_DIR, base_env, free_port

    launch: Launch = request.param
    port = free_port()
    proc = subprocess.Popen(launch.argv(tmp_path, port), env=base_env(**launch.env), cwd=APP_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield Supervised(proc, tmp_path, port, launch.exit_within)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # SIGKILL cannot be caught: only a process stuck in the kernel outlasts this.
        proc.communicate(timeout=PROMPTLY)


def pids(workdir: Path, what: str) -> set[int]:
    return {int(p.name.split(".")[0]) for p in workdir.glob(f"*.{what}")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- the supervisor with tiny workers --------------------------------------------

@scenario("one_fails_at_start", workers=3)
def test_a_worker_dying_at_start_ends_the_supervisor_with_1_and_no_child_left(supervised):
    """One worker fails before ready (the others serve): not respawned, the
    others are stopped, the supervisor exits 1 for systemd to restart it."""
    code, err = supervised.finish()
    assert code == 1, err
    assert "died before it was ready (exit code 1); stopping the others and exiting 1" in err, err
    assert "starting another" not in err
    assert "RuntimeError: broken at start" in err  # the worker's traceback is kept
    started = pids(supervised.workdir, "started")
    assert len(started) == 3  # none respawned
    assert not any(alive(pid) for pid in started)
    assert not supervised.group_left()


@scenario("serve")
def test_a_worker_killed_after_ready_is_replaced_then_sigterm_exits_0(supervised):
    """The fault drill's case: SIGKILL a serving worker, a new one takes its
    place and the supervisor stays up; SIGTERM then stops them all, exit 0."""
    supervised.wait_for(lambda: len(supervised.ready_pids()) == 2)
    first = supervised.ready_pids()
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    supervised.wait_for(lambda: len(supervised.ready_pids() - first) == 1)
    assert supervised.proc.poll() is None
    code, err = supervised.stop(signal.SIGTERM)
    assert code == 0, err
    assert f"worker {victim} exited (killed by SIGKILL); starting another" in err
    assert not any(alive(pid) for pid in supervised.ready_pids())
    assert not supervised.group_left()
    # The workers stopped by themselves (their handler ran), none was SIGKILLed.
    assert pids(supervised.workdir, "stopped") == supervised.ready_pids() - {victim}


@scenario("first_dies_after_ready")
def test_a_worker_dying_right_after_ready_is_replaced_not_counted_as_broken(supervised):
    """Readiness, not a start window, tells a crash from a broken start: a
    worker that dies the instant after it served is replaced."""
    supervised.wait_for(lambda: len(supervised.ready_pids()) == 3)  # the one that died, and two serving
    code, err = supervised.stop(signal.SIGTERM)
    assert code == 0, err
    assert "exited (exit code 3); starting another" in err
    assert "exiting 1" not in err
    assert not supervised.group_left()


@scenario("ignores_sigterm")
def test_sigterm_waits_for_the_workers_within_a_bound_then_sigkills(supervised):
    """A worker that ignores SIGTERM is SIGKILLed after stop_timeout (1 s
    here); the stop still ends in exit 0, with no worker left."""
    supervised.wait_for(lambda: len(supervised.ready_pids()) == 2)
    code, err = supervised.stop(signal.SIGTERM)
    assert code == 0, err
    assert "still running 1 s after the stop signal: SIGKILL" in err
    assert not any(alive(pid) for pid in supervised.ready_pids())
    assert not supervised.group_left()


# --- through the real gevent-pywsgi server ---------------------------------------

# Python's start, gevent's import, the fork and the app's import in each
# worker, on a loaded host: a minute, as the earlier subprocess.run gave it.
BROKEN_PYWSGI = Launch("gevent-pywsgi", workers=2, serve_mode=True, env={"BENCHAPP_MAX_DELAY": "not-a-number"},
                       exit_within=60.0)


@pytest.mark.parametrize("supervised", [BROKEN_PYWSGI], indirect=True, ids=["gevent-pywsgi"])
def test_gevent_pywsgi_ends_non_zero_when_its_workers_die_at_start(supervised):
    """Started as its unit starts it (benchapp.serve, 2 workers), with a config
    the app refuses: each worker imports the app after the fork and dies
    before serving, so the server exits 1 instead of respawning them."""
    code, err = supervised.finish()
    assert code == 1, err[-3000:]
    assert "BENCHAPP_MAX_DELAY='not-a-number' is not a number" in err
    assert "pywsgi worker" in err and "died before it was ready" in err, err[-3000:]
    assert "starting another" not in err
    left = subprocess.run(["pgrep", "-f", f"benchapp.pywsgi .*--port {supervised.port}"], capture_output=True)
    assert left.returncode == 1, left.stdout  # no worker left behind
    assert not supervised.group_left()


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
