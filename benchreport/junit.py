"""The thresholds as a JUnit XML file (junit.xml beside report.md), for a CI server to show and count.

One <testsuite> (in <testsuites>, the shape Jenkins, GitLab and GitHub's JUnit actions read), one
<testcase> per threshold and point (benchreport.thresholds.Result): a failed one holds a <failure> whose
message is the measured value, a skipped one (an expected failure) a <skipped>. A thresholds file that
could not be judged is one failed testcase saying why. Written with junitparser, which knows the
format's elements, counts and escaping.
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from benchreport.thresholds import FAILED, RULE, SKIPPED, Checked

SUITE = "flaskbench thresholds"


def _case(name: str, classname: str) -> TestCase:
    return TestCase(name, classname, time=0)


def _failure(message: str, kind: str, detail: str) -> Failure:
    failure = Failure(message, kind)
    failure.text = detail
    return failure


def document(checked: Checked, run_id: str) -> JUnitXml:
    """The JUnit document of a run's judged thresholds."""
    suite = TestSuite(f"{SUITE}: {run_id}")
    for name, value in (("run", run_id), ("file", checked.file), ("rule", RULE)):
        suite.add_property(name, value)
    if checked.error is not None:
        case = _case(checked.file, "thresholds")
        case.result = [_failure(checked.failed_lines()[0], "thresholds", checked.error)]
        suite.add_testcase(case)
    for r in checked.results:
        case = _case(f"{r.threshold.check} at {r.point}", f"thresholds.entry{r.threshold.entry}")
        if r.status == FAILED:
            detail = [f"{r.threshold} at {r.point}", f"measured: {r.measured}"]
            detail += [f"runs: {', '.join(r.runs)}"] if r.runs else []
            case.result = [_failure(r.line, "threshold", "\n".join(detail))]
        elif r.status == SKIPPED:
            case.result = [Skipped(r.measured)]
        else:
            case.system_out = f"measured: {r.measured}"
        suite.add_testcase(case)
    suite.time = 0
    suite.update_statistics()
    xml = JUnitXml(SUITE)
    xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def write(checked: Checked, path: Path, run_id: str) -> Path:
    """Write junit.xml whole (a temporary file renamed over it); its path."""
    tmp = path.with_name(f".{path.name}.tmp")
    document(checked, run_id).write(str(tmp), pretty=True)
    tmp.replace(path)
    return path
