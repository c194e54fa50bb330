"""`python -m benchreport compare RUN_A RUN_B` (benchreport.compare) on recorded runs.

Run A is tests/data/benchreport/local-run's real summary (six gevent modes, ab,
n=2000 c=200 delay 1) as benchreport.summary builds it; run B is the same
records with some figures changed, so each test states the change it makes
and the verdict it expects. Single runs give no verdict (it needs repeats):
the tests of regressions give every record a small cv (steady: as if each
point ran twice) so that the floor, not the cv, sets the band.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchreport import compare, model
from benchreport.__main__ import main as cli_main
from benchreport.summary import build_summary
from benchrun import ROOT

LOCAL_RUN = ROOT / "tests" / "data" / "benchreport" / "local-run"
MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"
RUN_A, RUN_B = "20261201T000000Z", "20261202T000000Z"
#: the point the tests change: uwsgi-gevent tuned, 177.38 req/s, p99 1147.967 ms, 0.705 CPU ms/req
TARGET = ("uwsgi-gevent", "tuned")


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return build_summary(LOCAL_RUN, load_modes(MODES_FILE))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"


def write_run(results: Path, run_id: str, records: list[dict]) -> Path:
    run = results / run_id
    run.mkdir(parents=True, exist_ok=True)
    (run / "summary.json").write_text(json.dumps(records, indent=2) + "\n")
    return run


#: the floors line of a comparison with benchreport/noise_floors.json's provisional figures
FILE_FLOORS = ("floors req/s 5%, p99 ms 5%, CPU ms/req 25% by client, metric and run length "
               "(benchreport/noise_floors.json, PROVISIONAL: placeholders, not measured yet)")


def steady(records: list[dict], cv: float = 0.01) -> list[dict]:
    """Every record as if its point ran twice with this small a cv: the floor sets the band, a verdict is given."""
    records = copy.deepcopy(records)
    for rec in records:
        rec["stats"] = {m: {"cv": cv} for m in ("rps", "p99_ms", "cpu_ms_per_req")}
        rec["repeats"] = 2
    return records


def setting(base: list[dict], target: tuple[str, str] = TARGET, **values) -> list[dict]:
    """A copy of the records with the target's keys set to these values."""
    records = copy.deepcopy(base)
    next(r for r in records if (r["mode"], r["profile"]) == target).update(values)
    return records


def changed(base: list[dict], target: tuple[str, str] = TARGET, **changes) -> list[dict]:
    """A copy of the records; the target's figures multiplied (rps=0.8...) or its keys set (failed=3...)."""
    records = copy.deepcopy(base)
    rec = next(r for r in records if (r["mode"], r["profile"]) == target)
    for key, x in changes.items():
        if key in ("rps", "p99_ms", "cpu_ms_per_req") and isinstance(x, float):
            rec[key] = round(rec[key] * x, 3)
        else:
            rec[key] = x
    return records


def run(results: Path, capsys, *args: str) -> tuple[int, str, str]:
    code = cli_main(["compare", *args, "--results", str(results)])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(results: Path, capsys, *args: str) -> tuple[int, dict]:
    code, out, err = run(results, capsys, *args, "--json")
    assert err == ""
    return code, json.loads(out)


def target_point(result: dict, target: tuple[str, str] = TARGET) -> dict:
    return next(p for p in result["points"] if (p["point"]["mode"], p["point"]["profile"]) == target)


def table_row(out: str, target: tuple[str, str] = TARGET) -> str:
    """The table's line of the target point."""
    return next(line for line in out.splitlines() if tuple(line.split()[:2]) == target)


def last_line(out: str) -> str:
    return out.rstrip("\n").splitlines()[-1]


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


# -- verdicts -----------------------------------------------------------------------------------


def test_the_same_run_is_within_noise_and_exits_0(results, base, capsys):
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, base)
    code, out, err = run(results, capsys, RUN_A, RUN_B)
    assert (code, err) == (0, "")
    assert f"no noise estimate (single runs): {FILE_FLOORS}; a verdict needs repeats (repeat=K)" in out
    assert last_line(out).startswith("6 points compared: 0 regressed, 0 improved (0 mixed, 0 slower, 0 faster, "
                                     "6 within noise)")


def test_a_clear_regression_exits_1_and_says_slower(results, base, capsys):
    write_run(results, RUN_A, steady(base))
    write_run(results, RUN_B, steady(changed(base, rps=0.8)))  # 177.38 -> 141.904 req/s: -20%
    before = tree(results)
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 1 and tree(results) == before  # compare writes nothing
    row = table_row(out)
    assert "177.38→141.90" in row and "-20.0% slower" in row and row.endswith("regressed")
    assert "- uwsgi-gevent/tuned/ab c=200 n=2000 delay=1 /: regressed: req/s -20.0%" in out
    assert last_line(out).startswith("6 points compared: 1 regressed, 0 improved")
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, result["exit"], point["verdict"]) == (1, 1, "regressed")
    assert point["metrics"]["rps"] == {"a": 177.38, "b": 141.904, "change_pct": -20.0, "band_pct": 5.0,
                                       "band_from": "floor", "verdict": "slower", "regressed": True,
                                       "improved": False, "test": "band", "floor_pct": 5.0, "p_value": None,
                                       "a_bound": None, "b_bound": None}
    assert point["point"] == {"mode": "uwsgi-gevent", "profile": "tuned", "client": "ab", "c": 200, "n": 2000,
                              "delay": 1, "route": "/"}


@pytest.mark.parametrize("metric", ["p99_ms", "cpu_ms_per_req"])
def test_a_rise_of_p99_or_cpu_per_request_is_a_regression(results, base, capsys, metric):
    write_run(results, RUN_A, steady(base))
    write_run(results, RUN_B, steady(changed(base, **{metric: 1.25})))
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--noise", "5")  # CPU's file floor is 25%
    m = target_point(result)["metrics"][metric]
    assert (code, m["verdict"], m["regressed"], target_point(result)["verdict"]) == (1, "slower", True, "regressed")
    assert m["change_pct"] == pytest.approx(25.0, abs=0.1)  # figures rounded to 3 decimals


def test_cpu_per_request_within_its_resolution_is_no_change(results, base, capsys):
    """0.705 -> 0.881 ms/request (+25%) is a regression of exact figures, but not of figures each good to
    ±0.1 ms (a few clock ticks over the run's requests): 0.176 apart is within 0.2; 0.15 each is not."""
    write_run(results, RUN_A, steady(setting(base, cpu_ms_per_req_resolution=0.1)))
    write_run(results, RUN_B, steady(setting(changed(base, cpu_ms_per_req=1.25), cpu_ms_per_req_resolution=0.1)))
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--noise", "5")
    m = target_point(result)["metrics"]["cpu_ms_per_req"]
    assert (code, m["verdict"], m["regressed"], m["test"]) == (0, "within noise", False, "within resolution ±0.2")
    write_run(results, RUN_B, steady(setting(changed(base, cpu_ms_per_req=1.25), cpu_ms_per_req_resolution=0.07)))
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--noise", "5")
    m = target_point(result)["metrics"]["cpu_ms_per_req"]
    assert (code, m["verdict"], m["regressed"]) == (1, "slower", True)  # 0.176 > 0.1 + 0.07


def test_a_change_within_the_noise_floor_is_not_flagged(results, base, capsys):
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, changed(base, rps=0.97, p99_ms=1.04, cpu_ms_per_req=0.96))
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0
    row = table_row(out)
    assert "-3.0% within noise" in row and "+4.0% within noise" in row and row.endswith("within noise")


def test_beyond_the_noise_but_within_the_threshold_is_slower_not_a_regression(results, base, capsys):
    write_run(results, RUN_A, steady(base))
    write_run(results, RUN_B, steady(changed(base, rps=0.9)))  # exactly -10%: the threshold is "more than 10%"
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, point["verdict"], point["metrics"]["rps"]["verdict"]) == (0, "slower", "slower")
    assert point["metrics"]["rps"]["change_pct"] == -10.0
    assert result["counts"]["slower"] == 1 and result["counts"]["regressed"] == 0
    # a tighter threshold makes it one; "5%" is read as 5
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--threshold", "5%")
    assert (code, target_point(result)["verdict"], result["threshold_pct"]) == (1, "regressed", 5.0)
    # a wider noise floor swallows it
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, changed(base, rps=0.9))
    code, out, _ = run(results, capsys, RUN_A, RUN_B, "--noise", "12")
    assert code == 0 and "no noise estimate (single runs): floor 12% (--noise)" in out
    assert "6 within noise" in last_line(out)


def test_an_improvement(results, base, capsys):
    write_run(results, RUN_A, steady(base))
    write_run(results, RUN_B, steady(changed(base, rps=1.2, p99_ms=0.7)))
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0
    row = table_row(out)
    assert "+20.0% faster" in row and "-30.0% faster" in row and row.endswith("improved")
    assert last_line(out).startswith("6 points compared: 0 regressed, 1 improved")


def test_faster_and_slower_within_the_threshold_is_mixed(results, base, capsys):
    write_run(results, RUN_A, steady(base))
    write_run(results, RUN_B, steady(changed(base, rps=1.2, cpu_ms_per_req=1.08)))
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--noise", "5")  # CPU's file floor is 25%
    assert (code, target_point(result)["verdict"]) == (0, "mixed")
    write_run(results, RUN_B, steady(changed(base, rps=1.2, cpu_ms_per_req=1.2)))  # a regression wins
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--noise", "5")
    assert (code, target_point(result)["verdict"]) == (1, "regressed")


def test_failed_requests_appearing_regress_and_going_away_improves(results, base, capsys):
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, changed(base, failed=3))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, point["verdict"], point["failed"]) == (1, "regressed", {"a": 0, "b": 3})
    assert point["reasons"] == ["failed requests 0 -> 3"]
    assert all(m["verdict"] == "within noise" for m in point["metrics"].values())
    code, out, _ = run(results, capsys, RUN_B, RUN_A)
    assert code == 0 and "improved: failed requests 3 -> 0" in out


# -- noise from the runs' own repeats -----------------------------------------------------------


def with_cv(records: list[dict], cv: float, target: tuple[str, str] = TARGET, **extra) -> list[dict]:
    """The target record with the repeat feature's keys: stats.<metric>.cv for every metric."""
    records = copy.deepcopy(records)
    rec = next(r for r in records if (r["mode"], r["profile"]) == target)
    rec["stats"] = {m: {"cv": cv, **extra.get(m, {})} for m in ("rps", "p99_ms", "cpu_ms_per_req")}
    rec["repeats"] = extra.get("repeats", 5)
    return records


def test_cvs_in_both_runs_set_the_band(results, base, capsys):
    # cv 8% in B, 3% in A: band 2 × 8 = 16%, so -12% req/s is noise (the floor would call it a regression)
    write_run(results, RUN_A, with_cv(base, 0.03))
    write_run(results, RUN_B, with_cv(changed(base, rps=0.88), 0.08))
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0
    row = table_row(out)
    assert "-12.0% within noise (±16.0%)" in row
    assert ("noise band: max(floor, 2 × the larger of the two runs' cv) where both records carry one (shown as "
            f"±% when the cv sets it), else the {FILE_FLOORS} and a verdict needs repeats") in out
    point = target_point(run_json(results, capsys, RUN_A, RUN_B)[1])
    assert (point["metrics"]["rps"]["band_pct"], point["metrics"]["rps"]["band_from"]) == (16.0, "cv")
    # beyond 16% it is a regression
    write_run(results, RUN_B, with_cv(changed(base, rps=0.8), 0.08))
    assert run(results, capsys, RUN_A, RUN_B)[0] == 1


def test_a_small_cv_makes_a_small_change_count(results, base, capsys):
    every = [(r["mode"], r["profile"]) for r in base]
    a, b = copy.deepcopy(base), changed(base, rps=0.97)  # -3%: noise for the floor, not for a 1% cv
    for target in every:
        a, b = with_cv(a, 0.01, target), with_cv(b, 0.01, target)
    write_run(results, RUN_A, a)
    write_run(results, RUN_B, b)
    code, out, _ = run(results, capsys, RUN_A, RUN_B, "--noise", "1")  # the floor is under the cvs' 2%
    assert code == 0
    assert ("noise band: max(floor, 2 × the larger of the two runs' cv) (shown as ±% when the cv sets it), "
            "floor 1% (--noise)") in out
    assert "-3.0% slower (±2.0%)" in out and "1 slower" in last_line(out)
    # with the file's 5% floor the same 2% cvs leave -3% within noise: a small cv never narrows the floor
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0 and "-3.0% within noise" in table_row(out) and "6 within noise" in last_line(out)


def test_a_cv_in_one_run_only_or_from_one_repeat_falls_back_to_the_floor(results, base, capsys):
    """...and a side that ran once gives no verdict: -12% is slower, but needs repeats (exit 0)."""
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, with_cv(changed(base, rps=0.88), 0.08))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    rps = target_point(result)["metrics"]["rps"]
    assert (code, rps["band_from"], rps["verdict"], rps["test"], rps["regressed"]) == (
        0, "floor", "slower", "needs repeats", False)
    write_run(results, RUN_A, with_cv(base, 0.08, repeats=1))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    rps = target_point(result)["metrics"]["rps"]
    assert (code, rps["band_from"], rps["test"]) == (0, "floor", "needs repeats")


def test_the_repeats_median_is_compared(results, base, capsys):
    write_run(results, RUN_A, with_cv(base, 0.02, rps={"median": 100.0}))
    write_run(results, RUN_B, with_cv(base, 0.02, rps={"median": 80.0}))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    rps = target_point(result)["metrics"]["rps"]
    assert (code, rps["a"], rps["b"], rps["change_pct"]) == (1, 100.0, 80.0, -20.0)


def test_noise_band_rule():
    rec = {"stats": {"rps": {"cv": 0.05}}}
    assert compare.noise_band(model.Record.from_dict(rec), model.Record.from_dict({"stats": {"rps": {"cv": 0.02}}}), "rps", 5.0) == (10.0, "cv")
    assert compare.noise_band(model.Record.from_dict(rec), model.Record.from_dict({}), "rps", 5.0) == (5.0, "floor")
    assert compare.noise_band(model.Record.from_dict(rec), model.Record.from_dict({"stats": {"rps": {"cv": -1}}}), "rps", 7.0) == (7.0, "floor")
    assert compare.noise_band(model.Record.from_dict(rec), model.Record.from_dict({"stats": {"rps": {"cv": "x"}}}), "rps", 7.0) == (7.0, "floor")
    assert compare.change_pct(100, 90) == -10.0 and compare.change_pct(0, 0) == 0.0
    assert compare.change_pct(0, 1) is None and compare.change_pct(None, 1) is None


# -- points not compared ------------------------------------------------------------------------


def test_a_point_in_one_run_only_is_listed_not_an_error(results, base, capsys):
    b = [r for r in base if (r["mode"], r["profile"]) != TARGET]
    extra = copy.deepcopy(b[0])
    extra["c"] = 400  # another point: c is part of it
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, [*b, extra])
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0
    assert "Only in A:\n- uwsgi-gevent/tuned/ab c=200 n=2000 delay=1 /\n" in out
    assert "Only in B:\n- gevent-pywsgi/seed/ab c=400 n=2000 delay=1 /\n" in out
    assert last_line(out) == ("5 points compared: 0 regressed, 0 improved (0 mixed, 0 slower, 0 faster, "
                              "5 within noise); 0 not comparable, 1 only in A, 1 only in B")


def test_error_and_expected_records_are_not_compared(results, base, capsys):
    a = changed(base, ("gunicorn-gevent", "seed"), expected="hang", as_expected=True,
                error="ab timed out: nothing answered within 40 s")
    b = changed(base, rps=0.5, error="the mode did not start")
    write_run(results, RUN_A, a)
    write_run(results, RUN_B, b)
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0  # the halved req/s of an errored run is no regression: the bench's exit 3 says so
    assert "- uwsgi-gevent/tuned/ab c=200 n=2000 delay=1 /: B: error: the mode did not start" in out
    assert "- gunicorn-gevent/seed/ab c=200 n=2000 delay=1 /: A: expected failure (hang)\n" in out
    assert "4 points compared" in last_line(out) and "2 not comparable" in last_line(out)
    write_run(results, RUN_A, changed(base, ("gunicorn-gevent", "seed"), expected="hang", as_expected=False))
    assert "A: expected to hang but succeeded" in run(results, capsys, RUN_A, RUN_B)[1]
    table = out.split("\n\n")[1]
    assert [tuple(line.split()[:2]) for line in table.splitlines()[2:]] == [
        ("gevent-pywsgi", "seed"), ("gevent-pywsgi", "tuned"), ("uwsgi-gevent", "seed"), ("gunicorn-gevent", "tuned")]


def test_unnamed_and_duplicate_records_are_not_compared(results, base, capsys):
    unnamed = {**copy.deepcopy(base[0]), "mode": None, "profile": None, "raw_dir": "stray"}
    write_run(results, RUN_A, [*base, unnamed])
    write_run(results, RUN_B, [*base, copy.deepcopy(base[0])])
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    reasons = [p["reasons"] for p in result["points"] if p["status"] == "not comparable"]
    assert code == 0
    assert reasons == [["B: 2 records for this point"], ["A: stray/ has no run.json: its point is unknown"]]


def test_repetitions_of_a_point_are_one_point(results, base, capsys):
    # repeat=K: three records of the target, each its own repetition, all with the point's stats
    def repeats(records: list[dict], median: float, numbered: bool) -> list[dict]:
        out = with_cv(records, 0.02, rps={"median": median}, repeats=3)
        rec = next(r for r in out if (r["mode"], r["profile"]) == TARGET)
        # the repetitions' own req/s around the median: what the Mann-Whitney test ranks (3 vs 3: p = 0.05)
        copies = [{**copy.deepcopy(rec), "rps": median + d} for d in (-1.0, 0.0, 1.0)]
        for k, c in enumerate(copies, start=1):
            if numbered:
                c["repetition"] = k
            else:
                c.pop("repetition", None)
        return [r for r in out if r is not rec] + copies
    for numbered in (True, False):
        write_run(results, RUN_A, repeats(base, 100.0, numbered))
        write_run(results, RUN_B, repeats(base, 80.0, numbered))
        code, result = run_json(results, capsys, RUN_A, RUN_B)
        point = target_point(result)
        assert (code, point["status"], point["verdict"]) == (1, "compared", "regressed")
        assert (point["metrics"]["rps"]["a"], point["metrics"]["rps"]["b"]) == (100.0, 80.0)
        assert point["metrics"]["rps"]["band_from"] == "floor"  # 2 × 2% is under the floor's 5%
        assert point["metrics"]["rps"]["test"] == "band+mann-whitney p=0.05"
        assert "A: median of 3 of 3 repetitions" in point["notes"]
        assert result["counts"]["not_comparable"] == 0


def test_duplicates_without_repeats_are_not_compared(results, base, capsys):
    # the same point twice: no repeat keys at all, or both the same repetition (a copied folder)
    dup = copy.deepcopy(base[0])
    for strip in (True, False):
        recs = [copy.deepcopy(r) for r in (*base, dup)]
        if strip:
            for r in recs:
                for key in ("repetition", "repeats", "repeats_planned", "stats", "noisy"):
                    r.pop(key, None)
        write_run(results, RUN_A, base)
        write_run(results, RUN_B, recs)
        code, result = run_json(results, capsys, RUN_A, RUN_B)
        reasons = [p["reasons"] for p in result["points"] if p["status"] == "not comparable"]
        assert (code, reasons) == (0, [["B: 2 records for this point"]])


def test_points_match_across_number_forms_and_a_missing_client(results, base, capsys):
    b = copy.deepcopy(base)
    for rec in b:
        rec["delay"], rec["client"] = 1.0, None
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, b)
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    assert (code, result["counts"]["compared"]) == (0, 6)


# -- runs that cannot be compared: exit 2, nothing written --------------------------------------


@pytest.mark.parametrize("case", ["missing", "no-summary", "bad-summary", "nothing-in-common"])
def test_exit_2_with_one_line_and_nothing_written(results, base, capsys, case):
    write_run(results, RUN_A, base)
    other = [{**r, "n": 10000} for r in base] if case == "nothing-in-common" else base
    if case != "missing":
        write_run(results, RUN_B, other)
    if case == "no-summary":
        (results / RUN_B / "summary.json").unlink()
    if case == "bad-summary":
        (results / RUN_B / "summary.json").write_text('{"not": "a list"}')
    before = tree(results)
    code, out, err = run(results, capsys, RUN_A, RUN_B)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("benchreport compare: ")
    assert {"missing": "not found", "no-summary": "has no summary.json", "bad-summary": "not a bench summary",
            "nothing-in-common": "no point in common"}[case] in err
    assert tree(results) == before


def test_bad_options_are_usage_errors(results, base, capsys):
    write_run(results, RUN_A, base)
    with pytest.raises(SystemExit) as exc:
        cli_main(["compare", RUN_A, RUN_A, "--threshold", "-3", "--results", str(results)])
    assert exc.value.code == 2 and "not a percentage >= 0" in capsys.readouterr().err


# -- naming runs --------------------------------------------------------------------------------


def test_runs_by_id_under_results_by_latest_and_by_path(results, base, capsys, tmp_path, monkeypatch):
    a = write_run(results, RUN_A, steady(base))
    b = write_run(results, RUN_B, steady(changed(base, rps=0.8)))
    (results / "latest").symlink_to(RUN_B)
    code, out, _ = run(results, capsys, RUN_A, "latest")
    assert code == 1 and out.startswith(f"Compare A {RUN_A} ({a}) -> B {RUN_B} ({b})\n")
    code, result = run_json(results, capsys, str(a), str(results / "latest"))
    assert (code, result["run_a"]["id"], result["run_b"]["id"]) == (1, RUN_A, RUN_B)
    monkeypatch.chdir(tmp_path)  # a relative path; a bare name not under --results is looked for here too
    code, _, err = run(tmp_path / "elsewhere", capsys, f"results/{RUN_A}", RUN_B)
    assert code == 2
    assert err == (f"benchreport compare: run '{RUN_B}' not found (no folder {tmp_path / 'elsewhere' / RUN_B} "
                   f"or {RUN_B})\n")
    os.symlink(b, tmp_path / "b-run")
    code, _, err = run(tmp_path / "elsewhere", capsys, f"results/{RUN_A}", "b-run")
    assert (code, err) == (1, "")


def test_the_module_runs_compare_and_still_runs_a_report(results, base, tmp_path):
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, base)
    proc = subprocess.run([sys.executable, "-m", "benchreport", "compare", RUN_A, RUN_B, "--results",
                           str(results)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert last_line(proc.stdout).startswith("6 points compared")
    proc = subprocess.run([sys.executable, "-m", "benchreport", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "run_dir" in proc.stdout and "compare RUN_A RUN_B" in proc.stdout
    assert cli_main([str(tmp_path / "nope")]) == 1  # RUN_DIR's own exit status, unchanged


def test_a_rate_runs_rate_is_part_of_its_point() -> None:
    """Two constant-rate runs that happen to share n and c (other durations) are not one point."""
    rec = {"mode": "uwsgi-gevent", "profile": "tuned", "client": "rate", "c": 4000, "n": 8000, "delay": 1,
           "route": "/"}
    at_800, at_1000 = {**rec, "rate": 800.0}, {**rec, "rate": 1000}
    assert model.point_key(model.Record.from_dict(at_800)) != model.point_key(model.Record.from_dict(at_1000))
    assert compare.point_dict(model.point_key(model.Record.from_dict(at_1000)))["rate"] == 1000
    # a point of another client keeps its JSON as it was: no rate key
    assert "rate" not in compare.point_dict(model.point_key(model.Record.from_dict({**rec, "client": "wrk"})))


# -- one run a side, failed shares, bounds, the band's edge, the significance test (issue 20) -----


def test_one_run_a_side_is_reported_but_needs_repeats(results, base, capsys):
    """Single runs: a change beyond the floor is "slower (needs repeats)", the point slower, exit 0 (no CI
    failure on one run's noise). The issue's case: CPU ms/request 1.875 -> 2.375 (+26.7%) between two runs
    of the same code."""
    write_run(results, RUN_A, setting(base, cpu_ms_per_req=1.875))
    write_run(results, RUN_B, setting(changed(base, rps=0.8), cpu_ms_per_req=2.375))
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert code == 0
    row = table_row(out)
    assert "-20.0% slower (needs repeats)" in row and "+26.7% slower (needs repeats)" in row
    assert row.endswith("slower")
    assert ("needs repeats: req/s -20.0%, CPU ms/req +26.7% beyond the floor, but a side ran once (no spread to "
            "judge by): run the point with repeat=K (3 or more) for a verdict") in out
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, result["exit"], point["verdict"], result["counts"]["regressed"]) == (0, 0, "slower", 0)
    cpu = point["metrics"]["cpu_ms_per_req"]
    assert (cpu["verdict"], cpu["test"], cpu["floor_pct"], cpu["band_pct"], cpu["regressed"]) == (
        "slower", "needs repeats", 25.0, 25.0, False)
    # repeated (a cv on both sides), the same changes regress
    write_run(results, RUN_A, steady(setting(base, cpu_ms_per_req=1.875)))
    write_run(results, RUN_B, steady(setting(changed(base, rps=0.8), cpu_ms_per_req=2.375)))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, point["verdict"], point["reasons"]) == (1, "regressed", ["req/s -20.0%", "CPU ms/req +26.7%"])
    # failed requests are not noise: they regress single runs too
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, changed(base, failed=3))
    assert run(results, capsys, RUN_A, RUN_B)[0] == 1


def test_more_failed_requests_is_never_improved(results, base, capsys):
    """failed 10 -> 500 with p99 down 25%: the old rule (failures count only from 0) called it improved."""
    write_run(results, RUN_A, steady(changed(base, failed=10)))
    write_run(results, RUN_B, steady(changed(base, failed=500, p99_ms=0.75)))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, point["verdict"]) == (1, "regressed")
    assert point["reasons"] == ["failed share 0.50% -> 20.00% (+19.50 points; failed 10 -> 500)"]
    assert point["failed_share_pct"] == {"a": round(100 * 10 / 2010, 4), "b": 20.0}
    assert result["failed_share_threshold_pp"] == 0.1
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert "10→500 (0.50%→20.00%)" in table_row(out)
    # the other way round (p99 unchanged): improved, for that reason
    write_run(results, RUN_A, steady(changed(base, failed=500)))
    write_run(results, RUN_B, steady(changed(base, failed=10)))
    point = target_point(run_json(results, capsys, RUN_A, RUN_B)[1])
    assert (point["verdict"], point["reasons"]) == (
        "improved", ["failed share 20.00% -> 0.50% (-19.50 points; failed 500 -> 10)"])


def test_a_failed_share_rising_within_its_threshold_blocks_an_improvement(results, base, capsys):
    """2 -> 3 failed of 2000 (+0.05 points): no regression, but req/s +20% is no longer "improved"."""
    write_run(results, RUN_A, steady(changed(base, failed=2)))
    write_run(results, RUN_B, steady(changed(base, failed=3, rps=1.2)))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    point = target_point(result)
    assert (code, point["verdict"], point["reasons"]) == (0, "mixed", ["req/s +20.0%"])
    assert ("failed share rose 0.10% -> 0.15% (within 0.1 points: not a regression, never an improvement)"
            in point["notes"])
    # the share's edge: exactly +0.1 points is within, just above is not (2000 answered: 0.1% is 2 of 2002)
    write_run(results, RUN_A, steady(changed(base, failed=0, complete=1000)))
    write_run(results, RUN_B, steady(changed(base, failed=1, complete=999)))  # 0 -> 0.1%: from 0, regressed
    assert run_json(results, capsys, RUN_A, RUN_B)[0] == 1
    assert compare.failed_change(compare.PointResult({}, compare.COMPARED, failed_a=1, failed_b=2,
                                                     failed_share_a=0.1, failed_share_b=0.2))[0] == []
    assert compare.failed_change(compare.PointResult({}, compare.COMPARED, failed_a=1, failed_b=2,
                                                     failed_share_a=0.1, failed_share_b=0.2001))[0] == [
        "failed share 0.10% -> 0.20% (+0.10 points; failed 1 -> 2)"]


def test_a_p99_without_its_failed_requests_is_a_lower_bound(results, base, capsys):
    """B's p99 leaves failed requests out (p99_lower_bound): its -30% is undecided, not faster; marked ≥."""
    write_run(results, RUN_A, steady(base))
    write_run(results, RUN_B, steady(changed(base, p99_ms=0.7, p99_lower_bound=True)))
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    row = table_row(out)
    assert code == 0 and "1148→≥804" in row and "-30.0% undecided (B ≥)" in row
    assert "p99 in B is a lower bound (≥): failed requests are not in it" in out
    point = target_point(run_json(results, capsys, RUN_A, RUN_B)[1])
    p99 = point["metrics"]["p99_ms"]
    assert (p99["verdict"], p99["improved"], p99["b_bound"]) == ("undecided", False, "lower")
    assert p99["test"] == "bounds: B's p99 is a lower bound (failed requests are not in it)"
    assert point["verdict"] != "improved"
    # a rise stays a rise: the true p99 is even higher
    write_run(results, RUN_B, steady(changed(base, p99_ms=1.25, p99_lower_bound=True)))
    point = target_point(run_json(results, capsys, RUN_A, RUN_B)[1])
    assert (point["verdict"], point["metrics"]["p99_ms"]["verdict"]) == ("regressed", "slower")
    # both bounds on one side: no bound either way
    write_run(results, RUN_B, steady(changed(base, p99_lower_bound=True, p99_upper_bound=True)))
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert "1148→≶1148" in table_row(out) and "+0.0% undecided (B ≶)" in table_row(out)


@pytest.mark.parametrize("b, cv, verdict", [
    (95.0, None, "within noise"),     # -5%: exactly at the 5% floor
    (94.99, None, "slower"),          # -5.01%
    (90.0, 0.05, "within noise"),     # -10%: exactly at 2 × 5%
    (89.99, 0.05, "slower"),
])
def test_the_noise_bands_edge_is_within_noise(b, cv, verdict):
    stats = {"repeats": 2, "stats": {"rps": {"cv": cv if cv is not None else 0.001}}}
    change = compare.compare_metric(compare.METRICS[0], model.Record.from_dict({"rps": 100.0, **stats}), model.Record.from_dict({"rps": b, **stats}), 5.0, 10.0)
    assert change.verdict == verdict
    assert change.band_pct == (10.0 if cv else 5.0)


def test_repetitions_out_of_the_band_but_not_significant_are_within_noise(results, base, capsys):
    """Medians 100 -> 85 (-15%), but B's repetitions 80, 85, 100.5 against A's 99, 100, 101: one-sided
    Mann-Whitney p = 4/20 = 0.2 > 0.05, so within noise; the test is named."""
    def run_of(median: float, reps: tuple[float, ...]) -> list[dict]:
        out = with_cv(base, 0.01, rps={"median": median}, repeats=3)
        rec = next(r for r in out if (r["mode"], r["profile"]) == TARGET)
        copies = [{**copy.deepcopy(rec), "rps": v, "repetition": k} for k, v in enumerate(reps, start=1)]
        return [r for r in out if r is not rec] + copies
    write_run(results, RUN_A, run_of(100.0, (99.0, 100.0, 101.0)))
    write_run(results, RUN_B, run_of(85.0, (80.0, 85.0, 100.5)))
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    rps = target_point(result)["metrics"]["rps"]
    assert (code, rps["change_pct"], rps["verdict"], rps["test"], rps["p_value"]) == (
        0, -15.0, "within noise", "band+mann-whitney p=0.2", 0.2)
    code, out, _ = run(results, capsys, RUN_A, RUN_B)
    assert "-15.0% within noise (p=0.2)" in table_row(out)


def test_the_floors_file_is_named_and_provisional(results, base, capsys):
    write_run(results, RUN_A, base)
    write_run(results, RUN_B, base)
    code, result = run_json(results, capsys, RUN_A, RUN_B)
    floors = result["noise_floors"]
    assert floors["provisional"] is True and floors["file"].endswith("benchreport/noise_floors.json")
    assert "PROVISIONAL" in result["noise"]
    code, result = run_json(results, capsys, RUN_A, RUN_B, "--noise", "7")
    assert result["noise_floors"] is None and result["noise_floor_pct"] == 7.0
    assert {m["floor_pct"] for p in result["points"] if p["status"] == "compared" for m in p["metrics"].values()} \
        == {7.0}


def test_the_help_says_how_a_verdict_is_given(capsys):
    with pytest.raises(SystemExit):
        cli_main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "slower (needs repeats)" in text and "Whitney p" in text and "noise_floors.json" in text
    assert "0.1 percentage points" in text
