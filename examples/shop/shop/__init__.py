"""A small shop: a catalog (a page and a JSON API), orders, and a stock check that asks the warehouse service.

    flask --app 'shop:create_app()' run

Settings come from the environment: DATABASE_URL (SQLAlchemy's URL; PostgreSQL through
psycopg2 is postgresql+psycopg2://user:password@host/db; a SQLite file in the instance
folder when unset), SHOP_WAREHOUSE_URL and SHOP_WAREHOUSE_TIMEOUT (seconds).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from sqlalchemy import text

from shop.models import db, init_db


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", "sqlite:///shop.db"),
        WAREHOUSE_URL=os.environ.get("SHOP_WAREHOUSE_URL", "http://127.0.0.1:8000/"),
        WAREHOUSE_TIMEOUT=float(os.environ.get("SHOP_WAREHOUSE_TIMEOUT", "2")),
    )
    app.config.update(config or {})
    db.init_app(app)

    from shop import catalog, orders

    app.register_blueprint(catalog.bp)
    app.register_blueprint(orders.bp, url_prefix="/orders")

    @app.get("/healthz")
    def health() -> dict[str, str]:
        db.session.execute(text("SELECT 1"))
        return {"status": "ok"}

    with app.app_context():
        init_db()
        # A server may fork its workers after this (uWSGI, without lazy-apps):
        # connections opened here must not be shared by them (SQLAlchemy's
        # "Using Connection Pools with Multiprocessing or os.fork()").
        db.engine.dispose()
    return app
