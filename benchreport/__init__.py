"""Bench report: a run's files (the load clients' raw output, read by benchhost.clients) -> summary.json,
report.md, chart.png, report.html; compare; history (every run of a results folder, trends and steps).

Runs on the controller after bench.yml has fetched every run's files to
results/<run-id>/<name>/ (see benchreport.runfiles for the layout: run.json,
loadgen.json, server.json, outcome.json and the client's raw files).
`python -m benchreport RUN_DIR` is the entry point. With the plan runner, the
hosts' archives are unpacked into that layout first: `python -m
benchreport.collect RUN_DIR` (benchreport.collect).

Its layers (.importlinter): the model (model), formats (fmt), readers
(runfiles, rundata, collect, environment, noisefloors, runlist, fingerprint,
commits), analysis (summary, knee, compare, whattouse, readiness, history,
steps, ...), renderers (render, short, html/, comparehtml, historyhtml) and
the command line (__main__); each imports only downward.
"""

#: Exit status of the CLI when the report was written but a run had an error,
#: so the play can finish its report and still end non-zero.
EXIT_RUN_ERROR = 3
#: ... and when every run was measured but a threshold failed (benchreport.thresholds), after the report.
EXIT_THRESHOLDS = 4
