"""The docs say what the code does: generated tables match their sources, and every page is reachable.

- docs/modes.md's mode table is generated from modes.yml and must match it.
- docs/bench.md's parameter table names exactly bench.yml's parameters, with bench.yml's defaults.
- README.md is a short manual (at most 200 lines) that links every page of docs/; its short
  version of a report is what benchreport prints for the recorded sweep, and the steps of
  `make demo` it lists are the Makefile's.
- Every relative link in README.md, docs/*.md and roles/*/README.md points at a file that
  exists and, with a #fragment, at a heading of that file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from benchapp.modes import load_modes, markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MODES_PAGE = DOCS / "modes.md"
BENCH_PAGE = DOCS / "bench.md"
BLOCK = re.compile(r"<!-- modes:begin[^>]*-->\n(.*?)<!-- modes:end -->", re.S)
REGENERATE = "regenerate with: cd app && python -m benchapp.modes"
README_MAX_LINES = 200


def pages() -> list[Path]:
    """Every Markdown page a reader can reach: the README, docs/ and the roles' READMEs."""
    return [README, *sorted(DOCS.glob("*.md")), *sorted(ROOT.glob("roles/*/README.md"))]


# --- The mode table (docs/modes.md) ---------------------------------------------------------

def readme_table(text: str) -> str:
    """The page's block between <!-- modes:begin ... --> and <!-- modes:end -->."""
    blocks = BLOCK.findall(text)
    assert len(blocks) == 1, f"docs/modes.md needs exactly one modes:begin/modes:end block, found {len(blocks)}"
    return blocks[0]


def check_readme(text: str) -> None:
    """Fail, naming the first differing line, unless the page's table is the generated one."""
    got, want = readme_table(text), markdown_table()
    if got != want:
        diff = next(((g, w) for g, w in zip(got.splitlines(), want.splitlines()) if g != w),
                    (f"{len(got.splitlines())} lines", f"{len(want.splitlines())} lines"))
        raise AssertionError(f"docs/modes.md's mode table differs from modes.yml ({REGENERATE}):\n"
                             f"  docs:      {diff[0]}\n  generated: {diff[1]}")


def test_readme_mode_table_matches_the_mode_table():
    check_readme(MODES_PAGE.read_text())


def test_every_mode_is_in_the_readme_table():
    table = readme_table(MODES_PAGE.read_text())
    for name in load_modes():
        assert f"| `{name}` |" in table


def test_the_check_fails_on_a_changed_row():
    readme = MODES_PAGE.read_text()
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


def test_the_mode_table_is_only_on_its_page():
    """One generated copy: the README and the other pages link to docs/modes.md instead."""
    for page in pages():
        if page != MODES_PAGE:
            assert "<!-- modes:begin" not in page.read_text(), page


# --- The parameter table (docs/bench.md) ----------------------------------------------------

PARAMS = re.compile(r"<!-- params:begin[^>]*-->\n(.*?)<!-- params:end -->", re.S)
# bench.yml's first play maps each -e parameter onto the role: bench_x: "{{ x | default(...) }}"
BENCH_VAR = re.compile(r"^\s+bench_\w+: \"\{\{ (\w+) \| default\((.*)\) \}\}\"$", re.M)


def bench_parameters() -> dict[str, object]:
    """bench.yml's -e parameters and their defaults (None where bench.yml leaves it to the role: '')."""
    found = {}
    for name, default in BENCH_VAR.findall((ROOT / "bench.yml").read_text()):
        value = yaml.safe_load(default)
        found[name] = None if value == "" else value
    return found


def parameter_rows(text: str) -> dict[str, str]:
    """docs/bench.md's parameter table: each parameter named in a row's first cell -> its default cell."""
    blocks = PARAMS.findall(text)
    assert len(blocks) == 1, f"docs/bench.md needs exactly one params:begin/params:end block, found {len(blocks)}"
    rows = {}
    for line in blocks[0].splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        for name in re.findall(r"`(\w+)`", cells[0]):
            rows[name] = cells[-1]
    return rows


def test_the_parameter_table_names_exactly_bench_yml_parameters():
    params, rows = bench_parameters(), parameter_rows(BENCH_PAGE.read_text())
    assert len(params) >= 14, params  # the regular expression still reads bench.yml
    assert sorted(rows) == sorted(params), "docs/bench.md's parameter table and bench.yml's parameters differ"


def test_the_parameter_tables_defaults_are_bench_yml_defaults():
    rows = parameter_rows(BENCH_PAGE.read_text())
    for name, default in bench_parameters().items():
        if default is None:  # left to the role or the mode table: the table says how
            continue
        shown = yaml.safe_dump(default).removesuffix("\n...\n").strip()
        assert re.search(rf"(^|[^\w.]){re.escape(shown)}($|[^\w.])", rows[name].replace("`", "")), (
            f"{name}: bench.yml's default is {shown}, docs/bench.md says {rows[name]!r}")


def test_the_parameter_check_fails_on_a_missing_row():
    text = BENCH_PAGE.read_text()
    row = next(line for line in PARAMS.findall(text)[0].splitlines() if line.startswith("| `repeat`"))
    rows = parameter_rows(text.replace(row + "\n", ""))
    assert "repeat" not in rows and "repeat" in bench_parameters()


def test_the_readmes_parameters_are_bench_yml_parameters():
    """The README's short table of the parameters people change: each one bench.yml takes, and
    documented in full on docs/bench.md; the others are named as on that page."""
    readme, params = README.read_text(), bench_parameters()
    section = readme.split("## The parameters people change", 1)[1].split("\n## ", 1)[0]
    named = {n for line in section.splitlines() if line.startswith("| `") for n in re.findall(r"`(\w+)`", line.split(" | ")[0])}
    assert named == {"mode", "client", "c", "n", "rate", "repeat"}
    others = set(re.findall(r"`(\w+)`", section.split("The others", 1)[1].split(")", 1)[0]))
    assert named | others == set(params), sorted(set(params) - named - others)


# --- The README --------------------------------------------------------------------------------

def test_the_readme_is_short():
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the rest belongs in docs/"


def test_the_readme_counts_the_modes():
    words = {17: "seventeen", 18: "eighteen", 19: "nineteen", 20: "twenty", 21: "twenty-one", 22: "twenty-two"}
    count, text = len(load_modes()), " ".join(README.read_text().split())
    assert f"served in {words.get(count, count)} ways" in text, f"the table has {count} modes"
    assert f"the {words.get(count, count)} modes" in text


def test_the_readme_links_every_page():
    links = {link.partition("#")[0] for link in relative_links(README)}
    for page in sorted(DOCS.glob("*.md")):
        assert f"docs/{page.name}" in links, f"README.md does not link {page.relative_to(ROOT)}"
    for readme in sorted(ROOT.glob("roles/*/README.md")):
        assert str(readme.relative_to(ROOT)) in links, f"README.md does not link {readme.relative_to(ROOT)}"


def test_the_readmes_short_version_is_what_benchreport_prints():
    """The README's example of the terminal's short version, for the recorded sweep it names."""
    from benchreport import short
    from benchreport.summary import build_records

    block = README.read_text().split("    In short (", 1)[1].split("\n\n", 1)[0]
    shown = [line.removeprefix("    ") for line in ("    In short (" + block).splitlines()]
    page = Path(shown[-1].split()[-1])
    records = build_records(ROOT / "tests" / "data" / "benchreport" / "wrk-sweep", load_modes())
    assert shown == short.lines(records, page)


def makefile_var(name: str) -> str:
    match = re.search(rf"^{name} \?= (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, name
    return match.group(1)


def test_the_readmes_make_demo_steps_are_the_makefiles():
    """Each step the README times is a target of the Makefile (or its bench arguments), and the
    sweep's and the knee's settings are the ones it passes."""
    readme, makefile = README.read_text(), (ROOT / "Makefile").read_text()
    steps = readme.split("### make demo, step by step", 1)[1].split("\n## ", 1)[0]
    for target in re.findall(r"`make (\w[\w-]*)`", steps):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target}"
    demo = re.search(r"^demo: (.*)$", makefile, re.M).group(1).split("##")[0].split()
    assert demo == ["deps", "venv", "image", "hosts"]  # then site.yml and the three benches, as listed
    assert "-e mode=all -e profile=both" in makefile_var("BENCH_ARGS") and "-e mode=all -e profile=both" in steps
    assert "c=50,200,1000" in makefile_var("SWEEP_ARGS") and "c=50, 200 and 1000" in steps
    assert "rate=200,400,800" in makefile_var("KNEE_ARGS") and "200, 400 and 800 req/s" in steps
    # the benches in the Makefile's order (the knee first: the first report early), as the table lists them
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    ran = ["SWEEP" if "SWEEP_ARGS" in line else "KNEE" if "KNEE_ARGS" in line else "BENCH"
           for line in recipe.splitlines() if "bench" in line and "$(MAKE)" in line]
    rows = [("SWEEP" if "SWEEP_ARGS" in row else "KNEE" if "KNEE_ARGS" in row else "BENCH")
            for row in steps.splitlines() if row.startswith("| ") and "`make bench`" in row]
    assert ran == rows == ["KNEE", "BENCH", "SWEEP"]
    for command in ("make demo", "make test", "ansible-playbook site.yml",
                    "ansible-playbook bench.yml -e mode=uwsgi-gevent", "molecule test",
                    "python -m benchreport compare"):
        assert command in readme, command


# --- Links ---------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    """The page's Markdown link targets that are not URLs, outside code blocks and code spans."""
    text = re.sub(r"^( {4}|\t).*$", "", page.read_text(), flags=re.M)  # indented code blocks
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z]+:", t)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.M)}


def test_slugs_are_githubs():
    assert slug("One mode switch: `flaskbench-mode`") == "one-mode-switch-flaskbench-mode"
    assert slug("gRPC with and without init_gevent") == "grpc-with-and-without-init_gevent"
    assert slug("The bench's time under load") == "the-benchs-time-under-load"
    assert slug("make demo, step by step") == "make-demo-step-by-step"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    links = relative_links(page)
    for link in links:
        path, _, fragment = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.relative_to(ROOT)}: {link} points at nothing"
        if fragment and target.suffix == ".md":
            assert fragment in anchors(target), f"{page.relative_to(ROOT)}: {link}: no such heading"


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [url](https://example.org/x)\n\n    [code](nope.md)\n")
    assert relative_links(page) == ["#title", "missing.md"]
    assert not (tmp_path / "missing.md").exists() and "title" in anchors(page)
