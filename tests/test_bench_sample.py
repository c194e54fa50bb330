"""bench-sample.py (roles/bench/files): its per-second series in server.json.

The sampler runs on the app host during each run. Here it samples a busy
child process of the test: its cgroup (unit_cgroup_dir) is a temporary folder
whose cgroup.procs lists that child, and systemd's figures are "[not set]", as
inside the test containers, so every figure comes from /proc. The series'
spacing and bound are checked on a fake clock (ProcSampler.keep).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchrun import ROOT, load_module

SAMPLER = ROOT / "roles" / "bench" / "files" / "bench-sample.py"
#: The existing fields of server.json, which the series must leave as they were.
TOTALS = ("unit", "cpu_ns_before", "cpu_ns_after", "cpu_source", "peak_rss_kib", "rss_source", "rss_samples")
#: Runs bench-sample.py's main() with the unit's cgroup and systemd's figures replaced (argv: the script,
#: the cgroup folder, then the sampler's own options).
RUNNER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("bench_sample", sys.argv[1])
sampler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sampler)
cgroup = sys.argv[2]
sampler.unit_cgroup_dir = lambda unit: cgroup
sampler.systemd_figures = lambda unit: {"CPUUsageNSec": None, "MemoryPeak": None}
sys.argv = [sys.argv[1], *sys.argv[3:]]
sys.exit(sampler.main())
"""
BUSY = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture()
def module() -> Any:
    return load_module(SAMPLER, "bench_sample")


def test_series_of_a_busy_process(tmp_path):
    """About one sample a second (t on the wall clock), cumulative CPU rising by about a core a second,
    the RSS of the process; the totals as before, and from the same /proc readings."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        cgroup = tmp_path / "cgroup"
        cgroup.mkdir()
        (cgroup / "cgroup.procs").write_text(f"{busy.pid}\n")
        out = tmp_path / "server.json"
        runner = tmp_path / "runner.py"
        runner.write_text(RUNNER)
        before = time.time()
        subprocess.run([sys.executable, str(runner), str(SAMPLER), str(cgroup), "--unit", "test.service",
                        "--out", str(out), "--max-seconds", "3.6", "--interval", "0.1"],
                       check=True, timeout=30)
        after = time.time()
    finally:
        busy.kill()
        busy.wait()
    server = json.loads(out.read_text())
    assert set(TOTALS) <= set(server) and server["cpu_source"] == "proc" and server["unit"] == "test.service"
    assert server["sample_every_s"] == 1.0 and server["samples_cpu_source"] == "proc"
    samples = server["samples"]
    assert 3 <= len(samples) <= 5, samples
    assert [set(s) for s in samples] == [{"t", "cpu_ns", "rss_kib"}] * len(samples)
    ts = [s["t"] for s in samples]
    assert before - 1 <= ts[0] and ts[-1] <= after
    assert all(b - a >= 0.99 for a, b in zip(ts, ts[1:])), ts
    cpu = [s["cpu_ns"] for s in samples]
    assert cpu == sorted(cpu) and cpu[0] >= server["cpu_ns_before"] and cpu[-1] <= server["cpu_ns_after"]
    # a busy loop: well over a tenth of a core in each second on a shared machine
    pcts = [100.0 * (b - a) / ((tb - ta) * 1e9) for a, b, ta, tb in zip(cpu, cpu[1:], ts, ts[1:])]
    assert all(10 < p <= 101 for p in pcts), pcts
    assert all(s["rss_kib"] > 1000 for s in samples) and server["peak_rss_kib"] >= max(s["rss_kib"] for s in samples)


def test_no_cgroup_no_series(module, monkeypatch):
    """Without the unit's cgroup there is nothing to sample: an empty series, not zeros."""
    monkeypatch.setattr(module, "unit_cgroup_dir", lambda unit: None)
    sampler = module.ProcSampler("gone.service")
    sampler.sample(baseline=True)
    sampler.sample()
    assert sampler.series == []


class Clock:
    """The sampler's time.monotonic and time.time, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_795_320_000.0 + self.now


def test_at_most_one_a_second_and_bounded(module, monkeypatch, tmp_path):
    """Readings every 0.25 s keep one a second; past MAX_SAMPLES every other one goes and the spacing
    doubles, so the series spans the whole run in a bounded size, its first (baseline) reading kept."""
    clock = Clock()
    monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=clock.monotonic, time=clock.time))
    monkeypatch.setattr(module, "MAX_SAMPLES", 8)
    monkeypatch.setattr(module, "unit_cgroup_dir", lambda unit: str(tmp_path))
    monkeypatch.setattr(module, "unit_pids", lambda top: {1})
    ticks = iter(range(10**6))
    monkeypatch.setattr(module, "proc_cpu_ticks", lambda pid: next(ticks))
    monkeypatch.setattr(module, "proc_rss_kib", lambda pid: 2048)
    sampler = module.ProcSampler("test.service")
    sampler.sample(baseline=True)
    for _ in range(4 * 6):  # 6 s of readings every 0.25 s
        clock.now += 0.25
        sampler.sample()
    ts = [s["t"] - clock.time() + clock.now for s in sampler.series]
    assert ts == pytest.approx([1000.0 + k for k in range(7)]) and sampler.every == 1.0
    for _ in range(4 * 20):  # 20 s more: thinned to keep at most 8
        clock.now += 0.25
        sampler.sample()
    ts = [s["t"] - clock.time() + clock.now for s in sampler.series]
    assert len(ts) <= 8 and ts[0] == pytest.approx(1000.0) and ts[-1] >= 1026.0 - sampler.every
    assert sampler.every == 4.0
    gaps = {round(b - a, 6) for a, b in zip(ts, ts[1:])}
    assert gaps <= {2.0, 4.0}, gaps
    cpu = [s["cpu_ns"] for s in sampler.series]
    assert cpu == sorted(cpu) and all(s["rss_kib"] == 2048 for s in sampler.series)
