"""Fixtures shared by the tests: a real loopback server for the live ones (ab and wrk), fixed noise floors.

The import path (the repository root and app/) comes from pytest.ini.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchreport import noisefloors
from httpserver import Server

#: compare's floors in the tests: 5% (req/s, p99) and 25% (CPU) at every run length, marked provisional.
FIXED_FLOORS = noisefloors.REPOSITORY.parent.parent / "tests" / "data" / "benchreport" / noisefloors.REPOSITORY.name


@pytest.fixture(autouse=True)
def fixed_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare judges against FIXED_FLOORS, not benchreport/noise_floors.json: the verdicts the tests expect
    must not move when the floors are measured again (test_benchreport_noise checks the measured file)."""
    monkeypatch.setattr(noisefloors, "PATH", FIXED_FLOORS)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """tests/httpserver.py running in its own process, one per test module."""
    srv = Server()
    yield srv
    srv.stop()
