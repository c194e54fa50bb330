"""Fixtures shared by the live tests (ab and wrk against a real loopback server).

The import path (the repository root and app/) comes from pytest.ini.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from httpserver import Server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """tests/httpserver.py running in its own process, one per test module."""
    srv = Server()
    yield srv
    srv.stop()
