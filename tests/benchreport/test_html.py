"""report.html (issue 14, benchreport.html) and compare's page: built from recorded runs, opened in a real
headless Chromium.

The recorded runs:

* tests/data/benchreport/run-sample: ab, seed and tuned, every run once (the
  report's other tests use it too); psycopg2/seed has no ab.tsv (ab aborted)
  and three runs have an error: what a run with missing raw files looks like.
* tests/data/benchreport/wrk-sweep: wrk at c=200 and c=1000, 3 repetitions
  each, the tuned profile of a few modes of one group each (copied from a real
  `make demo` sweep; see its README.md): the sweep and the histograms.

* tests/data/benchreport/rate-sweep: constant-rate runs (client=rate) of two
  modes at three rates, built by hand from benchhost.clients.rate's schema (see its
  README.md): the knee chart, the latency curves and timelines from rate.tsv,
  the server's CPU from server.json's samples.

The first two were recorded before benchhost.sample kept its per-second series
(server.json's samples): the tests that draw the server's CPU in the timeline
add a series to a copy (SAMPLES), spanning the run's own times and CPU totals;
the runs left without one show what a page of an older run says.

Each is copied to a temporary folder and built with `python -m benchreport
RUN_DIR` (benchreport.__main__, which writes report.html with report.md), then
opened in Chromium with the network off: no console error, every chart the
run's data allows drawn (plotly's .js-plotly-plot with its SVG and traces),
the run's modes named in them, and a screenshot kept as report.png in the
run's folder (the path is printed: pytest -s, or -rP).

The compare view (`python -m benchreport compare A B --html`, benchreport.comparehtml)
is opened the same way: the built wrk sweep as A, B a copy with two figures
changed in its summary.json.

The browser (tests/headless.py, shared with history's page): Debian's
chromium through selenium. Playwright would want its own browser builds
(`playwright install`, a download per version) rather than Debian's.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import statistics
from pathlib import Path

import pytest

from benchreport import html, model, render, rundata
from benchreport.__main__ import main as cli_main
from benchhost.clients.ab import parse_tsv
from benchhost.clients.rate import parse_tsv as parse_rate_tsv
from benchreport.html.__main__ import main as html_main
from benchreport.model import counts_for_stats
from benchrun import ROOT
from headless import WIDTH, chromium, open_report, self_contained

DATA = ROOT / "tests" / "data" / "benchreport"
SAMPLE = DATA / "run-sample"
SWEEP = DATA / "wrk-sweep"
RATE_SWEEP = DATA / "rate-sweep"
#: Per-second series added to copies of run-sample (its server.json files predate them): per run folder,
#: (t Unix s, cumulative cpu_ns, rss_kib) from before its ab.tsv's first start second to after its last end,
#: from its cpu_ns_before to its cpu_ns_after.
SAMPLES = {
    "uwsgi-tuned": [(1795320597.8, 250_000_000, 33_800), (1795320598.8, 375_000_000, 34_048),
                    (1795320599.8, 398_000_000, 34_000), (1795320600.8, 400_000_000, 33_990)],
    "uwsgi-seed": [(1795320597.6, 200_000_000, 33_700), (1795320598.6, 248_000_000, 33_864),
                   (1795320599.6, 250_000_000, 33_800)],
}
CPU_TRACE = "server CPU (% of a core)"

#: Hover the first point of a chart's first bar trace (plotly's own Fx.hover): its y and the label's text.
HOVER_JS = """
const d = document.getElementById(arguments[0]);
const i = d.data.findIndex(t => t.type === 'bar');
Plotly.Fx.hover(d, [{curveNumber: i, pointNumber: 0}]);
const label = d.querySelector('g.hovertext');
return [d.data[i].y[0], label ? label.textContent : null];
"""


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def build(tmp_path: Path, source: Path, capsys) -> tuple[Path, list[dict]]:
    """The recorded run copied and reported (python -m benchreport): its folder and summary.json."""
    run_dir = tmp_path / source.name
    shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns(
        "summary.json", "bench.json", "report.*", "chart.png", "README.md"))
    rc = cli_main([str(run_dir), "--no-latest"])
    out = capsys.readouterr().out
    assert rc in (0, 3), out
    page = run_dir / html.REPORT
    assert page.is_file(), out
    # the bench's terminal names the page's path (the play shows this output)
    assert f"Report: {page.resolve()}" in out.splitlines()
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def add_samples(folder: Path, samples: list[tuple[float, int, int]]) -> None:
    """Give a run's server.json the series benchhost.sample now writes (its other fields unchanged)."""
    server = json.loads((folder / "server.json").read_text())
    server.update(samples=[{"t": t, "cpu_ns": cpu, "rss_kib": rss} for t, cpu, rss in samples],
                  sample_every_s=1.0, samples_cpu_source="proc")
    (folder / "server.json").write_text(json.dumps(server))


def sampled(tmp_path: Path) -> Path:
    """run-sample copied, with SAMPLES in two of its runs' server.json (the others have none)."""
    source = tmp_path / "src" / SAMPLE.name
    shutil.copytree(SAMPLE, source)
    for folder, samples in SAMPLES.items():
        add_samples(source / folder, samples)
    return source


def cpu_pcts(samples: list[tuple[float, int, int]]) -> list[float]:
    """% of a core between consecutive samples."""
    return [100.0 * (b[1] - a[1]) / ((b[0] - a[0]) * 1e9) for a, b in zip(samples, samples[1:])]


def screenshot(driver, run_dir: Path) -> Path:
    """The whole page as report.png in the run's folder (DevTools' capture beyond the viewport)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})
    path = run_dir / "report.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {path}")
    return path


def exact(value: float) -> str:
    """A figure as the page prints it: up to 3 decimals, trailing zeros dropped."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def counted(records: list[dict]) -> list[dict]:
    return [r for r in records if counts_for_stats(model.Record.from_dict(r))]


def latency_keys(run_dir: Path, records: list[dict]) -> dict[str, set[str]]:
    """The latency charts the run's files allow, found here from summary.json and the folders: per
    (client, c, delay) with a run that counts and has its latencies (ab.tsv; wrk.json's histogram, or
    at least wrk's own percentiles), the modes that have them."""
    found: dict[str, set[str]] = {}
    for rec in counted(records):
        folder = run_dir / rec["raw_dir"]
        if rec["client"] == "ab":
            has = (folder / "ab.tsv").is_file()
        else:
            wrk = json.loads((folder / "wrk.json").read_text())
            has = bool(wrk.get("latency_hist_us")) or (wrk.get("latency_us") or {}).get("p50") is not None
        if has:
            found.setdefault(f"latency-{rec['client']}-c{rec['c']}-d{rec['delay']:g}", set()).add(rec["mode"])
    return found


def check_page(sections: list[dict], errors: list[dict], drawn: dict[str, set[str]],
               absent: dict[str, str]) -> None:
    """No console error; exactly the `drawn` charts rendered, each with its SVG, traces and marks and the
    modes given; the `absent` ones say why (a piece of their text)."""
    assert errors == [], errors
    by_key = {s["key"]: s for s in sections}
    assert {k for k, s in by_key.items() if s["drawn"]} == set(drawn)
    assert {k for k, s in by_key.items() if not s["drawn"]} == set(absent)
    for key, modes in drawn.items():
        s = by_key[key]
        assert s["svgs"] >= 1 and s["traces"] >= 1 and s["marks"] >= 1, s
        assert modes, key
        for mode in modes:
            assert mode in s["text"], f"{mode} not in the {key} chart"
        assert set(s["modes"]) >= modes, (key, s["modes"])
    for key, why in absent.items():
        assert why in (by_key[key]["absent"] or ""), by_key[key]


#: Pick a run in the timeline's menu (its button's own update; async: selenium's callback last) and say
#: whether its CPU line is drawn in the lower subplot (a path through its points), with the trace's y.
PICK_RUN_JS = """
const done = arguments[arguments.length - 1];
const d = document.getElementById('chart-timeline');
const k = d.layout.updatemenus[0].buttons.findIndex(
  b => b.label === arguments[0] || b.label.startsWith(arguments[0] + ' '));
const b = d.layout.updatemenus[0].buttons[k];
Plotly.update(d, b.args[0], b.args[1]).then(() => {
  const cpu = d.data.findIndex(t => t.visible === true && t.name === arguments[1]);
  const path = d.querySelector('.subplot.x2y3 g.trace.scatter path.js-line');
  done([k, cpu >= 0 ? d.data[cpu].y : null, path ? path.getAttribute('d') : null]);
});
"""


def test_sample_run_in_chromium(browser, tmp_path, capsys):
    """The ab run: % of ideal, one latency chart per load, the timeline (with the server's CPU where
    server.json has samples) and CPU/RSS drawn; no sweep."""
    run_dir, records = build(tmp_path, sampled(tmp_path), capsys)
    text = (run_dir / html.REPORT).read_text()
    self_contained(text)
    sections, errors = open_report(browser, run_dir / html.REPORT)
    every_mode = {r["mode"] for r in records}
    measured = {r["mode"] for r in counted(records)}
    with_tsv = {r["mode"] for r in counted(records) if (run_dir / r["raw_dir"] / "ab.tsv").is_file()}
    drawn = {"pct-of-ideal": every_mode, "cpu-rss": measured, **latency_keys(run_dir, records),
             # the menu shows the first run (the others are its buttons): one of them
             "timeline": {next(r.mode for r in render.in_group_order(model.records(records)) if r.mode in with_tsv)}}
    check_page(sections, errors, drawn, {"sweep": "No mode ran at more than one concurrency"})
    assert len([k for k in drawn if k.startswith("latency-")]) >= 2
    # hovering a bar shows its figure exactly as summary.json has it
    value, label = browser.execute_script(HOVER_JS, "chart-pct-of-ideal")
    assert value in [r["pct_of_ideal"] for r in records]
    assert f"{exact(value)}% of ideal" in (label or ""), label
    # the failed runs are named at the top, not drawn
    missing = browser.find_element("id", "missing").text
    for rec in records:
        if not counts_for_stats(model.Record.from_dict(rec)):
            assert f"{rec['mode']}/{rec['profile']}" in missing
    # the runs whose server.json has no samples are named; uwsgi/tuned's CPU is drawn under its answers
    assert "without per-second samples" in missing
    assert "gunicorn-seed/server.json" in missing and "uwsgi-tuned/server.json" not in missing
    k, ys, path = browser.execute_async_script(PICK_RUN_JS, "uwsgi/tuned", CPU_TRACE)
    assert k >= 0 and ys == pytest.approx(cpu_pcts(SAMPLES["uwsgi-tuned"]))
    assert path and path.count(",") >= 3, path
    png = screenshot(browser, run_dir)
    assert png.stat().st_size > 50_000


def test_sweep_run_in_chromium(browser, tmp_path, capsys):
    """The wrk sweep: req/s and p99 against c, a latency chart per c from wrk's histograms; no timeline."""
    run_dir, records = build(tmp_path, SWEEP, capsys)
    self_contained((run_dir / html.REPORT).read_text())
    sections, errors = open_report(browser, run_dir / html.REPORT)
    modes = {r["mode"] for r in counted(records)}
    assert len({r["c"] for r in records}) >= 2 and len(modes) >= 2
    drawn = {"pct-of-ideal": {r["mode"] for r in records}, "sweep-rps": modes, "sweep-p99": modes,
             "cpu-rss": modes, **latency_keys(run_dir, records)}
    assert len([k for k in drawn if k.startswith("latency-wrk-")]) >= 2
    check_page(sections, errors, drawn, {"timeline": "wrk keeps no per-request times"})
    # hovering a bar: the median of its point's repetitions and their min–max, as summary.json has them
    value, label = browser.execute_script(HOVER_JS, "chart-pct-of-ideal")
    points: dict[tuple, list[float]] = {}
    for rec in counted(records):
        points.setdefault((rec["mode"], rec["c"]), []).append(rec["pct_of_ideal"])
    pcts = next(p for p in points.values() if statistics.median(p) == value)
    assert f"{exact(value)}% of ideal (median)" in label, label
    assert f"min–max {exact(min(pcts))}–{exact(max(pcts))}%" in label, label
    # the runs whose wrk.json has no histogram are named (their percentiles drawn as points)
    missing = browser.find_element("id", "missing").text
    no_hist = [r["raw_dir"] for r in counted(records)
               if not json.loads((run_dir / r["raw_dir"] / "wrk.json").read_text()).get("latency_hist_us")]
    assert no_hist
    for folder in no_hist:
        assert f"{folder}/wrk.json" in missing
    screenshot(browser, run_dir)


def test_missing_raw_files_still_render(browser, tmp_path, capsys):
    """A run without some raw files: the page names each missing file, draws the rest, and the run
    without ab.tsv is left out of the timeline's menu."""
    run_dir = tmp_path / "src"
    shutil.copytree(SAMPLE, run_dir)
    (run_dir / "uwsgi-tuned" / "ab.tsv").unlink()
    (run_dir / "devserver-seed" / "server.json").unlink()
    run_dir, records = build(tmp_path / "built", run_dir, capsys)
    sections, errors = open_report(browser, run_dir / html.REPORT)
    assert errors == []
    missing = browser.find_element("id", "missing").text
    assert "uwsgi-tuned/ab.tsv missing" in missing
    assert "devserver-seed/server.json" in missing
    assert "server.json without per-second samples" in missing
    drawn = {s["key"] for s in sections if s["drawn"]}
    assert {"pct-of-ideal", "timeline", "cpu-rss"} <= drawn
    labels = browser.execute_script(
        "return document.getElementById('chart-timeline').layout.updatemenus[0].buttons.map(b => b.label)")
    assert not any(label.startswith("uwsgi/tuned") for label in labels), labels
    assert any(label.startswith("uwsgi/seed") for label in labels), labels
    # devserver/seed has no server CPU or memory: no bar for it in the CPU/RSS chart
    cpu_rss = json.loads(browser.execute_script(
        "const d = document.getElementById('chart-cpu-rss').data;"
        "return JSON.stringify(d.map(t => ({name: t.name, x: t.x[1], y: t.y})));"))
    assert not any("devserver" in x and t["name"] == "seed" for t in cpu_rss for x in t["x"])


def test_numbers_come_from_the_run(tmp_path, capsys):
    """What the charts draw is summary.json's and the raw files' own figures."""
    run_dir, records = build(tmp_path, sampled(tmp_path), capsys)
    charts, _ = html.charts(recs := model.records(records), rundata.read_all(run_dir, recs))
    by_key = {c.key: c for c in charts}
    # % of ideal: each bar is its (single) run's pct_of_ideal
    bars = [y for t in by_key["pct-of-ideal"].figure.data if t.type == "bar" for y in t.y]
    assert sorted(bars) == sorted(r["pct_of_ideal"] for r in counted(records) if r["pct_of_ideal"] is not None)
    # timeline: a run's bars add up to its ab.tsv's rows (ab's complete), its p99s are within its times
    timeline = by_key["timeline"].figure
    labels = [b.label for b in timeline.layout.updatemenus[0].buttons]
    for i, label in enumerate(labels):
        rec = next(r for r in counted(records) if label in (render.run_label(model.Record.from_dict(r)), f"{render.run_label(model.Record.from_dict(r))} c={r['c']}"))
        rows = parse_tsv((run_dir / rec["raw_dir"] / "ab.tsv").read_text())
        bars, p99, cpu = timeline.data[3 * i:3 * i + 3]
        assert sum(bars.y) == len(rows) == rec["complete"]
        assert max(p for p in p99.y if p is not None) <= max(r.ttime for r in rows)
        # the server's CPU: from server.json's samples where it has them, on the same clock as ab's seconds
        samples = SAMPLES.get(rec["raw_dir"], [])
        assert cpu.name == CPU_TRACE and list(cpu.y) == pytest.approx(cpu_pcts(samples))
        t0 = min(r.seconds for r in rows)
        assert list(cpu.x) == pytest.approx([(a[0] + b[0]) / 2 - t0 for a, b in zip(samples, samples[1:])])
    # latency curves: every request of the run, up to its slowest
    for chart in (c for c in charts if c.key.startswith("latency-") and c.figure is not None):
        for trace in chart.figure.data:
            rec = next(r for r in counted(records) if trace.name.startswith(f"{r['mode']} {r['profile']}")
                       and chart.key == f"latency-ab-c{r['c']}-d{r['delay']:g}")
            times = sorted(r.ttime for r in parse_tsv((run_dir / rec["raw_dir"] / "ab.tsv").read_text()))
            assert max(trace.y) == times[-1] and min(trace.y) == times[0]
    # CPU per request and RSS: the records' own
    cpu = [y for t in by_key["cpu-rss"].figure.data if t.yaxis in (None, "y") for y in t.y]
    assert sorted(cpu) == sorted(r["cpu_ms_per_req"] for r in counted(records) if r["cpu_ms_per_req"] is not None)


def test_wrk_timeline_shows_the_server_cpu(tmp_path, capsys):
    """wrk keeps no per-request times: a wrk run whose server.json has samples is in the timeline with its
    CPU alone, from the client's start (loadgen.json); the runs without samples are not."""
    source = tmp_path / "src" / SWEEP.name
    shutil.copytree(SWEEP, source)
    folder = "uwsgi-gevent-tuned-wrk-c200-r1"
    started = json.loads((source / folder / "loadgen.json").read_text())["started"]  # Unix s
    samples = [(started - 0.4, 10_000_000_000, 90_000), (started + 0.6, 10_450_000_000, 95_000),
               (started + 1.6, 11_350_000_000, 96_000), (started + 2.6, 11_360_000_000, 96_000)]
    add_samples(source / folder, samples)
    run_dir, records = build(tmp_path, source, capsys)
    charts, missing = html.charts(recs := model.records(records), rundata.read_all(run_dir, recs))
    timeline = next(c for c in charts if c.key == "timeline")
    assert timeline.figure is not None and timeline.modes == ["uwsgi-gevent"]
    labels = [b.label for b in timeline.figure.layout.updatemenus[0].buttons]
    assert len(labels) == 1 and labels[0].startswith("uwsgi-gevent/tuned/wrk")
    bars, p99, cpu = timeline.figure.data
    assert list(bars.y) == [] and list(p99.y) == []
    assert list(cpu.y) == pytest.approx([45.0, 90.0, 1.0])
    assert list(cpu.x) == pytest.approx([0.1, 1.1, 2.1])
    assert any("the timeline shows only the server's CPU" in line for line in missing)
    assert any("without per-second samples" in line and "granian-tuned-wrk-c200-r1/server.json" in line
               for line in missing)


def test_sweep_numbers_are_the_repeats_medians(tmp_path, capsys):
    """The sweep's lines: at each c the median of the point's repetitions, its min–max as the error bar
    (summary.json's stats of the point)."""
    run_dir, records = build(tmp_path, SWEEP, capsys)
    charts, _ = html.charts(recs := model.records(records), rundata.read_all(run_dir, recs))
    by_key = {c.key: c for c in charts}
    for key, metric in (("sweep-rps", "rps"), ("sweep-p99", "p99_ms")):
        traces = by_key[key].figure.data
        assert traces
        for trace in traces:
            for c, y, low, high in zip(trace.x, trace.y, trace.error_y.arrayminus, trace.error_y.array):
                recs = [r for r in counted(records) if r["c"] == c and trace.name.startswith(f"{r['mode']} ")]
                values = [r[metric] for r in recs]
                assert len(values) >= 2
                assert y == pytest.approx(statistics.median(values))
                assert y == pytest.approx(recs[0]["stats"][metric]["median"])
                assert (y - low, y + high) == pytest.approx((min(values), max(values)))


def test_standalone_writes_from_summary(tmp_path, capsys):
    """python -m benchreport.html RUN_DIR: report.html from summary.json alone; no summary.json: exit 1."""
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    assert html_main([str(run_dir)]) == 1
    assert "no " in capsys.readouterr().err
    assert cli_main([str(run_dir), "--no-latest"]) in (0, 3)
    (run_dir / html.REPORT).unlink()
    capsys.readouterr()
    assert html_main([str(run_dir)]) == 0
    assert (run_dir / html.REPORT).is_file()
    assert str(run_dir / html.REPORT) in capsys.readouterr().out


#: The knee chart's markers: per trace its name, x, y and marker symbols; and the budget line's y.
KNEE_JS = """
const d = document.getElementById(arguments[0]);
return [d.data.map(t => [t.name, t.x, t.y, (t.marker || {}).symbol || null]),
        (d.layout.shapes || []).map(s => s.y0)];
"""


def test_rate_sweep_in_chromium(browser, tmp_path, capsys):
    """A constant-rate sweep: the knee chart (a line per mode, the budget, the knees starred), a latency chart
    per rate from rate.tsv, the timeline with the server's CPU; no concurrency sweep; no console error."""
    run_dir, records = build(tmp_path, RATE_SWEEP, capsys)
    self_contained((run_dir / html.REPORT).read_text())
    sections, errors = open_report(browser, run_dir / html.REPORT)
    modes = {r["mode"] for r in counted(records)}
    first = render.in_group_order(model.records(records))[0].mode
    drawn = {"pct-of-ideal": modes, "knee-d1": modes, "cpu-rss": modes, "timeline": {first},
             **{f"latency-rate-r{rate:g}-d1": modes for rate in (50, 100, 150)}}
    check_page(sections, errors, drawn, {"sweep": "No mode ran at more than one concurrency"})
    traces, budget = browser.execute_script(KNEE_JS, "chart-knee-d1")
    assert budget == [1500]
    lines = {name: (xs, ys, symbols) for name, xs, ys, symbols in traces if not name.startswith("knee of")}
    knees = {name: (xs, ys, symbols) for name, xs, ys, symbols in traces if name.startswith("knee of")}
    assert set(lines) == {"uwsgi-gevent/tuned", "granian/tuned"}
    assert knees["knee of uwsgi-gevent/tuned"][:2] == ([100], [pytest.approx(1194.6065)])
    assert knees["knee of granian/tuned"][0] == [50] and knees["knee of granian/tuned"][2] == "star"
    assert lines["uwsgi-gevent/tuned"][0] == [50, 100, 150] and lines["uwsgi-gevent/tuned"][2][2] == "x"
    # the ranking in words above the chart (the stars carry no label: they may share a rate)
    said = browser.find_element("css selector", 'section[data-chart="knee-d1"]').text
    assert "Knees, best first: uwsgi-gevent/tuned 100 req/s; granian/tuned 50 req/s." in said
    # the missing box: every raw file was there
    assert "Every raw file the charts read was there" in browser.find_element("id", "missing").text
    screenshot(browser, run_dir)


def test_rate_sweep_numbers_come_from_the_run(tmp_path, capsys):
    """The knee chart's points are the rates' median p99s; a rate run's timeline adds up to its answered
    requests and its latency curve spans its answers (rate.tsv, whole ms)."""
    run_dir, records = build(tmp_path, RATE_SWEEP, capsys)
    charts, missing = html.charts(recs := model.records(records), rundata.read_all(run_dir, recs))
    assert missing == []
    by_key = {c.key: c for c in charts}
    for trace in by_key["knee-d1"].figure.data:
        if trace.name.startswith("knee of"):
            continue
        mode = trace.name.split("/")[0]
        for rate, y in zip(trace.x, trace.y):
            assert y == pytest.approx(statistics.median(
                r["p99_ms"] for r in records if r["mode"] == mode and r["rate"] == rate))
    timeline = by_key["timeline"].figure
    labels = [b.label for b in timeline.layout.updatemenus[0].buttons]
    assert len(labels) == len(records)
    for i, label in enumerate(labels):
        rec = next(r for r in records if label in (render.run_label(model.Record.from_dict(r)), f"{render.run_label(model.Record.from_dict(r))} c={r['c']}"))
        bars, p99, cpu = timeline.data[3 * i:3 * i + 3]
        assert sum(bars.y) == rec["complete"], label
        assert len(cpu.y) >= 4 and cpu.customdata[0][0] < 0  # the sampler's baseline came before the load
    rec = next(r for r in records if r["raw_dir"] == "uwsgi-gevent-tuned-rate150")
    rows = parse_rate_tsv((run_dir / rec["raw_dir"] / "rate.tsv").read_text())
    (curve,) = [t for t in by_key["latency-rate-r150-d1"].figure.data if t.name.startswith("uwsgi-gevent ")]
    answered = sorted(int(r.latency_ms) for r in rows if r.answered)
    assert max(curve.y) == answered[-1] and min(curve.y) == answered[0]
    table_p99 = by_key["latency-rate-r150-d1"].table
    assert f"<td class=\"r\">{answered[math.ceil(0.99 * len(answered)) - 1]}</td>" in table_p99


def compared_runs(tmp_path: Path, capsys) -> tuple[Path, list[dict]]:
    """results/ holding the wrk sweep built (A, "wrk-sweep") and B, a copy whose summary.json has
    uwsgi-gevent's c=200 req/s 20% lower (the median and each repetition's: a regression) and granian's
    c=1000 p99 30% lower."""
    results = tmp_path / "results"
    run_a, records = build(results, SWEEP, capsys)
    run_b = results / "B"
    shutil.copytree(run_a, run_b)
    changed = json.loads((run_b / "summary.json").read_text())
    for rec in changed:
        if (rec["mode"], rec["c"]) == ("uwsgi-gevent", 200):
            rec["stats"]["rps"]["median"] = round(rec["stats"]["rps"]["median"] * 0.8, 3)
            rec["rps"] = round(rec["rps"] * 0.8, 2)  # what the Mann-Whitney test ranks
        if (rec["mode"], rec["c"]) == ("granian", 1000):
            rec["stats"]["p99_ms"]["median"] = round(rec["stats"]["p99_ms"]["median"] * 0.7, 3)
            rec["p99_ms"] = round(rec["p99_ms"] * 0.7, 3)
    (run_b / "summary.json").write_text(json.dumps(changed))
    return results, records


def test_compare_page_in_chromium(browser, tmp_path, capsys):
    """compare --html: a self-contained page in B's folder, a chart per metric with every compared point's
    modes, B's bars by verdict (the regression red), the table; no console error."""
    results, records = compared_runs(tmp_path, capsys)
    rc = cli_main(["compare", "wrk-sweep", "B", "--results", str(results), "--html"])
    out = capsys.readouterr().out
    page = results / "B" / "compare-wrk-sweep.html"
    assert rc == 1 and out.splitlines()[-1] == f"Wrote {page.resolve()}"
    self_contained(page.read_text())
    sections, errors = open_report(browser, page)
    modes = {r["mode"] for r in counted(records)}
    check_page(sections, errors, {"compare-rps": modes, "compare-p99_ms": modes, "compare-cpu_ms_per_req": modes},
               {})
    traces = browser.execute_script(
        "return document.getElementById('chart-compare-rps').data.map(t => [t.name, t.x, t.y]);")
    by_name = {name: dict(zip(xs, ys)) for name, xs, ys in traces}
    assert set(by_name) == {"A (baseline)", "B: slower", "B: within noise"}
    (slow, b_rps), = by_name["B: slower"].items()
    assert slow == "uwsgi-gevent/tuned c=200 n=2000"
    assert b_rps == pytest.approx(0.8 * by_name["A (baseline)"][slow], abs=0.01)
    verdict = browser.find_element("id", "verdict").text
    assert "4 points compared: 1 regressed" in verdict and "exits 1" in verdict
    assert "regressed: req/s -20.0%" in browser.find_element("tag name", "body").text
    screenshot(browser, results / "B")


def test_compare_page_to_a_path_and_in_json(tmp_path, capsys):
    """--html PATH writes there; with --json the result names the page; without --html nothing is written."""
    results, _ = compared_runs(tmp_path, capsys)
    before = sorted(p.name for p in (results / "B").iterdir())
    assert cli_main(["compare", "wrk-sweep", "B", "--results", str(results), "--json"]) == 1
    assert "html" not in json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in (results / "B").iterdir()) == before
    page = tmp_path / "cmp.html"
    assert cli_main(["compare", "wrk-sweep", "B", "--results", str(results), "--json", "--html", str(page)]) == 1
    assert json.loads(capsys.readouterr().out)["html"] == str(page.resolve())
    text = page.read_text()
    assert "Compare wrk-sweep → B" in text and 'id="chart-compare-p99_ms"' in text
    # a page that cannot be written: exit 2, one line on stderr
    assert cli_main(["compare", "wrk-sweep", "B", "--results", str(results), "--html",
                     str(tmp_path / "no" / "such" / "dir" / "x.html")]) == 2
    assert capsys.readouterr().err.startswith("benchreport compare: --html: cannot write the page")
