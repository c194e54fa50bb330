"""The mode table and the argv each mode's unit runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.modes import MODES_FILE, PROFILES, ModeTableError, load_modes, resolve_count
from benchapp.serve import build_argv, server_env
from conftest import APP_DIR, base_env

MODES = load_modes()
# Every test below runs over the table itself: a new mode is tested without
# an edit here.
ALL_MODES = list(MODES)
# The one hand-written list: the seed's modes and the ones the design added,
# in the table's order. It used to pin the table exactly (and drive the
# parametrised tests); now the table may grow, and this only guards that none
# of these is dropped, renamed or reordered (the docs, molecule's verify
# and benchreport name them).
DESIGN_MODES = [
    "devserver", "devserver-threaded", "uwsgi", "gunicorn", "gevent-pywsgi", "gevent-pywsgi-libuv",
    "uwsgi-gevent", "uwsgi-gevent-async", "gunicorn-gevent", "nginx-gunicorn", "nginx-uwsgi", "psycopg2", "psycogreen",
    "grpc-gevent", "grpc-gevent-noinit",
]


def serve_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """python -m benchapp.serve as a unit runs it, whatever pytest's cwd."""
    return subprocess.run([sys.executable, "-m", "benchapp.serve", *args], capture_output=True, text=True,
                          check=check, cwd=APP_DIR, env=base_env() if env is None else env)


def test_table_keeps_the_design_modes_in_order():
    assert [name for name in MODES if name in DESIGN_MODES] == DESIGN_MODES


@pytest.mark.parametrize("name", ALL_MODES)
def test_every_mode_has_an_argv_for_each_profile(name):
    """What every mode needs, whatever its server: both profiles build, the
    server comes from the interpreter's own bin dir, and it binds the mode's
    host and port (or the ones given)."""
    mode = MODES[name]
    for profile in PROFILES:
        argv = build_argv(mode, profile, cores=2, python="/v/bin/python")
        assert argv[0].startswith("/v/bin/"), argv
        joined = " ".join(argv)
        assert mode.listen_host in joined and str(mode.listen_port) in joined, argv
        moved = " ".join(build_argv(mode, profile, cores=2, python="/v/bin/python", host="127.0.0.2", port=4321))
        assert "127.0.0.2" in moved and "4321" in moved, moved
        assert server_env(mode, profile)["BENCHAPP_MODE"] == name
    assert mode.route.startswith("/")
    assert (mode.concurrency is None) is mode.expected_to_fail


def test_devserver_modes_have_nothing_to_tune():
    for name in ("devserver", "devserver-threaded"):
        assert MODES[name].profiles["seed"] == MODES[name].profiles["tuned"]


def test_db_modes_keep_one_worker_and_differ_only_in_patching():
    a, b = MODES["psycopg2"], MODES["psycogreen"]
    for profile in ("seed", "tuned"):
        assert a.options(profile, cores=8)["workers"] == 1
        assert a.profiles[profile] == b.profiles[profile]
    assert (a.patch, b.patch) == ("gevent", "gevent+psycogreen")
    assert a.route == b.route == "/db"


def test_core_expressions_resolve_against_the_core_count():
    assert resolve_count("cores", 3) == 3
    assert resolve_count("2*cores", 3) == 6
    assert resolve_count(7, 3) == 7
    assert MODES["uwsgi"].options("tuned", cores=3)["workers"] == 6


@pytest.mark.parametrize("name", ALL_MODES)
def test_seed_profile_uses_the_seeds_flags(name):
    seed = MODES[name].options("seed", cores=64)
    expected = {
        "uwsgi": {"workers": 4, "threads": 50},
        "gunicorn": {"workers": 4, "threads": 50},
        "uwsgi-gevent": {"workers": 2, "gevent": 2000},
        "gunicorn-gevent": {"workers": 1, "worker_class": "gevent"},
        "psycopg2": {"workers": 1, "gevent": 2000},
    }.get(name, {})
    assert expected.items() <= seed.items()
    assert seed["upstream"] == "new"  # the seed opens a connection per request


def test_nginx_modes_bind_loopback_backend():
    for name in ("nginx-gunicorn", "nginx-uwsgi"):
        argv = build_argv(MODES[name], "tuned", cores=2, python="/v/bin/python")
        assert "127.0.0.1:3001" in argv
    assert "--socket" in build_argv(MODES["nginx-uwsgi"], "seed", cores=2)  # uwsgi protocol
    assert "--http-socket" in build_argv(MODES["uwsgi-gevent"], "seed", cores=2)


def test_backlog_is_capped_at_somaxconn(monkeypatch):
    monkeypatch.setattr("benchapp.serve.somaxconn", lambda: 128)
    argv = build_argv(MODES["uwsgi-gevent"], "tuned", cores=2)
    assert argv[argv.index("--listen") + 1] == "128"


@pytest.mark.parametrize("name", ALL_MODES)
def test_print_matches_build_argv(name):
    out = serve_cli("--mode", name, "--profile", "seed", "--cores", "2", "--json")
    printed = json.loads(out.stdout)
    assert printed == build_argv(MODES[name], "seed", cores=2)
    assert printed[0] == os.path.normpath(printed[0])  # the same however python was invoked


def test_interpreter_path_is_normalised_not_resolved(monkeypatch):
    """`cd app && ../.venv/bin/python` gives sys.executable
    /.../app/../.venv/bin/python: the argv names the same normalised path as
    `/.../.venv/bin/python` would, and keeps the venv (no symlink resolved)."""
    monkeypatch.setattr(sys, "executable", "/srv/bench/app/../.venv/bin/python")
    assert build_argv(MODES["devserver"], "seed", cores=2)[0] == "/srv/bench/.venv/bin/python"
    assert build_argv(MODES["uwsgi"], "seed", cores=2)[0] == "/srv/bench/.venv/bin/uwsgi"
    assert build_argv(MODES["gunicorn"], "seed", cores=2)[0] == "/srv/bench/.venv/bin/gunicorn"
    venv_python = Path(sys.prefix) / "bin" / "python"
    if venv_python.is_symlink():
        monkeypatch.setattr(sys, "executable", str(venv_python))
        assert build_argv(MODES["devserver"], "seed", cores=2)[0] == str(venv_python)


def test_profile_comes_from_the_environment():
    base = base_env()  # without BENCHAPP_PROFILE (nor any BENCHAPP_*)
    run = lambda env: serve_cli("--mode", "uwsgi", "--cores", "2", "--json", env=env).stdout  # noqa: E731
    assert json.loads(run(base)) == build_argv(MODES["uwsgi"], "tuned", cores=2)
    assert json.loads(run({**base, "BENCHAPP_PROFILE": "seed"})) == build_argv(MODES["uwsgi"], "seed", cores=2)


def test_unknown_mode_is_refused_naming_the_valid_ones():
    out = serve_cli("--mode", "nope", "--print", check=False)
    assert out.returncode == 2
    assert "unknown mode 'nope'" in out.stderr and "uwsgi-gevent" in out.stderr


def test_bad_entries_fail_at_load_naming_the_mode(tmp_path):
    text = MODES_FILE.read_text().replace("protocol: uwsgi", "protocol: carrier-pigeon")
    bad = tmp_path / "modes.yml"
    bad.write_text(text)
    with pytest.raises(ModeTableError, match="nginx-uwsgi"):
        load_modes(bad)


def test_libuv_mode_differs_from_gevent_pywsgi_only_in_its_loop():
    a, b = MODES["gevent-pywsgi"], MODES["gevent-pywsgi-libuv"]
    assert (a.loop, b.loop) == ("libev", "libuv")
    for profile in ("seed", "tuned"):
        assert build_argv(a, profile, cores=2) == build_argv(b, profile, cores=2)
        assert server_env(a, profile)["GEVENT_LOOP"] == "libev-cext"
        assert server_env(b, profile)["GEVENT_LOOP"] == "libuv"
    assert "GEVENT_LOOP" not in server_env(MODES["uwsgi"], "tuned")  # sync modes choose no loop


@pytest.mark.parametrize("old,new,match", [
    ("    loop: libuv\n", "    loop: libevent\n", "gevent-pywsgi-libuv: loop='libevent'"),
    ("    patch: none\n", "    patch: none\n    loop: libuv\n", "devserver: loop='libuv' needs a gevent patch"),
])
def test_bad_loops_fail_at_load(tmp_path, old, new, match):
    bad = tmp_path / "modes.yml"
    bad.write_text(MODES_FILE.read_text().replace(old, new, 1))
    with pytest.raises(ModeTableError, match=match):
        load_modes(bad)


def test_grpc_modes_differ_only_in_init_gevent():
    """The pair isolates grpc.experimental.gevent.init_gevent(): same server and
    flags, one entry calls it (and says so in patch), the other is expected to hang."""
    init, noinit = MODES["grpc-gevent"], MODES["grpc-gevent-noinit"]
    assert (init.entry, init.patch) == ("benchapp.patched_grpc", "gevent+grpc")
    assert (noinit.entry, noinit.patch) == ("benchapp.patched", "gevent")
    assert init.route == noinit.route == "/grpc"
    assert init.server == noinit.server == "gunicorn"
    for profile in ("seed", "tuned"):
        assert init.profiles[profile] == noinit.profiles[profile]
        argv = build_argv(init, profile, cores=2)
        assert build_argv(noinit, profile, cores=2) == argv[:-1] + ["benchapp.patched:app"]
        # Under the unit's stop timeout (flask_app_stop_timeout, 15 s): a wedged
        # worker is ended by Gunicorn, not by systemd's SIGKILL.
        assert int(argv[argv.index("--graceful-timeout") + 1]) < 15
    assert init.expect is None and init.concurrency == "overlap"
    assert noinit.expect["outcome"] == "hang" and noinit.concurrency is None
    assert "init_gevent" in noinit.expect["why"]


def test_only_expected_modes_are_marked_in_the_docs_table():
    from benchapp.modes import markdown_table

    marked = [line for line in markdown_table().splitlines() if "expected to fail" in line]
    assert [line.split("`")[1] for line in marked] == [n for n, m in MODES.items() if m.expect]


@pytest.mark.parametrize("old,new,match", [
    ("      outcome: hang\n", "      outcome: crash\n", "grpc-gevent-noinit: expect outcome='crash'"),
    ("      outcome: hang\n", "", "grpc-gevent-noinit: expect needs exactly outcome and why"),
    ("    expect:\n", "    concurrency: serial\n    expect:\n", "grpc-gevent-noinit: a mode with expect has no concurrency"),
    ("    concurrency: overlap\n    seed_rps: null\n    profiles:\n      seed: {worker_class: gevent, workers: 1, "
     "worker_connections: 1000, listen: 2048, graceful_timeout",
     "    seed_rps: null\n    profiles:\n      seed: {worker_class: gevent, workers: 1, "
     "worker_connections: 1000, listen: 2048, graceful_timeout", "grpc-gevent: concurrency=None"),
    ("    server: gunicorn\n    entry: benchapp.patched_grpc\n", "    server: uwsgi\n    entry: benchapp.patched_grpc\n",
     "grpc-gevent: patch gevent\\+grpc needs server gunicorn"),
])
def test_bad_expectations_fail_at_load(tmp_path, old, new, match):
    text = MODES_FILE.read_text()
    assert old in text
    bad = tmp_path / "modes.yml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(ModeTableError, match=match):
        load_modes(bad)


# --- The peers ---------------------------------------------------------------------

PEER_SERVERS = ("granian", "waitress", "uvicorn")


def test_granian_tuned_gives_every_connection_it_holds_a_thread():
    """A Granian WSGI worker holds at most `backpressure` connections and runs
    the app on at most `blocking_threads` threads. Left out, backpressure is
    backlog / workers and the threads half of it: a small backpressure alone
    serialises (2 leaves one thread: 10 concurrent 0.5 s requests took 5 s)."""
    granian = [m for m in MODES.values() if m.server == "granian"]
    assert granian
    for mode in granian:
        tuned = mode.options("tuned", cores=2)
        # c=1000 fits in one worker if the accepts are uneven, each with a thread.
        assert tuned["blocking_threads"] >= tuned["backpressure"] >= 1000
        argv = build_argv(mode, "tuned", cores=2)
        assert argv[argv.index("--interface") + 1] == "wsgi"
        assert argv[argv.index("--backpressure") + 1] == str(tuned["backpressure"])
        assert argv[argv.index("--blocking-threads") + 1] == str(tuned["blocking_threads"])
        assert "--backpressure" not in build_argv(mode, "seed", cores=2)  # the seed keeps Granian's defaults


def test_peer_seeds_keep_the_servers_defaults_and_tuned_fits_c1000():
    for mode in (m for m in MODES.values() if m.server in PEER_SERVERS and m.entry != "benchapp.quart_asgi"):
        seed, tuned = mode.options("seed", cores=2), mode.options("tuned", cores=2)
        assert seed["upstream"] == "new" and tuned["upstream"] == "pooled"
        if mode.server == "waitress":  # waitress-serve's documented defaults
            assert (seed["threads"], seed["connection_limit"], seed["listen"]) == (4, 100, 1024)
            assert mode.concurrency_in("seed") == seed["threads"]
            # A thread per request, connections past c=1000 (the listener and the
            # trigger count too), poll(): c=1000 plus the upstream pool pass fd 1023.
            assert tuned["threads"] >= 1000 and tuned["connection_limit"] > 1002 and tuned["asyncore_use_poll"]
        if mode.server == "uvicorn":
            assert server_env(mode, "seed")["BENCHAPP_ASGI_THREAD"] == "process"  # Flask's documented path
            assert server_env(mode, "tuned")["BENCHAPP_ASGI_THREAD"] == "request"
            assert mode.concurrency == {"seed": "serial", "tuned": "overlap"}
            assert "--no-access-log" in build_argv(mode, "tuned", cores=2)


def test_quart_profiles_are_uvicorns_defaults_and_ours(monkeypatch):
    """seed: uvicorn as its docs start it (1 worker, its own backlog of 2048,
    the access log on); tuned: one worker (modes.yml says why), backlog 4096, no access log."""
    monkeypatch.setattr("benchapp.serve.somaxconn", lambda: 4096)
    mode = MODES["quart"]
    assert (mode.server, mode.entry, mode.route, mode.concurrency) == ("uvicorn", "benchapp.quart_asgi", "/", "overlap")
    seed = build_argv(mode, "seed", cores=2, python="/v/bin/python")
    assert seed == ["/v/bin/uvicorn", "--host", "0.0.0.0", "--port", "3000", "--workers", "1", "benchapp.quart_asgi:app"]
    tuned = build_argv(mode, "tuned", cores=2, python="/v/bin/python")
    assert tuned == ["/v/bin/uvicorn", "--host", "0.0.0.0", "--port", "3000", "--workers", "1",
                     "--backlog", "4096", "--no-access-log", "benchapp.quart_asgi:app"]
    assert [server_env(mode, p)["BENCHAPP_UPSTREAM"] for p in ("seed", "tuned")] == ["new", "pooled"]


@pytest.mark.parametrize("concurrency,match", [
    ("{seed: serial}", r"concurrency=\{'seed': 'serial'\}"),
    ("{seed: serial, tuned: sometimes}", "concurrency="),
    ("1", "concurrency=1"),
    ("true", "concurrency=True"),
])
def test_bad_concurrency_fails_at_load(tmp_path, concurrency, match):
    text = MODES_FILE.read_text()
    old = "    concurrency: {seed: serial, tuned: overlap}\n"
    assert old in text
    bad = tmp_path / "modes.yml"
    bad.write_text(text.replace(old, f"    concurrency: {concurrency}\n", 1))
    with pytest.raises(ModeTableError, match=f"uvicorn-asgiref: {match}"):
        load_modes(bad)


def test_asgi_thread_is_uvicorns_only(tmp_path):
    text = MODES_FILE.read_text()
    old = "      seed: {threads: 4, connection_limit: 100, listen: 1024, upstream: new}\n"
    assert old in text
    bad = tmp_path / "modes.yml"
    bad.write_text(text.replace(old, old.replace("upstream: new", "asgi_thread: request, upstream: new"), 1))
    with pytest.raises(ModeTableError, match="waitress profile seed: asgi_thread='request' needs server uvicorn"):
        load_modes(bad)


def test_flask_asgi_refuses_an_unknown_thread_choice():
    from benchapp.config import ConfigError
    from benchapp.flask_asgi import FreshContext, ThreadPerRequest, asgi_app

    assert isinstance(asgi_app("request"), FreshContext) and isinstance(asgi_app("request").inner, ThreadPerRequest)
    assert isinstance(asgi_app("process"), FreshContext) and not isinstance(asgi_app("process").inner, ThreadPerRequest)
    with pytest.raises(ConfigError, match="BENCHAPP_ASGI_THREAD='thread'"):
        asgi_app("thread")


def test_the_gevent_client_is_for_gevent_modes_and_theirs_when_tuned(tmp_path):
    """geventhttpclient needs gevent's sockets: every tuned gevent mode uses it,
    and a mode without a gevent patch that asks for it fails at load."""
    for mode in MODES.values():
        tuned = mode.options("tuned", cores=2)["upstream"]
        assert (tuned == "gevent") == mode.patch.startswith("gevent"), (mode.name, tuned)
    text = MODES_FILE.read_text()
    old = "      seed: {threads: 4, connection_limit: 100, listen: 1024, upstream: new}\n"
    bad = tmp_path / "modes.yml"
    bad.write_text(text.replace(old, old.replace("upstream: new", "upstream: gevent"), 1))
    with pytest.raises(ModeTableError, match="waitress profile seed: upstream=gevent needs a gevent patch, not 'none'"):
        load_modes(bad)


def test_every_upstream_the_table_allows_has_a_client() -> None:
    """config.UPSTREAMS is the one list: the table checks against it, upstream.CLIENTS serves each."""
    from benchapp import modes, upstream
    from benchapp.config import UPSTREAMS

    assert modes.UPSTREAMS is UPSTREAMS
    assert sorted(upstream.CLIENTS) == sorted(UPSTREAMS)
