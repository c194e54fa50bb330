"""Sample a systemd unit's CPU time and memory while a bench runs.

Runs on the app host with the system Python (stdlib only). Writes one JSON
object to --out when stopped (SIGTERM/SIGINT, --stop-file appearing, or after --max-seconds):

    {"unit", "cpu_ns_before", "cpu_ns_after", "cpu_source", "peak_rss_kib",
     "rss_source", "rss_samples", "memory_peak_kib", "started", "ended",
     "clk_tck", "pids_read",
     "samples": [{"t": 1795320598.25, "cpu_ns": 250000000, "rss_kib": 33864}, ...],
     "sample_every_s": 0.25, "samples_cpu_source": "proc"}

cpu_ns_before/after are taken at the sampler's first and last readings
(started and ended: the wall clock, Unix s, before the first and after the
last): systemd's CPUUsageNSec where it is set (cpu_source "systemd");
inside containers without cgroup v2 controllers it reads "[not set]", so
the sum over the pids of the unit's cgroup, read from /proc (cpu_source
"proc"). peak_rss_kib is the highest summed VmRSS of those pids over the
sampler's readings (rss_source "proc"; rss_samples: how many), its whole
life: from before "go" to after every load host is done. memory_peak_kib
is systemd's MemoryPeak / 1024 (null where not set): the unit's peak since
it started, which carries over from earlier runs while a mode is kept
running, so it is not the run's.

clk_tck is the tick /proc counts CPU in (utime and stime, each truncated to
a tick); pids_read how many pids the sampler read over its life. A CPU
difference from /proc is exact to within 2 ticks per pid (utime and stime
are truncated separately at each reading): benchreport.serverfigures
bounds the report's CPU per request with them.

samples is the run as a series, for the report's load window and its
timeline: t is the wall clock (Unix seconds, ms precision: it lines up with
the clients' own timestamps), cpu_ns the unit's pids' cumulative CPU
(utime + stime from /proc, whatever cpu_source the totals have: /proc is
read every --interval anyway, where systemd's counter would cost a
systemctl call per reading) and rss_kib their summed VmRSS. The first is
the baseline reading (before "go"), then at most one every sample_every_s
(SAMPLE_EVERY_S, 0.25 s), and the last reading always (taken once stopped,
after the load hosts are done: the series spans the load). At most
MAX_SAMPLES are kept: past that every other one is dropped and
sample_every_s doubles, so a long run keeps its whole span in a bounded
file. Empty when the unit's cgroup was not found.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
CGROUP_ROOTS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup", "/sys/fs/cgroup/unified")
#: The series' spacing (at most one sample per this many seconds) and its bound (then thinned). The
#: report takes the server's CPU and peak memory over the load window from the series, interpolating
#: at the window's edges: a short run (n=10 lasts well under a second) needs samples that close
#: around and inside it. 0.25 s is the default --interval, so every reading is kept, and 3600 of
#: them cover 15 minutes before the first thinning.
SAMPLE_EVERY_S = 0.25
MAX_SAMPLES = 3600


def systemd_figures(unit):
    out = subprocess.run(["systemctl", "show", "-p", "CPUUsageNSec", "-p", "MemoryPeak",
                          "-p", "MemoryCurrent", unit], capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        values[key] = int(value) if value.isdigit() else None
    return values


def unit_cgroup_dir(unit):
    """The unit's cgroup folder, as this host's /sys/fs/cgroup shows it.

    Inside a container the cgroup tree may show the host's whole hierarchy
    (/sys/fs/cgroup/systemd/libpod_parent/<id>/system.slice/...), so read
    the path from the main process's /proc/<pid>/cgroup rather than guess it.
    """
    props = {}
    out = subprocess.run(["systemctl", "show", "-p", "MainPID", "-p", "ControlGroup", unit],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        key, _, value = line.partition("=")
        props[key] = value
    candidates = []
    pid = props.get("MainPID", "0")
    if pid.isdigit() and pid != "0":
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                for line in fh:
                    _hier, controllers, path = line.rstrip("\n").split(":", 2)
                    if controllers == "name=systemd":
                        candidates.append("/sys/fs/cgroup/systemd" + path)
                    elif controllers == "":
                        candidates += ["/sys/fs/cgroup" + path, "/sys/fs/cgroup/unified" + path]
        except OSError:
            pass
    group = props.get("ControlGroup", "")
    if group:
        candidates += [root + group for root in CGROUP_ROOTS]
    for path in candidates:
        if os.path.isfile(os.path.join(path, "cgroup.procs")):
            return path
    return None


def unit_pids(top):
    """Every pid in the cgroup folder and below it."""
    pids = set()
    if top is None:
        return pids
    for path, _dirs, files in os.walk(top):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(path, "cgroup.procs")) as fh:
                    pids.update(int(p) for p in fh.read().split())
            except OSError:
                continue
    return pids


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class ProcSampler:
    """CPU ticks per pid (first and last seen), the peak of the summed RSS and the per-second series."""

    def __init__(self, unit):
        self.cgroup = unit_cgroup_dir(unit)
        self.first = {}
        self.last = {}
        self.peak_rss = 0
        self.samples = 0
        self.series = []
        self.every = SAMPLE_EVERY_S
        self.kept_at = None  # time.monotonic() of the series' last sample

    def sample(self, baseline=False, last=False):
        """Read every pid of the unit; last: the final reading, kept in the series whatever its spacing."""
        rss = 0
        for pid in unit_pids(self.cgroup):
            try:
                ticks = proc_cpu_ticks(pid)
                rss += proc_rss_kib(pid)
            except (OSError, ValueError, IndexError):
                continue  # exited between listing and reading
            # A pid first seen after the start was born during the run: from 0.
            self.first.setdefault(pid, ticks if baseline else 0)
            self.last[pid] = ticks
        self.peak_rss = max(self.peak_rss, rss)
        self.samples += 1
        if self.cgroup is not None:
            self.keep(rss, force=last)

    def keep(self, rss_kib, force=False):
        """Add this reading to the series when the last one is sample_every_s old (or force); thin it past
        MAX_SAMPLES."""
        now = time.monotonic()
        if not force and self.kept_at is not None and now - self.kept_at < self.every:
            return
        self.kept_at = now
        cpu_ns = sum(self.last.values()) * 10**9 // CLK_TCK
        self.series.append({"t": round(time.time(), 3), "cpu_ns": cpu_ns, "rss_kib": rss_kib})
        if len(self.series) > MAX_SAMPLES:
            newest = self.series[-1]
            self.series = self.series[::2]  # the first (baseline) stays; evenly spaced again
            if force and self.series[-1] is not newest:
                self.series.append(newest)  # the final reading closes the series
            self.every *= 2

    def cpu_ns(self):
        before = sum(self.first.values()) * 10**9 // CLK_TCK
        after = sum(self.last.values()) * 10**9 // CLK_TCK
        return before, after


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--unit", required=True)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--stop-file", help="stop once this file exists")
    parser.add_argument("--ready-file", help="created once the first reading is taken")
    args = parser.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    started = time.time()
    sysd_before = systemd_figures(args.unit)
    sampler = ProcSampler(args.unit)
    sampler.sample(baseline=True)
    if args.ready_file:
        open(args.ready_file, "w").close()
    deadline = time.monotonic() + args.max_seconds
    while not stop and time.monotonic() < deadline:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        time.sleep(args.interval)
        sampler.sample()
    # stopped once the load hosts are done: this reading closes the series after the load window
    sampler.sample(last=True)
    sysd_after = systemd_figures(args.unit)
    ended = time.time()

    result = {"unit": args.unit}
    if sysd_before.get("CPUUsageNSec") is not None and sysd_after.get("CPUUsageNSec") is not None:
        result.update(cpu_ns_before=sysd_before["CPUUsageNSec"], cpu_ns_after=sysd_after["CPUUsageNSec"],
                      cpu_source="systemd")
    else:
        before, after = sampler.cpu_ns()
        result.update(cpu_ns_before=before, cpu_ns_after=after, cpu_source="proc")
    # systemd's MemoryPeak is the unit's since it started (a kept mode carries it over): kept aside
    result.update(peak_rss_kib=sampler.peak_rss or None, rss_source="proc", rss_samples=sampler.samples)
    peak = sysd_after.get("MemoryPeak")
    result.update(memory_peak_kib=None if peak is None else peak // 1024, started=round(started, 3),
                  ended=round(ended, 3), clk_tck=CLK_TCK, pids_read=len(sampler.last))
    result.update(samples=sampler.series, sample_every_s=sampler.every, samples_cpu_source="proc")
    with open(args.out + ".tmp", "w") as fh:
        json.dump(result, fh)
    os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
