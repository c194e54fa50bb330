"""site.yml refuses bad variables before any task reaches a host.

The inventory's hosts point at a closed port on loopback (as in
test_bench_params): a play that tried to reach them would show them
unreachable in the recap. A good variable set does reach them, and the
failure then names the unreachable host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchrun import ROOT

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
GROUPS = ("loadgen", "app", "slow_api", "postgres")


def inventory(tmp_path: Path) -> Path:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lines = ["all:", "  children:"]
    for group in GROUPS:
        lines += [f"    {group}:", "      hosts:", f"        fake-{group}:",
                  "          ansible_host: 127.0.0.1", f"          ansible_port: {port}"]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_site(tmp_path: Path, *extra: str) -> tuple[int, str]:
    if not PLAYBOOK.exists():
        pytest.fail(f"{PLAYBOOK} not found: run `make venv`")
    args = [str(PLAYBOOK), "-i", str(inventory(tmp_path)), "site.yml"]
    for e in extra:
        args += ["-e", e]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    return result.returncode, result.stdout + result.stderr


BAD = [
    (["flask_app_mode=nope"], "flask_app_mode=nope is not a serving mode. Valid modes: devserver, devserver-threaded"),
    (["flask_app_profile=fast"], "Role flask_app: value of flask_app_profile must be one of: seed, tuned, got: fast"),
    (["flaskbench_api_port=eighty"], "Role flaskbench: argument 'flaskbench_api_port' is of type str and we were unable to convert to int"),
    (["flaskbench_max_delay=long"], "Role flaskbench: argument 'flaskbench_max_delay' is of type str"),
    (["base_somaxconn=lots"], "Role base: argument 'base_somaxconn' is of type str"),
    (['{"postgres_max_connections": [1, 2]}'], "Role postgres: argument 'postgres_max_connections' is of type list"),
    (["nginx_worker_connections=-"], "Role nginx: argument 'nginx_worker_connections' is of type str"),
    # A user's app: its description checked whole, and the mode against the modes that can serve it.
    (["app=tests/no-such-app"], "app=tests/no-such-app: tests/no-such-app/flaskbench-app.yml: no such file"),
    (["app=examples/shop", "flask_app_mode=psycopg2"],
     "flask_app_mode=psycopg2 cannot serve the app shop: benches PostgreSQL from the built-in app's /db route. "
     "Modes that can: devserver, devserver-threaded, uwsgi"),
]


@pytest.mark.parametrize("extra,expected", BAD, ids=[" ".join(e) for e, _ in BAD])
def test_bad_variable_fails_before_any_host_is_contacted(tmp_path, extra, expected):
    rc, out = run_site(tmp_path, *extra)
    assert rc != 0, out[-2000:]
    # The YAML callback folds long messages and doubles quotes inside them.
    flat = " ".join(out.split()).replace("''", "'")
    assert expected in flat, out[-3000:]
    assert "UNREACHABLE" not in out, out[-2000:]


def test_a_bad_app_description_names_its_field(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("flask==3.1.3\n")
    (app / "flaskbench-app.yml").write_text("name: bad\nwsgi: bad:app\nrequirements: requirements.txt\n"
                                            "routes: [{path: /, expect: 700}]\nhealth: /\nbudget_ms: 100\n")
    rc, out = run_site(tmp_path, f"app={app}")
    assert rc != 0
    flat = " ".join(out.split()).replace("''", "'")
    assert f"{app}/flaskbench-app.yml: routes[0].expect: 700 is not an HTTP status" in flat, out[-3000:]
    assert "UNREACHABLE" not in out, out[-2000:]


@pytest.mark.parametrize("extra", [["flask_app_mode=gunicorn-gevent"], ["app=examples/shop", "flask_app_mode=granian"]],
                         ids=["built-in app", "user's app"])
def test_good_variables_reach_the_hosts_and_name_the_unreachable_one(tmp_path, extra):
    """The counter-check: valid variables pass the preflight, then the first
    host that cannot be reached is named in the failure."""
    rc, out = run_site(tmp_path, *extra)
    assert rc != 0
    assert "UNREACHABLE" in out, out[-2000:]
    assert "fake-postgres" in out[out.find("UNREACHABLE") - 200:]
