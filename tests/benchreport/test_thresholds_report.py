"""The thresholds in a run's report: `python -m benchreport RUN_DIR` judges the bench's copy (thresholds.yml) into
report.md's "Thresholds", report.html, the short version, bench.json and junit.xml (read back as a CI server
reads it), exits 4 when one failed; `python -m benchreport check RUN` does it again for a CI script, exit 1.

On a copy of tests/data/benchreport/wrk-sweep: uwsgi-gevent and granian at c=200 and c=1000, three repetitions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from benchapp.modes import load_modes
from benchreport import EXIT_THRESHOLDS, short, thresholds
from benchreport.__main__ import main as cli_main
from benchreport.html.__main__ import main as html_main
from benchreport.summary import build_records
from benchrun import DATA

FILE = """# every point, then narrowed
- p99_ms < 1500
- failed == 0
- {mode: uwsgi-gevent, check: "pct_of_ideal >= 80"}
"""
FAILED = ["p99_ms < 1500 at uwsgi-gevent/tuned wrk c=1000: 1715 ms, the median of 3",
          "p99_ms < 1500 at granian/tuned wrk c=1000: 19238 ms, the median of 3"]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "results" / "20261202T135627Z"
    shutil.copytree(DATA / "wrk-sweep", dest, ignore=shutil.ignore_patterns("README.md"))
    (dest / "thresholds.yml").write_text(FILE)
    return dest


def junit_cases(path: Path) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.parse(path).getroot()
    [suite] = root.findall("testsuite")
    return suite, suite.findall("testcase")


def test_the_report_judges_the_kept_thresholds_and_exits_4(run_dir, capsys):
    assert cli_main([str(run_dir), "--no-latest"]) == EXIT_THRESHOLDS == 4
    out = capsys.readouterr().out.splitlines()
    start = out.index("  thresholds     2 of 10 failed (thresholds.yml; medians over repetitions)")
    assert out[start + 1:start + 4] == [
        f"                 FAILED {FAILED[0]}", f"                 FAILED {FAILED[1]}",
        "                 passed p99_ms < 1500 at uwsgi-gevent/tuned wrk c=200: 1143 ms, the median of 3"]
    assert out[start + 11].startswith("  report.html")  # 2 failed and 8 passed: every one shown
    assert "Wrote " in out[-2] and out[-2].endswith("report.html, junit.xml")

    md = (run_dir / "report.md").read_text()
    section = md.split("## Thresholds\n\n", 1)[1].split("\n## ", 1)[0].splitlines()
    assert section[0].startswith("From thresholds.yml: 3 thresholds on the points each selects, 2 of 10 failed; each "
                                 "figure is the point's median over its repetitions")
    assert section[2:6] == ["| result | threshold | selects | point | measured |", "|:---|:---|:---|:---|:---|",
                            "| failed | p99_ms < 1500 | every point | uwsgi-gevent/tuned wrk c=1000 | 1715 ms, the "
                            "median of 3 |",
                            "| failed | p99_ms < 1500 | every point | granian/tuned wrk c=1000 | 19238 ms, the median "
                            "of 3 |"]
    assert "| passed | pct_of_ideal >= 80 | mode uwsgi-gevent | uwsgi-gevent/tuned wrk c=1000 | 83.0%, the median " \
           "of 3 |" in section
    assert len([line for line in section if line.startswith("| passed")]) == 8

    judged = json.loads((run_dir / "bench.json").read_text())["thresholds"]
    assert judged["failed"] == FAILED and judged["passed"] == 8 and judged["file"] == "thresholds.yml"
    assert judged["thresholds"] == ["p99_ms < 1500", "failed == 0", "pct_of_ideal >= 80 (mode uwsgi-gevent)"]

    page = (run_dir / "report.html").read_text()
    table = page.split("<h2 id=\"thresholds\">Thresholds</h2>", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr class=\"failed\">") == 2 and table.count("<tr class=\"passed\">") == 8
    assert "<td>p99_ms &lt; 1500</td><td>every point</td><td>granian/tuned wrk c=1000</td>" in table
    assert "<a href=\"#thresholds\">Thresholds</a>" in page


def test_the_short_version_names_every_failed_threshold_and_some_passed_ones(run_dir):
    """Past PASSED_SHOWN passed ones, a count: the failed ones are all there (report.md has every one)."""
    records = build_records(run_dir, load_modes())
    checked = thresholds.judge(thresholds.parse(["p99_ms < 1200", "p99_ms < 99999", "rps > 1", "failed < 1"], "t.yml"),
                               records, "t.yml")
    [(label, entries)] = short.thresholds_rows(checked)
    assert label == "thresholds" and entries[0] == "3 of 16 failed (t.yml; medians over repetitions)"
    assert [e for e in entries if e.startswith("FAILED")] == [
        "FAILED p99_ms < 1200 at uwsgi-gevent/tuned wrk c=1000: 1715 ms, the median of 3",
        "FAILED p99_ms < 1200 at granian/tuned wrk c=1000: 19238 ms, the median of 3",
        "FAILED p99_ms < 1200 at granian/tuned wrk c=200: 1250 ms, the median of 3"]
    assert len([e for e in entries if e.startswith("passed")]) == short.PASSED_SHOWN == 8
    assert entries[-1] == "and 5 more passed (report.md's \"Thresholds\")"
    assert short.thresholds_rows(None) == []


def test_junit_xml_has_a_testcase_per_threshold_and_point(run_dir):
    cli_main([str(run_dir), "--no-latest"])
    suite, cases = junit_cases(run_dir / "junit.xml")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("10", "2", "0")
    assert len(cases) == 10
    failures = [(c.get("name"), c.find("failure")) for c in cases if c.find("failure") is not None]
    assert [name for name, _ in failures] == ["p99_ms < 1500 at uwsgi-gevent/tuned wrk c=1000",
                                             "p99_ms < 1500 at granian/tuned wrk c=1000"]
    assert [f.get("message") for _, f in failures] == FAILED
    assert "runs: granian-tuned-wrk-c1000-r1, granian-tuned-wrk-c1000-r2, granian-tuned-wrk-c1000-r3" in \
        failures[1][1].text
    assert {c.get("classname") for c in cases} == {"thresholds.entry1", "thresholds.entry2", "thresholds.entry3"}


def test_junit_xml_reads_back_through_a_junit_parser(run_dir):
    """What a CI server sees: junitparser's reader over the file, its counts and failed cases."""
    from junitparser import Failure, JUnitXml

    cli_main([str(run_dir), "--no-latest"])
    xml = JUnitXml.fromfile(str(run_dir / "junit.xml"))
    [suite] = list(xml)
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (10, 2, 0, 0)
    failed = [case for case in suite if any(isinstance(r, Failure) for r in case.result)]
    assert [case.result[0].message for case in failed] == FAILED


def test_without_thresholds_no_junit_and_exit_0(run_dir, capsys):
    cli_main([str(run_dir), "--no-latest"])
    assert "  thresholds     2 of 10 failed" in capsys.readouterr().out
    (run_dir / "thresholds.yml").unlink()
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    assert not (run_dir / "junit.xml").exists()  # the earlier one judged thresholds this run no longer has
    assert "## Thresholds" not in (run_dir / "report.md").read_text()
    assert "thresholds" not in json.loads((run_dir / "bench.json").read_text())
    assert "  thresholds  " not in capsys.readouterr().out


def test_thresholds_that_all_pass_exit_0(run_dir):
    (run_dir / "thresholds.yml").write_text("- {client: wrk, check: p99_ms < 20000}\n")
    assert cli_main([str(run_dir), "--no-latest"]) == 0
    suite, cases = junit_cases(run_dir / "junit.xml")
    assert (len(cases), suite.get("failures")) == (4, "0")


def test_a_copy_that_does_not_read_fails_the_report(run_dir):
    (run_dir / "thresholds.yml").write_text("- p99_ms < soon\n")
    assert cli_main([str(run_dir), "--no-latest"]) == EXIT_THRESHOLDS
    judged = json.loads((run_dir / "bench.json").read_text())["thresholds"]
    assert judged["failed"] == [f"not judged: {run_dir / 'thresholds.yml'}: entry 1 ('p99_ms < soon'): 'soon' is not a "
                                "number: a threshold compares p99_ms with a number, not a string"]
    suite, cases = junit_cases(run_dir / "junit.xml")
    assert len(cases) == 1 and cases[0].find("failure") is not None and suite.get("failures") == "1"


# -- python -m benchreport check RUN ---------------------------------------------------------------------------

def test_check_a_recorded_run_exits_1_when_one_fails(run_dir, tmp_path, capsys):
    cli_main([str(run_dir), "--no-latest"])
    (run_dir / "junit.xml").unlink()
    capsys.readouterr()
    assert cli_main(["check", str(run_dir)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Thresholds of {run_dir / 'thresholds.yml'} on {run_dir}: 2 of 10 failed")
    assert out[1:3] == [f"  failed  {FAILED[0]}", f"  failed  {FAILED[1]}"]
    assert out[-1] == f"Wrote {run_dir / 'junit.xml'}" and len(junit_cases(run_dir / "junit.xml")[1]) == 10

    ok = tmp_path / "ok.yml"
    ok.write_text("- {mode: granian, route: /, check: failed == 0}\n")
    assert cli_main(["check", run_dir.name, "--results", str(run_dir.parent), "--thresholds", str(ok),
                     "--junit", str(tmp_path / "ci.xml")]) == 0
    suite, cases = junit_cases(tmp_path / "ci.xml")
    assert len(cases) == 2 and suite.get("failures") == "0"


@pytest.mark.parametrize("text,message", [
    ("- knee_rps >= 100", "entry 1 ('knee_rps >= 100'): knee_rps: only client=rate measures a knee (a rate sweep, or "
                          "rate=auto); its points' client: wrk"),
    ("- {mode: uwsgi, check: rps > 1}", "entry 1 ('rps > 1'): mode uwsgi is not in the run (its modes: uwsgi-gevent, "
                                        "granian)"),
    ("- p99_ms ~ 5", "entry 1 ('p99_ms ~ 5'): unknown operator '~'"),
])
def test_check_refuses_a_file_that_does_not_fit_the_run(run_dir, tmp_path, capsys, text, message):
    cli_main([str(run_dir), "--no-latest"])
    bad = tmp_path / "bad.yml"
    bad.write_text(text + "\n")
    assert cli_main(["check", str(run_dir), "--thresholds", str(bad), "--junit", str(tmp_path / "j.xml")]) == 2
    assert capsys.readouterr().err.startswith(f"benchreport check: {bad}: {message}")
    assert not (tmp_path / "j.xml").exists()


def test_check_without_a_run_or_thresholds_exits_2(run_dir, tmp_path, capsys):
    assert cli_main(["check", str(tmp_path / "none")]) == 2
    assert "run" in capsys.readouterr().err
    cli_main([str(run_dir), "--no-latest"])
    (run_dir / "thresholds.yml").unlink()
    assert cli_main(["check", str(run_dir)]) == 2
    assert capsys.readouterr().err.strip() == (f"benchreport check: no thresholds: {run_dir / 'thresholds.yml'} is no "
                                               "file (the bench kept none: give --thresholds FILE)")


def test_the_page_rebuilt_alone_judges_the_kept_thresholds(run_dir):
    """python -m benchreport.html RUN_DIR (report.html alone, from summary.json) keeps the Thresholds section."""
    cli_main([str(run_dir), "--no-latest"])
    (run_dir / "report.html").unlink()
    assert html_main([str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    assert page.count("<tr class=\"failed\">") == 2 and "2 of 10 failed" in page
    (run_dir / "thresholds.yml").unlink()
    assert html_main([str(run_dir)]) == 0
    assert "id=\"thresholds\"" not in (run_dir / "report.html").read_text()
