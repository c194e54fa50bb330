"""`python -m benchreport.html RUN_DIR`: (re)write report.html alone from the run's summary.json (say for a
run made before report.html existed); the charts' data read again with benchreport.rundata.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchreport import model, rundata, thresholds
from benchreport.html.page import write
from benchreport.model import SUMMARY
from benchreport.runfiles import load_timing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchreport.html",
        description="Write RUN_DIR/report.html from its summary.json and raw files "
                    "(python -m benchreport RUN_DIR writes it with the rest of the report).")
    parser.add_argument("run_dir", type=Path, help="results/<run-id> holding summary.json")
    args = parser.parse_args(argv)
    summary = args.run_dir / SUMMARY
    if not summary.is_file():
        print(f"benchreport.html: no {summary}: run python -m benchreport {args.run_dir} first", file=sys.stderr)
        return 1
    try:
        records = model.records(json.loads(summary.read_text()))
    except ValueError as exc:
        print(f"benchreport.html: {summary} unreadable: {exc}", file=sys.stderr)
        return 1
    timing, _ = load_timing(args.run_dir)
    kept = args.run_dir / thresholds.FILENAME  # the thresholds the bench was held to, judged again
    checked = thresholds.judge_file(kept, records, kept.name) if kept.is_file() else None
    raws = rundata.read_all(args.run_dir, records)
    print(f"Wrote {write(args.run_dir, records, raws, timing=timing, checked=checked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
