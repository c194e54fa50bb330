"""report.html: the run's report as one self-contained interactive page, beside report.md.

`python -m benchreport RUN_DIR` writes it with report.md and chart.png;
`python -m benchreport.html RUN_DIR` (re)writes it alone from the run's
summary.json (say for a run made before report.html existed).

Every figure comes from the run's Records (the ones report.md shows,
benchreport.summary) or from the per-request and per-second data that
benchreport.rundata read from the run's folders (ab's -g file, wrk.json's
histogram, benchhost.clients.rate's rate.tsv, server.json's series; the load hosts'
folders of a split run), handed in by the caller: the page reads no file.
Nothing is typed in. The charts (plotly; its JavaScript is embedded once, so
the file opens without a network):

* % of ideal by mode: one bar per point and profile (render.chart_bars, the
  same bars as chart.png): the median of the repetitions, their min–max as
  an error bar, ab's ceiling and the seed's published figure as markers.
* req/s and p99 against concurrency: one line per mode and profile that ran
  at two or more c (a sweep); the median of the repetitions, min–max as
  error bars (model.spread over the records' own rps and p99_ms).
* the knee (constant-rate runs, client=rate; benchreport.knee): per delay, the
  p99 timed from the schedule against the rate scheduled, one line per mode
  and profile (the median of a rate's repetitions, min–max as error bars),
  the budget 1.5 × delay as a dashed line, the rates over it crossed and each
  knee a star; each mode's machine limit (benchreport.knee.machine_limit) in
  the text and, when within twice the highest rate, as a dotted line. Only when
  rate runs are in the run.
* latency distribution: one percentile curve per point (its repetitions'
  requests pooled, and the load hosts' of a split run), one chart per load
  (client, c, delay; a rate run's load is its rate). rate: every answered
  request's time from its scheduled send, from rate.tsv (whole ms, nearest
  rank: as rate.json's latency_hist_ms). ab: every request's total time from ab.tsv
  (whole ms), percentiles by ab's nearest-rank rule (benchhost.clients.ab.rank_ms). wrk:
  wrk.json's latency histogram (latency_hist_us; wrk's percentile rule,
  benchhost.clients.wrk.hist_percentile; corrected for coordinated omission by wrk when
  summary's percentiles_from says "corrected"); without the histogram, wrk's
  own five figures (p50, p90, p99, p99.9, max) as points.
* timeline of each run (a menu picks the run), on one wall-clock axis:
  requests completed in each second since the run's first start and the p99
  of those, from ab.tsv (ab records each start in whole seconds: an end is
  start second + total time, right to ±1 s) or rate.tsv (an end is the
  scheduled send + its latency, on the clock from loadgen.json's start), and
  below them the server's CPU
  as % of one core between consecutive samples of server.json's series
  (benchhost.sample, about one every 0.25 s: runfiles.cpu_per_second). wrk keeps
  no per-request times: its runs show the CPU only, from loadgen.json's
  start (its `started`, Unix s). A run whose server.json has no samples (older runs) shows its
  answers only and is named at the top.
* CPU ms per request and peak RSS per point and profile (medians of the
  repetitions; CPU with its min–max), both over the load window (summary's
  cpu_window). The timeline's "% of a core" is that CPU over the same
  window's seconds.

The modes' group (summary's `group`) is the first level of every bar chart's
axis, and the legend's sections of the line charts (colours: one family per
group). Under each chart a table gives the numbers it draws; at the end, the
run's full table (render.columns, as report.md; a failed cell's hover names
the non-2xx codes, render.non_2xx_text) and its notes. Runs with an
error or an expected failure are left out of the charts (they have no
figures to draw) and listed; a raw file that is missing or unreadable is
named at the top of the page with what it left out.

The package, one module per chart family (throughput, knees, latency,
timeline, resources) over the names and colours of the runs (names) and the
page's pieces (parts, which compare's page uses too); page assembles them.
"""

from benchreport.html.page import REPORT, charts, full_table, write

__all__ = ["REPORT", "charts", "full_table", "write"]
