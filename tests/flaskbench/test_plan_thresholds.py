"""bench.yml -e thresholds=FILE in the plan (flaskbench.plan): read and held against the planned points before any
host changes, each refusal naming the file, the entry and what is wrong; a user's app's own file by default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchrun import ROOT
from flaskbench.plan import PlanError
from plans import plan_for

SHOP = ROOT / "examples" / "shop"


def thresholds(tmp_path: Path, text: str, name: str = "t.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refusal(*given: str) -> list[str]:
    with pytest.raises(PlanError) as err:
        plan_for(*given)
    return err.value.messages


def test_thresholds_that_fit_the_plan_are_named_in_it(tmp_path):
    path = thresholds(tmp_path, "- p99_ms < 1500\n- {mode: uwsgi, check: 'pct_of_ideal >= 80'}\n- knee_rps >= 100\n")
    plan = plan_for("mode=uwsgi,gunicorn", "client=rate", "rate=50,100", f"thresholds={path}")
    assert plan.thresholds == {"file": str(path.resolve()), "count": 3, "given": "thresholds="}
    assert plan.lines()[-2] == f"thresholds {path.resolve()} (thresholds=): 3 thresholds, judged once the report is written"
    assert plan_for("mode=uwsgi").thresholds is None
    assert not any(line.startswith("thresholds ") for line in plan_for("mode=uwsgi").lines())


@pytest.mark.parametrize("given, text, messages", [
    (["mode=uwsgi", "client=wrk"], "- knee_rps >= 800\n",
     ["{file}: entry 1 ('knee_rps >= 800'): knee_rps: only client=rate measures a knee (a rate sweep, or rate=auto); "
      "its points' client: wrk"]),
    (["mode=uwsgi,psycopg2"], "- {mode: gunicorn, check: rps > 1}\n- {route: /grpc, check: rps > 1}\n"
                              "- {mode: psycopg2, route: /, check: rps > 1}\n",
     ["{file}: entry 1 ('rps > 1'): mode gunicorn is not in the plan (its modes: uwsgi, psycopg2)",
      "{file}: entry 2 ('rps > 1'): route /grpc is not in the plan (its routes: /, /db)",
      "{file}: entry 3 ('rps > 1'): mode psycopg2; route / selects no point of the plan"]),
    (["mode=uwsgi", "delay=0", "n=20", "c=10"], "- pct_of_ideal > 50\n",
     ["{file}: entry 1 ('pct_of_ideal > 50'): pct_of_ideal: none of its points has an ideal to measure against"]),
    (["mode=uwsgi"], "- p99_ms < 1500\n- p99 < 1500\n- {check: rps >= fast}\n",
     ["{file}: entry 2 ('p99 < 1500'): unknown metric 'p99'",
      "{file}: entry 3 ('rps >= fast'): 'fast' is not a number: a threshold compares rps with a number, not a string"]),
    (["mode=uwsgi"], "- rps =< 5\n", ["{file}: entry 1 ('rps =< 5'): unknown operator '=<'; valid: < <= > >= == !="]),
    (["mode=uwsgi"], "- [p99_ms\n", ["{file}: not YAML: "]),
])
def test_a_threshold_the_plan_cannot_hold_is_refused(tmp_path, given, text, messages):
    path = thresholds(tmp_path, text)
    found = refusal(*given, f"thresholds={path}")
    assert len(found) == len(messages)
    for got, want in zip(found, messages):
        assert got.startswith(want.format(file=path)), got


def test_a_missing_thresholds_file(tmp_path):
    assert refusal("mode=uwsgi", f"thresholds={tmp_path / 'none.yml'}") == [
        f"thresholds={tmp_path / 'none.yml'}: no such file (a YAML list of thresholds: docs/thresholds.md)"]


def shop_with_thresholds(tmp_path: Path, text: str) -> Path:
    app = tmp_path / "shop"
    shutil.copytree(SHOP, app, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (app / "thresholds.yml").write_text(text)
    with (app / "flaskbench-app.yml").open("a") as spec:
        spec.write("thresholds: thresholds.yml\n")
    return app


def test_a_user_apps_own_thresholds_hold_unless_thresholds_is_given(tmp_path):
    app = shop_with_thresholds(tmp_path, "- {route: catalog, check: p99_ms < 200}\n- failed == 0\n")
    plan = plan_for(f"app={app}", "mode=uwsgi", "client=wrk")
    assert plan.thresholds == {"file": str((app / "thresholds.yml").resolve()), "count": 2,
                               "given": "shop's flaskbench-app.yml"}
    other = thresholds(tmp_path, "- rps > 1\n", "other.yml")
    assert plan_for(f"app={app}", "mode=uwsgi", "client=wrk", f"thresholds={other}").thresholds["file"] == \
        str(other.resolve())
    # its routes are its route names; it has no ideal
    assert refusal(f"app={app}", "mode=uwsgi", "client=wrk", "route=order") == [
        f"{(app / 'thresholds.yml').resolve()}: entry 1 ('p99_ms < 200'): route catalog is not in the plan (its "
        "routes: order)"]
    bad = thresholds(tmp_path, "- pct_of_ideal >= 80\n", "ideal.yml")
    [message] = refusal(f"app={app}", "mode=uwsgi", "client=wrk", f"thresholds={bad}")
    assert "pct_of_ideal: none of its points has an ideal" in message
