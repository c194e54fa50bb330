"""benchhost.clients.wrk, summary and render on captured real wrk output.

tests/data/benchreport/wrk and clients-run were recorded by `PYTHONPATH=.:app:tests python
tests/benchreport/test_wrk_live.py capture tests/data/benchreport` (wrk 4.1.0
from Debian 12 through benchhost/clients/wrk.py against a loopback
server). Expected figures are computed from the raw wrk.json, never copied.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from benchhost.clients import wrk as wrk_client
from benchreport import model, render
from benchreport.summary import build_summary
from benchrun import ROOT, edit_json

DATA = ROOT / "tests" / "data" / "benchreport"
CASES = DATA / "wrk"
CLIENTS_RUN = DATA / "clients-run"


def raw(name: str) -> dict:
    return json.loads((CASES / name / "wrk.json").read_text())


def run_json(name: str) -> dict:
    return json.loads((CASES / name / "run.json").read_text())


def loadgen(name: str) -> dict:
    return json.loads((CASES / name / "loadgen.json").read_text())


def load(name: str) -> wrk_client.WrkRun:
    return wrk_client.load_wrk_run(CASES / name, requested=run_json(name)["n"], exit_code=loadgen(name)["wrk_rc"])


def test_ok_run_figures_are_wrk_json_in_ms():
    run, data = load("ok"), raw("ok")
    assert run.error is None and run.warnings == []
    assert run.requests == data["requests"] >= run_json("ok")["n"]
    assert run.duration_s == data["duration_us"] / 1e6 and run.duration_from == "threads"
    assert run.rps == round(data["requests"] * 1e6 / data["duration_us"], 2)
    lat = data["latency_us"]
    assert (run.p50_ms, run.p99_ms, run.max_ms) == (lat["p50"] / 1000, lat["p99"] / 1000, lat["max"] / 1000)
    assert run.failed == 0 and not run.capped and run.threads_reached == run.threads == 2
    # every response waited for the server's 50 ms
    assert 50 <= run.p50_ms <= run.p99_ms <= run.max_ms
    # wrk's text says the same count
    assert wrk_client.text_requests((CASES / "ok" / "wrk.txt").read_text()) == run.requests


def test_errors_and_non_2xx():
    run, data = load("errors"), raw("errors")
    assert run.error is None
    assert run.non_2xx == data["non_2xx"] == run.requests  # every answer was a 503
    assert run.errors["status"] == run.requests  # wrk's own count (status > 399) agrees
    assert run.errors["timeout"] > 0  # the answers after 1.2 s > --timeout 1
    e = data["errors"]
    assert run.failed == e["connect"] + e["read"] + e["write"] + e["timeout"] + data["non_2xx"]
    assert run.max_ms < 1000  # late answers are not in wrk's histogram


@pytest.mark.parametrize("counts,warned", [
    ({"503": 21}, []),
    (None, []),  # recorded before wrk.lua counted codes: nothing to check
    ({"200": 1, "503": 20}, ["wrk.json: non_2xx is 21, but its status_counts have 20 non-2xx answers",
                             "wrk.json: wrk counted 21 answers with status > 399, its status_counts 20"]),
    ({"302": 1, "503": 20}, ["wrk.json: wrk counted 21 answers with status > 399, its status_counts 20"]),
])
def test_status_counts_are_checked_against_the_non_2xx(tmp_path, counts, warned):
    shutil.copytree(CASES / "errors", tmp_path / "errors")
    if counts is not None:
        edit_json(tmp_path / "errors" / "wrk.json", status_counts=counts)
    run = wrk_client.load_wrk_run(tmp_path / "errors", requested=20, exit_code=0)  # 21 answers, all 503
    assert run.status_counts == counts and run.non_2xx == 21
    assert [w for w in run.warnings if "status" in w] == warned


def test_capped_run():
    run, data = load("capped"), raw("capped")
    assert run.capped and run.error is None
    assert 0 < run.requests < run_json("capped")["n"] and run.threads_reached == 0
    assert run.duration_from == "wrk" and run.duration_s == data["wrk_duration_us"] / 1e6
    assert run.duration_s >= run_json("capped")["time_limit"]


def test_server_gone_counts_socket_errors_and_is_capped():
    run = load("server-gone")
    assert run.capped and run.requests > 0
    assert run.errors["read"] + run.errors["write"] + run.errors["connect"] > 0
    assert run.failed > run.requests  # wrk retried its dead connections until -d


def test_refused_is_a_structured_error():
    run = load("refused")
    assert not run.has_stats and run.rps is None and run.p50_ms is None
    first = (CASES / "refused" / "wrk.err").read_text().strip()
    assert run.error == f"{first} (wrk exit code {loadgen('refused')['wrk_rc']})"


def test_missing_and_broken_files(tmp_path):
    assert load_dir(tmp_path).error.startswith("wrk.txt missing")
    shutil.copytree(CASES / "ok", tmp_path / "ok")
    (tmp_path / "ok" / "wrk.json").write_text("{not json")
    assert load_dir(tmp_path / "ok").error.startswith("wrk.json unreadable")
    data = raw("ok")
    data["responses_counted"] = data["requests"] - 1
    (tmp_path / "ok" / "wrk.json").write_text(json.dumps(data))
    assert any("the Lua script" in w for w in load_dir(tmp_path / "ok").warnings)


def load_dir(path: Path) -> wrk_client.WrkRun:
    return wrk_client.load_wrk_run(path, requested=200, exit_code=0)


def test_corrected_percentiles_are_told_apart():
    """wrk adds synthetic samples when a response took more than twice E."""
    run = wrk_client.WrkRun(requested=10, exit_code=0)
    data = raw("ok")
    wrk_client.apply_json(run, data)
    assert run.percentiles_from == "wrk"  # max 66 ms < 2 x 52 ms
    data["correction_interval_us"] = data["latency_us"]["max"] // 3
    wrk_client.apply_json(run, data)
    assert run.percentiles_from == "wrk-corrected"


def test_wrk_records_in_the_summary(tmp_path):
    run_dir = tmp_path / "20260101T000000Z"
    shutil.copytree(CASES / "ok", run_dir / "uwsgi-seed-wrk")
    shutil.copytree(CASES / "capped", run_dir / "gunicorn-seed-wrk")
    shutil.copytree(CASES / "refused", run_dir / "devserver-seed-wrk")
    recs = {r["raw_dir"]: r for r in build_summary(run_dir, {})}
    ok = recs["uwsgi-seed-wrk"]
    m = json.loads((run_dir / "uwsgi-seed-wrk" / "run.json").read_text())
    # the name comes from run.json, not from the folder's (which says otherwise here)
    assert (ok["mode"], ok["profile"], ok["client"]) == (m["mode"], m["profile"], m["client"]) == ("test", "tuned", "wrk")
    assert ok["rps"] == load("ok").rps and ok["complete"] == raw("ok")["requests"]
    assert ok["ab_ceiling_rps"] is None and ok["ab_ceiling_pct"] is None and ok["pct_of_ceiling"] is None
    assert ok["steady_rps"] is None and "ab_rc" not in ok and ok["client_rc"] == 0
    assert ok["client_threads"] == 2 and ok["pct_of_ideal"] == round(100 * ok["rps"] / (10 / 0.05), 1)
    # wrk's CPU over its threads' cores (a 1 s run qualifies)
    lg = json.loads((run_dir / "uwsgi-seed-wrk" / "loadgen.json").read_text())
    assert (ok["started_at"], ok["ended_at"], ok["time_limit_s"]) == (lg["started_at"], lg["ended_at"], m["time_limit"])
    assert ok["loadgen_cpu_pct"] == round(100 * lg["wrk_cpu_ms"] / (ok["time_taken_s"] * 1000 * 2), 1)
    assert recs["gunicorn-seed-wrk"]["capped"] and recs["gunicorn-seed-wrk"]["error"] is None
    assert recs["devserver-seed-wrk"]["error"].startswith("unable to connect")
    json.loads(json.dumps(list(recs.values()), allow_nan=False))


def test_no_run_json_is_an_error_and_the_folder_name_is_not_parsed(tmp_path):
    """A half-written run: nothing is guessed from the folder's name; what wrk left is still read."""
    run_dir = tmp_path / "r"
    shutil.copytree(CASES / "ok", run_dir / "uwsgi-gevent-tuned-wrk")
    (run_dir / "uwsgi-gevent-tuned-wrk" / "run.json").unlink()
    rec = build_summary(run_dir, {})[0]
    assert (rec["mode"], rec["profile"], rec["client"]) == (None, None, "wrk")  # loadgen.json's client
    assert rec["error"] == "run.json missing: the run's mode, profile and client are unknown"
    assert rec["rps"] == load("ok").rps and rec["raw_dir"] == "uwsgi-gevent-tuned-wrk"
    (run_dir / "uwsgi-gevent-tuned-wrk" / "loadgen.json").unlink()
    rec = build_summary(run_dir, {})[0]
    assert rec["client"] == "wrk" and rec["rps"] == load("ok").rps  # wrk's own files say it was wrk
    assert rec["client_rc"] is None and rec["client_threads"] == 2


def test_clients_compared(tmp_path):
    run_dir = tmp_path / "20260101T000000Z"
    shutil.copytree(CLIENTS_RUN, run_dir)
    records = build_summary(run_dir, {})
    assert [(r["mode"], r["client"]) for r in records] == [
        ("gunicorn", "ab"), ("gunicorn", "wrk"), ("uwsgi", "ab"), ("uwsgi", "wrk")]
    by = {(r["mode"], r["client"]): r for r in records}
    rows = {row.mode: row for row in render.compared(model.records(records))}
    for mode, row in rows.items():
        ratio = by[(mode, "wrk")]["rps"] / by[(mode, "ab")]["rps"]
        assert row.ratio == ratio and row.agree == (abs(ratio - 1) <= 0.10)
    # n=400 c=10: ab's lone request is 1 round in 41, the clients agree;
    # n=20 c=10 delay 0.5: ab needs 3 rounds where wrk needs 2
    assert rows["uwsgi"].agree is True
    assert rows["gunicorn"].agree is False and rows["gunicorn"].ratio > 1.3
    assert rows["gunicorn"].why[0].startswith("ab at ")
    table = render.compare_table(model.records(records)).splitlines()
    assert len(table) == 2 + 2
    assert "agree (within 10%)" in next(ln for ln in table if ln.startswith("| uwsgi |"))
    assert "**differ by" in next(ln for ln in table if ln.startswith("| gunicorn |"))
    md = render.markdown(model.records(records), run_dir.name)
    assert "## Clients compared" in md and "ab's ceiling" in md
    head = next(ln for ln in md.splitlines() if ln.startswith("| mode | profile | client |"))
    assert "client CPU %" in head and "ab CPU %" not in head
    main = [ln for ln in md.splitlines() if ln.startswith("| ") and ln.count(" | ") == head.count(" | ")]
    assert len(main) == 1 + len(records) + 0  # header + one row per record (the compare table is narrower)
    notes = render.notes(model.records(records))
    assert not any(n.startswith("uwsgi/tuned/wrk: ERROR") for n in notes)


def test_one_client_keeps_the_old_table(tmp_path):
    run_dir = tmp_path / "r"
    shutil.copytree(CLIENTS_RUN / "uwsgi-tuned", run_dir / "uwsgi-tuned")
    records = build_summary(run_dir, {})
    md = render.markdown(model.records(records), "r")
    assert "| client |" not in md and "ab CPU %" in md and "Clients compared" not in md
    assert records[0]["client"] == "ab"


def test_chart_with_both_clients(tmp_path):
    run_dir = tmp_path / "r"
    shutil.copytree(CLIENTS_RUN, run_dir)
    out = tmp_path / "chart.png"
    render.chart(model.records(build_summary(run_dir, {})), out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 400


@pytest.mark.parametrize("client", ["ab", "wrk"])
def test_every_record_names_its_client(client, tmp_path):
    run_dir = tmp_path / "r"
    name = "uwsgi-tuned" + ("-wrk" if client == "wrk" else "")
    shutil.copytree(CLIENTS_RUN / name, run_dir / name)
    assert build_summary(run_dir, {})[0]["client"] == client
    edit_json(run_dir / name / "run.json", client=None)  # run.json must say
    [rec] = build_summary(run_dir, {})
    assert rec["error"] == "run.json lacks client" and rec["client"] == client  # loadgen.json's
