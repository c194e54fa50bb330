"""The roles' contracts, checked without a host.

- Every role's meta/argument_specs.yml describes exactly the variables of its
  defaults/main.yml, with the same literal defaults and matching types, and
  every variable carries the role's prefix (the shared settings live once,
  in the flaskbench role).
- The unit, nginx and config templates render for every mode of the table,
  as the flaskbench_modes lookup gives it, into what the runtime contract
  needs (one unit per mode, mutually exclusive; nginx backends per protocol).
- The controller-side helpers (pack script, the lookup, the filters) behave.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from benchrun import ROOT as REPO
from flaskbench import filters as FILTERS
from flaskbench import modeslookup as LOOKUP
from rolespecs import (ROLES_DIR, is_template, jinja_env, literal_defaults, load_yaml, lookup_modes,
                       render_backend, render_unit, role_defaults, unit_values)

ROLES = ["flaskbench", "base", "postgres", "slow_api", "flask_app", "nginx", "loadgen", "bench", "drills"]
PLUGINS = REPO / "plugins"

# Spec types and the Python types a literal default of that type may have.
LITERAL_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "path": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "raw": (object,),
}


def role_options(role: str) -> dict[str, dict[str, Any]]:
    specs = load_yaml(ROLES_DIR / role / "meta" / "argument_specs.yml")
    return specs["argument_specs"]["main"]["options"]


@pytest.fixture(scope="module")
def table() -> dict[str, Any]:
    """The table as the roles see it: {"modes": {name: mode}}."""
    return {"modes": lookup_modes()}


# --- argument specs mirror defaults -------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_specs_describe_exactly_the_defaults(role: str) -> None:
    assert set(role_options(role)) == set(role_defaults(role))


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_equal_the_role_defaults(role: str) -> None:
    defaults = role_defaults(role)
    for name, option in role_options(role).items():
        value = defaults[name]
        if "default" in option:
            assert option["default"] == value, f"{role}: {name} spec default differs from defaults/main.yml"
        else:
            # Only computed values may leave the spec's default out (their
            # description says how they are computed).
            assert is_template(value), f"{role}: {name} has a literal default the spec does not show"


@pytest.mark.parametrize("role", ROLES)
def test_spec_types_fit_literal_defaults(role: str) -> None:
    defaults = role_defaults(role)
    for name, option in role_options(role).items():
        assert option.get("type") in LITERAL_TYPES, f"{role}: {name} needs a type"
        assert option.get("description"), f"{role}: {name} needs a description"
        value = defaults[name]
        if is_template(value):
            continue
        expected = LITERAL_TYPES[option["type"]]
        assert isinstance(value, expected), f"{role}: {name}={value!r} is not {option['type']}"
        if option["type"] == "int":
            assert not isinstance(value, bool)
        if option["type"] == "list" and "elements" in option and value:
            element_types = LITERAL_TYPES[option["elements"]]
            assert all(isinstance(v, element_types) or is_template(v) for v in value)
        if "choices" in option:
            # For a list, Ansible checks each element against the choices.
            values = value if option["type"] == "list" else [value]
            assert all(v in option["choices"] for v in values), f"{role}: default {name}={value!r} is not a choice"


@pytest.mark.parametrize("role", ROLES)
def test_variables_carry_the_role_prefix(role: str) -> None:
    for name in role_defaults(role):
        assert name.startswith(f"{role}_"), f"{role}: {name} lacks the role prefix"
    vars_file = ROLES_DIR / role / "vars" / "main.yml"
    if vars_file.exists():
        for name in load_yaml(vars_file) or {}:
            assert name.startswith(f"{role}_"), f"{role} vars: {name} lacks the role prefix"


@pytest.mark.parametrize("role", ROLES)
def test_secrets_are_marked_no_log(role: str) -> None:
    for name, option in role_options(role).items():
        if name.endswith("_password"):
            assert option.get("no_log") is True, f"{role}: {name} must be no_log"


# --- the mode table and flask_app -----------------------------------------------


def test_default_mode_is_gevent_served_directly(table: dict[str, Any]) -> None:
    mode = table["modes"][role_defaults("flask_app")["flask_app_mode"]]
    assert mode["gevent"]
    assert mode["front"] == "none"
    assert mode["port"] == 3000


def test_profile_choices_are_the_table_profiles(table: dict[str, Any]) -> None:
    profiles = {p for mode in table["modes"].values() for p in mode["profiles"]}
    assert profiles == set(LOOKUP.table.PROFILES)
    assert set(role_options("flask_app")["flask_app_profile"]["choices"]) == profiles


def test_nginx_timeout_exceeds_app_upstream_timeout() -> None:
    app = role_defaults("flask_app")
    assert app["flask_app_upstream_timeout"] > role_defaults("flaskbench")["flaskbench_max_delay"]
    assert role_defaults("nginx")["nginx_backend_read_timeout"] > app["flask_app_upstream_timeout"]


def test_shared_settings_are_set_once() -> None:
    """A shared setting lives in the flaskbench role only, and every role depends on it."""
    shared = set(role_defaults("flaskbench"))
    for role in ROLES[1:]:
        assert not shared & set(role_defaults(role)), f"{role} redefines {shared & set(role_defaults(role))}"
        deps = load_yaml(ROLES_DIR / role / "meta" / "main.yml")["dependencies"]
        assert {"role": "flaskbench"} in deps, f"{role} does not depend on flaskbench"


# --- templates --------------------------------------------------------------------


def templates() -> list[Path]:
    """Templates of files deployed to hosts (reports on the controller are results)."""
    return sorted(p for p in ROLES_DIR.glob("*/templates/*.j2") if not p.name.endswith(".md.j2"))


@pytest.mark.parametrize("path", templates(), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_templates_say_they_are_managed(path: Path) -> None:
    lines = path.read_text().splitlines()
    first = lines[1] if lines[0].startswith("#!") else lines[0]
    assert first == "{{ ansible_managed | comment }}"


def test_one_unit_per_mode_mutually_exclusive(table: dict[str, Any]) -> None:
    names = list(table["modes"])
    for index, mode in enumerate(names):
        unit = render_unit(table, mode)
        assert unit_values(unit, "ExecStart") == [
            f"/opt/flaskbench/venv/bin/python -m benchapp.serve --mode {mode}"]
        conflicts = " ".join(unit_values(unit, "Conflicts")).split()
        assert sorted(conflicts) == sorted(f"flask-{m}.service" for m in names if m != mode)
        # One ordering per pair: stop jobs then come before start jobs.
        after = " ".join(unit_values(unit, "After")).split()
        assert {a for a in after if a.startswith("flask-")} == {f"flask-{m}.service" for m in names[:index]}
        assert unit_values(unit, "User") == ["flaskbench"]
        assert unit_values(unit, "Restart") == ["on-failure"]
        assert unit_values(unit, "WorkingDirectory") == ["/opt/flaskbench/app"]
        assert unit_values(unit, "LimitNOFILE") == ["20000"]


def test_units_start_tuned_unless_the_profile_file_says_otherwise(table: dict[str, Any]) -> None:
    unit = render_unit(table, "uwsgi-gevent")
    lines = unit.splitlines()
    assert "Environment=BENCHAPP_PROFILE=tuned" in lines
    assert "EnvironmentFile=/etc/flaskbench/app.env" in lines
    # The '-' makes the profile file optional: a plain start runs tuned.
    assert "EnvironmentFile=-/etc/flaskbench/profile.env" in lines


def test_units_are_sandboxed(table: dict[str, Any]) -> None:
    unit = render_unit(table, "gunicorn")
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                    "CapabilityBoundingSet=", "ProtectHome=yes"):
        assert setting in unit.splitlines()


def test_nginx_mode_units_switch_the_backend_first(table: dict[str, Any]) -> None:
    for mode, spec in table["modes"].items():
        pre = unit_values(render_unit(table, mode), "ExecStartPre")
        if spec["front"] == "nginx":
            assert pre == [f"+/usr/local/sbin/flaskbench-nginx-backend {mode} ${{BENCHAPP_PROFILE}}"]
        else:
            assert pre == []


def test_nginx_backends_speak_each_modes_protocol(table: dict[str, Any]) -> None:
    nginx_modes = {m: s for m, s in table["modes"].items() if s["front"] == "nginx"}
    assert nginx_modes, "the table has nginx modes"
    for mode, spec in nginx_modes.items():
        for profile in ("seed", "tuned"):
            conf = render_backend(table, mode, profile)
            if spec["protocol"] == "uwsgi":
                assert f"uwsgi_pass 127.0.0.1:{spec['backend_port']};" in conf
                assert "uwsgi_read_timeout 60s;" in conf
                assert "proxy_pass" not in conf
            else:
                assert "proxy_read_timeout 60s;" in conf
                assert "uwsgi_pass" not in conf
                if profile == "tuned":
                    assert f"proxy_pass http://flaskbench_{mode.replace('-', '_')};" in conf
                    assert 'proxy_set_header Connection "";' in conf
                else:
                    assert f"proxy_pass http://127.0.0.1:{spec['backend_port']};" in conf


@pytest.mark.parametrize("grpc_port", [8001, 0])
def test_slow_api_unit_serves_grpc_on_its_port(grpc_port: int) -> None:
    context = literal_defaults("slow_api")
    context.update(ansible_managed="Ansible managed", flaskbench_nofile=20000, flaskbench_api_grpc_port=grpc_port)
    unit = jinja_env("slow_api").get_template("slow-api.service.j2").render(context)
    (start,) = unit_values(unit, "ExecStart")
    argv = start.split()
    assert argv[argv.index("--grpc-port") + 1] == str(grpc_port)  # 0: the app's /grpc has no upstream
    assert ("gRPC on :8001" in unit_values(unit, "Description")[0]) is bool(grpc_port)


def test_app_env_holds_the_runtime_contract() -> None:
    context = literal_defaults("flask_app")
    context.update(ansible_managed="Ansible managed", flask_app_upstream_url="http://10.0.0.2:8000/",
                   flask_app_upstream_grpc="10.0.0.2:8001",
                   flask_app_db_host="10.0.0.3", flaskbench_db_password="s3cret",
                   flask_app_user_given=False)  # the built-in app (vars/main.yml: no flaskbench_user_app)
    text = jinja_env("flask_app").get_template("app.env.j2").render(context)
    env = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert env["BENCHAPP_UPSTREAM_URL"] == "http://10.0.0.2:8000/"
    assert env["BENCHAPP_UPSTREAM_GRPC"] == "10.0.0.2:8001"
    assert env["BENCHAPP_DATABASE_DSN"] == (
        '"host=10.0.0.3 port=5432 dbname=flaskbench user=flaskbench password=s3cret"')
    assert float(env["BENCHAPP_UPSTREAM_TIMEOUT"]) > float(env["BENCHAPP_MAX_DELAY"])
    assert {"BENCHAPP_DB_POOL_SIZE", "BENCHAPP_HTTP_POOL_SIZE"} <= env.keys()


# --- controller-side helpers ----------------------------------------------------


def test_lookup_resolves_counts_for_the_host(table: dict[str, Any]) -> None:
    assert lookup_modes(cores=3)["uwsgi"]["options"]["tuned"]["workers"] == 6
    # The most processes any profile runs: uWSGI/Gunicorn tuned at 2*cores, seed at 4.
    assert max(m["max_workers"] for m in lookup_modes(cores=1).values()) == 4
    assert max(m["max_workers"] for m in lookup_modes(cores=8).values()) == 16
    assert all(m["unit"] == f"flask-{name}.service" for name, m in table["modes"].items())


def test_lookup_names_the_valid_modes_for_an_unknown_one() -> None:
    from ansible.errors import AnsibleLookupError
    with pytest.raises(AnsibleLookupError, match="unknown mode 'nope'; valid modes: devserver, "):
        LOOKUP.LookupModule().run(["nope"], {})
    assert LOOKUP.LookupModule().run(["uwsgi"], {})[0]["port"] == 3000


def test_lookup_refuses_a_bad_count(tmp_path: Path) -> None:
    from ansible.errors import AnsibleLookupError
    bad = tmp_path / "modes.yml"
    bad.write_text(LOOKUP.table.MODES_FILE.read_text().replace('workers: "2*cores"', 'workers: "many"', 1))
    with pytest.raises(AnsibleLookupError, match="workers='many', expected a count"):
        lookup_modes(bad)


class FakeHostvars(dict):
    """hostvars as the filters see it: host -> its variables."""


def test_peer_address_is_loopback_on_the_same_host() -> None:
    hostvars = FakeHostvars({"app": {"ansible_host": "10.0.0.2"}, "api": {"ansible_host": "api.example",
                                                                          "flaskbench_address": "10.0.0.3"},
                             "db": {}})
    assert FILTERS.flaskbench_peer(["api", "other"], hostvars, "app") == "10.0.0.3"
    assert FILTERS.flaskbench_peer(["app"], hostvars, "app") == "127.0.0.1"
    assert FILTERS.flaskbench_peer([], hostvars, "app") == "127.0.0.1"
    assert FILTERS.flaskbench_peer(["db"], hostvars, "app") == "db"
    assert FILTERS.flaskbench_address("app", hostvars) == "10.0.0.2"


def test_nofile_is_capped_at_systemds_hard_limit() -> None:
    limits = ("Limit                     Soft Limit           Hard Limit           Units\n"
              "Max open files            1024                 {hard}                files\n")
    assert FILTERS.flaskbench_nofile(limits.format(hard="20000"), 65536) == 20000
    assert FILTERS.flaskbench_nofile(limits.format(hard="524288"), 65536) == 65536
    assert FILTERS.flaskbench_nofile(limits.format(hard="unlimited"), 65536) == 65536
    with pytest.raises(ValueError):
        FILTERS.flaskbench_nofile("nothing here", 10)


PACK = ROLES_DIR / "base" / "files" / "flaskbench_pack.py"


def _pack(src: Path, out: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(PACK), str(src), str(out), "bundle", *extra],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def test_pack_is_named_by_content_and_deterministic(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("A = 1\n")
    (src / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    (src / "b.yml").write_text("b: 2\n")

    first = _pack(src, tmp_path / "out")
    assert first["created"]
    again = _pack(src, tmp_path / "out")
    assert again == {**first, "created": False}

    with tarfile.open(first["path"]) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"b.yml", "pkg", "pkg/a.py"}
    assert all(m.mtime == 0 and m.uid == 0 for m in members.values())
    assert members["pkg/a.py"].mode == 0o644 and members["pkg"].mode == 0o755

    # Same content elsewhere, same bytes.
    other = _pack(src, tmp_path / "out2")
    assert Path(other["path"]).read_bytes() == Path(first["path"]).read_bytes()

    (src / "pkg" / "a.py").write_text("A = 2\n")
    changed = _pack(src, tmp_path / "out")
    assert changed["sha"] != first["sha"] and changed["created"]
    assert not Path(first["path"]).exists(), "the outdated archive is removed"


def test_pack_include_filter(tmp_path: Path) -> None:
    src = tmp_path / "wheels"
    src.mkdir()
    (src / "x-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (src / ".built-123").write_text("stamp")
    result = _pack(src, tmp_path / "out", "--include", "*.whl")
    with tarfile.open(result["path"]) as tar:
        assert tar.getnames() == ["x-1.0-py3-none-any.whl"]
