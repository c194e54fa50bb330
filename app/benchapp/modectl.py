"""flaskbench-mode: the app host's one mode switch.

    flaskbench-mode get
    flaskbench-mode set MODE [PROFILE] [--monitor] [--enable] [--dry-run]
    flaskbench-mode stop
    flaskbench-mode lock RUN_ID --holder WHO --until EPOCH
    flaskbench-mode unlock [RUN_ID | --force]

Every switch goes through here: the flask_app role's deploy and checks, the
bench (and its restore after a run or a Ctrl-C), the drills and a person at
the shell. Each prints one JSON object. `set` is atomic from a client's point
of view: it writes profile.env (a new file renamed over the old one), starts
or restarts the mode's unit (its Conflicts= stops whichever mode ran) and
returns only once /healthz on the mode's port names the mode and profile;
it changes nothing when the host already runs that mode and profile.

`lock` is how a bench takes the host: it records the run, who runs it, until
when it may run, and the state to return to (the mode, profile and monitor
setting in force). A second bench gets exit 3 and the holder's record; a
record past its `until` is stale (its bench was interrupted and could not
clean up): `lock` then restores the state it recorded and takes the host.
`unlock RUN_ID` restores that state and removes the record (`--force`:
whatever run holds it).
Exit codes: 0 done, 1 the switch failed (the JSON says why), 2 bad arguments,
3 the host is held by another bench.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from benchapp.modes import PROFILES, Mode, load_modes

DEFAULT_PROFILE = "tuned"  # what the units run without profile.env
ACTIVE = ("active", "activating", "reloading")
LOCK_FILE = "bench-lock.json"  # in the state directory (--state-dir)
HEADER = (
    "# Written by flaskbench-mode (the app host's mode switch): the profile every\n"
    "# flask-<mode> unit starts with. Switch with `flaskbench-mode set MODE PROFILE`.\n"
)


class SwitchError(RuntimeError):
    """The switch did not reach the asked state; the message says where it stopped."""


def profile_text(profile: str, monitor: bool, max_blocking: float) -> str:
    """profile.env for a profile, with gevent's monitor thread or not."""
    text = HEADER + f"BENCHAPP_PROFILE={profile}\n"
    if monitor:
        # gevent's monitor thread reports a greenlet holding the hub longer
        # than max_blocking seconds (the gevent modes; /healthz counts them).
        text += f"GEVENT_MONITOR_THREAD_ENABLE=true\nGEVENT_MAX_BLOCKING_TIME={max_blocking:g}\n"
    return text


#: The record of a user's app, in config_dir, that site.yml -e app=DIR writes.
APP_RECORD = "app.json"


def read_json(path: Path) -> Any:
    """A JSON file's content; None when it does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an environment file ({} when it does not exist)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    env = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip().strip('"')
    return env


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename: a unit starting now reads the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: The quick shutdown signal of each server kind that has one (Gunicorn: SIGINT
#: or SIGQUIT; uWSGI: SIGINT kills the stack, while our SIGTERM is graceful).
QUICK_STOP = {"gunicorn": "SIGINT", "uwsgi": "SIGINT"}
#: A worker still alive this long after the quick signal is stuck (grpc-gevent-noinit's
#: hub blocked in C never runs its signal handler): it gets SIGKILL, and its main
#: process, left with no worker, exits instead of waiting out graceful_timeout.
STUCK_AFTER_S = 1.0


def systemctl(*args: str) -> str:
    """Run systemctl; a failure raises SwitchError with systemctl's own message."""
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SwitchError(f"systemctl {' '.join(args)}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def unit_states(modes: dict[str, Mode]) -> dict[str, dict[str, str]]:
    """ActiveState and UnitFileState of every mode's unit, by mode name."""
    out = systemctl("show", "--property=Id,ActiveState,UnitFileState", *(m.unit for m in modes.values()))
    by_unit: dict[str, dict[str, str]] = {}
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in props:
            by_unit[props["Id"]] = props
    return {name: by_unit.get(m.unit, {}) for name, m in modes.items()}


def main_pid_of(unit: str) -> int:
    """The unit's main process id (0: none)."""
    out = systemctl("show", "--property=MainPID", unit)
    value = dict(line.split("=", 1) for line in out.splitlines() if "=" in line).get("MainPID", "0")
    return int(value) if value.isdigit() else 0


def children(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """The processes whose parent is `pid`, read from /proc."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[-1].split()  # the name, in parentheses, may hold spaces
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def answers(mode: Mode, path: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of `path` on the mode's port on loopback, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{mode.port}{path}", timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError, urllib.error.URLError):
        return None


def health(mode: Mode, timeout: float = 2.0) -> dict[str, Any] | None:
    """The mode's /healthz answer on loopback, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{mode.port}/healthz", timeout=timeout) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


class Held(RuntimeError):
    """Another bench holds the host; args[0] is its lock record."""


class Host:
    """The app host's mode state: the mode table, profile.env, the units, the bench lock."""

    def __init__(self, config_dir: Path, modes: dict[str, Mode], state_dir: Path | None = None):
        self.config_dir = config_dir
        self.profile_file = config_dir / "profile.env"
        self.modes = modes
        self.lock_file = (state_dir or Path("/var/lib/flaskbench")) / LOCK_FILE
        # A user's app (site.yml -e app=DIR, benchapp.userapp) in place of benchapp.
        self.app_env = read_env(config_dir / "app.env")

    @property
    def user_app(self) -> str | None:
        return self.app_env.get("BENCHAPP_USER_APP") or None

    def check_serves(self, mode: Mode) -> None:
        """SwitchError when the deployed user's app cannot be served by `mode`."""
        if self.user_app:
            entry, why = mode.for_user_app(asgi=bool(self.app_env.get("BENCHAPP_USER_ASGI")))
            if entry is None:
                raise SwitchError(f"mode {mode.name} cannot serve the deployed app {self.user_app}: {why}")

    def state(self) -> dict[str, Any]:
        """What runs now and what the next start will read."""
        states = unit_states(self.modes)
        running = [name for name, s in states.items() if s.get("ActiveState") in ACTIVE]
        env = read_env(self.profile_file)
        mode = running[0] if running else None
        return {
            "mode": mode,
            "profile": env.get("BENCHAPP_PROFILE", DEFAULT_PROFILE),
            "monitor": env.get("GEVENT_MONITOR_THREAD_ENABLE", "").lower() == "true",
            "unit": self.modes[mode].unit if mode else None,
            "port": self.modes[mode].port if mode else None,
            "running": running,
            "enabled": [name for name, s in states.items() if s.get("UnitFileState") == "enabled"],
            # The deployed app's limit (app.env), what a bench's delays are checked against.
            "max_delay": (float(self.app_env["BENCHAPP_MAX_DELAY"]) if "BENCHAPP_MAX_DELAY" in self.app_env
                          else None),
            "lock": self.read_lock(),
            # A user's app deployed by site.yml -e app=DIR (flaskbench.userapp.record); null: the built-in app.
            "app": read_json(self.config_dir / APP_RECORD),
        }

    def set(self, name: str, profile: str, monitor: bool = False, max_blocking: float = 0.1,
            enable: bool = False, dry_run: bool = False, timeout: float = 60.0,
            quick_stop: bool = False) -> dict[str, Any]:
        """Run `name` with `profile`; return what changed (nothing when it already ran so).

        quick_stop (the bench, between two runs, when nothing is left to
        finish): a running mode whose server has a quick shutdown signal
        (QUICK_STOP) gets it instead of the graceful stop, whose 1-second
        loops in Gunicorn and uWSGI cost 1 to 1.5 s a switch.
        """
        mode = self.modes[name]
        self.check_serves(mode)
        before = self.state()
        text = profile_text(profile, monitor, max_blocking)
        try:
            old_text = self.profile_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            old_text = None
        profile_changed = old_text != text
        others = [m for m in before["running"] if m != name]
        start = before["mode"] != name or bool(others) or profile_changed
        enable_changes = []
        if enable:
            enable_changes = [("disable", self.modes[m].unit) for m in before["enabled"] if m != name]
            if name not in before["enabled"]:
                enable_changes.append(("enable", mode.unit))
        changed = profile_changed or start or bool(enable_changes)
        result = {"changed": changed, "mode": name, "profile": profile, "monitor": monitor, "unit": mode.unit,
                  "port": mode.port, "previous": {k: before[k] for k in ("mode", "profile", "monitor")}}
        if dry_run:
            return result
        if profile_changed:
            write_atomically(self.profile_file, text)
        for action, unit in enable_changes:
            systemctl(action, "--quiet", unit)
        if start:
            if quick_stop:
                for running in [m for m in before["running"] if self.quick_stop(self.modes[m])]:
                    before["running"].remove(running)
                    others = [m for m in others if m != running]
            # Conflicts= stops the mode that ran; restart re-reads profile.env.
            systemctl("restart" if name in before["running"] else "start", mode.unit)
            for other in others:
                systemctl("stop", self.modes[other].unit)
        result["healthz"] = self.wait(mode, profile, timeout)
        return result

    @staticmethod
    def quick_stop(mode: Mode, within: float = 3.0) -> bool:
        """Stop `mode` with its server's quick shutdown signal; False when it has none.

        The signal goes to the main process only, which ends its own workers
        and exits: inside containers systemd may not see a unit's cgroup
        empty after it SIGKILLed leftover processes, and waits out the stop
        timeout. A worker that outlives the signal by STUCK_AFTER_S is
        SIGKILLed (the main process reaps it and still exits last). The stop
        that follows cancels a Restart=on-failure and falls back to the
        graceful stop if the server did not exit.
        """
        signal_name = QUICK_STOP.get(mode.server)
        if signal_name is None:
            return False
        main_pid = main_pid_of(mode.unit)
        systemctl("kill", "--kill-whom=main", f"--signal={signal_name}", mode.unit)
        start = time.monotonic()
        stuck_checked = False
        while time.monotonic() < start + within:
            out = systemctl("show", "--property=ActiveState", mode.unit)
            if not {"ActiveState=active", "ActiveState=deactivating"} & set(out.split()):
                break  # exited (inactive, failed, or activating: a restart pending)
            if not stuck_checked and main_pid and time.monotonic() >= start + STUCK_AFTER_S:
                stuck_checked = True
                for pid in children(main_pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.02)
        systemctl("stop", mode.unit)
        systemctl("reset-failed", mode.unit)
        return True

    def wait(self, mode: Mode, profile: str, timeout: float) -> dict[str, Any]:
        """/healthz of `mode` once it names the mode and profile (a user's app: its health path
        once it answers 200); SwitchError after `timeout` s."""
        if self.user_app:
            return self.wait_user_app(mode, timeout)
        deadline = time.monotonic() + timeout
        seen = None
        while True:
            seen = health(mode)
            if seen and seen.get("mode") == mode.name and seen.get("profile") == profile:
                return seen
            if time.monotonic() >= deadline:
                state = unit_states({mode.name: mode})[mode.name].get("ActiveState", "unknown")
                raise SwitchError(f"{mode.unit} is {state}; /healthz on :{mode.port} did not report mode "
                                  f"{mode.name} profile {profile} within {timeout:g} s (last answer: {seen})")
            time.sleep(0.05)

    def wait_user_app(self, mode: Mode, timeout: float) -> dict[str, Any]:
        """The user's app answers its health path with 200. The unit was (re)started before:
        systemctl returns once the mode that ran on the port has stopped (Conflicts=)."""
        path = self.app_env.get("BENCHAPP_USER_HEALTH") or "/"
        deadline = time.monotonic() + timeout
        while True:
            status = answers(mode, path)
            if status == 200:
                return {"app": self.user_app, "path": path, "status": status}
            if time.monotonic() >= deadline:
                state = unit_states({mode.name: mode})[mode.name].get("ActiveState", "unknown")
                raise SwitchError(f"{mode.unit} is {state}; the app {self.user_app}'s {path} on :{mode.port} did not "
                                  f"answer 200 within {timeout:g} s (last: {status or 'no answer'}; "
                                  f"journalctl -u {mode.unit} says why)")
            time.sleep(0.05)

    def read_lock(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.lock_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            return {"run_id": None, "until": 0, "corrupt": True}  # unreadable: treated as stale

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        """Back to the state a lock recorded: its mode and profile, or no mode."""
        was = record.get("restore") or {}
        if was.get("mode") in self.modes:
            return self.set(was["mode"], was.get("profile", DEFAULT_PROFILE), bool(was.get("monitor")),
                            float(was.get("max_blocking", 0.1)))
        return self.stop()

    def lock(self, run_id: str, holder: str, until: float) -> dict[str, Any]:
        """Take the host for a bench, restoring first what a stale lock recorded."""
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        restored = None
        held = self.read_lock()
        if held is not None:
            if held.get("run_id") == run_id:
                return {"changed": False, "locked": held, "restored_stale": None}
            if float(held.get("until", 0)) > time.time():
                raise Held(held)
            restored = {"run_id": held.get("run_id"), **self.restore(held)}
            self.lock_file.unlink(missing_ok=True)
        state = self.state()
        env = read_env(self.profile_file)
        record = {"run_id": run_id, "holder": holder, "since": time.time(), "until": until,
                  "restore": {"mode": state["mode"], "profile": state["profile"], "monitor": state["monitor"],
                              "max_blocking": float(env.get("GEVENT_MAX_BLOCKING_TIME", 0.1))}}
        try:
            # O_EXCL: of two benches starting at once, one creates the record.
            fd = os.open(self.lock_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise Held(self.read_lock() or {}) from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        return {"changed": True, "locked": record, "restored_stale": restored}

    def unlock(self, run_id: str | None, force: bool = False) -> dict[str, Any]:
        """Restore the state the lock recorded and release the host."""
        held = self.read_lock()
        if held is None:
            return {"changed": False, "unlocked": None}
        if not force and held.get("run_id") != run_id:
            raise Held(held)
        result = self.restore(held)
        self.lock_file.unlink(missing_ok=True)
        return {"changed": True, "unlocked": held.get("run_id"), "restored": result}

    def stop(self, dry_run: bool = False) -> dict[str, Any]:
        """Stop every mode's unit."""
        before = self.state()
        if not dry_run:
            for name in before["running"]:
                systemctl("stop", self.modes[name].unit)
        return {"changed": bool(before["running"]), "stopped": before["running"]}


def parse_args(argv: list[str], modes: dict[str, Mode]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="flaskbench-mode", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", type=Path, default=Path("/etc/flaskbench"))
    parser.add_argument("--state-dir", type=Path, default=Path("/var/lib/flaskbench"),
                        help="holds the bench lock")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("get", help="print the mode and profile in force")
    set_ = sub.add_parser("set", help="run MODE with PROFILE and wait until it answers")
    set_.add_argument("mode", metavar="MODE", help=f"one of: {', '.join(modes)}")
    set_.add_argument("profile", nargs="?", default=DEFAULT_PROFILE, choices=PROFILES)
    set_.add_argument("--monitor", action="store_true", help="gevent's monitor thread on")
    set_.add_argument("--monitor-max-blocking", type=float, default=0.1, metavar="S")
    set_.add_argument("--enable", action="store_true", help="also start MODE at boot, and no other mode")
    set_.add_argument("--timeout", type=float, default=60.0, metavar="S", help="wait for /healthz (default 60)")
    set_.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    set_.add_argument("--quick-stop", action="store_true",
                      help="stop the running mode with its server's quick shutdown signal (the bench, between runs)")
    stop = sub.add_parser("stop", help="stop whichever mode runs")
    stop.add_argument("--dry-run", action="store_true")
    lock = sub.add_parser("lock", help="take the host for a bench run (exit 3 when another holds it)")
    lock.add_argument("run_id", metavar="RUN_ID")
    lock.add_argument("--holder", required=True, help="who runs the bench (user@host pid)")
    lock.add_argument("--until", type=float, required=True, metavar="EPOCH",
                      help="when the run will be over at the latest; past it the lock is stale")
    unlock = sub.add_parser("unlock", help="restore what the lock recorded and release the host")
    unlock.add_argument("run_id", metavar="RUN_ID", nargs="?")
    unlock.add_argument("--force", action="store_true", help="whichever run holds it")
    args = parser.parse_args(argv)
    if args.command == "set" and args.mode not in modes:
        parser.error(f"unknown mode {args.mode!r}; valid modes: {', '.join(modes)}")
    if args.command == "set" and (args.timeout <= 0 or args.monitor_max_blocking <= 0):
        parser.error("--timeout and --monitor-max-blocking must be positive")
    if args.command == "unlock" and not (args.run_id or args.force):
        parser.error("unlock needs the RUN_ID that holds the lock, or --force")
    return args


def main(argv: list[str] | None = None, modes: dict[str, Mode] | None = None) -> int:
    modes = load_modes() if modes is None else modes
    args = parse_args(sys.argv[1:] if argv is None else argv, modes)
    host = Host(args.config_dir, modes, args.state_dir)
    try:
        if args.command == "get":
            result = host.state()
        elif args.command == "set":
            result = host.set(args.mode, args.profile, args.monitor, args.monitor_max_blocking,
                              args.enable, args.dry_run, args.timeout, args.quick_stop)
        elif args.command == "lock":
            result = host.lock(args.run_id, args.holder, args.until)
        elif args.command == "unlock":
            result = host.unlock(args.run_id, args.force)
        else:
            result = host.stop(args.dry_run)
    except SwitchError as err:
        print(json.dumps({"failed": True, "msg": str(err)}))
        return 1
    except Held as held:
        record = held.args[0]
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(record.get("until", 0))))
        print(json.dumps({"failed": True, "held_by": record,
                          "msg": f"the app host is held by bench run {record.get('run_id')} "
                                 f"({record.get('holder')}) until {until}; if that bench is gone, "
                                 f"`flaskbench-mode unlock --force` on the app host restores and frees it"}))
        return 3
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
