"""The environment of a bench run (issue 12, item 5): benchhost.env, environment.json, the records, report.md.

benchhost/env.py runs for real on this machine (the system
Python when there is one, as on the hosts); the git facts come from a
temporary repository; the merge and the report from the captured run in
tests/data/benchreport/run-sample, its runs moved onto an app and a load host.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchreport import environment, model, render
from benchreport.__main__ import main as benchreport_main
from benchreport.summary import build_summary
from benchhost import env as bench_env_module
from benchrun import ROOT, edit_json, write_json

SAMPLE = ROOT / "tests" / "data" / "benchreport" / "run-sample"
MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"
VENV = ROOT / ".venv"
#: The hosts' Python (Debian 12's); this test's own when the machine has none there.
SYSTEM_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
HOST_KEYS = {"schema": int, "hostname": str, "kernel": str, "kernel_version": str, "machine": str,
             "python": str, "cores": int, "cpu_count": int, "mem_total_mib": int, "somaxconn": int,
             "errors": list}
NULLABLE = {"os": str, "cpu_model": str, "cpu_quota_cores": (int, float), "mem_limit_mib": int,
            "virtualization": str, "container": bool, "vm": str, "virtualization_from": str, "boot_id": str}
FAKE_AB_LINE = "This is ApacheBench, Version 9.9.9 <$Revision: 4242 $>"


def bench_env(*args: str, path: str | None = None, timeout: float = 60) -> dict:
    """benchhost.env's JSON (it must exit 0 and print nothing on stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # as the bench role runs it: the package on PYTHONPATH
    if path is not None:
        env["PATH"] = path
    done = subprocess.run([SYSTEM_PYTHON, "-m", "benchhost.env", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def load_bench_env():
    """benchhost.env, imported."""
    return bench_env_module


def fake_command(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


# --- benchhost.env -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def described(tmp_path_factory) -> dict:
    """benchhost.env on this machine: the project's venv, a fake ab first on PATH, a client that is missing."""
    if not (VENV / "bin" / "python").exists():
        pytest.skip(f"no virtualenv at {VENV} to list")
    bin_dir = tmp_path_factory.mktemp("bin")
    fake_command(bin_dir, "ab", f"echo '{FAKE_AB_LINE}'; echo 'Copyright 1996 Adam Twiss'")
    return bench_env("--venv", str(VENV), "--client", "ab", "--client", "flaskbench-no-such-client",
                     path=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def test_bench_env_describes_this_host(described):
    for key, kind in HOST_KEYS.items():
        assert isinstance(described[key], kind), (key, described.get(key))
        assert not isinstance(described[key], bool) or kind is bool, key
    for key, kind in NULLABLE.items():
        assert key in described
        assert described[key] is None or isinstance(described[key], kind), (key, described[key])
    assert described["schema"] == 1
    assert described["kernel"] == os.uname().release
    assert described["hostname"] == os.uname().nodename
    assert 1 <= described["cores"] <= described["cpu_count"]
    assert described["mem_total_mib"] > 0
    assert described["somaxconn"] == int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert described["cpu_model"], "every Linux /proc/cpuinfo names its CPU somehow"
    if Path("/etc/os-release").is_file():
        assert described["os"]
    if shutil.which("systemd-detect-virt"):
        assert described["virtualization_from"] == "systemd-detect-virt"
        assert isinstance(described["container"], bool) and described["virtualization"]
        assert described["container"] == (subprocess.run(["systemd-detect-virt", "--container"],
                                                         capture_output=True).returncode == 0)
    json.dumps(described, allow_nan=False)


def test_bench_env_lists_every_package_of_the_venv_sorted(described):
    packages = described["packages"]
    assert described["venv"] == str(VENV)
    assert described["packages_from"] == "importlib.metadata"
    assert re.fullmatch(r"3\.\d+\.\d+", described["venv_python"])
    assert list(packages) == sorted(packages)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in packages), "pip's normalised names"
    # what the project's requirements put there, with the versions this interpreter sees
    from importlib import metadata
    for name in ("pytest", "flask", "werkzeug", "pyyaml"):
        assert packages[name] == metadata.version(name)
    assert len(packages) >= 10


def test_bench_env_client_versions_and_a_missing_client(described):
    assert described["clients"] == {"ab": FAKE_AB_LINE, "flaskbench-no-such-client": None}
    # (a machine without systemd-detect-virt adds its own line)
    assert [e for e in described["errors"] if not e.startswith("virtualization:")] == [
        "clients.flaskbench-no-such-client: flaskbench-no-such-client not found"]
    assert "servers" not in described


def test_bench_env_without_systemd_detect_virt_or_clients(tmp_path):
    """PATH with nothing on it: no systemd-detect-virt, no ab, no wrk; the script still answers."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    out = tmp_path / "env.json"
    data = bench_env("--clients", "--out", str(out), path=str(empty))
    assert json.loads(out.read_text()) == data
    assert data["virtualization_from"] == "files"
    assert isinstance(data["container"], bool)
    assert data["clients"] == {"ab": None, "wrk": None}
    assert "clients.ab: ab not found" in data["errors"] and "clients.wrk: wrk not found" in data["errors"]
    assert any(e.startswith("virtualization: systemd-detect-virt not found") for e in data["errors"])
    assert "packages" not in data  # no --venv, no packages
    assert data["cores"] >= 1 and data["mem_total_mib"] > 0


def test_bench_env_reads_dist_info_when_the_venv_has_no_python(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for dist, name, version in (("Flask-3.0.3", "Flask", "3.0.3"), ("psycopg2_binary-2.9.9", "psycopg2-binary", "2.9.9"),
                                ("zope.interface-6.4", "zope.interface", "6.4")):
        (site / f"{dist}.dist-info").mkdir(parents=True)
        (site / f"{dist}.dist-info" / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nVersion: not a header\n")
    data = bench_env("--venv", str(tmp_path / "venv"))
    assert data["packages"] == {"flask": "3.0.3", "psycopg2-binary": "2.9.9", "zope-interface": "6.4"}
    assert data["packages_from"] == "dist-info" and data["venv_python"] is None
    assert any("bin/python not found" in e for e in data["errors"])


def test_bench_env_without_any_venv(tmp_path):
    data = bench_env("--venv", str(tmp_path / "nowhere"))
    assert data["packages"] is None and data["packages_from"] is None
    assert any(e.startswith("packages: no site-packages") for e in data["errors"])


def test_a_hanging_probe_is_cut_at_the_timeout(tmp_path, monkeypatch):
    module = load_bench_env()
    monkeypatch.setattr(module, "TIMEOUT_S", 0.5)
    slow = fake_command(tmp_path / "bin", "slowclient", "sleep 30")
    probes = module.Probes()
    assert module.version_line(probes, str(slow), "clients.slowclient") is None
    assert probes.errors == [f"clients.slowclient: {slow} --version took more than 0.5 s"]
    quiet = fake_command(tmp_path / "bin", "quiet", "exit 3")
    assert module.version_line(probes, str(quiet), "clients.quiet") is None
    assert probes.errors[-1] == f"clients.quiet: {quiet} --version printed nothing (exit 3)"


def test_version_lines_from_stderr_and_failing_exit(tmp_path):
    """nginx -v writes to stderr, wrk -v exits 1: the first line counts either way."""
    module = load_bench_env()
    nginx = fake_command(tmp_path / "bin", "nginx", "echo 'nginx version: nginx/1.22.1' >&2")
    wrk = fake_command(tmp_path / "bin", "wrk", "echo 'wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer'; "
                                                "echo 'Usage: wrk <options> <url>'; exit 1")
    probes = module.Probes()
    assert module.version_line(probes, str(nginx), "servers.nginx") == "nginx version: nginx/1.22.1"
    assert module.version_line(probes, str(wrk), "clients.wrk") == "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer"
    assert probes.errors == []


# --- the controller: git ----------------------------------------------------------------------

def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def repo(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("no git")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "bench.yml").write_text("---\n")
    git(repo, "add", "bench.yml")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def test_git_info_clean_untracked_and_dirty(repo):
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert environment.git_info(repo) == {"commit": head, "dirty": False}
    (repo / "results").mkdir()
    (repo / "results" / "summary.json").write_text("[]\n")  # untracked: still clean
    assert environment.git_info(repo) == {"commit": head, "dirty": False}
    (repo / "bench.yml").write_text("--- # changed\n")
    assert environment.git_info(repo) == {"commit": head, "dirty": True}
    git(repo, "add", "bench.yml")  # staged counts too
    assert environment.git_info(repo) == {"commit": head, "dirty": True}
    assert re.fullmatch(r"[0-9a-f]{40}", head)


def test_git_info_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    assert environment.git_info(tmp_path / "plain") == {"commit": None, "dirty": None}
    assert environment.git_info(tmp_path / "missing") == {"commit": None, "dirty": None}
    monkeypatch.setenv("PATH", str(tmp_path / "plain"))  # no git at all
    assert environment.git_info(tmp_path) == {"commit": None, "dirty": None}


def test_controller_info(repo):
    info = environment.controller_info(repo)
    assert set(info) == {"commit", "dirty", "python", "ansible", "recorded_at"}
    assert info["dirty"] is False and info["python"] == "%d.%d.%d" % sys.version_info[:3]
    try:
        from ansible.release import __version__
    except ImportError:
        assert info["ansible"] is None
    else:
        assert info["ansible"] == __version__


# --- the merge into environment.json ----------------------------------------------------------

APP = {"schema": 1, "hostname": "app1", "kernel": "6.1.0-18-amd64", "kernel_version": "#1 SMP Debian",
       "os": "Debian GNU/Linux 12 (bookworm)", "cpu_model": "AMD EPYC 7763 64-Core Processor", "cores": 2,
       "cpu_count": 4, "cpu_quota_cores": None, "mem_total_mib": 3936, "mem_limit_mib": None, "somaxconn": 4096,
       "virtualization": "podman", "container": True, "vm": "none", "virtualization_from": "systemd-detect-virt",
       "venv": "/opt/flaskbench/venv", "venv_python": "3.11.2",
       "packages": {"blinker": "1.8.2", "flask": "3.0.3", "gevent": "24.2.1", "greenlet": "3.0.3",
                    "gunicorn": "22.0.0", "psycopg2-binary": "2.9.9", "pyuwsgi": "2.0.26", "werkzeug": "3.0.3"},
       "packages_from": "importlib.metadata", "servers": {"nginx": "nginx version: nginx/1.22.1"}, "errors": []}
LOADGEN = {"schema": 1, "hostname": "loadgen1", "kernel": "6.1.0-18-amd64", "os": "Debian GNU/Linux 12 (bookworm)",
           "cpu_model": "AMD EPYC 7763 64-Core Processor", "cores": 2, "cpu_count": 2, "mem_total_mib": 1980,
           "somaxconn": 4096, "virtualization": "kvm", "container": False, "vm": "kvm",
           "clients": {"ab": "This is ApacheBench, Version 2.3 <$Revision: 1903618 $>",
                       "wrk": None}, "errors": ["clients.wrk: wrk not found"]}


def write_hosts(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    app, loadgen = directory / "app1.app.json", directory / "loadgen1.loadgen.json"
    write_json(app, APP)
    write_json(loadgen, LOADGEN)
    return app, loadgen


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchreport.environment", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_merges_the_hosts_into_environment_json(tmp_path, repo):
    run_dir = tmp_path / "results" / "20261202T044500Z"
    run_dir.mkdir(parents=True)
    app, loadgen = write_hosts(run_dir / "hosts")
    done = run_cli(str(run_dir), "--host", "app1", "app", str(app), "--host", "loadgen1", "loadgen", str(loadgen),
                   "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    assert "hosts app1, loadgen1" in done.stdout and "loadgen1: clients.wrk: wrk not found" in done.stdout
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["schema"] == 1
    assert env["controller"] == {**environment.git_info(repo), "python": env["controller"]["python"],
                                 "ansible": env["controller"]["ansible"],
                                 "recorded_at": env["controller"]["recorded_at"]}
    assert env["controller"]["dirty"] is False and env["controller"]["commit"]
    assert list(env["hosts"]) == ["app1", "loadgen1"]
    assert env["hosts"]["app1"] == {**APP, "roles": ["app"]}
    assert env["hosts"]["loadgen1"] == {**LOADGEN, "roles": ["loadgen"]}
    # the run folder still holds no run folder: hosts/ is not one
    assert build_summary(run_dir, {}) == []


def test_one_host_in_both_roles_and_a_later_call(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    app, loadgen = write_hosts(tmp_path / "hosts")
    environment.merge(run_dir, [("both1", "app", app)])
    env = environment.merge(run_dir, [("both1", "loadgen", loadgen), ("gone", "loadgen", tmp_path / "nope.json")])
    both = env["hosts"]["both1"]
    assert both["roles"] == ["app", "loadgen"]
    assert both["packages"] == APP["packages"] and both["clients"] == LOADGEN["clients"]
    assert both["servers"] == APP["servers"] and both["cpu_quota_cores"] is None
    assert both["errors"] == ["clients.wrk: wrk not found"]
    assert env["hosts"]["gone"]["roles"] == ["loadgen"]
    assert env["hosts"]["gone"]["errors"][0].startswith("nope.json unreadable:")
    assert json.loads((run_dir / "environment.json").read_text()) == env


def test_cli_usage_errors(tmp_path):
    assert run_cli(str(tmp_path / "missing"), "--host", "a", "app", "x.json").returncode == 1
    bad = run_cli(str(tmp_path), "--host", "a", "database", "x.json")
    assert bad.returncode == 2 and "the role is one of app, loadgen" in bad.stderr
    assert not (tmp_path / "environment.json").exists()


# --- the summary and the report -------------------------------------------------------------

@pytest.fixture(scope="module")
def modes() -> dict:
    return load_modes(MODES_FILE)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """The captured run, its ab runs on app1 and loadgen1; gunicorn-tuned names a host not recorded."""
    dest = tmp_path / "results" / "20261202T044500Z"
    shutil.copytree(SAMPLE, dest)
    for run in dest.glob("*/run.json"):
        edit_json(run, app_host="app1", loadgen_host="loadgen1")
    edit_json(dest / "gunicorn-tuned" / "run.json", app_host="app2")
    return dest


def test_records_carry_the_environment(run_dir, modes, repo):
    environment.merge(run_dir, [("app1", "app", APP), ("loadgen1", "loadgen", LOADGEN)], repo)
    commit = environment.git_info(repo)["commit"]
    records = {r["raw_dir"]: r for r in build_summary(run_dir, modes)}
    rec = records["uwsgi-seed"]
    assert list(rec)[-1] == "environment" and "warnings" in rec and "as_expected" in rec
    assert rec["environment"] == {
        "commit": commit, "dirty": False,
        "app_host": {"name": "app1", "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-18-amd64",
                     "cpu_model": "AMD EPYC 7763 64-Core Processor", "cores": 2, "cpu_quota_cores": None,
                     "mem_total_mib": 3936, "mem_limit_mib": None, "somaxconn": 4096,
                     "virtualization": "podman", "container": True, "vm": "none"},
        "loadgen_host": {"name": "loadgen1", "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-18-amd64",
                         "cpu_model": "AMD EPYC 7763 64-Core Processor", "cores": 2, "cpu_quota_cores": None,
                         "mem_total_mib": 1980, "mem_limit_mib": None, "somaxconn": 4096,
                         "virtualization": "kvm", "container": False, "vm": "kvm",
                         "client_version": "This is ApacheBench, Version 2.3 <$Revision: 1903618 $>"},
        # the servers and key libraries only (blinker is not one), nginx's own version line
        "packages": {"flask": "3.0.3", "werkzeug": "3.0.3", "gevent": "24.2.1", "greenlet": "3.0.3",
                     "gunicorn": "22.0.0", "pyuwsgi": "2.0.26", "psycopg2-binary": "2.9.9",
                     "nginx": "nginx version: nginx/1.22.1"},
    }
    assert all(r["environment"]["commit"] == commit for r in records.values())
    other = records["gunicorn-tuned"]["environment"]
    assert other["app_host"] is None and other["packages"] == {} and other["loadgen_host"]["name"] == "loadgen1"
    json.loads(json.dumps(list(records.values()), allow_nan=False))


def test_a_record_without_hosts_gets_the_one_host_of_each_role(run_dir, modes):
    environment.merge(run_dir, [("app1", "app", APP), ("loadgen1", "loadgen", LOADGEN)])
    edit_json(run_dir / "uwsgi-seed" / "run.json", app_host=None, loadgen_host=None)
    rec = {r["raw_dir"]: r for r in build_summary(run_dir, modes)}["uwsgi-seed"]
    assert rec["environment"]["app_host"]["name"] == "app1"
    assert rec["environment"]["loadgen_host"]["name"] == "loadgen1"


def test_report_has_an_environment_section(run_dir, modes, repo):
    environment.merge(run_dir, [("app1", "app", APP), ("loadgen1", "loadgen", LOADGEN)], repo)
    commit = environment.git_info(repo)["commit"]
    md = render.markdown(model.records(build_summary(run_dir, modes)), run_dir.name)
    section = md.split("## Environment\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        f"- commit {commit} (clean)",
        "- app host app1: Debian GNU/Linux 12 (bookworm), kernel 6.1.0-18-amd64, AMD EPYC 7763 64-Core Processor, "
        "2 cores, 3936 MiB, somaxconn 4096, container (podman)",
        "- load host loadgen1: Debian GNU/Linux 12 (bookworm), kernel 6.1.0-18-amd64, "
        "AMD EPYC 7763 64-Core Processor, 2 cores, 1980 MiB, somaxconn 4096, VM (kvm); ab 2.3",
        "- app host: not in environment.json",
        "- servers and libraries: flask 3.0.3, werkzeug 3.0.3, gevent 24.2.1, greenlet 3.0.3, gunicorn 22.0.0, "
        "pyuwsgi 2.0.26, psycopg2-binary 2.9.9, nginx 1.22.1",
    ]
    assert md.index("## Environment") < md.index("## Notes")


def test_dirty_tree_and_bare_metal_in_the_report(run_dir, modes, repo):
    (repo / "bench.yml").write_text("--- # changed\n")
    environment.merge(run_dir, [("app1", "app", {**APP, "virtualization": "none", "container": False,
                                                "cpu_quota_cores": 1.5, "mem_limit_mib": 2048}),
                                ("loadgen1", "loadgen", LOADGEN)], repo)
    records = build_summary(run_dir, modes)
    assert {r["environment"]["dirty"] for r in records} == {True}
    md = render.markdown(model.records(records), run_dir.name)
    assert "(dirty: tracked files differed from it)" in md
    assert ("app host app1: Debian GNU/Linux 12 (bookworm), kernel 6.1.0-18-amd64, AMD EPYC 7763 64-Core "
            "Processor, 2 cores (cgroup quota 1.5), 3936 MiB (cgroup limit 2048 MiB), somaxconn 4096, bare metal") in md
    environment.merge(run_dir, [("app1", "app", {**APP, "vm": "kvm"})], repo)
    md = render.markdown(model.records(build_summary(run_dir, modes)), run_dir.name)
    assert "somaxconn 4096, container (podman) in a VM (kvm)\n" in md


def test_one_host_in_both_roles_is_one_line(run_dir, modes):
    for run in run_dir.glob("*/run.json"):
        edit_json(run, app_host="both1", loadgen_host="both1")
    environment.merge(run_dir, [("both1", "app", APP), ("both1", "loadgen", LOADGEN)])
    records = build_summary(run_dir, modes)
    assert {r["environment"]["app_host"]["name"] for r in records} == {"both1"}
    assert records[0]["environment"]["loadgen_host"]["client_version"].startswith("This is ApacheBench")
    section = render.markdown(model.records(records), run_dir.name).split("## Environment\n\n", 1)[1].split("\n\n", 1)[0]
    hosts = [line for line in section.splitlines() if " host" in line]
    assert hosts == ["- app and load host both1: Debian GNU/Linux 12 (bookworm), kernel 6.1.0-18-amd64, "
                     "AMD EPYC 7763 64-Core Processor, 2 cores, 1980 MiB, somaxconn 4096, VM (kvm); ab 2.3"]


def test_without_environment_json(run_dir, modes):
    records = build_summary(run_dir, modes)
    assert [r["environment"] for r in records] == [None] * len(records)
    assert not any("environment" in w for r in records for w in r["warnings"])
    md = render.markdown(model.records(records), run_dir.name)
    assert "## Environment\n\n- environment not recorded (no environment.json in the run folder)\n" in md


def test_an_unreadable_environment_json_is_a_warning(run_dir, modes):
    (run_dir / "environment.json").write_text("{not json")
    records = build_summary(run_dir, modes)
    assert [r["environment"] for r in records] == [None] * len(records)
    assert all(any(w.startswith("environment.json unreadable:") for w in r["warnings"]) for r in records)
    assert "environment not recorded" in render.markdown(model.records(records), run_dir.name)


def test_the_report_cli_writes_it_into_summary_json(run_dir, repo, capsys):
    environment.merge(run_dir, [("app1", "app", APP), ("loadgen1", "loadgen", LOADGEN)], repo)
    rc = benchreport_main([str(run_dir), "--no-latest", "--modes-file", str(MODES_FILE)])
    assert rc in (0, 3)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {r["environment"]["commit"] for r in summary} == {environment.git_info(repo)["commit"]}
    assert "## Environment" in (run_dir / "report.md").read_text()


def test_short_versions():
    assert render.short_version("This is ApacheBench, Version 2.3 <$Revision: 1903618 $>") == "2.3"
    assert render.short_version("wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer") == "4.1.0-3+b2"
    assert render.short_version("nginx version: nginx/1.22.1") == "1.22.1"
    assert render.short_version("2.0.26") == "2.0.26"
    assert render.short_version("7") == "7"
    assert render.short_version(None) is None
