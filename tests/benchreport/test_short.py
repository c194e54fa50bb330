"""The short version benchreport prints first (benchreport.short), on recorded runs.

tests/data/benchreport/wrk-sweep (two modes, c=200 and c=1000, 3 repetitions:
medians, noise verdicts) and run-sample (ab, single runs, some with errors and
client-limited points) are summarised as `python -m benchreport` does
(benchreport.summary.build_summary with the mode table); the lines are pinned
here, so a change of wording or of a pick shows in the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchapp.modes import load_modes
from benchreport import model, short
from benchreport.__main__ import main as cli_main
from benchreport.summary import build_summary
from benchrun import ROOT

DATA = ROOT / "tests" / "data" / "benchreport"


@pytest.fixture(scope="module")
def modes() -> dict:
    return load_modes()


def best_lines(lines: list[str]) -> list[str]:
    """The short version from its first "best by" row on (the verdict's rows come before it)."""
    return lines[next(i for i, line in enumerate(lines) if line.startswith("  best by")):]


def test_the_sweep_in_a_few_lines(modes):
    """Per metric, the best point at each c (repeats' medians), the next mode named when within noise."""
    records = build_summary(DATA / "wrk-sweep", modes)
    page = Path("/srv/results/x/report.html")
    assert short.lines(model.records(records), page) == [
        "In short (12 runs of 2 modes; points ran up to 3 times: medians):",
        # the verdict first (benchreport.advice: c=1000 is past the client's ceiling), its own column
        "  verdict   Serve it with uwsgi-gevent/tuned (uWSGI with the gevent loop, patched entry; tuned flags: "
        "workers=cores, gevent=2000, listen=4096, thunder_lock=true, quiet=true, upstream=gevent): at c=1000 (wrk), "
        "past the client's ceiling, it answers 830 req/s (83% of ideal), p99 1715 ms (over the 1500 ms budget).",
        "            uwsgi-gevent/tuned's gevent readiness is unknown: not run with gevent's monitor thread: run "
        "`ansible-playbook bench.yml -e mode=uwsgi-gevent -e monitor=true`.",
        "            granian/tuned falls behind at c=1000 (wrk): 289 req/s (29% of ideal), p99 19238 ms (over the "
        "1500 ms budget); 65% fewer req/s (outside noise) (client-limited: the figure may be the client's).",
        "  to run    ansible-playbook bench.yml -e mode=uwsgi-gevent,granian -e client=rate -e rate=420,830,1700   "
        "# the knee: the rate each mode holds within the budget",
        "  rests on  6 runs (a sweep past the client's ceiling): uwsgi-gevent-tuned-wrk-c1000-r1, "
        "uwsgi-gevent-tuned-wrk-c1000-r2, uwsgi-gevent-tuned-wrk-c1000-r3, granian-tuned-wrk-c1000-r1, … "
        "(report.md's \"Verdict\" names all 6)",
        "  best by req/s  c=200: uwsgi-gevent/tuned 95.7% of ideal, 191.44 req/s (granian/tuned within noise)",
        "                 c=1000: uwsgi-gevent/tuned 83.0% of ideal, 830.19 req/s",
        "  best by p99    c=200: uwsgi-gevent/tuned 1143 ms (granian/tuned within noise)",
        "                 c=1000: uwsgi-gevent/tuned 1715 ms (granian/tuned within noise)",
        "  best by CPU    c=200: uwsgi-gevent/tuned 0.875 ms/request (granian/tuned within noise)",
        "                 c=1000: uwsgi-gevent/tuned 0.799 ms/request (granian/tuned within noise)",
        "  report.html    /srv/results/x/report.html",
    ]


def test_a_cpu_figure_carries_its_resolution_where_it_is_coarse(modes):
    """A few clock ticks over few requests: the best CPU figure says how far it can be off (± over 5% of it)."""
    records = build_summary(DATA / "wrk-sweep", modes)
    for rec in records:
        rec["cpu_ms_per_req_resolution"] = 0.35 if rec["c"] == 200 else 0.01  # 0.875 and 1.525: 0.65 apart
    cpu = [line for line in short.lines(model.records(records), None) if "ms/request" in line]
    assert cpu == ["  best by CPU    c=200: uwsgi-gevent/tuned 0.875 ± 0.350 ms/request (granian/tuned within "
                   "resolution)",
                   "                 c=1000: uwsgi-gevent/tuned 0.799 ms/request (granian/tuned within noise)"]


def test_errors_and_unusable_settings_are_named(modes):
    """Single runs: no medians; the settings where every point failed on one line; client-limited said."""
    records = build_summary(DATA / "run-sample", modes)
    lines = short.lines(model.records(records), None)
    assert lines[0] == "In short (7 runs of 5 modes; 3 with an error, see the notes):"
    assert best_lines(lines)[0] == ("  best by req/s    c=5 delay 0.05 s: uwsgi/seed 87.7% of ideal, 87.69 req/s "
                                    "(client-limited)")
    assert lines[-2] == ("  no usable point  c=2 delay 0 s, c=2 delay 1 s, c=5 delay 1 s, c=2 delay 3 s "
                         "(errors or failed requests: see the notes)")
    assert lines[-1] == "  report.html      not written (see the warning above)"
    assert len(best_lines(lines)) <= 12
    assert lines[1].startswith("  no verdict  route /, delay 0.3 s; ") and len(lines) == len(best_lines(lines)) + 2


def hang(records: list[dict], mode: str = "grpc-gevent-noinit", profile: str = "tuned", c: int = 10,
         **changes) -> dict:
    """A run like the sweep's first at another mode and c: by default the gRPC no-init hang, which the
    plan expected (run.json's expect: hang; summary.expectation: as expected, it did not succeed)."""
    rec = {**records[0], "mode": mode, "profile": profile, "c": c, "n": 10 * c, "rps": 0.0, "complete": 0,
           "failed": c, "p99_ms": None, "cpu_ms_per_req": None, "error": None, "expected": "hang",
           "as_expected": True, "repetition": None, "repeats": None, "stats": None}
    return {**rec, **changes}


def test_an_expected_hang_is_named_as_such(modes):
    """The gRPC no-init hang at c=10 is what the plan expected: not "errors or failed requests"."""
    records = build_summary(DATA / "wrk-sweep", modes)
    page = Path("/srv/results/x/report.html")
    lines = short.lines(model.records([*records, hang(records)]), page)
    assert lines[0] == "In short (13 runs of 3 modes; points ran up to 3 times: medians):"  # not an error
    assert best_lines(lines)[0] == ("  best by req/s    c=200: uwsgi-gevent/tuned 95.7% of ideal, 191.44 req/s "
                        "(granian/tuned within noise)")
    assert lines[-2:] == ["  no usable point  c=10 (grpc-gevent-noinit/tuned: expected hang)",
                          "  report.html      /srv/results/x/report.html"]
    # with an unexpected error beside it at c=10, and a setting where only errors were
    broken = hang(records, mode="quart", profile="seed", error="quart did not start", expected=None,
                  as_expected=None)
    lines = short.lines(model.records([*records, hang(records), broken, {**broken, "c": 20, "n": 200}]), page)
    assert lines[0] == ("In short (15 runs of 4 modes; 2 with an error, see the notes; "
                        "points ran up to 3 times: medians):")
    assert lines[-3:-1] == [
        "  no usable point  c=20 (errors or failed requests: see the notes)",
        "                   c=10 (grpc-gevent-noinit/tuned: expected hang; errors or failed requests: see the notes)",
    ]


def test_printed_first_with_the_page_path(tmp_path, capsys):
    """python -m benchreport RUN_DIR: the short version is the output's head, report.html's path absolute."""
    run_dir = tmp_path / "sweep"
    shutil.copytree(DATA / "wrk-sweep", run_dir, ignore=shutil.ignore_patterns("README.md"))
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    out = capsys.readouterr().out.splitlines()
    end = out.index("")
    assert out[0].startswith("In short (12 runs")
    assert out[end - 1] == f"  report.html    {(run_dir / 'report.html').resolve()}"
    assert out[end + 1].startswith("Bench run sweep")
