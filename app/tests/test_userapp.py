"""A user's app in place of benchapp (site.yml -e app=DIR, docs/your-app.md): which modes serve it
(Mode.for_user_app), how the entries import it (benchapp.userapp, benchapp.user_*), the deploy's check
(python -m benchapp.userapp check) and the launcher (benchapp.serve) with one deployed.

The apps are throwaway modules written to tmp_path, each under a name of its own (a process imports a
module once). An entry imports the app as it is itself imported: each runs in a fresh process with
BENCHAPP_USER_* set and the app's folder on PYTHONPATH, as a unit starts it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from benchapp import serve, userapp
from benchapp.modes import MODES_FILE, USER_ENTRIES, load_modes
from benchapp.serve import build_argv, for_deployed_app, server_env
from benchapp.userapp import UserAppError
from conftest import APP_DIR, base_env, http_get, serve_mode

MODES = load_modes()

# A Flask app as a user writes one: a factory, and the app it makes at import too.
# `made` lists every app the factory made, so a test sees how often it was called.
HELLO = '''\
import socket

from flask import Flask
from gevent import monkey

# What the standard library was when the app loaded: gevent's socket only if patched first.
SOCKET_AT_IMPORT = socket.socket.__module__
made = []


def create_app():
    app = Flask(__name__)
    made.append(app)

    @app.get("/")
    def index():
        return "hello from the user's app"

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.get("/down")
    def down():
        return "database unreachable\\n", 503

    @app.get("/patched")
    def patched():
        return str(monkey.is_module_patched("socket"))

    return app


app = create_app()
settings = {"debug": False}
not_an_app = 42


async def asgi(scope, receive, send):
    """The app's own ASGI target: answers any request, and the server's lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    body = b"ok" if scope["path"] == "/healthz" else b"hello over ASGI"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
'''

# One GET through an ASGI app, with a minimal scope, receive and send: (status, body).
ASGI_GET = '''\
import asyncio


async def _get(app, path):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test")], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 3000)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


def get(app, path):
    return asyncio.run(_get(app, path))
'''


def write_module(folder: Path, source: str) -> str:
    """`source` as a module of `folder` under a fresh name; the name."""
    name = f"userapp_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return name


@pytest.fixture()
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's folder (BENCHAPP_USER_SRC), on this process's sys.path; no BENCHAPP_USER_* from outside."""
    folder = tmp_path / "src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    for key in [k for k in os.environ if k.startswith("BENCHAPP_USER_")]:
        monkeypatch.delenv(key)
    return folder


def user_env(name: str, src: Path, wsgi: str = "app", asgi: str = "", health: str = "/healthz") -> dict[str, str]:
    """app.env's lines for the app `name` (module) as the flask_app role writes them."""
    return {"BENCHAPP_USER_APP": "mine", "BENCHAPP_USER_SRC": str(src), "BENCHAPP_USER_WSGI": f"{name}:{wsgi}",
            "BENCHAPP_USER_ASGI": f"{name}:{asgi}" if asgi else "", "BENCHAPP_USER_HEALTH": health}


def run_python(code: str, src: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`python -c code` (or `python -m ...` when code is empty and args given) in a fresh process:
    benchapp then the app's folder on PYTHONPATH, as benchapp.serve sets it; `env` on top."""
    full = base_env(**env)
    full["PYTHONPATH"] = os.pathsep.join([str(APP_DIR), str(src)])
    argv = [sys.executable, *args] if not code else [sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=src, env=full)


def last_json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- Which modes serve a user's app (Mode.for_user_app) --------------------------------------

#: The modes of the design that serve a user's app, and the entry that imports it.
SERVED = {
    "devserver": "benchapp.user_wsgi", "devserver-threaded": "benchapp.user_wsgi", "uwsgi": "benchapp.user_wsgi",
    "gunicorn": "benchapp.user_wsgi", "granian": "benchapp.user_wsgi", "waitress": "benchapp.user_wsgi",
    "gevent-pywsgi": "benchapp.user_patched", "gevent-pywsgi-libuv": "benchapp.user_patched",
    "uwsgi-gevent": "benchapp.user_patched", "gunicorn-gevent": "benchapp.user_patched",
    "nginx-gunicorn": "benchapp.user_patched", "nginx-uwsgi": "benchapp.user_patched",
    "uvicorn-asgiref": "benchapp.user_asgiref",
}
#: The modes only the built-in app makes sense in, each with its reason (the rule that catches it).
SKIPPED = {
    "grpc-gevent-noinit": "a demonstration of the built-in app failing (hang)",  # expect
    "psycogreen": "psycogreen against the built-in app's own database (/db)",  # patch
    "grpc-gevent": "gRPC's gevent hook for the built-in app's /grpc route",  # patch
    "psycopg2": "benches PostgreSQL from the built-in app's /db route",  # route
    "uwsgi-gevent-async": "benches the built-in app's async views (/async)",  # route
}


@pytest.mark.parametrize("name", list(SERVED))
def test_a_mode_serves_a_users_app_through_its_entrys_twin(name):
    assert MODES[name].for_user_app() == (SERVED[name], None)
    assert MODES[name].for_user_app(asgi=True) == (SERVED[name], None)  # an ASGI target changes nothing here


@pytest.mark.parametrize("name", list(SKIPPED))
def test_a_mode_of_the_built_in_app_alone_says_why(name):
    assert MODES[name].for_user_app() == (None, SKIPPED[name])
    assert MODES[name].for_user_app(asgi=True) == (None, SKIPPED[name])


def test_the_quart_mode_serves_the_apps_own_asgi_target_only():
    entry, why = MODES["quart"].for_user_app()
    assert entry is None
    assert why == (f"serves an ASGI app ({MODES['quart'].title}); give `asgi:` in flaskbench-app.yml "
                   f"to bench yours here")
    assert MODES["quart"].for_user_app(asgi=True) == ("benchapp.user_asgi", None)


def test_every_mode_either_serves_the_app_or_says_why():
    """Over the whole table: an entry or a reason, never both; a served mode's entry is its own entry's twin."""
    for name, mode in MODES.items():
        entry, why = mode.for_user_app()
        assert (entry is None) != (why is None), (name, entry, why)
        if entry is not None:
            assert entry == USER_ENTRIES[mode.entry] and mode.route == "/" and mode.expect is None, name
        else:
            assert why.strip(), name


def table_with(tmp_path: Path, **new: dict) -> Path:
    """A copy of modes.yml with more modes: each a clone of gunicorn with the given fields."""
    data = yaml.safe_load(MODES_FILE.read_text())
    for name, fields in new.items():
        data["modes"][name] = {**data["modes"]["gunicorn"], "title": f"{name}, added by a test", **fields}
    path = tmp_path / "modes.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_new_mode_falls_in_by_its_entry_route_and_patch(tmp_path):
    """Nothing but the table's entry: a new mode on benchapp.wsgi serves a user's app; one with an entry,
    or a route, of its own says so."""
    table = load_modes(table_with(tmp_path, **{
        "gunicorn-again": {},
        "gunicorn-own-entry": {"entry": "benchapp.elsewhere"},
        "gunicorn-slow-route": {"route": "/slow"},
    }))
    assert table["gunicorn-again"].entry == "benchapp.wsgi"
    assert table["gunicorn-again"].for_user_app() == ("benchapp.user_wsgi", None)
    assert table["gunicorn-own-entry"].for_user_app() == (
        None, "its entry benchapp.elsewhere is the built-in app's alone")
    assert table["gunicorn-slow-route"].for_user_app() == (None, "benches the built-in app's /slow route")
    for name in MODES:  # the table's own modes are unchanged by the copy
        assert table[name].for_user_app() == MODES[name].for_user_app()


def test_a_new_mode_reaches_the_launcher_through_flaskbench_modes_file(tmp_path, src):
    """FLASKBENCH_MODES_FILE: `python -m benchapp.serve` starts the new mode on the user's entry."""
    table = table_with(tmp_path, **{"gunicorn-again": {}})
    env = {**user_env("shop", src), "FLASKBENCH_MODES_FILE": str(table)}
    done = run_python("", src, env, "-m", "benchapp.serve", "--mode", "gunicorn-again", "--profile", "seed",
                      "--cores", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[-1] == "benchapp.user_wsgi:app"


# --- userapp.load, wsgi_app, check ---------------------------------------------------------

def test_load_gives_the_attribute_a_target_names(src):
    name = write_module(src, HELLO)
    app = userapp.load(f"{name}:app")
    module = sys.modules[name]
    assert app is module.app and module.made == [app]  # not called: an attribute


def test_load_calls_a_factory_once(src):
    name = write_module(src, HELLO)
    app = userapp.load(f"{name}:create_app()")
    module = sys.modules[name]
    # the app made at import, then the factory's, once
    assert module.made == [module.app, app] and app is not module.app


def test_load_names_a_missing_attribute_and_the_modules_file(src):
    name = write_module(src, HELLO)
    with pytest.raises(UserAppError) as err:
        userapp.load(f"{name}:application")
    assert str(err.value) == f"{name}:application: module {name} ({src / name}.py) has no application"


def test_load_refuses_to_call_what_is_not_a_factory(src):
    name = write_module(src, HELLO)
    with pytest.raises(UserAppError) as err:
        userapp.load(f"{name}:settings()")
    assert str(err.value) == f"{name}:settings(): settings is a dict, not a factory to call"


@pytest.mark.parametrize("target", ["shop", "shop:", ":app", "shop:create_app(debug)", "shop:app()()",
                                    "shop.:app", "1shop:app", "shop:app ", "shop-app:app", "shop:app.attr"])
def test_load_refuses_a_target_that_is_not_module_attr(target):
    with pytest.raises(UserAppError) as err:
        userapp.load(target)
    assert str(err.value) == f"{target!r} is not module:attr or module:factory()"


def test_a_dotted_module_loads(src):
    (src / "pkg").mkdir()
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "web.py").write_text("def app(environ, start_response):\n    return [b'']\n")
    importlib.invalidate_caches()
    assert userapp.load("pkg.web:app") is sys.modules["pkg.web"].app
    del sys.modules["pkg.web"], sys.modules["pkg"]  # pkg is a common name: not for later tests


def test_wsgi_app_needs_its_setting_and_a_callable(src, monkeypatch):
    name = write_module(src, HELLO)
    with pytest.raises(UserAppError, match="^BENCHAPP_USER_WSGI is not set: deploy the app with"):
        userapp.wsgi_app()
    monkeypatch.setenv("BENCHAPP_USER_WSGI", f"{name}:not_an_app")
    with pytest.raises(UserAppError) as err:
        userapp.wsgi_app()
    assert str(err.value) == (f"{name}:not_an_app gave a int, not a WSGI callable "
                              f"(app(environ, start_response))")
    monkeypatch.setenv("BENCHAPP_USER_WSGI", f"  {name}:app  ")  # as an env file may leave it
    assert userapp.wsgi_app() is sys.modules[name].app


def test_asgi_app_is_its_own_setting(src, monkeypatch):
    name = write_module(src, HELLO)
    monkeypatch.setenv("BENCHAPP_USER_WSGI", f"{name}:app")
    with pytest.raises(UserAppError, match="^BENCHAPP_USER_ASGI is not set"):
        userapp.asgi_app()
    monkeypatch.setenv("BENCHAPP_USER_ASGI", f"{name}:not_an_app")
    with pytest.raises(UserAppError, match=f"^{name}:not_an_app gave a int, not an ASGI callable$"):
        userapp.asgi_app()
    monkeypatch.setenv("BENCHAPP_USER_ASGI", f"{name}:asgi")
    assert userapp.asgi_app() is sys.modules[name].asgi


def test_check_passes_when_health_answers_200(src, monkeypatch):
    name = write_module(src, HELLO)
    monkeypatch.setenv("BENCHAPP_USER_WSGI", f"{name}:create_app()")
    assert userapp.check("/healthz") == f"{name}:create_app() imports and is a WSGI app; /healthz answered 200"


@pytest.mark.parametrize("health, status, body", [
    ("/nowhere", "404 NOT FOUND", "<!doctype html>"),
    ("/down", "503 SERVICE UNAVAILABLE", "database unreachable"),
])
def test_check_fails_naming_the_status_and_the_body(src, monkeypatch, health, status, body):
    name = write_module(src, HELLO)
    monkeypatch.setenv("BENCHAPP_USER_WSGI", f"{name}:app")
    with pytest.raises(UserAppError) as err:
        userapp.check(health)
    message = str(err.value)
    assert message.startswith(f"health {health} answered {status} (expected 200): {body}"), message
    assert "\n" not in message  # one line for the deploy's failure


# --- python -m benchapp.userapp check: the deploy's check ---------------------------------

def check_cli(src: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python("", src, env, "-m", "benchapp.userapp", "check")


def test_the_check_exits_0_saying_what_passed(src):
    name = write_module(src, HELLO)
    done = check_cli(src, user_env(name, src, wsgi="create_app()"))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout == f"{name}:create_app() imports and is a WSGI app; /healthz answered 200\n"


def test_the_check_in_process(src, monkeypatch, capsys):
    name = write_module(src, HELLO)
    for key, value in user_env(name, src).items():
        monkeypatch.setenv(key, value)
    assert userapp.main(["check"]) == 0
    assert capsys.readouterr().out == f"{name}:app imports and is a WSGI app; /healthz answered 200\n"
    monkeypatch.setenv("BENCHAPP_USER_HEALTH", "/down")
    assert userapp.main(["check"]) == 2
    assert capsys.readouterr().err.startswith("error: health /down answered 503 SERVICE UNAVAILABLE")


BROKEN_IMPORT = '''\
from flask import Flask

import flaskbench_no_such_module  # line 3: the app's own mistake

app = Flask(__name__)
'''

BROKEN_FACTORY = '''\
from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["POOL"] = int("ten")  # line 6
    return app
'''


@pytest.mark.parametrize("source, wsgi, error, line", [
    (BROKEN_IMPORT, "app", "ModuleNotFoundError: No module named 'flaskbench_no_such_module'", 3),
    (BROKEN_FACTORY, "create_app()", "ValueError: invalid literal for int() with base 10: 'ten'", 6),
])
def test_the_check_exits_2_with_the_apps_own_traceback(src, source, wsgi, error, line):
    name = write_module(src, source)
    done = check_cli(src, user_env(name, src, wsgi=wsgi))
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.startswith(f"error: {name}:{wsgi} does not load: {error}\nTraceback (most recent call last):\n")
    # the frame in the user's file, at the line that failed, and the exception last
    assert f'File "{src / name}.py", line {line}, in ' in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith(error), done.stderr


@pytest.mark.parametrize("wsgi, health, message", [
    ("application", "/healthz", "{name}:application: module {name} ({file}) has no application"),
    ("not_an_app", "/healthz", "{name}:not_an_app gave a int, not a WSGI callable"),
    ("app", "/nowhere", "health /nowhere answered 404 NOT FOUND (expected 200)"),
])
def test_the_check_exits_2_with_what_failed_and_no_traceback(src, wsgi, health, message):
    name = write_module(src, HELLO)
    done = check_cli(src, user_env(name, src, wsgi=wsgi, health=health))
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.startswith("error: " + message.format(name=name, file=f"{src / name}.py")), done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_the_check_without_its_settings(src):
    done = check_cli(src, {})
    assert done.returncode == 2
    assert done.stderr.startswith("error: BENCHAPP_USER_HEALTH is not set: deploy the app with "
                                  "`ansible-playbook site.yml -e app=DIR`")


def test_the_check_on_the_example_shop(tmp_path):
    """examples/shop as the deploy checks it: its factory, on a SQLite file, health /healthz."""
    shop_src = tmp_path / "src"
    shutil.copytree(APP_DIR.parent / "examples" / "shop" / "shop", shop_src / "shop")
    env = {"BENCHAPP_USER_APP": "shop", "BENCHAPP_USER_WSGI": "shop:create_app()",
           "BENCHAPP_USER_HEALTH": "/healthz", "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"}
    done = check_cli(shop_src, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "shop:create_app() imports and is a WSGI app; /healthz answered 200\n"
    assert (tmp_path / "shop.db").is_file()  # its own database, where DATABASE_URL says


# --- The entries: each exposes `app`, imported as its unit imports it ----------------------

def test_user_wsgi_is_the_apps_wsgi_target(src):
    name = write_module(src, HELLO)
    done = run_python(f'''
        import json
        from werkzeug.test import Client
        from benchapp.user_wsgi import app
        import {name} as mod
        print(json.dumps({{"made": len(mod.made), "factorys": app is mod.made[-1], "at_import": mod.SOCKET_AT_IMPORT,
                          "body": Client(app).get("/").get_data(as_text=True)}}))
    ''', src, user_env(name, src, wsgi="create_app()"))
    # the factory called once past the module's own app; the standard library left alone
    assert last_json(done) == {"made": 2, "factorys": True, "at_import": "socket", "body": "hello from the user's app"}


def test_user_patched_patches_before_the_app_loads(src):
    name = write_module(src, HELLO)
    done = run_python(f'''
        import json
        from gevent import monkey
        from werkzeug.test import Client
        import benchapp.user_patched as entry
        import {name} as mod
        print(json.dumps({{"socket": monkey.is_module_patched("socket"), "at_import": mod.SOCKET_AT_IMPORT,
                          "made": len(mod.made), "factorys": entry.app is mod.made[-1],
                          "patched": Client(entry.app).get("/patched").get_data(as_text=True)}}))
    ''', src, user_env(name, src, wsgi="create_app()"))
    assert last_json(done) == {"socket": True, "at_import": "gevent._socket3", "made": 2, "factorys": True,
                               "patched": "True"}


def test_user_wsgi_alone_patches_nothing(src):
    """The contrast to the above: without user_patched, gevent leaves the standard library alone."""
    name = write_module(src, HELLO)
    done = run_python(f'''
        import json
        from gevent import monkey
        import benchapp.user_wsgi
        print(json.dumps({{"socket": monkey.is_module_patched("socket")}}))
    ''', src, user_env(name, src))
    assert last_json(done) == {"socket": False}


@pytest.mark.parametrize("thread", ["process", "request"])
def test_user_asgiref_answers_a_request_through_wsgitoasgi(src, thread):
    name = write_module(src, HELLO)
    done = run_python(ASGI_GET + f'''
import json
from benchapp.asgiwrap import FreshContext, ThreadPerRequest
from benchapp.user_asgiref import app
import {name} as mod
print(json.dumps({{"root": get(app, "/"), "down": get(app, "/down"), "made": len(mod.made),
                  "fresh": isinstance(app, FreshContext), "per_request": isinstance(app.inner, ThreadPerRequest)}}))
''', src, {**user_env(name, src, wsgi="create_app()"), "BENCHAPP_ASGI_THREAD": thread})
    assert last_json(done) == {"root": [200, "hello from the user's app"], "down": [503, "database unreachable\n"],
                               "made": 2, "fresh": True, "per_request": thread == "request"}


def test_user_asgi_is_the_apps_own_asgi_target(src):
    name = write_module(src, HELLO)
    done = run_python(ASGI_GET + f'''
import json
from benchapp.user_asgi import app
import {name} as mod
print(json.dumps({{"same": app is mod.asgi, "root": get(app, "/")}}))
''', src, user_env(name, src, asgi="asgi"))
    assert last_json(done) == {"same": True, "root": [200, "hello over ASGI"]}


def test_user_asgi_without_an_asgi_target_fails_saying_so(src):
    name = write_module(src, HELLO)
    done = run_python("import benchapp.user_asgi", src, user_env(name, src))
    assert done.returncode == 1
    assert "benchapp.userapp.UserAppError: BENCHAPP_USER_ASGI is not set" in done.stderr


# --- benchapp.serve with a user's app deployed ----------------------------------------------

def test_no_user_app_leaves_the_mode_as_it_is():
    for env in ({}, {"BENCHAPP_USER_APP": "  ", "BENCHAPP_USER_WSGI": "shop:app"}):
        assert for_deployed_app(MODES["uwsgi"], env) is MODES["uwsgi"]
        assert for_deployed_app(MODES["psycopg2"], env) is MODES["psycopg2"]  # the built-in app: every mode


@pytest.mark.parametrize("name, asgi, entry", [
    ("uwsgi", "", "benchapp.user_wsgi"),
    ("nginx-uwsgi", "", "benchapp.user_patched"),
    ("uvicorn-asgiref", "", "benchapp.user_asgiref"),
    ("quart", "shop:asgi", "benchapp.user_asgi"),
])
def test_a_user_app_replaces_the_entry_and_nothing_else(name, asgi, entry):
    env = {"BENCHAPP_USER_APP": "shop", "BENCHAPP_USER_WSGI": "shop:app", "BENCHAPP_USER_ASGI": asgi}
    served = for_deployed_app(MODES[name], env)
    assert served.entry == entry
    assert dataclasses.replace(served, entry=MODES[name].entry) == MODES[name]


@pytest.mark.parametrize("name, why", [
    ("psycopg2", "benches PostgreSQL from the built-in app's /db route"),
    ("grpc-gevent-noinit", "a demonstration of the built-in app failing (hang)"),
    ("quart", "serves an ASGI app ("),
])
def test_a_mode_that_cannot_serve_the_app_is_a_value_error_naming_why(name, why):
    with pytest.raises(ValueError) as err:
        for_deployed_app(MODES[name], {"BENCHAPP_USER_APP": "shop", "BENCHAPP_USER_ASGI": "  "})
    assert str(err.value).startswith(f"mode {name} cannot serve the app shop: {why}"), err.value


def test_server_env_puts_the_apps_folder_after_benchapp():
    here = str(Path(serve.__file__).resolve().parents[1])
    assert server_env(MODES["uwsgi"], "tuned")["PYTHONPATH"] == here
    with_app = server_env(MODES["uwsgi"], "tuned", "/opt/flaskbench/apps/shop/src")
    assert with_app["PYTHONPATH"] == f"{here}{os.pathsep}/opt/flaskbench/apps/shop/src"
    assert {k: v for k, v in with_app.items() if k != "PYTHONPATH"} == {
        k: v for k, v in server_env(MODES["uwsgi"], "tuned").items() if k != "PYTHONPATH"}


SHOP_ENV = {"BENCHAPP_USER_APP": "shop", "BENCHAPP_USER_WSGI": "shop:create_app()",
            "BENCHAPP_USER_SRC": "/opt/flaskbench/apps/shop/src", "BENCHAPP_USER_HEALTH": "/healthz"}


def serve_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchapp.serve", *args], capture_output=True, text=True,
                          timeout=60, cwd=APP_DIR, env=base_env(**env))


def test_serve_prints_the_user_entry():
    done = serve_cli("--mode", "uwsgi", "--profile", "seed", "--cores", "2", "--print", **SHOP_ENV)
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    assert argv[argv.index("--module") + 1] == "benchapp.user_wsgi:app"
    assert argv == build_argv(dataclasses.replace(MODES["uwsgi"], entry="benchapp.user_wsgi"), "seed", cores=2)
    gevent = serve_cli("--mode", "gunicorn-gevent", "--profile", "seed", "--cores", "2", "--print", **SHOP_ENV)
    assert shlex.split(gevent.stdout)[0] == "GEVENT_LOOP=libev-cext"
    assert shlex.split(gevent.stdout)[-1] == "benchapp.user_patched:app"


def test_serve_refuses_a_mode_that_cannot_serve_the_app():
    done = serve_cli("--mode", "psycopg2", "--print", **SHOP_ENV)
    assert done.returncode == 2 and done.stdout == ""
    assert ("error: mode psycopg2 cannot serve the app shop: benches PostgreSQL from the built-in app's /db route"
            in done.stderr), done.stderr


def _one_per_server_and_entry() -> list[tuple[str, str]]:
    """(mode, asgi target) for the first mode of each server, front, protocol and user entry that serves a
    user's app, from the table (a new kind of mode is started without an edit here); quart with `asgi:`."""
    seen, chosen = set(), []
    for name, mode in MODES.items():
        entry, _ = mode.for_user_app()
        key = (mode.server, mode.front, mode.protocol, entry)
        if entry is not None and key not in seen:
            seen.add(key)
            chosen.append((name, ""))
    return chosen + [(name, "asgi") for name, mode in MODES.items()
                     if mode.for_user_app()[0] is None and mode.for_user_app(asgi=True)[0] is not None]


SERVERS = _one_per_server_and_entry()


@pytest.mark.modes
@pytest.mark.parametrize("name, asgi", SERVERS, ids=[name + ("-asgi" if asgi else "") for name, asgi in SERVERS])
def test_a_mode_serves_the_users_app(name, asgi, tmp_path):
    """The unit's command line, end to end: benchapp.serve finds the user's entry, puts the app's folder on
    the server's PYTHONPATH (the test's has benchapp alone) and the server answers with the user's app."""
    body = "hello over ASGI" if asgi else "hello from the user's app"
    folder = tmp_path / "src"
    folder.mkdir()
    module = write_module(folder, HELLO)
    mode = MODES[name]
    with serve_mode(mode, "seed", tmp_path, **user_env(module, folder, wsgi="create_app()", asgi=asgi)) as served:
        answer = http_get(served.url + "/")
        assert (answer.status, answer.body) == (200, body)
        if not asgi:
            assert http_get(served.url + "/patched").body == str(mode.gevent)  # patched first where the mode does
