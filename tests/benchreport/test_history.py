"""`python -m benchreport history` (benchreport.runlist, fingerprint, steps, history, historyhtml) on recorded runs.

tests/data/benchreport/history holds ten real runs, trimmed (its README.md): two fingerprints (the first run's
environment.json describes no upstream host), a partial run, and points repeated over several runs of unchanged
code. Each test copies them to a temporary results folder and adds what it needs:

* broken runs (a half-written summary.json, one that is not a list, an empty folder...);
* synthetic histories built from a real run's summary (20261207T021145Z: four points, five repetitions each):
  every run's repetitions drawn, with replacement, from the real ones (another run of the same code), and a
  step planted by worsening one point's figures by 30% from some run on.

The page is opened in headless Chromium (tests/headless.py) like report.html.
"""

from __future__ import annotations

import copy
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from benchreport import commits, fingerprint, history, historyhtml, model, noisefloors, runlist, steps
from benchreport.__main__ import main as cli_main
from benchreport.steps import Rule, Sample
from benchreport.summary import add_repeat_stats
from benchrun import ROOT
from headless import chromium, open_report, self_contained

HISTORY = ROOT / "tests" / "data" / "benchreport" / "history"
#: The run the synthetic histories are drawn from (fingerprint of every later run), and the one on the other.
BASE, OTHER = "20261207T021145Z", "20261207T013034Z"
#: The point worsened: uwsgi-gevent/tuned, wrk at c=20 n=400 (19.89 req/s, p99 1014 ms over 5 repetitions).
TARGET = ("uwsgi-gevent", "wrk")
TARGET_LABEL = "uwsgi-gevent/tuned/wrk c=20 n=400 delay=1 /"
#: Two commits of this repository (the runs' own): the synthetic runs before a step carry A, those after B.
COMMIT_A, COMMIT_B = "22f9f9460535072fe9a56374d5d74c9f4e3ca389", "50b2ebc979b98f15979dd839a425699c957b89a4"
RUNS = 8


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """The recorded runs, copied (their README left out: history lists folders)."""
    folder = tmp_path / "results"
    shutil.copytree(HISTORY, folder, ignore=shutil.ignore_patterns("README.md"))
    return folder


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "synthetic"
    folder.mkdir()
    return folder


def floors() -> noisefloors.Floors:
    return noisefloors.load()


def run_history(results: Path, capsys, *args: str) -> tuple[int, str, str]:
    rc = cli_main(["history", str(results), "--repo", str(ROOT), *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def built(results: Path) -> history.History:
    return history.build(results, runlist.read_results(results), floors(), repo=ROOT)


# -- synthetic runs from a real one ---------------------------------------------------------------


def base_records() -> list[dict]:
    return json.loads((HISTORY / BASE / "summary.json").read_text())


def resampled(records: list[dict], seed: int, worse: float = 1.0, target: tuple[str, str] = TARGET) -> list[dict]:
    """Another run of the same code: each point's repetitions drawn (with replacement) from the real ones, their
    stats recomputed; the target's p99 and CPU times `worse` and its req/s times (2 - worse): 1.3 is 30% worse."""
    rnd = random.Random(seed)
    out = copy.deepcopy(records)
    groups: dict[tuple, list[dict]] = {}
    for rec in out:
        groups.setdefault((rec["mode"], rec["client"], rec["c"], rec["n"]), []).append(rec)
    for (mode, client, _, _), recs in groups.items():
        figures = [(r["rps"], r["p99_ms"], r["cpu_ms_per_req"]) for r in recs]
        for rec in recs:
            rps, p99, cpu = rnd.choice(figures)
            if (mode, client) == target:
                rps, p99, cpu = rps * (2.0 - worse), p99 * worse, cpu * worse
            rec.update(rps=rps, p99_ms=p99, cpu_ms_per_req=cpu)
    found = model.records(out)
    add_repeat_stats(found)
    return [r.as_dict() for r in found]


def run_id(i: int) -> str:
    return f"20261210T{i:02d}0000Z"


def write_run(results: Path, name: str, records: list[dict], commit: str, env_from: str = BASE) -> Path:
    """A run folder: summary.json and the environment.json of a recorded run with this commit."""
    folder = results / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(records))
    env = json.loads((HISTORY / env_from / "environment.json").read_text())
    env["controller"]["commit"] = commit
    env["controller"]["dirty"] = False
    (folder / "environment.json").write_text(json.dumps(env))
    (folder / "report.html").write_text("<html></html>")
    return folder


def synthetic(results: Path, worse: dict[int, float] | None = None, runs: int = RUNS, step_at: int | None = None,
              ) -> list[str]:
    """RUNS runs drawn from BASE; worse: the target's factor per run index; commits A before step_at, B from it."""
    names = []
    for i in range(runs):
        name = run_id(i)
        commit = COMMIT_B if step_at is not None and i >= step_at else COMMIT_A
        write_run(results, name, resampled(base_records(), seed=i, worse=(worse or {}).get(i, 1.0)), commit)
        names.append(name)
    return names


def steps_of(hist: history.History) -> list[tuple[str, str, str, float, bool]]:
    """Every step: (point, metric, first run after, change %, worse)."""
    return [(s.subject.label(), s.metric.key, f.first.run_id, f.step.change_pct, f.worse)
            for s in hist.series for f in s.steps]


# -- the listing ----------------------------------------------------------------------------------


def add_broken(results: Path) -> dict[str, str]:
    """Runs that are not whole, each with a piece of the reason the listing must give."""
    half = (HISTORY / BASE / "summary.json").read_text()[:300]
    cases = {"20261208T000000Z": ("summary.json", half, "summary.json unreadable"),
             "20261208T010000Z": ("summary.json", '{"not": "a list"}', "is not a bench summary"),
             "20261208T020000Z": ("summary.json", "[]", "holds no record"),
             "20261208T030000Z": (None, None, "none of a run's files")}
    for name, (file, text, _) in cases.items():
        (results / name).mkdir()
        if file:
            (results / name / file).write_text(text)
    # a good summary whose environment.json is cut short: listed, with no fingerprint
    shutil.copytree(results / BASE, results / "20261208T040000Z")
    (results / "20261208T040000Z" / "environment.json").write_text('{"schema": 1, "hosts": {')
    # not runs: the latest link and a dot-folder (the bench's scripts)
    (results / "latest").symlink_to(BASE)
    (results / ".scripts").mkdir()
    return {name: why for name, (_, _, why) in cases.items()}


def test_every_run_is_listed_with_its_state_and_why(results, capsys):
    """Good, partial and broken runs: one line each, the broken and partial with the reason; exit 0."""
    broken = add_broken(results)
    rc, out, err = run_history(results, capsys)
    assert rc == 0, err
    lines = [line for line in out.splitlines() if re.match(r"\d{8}T\d{6}Z ", line)]
    folders = sorted(d.name for d in results.iterdir() if d.is_dir() and not d.is_symlink()
                     and not d.name.startswith("."))
    assert sorted(line.split()[0] for line in lines) == folders  # every run, once; not latest, not .scripts
    by_id = {line.split()[0]: line for line in lines}
    for name, why in broken.items():
        assert "  broken  " in by_id[name] and why in by_id[name], by_id[name]
    partial = by_id["20261207T045224Z"]
    assert "  partial  " in partial and "no summary.json (interrupted (SIGTERM) after 0 of 1 runs" in partial
    assert "no fingerprint: environment.json unreadable" in by_id["20261208T040000Z"]
    assert "  ok  " in by_id[BASE] and "4 points (20 records): gunicorn, uwsgi-gevent" in by_id[BASE]
    assert f"{BASE}/report.html" not in by_id[BASE]  # the fixture keeps no report.html: none is named
    assert "22f9f94605" in by_id[OTHER] and "79ffdc5f49 dirty" in by_id["20261207T044814Z"]
    # oldest first
    assert [line.split()[0] for line in lines] == sorted(by_id)
    assert out.splitlines()[0].startswith(f"{len(folders)} runs in {results} (")
    page = (results / history.INDEX).read_text()
    for name in folders:
        assert f'data-run="{name}"' in page
    assert page.count('data-state="broken"') == len(broken) and page.count('data-state="partial"') == 1


def test_a_folder_that_cannot_be_read_is_broken_not_fatal(results, capsys, monkeypatch):
    """Whatever goes wrong reading one run, the listing goes on and names it."""
    real = runlist._read

    def failing(run: runlist.Run) -> None:
        if run.run_id == BASE:
            raise RuntimeError("disk on fire")
        real(run)

    monkeypatch.setattr(runlist, "_read", failing)
    rc, out, _ = run_history(results, capsys)
    assert rc == 0
    line = next(line for line in out.splitlines() if line.startswith(BASE))
    assert "broken" in line and "unreadable: RuntimeError('disk on fire')" in line


def test_odd_records_and_environments_do_not_crash(results, capsys):
    """Records with figures of the wrong type and an environment.json of the wrong shapes: listed, no trace."""
    odd = results / "20261209T000000Z"
    odd.mkdir()
    (odd / "summary.json").write_text(json.dumps([{"mode": ["x"], "rps": "fast", "c": "many"}, {"mode": None}]))
    (odd / "environment.json").write_text(json.dumps({"controller": "oops", "hosts": {"a": "b", "c": {"roles": 3}}}))
    rc, out, _ = run_history(results, capsys)
    assert rc == 0
    line = next(line for line in out.splitlines() if line.startswith(odd.name))
    assert "  ok  " in line and "no fingerprint: environment.json describes no host" in line


def test_the_page_and_the_runs_report_links(results, capsys):
    """index.html: self-contained, a link to each report.html that exists (relative), the check's verdict."""
    (results / BASE / "report.html").write_text("<html></html>")
    rc, out, _ = run_history(results, capsys)
    assert rc == 0 and f"Wrote {(results / history.INDEX).resolve()}" in out
    page = (results / history.INDEX).read_text()
    self_contained(page)
    assert f'<a href="{BASE}/report.html">{BASE}</a>' in page
    assert '<a href="20261207T013034Z/report.html">' not in page
    assert "--check exits 0" in page
    # --html elsewhere: the links still lead to the runs; --no-html writes nothing
    other = results.parent / "pages" / "history.html"
    other.parent.mkdir()
    assert run_history(results, capsys, "--html", str(other))[0] == 0
    assert f'<a href="../results/{BASE}/report.html">' in other.read_text()
    (results / history.INDEX).unlink()
    assert run_history(results, capsys, "--no-html")[0] == 0
    assert not (results / history.INDEX).exists()


# -- fingerprints ---------------------------------------------------------------------------------


def env_of(run: str) -> dict:
    return json.loads((HISTORY / run / "environment.json").read_text())


def test_a_fingerprint_is_the_machine_and_versions_not_the_names():
    base = env_of(BASE)
    digest = fingerprint.of(base).digest
    same = copy.deepcopy(base)
    app = same["hosts"]["fb-app"]
    app.update(hostname="other", boot_id="x", somaxconn=128, mem_total_mib=app["mem_total_mib"] + 3)
    app["packages"]["pip"] = "99"  # not a key package
    same["hosts"]["renamed-loadgen"] = same["hosts"].pop("fb-loadgen")
    same["controller"]["commit"] = "0" * 40
    assert fingerprint.of(same).digest == digest
    for change in ({"kernel": "6.1.0"}, {"cores": 4}, {"cpu_model": "Intel"}, {"mem_total_mib": 8000}):
        other = copy.deepcopy(base)
        other["hosts"]["fb-app"].update(change)
        assert fingerprint.of(other).digest != digest, change
    other = copy.deepcopy(base)
    other["hosts"]["fb-app"]["packages"]["gevent"] = "25.0.0"
    assert fingerprint.of(other).digest != digest
    other = copy.deepcopy(base)
    other["hosts"]["fb-loadgen"]["clients"]["wrk"] = "wrk 4.2.0"
    assert fingerprint.of(other).digest != digest
    # the first run did not describe the slow API's host: another fingerprint
    assert fingerprint.of(env_of(OTHER)).digest != digest
    assert "upstream: AMD EPYC, 2 cores, 23.5 GiB" in " ".join(fingerprint.of(base).describe())
    assert fingerprint.of(None) is None and fingerprint.of({"hosts": {}}) is None


def test_runs_on_two_fingerprints_are_never_on_one_line(results, capsys):
    """A point run twice on each of two fingerprints: two series, each with its own runs only, in the listing's
    fingerprints, the History and the page's traces."""
    shutil.copytree(results / OTHER, results / "20261207T013500Z")
    shutil.copytree(results / BASE, results / "20261207T021500Z")
    hist = built(results)
    fp_other, fp_base = (fingerprint.of(env_of(r)).digest for r in (OTHER, BASE))
    trends = dict(hist.trends())
    subject = next(s for s in trends if s.label() == TARGET_LABEL)
    for metric in model.METRICS:
        series = {s.fingerprint.digest: [e.run.run_id for e in s.entries] for s in trends[subject]
                  if s.metric.key == metric.key}
        assert series == {fp_other: [OTHER, "20261207T013500Z"], fp_base: [BASE, "20261207T021500Z"]}, metric
    chart = historyhtml.trend_chart(subject, trends[subject], "t", historyhtml.colours(hist))
    lines = [t for t in chart.figure.data if t.mode == "lines+markers"]
    assert {t.name for t in lines} == {f"fp {fp_other}", f"fp {fp_base}"}
    times = {r.run_id: historyhtml._x(r) for r in hist.runs}
    for trace in lines:
        runs = {OTHER, "20261207T013500Z"} if trace.name == f"fp {fp_other}" else {BASE, "20261207T021500Z"}
        assert set(trace.x) == {times[r] for r in runs}, trace.name
    rc, out, _ = run_history(results, capsys)
    assert f"  {fp_other}: 2 runs, {OTHER} to 20261207T013500Z\n      app: AMD EPYC" in out
    assert f"  {fp_base}: " in out


# -- change detection -----------------------------------------------------------------------------


def test_a_planted_step_is_found_with_its_run_and_commits(empty, capsys):
    """The target 30% worse from the fifth run on: a step for the worse in req/s and p99 (and CPU) at that run,
    the commits between named from git log; no other series steps."""
    names = synthetic(empty, worse={i: 1.3 for i in range(4, RUNS)}, step_at=4)
    hist = built(empty)
    found = steps_of(hist)
    assert {(label, metric, first, worse) for label, metric, first, _, worse in found} == {
        (TARGET_LABEL, m.key, names[4], True) for m in model.METRICS}
    for label, metric, _, change, _ in found:
        assert abs(abs(change) - 30.0) < 3.0, (metric, change)
    series = next(s for s in hist.series if s.subject.label() == TARGET_LABEL and s.metric.key == "rps")
    step = series.steps[0]
    assert step.last.run_id == names[3]
    log = subprocess.run(["git", "-C", str(ROOT), "log", "--oneline", "--no-decorate", f"{COMMIT_A}..{COMMIT_B}"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert step.commits == log and len(log) > 1
    rc, out, _ = run_history(empty, capsys, "--check")
    assert rc == 1
    line = next(x for x in out.splitlines() if x.startswith("REGRESSED") and " req/s " in x)
    assert TARGET_LABEL in line and f"from {names[4]} (after {names[3]}" in line
    assert re.search(r"req/s -(29|30|31)\.\d% \(19\.\d\d -> 1[34]\.\d\d req/s\)", line), line
    assert line.endswith(f"; {len(log)} commits {COMMIT_A[:10]}..{COMMIT_B[:10]}")
    commits_shown = out.split(f"{names[3]} -> {names[4]}: {len(log)} commits")[1].splitlines()[1:3]
    assert [c.strip() for c in commits_shown] == [c if len(c) <= 100 else c[:99] + "…" for c in log[:2]]


def test_no_step_across_runs_of_unchanged_code(results, empty):
    """The recorded runs (points repeated over up to three runs of unchanged code) and eight runs drawn from one
    run's real repetitions: no step anywhere."""
    hist = built(results)
    assert steps_of(hist) == []
    trends = hist.trends()
    assert len(trends) >= 8 and any(len(s.entries) >= 3 for _, found in trends for s in found)
    synthetic(empty)
    hist = built(empty)
    assert len(hist.trends()) == 4 and all(len(s.entries) == RUNS for s in hist.series)
    assert steps_of(hist) == []


def test_a_step_within_the_threshold_is_no_step(empty):
    """8% worse is beyond the repetitions' noise (req/s cv 0.04%) and the floors (5%) but within the 10% threshold."""
    synthetic(empty, worse={i: 1.08 for i in range(4, RUNS)})
    assert steps_of(built(empty)) == []
    hist = history.build(empty, runlist.read_results(empty), floors(), threshold_pct=2.0, repo=ROOT)
    found = {(label, metric) for label, metric, *_ in steps_of(hist)}
    assert found >= {(TARGET_LABEL, "rps"), (TARGET_LABEL, "p99_ms")}


def test_check_fails_only_when_the_newest_run_is_after_a_step_for_the_worse(empty, capsys):
    """--check: 1 for a worse newest run; 0 after an improvement, after a regression that came back, and when the
    point's newest run is on another fingerprint."""
    synthetic(empty, worse={RUNS - 1: 1.3})
    rc, out, _ = run_history(empty, capsys, "--check")
    assert rc == 1 and f"from {run_id(RUNS - 1)} " in out and "(exit 1)" in out
    regressed = [x for x in out.splitlines() if x.startswith("REGRESSED")]
    assert all(TARGET_LABEL in x for x in regressed)
    # req/s and p99 (CPU ms/request's runs spread too much, σ about 10% here, for one run 30% off to tell)
    assert {re.search(r": (req/s|p99 ms|CPU ms/req) [+-]", x).group(1) for x in regressed} == {"req/s", "p99 ms"}


@pytest.mark.parametrize("case", ["better", "came back", "newer fingerprint"])
def test_check_passes(empty, capsys, case):
    if case == "better":
        synthetic(empty, worse={i: 0.7 for i in range(4, RUNS)})
    elif case == "came back":
        synthetic(empty, worse={i: 1.3 for i in range(3, 6)})
    else:
        synthetic(empty, worse={i: 1.3 for i in range(4, RUNS)})
        write_run(empty, run_id(RUNS), resampled(base_records(), seed=99), COMMIT_B, env_from=OTHER)
    hist = built(empty)
    assert steps_of(hist), "the history has steps"
    rc, out, _ = run_history(empty, capsys, "--check")
    assert rc == 0, out
    assert "check: no newest run is after a step for the worse" in out
    if case == "came back":
        assert [(worse, first) for label, metric, first, _, worse in steps_of(hist) if metric == "rps"] == [
            (True, run_id(3)), (False, run_id(6))]


def test_check_usage_errors(tmp_path, capsys):
    assert cli_main(["history", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli_main(["history", "--threshold", "x"])
    assert exit_.value.code == 2


def test_a_single_newest_run_is_untested_not_failed(empty, capsys):
    """The newest run worse by 30% but run once (one value): too few values to test; --check says so, exits 0."""
    synthetic(empty)
    one = [r for r in resampled(base_records(), seed=50, worse=1.3) if r["repetition"] == 1]
    for rec in one:
        rec.update(repeats=1, stats=None)
    write_run(empty, run_id(RUNS), one, COMMIT_B)
    rc, out, _ = run_history(empty, capsys, "--check")
    assert rc == 0
    assert f"untested: {TARGET_LABEL}: req/s -30" in out and "run the point with repeat=3 or more" in out


# -- the detector alone ---------------------------------------------------------------------------


def rule(floor: float = 0.0) -> Rule:
    return Rule(floor, 10.0, 2.0, 0.05, 3)


def flat(levels: list[float], repeats: int = 3, spread: float = 0.001) -> list[Sample]:
    return [Sample(x, tuple(x * (1 + spread * (k - 1)) for k in range(repeats)), spread) for x in levels]


def test_the_best_split_and_its_test():
    samples = flat([100, 101, 99, 100, 70, 71, 70])
    assert steps.best_split(samples, 0, len(samples)) == 4
    (step,) = steps.find(samples, rule())
    assert step.at == 4 and step.change_pct == pytest.approx(-30.0) and step.p_value <= 0.05
    # two values a side cannot make p <= 0.05: a step needs repeats (or runs)
    assert steps.find(flat([100, 100, 70, 70], repeats=1), rule()) == []
    assert steps.find(flat([100, 100, 100, 70, 70, 70], repeats=1), rule()) != []
    # the repetitions' own spread sets the band: 30% within a cv of 20% is noise
    assert steps.find(flat([100, 101, 99, 100, 70, 71, 70], spread=0.2), rule()) == []
    # and so do the runs' own: runs that wander by 20% make one more run 30% off no step
    assert steps.find(flat([100, 130, 80, 110, 90, 120, 85, 60]), rule()) == []
    assert steps.find(flat([100, 101, 99, 100, 102, 98, 100, 70]), rule()) != []


def test_the_t_table_and_two_steps():
    assert steps.t_quantile(1) == 636.62 and steps.t_quantile(30) == 3.646
    assert steps.t_quantile(35) == 3.551 and steps.t_quantile(1000) == steps.T_NORMAL
    found = steps.find(flat([100, 100, 100, 100, 70, 70, 70, 70, 100, 100, 100, 100]), rule())
    assert [(s.at, round(s.change_pct)) for s in found] == [(4, -30), (8, 43)]


def test_commits_between_runs():
    log = commits.between(COMMIT_A, COMMIT_B, ROOT)
    assert log and all(re.match(r"[0-9a-f]{7,} ", line) for line in log)
    assert commits.between(COMMIT_B, COMMIT_B, ROOT) == []
    assert commits.between("0" * 40, COMMIT_B, ROOT) is None


# -- the page in a browser ------------------------------------------------------------------------


def test_the_page_in_chromium(results, browser, capsys):
    """index.html of the recorded runs, a broken run and a planted step: every trend drawn, no console error,
    the runs' states, the step marked."""
    add_broken(results)
    synthetic(results, worse={i: 1.3 for i in range(4, RUNS)}, step_at=4)
    rc, _, _ = run_history(results, capsys)
    assert rc == 0
    page = results / history.INDEX
    sections, errors = open_report(browser, page)
    hist = built(results)
    trends = hist.trends()
    assert errors == [], errors
    assert len(sections) == len(trends) and all(s["drawn"] and s["traces"] >= 1 for s in sections)
    for section, (subject, found) in zip(sections, trends):
        assert section["modes"] == [subject.point[0]]
        assert all(f"fp {s.fingerprint.digest}" in section["text"] for s in found)  # the legend
    states = browser.execute_script(
        "return [...document.querySelectorAll('#runs tr.run')].map(r => [r.dataset.run, r.dataset.state]);")
    assert dict(states) == {r.run_id: r.status for r in hist.runs}
    key = historyhtml.slug(next(s for s, _ in trends if s.label() == TARGET_LABEL),
                           next(i for i, (s, _) in enumerate(trends) if s.label() == TARGET_LABEL))
    names = browser.execute_script(f"return document.getElementById('chart-{key}').data.map(t => t.name);")
    assert names.count("step (worse)") == 3
    assert "exits 1" in browser.execute_script("return document.getElementById('check').textContent;")
