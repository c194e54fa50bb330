"""The run's verdict (benchreport.advice): drawn from knees, else a sweep past the client's ceiling, else CPU
resolved over long runs; a gevent mode named with its readiness; no verdict, and what to run, when the runs
cannot tell modes apart; the runs cited; the short version and report.md lead with it."""

from __future__ import annotations

from benchreport import advice, render, short
from benchreport.model import Record

SITE = {"site": "app/views.py:12 in index: cursor.execute(q)", "library": None, "blocks": 3, "reports": 3,
        "longest_s": 0.5}


def rate_runs(mode: str, group: str, knee_at: float | None, rates=(100.0, 200.0, 400.0), cpu: float = 1.0,
              **more) -> list[Record]:
    """A rate sweep of one mode at delay 1 s: every rate up to knee_at within the budget, the rest over it."""
    out = []
    for rate in rates:
        ok = knee_at is not None and rate <= knee_at
        out.append(Record(mode=mode, profile="tuned", client="rate", group=group, title=f"{mode}'s title", delay=1,
                          rate=rate, route="/", p99_ms=1100.0 if ok else 2500.0, failed=0, complete=int(rate * 10),
                          cpu_ms_per_req=cpu, cpu_ms_per_req_resolution=0.01, client_rc=0,
                          raw_dir=f"{mode}-tuned-rate{rate:g}", **{"rps": rate, **more}))
    return out


def wrk_run(mode: str, group: str, rps: float, c: int = 200, cpu: float = 1.0, resolution: float | None = 0.01,
            **more) -> Record:
    return Record(mode=mode, profile="tuned", client="wrk", group=group, c=c, n=10 * c, delay=1, route="/", rps=rps,
                  ideal_rps=float(c), p99_ms=1100.0, failed=0, complete=10 * c, cpu_ms_per_req=cpu,
                  cpu_ms_per_req_resolution=resolution, raw_dir=f"{mode}-tuned-wrk-c{c}", **more)


def monitored(mode: str, blocked: int) -> Record:
    """A monitored closed-loop run of a gevent mode: blocked hub reports at SITE, or none."""
    return wrk_run(mode, "gevent", 150.0, c=20, monitor=True, blocked=blocked, blocked_blocks=blocked,
                   blocked_sites=[SITE] if blocked else [], monitor_threshold_s=0.1,
                   gevent_patch={"patched": {"socket": True}, "warnings": []})


def one(records: list[Record]) -> advice.Verdict:
    found = advice.verdicts(records)
    assert len(found) == 1
    return found[0]


def text(v: advice.Verdict) -> str:
    return " ".join(v.lead + v.others + v.to_run)


def test_the_verdict_from_knees_names_the_mode_its_flags_rate_cpu_and_who_falls_over_why():
    v = one(rate_runs("uwsgi", "threads and processes", 200.0, cpu=0.8)
            + rate_runs("gunicorn", "threads and processes", 100.0, cpu=1.2)
            + rate_runs("waitress", "peers", 200.0, cpu=0.8))
    assert (v.evidence, v.pick) == (advice.KNEES, "uwsgi/tuned")
    lead = v.lead[0]
    assert lead.startswith("Serve it with uwsgi/tuned (uwsgi's title; tuned flags: workers=")
    assert "holds 200 req/s within the budget (p99 ≤ 1500 ms; 1100 ms at the knee) at 0.800 ms of CPU" in lead
    assert any(o.startswith("waitress/tuned is within noise of it: it holds 200 req/s") for o in v.others)
    assert "gunicorn/tuned falls over at 200 req/s (it holds 100 req/s): p99 2500 ms > 1500 ms." in v.others


def test_the_same_knee_at_more_cpu_is_named_as_such():
    v = one(rate_runs("uwsgi", "threads and processes", 200.0, cpu=0.8)
            + rate_runs("gunicorn", "threads and processes", 200.0, cpu=1.6))
    assert v.pick == "uwsgi/tuned"
    assert v.others == ["gunicorn/tuned holds 200 req/s too, but at 1.600 ms of CPU a request (100% more)."]


def test_a_gevent_winner_that_is_not_gevent_safe_is_never_recommended_plainly():
    records = (rate_runs("uwsgi-gevent", "gevent", 400.0) + rate_runs("uwsgi", "threads and processes", 200.0)
               + [monitored("uwsgi-gevent", 3)])
    v = one(records)
    assert v.pick == "uwsgi/tuned"
    assert "Serve it with uwsgi-gevent" not in text(v)
    assert v.lead[0].startswith("Serve it with uwsgi/tuned")
    assert any(s.startswith("Not uwsgi-gevent/tuned, though it holds at least 400 req/s") and
               "not gevent-safe under it: app/views.py:12 in index" in s for s in v.lead)


def test_only_unsafe_gevent_modes_held_the_budget_no_verdict():
    v = one(rate_runs("uwsgi-gevent", "gevent", 400.0) + rate_runs("uwsgi", "threads and processes", None)
            + [monitored("uwsgi-gevent", 3)])
    assert v.pick is None and v.lead[0].startswith("No verdict: every mode that held the budget is not gevent-safe")


def test_a_gevent_winner_with_unknown_readiness_says_what_to_run():
    v = one(rate_runs("uwsgi-gevent", "gevent", 400.0) + rate_runs("uwsgi", "threads and processes", 200.0))
    assert v.pick == "uwsgi-gevent/tuned"
    assert "uwsgi-gevent/tuned's gevent readiness is unknown" in text(v)
    assert "`ansible-playbook bench.yml -e mode=uwsgi-gevent -e monitor=true`" in text(v)


def test_a_safe_gevent_winner_says_so():
    v = one(rate_runs("uwsgi-gevent", "gevent", 400.0) + rate_runs("uwsgi", "threads and processes", 200.0)
            + [monitored("uwsgi-gevent", 0)])
    assert v.pick == "uwsgi-gevent/tuned"
    assert "uwsgi-gevent/tuned is gevent-safe on this route" in text(v)


def test_every_point_client_limited_gives_no_verdict_and_what_to_run():
    v = one([wrk_run("uwsgi", "threads and processes", 160.0, client_limited=True),
             wrk_run("gunicorn", "threads and processes", 120.0, client_limited=True)])
    assert (v.evidence, v.pick) == (None, None)
    assert v.lead[0].startswith("No verdict: no rate sweep ran; no closed-loop point told the modes apart")
    assert v.to_run[0].startswith("ansible-playbook bench.yml -e mode=uwsgi,gunicorn -e client=rate -e rate=200,400,800")
    assert v.to_run[1].startswith("ansible-playbook bench.yml -e mode=uwsgi,gunicorn -e client=wrk -e c=200,1000")
    assert v.runs == ["uwsgi-tuned-wrk-c200", "gunicorn-tuned-wrk-c200"]


def test_a_sweep_past_the_ceiling_tells_modes_apart():
    records = [wrk_run("uwsgi", "threads and processes", 197.0), wrk_run("gunicorn", "threads and processes", 196.0),
               wrk_run("uwsgi", "threads and processes", 800.0, c=1000),
               wrk_run("gunicorn", "threads and processes", 300.0, c=1000)]
    v = one(records)
    assert (v.evidence, v.pick) == (advice.SWEEP, "uwsgi/tuned")
    assert "at c=1000 (wrk), past the client's ceiling, it answers 800 req/s (80% of ideal)" in v.lead[0]
    assert v.others[0].startswith("gunicorn/tuned falls behind at c=1000 (wrk): 300 req/s (30% of ideal)")
    assert "62% fewer req/s" in v.others[0]
    assert v.runs == ["uwsgi-tuned-wrk-c1000", "gunicorn-tuned-wrk-c1000"]


def test_cpu_from_a_short_run_is_not_used_but_from_a_long_one_is():
    short_runs = [wrk_run("uwsgi", "threads and processes", 198.0, cpu=0.5, resolution=0.1),
                  wrk_run("gunicorn", "threads and processes", 198.0, cpu=1.0, resolution=0.2)]
    assert one(short_runs).pick is None
    unknown = [wrk_run("uwsgi", "threads and processes", 198.0, cpu=0.5, resolution=None),
               wrk_run("gunicorn", "threads and processes", 198.0, cpu=1.0, resolution=None)]
    assert one(unknown).pick is None
    long_runs = [wrk_run("uwsgi", "threads and processes", 198.0, cpu=0.5, resolution=0.005),
                 wrk_run("gunicorn", "threads and processes", 198.0, cpu=1.0, resolution=0.01)]
    v = one(long_runs)
    assert (v.evidence, v.pick) == (advice.CPU, "uwsgi/tuned")
    assert "it spends 0.500 ms of CPU a request, the least" in v.lead[0]
    assert v.others == ["gunicorn/tuned spends 1.000 ms of CPU a request (100% more)."]


def test_one_mode_alone_gives_no_verdict():
    v = one(rate_runs("uwsgi", "threads and processes", 200.0))
    assert v.pick is None and v.lead[0].startswith("No verdict: only uwsgi ran")
    assert "-e mode=all -e client=rate" in v.to_run[0]


def test_the_runs_are_cited_in_the_short_version_and_report_md():
    records = rate_runs("uwsgi", "threads and processes", 200.0) + rate_runs("gunicorn", "threads and processes", 100.0)
    v = one(records)
    assert v.runs == [r.raw_dir for r in records]
    lines = short.lines(records, None)
    assert lines[1].strip().startswith("verdict") and "Serve it with uwsgi/tuned" in lines[1]
    rests = next(line for line in lines if line.strip().startswith("rests on"))
    assert "6 runs (knees): uwsgi-tuned-rate100, uwsgi-tuned-rate200" in rests
    md = render.markdown(records, "run")
    assert md.index("## Verdict") < md.index("## Knee")
    assert "Rests on 6 runs (knees): `uwsgi-tuned-rate100`" in md and "`gunicorn-tuned-rate400`" in md


def test_several_routes_get_a_verdict_each():
    records = rate_runs("uwsgi", "threads and processes", 200.0) + rate_runs("gunicorn", "threads and processes", 100.0)
    db = [Record(**{**r.as_dict(), "route": "/db", "raw_dir": r.raw_dir + "-db"}) for r in records]
    found = advice.verdicts(records + db)
    assert [advice.title(v, True) for v in found] == ["route /, delay 1 s", "route /db, delay 1 s"]
    assert "verdict (route /db, delay 1 s)" in "\n".join(short.lines(records + db, None))
