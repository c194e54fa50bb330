"""The README's mode table is generated from modes.yml and must match it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchapp.modes import load_modes, markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- modes:begin[^>]*-->\n(.*?)<!-- modes:end -->", re.S)
REGENERATE = "regenerate with: cd app && python -m benchapp.modes"


def readme_table(text: str) -> str:
    """The README's block between <!-- modes:begin ... --> and <!-- modes:end -->."""
    blocks = BLOCK.findall(text)
    assert len(blocks) == 1, f"README.md needs exactly one modes:begin/modes:end block, found {len(blocks)}"
    return blocks[0]


def check_readme(text: str) -> None:
    """Fail, naming the first differing line, unless the README's table is the generated one."""
    got, want = readme_table(text), markdown_table()
    if got != want:
        diff = next(((g, w) for g, w in zip(got.splitlines(), want.splitlines()) if g != w),
                    (f"{len(got.splitlines())} lines", f"{len(want.splitlines())} lines"))
        raise AssertionError(f"README.md's mode table differs from modes.yml ({REGENERATE}):\n"
                             f"  README:    {diff[0]}\n  generated: {diff[1]}")


def test_readme_mode_table_matches_the_mode_table():
    check_readme(README.read_text())


def test_every_mode_is_in_the_readme_table():
    table = readme_table(README.read_text())
    for name in load_modes():
        assert f"| `{name}` |" in table


def test_the_check_fails_on_a_changed_row():
    readme = README.read_text()
    table = readme_table(readme)
    row = next(line for line in table.splitlines() if line.startswith("| `"))
    changed = readme.replace(row, row.replace("| `", "| `x", 1), 1)
    assert changed != readme
    with pytest.raises(AssertionError, match="differs from modes.yml") as err:
        check_readme(changed)
    assert row.replace("| `", "| `x", 1) in str(err.value) and row in str(err.value)
    # a row dropped, or a row added, fails too
    with pytest.raises(AssertionError, match="differs"):
        check_readme(readme.replace(row + "\n", "", 1))
    with pytest.raises(AssertionError, match="differs"):
        check_readme(readme.replace(row + "\n", row + "\n" + row + "\n", 1))
    # and the markers must be there, once
    with pytest.raises(AssertionError, match="exactly one"):
        check_readme(readme.replace("<!-- modes:end -->", ""))
