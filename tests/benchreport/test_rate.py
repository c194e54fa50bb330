"""Constant-rate runs (client=rate, benchhost.clients.rate) in the report: its reader, summary, the knee, report.md
and the terminal's short version.

tests/data/benchreport/rate-sweep is a rate sweep of two tuned modes built by hand from benchhost.clients.rate's
schema (its README.md says how): uwsgi-gevent at 50, 100 (twice) and 150 req/s, knee 100; granian at 50,
100 (split over two load hosts, 4 timeouts) and 150 req/s (client-limited), knee 50; delay 1 s. The last
test runs benchhost.clients.rate itself against the test server (tests/httpserver.py) and reads what it wrote.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchhost.clients import rate as rate_client
from benchreport import knee, model, render, rundata, short, whattouse
from benchreport.__main__ import main as cli_main
from benchreport.summary import build_summary
from benchrun import HOST_ENV, RATE_CLIENT, ROOT

SWEEP = ROOT / "tests" / "data" / "benchreport" / "rate-sweep"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return build_summary(SWEEP, load_modes())


def by_dir(records: list[dict], raw_dir: str) -> dict:
    return next(r for r in records if r["raw_dir"] == raw_dir)


def rate_json(folder: Path) -> dict:
    return json.loads((folder / "rate.json").read_text())


# -- rate.json and rate.tsv ----------------------------------------------------------------------------------


def test_rate_tsv_rows_and_their_answers():
    rows = rate_client.parse_tsv((SWEEP / "granian-tuned-rate150" / "rate.tsv").read_text())
    data = rate_json(SWEEP / "granian-tuned-rate150")
    assert len(rows) == data["sent"] == 600
    assert sum(r.answered for r in rows) == data["complete"]
    assert sum(not r.answered for r in rows) == data["errors"]["timeout"] == 24
    assert all(r.status == 0 and r.latency_ms is None for r in rows if not r.answered)
    assert rows[1].sched_ms == pytest.approx(1000 / 150, abs=0.001)
    with pytest.raises(ValueError, match="header"):
        rate_client.parse_tsv("a\tb\n")
    with pytest.raises(ValueError, match="line 3"):
        rate_client.parse_tsv("sched_ms\tlag_ms\tlatency_ms\tservice_ms\tstatus\n0\t0\t1\t1\t200\n1\t0\tx\t1\t200\n")


def test_rank_percentile_is_bench_rates_nearest_rank():
    """The histogram's nearest rank is benchhost.clients.rate's own over its latencies (whole ms)."""
    folder = SWEEP / "uwsgi-gevent-tuned-rate150"
    data = rate_json(folder)
    hist = [(ms, k) for ms, k in data["latency_hist_ms"]]
    times = sorted(r.latency_ms for r in rate_client.parse_tsv((folder / "rate.tsv").read_text()) if r.answered)
    for p in (50, 90, 99, 99.9):
        exact = times[max(1, math.ceil(p / 100 * len(times))) - 1]
        assert rate_client.rank_percentile(hist, p) == math.floor(exact)
        assert data["latency_us"][{50: "p50", 90: "p90", 99: "p99", 99.9: "p99_9"}[p]] == pytest.approx(exact * 1000, abs=1)
    assert rate_client.rank_percentile([], 99) is None


def test_load_rate_run_says_what_is_wrong(tmp_path):
    run = rate_client.load_rate_run(SWEEP / "uwsgi-gevent-tuned-rate50")
    assert run.error is None and run.warnings == [] and run.rps == 50.04 and run.latency_ms["p99"] == 1016.146
    assert rate_client.load_rate_run(tmp_path).error.startswith("rate.json missing")
    folder = tmp_path / "run"
    shutil.copytree(SWEEP / "uwsgi-gevent-tuned-rate50", folder)
    lines = (folder / "rate.tsv").read_text().splitlines()
    (folder / "rate.tsv").write_text("\n".join(lines[:-3]) + "\n")
    assert rate_client.load_rate_run(folder).warnings == ["rate.tsv has 197 requests, rate.json says 200 sent"]
    data = rate_json(folder)
    data.update(complete=1, ok=1, rps=None)  # one answer: no span, no rate of answers, not an error
    (folder / "rate.json").write_text(json.dumps(data))
    assert rate_client.load_rate_run(folder).error is None
    data.update(complete=0, ok=0)
    (folder / "rate.json").write_text(json.dumps(data))
    assert rate_client.load_rate_run(folder).error.startswith("no answer from the server to 200 requests sent")
    (folder / "rate.json").write_text("{")
    assert rate_client.load_rate_run(folder).error.startswith("rate.json unreadable")


# -- summary ------------------------------------------------------------------------------------


def test_a_rate_record(records):
    """rate, n, c from run.json; figures from rate.json, latencies from the schedule; % of ideal over the rate."""
    rec = by_dir(records, "uwsgi-gevent-tuned-rate150")
    data = rate_json(SWEEP / "uwsgi-gevent-tuned-rate150")
    assert (rec["client"], rec["rate"], rec["n"], rec["c"], rec["delay"]) == ("rate", 150.0, 600, 600, 1)
    assert (rec["rps"], rec["complete"], rec["failed"], rec["time_taken_s"]) == (
        data["rps"], data["complete"], data["failed"], data["elapsed_s"])
    assert rec["ideal_rps"] == 150.0 and rec["pct_of_ideal"] == round(100 * data["rps"] / 150, 1)
    assert rec["p99_ms"] == data["latency_us"]["p99"] / 1000 and rec["percentiles_from"] == "rate-scheduled"
    assert rec["p99_service_ms"] == data["service_latency_us"]["p99"] / 1000
    assert rec["lag_p99_ms"] == data["lag_us"]["p99"] / 1000 and rec["late_sends"] == 0
    assert rec["ab_ceiling_rps"] is None and rec["steady_rps"] is None and not rec["client_limited"]
    assert rec["client_detail"]["scheduled"] == 600 and rec["client_detail"]["unsent"] == 0
    assert rec["cpu_ms_per_req"] is not None and rec["error"] is None and rec["warnings"] == []


def test_late_sends_make_a_run_client_limited(records):
    rec = by_dir(records, "granian-tuned-rate150")
    assert rec["client_limited"] and rec["late_sends"] == 430
    assert rec["client_limited_why"] == ("bench-rate opened its connections late (lag p99 40.003 ms, 430 sends "
                                         "more than 10 ms late): the schedule was not kept")
    assert rec["failed_detail"] == {"connect": 0, "read": 0, "timeout": 24, "non_2xx": 0}


def test_a_few_late_sends_do_not_make_a_run_client_limited():
    """Under 1% of the sends late by over 10 ms (lag p99 within it): their lateness is in the latency anyway."""
    from benchreport.model import Record
    from benchreport.summary import client_limits

    def rec(lag: float, late: int) -> Record:
        return Record(mode="m", profile="tuned", client="rate", rps=100.0, lag_p99_ms=lag, late_sends=late)

    assert client_limits(rec(3.4, 9)) == []
    assert client_limits(rec(10.5, 90)) == [
        "bench-rate opened its connections late (lag p99 10.5 ms, 90 sends more than 10 ms late): "
        "the schedule was not kept"]


def test_a_split_rate_run_merges_its_parts(records):
    """Two load hosts at 50 req/s each: the point's rate 100, complete and failed summed, req/s the answers
    over the longest part's span of answers (benchhost.clients.rate's rps: (complete - 1) / span), p99 the nearest rank
    of both parts' histograms, the parts kept with their own rate."""
    rec = by_dir(records, "granian-tuned-rate100")
    parts = {h: rate_json(SWEEP / "granian-tuned-rate100" / "loadgen" / h) for h in ("fb-db", "fb-loadgen")}
    assert rec["rate"] == 100.0 and rec["loadgens"] == 2
    assert rec["complete"] == sum(p["complete"] for p in parts.values()) == 396
    assert rec["failed"] == 4 and rec["time_taken_s"] == max(p["elapsed_s"] for p in parts.values())
    assert rec["rps"] == round(395 / max((p["complete"] - 1) / p["rps"] for p in parts.values()), 2)
    assert 94 < rec["rps"] < 100  # the server fell a little behind its 100 req/s
    times = sorted(math.floor(r.latency_ms) for h in parts for r in rate_client.parse_tsv(
        (SWEEP / "granian-tuned-rate100" / "loadgen" / h / "rate.tsv").read_text()) if r.answered)
    assert rec["p99_ms"] == times[math.ceil(0.99 * len(times)) - 1]
    assert rec["percentiles_from"] == "rate-scheduled-merged"
    assert rec["p99_service_ms"] == max(p["service_latency_us"]["p99"] for p in parts.values()) / 1000
    assert [(p["host"], p["rate"], p["n"], p["failed"]) for p in rec["parts"]] == [
        ("fb-db", 50.0, 200, 2), ("fb-loadgen", 50.0, 200, 2)]


def test_the_knee_on_every_rate_record(records):
    """uwsgi-gevent: 50 and 100 (median p99 of two repetitions) within 1500 ms, 150 over: knee 100.
    granian: 100 had 4 failed requests: knee 50."""
    knees = {(r["mode"], r["rate"]): (r["knee_rps"], r["knee_why"]) for r in records}
    for rate in (50.0, 100.0, 150.0):
        assert knees[("uwsgi-gevent", rate)] == (100.0, "p99 2085.24 ms > 1500 ms at 150 req/s")
        assert knees[("granian", rate)] == (50.0, "4 failed requests at 100 req/s")
    found = {k.mode: k for k in knee.knees(model.records(records))}
    at = found["uwsgi-gevent"].at_knee
    assert at is not None and len(at.counted) == 2
    assert at.p99_ms == statistics.median(r["p99_ms"] for r in records
                                          if r["mode"] == "uwsgi-gevent" and r["rate"] == 100.0)
    assert [r["mode"] for r in records if r["client"] == "rate"] == ["uwsgi-gevent"] * 4 + ["granian"] * 3
    assert [r["rate"] for r in records][:4] == [50.0, 100.0, 100.0, 150.0]  # rates ascending


def rate_record(mode: str, rate: float, p99: float, failed: int = 0, cpu: float = 1.0, **more) -> dict:
    return {"mode": mode, "profile": "tuned", "client": "rate", "rate": rate, "delay": 1, "route": "/",
            "p99_ms": p99, "failed": failed, "cpu_ms_per_req": cpu, "error": None, "expected": None,
            "rps": rate, **more}  # its answers kept up with the schedule


def test_knee_rules():
    """The lowest rate failing: no knee; every rate passing: open-ended; an error is no pass; delay 0 has
    no budget; ties rank by CPU at the knee."""
    def one(recs: list[dict]) -> knee.Knee:
        (found,) = knee.knees(model.records(recs))
        return found

    low = one([rate_record("a", 50, 1600), rate_record("a", 100, 1200)])
    assert low.knee_rps is None and low.why == "p99 1600 ms > 1500 ms at 50 req/s"
    assert knee.knee_text(low) == "none"
    top = one([rate_record("a", 50, 1100), rate_record("a", 100, 1200)])
    assert top.knee_rps == 100 and top.open_ended and knee.knee_text(top) == "≥ 100 req/s"
    assert top.why == "every rate run passed: the knee is at least 100 req/s (the highest run)"
    broken = one([rate_record("a", 50, 1100), rate_record("a", 100, 1100, error="no answer")])
    assert broken.knee_rps == 50 and broken.why == "repetition 1: no answer at 100 req/s"
    capped = one([rate_record("a", 50, 1100, client_detail={"unsent": 7})])
    assert capped.knee_rps is None and capped.why == "7 requests left unsent (capped) at 50 req/s"
    flat = one([rate_record("a", 50, 10, delay=0)])
    assert flat.knee_rps is None and flat.why.startswith("p99 10 ms > 0 ms")
    # a failure in one repetition fails the rate, whatever the median
    reps = one([rate_record("a", 50, 1100), rate_record("a", 50, 1100, failed=1), rate_record("a", 50, 1100)])
    assert reps.knee_rps is None and reps.why == "1 failed request at 50 req/s"
    tied = knee.ranked(knee.knees(model.records([rate_record("a", 50, 1100, cpu=0.9), rate_record("b", 50, 1100, cpu=0.7),
                                   rate_record("c", 50, 1600), rate_record("d", 50, 1000, cpu=2.0),
                                   rate_record("d", 80, 1100, cpu=2.0)])))
    assert [k.mode for k in tied] == ["d", "b", "a", "c"]
    # ab and wrk records have no knee
    assert knee.knees(model.records([{**rate_record("a", 50, 1000), "client": "wrk"}])) == []


def sweep_of_three(tmp_path: Path) -> Path:
    """The sweep with uwsgi-gevent's 100 req/s planned three times (repeats=3): r1, r2 and r3 (r1's copy)."""
    from benchrun import edit_json

    run_dir = tmp_path / "rate-sweep"
    shutil.copytree(SWEEP, run_dir, ignore=shutil.ignore_patterns("README.md"))
    shutil.copytree(run_dir / "uwsgi-gevent-tuned-rate100-r1", run_dir / "uwsgi-gevent-tuned-rate100-r3")
    for k in (1, 2, 3):
        edit_json(run_dir / f"uwsgi-gevent-tuned-rate100-r{k}" / "run.json", repeats=3, repetition=k,
                  name=f"uwsgi-gevent-tuned-rate100-r{k}")
    return run_dir


def break_repetition(folder: Path, how: str) -> None:
    """One way a repetition goes wrong, made in its run folder as the bench would leave it."""
    from benchrun import edit_json

    if how == "no answers":  # every request timed out: rate.json with complete 0
        edit_json(folder / "rate.json", complete=0, ok=0, status_counts={}, failed=400, rps=None,
                  errors={"connect": 0, "read": 0, "timeout": 400}, latency_us={}, service_latency_us={},
                  latency_hist_ms=[])
    elif how == "error":
        edit_json(folder / "outcome.json", error="the app host stopped answering ssh")
    elif how == "interrupted":
        edit_json(folder / "loadgen.json", interrupted="SIGTERM")
    elif how == "killed":
        edit_json(folder / "loadgen.json", killed=True)
    elif how == "client rc":
        edit_json(folder / "loadgen.json", rate_rc=1)
    elif how == "missing file":
        (folder / "rate.json").unlink()
    elif how == "absent":
        shutil.rmtree(folder)


@pytest.mark.parametrize("how, why", [
    ("no answers", "repetition 3: no answer from the server to 400 requests sent (connect 0, read 0, timeout 400)"),
    ("error", "repetition 3: the app host stopped answering ssh"),
    ("interrupted", "repetition 3: benchhost.clients.rate was interrupted (SIGTERM)"),
    ("killed", "repetition 3: rate was killed: it outlived its time limit and timeout (bench hard cap)"),
    ("client rc", "repetition 3: benchhost.clients.rate exited 1"),
    ("missing file", "repetition 3: rate.json missing: benchhost.clients.rate did not run or its output was not fetched"),
    ("absent", "repetition 3 of 3: planned, no record"),
])
def test_a_lost_repetition_fails_its_rate(tmp_path, how, why):
    """Two clean repetitions at 100 req/s and a third that went wrong: the rate fails, its why names the
    repetition (the README's rule: any failed or unsent request in any repetition fails the rate)."""
    run_dir = sweep_of_three(tmp_path)
    clean = {(r["mode"], r["rate"]): r["knee_rps"] for r in build_summary(run_dir, load_modes())}
    assert clean[("uwsgi-gevent", 100.0)] == 100.0  # three clean repetitions keep the knee at 100
    break_repetition(run_dir / "uwsgi-gevent-tuned-rate100-r3", how)
    recs = [r for r in build_summary(run_dir, load_modes()) if r["mode"] == "uwsgi-gevent"]
    assert {(r["knee_rps"], r["knee_why"]) for r in recs} == {(50.0, f"{why} at 100 req/s")}
    (found,) = [k for k in knee.knees(model.records(recs))]
    assert found.steps[1].failures == [why]


def test_every_lost_repetition_is_listed_in_order():
    """The why names the first; Step.failures has them all, a planned repetition without a record last."""
    recs = [rate_record("a", 50, 1100, repetition=k, repeats_planned=4) for k in (1, 2, 3)]
    recs[2]["error"] = "rate.json missing"
    recs[0]["client_rc"] = 2
    (found,) = knee.knees(model.records(recs))
    assert found.knee_rps is None and found.why == "repetition 1: the client exited 2 at 50 req/s"
    assert found.steps[0].failures == ["repetition 1: the client exited 2", "repetition 3: rate.json missing",
                                       "repetition 4 of 4: planned, no record"]
    expected = one_knee([rate_record("a", 50, 1100, expected="hang", as_expected=True)])
    assert expected.why == "repetition 1: expected failure (hang) at 50 req/s"


def test_the_budget_includes_its_edge():
    """p99 == 1.5 x delay is within the budget, a µs above is not (and the why shows the µs); 1.5 x 0.3 s is
    450 ms exactly, not the float 449.99999999999994 that would put a p99 of 450 over."""
    assert one_knee([rate_record("a", 50, 1500.0)]).steps[0].over is None
    above = one_knee([rate_record("a", 50, 1500.001)])
    assert above.knee_rps is None and above.why == "p99 1500.001 ms > 1500 ms at 50 req/s"
    at = one_knee([rate_record("a", 50, 450.0, delay=0.3), rate_record("a", 80, 450.001, delay=0.3)])
    assert at.budget_ms == 450.0 and at.knee_rps == 50 and at.why == "p99 450.001 ms > 450 ms at 80 req/s"


def test_a_rate_the_answers_did_not_keep_up_with_is_not_held():
    """p99 within the budget but the answers slower than the schedule: not held (KEEP_UP, 95%; equal is
    within); the repetitions' median answered rate is judged; a rate without an answered rate is not held.
    The live case: uWSGI, 3 s steps, 475 req/s scheduled, 409.71 answered, p99 1485.87 ms."""
    behind = one_knee([rate_record("a", 400, 1021.5, rps=398.88), rate_record("a", 475, 1485.87, rps=409.71)])
    assert behind.knee_rps == 400
    assert behind.why == "answered 409.71 req/s, 86% of the 475 req/s scheduled (< 95%) at 475 req/s"
    assert behind.steps[1].rps == 409.71
    edge = one_knee([rate_record("a", 100, 1100, rps=95.0), rate_record("a", 200, 1100, rps=189.9)])
    assert edge.knee_rps == 100 and edge.why.startswith("answered 189.9 req/s, 94.95% of the 200")
    reps = one_knee([rate_record("a", 100, 1100, rps=v, repetition=k) for k, v in enumerate((80.0, 99.0, 101.0), 1)])
    assert reps.knee_rps == 100 and reps.open_ended
    unmeasured = one_knee([rate_record("a", 100, 1100, rps=None)])
    assert unmeasured.knee_rps is None and unmeasured.why == "answered rate not measured at 100 req/s"


def one_knee(recs: list[dict]) -> knee.Knee:
    (found,) = knee.knees(model.records(recs))
    return found


# -- report.md, what to use, the terminal -------------------------------------------------------


def test_report_md_ranks_the_knees(records):
    md = render.markdown(model.records(records), "rate-sweep")
    section = md.split("## Knee\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    assert rows == [
        "| 1 | uwsgi-gevent | tuned | 100 | 1195 | 0.780 | 50, 100 (2), 150 | p99 2085.24 ms > 1500 ms at 150 req/s |",
        "| 2 | granian | tuned | 50 | 1016 | 1.467 | 50, 100, 150 | 4 failed requests at 100 req/s |",
    ]
    assert "| rate /s |" in md.split("## Knee")[0]  # the table's rate column
    assert "Constant-rate runs (client rate, benchhost.clients.rate)" in md
    assert "bench-rate did not keep its schedule" in md  # the † footnote's reason
    assert "the seed's 151.93 req/s was measured" not in md  # no closed-loop seed figure beside a rate


def test_what_to_use_leaves_rate_runs_out(records):
    """Their req/s is the schedule: the knee ranks them, not "What to use"."""
    assert whattouse.settings(model.records(records)) == []
    wrk = copy.deepcopy(records[0]) | {"client": "wrk", "rate": None, "raw_dir": "x"}
    assert [s.client for s in whattouse.settings(model.records([*records, wrk]))] == ["wrk"]


def test_the_short_version_names_the_knees(records):
    assert short.lines(model.records(records), Path("/r/report.html")) == [
        "In short (7 runs of 2 modes; points ran up to 2 times: medians):",
        "  verdict   Serve it with uwsgi-gevent/tuned (uWSGI with the gevent loop, patched entry; tuned flags: "
        "workers=cores, gevent=2000, listen=4096, thunder_lock=true, quiet=true, upstream=gevent): it holds 100 req/s "
        "within the budget (p99 ≤ 1500 ms; 1195 ms at the knee) at 0.780 ms of CPU a request.",
        "            uwsgi-gevent/tuned's gevent readiness is unknown: not run with gevent's monitor thread: run "
        "`ansible-playbook bench.yml -e mode=uwsgi-gevent -e monitor=true`.",
        "            granian/tuned falls over at 100 req/s (it holds 50 req/s): 4 failed requests.",
        "  rests on  7 runs (knees): uwsgi-gevent-tuned-rate50, uwsgi-gevent-tuned-rate100-r1, "
        "uwsgi-gevent-tuned-rate100-r2, uwsgi-gevent-tuned-rate150, … (report.md's \"Verdict\" names all 7)",
        "  knee (p99 <= 1.5 x delay)  uwsgi-gevent/tuned 100 req/s (p99 1195 ms, CPU 0.780 ms/request)",
        "                             granian/tuned 50 req/s (p99 1016 ms, CPU 1.467 ms/request)",
        "  report.html                /r/report.html",
    ]


def test_the_report_of_a_rate_sweep(tmp_path, capsys):
    """python -m benchreport on the sweep: exit 0, the knees first, summary.json with the rate fields."""
    run_dir = tmp_path / "rate-sweep"
    shutil.copytree(SWEEP, run_dir, ignore=shutil.ignore_patterns("README.md"))
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("  verdict   Serve it with uwsgi-gevent/tuned")
    assert any(line.startswith("  knee (p99 <= 1.5 x delay)  uwsgi-gevent/tuned 100 req/s") for line in out)
    saved = json.loads((run_dir / "summary.json").read_text())
    assert {r["knee_rps"] for r in saved} == {100.0, 50.0}
    assert all(list(r)[-1] == "environment" for r in saved)


# -- the real client ----------------------------------------------------------------------------


def test_what_bench_rate_writes_is_read(tmp_path, server):
    """benchhost.clients.rate itself against the test server at two rates: the records carry its
    figures, the knee is judged on them, report.html's timeline and curves read its rate.tsv."""
    from benchrun import ServerSampler, edit_json, write_outcome, write_run

    from benchreport import html

    run_dir = tmp_path / "live"
    delay = 1.0  # the budget's 500 ms of slack (1.5 x delay) outlasts a busy test machine's jitter: knee 40
    for rate in (20, 40):
        out = run_dir / f"test-tuned-rate{rate}"
        write_run(out, server.url(f"key=r{rate}&delay={delay}"), round(rate * 1.5), 100, delay, client="rate",
                  timeout=10)
        edit_json(out / "run.json", rate=float(rate), duration=1.5)
        with ServerSampler(server.pid, out):
            done = subprocess.run([*RATE_CLIENT, "--dir", str(out)], capture_output=True, env=HOST_ENV,
                                  text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        write_outcome(out)
    records = build_summary(run_dir, {})
    for rec in records:
        data = rate_json(run_dir / rec["raw_dir"])
        assert rec["error"] is None, rec["error"]
        assert (rec["rate"], rec["rps"], rec["complete"], rec["failed"]) == (
            data["rate"], data["rps"], data["complete"], data["failed"])
        assert rec["p99_ms"] == data["latency_us"]["p99"] / 1000 >= delay * 1000
        assert rec["pct_of_ideal"] == round(100 * data["rps"] / data["rate"], 1)
        assert (rec["knee_rps"], rec["knee_why"]) == (
            40.0, "every rate run passed: the knee is at least 40 req/s (the highest run)")
    charts, missing = html.charts(recs := model.records(records), rundata.read_all(run_dir, recs))
    assert not [line for line in missing if "rate.tsv" in line]
    by_key = {c.key: c for c in charts}
    assert by_key["knee-d1"].figure is not None
    timeline = by_key["timeline"].figure
    for i, rec in enumerate(records):
        assert sum(timeline.data[3 * i].y) == rec["complete"]


def test_a_rate_sweeps_bars_are_named_by_their_rate(records):
    """chart.png's and report.html's x labels: a rate run's c and n follow from its rate, so the rate names it."""
    from benchreport import render

    labels = [label for label, _ in render.chart_groups(model.records(records))]
    assert "uwsgi-gevent\nrate=50/s delay=1" in labels
    assert not any("n=" in label for label in labels if "rate=" in label)
