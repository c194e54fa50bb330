"""The plan of a user's app (bench.yml -e app=DIR, flaskbench.plan): the modes that serve it, a point per
route, route picking and the mix, no delay, the app's budget, and the record of the app the runs carry.

The app is examples/shop (four routes: catalog, product, stock, order; a 200 ms budget), or a copy of it
changed by a test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from benchrun import ROOT
from flaskbench import userapp
from flaskbench.plan import PlanError
from plans import plan_for

SHOP = ROOT / "examples" / "shop"
SHOP_ROUTES = ["catalog", "product", "stock", "order"]


def app_plan(*given: str, app: Path = SHOP):
    return plan_for(f"app={app}", *given)


def refusal(*given: str, app: Path = SHOP) -> str:
    with pytest.raises(PlanError) as err:
        app_plan(*given, app=app)
    return str(err.value)


def test_each_route_is_a_point_of_its_own_in_each_mode_that_serves_the_app():
    plan = app_plan("mode=uwsgi-gevent,granian", "client=wrk")
    assert [(r["name"], r["route"], r["path"]) for r in plan.runs] == [
        ("uwsgi-gevent-tuned-wrk-catalog", "catalog", "/"),
        ("uwsgi-gevent-tuned-wrk-product", "product", "/products/1"),
        ("uwsgi-gevent-tuned-wrk-stock", "stock", "/products/1/stock"),
        ("uwsgi-gevent-tuned-wrk-order", "order", "/orders"),
        ("granian-tuned-wrk-catalog", "catalog", "/"),
        ("granian-tuned-wrk-product", "product", "/products/1"),
        ("granian-tuned-wrk-stock", "stock", "/products/1/stock"),
        ("granian-tuned-wrk-order", "order", "/orders")]
    order = plan.runs[3]
    assert order["requests"] == [{"name": "order", "path": "/orders", "method": "POST",
                                  "headers": {"Content-Type": "application/json"},
                                  "body": '{"product_id": 1, "quantity": 2}', "expect": 201, "weight": 1.0}]
    assert order["delay"] is None and order["budget_ms"] == 200.0


def test_the_runs_and_the_plan_record_the_app_and_the_modes_it_skips_with_why():
    plan = app_plan("mode=all")
    spec_sha = userapp.spec_digest(__import__("flaskbench.appspec", fromlist=["load"]).load(SHOP))
    assert plan.app["name"] == "shop" and plan.app["spec_sha"] == spec_sha
    assert [r["name"] for r in plan.app["routes"]] == SHOP_ROUTES
    assert plan.app["skipped"]["psycopg2"] == "benches PostgreSQL from the built-in app's /db route"
    assert plan.app["skipped"]["grpc-gevent-noinit"].startswith("a demonstration of the built-in app failing")
    assert all(r["app"] == plan.app for r in plan.runs)
    assert not {r["mode"] for r in plan.runs} & set(plan.app["skipped"])  # mode=all: only the modes that serve it
    assert any(line.startswith("not run (cannot serve it): ") and "psycopg2: benches PostgreSQL" in line
               for line in plan.lines())


def test_a_named_mode_that_cannot_serve_the_app_is_an_error_with_its_reason():
    said = refusal("mode=uwsgi,psycopg2")
    assert said.startswith("mode=uwsgi,psycopg2: psycopg2 cannot serve shop: benches PostgreSQL from the "
                           "built-in app's /db route; the modes that can: devserver, ")


def test_a_group_keeps_the_modes_that_serve_the_app():
    built_in = {r["mode"] for r in plan_for("mode=gevent").runs}
    mine = {r["mode"] for r in app_plan("mode=gevent").runs}
    assert mine and mine <= built_in
    assert mine == {m for m in built_in if m not in app_plan("mode=all").app["skipped"]}


def test_route_picks_routes_by_name_and_an_unknown_one_lists_the_valid():
    assert [r["route"] for r in app_plan("mode=uwsgi", "route=order,catalog").runs] == ["order", "catalog"]
    assert refusal("mode=uwsgi", "route=orders") == (
        "route=orders: shop has no route orders; its routes: catalog, product, stock, order, or mix (their "
        "weighted mix)")


@pytest.mark.parametrize("client", ["wrk", "rate"])
def test_the_mix_is_one_point_of_every_route_by_weight(client):
    given = ["rate=50"] if client == "rate" else []
    runs = app_plan("mode=uwsgi", f"client={client}", "route=mix", *given).runs
    assert len(runs) == 1 and runs[0]["route"] == "mix" and runs[0]["name"].endswith("-mix")
    assert [(r["name"], r["weight"]) for r in runs[0]["requests"]] == [
        ("catalog", 4.0), ("product", 4.0), ("stock", 1.0), ("order", 1.0)]


@pytest.mark.parametrize("client", ["ab", "both"])
def test_ab_cannot_send_the_mix(client):
    assert refusal("mode=uwsgi", f"client={client}", "route=mix").startswith(
        "route=mix: ab sends one request shape, not the weighted mix: use client=wrk or client=rate for the mix")


def test_delay_is_an_error_with_an_app():
    assert refusal("mode=uwsgi", "delay=1") == (
        "delay=1: shop is your own app, which has no slow-API delay; leave delay out (its latency budget is "
        "budget_ms)")


def test_the_description_is_checked_and_its_errors_shown_as_they_are(tmp_path):
    app = tmp_path / "shop"
    shutil.copytree(SHOP, app, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    spec = yaml.safe_load((app / "flaskbench-app.yml").read_text())
    spec["routes"][3]["expect"] = 700
    (app / "flaskbench-app.yml").write_text(yaml.safe_dump(spec))
    assert refusal("mode=uwsgi", app=app) == (
        f"{app}/flaskbench-app.yml: routes[3].expect: 700 is not an HTTP status: an integer from 100 to 599")
    assert refusal("mode=uwsgi", app=tmp_path / "none").endswith("flaskbench-app.yml: no such file (an app "
                                                               "directory holds its flaskbench-app.yml: docs/your-app.md)")


def test_the_knee_and_the_search_use_the_apps_budget_unless_budget_ms_is_given():
    auto = app_plan("mode=uwsgi", "client=rate", "rate=auto", "route=catalog").runs
    assert {r["search"]["budget_ms"] for r in auto} == {200.0} and auto[0]["name"] == "uwsgi-tuned-auto-catalog-s1"
    given = app_plan("mode=uwsgi", "client=rate", "rate=auto", "route=catalog", "budget_ms=80").runs
    assert {r["search"]["budget_ms"] for r in given} == {80.0} and {r["budget_ms"] for r in given} == {80.0}
    # the connections of a rate run are sized by the budget (no delay): rate x (3 x 0.2 s + 1 s)
    swept = app_plan("mode=uwsgi", "client=rate", "rate=100", "route=order").runs
    assert (swept[0]["name"], swept[0]["c"], swept[0]["budget_ms"]) == ("uwsgi-tuned-rate100-order", 160, 200.0)


def test_a_small_n_and_c_unless_given():
    runs = app_plan("mode=uwsgi", "route=catalog", "client=both").runs
    assert [(r["name"], r["n"], r["c"]) for r in runs] == [("uwsgi-tuned-catalog", 1000, 10),
                                                           ("uwsgi-tuned-wrk-catalog", 1000, 10)]
    runs = app_plan("mode=uwsgi", "route=catalog", "c=20").runs
    assert (runs[0]["n"], runs[0]["c"]) == (1000, 20)  # ab's 50 rounds of c


def test_without_app_the_runs_are_the_built_in_apps():
    run = plan_for("mode=uwsgi").runs[0]
    assert plan_for("mode=uwsgi").app is None
    assert not {"app", "requests", "path"} & set(run) and run["route"] == "/" and run["delay"] == 1


def test_route_names_become_safe_unique_folder_names(tmp_path):
    app = tmp_path / "shop"
    shutil.copytree(SHOP, app, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    spec = yaml.safe_load((app / "flaskbench-app.yml").read_text())
    spec["routes"] = [{"path": "/a b"[:2]}, {"path": "/a", "method": "POST"}, {"name": "GET-a", "path": "/x"}]
    (app / "flaskbench-app.yml").write_text(yaml.safe_dump(spec))
    names = [r["name"] for r in app_plan("mode=uwsgi", app=app).runs]
    assert names == ["uwsgi-tuned-GET-a", "uwsgi-tuned-POST-a", "uwsgi-tuned-GET-a-3"]
