"""Repeats (repeat=K, issue 12): summary stats per point, compare on medians and cvs, report.md's Repeats.

A repeated point is made from tests/data/benchreport/local-run's recorded ab
runs: each copied folder's run.json is edited to name the same point
(uwsgi-gevent, tuned) and a repetition of it, so the repetitions' figures are
the recorded folders' own; the expected stats are computed from what
build_summary makes of each folder alone.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchreport import compare, fmt, model, render
from benchreport.__main__ import main as cli_main
from benchreport.model import NOISY_CV
from benchreport.summary import build_summary, write_summary
from benchrun import ROOT, edit_json, write_outcome

LOCAL_RUN = ROOT / "tests" / "data" / "benchreport" / "local-run"
MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"
POINT = {"mode": "uwsgi-gevent", "profile": "tuned"}
#: req/s 168.89, 174.87, 177.38: cv about 2.5% (sample stdev)
QUIET = ("gevent-pywsgi-tuned", "gunicorn-gevent-tuned", "uwsgi-gevent-tuned")
#: req/s 150.77, 168.89, 177.38: cv about 8.2% (sample stdev)
NOISY = ("gevent-pywsgi-seed", "gevent-pywsgi-tuned", "uwsgi-gevent-tuned")
METRICS = ("rps", "p99_ms", "cpu_ms_per_req")


@pytest.fixture(scope="module")
def modes() -> dict:
    return load_modes(MODES_FILE)


@pytest.fixture(scope="module")
def alone(modes) -> dict[str, dict]:
    """Each recorded folder's record, built alone (no repeat keys: one run of its own point)."""
    return {r["raw_dir"]: r for r in build_summary(LOCAL_RUN, modes)}


def repeated_run(run_dir: Path, sources: tuple[str, ...], *, keys: bool = True, seed: int = 42,
                 **point) -> Path:
    """run_dir with one folder per source, all naming one point, repetitions 1..K in the sources' order."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for k, source in enumerate(sources, start=1):
        folder = run_dir / f"rep{k}-{source}"
        shutil.copytree(LOCAL_RUN / source, folder)
        extra = {"repetition": k, "repeats": len(sources), "seed": seed} if keys else {}
        edit_json(folder / "run.json", **{**POINT, **point}, name=folder.name, **extra)
    return run_dir


def expected_stats(alone: dict[str, dict], sources: tuple[str, ...]) -> dict[str, dict]:
    out = {}
    for metric in METRICS:
        values = [alone[s][metric] for s in sources]
        mean = statistics.fmean(values)
        out[metric] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                       "cv": statistics.stdev(values) / mean if len(values) >= 2 else None}
    return out


def assert_stats(stats: dict, expected: dict) -> None:
    assert set(stats) == set(METRICS)
    for metric in METRICS:
        got, want = stats[metric], expected[metric]
        assert set(got) == {"median", "min", "max", "cv"}
        for what in ("median", "min", "max"):
            assert got[what] == pytest.approx(want[what], abs=1e-3), (metric, what)
        if want["cv"] is None:
            assert got["cv"] is None
        else:
            assert got["cv"] == pytest.approx(want["cv"], abs=1e-4), metric


# -- summary.json -------------------------------------------------------------------------------


def test_every_repetition_is_a_record_and_carries_the_points_stats(tmp_path, modes, alone):
    records = build_summary(repeated_run(tmp_path / "run", QUIET), modes)
    assert len(records) == 3
    assert [r["repetition"] for r in records] == [1, 2, 3]
    assert [alone[s]["rps"] for s in QUIET] == [r["rps"] for r in records]  # each its own figures
    want = expected_stats(alone, QUIET)
    for rec in records:
        assert (rec["repeats"], rec["repeats_planned"], rec["shuffle_seed"]) == (3, 3, 42)
        assert_stats(rec["stats"], want)
        assert rec["stats"] == records[0]["stats"]
        assert rec["noisy"] is False
    assert records[0]["stats"]["rps"]["median"] == 174.87
    assert (records[0]["stats"]["rps"]["min"], records[0]["stats"]["rps"]["max"]) == (168.89, 177.38)
    assert 0.025 < records[0]["stats"]["rps"]["cv"] < 0.026  # a fraction, not a percentage; the sample stdev
    assert records[0]["stats"]["rps"]["cv"] == round(statistics.stdev([168.89, 174.87, 177.38]) / 173.7133333, 4)


def test_noisy_above_five_percent_only(tmp_path, modes, alone):
    quiet = build_summary(repeated_run(tmp_path / "quiet", QUIET), modes)
    noisy = build_summary(repeated_run(tmp_path / "noisy", NOISY), modes)
    assert expected_stats(alone, QUIET)["rps"]["cv"] < NOISY_CV < expected_stats(alone, NOISY)["rps"]["cv"]
    assert {r["noisy"] for r in quiet} == {False}
    assert {r["noisy"] for r in noisy} == {True}
    assert_stats(noisy[0]["stats"], expected_stats(alone, NOISY))
    assert noisy[0]["stats"]["rps"]["cv"] > 0.05


def test_a_repetition_with_an_error_is_left_out_of_the_stats(tmp_path, modes, alone):
    run_dir = repeated_run(tmp_path / "run", NOISY)
    write_outcome(run_dir / f"rep1-{NOISY[0]}", error="the mode did not start")
    records = build_summary(run_dir, modes)
    assert [bool(r["error"]) for r in records] == [True, False, False]
    want = expected_stats(alone, NOISY[1:])
    for rec in records:  # the errored record too carries its point's stats
        assert rec["repeats"] == 2 and rec["repeats_planned"] == 3
        assert_stats(rec["stats"], want)
        assert rec["noisy"] is False  # 168.89 and 177.38: cv 3.5%


def test_an_expected_failure_is_left_out_and_one_value_has_no_cv(tmp_path, modes, alone):
    run_dir = repeated_run(tmp_path / "run", QUIET[:2])
    edit_json(run_dir / f"rep1-{QUIET[0]}" / "run.json", expect="hang")
    write_outcome(run_dir / f"rep1-{QUIET[0]}", error="ab timed out")
    records = build_summary(run_dir, modes)
    assert records[0]["expected"] == "hang" and records[0]["as_expected"] is True
    for rec in records:
        assert rec["repeats"] == 1 and rec["noisy"] is False
        assert_stats(rec["stats"], expected_stats(alone, QUIET[1:2]))
        assert {rec["stats"][m]["cv"] for m in METRICS} == {None}


def test_records_without_the_new_keys(alone):
    for rec in alone.values():
        assert (rec["repetition"], rec["repeats_planned"], rec["shuffle_seed"]) == (1, None, None)
        assert rec["noisy"] is False
        if rec["error"] or (rec["expected"] and rec["as_expected"]):
            assert rec["repeats"] == 0
            assert rec["stats"]["rps"] == {"median": None, "min": None, "max": None, "cv": None}
            continue
        assert rec["repeats"] == 1
        for metric in METRICS:
            assert rec["stats"][metric] == {"median": rec[metric], "min": rec[metric], "max": rec[metric],
                                            "cv": None}


def test_folders_of_one_point_without_repetition_numbers_are_flagged(tmp_path, modes):
    records = build_summary(repeated_run(tmp_path / "run", QUIET[:2], keys=False), modes)
    assert [r["repetition"] for r in records] == [1, 1]
    assert {r["repeats"] for r in records} == {2}  # both counted in the stats...
    assert all(any("repetition 1 (a copied folder?)" in w for w in r["warnings"]) for r in records)


# -- compare ------------------------------------------------------------------------------------


def write(run_dir: Path, modes) -> list[dict]:
    records = build_summary(run_dir, modes)
    write_summary(model.records(records), run_dir / "summary.json")
    return records


def test_compare_uses_the_medians_and_the_cv_band(tmp_path, modes, alone, capsys):
    results = tmp_path / "results"
    a = write(repeated_run(results / "A", QUIET), modes)
    b = write(repeated_run(results / "B", NOISY), modes)
    cmp = compare.compare_runs(model.records(a), model.records(b), results / "A", results / "B")
    assert cmp.counts()["compared"] == 1 and cmp.counts()["not_comparable"] == 0
    point = cmp.points[0]
    rps = {m.metric: m for m in point.metrics}["rps"]
    assert (rps.a, rps.b) == (174.87, 168.89)  # the medians, not one repetition's figure
    assert rps.band_from == "cv"
    assert rps.band_pct == pytest.approx(200 * b[0]["stats"]["rps"]["cv"])
    assert rps.verdict == compare.NOISE  # -3.4%: inside 2 × 8.2%
    p99 = {m.metric: m for m in point.metrics}["p99_ms"]
    assert (p99.a, p99.b) == (a[0]["stats"]["p99_ms"]["median"], b[0]["stats"]["p99_ms"]["median"])
    assert "A: median of 3 of 3 repetitions" in point.notes
    assert cli_main(["compare", "A", "B", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "1 points compared" in out and f"(±{200 * b[0]['stats']['rps']['cv']:.1f}%)" in out and "(±16.4%)" in out


def test_compare_a_repeated_point_with_errors_still_is_one_point(tmp_path, modes):
    results = tmp_path / "results"
    a = write(repeated_run(results / "A", QUIET), modes)
    run_b = repeated_run(results / "B", QUIET)
    for source in QUIET[:2]:
        write_outcome(run_b / f"rep{QUIET.index(source) + 1}-{source}", error="the mode did not start")
    b = write(run_b, modes)
    cmp = compare.compare_runs(model.records(a), model.records(b), results / "A", results / "B")
    point = cmp.points[0]
    assert point.status == compare.COMPARED
    rps = {m.metric: m for m in point.metrics}["rps"]
    assert (rps.b, rps.band_from) == (177.38, "floor")  # the one run that counted, no spread
    assert "B: median of 1 of 3 repetitions (2 left out: error or expected failure)" in point.notes


# -- report.md ----------------------------------------------------------------------------------


def test_report_has_a_repeats_section(tmp_path, modes, alone):
    run_dir = repeated_run(tmp_path / "run", NOISY)
    shutil.copytree(LOCAL_RUN / "gevent-pywsgi-tuned", run_dir / "gevent-pywsgi-tuned")  # another point, once
    text = render.markdown(model.records(build_summary(run_dir, modes)), "r1")
    assert "## Repeats" in text and render.SINGLE_RUN_LINE not in text
    section = text.split("## Repeats", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| mode | profile | client | c | K | median req/s | min–max req/s | CV % |")
    cv = 100 * expected_stats(alone, NOISY)["rps"]["cv"]
    by_mode = {row.split(" | ")[0][2:]: row for row in rows[1:]}
    assert by_mode["uwsgi-gevent"] == (
        f"| uwsgi-gevent | tuned | ab | 200 | 3 | 168.89 | 150.77–177.38 | {cv:.1f} | "
        f"{fmt.ms(expected_stats(alone, NOISY)['p99_ms']['median'])} | "
        f"{expected_stats(alone, NOISY)['cpu_ms_per_req']['median']:.3f} | noisy |")
    assert by_mode["gevent-pywsgi"] == (
        f"| gevent-pywsgi | tuned | ab | 200 | 1 | 168.89 | 168.89–168.89 | – | "
        f"{fmt.ms(alone['gevent-pywsgi-tuned']['p99_ms'])} | "
        f"{alone['gevent-pywsgi-tuned']['cpu_ms_per_req']:.3f} |  |")
    assert render.REPEATS_TEXT in section
    assert render.REPEATS_TEXT == ("Differences smaller than a point's spread are within noise: "
                                   "do not rank modes on them.")


def test_report_says_when_every_point_ran_once(alone):
    text = render.markdown(model.records(list(alone.values())), "r1")
    assert "## Repeats" not in text
    assert "\nEach point ran once: no noise estimate (repeat=K gives one).\n" in text


def test_report_counts_left_out_repetitions(tmp_path, modes):
    run_dir = repeated_run(tmp_path / "run", QUIET)
    write_outcome(run_dir / f"rep3-{QUIET[2]}", error="the mode did not start")
    text = render.markdown(model.records(build_summary(run_dir, modes)), "r1")
    assert "| uwsgi-gevent | tuned | ab | 200 | 2 of 3 | 171.88 | 168.89–174.87 |" in text
