"""Every role's README.md is the one python -m flaskbench.rolereadmes renders from its meta/argument_specs.yml.

A spec changed without its README (or a README edited by hand) fails here, naming the role; the fix
is `python python -m flaskbench.rolereadmes`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from benchrun import ROOT as REPO
from flaskbench import rolereadmes as GEN

ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir())


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flaskbench.rolereadmes", *args], capture_output=True, text=True, check=False)


def test_every_role_has_a_spec_and_a_readme():
    assert ROLES and [p.name for p in GEN.roles(REPO / "roles")] == ROLES
    for role in ROLES:
        assert (REPO / "roles" / role / "README.md").is_file(), f"roles/{role}/README.md: run python -m flaskbench.rolereadmes"


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_is_the_rendered_spec(role):
    readme = REPO / "roles" / role / "README.md"
    assert readme.read_text() == GEN.render(readme.parent), (
        f"roles/{role}/README.md differs from its meta/argument_specs.yml: run python -m flaskbench.rolereadmes")


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_of_the_spec_is_in_the_readme(role):
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    text = (REPO / "roles" / role / "README.md").read_text()
    for name, entry in specs.items():
        assert f"## Entry point `{name}`" in text
        for var in entry.get("options") or {}:
            assert f"| `{var}` |" in text, f"{role}: {var}"


def test_the_repositorys_readmes_pass_the_check():
    out = run("--check")
    assert out.returncode == 0, out.stderr


def test_a_changed_spec_fails_the_check_until_the_readmes_are_written(tmp_path):
    roles = tmp_path / "roles"
    for role in ("loadgen", "flask_app"):
        shutil.copytree(REPO / "roles" / role / "meta", roles / role / "meta")
        shutil.copy(REPO / "roles" / role / "README.md", roles / role / "README.md")
    assert run("--check", "--roles-dir", str(roles)).returncode == 0
    spec = roles / "loadgen" / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("default: [apache2-utils, wrk]", "default: [apache2-utils, wrk, httperf]"))
    out = run("--check", "--roles-dir", str(roles))
    assert out.returncode == 1
    assert "loadgen/README.md differs" in out.stderr and "flask_app" not in out.stderr
    assert run("--roles-dir", str(roles)).returncode == 0  # writes it
    assert "`[apache2-utils, wrk, httperf]`" in (roles / "loadgen" / "README.md").read_text()
    assert run("--check", "--roles-dir", str(roles)).returncode == 0


def test_markup_pipes_and_angle_brackets_stay_in_their_cells(tmp_path):
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": {"main": {
        "short_description": "A demo role.",
        "description": ["Installs flask-<mode>.service."],
        "options": {
            "demo_mode": {"type": "str", "choices": ["a", "b"], "default": "a",
                          "description": "C(a) or C(b); I(one) of B(two) in <dir>."},
            "demo_hosts": {"type": "list", "elements": "str", "default": "{{ groups['x'] | default([]) }}",
                           "description": ["Hosts.", "By default group x."]},
            "demo_secret": {"type": "str", "no_log": True, "description": "A password."},
        }},
        "other": {"short_description": "Another way in.", "options": {
            "demo_needed": {"type": "int", "required": True, "description": "Needed."}}}}}))
    text = GEN.render(role)
    assert text.startswith("# Role `demo`\n") and "A demo role." in text
    assert "- Installs flask-&lt;mode&gt;.service." in text
    assert ("| `demo_mode` | str; one of `a`, `b` | `a` | `a` or `b`; *one* of **two** in &lt;dir&gt;. |") in text
    assert "| `demo_hosts` | list of str | `{{ groups['x'] \\| default([]) }}` | Hosts. By default group x. |" in text
    assert "| `demo_secret` | str | none in the spec (see its description) | A password. A secret" in text
    assert "## Entry point `other` (`tasks_from: other.yml`)\n\nAnother way in." in text
    assert "| `demo_needed` | int | required | Needed. |" in text
