"""The shop on a SQLite file, and a stand-in warehouse on loopback for its stock check."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop import create_app


class Warehouse(BaseHTTPRequestHandler):
    """Answers ?status=N (default 200) after ?delay=S seconds, and keeps the product asked about."""

    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        self.asked.append(query.get("product", ""))
        time.sleep(float(query.get("delay", 0)))
        self.send_response(int(query.get("status", 200)))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def warehouse() -> Iterator[str]:
    """The stand-in's base URL; Warehouse.asked, the products it was asked about."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Warehouse)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def asked() -> list[str]:
    """The products the warehouse is asked about from now on."""
    Warehouse.asked.clear()
    return Warehouse.asked


@pytest.fixture
def app(tmp_path: Path, warehouse: str) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'shop.db'}",
                       "WAREHOUSE_URL": warehouse, "WAREHOUSE_TIMEOUT": 0.5, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
