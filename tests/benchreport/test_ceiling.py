"""ab's own ceiling, the steady rate after its lone first request, and the CPU split.

tests/data/benchreport/local-run is a real bench.yml run on the local test
containers (results/20261122T044935Z: n=2000 c=200 delay=1, the seed's flags,
three gevent modes, both profiles; ab.txt, ab.err, ab.csv as fetched, ab.tsv
gzipped, and the run's meta.json of then turned into run.json, loadgen.json,
server.json and outcome.json). The expected figures below are read off those files.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchhost.clients import ab as ab_client
from benchhost.clients.ab import TsvRow, ab_ceiling_rps, steady_throughput
from benchreport import model, render
from benchreport.summary import build_summary, cpu_stat_busy_pct
from benchrun import ROOT, edit_json

LOCAL_RUN = ROOT / "tests" / "data" / "benchreport" / "local-run"
MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"

# name: (ab's req/s, ab's time taken s, pct_of_ideal, pct_of_ceiling, steady_rps)
EXPECTED = {
    "gevent-pywsgi-seed": (150.77, 13.265, 75.4, 82.9, 163.16),
    "gevent-pywsgi-tuned": (168.89, 11.842, 84.4, 92.9, 184.99),
    "uwsgi-gevent-seed": (159.50, 12.539, 79.8, 87.7, 173.46),
    "uwsgi-gevent-tuned": (177.38, 11.275, 88.7, 97.6, 194.85),
    "gunicorn-gevent-seed": (149.72, 13.358, 74.9, 82.3, 162.06),
    "gunicorn-gevent-tuned": (174.87, 11.437, 87.4, 96.2, 191.81),
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """The captured run as bench.yml leaves it (ab.tsv unzipped)."""
    dest = tmp_path / "results" / "20261122T044935Z"
    shutil.copytree(LOCAL_RUN, dest)
    for gz in dest.glob("*/ab.tsv.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    return dest


@pytest.fixture
def records(run_dir: Path) -> list[dict]:
    return build_summary(run_dir, load_modes(MODES_FILE))


def by_name(records: list[dict]) -> dict[str, dict]:
    return {r["raw_dir"]: r for r in records}


# --------------------------------------------------------------------------
# The formula

def test_ceiling_formula_by_hand():
    # the seed's flags: 1 lone request + ceil(1999/200) = 10 rounds of 200 -> 11 s
    assert ab_ceiling_rps(2000, 200, 1) == pytest.approx(2000 / 11)
    assert 100 * ab_ceiling_rps(2000, 200, 1) / (200 / 1) == pytest.approx(90.909, abs=0.001)
    # the measured case: ab -n 20 -c 10 against a 1 s server takes 3 s, not 2
    assert ab_ceiling_rps(20, 10, 1) == pytest.approx(20 / 3)
    assert ab_ceiling_rps(21, 10, 0.5) == pytest.approx(21 / 1.5)  # 1 + 2 rounds
    assert ab_ceiling_rps(22, 10, 0.5) == pytest.approx(22 / 2.0)  # 1 + 3 rounds: 21 more need 3
    assert ab_ceiling_rps(1, 1, 2) == pytest.approx(0.5)
    assert ab_ceiling_rps(10, 1, 1) == pytest.approx(1.0)  # c=1: no loss, ideal is 1/s
    for n, c, d in ((2000, 200, 0), (None, 200, 1), (2000, None, 1), (0, 1, 1), (10, 0, 1), (10, 5, -1)):
        assert ab_ceiling_rps(n, c, d) is None


# --------------------------------------------------------------------------
# The real run

def test_the_captured_runs_show_the_lone_first_request(run_dir):
    """The fact the ceiling rests on, in every real run: one request in the first
    second, the next ones only after it answered, and no run faster than the bound."""
    for d in sorted(run_dir.iterdir()):
        run = ab_client.load_ab_run(d, requested=2000)
        per_second = Counter(r.seconds for r in run.tsv)
        seconds = sorted(per_second)
        assert per_second[seconds[0]] == 1, d.name
        first = next(r for r in run.tsv if r.seconds == seconds[0])
        assert first.ttime >= 1000  # the server's 1 s
        assert seconds[1] - seconds[0] >= 1  # nobody else started while it ran
        assert run.text.time_taken_s >= 1 * (1 + math.ceil(1999 / 200)) == 11
        assert run.text.rps <= ab_ceiling_rps(2000, 200, 1)


def test_ceiling_and_pct_of_ceiling_in_the_summary(records):
    recs = by_name(records)
    assert set(recs) == set(EXPECTED)
    for name, (rps, taken, pct_ideal, pct_ceiling, _) in EXPECTED.items():
        rec = recs[name]
        assert (rec["n"], rec["c"], rec["delay"], rec["complete"], rec["failed"]) == (2000, 200, 1, 2000, 0)
        assert (rec["rps"], rec["time_taken_s"]) == (rps, taken)
        assert rec["ideal_rps"] == 200.0 and rec["pct_of_ideal"] == pct_ideal  # unchanged definition
        assert rec["ab_ceiling_rps"] == 181.818 and rec["ab_ceiling_pct"] == 90.9
        assert rec["pct_of_ceiling"] == pct_ceiling == round(100 * rps / (2000 / 11), 1)
        # the two percentages are one ratio apart
        assert rec["pct_of_ceiling"] == pytest.approx(rec["pct_of_ideal"] / 0.90909, abs=0.1)


def test_a_capped_run_has_no_ceiling(run_dir, records):
    edit_json(run_dir / "uwsgi-gevent-tuned" / "run.json", n=5000)  # as if -n 5000 was asked and -t stopped ab at 2000
    rec = by_name(build_summary(run_dir, load_modes(MODES_FILE)))["uwsgi-gevent-tuned"]
    assert rec["capped"] is True
    assert rec["ab_ceiling_rps"] is None and rec["ab_ceiling_pct"] is None and rec["pct_of_ceiling"] is None
    assert rec["pct_of_ideal"] == 88.7
    assert "uwsgi-gevent/tuned (capped: ab stopped at its time limit)" in render.ceiling_note(
        model.records(build_summary(run_dir, load_modes(MODES_FILE))))


# --------------------------------------------------------------------------
# steady_rps

def test_steady_rps_on_the_captured_runs(run_dir, records):
    """Exact source: ab's total time minus the lone first request's time."""
    recs = by_name(records)
    for name, (_, taken, _, _, steady) in EXPECTED.items():
        rec = recs[name]
        run = ab_client.load_ab_run(run_dir / name, requested=2000)
        first = min(run.tsv, key=lambda r: r.seconds)
        span_s = taken - first.ttime / 1000
        assert rec["steady_rps_from"] == "first-request"
        assert rec["steady_rps"] == steady == round(1999 / span_s, 2)
        # the -g file's whole seconds agree within their resolution (+-1 s)
        s1 = min(r.seconds for r in run.tsv if r is not first)
        coarse_ms = max(r.seconds * 1000 + r.ttime for r in run.tsv) - s1 * 1000
        assert abs(coarse_ms - span_s * 1000) <= 1000
        # never above c/delay, and >= ab's own figure (the lone request is gone)
        assert rec["rps"] < rec["steady_rps"] <= 200


def rows_from(spec: list[tuple[int, int]]) -> list[TsvRow]:
    """TsvRows from (start second, ttime ms) pairs."""
    return [TsvRow("-", s, 0, t, t, t) for s, t in spec]


# ab -n 20 -c 10 against a 1 s server, as measured: 1 request, then 10, then 9
MEASURED_20_10 = [(100, 1005)] + [(101, 1003 + i) for i in range(10)] + [(102, 1004 + i) for i in range(9)]


def test_steady_rps_exact_on_a_tsv():
    s = steady_throughput(rows_from(MEASURED_20_10), 20, 3.044)
    assert s.source == "first-request"
    assert s.span_s == pytest.approx(3.044 - 1.005)
    assert s.rps == pytest.approx(19 / 2.039)
    # row order does not matter (ab writes the file sorted by total time)
    assert steady_throughput(rows_from(sorted(MEASURED_20_10, key=lambda x: -x[1])), 20, 3.044) == s


def test_steady_rps_is_null_rather_than_coarse_on_short_runs():
    # two requests in the earliest second: the lone first request cannot be told apart
    ambiguous = [(100, 300), (100, 301)] + [(101, 300)] * 18
    assert steady_throughput(rows_from(ambiguous), 20, 0.95) is None
    # ab's total time disagrees with the -g file (ends 2 s later than any row): not trusted
    assert steady_throughput(rows_from(MEASURED_20_10), 20, 5.5) is None
    # rows missing: the -g file does not hold every complete request
    assert steady_throughput(rows_from(MEASURED_20_10[:-1]), 20, 3.044) is None
    assert steady_throughput(None, 20, 3.044) is None
    assert steady_throughput(rows_from(MEASURED_20_10[:1]), 1, 1.005) is None  # nothing after the first


def test_steady_rps_falls_back_to_whole_seconds_on_long_runs():
    # 3 requests in the first second (no lone first request seen), then 30 s of traffic
    rows = [(100, 400)] * 3 + [(100 + k, 500) for k in range(1, 31) for _ in range(10)]
    s = steady_throughput(rows_from(rows), len(rows), None)
    end_ms = 130 * 1000 + 500
    assert s.source == "whole-seconds"
    assert s.span_s == pytest.approx((end_ms - 100 * 1000) / 1000)
    assert s.rps == pytest.approx((len(rows) - 1) / 30.5)
    # the same shape squeezed under 20 s is too coarse: null
    short = [(100, 400)] * 3 + [(100 + k, 500) for k in range(1, 15) for _ in range(10)]
    assert steady_throughput(rows_from(short), len(short), None) is None


# --------------------------------------------------------------------------
# ab's CPU vs the host's

def test_loadgen_cpu_is_abs_own_cpu_and_host_cpu_is_proc_stat(run_dir, records):
    for rec in records:
        lg = json.loads((run_dir / rec["raw_dir"] / "loadgen.json").read_text())
        assert rec["loadgen_cpu_pct"] == round(100 * lg["ab_cpu_ms"] / (rec["time_taken_s"] * 1000), 1)
        assert rec["host_cpu_pct"] == round(cpu_stat_busy_pct(lg["cpu_stat_before"], lg["cpu_stat_after"]), 1)
    rec = by_name(records)["uwsgi-gevent-tuned"]
    # ab: 227 ms of CPU in 11.275 s; the machine (both containers): 47.4% busy
    assert (rec["loadgen_cpu_pct"], rec["host_cpu_pct"]) == (2.0, 47.4)
    assert "ab_cpu_pct" not in rec  # one name for one figure


def test_ab_cpu_missing_or_busy(run_dir):
    for name, ab_cpu_ms in (("uwsgi-gevent-tuned", None), ("uwsgi-gevent-seed", 11_900)):
        edit_json(run_dir / name / "loadgen.json", ab_cpu_ms=ab_cpu_ms)
    records = build_summary(run_dir, load_modes(MODES_FILE))
    recs = by_name(records)
    assert recs["uwsgi-gevent-tuned"]["loadgen_cpu_pct"] is None
    assert recs["uwsgi-gevent-tuned"]["host_cpu_pct"] == 47.4  # independent of ab's figure
    assert recs["uwsgi-gevent-seed"]["loadgen_cpu_pct"] == round(100 * 11_900 / 12_539, 1) == 94.9
    notes = render.notes(model.records(records))
    assert "uwsgi-gevent/seed: ab used 94.9% of a core: the client may have set the pace" in notes
    assert not any(n.startswith("uwsgi-gevent/tuned: ab used") for n in notes)


# --------------------------------------------------------------------------
# The report

def test_report_shows_the_ceiling_once_with_its_numbers(run_dir, records):
    md = render.markdown(model.records(records), run_dir.name)
    head = next(ln for ln in md.splitlines() if ln.startswith("| mode"))
    cells = [c.strip() for c in head.strip("|").split("|")]
    assert cells[5:8] == ["req/s", "% of ideal", "% of ceiling"]
    assert "ab CPU %" in cells and "host CPU %" in cells and "loadgen CPU %" not in cells
    row = next(ln for ln in md.splitlines() if ln.startswith("| uwsgi-gevent | tuned"))
    # at 97.6% of ab's ceiling: client-limited (†), ab set the pace
    assert row.startswith("| uwsgi-gevent | tuned | 200 | 2000 | 1 | 177.38 † | 88.7 | 97.6 | 0 |")
    assert row.endswith("| 2.0 | 47.4 | 151.93 |")
    assert md.count("ab's ceiling:") == 1
    note = render.ceiling_note(model.records(records))
    assert note in md
    assert ("at n=2000 c=200 delay=1 s: at least 1 × (1 + ⌈1999/200⌉) = 11 s, "
            "so at most 181.82 req/s = 90.9% of ideal.") in note
    text = render.text_table(model.records(records))
    assert "% of ceiling" in text.splitlines()[0] and "97.6" in text


def test_ceiling_note_names_runs_when_flags_differ():
    base = {"profile": "tuned", "error": None, "capped": False}
    records = [
        {**base, "mode": "a", "n": 2000, "c": 200, "delay": 1, "ab_ceiling_rps": 181.818, "ab_ceiling_pct": 90.9},
        {**base, "mode": "b", "n": 400, "c": 100, "delay": 1, "ab_ceiling_rps": 80.0, "ab_ceiling_pct": 80.0},
        {**base, "mode": "c", "n": 50, "c": 5, "delay": 0, "ab_ceiling_rps": None, "ab_ceiling_pct": None},
        {**base, "mode": "d", "n": 10, "c": 5, "delay": 1, "ab_ceiling_rps": 3.333, "ab_ceiling_pct": 66.7,
         "error": "did not start"},
    ]
    note = render.ceiling_note(model.records(records))
    assert "= 11 s, so at most 181.82 req/s = 90.9% of ideal (a/tuned)" in note
    assert "at n=400 c=100 delay=1 s: at least 1 × (1 + ⌈399/100⌉) = 5 s, so at most 80.00 req/s = " \
           "80.0% of ideal (b/tuned)" in note
    assert "No ceiling for c/tuned (delay 0)." in note
    assert "d/tuned" not in note  # an error row has no throughput to compare
    assert render.ceiling_note(model.records(records[2:])) is None


def test_cli_prints_the_ceiling_and_charts_it(run_dir, records):
    proc = subprocess.run([sys.executable, "-m", "benchreport", str(run_dir), "--no-latest"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert render.ceiling_note(model.records(records)) in proc.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary == records
    assert (run_dir / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
