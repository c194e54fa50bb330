"""The plan runners with a user's app's runs (bench.yml -e app=DIR), on loopback: the routes' check after
each switch, which stops the plan before any load on a route answering another status, and the warm-up
with the route's own request.

tests/httpserver.py's /orders answers 201 to POST and 404 to the rest.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from httpserver import Server
from planrunners import Runners, progress, read, run_entry, write_plan


def app_entry(server: Server, name: str, key: str, method: str = "POST", expect: int = 201) -> dict:
    """A user's app's run: its route's request, the route's path as the URL, no delay."""
    path = f"/orders?key={key}"
    request = {"name": f"{method.lower()}-orders", "method": method, "path": path,
               "headers": {"Content-Type": "application/json"}, "body": "{}" if method == "POST" else None,
               "expect": expect, "weight": 1.0}
    run = run_entry(server, key, name)
    return {**run, "delay": None, "route": request["name"], "path": path, "requests": [request],
            "url": f"http://127.0.0.1:{server.port}{path}", "app": {"name": "shop", "spec_sha": "0" * 16}}


def seen(server: Server, key: str) -> dict | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/seen?key={key}", timeout=5) as resp:
        return json.loads(resp.read())


def test_a_route_answering_another_status_stops_the_plan_before_any_load(tmp_path: Path, scripts: Path,
                                                                         server: Server, runners: Runners) -> None:
    key = tmp_path.name
    runs = [app_entry(server, "r1", f"{key}-ok"), app_entry(server, "r2", f"{key}-wrong", "GET", 200),
            app_entry(server, "r3", f"{key}-after")]
    plan = write_plan(tmp_path / "plan", scripts, runs)
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1")
    assert runners.finish(load)[0] == 0
    rc, log = runners.finish(app)
    assert rc == 0, log

    lines = progress(plan)
    assert [(line.get("name"), line.get("error")) for line in lines[:3]] == [
        ("r1", None),
        ("r2", f"routes: route get-orders (GET /orders?key={key}-wrong) answered 404, expected 200"),
        ("r3", f"not run: route get-orders (GET /orders?key={key}-wrong) answered 404, expected 200 (run 2, r2)")]
    assert lines[-1] == {"finished": True, "runs": 3}
    # r1: the check, the warm-up (min(50, c) = 2, with the route's method) and its 20; r2: the check alone
    assert server.answered(f"{key}-ok") == 1 + 2 + 20
    assert seen(server, f"{key}-ok")["method"] == "POST"
    assert server.answered(f"{key}-wrong") == 1
    assert server.answered(f"{key}-after") == 0
    outcome = read(plan.parent / "app" / "r3" / "outcome.json")
    assert outcome["error"].startswith("not run: route get-orders")
    assert read(plan.parent / "app" / "r3" / "run.json")["name"] == "r3"


def test_a_route_answering_its_expected_non_2xx_is_benched(tmp_path: Path, scripts: Path, server: Server,
                                                           runners: Runners) -> None:
    """GET /orders answers 404, which the route expects: checked, warmed up, loaded, and nothing failed."""
    key = f"{tmp_path.name}-404"
    plan = write_plan(tmp_path / "plan", scripts, [app_entry(server, "r", key, "GET", 404)])
    app = runners.start(plan, "app", "--linger", "0.3")
    load = runners.start(plan, "load", "--host", "lg1")
    assert runners.finish(load)[0] == 0
    assert runners.finish(app)[0] == 0
    line = progress(plan)[0]
    assert line["error"] is None and line["parts"]["lg1"]["failed"] == 0, line
    assert server.answered(key) == 1 + 2 + 20
