"""Adding a load client is one module plus its registration (benchhost.clients): a throwaway client,
N sequential GETs with urllib, registers itself and is planned, run by the plan runners, summed up on
the progress line and read into a Result, with nothing else edited.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchhost import clients
from benchhost.clients import Client
from benchrun import DATA, HOST_ENV, ROOT
from flaskbench import plan as planner
from flaskbench.benchcallback import CallbackModule
from httpserver import Server
from planrunners import Runners, progress, run_entry, write_plan
from plans import plan_for

#: The whole client: how it is started (main), how its raw file is read and what it reports (result).
SEQ_CLIENT = '''
"""N sequential GETs with urllib, as DIR/run.json says: seq.json and loadgen.json."""

import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchhost.clients import Client, register
from benchhost.process import now
from benchhost.result import Result, lower_bound, read_loadgen, with_loadgen


def main():
    folder = Path(sys.argv[sys.argv.index("--dir") + 1])
    run = json.loads((folder / "run.json").read_text())
    record = {"client": "seq", "started_at": now()}
    codes, times = {}, []
    for _ in range(int(run["n"])):
        start = time.monotonic()
        try:
            with urllib.request.urlopen(run["url"], timeout=run["timeout"]) as answer:
                answer.read()
                code = answer.status
        except urllib.error.HTTPError as err:
            code = err.code
        times.append(time.monotonic() - start)
        codes[str(code)] = codes.get(str(code), 0) + 1
    (folder / "seq.json").write_text(json.dumps({"status_counts": codes, "times_s": times}))
    record.update(ended_at=now(), seq_rc=0)
    (folder / "loadgen.json").write_text(json.dumps(record))


def result(folder, requested=None):
    out = with_loadgen(Result(CLIENT.name), read_loadgen(folder), CLIENT.rc_key, CLIENT.cpu_key)
    try:
        data = json.loads((folder / "seq.json").read_text())
    except OSError as exc:
        out.error = str(exc)
        return out
    times = sorted(data["times_s"])
    out.status_counts = data["status_counts"]
    out.complete, out.time_taken_s = len(times), sum(times)
    out.rps = round(len(times) / sum(times), 2)
    out.failed_detail = {"non_2xx": sum(k for code, k in out.status_counts.items() if not code.startswith("2"))}
    out.failed = out.failed_detail["non_2xx"]
    out.p99_ms = round(times[min(len(times) - 1, int(0.99 * len(times)))] * 1000, 3)
    out.p99_lower_bound = lower_bound(out.failed, out.failed_detail, CLIENT.timed_failures, out.p99_ms)
    return out


CLIENT = register(Client(name="seq", module="seqclient", files=("seq.json",), result=result,
                         counts_statuses=True, rc_key="seq_rc", cpu_key="seq_cpu_ms"))

if __name__ == "__main__":
    main()
'''

#: Runs `python3 -m benchhost.run ...` in a process that has imported the client (its registration).
WITH_SEQ = ("import runpy, seqclient; "
            "runpy.run_module('benchhost.run', run_name='__main__', alter_sys=True)")


@pytest.fixture
def seq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The client's module in a folder of its own, imported (registered) here; unregistered at the end."""
    folder = tmp_path / "seqclient"
    folder.mkdir()
    (folder / "seqclient.py").write_text(SEQ_CLIENT)
    monkeypatch.setattr(clients, "_REGISTRY", dict(zip(clients.names(), map(clients.get, clients.names()))))
    monkeypatch.syspath_prepend(str(folder))
    importlib.import_module("seqclient")
    yield folder
    sys.modules.pop("seqclient", None)


class SeqRunners(Runners):
    """The plan runners, started in a process that registered the client first."""

    def __init__(self, scripts: Path, client_dir: Path) -> None:
        super().__init__(scripts)
        self.env = {**HOST_ENV, "PYTHONPATH": f"{HOST_ENV['PYTHONPATH']}:{client_dir}"}

    def start(self, plan: Path, role: str, *options: str):
        import subprocess

        sampler = ["--sampler", str(self.scripts / "sample")] if role == "app" else []
        argv = [sys.executable, "-S", "-c", WITH_SEQ, role, "--plan", str(plan), *sampler, *options]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        self.procs.append(proc)
        return proc


def test_a_registered_client_is_known_by_its_attributes(seq: Path) -> None:
    assert clients.names() == ("ab", "wrk", "rate", "seq")
    client = clients.get("seq")
    assert client.module == "seqclient" and not client.by_rate and client.counts_statuses
    assert client.load({"c": 3, "n": 9}) == "c=3"
    assert clients.get("rate").load({"rate": 50.0}) == "rate=50/s"
    with pytest.raises(ValueError, match="already registered"):
        clients.register(Client(name="seq", module="elsewhere", files=(), result=client.result))


def test_the_plan_takes_a_registered_client(seq: Path) -> None:
    plan = plan_for("mode=uwsgi", "client=seq", "c=4")
    assert [(r["name"], r["client"], r["n"], r["c"]) for r in plan.runs] == [("uwsgi-tuned-seq", "seq", 40, 4)]
    with pytest.raises(planner.PlanError) as err:
        plan_for("mode=uwsgi", "client=nope")
    assert str(err.value) == "client=nope: must be ab, wrk, seq, both or rate"


def test_the_plan_runners_run_a_registered_client_and_post_its_result(
        tmp_path: Path, seq: Path, scripts: Path, server: Server) -> None:  # noqa: F811 (scripts: a fixture)
    runners = SeqRunners(scripts, seq)
    try:
        run = run_entry(server, tmp_path.name, "r-seq", client="seq", n=6, c=1)
        run["url"] = server.url(f"key={tmp_path.name}-seq&status=503&status_after=5")
        plan = write_plan(tmp_path / "plan", scripts, [run])
        app = runners.start(plan, "app", "--linger", "0.3", "--journalctl", str(scripts / "journalctl"))
        load = runners.start(plan, "load", "--host", "lg1")
        assert runners.finish(load)[0] == 0
        rc, log = runners.finish(app)
        assert rc == 0, log
    finally:
        for proc in runners.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    line = progress(plan)[0]
    assert line["error"] is None
    summary = line["parts"]["lg1"]
    assert summary["complete"] == 6 and summary["failed"] == 2 and summary["status_counts"] == {"200": 4, "503": 2}
    assert summary["rps"] > 0 and summary["p99_ms"] > 0 and summary["started_at"] <= summary["ended_at"]
    folder = plan.parent / "load" / "lg1" / "r-seq"
    result = clients.get("seq").result(folder)
    assert (result.complete, result.failed, result.p99_lower_bound) == (6, 2, False)

    callback = CallbackModule()
    callback.plan, callback.done, callback.total = {"runs": [run]}, 1, 1
    assert callback._figures(line).startswith("m tuned c=1 (seq): ")
    assert callback._figures(line).endswith(", 2 failed (503 × 2)")


def seq_run(run_dir: Path) -> Path:
    """A run folder the seq client wrote (its seq.json and loadgen.json; the server's files of an ab run)."""
    source = DATA / "clients-run" / "uwsgi-tuned"
    folder = run_dir / "uwsgi-tuned-seq"
    folder.mkdir(parents=True)
    for name in ("server.json", "outcome.json"):
        (folder / name).write_bytes((source / name).read_bytes())
    spec = {**json.loads((source / "run.json").read_text()), "name": folder.name, "client": "seq", "n": 10, "c": 1}
    (folder / "run.json").write_text(json.dumps(spec))
    loadgen = {k: v for k, v in json.loads((source / "loadgen.json").read_text()).items() if not k.startswith("ab_")}
    (folder / "loadgen.json").write_text(json.dumps({**loadgen, "client": "seq", "seq_rc": 0, "seq_cpu_ms": 40}))
    times = [0.05 + i / 1000 for i in range(10)]
    (folder / "seq.json").write_text(json.dumps({"status_counts": {"200": 9, "503": 1}, "times_s": times}))
    return folder


def test_benchreport_summarizes_and_renders_a_registered_client(
        tmp_path: Path, seq: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The throwaway client's run goes through benchreport (summary.json, report.md, report.html and the
    CLI's table) with nothing but its module and registration."""
    from benchreport import render
    from benchreport.__main__ import main
    from benchreport.summary import build_records, build_summary

    run_dir = tmp_path / "run"
    seq_run(run_dir)
    [rec] = build_summary(run_dir, {})
    assert rec["client"] == "seq" and rec["error"] is None, rec
    assert (rec["complete"], rec["failed"], rec["failed_detail"]) == (10, 1, {"non_2xx": 1})
    assert rec["status_counts"] == {"200": 9, "503": 1} and rec["rps"] > 0 and rec["p99_ms"] == 59.0
    assert rec["ab_ceiling_rps"] is None and rec["cpu_ms"] is not None and rec["rate"] is None
    assert not [w for w in rec["warnings"] if "seq" in w], rec["warnings"]

    md = render.markdown(build_records(run_dir, {}), "run")
    assert "uwsgi/tuned/seq" in md and "1 failed (non-2xx 1)" in md

    assert main([str(run_dir), "--no-latest"]) == 0
    out = capsys.readouterr().out
    assert "uwsgi" in out and str((run_dir / "report.html").resolve()) in out
    assert json.loads((run_dir / "summary.json").read_text())[0]["client"] == "seq"
    assert "uwsgi/tuned/seq" in (run_dir / "report.md").read_text()
    assert "uwsgi" in (run_dir / "report.html").read_text()


#: Where a comparison of a client to a literal name would be a branch on it (benchhost/clients/ is where
#: the clients themselves live, and may).
NO_NAME_BRANCHES = ("benchreport", "flaskbench", "benchhost/run.py", "roles")
#: `client == "ab"`, `!= "wrk"`, `in ("ab", ...)`, `"rate" in clients(...)`, `.client or "ab"`, `x == "rate"`...
NAME = r"""["'](?:ab|wrk|rate)["']"""
NAME_BRANCH = re.compile(rf"""(?:[=!]=\s*{NAME}|{NAME}\s*[=!]=|\bin\s*[(\[{{]\s*{NAME}(?:\s*,\s*{NAME})*\s*,?\s*[)\]}}]"""
                         rf"""|{NAME}\s+(?:not\s+)?in\b|\bor\s+{NAME})""")


def test_no_branch_on_a_client_name_outside_the_clients() -> None:
    """What differs between clients is in their modules and the registry (benchhost.clients), not in a
    comparison of a client's name elsewhere."""
    root = ROOT
    found = []
    for where in NO_NAME_BRANCHES:
        path = root / where
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in (".py", ".yml", ".j2"))
        for file in files:
            for number, line in enumerate(file.read_text().splitlines(), 1):
                if NAME_BRANCH.search(line):
                    found.append(f"{file.relative_to(root)}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize("line", ['if client == "ab":', "if rec.client != 'rate':", 'x in ("ab", "wrk")',
                                  'if "rate" in clients(records):', 'rec.client or "ab"', '"wrk" == c'])
def test_the_name_branch_check_sees_a_branch(line: str) -> None:
    assert NAME_BRANCH.search(line)
