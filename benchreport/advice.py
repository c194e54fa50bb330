"""The run's verdict: which mode to serve the app with, drawn only from the runs that can tell modes apart.

One verdict per workload (the records' route and delay; a run of one app on one route has one), from the
strongest evidence the run holds, in this order:

1. knees (client=rate, benchreport.knee): the mode ranked first (the highest knee; a tie: the lower CPU
   per request at the knee) holds that rate within the budget at its CPU per request. Another mode is
   within noise of it when its knee is within KNEE_PRECISION of it and, at the same knee, its CPU is too
   (within the two figures' resolutions); the rest fall over at their first rate over the budget, for the
   reason knee gives.
2. closed-loop points that tell modes apart (ab, wrk: whattouse.settings): of the settings whose best req/s
   is neither client-limited nor at the client's ceiling (AT_CEILING_PCT of c / delay, or of ab's own
   ceiling) and that ran 2 or more modes, the one of the most load (a sweep past the ceiling). Another mode
   is within noise when compare's band says so (whattouse.pick); the rest fall behind.
3. CPU per request where req/s cannot tell modes apart: only from figures whose resolution is known and at
   most serverfigures.RESOLUTION_SHOWN (5%) of them (long runs, never ten requests), the lowest ahead of the
   next mode's beyond the noise floor.

Without any of them, or with one mode only, there is no verdict: it says why and what to run to get one (a
rate sweep from the highest ideal rate the run saw, or a wrk sweep past the ceiling).

gevent: a mode of the gevent group is named with its readiness (benchreport.readiness, the mode and route's
verdict): safe says so, unknown says what to run, and a mode that is not safe is never the recommendation:
its call site is named and the verdict goes to the best mode that is not "not safe".

"These flags" are the mode's profile options in the mode table (benchapp.modes' default table, the one the
app host was deployed from; "cores" as written: the host's usable CPUs).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from benchapp import modes as mode_table
from benchreport import fmt, knee, readiness, serverfigures, whattouse
from benchreport.model import METRICS, Record, app_option, finite, point_key

KNEES, SWEEP, CPU = "knees", "a sweep past the client's ceiling", "CPU per request over long runs"
#: Knees closer than this share are within the sweep's precision (rate=auto bisects to 10%).
KNEE_PRECISION = 0.10
#: A closed-loop point at this % of its client's ceiling (or more) measured the client, not the server.
AT_CEILING_PCT = 95.0
#: After a suggested rate sweep.
KNEE_NOTE = "   # the knee: the rate each mode holds within the budget"
RPS, P99, CPU_METRIC = METRICS
#: How a margin's noise verdict (whattouse.pick) reads after it.
NOISE_WORDS = {whattouse.AHEAD: "outside noise", whattouse.NO_ESTIMATE: "one run a side: no noise estimate",
               whattouse.WITHIN: "within noise", whattouse.WITHIN_RESOLUTION: "within resolution", None: "no margin"}


@dataclass
class Verdict:
    """One workload's verdict: the recommendation (None: no verdict), what it says, and what it rests on."""

    route: str | None
    delay: float | None
    #: KNEES, SWEEP or CPU: the evidence it is drawn from; None: no verdict
    evidence: str | None = None
    #: mode/profile recommended
    pick: str | None = None
    #: the recommendation and its caveats (or why there is no verdict)
    lead: list[str] = field(default_factory=list)
    #: one sentence per other mode: within noise of it, or where and why it falls over
    others: list[str] = field(default_factory=list)
    #: commands that would give a verdict (or a sharper one)
    to_run: list[str] = field(default_factory=list)
    #: the run folders (raw_dir) it rests on
    runs: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def _modes() -> dict[str, mode_table.Mode]:
    try:
        return mode_table.load_modes()
    except (OSError, ValueError, KeyError, TypeError):  # no flags without the table: the verdict stands
        return {}


def flags(mode: str, profile: str | None) -> str:
    """"workers=cores, gevent=2000": the profile's options in the mode table ("" when it has none)."""
    found = _modes().get(mode)
    if found is None or profile not in found.profiles:
        return ""
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in found.profiles[profile].items())


def how(rec: Record) -> str:
    """" (uWSGI with the gevent loop, patched entry; tuned flags: workers=cores, ...)" for a mode's record."""
    parts = [rec.title] if rec.title else []
    options = flags(str(rec.mode), rec.profile)
    if options:
        parts.append(f"{rec.profile} flags: {options}")
    return f" ({'; '.join(parts)})" if parts else ""


def _rps(x: float | None) -> str:
    return fmt.DASH if x is None else f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def cpu_text(value: float | None, resolution: float | None) -> str:
    """"0.985 ms" or "0.985 ± 0.060 ms" (the resolution where it is over 5% of the figure)."""
    if value is None:
        return "CPU not measured"
    shown = f" ± {resolution:.3f}" if serverfigures.shows_resolution(value, resolution) else ""
    return f"{value:.3f}{shown} ms"


def resolved(value: float | None, resolution: float | None) -> bool:
    """A CPU figure a ranking may rest on: its resolution known and at most 5% of it."""
    return value is not None and value > 0 and resolution is not None and \
        not serverfigures.shows_resolution(value, resolution)


# -- gevent -------------------------------------------------------------------------------------


def _safety(found: dict, mode: str, group: str | None, route: str | None) -> readiness.Verdict | None:
    """The readiness verdict of a gevent mode on the route (unknown when none was drawn); None: no gevent."""
    if group != "gevent":
        return None
    return found.get((mode, route)) or readiness.Verdict(
        mode, route, readiness.UNKNOWN,
        f"not run with gevent's monitor thread: run `ansible-playbook bench.yml -e mode={mode} -e monitor=true`")


def _site(v: readiness.Verdict) -> str:
    sites = readiness.site_lines(v)
    return sites[0] if sites else v.why


def _choose(ranked: list[Any], safety: Any) -> tuple[Any, list[Any]]:
    """The first entry whose mode is not "not safe" under gevent, and the unsafe ones ranked above it."""
    unsafe = []
    for entry in ranked:
        v = safety(entry)
        if v is not None and v.verdict == readiness.NOT_SAFE:
            unsafe.append(entry)
            continue
        return entry, unsafe
    return None, unsafe


def _caveats(v: Verdict, name: str, safe: readiness.Verdict | None, unsafe: list[tuple[str, str, Any]]) -> None:
    """The sentences after the recommendation: the better modes that are not gevent-safe, its own readiness."""
    for other, figure, u in unsafe:
        v.lead.append(f"Not {other}, though it {figure}: the app is not gevent-safe under it: {_site(u)}.")
    if safe is not None and safe.verdict == readiness.SAFE:
        v.lead.append(f"{name} is gevent-safe on this route: {safe.why}.")
    elif safe is not None:
        v.lead.append(f"{name}'s gevent readiness is unknown: {safe.why}.")


def _note(safe: readiness.Verdict | None) -> str:
    if safe is None or safe.verdict == readiness.SAFE:
        return ""
    return f" (not gevent-safe: {_site(safe)})" if safe.verdict == readiness.NOT_SAFE else \
        " (gevent readiness unknown)"


# -- 1. knees -----------------------------------------------------------------------------------


def _held(k: knee.Knee) -> str:
    return ("at least " + knee.knee_text(k)[2:] + " (every rate run passed)") if k.open_ended else knee.knee_text(k)


def _cpu_at(k: knee.Knee) -> tuple[float | None, float | None]:
    at = k.at_knee
    return (at.cpu_ms_per_req, at.cpu_ms_per_req_resolution) if at is not None else (None, None)


def _from_knees(v: Verdict, found: list[knee.Knee], safety: Any) -> bool:
    ranked = knee.ranked(found)
    held = [k for k in ranked if k.knee_rps is not None]
    if not held:
        return False
    best, unsafe = _choose(held, lambda k: safety(k.mode, k.records[0].group))
    v.evidence, v.runs = KNEES, [r.raw_dir for k in found for r in k.records]
    if best is None:
        v.lead.append("No verdict: every mode that held the budget is not gevent-safe.")
        _caveats(v, "", None, [(u.name, f"holds {_held(u)}", safety(u.mode, "gevent")) for u in unsafe])
        return True
    v.pick = best.name
    at = best.at_knee
    cpu, res = _cpu_at(best)
    v.lead.append(f"Serve it with {best.name}{how(best.records[0])}: it holds {_held(best)} within the budget "
                  f"(p99 ≤ {best.budget_ms:g} ms; {fmt.ms(at.p99_ms if at else None)} ms at the knee) at "
                  f"{cpu_text(cpu, res)} of CPU a request.")
    _caveats(v, best.name, safety(best.mode, best.records[0].group),
             [(u.name, f"holds {_held(u)}", safety(u.mode, "gevent")) for u in unsafe])
    if best.open_ended:
        v.to_run.append(_rate_command([k.mode for k in held], best.delay, [2 * best.knee_rps, 4 * best.knee_rps]))
    for k in ranked:
        if k is best or k in unsafe:
            continue
        note = _note(safety(k.mode, k.records[0].group))
        if k.knee_rps is not None and k.knee_rps >= best.knee_rps / (1 + KNEE_PRECISION):
            kc, kr = _cpu_at(k)
            if k.knee_rps == best.knee_rps and cpu is not None and kc is not None and kc > cpu and \
                    not serverfigures.within_resolution(cpu, res, kc, kr):
                v.others.append(f"{k.name} holds {_held(k)} too, but at {cpu_text(kc, kr)} of CPU a request "
                                f"({100 * (kc - cpu) / cpu:.0f}% more){note}.")
            else:
                v.others.append(f"{k.name} is within noise of it: it holds {_held(k)} at {cpu_text(kc, kr)} of "
                                f"CPU a request{note}.")
            continue
        over = next((s for s in k.steps if s.over is not None), None)
        if over is None:
            continue
        holds = f" (it holds {knee.knee_text(k)})" if k.knee_rps is not None else " (its lowest rate run)"
        v.others.append(f"{k.name} falls over at {over.rate:g} req/s{holds}: {over.over}{note}.")
    return True


# -- 2. a sweep past the ceiling ----------------------------------------------------------------


def ceiling_rps(cand: whattouse.Candidate) -> float | None:
    """The most the point's client could show: ab's own ceiling, else the ideal c / delay."""
    return finite(cand.rep.ab_ceiling_rps) or finite(cand.rep.ideal_rps)


def at_ceiling(cand: whattouse.Candidate) -> bool:
    top, rps = ceiling_rps(cand), cand.value("rps")
    return top is not None and rps is not None and top > 0 and 100.0 * rps / top >= AT_CEILING_PCT


def _point_text(cand: whattouse.Candidate, budget_ms: float | None) -> str:
    rps, ideal, p99 = cand.value("rps"), finite(cand.rep.ideal_rps), cand.value("p99_ms")
    text = f"{_rps(rps)} req/s" + (f" ({100 * rps / ideal:.0f}% of ideal)" if rps is not None and ideal else "")
    text += f", p99 {fmt.ms(p99)} ms"
    if budget_ms is not None and p99 is not None:
        text += f" ({'within' if p99 <= budget_ms else 'over'} the {budget_ms:g} ms budget)"
    cpu, res = cand.value("cpu_ms_per_req"), cand.resolution("cpu_ms_per_req")
    return text + (f", at {cpu_text(cpu, res)} of CPU a request" if resolved(cpu, res) else "")


def _label(s: whattouse.Setting) -> str:
    return f"c={s.c} ({s.client})"


def _from_sweep(v: Verdict, found: list[whattouse.Setting], safety: Any, budget_ms: float | None) -> bool:
    usable = []
    for s in found:
        p = next(p for p in s.picks if p.metric.key == "rps")
        if p.best is not None and p.next is not None and not p.best.client_limited and not at_ceiling(p.best):
            usable.append(s)
    if not usable:
        return False
    s = max(usable, key=lambda s: (s.c or 0))
    ranked = sorted((c for c in s.points if c.value("rps") is not None), key=lambda c: -(c.value("rps") or 0))
    best, unsafe = _choose(ranked, lambda c: safety(c.mode, c.group))
    v.evidence, v.runs = SWEEP, [r.raw_dir for c in s.points for r in c.records]
    if best is None:
        v.lead.append("No verdict: every mode ahead at the sweep's highest load is not gevent-safe.")
        _caveats(v, "", None, [(u.name, f"answers {_rps(u.value('rps'))} req/s", safety(u.mode, u.group))
                              for u in unsafe])
        return True
    v.pick = best.name
    v.to_run.append(_rate_command([c.mode for c in ranked], v.delay, [(best.value("rps") or 100.0) * x
                                                                       for x in (0.5, 1, 2)]) + KNEE_NOTE)
    # a user's app has no delay, so no ceiling to be past: its closed loop runs flat out, the client not limiting
    where = "the client not limiting it" if best.rep.app else "past the client's ceiling"
    v.lead.append(f"Serve it with {best.name}{how(best.rep)}: at {_label(s)}, {where}, it "
                  f"answers {_point_text(best, budget_ms)}.")
    _caveats(v, best.name, safety(best.mode, best.group),
             [(u.name, f"answers {_rps(u.value('rps'))} req/s", safety(u.mode, u.group)) for u in unsafe])
    for c in ranked:
        if c is best or c in unsafe or c.mode == best.mode:
            continue
        p = whattouse.pick(RPS, [best, c])
        limited = " (client-limited: the figure may be the client's)" if c.client_limited else ""
        if p.noise == whattouse.WITHIN:
            v.others.append(f"{c.name} is within noise of it: {_point_text(c, budget_ms)}"
                            f"{_note(safety(c.mode, c.group))}.")
        else:
            top, rps = best.value("rps") or 0.0, c.value("rps") or 0.0
            margin = "" if not top else f"; {100 * (top - rps) / top:.0f}% fewer req/s ({NOISE_WORDS[p.noise]})"
            v.others.append(f"{c.name} falls behind at {_label(s)}: {_point_text(c, budget_ms)}{margin}{limited}"
                            f"{_note(safety(c.mode, c.group))}.")
    return True


# -- 3. CPU per request over long runs ----------------------------------------------------------


def _from_cpu(v: Verdict, found: list[whattouse.Setting], safety: Any) -> bool:
    usable = []
    for s in found:
        p = next(p for p in s.picks if p.metric.key == "cpu_ms_per_req")
        if p.best is None or p.next is None or p.noise not in (whattouse.AHEAD, whattouse.NO_ESTIMATE):
            continue
        if all(resolved(c.value("cpu_ms_per_req"), c.resolution("cpu_ms_per_req")) for c in (p.best, p.next)):
            usable.append(s)
    if not usable:
        return False
    s = max(usable, key=lambda s: (s.c or 0))
    ranked = sorted((c for c in s.points if resolved(c.value("cpu_ms_per_req"), c.resolution("cpu_ms_per_req"))),
                    key=lambda c: c.value("cpu_ms_per_req") or 0.0)
    best, unsafe = _choose(ranked, lambda c: safety(c.mode, c.group))
    v.evidence, v.runs = CPU, [r.raw_dir for c in s.points for r in c.records]
    def cost(c: whattouse.Candidate) -> str:
        return f"spends {cpu_text(c.value('cpu_ms_per_req'), c.resolution('cpu_ms_per_req'))} of CPU a request"

    if best is None:
        v.lead.append("No verdict: every mode with the lowest CPU per request is not gevent-safe.")
        _caveats(v, "", None, [(u.name, cost(u), safety(u.mode, u.group)) for u in unsafe])
        return True
    v.pick = best.name
    v.to_run.append(_rate_command([c.mode for c in s.points], v.delay, [(best.value("rps") or 100.0) * x
                                                                         for x in (1, 2, 4)]) + KNEE_NOTE)
    v.lead.append(f"Serve it with {best.name}{how(best.rep)}: at {_label(s)} req/s cannot tell the modes apart "
                  f"(the client's ceiling), and it {cost(best)}, the least, over runs long enough to resolve it "
                  f"({_rps(best.value('rps'))} req/s).")
    _caveats(v, best.name, safety(best.mode, best.group), [(u.name, cost(u), safety(u.mode, u.group)) for u in unsafe])
    for c in ranked:
        if c is best or c in unsafe or c.mode == best.mode:
            continue
        p = whattouse.pick(CPU_METRIC, [best, c])
        within = p.noise in (whattouse.WITHIN, whattouse.WITHIN_RESOLUTION)
        low, mine = best.value("cpu_ms_per_req") or 0.0, c.value("cpu_ms_per_req") or 0.0
        v.others.append(f"{c.name} {'is within noise of it: it ' if within else ''}{cost(c)}"
                        + ("" if within or not low else f" ({100 * (mine - low) / low:.0f}% more)")
                        + f"{_note(safety(c.mode, c.group))}.")
    return True


# -- no verdict: what to run --------------------------------------------------------------------


def _nice(x: float) -> str:
    """A rate to type: two significant digits."""
    return f"{float(f'{x:.2g}'):g}"


def _rate_command(modes: list[str], delay: float | None, rates: list[float]) -> str:
    delay_arg = f" -e delay={delay:g}" if delay is not None and delay != 1 else ""
    return (f"ansible-playbook bench.yml -e mode={','.join(dict.fromkeys(modes))} -e client=rate "
            f"-e rate={','.join(_nice(r) for r in rates)}{delay_arg}")


def _no_verdict(v: Verdict, recs: list[Record], found: list[knee.Knee]) -> None:
    modes = list(dict.fromkeys(str(r.mode) for r in recs if r.mode is not None))
    delay = v.delay
    ceilings = [x for r in recs if (x := finite(r.ideal_rps) or finite(r.rps)) is not None and not r.rate]
    base = max(ceilings, default=None) or 100.0
    if len(modes) == 1:
        v.lead.append(f"No verdict: only {modes[0]} ran, so there is nothing to choose between; bench other modes "
                      "the same way (mode=all benches every one).")
        modes = ["all"]
    else:
        why = ["no rate sweep ran" if not found else "the rate sweep found no knee (every mode failed its lowest "
               "rate)", "no closed-loop point told the modes apart (each setting's best sat at the client's "
               "ceiling, was client-limited or ran alone)",
               "no CPU figure was resolved well enough (±5%) to rank by"]
        v.lead.append(f"No verdict: {'; '.join(why)}.")
    if found and not any(k.knee_rps is not None for k in found):
        low = min(s.rate for k in found for s in k.steps)
        v.to_run.append(_rate_command(modes, delay, [low / 4, low / 2, low]))
    else:
        v.to_run.append(_rate_command(modes, delay, [base, 2 * base, 4 * base]) + KNEE_NOTE)
        cs = [c for r in recs if (c := r.c) is not None and not r.rate]
        c = max(cs, default=200)
        v.to_run.append(f"ansible-playbook bench.yml -e mode={','.join(modes)} -e client=wrk -e c={c},{5 * c} "
                        f"-e repeat=3   # a sweep past the client's ceiling")
    v.runs = [r.raw_dir for r in recs]


# -- the verdicts -------------------------------------------------------------------------------


def workload(rec: Record) -> tuple[str | None, float | None] | None:
    key = point_key(rec)
    return None if key is None else (key[6], key[5])


def verdicts(records: list[Record]) -> list[Verdict]:
    """One verdict per workload (route, delay) of the records, in their order; [] without a mode."""
    by_workload: dict[tuple, list[Record]] = {}
    for rec in records:
        key = workload(rec)
        if key is not None:
            by_workload.setdefault(key, []).append(rec)
    ready = {(r.mode, r.route): r for r in readiness.verdicts(records)}
    out = []
    for (route, delay), recs in by_workload.items():
        v = Verdict(route, delay)
        safety = lambda mode, group, route=route: _safety(ready, mode, group, route)  # noqa: E731
        found = knee.knees(recs)
        # the knee's budget: the records' own (a user's app's, or -e budget_ms), else 1.5 x delay
        given = next((b for r in recs if (b := finite(r.budget_ms)) is not None), None)
        budget = given if given is not None else None if delay is None else round(knee.BUDGET_FACTOR * delay * 1000.0, 6)
        settings = whattouse.settings(recs)
        if len({str(r.mode) for r in recs}) < 2 or not (
                _from_knees(v, found, safety) or _from_sweep(v, settings, safety, budget)
                or _from_cpu(v, settings, safety)):
            v.lead, v.others, v.to_run = [], [], []
            _no_verdict(v, recs, found)
        out.append(with_app(v, app_option(recs)))
    return out


def with_app(v: Verdict, option: str) -> Verdict:
    """The verdict's commands for a user's app (option: " -e app=DIR"): they bench it, not the built-in app."""
    if option:
        command = "ansible-playbook bench.yml"
        v.lead, v.others, v.to_run = ([line if option in line else line.replace(command, command + option)
                                       for line in lines] for lines in (v.lead, v.others, v.to_run))
    return v


def title(v: Verdict, several: bool) -> str:
    """"route /db, delay 1 s" when the run has several workloads, else ""."""
    if not several:
        return ""
    return f"route {v.route or '?'}" + (f", delay {v.delay:g} s" if v.delay is not None else "")
