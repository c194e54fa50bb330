"""The thresholds as a JUnit XML file (junit.xml beside report.md), for a CI server to show and count.

One <testsuite> (in <testsuites>, the shape Jenkins, GitLab and GitHub's JUnit actions read), one
<testcase> per threshold and point (benchreport.thresholds.Result): a failed one holds a <failure> whose
message is the measured value, a skipped one (an expected failure) a <skipped>. A thresholds file that
could not be judged is one failed testcase saying why. Written with the standard library's ElementTree,
which escapes every text and attribute: no JUnit library is pinned for four elements (docs/design.md).
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from benchreport.thresholds import FAILED, RULE, SKIPPED, Checked

SUITE = "flaskbench thresholds"


def document(checked: Checked, run_id: str) -> ET.ElementTree:
    """The JUnit tree of a run's judged thresholds."""
    cases = len(checked.results) if checked.error is None else 1
    failures = len(checked.failed_lines())
    skipped = len(checked.of(SKIPPED))
    counts = {"tests": str(cases), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"{SUITE}: {run_id}", **counts, "time": "0"})
    props = ET.SubElement(suite, "properties")
    for name, value in (("run", run_id), ("file", checked.file), ("rule", RULE)):
        ET.SubElement(props, "property", {"name": name, "value": value})
    if checked.error is not None:
        case = ET.SubElement(suite, "testcase", {"classname": "thresholds", "name": checked.file, "time": "0"})
        ET.SubElement(case, "failure", {"message": checked.failed_lines()[0], "type": "thresholds"}).text = checked.error
    for r in checked.results:
        case = ET.SubElement(suite, "testcase", {"classname": f"thresholds.entry{r.threshold.entry}",
                                                 "name": f"{r.threshold.check} at {r.point}", "time": "0"})
        if r.status == FAILED:
            detail = [f"{r.threshold} at {r.point}", f"measured: {r.measured}"]
            detail += [f"runs: {', '.join(r.runs)}"] if r.runs else []
            ET.SubElement(case, "failure", {"message": r.line, "type": "threshold"}).text = "\n".join(detail)
        elif r.status == SKIPPED:
            ET.SubElement(case, "skipped", {"message": r.measured})
        else:
            ET.SubElement(case, "system-out").text = f"measured: {r.measured}"
    ET.indent(root)
    return ET.ElementTree(root)


def write(checked: Checked, path: Path, run_id: str) -> Path:
    """Write junit.xml whole (a temporary file renamed over it); its path."""
    tmp = path.with_name(f".{path.name}.tmp")
    document(checked, run_id).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path
