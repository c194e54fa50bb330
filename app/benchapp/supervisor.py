"""The pre-fork supervisor of the servers we run ourselves (gevent.pywsgi, the slow API).

    status = supervise("pywsgi", worker, count=4)   # worker(ready) runs in each child
    sys.exit(status)

Each worker is a callable run in a forked child; it gets a `ready` callable
and calls it once it serves (bound, initialised). The supervisor:

- replaces a worker that dies after it was ready: a crash under load (the
  fault drill SIGKILLs one) costs only the requests that worker held;
- stops the others and returns 1 when a worker dies before it was ready: its
  code or config is broken, respawning it would spin forever behind an
  "active" unit, while exiting non-zero lets systemd's Restart=on-failure
  start the service afresh (new code and config included);
- on SIGTERM/SIGINT forwards the signal, waits up to `stop_timeout` for the
  workers to finish what they hold, SIGKILLs the rest and returns 0.

Readiness is a pipe per worker, read when the worker has died: a byte in it
means "was serving", end of file means "died at start". No start window is
guessed, so a slow start on a loaded host is not mistaken for a crash.

Stdlib only, and it runs unchanged in a gevent-patched parent: there
os.fork, os.waitpid and time.sleep are gevent's cooperative versions (gevent's
fork re-initialises the hub in the child) and signal handlers run from the hub.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from typing import Callable, NoReturn

Ready = Callable[[], None]
Worker = Callable[[Ready], None]

#: Seconds the workers get to finish after SIGTERM before they are SIGKILLed:
#: above the servers' own graceful stops (pywsgi's 10 s), under the units'
#: TimeoutStopSec=15, so a wedged worker ends in a clean exit 0 rather than
#: in systemd's SIGKILL of the whole unit.
STOP_TIMEOUT = 13.0

#: How often the supervisor looks for dead workers and its stop deadline. A
#: poll, not a blocking wait: the same loop then works patched and unpatched,
#: and the stop deadline needs no alarm. It bounds only the reaction time.
TICK = 0.2

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def describe(wstatus: int) -> str:
    """A wait status in words: `exit code 1` or `killed by SIGKILL`."""
    code = os.waitstatus_to_exitcode(wstatus)
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class _Readiness:
    """The child's end of its readiness pipe: the first call writes one byte."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def __call__(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.write(fd, b"r")
            os.close(fd)


class Supervisor:
    """N forked workers, kept at N while they run well; see the module docstring."""

    def __init__(self, name: str, worker: Worker, count: int, stop_timeout: float = STOP_TIMEOUT) -> None:
        self.name = name  # starts the log lines: "<name> worker <pid> exited ..."
        self.worker = worker
        self.count = count
        self.stop_timeout = stop_timeout
        self.children: dict[int, int] = {}  # pid -> read end of its readiness pipe
        self.status = 0
        self._deadline: float | None = None  # set once stopping
        self._killed = False

    def log(self, message: str) -> None:
        print(f"{self.name} {message}", file=sys.stderr, flush=True)

    def run(self) -> int:
        """Supervise until stopped or broken; the exit status (0 stopped, 1 broken)."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            for _ in range(self.count):
                if self._deadline is None:
                    self._spawn()
            while self.children:
                self._reap()
                if self._deadline is not None and not self._killed and time.monotonic() >= self._deadline:
                    self._killed = True
                    self.log(f"supervisor: {len(self.children)} worker(s) still running {self.stop_timeout:g} s "
                             "after the stop signal: SIGKILL")
                    self._send(signal.SIGKILL)
                if self.children:
                    time.sleep(TICK)
        except BaseException:
            self._send(signal.SIGKILL)  # leave no orphan serving behind a dead supervisor
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.status

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop(signum)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Forward `signum` to the workers; they get `stop_timeout` seconds to exit."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.stop_timeout
        self._send(signum)

    def _send(self, signum: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        # Blocked across the fork: until the child has reset them, a stop
        # signal would run the supervisor's handler in the child.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._child(read_fd, write_fd, mask)  # never returns
            os.set_blocking(read_fd, False)
            self.children[pid] = read_fd  # before the unblock: a stop now reaches it
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # only the child may write: its death closes the pipe
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if self._deadline is not None:  # a stop handled while forking: this one stops too
            self._send(signal.SIGTERM)

    def _child(self, read_fd: int, write_fd: int, mask: set[signal.Signals]) -> NoReturn:
        code = 1
        try:
            os.close(read_fd)
            for fd in self.children.values():  # the siblings' pipes
                os.close(fd)
            self.children.clear()
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)  # until the worker sets its own
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self.worker(_Readiness(write_fd))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # the traceback goes to the journal, the status to the supervisor
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001 - exiting anyway
                    pass
            os._exit(code)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, wstatus = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, wstatus = next(iter(self.children)), 0  # gone unseen: count it as exited
            if pid == 0:
                return
            if pid in self.children:
                self._exited(pid, wstatus)

    def _exited(self, pid: int, wstatus: int) -> None:
        fd = self.children.pop(pid)
        try:
            was_ready = os.read(fd, 1) != b""
        except BlockingIOError:  # nothing written, the write end still open in a grandchild
            was_ready = False
        finally:
            os.close(fd)
        if self._deadline is not None:
            return
        how = describe(wstatus)
        if not was_ready:
            self.log(f"worker {pid} died before it was ready ({how}); stopping the others and exiting 1")
            self.status = 1
            self.stop(signal.SIGTERM)
            return
        self.log(f"worker {pid} exited ({how}); starting another")
        self._spawn()


def supervise(name: str, worker: Worker, count: int, stop_timeout: float = STOP_TIMEOUT) -> int:
    """Run `count` workers under a Supervisor; the process's exit status."""
    return Supervisor(name, worker, count, stop_timeout).run()
