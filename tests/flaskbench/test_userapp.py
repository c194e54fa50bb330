"""A user's app on the controller (flaskbench.userapp): which modes serve it, the digest bench.yml checks, the
record site.yml keeps on the app host, what the deploy needs (filters flaskbench_app, flaskbench_app_env), and
the ${placeholders} of its env (flaskbench.appspec)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from benchapp import modes as table
from benchrun import ROOT
from flaskbench import appspec, filters, userapp
from rolespecs import lookup_modes, render_unit, unit_values

EXAMPLE = ROOT / "examples" / "shop"
MODES = table.load_modes()

SPEC = {
    "name": "mine",
    "wsgi": "mine.wsgi:create_app()",
    "requirements": "requirements.txt",
    "env": {"DATABASE_URL": "postgresql+psycopg2://${flaskbench_postgres}", "MODE": "bench"},
    "routes": [{"path": "/"}, {"path": "/orders", "method": "POST", "headers": {"Content-Type": "application/json"},
                               "body": "{}", "expect": 201, "weight": 0.5, "name": "order"}],
    "health": "/healthz",
    "budget_ms": 100,
}


def app_dir(folder: Path, req_text: str = "flask>=3\n", **fields: object) -> Path:
    """`folder` holding flaskbench-app.yml (SPEC with fields replaced; None: removed), requirements.txt (req_text)
    and some code."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in {**SPEC, **fields}.items() if v is not None}
    (folder / appspec.FILENAME).write_text(yaml.safe_dump(data, sort_keys=False))
    (folder / "requirements.txt").write_text(req_text)
    (folder / "mine").mkdir(exist_ok=True)
    (folder / "mine" / "wsgi.py").write_text("from flask import Flask\n\n\ndef create_app():\n"
                                          "    return Flask(__name__)\n")
    return folder


def spec_in(folder: Path, **fields: object) -> appspec.AppSpec:
    return appspec.load(app_dir(folder, **fields))


# --- modes_for ---------------------------------------------------------------------------

def test_modes_for_splits_the_table_into_served_and_skipped(tmp_path):
    served, skipped = userapp.modes_for(spec_in(tmp_path))
    assert list(served) + list(skipped) == sorted(MODES, key=lambda n: (n in skipped, list(MODES).index(n)))
    assert served["uwsgi"] == "benchapp.user_wsgi" and served["nginx-uwsgi"] == "benchapp.user_patched"
    assert served["uvicorn-asgiref"] == "benchapp.user_asgiref"
    assert skipped["psycopg2"] == "benches PostgreSQL from the built-in app's /db route"
    assert skipped["grpc-gevent-noinit"] == "a demonstration of the built-in app failing (hang)"
    assert skipped["quart"].startswith("serves an ASGI app (")
    assert "give `asgi:` in flaskbench-app.yml" in skipped["quart"]
    for name, entry in served.items():  # each as the table itself says
        assert MODES[name].for_user_app() == (entry, None)


def test_an_asgi_target_adds_the_quart_mode_and_nothing_else(tmp_path):
    served, skipped = userapp.modes_for(spec_in(tmp_path / "wsgi"))
    with_asgi, skipped_with_asgi = userapp.modes_for(spec_in(tmp_path / "asgi", asgi="mine.asgi:app"))
    assert with_asgi == {**served, "quart": "benchapp.user_asgi"}
    assert skipped_with_asgi == {k: v for k, v in skipped.items() if k != "quart"}


def test_modes_for_reads_the_table_it_is_given(tmp_path):
    """A new mode on benchapp.wsgi (a copy of the table, as load_modes(path) reads it) serves the app."""
    data = yaml.safe_load(table.MODES_FILE.read_text())
    data["modes"]["gunicorn-again"] = {**data["modes"]["gunicorn"], "title": "added by a test"}
    data["modes"]["gunicorn-elsewhere"] = {**data["modes"]["gunicorn"], "entry": "benchapp.elsewhere"}
    copy = tmp_path / "modes.yml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    served, skipped = userapp.modes_for(spec_in(tmp_path / "app"), table.load_modes(copy))
    assert served["gunicorn-again"] == "benchapp.user_wsgi"
    assert skipped["gunicorn-elsewhere"] == "its entry benchapp.elsewhere is the built-in app's alone"
    assert "gunicorn-again" not in userapp.modes_for(spec_in(tmp_path / "app"))[0]  # the real table: no such mode


# --- spec_digest ---------------------------------------------------------------------------

def test_spec_digest_follows_the_description_and_the_requirements_only(tmp_path):
    spec = spec_in(tmp_path)
    first = userapp.spec_digest(spec)
    assert len(first) == 16 and int(first, 16) >= 0
    (tmp_path / "mine" / "wsgi.py").write_text("# the app's code changed\n")
    (tmp_path / "README.md").write_text("notes\n")
    assert userapp.spec_digest(spec) == first  # code is not the description

    (tmp_path / "requirements.txt").write_text("flask>=3\nrequests\n")
    after_requirements = userapp.spec_digest(spec)
    assert after_requirements != first

    app_dir(tmp_path, req_text="flask>=3\nrequests\n", budget_ms=150)
    after_description = userapp.spec_digest(spec)
    assert after_description not in (first, after_requirements)

    app_dir(tmp_path)  # back as it was: the same digest again
    assert userapp.spec_digest(spec) == first


def test_spec_digest_is_the_files_bytes_not_where_they_are(tmp_path):
    assert userapp.spec_digest(spec_in(tmp_path / "a")) == userapp.spec_digest(spec_in(tmp_path / "b"))


# --- record and deployment -------------------------------------------------------------------

def test_record_is_what_app_json_holds(tmp_path):
    spec = spec_in(tmp_path, asgi="mine.asgi:app")
    got = userapp.record(spec)
    assert list(got) == ["name", "spec_sha", "wsgi", "asgi", "health", "budget_ms", "routes", "modes", "skipped"]
    assert (got["name"], got["wsgi"], got["asgi"], got["health"], got["budget_ms"]) == (
        "mine", "mine.wsgi:create_app()", "mine.asgi:app", "/healthz", 100.0)
    assert got["spec_sha"] == userapp.spec_digest(spec)
    assert got["routes"] == [
        {"name": "GET /", "path": "/", "method": "GET", "headers": {}, "body": None, "expect": 200, "weight": 1.0},
        {"name": "order", "path": "/orders", "method": "POST", "headers": {"Content-Type": "application/json"},
         "body": "{}", "expect": 201, "weight": 0.5},
    ]
    assert (got["modes"], got["skipped"]) == userapp.modes_for(spec)
    assert json.loads(json.dumps(got)) == got  # plain data: written as JSON on the app host


def test_record_without_an_asgi_target(tmp_path):
    got = userapp.record(spec_in(tmp_path))
    assert got["asgi"] is None and "quart" in got["skipped"] and "quart" not in got["modes"]


def test_deployment_adds_the_directory_the_requirements_and_the_env(tmp_path):
    folder = tmp_path / "app"
    (folder / "reqs").mkdir(parents=True)
    (folder / "reqs" / "prod.txt").write_text("flask>=3\n")
    app_dir(folder, requirements="reqs/prod.txt")
    got = userapp.deployment(str(folder))
    assert got["directory"] == str(folder.resolve())
    assert got["requirements"] == "reqs/prod.txt"  # relative to the directory: the role copies the directory whole
    assert got["env"] == SPEC["env"]  # its placeholders still in: the role fills them
    assert {k: v for k, v in got.items() if k not in ("directory", "requirements", "env")} == userapp.record(
        appspec.load(folder))


def test_deployment_of_a_home_relative_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    app_dir(tmp_path / "apps" / "mine")
    got = userapp.deployment("~/apps/mine")
    assert got["directory"] == str((tmp_path / "apps" / "mine").resolve()) and got["requirements"] == "requirements.txt"


def test_deployment_through_a_symlinked_directory(tmp_path):
    real = app_dir(tmp_path / "real")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    got = userapp.deployment(str(tmp_path / "link"))
    assert got["directory"] == str(real.resolve()) and got["requirements"] == "requirements.txt"


def test_the_example_shops_deployment():
    got = userapp.deployment(str(EXAMPLE))
    assert (got["name"], got["wsgi"], got["asgi"], got["directory"]) == ("shop", "shop:create_app()", None,
                                                                          str(EXAMPLE.resolve()))
    assert [r["name"] for r in got["routes"]] == ["catalog", "product", "stock", "order"]
    assert got["env"]["DATABASE_URL"] == "postgresql+psycopg2://${flaskbench_postgres}"
    assert got["modes"]["gunicorn-gevent"] == "benchapp.user_patched" and "psycopg2" in got["skipped"]


def test_a_user_apps_units_run_its_venv_and_code_and_conflict_among_themselves(tmp_path):
    """flask-mode.service.j2 with the deployment: a unit per mode that serves the app, each from the app's venv
    and folder (PYTHONPATH: benchapp, then the app's src, as benchapp.serve.server_env sets it)."""
    user = userapp.deployment(str(app_dir(tmp_path)))
    table = {"modes": lookup_modes()}
    unit = render_unit(table, "gunicorn-gevent", user)
    assert unit_values(unit, "ExecStart") == [
        "/opt/flaskbench/apps/mine/venv/bin/python -m benchapp.serve --mode gunicorn-gevent"]
    assert unit_values(unit, "WorkingDirectory") == ["/opt/flaskbench/apps/mine/src"]
    assert "Environment=PYTHONPATH=/opt/flaskbench/app:/opt/flaskbench/apps/mine/src" in unit.splitlines()
    assert "# It serves the app mine (mine.wsgi:create_app()) through benchapp.user_patched," in unit.splitlines()
    conflicts = " ".join(unit_values(unit, "Conflicts")).split()
    assert sorted(conflicts) == sorted(f"flask-{m}.service" for m in user["modes"] if m != "gunicorn-gevent")
    assert "flask-psycopg2.service" not in conflicts  # no unit for a mode that cannot serve the app
    builtin = render_unit(table, "gunicorn-gevent")
    assert unit_values(builtin, "ExecStart") == [
        "/opt/flaskbench/venv/bin/python -m benchapp.serve --mode gunicorn-gevent"]
    assert "flask-psycopg2.service" in " ".join(unit_values(builtin, "Conflicts"))
    assert "# It serves the app" not in builtin


# --- fill_env ------------------------------------------------------------------------------

FILL = {"flaskbench_postgres": "flaskbench:pa$$\\1word@10.0.0.3:5432/flaskbench",
        "flaskbench_slow_api": "10.0.0.4:8000"}


def test_fill_env_fills_every_placeholder_literally():
    env = {"DATABASE_URL": "postgresql+psycopg2://${flaskbench_postgres}",
           "WAREHOUSE": "http://${flaskbench_slow_api}/?delay=0.05&again=${flaskbench_slow_api}",
           "PLAIN": "no placeholder, a $dollar and {braces}"}
    assert userapp.fill_env(env, FILL) == {
        # the password's $ and backslash kept as they are (no regex replacement syntax)
        "DATABASE_URL": "postgresql+psycopg2://flaskbench:pa$$\\1word@10.0.0.3:5432/flaskbench",
        "WAREHOUSE": "http://10.0.0.4:8000/?delay=0.05&again=10.0.0.4:8000",
        "PLAIN": "no placeholder, a $dollar and {braces}",
    }
    assert userapp.fill_env({}, FILL) == {}


def test_fill_env_refuses_a_placeholder_it_has_no_value_for():
    with pytest.raises(ValueError) as err:
        userapp.fill_env({"OK": "${flaskbench_slow_api}", "DATABASE_URL": "pg://${flaskbench_postgres}"},
                         {"flaskbench_slow_api": "10.0.0.4:8000"})
    assert str(err.value) == "env DATABASE_URL: ${flaskbench_postgres} has no value to fill"


def test_the_example_shops_env_filled_as_the_role_fills_it():
    env = userapp.fill_env(appspec.load(EXAMPLE).env, FILL)
    assert env["SHOP_WAREHOUSE_URL"] == "http://10.0.0.4:8000/?delay=0.05"
    assert env["DATABASE_URL"] == "postgresql+psycopg2://" + FILL["flaskbench_postgres"]
    assert not any("${" in value for value in env.values())


# --- appspec: an env value's ${placeholders} ---------------------------------------------------

@pytest.mark.parametrize("value, found", [
    ("postgresql://${flaskbench_db}", "${flaskbench_db}"),
    ("http://${flaskbench_slow_api}/${FLASKBENCH_POSTGRES}", "${FLASKBENCH_POSTGRES}"),
    ("${}", "${}"),
    ("${ flaskbench_postgres }", "${ flaskbench_postgres }"),
])
def test_an_unknown_placeholder_names_the_field_and_the_valid_ones(tmp_path, value, found):
    with pytest.raises(appspec.AppSpecError) as err:
        spec_in(tmp_path, env={"MODE": "bench", "DATABASE_URL": value})
    assert str(err.value) == (f"{tmp_path / appspec.FILENAME}: env.DATABASE_URL: {found} is not a placeholder the "
                              f"deploy fills; valid: ${{flaskbench_postgres}}, ${{flaskbench_slow_api}}")


def test_known_placeholders_pass_and_stay_until_the_deploy(tmp_path):
    env = {"DB": "postgresql://${flaskbench_postgres}", "API": "http://${flaskbench_slow_api}/",
           "BOTH": "${flaskbench_postgres}|${flaskbench_slow_api}", "SHELL": "$HOME and $${not one"}
    assert spec_in(tmp_path, env=env).env == env
    assert set(appspec.PLACEHOLDERS) == {"flaskbench_postgres", "flaskbench_slow_api"}


def test_a_header_is_sent_as_written(tmp_path):
    """Only env values are filled by the deploy: a route's header keeps its ${...} as the client sends it."""
    routes = [{"path": "/", "headers": {"Authorization": "Bearer ${token}"}}]
    spec = spec_in(tmp_path, routes=routes)
    assert spec.routes[0].headers == {"Authorization": "Bearer ${token}"}


# --- the filters site.yml uses ----------------------------------------------------------------

def test_the_flaskbench_app_filter_is_the_deployment(tmp_path):
    folder = app_dir(tmp_path)
    assert filters.flaskbench_app(str(folder)) == userapp.deployment(str(folder))
    assert filters.FILTERS["flaskbench_app"] is filters.flaskbench_app


@pytest.mark.parametrize("fields, words", [
    ({"budget_ms": 0}, "budget_ms: 0 is not a positive number"),
    ({"env": {"DB": "${flaskbench_db}"}}, "env.DB: ${flaskbench_db} is not a placeholder the deploy fills"),
    ({"health": None}, "missing health"),
])
def test_the_flaskbench_app_filter_fails_with_the_descriptions_error(tmp_path, fields, words):
    folder = app_dir(tmp_path, **fields)
    with pytest.raises(appspec.AppSpecError) as expected:
        appspec.load(folder)
    with pytest.raises(AnsibleFilterError) as err:
        filters.flaskbench_app(str(folder))
    assert err.value.message == f"app={folder}: {expected.value}"
    assert words in err.value.message


def test_the_flaskbench_app_filter_on_a_directory_without_a_description(tmp_path):
    with pytest.raises(AnsibleFilterError) as err:
        filters.flaskbench_app(str(tmp_path))
    assert err.value.message.startswith(f"app={tmp_path}: {tmp_path / appspec.FILENAME}: no such file")


def test_the_flaskbench_app_env_filter():
    env = {"DB": "pg://${flaskbench_postgres}", "N": 5}
    assert filters.flaskbench_app_env(env, FILL) == {"DB": "pg://" + FILL["flaskbench_postgres"], "N": "5"}
    with pytest.raises(AnsibleFilterError) as err:
        filters.flaskbench_app_env(env, {"flaskbench_slow_api": "10.0.0.4:8000"})
    assert err.value.message == "env DB: ${flaskbench_postgres} has no value to fill"
    assert filters.FILTERS["flaskbench_app_env"] is filters.flaskbench_app_env
