"""benchreport.summary, .render and the CLI on a captured run directory.

tests/data/benchreport/run-sample holds real ab output and real /proc samples
(see test_live.capture) laid out as bench.yml leaves a run: a plain
run, a heartbeat run, a time-capped run, non-2xx answers, connection refused,
an ab abort, and a mode that never started (run.json and outcome.json only).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchreport import EXIT_RUN_ERROR, fmt, model, render
from benchreport.summary import build_summary, cpu_stat_busy_pct, expectation
from benchrun import ROOT, edit_json

SAMPLE = ROOT / "tests" / "data" / "benchreport" / "run-sample"
MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"
REQUIRED = ("mode, profile, n, c, delay, rps, ideal_rps, pct_of_ideal, failed, p50_ms, p99_ms, max_ms, "
            "cpu_ms_per_req, peak_rss_mib, loadgen_cpu_pct, raw_dir, complete, capped, error, seed_rps, title, "
            "ab_ceiling_rps, ab_ceiling_pct, pct_of_ceiling, steady_rps, steady_rps_from, host_cpu_pct, "
            # and what molecule's verify asserts on
            "client, monitor, blocked, expected, as_expected, time_limit_s").split(", ")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "20260102T030405Z"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture(scope="module")
def modes() -> dict:
    return load_modes(MODES_FILE)


def by_name(records: list[dict]) -> dict[str, dict]:
    return {r["raw_dir"]: r for r in records}


def read(run_dir: Path, name: str, file: str) -> dict:
    """One of a run folder's JSON files (run.json, loadgen.json, server.json, outcome.json)."""
    return json.loads((run_dir / name / file).read_text())


def test_one_record_per_directory_in_mode_table_order(run_dir, modes):
    records = build_summary(run_dir, modes)
    assert [(r["mode"], r["profile"]) for r in records] == [
        ("devserver", "seed"), ("uwsgi", "seed"), ("uwsgi", "tuned"), ("gunicorn", "seed"),
        ("gunicorn", "tuned"), ("psycopg2", "seed"), ("psycogreen", "seed"),
    ]
    for rec in records:
        assert set(REQUIRED) <= set(rec)
        assert rec["raw_dir"] == f"{rec['mode']}-{rec['profile']}"
        assert rec["title"] == modes[rec["mode"]].title
        assert rec["seed_rps"] == modes[rec["mode"]].seed_rps
        run = read(run_dir, rec["raw_dir"], "run.json")
        assert (rec["mode"], rec["profile"], rec["client"], rec["n"], rec["c"], rec["delay"]) == (
            run["mode"], run["profile"], run["client"], run["n"], run["c"], run["delay"])
        assert (rec["url"], rec["route"], rec["time_limit_s"]) == (run["url"], run["route"], run["time_limit"])
    # strict JSON: no NaN/Infinity sneaks in
    json.loads(json.dumps(records, allow_nan=False))


def test_figures_come_from_the_raw_files(run_dir, modes):
    rec = by_name(build_summary(run_dir, modes))["uwsgi-seed"]
    server, lg = read(run_dir, "uwsgi-seed", "server.json"), read(run_dir, "uwsgi-seed", "loadgen.json")
    assert (rec["n"], rec["c"], rec["delay"], rec["complete"], rec["failed"]) == (50, 5, 0.05, 50, 0)
    assert rec["rps"] == 87.69  # ab's own figure, from ab.txt
    assert rec["ideal_rps"] == 100.0 and rec["pct_of_ideal"] == 87.7
    assert (rec["p50_ms"], rec["p99_ms"], rec["max_ms"]) == (51.556, 53.812, 53.812)
    cpu_ms = (server["cpu_ns_after"] - server["cpu_ns_before"]) / 1e6
    assert rec["cpu_ms"] == cpu_ms and rec["cpu_ms_per_req"] == round(cpu_ms / 50, 3)
    assert rec["peak_rss_mib"] == round(server["peak_rss_kib"] / 1024, 1)
    # this run's server.json has no samples and its loadgen.json no started/ended: the sampler's totals
    assert (rec["cpu_source"], rec["rss_source"]) == ("proc", "proc readings over the sampler's run")
    assert rec["cpu_window"] == {"from": None, "to": None, "s": None,
                                 "source": "totals (no load window: loadgen.json has no started/ended)"}
    assert rec["cpu_divisor_requests"] == 50 and rec["cpu_ms_per_req_resolution"] is None  # no pids_read
    assert (rec["client_rc"], rec["started_at"], rec["ended_at"]) == (lg["ab_rc"], lg["started_at"], lg["ended_at"])
    assert rec["warnings"] == []
    assert rec["host_cpu_pct"] == round(cpu_stat_busy_pct(lg["cpu_stat_before"], lg["cpu_stat_after"]), 1)
    assert rec["loadgen_cpu_pct"] is None  # ab's CPU over a 0.57 s run: start-up would dominate
    # ab's lone first request: 1 + ceil(49/5) = 11 rounds of 0.05 s -> 50 / 0.55 s
    assert rec["ab_ceiling_rps"] == 90.909 and rec["ab_ceiling_pct"] == 90.9
    assert rec["pct_of_ceiling"] == round(100 * 87.69 / (50 / 0.55), 1) == 96.5
    assert rec["error"] is None and rec["capped"] is False and rec["at_seed_params"] is False


def test_cpu_stat_busy_pct_by_hand():
    # deltas: user 60, nice 0, system 20, idle 100, iowait 10, irq 0, softirq 10, steal 0 -> 90/200 busy
    before = "cpu  100 0 50 1000 5 0 1 0 0 0"
    after = "cpu  160 0 70 1100 15 0 11 0 7 0"
    assert cpu_stat_busy_pct(before, after) == 45.0
    assert cpu_stat_busy_pct(after, before) is None  # counters never go back
    assert cpu_stat_busy_pct(None, after) is None


def test_capped_failed_and_error_records(run_dir, modes):
    recs = by_name(build_summary(run_dir, modes))
    capped = recs["devserver-seed"]
    assert capped["capped"] and capped["complete"] == 6 and capped["time_limit_s"] == 1 and capped["error"] is None
    assert capped["ab_ceiling_pct"] is None and capped["pct_of_ceiling"] is None  # ab stopped at -t, not at n
    non2xx = recs["gunicorn-seed"]
    assert non2xx["failed"] == 20 and non2xx["failed_detail"]["non_2xx"] == 20
    assert non2xx["ideal_rps"] is None and non2xx["pct_of_ideal"] is None  # delay 0: no ideal
    assert non2xx["ab_ceiling_pct"] is None and non2xx["pct_of_ceiling"] is None  # ...and no ceiling
    refused = recs["gunicorn-tuned"]
    assert refused["error"].startswith("no byte received") and refused["failed"] == 30
    assert refused["cpu_ms_per_req"] is None and refused["peak_rss_mib"] is None  # not sampled
    aborted = recs["psycopg2-seed"]
    assert aborted["error"] == "apr_pollset_poll: The timeout specified has expired (70007) (ab exit code 119)"
    assert aborted["rps"] is None and aborted["complete"] is None and aborted["p99_ms"] is None
    never = recs["psycogreen-seed"]
    assert never["error"] == "flask-psycogreen did not report /healthz within 30 s"
    assert all(never[k] is None for k in ("rps", "pct_of_ideal", "failed", "p50_ms", "cpu_ms_per_req"))


def test_bad_or_missing_run_json_is_an_error_not_a_crash(run_dir, modes):
    (run_dir / "uwsgi-seed" / "run.json").unlink()
    edit_json(run_dir / "uwsgi-tuned" / "run.json", c="ten", n="200")
    edit_json(run_dir / "devserver-seed" / "loadgen.json", killed=True)
    (run_dir / "gunicorn-seed" / "run.json").write_text("{not json")
    edit_json(run_dir / "psycopg2-seed" / "run.json", client="curl")
    records = build_summary(run_dir, modes)
    recs = by_name(records)
    nameless = recs["uwsgi-seed"]
    assert nameless["error"] == "run.json missing: the run's mode, profile and client are unknown"
    # no guess from the folder's name; the client is the one loadgen.json names
    assert (nameless["mode"], nameless["profile"], nameless["client"], nameless["n"]) == (None, None, "ab", None)
    assert nameless["complete"] == 50 and nameless["rps"] == 87.69  # ab's output is still read
    assert recs["uwsgi-tuned"]["error"] == "run.json: c is not a number: 'ten'"
    assert recs["uwsgi-tuned"]["n"] == 200  # a numeric string is a number
    assert recs["devserver-seed"]["error"].startswith("ab was killed")
    assert recs["gunicorn-seed"]["error"].startswith("run.json unreadable: ")
    assert recs["psycopg2-seed"]["error"].startswith("run.json: unknown client 'curl'")
    assert (recs["psycopg2-seed"]["mode"], recs["psycopg2-seed"]["client"]) == ("psycopg2", "curl")
    assert recs["psycopg2-seed"]["complete"] is None  # an unknown client's files are not read
    # runs without a name sort last
    assert [r["raw_dir"] for r in records if r["mode"] is None] == ["gunicorn-seed", "uwsgi-seed"]
    assert records[-2:] == [recs["gunicorn-seed"], nameless]
    # the report still renders, naming the folders it could not name
    md = render.markdown(model.records(records), run_dir.name)
    assert "| uwsgi-seed/ (no run.json) |" in md
    assert "uwsgi-seed/ (no run.json): ERROR: run.json missing" in md
    render.chart(model.records(records), run_dir / "chart.png")
    assert run_cli(str(run_dir), "--no-latest").returncode == EXIT_RUN_ERROR


def test_old_layout_is_named_not_guessed(tmp_path):
    old = tmp_path / "r" / "uwsgi-seed"
    old.mkdir(parents=True)
    (old / "meta.json").write_text(json.dumps({"schema": 1, "mode": "uwsgi", "profile": "seed"}))
    [rec] = build_summary(old.parent, {})
    assert rec["error"].startswith("run.json missing: this folder has the old layout (meta.json")
    assert (rec["mode"], rec["profile"], rec["client"], rec["raw_dir"]) == (None, None, None, "uwsgi-seed")
    (tmp_path / "r" / "notes").mkdir()  # a folder without any of the bench's files is not a run
    assert len(build_summary(old.parent, {})) == 1


def test_missing_files_render_what_is_there_and_say_what_is_missing(run_dir, modes):
    for name in ("ab.tsv", "ab.csv", "server.json"):
        (run_dir / "uwsgi-tuned" / name).unlink()
    (run_dir / "uwsgi-seed" / "loadgen.json").unlink()
    (run_dir / "uwsgi-seed" / "outcome.json").unlink()
    recs = by_name(build_summary(run_dir, modes))
    tuned = recs["uwsgi-tuned"]
    assert tuned["error"] is None and tuned["complete"] == 200 and tuned["rps"] is not None
    assert tuned["percentiles_from"] == "text" and tuned["steady_rps"] is None
    assert tuned["cpu_ms_per_req"] is None and tuned["peak_rss_mib"] is None
    assert tuned["warnings"] == ["server.json missing: no server CPU or memory",
                                 "ab.tsv and ab.csv missing: percentiles from text; no steady rate"]
    seed = recs["uwsgi-seed"]
    assert seed["error"] is None and seed["rps"] == 87.69 and seed["cpu_ms_per_req"] is not None
    assert seed["client_rc"] is None and seed["host_cpu_pct"] is None and seed["started_at"] is None
    assert seed["warnings"] == ["loadgen.json, outcome.json missing: no client exit status, CPU or times; "
                                "the bench recorded no outcome (error, hub blockages)"]
    notes = render.notes(model.records(list(recs.values())))
    assert "uwsgi/tuned: ab.tsv and ab.csv missing: percentiles from text; no steady rate" in notes
    # the run that never started says why, not which files it lacks
    assert recs["psycogreen-seed"]["warnings"] == []


def test_markdown_table_has_one_row_per_record(run_dir, modes):
    records = build_summary(run_dir, modes)
    md = render.markdown(model.records(records), run_dir.name)
    # one table per group (gevent first), each under its heading, with the same columns
    results = md.split("\n## Results\n")[1].split("\n### How to read the tables\n")[0]
    heads = [ln for ln in results.splitlines() if ln.startswith("### ")]
    assert heads == [f"### {g}: {render.GROUPS[g]}" for g in ("gevent", "threads and processes")]
    table = [ln for ln in results.splitlines() if ln.startswith("|")]
    assert len(table) == 2 * len(heads) + len(records)
    assert table[0] == table[4] and table[1] == table[5]  # the gevent table: header, rule, 2 rows
    body = table[2:4] + table[6:]
    assert all(ln.count(" | ") == len(render.COLUMNS) - 1 for ln in [table[0], *body])
    ordered = render.in_group_order(model.records(records))
    assert [(r.mode, r.group) for r in ordered[:2]] == [("psycopg2", "gevent"), ("psycogreen", "gevent")]
    assert all(r.group == "threads and processes" for r in ordered[2:])
    rows = dict(zip((f"{r.mode}-{r.profile}" for r in ordered), body))
    # at 96.5% of ab's ceiling: client-limited (†)
    assert rows["uwsgi-seed"].startswith("| uwsgi | seed | 5 | 50 | 0.05 | 87.69 † | 87.7 | 96.5 | 0 | 51.6 | 53.8 | 53.8 |")
    assert rows["uwsgi-seed"].endswith("| 157.67 |")
    assert "4.97 (capped)" in rows["devserver-seed"]
    assert "| error |" in rows["gunicorn-tuned"] and "38022" not in rows["gunicorn-tuned"]
    assert md.startswith(f"# Bench run {run_dir.name}\n")


def test_monitor_counts_show_only_when_a_run_had_the_monitor(run_dir, modes):
    plain = build_summary(run_dir, modes)
    assert all(r["monitor"] is False and r["blocked"] is None for r in plain)
    assert "hub blocks" not in render.markdown(model.records(plain), run_dir.name)
    for name, blocked in (("psycopg2-seed", 7), ("psycogreen-seed", 0)):
        edit_json(run_dir / name / "run.json", monitor=True)
        edit_json(run_dir / name / "outcome.json", blocked=blocked)
    edit_json(run_dir / "uwsgi-seed" / "outcome.json", blocked=3)  # the monitor was off: not reported
    recs = by_name(build_summary(run_dir, modes))
    assert (recs["psycopg2-seed"]["blocked"], recs["psycogreen-seed"]["blocked"]) == (7, 0)
    assert recs["uwsgi-seed"]["blocked"] is None
    table = [ln for ln in render.markdown_table(model.records(list(recs.values()))).splitlines()]
    assert table[0].endswith("| hub blocks |")
    assert table[2 + list(recs).index("psycopg2-seed")].endswith("| 7 |")
    assert table[2 + list(recs).index("psycogreen-seed")].endswith("| 0 |")
    assert table[2 + list(recs).index("uwsgi-seed")].endswith(f"| {fmt.DASH} |")
    assert len({len(ln) for ln in render.text_table(model.records(list(recs.values()))).splitlines()[:2]}) == 1


def test_notes_name_every_problem(run_dir, modes):
    notes = "\n".join(render.notes(model.records(build_summary(run_dir, modes))))
    assert "devserver/seed: capped by the 1 s time limit: 6 of 50 requests completed" in notes
    assert "gunicorn/seed: 20 failed (connect 0, receive 0, length 0, exceptions 0, non-2xx 20)" in notes
    for name in ("gunicorn/tuned", "psycopg2/seed", "psycogreen/seed"):
        assert f"{name}: ERROR: " in notes
    assert "uwsgi/tuned: ERROR" not in notes
    assert notes.count("uwsgi: ran at") == 1  # once per mode, not per profile


def test_text_table_lines_up(run_dir, modes):
    records = build_summary(run_dir, modes)
    lines = render.text_table(model.records(records)).splitlines()
    # a "[group]" line before each group's rows (gevent first), the rows in group order
    assert [ln for ln in lines if ln.startswith("[")] == ["[gevent]", "[threads and processes]"]
    assert lines[2] == "[gevent]" and lines[5] == "[threads and processes]"
    lines = [ln for ln in lines if not ln.startswith("[")]
    assert len(lines) == 2 + len(records)
    assert [ln.split()[0] for ln in lines[2:]] == [r.mode for r in render.in_group_order(model.records(records))]
    header, rule = lines[0], lines[1]
    assert header.split()[:3] == ["mode", "profile", "c"]
    # every right-aligned column ends where its rule ends
    ends = [i + 1 for i, ch in enumerate(rule) if ch == "-" and (i + 1 == len(rule) or rule[i + 1] == " ")]
    for line in lines[2:]:
        for end, (_, right, _) in zip(ends, render.COLUMNS):
            if right:
                assert line[end - 1] != " ", (line, end)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_is_a_png(run_dir, modes, tmp_path):
    out = tmp_path / "chart.png"
    render.chart(model.records(build_summary(run_dir, modes)), out)
    width, height = png_size(out)
    assert width >= 800 and height >= 400 and out.stat().st_size > 10_000


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchreport", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_writes_everything_and_exits_3_on_run_errors(run_dir):
    proc = run_cli(str(run_dir), "--modes-file", str(MODES_FILE))
    assert proc.returncode == EXIT_RUN_ERROR, proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary) == 7
    results = (run_dir / "report.md").read_text().split("\n### How to read the tables\n")[0]
    assert results.count("\n| ") == 2 + 7  # a header per group (gevent, threads and processes), a row per run
    png_size(run_dir / "chart.png")
    latest = run_dir.parent / "latest"
    assert os.readlink(latest) == run_dir.name and latest.resolve() == run_dir.resolve()
    assert render.text_table(model.records(summary)) in proc.stdout
    best = render.what_to_use_lines(model.records(summary))
    assert best and "".join(f"\n  {line}" for line in best) in proc.stdout
    assert "psycogreen/seed: ERROR" in proc.stdout


def test_cli_exit_0_without_errors_and_latest_moves(run_dir):
    for name in ("gunicorn-tuned", "psycopg2-seed", "psycogreen-seed"):
        shutil.rmtree(run_dir / name)
    assert run_cli(str(run_dir)).returncode == 0
    second = run_dir.parent / "20260102T050000Z"
    shutil.copytree(run_dir / "uwsgi-seed", second / "uwsgi-seed")
    assert run_cli(str(second)).returncode == 0
    assert os.readlink(run_dir.parent / "latest") == second.name
    assert run_cli(str(run_dir), "--no-latest").returncode == 0
    assert os.readlink(run_dir.parent / "latest") == second.name


def test_cli_on_latest_itself_keeps_the_link(run_dir):
    """`python -m benchreport results/latest` re-renders the run latest points at."""
    for name in ("gunicorn-tuned", "psycopg2-seed", "psycogreen-seed"):
        shutil.rmtree(run_dir / name)
    assert run_cli(str(run_dir)).returncode == 0
    latest = run_dir.parent / "latest"
    (run_dir / "report.md").unlink()
    proc = run_cli(str(latest))
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(latest) == run_dir.name and latest.resolve() == run_dir.resolve()
    assert (run_dir / "report.md").read_text().startswith(f"# Bench run {run_dir.name}\n")


def test_cli_without_results_exits_1(tmp_path):
    assert run_cli(str(tmp_path / "nope")).returncode == 1
    (tmp_path / "empty").mkdir()
    proc = run_cli(str(tmp_path / "empty"))
    assert proc.returncode == 1 and "no run folders (run.json or a client's output)" in proc.stderr
    assert not (tmp_path / "empty" / "summary.json").exists()


def _stalled_run(results: Path, mode: str, expect: str | None) -> Path:
    """A real ab abort (nothing answered within -s) filed as a run of `mode` the bench expected `expect` of."""
    run = results / "20260102T060000Z"
    src = ROOT / "tests" / "data" / "benchreport" / "ab" / "stall-abort"
    dest = run / f"{mode}-tuned"
    shutil.copytree(src, dest)
    edit_json(dest / "run.json", mode=mode, n=20, c=10, delay=1, expect=expect, time_limit=30)
    return run


def test_an_expected_hang_is_reported_as_such_and_does_not_fail_the_run(tmp_path, modes):
    expected = [name for name, m in modes.items() if m.expect]
    assert expected, "the mode table should mark gRPC without init_gevent as expected to fail"
    outcome = modes[expected[0]].expect["outcome"]
    run = _stalled_run(tmp_path / "results", expected[0], outcome)
    [rec] = build_summary(run, modes)
    assert rec["error"] and "timeout" in rec["error"]
    assert rec["expected"] == outcome
    assert rec["as_expected"] is True and rec["expected_why"] == modes[expected[0]].expect["why"]
    assert rec["warnings"] == [] and rec["time_limit_s"] == 30
    assert any("as the mode table expects" in note for note in render.notes(model.records([rec])))
    assert "hang (expected)" in render.text_table(model.records([rec]))
    assert any(f"{expected[0]}/tuned: expected failure:" in note for note in render.notes(model.records([rec])))
    proc = run_cli(str(run), "--modes-file", str(MODES_FILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_same_hang_in_a_mode_not_expected_to_fail_is_an_error(tmp_path, modes):
    run = _stalled_run(tmp_path / "results", "uwsgi-gevent", None)
    [rec] = build_summary(run, modes)
    assert rec["expected"] is None and rec["as_expected"] is None
    assert any("uwsgi-gevent/tuned: ERROR:" in note for note in render.notes(model.records([rec])))
    assert run_cli(str(run), "--modes-file", str(MODES_FILE)).returncode == EXIT_RUN_ERROR


def test_an_expected_failure_that_succeeds_is_flagged(run_dir, modes):
    [rec] = [r for r in build_summary(run_dir, modes) if r["mode"] == "uwsgi" and r["profile"] == "seed"]
    assert rec["error"] is None and rec["failed"] == 0
    got = expectation(model.Record.from_dict(rec), "hang", "test")
    assert got == {"expected": "hang", "expected_why": "test", "as_expected": False}
    assert any("UNEXPECTEDLY" in note for note in render.notes(model.records([{**rec, **got}])))


def test_the_runs_own_expectation_counts(tmp_path, modes):
    """run.json's expect is what the bench planned; a table changed since is a warning, not a verdict."""
    expected = next(name for name, m in modes.items() if m.expect)
    run = _stalled_run(tmp_path / "a", "uwsgi-gevent", "hang")  # planned to hang, the table now says no
    [rec] = build_summary(run, modes)
    assert (rec["expected"], rec["as_expected"], rec["expected_why"]) == ("hang", True, None)
    assert rec["warnings"] == ["run.json expects hang, modes.yml now success: the run's own expectation is used"]
    assert run_cli(str(run), "--modes-file", str(MODES_FILE), "--no-latest").returncode == 0
    run = _stalled_run(tmp_path / "b", expected, None)  # planned to succeed
    [rec] = build_summary(run, modes)
    assert rec["expected"] is None and rec["error"]
    assert rec["warnings"] == ["run.json expects success, modes.yml now hang: the run's own expectation is used"]
    assert run_cli(str(run), "--modes-file", str(MODES_FILE), "--no-latest").returncode == EXIT_RUN_ERROR
    # a run.json without the key at all: the mode table says
    data = json.loads((run / f"{expected}-tuned" / "run.json").read_text())
    del data["expect"]
    (run / f"{expected}-tuned" / "run.json").write_text(json.dumps(data))
    [rec] = build_summary(run, modes)
    assert rec["expected"] == "hang" and rec["as_expected"] is True and rec["warnings"] == []


def test_a_bad_mode_table_still_gives_a_report(run_dir, tmp_path):
    bad = tmp_path / "modes.yml"
    bad.write_text("modes:\n  uwsgi: {server: nope}\n")
    proc = run_cli(str(run_dir), "--modes-file", str(bad), "--no-latest")
    assert proc.returncode == EXIT_RUN_ERROR and "warning: mode table" in proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary) == 7 and all(r["title"] is None and r["seed_rps"] is None for r in summary)


def test_run_json_numbers_and_expectations_as_templating_may_write_them():
    from benchreport.runfiles import parse_run

    errors: list[str] = []
    spec = parse_run({"mode": "m", "profile": "seed", "client": "wrk", "n": "20", "c": 5.0, "delay": "0.5",
                      "time_limit": "60", "timeout": 10, "monitor": "True", "expect": {"outcome": "hang", "why": "x"}},
                     errors)
    assert errors == []
    assert (spec.n, spec.c, spec.delay, spec.time_limit, spec.timeout) == (20, 5, 0.5, 60, 10)
    assert spec.monitor is True and spec.expect == "hang" and spec.expect_given
    spec = parse_run({"mode": "m", "profile": "seed", "client": "ab", "n": 1, "c": 1, "delay": 0,
                      "monitor": False, "expect": None}, errors)
    assert spec.monitor is False and spec.expect is None and spec.expect_given and errors == []
    assert parse_run({"profile": "seed", "client": "ab", "n": 1, "c": 1, "delay": 0, "timeout": "x"}, errors) is None
    assert errors == ["run.json lacks mode", "run.json: timeout is not a number: 'x'"]
