"""What the load clients share (benchhost.clients.ab, benchhost.clients.wrk, benchhost.clients.rate): stdlib only."""

from __future__ import annotations

import datetime
import resource
import signal
import subprocess
import time


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(Exception):
    """A stop signal reached the wrapper (an interrupted bench's clean-up): its client must not outlive it."""


def stop_on_signals() -> None:
    """SIGTERM, SIGINT and SIGHUP raise Interrupted, named after the signal."""
    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(signal.Signals(signum).name)
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def _release_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def spawn(argv: list, **kwargs: object) -> subprocess.Popen:
    """The client, started with the stop signals held: call release_signals() inside the try that kills it.

    A stop that came while Popen ran would raise in Popen itself, and the
    client, already forked, would run on with nobody holding its pid. Held,
    it is delivered by release_signals(), where the caller can kill the
    client. The client gets them unblocked before its exec (the wrappers
    are single-threaded, so preexec_fn is safe here).
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        return subprocess.Popen(argv, preexec_fn=_release_signals, **kwargs)
    except BaseException:
        _release_signals()
        raise


def release_signals() -> None:
    """Deliver the stop signals held by spawn() (a pending one raises Interrupted here)."""
    _release_signals()


def now() -> str:
    """UTC, to the second, as loadgen.json's started_at and ended_at."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cpu_line() -> str:
    """/proc/stat's first line: the host's CPU times, read before and after a run."""
    with open("/proc/stat") as fh:
        return fh.readline().strip()


def end_of_run(record: dict, before: resource.struct_rusage) -> int:
    """Stamp the end of a client binary's run into loadgen.json's record (cpu_stat_after, ended_at, ended) and
    return the CPU ms the children (the binary) used since `before` (getrusage(RUSAGE_CHILDREN) at its start)."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record["cpu_stat_after"] = cpu_line()
    record["ended_at"] = now()
    record["ended"] = time.time()
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return round(used * 1000)


def raise_nofile() -> int:
    """The open-files soft limit raised to the hard one, which it returns.

    A client needs a descriptor per connection, and SSH sessions start with a
    soft limit of 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
