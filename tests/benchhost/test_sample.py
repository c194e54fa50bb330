"""benchhost.sample: its totals and its series in server.json.

The sampler runs on the app host during each run. Here it samples a busy
child process of the test, which burns a known amount of its own CPU: its
cgroup (unit_cgroup_dir) is a temporary folder whose cgroup.procs lists that
child, and systemd's CPU is "[not set]", as inside the test containers, so
every CPU figure comes from /proc. The series' spacing, bound and final
reading are checked on a fake clock (ProcSampler.keep).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchhost import sample as sampler_module
from benchrun import HOST_ENV

#: The existing fields of server.json, which the series must leave as they were.
TOTALS = ("unit", "cpu_ns_before", "cpu_ns_after", "cpu_source", "peak_rss_kib", "rss_source", "rss_samples")
#: Runs benchhost.sample's main() with the unit's cgroup and systemd's figures replaced (argv: a name for
#: the program, the cgroup folder, then the sampler's own options; $FAKE_MEMORY_PEAK: systemd's MemoryPeak, bytes).
RUNNER = """
import os, sys
from benchhost import sample as sampler
cgroup = sys.argv[2]
peak = os.environ.get("FAKE_MEMORY_PEAK")
sampler.unit_cgroup_dir = lambda unit: cgroup
sampler.systemd_figures = lambda unit: {"CPUUsageNSec": None, "MemoryPeak": int(peak) if peak else None}
sys.argv = [sys.argv[1], *sys.argv[3:]]
sys.exit(sampler.main())
"""
#: Says "ready" once started, burns BURN_S of its own CPU when a line comes, says how much it burned,
#: then waits (no CPU) for a line to exit: its CPU during the sampling is known to the tick.
BURNER = """
import sys, time
print("ready", flush=True)
sys.stdin.readline()
start = time.process_time()
while time.process_time() - start < float(sys.argv[1]):
    pass
print(time.process_time() - start, flush=True)
sys.stdin.readline()
"""
BURN_S = 0.6
#: The tick /proc counts CPU in; utime and stime are each truncated to one, so a pid's CPU read from
#: /proc is under its true figure by less than 2 ticks.
TICK_NS = 10**9 // os.sysconf("SC_CLK_TCK")
#: A test's bound on waits for an event that comes within a second on an idle machine.
EVENT_WAIT_S = 30.0


@pytest.fixture()
def module() -> Any:
    return sampler_module


def sample_a_burner(tmp_path: Path, interval: str = "0.05", memory_peak: int | None = None) -> tuple[dict, float]:
    """server.json of a sampler run around a process that burned BURN_S of CPU between the sampler's first
    reading and its stop (each step waits for its event, not for a time), and the CPU the process says it
    burned (s)."""
    burner = subprocess.Popen([sys.executable, "-c", BURNER, str(BURN_S)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    sampler = None
    try:
        assert burner.stdout.readline() == "ready\n"  # its start-up CPU is spent before the baseline
        cgroup = tmp_path / "cgroup"
        cgroup.mkdir()
        (cgroup / "cgroup.procs").write_text(f"{burner.pid}\n")
        out, ready, stop = tmp_path / "server.json", tmp_path / "ready", tmp_path / "stop"
        runner = tmp_path / "runner.py"
        runner.write_text(RUNNER)
        env = {**HOST_ENV, "FAKE_MEMORY_PEAK": str(memory_peak or "")}
        sampler = subprocess.Popen([sys.executable, str(runner), "benchhost.sample", str(cgroup),
                                    "--unit", "test.service",
                                    "--out", str(out), "--interval", interval, "--ready-file", str(ready),
                                    "--stop-file", str(stop), "--max-seconds", str(EVENT_WAIT_S)], env=env)
        until = time.monotonic() + EVENT_WAIT_S
        while not ready.exists() and sampler.poll() is None and time.monotonic() < until:
            time.sleep(0.01)
        assert ready.exists(), "the sampler took no first reading"
        burner.stdin.write("go\n")
        burner.stdin.flush()
        burned = float(burner.stdout.readline())
        stop.touch()
        assert sampler.wait(EVENT_WAIT_S) == 0
    finally:
        burner.kill()
        burner.wait()
        if sampler is not None and sampler.poll() is None:
            sampler.kill()
            sampler.wait()
    return json.loads(out.read_text()), burned


def test_series_of_a_process_that_burns_cpu(tmp_path):
    """A sample every sample_every_s (t on the wall clock) from the baseline to the final reading, the
    cumulative CPU the totals' own readings and the process's CPU to within /proc's ticks, its RSS."""
    before = time.time()
    server, burned = sample_a_burner(tmp_path)
    after = time.time()
    assert set(TOTALS) <= set(server) and server["cpu_source"] == "proc" and server["unit"] == "test.service"
    assert server["sample_every_s"] == 0.25 and server["samples_cpu_source"] == "proc"
    samples = server["samples"]
    assert len(samples) >= 2, samples  # the baseline and the final reading at least
    assert [set(s) for s in samples] == [{"t", "cpu_ns", "rss_kib"}] * len(samples)
    ts = [s["t"] for s in samples]
    assert before <= server["started"] <= ts[0] and ts[-1] <= server["ended"] <= after
    # kept at most one per sample_every_s (t rounded to the ms), then the final reading whenever it came
    assert all(b - a >= 0.25 - 0.001 for a, b in zip(ts, ts[1:-1])) and ts[-1] >= ts[-2], ts
    cpu = [s["cpu_ns"] for s in samples]
    # the series and the totals are the same readings: the first is the baseline, the last the final one
    assert cpu == sorted(cpu) and (cpu[0], cpu[-1]) == (server["cpu_ns_before"], server["cpu_ns_after"])
    # all the process's CPU between the two readings, to within /proc's ticks: the kernel charges a
    # whole tick to the task it finds running, so a reading may be a tick over as well as under (seen:
    # 610 ms for 600.0 on a loaded machine); plus reading "go" and writing its answer
    assert burned * 1e9 - 2 * TICK_NS < cpu[-1] - cpu[0] <= burned * 1e9 + TICK_NS + 0.005e9
    assert server["clk_tck"] == os.sysconf("SC_CLK_TCK") and server["pids_read"] == 1
    assert all(s["rss_kib"] > 1000 for s in samples) and server["peak_rss_kib"] >= max(s["rss_kib"] for s in samples)
    assert server["rss_source"] == "proc" and server["memory_peak_kib"] is None


def test_systemds_memory_peak_is_not_the_runs(tmp_path):
    """systemd's MemoryPeak is the unit's since it started (a kept mode carries an earlier run's over):
    server.json keeps it aside as memory_peak_kib; peak_rss_kib is the sampler's own readings' highest."""
    server, _ = sample_a_burner(tmp_path, memory_peak=8 * 2**30)
    assert server["memory_peak_kib"] == 8 * 2**20
    assert server["rss_source"] == "proc" and 1000 < server["peak_rss_kib"] < 2**20
    assert server["peak_rss_kib"] == max(s["rss_kib"] for s in server["samples"])


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


def fake_sampler(module: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: Clock) -> Any:
    """A ProcSampler of one pid on the fake clock, its CPU one tick more at each reading, 2 MiB of RSS."""
    monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=clock.monotonic, time=clock.time))
    monkeypatch.setattr(module, "unit_cgroup_dir", lambda unit: str(tmp_path))
    monkeypatch.setattr(module, "unit_pids", lambda top: {1})
    ticks = iter(range(10**6))
    monkeypatch.setattr(module, "proc_cpu_ticks", lambda pid: next(ticks))
    monkeypatch.setattr(module, "proc_rss_kib", lambda pid: 2048)
    return module.ProcSampler("test.service")


def test_at_most_one_a_second_and_bounded(module, monkeypatch, tmp_path):
    """With a spacing of 1 s, readings every 0.25 s keep one a second; past MAX_SAMPLES every other one
    goes and the spacing doubles, so the series spans the whole run in a bounded size, its first
    (baseline) reading kept."""
    clock = Clock()
    monkeypatch.setattr(module, "SAMPLE_EVERY_S", 1.0)
    monkeypatch.setattr(module, "MAX_SAMPLES", 8)
    sampler = fake_sampler(module, monkeypatch, tmp_path, clock)
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


def test_every_reading_at_the_default_interval_is_kept(module, monkeypatch, tmp_path):
    """SAMPLE_EVERY_S is the default --interval (0.25 s): a short run's window has samples in and around it."""
    clock = Clock()
    sampler = fake_sampler(module, monkeypatch, tmp_path, clock)
    sampler.sample(baseline=True)
    for _ in range(8):  # 2 s of readings every 0.25 s
        clock.now += 0.25
        sampler.sample()
    ts = [s["t"] - clock.time() + clock.now for s in sampler.series]
    assert ts == pytest.approx([1000.0 + 0.25 * k for k in range(9)]) and sampler.every == 0.25


def test_the_final_reading_closes_the_series(module, monkeypatch, tmp_path):
    """The reading taken once stopped is kept however soon after the last sample it comes (the load ended
    just before the stop: the series must reach past it), and survives a thinning it sets off."""
    clock = Clock()
    monkeypatch.setattr(module, "MAX_SAMPLES", 5)
    sampler = fake_sampler(module, monkeypatch, tmp_path, clock)
    sampler.sample(baseline=True)
    clock.now += 0.25
    sampler.sample()
    clock.now += 0.1
    sampler.sample(last=True)
    ts = [s["t"] - clock.time() + clock.now for s in sampler.series]
    assert ts == pytest.approx([1000.0, 1000.25, 1000.35])
    assert sampler.series[-1]["cpu_ns"] == sum(sampler.last.values()) * 10**9 // module.CLK_TCK
    for _ in range(2):
        clock.now += 0.25
        sampler.sample()
    clock.now += 0.05
    sampler.sample(last=True)  # the 6th sample: over MAX_SAMPLES, thinned, where every other one would drop it
    ts = [s["t"] - clock.time() + clock.now for s in sampler.series]
    assert ts == pytest.approx([1000.0, 1000.35, 1000.85, 1000.9]) and sampler.every == 0.5
