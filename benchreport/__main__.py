"""`python -m benchreport RUN_DIR`: write the run's report and print its table.

`python -m benchreport compare RUN_A RUN_B` compares two runs' summary.json
instead (compare_main: its own options and exit status; benchreport.compare
compares, and it writes nothing but the page `--html` asks for,
benchreport.comparehtml). `python -m benchreport check RUN [--thresholds FILE]`
holds a recorded run's summary.json to thresholds (check_main: the run's own
thresholds.yml, or FILE; benchreport.thresholds), prints each, writes junit.xml
and exits 1 when one failed: for CI scripts. `python -m benchreport collect RUN_DIR` (= `python -m
benchreport.collect RUN_DIR`) unpacks the plan runners' archives into RUN_DIR
first (benchreport.collect). A run folder named `compare`, `collect`, `history` or `check` is
given as `./compare`, `./collect`, `./history`, `./check`.

When RUN_DIR holds thresholds.yml (the bench's copy of bench.yml -e thresholds=FILE, or of the app's),
they are judged (benchreport.thresholds): report.md, report.html and the short version list them,
bench.json holds the result and RUN_DIR/junit.xml the same as JUnit (benchreport.junit).

Writes RUN_DIR/summary.json, RUN_DIR/bench.json (the bench as a whole: timing.json's
load share when benchreport.collect wrote one), RUN_DIR/report.md, RUN_DIR/chart.png and
RUN_DIR/report.html (benchreport.html: the interactive page; its path is the last line), points
RUN_DIR/../latest at RUN_DIR (a relative symlink), prints the short version first
(benchreport.short: the best modes by req/s, p99 and CPU per request, the knee where a rate sweep
ran, report.html's absolute path), then the text table (by
group), what to use (one line per concurrency: the best mode by req/s, p99 and
CPU per request, benchreport.whattouse), the note on ab's own ceiling, the
ab-vs-wrk comparison (when both ran) and the notes.

Exit status (the play writes the report first, then fails on 3 or 4):
  0  report written, every run measured (and every threshold passed)
  3  report written, at least one run has an error (mode did not start, ab
     aborted, nothing answered...): see the notes
  4  report written, every run measured, but a threshold failed (or thresholds.yml did not read)
  1  no report: RUN_DIR missing or holding no run folders
  2  bad command line (argparse)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

# The mode table, read the app's way (the benchapp package, which `make venv` installs).
from benchapp.modes import MODES_FILE as DEFAULT_MODES
from benchapp.modes import ModeTableError, load_modes
from benchreport import (EXIT_RUN_ERROR, EXIT_THRESHOLDS, collect, commits, compare, comparehtml, history,
                         historyhtml, junit, model, noisefloors, render, rundata, runlist, short, thresholds)
from benchreport import html as html_report
from benchreport.model import app_of, unexpected_error
from benchreport.runfiles import load_timing
from benchreport.summary import BENCH, build_records, write_bench, write_summary

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


# -- compare RUN_A RUN_B ------------------------------------------------------------------------


def percent(text: str) -> float:
    """A percentage from the command line: `10` or `10%`, >= 0."""
    try:
        x = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not math.isfinite(x) or x < 0:
        raise argparse.ArgumentTypeError(f"not a percentage >= 0: {text!r}")
    return x


def compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport compare",
        description="Compare two bench runs' summary.json point by point (req/s, p99, CPU ms/request).",
        epilog=f"A point is ({', '.join(model.POINT_KEYS)}). Noise band: max(floor, "
        f"{compare.CV_FACTOR:g} × max(cv_A, cv_B)) when both records carry stats.<metric>.cv, else the floor: "
        "--noise, or benchreport/noise_floors.json's for the point's client, metric and run length (the output "
        "says when those are provisional). With one run on a side a change beyond the band is reported as "
        "\"slower (needs repeats)\" and never regresses the point: run it with repeat=K. With "
        f"{compare.MW_MIN_REPEATS}+ repetitions a side a change is faster or slower only when the one-sided "
        f"Mann-Whitney p on the repetitions is <= {compare.MW_ALPHA:g} too. A point regressed when a metric with a "
        "verdict is outside the band and worse by more than --threshold, or the failed share (failed / (complete "
        f"+ failed)) rose by more than {compare.FAILED_SHARE_PP:g} percentage points or from 0 failed. A p99 with "
        "failed requests left out of it is a lower bound (≥): it is never an improvement. Exit status: "
        f"{compare.EXIT_OK} no regression, {compare.EXIT_REGRESSED} a point regressed, {compare.EXIT_USAGE} a run "
        "missing, without summary.json, no point in common, noise_floors.json unreadable, --html's page not "
        "written, or usage.",
    )
    parser.add_argument("run_a", help="the baseline: a run id under --results, `latest`, or a run folder's path")
    parser.add_argument("run_b", help="the run compared with it (same forms)")
    parser.add_argument("--results", type=Path, default=compare.DEFAULT_RESULTS,
                        help="where run ids are looked up; default: %(default)s")
    parser.add_argument("--noise", type=percent, default=None, metavar="PCT",
                        help="one noise floor in %% for every metric, instead of benchreport/noise_floors.json's")
    parser.add_argument("--threshold", type=percent, default=compare.DEFAULT_THRESHOLD_PCT, metavar="PCT",
                        help="a worse change beyond the band regresses when larger than this, in %%; "
                        "default: %(default)g")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    parser.add_argument("--html", nargs="?", const="", default=None, metavar="PATH",
                        help="also write the comparison as a self-contained page (charts and the table): to "
                        "PATH, or without one to RUN_B's folder as compare-<A's id>.html")
    return parser


def compare_main(argv: list[str] | None = None) -> int:
    """`compare RUN_A RUN_B`: parse, compare, print (and write the page --html asks for); the exit status says
    whether a point regressed."""
    args = compare_parser().parse_args(argv)
    try:
        run_a, run_b = (compare.resolve_run(a, args.results) for a in (args.run_a, args.run_b))
        cmp = compare.compare_runs(compare.load_records(run_a), compare.load_records(run_b), run_a, run_b,
                                   args.noise, args.threshold)
    except compare.CompareError as exc:
        print(f"benchreport compare: {exc}", file=sys.stderr)
        return compare.EXIT_USAGE
    page = None
    if args.html is not None:
        try:
            page = comparehtml.write(cmp, Path(args.html) if args.html else None)
        except OSError as exc:
            print(f"benchreport compare: --html: cannot write the page: {exc}", file=sys.stderr)
            return compare.EXIT_USAGE
    if args.json:
        result = compare.as_json(cmp) | ({"html": str(page.resolve())} if page is not None else {})
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print(compare.text_report(cmp))
        if page is not None:
            print(f"Wrote {page.resolve()}")
    return cmp.exit_code()


# -- history [RESULTS_DIR] ----------------------------------------------------------------------


def history_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport history",
        description="List every bench run of a results folder (a line each: when, commit, fingerprint, state, "
        "points, report), write its index.html (the runs, the fingerprints, each point's trend per fingerprint "
        "and the steps found in it) and, with --check, fail when a point's newest run is after a step for the "
        "worse.",
        epilog="A step: the change between the runs before and after a split larger than --threshold and the "
        f"noise band (the largest of the point's floor, {compare.CV_FACTOR:g} × the repetitions' cv, and a 99.9% t "
        "interval on the runs' own spread), with a one-sided Mann-Whitney p <= "
        f"{compare.MW_ALPHA:g} over their repetitions ({compare.MW_MIN_REPEATS}+ values a side); docs/history.md. "
        "Runs are compared only on one fingerprint (the hosts' CPU, cores, memory, kernel, OS, "
        f"Python, key packages, client versions). Exit status: {history.EXIT_OK} listed (with --check: no newest "
        f"run after a step for the worse), {history.EXIT_REGRESSED} with --check a point's newest run is after a "
        f"step for the worse, {history.EXIT_USAGE} RESULTS_DIR missing, noise_floors.json unreadable, the page "
        "not written, or usage.")
    parser.add_argument("results", nargs="?", type=Path, default=compare.DEFAULT_RESULTS,
                        help="the folder of runs; default: %(default)s")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the newest run of any point is after a step for the worse")
    parser.add_argument("--threshold", type=percent, default=compare.DEFAULT_THRESHOLD_PCT, metavar="PCT",
                        help="a step must change its metric by more than this, in %%; default: %(default)g")
    parser.add_argument("--html", type=Path, default=None, metavar="PATH",
                        help=f"write the page to PATH instead of RESULTS_DIR/{history.INDEX}")
    parser.add_argument("--no-html", action="store_true", help="write no page (a read-only results folder)")
    parser.add_argument("--repo", type=Path, default=commits.REPO_ROOT,
                        help="the checkout whose git log lists the commits between runs; default: %(default)s")
    return parser


def history_main(argv: list[str] | None = None) -> int:
    """`history [RESULTS_DIR]`: list the runs, write index.html; with --check the exit status says whether a point's
    newest run is after a step for the worse."""
    args = history_parser().parse_args(argv)
    if not args.results.is_dir():
        print(f"benchreport history: {args.results} is not a directory", file=sys.stderr)
        return history.EXIT_USAGE
    try:
        floors = noisefloors.load()
    except noisefloors.FloorsError as exc:
        print(f"benchreport history: {exc}", file=sys.stderr)
        return history.EXIT_USAGE
    hist = history.build(args.results, runlist.read_results(args.results), floors, args.threshold, args.repo)
    print("\n".join(history.listing(hist)))
    if not args.no_html:
        try:
            page = historyhtml.write(hist, args.html)
        except OSError as exc:
            print(f"benchreport history: cannot write the page: {exc}", file=sys.stderr)
            return history.EXIT_USAGE
        print(f"Wrote {page.resolve()}")
    if args.check:
        print("\n".join(["", *history.check_lines(hist)]))
        return hist.exit_code()
    return history.EXIT_OK


# -- check RUN --------------------------------------------------------------------------------------


CHECK_OK, CHECK_FAILED, CHECK_USAGE = 0, 1, 2


def check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport check",
        description="Hold a recorded run (its summary.json) to thresholds: each threshold on each point it "
        "selects, passed or failed with the figure measured; write them as JUnit XML.",
        epilog=f"The figures: {thresholds.RULE}. Exit status: {CHECK_OK} every threshold passed, {CHECK_FAILED} "
        f"one failed, {CHECK_USAGE} a run not found, without a readable summary.json, a thresholds file that does "
        "not read or does not fit the run (a metric it did not measure, a mode or route it did not run), "
        "junit.xml not written, or usage. docs/thresholds.md.")
    parser.add_argument("run", help="a run id under --results, `latest`, or a run folder's path")
    parser.add_argument("--thresholds", type=Path, default=None, metavar="FILE",
                        help=f"the thresholds; default: the run's own {thresholds.FILENAME} (the bench's copy)")
    parser.add_argument("--results", type=Path, default=compare.DEFAULT_RESULTS,
                        help="where run ids are looked up; default: %(default)s")
    parser.add_argument("--junit", type=Path, default=None, metavar="PATH",
                        help=f"where the JUnit XML goes; default: the run's {thresholds.JUNIT}")
    return parser


def check_main(argv: list[str] | None = None) -> int:
    """`check RUN`: a recorded run's summary.json held to thresholds; exit 1 when one failed."""
    args = check_parser().parse_args(argv)
    try:
        run = compare.resolve_run(args.run, args.results)
        records = compare.load_records(run)
    except compare.CompareError as exc:
        print(f"benchreport check: {exc}", file=sys.stderr)
        return CHECK_USAGE
    file = args.thresholds or run / thresholds.FILENAME
    if not file.is_file():
        print(f"benchreport check: no thresholds: {file} is no file"
              + ("" if args.thresholds else " (the bench kept none: give --thresholds FILE)"), file=sys.stderr)
        return CHECK_USAGE
    try:
        found = thresholds.load(file)
        thresholds.check_scope(found, [thresholds.Planned.of(vars(r)) for r in records], str(file), "the run")
    except thresholds.ThresholdsError as exc:
        print("\n".join(f"benchreport check: {m}" for m in exc.messages), file=sys.stderr)
        return CHECK_USAGE
    checked = thresholds.judge(found, records, str(file))
    print(f"Thresholds of {file} on {run}: {checked.head()} ({thresholds.RULE})")
    for status in (thresholds.FAILED, thresholds.PASSED, thresholds.SKIPPED):
        for r in checked.of(status):
            print(f"  {status:<7} {r.line}")
    path = args.junit or run / thresholds.JUNIT
    try:
        junit.write(checked, path, run.name)
    except OSError as exc:
        print(f"benchreport check: --junit: cannot write {path}: {exc}", file=sys.stderr)
        return CHECK_USAGE
    print(f"Wrote {path}")
    return CHECK_FAILED if checked.failed else CHECK_OK


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in[:1] == ["compare"]:
        # A subcommand only by its first word: RUN_DIR's usage, which the bench calls, is unchanged.
        return compare_main(args_in[1:])
    if args_in[:1] == ["history"]:
        return history_main(args_in[1:])
    if args_in[:1] == ["collect"]:
        return collect.main(args_in[1:])
    if args_in[:1] == ["check"]:
        return check_main(args_in[1:])
    parser = argparse.ArgumentParser(
        prog="python -m benchreport",
        description="Build summary.json, report.md, chart.png and report.html from a bench run directory.",
        epilog=f"Exit status: 0 ok, {EXIT_RUN_ERROR} report written but a run had an error, {EXIT_THRESHOLDS} "
        f"report written but a threshold of RUN_DIR/{thresholds.FILENAME} failed, 1 no report, 2 usage. Two runs "
        "compared: python -m benchreport compare RUN_A RUN_B (-h there); every run listed, with trends: python -m "
        "benchreport history [RESULTS_DIR] (-h there); a run held to thresholds: python -m benchreport check RUN "
        "(-h there).",
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
    records = build_records(run_dir, modes)
    if not records:
        print(f"benchreport: no run folders (run.json or a client's output) in {run_dir}", file=sys.stderr)
        return 1

    run_id = run_dir.resolve().name
    timing, timing_warning = load_timing(run_dir)
    if timing_warning:
        print(f"benchreport: warning: {timing_warning}: no load share in the report", file=sys.stderr)
    kept = run_dir / thresholds.FILENAME  # the bench's copy of the thresholds it was held to
    checked = thresholds.judge_file(kept, records, kept.name) if kept.is_file() else None
    write_summary(records, run_dir / "summary.json")
    write_bench(run_dir / BENCH, run_id, timing, app_of(records), checked.as_dict() if checked else None)
    (run_dir / "report.md").write_text(render.markdown(records, run_id, timing, checked))
    if checked is not None:
        junit.write(checked, run_dir / thresholds.JUNIT, run_id)
    else:  # an older junit.xml would judge thresholds this run no longer has
        (run_dir / thresholds.JUNIT).unlink(missing_ok=True)
    ideal = [r for r in records if not r.app]  # a user's app has no delay, so no % of ideal to draw
    if ideal:
        render.chart(ideal, run_dir / "chart.png", title=f"Bench run {run_id}: req/s as % of ideal")
    else:
        (run_dir / "chart.png").unlink(missing_ok=True)
    page = None
    try:
        page = html_report.write(run_dir, records, rundata.read_all(run_dir, records), run_id, timing,
                                 checked=checked)
    except Exception as exc:  # noqa: BLE001 - the page is an extra: summary.json and report.md stand without it
        print(f"benchreport: warning: report.html not written: {exc!r}", file=sys.stderr)
    if not args.no_latest:
        try:
            update_latest(run_dir)
        except OSError as exc:
            print(f"benchreport: warning: latest link not updated: {exc}", file=sys.stderr)

    print("\n".join(short.lines(records, page, checked)) + "\n")
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
    print(f"\nWrote {run_dir / 'summary.json'}, {BENCH}, report.md" + (", chart.png" if ideal else "")
          + (f", {html_report.REPORT}" if page else "") + (f", {thresholds.JUNIT}" if checked else ""))
    if page:
        print(f"Report: {page.resolve()}")
    if any(unexpected_error(r) for r in records):
        return EXIT_RUN_ERROR
    return EXIT_THRESHOLDS if checked is not None and checked.failed else 0


if __name__ == "__main__":
    sys.exit(main())
