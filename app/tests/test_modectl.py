"""flaskbench-mode (benchapp.modectl): the app host's one mode switch.

systemctl is a stand-in on PATH that keeps the units' states in a JSON file
(starting a unit stops the others, as Conflicts= does), and one small HTTP
server answers /healthz for every mode (the table's copy points each mode's
port at it) with the mode that runs and the profile profile.env holds.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from benchapp import modectl
from benchapp.modes import MODES_FILE

FAKE_SYSTEMCTL = textwrap.dedent('''\
    #!{python}
    import json, os, sys
    path = os.environ["FAKE_SYSTEMCTL_STATE"]
    state = json.load(open(path))
    state["calls"].append(sys.argv[1:])
    cmd, args = sys.argv[1], [a for a in sys.argv[2:] if not a.startswith("--")]
    units = state["units"]
    if cmd == "show":
        print("\\n\\n".join(f"Id={{u}}\\nActiveState={{units.get(u, {{}}).get('active', 'inactive')}}\\n"
                           f"UnitFileState={{units.get(u, {{}}).get('file', 'disabled')}}" for u in args))
    elif cmd in ("start", "restart"):
        if args[0] in state.get("broken", []):
            units.setdefault(args[0], {{}})["active"] = "failed"
        else:
            for u in units:
                units[u]["active"] = "inactive"
            units.setdefault(args[0], {{}})["active"] = "active"
    elif cmd in ("stop", "reset-failed"):
        units.setdefault(args[0], {{}})["active"] = "inactive"
    elif cmd == "kill":
        units.setdefault(args[0], {{}})["active"] = "activating"  # exited: Restart=on-failure pending
    elif cmd in ("enable", "disable"):
        units.setdefault(args[0], {{}})["file"] = cmd + "d"
    json.dump(state, open(path, "w"))
''')


class Health(http.server.BaseHTTPRequestHandler):
    """/healthz as the app answers it: the running mode and the profile it started with."""

    state_file: Path
    profile_file: Path

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        units = json.loads(self.state_file.read_text())["units"]
        running = [u for u, s in units.items() if s.get("active") == "active"]
        if not running:
            self.send_error(503)
            return
        profile = modectl.read_env(self.profile_file).get("BENCHAPP_PROFILE", "tuned")
        body = json.dumps({"mode": running[0][len("flask-"):-len(".service")], "profile": profile}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake app host: systemctl, /etc/flaskbench, a /healthz server, a table pointing at it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL.format(python=sys.executable))
    systemctl.chmod(0o755)
    state = tmp_path / "systemd.json"
    state.write_text(json.dumps({"units": {}, "calls": []}))
    config = tmp_path / "etc"
    config.mkdir()
    (config / "app.env").write_text("BENCHAPP_MAX_DELAY=12.5\nBENCHAPP_DB_POOL_SIZE=10\n")

    handler = type("H", (Health,), {"state_file": state, "profile_file": config / "profile.env"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    table = yaml.safe_load(MODES_FILE.read_text())
    for mode in table["modes"].values():
        mode["port"] = server.server_address[1]
    table_file = tmp_path / "modes.yml"
    table_file.write_text(yaml.safe_dump(table, sort_keys=False))

    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_STATE", str(state))
    monkeypatch.setenv("FLASKBENCH_MODES_FILE", str(table_file))

    def run(*args: str) -> tuple[int, dict]:
        done = subprocess.run([sys.executable, "-m", "benchapp.modectl", "--config-dir", str(config),
                               "--state-dir", str(tmp_path / "state"), *args],
                              capture_output=True, text=True, timeout=60, cwd=Path(modectl.__file__).parents[1])
        return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else {"stderr": done.stderr})

    def calls() -> list[list[str]]:
        return [c for c in json.loads(state.read_text())["calls"] if c[0] != "show"]

    def reset_calls() -> None:
        data = json.loads(state.read_text())
        data["calls"] = []
        state.write_text(json.dumps(data))

    run.calls, run.reset_calls, run.config, run.state = calls, reset_calls, config, state
    yield run
    server.shutdown()


def test_set_switches_then_changes_nothing_the_second_time(host) -> None:
    rc, out = host("set", "uwsgi-gevent", "seed", "--enable")
    assert rc == 0, out
    assert out["changed"] and out["healthz"] == {"mode": "uwsgi-gevent", "profile": "seed"}
    assert out["previous"] == {"mode": None, "profile": "tuned", "monitor": False}
    assert ["start", "flask-uwsgi-gevent.service"] in host.calls()
    assert ["enable", "--quiet", "flask-uwsgi-gevent.service"] in host.calls()
    assert "BENCHAPP_PROFILE=seed" in (host.config / "profile.env").read_text().splitlines()

    host.reset_calls()
    rc, out = host("set", "uwsgi-gevent", "seed", "--enable")
    assert rc == 0 and out["changed"] is False, out
    assert host.calls() == []  # nothing restarted, enabled or written


def test_a_new_profile_restarts_the_running_mode_and_monitor_is_written(host) -> None:
    host("set", "gunicorn-gevent", "tuned")
    host.reset_calls()
    rc, out = host("set", "gunicorn-gevent", "seed", "--monitor", "--monitor-max-blocking", "0.2")
    assert rc == 0 and out["changed"], out
    assert host.calls() == [["restart", "flask-gunicorn-gevent.service"]]
    env = modectl.read_env(host.config / "profile.env")
    assert env == {"BENCHAPP_PROFILE": "seed", "GEVENT_MONITOR_THREAD_ENABLE": "true", "GEVENT_MAX_BLOCKING_TIME": "0.2"}
    rc, got = host("get")
    assert (got["mode"], got["profile"], got["monitor"], got["max_delay"]) == ("gunicorn-gevent", "seed", True, 12.5)


def test_get_shows_the_deployed_user_app_or_null(host) -> None:
    """The bench checks a user's app against it (bench.yml -e app=DIR): app.json as site.yml wrote it."""
    rc, got = host("get")
    assert rc == 0 and got["app"] is None, got
    record = {"name": "shop", "spec_sha": "0123456789abcdef", "routes": [], "modes": {}, "skipped": {}}
    (host.config / "app.json").write_text(json.dumps(record))
    rc, got = host("get")
    assert rc == 0 and got["app"] == record, got


def test_quick_stop_signals_the_running_server_then_starts_the_next(host) -> None:
    host("set", "uwsgi", "tuned")
    host.reset_calls()
    rc, out = host("set", "gunicorn-gevent", "seed", "--quick-stop")
    assert rc == 0 and out["healthz"] == {"mode": "gunicorn-gevent", "profile": "seed"}, out
    assert host.calls() == [["kill", "--kill-whom=main", "--signal=SIGINT", "flask-uwsgi.service"],
                            ["stop", "flask-uwsgi.service"], ["reset-failed", "flask-uwsgi.service"],
                            ["start", "flask-gunicorn-gevent.service"]]
    host.reset_calls()  # the same mode, another profile: signalled, then started (not restarted)
    rc, out = host("set", "gunicorn-gevent", "tuned", "--quick-stop")
    assert rc == 0 and host.calls()[0][:3] == ["kill", "--kill-whom=main", "--signal=SIGINT"], host.calls()
    assert host.calls()[-1] == ["start", "flask-gunicorn-gevent.service"]
    host.reset_calls()  # nothing to change: nothing stopped
    rc, out = host("set", "gunicorn-gevent", "tuned", "--quick-stop")
    assert rc == 0 and out["changed"] is False and host.calls() == []


def test_quick_stop_leaves_a_server_without_a_quick_signal_to_the_graceful_stop(host) -> None:
    host("set", "gevent-pywsgi", "tuned")
    host.reset_calls()
    rc, out = host("set", "uwsgi", "tuned", "--quick-stop")
    assert rc == 0, out
    assert not [c for c in host.calls() if c[0] == "kill"]  # Conflicts= stops pywsgi as usual
    assert host.calls()[0] == ["start", "flask-uwsgi.service"]


def test_switching_modes_stops_the_other_and_moves_the_boot_mode(host) -> None:
    host("set", "uwsgi", "tuned", "--enable")
    rc, out = host("set", "nginx-uwsgi", "tuned", "--enable")
    assert rc == 0 and out["previous"]["mode"] == "uwsgi", out
    rc, got = host("get")
    assert got["running"] == ["nginx-uwsgi"] and got["enabled"] == ["nginx-uwsgi"]
    assert got["unit"] == "flask-nginx-uwsgi.service"


def test_dry_run_says_what_would_change_and_changes_nothing(host) -> None:
    rc, out = host("set", "uwsgi", "seed", "--enable", "--dry-run")
    assert rc == 0 and out["changed"], out
    assert host.calls() == [] and not (host.config / "profile.env").exists()


def test_an_unknown_mode_is_refused_naming_the_valid_ones(host) -> None:
    rc, out = host("set", "nope")
    assert rc == 2
    assert "unknown mode 'nope'; valid modes: devserver, devserver-threaded, uwsgi" in out["stderr"]
    assert host.calls() == []


def test_a_mode_that_never_answers_fails_with_its_state(host) -> None:
    state = json.loads(host.state.read_text())
    state["broken"] = ["flask-gunicorn.service"]
    host.state.write_text(json.dumps(state))
    rc, out = host("set", "gunicorn", "tuned", "--timeout", "1")
    assert rc == 1 and out["failed"], out
    assert "flask-gunicorn.service is failed" in out["msg"]


def test_stop_stops_whatever_runs(host) -> None:
    host("set", "uwsgi", "tuned")
    rc, out = host("stop")
    assert rc == 0 and out == {"changed": True, "stopped": ["uwsgi"]}
    rc, got = host("get")
    assert got["mode"] is None and got["running"] == []
    assert host("stop")[1]["changed"] is False


def test_profile_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "profile.env"
    target.write_text("old\n")
    modectl.write_atomically(target, modectl.profile_text("seed", False, 0.1))
    assert target.read_text().endswith("BENCHAPP_PROFILE=seed\n")
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["profile.env"]  # no temporary left behind


def test_a_bench_lock_records_the_state_and_unlock_restores_it(host) -> None:
    host("set", "gunicorn-gevent", "seed", "--monitor")
    rc, out = host("lock", "run-1", "--holder", "me@ctl pid 1", "--until", str(time.time() + 600))
    assert rc == 0 and out["changed"], out
    assert out["locked"]["restore"] == {"mode": "gunicorn-gevent", "profile": "seed", "monitor": True,
                                        "max_blocking": 0.1}
    assert host("get")[1]["lock"]["run_id"] == "run-1"
    host("set", "uwsgi", "tuned")  # the bench switches around
    rc, again = host("lock", "run-1", "--holder", "me@ctl pid 1", "--until", "0")
    assert rc == 0 and again["changed"] is False  # the holder itself: nothing to do
    rc, out = host("unlock", "run-1")
    assert rc == 0 and out["unlocked"] == "run-1", out
    rc, got = host("get")
    assert (got["mode"], got["profile"], got["monitor"], got["lock"]) == ("gunicorn-gevent", "seed", True, None)


def test_a_second_bench_is_refused_naming_the_holder(host) -> None:
    host("lock", "run-1", "--holder", "alice@ctl pid 7", "--until", str(time.time() + 600))
    rc, out = host("lock", "run-2", "--holder", "bob@ctl pid 8", "--until", str(time.time() + 600))
    assert rc == 3 and out["held_by"]["run_id"] == "run-1", out
    assert "held by bench run run-1 (alice@ctl pid 7)" in out["msg"]
    rc, out = host("unlock", "run-2")
    assert rc == 3, out  # not its lock
    assert host("get")[1]["lock"]["run_id"] == "run-1"


def test_a_stale_lock_is_restored_before_the_next_bench_takes_the_host(host) -> None:
    host("set", "nginx-uwsgi", "tuned")
    host("lock", "run-1", "--holder", "gone", "--until", str(time.time() + 600))
    host("set", "gunicorn", "seed")  # interrupted mid-run: left in another mode
    state = json.loads((host.config.parent / "state" / "bench-lock.json").read_text())
    state["until"] = time.time() - 1  # its deadline passed
    (host.config.parent / "state" / "bench-lock.json").write_text(json.dumps(state))
    rc, out = host("lock", "run-2", "--holder", "me", "--until", str(time.time() + 600))
    assert rc == 0, out
    assert out["restored_stale"]["run_id"] == "run-1" and out["restored_stale"]["mode"] == "nginx-uwsgi"
    assert out["locked"]["restore"]["mode"] == "nginx-uwsgi"  # what run-2 returns to
    rc, got = host("get")
    assert (got["mode"], got["profile"]) == ("nginx-uwsgi", "tuned")


def test_unlock_force_frees_a_host_whoever_holds_it(host) -> None:
    rc, out = host("unlock")
    assert rc == 2  # neither a run id nor --force
    host("lock", "run-1", "--holder", "x", "--until", str(time.time() + 600))
    rc, out = host("unlock", "--force")
    assert rc == 0 and out["unlocked"] == "run-1" and out["restored"]["stopped"] == []
    assert host("unlock", "--force")[1] == {"changed": False, "unlocked": None}


STUCK_SERVER = textwrap.dedent('''\
    import os, signal, subprocess, sys, time
    # A main process that, on SIGINT, waits for its worker as Gunicorn's arbiter does;
    # the worker ignores SIGINT (a hub blocked in C never runs its handler).
    worker = subprocess.Popen([sys.executable, "-c",
                               "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                               "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    worker.stdout.readline()
    def stop(*_):
        os.kill(worker.pid, signal.SIGINT)
        worker.wait()
        sys.exit(0)
    signal.signal(signal.SIGINT, stop)
    print(worker.pid, flush=True)
    time.sleep(60)
''')


def test_children_reads_a_process_tree() -> None:
    parent = subprocess.Popen([sys.executable, "-c", STUCK_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert modectl.children(parent.pid) == [worker]
        assert modectl.children(worker) == []
    finally:
        parent.kill()
        parent.wait()


def test_quick_stop_kills_a_stuck_worker_so_its_main_process_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    server = subprocess.Popen([sys.executable, "-c", STUCK_SERVER], stdout=subprocess.PIPE, text=True)
    worker = int(server.stdout.readline())
    calls, states = [], []

    def systemctl(*args: str) -> str:  # the unit is the process above: active until it exits
        calls.append(args)
        if args[0] == "kill":
            server.send_signal(2)
        if args[:2] == ("show", "--property=MainPID"):
            return f"MainPID={server.pid}\n"
        if args[:2] == ("show", "--property=ActiveState"):
            states.append("active" if server.poll() is None else "inactive")
            return f"ActiveState={states[-1]}\n"
        return ""

    monkeypatch.setattr(modectl, "systemctl", systemctl)
    mode = modectl.load_modes()["grpc-gevent-noinit"]
    try:
        assert modectl.Host.quick_stop(mode, within=30.0) is True
        # its wait ended on the unit's end, not on `within`: the main process exited within 30 s, while
        # its worker, deaf to SIGINT, sleeps 60 s; only quick_stop's SIGKILL (at STUCK_AFTER_S) ended it
        assert states[-1] == "inactive" and states[0] == "active", states
        assert server.wait(timeout=5) == 0  # the main process ended itself, after its worker's SIGKILL
        assert not Path(f"/proc/{worker}").exists() or "Z" in Path(f"/proc/{worker}/stat").read_text().split()[2]
        assert [c[0] for c in calls if c[0] != "show"] == ["kill", "stop", "reset-failed"]
    finally:
        server.kill()
        server.wait()


# --- A user's app (site.yml -e app=DIR: app.env names it) --------------------------------------

USER_APP_ENV = ('BENCHAPP_USER_APP="shop"\nBENCHAPP_USER_SRC="/opt/flaskbench/apps/shop/src"\n'
                'BENCHAPP_USER_WSGI="shop:create_app()"\nBENCHAPP_USER_ASGI="{asgi}"\nBENCHAPP_USER_HEALTH="/up"\n')


def deploy_user_app(config: Path, asgi: str = "") -> None:
    """app.env as the flask_app role writes it for the app shop (values quoted), after benchapp's lines."""
    with open(config / "app.env", "a", encoding="utf-8") as fh:
        fh.write(USER_APP_ENV.format(asgi=asgi))


class UserHealth(http.server.BaseHTTPRequestHandler):
    """A user's app on a mode's port: /up answers `up_status` once `up_after` s have passed
    (503 before); /ok 200, /boom 500, anything else (benchapp's /healthz too) 404. `asked`: (path, status)."""

    up_status = 200
    up_after = 0.0
    started = 0.0
    asked: list[str]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/up":
            status = self.up_status if time.monotonic() >= self.started + self.up_after else 503
        else:
            status = {"/ok": 200, "/boom": 500}.get(self.path, 404)
        self.asked.append((self.path, status))
        body = b"fine" if status == 200 else b"no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def user_app_port():
    """start(up_status, up_after): a UserHealth server on an ephemeral port; (the uwsgi mode on its port,
    what it answered)."""
    servers = []

    def start(up_status: int = 200, up_after: float = 0.0):
        handler = type("U", (UserHealth,), {"up_status": up_status, "up_after": up_after,
                                            "started": time.monotonic(), "asked": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return dataclasses.replace(modectl.load_modes()["uwsgi"], port=server.server_address[1]), handler.asked

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_answers_gives_the_status_of_a_path(user_app_port) -> None:
    mode, asked = user_app_port()
    assert [modectl.answers(mode, p) for p in ("/ok", "/missing", "/boom")] == [200, 404, 500]
    assert asked == [("/ok", 200), ("/missing", 404), ("/boom", 500)]
    nobody = dataclasses.replace(mode, port=closed_port())
    assert modectl.answers(nobody, "/ok", timeout=1.0) is None


def test_check_serves_refuses_a_mode_that_cannot_serve_the_deployed_app(tmp_path: Path) -> None:
    modes = modectl.load_modes()
    (tmp_path / "app.env").write_text("BENCHAPP_MAX_DELAY=12.5\n")
    host = modectl.Host(tmp_path, modes, tmp_path)
    for mode in modes.values():  # the built-in app: every mode
        assert host.check_serves(mode) is None
    deploy_user_app(tmp_path)
    host = modectl.Host(tmp_path, modes, tmp_path)
    assert host.user_app == "shop"
    assert host.check_serves(modes["uwsgi"]) is None and host.check_serves(modes["gunicorn-gevent"]) is None
    with pytest.raises(modectl.SwitchError) as err:
        host.check_serves(modes["psycopg2"])
    assert str(err.value) == ("mode psycopg2 cannot serve the deployed app shop: "
                              "benches PostgreSQL from the built-in app's /db route")
    with pytest.raises(modectl.SwitchError, match=r"^mode quart cannot serve the deployed app shop: serves an ASGI"):
        host.check_serves(modes["quart"])  # BENCHAPP_USER_ASGI="" in app.env: no ASGI target


def test_check_serves_the_quart_mode_when_the_app_has_an_asgi_target(tmp_path: Path) -> None:
    modes = modectl.load_modes()
    deploy_user_app(tmp_path, asgi="shop:asgi")
    assert modectl.Host(tmp_path, modes, tmp_path).check_serves(modes["quart"]) is None


@pytest.fixture()
def fake_systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FAKE_SYSTEMCTL on PATH, every unit inactive; its state file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL.format(python=sys.executable))
    (bin_dir / "systemctl").chmod(0o755)
    state = tmp_path / "systemd.json"
    state.write_text(json.dumps({"units": {}, "calls": []}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_STATE", str(state))
    return state


def test_wait_with_a_user_app_returns_once_its_health_path_answers_200(tmp_path, user_app_port) -> None:
    mode, asked = user_app_port(up_after=1.0)
    deploy_user_app(tmp_path)
    host = modectl.Host(tmp_path, modectl.load_modes(), tmp_path)
    assert host.wait(mode, "tuned", timeout=10) == {"app": "shop", "path": "/up", "status": 200}
    assert asked[0] == ("/up", 503) and asked[-1] == ("/up", 200)  # waited through the 503s
    assert {path for path, _ in asked} == {"/up"}  # benchapp's /healthz never asked


def test_wait_with_a_user_app_fails_after_the_timeout_naming_the_path_and_status(tmp_path, user_app_port,
                                                                                 fake_systemctl) -> None:
    mode, _ = user_app_port(up_status=404)
    deploy_user_app(tmp_path)
    host = modectl.Host(tmp_path, modectl.load_modes(), tmp_path)
    start = time.monotonic()
    with pytest.raises(modectl.SwitchError) as err:
        host.wait(mode, "tuned", timeout=0.5)
    assert time.monotonic() - start >= 0.5
    assert str(err.value) == (f"flask-uwsgi.service is inactive; the app shop's /up on :{mode.port} did not answer "
                              f"200 within 0.5 s (last: 404; journalctl -u flask-uwsgi.service says why)")
    nobody = dataclasses.replace(mode, port=closed_port())
    with pytest.raises(modectl.SwitchError, match=r"within 0\.3 s \(last: no answer; journalctl"):
        host.wait(nobody, "tuned", timeout=0.3)


def test_set_with_a_user_app_waits_for_its_health_path(host) -> None:
    deploy_user_app(host.config)
    rc, out = host("set", "uwsgi", "seed")
    assert rc == 0, out
    assert out["healthz"] == {"app": "shop", "path": "/up", "status": 200}
    assert ["start", "flask-uwsgi.service"] in host.calls()


def test_set_refuses_a_mode_that_cannot_serve_the_user_app_and_changes_nothing(host) -> None:
    deploy_user_app(host.config)
    rc, out = host("set", "psycopg2", "seed", "--enable")
    assert rc == 1 and out["failed"], out
    assert out["msg"] == ("mode psycopg2 cannot serve the deployed app shop: "
                          "benches PostgreSQL from the built-in app's /db route")
    assert host.calls() == [] and not (host.config / "profile.env").exists()
