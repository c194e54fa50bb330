"""Start a mode's server: build its exact argv from the mode table and exec it.

    python -m benchapp.serve --mode uwsgi-gevent            # run (the unit's ExecStart)
    python -m benchapp.serve --mode uwsgi --profile seed --print

The profile comes from --profile, else BENCHAPP_PROFILE, else `tuned`. Exec
(not a child process) keeps the real server as the systemd unit's main PID, so
stop signals and accounting reach it directly.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from benchapp.modes import LOOPS, PROFILES, Mode, get_mode, load_modes, usable_cores


def somaxconn() -> int | None:
    """The kernel's cap on listen backlogs, when readable."""
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return None


def _backlog(opts: dict[str, Any]) -> int | None:
    # uWSGI refuses to start when its listen queue exceeds somaxconn; the kernel
    # would cap it silently anyway, so cap it here for every server alike.
    listen = opts.get("listen")
    cap = somaxconn()
    return min(listen, cap) if listen and cap else listen


def _uwsgi_stop_hooks() -> list[str]:
    """uWSGI hooks that make SIGTERM (systemd's stop) a graceful shutdown, and
    keep a SIGTERM sent while uWSGI starts from being lost.

    uWSGI's own SIGTERM is a brutal reload, and --die-on-term drops the
    requests in flight: gracefully_kill_them_all SIGHUPs each worker (which
    finishes what it holds) and waits for it, as Gunicorn's SIGTERM does.

    The start/stop race: uWSGI sets SIGTERM and SIGHUP to SIG_IGN first thing
    in uwsgi_setup(), and its master installs its own handlers only in
    master_loop(), after loading the app and forking every worker, while the
    first workers already answer. A SIGTERM in between was discarded: the
    master served on until systemd's SIGKILL (15 s). Likewise a worker is
    forked with SIGHUP ignored (inherited) until it installs its handler; the
    master's SIGHUP to a starting worker was lost, and the master waited for
    it forever.

    So both signals are *blocked* from the asap hook (right after option
    parsing, before the app loads or a socket is bound) until a handler
    exists: a blocked signal stays pending on Linux even while its action is
    SIG_IGN, and is delivered on unblocking. The master unblocks them once
    its SIGTERM handler is the graceful one; each worker (forked with them
    blocked) once its own handlers are set, just before it accepts, where a
    pending SIGHUP ends it as gracefully as later (a threaded worker stops
    its loop; an async/gevent one has nothing in flight yet and exits). What
    remains unguarded is uwsgi_setup()'s option parsing, before the asap
    hook: no app is loaded and no socket bound then.
    """
    hooks = {
        "--hook-asap": ["callint:uwsgi_block_signal 15", "callint:uwsgi_block_signal 1"],
        "--hook-master-start": ["unix_signal:15 gracefully_kill_them_all",
                                "callint:uwsgi_unblock_signal 15", "callint:uwsgi_unblock_signal 1"],
        "--hook-accepting": ["callint:uwsgi_unblock_signal 1", "callint:uwsgi_unblock_signal 15"],
    }
    return [arg for option, actions in hooks.items() for action in actions for arg in (option, action)]


def build_argv(mode: Mode, profile: str, *, host: str | None = None, port: int | None = None,
               cores: int | None = None, python: str | None = None) -> list[str]:
    """The command line that serves `mode` with `profile` (no side effects)."""
    opts = mode.options(profile, cores)
    # Normalised: a venv's python started as ../.venv/bin/python has
    # sys.executable /cwd/../.venv/bin/python, and the printed argv (and the
    # unit's) should not depend on how the interpreter was invoked. abspath
    # only folds the path; it does not resolve the venv's symlink to the
    # system python (that would lose the venv).
    py = python or os.path.abspath(sys.executable)
    bindir = Path(py).parent
    host = host or mode.listen_host
    port = port or mode.listen_port
    backlog = _backlog(opts)
    quiet = bool(opts.get("quiet"))  # no per-request log lines

    if mode.server == "devserver":
        return [py, "-m", "flask", "--app", mode.entry, "run", "--no-reload", "--no-debugger",
                "--with-threads" if opts.get("threaded") else "--without-threads",
                "--host", host, "--port", str(port)]

    if mode.server == "pywsgi":
        argv = [py, "-m", "benchapp.pywsgi", "--entry", mode.entry, "--host", host,
                "--port", str(port), "--workers", str(opts.get("workers", 1))]
        if backlog:
            argv += ["--backlog", str(backlog)]
        return argv + (["--quiet"] if quiet else [])

    if mode.server == "uwsgi":
        socket_opt = "--socket" if mode.protocol == "uwsgi" else "--http-socket"
        argv = [str(bindir / "uwsgi"), "--strict", "--master", "--need-app",
                *_uwsgi_stop_hooks(),
                socket_opt, f"{host}:{port}", "--module", f"{mode.entry}:app",
                "--workers", str(opts.get("workers", 1))]
        if "gevent" in opts:
            argv += ["--gevent", str(opts["gevent"]), "--single-interpreter"]
        if "threads" in opts:
            argv += ["--threads", str(opts["threads"])]
        if backlog:
            argv += ["--listen", str(backlog)]
        if quiet:
            argv += ["--disable-logging"]
        if opts.get("thunder_lock"):
            argv += ["--thunder-lock"]  # serialise accept(): one worker wakes per connection
        return argv

    if mode.server == "gunicorn":
        argv = [str(bindir / "gunicorn"), "--bind", f"{host}:{port}",
                "--workers", str(opts.get("workers", 1)),
                "--worker-class", str(opts.get("worker_class", "gthread"))]
        if "threads" in opts:
            argv += ["--threads", str(opts["threads"])]
        if "worker_connections" in opts:
            argv += ["--worker-connections", str(opts["worker_connections"])]
        if "graceful_timeout" in opts:
            # Seconds the master lets workers finish after SIGTERM before it
            # kills them; under systemd's stop timeout, a wedged worker ends
            # in a clean exit instead of the unit's SIGKILL.
            argv += ["--graceful-timeout", str(opts["graceful_timeout"])]
        if backlog:
            argv += ["--backlog", str(backlog)]
        return argv + [f"{mode.entry}:app"]

    if mode.server == "granian":
        # Granian's WSGI interface: Rust (hyper on tokio) does the HTTP; each
        # worker process runs the app on up to --blocking-threads threads, and
        # accepts at most --backpressure connections at once, the rest waiting
        # in the listen backlog (shared by the workers). Left out: Granian's
        # defaults (backlog 1024, backpressure backlog/workers, blocking
        # threads backpressure/2 for WSGI).
        argv = [str(bindir / "granian"), "--interface", "wsgi", "--host", host, "--port", str(port),
                "--workers", str(opts.get("workers", 1))]
        if "blocking_threads" in opts:
            argv += ["--blocking-threads", str(opts["blocking_threads"])]
        if "backpressure" in opts:
            argv += ["--backpressure", str(opts["backpressure"])]
        if backlog:
            argv += ["--backlog", str(max(128, backlog))]  # Granian refuses less than 128
        if quiet:
            argv += ["--no-access-log"]  # Granian's default too: said, not assumed
        if opts.get("respawn_failed_workers"):
            argv += ["--respawn-failed-workers"]  # else a dead worker ends the server
        return argv + [f"{mode.entry}:app"]

    if mode.server == "waitress":
        # One process: an asyncore loop for the connections, --threads run
        # the app; benchapp.waitress_serve adds the graceful SIGTERM that
        # waitress-serve lacks. Waitress logs no request lines: quiet is moot.
        argv = [py, "-m", "benchapp.waitress_serve", "--entry", mode.entry, "--host", host, "--port", str(port)]
        for option in ("threads", "connection_limit"):
            if option in opts:
                argv += ["--" + option.replace("_", "-"), str(opts[option])]
        if backlog:
            argv += ["--backlog", str(backlog)]
        if opts.get("asyncore_use_poll"):
            argv += ["--asyncore-use-poll"]
        return argv

    if mode.server == "uvicorn":
        # The entry holds an ASGI `app` (benchapp.flask_asgi: Flask through
        # asgiref's WsgiToAsgi); its thread comes from BENCHAPP_ASGI_THREAD.
        argv = [str(bindir / "uvicorn"), "--host", host, "--port", str(port),
                "--workers", str(opts.get("workers", 1))]
        if backlog:
            argv += ["--backlog", str(backlog)]
        if quiet:
            argv += ["--no-access-log"]
        return argv + [f"{mode.entry}:app"]

    raise ValueError(f"mode {mode.name}: no argv for server {mode.server!r}")


def for_deployed_app(mode: Mode, env: dict[str, str] | os._Environ) -> Mode:
    """`mode` as it serves the deployed app: the user's (BENCHAPP_USER_APP, benchapp.userapp)
    through the mode's user entry, or benchapp's own when none is deployed."""
    name = env.get("BENCHAPP_USER_APP", "").strip()
    if not name:
        return mode
    entry, why = mode.for_user_app(asgi=bool(env.get("BENCHAPP_USER_ASGI", "").strip()))
    if entry is None:
        raise ValueError(f"mode {mode.name} cannot serve the app {name}: {why}")
    return dataclasses.replace(mode, entry=entry)


def server_env(mode: Mode, profile: str, user_src: str = "") -> dict[str, str]:
    """What the app reads to know how it is served (see benchapp.config)."""
    here = str(Path(__file__).resolve().parent.parent)
    return {
        # Every server finds the package the same way, whatever its cwd; a
        # user's app (BENCHAPP_USER_SRC) after it.
        "PYTHONPATH": here + (os.pathsep + user_src if user_src else ""),
        "BENCHAPP_MODE": mode.name,
        "BENCHAPP_PROFILE": profile,
        "BENCHAPP_SERVER": mode.server,
        "BENCHAPP_UPSTREAM": str(mode.profiles[profile]["upstream"]),
        # gevent.config.loop in its environment form: set before the server
        # (or anything of gevent) starts, as the loop must be chosen before
        # the first hub exists. Sync modes get none.
        **({"GEVENT_LOOP": LOOPS[mode.loop]} if mode.loop else {}),
        # /grpc: channels per process, each its own connection (benchapp.grpc_client).
        **({"BENCHAPP_GRPC_CHANNELS": str(mode.options(profile)["grpc_channels"])}
           if "grpc_channels" in mode.profiles[profile] else {}),
        # uvicorn-asgiref: WsgiToAsgi's thread, per process or per request (benchapp.flask_asgi).
        **({"BENCHAPP_ASGI_THREAD": str(mode.profiles[profile]["asgi_thread"])}
           if "asgi_thread" in mode.profiles[profile] else {}),
    }


def main(argv: list[str] | None = None) -> None:
    modes = load_modes()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", required=True, help="one of: " + ", ".join(modes))
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="default: $BENCHAPP_PROFILE, else tuned")
    parser.add_argument("--host", default=None, help="default: the mode's (0.0.0.0, or 127.0.0.1 behind nginx)")
    parser.add_argument("--port", type=int, default=None, help="default: the mode's port from the table")
    parser.add_argument("--cores", type=int, default=None, help="resolve 'cores' with this count")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--print", action="store_true", help="print the argv (shell-quoted) and exit")
    out.add_argument("--json", action="store_true", help="print the argv as JSON and exit")
    args = parser.parse_args(argv)

    try:
        mode = for_deployed_app(get_mode(args.mode, modes), os.environ)
    except ValueError as err:
        parser.error(str(err))
    profile = args.profile or os.environ.get("BENCHAPP_PROFILE") or "tuned"
    if profile not in PROFILES:
        parser.error(f"BENCHAPP_PROFILE={profile!r}; valid: {', '.join(PROFILES)}")

    cmd = build_argv(mode, profile, host=args.host, port=args.port, cores=args.cores or usable_cores())
    user_src = os.environ.get("BENCHAPP_USER_SRC", "").strip() if mode.entry.startswith("benchapp.user_") else ""
    if args.print:
        env = server_env(mode, profile, user_src)
        shown = [f"{key}={env[key]}" for key in ("GEVENT_LOOP", "BENCHAPP_ASGI_THREAD") if key in env]
        print(shlex.join(shown + cmd))
        return
    if args.json:
        print(json.dumps(cmd))
        return
    os.environ.update(server_env(mode, profile, user_src))
    sys.stdout.flush()
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
