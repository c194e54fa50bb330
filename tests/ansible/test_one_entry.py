"""Adding a mode is one entry in modes.yml.

A copy of the table gets one more mode (a clone of nginx-gunicorn under a new
name), and FLASKBENCH_MODES_FILE points every reader at it. With no other
edit, the new mode reaches: the docs table, the app's launcher, the mode
switch, the systemd units (its own, and the Conflicts= of every other), the
nginx backends, the bench's plan, the drills' c1000 list and the app's
parametrised tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchapp import modectl, modes
from benchrun import ROOT
from rolespecs import lookup_modes, render_backend, render_unit, unit_values

NEW = "throwaway-nginx"


@pytest.fixture(scope="module")
def table_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load(modes.MODES_FILE.read_text())
    entry = dict(data["modes"]["nginx-gunicorn"], title="A mode added by a test")
    data["modes"][NEW] = entry
    path = tmp_path_factory.mktemp("table") / "modes.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def env_for(path: Path) -> dict[str, str]:
    return {**os.environ, "FLASKBENCH_MODES_FILE": str(path), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "app")])}


def test_the_docs_table_lists_it(table_copy: Path) -> None:
    rows = modes.markdown_table(modes.load_modes(table_copy)).splitlines()
    assert any(row.startswith(f"| `{NEW}` | A mode added by a test") for row in rows)
    assert not any(NEW in row for row in modes.markdown_table().splitlines())  # the real table is untouched


def test_the_launcher_and_the_switch_know_it(table_copy: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "benchapp.serve", "--mode", NEW, "--profile", "tuned",
                           "--cores", "2", "--json"], env=env_for(table_copy), capture_output=True, text=True,
                          check=True, cwd=ROOT / "app")
    argv = json.loads(done.stdout)
    assert "benchapp.patched:app" in " ".join(argv) or "benchapp.patched" in argv
    args = modectl.parse_args(["set", NEW, "seed"], modes.load_modes(table_copy))
    assert (args.mode, args.profile) == (NEW, "seed")


def test_units_and_nginx_pick_it_up(table_copy: Path) -> None:
    table = {"modes": lookup_modes(table_copy)}
    unit = render_unit(table, NEW)
    assert unit_values(unit, "ExecStart") == [f"/opt/flaskbench/venv/bin/python -m benchapp.serve --mode {NEW}"]
    assert unit_values(unit, "ExecStartPre") == [f"+/usr/local/sbin/flaskbench-nginx-backend {NEW} ${{BENCHAPP_PROFILE}}"]
    for other in table["modes"]:
        if other != NEW:
            assert f"flask-{NEW}.service" in " ".join(unit_values(render_unit(table, other), "Conflicts"))
    assert "proxy_pass http://flaskbench_throwaway_nginx;" in render_backend(table, NEW, "tuned")


def test_the_bench_and_the_drills_plan_it(table_copy: Path, tmp_path: Path) -> None:
    fake = tmp_path / "flaskbench-mode"
    fake.write_text("#!/bin/sh\necho '{\"mode\": null, \"profile\": \"tuned\", \"monitor\": false, \"max_delay\": 30}'\n")
    fake.chmod(0o755)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {
        group: {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                        "flaskbench_mode_command": str(fake)}}}
        for group in ("app", "loadgen")}}}))
    out = tmp_path / "out.json"
    playbook = Path(sys.executable).with_name("ansible-playbook")
    done = subprocess.run([str(playbook), "-i", str(inventory), "tests/playbooks/one_entry.yml",
                           "-e", f"one_entry_mode={NEW}", "-e", f"one_entry_out={out}",
                           "-e", f"drills_results_dir={tmp_path / 'results'}"],
                          cwd=ROOT, env=env_for(table_copy), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    seen = json.loads(out.read_text())
    assert [(r["name"], r["port"], r["route"], r["unit"]) for r in seen["bench_plan"]] == [
        (f"{NEW}-seed", 8080, "/", f"flask-{NEW}.service"), (f"{NEW}-tuned", 8080, "/", f"flask-{NEW}.service")]
    assert NEW in seen["drills_c1000_modes"]
    assert f"flask-{NEW}.service" in seen["flask_app_units"]
    assert NEW in seen["nginx_modes"]


def test_the_apps_tests_are_parametrised_over_it(table_copy: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "tests/test_modes_table.py"], cwd=ROOT / "app", env=env_for(table_copy),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert f"[{NEW}]" in done.stdout or f"{NEW}-" in done.stdout, done.stdout[-2000:]
