"""A user's app's routes through the real clients (bench.yml -e app=DIR): each sends the route's method,
headers and body, and counts an answer other than the route's expect as failed.

Against tests/httpserver.py's /orders (201 to POST, 404 to the rest; /seen tells the last request). The
clients run as the load runner runs them (python -m benchhost.clients.NAME --dir, run.json beside).
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from benchhost import routes
from benchhost.clients import ab as ab_client
from benchhost.clients import rate as rate_client
from benchhost.clients import wrk as wrk_client
from benchrun import AB_CLIENT, HOST_ENV, LUA, RATE_CLIENT, WRK_CLIENT, write_json

CLIENTS = {"ab": AB_CLIENT, "wrk": [*WRK_CLIENT, "--script", str(LUA)], "rate": RATE_CLIENT}
READ = {"ab": ab_client.result, "wrk": wrk_client.result, "rate": rate_client.result}


def order(key: str, expect: int = 201, method: str = "POST", name: str = "order", weight: float = 1.0) -> dict:
    body = '{"product_id": 1, "quantity": 2}' if method in ("POST", "PUT", "PATCH") else None
    return {"name": name, "method": method, "path": f"/orders?key={key}",
            "headers": {"Content-Type": "application/json", "X-Shop": "bench"}, "body": body,
            "expect": expect, "weight": weight}


def run_client(folder: Path, server, client: str, requests: list[dict], n: int = 20, seed: int = 7) -> dict:
    """run.json (a user's app's run: requests, no delay) and the client's run; the client's result."""
    folder.mkdir(parents=True)
    write_json(folder / "run.json", {
        "schema": 2, "name": folder.name, "mode": "m", "profile": "tuned", "client": client, "n": n, "c": 2,
        "delay": None, "route": requests[0]["name"], "path": requests[0]["path"],
        "url": f"http://127.0.0.1:{server.port}{requests[0]['path']}", "time_limit": 30, "timeout": 5,
        "rate": 40, "duration": n / 40, "seed": seed, "requests": requests,
        "app": {"name": "shop", "spec_sha": "0" * 16}})
    subprocess.run([*CLIENTS[client], "--dir", str(folder)], check=True, capture_output=True, env=HOST_ENV,
                   timeout=60)
    return READ[client](folder, n)


def seen(server, key: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/seen?key={key}", timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("client", ["ab", "wrk", "rate"])
def test_each_client_sends_the_routes_method_headers_and_body(tmp_path, server, client):
    key = f"send-{client}-{tmp_path.name}"
    got = run_client(tmp_path / "r", server, client, [order(key)])
    assert got.error is None, got.error
    assert got.failed == 0 and got.complete >= 20, got
    assert got.status_counts == {"201": got.complete}
    assert got.failed_detail["unexpected"] == 0 and "non_2xx" not in got.failed_detail
    last = seen(server, key)
    assert last["method"] == "POST"
    headers = {k.lower(): v for k, v in last["headers"].items()}  # ab writes Content-type
    assert headers["content-type"] == "application/json" and headers["x-shop"] == "bench"
    assert last["body"] == '{"product_id": 1, "quantity": 2}'


@pytest.mark.parametrize("client", ["ab", "wrk", "rate"])
def test_an_answer_other_than_the_routes_expect_is_failed_even_a_2xx(tmp_path, server, client):
    """201 is a success to ab and wrk themselves; the route expects 200, so every answer is failed."""
    got = run_client(tmp_path / "r", server, client, [order(f"2xx-{client}-{tmp_path.name}", expect=200)])
    assert got.complete >= 20 and got.failed == got.complete, got
    assert got.failed_detail["unexpected"] == got.complete


@pytest.mark.parametrize("client", ["ab", "wrk", "rate"])
def test_an_expected_non_2xx_is_not_failed(tmp_path, server, client):
    """GET /orders answers 404, which the route expects: nothing failed, though ab and wrk call it non-2xx."""
    got = run_client(tmp_path / "r", server, client, [order(f"404-{client}-{tmp_path.name}", 404, "GET")])
    assert got.error is None and got.failed == 0 and got.status_counts == {"404": got.complete}, got


def test_ab_takes_its_per_answer_lines_out_of_its_text(tmp_path, server):
    run_client(tmp_path / "r", server, "ab", [order(f"text-{tmp_path.name}", 404, "GET")])
    text = (tmp_path / "r" / "ab.txt").read_text()
    assert "Complete requests:      20" in text
    assert "Response code" not in text and "header received" not in text
    loadgen = json.loads((tmp_path / "r" / "loadgen.json").read_text())
    assert loadgen["status_counts"] == {"404": 20} and loadgen["unexpected"] == 0
    assert "-l" in loadgen["ab_argv"]  # an app's pages may vary in length: not a failure


def test_ab_options_for_each_method():
    post = ab_client.request_args(order("k"), "/tmp/b")
    assert post[:4] == ["-p", "/tmp/b", "-T", "application/json"] and "-m" not in post
    assert post[4:] == ["-H", "X-Shop: bench"]  # the Content-Type goes with -T, not twice
    assert ab_client.request_args(order("k", method="PATCH"), "/tmp/b")[4:6] == ["-m", "PATCH"]  # after -p
    assert ab_client.request_args(order("k", method="HEAD"), "/tmp/b")[0] == "-i"
    assert ab_client.request_args(order("k", method="DELETE"), "/tmp/b")[:2] == ["-m", "DELETE"]
    assert ab_client.request_args(None, "/tmp/b") == []


@pytest.mark.parametrize("client", ["wrk", "rate"])
def test_the_mix_judges_each_request_by_its_own_routes_expect(tmp_path, server, client):
    """POST (expects 201, gets it) and GET (expects 200, gets 404), 1:3: only the GETs failed."""
    key = f"mix-{client}-{tmp_path.name}"
    mix = [order(key, name="order", weight=1), order(key, 200, "GET", name="list", weight=3)]
    got = run_client(tmp_path / "r", server, client, mix, n=80)
    counts = got.status_counts
    assert counts.get("201", 0) > 0 and counts.get("404", 0) > counts["201"], counts  # both, by weight
    assert got.failed == counts["404"] == got.failed_detail["unexpected"], got


def test_rate_draws_the_mix_from_its_seed(tmp_path, server):
    """The same seed sends the same routes in the same order; another seed another order."""
    key = f"seed-{tmp_path.name}"
    mix = [order(key, name="order", weight=1), order(key, 404, "GET", name="list", weight=3)]
    runs = [run_client(tmp_path / f"r{i}", server, "rate", mix, n=40, seed=seed)
            for i, seed in enumerate((5, 5, 6))]
    codes = [[line.split("\t")[4] for line in (tmp_path / f"r{i}" / "rate.tsv").read_text().splitlines()[1:]]
             for i in range(3)]
    assert codes[0] == codes[1] and codes[0] != codes[2]
    assert all(r.failed == 0 for r in runs)
    per_route = json.loads((tmp_path / "r0" / "rate.json").read_text())["routes"]
    assert per_route["order"]["sent"] + per_route["list"]["sent"] == 40


def test_the_mix_draws_by_weight():
    mix = routes.Mix([{"weight": 1}, {"weight": 3}], seed=1)
    picks = [mix.next() for _ in range(4000)]
    assert 0.7 < picks.count(1) / len(picks) < 0.8
    again = routes.Mix([{"weight": 1}, {"weight": 3}], seed=1)
    assert [again.next() for _ in range(4000)] == picks


def test_wrks_mix_counts_answers_beyond_what_was_sent_expecting_them():
    assert routes.by_expect({"201": 10, "404": 30}, {201: 10, 200: 30}) == 30
    assert routes.by_expect({"200": 40}, {200: 40}) == 0


def test_the_probe_names_the_route_and_both_statuses(server):
    url = f"http://127.0.0.1:{server.port}/"
    assert routes.probe(url, order("probe"), 5) is None
    said = routes.probe(url, order("probe", 201, "GET", name="list"), 5)
    assert said == "route list (GET /orders?key=probe) answered 404, expected 201"
