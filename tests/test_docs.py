"""The README's mode table is generated from modes.yml and must match it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from benchapp.modes import load_modes, markdown_table  # noqa: E402


def test_readme_mode_table_matches_the_mode_table():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- modes:begin[^>]*-->\n(.*?)<!-- modes:end -->", readme, re.S)
    assert block, "README.md lost its modes:begin/modes:end markers"
    assert block.group(1) == markdown_table(), "regenerate with: cd app && python -m benchapp.modes"


def test_every_mode_is_in_the_readme_table():
    table = markdown_table()
    for name in load_modes():
        assert f"| `{name}` |" in table
