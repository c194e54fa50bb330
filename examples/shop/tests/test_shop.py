"""The shop's routes, each as flaskbench-app.yml benches it and as it fails."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient

from shop import create_app


def test_health(client: FlaskClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json == {"status": "ok"}


def test_the_catalog_page_lists_the_products(client: FlaskClient) -> None:
    answer = client.get("/")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "<title>Catalog · Shop</title>" in page
    assert page.count('<li>') == 5 and "Hand grinder" in page and "64.00 €" in page
    assert 'href="/products/3"' in page


def test_a_product(client: FlaskClient) -> None:
    assert client.get("/products/1").json == {"id": 1, "name": "Espresso cup", "price_cents": 900}
    assert client.get("/products/99").status_code == 404


def test_the_catalog_is_created_once(app: Flask) -> None:
    """A second worker starting on the same database finds the catalog there and adds nothing."""
    again = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    assert again.test_client().get("/").get_data(as_text=True).count("<li>") == 5


def test_stock_asks_the_warehouse(client: FlaskClient, app: Flask, warehouse: str, asked: list[str]) -> None:
    answer = client.get("/products/2/stock")
    assert answer.status_code == 200 and answer.json == {"product": 2, "in_stock": True}
    assert asked == ["2"]
    app.config["WAREHOUSE_URL"] = warehouse + "?status=404"
    assert client.get("/products/2/stock").json == {"product": 2, "in_stock": False}


def test_stock_when_the_warehouse_fails(client: FlaskClient, app: Flask, warehouse: str) -> None:
    app.config["WAREHOUSE_URL"] = warehouse + "?status=500"
    answer = client.get("/products/1/stock")
    assert answer.status_code == 502 and answer.json == {"error": "warehouse answered 500"}
    app.config["WAREHOUSE_URL"] = warehouse + "?delay=2"  # past the 0.5 s timeout
    answer = client.get("/products/1/stock")
    assert answer.status_code == 502 and answer.json == {"error": "warehouse unreachable: ReadTimeout"}
    assert client.get("/products/99/stock").status_code == 404


def test_an_order(client: FlaskClient) -> None:
    placed = client.post("/orders", json={"product_id": 3, "quantity": 2})
    assert placed.status_code == 201
    assert placed.json["total_cents"] == 12800 and placed.json["quantity"] == 2
    assert client.get(f"/orders/{placed.json['id']}").json == placed.json
    assert client.get("/orders/999").status_code == 404


def test_a_bad_order(client: FlaskClient) -> None:
    assert client.post("/orders", data="nonsense", content_type="application/json").status_code == 400
    assert client.post("/orders", json={"product_id": "3"}).status_code == 400
    assert client.post("/orders", json={"product_id": 3, "quantity": 0}).status_code == 400
    assert client.post("/orders", json={"product_id": 42}).status_code == 404


def test_the_benched_routes_answer_as_described(client: FlaskClient) -> None:
    """Each route of flaskbench-app.yml, sent as the bench sends it, answers its expected status."""
    spec = yaml.safe_load((Path(__file__).parent.parent / "flaskbench-app.yml").read_text())
    for route in spec["routes"]:
        answer = client.open(route["path"], method=route.get("method", "GET"),
                             headers=route.get("headers", {}), data=route.get("body"))
        assert answer.status_code == route.get("expect", 200), route
    assert client.get(spec["health"]).status_code == 200
