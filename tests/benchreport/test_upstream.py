"""The slow API's CPU per request and the knee's machine limit (benchreport.cpucost, benchreport.knee).

The arithmetic on its own first (separate machines, one shared machine, what
is not measured), then tests/data/benchreport/rate-sweep with a slow API
sampled beside it (upstream.json per run, written here: a steady CPU rate over
the load window) and an environment.json, through summary.json and report.md;
and collect's placing of the slow API host's files.
"""

from __future__ import annotations

import json
import statistics
import shutil
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchreport import collect, knee, model, render
from benchreport.summary import build_summary
from benchrun import ROOT
from planfiles import CLIENTS_RUN, bench_hosts, make_plan, plan_run, read_json, results_for

SWEEP = ROOT / "tests" / "data" / "benchreport" / "rate-sweep"
#: The slow API's CPU in the sweep's runs here: this many ms per second of the load window.
UPSTREAM_MS_PER_S = 30.0


def host(role: str, name: str, cpu: float | None, cores: float | None = 2, machine: str | None = None) -> dict:
    return {"role": role, "host": name, "cpu_ms_per_req": cpu, "cores": cores, "machine": machine or f"host {name}"}


# -- the arithmetic ----------------------------------------------------------------------------


def test_separate_machines_each_bound_the_limit_the_lowest_wins():
    limit = knee.machine_limit([host("app", "app1", 0.8), host("slow API", "api1", 0.25, cores=1),
                                host("client", "lg1", 0.1)])
    # app1: 2000 / 0.8 = 2500; api1: 1000 / 0.25 = 4000; lg1: 2000 / 0.1 = 20000
    assert limit.rps == 2500.0 and limit.hosts == ["app1"] and limit.missing == []
    assert limit.machines == {"app1": 2500.0, "api1": 4000.0, "lg1": 20000.0}
    assert knee.limit_text(limit) == ("machine limit ≈ 2500 req/s: 2 cores / (app 0.8 ms/request) on app1; "
                                      "api1 4000, lg1 20000")
    # the slow API dearer: its host binds
    assert knee.machine_limit([host("app", "app1", 0.8), host("slow API", "api1", 0.5, cores=1),
                               host("client", "lg1", 0.1)]).rps == 2000.0


def test_roles_sharing_one_machine_add_up_their_cpu():
    same = "boot 5f0c"
    limit = knee.machine_limit([host("app", "fb-app", 0.8, machine=same), host("slow API", "fb-api", 0.2, machine=same),
                                host("client", "fb-loadgen", 0.25, machine=same)])
    assert limit.rps == pytest.approx(2000 / 1.25) == 1600.0
    assert knee.limit_text(limit) == "machine limit ≈ 1600 req/s: 2 cores / (app 0.8 + slow API 0.2 + client 0.25 ms/request)"
    # two load hosts on that machine: their clients' CPU together
    two = knee.machine_limit([host("app", "a", 0.8, machine=same), host("client", "lg1", 0.1, machine=same),
                              host("client", "lg2", 0.1, machine=same)])
    assert two.rps == 2000.0 and "client 0.2 ms/request" in knee.limit_text(two)


def test_what_is_not_measured_is_named_and_no_app_cpu_is_no_limit():
    limit = knee.machine_limit([host("app", "a", 1.0), host("slow API", None, None), host("client", "lg", 0.1)])
    assert limit.rps == 2000.0 and limit.missing == ["slow API"]
    assert knee.limit_text(limit).endswith("; slow API not measured (the limit is at most this)")
    # a load host environment.json does not describe: left out, said
    unknown = knee.machine_limit([host("app", "a", 1.0), host("client", "lg2", 1.0, cores=None, machine=None)])
    assert unknown.rps == 2000.0 and unknown.unknown_cores == ["lg2"]
    assert knee.machine_limit([host("app", "a", None), host("client", "lg", 0.1)]) is None
    assert knee.machine_limit([host("app", "a", 1.0, cores=None, machine=None)]) is None
    assert knee.machine_limit(None) is None
    assert knee.limit_text(None).startswith("machine limit: not measured")


# -- a sweep with the slow API sampled --------------------------------------------------------


def environment(shared: bool) -> dict:
    def described(name: str, cores: int, role: str) -> dict:
        return {"roles": [role], "cores": cores, "cpu_quota_cores": None, "container": shared, "kernel": "6.1.0",
                "kernel_version": "#1", "cpu_model": "EPYC", "mem_total_mib": 3936,
                **({"boot_id": "5f0c"} if shared else {"boot_id": f"boot-{name}"})}
    return {"schema": 1, "controller": {"commit": None, "dirty": None},
            "hosts": {"fb-app": described("fb-app", 2, "app"), "fb-api": described("fb-api", 1, "upstream"),
                      "fb-loadgen": described("fb-loadgen", 2, "loadgen"), "fb-db": described("fb-db", 2, "loadgen")}}


def sweep_with_upstream(tmp_path: Path, shared: bool = False, sampled: bool = True) -> Path:
    """The rate sweep, with plan.json naming the slow API fb-api, its upstream.json per run (a steady
    UPSTREAM_MS_PER_S from 0.3 s before the load to 1.7 s after it) and environment.json."""
    run_dir = tmp_path / "run"
    shutil.copytree(SWEEP, run_dir, ignore=shutil.ignore_patterns("README.md"))
    (run_dir / "plan.json").write_text(json.dumps({"schema": 1, "app_host": "fb-app", "loadgens": ["fb-loadgen"],
                                                   "upstream": {"host": "fb-api", "unit": "slow-api.service"},
                                                   "runs": []}))
    (run_dir / "environment.json").write_text(json.dumps(environment(shared)))
    if not sampled:
        return run_dir
    for folder in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        loadgens = [read_json(p) for p in [folder / "loadgen.json", *folder.glob("loadgen/*/loadgen.json")]
                    if p.is_file()]
        start, end = min(lg["started"] for lg in loadgens) - 0.3, max(lg["ended"] for lg in loadgens) + 1.7
        samples, t = [], start
        while t <= end + 1e-9:
            samples.append({"t": round(t, 3), "cpu_ns": int(5e9 + (t - start) * UPSTREAM_MS_PER_S * 1e6),
                            "rss_kib": 50000})
            t += 1.0
        out = folder / "upstream" / "fb-api" / "upstream.json"
        out.parent.mkdir(parents=True)
        out.write_text(json.dumps({"unit": "slow-api.service", "cpu_ns_before": samples[0]["cpu_ns"],
                                   "cpu_ns_after": samples[-1]["cpu_ns"], "cpu_source": "proc",
                                   "peak_rss_kib": 50000, "rss_source": "proc", "rss_samples": len(samples),
                                   "samples": samples, "sample_every_s": 1.0, "samples_cpu_source": "proc"}))
    return run_dir


def by_dir(records: list[dict], raw_dir: str) -> dict:
    return next(r for r in records if r["raw_dir"] == raw_dir)


def test_the_slow_apis_cpu_per_request_over_the_load_window(tmp_path):
    records = build_summary(sweep_with_upstream(tmp_path), load_modes())
    rec = by_dir(records, "uwsgi-gevent-tuned-rate100-r1")
    lg = read_json(tmp_path / "run" / "uwsgi-gevent-tuned-rate100-r1" / "loadgen.json")
    window_s = lg["ended"] - lg["started"]
    assert rec["upstream_host"] == "fb-api" and rec["upstream_cpu_why"] is None
    assert rec["upstream_cpu_ms"] == pytest.approx(UPSTREAM_MS_PER_S * window_s, abs=0.1)
    assert rec["upstream_cpu_ms_per_req"] == pytest.approx(UPSTREAM_MS_PER_S * window_s / 400, abs=0.001)
    assert rec["client_cpu_ms_per_req"] == 0.3  # client_cpu_ms 120 over 400 requests
    # granian at 100 req/s: two load hosts, 2 x (198 answered + 2 timed out) worked on
    split = by_dir(records, "granian-tuned-rate100")
    lgs = [read_json(p) for p in sorted((tmp_path / "run" / "granian-tuned-rate100" / "loadgen").glob("*/loadgen.json"))]
    window_s = max(x["ended"] for x in lgs) - min(x["started"] for x in lgs)
    assert split["upstream_cpu_ms_per_req"] == pytest.approx(UPSTREAM_MS_PER_S * window_s / 400, abs=0.001)
    assert split["client_cpu_ms_per_req"] == 0.3  # 60 + 60 over 400
    assert [(h["role"], h["host"], h["cores"]) for h in split["cpu_hosts"]] == [
        ("app", "fb-app", 2), ("slow API", "fb-api", 1), ("client", "fb-db", 2), ("client", "fb-loadgen", 2)]
    assert [h["cpu_ms_per_req"] for h in split["cpu_hosts"] if h["role"] == "client"] == [0.15, 0.15]


@pytest.mark.parametrize("shared", [False, True])
def test_report_md_states_the_machine_limit_and_each_knee_as_a_share(tmp_path, shared):
    records = build_summary(sweep_with_upstream(tmp_path, shared=shared), load_modes())
    at_knee = [r for r in records if r["mode"] == "uwsgi-gevent" and r["rate"] == 100.0]
    app = statistics.median(r["cpu_ms_per_req"] for r in at_knee)  # the knee's CPU: its repetitions' median
    upstream = sum(r["upstream_cpu_ms_per_req"] for r in at_knee) / 2
    if shared:  # one machine of 2 cores: the app, the slow API and the client add up
        limit = round(2000 / (app + upstream + 0.3), 1)
        said = (f"machine limit ≈ {limit:.0f} req/s: 2 cores / (app {app:.3g} + slow API {upstream:.3g} "
                "+ client 0.3 ms/request)")
    else:  # the app's host binds: 2 cores / 0.835 ms
        limit = round(2000 / app, 1)
        said = f"machine limit ≈ {limit:.0f} req/s: 2 cores / (app {app:.3g} ms/request) on fb-app; fb-api "
    share = round(100 * 100 / limit, 1)
    assert {r["knee_machine_limit_rps"] for r in records if r["mode"] == "uwsgi-gevent"} == {limit}
    assert {r["knee_pct_of_machine_limit"] for r in records if r["mode"] == "uwsgi-gevent"} == {share}
    md = render.markdown(model.records(records), "rate-sweep")
    line = next(x for x in md.splitlines() if x.startswith("- uwsgi-gevent/tuned: machine limit"))
    assert said in line
    assert line.endswith(f"; CPU at 100 req/s (the knee's rate); knee 100 req/s = {share:g}% of the machine's limit")
    assert "Machine limit: the rate at which the CPUs would be saturated" in md


def test_without_a_sampled_slow_api_the_report_says_not_measured(tmp_path):
    records = build_summary(sweep_with_upstream(tmp_path, sampled=False), load_modes())
    rec = by_dir(records, "uwsgi-gevent-tuned-rate50")
    assert rec["upstream_cpu_ms_per_req"] is None and rec["upstream_host"] == "fb-api"
    assert rec["upstream_cpu_why"].startswith("upstream.json missing")
    assert rec["machine_limit_why"].endswith("; slow API not measured (the limit is at most this)")
    md = "\n".join(render.knee_section(model.records(records)))
    assert "slow API not measured" in next(x for x in md.splitlines() if x.startswith("- granian/tuned:"))


# -- collect ----------------------------------------------------------------------------------


def test_collect_puts_the_slow_api_hosts_files_in_the_run_folder(tmp_path):
    ab = CLIENTS_RUN / "uwsgi-tuned"
    plan = make_plan([plan_run("uwsgi-tuned", {"fb-loadgen": ab})], ["fb-loadgen"])
    plan["upstream"] = {"host": "fb-api", "unit": "slow-api.service"}
    dirs = bench_hosts(tmp_path / "hosts", plan, {"uwsgi-tuned": {"fb-loadgen": ab}})
    api = tmp_path / "hosts" / "fb-api"
    (api / "upstream" / "fb-api" / "uwsgi-tuned").mkdir(parents=True)
    (api / "upstream" / "fb-api" / "uwsgi-tuned" / "upstream.json").write_text('{"unit": "slow-api.service"}')
    dirs["fb-api"] = api
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir, say=lambda _text: None) == 0
    assert read_json(run_dir / "uwsgi-tuned" / "upstream" / "fb-api" / "upstream.json") == {"unit": "slow-api.service"}
    assert read_json(run_dir / "timing.json")["hosts_collected"] == ["fb-api", "fb-app", "fb-loadgen"]


def test_collect_keeps_upstream_json_beside_server_json_on_the_app_host(tmp_path):
    ab = CLIENTS_RUN / "uwsgi-tuned"
    plan = make_plan([plan_run("uwsgi-tuned", {"fb-loadgen": ab})], ["fb-loadgen"])
    plan["upstream"] = {"host": "fb-app", "unit": "slow-api.service"}
    dirs = bench_hosts(tmp_path / "hosts", plan, {"uwsgi-tuned": {"fb-loadgen": ab}})
    app = dirs["fb-app"] / "app" / "uwsgi-tuned"
    (app / "upstream.json").write_text('{"unit": "slow-api.service"}')
    (app / "upstream.ready").touch()
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir, say=lambda _text: None) == 0
    folder = run_dir / "uwsgi-tuned"
    assert read_json(folder / "upstream.json") == {"unit": "slow-api.service"}
    assert not (folder / "upstream.ready").exists() and not (folder / "upstream").exists()
