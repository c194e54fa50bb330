"""A report that takes 200 ms in PostgreSQL, and a page that takes none.

psycopg2 waits for the server inside libpq, in C: under gevent, without a
wait callback (psycogreen), the whole process waits with it.
"""

from __future__ import annotations

import os

import psycopg2
from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)
    dsn = os.environ["REPORTS_DSN"]

    @app.get("/")
    def home() -> dict[str, str]:
        return {"page": "home"}

    @app.get("/report")
    def report() -> dict[str, int]:
        with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM (SELECT pg_sleep(0.2)) AS slow")
            (rows,) = cur.fetchone()
        conn.close()
        return {"rows": rows}

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
