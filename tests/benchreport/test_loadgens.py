"""Several load hosts per run (the plan runner): one record per run, its parts merged; client-limited runs.

The runs are faked with tests/planfiles.py from recorded runs (each load host's
part is a recorded folder's client files), collected by benchreport.collect,
then read by build_summary as the bench would.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest

from benchreport import collect, fmt, html, model, render
from benchreport.summary import build_summary, cpu_stat_busy_pct
from benchrun import edit_json
from planfiles import CLIENTS_RUN, bench_hosts, make_plan, plan_run, read_json, results_for

AB = CLIENTS_RUN / "uwsgi-tuned"      # n=400 c=10 delay 0.05: 2.155 s
AB2 = CLIENTS_RUN / "gunicorn-tuned"  # n=20 c=10 delay 0.5: 1.515 s
WRK = CLIENTS_RUN / "uwsgi-tuned-wrk"
WRK2 = CLIENTS_RUN / "gunicorn-tuned-wrk"
#: a rate run split over two load hosts (fb-loadgen, fb-db), 198 answers of 200 each
RATE_SPLIT = CLIENTS_RUN.parent / "rate-sweep" / "granian-tuned-rate100"


def collected(tmp_path, sources: dict[str, dict], loadgens: list[str], **kw):
    plan = make_plan([plan_run(name, by) for name, by in sources.items()], loadgens)
    dirs = bench_hosts(tmp_path / "hosts", plan, sources, **kw)
    run_dir = results_for(tmp_path, plan, dirs)
    assert collect.collect(run_dir) == 0
    return run_dir


def ttimes(path) -> list[int]:
    """ab -g's total times, read here without ab_client."""
    lines = path.read_text().splitlines()
    assert lines[0].split("\t")[4] == "ttime"
    return [int(line.split("\t")[4]) for line in lines[1:] if line.strip()]


def nearest_rank(values: list[float], pct: int) -> float:
    """ab's percentile rule (its -e file's): the value at index int(0.5 + n * pct / 100), the last at most."""
    ordered = sorted(values)
    return ordered[min(int(0.5 + len(ordered) * pct / 100), len(ordered) - 1)]


def two_ab(tmp_path):
    return collected(tmp_path, {"uwsgi-tuned": {"lg1": AB, "lg2": AB2}}, ["lg1", "lg2"])


def test_two_ab_hosts_make_one_record(tmp_path):
    run_dir = two_ab(tmp_path)
    [rec] = build_summary(run_dir, {})
    assert (rec["mode"], rec["client"], rec["n"], rec["c"], rec["loadgens"]) == ("uwsgi", "ab", 420, 20, 2)
    assert rec["error"] is None and rec["warnings"] == []
    assert (rec["complete"], rec["failed"], rec["capped"]) == (420, 0, False)
    assert rec["time_taken_s"] == 2.155  # the slowest part's
    assert rec["rps"] == round(420 / 2.155, 2)  # complete summed over the slowest time, not 185.62 + 13.20
    assert [p["host"] for p in rec["parts"]] == ["lg1", "lg2"]
    assert [(p["n"], p["c"], p["complete"], p["rps"]) for p in rec["parts"]] == [
        (400, 10, 400, 185.62), (20, 10, 20, 13.20)]
    busy = [cpu_stat_busy_pct(*(read_json(src / "loadgen.json")[k] for k in ("cpu_stat_before", "cpu_stat_after")))
            for src in (AB, AB2)]
    assert [p["host_cpu_pct"] for p in rec["parts"]] == [round(b, 1) for b in busy]
    assert rec["host_cpu_pct"] == round(max(busy), 1)
    assert rec["started_at"] == "2026-11-24T01:12:10Z" and rec["ended_at"] == "2026-11-24T01:12:16Z"
    assert rec["steady_rps"] is None
    # ab's ceiling over both: each part needs at least delay x (1 + ceil((n-1)/c)): 0.05 x 41, 0.5 x 3
    assert rec["ab_ceiling_rps"] == round(420 / max(0.05 * 41, 0.5 * 3), 3)
    json.loads(json.dumps(rec, allow_nan=False))


def test_merged_percentiles_are_the_union_of_the_tsv_rows(tmp_path):
    run_dir = two_ab(tmp_path)
    [rec] = build_summary(run_dir, {})
    union = ttimes(AB / "ab.tsv") + ttimes(AB2 / "ab.tsv")
    assert len(union) == 420
    assert rec["p50_ms"] == nearest_rank(union, 50)
    assert rec["p99_ms"] == nearest_rank(union, 99)
    assert rec["max_ms"] == max(union)
    assert rec["percentiles_from"] == "tsv-merged" and rec["p99_upper_bound"] is False
    # the parts' own p99 (ab's -e file) are not what the union gives
    assert rec["p99_ms"] not in [p["p99_ms"] for p in rec["parts"]]


def test_without_a_parts_tsv_p99_is_an_upper_bound(tmp_path):
    run_dir = two_ab(tmp_path)
    (run_dir / "uwsgi-tuned" / "loadgen" / "lg2" / "ab.tsv").unlink()
    [rec] = build_summary(run_dir, {})
    assert rec["p99_upper_bound"] is True and rec["percentiles_from"] == "max-of-parts"
    assert rec["p99_ms"] == max(p["p99_ms"] for p in rec["parts"]) and rec["p50_ms"] is None
    md = render.markdown(model.records([rec]), run_dir.name)
    assert f"| {fmt.UPPER_BOUND_MARK}{fmt.ms(rec['p99_ms'])} |" in md
    assert "p99 is an upper bound" in md


def test_a_missing_load_host_is_an_error(tmp_path):
    sources = {"uwsgi-tuned": {"lg1": AB, "lg2": AB2}}
    plan = make_plan([plan_run(name, by) for name, by in sources.items()], ["lg1", "lg2"])
    dirs = bench_hosts(tmp_path / "hosts", plan, sources)
    run_dir = results_for(tmp_path, plan, dirs, skip=("lg2",))
    assert collect.collect(run_dir) == 0
    [rec] = build_summary(run_dir, {})
    assert "loadgen lg2: no files from this load host" in rec["error"]
    assert rec["rps"] is None and rec["loadgens"] == 2 and [p["host"] for p in rec["parts"]] == ["lg1"]


def test_one_load_host_is_one_plain_record(tmp_path):
    run_dir = collected(tmp_path, {"uwsgi-tuned": {"fb-loadgen": AB}}, ["fb-loadgen"])
    [rec] = build_summary(run_dir, {})
    alone = tmp_path / "alone"
    shutil.copytree(AB, alone / "uwsgi-tuned")
    [old] = build_summary(alone, {})
    assert (rec["loadgens"], rec["parts"]) == (1, None)
    for key in ("rps", "complete", "p50_ms", "p99_ms", "max_ms", "percentiles_from", "steady_rps",
                "host_cpu_pct", "loadgen_cpu_pct", "ab_ceiling_rps"):
        assert rec[key] == old[key], key
    assert "load hosts" not in render.markdown(model.records([rec]), "r")


def wrk_hist(values: list[int]) -> list[list[int]]:
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [[v, c] for v, c in sorted(counts.items())]


def test_two_wrk_hosts_merge_their_histograms(tmp_path):
    run_dir = collected(tmp_path, {"uwsgi-tuned-wrk": {"lg1": WRK, "lg2": WRK2}}, ["lg1", "lg2"])
    [rec] = build_summary(run_dir, {})
    # the recorded wrk.json has no histogram: p99 is the parts' highest, an upper bound
    assert rec["p99_upper_bound"] is True and rec["p99_ms"] == 523.94 and rec["percentiles_from"] == "max-of-parts"
    assert rec["rps"] == round(420 / 2.081739, 2) and rec["time_taken_s"] == 2.081739
    # wrk.lua's histograms (µs): every sample of both parts
    one = [50_000 + 7 * i for i in range(400)]
    two = [500_000 + 1_000 * i for i in range(20)]
    for host, values in (("lg1", one), ("lg2", two)):
        edit_json(run_dir / "uwsgi-tuned-wrk" / "loadgen" / host / "wrk.json", latency_hist_us=wrk_hist(values))
    [rec] = build_summary(run_dir, {})
    union = sorted(one + two)

    def wrk_rank(p: float) -> float:  # wrk: the first value whose running count reaches round(p% x n + 0.5)
        return union[math.floor(p / 100 * len(union) + 1) - 1] / 1000

    assert rec["p99_upper_bound"] is False and rec["percentiles_from"] == "wrk-merged"
    assert (rec["p50_ms"], rec["p99_ms"]) == (wrk_rank(50), wrk_rank(99))
    assert rec["client_detail"]["p90_ms"] == wrk_rank(90) and rec["client_detail"]["p99_9_ms"] == wrk_rank(99.9)
    assert rec["max_ms"] == 523.94  # measured, the parts' highest


def test_two_wrk_hosts_add_their_status_counts(tmp_path):
    run_dir = collected(tmp_path, {"uwsgi-tuned-wrk": {"lg1": WRK, "lg2": WRK2}}, ["lg1", "lg2"])
    parts = run_dir / "uwsgi-tuned-wrk" / "loadgen"
    # the recorded wrk.json predate status_counts: none to add up
    [rec] = build_summary(run_dir, {})
    assert rec["status_counts"] is None and "non-2xx:" not in render.markdown(model.records([rec]), run_dir.name)
    # lg1: 400 answers, 30 of them 502 and 2 503; lg2: 20 answers, 5 of them 502
    edit_json(parts / "lg1" / "wrk.json", non_2xx=32, errors={"connect": 0, "read": 0, "write": 0, "status": 32,
                                                               "timeout": 0},
              status_counts={"200": 368, "502": 30, "503": 2})
    edit_json(parts / "lg2" / "wrk.json", non_2xx=5, errors={"connect": 0, "read": 0, "write": 0, "status": 5,
                                                              "timeout": 0},
              status_counts={"502": 5, "200": 15})
    [rec] = build_summary(run_dir, {})
    assert rec["status_counts"] == {"200": 383, "502": 35, "503": 2}
    assert list(rec["status_counts"]) == ["200", "502", "503"]  # in code order, whatever the parts' order
    assert rec["failed"] == rec["failed_detail"]["non_2xx"] == 37
    assert not [w for w in rec["warnings"] if "status" in w]
    assert "uwsgi/tuned/wrk: 37 non-2xx: 502 × 35, 503 × 2" in render.markdown(model.records([rec]), run_dir.name)
    assert '<td class="r" title="non-2xx: 502 × 35, 503 × 2">37</td>' in html.full_table(model.records([rec]))  # the failed cell
    # a part whose counts do not add up to its non_2xx: said, per load host
    edit_json(parts / "lg2" / "wrk.json", non_2xx=6)
    [rec] = build_summary(run_dir, {})
    assert [w for w in rec["warnings"] if "status" in w] == [
        "loadgen lg2: wrk.json: non_2xx is 6, but its status_counts have 5 non-2xx answers"]
    # a part without counts: the sum would hide its codes, so none
    data = json.loads((parts / "lg2" / "wrk.json").read_text())
    del data["status_counts"]
    (parts / "lg2" / "wrk.json").write_text(json.dumps(data))
    [rec] = build_summary(run_dir, {})
    assert rec["status_counts"] is None and rec["failed_detail"]["non_2xx"] == 38


def test_rate_hosts_add_their_status_counts(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(RATE_SPLIT, run_dir / RATE_SPLIT.name)
    [rec] = build_summary(run_dir, {})
    assert rec["loadgens"] == 2 and rec["status_counts"] == {"200": 396}  # 198 on each host
    edit_json(run_dir / RATE_SPLIT.name / "loadgen" / "fb-db" / "rate.json", status_counts={"200": 190, "503": 8})
    [rec] = build_summary(run_dir, {})
    assert rec["status_counts"] == {"200": 388, "503": 8}
    assert "loadgen fb-db: rate.json: non_2xx is 0, but its status_counts have 8 non-2xx answers" in rec["warnings"]


# -- client-limited ------------------------------------------------------------------------------


def cpu_line(busy_pct: float) -> tuple[str, str]:
    """Two /proc/stat cpu lines 1000 ticks apart, busy_pct of them not idle."""
    busy = int(round(10 * busy_pct))
    return "cpu  1000 0 1000 1000 0 0 0 0 0 0", f"cpu  {1000 + busy} 0 1000 {1000 + 1000 - busy} 0 0 0 0 0 0"


@pytest.mark.parametrize("busy, limited", [(95.0, True), (50.0, False)])
def test_client_limited_by_a_busy_load_host(tmp_path, busy, limited):
    run_dir = tmp_path / "r"
    shutil.copytree(CLIENTS_RUN / "uwsgi-tuned-wrk", run_dir / "uwsgi-tuned-wrk")  # wrk: no ab ceiling
    before, after = cpu_line(busy)
    edit_json(run_dir / "uwsgi-tuned-wrk" / "loadgen.json", cpu_stat_before=before, cpu_stat_after=after)
    [rec] = build_summary(run_dir, {})
    assert rec["host_cpu_pct"] == busy
    assert rec["client_limited"] is limited
    md = render.markdown(model.records([rec]), "r")
    if limited:
        assert rec["client_limited_why"] == "load host localhost's CPU was 95% busy (the app's host too)"
        assert "192.15 †" in md and f"\n{render.client_limited_footnote(model.records([rec]))}\n" in md
        assert "uwsgi/tuned/wrk: client-limited (†): load host localhost's CPU was 95% busy" in md
    else:
        assert rec["client_limited_why"] is None and "†" not in md


def test_client_limited_at_abs_ceiling_and_per_load_host(tmp_path):
    run_dir = tmp_path / "r"
    shutil.copytree(CLIENTS_RUN / "gunicorn-tuned", run_dir / "gunicorn-tuned")
    edit_json(run_dir / "gunicorn-tuned" / "loadgen.json", cpu_stat_before=cpu_line(10)[0],
              cpu_stat_after=cpu_line(10)[1])
    [rec] = build_summary(run_dir, {})
    assert rec["pct_of_ceiling"] >= 95 and rec["client_limited"] is True
    assert rec["client_limited_why"].startswith(f"req/s at {rec['pct_of_ceiling']:g}% of ab's own ceiling")
    # several load hosts: each host's CPU is judged, the busy one named
    merged = two_ab(tmp_path / "two")
    for host, busy in (("lg1", 50), ("lg2", 95)):
        before, after = cpu_line(busy)
        edit_json(merged / "uwsgi-tuned" / "loadgen" / host / "loadgen.json", cpu_stat_before=before,
                  cpu_stat_after=after)
    [rec] = build_summary(merged, {})
    assert rec["client_limited"] is True and rec["host_cpu_pct"] == 95
    assert "load host lg2's CPU was 95% busy" in rec["client_limited_why"]
    assert "lg1" not in rec["client_limited_why"]


def test_an_errored_run_is_not_judged(tmp_path):
    run_dir = tmp_path / "r"
    shutil.copytree(CLIENTS_RUN / "uwsgi-tuned-wrk", run_dir / "uwsgi-tuned-wrk")
    edit_json(run_dir / "uwsgi-tuned-wrk" / "outcome.json", error="the mode did not start")
    [rec] = build_summary(run_dir, {})
    assert rec["client_limited"] is False and rec["client_limited_why"] is None
