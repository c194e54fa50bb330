"""The mode table and the argv each mode's unit runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchapp.modes import MODES_FILE, ModeTableError, load_modes, resolve_count
from benchapp.serve import build_argv, server_env

MODES = load_modes()
DESIGN_MODES = [
    "devserver", "devserver-threaded", "uwsgi", "gunicorn", "gevent-pywsgi", "gevent-pywsgi-libuv",
    "uwsgi-gevent", "uwsgi-gevent-async", "gunicorn-gevent", "nginx-gunicorn", "nginx-uwsgi", "psycopg2", "psycogreen",
    "grpc-gevent", "grpc-gevent-noinit",
]


def test_table_has_the_design_modes_in_order():
    assert list(MODES) == DESIGN_MODES


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


@pytest.mark.parametrize("name", DESIGN_MODES)
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


@pytest.mark.parametrize("name", DESIGN_MODES)
def test_print_matches_build_argv(name):
    out = subprocess.run([sys.executable, "-m", "benchapp.serve", "--mode", name, "--profile", "seed",
                          "--cores", "2", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == build_argv(MODES[name], "seed", cores=2)


def test_profile_comes_from_the_environment():
    run = lambda env: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "benchapp.serve", "--mode", "uwsgi", "--cores", "2", "--json"],
        capture_output=True, text=True, check=True, env=env).stdout
    import os
    base = {k: v for k, v in os.environ.items() if k != "BENCHAPP_PROFILE"}
    assert json.loads(run(base)) == build_argv(MODES["uwsgi"], "tuned", cores=2)
    assert json.loads(run({**base, "BENCHAPP_PROFILE": "seed"})) == build_argv(MODES["uwsgi"], "seed", cores=2)


def test_unknown_mode_is_refused_naming_the_valid_ones():
    out = subprocess.run([sys.executable, "-m", "benchapp.serve", "--mode", "nope", "--print"],
                         capture_output=True, text=True)
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
