"""Failed requests in summary.json: `failed` checked against its kinds (failed_detail), and a p99 that
leaves failed requests out marked as a lower bound (p99_lower_bound).

The run folders are the recorded and hand-built fixtures under tests/data/benchreport, copied and edited
where a test needs the client's counts to disagree.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from benchreport import fmt, model
from benchreport.model import Record
from benchreport.summary import build_summary, failed_mismatch
from benchrun import DATA


def one(run_dir: Path, raw_dir: str) -> dict:
    return next(r for r in build_summary(run_dir, {}) if r["raw_dir"] == raw_dir)


def copied(tmp_path: Path, source: Path) -> Path:
    """tmp_path/run/<source's name>: a run of that one folder."""
    shutil.copytree(source, tmp_path / "run" / source.name)
    return tmp_path / "run"


def test_ab_failed_that_its_kinds_do_not_add_up_to_is_a_warning(tmp_path):
    run = copied(tmp_path, DATA / "ab" / "length")
    assert not [w for w in one(run, "length")["warnings"] if w.startswith("failed is")]  # 20 = length 20
    text = (run / "length" / "ab.txt").read_text()
    (run / "length" / "ab.txt").write_text(re.sub(r"Failed requests:\s+20", "Failed requests:        23", text))
    rec = one(run, "length")
    assert rec["failed"] == 23
    assert ("failed is 23 but its kinds add up to 20 (connect 0, receive 0, length 20, exceptions 0, non_2xx 0): "
            "the client's counts disagree, the failed figure is the client's total") in rec["warnings"]


def test_ab_write_errors_are_not_in_failed():
    """ab counts a failed write apart ("Write errors") and again as a length or receive failure."""
    rec = Record(mode="m", profile="p", client="ab", failed=5,
                 failed_detail={"connect": 0, "receive": 0, "length": 5, "exceptions": 0, "non_2xx": 0, "write": 5})
    assert failed_mismatch(rec) is None


def test_rate_failed_that_its_kinds_do_not_add_up_to_is_a_warning(tmp_path):
    run = copied(tmp_path, DATA / "rate-sweep" / "granian-tuned-rate150")
    path = run / "granian-tuned-rate150" / "rate.json"
    data = json.loads(path.read_text())
    data["failed"] = 30  # 24 timeouts, 0 non-2xx
    path.write_text(json.dumps(data))
    rec = one(run, "granian-tuned-rate150")
    assert rec["failed"] == 30
    assert ("failed is 30 but its kinds add up to 24 (connect 0, read 0, timeout 24, non_2xx 0): the client's "
            "counts disagree, the failed figure is the client's total") in rec["warnings"]


def test_wrk_failed_that_its_kinds_do_not_add_up_to_is_a_warning():
    """wrk's own failed is its kinds summed (benchhost.clients.wrk), so its files cannot disagree; a record that does (a
    merge, another parser) is warned of all the same."""
    detail = {"connect": 0, "read": 0, "write": 0, "timeout": 9, "non_2xx": 21}
    assert failed_mismatch(Record(mode="m", profile="p", client="wrk", failed=30, failed_detail=detail)) is None
    assert failed_mismatch(Record(mode="m", profile="p", client="wrk", failed=31, failed_detail=detail)) == (
        "failed is 31 but its kinds add up to 30 (connect 0, read 0, write 0, timeout 9, non_2xx 21): the "
        "client's counts disagree, the failed figure is the client's total")


def test_no_fixture_disagrees():
    for run in (DATA / "run-sample", DATA / "wrk", DATA / "ab", DATA / "rate-sweep", DATA / "local-run"):
        for rec in build_summary(run, {}):
            assert not [w for w in rec["warnings"] if w.startswith("failed is")], rec["raw_dir"]


@pytest.mark.parametrize("run, raw_dir, bound", [
    ("rate-sweep", "granian-tuned-rate150", True),   # 24 timeouts: not in the percentiles
    ("rate-sweep", "granian-tuned-rate100", True),   # merged parts: 4 timeouts
    ("rate-sweep", "uwsgi-gevent-tuned-rate150", False),  # nothing failed
    ("wrk", "errors", True),                          # 9 timeouts (and 21 non-2xx, timed)
    ("run-sample", "gunicorn-seed", False),           # 20 non-2xx answers: timed
    ("run-sample", "gunicorn-tuned", True),           # receive and exceptions: 0 ms in ab's -g file
    ("ab", "length", False),                          # 20 answers of another length: timed
])
def test_a_p99_without_its_failed_requests_is_a_lower_bound(run, raw_dir, bound):
    rec = one(DATA / run, raw_dir)
    assert rec["p99_ms"] is not None
    assert rec["p99_lower_bound"] is bound


def test_report_md_marks_a_lower_bound_p99_and_explains_it():
    """report.md (and report.html's table, the terminal's: render's columns): ≥ before the p99, a footnote
    under the table, a note for the run; ≶ when it is an upper bound too; the ≤ mark stays."""
    from benchreport import render

    records = build_summary(DATA / "rate-sweep", {})
    rec = next(r for r in records if r["raw_dir"] == "granian-tuned-rate150")
    assert render._p99(model.Record.from_dict(rec)) == "≥" + fmt.ms(rec["p99_ms"])
    md = render.markdown(model.records(records), "rate-sweep")
    assert f"| ≥{fmt.ms(rec['p99_ms'])} |" in md
    assert ("≥ p99 is a lower bound: the run's failed requests (errors, timeouts) are not in its percentiles, so "
            "the p99 of all the requests sent is at least that.") in md
    assert "p99 is a lower bound (≥): 24 failed requests (errors, timeouts) are not in it" in md
    both = {**rec, "p99_upper_bound": True}
    assert render._p99(model.Record.from_dict(both)) == "≶" + fmt.ms(rec["p99_ms"])
    assert "≶ a p99 that is both that and the highest of its load hosts' p99" in render.p99_bound_footnote(model.records([both]))
    upper = {**rec, "p99_lower_bound": False, "p99_upper_bound": True}
    assert render._p99(model.Record.from_dict(upper)) == "≤" + fmt.ms(rec["p99_ms"]) and render.p99_bound_footnote(model.records([upper])) is None
    assert render.p99_bound_footnote(model.records([r for r in records if not r["p99_lower_bound"]])) is None


def test_report_html_marks_a_lower_bound_p99(tmp_path):
    from benchreport import html, render, rundata

    run = tmp_path / "rate-sweep"
    shutil.copytree(DATA / "rate-sweep", run, ignore=shutil.ignore_patterns("README.md"))
    records = build_summary(run, {})
    recs = model.records(records)
    text = html.write(run, recs, rundata.read_all(run, recs), "rate-sweep").read_text()
    assert "≥ p99 is a lower bound: the run" in text
    rate150 = next(r for r in records if r["raw_dir"] == "granian-tuned-rate150")
    assert f"≥{fmt.ms(rate150['p99_ms'])}<" in text  # the table of every run (render's columns)
    assert "\\u2265 a lower bound: failed requests are not in it" in text  # the knee chart's hover (plotly's JSON)
