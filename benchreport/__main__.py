"""`python -m benchreport RUN_DIR`: write the run's report and print its table.

`python -m benchreport compare RUN_A RUN_B` compares two runs' summary.json
instead (benchreport.compare: its own options and exit status; it writes
nothing but the page `--html` asks for, benchreport.comparehtml). `python -m benchreport collect RUN_DIR` (= `python -m
benchreport.collect RUN_DIR`) unpacks the plan runners' archives into RUN_DIR
first (benchreport.collect). A run folder named `compare` or `collect` is
given as `./compare`, `./collect`.

Writes RUN_DIR/summary.json, RUN_DIR/bench.json (the bench as a whole: timing.json's
load share when benchreport.collect wrote one), RUN_DIR/report.md, RUN_DIR/chart.png and
RUN_DIR/report.html (benchreport.html: the interactive page; its path is the last line), points
RUN_DIR/../latest at RUN_DIR (a relative symlink), prints the short version first
(benchreport.short: the best modes by req/s, p99 and CPU per request, the knee where a rate sweep
ran, report.html's absolute path), then the text table (by
group), what to use (one line per concurrency: the best mode by req/s, p99 and
CPU per request, benchreport.whattouse), the note on ab's own ceiling, the
ab-vs-wrk comparison (when both ran) and the notes.

Exit status (the play writes the report first, then fails on 3):
  0  report written, every run measured
  3  report written, at least one run has an error (mode did not start, ab
     aborted, nothing answered...): see the notes
  1  no report: RUN_DIR missing or holding no run folders
  2  bad command line (argparse)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# The mode table, read the app's way (the benchapp package, which `make venv` installs).
from benchapp.modes import MODES_FILE as DEFAULT_MODES
from benchapp.modes import ModeTableError, load_modes
from benchreport import EXIT_RUN_ERROR, collect, compare, render, short
from benchreport import html as html_report
from benchreport.summary import BENCH, build_summary, load_timing, unexpected_error, write_bench, write_summary

REPO_ROOT = Path(__file__).resolve().parent.parent


def update_latest(run_dir: Path) -> Path:
    """Point <results>/latest at run_dir with a relative link, replaced atomically.

    run_dir is resolved first: given `results/latest` itself, the link keeps
    pointing at the run it names instead of at itself.
    """
    run_dir = run_dir.resolve()
    link = run_dir.parent / "latest"
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; not replacing it")
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(run_dir, run_dir.parent))
    os.replace(tmp, link)
    return link


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in[:1] == ["compare"]:
        # A subcommand only by its first word: RUN_DIR's usage, which the bench calls, is unchanged.
        return compare.main(args_in[1:])
    if args_in[:1] == ["collect"]:
        return collect.main(args_in[1:])
    parser = argparse.ArgumentParser(
        prog="python -m benchreport",
        description="Build summary.json, report.md, chart.png and report.html from a bench run directory.",
        epilog=f"Exit status: 0 ok, {EXIT_RUN_ERROR} report written but a run had an error, "
        "1 no report, 2 usage. Two runs compared: python -m benchreport compare RUN_A RUN_B (-h there).",
    )
    parser.add_argument("run_dir", type=Path, help="results/<run-id> holding one folder per run (run.json, ...)")
    parser.add_argument("--modes-file", type=Path, default=DEFAULT_MODES,
                        help="the mode table (titles, seed figures); default: %(default)s")
    parser.add_argument("--no-latest", action="store_true", help="do not update the 'latest' symlink")
    args = parser.parse_args(args_in)

    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        print(f"benchreport: {run_dir} is not a directory", file=sys.stderr)
        return 1
    modes = {}
    try:
        modes = load_modes(args.modes_file)
    except (OSError, ModeTableError, ValueError, KeyError, TypeError) as exc:
        print(f"benchreport: warning: mode table {args.modes_file} not read ({exc}): "
              "no titles, seed figures or expectations from it", file=sys.stderr)
    records = build_summary(run_dir, modes)
    if not records:
        print(f"benchreport: no run folders (run.json or a client's output) in {run_dir}", file=sys.stderr)
        return 1

    run_id = run_dir.resolve().name
    timing, timing_warning = load_timing(run_dir)
    if timing_warning:
        print(f"benchreport: warning: {timing_warning}: no load share in the report", file=sys.stderr)
    write_summary(records, run_dir / "summary.json")
    write_bench(run_dir / BENCH, run_id, timing)
    (run_dir / "report.md").write_text(render.markdown(records, run_id, timing))
    render.chart(records, run_dir / "chart.png", title=f"Bench run {run_id}: req/s as % of ideal")
    page = None
    try:
        page = html_report.write(run_dir, records, run_id, timing)
    except Exception as exc:  # noqa: BLE001 - the page is an extra: summary.json and report.md stand without it
        print(f"benchreport: warning: report.html not written: {exc!r}", file=sys.stderr)
    if not args.no_latest:
        try:
            update_latest(run_dir)
        except OSError as exc:
            print(f"benchreport: warning: latest link not updated: {exc}", file=sys.stderr)

    print("\n".join(short.lines(records, page)) + "\n")
    print(f"Bench run {run_id} ({run_dir})")
    share = render.timing_line(timing)
    if share:
        print(f"Bench time: {share}")
    print(render.text_table(records))
    for footnote in (render.client_limited_footnote(records), render.p99_bound_footnote(records)):
        if footnote:
            print(footnote)
    best = render.what_to_use_lines(records)
    if best:
        print("\nWhat to use (best mode by req/s, p99, CPU per request; margin over the next mode; "
              "report.md's \"What to use\"):")
        for line in best:
            print(f"  {line}")
    ceiling = render.ceiling_note(records)
    if ceiling:
        print(f"\n{ceiling}")
    table = render.compare_table(records)
    if table:
        print(f"\nClients compared (ab vs wrk):\n{table}")
    found = render.notes(records)
    if found:
        print("\nNotes:")
        for note in found:
            print(f"- {note}")
    print(f"\nWrote {run_dir / 'summary.json'}, {BENCH}, report.md, chart.png"
          + (f", {html_report.REPORT}" if page else ""))
    if page:
        print(f"Report: {page.resolve()}")
    return EXIT_RUN_ERROR if any(unexpected_error(r) for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
