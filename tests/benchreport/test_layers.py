"""benchreport's layers (docs/design.md): the import contracts hold, no import hides inside a function, the
shared words are defined once (benchreport.model), and report.html reads no run folder."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from benchrun import ROOT

PACKAGE = ROOT / "benchreport"
#: The vocabulary benchreport.model defines for every layer: no other module defines these names.
SHARED = {"Record", "NOISY_CV", "POINT_KEYS", "METRICS", "Metric", "point_key", "counts_for_stats", "repeated",
          "cv", "value", "values", "bound", "finite", "integer", "spread", "sample_cv", "unexpected_error"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_import_contracts_hold():
    """.importlinter's contracts (the layers, the order within them, report.html's package) are kept."""
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 broken" in done.stdout


def test_no_benchreport_import_inside_a_function():
    """An import inside a function hides a circle from the reader (import-linter sees it, a reader does not)."""
    found = []
    for path in modules():
        tree = ast.parse(path.read_text())
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top and (node.module or "").startswith("benchreport"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_the_shared_words_are_defined_once():
    """model.py alone defines the Record and the vocabulary; the others import it."""
    found = []
    for path in modules():
        if path.name == "model.py":
            continue
        for node in ast.parse(path.read_text()).body:
            names = ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                     else [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign)
                     else [node.target.id] if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                     else [])
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n in SHARED]
    assert found == []


def test_the_page_reads_no_run_folder():
    """report.html draws what benchreport.rundata read (python -m benchreport.html reads it for the page)."""
    for path in (PACKAGE / "html").glob("*.py"):
        if path.name == "__main__.py":
            continue
        text = path.read_text()
        assert "read_text(" not in text and "open(" not in text and not re.search(r"\bread(_all)?\(", text), path.name
