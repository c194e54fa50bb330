"""The server's CPU and peak memory over the load window (benchreport.serverfigures, summary's records).

A recorded ab run (run-sample/uwsgi-seed: 50 requests answered) gets a
server.json with a series and a loadgen.json with the client's start and end,
written here so each figure can be worked out by hand; the rate sweep's
split run (rate-sweep/granian-tuned-rate100) has timeouts and two load hosts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchapp.modes import load_modes
from benchreport import knee, model, render, serverfigures, short, whattouse
from benchreport.html import resources
from benchreport.model import Record
from benchreport.summary import add_repeat_stats, build_summary
from benchrun import DATA

T0 = 1_795_320_000.0
#: (seconds after T0, cumulative CPU ms, summed RSS KiB): the baseline, the load from 0.35 s to 1.1 s, then
#: the sampler's run on to its stop (a high reading after the window: not the run's).
SERIES = [(0.0, 200, 30000), (0.25, 200, 30000), (0.5, 210, 40000), (0.75, 230, 41000), (1.0, 240, 42000),
          (1.25, 242, 30000), (5.0, 300, 90000)]
START, END = T0 + 0.35, T0 + 1.1


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def server_json(**more: Any) -> dict[str, Any]:
    """benchhost.sample's server.json of SERIES: 3 pids at 100 ticks a second."""
    return {"unit": "flask-uwsgi.service", "cpu_ns_before": 200_000_000, "cpu_ns_after": 300_000_000,
            "cpu_source": "proc", "peak_rss_kib": 90000, "rss_source": "proc", "rss_samples": 21,
            "memory_peak_kib": None, "started": T0 - 0.01, "ended": T0 + 5.01, "clk_tck": 100, "pids_read": 3,
            "samples": [{"t": T0 + t, "cpu_ns": cpu * 10**6, "rss_kib": rss} for t, cpu, rss in SERIES],
            "sample_every_s": 0.25, "samples_cpu_source": "proc", **more}


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """The ab run with the client's start and end at START and END (loadgen.json)."""
    run = tmp_path / "run"
    shutil.copytree(DATA / "run-sample" / "uwsgi-seed", run / "uwsgi-seed")
    loadgen = json.loads((run / "uwsgi-seed" / "loadgen.json").read_text())
    write(run / "uwsgi-seed" / "loadgen.json", {**loadgen, "started": START, "ended": END})
    return run


def record(run_dir: Path, server: dict[str, Any]) -> dict[str, Any]:
    write(run_dir / "uwsgi-seed" / "server.json", server)
    return build_summary(run_dir, load_modes())[0]


def test_cpu_is_the_load_windows_from_the_samples(run_dir):
    """Interpolated at the window's edges: at 0.35 s 40% of the way from 200 to 210 ms, at 1.1 s 40% from
    240 to 242 ms; not the sampler's 100 ms from before "go" to its stop."""
    rec = record(run_dir, server_json())
    assert rec["cpu_ms"] == pytest.approx(240.8 - 204.0)
    assert rec["cpu_window"] == {"from": START, "to": END, "s": 0.75, "source": "samples"}
    assert rec["cpu_source"] == "proc" and rec["cpu_divisor_requests"] == 50
    assert rec["cpu_ms_per_req"] == round(36.8 / 50, 3)
    # 2 ticks (10 ms) per pid read, 3 pids; the edges: 0.6 x 10 ms and 0.6 x 2 ms
    assert rec["cpu_ms_per_req_resolution"] == round((2 * 10 * 3 + 6.0 + 1.2) / 50, 3)
    assert rec["warnings"] == []


@pytest.mark.parametrize("earlier", [
    {"peak_rss_kib": 8 * 2**20, "rss_source": "systemd"},  # benchhost.sample before: MemoryPeak as the peak
    {"memory_peak_kib": 8 * 2**20},                         # now: kept aside
], ids=["old-server-json", "memory-peak-aside"])
def test_peak_memory_is_the_windows_not_the_units(run_dir, earlier):
    """systemd's MemoryPeak carries over from an earlier run of a kept mode (8 GiB here): the run's peak is
    the highest sample inside the load window (42000 KiB), not it nor the sampler's later 90000."""
    rec = record(run_dir, server_json(**earlier))
    assert rec["peak_rss_mib"] == round(42000 / 1024, 1) and rec["rss_source"] == "samples in the load window"


def test_a_window_shorter_than_the_spacing_takes_the_samples_around_it(run_dir):
    loadgen = json.loads((run_dir / "uwsgi-seed" / "loadgen.json").read_text())
    write(run_dir / "uwsgi-seed" / "loadgen.json", {**loadgen, "started": T0 + 0.55, "ended": T0 + 0.7})
    rec = record(run_dir, server_json())
    assert rec["peak_rss_mib"] == round(41000 / 1024, 1)
    assert rec["cpu_ms"] == pytest.approx(226.0 - 214.0) and rec["cpu_window"]["source"] == "samples"


def test_without_a_series_over_the_window_the_totals_say_so(run_dir):
    """The client ended after the sampler's last sample: the totals, over the sampler's run, and why."""
    loadgen = json.loads((run_dir / "uwsgi-seed" / "loadgen.json").read_text())
    write(run_dir / "uwsgi-seed" / "loadgen.json", {**loadgen, "ended": T0 + 6})
    rec = record(run_dir, server_json())
    assert rec["cpu_ms"] == 100.0 and rec["cpu_ms_per_req"] == 2.0
    assert rec["cpu_window"] == {"from": T0 - 0.01, "to": T0 + 5.01, "s": 5.02,
                                 "source": "totals (the samples do not span the load window)"}
    assert rec["cpu_ms_per_req_resolution"] == round(2 * 10 * 3 / 50, 3)
    assert rec["peak_rss_mib"] == round(90000 / 1024, 1) and rec["rss_source"] == "proc readings over the sampler's run"


def test_systemds_memory_peak_alone_is_not_reported(run_dir):
    """An older server.json without samples whose peak is systemd's MemoryPeak: no peak, and a warning."""
    rec = record(run_dir, {"unit": "u", "cpu_ns_before": 0, "cpu_ns_after": 10**8, "cpu_source": "systemd",
                           "peak_rss_kib": 8 * 2**20, "rss_source": "systemd"})
    assert rec["peak_rss_mib"] is None and rec["rss_source"] is None
    assert any("MemoryPeak" in w and "not reported as the run's" in w for w in rec["warnings"])
    assert rec["cpu_ms"] == 100.0 and rec["cpu_window"]["source"] == "totals (no samples in server.json)"
    assert rec["cpu_ms_per_req_resolution"] == 0.0  # systemd's µs steps: 2 µs over 50 requests


def test_rate_runs_count_from_the_first_due_time_and_divide_by_the_requests_the_server_had(tmp_path):
    """Two load hosts: from the earlier first due time to the later end; each part's 2 timeouts reached
    the server (it worked on them), so 396 answers + 4 = 400 requests."""
    run = tmp_path / "run"
    shutil.copytree(DATA / "rate-sweep" / "granian-tuned-rate100", run / "granian-tuned-rate100")
    parts = run / "granian-tuned-rate100" / "loadgen"
    due = {}
    for part in sorted(parts.iterdir()):
        rate = json.loads((part / "rate.json").read_text())
        started = json.loads((part / "loadgen.json").read_text())["started"]
        due[part.name] = started + 0.1 + 0.05 * len(due)
        write(part / "rate.json", {**rate, "first_due_at": due[part.name]})
    rec = build_summary(run, load_modes())[0]
    ended = max(json.loads((p / "loadgen.json").read_text())["ended"] for p in parts.iterdir())
    assert rec["cpu_window"]["source"] == "samples"
    assert (rec["cpu_window"]["from"], rec["cpu_window"]["to"]) == (min(due.values()), ended)
    assert rec["complete"] == 396 and rec["failed_detail"]["timeout"] == 4 and rec["cpu_divisor_requests"] == 400
    assert rec["cpu_ms_per_req"] == pytest.approx(rec["cpu_ms"] / 400, abs=0.001)


@pytest.mark.parametrize("client, detail, divisor", [
    ("ab", {"connect": 3, "receive": 2, "length": 1}, 10),   # ab counts receive and length errors in complete
    ("wrk", {"connect": 3, "read": 2, "write": 1, "timeout": 4}, 12),  # wrk's timeouts are late answers
    ("rate", {"connect": 3, "read": 2, "timeout": 4}, 16),
])
def test_the_divisor_is_the_requests_that_reached_the_server(client, detail, divisor):
    assert serverfigures.cpu_divisor(client, 10, detail) == divisor
    assert serverfigures.cpu_divisor(client, None, detail) is None


def test_report_html_share_of_a_core_is_over_the_cpu_window():
    """The CPU over its window's seconds, not over the client's shorter time."""
    rec = {"cpu_ms": 500.0, "time_taken_s": 0.5, "cpu_window": {"from": 0.0, "to": 2.0, "s": 2.0, "source": "totals"}}
    assert resources.core_share_pct(model.Record.from_dict(rec)) == 25.0
    assert resources.core_share_pct(model.Record.from_dict({**rec, "cpu_window": None})) is None


# -- CPU per request below its resolution: shown with it, never ranked on -----------------------------


def seed_like(mode: str, cpu: float, resolution: float | None) -> list[Record]:
    """A short seed run (n=10, c=5) of a mode: whole ticks of CPU over ten requests."""
    recs = [Record(mode=mode, profile="seed", client="ab", group="gevent", n=10, c=5, delay=1, route="/",
                   complete=10, failed=0, rps=4.5, p99_ms=1100.0, cpu_ms_per_req=cpu,
                   cpu_ms_per_req_resolution=resolution)]
    add_repeat_stats(recs)
    return recs


def test_report_md_shows_the_resolution_where_it_is_not_negligible():
    assert render.cpu_text(2.0, 1.0, 2) == "2.00 ± 1.00"
    assert render.cpu_text(2.0, 0.1, 2) == "2.00"  # 5%: negligible
    assert render.cpu_text(2.0, None, 2) == "2.00" and render.cpu_text(None, 1.0, 2) == "–"
    row = [r for r in render.markdown(seed_like("psycopg2", 2.0, 1.0), "r").splitlines()
           if r.startswith("| psycopg2")]
    assert row and "| 2.00 ± 1.00 |" in row[0]


def test_what_to_use_does_not_rank_cpu_figures_within_their_resolutions():
    """The seed's psycopg2 at 2 and 5 ms/request and the dev server at 4: whole 10 ms ticks over ten
    requests. 2.0 ± 2.0 beside 4.0 ± 2.0 is no margin; with exact figures (no resolution) it is 50%."""
    recs = seed_like("psycopg2", 2.0, 2.0) + seed_like("devserver", 4.0, 2.0)
    (setting,) = whattouse.settings(recs)
    cpu = next(p for p in setting.picks if p.metric.key == "cpu_ms_per_req")
    assert (cpu.best.name, cpu.next.name, cpu.noise) == ("psycopg2/seed", "devserver/seed", whattouse.WITHIN_RESOLUTION)
    assert whattouse.margin_text(cpu).startswith("no margin: within the two figures' resolutions")
    assert "| CPU ms/req | psycopg2/seed (gevent) | 2.000 ± 2.000 | devserver/seed (gevent) | 4.000 ± 2.000 |" \
        in render.markdown(recs, "r")
    assert "best by CPU    c=5: psycopg2/seed 2.000 ± 2.000 ms/request (devserver/seed within resolution)" in "\n".join(
        short.lines(recs, None))
    exact = seed_like("psycopg2", 2.0, None) + seed_like("devserver", 4.0, None)
    cpu = next(p for p in whattouse.settings(exact)[0].picks if p.metric.key == "cpu_ms_per_req")
    assert cpu.margin_pct == 50.0 and cpu.noise == whattouse.NO_ESTIMATE
    apart = seed_like("psycopg2", 2.0, 0.5) + seed_like("devserver", 4.0, 0.5)
    cpu = next(p for p in whattouse.settings(apart)[0].picks if p.metric.key == "cpu_ms_per_req")
    assert cpu.margin_pct == 50.0 and cpu.noise == whattouse.NO_ESTIMATE


def rate_record(mode: str, cpu: float, resolution: float | None) -> dict[str, Any]:
    return {"mode": mode, "profile": "tuned", "client": "rate", "rate": 50.0, "delay": 1, "route": "/",
            "p99_ms": 1100.0, "failed": 0, "cpu_ms_per_req": cpu, "cpu_ms_per_req_resolution": resolution,
            "rps": 50.0, "error": None, "expected": None}


def test_the_knees_tie_break_by_cpu_only_outside_the_resolutions():
    """Two knees at one rate: the lower CPU first when the difference is over their resolutions added,
    else in the groups' order."""
    within = knee.ranked(knee.knees(model.records([rate_record("a", 0.9, 0.2), rate_record("b", 0.7, 0.2)])))
    assert [k.mode for k in within] == ["a", "b"]
    apart = knee.ranked(knee.knees(model.records([rate_record("a", 0.9, 0.05), rate_record("b", 0.7, 0.05)])))
    assert [k.mode for k in apart] == ["b", "a"]
    # the figure the table shows is the knee's, with its resolution
    assert within[0].at_knee.cpu_ms_per_req_resolution == 0.2
    section = render.markdown(model.records([rate_record("a", 0.9, 0.2), rate_record("b", 0.7, 0.2)]), "r").split("## Knee")[1]
    assert "| 0.900 ± 0.200 |" in section
