"""The bench's run plan (flaskbench.plan), in process: every refusal, the points, the rounds, the estimate,
the split over the load hosts.

Parameters are given as bench.yml's `-e name=value` gives them (strings); the mode table is the one the
roles see (the lookup flaskbench_modes), the settings the role's defaults. tests/ansible/test_bench_params.py
keeps a few of these cases end to end, through ansible-playbook.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import randomize_list

from benchrun import ROOT
from flaskbench import filters as FILTER
from flaskbench import plan as planner
from flaskbench.plan import Params, PlanError, Settings
from plans import MODES, ONE_HOST, params, plan_for, role_settings


def refusal(*given: str, **kwargs: Any) -> str:
    with pytest.raises(PlanError) as err:
        plan_for(*given, **kwargs)
    return str(err.value)


def points(plan: planner.Plan) -> list[tuple[str, int, int]]:
    return [(r["name"], r["n"], r["c"]) for r in plan.runs]


# --- refusals: each names the parameter and its value ------------------------------------------

# Moved from tests/ansible/test_bench_params.py (there through ansible-playbook), with the same messages.
BAD = [
    (["mode=nope"], "mode=nope: unknown mode nope; valid modes: all, gevent, devserver"),
    (["mode=uwsgi,nope"], "unknown mode nope"),
    (["mode="], "mode=: unknown mode (none given)"),
    (["mode=uwsgi", "profile=fast"], "profile=fast: must be seed, tuned or both"),
    (["mode=uwsgi", "n=abc"], "n=abc: must be a whole number"),
    (["mode=uwsgi", "c=-5"], "c=-5: must be a whole number"),
    (["mode=uwsgi", "c=0"], "c=0: must be 1 or more"),
    (["mode=uwsgi", "n=5", "c=10"], "n=5 is less than c=10"),
    (["mode=devserver", "n=10,5", "c=5,10"], "n=5 is less than c=10"),  # any combination
    (["mode=uwsgi", "c=50,abc"], "c=50,abc: must be a whole number of requests (1 or more), or a comma list"),
    (["mode=uwsgi", "c=50,"], "c=50,: must be a whole number of requests (1 or more), or a comma list of them (an empty item"),
    (["mode=uwsgi", "n=1,,2"], "n=1,,2: must be a whole number"),
    (["mode=uwsgi", "delay=1,x"], "delay=1,x: must be a number of seconds (0 or more), or a comma list"),
    (["mode=uwsgi", "delay=0.5,-1"], "delay=0.5,-1: must be a number of seconds"),
    (["mode=uwsgi,gunicorn", "profile=both", "c=50,200,1000", "repeat=5", "max_minutes=30"],
     "the plan's 60 runs would take about 56 min, more than max_minutes=30"),
    (["mode=uwsgi,gunicorn", "c=50", "max_minutes=1"], "more than max_minutes=1: run fewer points or repeats, or raise it (-e max_minutes=N)"),
    (["mode=uwsgi", "max_minutes=0"], "max_minutes=0: must be a number of minutes above 0"),
    (["mode=uwsgi", "c=30000", "n=30000"], "c=30000: ab accepts at most 20000"),
    (["mode=uwsgi", "delay=-1"], "delay=-1: must be a number of seconds (0 or more)"),
    (["mode=uwsgi", "delay=nan"], "delay=nan:"),
    (["mode=uwsgi", "delay=inf"], "delay=inf:"),
    (["mode=uwsgi", "delay=1e9"], "delay=1e9:"),
    (["mode=uwsgi", "delay=abc"], "delay=abc:"),
    (["mode=uwsgi", "time_limit=0"], "time_limit=0: must be a whole number of seconds"),
    (["mode=uwsgi", "time_limit=5m"], "time_limit=5m:"),
    (["mode=uwsgi", "monitor=maybe"], "monitor=maybe: must be true or false"),
    (["mode=uwsgi", "client=wrk2"], "client=wrk2: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "client="], "client=: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "client=ab,wrk"], "client=ab,wrk: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "client=WRK"], "client=WRK: must be ab, wrk, both or rate"),
    (["mode=uwsgi", "repeat=0"], "repeat=0: must be a whole number of runs per point (1 or more)"),
    (["mode=uwsgi", "repeat=-1"], "repeat=-1: must be a whole number of runs per point"),
    (["mode=uwsgi", "repeat=1.5"], "repeat=1.5: must be a whole number of runs per point"),
    (["mode=uwsgi", "repeat=two"], "repeat=two: must be a whole number of runs per point"),
    (["mode=uwsgi", "seed=x1"], "seed=x1: must be a whole number"),
    (["mode=uwsgi", "client=rate"], "client=rate: needs rate=R, the requests per second to schedule"),
    (["mode=uwsgi", "client=rate", "rate=0"], "rate=0: must be a number of requests per second above 0"),
    (["mode=uwsgi", "client=rate", "rate=-5"], "rate=-5: must be a number of requests per second above 0"),
    (["mode=uwsgi", "client=rate", "rate=fast"], "rate=fast: must be a number of requests per second above 0"),
    (["mode=uwsgi", "client=rate", "rate=100,,200"], "rate=100,,200: must be a number of requests per second above 0, or a comma list of them (an empty item"),
    (["mode=uwsgi", "client=rate", "rate=100", "duration=0"], "duration=0: must be a number of seconds above 0"),
    (["mode=uwsgi", "client=rate", "rate=100", "duration=ten"], "duration=ten: must be a number of seconds above 0"),
    (["mode=uwsgi", "client=rate", "rate=100", "c=50"], "c=50: client=rate takes rate and duration instead"),
    (["mode=uwsgi", "client=rate", "rate=100", "n=500"], "n=500: client=rate takes rate and duration instead"),
    (["mode=uwsgi", "rate=100"], "rate=100: only client=rate sends at a rate (-e client=rate)"),
    (["mode=uwsgi", "client=wrk", "duration=5"], "duration=5: only client=rate sends at a rate"),
    (["mode=uwsgi", "client=rate", "rate=5000"],
     "rate=5000.0 (uwsgi-tuned-rate5000): 5000.0 req/s per load host, more than one load host schedules (bench_rate_max_per_host=1500"),
]


@pytest.mark.parametrize("given,expected", BAD, ids=[" ".join(p) for p, _ in BAD])
def test_a_bad_parameter_is_refused_naming_it(given: list[str], expected: str) -> None:
    message = refusal(*given)
    assert expected in message
    assert "  " not in message and not message.startswith(" ")  # one line of words, as the role printed it


# Whole messages, word for word, as the role's asserts printed them.
WHOLE = [
    (["mode=nope,uwsgi,nope,other"],
     "mode=nope,uwsgi,nope,other: unknown mode nope, other; valid modes: all, gevent, " + ", ".join(MODES)),
    (["mode=uwsgi", "rate=100", "duration=5"], "rate=100: only client=rate sends at a rate (-e client=rate)"),
    (["mode=uwsgi", "client=rate"],
     "client=rate: needs rate=R, the requests per second to schedule (or a comma list of them)"),
    (["mode=uwsgi", "client=rate", "rate=100", "c=50", "n=5"],
     "n=5: client=rate takes rate and duration instead (it sends rate x duration requests, each on a connection"
     " of its own when it is due)"),
    (["mode=uwsgi", "client=rate", "rate=100,,200"],
     "rate=100,,200: must be a number of requests per second above 0, or a comma list of them (an empty item is"
     " not one)"),
    (["mode=uwsgi", "client=rate", "rate=100", "duration=-1"], "duration=-1: must be a number of seconds above 0"),
    (["mode=uwsgi", "n=abc", "c=1,x"],  # both wrong: both named, one line each
     "n=abc: must be a whole number of requests (1 or more)\n"
     "c=1,x: must be a whole number of requests (1 or more), or a comma list of them (an empty item is not one)"),
    (["mode=uwsgi", "delay=1,,2"],
     "delay=1,,2: must be a number of seconds (0 or more), or a comma list of them (an empty item is not one)"),
    (["mode=uwsgi", "time_limit= 5m"], "time_limit= 5m: must be a whole number of seconds (1 or more)"),
    (["mode=uwsgi", "max_minutes=1.", "c=10"], "max_minutes=1.: must be a number of minutes above 0"),
    (["mode=uwsgi", "monitor= true"], "monitor= true: must be true or false"),  # monitor is not trimmed
    (["mode=uwsgi", "profile= seed"], "profile= seed: must be seed, tuned or both"),  # nor is profile
    (["mode=uwsgi", "repeat=2", "seed=-7"],
     "seed=-7: must be a whole number (the run order's shuffle seed), or left out for a random one"),
    (["mode=devserver,uwsgi", "n=100", "c=50,200"],  # every point refused, each once
     "n=100 is less than c=200 (mode devserver): n must be at least c\n"
     "n=100 is less than c=200 (mode uwsgi): n must be at least c"),
    (["mode=uwsgi", "c=0,30000", "n=40000", "repeat=3"],
     "c=0: must be 1 or more\nc=30000: ab accepts at most 20000"),
    (["mode=uwsgi,gunicorn", "profile=both", "c=50,200,1000", "repeat=5", "max_minutes=30"],
     "the plan's 60 runs would take about 56 min, more than max_minutes=30: run fewer points or repeats, or"
     " raise it (-e max_minutes=N)"),
]


@pytest.mark.parametrize("given,expected", WHOLE, ids=[" ".join(p) for p, _ in WHOLE])
def test_the_refusal_reads_word_for_word(given: list[str], expected: str) -> None:
    assert refusal(*given) == expected


def test_the_first_bad_parameter_in_the_roles_order_is_the_one_named() -> None:
    """mode, profile, client, rate/n/c, n and c, delay, time_limit, max_minutes, monitor, repeat and seed."""
    order = ["mode=nope", "profile=fast", "client=wrk2", "rate=5", "n=x", "delay=x", "time_limit=x",
             "max_minutes=x", "monitor=x", "repeat=x"]
    for i, bad in enumerate(order):
        later = order[i:]
        assert refusal(*later, *(["mode=uwsgi"] if i else [])).startswith(bad + ":"), later


def test_a_rate_no_load_host_can_schedule_alone_is_refused() -> None:
    assert refusal("mode=uwsgi", "client=rate", "rate=5000") == (
        "rate=5000.0 (uwsgi-tuned-rate5000): 5000.0 req/s per load host, more than one load host schedules"
        " (bench_rate_max_per_host=1500: benchhost.clients.rate spends about 0.3 ms of CPU per request): use a lower rate,"
        " a shorter delay or more hosts in the loadgen group (1 now)")
    # four hosts share it: 1250 each
    assert len(plan_for("mode=uwsgi", "client=rate", "rate=5000", loadgens=("l1", "l2", "l3", "l4")).runs) == 1


def test_a_rate_needing_too_many_connections_per_host_is_refused() -> None:
    """rate x (3 x delay + 1 s) connections: 1400 x 16 = 22400 on one host, more than 20000."""
    assert refusal("mode=uwsgi", "client=rate", "rate=1400", "delay=5") == (
        "rate=1400.0 (uwsgi-tuned-rate1400): up to 22400 open connections per load host (rate x (3 x delay + 1 s)),"
        " more than bench_rate_max_connections=20000: use a lower rate, a shorter delay or more hosts in the"
        " loadgen group (1 now)")
    assert plan_for("mode=uwsgi", "client=rate", "rate=1400", "delay=5", loadgens=("l1", "l2")).runs[0]["c"] == 22400


def test_fewer_connections_than_load_hosts_is_refused() -> None:
    hosts = ("fake-loadgen0", "fake-loadgen1", "fake-loadgen2")
    assert refusal("mode=uwsgi", "n=20", "c=2", loadgens=hosts) == (
        "c=2 (uwsgi-tuned): fewer connections than the 3 load hosts (fake-loadgen0, fake-loadgen1, fake-loadgen2),"
        " which split every run's c between them: use c of 3 or more, or fewer hosts in the loadgen group")


def test_the_control_port_may_not_be_a_modes_port() -> None:
    ports = sorted({m["port"] for m in MODES.values()})
    for port in ("3000", 3000, "80", "70000"):
        assert refusal("mode=uwsgi", "n=20", "c=10", settings=role_settings(control_port=port)) == (
            f"bench_control_port={port}: the runners' control port must be 1024 to 65535 and not a mode's port"
            f" ({', '.join(map(str, ports))})")
    assert plan_for("mode=uwsgi", "n=20", "c=10", settings=role_settings(control_port="8100")).runs


@pytest.mark.parametrize("missing", ["loadgen", "app"])
def test_an_inventory_without_a_load_host_or_an_app_host_is_refused(missing: str) -> None:
    hosts = {"loadgens": () if missing == "loadgen" else ("fake-loadgen",),
             "apps": () if missing == "app" else ("fake-app",)}
    found = {"loadgen": "[]" if missing == "loadgen" else "['fake-loadgen']",
             "app": "[]" if missing == "app" else "['fake-app']"}
    assert refusal("mode=uwsgi", **hosts) == (
        "the inventory needs a host in group loadgen (runs ab and wrk) and one in group app (serves the modes);"
        f" found loadgen={found['loadgen']}, app={found['app']}")


def test_values_from_yaml_or_json_plan_as_their_strings_do() -> None:
    """molecule's and the drills' plays pass numbers and booleans (n: 20, monitor: true, seed: 7)."""
    typed = Params(mode="uwsgi-gevent,uwsgi", n=20, c=5, delay=0.5, time_limit=60, monitor=True, client="wrk",
                   repeat=2, seed=7, max_minutes=30)
    typed_plan = planner.plan(typed, role_settings(), MODES, list(ONE_HOST), ["fake-app"])
    text_plan = plan_for("mode=uwsgi-gevent,uwsgi", "n=20", "c=5", "delay=0.5", "time_limit=60", "monitor=true",
                         "client=wrk", "repeat=2", "seed=7", "max_minutes=30")
    assert typed_plan == text_plan
    assert {r["mode"]: r["monitor"] for r in typed_plan.runs} == {"uwsgi-gevent": True, "uwsgi": False}  # gevent only


# --- the points -------------------------------------------------------------------------------


@pytest.mark.parametrize("client,names", [
    ("both", ["uwsgi-seed", "uwsgi-seed-wrk", "gunicorn-seed", "gunicorn-seed-wrk"]),
    ("wrk", ["uwsgi-seed-wrk", "gunicorn-seed-wrk"]),
    ("ab", ["uwsgi-seed", "gunicorn-seed"]),
])
def test_client_plans_one_run_per_mode_profile_and_client(client: str, names: list[str]) -> None:
    """client=both runs ab then wrk on each mode and profile; wrk's folder ends in -wrk."""
    runs = plan_for("mode=uwsgi,gunicorn", "profile=seed", "n=20", "c=10", f"client={client}").runs
    assert [r["name"] for r in runs] == names
    assert [r["client"] for r in runs] == [("wrk" if name.endswith("-wrk") else "ab") for name in names]


def test_a_rate_sweep_plans_a_run_per_rate_with_room_for_its_connections() -> None:
    """client=rate: n = rate x duration; c, the connection cap, rate x (3 x delay + 1 s) (bench_rate_headroom)."""
    plan = plan_for("mode=uwsgi-gevent", "client=rate", "rate=50,200.5", "duration=4", "delay=0.5")
    assert points(plan) == [("uwsgi-gevent-tuned-rate50", 200, 125), ("uwsgi-gevent-tuned-rate200.5", 802, 502)]
    assert [(r["rate"], r["duration"], r["delay"]) for r in plan.runs] == [(50.0, 4.0, 0.5), (200.5, 4.0, 0.5)]


def test_a_rate_run_lasts_the_default_duration_and_names_its_delays_in_a_sweep() -> None:
    plan = plan_for("mode=uwsgi-gevent", "client=rate", "rate=100", "delay=0.5,1")
    assert points(plan) == [("uwsgi-gevent-tuned-rate100-d0.5", 1000, 250), ("uwsgi-gevent-tuned-rate100-d1.0", 1000, 400)]
    assert {r["duration"] for r in plan.runs} == {10.0}  # bench_rate_duration
    # n rounds half to even (Jinja's round), at least 1; c at least a connection per load host
    assert points(plan_for("mode=uwsgi", "client=rate", "rate=0.25", "duration=2")) == [("uwsgi-tuned-rate0.25", 1, 1)]
    assert points(plan_for("mode=uwsgi", "client=rate", "rate=1.25", "duration=2")) == [("uwsgi-tuned-rate1.25", 2, 5)]
    assert points(plan_for("mode=uwsgi", "client=rate", "rate=.1", "duration=1",
                           loadgens=("a", "b", "c", "d", "e"))) == [("uwsgi-tuned-rate.1", 1, 5)]


def test_a_mode_expected_to_hang_gets_short_limits() -> None:
    """The table's expected failure (gRPC without init_gevent) is bounded tighter than the rest."""
    runs = plan_for("mode=grpc-gevent-noinit,uwsgi", "profile=tuned", "n=20", "c=10", "time_limit=120").runs
    assert [(r["name"], r["time_limit"], r["timeout"], r["expect"]) for r in runs] == [
        ("grpc-gevent-noinit-tuned", 30, 10, "hang"), ("uwsgi-tuned", 120, 90, None)]
    assert [r["time_limit"] for r in plan_for("mode=grpc-gevent-noinit", "time_limit=20").runs] == [20]


def test_a_sweep_plans_every_combination_and_sizes_n() -> None:
    """c and delay as lists: a point each; n left out is 50 x c for ab (its ceiling then 98% of ideal), 10 x c for wrk."""
    assert points(plan_for("mode=uwsgi-gevent", "c=50,200", "delay=0.5,1", "client=both")) == [
        ("uwsgi-gevent-tuned-c50-d0.5", 2500, 50), ("uwsgi-gevent-tuned-c50-d1.0", 2500, 50),
        ("uwsgi-gevent-tuned-c200-d0.5", 10000, 200), ("uwsgi-gevent-tuned-c200-d1.0", 10000, 200),
        ("uwsgi-gevent-tuned-wrk-c50-d0.5", 500, 50), ("uwsgi-gevent-tuned-wrk-c50-d1.0", 500, 50),
        ("uwsgi-gevent-tuned-wrk-c200-d0.5", 2000, 200), ("uwsgi-gevent-tuned-wrk-c200-d1.0", 2000, 200)]


def test_a_sweep_of_n_names_its_points_by_n() -> None:
    assert points(plan_for("mode=uwsgi", "n=100,400", "c=20,50")) == [
        ("uwsgi-tuned-c20-n100", 100, 20), ("uwsgi-tuned-c20-n400", 400, 20),
        ("uwsgi-tuned-c50-n100", 100, 50), ("uwsgi-tuned-c50-n400", 400, 50)]
    # one value is no sweep: the name stays the point's; items are trimmed
    assert points(plan_for("mode=uwsgi", "n= 100 ", "c= 20 , 50")) == [("uwsgi-tuned-c20", 100, 20),
                                                                       ("uwsgi-tuned-c50", 100, 50)]


def test_mode_gevent_selects_the_gevent_modes_expected_to_work() -> None:
    table = yaml.safe_load((ROOT / "app" / "benchapp" / "modes.yml").read_text())["modes"]
    wanted = [name for name, m in table.items()
              if m.get("patch", "none") != "none" and not m.get("expect") and m["route"] != "/db"]
    names = [name for name, _, _ in points(plan_for("mode=gevent", "n=20", "c=10"))]
    assert names == [f"{name}-tuned" for name in wanted]
    assert "uwsgi-gevent-tuned" in names
    assert [r["mode"] for r in plan_for("mode= all ", "n=20", "c=10").runs] == list(MODES)


def test_without_c_the_tables_flags_stay_and_a_given_c_sizes_n() -> None:
    assert points(plan_for("mode=devserver,uwsgi", "profile=seed")) == [("devserver-seed", 10, 5), ("uwsgi-seed", 2000, 200)]
    assert points(plan_for("mode=devserver", "profile=seed", "c=20")) == [("devserver-seed", 1000, 20)]
    assert [r["delay"] for r in plan_for("mode=devserver").runs] == [MODES["devserver"]["bench"]["delay"]]


def test_every_run_carries_what_its_runner_needs() -> None:
    run = plan_for("mode=uwsgi-gevent", "profile=seed", "n=20", "c=10", "delay=0.25", "route=/x", "monitor=yes",
                   "seed=3").runs[0]
    m = MODES["uwsgi-gevent"]
    assert run == {
        "mode": "uwsgi-gevent", "profile": "seed", "route": "/x", "port": m["port"], "monitor": True, "expect": None,
        "schema": 2, "time_limit": 300, "timeout": 90, "unit": m["unit"], "client": "ab", "name": "uwsgi-gevent-seed",
        "n": 20, "c": 10, "delay": 0.25, "repetition": 1, "repeats": 1, "seed": 3,
        "parts": [{"host": "fake-loadgen", "c": 10, "n": 20}], "loadgens": ["fake-loadgen"]}
    assert plan_for("mode=uwsgi").runs[0]["route"] == MODES["uwsgi"]["route"]


# --- repeats in shuffled rounds -----------------------------------------------------------------


def test_repeat_runs_every_point_k_times_each_round_shuffled_by_the_seed() -> None:
    given = ["mode=uwsgi,gunicorn,uwsgi-gevent", "profile=both", "n=20", "c=10", "repeat=3"]
    first = [r["name"] for r in plan_for(*given, "seed=7").runs]
    again = [r["name"] for r in plan_for(*given, "seed=7").runs]
    other = [r["name"] for r in plan_for(*given, "seed=8").runs]
    names = sorted(f"{m}-{p}" for m in ("uwsgi", "gunicorn", "uwsgi-gevent") for p in ("seed", "tuned"))
    assert len(first) == 18
    rounds = [first[i * 6:(i + 1) * 6] for i in range(3)]
    for k, round_names in enumerate(rounds, start=1):
        assert all(name.endswith(f"-r{k}") for name in round_names), round_names
        assert sorted(name[: -len(f"-r{k}")] for name in round_names) == names  # every point once a round
    assert len({tuple(n.rsplit("-r", 1)[0] for n in round_names) for round_names in rounds}) > 1  # orders differ
    assert first == again  # the seed replays the order
    assert first != other


def test_a_round_is_ordered_as_ansibles_shuffle_ordered_it() -> None:
    """The role shuffled with `shuffle(seed=<seed>-<k>)`: a seed recorded before this module replays the same order."""
    given = ["mode=uwsgi,gunicorn,uwsgi-gevent,waitress", "profile=both", "client=both", "n=20", "c=10", "repeat=4"]
    one = [r["name"] for r in plan_for(*given[:-1]).runs]
    for seed in (0, 7, 2147483646):
        runs = plan_for(*given, f"seed={seed}").runs
        for k in range(1, 5):
            expected = randomize_list(one, seed=f"{seed}-{k}")
            assert [r["name"] for r in runs if r["repetition"] == k] == [f"{name}-r{k}" for name in expected]


def test_one_run_per_point_keeps_its_name_and_records_the_seed() -> None:
    drawn = plan_for("mode=uwsgi", "n=20", "c=10", drawn=4242)
    assert [r["name"] for r in drawn.runs] == ["uwsgi-tuned"]  # no -r1: one run per point is named as before
    assert drawn.seed == 4242 and [(r["seed"], r["repetition"], r["repeats"]) for r in drawn.runs] == [(4242, 1, 1)]
    assert plan_for("mode=uwsgi", "seed= 007 ").seed == 7  # a seed given is used, not drawn
    assert {r["seed"] for r in plan_for("mode=uwsgi", "repeat=2", drawn=99).runs} == {99}


def test_a_seed_left_out_is_drawn_below_2_to_the_31() -> None:
    seeds = {planner.plan(params("mode=uwsgi"), role_settings(), MODES, ["l"], ["a"]).seed for _ in range(20)}
    assert len(seeds) > 1 and all(0 <= s < 2147483647 for s in seeds)


# --- the estimate and its cap -------------------------------------------------------------------


def test_the_estimate_is_each_runs_load_capped_by_its_limit_plus_its_switch() -> None:
    """(n / c + 1) x delay, capped by the time limit, + bench_run_estimate_s (5 s); rate: duration + delay."""
    assert plan_for("mode=uwsgi", "n=2000", "c=200", "delay=1").estimate_s == (10 + 1) * 1 + 5
    assert plan_for("mode=uwsgi", "n=2001", "c=200", "delay=0.5").estimate_s == (11 + 1) * 0.5 + 5  # whole rounds
    assert plan_for("mode=uwsgi", "n=20000", "c=10", "delay=1").estimate_s == 300 + 5
    assert plan_for("mode=uwsgi", "client=rate", "rate=10", "duration=7", "delay=2").estimate_s == 7 + 2 + 5
    assert plan_for("mode=uwsgi,gunicorn", "n=2000", "c=200", "repeat=3").estimate_s == 6 * 16
    assert plan_for("mode=uwsgi", "n=10", "c=10", settings=role_settings(run_estimate_s=60)).estimate_s == 62


def test_max_minutes_caps_the_estimate_inclusively() -> None:
    """6 runs of 16 s: 96 s = 1.6 min."""
    given = ["mode=uwsgi,gunicorn", "n=2000", "c=200", "repeat=3"]
    assert len(plan_for(*given, "max_minutes=1.6").runs) == 6
    assert refusal(*given, "max_minutes=1.5") == (
        "the plan's 6 runs would take about 2 min, more than max_minutes=1.5: run fewer points or repeats, or raise"
        " it (-e max_minutes=N)")


def test_the_plan_is_shown_run_by_run_with_its_estimate() -> None:
    plan = plan_for("mode=uwsgi", "n=1000", "c=200", "repeat=2", "seed=5", loadgens=("l1", "l2", "l3"))
    assert plan.lines() == [
        "uwsgi-tuned-r1 n=1000 c=200 limit=300s timeout=90s split c=67+67+66 n=335+335+330",
        "uwsgi-tuned-r2 n=1000 c=200 limit=300s timeout=90s split c=67+67+66 n=335+335+330",
        "2 runs, about 0.4 min, seed 5"]
    rate = plan_for("mode=uwsgi", "client=rate", "rate=100", "seed=1", loadgens=("l1", "l2", "l3"))
    assert rate.lines()[0] == ("uwsgi-tuned-rate100 n=1000 c=400 limit=300s timeout=90s rate=100.0"
                               " split c=134+133+133 n=335+332+333 rate=33.5+33.2+33.3")


# --- the split over the load hosts --------------------------------------------------------------


def test_several_load_hosts_split_c_evenly_and_n_in_proportion() -> None:
    """Every run's c and n are split between the load hosts; the parts add up to the point."""
    hosts = ("fake-loadgen0", "fake-loadgen1", "fake-loadgen2")
    run = plan_for("mode=uwsgi", "n=1000", "c=200", loadgens=hosts).runs[0]
    assert run["parts"] == [{"host": "fake-loadgen0", "c": 67, "n": 335}, {"host": "fake-loadgen1", "c": 67, "n": 335},
                            {"host": "fake-loadgen2", "c": 66, "n": 330}]
    assert run["loadgens"] == list(hosts)
    for n, c in ((7, 3), (1000, 7), (20, 20), (12345, 999)):
        parts = plan_for("mode=uwsgi", f"n={n}", f"c={c}", loadgens=hosts).runs[0]["parts"]
        assert sum(p["n"] for p in parts) == n and sum(p["c"] for p in parts) == c
        assert max(p["c"] for p in parts) - min(p["c"] for p in parts) <= 1
        assert all(p["n"] >= p["c"] for p in parts)  # n >= c holds for every part too


def test_a_rate_runs_parts_schedule_their_share_of_the_rate() -> None:
    run = plan_for("mode=uwsgi", "client=rate", "rate=100", loadgens=("l1", "l2", "l3")).runs[0]
    assert (run["n"], run["c"]) == (1000, 400)  # 100 req/s x 10 s; 100 x (3 x 1 s + 1 s)
    assert [(p["c"], p["n"]) for p in run["parts"]] == [(134, 335), (133, 332), (133, 333)]
    assert [p["rate"] for p in run["parts"]] == [100 * 335 / 1000, 100 * 332 / 1000, 100 * 333 / 1000]
    assert sum(p["rate"] for p in run["parts"]) == pytest.approx(100)


# --- the filter the role calls ------------------------------------------------------------------


def filter_settings() -> dict[str, Any]:
    return dataclasses.asdict(role_settings())


def test_the_filter_returns_the_plan_or_the_refusal() -> None:
    plan = FILTER.flaskbench_plan(MODES, {"mode": "uwsgi", "n": "20", "c": "10", "seed": "3"}, filter_settings(),
                                  ["fake-loadgen"], ["fake-app"])
    assert plan["error"] is None and plan["seed"] == 3
    assert plan["runs"] == plan_for("mode=uwsgi", "n=20", "c=10", "seed=3").runs
    assert plan["lines"][-1] == "1 run, about 0.1 min, seed 3" and plan["estimate_s"] == 8.0
    refused = FILTER.flaskbench_plan(MODES, {"mode": "nope"}, filter_settings(), ["l"], ["a"])
    assert refused["error"].startswith("mode=nope: unknown mode nope;") and refused["runs"] == []


def test_the_filter_fails_loudly_on_a_parameter_the_module_does_not_know() -> None:
    with pytest.raises(AnsibleFilterError, match="flaskbench_plan: .*'size'"):
        FILTER.flaskbench_plan(MODES, {"mode": "uwsgi", "size": "2"}, filter_settings(), ["l"], ["a"])


def task_vars(name: str) -> dict[str, str]:
    tasks = yaml.safe_load((ROOT / "roles" / "bench" / "tasks" / "main.yml").read_text())
    return next(t for t in tasks if t["name"] == "Plan the runs")["vars"][name]


def test_the_role_passes_every_parameter_and_setting() -> None:
    """Each field from its role variable: a field added to the module is a field the role must pass."""
    assert task_vars("bench_plan_params") == {f.name: f"{{{{ bench_{f.name} }}}}" for f in dataclasses.fields(Params)}
    assert task_vars("bench_plan_settings") == {f.name: f"{{{{ bench_{f.name} }}}}" for f in dataclasses.fields(Settings)}


def test_the_parameters_defaults_are_bench_ymls() -> None:
    """bench.yml gives each role variable its parameter or a default; Params' defaults are the same."""
    play = yaml.safe_load((ROOT / "bench.yml").read_text())[0]
    given = play["tasks"][0]["vars"]
    for f in dataclasses.fields(Params):
        match = re.fullmatch(rf"\{{\{{ {f.name} \| default\((.*)\) \}}\}}", given[f"bench_{f.name}"])
        assert match, given[f"bench_{f.name}"]
        assert yaml.safe_load(match.group(1)) == f.default, f.name


#: seed=7's order as Ansible's shuffle filter gave it before the plan was Python.
PINNED = ["gunicorn-tuned-r1", "uwsgi-tuned-r1", "waitress-tuned-r1", "gunicorn-tuned-r2", "waitress-tuned-r2", "uwsgi-tuned-r2"]


def test_a_recorded_seed_keeps_its_order() -> None:
    """Pinned: a change of the shuffle (its algorithm, its key "<seed>-<k>") would reorder recorded benches."""
    runs = plan_for("mode=uwsgi,gunicorn,waitress", "n=20", "c=10", "repeat=2", "seed=7").runs
    assert [r["name"] for r in runs] == PINNED
