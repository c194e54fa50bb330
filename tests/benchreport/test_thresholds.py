"""benchreport.thresholds: a thresholds file read and checked (each bad input's message), held against a bench's
points, and judged on recorded runs: the medians over repetitions (tests/data/benchreport/wrk-sweep, three
repetitions a point), the knees of a rate sweep (rate-sweep) and of a rate=auto search, the figures not measured.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

import pytest
import yaml

from benchapp.modes import load_modes
from benchreport import thresholds as th
from benchreport.model import Record, stat
from benchreport.summary import build_records
from benchrun import DATA


def parse(text: str, name: str = "t.yml") -> list[th.Threshold]:
    return th.parse(yaml.safe_load(text), name)


@pytest.fixture(scope="module")
def sweep() -> list[Record]:
    return build_records(DATA / "wrk-sweep", load_modes())


@pytest.fixture(scope="module")
def rates() -> list[Record]:
    return build_records(DATA / "rate-sweep", load_modes())


@pytest.fixture(scope="module")
def sample() -> list[Record]:
    return build_records(DATA / "run-sample", load_modes())


# -- reading a file ----------------------------------------------------------------------------------------

METRICS = "rps, pct_of_ideal, failed, p50_ms, p99_ms, max_ms, cpu_ms_per_req, peak_rss_mib, knee_rps"
BAD = [
    ("- p99 < 1500", f"t.yml: entry 1 ('p99 < 1500'): unknown metric 'p99'; valid: {METRICS}"),
    ("- p99_ms => 1500", "t.yml: entry 1 ('p99_ms => 1500'): unknown operator '=>'; valid: < <= > >= == !="),
    ("- p99_ms = 1500", "t.yml: entry 1 ('p99_ms = 1500'): unknown operator '='; valid: < <= > >= == !="),
    ("- p99_ms < fast", "t.yml: entry 1 ('p99_ms < fast'): 'fast' is not a number: a threshold compares p99_ms "
                        "with a number, not a string"),
    ("- 'p99_ms < \"1500\"'", "t.yml: entry 1 ('p99_ms < \"1500\"'): '\"1500\"' is not a number: a threshold "
                              "compares p99_ms with a number, not a string"),
    ("- rps > nan", "t.yml: entry 1 ('rps > nan'): 'nan' is not a number"),
    ("- p99_ms 1500", "t.yml: entry 1 ('p99_ms 1500'): 'p99_ms 1500' is not METRIC OP NUMBER (for example: "
                      "p99_ms < 1500)"),
    ("- p99_ms <", "t.yml: entry 1 ('p99_ms <'): 'p99_ms <' compares p99_ms with nothing: give a number"),
    ("- {mode: uwsgi}", "t.yml: entry 1 ({'mode': 'uwsgi'}): no check: {check: \"METRIC OP NUMBER\"} (mode, "
                        "profile, client, route only select points)"),
    ("- {check: rps > 1, where: x}", "t.yml: entry 1 ('rps > 1'): unknown key where; allowed: check, mode, profile, "
                                     "client, route"),
    ("- {check: 5}", "t.yml: entry 1 ({'check': 5}): check: 5 is not a string \"METRIC OP NUMBER\" (quote it in YAML)"),
    ("- {mode: [], check: rps > 1}", "t.yml: entry 1 ('rps > 1'): mode: [] is not a name or a list of names"),
    ("- {route: {a: 1}, check: rps > 1}", "t.yml: entry 1 ('rps > 1'): route: {'a': 1} is not a name or a list"),
    ("- 42", "t.yml: entry 1 (42): 42 is neither a check (\"METRIC OP NUMBER\") nor a mapping with one"),
    ("p99_ms: 1500", "t.yml: not a YAML list of thresholds but a dict"),
    ("", "t.yml: lists no threshold"),
    ("[]", "t.yml: lists no threshold"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[b[0] or "empty" for b in BAD])
def test_a_bad_file_names_the_file_the_entry_and_what_is_wrong(text, message):
    with pytest.raises(th.ThresholdsError) as err:
        parse(text)
    assert str(err.value).startswith(message), str(err.value)


def test_every_bad_entry_is_named_a_line_each():
    with pytest.raises(th.ThresholdsError) as err:
        parse("- p99_ms < 1500\n- p99 < 1\n- failed == 0\n- {check: rps >> 1}\n")
    assert [m.split(":")[1] for m in err.value.messages] == [" entry 2 ('p99 < 1')", " entry 4 ('rps >> 1')"]


def test_a_file_that_is_not_yaml_or_not_there(tmp_path):
    bad = tmp_path / "t.yml"
    bad.write_text("- [p99_ms < 1\n")
    with pytest.raises(th.ThresholdsError, match=rf"^{bad}: not YAML: "):
        th.load(bad)
    with pytest.raises(th.ThresholdsError, match=rf"^{tmp_path / 'none.yml'}: cannot be read \(No such file"):
        th.load(tmp_path / "none.yml")


def test_a_good_file():
    found = parse("# all, then narrowed\n- p99_ms < 1500\n- failed==0\n"
                  "- {mode: [uwsgi-gevent, granian], route: /, check: 'pct_of_ideal >= 80.5'}\n"
                  "- {profile: tuned, client: rate, check: knee_rps >= 1e3}\n- rps != -2\n")
    assert [(t.entry, t.metric, t.op, t.value) for t in found] == [
        (1, "p99_ms", "<", 1500.0), (2, "failed", "==", 0.0), (3, "pct_of_ideal", ">=", 80.5),
        (4, "knee_rps", ">=", 1000.0), (5, "rps", "!=", -2.0)]
    assert [str(t) for t in found] == ["p99_ms < 1500", "failed == 0",
                                       "pct_of_ideal >= 80.5 (mode uwsgi-gevent, granian; route /)",
                                       "knee_rps >= 1e3 (profile tuned; client rate)", "rps != -2"]
    assert found[2].matches({"mode": "granian", "route": "/"}) and not found[2].matches({"mode": "uwsgi", "route": "/"})
    assert [found[4].passes(x) for x in (-2.0, 3.0)] == [False, True]


# -- against a bench's points -------------------------------------------------------------------------------

def planned(mode: str = "uwsgi", client: str = "wrk", route: str = "/", delay: float | None = 1.0,
            app: bool = False, profile: str = "tuned") -> th.Planned:
    return th.Planned.of({"mode": mode, "profile": profile, "client": client, "route": route, "delay": delay,
                          "rate": 50.0 if client == "rate" else None, "app": {"name": "shop"} if app else None})


def scope_errors(text: str, points: list[th.Planned]) -> list[str]:
    with pytest.raises(th.ThresholdsError) as err:
        th.check_scope(parse(text), points, "t.yml")
    return err.value.messages


def test_selectors_must_name_what_the_plan_benches():
    points = [planned("uwsgi"), planned("gunicorn"), planned("psycopg2", route="/db")]
    assert scope_errors("- {mode: granian, check: rps > 1}\n- {route: /grpc, profile: seed, check: rps > 1}\n"
                        "- {client: ab, check: rps > 1}", points) == [
        "t.yml: entry 1 ('rps > 1'): mode granian is not in the plan (its modes: uwsgi, gunicorn, psycopg2)",
        "t.yml: entry 2 ('rps > 1'): profile seed is not in the plan (its profiles: tuned); route /grpc is not in "
        "the plan (its routes: /, /db)",
        "t.yml: entry 3 ('rps > 1'): client ab is not in the plan (its clients: wrk)"]
    assert scope_errors("- {mode: psycopg2, route: /, check: rps > 1}", points) == [
        "t.yml: entry 1 ('rps > 1'): mode psycopg2; route / selects no point of the plan"]
    th.check_scope(parse("- {mode: [uwsgi, psycopg2], check: rps > 1}\n- {route: /db, check: p99_ms < 1}"), points,
                   "t.yml")


def test_a_metric_its_points_do_not_measure():
    assert scope_errors("- knee_rps >= 800", [planned(client="wrk"), planned(client="ab")]) == [
        "t.yml: entry 1 ('knee_rps >= 800'): knee_rps: only client=rate measures a knee (a rate sweep, or rate=auto);"
        " its points' client: wrk, ab"]
    th.check_scope(parse("- knee_rps >= 800"), [planned(client="rate")], "t.yml")
    ideal = ("t.yml: entry 1 ('pct_of_ideal >= 80'): pct_of_ideal: none of its points has an ideal to measure "
             "against (c / delay, or a rate): your own app calls no slow API of ours, and delay 0 gives none")
    assert scope_errors("- pct_of_ideal >= 80", [planned(app=True, delay=None, route="order")]) == [ideal]
    assert scope_errors("- pct_of_ideal >= 80", [planned(delay=0)]) == [ideal]
    # a rate's ideal is the rate, your app's too
    th.check_scope(parse("- pct_of_ideal >= 80"), [planned(client="rate", app=True, delay=None)], "t.yml")


# -- judged on recorded runs ------------------------------------------------------------------------------

def results(checked: th.Checked) -> list[tuple[str, str, str]]:
    return [(r.status, r.point, r.measured) for r in checked.results]


def test_the_medians_over_repetitions(sweep):
    """Each point's median of its three repetitions: summary.json's stats median where it keeps one (p99), the same
    rule where it does not (pct_of_ideal), never one repetition's own figure."""
    checked = th.judge(parse("- p99_ms < 1500\n- {mode: uwsgi-gevent, check: pct_of_ideal >= 90}"), sweep, "t.yml")
    assert results(checked) == [
        ("failed", "uwsgi-gevent/tuned wrk c=1000", "1715 ms, the median of 3"),
        ("passed", "uwsgi-gevent/tuned wrk c=200", "1143 ms, the median of 3"),
        ("failed", "granian/tuned wrk c=1000", "19238 ms, the median of 3"),
        ("passed", "granian/tuned wrk c=200", "1250 ms, the median of 3"),
        ("failed", "uwsgi-gevent/tuned wrk c=1000", "83.0%, the median of 3"),
        ("passed", "uwsgi-gevent/tuned wrk c=200", "95.7%, the median of 3")]
    c1000 = [r for r in sweep if r.mode == "uwsgi-gevent" and r.c == 1000]
    p99s, pcts = [r.p99_ms for r in c1000], [r.pct_of_ideal for r in c1000]
    assert checked.results[0].value == stat(c1000[0], "p99_ms", "median") == statistics.median(p99s)
    assert checked.results[4].value == pytest.approx(statistics.median(pcts), abs=0.001)
    assert len(set(p99s)) == 3 and len(set(pcts)) == 3  # so a first or last repetition would differ
    assert checked.results[0].runs == tuple(f"uwsgi-gevent-tuned-wrk-c1000-r{k}" for k in (1, 2, 3))
    assert checked.head() == "3 of 6 failed"


def test_failed_is_the_most_of_any_repetition(sweep):
    """Two clean repetitions do not vote away one that failed requests."""
    records = [dataclasses.replace(r, failed=7) if r.raw_dir == "granian-tuned-wrk-c200-r2" else r for r in sweep]
    checked = th.judge(parse("- {mode: granian, check: failed == 0}"), records, "t.yml")
    assert results(checked) == [("passed", "granian/tuned wrk c=1000", "0 failed, the most of 3"),
                                ("failed", "granian/tuned wrk c=200", "7 failed, the most of 3")]
    assert checked.failed_lines() == ["failed == 0 at granian/tuned wrk c=200: 7 failed, the most of 3"]


def test_the_knee_of_each_rate_sweep(rates):
    """uwsgi-gevent's knee is 100 req/s, granian's 50 (the fixture's README); a rate run twice is its median."""
    checked = th.judge(parse("- knee_rps >= 100\n- {mode: uwsgi-gevent, check: p99_ms <= 1500}"), rates, "t.yml")
    assert results(checked) == [
        ("passed", "uwsgi-gevent/tuned knee", "100 req/s"), ("failed", "granian/tuned knee", "50 req/s"),
        ("passed", "uwsgi-gevent/tuned rate=50", "1016 ms"),
        ("passed", "uwsgi-gevent/tuned rate=100", "1195 ms, the median of 2"),
        ("failed", "uwsgi-gevent/tuned rate=150", "2085 ms")]
    assert [r.value for r in checked.results[:2]] == [100.0, 50.0]
    twice = [r.p99_ms for r in rates if r.mode == "uwsgi-gevent" and r.rate == 100]
    assert len(twice) == 2 and checked.results[3].value == pytest.approx(statistics.median(twice), abs=0.001)


SEARCH = {"group": "m-tuned-auto", "start": 100, "precision": 0.1, "budget_ms": 150, "steps": 12, "headroom": 3,
          "max_rate": 1500}


def step(k: int, rate: float, p99: float, failed: int = 0, repetition: int = 1, mode: str = "m") -> Record:
    return Record(mode=mode, profile="tuned", client="rate", rate=rate, delay=0.1, route="/", p99_ms=p99,
                  failed=failed, repetition=repetition, search={**SEARCH, "step": k}, rps=rate, n=int(rate), c=10,
                  raw_dir=f"{mode}-tuned-auto-s{k}")


def test_a_rate_auto_search_is_judged_at_its_knee():
    """Its steps are the search's probes: one point per search, at its knee's rate (300, run twice: the median)."""
    recs = [step(1, 100, 102), step(2, 200, 104), step(3, 400, 900), step(4, 300, 140), step(5, 300, 145, repetition=2),
            step(6, 350, 400, failed=3), step(1, 100, 400, mode="n")]
    checked = th.judge(parse("- p99_ms < 143\n- knee_rps >= 300"), recs, "t.yml")
    assert results(checked) == [
        ("passed", "m/tuned rate=auto, at its knee", "142 ms, the median of 2"),
        ("failed", "n/tuned rate=auto, at its knee", "not measured: no knee: p99 400 ms > 150 ms at 100 req/s"),
        ("passed", "m/tuned knee", "300 req/s"),
        ("failed", "n/tuned knee", "not measured: no rate kept the budget (p99 400 ms > 150 ms at 100 req/s)")]
    assert checked.results[0].runs == ("m-tuned-auto-s4", "m-tuned-auto-s5") and checked.results[0].value == 142.5


def test_a_figure_not_measured_fails(sample):
    """A point whose run had an error, and a threshold whose points never ran (an interrupted bench)."""
    checked = th.judge(parse("- {mode: gunicorn, check: p99_ms < 1500}\n- {mode: granian, check: rps > 1}"), sample,
                       "t.yml")
    assert results(checked) == [
        ("passed", "gunicorn/seed ab c=2", "1.7 ms"),
        ("failed", "gunicorn/tuned ab c=2", "not measured: error: no byte received from the server: all 20 requests "
                                            "failed (Connect 0, Receive 20, Exceptions 10)"),
        ("failed", "mode granian", "not measured: none of its points ran")]
    [split] = th.judge(parse("- p50_ms < 1"), [Record(mode="u", profile="tuned", client="wrk", c=2, p50_ms=None,
                                                       p99_ms=3.0, p99_upper_bound=True)], "t.yml").results
    assert (split.status, split.measured) == ("failed", "not measured")


def test_an_expected_failure_is_skipped():
    hang = Record(mode="grpc-gevent-noinit", profile="tuned", client="ab", c=10, error="timeout", expected="hang",
                  as_expected=True)
    ok = Record(mode="uwsgi", profile="tuned", client="ab", c=10, p99_ms=1010.0)
    checked = th.judge(parse("- p99_ms < 1500"), [hang, ok], "t.yml")
    assert [(r.status, r.point) for r in checked.results] == [("skipped", "grpc-gevent-noinit/tuned ab c=10"),
                                                              ("passed", "uwsgi/tuned ab c=10")]
    assert checked.results[0].measured == "skipped: expected failure (hang): not measured by design"
    assert checked.head() == "all 1 passed, 1 skipped" and not checked.failed


def test_a_user_apps_route_names_its_point():
    app = {"name": "shop", "budget_ms": 200}
    recs = [Record(mode="uwsgi", profile="tuned", client="wrk", c=10, route=route, p99_ms=p99, app=app)
            for route, p99 in (("catalog", 50.0), ("order", 250.0))]
    checked = th.judge(parse("- p99_ms < 200\n- {route: catalog, check: p99_ms < 40}"), recs, "t.yml")
    assert [r.line for r in checked.results] == [
        "p99_ms < 200 at uwsgi/tuned wrk c=10 route catalog: 50.0 ms",
        "p99_ms < 200 at uwsgi/tuned wrk c=10 route order: 250 ms",
        "p99_ms < 40 at uwsgi/tuned wrk c=10 route catalog: 50.0 ms"]
    assert [r.status for r in checked.results] == ["passed", "failed", "failed"]


def test_a_file_that_does_not_read_is_judged_failed(tmp_path, sweep):
    bad = tmp_path / "thresholds.yml"
    bad.write_text("- p99 < 1\n")
    checked = th.judge_file(bad, sweep, "thresholds.yml")
    assert checked.failed and checked.results == []
    assert checked.failed_lines() == [f"not judged: {bad}: entry 1 ('p99 < 1'): unknown metric 'p99'; valid: {METRICS}"]
