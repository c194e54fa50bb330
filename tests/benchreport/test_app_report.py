"""The report of a user's app's bench (bench.yml -e app=DIR): no ideal (null, no column, no chart), a row per
route, the knee and the verdict against the app's budget (and saying so), and the modes not run for it.

The run folders are made by the real clients against tests/httpserver.py, as the load runner runs them,
with run.json as the plan writes it for an app (its record, the route's requests, no delay).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchreport import knee, render
from benchreport.__main__ import main as cli_main
from benchreport.summary import build_records
from benchrun import AB_CLIENT, HOST_ENV, LUA, RATE_CLIENT, WRK_CLIENT, write_json, write_outcome

CLIENTS = {"ab": AB_CLIENT, "wrk": [*WRK_CLIENT, "--script", str(LUA)], "rate": RATE_CLIENT}
SKIPPED = {"psycopg2": "benches PostgreSQL from the built-in app's /db route",
           "quart": "serves an ASGI app (Quart); give `asgi:` in flaskbench-app.yml to bench yours here"}


def app_record(budget_ms: float) -> dict:
    return {"name": "shop", "spec_sha": "0123456789abcdef", "dir": "examples/shop", "budget_ms": budget_ms,
            "routes": [{"name": "list", "method": "GET", "path": "/", "headers": {}, "body": None, "expect": 200,
                        "weight": 3.0},
                       {"name": "order", "method": "POST", "path": "/orders", "headers": {}, "body": "{}",
                        "expect": 201, "weight": 1.0}],
            "skipped": SKIPPED}


def bench(run_dir: Path, server, name: str, client: str, route: str, path: str, method: str = "GET",
          expect: int = 200, rate: float | None = None, budget_ms: float = 200.0, mode: str = "uwsgi") -> None:
    """One run folder of a user's app's route, as the runners leave it."""
    folder = run_dir / name
    folder.mkdir(parents=True)
    request = {"name": route, "method": method, "path": path, "headers": {}, "body": "{}" if method == "POST" else None,
               "expect": expect, "weight": 1.0}
    write_json(folder / "run.json", {
        "schema": 2, "run_id": run_dir.name, "name": name, "mode": mode, "profile": "tuned", "client": client,
        "n": int(rate * 1) if rate else 20, "c": 2 if rate is None else int(rate), "delay": None, "route": route,
        "path": path, "url": f"http://127.0.0.1:{server.port}{path}", "monitor": False, "expect": None,
        "time_limit": 30, "timeout": 5, "unit": "flask-uwsgi.service", "app_host": "app", "loadgen_host": "lg",
        "budget_ms": budget_ms, "requests": [request], "app": app_record(budget_ms),
        **({"rate": rate, "duration": 1.0} if rate else {})})
    subprocess.run([*CLIENTS[client], "--dir", str(folder)], check=True, capture_output=True, env=HOST_ENV,
                   timeout=60)
    write_outcome(folder)


def test_a_user_apps_report_has_no_ideal_a_row_per_route_and_the_modes_not_run(tmp_path, server):
    run_dir = tmp_path / "20261207T080000Z"
    key = tmp_path.name
    bench(run_dir, server, "uwsgi-tuned-list", "ab", "list", f"/?key={key}-l")
    bench(run_dir, server, "uwsgi-tuned-order", "ab", "order", f"/orders?key={key}-o", "POST", 201)
    bench(run_dir, server, "uwsgi-tuned-wrk-list", "wrk", "list", f"/?key={key}-w")
    assert cli_main([str(run_dir), "--no-latest"]) == 0

    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(r["route"], r["client"]) for r in summary] == [("list", "ab"), ("order", "ab"), ("list", "wrk")]
    for rec in summary:
        assert rec["ideal_rps"] is None and rec["pct_of_ideal"] is None, rec
        assert rec["rps"] > 0 and rec["failed"] == 0
        assert rec["app"]["name"] == "shop" and rec["app"]["skipped"] == SKIPPED
    bench_json = json.loads((run_dir / "bench.json").read_text())
    assert bench_json["app"]["spec_sha"] == "0123456789abcdef"
    assert [r["name"] for r in bench_json["app"]["routes"]] == ["list", "order"]

    md = (run_dir / "report.md").read_text()
    table = md.split("| mode |", 1)[1].split("\n\n", 1)[0]
    assert "% of ideal" not in table and "% of ceiling" not in table and "delay s" not in table
    assert "| route |" in "| mode |" + table
    assert "## Your app: shop" in md and "### Modes not run for shop" in md
    assert "| psycopg2 | benches PostgreSQL from the built-in app's /db route |" in md
    assert "give `asgi:` in flaskbench-app.yml" in md
    assert "the seed's" not in md.split("## Notes", 1)[1]  # the seed's figures are the built-in app's
    assert all(rec["seed_rps"] is None for rec in summary)
    assert not (run_dir / "chart.png").exists()  # req/s as % of ideal: there is no ideal
    page = (run_dir / "report.html").read_text()
    assert "Modes not run for shop" in page and "benches PostgreSQL from the built-in app&#x27;s /db route" in page
    assert 'id="pct-of-ideal"' not in page


def test_the_knee_uses_the_apps_budget_and_says_so(tmp_path, server):
    """The same runs (p99 about 50 ms, the server's delay) judged against a 30 ms budget: no knee; against
    500 ms: both rates kept. The knee's text names the budget it used, not 1.5 x delay."""
    records = {}
    for budget in (30.0, 500.0):
        run_dir = tmp_path / f"b{int(budget)}"
        for rate in (20.0, 40.0):
            bench(run_dir, server, f"uwsgi-tuned-rate{rate:g}-list", "rate", "list",
                  f"/?delay=0.05&key={tmp_path.name}-{budget}-{rate}", rate=rate, budget_ms=budget)
        records[budget] = build_records(run_dir, {})
    tight, loose = (knee.knees(records[b]) for b in (30.0, 500.0))
    assert len(tight) == 1 and tight[0].knee_rps is None and tight[0].budget_ms == 30.0
    assert tight[0].why.startswith("p99 ") and tight[0].why.endswith(" ms > 30 ms at 20 req/s")
    assert loose[0].knee_rps == 40.0 and loose[0].open_ended
    for rec in records[30.0]:
        assert rec.pct_of_ideal is None and rec.ideal_rps is None  # not req/s over the schedule either
    section = "\n".join(render.knee_section(records[30.0]))
    assert "kept p99 ≤ 30 ms (budget_ms)" in section and "× delay" not in section
    assert knee.budget_text(knee.knees(records[30.0])) == "30 ms (budget_ms)"


def test_the_verdicts_commands_bench_the_app_again(tmp_path, server):
    run_dir = tmp_path / "r"
    for mode in ("uwsgi", "granian"):
        bench(run_dir, server, f"{mode}-tuned-list", "ab", "list", f"/?key={tmp_path.name}-{mode}", mode=mode)
    lines = "\n".join(render.verdict_section(build_records(run_dir, {})))
    assert "ansible-playbook bench.yml -e app=examples/shop -e mode=" in lines
    assert "ansible-playbook bench.yml -e mode=" not in lines


def test_gevent_readiness_is_per_route_and_says_how_to_monitor_the_app():
    from benchreport import readiness
    from benchreport.model import Record

    recs = [Record(mode="uwsgi-gevent", profile="tuned", client="ab", group="gevent", route=route,
                   app=app_record(200.0)) for route in ("list", "order")]
    found = readiness.verdicts(recs)
    assert [(v.mode, v.route) for v in found] == [("uwsgi-gevent", "list"), ("uwsgi-gevent", "order")]
    assert all("ansible-playbook bench.yml -e app=examples/shop -e mode=uwsgi-gevent -e monitor=true" in v.why
               for v in found)
