"""benchreport.collect: the hosts' archives unpacked into the run's layout (fake hosts from recorded runs)."""

from __future__ import annotations

import json
import tarfile

import pytest

from benchreport import collect
from benchreport.__main__ import main as cli_main
from planfiles import (CLIENTS_RUN, RUN_ID, TOKEN, bench_hosts, make_plan, pack, plan_run, read_json,
                       results_for, tree)

AB = CLIENTS_RUN / "uwsgi-tuned"
AB2 = CLIENTS_RUN / "gunicorn-tuned"
WRK = CLIENTS_RUN / "uwsgi-tuned-wrk"


def one_loadgen(tmp_path, **kw):
    runs = [plan_run("uwsgi-tuned", {"fb-loadgen": AB}), plan_run("uwsgi-tuned-wrk", {"fb-loadgen": WRK})]
    plan = make_plan(runs, ["fb-loadgen"])
    dirs = bench_hosts(tmp_path / "hosts", plan,
                       {"uwsgi-tuned": {"fb-loadgen": AB}, "uwsgi-tuned-wrk": {"fb-loadgen": WRK}}, **kw)
    return plan, dirs


def two_loadgens(tmp_path, **kw):
    sources = {"uwsgi-tuned": {"lg1": AB, "lg2": AB2}}
    plan = make_plan([plan_run(name, by) for name, by in sources.items()], ["lg1", "lg2"])
    return plan, bench_hosts(tmp_path / "hosts", plan, sources, **kw)


def test_one_load_host_files_land_in_the_run_folder(tmp_path, capsys):
    plan, dirs = one_loadgen(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.main([str(run_dir)]) == 0
    assert capsys.readouterr().err == ""
    folder = run_dir / "uwsgi-tuned"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["run.json", "server.json", "outcome.json", "loadgen.json", "ab.txt", "ab.err", "ab.tsv", "ab.csv"])
    for name in ("ab.txt", "ab.tsv", "loadgen.json"):
        assert (folder / name).read_bytes() == (AB / name).read_bytes()
    run = read_json(folder / "run.json")
    assert run["parts"] == [{"host": "fb-loadgen", "c": 10, "n": 400}]  # the app's run.json...
    assert run["part"] == {"host": "fb-loadgen", "index": 0, "of": 1}  # ...and the load host's own keys
    assert run["point"] == {"n": 400, "c": 10}
    assert (run_dir / "uwsgi-tuned-wrk" / "wrk.json").is_file()
    assert not (run_dir / ".archives").exists()
    assert not list(run_dir.glob(".collect-*"))
    saved = read_json(run_dir / "plan.json")
    assert "token" not in saved and saved["runs"] == plan["runs"]
    assert TOKEN not in "".join(p.read_text() for p in run_dir.rglob("*.json"))
    timing = read_json(run_dir / "timing.json")
    assert (timing["runs_planned"], timing["runs_done"], timing["interrupted"]) == (2, 2, None)
    assert timing["load_s"] == 4.0  # 2 s (ab) + 2 s (wrk): loadgen.json's whole seconds
    assert timing["planned_at"] == plan["created_at"]
    assert timing["wall_s"] == pytest.approx(timing["collected_at"] - plan["created_at"], abs=1e-3)
    assert timing["load_share"] == pytest.approx(4.0 / timing["wall_s"], abs=1e-4)
    assert timing["hosts_collected"] == ["fb-app", "fb-loadgen"]


def test_load_time_from_the_wrappers_epoch_seconds(tmp_path):
    plan, dirs = two_loadgens(tmp_path)
    for host, (start, end) in (("lg1", (1000.25, 1002.5)), ("lg2", (1000.0, 1003.125))):
        path = dirs[host] / "load" / host / "uwsgi-tuned" / "loadgen.json"
        path.write_text(json.dumps({**read_json(path), "started": start, "ended": end}))
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir) == 0
    assert read_json(run_dir / "timing.json")["load_s"] == 3.125  # the longer part, to the ms


def test_twice_is_harmless(tmp_path, capsys):
    plan, dirs = one_loadgen(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir) == 0
    before = tree(run_dir)
    assert collect.collect(run_dir) == 0
    assert tree(run_dir) == before
    assert "already collected" in capsys.readouterr().err
    # the archives fetched again: unpacked over the same files, the first collected_at kept
    results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir) == 0
    assert tree(run_dir) == before


def test_two_load_hosts_each_in_its_own_folder(tmp_path):
    plan, dirs = two_loadgens(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs)
    assert cli_main(["collect", str(run_dir)]) == 0  # python -m benchreport collect, the same
    folder = run_dir / "uwsgi-tuned"
    assert sorted(p.name for p in folder.iterdir()) == ["loadgen", "outcome.json", "run.json", "server.json"]
    assert read_json(folder / "run.json")["parts"] == [{"host": "lg1", "c": 10, "n": 400},
                                                      {"host": "lg2", "c": 10, "n": 20}]
    for host, source, k in (("lg1", AB, 0), ("lg2", AB2, 1)):
        part = folder / "loadgen" / host
        assert (part / "ab.tsv").read_bytes() == (source / "ab.tsv").read_bytes()
        run = read_json(part / "run.json")
        assert (run["n"], run["c"], run["part"]["index"], run["point"]) == (
            read_json(source / "run.json")["n"], 10, k, {"n": 420, "c": 20})
    timing = read_json(run_dir / "timing.json")
    assert timing["load_s"] == 2.0  # the longer part (both 2 s), not their sum
    assert timing["hosts_collected"] == ["fb-app", "lg1", "lg2"]


def test_app_and_load_on_one_host(tmp_path):
    runs = [plan_run("uwsgi-tuned", {"fb-app": AB})]
    plan = make_plan(runs, ["fb-app"])
    dirs = bench_hosts(tmp_path / "hosts", plan, {"uwsgi-tuned": {"fb-app": AB}})
    assert list(dirs) == ["fb-app"]
    run_dir = results_for(tmp_path, plan, dirs, prefix=RUN_ID)  # a leading folder is tolerated
    assert collect.collect(run_dir) == 0
    assert {"run.json", "server.json", "ab.txt", "loadgen.json"} <= {p.name for p in (run_dir / "uwsgi-tuned").iterdir()}


def test_an_interrupted_run_gets_an_outcome_and_an_unreached_one_no_folder(tmp_path):
    sources = {"uwsgi-tuned": {"fb-loadgen": AB}, "uwsgi-tuned-wrk": {"fb-loadgen": WRK}}
    runs = [plan_run(name, by) for name, by in sources.items()] + [plan_run("never", {"fb-loadgen": AB2})]
    plan = make_plan(runs, ["fb-loadgen"])
    dirs = bench_hosts(tmp_path / "hosts", plan, sources, app_outcome={"uwsgi-tuned"}, interrupted="SIGTERM")
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir) == 0
    assert read_json(run_dir / "uwsgi-tuned" / "outcome.json") == {"error": None, "blocked": None}
    outcome = read_json(run_dir / "uwsgi-tuned-wrk" / "outcome.json")
    assert outcome["error"] == "not run: the bench was interrupted" and outcome["blocked"] is None
    assert not (run_dir / "never").exists()
    timing = read_json(run_dir / "timing.json")
    assert (timing["runs_planned"], timing["runs_done"], timing["interrupted"]) == (3, 1, "SIGTERM")
    assert (run_dir / "progress.jsonl").read_text().splitlines()[-1] == '{"interrupted": "SIGTERM"}'


@pytest.mark.parametrize("name, why", [("../evil", "'..'"), ("/tmp/evil-abs", "absolute"),
                                       ("app/../../evil", "'..'"), ("link", "link")])
def test_an_unsafe_member_is_not_extracted(tmp_path, capsys, name, why):
    plan, dirs = one_loadgen(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs)
    member = tarfile.TarInfo(name)
    if name == "link":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    pack(dirs["fb-loadgen"], run_dir / ".archives" / "fb-loadgen.tgz", extra=[member])
    assert collect.collect(run_dir) == 0
    err = capsys.readouterr().err
    assert f"fb-loadgen.tgz: member {name!r} not extracted" in err and why in err
    assert not (tmp_path / "evil").exists() and not (run_dir.parent / "evil").exists()
    assert not (tmp_path / "results" / "evil").exists()
    assert not any(p.is_symlink() for p in run_dir.rglob("*"))
    assert (run_dir / "uwsgi-tuned" / "ab.txt").is_file()  # the rest is collected


def test_a_missing_archive_is_named_and_the_rest_collected(tmp_path, capsys):
    plan, dirs = two_loadgens(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs, skip=("lg2",))
    assert collect.collect(run_dir) == 0
    err = capsys.readouterr().err
    assert "no archive from load host lg2 (.archives/lg2.tgz)" in err
    assert (run_dir / "uwsgi-tuned" / "loadgen" / "lg1" / "ab.txt").is_file()
    assert not (run_dir / "uwsgi-tuned" / "loadgen" / "lg2").exists()
    assert read_json(run_dir / "timing.json")["hosts_collected"] == ["fb-app", "lg1"]


def test_several_load_hosts_without_the_app_host_keep_the_run(tmp_path, capsys):
    plan, dirs = two_loadgens(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs, skip=("fb-app",))
    assert collect.collect(run_dir) == 0
    run = read_json(run_dir / "uwsgi-tuned" / "run.json")
    assert (run["n"], run["c"], run["parts"][1]["host"]) == (420, 20, "lg2") and "part" not in run
    assert read_json(run_dir / "uwsgi-tuned" / "outcome.json")["error"].startswith("no outcome: the app host")


def test_without_the_app_host_the_outcome_says_so(tmp_path, capsys):
    plan, dirs = one_loadgen(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs, skip=("fb-app",))
    assert collect.collect(run_dir) == 0
    assert "no archive from app host fb-app" in capsys.readouterr().err
    outcome = read_json(run_dir / "uwsgi-tuned" / "outcome.json")
    assert outcome["error"] == "no outcome: the app host fb-app's archive was not collected"
    assert read_json(run_dir / "uwsgi-tuned" / "run.json")["part"]["host"] == "fb-loadgen"  # the load host's
    # the app host's archive fetched later: its outcome replaces the stand-in
    pack(dirs["fb-app"], run_dir / ".archives" / "fb-app.tgz")
    assert collect.collect(run_dir) == 0
    assert read_json(run_dir / "uwsgi-tuned" / "outcome.json") == {"error": None, "blocked": None}
    assert "parts" in read_json(run_dir / "uwsgi-tuned" / "run.json")
    assert read_json(run_dir / "timing.json")["runs_done"] == 2


def test_nothing_collected_exits_2(tmp_path, capsys):
    plan, dirs = one_loadgen(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs, skip=("fb-app", "fb-loadgen"))
    assert collect.collect(run_dir) == 2  # no .archives at all
    (run_dir / ".archives").mkdir()
    (run_dir / ".archives" / "fb-app.tgz").write_bytes(b"not a tar")
    assert collect.collect(run_dir) == 2
    err = capsys.readouterr().err
    assert "fb-app.tgz: unreadable" in err and "nothing collected" in err
    assert (run_dir / ".archives" / "fb-app.tgz").is_file()  # kept for a look
    (run_dir / "plan.json").unlink()
    assert collect.collect(run_dir) == 2


def test_a_host_name_that_is_no_folder_name_is_refused(tmp_path):
    plan, dirs = one_loadgen(tmp_path)
    run_dir = results_for(tmp_path, plan, dirs)
    (run_dir / "plan.json").write_text(json.dumps({**plan, "loadgens": ["../x"]}))
    assert collect.collect(run_dir) == 2
