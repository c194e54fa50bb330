"""A user's app (its flaskbench-app.yml), as the modes' user entries import it.

site.yml -e app=DIR deploys the app to the app host and writes its targets to
the units' environment file; every mode that can serve a user's app
(benchapp.modes.Mode.for_user_app) then imports it through one of these
entries instead of benchapp's own: user_wsgi (unpatched), user_patched
(gevent's patching first), user_asgiref (WsgiToAsgi), user_asgi (its ASGI
target). The environment:

    BENCHAPP_USER_APP     the app's name
    BENCHAPP_USER_SRC     its directory, on PYTHONPATH (benchapp.serve adds it)
    BENCHAPP_USER_WSGI    pkg.module:app, or pkg.module:create_app() (called once per process)
    BENCHAPP_USER_ASGI    the same for its ASGI app, when it has one
    BENCHAPP_USER_HEALTH  a path that answers 200 when the app is up

`python -m benchapp.userapp check` is the deploy's check, run on the app host
before any unit changes: the target imports, is a WSGI callable, and its
health route answers 200 (through the app in-process, no server), or exit 2
with what failed and the import's traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from typing import Any

TARGET = re.compile(r"(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*)(?P<call>\(\))?")


class UserAppError(RuntimeError):
    """The user's app cannot be served; the message says what, for the unit's journal."""


def setting(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise UserAppError(f"{name} is not set: deploy the app with `ansible-playbook site.yml -e app=DIR`")
    return value


def load(target: str) -> Any:
    """The object `target` names: module:attr, or module:factory() called once."""
    match = TARGET.fullmatch(target)
    if not match:
        raise UserAppError(f"{target!r} is not module:attr or module:factory()")
    module = importlib.import_module(match["module"])
    try:
        obj = getattr(module, match["attr"])
    except AttributeError:
        raise UserAppError(f"{target}: module {match['module']} ({module.__file__}) has no {match['attr']}") from None
    if match["call"]:
        if not callable(obj):
            raise UserAppError(f"{target}: {match['attr']} is a {type(obj).__name__}, not a factory to call")
        obj = obj()
    return obj


def _app(variable: str, kind: str) -> Any:
    """The callable the target in `variable` names, or UserAppError saying it is not a `kind` app."""
    target = setting(variable)
    app = load(target)
    if not callable(app):
        raise UserAppError(f"{target} gave a {type(app).__name__}, not {kind}")
    return app


def wsgi_app() -> Any:
    """The user's WSGI app (BENCHAPP_USER_WSGI)."""
    return _app("BENCHAPP_USER_WSGI", "a WSGI callable (app(environ, start_response))")


def asgi_app() -> Any:
    """The user's ASGI app (BENCHAPP_USER_ASGI)."""
    return _app("BENCHAPP_USER_ASGI", "an ASGI callable")


def check(health: str) -> str:
    """Import the WSGI app and ask its health route once, in-process; what passed, or UserAppError."""
    from werkzeug.test import Client  # Flask's own dependency

    app = wsgi_app()
    response = Client(app).get(health)
    if response.status_code != 200:
        body = response.get_data(as_text=True).strip().replace("\n", " ")[:200]
        raise UserAppError(f"health {health} answered {response.status} (expected 200): {body}")
    return f"{setting('BENCHAPP_USER_WSGI')} imports and is a WSGI app; {health} answered 200"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchapp.userapp", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="import the app and ask its health route (BENCHAPP_USER_HEALTH)")
    parser.parse_args(argv)
    try:
        print(check(setting("BENCHAPP_USER_HEALTH")))
    except UserAppError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BaseException as err:  # the app's own import or factory failed: its traceback is the answer
        if isinstance(err, KeyboardInterrupt):
            raise
        target = os.environ.get("BENCHAPP_USER_WSGI", "")
        print(f"error: {target} does not load: {type(err).__name__}: {err}\n{traceback.format_exc()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
