"""benchhost.clients.ab on captured real ab output (tests/data/benchreport).

The files were recorded by `PYTHONPATH=.:app:tests python tests/benchreport/test_live.py capture
tests/data/benchreport` (ab 2.3 from Debian 12's apache2-utils against a
loopback test server); the expected numbers below are read off those files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchhost.clients import ab as ab_client
from benchrun import ROOT

DATA = ROOT / "tests" / "data" / "benchreport"
SAMPLE = DATA / "run-sample"
CASES = DATA / "ab"


def load(path: Path, requested: int | None, rc: int | None = 0) -> ab_client.AbRun:
    return ab_client.load_ab_run(path, requested=requested, exit_code=rc)


def test_ok_run_numbers():
    run = load(SAMPLE / "uwsgi-seed", 50)
    t = run.text
    assert (t.complete, t.failed, t.non_2xx, t.concurrency) == (50, 0, 0, 5)
    assert (t.time_taken_s, t.rps, t.mean_ms, t.mean_across_ms) == (0.570, 87.69, 57.018, 11.404)
    assert (t.bytes_received, t.html_bytes, t.document_length) == (8250, 1350, 27)
    assert t.connection_times["total"] == ab_client.ConnTimes(51, 52, 0.7, 52, 54)
    assert t.text_percentiles[50] == 52 and t.text_percentiles[100] == 54
    assert set(t.text_percentiles) == set(ab_client.TEXT_PERCENTILES)
    assert run.error is None and not run.capped and run.failed == 0
    assert len(run.tsv) == 50 and run.warnings == []


def test_garbage_csv_row_is_not_reported():
    """ab wrote 99,0.257 for 50 requests: stats[50] is past its array."""
    run = load(SAMPLE / "uwsgi-seed", 50)
    assert run.csv[99] == 0.257 and run.csv[100] == 53.812
    assert (run.p50_ms, run.p99_ms, run.max_ms) == (51.556, 53.812, 53.812)
    assert run.percentiles_from == "csv"


def test_csv_row_validity_matches_what_ab_wrote():
    """After a -t run ab's array is zeroed beyond `done`: invalid rows read exactly 0."""
    run = load(SAMPLE / "devserver-seed", 50)
    done = run.complete
    assert done == 6
    assert {i: ab_client.csv_row_valid(i, done) for i in run.csv} == {i: v > 0 for i, v in run.csv.items()}
    assert [i for i in run.csv if not ab_client.csv_row_valid(i, done)] == list(range(92, 100))


@pytest.mark.parametrize(
    ("done", "invalid"),
    [(1, list(range(50, 100))), (10, [95, 96, 97, 98, 99]), (50, [99]), (100, []), (2000, [])],
)
def test_csv_row_valid_rule(done, invalid):
    assert [i for i in range(101) if not ab_client.csv_row_valid(i, done)] == invalid


def test_capped_run():
    run = load(SAMPLE / "devserver-seed", 50)
    assert run.capped and run.error is None
    assert run.complete == 6 and run.text.time_taken_s == 1.207 and run.text.rps == 4.97
    assert (run.p50_ms, run.p99_ms, run.max_ms) == (301.644, 302.430, 302.430)
    # the same output is not capped when 6 is all that was asked for
    assert not load(SAMPLE / "devserver-seed", 6).capped


def test_non_2xx_are_failures():
    run = load(SAMPLE / "gunicorn-seed", 20)
    assert run.text.failed == 0 and run.text.non_2xx == 20 and run.failed == 20
    assert run.error is None


def test_length_failures_breakdown():
    run = load(CASES / "length", 30)
    t = run.text
    assert (t.failed, t.connect_errors, t.receive_errors, t.length_errors, t.exceptions) == (20, 0, 0, 20, 0)
    assert run.failed == 20 and run.error is None


def test_refused_with_r_has_stats_but_is_an_error():
    run = load(SAMPLE / "gunicorn-tuned", 20)
    t = run.text
    assert t.has_stats and t.complete == 20 and t.failed == 30
    assert (t.receive_errors, t.exceptions, t.bytes_received) == (20, 10, 0)
    assert run.error.message.startswith("no byte received from the server: all 20 requests failed")


def test_refused_without_r_is_a_structured_error():
    run = load(CASES / "refused-no-r", 4, rc=111)
    assert not run.text.has_stats
    assert run.error == ab_client.AbError("apr_socket_recv: Connection refused (111)", 111, None)
    assert str(run.error) == "apr_socket_recv: Connection refused (111) (ab exit code 111)"
    assert (run.complete, run.failed, run.p50_ms, run.capped) == (None, None, None, False)


def test_timeout_abort():
    run = load(SAMPLE / "psycopg2-seed", 4, rc=119)
    assert run.error.message == "apr_pollset_poll: The timeout specified has expired (70007)"
    assert run.error.exit_code == 119 and run.error.completed_before_abort is None


def test_abort_after_some_requests_keeps_their_count():
    """'Total of 3 requests completed' shares the '(be patient)...' line."""
    run = load(CASES / "stall-abort", 6, rc=119)
    assert run.error.completed_before_abort == 3
    assert "3 requests completed before the abort" in str(run.error)


def test_stdout_and_stderr_in_one_file():
    run = load(CASES / "combined", 200)
    t = run.text
    assert t.finished == 200 and t.complete == 200 and t.error_lines == []
    assert run.error is None and run.p50_ms == 5.320 and len(run.tsv) == 200


def test_missing_stdout_is_an_error(tmp_path):
    run = load(tmp_path, 10, rc=None)
    assert run.error.message.startswith("ab.txt missing")


def test_nonzero_exit_with_stats_is_an_error():
    run = load(SAMPLE / "uwsgi-seed", 50, rc=1)
    assert run.error is not None and run.error.exit_code == 1
    assert run.complete == 50  # the numbers stay readable


def test_tsv_count_mismatch_is_reported(tmp_path):
    for name in ("ab.txt", "ab.csv", "ab.err"):
        (tmp_path / name).write_text((SAMPLE / "uwsgi-seed" / name).read_text())
    rows = (SAMPLE / "uwsgi-seed" / "ab.tsv").read_text().splitlines()
    (tmp_path / "ab.tsv").write_text("\n".join(rows[:-5]) + "\n")
    run = load(tmp_path, 50)
    assert run.warnings == ["ab.tsv has 45 rows but ab reports 50 complete requests"]


def test_percentiles_fall_back_to_tsv_then_text(tmp_path):
    for name in ("ab.txt", "ab.tsv"):
        (tmp_path / name).write_text((SAMPLE / "uwsgi-seed" / name).read_text())
    run = load(tmp_path, 50)
    ttimes = sorted(r.ttime for r in run.tsv)
    assert run.percentiles_from == "tsv"
    assert (run.p50_ms, run.p99_ms, run.max_ms) == (ttimes[25], ttimes[-1], ttimes[-1])
    (tmp_path / "ab.tsv").unlink()
    run = load(tmp_path, 50)
    assert run.percentiles_from == "text" and (run.p50_ms, run.p99_ms, run.max_ms) == (52, 54, 54)


def test_bad_csv_and_tsv_headers():
    with pytest.raises(ValueError, match="Percentage served"):
        ab_client.parse_csv("0,1.0\n")
    with pytest.raises(ValueError, match="starttime"):
        ab_client.parse_tsv("a\tb\n")
