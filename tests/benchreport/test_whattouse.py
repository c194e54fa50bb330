"""Mode groups (benchapp.modes.Mode.group, summary.json's `group`, report.md's tables by group) and
"What to use" (benchreport.whattouse: the best mode per concurrency, its margin and noise verdict,
report.md's section and the terminal's lines), on the mode table and on fabricated records."""

from __future__ import annotations

import shutil

import pytest
import yaml

from benchapp import modes as modes_module
from benchapp.modes import GROUPS, PEER_SERVERS, SERVERS, load_modes
from benchreport import model, render, whattouse
from benchreport.__main__ import main as cli_main
from benchreport.model import Record
from benchreport.summary import add_repeat_stats, build_summary
from benchrun import ROOT

MODES_FILE = ROOT / "app" / "benchapp" / "modes.yml"
SAMPLE = ROOT / "tests" / "data" / "benchreport" / "run-sample"
MODES = load_modes(MODES_FILE)

#: The groups of the modes in the table today (the issue's three groups).
EXPECTED_GROUPS = {
    "devserver": "threads and processes", "devserver-threaded": "threads and processes",
    "uwsgi": "threads and processes", "gunicorn": "threads and processes",
    "gevent-pywsgi": "gevent", "gevent-pywsgi-libuv": "gevent", "uwsgi-gevent": "gevent",
    "uwsgi-gevent-async": "gevent", "gunicorn-gevent": "gevent", "nginx-gunicorn": "gevent",
    "nginx-uwsgi": "gevent", "psycopg2": "gevent", "psycogreen": "gevent", "grpc-gevent": "gevent",
    "grpc-gevent-noinit": "gevent",
    "granian": "peers", "waitress": "peers", "uvicorn-asgiref": "peers", "quart": "peers",
}


# -- groups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_in_the_table_has_its_group(name):
    mode = MODES[name]
    assert mode.group in GROUPS
    # the rule, for a mode added later without an entry above
    assert mode.group == ("gevent" if mode.patch != "none" else "peers" if mode.server in PEER_SERVERS
                          else "threads and processes")
    if name in EXPECTED_GROUPS:
        assert mode.group == EXPECTED_GROUPS[name]


def test_the_named_modes_are_all_in_the_table_and_every_group_is_used():
    assert set(EXPECTED_GROUPS) <= set(MODES)
    assert {m.group for m in MODES.values()} == set(GROUPS)
    assert set(PEER_SERVERS) <= set(SERVERS)


def test_the_reports_groups_are_the_tables():
    assert tuple(render.GROUPS) == GROUPS == modes_module.GROUPS


def test_a_new_mode_gets_its_group_with_no_other_edit(tmp_path):
    """An entry added to a copy of the table: a peer server unpatched is a peer, patched it is gevent."""
    data = yaml.safe_load(MODES_FILE.read_text())
    data["modes"]["waitress-again"] = {**data["modes"]["waitress"], "title": "another peer"}
    data["modes"]["waitress-gevent"] = {**data["modes"]["waitress"], "entry": "benchapp.patched", "patch": "gevent"}
    data["modes"]["gunicorn-again"] = dict(data["modes"]["gunicorn"])
    path = tmp_path / "modes.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    table = load_modes(path)
    assert [table[n].group for n in ("waitress-again", "waitress-gevent", "gunicorn-again")] == [
        "peers", "gevent", "threads and processes"]


def test_summary_records_carry_the_group(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    records = build_summary(run_dir, MODES)
    assert {r["mode"]: r["group"] for r in records} == {r["mode"]: MODES[r["mode"]].group for r in records}
    assert list(records[0])[:5] == ["mode", "profile", "client", "title", "group"]
    assert build_summary(run_dir, {})[0]["group"] is None  # no table: no group, and no sub-headings
    md = render.markdown(model.records(build_summary(run_dir, {})), "r")
    assert "### " not in md.split("## What to use")[0] and "## Results" not in md


def test_records_without_a_group_come_last_under_other():
    recs = [{"mode": "x", "group": None}, {"mode": "g", "group": "gevent"}, {"mode": "y", "group": "mine"},
            {"mode": "p", "group": "peers"}, {"mode": "g2", "group": "gevent"}]
    assert [(g, [r.mode for r in rs]) for g, rs in render.by_group(model.records(recs))] == [
        ("gevent", ["g", "g2"]), ("peers", ["p"]), ("mine", ["y"]), (None, ["x"])]
    assert [r.mode for r in render.in_group_order(model.records(recs))] == ["g", "g2", "p", "y", "x"]


# -- what to use: fabricated records --------------------------------------------------------------


def point(mode: str, profile: str, c: int, rps: list[float], p99: list[float], cpu: list[float], *,
          failed: list[int] | None = None, limited: tuple[int, ...] = (), error: str | None = None,
          expected: str | None = None, client: str = "ab", delay: float = 1) -> list[Record]:
    """One point's records, repetition k with the k-th figures (K = len(rps))."""
    out = []
    for k, (r, p, u) in enumerate(zip(rps, p99, cpu), start=1):
        out.append(Record(
            mode=mode, profile=profile, client=client, group=MODES[mode].group, n=10 * c, c=c, delay=delay,
            route=MODES[mode].route, complete=10 * c, failed=(failed or [0] * len(rps))[k - 1], rps=r, p99_ms=p,
            cpu_ms_per_req=u, error=error, expected=expected, as_expected=True if expected else None,
            client_limited=k in limited, client_limited_why="ab used 95% of a core" if k in limited else None,
            repetition=k, repeats_planned=len(rps) if len(rps) > 1 else None))
    return out


def fabricated() -> list[Record]:
    """c=200 three times over (cvs: noise verdicts), c=1000 once (no noise estimate)."""
    recs = [
        # c=200, K=3
        *point("uwsgi-gevent", "tuned", 200, [170, 180, 190], [1120, 1150, 1180], [0.7] * 3),
        *point("uwsgi-gevent", "seed", 200, [178, 179, 180], [1300] * 3, [0.9] * 3),
        *point("granian", "tuned", 200, [175, 177, 179], [1050, 1060, 1070], [1.0] * 3, limited=(2,)),
        *point("gunicorn", "tuned", 200, [150] * 3, [1400] * 3, [1.2] * 3, limited=(1, 2, 3)),
        # faster than all, but 12 requests failed in one repetition: left out
        *point("waitress", "seed", 200, [300] * 3, [900] * 3, [0.5] * 3, failed=[0, 12, 0]),
        *point("grpc-gevent-noinit", "tuned", 200, [10] * 3, [5] * 3, [0.1] * 3, error="nothing answered",
               expected="hang"),
        *point("quart", "seed", 200, [400] * 3, [10] * 3, [0.1] * 3, error="quart did not start"),
        # c=1000, K=1
        *point("uwsgi-gevent", "tuned", 1000, [800], [1900], [0.8]),
        *point("uwsgi-gevent", "seed", 1000, [700], [2500], [1.1]),
        *point("granian", "tuned", 1000, [850], [1800], [0.95], limited=(1,)),
    ]
    add_repeat_stats(recs)
    return recs


def picks(setting: whattouse.Setting) -> dict[str, whattouse.Pick]:
    return {p.metric.key: p for p in setting.picks}


def test_winners_margins_and_noise_at_each_concurrency():
    c200, c1000 = whattouse.settings(fabricated())
    assert (c200.c, c200.delay, c200.client, c1000.c) == (200, 1, "ab", 1000)

    by = picks(c200)
    rps = by["rps"]
    # uwsgi-gevent/tuned's median 180 beats its own seed (179): the next best MODE is granian (177)
    assert (rps.best.name, rps.best_value, rps.next.name, rps.next_value) == (
        "uwsgi-gevent/tuned", 180, "granian/tuned", 177)
    assert rps.margin_pct == pytest.approx(100 * 3 / 177)
    # cv (sample stdev) 5.56% (170, 180, 190) and 1.13%: band 2 × 5.56% = 11.12%, the 1.7% margin is within it
    assert rps.band_pct == pytest.approx(100 * 2 * 0.0556, abs=1e-6)
    assert rps.noise == whattouse.WITHIN
    p99 = by["p99_ms"]
    assert (p99.best.name, p99.best_value, p99.next.name, p99.next_value) == (
        "granian/tuned", 1060, "uwsgi-gevent/tuned", 1150)
    assert p99.margin_pct == pytest.approx(100 * 90 / 1150)  # 7.83% > band 2 × 2.61% = 5.22%
    assert p99.band_pct == pytest.approx(100 * 2 * 0.0261, abs=1e-6)
    assert p99.noise == whattouse.AHEAD
    assert p99.best.client_limited  # one of its three repetitions was
    cpu = by["cpu_ms_per_req"]
    # uwsgi-gevent/seed's 0.9 is the same mode: the next is granian's 1.0; no spread at all: the band is the
    # floor (the tests' fixed floors: 25% for CPU), not 0, and 30% is beyond it
    assert (cpu.best.name, cpu.best_value, cpu.next.name, cpu.next_value) == (
        "uwsgi-gevent/tuned", 0.7, "granian/tuned", 1.0)
    assert (round(cpu.margin_pct, 6), cpu.band_pct, cpu.noise) == (30.0, 25.0, whattouse.AHEAD)
    assert c200.left_out == [("waitress/seed", "12 failed requests"),
                             ("grpc-gevent-noinit/tuned", "expected to hang"), ("quart/seed", "error")]
    assert c200.client_limited == ["granian/tuned", "gunicorn/tuned"]

    # one run per point: beyond the floor (5% for req/s and p99) a margin without a verdict; within it (25%
    # for CPU), within noise: one run against one spreads that much
    by = picks(c1000)
    assert [(p.best.name, p.next.name, round(p.margin_pct, 3), p.band_pct, p.noise)
            for p in (by["rps"], by["p99_ms"], by["cpu_ms_per_req"])] == [
        ("granian/tuned", "uwsgi-gevent/tuned", round(100 * 50 / 800, 3), None, whattouse.NO_ESTIMATE),
        ("granian/tuned", "uwsgi-gevent/tuned", round(100 * 100 / 1900, 3), None, whattouse.NO_ESTIMATE),
        ("uwsgi-gevent/tuned", "granian/tuned", round(100 * 0.15 / 0.95, 3), 25.0, whattouse.WITHIN),
    ]
    assert c1000.left_out == [] and c1000.client_limited == ["granian/tuned"]


def test_an_exact_tie_goes_to_the_first_in_the_records_order_and_one_mode_has_no_margin():
    recs = [*point("gunicorn-gevent", "tuned", 50, [50], [1000], [1.0]),
            *point("granian", "tuned", 50, [50], [1000], [1.0]),
            *point("waitress", "tuned", 20, [20], [1000], [1.0])]
    add_repeat_stats(recs)
    c20, c50 = whattouse.settings(recs)
    rps = picks(c50)["rps"]
    assert (rps.best.name, rps.next.name, rps.margin_pct, rps.noise) == (
        "gunicorn-gevent/tuned", "granian/tuned", 0.0, whattouse.WITHIN)  # within the floor
    alone = picks(c20)["rps"]
    assert (alone.best.name, alone.next, alone.margin_pct, alone.noise) == ("waitress/tuned", None, None, None)
    assert whattouse.margin_text(alone) == "no other mode measured"


def test_the_report_section():
    md = render.markdown(fabricated(), "r1")
    section = md.split("\n## What to use\n")[1].split("\n## ")[0]
    assert "(all at delay 1 s, client ab)" in section
    rows = [ln for ln in section.splitlines() if ln.startswith("| ")]
    assert rows[0] == "| c | by | best | figure | next best mode | figure | margin |"
    assert rows[1:] == [
        "| 200 | req/s | uwsgi-gevent/tuned (gevent) | 180.00 (median of 3) | granian/tuned (peers), client-limited "
        "| 177.00 (median of 3) | 1.7% ahead: within noise (±11.1%) |",
        "| 200 | p99 ms | granian/tuned (peers), client-limited | 1060 (median of 3) | uwsgi-gevent/tuned (gevent) "
        "| 1150 (median of 3) | 7.8% ahead (noise ±5.2%) |",
        "| 200 | CPU ms/req | uwsgi-gevent/tuned (gevent) | 0.700 (median of 3) | granian/tuned (peers), "
        "client-limited | 1.000 (median of 3) | 30.0% ahead (noise ±25.0%) |",
        "| 1000 | req/s | granian/tuned (peers), client-limited | 850.00 | uwsgi-gevent/tuned (gevent) | 800.00 "
        "| 6.2% ahead (no noise estimate: one run per point) |",
        "| 1000 | p99 ms | granian/tuned (peers), client-limited | 1800 | uwsgi-gevent/tuned (gevent) | 1900 "
        "| 5.3% ahead (no noise estimate: one run per point) |",
        "| 1000 | CPU ms/req | uwsgi-gevent/tuned (gevent) | 0.800 | granian/tuned (peers), client-limited | 0.950 "
        "| 15.8% ahead: within noise (±25.0%) |",
    ]
    assert ("- c=200: client-limited (the client, not only the server, may have set the pace; see the notes): "
            "granian/tuned, gunicorn/tuned") in section
    assert ("- c=200: left out: waitress/seed (12 failed requests), grpc-gevent-noinit/tuned (expected to hang), "
            "quart/seed (error)") in section
    # the section comes before Repeats, and the groups' tables before it
    assert md.index("### gevent: ") < md.index("### peers: ") < md.index("### threads and processes: ") \
        < md.index("## What to use") < md.index("## Repeats")


def test_single_runs_say_there_is_no_noise_estimate():
    recs = [*point("uwsgi-gevent", "tuned", 1000, [800], [1900], [0.8]),
            *point("granian", "tuned", 1000, [850], [1800], [0.95])]
    add_repeat_stats(recs)
    md = render.markdown(recs, "r1")
    assert "every point here ran once, so a margin beyond the floor is given without a verdict" in md


def test_the_terminal_lines():
    assert render.what_to_use_lines(fabricated()) == [
        "c=200: req/s uwsgi-gevent/tuned 180.00 (1.7% ahead, within noise); "
        "p99 granian/tuned 1060 ms (7.8% ahead, outside noise; client-limited); "
        "CPU uwsgi-gevent/tuned 0.700 ms/req (30.0% ahead, outside noise)",
        "c=1000: req/s granian/tuned 850.00 (6.2% ahead, no noise estimate; client-limited); "
        "p99 granian/tuned 1800 ms (5.3% ahead, no noise estimate; client-limited); "
        "CPU uwsgi-gevent/tuned 0.800 ms/req (15.8% ahead, within noise)",
    ]


def test_delay_and_client_are_named_when_they_vary_and_a_setting_without_winners_says_why():
    recs = [*point("uwsgi-gevent", "tuned", 200, [180], [1100], [0.7]),
            *point("uwsgi-gevent", "tuned", 200, [190], [1050], [0.6], client="wrk"),
            *point("granian", "tuned", 200, [90], [2100], [0.7], delay=2),
            *point("quart", "tuned", 200, [400], [10], [0.1], error="quart did not start", delay=2)]
    add_repeat_stats(recs)
    lines = render.what_to_use_lines(recs)
    assert [ln.split(":")[0] for ln in lines] == ["c=200 delay 1 s ab", "c=200 delay 1 s wrk", "c=200 delay 2 s ab"]
    assert lines[2] == "c=200 delay 2 s ab: req/s granian/tuned 90.00 (no other mode); " \
                       "p99 granian/tuned 2100 ms (no other mode); CPU granian/tuned 0.700 ms/req (no other mode)"
    only_errors = [*point("quart", "tuned", 200, [400], [10], [0.1], error="quart did not start")]
    add_repeat_stats(only_errors)
    assert render.what_to_use_lines(only_errors) == [f"c=200: {whattouse.NONE_TEXT}"]
    md = whattouse.markdown_section(only_errors)
    assert f"| 200 | – | {whattouse.NONE_TEXT} (below) | – | – | – | – |" in md
    assert "- c=200: left out: quart/tuned (error)" in md


def test_a_setting_where_points_failed_as_expected_says_so():
    """The gRPC no-init hang (run.json's expect: hang) is the expected outcome, not an error."""
    noinit = point("grpc-gevent-noinit", "tuned", 10, [0], [None], [None], failed=[10], expected="hang")
    usable = point("uwsgi-gevent", "tuned", 200, [180], [1100], [0.7])
    lines = render.what_to_use_lines([*noinit, *usable])
    assert lines[0] == "c=10: no usable point (grpc-gevent-noinit/tuned: expected hang)"
    assert lines[1].startswith("c=200: req/s uwsgi-gevent/tuned 180.00 (no other mode)")
    quart = point("quart", "tuned", 10, [400], [10], [0.1], error="quart did not start")
    assert render.what_to_use_lines([*noinit, *quart]) == [
        "c=10: no usable point (grpc-gevent-noinit/tuned: expected hang; the others: an error or failed requests)"]
    md = whattouse.markdown_section([*noinit, *quart])
    assert "- c=10: left out: grpc-gevent-noinit/tuned (expected to hang), quart/tuned (error)" in md


def test_the_cli_prints_one_line_per_concurrency(tmp_path, capsys):
    run_dir = tmp_path / "results" / "r1"
    shutil.copytree(ROOT / "tests" / "data" / "benchreport" / "local-run", run_dir)
    assert cli_main([str(run_dir), "--modes-file", str(MODES_FILE), "--no-latest"]) == 0
    out = capsys.readouterr().out
    block = out.split("\nWhat to use (")[1].split("\n\n")[0].splitlines()[1:]
    assert block == [
        "  c=200: req/s uwsgi-gevent/tuned 177.38 (1.4% ahead, within noise; client-limited); "
        "p99 gunicorn-gevent/tuned 1145 ms (0.2% ahead, within noise; client-limited); "
        "CPU uwsgi-gevent/tuned 0.705 ms/req (23.4% ahead, within noise; client-limited)"]  # single runs: the floor
    assert "## What to use" in (run_dir / "report.md").read_text()
