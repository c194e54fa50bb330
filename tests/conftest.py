"""Fixtures shared by the tests: a real loopback server for the live ones (ab and wrk), fixed noise floors,
the plan runners' fake scripts and their processes (planrunners.py).

The import path (the repository root and app/) comes from pytest.ini. The tests are laid out like the code
(tests/benchhost, tests/benchreport, tests/flaskbench, tests/ansible); the helper modules they share stay here
at tests/ top (benchrun, planfiles, planrunners, plans, rolespecs, httpserver): pytest's default (prepend)
import mode puts this conftest's folder on sys.path, so a test in any subfolder imports them by name.
No test module imports another one, and no two test files share a basename.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchreport import noisefloors
from httpserver import Server
from planrunners import FAKE_JOURNALCTL, FAKE_MODE, FAKE_SAMPLER, Runners, script

#: compare's floors in the tests: 5% (req/s, p99) and 25% (CPU) at every run length, marked provisional.
FIXED_FLOORS = noisefloors.REPOSITORY.parent.parent / "tests" / "data" / "benchreport" / noisefloors.REPOSITORY.name


@pytest.fixture(autouse=True)
def fixed_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare judges against FIXED_FLOORS, not benchreport/noise_floors.json: the verdicts the tests expect
    must not move when the floors are measured again (tests/benchreport/test_noise.py checks the measured file)."""
    monkeypatch.setattr(noisefloors, "PATH", FIXED_FLOORS)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """tests/httpserver.py running in its own process, one per test module."""
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """The fake sampler (--sampler), mode command and journalctl."""
    folder = tmp_path / "scripts"
    folder.mkdir()
    script(folder / "sample", FAKE_SAMPLER)
    script(folder / "flaskbench-mode", FAKE_MODE)
    script(folder / "journalctl", FAKE_JOURNALCTL)
    return folder


@pytest.fixture
def runners(scripts: Path) -> Iterator[Runners]:
    r = Runners(scripts)
    yield r
    for proc in r.procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
