"""benchapp.aiodb: the Quart app's asyncpg pool (its behaviour on /db: test_routes.py)."""

from __future__ import annotations

import pytest

from benchapp.aiodb import libpq_params


def test_libpq_connection_strings_become_asyncpg_arguments():
    assert libpq_params("host=10.0.0.5 port=5432 dbname=benchapp user=benchapp password=s3cr=t") == {
        "host": "10.0.0.5", "port": 5432, "database": "benchapp", "user": "benchapp", "password": "s3cr=t"}
    assert libpq_params("  host = x   user='a b' ") == {"host": "x", "user": "a b"}
    assert libpq_params(r"password='it\'s a \\ pass' user=x") == {"password": "it's a \\ pass", "user": "x"}
    assert libpq_params("") == {}
    with pytest.raises(ValueError, match="'gssencmode' is not supported"):
        libpq_params("host=x gssencmode=disable")
    with pytest.raises(ValueError, match="malformed"):
        libpq_params("host")
