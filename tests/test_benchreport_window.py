"""benchreport.window: CPU over a run's load window from a sampler's series, and the requests it divides by."""

from __future__ import annotations

import pytest

from benchreport import window
from benchreport.runfiles import Sample

MS = 1_000_000  # ns


def series(*points: tuple[float, int]) -> list[Sample]:
    return [Sample(t, cpu_ms * MS, None) for t, cpu_ms in points]


def test_the_window_is_interpolated_between_the_samples_around_its_edges():
    # 100 ms of CPU per second from t=100 to 104, then 300 ms/s
    samples = series((100, 0), (101, 100), (102, 200), (103, 300), (104, 400), (105, 700))
    got = window.cpu_in_window(samples, 101.5, 104.5)
    # from 150 ms (half-way 101..102) to 550 ms (half-way 104..105)
    assert got is not None and got.cpu_ms == pytest.approx(400.0)
    assert got.window_s == 3.0 and got.covered_s == 3.0
    # a window inside one pair of samples
    assert window.cpu_in_window(samples, 104.25, 104.75).cpu_ms == pytest.approx(150.0)


def test_an_edge_just_outside_the_series_is_clamped_further_out_nothing():
    samples = series((100, 0), (101, 100), (102, 200))
    clamped = window.cpu_in_window(samples, 99.5, 102.4, slack_s=1.0)
    assert clamped.cpu_ms == pytest.approx(200.0) and clamped.covered_s == pytest.approx(2.0)
    assert window.cpu_in_window(samples, 98.0, 102.0, slack_s=1.0) is None
    assert window.cpu_in_window(samples, 100.0, 103.5, slack_s=1.0) is None
    assert window.cpu_in_window(samples[:1], 100.0, 100.5) is None
    assert window.cpu_in_window(samples, 101.0, 101.0) is None
    assert window.cpu_in_window(samples, None, 101.0) is None


def test_a_counter_that_went_back_in_the_window_gives_nothing():
    samples = series((100, 0), (101, 100), (102, 50), (103, 150))
    assert window.cpu_in_window(samples, 100.0, 103.0) is None
    # outside the window it does not matter
    assert window.cpu_in_window(samples, 102.0, 103.0).cpu_ms == pytest.approx(100.0)


def test_a_sampler_file_and_its_step():
    upstream = {"samples": [{"t": 10.0, "cpu_ns": 0, "rss_kib": 1}, {"t": 12.0, "cpu_ns": 40 * MS, "rss_kib": 1},
                            {"t": 14.0, "cpu_ns": 80 * MS, "rss_kib": 1}], "sample_every_s": 2.0}
    assert window.series_slack(upstream) == 2.0 + window.SLACK_S
    assert window.series_slack({}) == 1.0 + window.SLACK_S
    # 2.4 s before the first sample is within a 2 s step + 0.5 s
    assert window.unit_cpu_in_window(upstream, 7.6, 13.0).cpu_ms == pytest.approx(60.0)
    assert window.unit_cpu_in_window({"samples": None}, 10.0, 12.0) is None


def test_the_load_window_of_the_parts():
    parts = [{"started": 100.2, "ended": 110.0}, {"started": 100.1, "ended": 111.5}]
    assert window.load_window(parts) == (100.1, 111.5)
    # a rate run starts at its first due time, not the client's start
    assert window.load_window(parts, [{"first_due_at": 100.6}, {"first_due_at": 100.5}, None]) == (100.5, 111.5)
    assert window.load_window([{}]) == (None, None)


def test_the_requests_the_server_worked_on():
    # connect errors were never seen by the server; timeouts and read errors were
    assert window.requests_worked_on(100, {"connect": 5, "read": 2, "timeout": 3, "non_2xx": 4}) == 105
    assert window.requests_worked_on("20", None) == 20
    assert window.requests_worked_on(None, {"read": 1}) is None
    assert window.per_request(105.0, 105) == 1.0
    assert window.per_request(1.0, 0) is None and window.per_request(None, 3) is None
