"""compare's noise: the floors file (benchreport/noise_floors.json, benchreport.noisefloors) and the
Mann-Whitney U test (benchreport.mannwhitney) checked against exact values worked out by hand."""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import pytest

from benchreport import compare, mannwhitney, model, noisefloors

# -- Mann-Whitney -------------------------------------------------------------------------------


def test_midranks_share_tied_ranks():
    assert mannwhitney.midranks([3.0, 1.0, 2.0, 2.0, 2.0, 4.0]) == [5.0, 1.0, 3.0, 3.0, 3.0, 6.0]
    assert mannwhitney.u_statistic([4, 5, 6], [1, 2, 3]) == 9.0 and mannwhitney.u_statistic([1, 2, 3], [4, 5, 6]) == 0


@pytest.mark.parametrize("x, y, greater, p", [
    ([4, 5, 6], [1, 2, 3], True, 1 / 20),     # 3 vs 3 fully separated: 1 of C(6, 3) = 20 orders
    ([1, 2, 3], [4, 5, 6], False, 1 / 20),
    ([1, 2, 3], [4, 5, 6], True, 1.0),        # the other direction: no evidence
    ([5, 6, 7, 8], [1, 2, 3, 4], True, 1 / 70),   # 4 vs 4: 1 of C(8, 4) = 70
    # ties: pooled 1, 2, 2, 2, 3, 4 -> midranks 1, 3, 3, 3, 5, 6; x = 1, 2, 2 has rank sum 7; the 3-subsets
    # with a sum <= 7 are {1, 3, 3} three ways: p = 3/20
    ([1, 2, 2], [2, 3, 4], False, 3 / 20),
    ([4, 5, 6, 7], [1, 2, 3], True, 1 / 35),  # 4 vs 3: C(7, 3) = 35
])
def test_exact_one_sided_p(x, y, greater, p):
    assert mannwhitney.p_value(x, y, greater) == pytest.approx(p, abs=1e-12)


def test_the_exact_p_is_the_share_of_label_permutations():
    """An independent count: every assignment of the labels to the pooled values (itertools.permutations)."""
    x, y = [10.0, 12.0, 12.0, 15.0], [9.0, 12.0, 11.0]
    pooled = x + y
    target = mannwhitney.u_statistic(x, y)
    hits = total = 0
    for order in set(itertools.permutations(range(len(pooled)))):
        xs = [pooled[i] for i in order[:4]]
        ys = [pooled[i] for i in order[4:]]
        total += 1
        hits += mannwhitney.u_statistic(xs, ys) >= target
    assert mannwhitney.p_value(x, y, True) == pytest.approx(hits / total)


def test_the_normal_approximation_beyond_the_bound():
    x = [1.2, 0.4, 2.2, 1.9, 0.8, 1.6, 2.4, 1.1]
    y = [0.1, 0.9, -0.3, 0.5, 1.0, -0.6, 0.7, 0.3]
    exact = mannwhitney.p_value(x, y, True)
    approx = mannwhitney.p_value(x, y, True, exact_limit=0)
    assert exact < 0.01 and approx == pytest.approx(exact, abs=0.005)
    assert mannwhitney.p_value([1.0] * 5, [1.0] * 5, True, exact_limit=0) == 1.0  # all tied: no evidence
    assert mannwhitney.p_value(list(range(20, 40)), list(range(20)), True) < 1e-6  # C(40, 20): approximated
    with pytest.raises(ValueError):
        mannwhitney.p_value([], [1.0], True)


# -- the floors file ----------------------------------------------------------------------------


def test_the_fixed_floors_of_the_tests_load_and_are_provisional():
    floors = noisefloors.load()  # conftest.py's fixed_floors: compare's tests judge against these
    assert floors.provisional is True and floors.source["runs"] == []
    for client in ("ab", "wrk", "rate"):
        assert [floors.floor(client, "rps", n) for n in (400, 5000, 10**6, None)] == [5.0] * 4
        assert floors.floor(client, "p99_ms", 400) == 5.0 and floors.floor(client, "cpu_ms_per_req", 400) == 25.0
    assert "PROVISIONAL" in floors.describe()


def test_the_repositorys_floors_are_measured_and_follow_from_their_points():
    """benchreport/noise_floors.json: measured (runs, date, machine named), and every floor is what the rule
    gives from the points' cvs the file records: a floor edited by hand, or a rule changed without
    measuring again, fails here."""
    data = json.loads(noisefloors.REPOSITORY.read_text())
    floors = noisefloors.parse(data, noisefloors.REPOSITORY)
    assert floors.provisional is False and floors.source["runs"] and floors.source["machine"]
    points = data["measured"]
    assert {p["run"] for p in points} <= set(floors.source["runs"])
    assert all(p["repeats"] >= noisefloors.MIN_REPEATS for p in points)
    assert data["floors"] == noisefloors.floors_from(points)
    assert {p["client"] for p in points} == set(noisefloors.CLIENTS)


def point(client: str, n: int, **cvs: float) -> dict:
    return {"run": "r", "client": client, "mode": "m", "profile": "tuned", "n": n, "c": 1, "rate": None,
            "repeats": 5, "cv": {m: cvs.get(m) for m in model.STATS_METRICS}}


def test_a_floor_is_two_sigmas_of_the_difference_of_two_single_runs():
    assert noisefloors.floor_pct(0.01) == 3.0  # 2 x sqrt(2) x 1% = 2.83%, up to the half percent
    assert noisefloors.floor_pct(0.012) == 3.5  # 3.39%
    assert noisefloors.floor_pct(0.0) == 0.0
    assert noisefloors.floor_pct(0.05 / (2 * math.sqrt(2))) == 5.0  # 5% to a float hair: no half percent more


def test_floors_take_the_noisiest_point_and_carry_to_unmeasured_buckets():
    cvs = {"rps": 0.01, "p99_ms": 0.05, "cpu_ms_per_req": 0.1}
    points = [point(c, 400, **cvs) for c in noisefloors.CLIENTS]
    points.append(point("ab", 400, rps=0.02, p99_ms=0.01, cpu_ms_per_req=None))  # the noisier req/s wins
    points.append(point("wrk", 2000, rps=0.001, p99_ms=0.001, cpu_ms_per_req=0.001))
    table = noisefloors.floors_from(points)
    assert [b["pct"] for b in table["ab"]["rps"]] == [6.0, 6.0, 6.0]  # 2 x sqrt(2) x 2%: carried to longer runs
    assert [b["max_n"] for b in table["ab"]["rps"]] == [1000, 10000, None]
    assert [b["pct"] for b in table["wrk"]["rps"]] == [3.0, 0.5, 0.5]  # its own at n <= 10000, then carried
    assert [b["pct"] for b in table["ab"]["cpu_ms_per_req"]] == [28.5, 28.5, 28.5]
    only_long = noisefloors.floors_from([point(c, 5000, **cvs) for c in noisefloors.CLIENTS])
    assert [b["pct"] for b in only_long["rate"]["p99_ms"]] == [14.5, 14.5, 14.5]  # shorter runs: the nearest longer
    with pytest.raises(noisefloors.FloorsError, match="no repeated rate point measured rps"):
        noisefloors.floors_from([point("ab", 400, **cvs), point("wrk", 400, **cvs)])


def test_measure_reads_the_repeated_points_of_runs(tmp_path):
    def rec(rep: int, repeats: int, **extra) -> dict:
        return {"mode": "m", "profile": "tuned", "client": "ab", "c": 20, "n": 400, "delay": 1, "route": "/",
                "rate": None, "repetition": rep, "repeats": repeats,
                "stats": {"rps": {"cv": 0.01}, "p99_ms": {"cv": 0.04}, "cpu_ms_per_req": {"cv": 0.1}}, **extra}
    run = tmp_path / "20261207T000000Z"
    run.mkdir()
    records = [rec(k, 3) for k in (1, 2, 3)] + [rec(1, 2, c=200)]  # the second point ran twice: left out
    records += [dict(rec(k, 3), client=c, n=1000) for k in (1, 2, 3) for c in ("wrk", "rate")]
    (run / "summary.json").write_text(json.dumps(records))
    data = noisefloors.measure([run], machine="test", date="2026-12-07")
    assert noisefloors.parse(data).provisional is False
    assert [(p["client"], p["c"]) for p in data["measured"]] == [("ab", 20), ("wrk", 20), ("rate", 20)]
    assert data["floors"]["ab"]["p99_ms"][0] == {"max_n": 1000, "pct": 11.5}
    (tmp_path / "empty").mkdir()
    with pytest.raises(noisefloors.FloorsError, match="no readable summary.json"):
        noisefloors.measure([tmp_path / "empty"], machine="test", date="2026-12-07")


def valid() -> dict:
    return json.loads(noisefloors.PATH.read_text())


def test_the_bucket_is_the_first_that_holds_n():
    data = valid()
    data["floors"]["wrk"]["cpu_ms_per_req"] = [{"max_n": 1000, "pct": 30.0}, {"max_n": 10000, "pct": 12.0},
                                               {"max_n": None, "pct": 4.0}]
    floors = noisefloors.parse(data)
    assert [floors.floor("wrk", "cpu_ms_per_req", n) for n in (1, 1000, 1001, 10000, 10001)] == [
        30.0, 30.0, 12.0, 12.0, 4.0]
    assert floors.floor("wrk", "cpu_ms_per_req", None) == 30.0  # no n: the widest
    assert floors.floor(None, "cpu_ms_per_req", 400) == 25.0  # no client: ab's


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(schema=2), "schema 2"),
    (lambda d: d.update(provisional="yes"), "provisional must be true or false"),
    (lambda d: d["source"].pop("how"), "source must hold"),
    (lambda d: d.update(provisional=False), "must name their runs, date and machine"),
    (lambda d: d["floors"].pop("rate"), "exactly the clients"),
    (lambda d: d["floors"]["ab"].pop("rps"), "floors.ab must have exactly the metrics"),
    (lambda d: d["floors"]["ab"]["rps"].pop(), "only the last bucket has max_n null"),
    (lambda d: d["floors"]["ab"]["rps"].reverse(), "only the last bucket"),
    (lambda d: d["floors"]["ab"]["rps"].__setitem__(0, {"max_n": 20000, "pct": 5.0}), "max_n must ascend"),
    (lambda d: d["floors"]["ab"]["rps"][0].update(pct=-1), "not a percentage >= 0"),
    (lambda d: d["floors"]["ab"]["rps"][0].update(max_n=0), "not a whole number >= 1"),
    (lambda d: d["floors"]["ab"]["rps"][0].update(extra=1), "not {\"max_n\", \"pct\"}"),
    (lambda d: d["floors"]["ab"].update(rps=[]), "not a non-empty list"),
])
def test_a_bad_floors_file_is_refused(edit, message):
    data = copy.deepcopy(valid())
    edit(data)
    with pytest.raises(noisefloors.FloorsError, match=".*" + message.replace("(", r"\(").replace(")", r"\)")):
        noisefloors.parse(data)


def test_measured_floors_need_their_source():
    data = valid()
    data.update(provisional=False)
    data["source"].update(runs=["20261201T000000Z"], date="2026-12-01", machine="fb-app 2 vCPU")
    assert noisefloors.parse(data).provisional is False
    assert "PROVISIONAL" not in noisefloors.parse(data).describe()


def test_an_unreadable_floors_file_stops_compare(tmp_path, monkeypatch):
    bad = tmp_path / "noise_floors.json"
    bad.write_text("{")
    with pytest.raises(noisefloors.FloorsError, match="unreadable"):
        noisefloors.load(bad)
    monkeypatch.setattr(noisefloors, "PATH", bad)
    monkeypatch.setattr(noisefloors.load, "__defaults__", (bad,))
    rec = {"mode": "m", "profile": "p", "client": "ab", "n": 10, "c": 1, "delay": 1, "rps": 1.0}
    with pytest.raises(compare.CompareError, match="unreadable"):
        compare.compare_runs(model.records([rec]), model.records([rec]), Path("a"), Path("b"))
    assert compare.compare_runs(model.records([rec]), model.records([rec]), Path("a"), Path("b"), noise_pct=5.0).counts()["compared"] == 1
    assert math.isfinite(compare.compare_runs(model.records([rec]), model.records([rec]), Path("a"), Path("b"), noise_pct=5.0).noise_pct)
