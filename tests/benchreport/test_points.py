"""Repetitions in the report: ab and wrk paired per point and repetition, chart.png one bar per point.

Built from tests/data/benchreport/clients-run's uwsgi runs (ab and wrk, n=400
c=10 delay 0.05): each repetition is a copy, its client's figures scaled so
that the repetitions differ (ab.txt's time taken and req/s, wrk.json's
duration).
"""

from __future__ import annotations

import shutil
import statistics
import struct
from pathlib import Path

from benchreport import model, render
from benchreport.summary import build_summary
from benchrun import ROOT, edit_json

CLIENTS_RUN = ROOT / "tests" / "data" / "benchreport" / "clients-run"
AB_TIME, AB_RPS = 2.155, 185.62


def repetition(run_dir: Path, client: str, k: int, slower: float, **point) -> Path:
    """Repetition k of the uwsgi point with `client`, its time taken `slower` times the recorded one."""
    source = CLIENTS_RUN / ("uwsgi-tuned" if client == "ab" else "uwsgi-tuned-wrk")
    folder = run_dir / f"uwsgi-{client}-{k}-{point.get('c', 10)}"
    shutil.copytree(source, folder)
    edit_json(folder / "run.json", repetition=k, repeats=2, name=folder.name, **point)
    if slower == 1.0:
        return folder
    if client == "ab":
        text = (folder / "ab.txt").read_text()
        text = text.replace(f"Time taken for tests:   {AB_TIME} seconds",
                            f"Time taken for tests:   {AB_TIME * slower:.3f} seconds")
        text = text.replace(f"Requests per second:    {AB_RPS}", f"Requests per second:    {400 / (AB_TIME * slower):.2f}")
        (folder / "ab.txt").write_text(text)
    else:
        data = edit_json(folder / "wrk.json")
        edit_json(folder / "wrk.json", duration_us=int(data["duration_us"] * slower))
    return folder


def two_repetitions(run_dir: Path) -> list[dict]:
    repetition(run_dir, "ab", 1, 1.0)
    repetition(run_dir, "ab", 2, 2.0)
    repetition(run_dir, "wrk", 1, 1.0)
    repetition(run_dir, "wrk", 2, 1.5)
    return build_summary(run_dir, {})


def test_clients_are_compared_per_repetition(tmp_path):
    records = model.records(two_repetitions(tmp_path / "r"))
    by = {(r.client, r.repetition): r for r in records}
    assert by[("ab", 1)].rps == AB_RPS and by[("ab", 2)].rps == round(400 / (AB_TIME * 2), 2)
    rows = render.compared(records)
    assert [(row.mode, row.repetition) for row in rows] == [("uwsgi", 1), ("uwsgi", 2)]
    for row in rows:
        k = row.repetition
        assert row.ab is by[("ab", k)] and row.wrk is by[("wrk", k)]
        assert row.ratio == by[("wrk", k)].rps / by[("ab", k)].rps
    assert rows[0].agree is True  # 192.15 vs 185.62
    assert rows[1].agree is False and rows[1].ratio > 1.3  # wrk 1.5 x slower, ab 2 x
    table = render.compare_table(records).splitlines()
    assert table[0].startswith("| mode | profile | rep | c | n |")
    assert len(table) == 2 + 2
    assert table[2].startswith("| uwsgi | tuned | 1 | 10 | 400 |") and "agree" in table[2]
    assert table[3].startswith("| uwsgi | tuned | 2 | 10 | 400 |") and "**differ by" in table[3]


def test_points_differing_in_c_are_not_paired(tmp_path):
    run_dir = tmp_path / "r"
    repetition(run_dir, "ab", 1, 1.0)
    repetition(run_dir, "wrk", 1, 1.0, c=20)  # another point: no pair for either
    records = build_summary(run_dir, {})
    assert render.compared(model.records(records)) == [] and render.compare_table(model.records(records)) is None


def test_chart_has_one_bar_per_point_with_the_repetitions_range(tmp_path):
    records = two_repetitions(tmp_path / "r")
    bars = render.chart_bars(model.records(records))
    assert [(b.x, b.series, len(b.counted)) for b in bars] == [(0, "tuned ab", 2), (0, "tuned wrk", 2)]
    for bar in bars:
        pcts = [r.pct_of_ideal for r in bar.records]
        assert (bar.pct, bar.min_pct, bar.max_pct) == (statistics.median(pcts), min(pcts), max(pcts))
        assert bar.min_pct < bar.max_pct
        assert bar.rps == statistics.median(r.rps for r in bar.records)
    out = tmp_path / "chart.png"
    render.chart(model.records(records), out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24])[0] >= 800


def test_a_sweep_gets_a_position_per_point(tmp_path):
    run_dir = tmp_path / "r"
    for c in (10, 20):
        repetition(run_dir, "ab", 1, 1.0, c=c)
        repetition(run_dir, "ab", 2, 1.2, c=c)
    records = build_summary(run_dir, {})
    groups = render.chart_groups(model.records(records))
    assert [label for label, _ in groups] == ["uwsgi\nc=10 n=400 delay=0.05", "uwsgi\nc=20 n=400 delay=0.05"]
    assert [len(recs) for _, recs in groups] == [2, 2]
    assert [(b.x, len(b.counted)) for b in render.chart_bars(model.records(records))] == [(0, 2), (1, 2)]
    render.chart(model.records(records), tmp_path / "chart.png")
    # a mode at one point keeps its plain label
    single = build_summary(CLIENTS_RUN, {})
    assert [label for label, _ in render.chart_groups(model.records(single))] == ["gunicorn", "uwsgi"]
