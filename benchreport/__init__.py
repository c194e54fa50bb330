"""Bench report: ab's and wrk's raw output -> summary.json, report.md, chart.png.

Runs on the controller after bench.yml has fetched every mode's raw files to
results/<run-id>/<mode>-<profile>[-wrk]/ (see benchreport.summary for the layout and
the meta.json schema). `python -m benchreport RUN_DIR` is the entry point.
"""

#: Exit status of the CLI when the report was written but a run had an error,
#: so the play can finish its report and still end non-zero.
EXIT_RUN_ERROR = 3
