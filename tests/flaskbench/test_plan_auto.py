"""rate=auto in the plan (flaskbench.plan): a knee search's slots, its parameters and their refusals."""

from __future__ import annotations

import pytest

from flaskbench.plan import PlanError
from plans import plan_for


def refusal(*given: str) -> str:
    with pytest.raises(PlanError) as err:
        plan_for(*given)
    return str(err.value)


@pytest.mark.parametrize("given, expected", [
    (["rate=auto"], "rate=auto: only client=rate sends at a rate (-e client=rate)"),
    (["client=wrk", "budget_ms=200"], "budget_ms=200: only client=rate has a knee to budget"),
    (["client=rate", "rate=auto,200"], "rate=auto,200: auto searches for the knee on its own, not in a list"),
    (["client=rate", "rate=200", "precision=0.2"], "precision=0.2: only rate=auto searches (-e rate=auto)"),
    (["client=rate", "rate=auto", "precision=0"], "precision=0: must be a fraction between 0 and 1"),
    (["client=rate", "rate=auto", "precision=1"], "precision=1: must be a fraction between 0 and 1"),
    (["client=rate", "rate=auto", "precision=x"], "precision=x: must be a fraction between 0 and 1"),
    (["client=rate", "rate=auto", "budget_ms=0"], "budget_ms=0: must be a number of milliseconds above 0"),
    (["client=rate", "rate=auto", "budget_ms=-5"], "budget_ms=-5: must be a number of milliseconds above 0"),
    (["client=rate", "rate=auto", "start_rate=0"], "start_rate=0: must be a number of requests per second above 0"),
    (["client=rate", "rate=auto", "steps=1"], "steps=1: must be a whole number of steps, 2 or more"),
    (["client=rate", "rate=auto", "steps=2.5"], "steps=2.5: must be a whole number of steps, 2 or more"),
    (["client=rate", "rate=auto", "repeat=3"], "repeat=3: rate=auto repeats a step itself"),
    (["client=rate", "rate=auto", "delay=0"], "rate=auto: delay=0.0 gives no latency budget (1.5 x delay): give budget_ms=MS"),
])
def test_a_bad_search_parameter_is_refused_naming_it(given: list[str], expected: str) -> None:
    assert expected in refusal("mode=uwsgi", *given)


def test_rate_auto_plans_a_slot_per_step() -> None:
    plan = plan_for("mode=uwsgi", "client=rate", "rate=auto", "duration=5", "delay=0.1")
    runs = plan.runs
    assert [r["name"] for r in runs] == [f"uwsgi-tuned-auto-s{k}" for k in range(1, 13)]
    first = runs[0]
    assert (first["rate"], first["n"], first["c"]) == (50.0, 250, 65)  # 50 x (3 x 0.1 + 1)
    assert first["search"] == {"group": "uwsgi-tuned-auto", "start": 50.0, "precision": 0.1, "budget_ms": 150.0,
                               "steps": 12, "headroom": 3.0, "max_rate": 1500.0, "step": 1}
    assert "budget_ms" not in first
    # the estimate counts every slot: a search takes at most its steps
    assert plan.estimate_s == pytest.approx(12 * (5 + 0.1 + 5))
    assert plan.lines()[0].endswith("rate=50.0 (rate=auto: step 1 of at most 12)")


def test_rate_auto_takes_its_settings_and_the_apps_budget() -> None:
    runs = plan_for("mode=uwsgi", "client=rate", "rate=auto", "start_rate=20", "steps=4", "precision=0.05",
                    "budget_ms=80", "delay=0.05,0.1", loadgens=("l1", "l2")).runs
    assert [r["name"] for r in runs] == [f"uwsgi-tuned-auto-d{d}-s{k}" for d in (0.05, 0.1) for k in range(1, 5)]
    spec = runs[0]["search"]
    assert (spec["start"], spec["steps"], spec["precision"], spec["budget_ms"]) == (20.0, 4, 0.05, 80.0)
    assert spec["max_rate"] == 3000.0  # two load hosts, 1500 req/s each
    assert runs[0]["budget_ms"] == 80.0 and sum(p["rate"] for p in runs[0]["parts"]) == pytest.approx(20)


def test_budget_ms_goes_with_a_rate_sweep() -> None:
    runs = plan_for("mode=uwsgi", "client=rate", "rate=100,200", "budget_ms=300").runs
    assert [r["budget_ms"] for r in runs] == [300.0, 300.0] and "search" not in runs[0]
