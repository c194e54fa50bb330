"""The roles as the tests read them, without a host: their defaults, the mode table the flaskbench_modes
lookup gives them, and their templates rendered with Jinja (stand-ins for Ansible's filters).

Shared by tests/ansible (test_roles, test_one_entry, test_bench_params) and tests/flaskbench/test_plan.py
(through plans.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

from benchrun import ROOT
from flaskbench import modeslookup as LOOKUP

ROLES_DIR = ROOT / "roles"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def is_template(value: Any) -> bool:
    """True for values Ansible computes at run time (Jinja in a string)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def role_defaults(role: str) -> dict[str, Any]:
    return load_yaml(ROLES_DIR / role / "defaults" / "main.yml") or {}


def lookup_modes(path: Path | None = None, cores: int | None = None) -> dict[str, dict[str, Any]]:
    """What lookup('flaskbench_modes'[, cores=...]) gives the roles."""
    rows = LOOKUP.LookupModule().run([], {}, **({"file": str(path)} if path else {}),
                                     **({"cores": cores} if cores else {}))
    return rows[0]


def jinja_env(role: str) -> jinja2.Environment:
    """Jinja with stand-ins for the Ansible filters the templates use."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLES_DIR / role / "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True)
    env.filters["comment"] = lambda text: "\n".join(f"# {line}" for line in str(text).splitlines())
    env.filters["regex_replace"] = lambda value, pattern, repl: re.sub(pattern, repl.replace("\\\\", "\\"), value)
    env.filters["bool"] = bool
    return env


def literal_defaults(role: str) -> dict[str, Any]:
    """The role's literal defaults over the shared ones, as Ansible layers them."""
    merged = {**role_defaults("flaskbench"), **role_defaults(role)}
    merged.update(flaskbench_app_dir="/opt/flaskbench/app", flaskbench_venv_dir="/opt/flaskbench/venv")
    return {k: v for k, v in merged.items() if not is_template(v)}


def render_unit(table: dict[str, Any], mode: str, user: dict[str, Any] | None = None) -> str:
    """flask-mode.service.j2 for `mode`: a unit of the built-in app, or of a user's app (`user`: its
    flaskbench.userapp.deployment, as the filter flaskbench_app gives the role), with the values
    flask_app's vars/main.yml derives for either."""
    context = literal_defaults("flask_app")
    app_dir = context["flaskbench_app_dir"]
    if user is None:
        derived = {"flask_app_user_given": False, "flask_app_served": list(table["modes"]),
                   "flask_app_venv": context["flaskbench_venv_dir"], "flask_app_workdir": app_dir,
                   "flask_app_pythonpath": app_dir}
    else:
        user_dir = f"{context['flaskbench_home']}/apps/{user['name']}"
        derived = {"flask_app_user_given": True, "flask_app_user": user, "flask_app_served": list(user["modes"]),
                   "flask_app_venv": f"{user_dir}/venv", "flask_app_workdir": f"{user_dir}/src",
                   "flask_app_pythonpath": f"{app_dir}:{user_dir}/src"}
    context.update(ansible_managed="Ansible managed", flask_app_modes=table["modes"],
                   flask_app_unit_mode=mode, flask_app_unit=table["modes"][mode], flaskbench_nofile=20000, **derived)
    return jinja_env("flask_app").get_template("flask-mode.service.j2").render(context)


def unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def render_backend(table: dict[str, Any], mode: str, profile: str) -> str:
    context = literal_defaults("nginx")
    context.update(ansible_managed="Ansible managed", nginx_backend_mode=mode,
                   nginx_backend=table["modes"][mode], nginx_backend_profile=profile)
    return jinja_env("nginx").get_template("backend.conf.j2").render(context)
