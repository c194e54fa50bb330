"""Run a whole bench plan on one host; the hosts keep in step over a small HTTP endpoint.

Runs on the bench hosts with the system Python (stdlib only):

    python3 -m benchhost.run app  --plan PLAN [--warm-wait S] [--done-grace S] [--linger S]
                                  [--journalctl BIN] [--sampler ARGV]
    python3 -m benchhost.run load --plan PLAN --host NAME [--lost-after S] [--ab BIN]
    python3 -m benchhost.run upstream --plan PLAN --host NAME [--lost-after S] [--sampler ARGV]

(the bench role unpacks the benchhost package on each host and puts its
folder on PYTHONPATH; the programs this one starts inherit it).

PLAN is <plan dir>/plan.json (schema 1: token, deadline, control address
and port, loadgens, mode_command, switch_timeout,
monitor_max_blocking, warmup_requests, lost_after (optional, 60 s: the
default of --lost-after) and the runs, each a run.json entry
(schema 2) plus "parts": [{"host", "c", "n"}, ...], one per load host in the
order of loadgens; a client=rate run also has "rate" and "duration", and each
part its "rate"). Each runner goes through every run in order; a failed
run is recorded and the next one follows.

The app runner serves the control endpoint on control.address:port and owns
the state. Per run it writes <plan dir>/app/<name>/run.json (the run as
planned), switches the mode (MODE_COMMAND set MODE PROFILE --timeout T
--quick-stop [--monitor --monitor-max-blocking X]; a failure skips the run:
"switch: ..."),
for a user's app (the run's "requests": benchhost.routes) requests each
of its routes once: one answering other than its expect skips the run
("routes: route NAME (METHOD PATH) answered 404, expected 201") and every
run after it ("not run: ..."), so no load goes to an app that does not
answer as described,
waits for every load host's warm-up (--warm-wait, 120 s; else the run is
skipped, naming the missing hosts), starts the sampler (benchhost.sample), says
"go" once it has taken its first reading (the load comes after it; several
load hosts then start together 0.3 s after "go"), waits for every part's
result (at most time_limit + timeout + --done-grace, 60 s), stops the
sampler (server.json; killed after 30 s), when the run has monitor on reads
gevent's monitor reports in the journal since "go" and the app's patch line
(monitor.json: benchhost.monitor), and writes outcome.json
({"error", "blocked": the reports' count}; a part's error reads "loadgen HOST: ..."). Each run
ends with a line in <plan dir>/progress.jsonl (parts: {} for a skipped run):

    {"index": 0, "name": "gevent-tuned", "error": null,
     "parts": {"fb-loadgen": {"rps", "failed", "complete", "p99_ms",
                              "status_counts", "started_at", "ended_at", "warning"}}}

then, after the last run, {"finished": true, "runs": N}; it keeps answering
until every load host has posted the last run's result or seen "finished"
(at most --linger, 5 s), and exits 0.

Each load runner (NAME in loadgens) writes <plan dir>/load/NAME/<name>/run.json
(the run with its part's n, c and rate, plus "part": {"host", "index", "of"}
and "point": {"n", "c", "rate"} of the whole run), warms up with ab (not for
a run that expects a failure; a failed warm-up is a warning), reports it,
waits for "go" and the common start, runs the client's module
(benchhost.clients' registry: benchhost.clients.ab, .wrk, .rate; it writes
the client's files and loadgen.json), and posts its summary: the client's
Result (benchhost.result, read by the client's module exactly as benchreport
reads it): rps, complete, failed, p99_ms, status_counts (null for a client
that does not count them: ab), started_at and ended_at; null where absent.

The slow API (plan "upstream": {"host", "unit"}, optional: absent or null
when the plan has no slow API host) is sampled as the app is: per run,
the sampler --unit UNIT writes upstream.json (server.json's
schema). On its own host the upstream runner (NAME = upstream.host) follows
the control endpoint as a load runner does: once the app runner is on a run
(any phase) it starts the sampler into <plan dir>/upstream/NAME/<name>/
and, once it has its first reading, posts /sampling (the app runner holds
"go" for it, at most UPSTREAM_WAIT_S, 5 s; after UPSTREAM_MISSES, 3 runs in
a row without it, no longer), then
asks for the state every 1 s (that host is measured) until the app runner
is done with the run (past it, or skipped), waits UPSTREAM_TAIL_S more (the
series keeps a sample at most every second: one comes after the load's
end) and stops the sampler (killed after 30 s); it posts nothing. When
upstream.host is the app host, the app runner starts that second sampler
itself, after the warm-up and before "go", into <plan dir>/app/<name>/
beside server.json, and stops it UPSTREAM_TAIL_S after the last part's
result. A failed upstream sampler fails no run (the report says the slow
API's CPU was not measured). The app runner's --linger waits for the
upstream runner to have seen the end too.

A knee search (rate=auto) is a run of slots with "search" ({"group", "step",
"start", "precision", "budget_ms", "steps", "headroom", "max_rate"}): the app
runner decides each slot's rate from its group's steps before
(benchhost.search), runs it as a rate run at that rate (run.json's rate, n, c,
parts and repetition: search.step_run; GET /state adds them as "step", which
the load runners run), and adds "search": {"group", "step", "rate", "over"}
to its progress line; once the search is done, its other slots are skipped
at once, with no folder and "search": {"group", "done": what it found}.

Control endpoint: every request carries X-Flaskbench-Token (else 403).
GET /state -> {"index", "phase": switching|warm|go|skipped|finished,
"start_in", "error"}; POST /warm {"index", "host"}, POST /done {"index",
"host", "error", "summary"}, POST /sampling {"index", "host"} (the slow API's
runner) -> 200 {"ok": true}, or 409 for another run than
the current one (or a phase that does not take it). Nothing else.

Bounds: nothing waits without one. Load runners ask for the state every
50 ms, but only every 1 s while their client runs (the app host is being
measured); one that cannot reach the endpoint for --lost-after (the plan's
lost_after, 60 s) in a row stops its client and exits 1. The client's wrapper is killed at
time_limit + timeout + 45 s (its own cap on the client is + 30 s), a warm-up
at 90 s, the mode command at switch_timeout + 30 s. Every runner stops by
itself at the plan's deadline.
SIGTERM, SIGINT or SIGHUP: the runner sends SIGTERM to its children (the
client wrappers kill ab or wrk at once; the sampler writes its figures),
the app runner adds {"interrupted": "SIGTERM"} to progress.jsonl, and it
exits 128 + the signal (143, 130, 129); past the deadline the same with
"deadline" and exit 124 (a stop during --linger, the plan being done,
exits 0). Should the app runner fail otherwise, its last progress line is
{"interrupted": "error: ..."}.
Exit status: 0 the plan is done, 1 a fatal problem (the endpoint cannot be
served or reached, the token is refused), 2 a bad plan or command line.
"""

from __future__ import annotations

import argparse
import hmac
import http.client
import json
import os
import re
import shlex
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from benchhost import clients, monitor, routes, search
from benchhost.clients import ab

TOKEN_HEADER = "X-Flaskbench-Token"
#: Who asks (a load host's name): the app runner stops lingering once each has seen the end.
HOST_HEADER = "X-Flaskbench-Host"
PHASES = ("switching", "warm", "go", "skipped", "finished")
#: How often a load runner asks for the state, and every wait's step.
POLL_S = 0.05
#: While the client runs, the state is only asked this often (the app host is measured).
RUNNING_POLL_S = 1.0
#: Defaults of the options (see the docstring).
LOST_AFTER_S = 60.0
WARM_WAIT_S = 120.0
DONE_GRACE_S = 60.0
LINGER_S = 5.0
#: Several load hosts start together at "go" + this.
START_SPREAD_S = 0.3
#: A warm-up ab is killed after this (below WARM_WAIT_S: the app waits for the report).
WARMUP_CAP_S = 90.0
#: The mode command is killed after switch_timeout + this.
SWITCH_GRACE_S = 30.0
#: benchhost.sample's --max-seconds is time_limit + timeout + this.
SAMPLER_MAX_GRACE_S = 120
#: "go" comes once the sampler has taken its first reading (systemctl show, /proc;
#: it writes --ready-file then), or this long after it started, whichever is first.
SAMPLER_SETTLE_S = 2.0
#: Once told to stop, the sampler has this long to write server.json.
SAMPLER_WAIT_S = 30.0
#: A client wrapper is killed after time_limit + timeout + this (its own cap is + 30 s).
WRAPPER_GRACE_S = 45
#: The slow API's sampler is stopped this long after its run's load ended: the series keeps a sample
#: at most every second (benchhost.sample's SAMPLE_EVERY_S), so one comes after the load's end.
UPSTREAM_TAIL_S = 1.5
#: "go" waits this long for the slow API's runner to sample the run (POST /sampling); after this many
#: runs in a row without it, no longer.
UPSTREAM_WAIT_S = 5.0
UPSTREAM_MISSES = 3
#: The upstream sampler's files beside server.json when the slow API runs on the app host.
UPSTREAM_FILES = ("upstream.json", "upstream.stop", "upstream.ready")
#: A child told to stop (SIGTERM) is killed after this.
CHILD_STOP_S = 10.0
REQUEST_TIMEOUT_S = 5.0
JOURNAL_TIMEOUT_S = 30.0
MAX_BODY = 65536
EXIT_FATAL, EXIT_USAGE, EXIT_DEADLINE = 1, 2, 124
#: A knee search's slot (rate=auto): run["search"] holds these, each above 0, and its group's name.
#: What a search's step replaces in its slot's run (search.step_run), in /state's "step".
STEP_KEYS = ("rate", "n", "c", "parts", "repetition", "search")
SEARCH_KEYS = ("start", "precision", "budget_ms", "steps", "headroom", "max_rate")
SUMMARY_KEYS = ("rps", "failed", "complete", "p99_ms", "status_counts", "started_at", "ended_at")
#: The sampler's command; --sampler replaces it (tests).
SAMPLER = [sys.executable, "-m", "benchhost.sample"]
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.@+-]+$")

ROLE = "runner"


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} benchhost.run {ROLE}: {message}", file=sys.stderr, flush=True)


def write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def seconds(x: float) -> str:
    """A number of seconds for a command line or a message: 60, not 60.0."""
    return str(int(x)) if float(x).is_integer() else str(x)


class PlanError(Exception):
    """plan.json is unreadable or does not hold what the runners need."""


class Stop(Exception):
    """A stop signal or the plan's deadline: the runner stops its children and exits."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Fatal(Exception):
    """A problem no later run can get past (exit 1)."""


# ---------------------------------------------------------------- the plan

def _int(value: object, what: str, problems: list, minimum: int = 0) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)  # numeric strings too (templating), as the wrappers read them
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"{what} is not an integer: {value!r}")
        return minimum
    if number < minimum:
        problems.append(f"{what} must be at least {minimum}: {number}")
    return number


def _number(value: object, what: str, problems: list) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{what} is not a number: {value!r}")
        return 0.0
    if number != number:
        problems.append(f"{what} is not a number: {value!r}")
    return number


def flag(value: object) -> bool:
    """A boolean that may have been stringified by templating ("True", "false")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def expects_failure(run: dict) -> bool:
    return run.get("expect") not in (None, "")


def load_plan(path: Path) -> dict:
    """plan.json, checked; PlanError naming every problem."""
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PlanError(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(plan, dict):
        raise PlanError("not a JSON object")
    p: list[str] = []
    if plan.get("schema") != 1:
        p.append(f"schema must be 1, not {plan.get('schema')!r}")
    if not isinstance(plan.get("token"), str) or not plan["token"] or not plan["token"].isascii():
        p.append("token must be a non-empty ASCII string")
    plan["deadline"] = _number(plan.get("deadline"), "deadline", p)
    control = plan.get("control")
    if not isinstance(control, dict) or not isinstance(control.get("address"), str) or not control["address"]:
        p.append("control must hold an address and a port")
    else:
        control["port"] = _int(control.get("port"), "control.port", p, 1)
    loadgens = plan.get("loadgens")
    if (not isinstance(loadgens, list) or not loadgens
            or not all(isinstance(h, str) and SAFE_NAME.match(h) and h not in (".", "..") for h in loadgens)
            or len(set(loadgens)) != len(loadgens)):
        p.append(f"loadgens must be a non-empty list of distinct host names: {loadgens!r}")
        loadgens = []
    command = plan.get("mode_command")
    if isinstance(command, str):
        plan["mode_command"] = shlex.split(command)
    if not (isinstance(plan.get("mode_command"), list) and plan["mode_command"]
            and all(isinstance(a, str) for a in plan["mode_command"])):
        p.append("mode_command must be a command")
    plan["switch_timeout"] = _number(plan.get("switch_timeout", 60), "switch_timeout", p)
    plan["monitor_max_blocking"] = _number(plan.get("monitor_max_blocking", 0.1), "monitor_max_blocking", p)
    plan["warmup_requests"] = _int(plan.get("warmup_requests", 50), "warmup_requests", p)
    plan["lost_after"] = _number(plan.get("lost_after", LOST_AFTER_S), "lost_after", p)
    if plan["lost_after"] <= 0:
        p.append(f"lost_after must be positive: {plan['lost_after']}")
    upstream = plan.get("upstream")
    if upstream in (None, "", {}):
        plan["upstream"] = None
    elif (not isinstance(upstream, dict) or not isinstance(upstream.get("host"), str)
          or not SAFE_NAME.match(upstream["host"]) or upstream["host"] in (".", "..")
          or not isinstance(upstream.get("unit"), str) or not upstream["unit"]):
        p.append(f"upstream must be null or hold a host name and a unit: {upstream!r}")
    runs = plan.get("runs")
    if not isinstance(runs, list):
        p.append("runs must be a list")
        runs = []
    names = set()
    for i, run in enumerate(runs):
        where = f"runs[{i}]"
        if not isinstance(run, dict):
            p.append(f"{where} is not an object")
            continue
        name = run.get("name")
        if not isinstance(name, str) or not SAFE_NAME.match(name) or name in (".", ".."):
            p.append(f"{where}.name is not a folder name: {name!r}")
        elif name in names:
            p.append(f"{where}.name {name!r} comes twice")
        names.add(name)
        for key in ("mode", "profile", "url", "unit"):
            if not isinstance(run.get(key), str) or not run[key]:
                p.append(f"{where}.{key} is missing")
        client = clients.get(run.get("client"))
        if client is None:
            p.append(f"{where}.client must be one of {', '.join(clients.names())}: {run.get('client')!r}")
        n, c = (_int(run.get(k), f"{where}.{k}", p, 1) for k in ("n", "c"))
        if client is not None and client.by_rate:
            for key in ("rate", "duration"):
                if not _number(run.get(key), f"{where}.{key}", p) > 0:
                    p.append(f"{where}.{key} must be above 0: {run.get(key)!r}")
        for key in ("time_limit", "timeout"):
            _int(run.get(key), f"{where}.{key}", p, 1)
        spec = run.get("search")
        if spec is not None and not (isinstance(spec, dict) and isinstance(spec.get("group"), str)
                                     and all(_number(spec.get(k), f"{where}.search.{k}", p) > 0 for k in SEARCH_KEYS)):
            p.append(f"{where}.search must hold a group and {', '.join(SEARCH_KEYS)} above 0: {spec!r}")
        parts = run.get("parts")
        if not isinstance(parts, list) or len(parts) != len(loadgens) or not all(isinstance(x, dict) for x in parts):
            p.append(f"{where}.parts must hold one part per load host ({len(loadgens)})")
            continue
        hosts = [part.get("host") for part in parts]
        if hosts != loadgens:
            p.append(f"{where}.parts are for {hosts}, not for the loadgens {loadgens}")
        pn = [_int(part.get("n"), f"{where}.parts[{k}].n", p, 1) for k, part in enumerate(parts)]
        pc = [_int(part.get("c"), f"{where}.parts[{k}].c", p, 1) for k, part in enumerate(parts)]
        if sum(pn) != n or sum(pc) != c:
            p.append(f"{where}.parts add up to n={sum(pn)} c={sum(pc)}, not the run's n={n} c={c}")
        if client is not None and client.by_rate:
            for k, part in enumerate(parts):
                if not _number(part.get("rate"), f"{where}.parts[{k}].rate", p) > 0:
                    p.append(f"{where}.parts[{k}].rate must be above 0: {part.get('rate')!r}")
    if p:
        raise PlanError("; ".join(p))
    return plan


# ---------------------------------------------------------------- signals, children, bounds

class Guard:
    """Stop signals, the deadline and the children to stop with the runner.

    A signal only notes its name; every wait goes in POLL_S steps through
    check(), which raises Stop, so a stop is never half-way through a write.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.reason: str | None = None
        self.children: list[subprocess.Popen] = []

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.reason is None:
            self.reason = signal.Signals(signum).name

    def check(self) -> None:
        if self.reason is None and time.time() >= self.deadline:
            self.reason = "deadline"
        if self.reason is not None:
            raise Stop(self.reason)

    def sleep(self, duration: float) -> None:
        end = time.monotonic() + duration
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_S, left))

    def spawn(self, argv: list, **kwargs: object) -> subprocess.Popen:
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, **kwargs)
        self.children.append(proc)
        return proc

    def wait(self, proc: subprocess.Popen, timeout: float) -> int | None:
        """The child's exit status, or None when it outlives timeout (it still runs)."""
        end = time.monotonic() + timeout
        while proc.poll() is None:
            self.check()
            if time.monotonic() >= end:
                return None
            time.sleep(POLL_S)
        return proc.returncode

    def end(self, proc: subprocess.Popen, grace: float = CHILD_STOP_S) -> int:
        """SIGTERM, then SIGKILL after grace; the exit status."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
        rc = proc.wait()
        self.forget(proc)
        return rc

    def forget(self, proc: subprocess.Popen) -> None:
        if proc in self.children:
            self.children.remove(proc)

    def stop_children(self) -> None:
        live = [proc for proc in self.children if proc.poll() is None]
        for proc in live:
            proc.terminate()
        end = time.monotonic() + CHILD_STOP_S
        for proc in live:
            try:
                proc.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.children.clear()


class Result:
    """What a bounded command did: rc (None: it outlived its cap and was killed), its output."""

    def __init__(self, rc: int | None, out: str = "", err: str = "", oserror: str | None = None) -> None:
        self.rc, self.out, self.err, self.oserror = rc, out, err, oserror


def run_bounded(guard: Guard, argv: list, cap: float) -> Result:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = guard.spawn(argv, stdout=out, stderr=err)
        except OSError as exc:
            return Result(None, oserror=f"cannot run {argv[0]}: {exc}")
        rc = guard.wait(proc, cap)
        if rc is None:
            guard.end(proc, 1.0)
        guard.forget(proc)
        out.seek(0)
        err.seek(0)
        return Result(rc, out.read().decode(errors="replace"), err.read().decode(errors="replace"))


# ---------------------------------------------------------------- the app runner

class Control:
    """The state the app runner owns and the endpoint serves."""

    def __init__(self, plan: dict) -> None:
        self.hosts = list(plan["loadgens"])
        self.spread = START_SPREAD_S if len(self.hosts) > 1 else 0.0
        self.cond = threading.Condition()
        self.index = 0
        self.phase = "switching"
        self.error: str | None = None
        self.go_at = 0.0
        self.warm: set[str] = set()
        self.done: dict[str, dict] = {}
        #: a knee search's step (rate=auto): its rate, n, c, parts, repetition, published in /state
        self.step: dict | None = None
        self.runs = len(plan["runs"])
        # the load hosts that need nothing more: the last run's result posted, or the end seen
        self.through: set[str] = set()
        # who else follows the runs and must see the end: the slow API's runner on its own host
        self.watchers = [h for h in [upstream_runner_host(plan)] if h is not None and h not in self.hosts]

    def state(self) -> dict:
        with self.cond:
            start_in = None
            if self.phase == "go":
                start_in = round(max(0.0, self.go_at + self.spread - time.monotonic()), 3) if self.spread else 0
            state = {"index": self.index, "phase": self.phase, "start_in": start_in, "error": self.error}
            return state if self.step is None else {**state, "step": self.step}

    def seen(self, host: str | None, state: dict) -> None:
        """After `state` was SENT to `host`: when it ends the host's plan, the host needs nothing more.

        Marked only once the answer is written: the app runner exits when every host is through, and an
        answer still unsent then is lost, leaving its host to retry a closed port until --lost-after."""
        last = state["phase"] == "finished" or (state["phase"] == "skipped" and state["index"] == self.runs - 1)
        if last:
            self.mark_through(host)

    def mark_through(self, host: str | None) -> None:
        if host in self.hosts or host in self.watchers:
            with self.cond:
                self.through.add(host)
                self.cond.notify_all()

    def begin(self, index: int, step: dict | None = None) -> None:
        with self.cond:
            self.index, self.phase, self.error, self.step = index, "switching", None, step
            self.warm, self.done = set(), {}
            self.sampling: set[str] = set()
            self.cond.notify_all()

    def set_phase(self, phase: str, error: str | None = None) -> None:
        with self.cond:
            self.phase, self.error = phase, error
            if phase == "go":
                self.go_at = time.monotonic()
            self.cond.notify_all()

    def finish(self, runs: int) -> None:
        with self.cond:
            self.index, self.phase, self.error = runs, "finished", None
            self.cond.notify_all()

    def post(self, kind: str, body: object) -> tuple[int, dict]:
        if kind == "sampling":
            return self.post_sampling(body)
        if not isinstance(body, dict):
            return 400, {"error": "the body must be a JSON object"}
        index, host = body.get("index"), body.get("host")
        if not isinstance(index, int) or isinstance(index, bool) or host not in self.hosts:
            return 400, {"error": "index must be an integer and host one of the loadgens"}
        want = "warm" if kind == "warm" else "go"
        with self.cond:
            if index != self.index or self.phase != want:
                return 409, {"error": f"the current run is {self.index} ({self.phase})"}
            if kind == "warm":
                self.warm.add(host)
            else:
                error, summary = body.get("error"), body.get("summary")
                self.done[host] = {"error": None if error is None else str(error),
                                   "summary": summary if isinstance(summary, dict) else None}
            self.cond.notify_all()
        return 200, {"ok": True}

    def post_sampling(self, body: object) -> tuple[int, dict]:
        """POST /sampling {"index", "host"}: the slow API's runner has its sampler's first reading of the run."""
        index = body.get("index") if isinstance(body, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or body.get("host") not in self.watchers:
            return 400, {"error": "index must be an integer and host the slow API's runner's"}
        with self.cond:
            if index != self.index or self.phase not in ("switching", "warm", "go"):
                return 409, {"error": f"the current run is {self.index} ({self.phase})"}
            self.sampling.add(body["host"])
            self.cond.notify_all()
        return 200, {"ok": True}

    def wait_for(self, guard: Guard, attr: str, bound: float) -> list[str]:
        """Wait until every load host is in self.<attr> (warm, done or through), at most bound s; the missing."""
        end = time.monotonic() + bound
        while True:
            with self.cond:
                who = self.watchers if attr == "sampling" else self.hosts + (
                    self.watchers if attr == "through" else [])
                missing = [h for h in who if h not in getattr(self, attr)]
                if not missing or time.monotonic() >= end:
                    return missing
                self.cond.wait(POLL_S)
            guard.check()


def make_server(plan: dict, control: Control) -> ThreadingHTTPServer:
    token = plan["token"].encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "bench-run"

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def _allowed(self) -> bool:
            given = self.headers.get(TOKEN_HEADER, "").encode("utf-8", "replace")
            return hmac.compare_digest(given, token)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._allowed():
                self._send(403, {"error": "forbidden"})
            elif self.path != "/state":
                self._send(404, {"error": "not found"})
            else:
                state = control.state()
                self._send(200, state)
                control.seen(self.headers.get(HOST_HEADER), state)  # after the answer is written

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if not self._allowed():
                self._send(403, {"error": "forbidden"})
                return
            if self.path not in ("/warm", "/done", "/sampling"):
                self._send(404, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY:
                    raise ValueError("too long")
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                self._send(400, {"error": "the body must be JSON, at most 64 KiB"})
                return
            status, answer = control.post(self.path[1:], body)
            self._send(status, answer)
            if status == 200 and self.path == "/done" and body["index"] == control.runs - 1:
                control.mark_through(body["host"])  # its last result taken, and the answer written

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in plan["control"]["address"] else socket.AF_INET

        def server_bind(self) -> None:
            # HTTPServer's own also looks up the address's name (socket.getfqdn),
            # which can hang on a host without reverse DNS: not needed here.
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = self.server_address[:2]

    return Server((plan["control"]["address"], plan["control"]["port"]), Handler)


def mode_argv(plan: dict, run: dict) -> list:
    # --quick-stop: the run before has nothing left to finish (its server's quick shutdown signal)
    argv = plan["mode_command"] + ["set", run["mode"], run["profile"], "--timeout", seconds(plan["switch_timeout"]),
                                   "--quick-stop"]
    if flag(run.get("monitor")):
        argv += ["--monitor", "--monitor-max-blocking", seconds(plan["monitor_max_blocking"])]
    return argv


#: A route's check waits at most this long for its answer (or the run's timeout, when shorter).
ROUTE_CHECK_S = 30.0


def check_routes(run: dict) -> str | None:
    """A user's app's run: each of its routes requested once, after the switch and before any load; None
    when each answers its expected status, else what each answered instead."""
    requests = routes.of_run(run) or []
    timeout = min(float(run.get("timeout") or ROUTE_CHECK_S), ROUTE_CHECK_S)
    wrong = [error for r in requests if (error := routes.probe(run["url"], r, timeout)) is not None]
    return "; ".join(wrong) or None


def switch_error(result: Result, cap: float) -> str | None:
    """None when the switch worked; else why, from the command's last words."""
    if result.oserror:
        return result.oserror
    if result.rc is None:
        return f"no answer within {seconds(cap)} s"
    if result.rc == 0:
        return None
    line = last_line(result.out)
    try:
        said = json.loads(line)
        line = str(said["msg"]) if isinstance(said, dict) and said.get("msg") else line
    except ValueError:
        line = last_line(result.err) or line
    return line or f"exit status {result.rc}"


class AppRunner:
    def __init__(self, args: argparse.Namespace, plan: dict, guard: Guard) -> None:
        self.args, self.plan, self.guard = args, plan, guard
        self.dir = Path(args.plan).resolve().parent
        self.progress = self.dir / "progress.jsonl"
        self.control = Control(plan)
        self.upstream_misses = 0
        #: the knee searches (rate=auto) by group: the steps so far decide the next
        self.searches: dict[str, search.Search] = {}
        #: why the plan stopped before its end: a user's app's route answered other than its expect
        self.halted: str | None = None

    def note(self, line: dict) -> None:
        with open(self.progress, "a") as fh:
            fh.write(json.dumps(line) + "\n")

    def main(self) -> int:
        server = None
        try:
            self.guard.check()
            address = f"{self.plan['control']['address']}:{self.plan['control']['port']}"
            try:
                server = make_server(self.plan, self.control)
            except OSError as exc:
                raise Fatal(f"cannot serve the control endpoint on {address}: {exc}") from None
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
            log(f"serving on {address}, {len(self.plan['runs'])} runs")
            for index, run in enumerate(self.plan["runs"]):
                if self.halted is not None:
                    self.not_run(index, run)
                elif run.get("search"):
                    self.search_step(index, run)
                else:
                    self.run_one(index, run)
            self.control.finish(len(self.plan["runs"]))
            self.note({"finished": True, "runs": len(self.plan["runs"])})
            log("finished")
            try:  # until every load host needs nothing more, at most --linger
                self.control.wait_for(self.guard, "through", self.args.linger)
            except Stop as stop:
                log(f"{stop.reason} after the last run: the plan is done")
            return 0
        except Stop as stop:
            self.guard.stop_children()
            self.note({"interrupted": stop.reason})
            raise
        except BaseException as exc:
            self.guard.stop_children()
            self.note({"interrupted": f"error: {type(exc).__name__}: {exc}"})
            raise
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()

    def run_one(self, index: int, run: dict) -> None:
        guard, plan = self.guard, self.plan
        folder = self.dir / "app" / run["name"]
        folder.mkdir(parents=True, exist_ok=True)
        for stale in ("stop", "server.json", "outcome.json", monitor.MONITOR_FILE):  # a plan dir used before
            (folder / stale).unlink(missing_ok=True)
        self.control.begin(index, {k: run[k] for k in STEP_KEYS} if run.get("search") else None)
        write_json(folder / "run.json", run)
        log(f"run {index} {run['name']}: switching")
        cap = plan["switch_timeout"] + SWITCH_GRACE_S
        error = switch_error(run_bounded(guard, mode_argv(plan, run), cap), cap)
        if error:
            return self.skip(index, run, folder, f"switch: {error}")
        error = check_routes(run)
        if error:  # the app is not answering as described: no load on it, nor on the runs after
            self.halted = f"{error} (run {index + 1}, {run['name']})"
            return self.skip(index, run, folder, f"routes: {error}")
        self.control.set_phase("warm")
        missing = self.control.wait_for(guard, "warm", self.args.warm_wait)
        if missing:
            return self.skip(index, run, folder,
                             f"warm: no warm-up from {', '.join(missing)} within {seconds(self.args.warm_wait)} s")
        limit = int(run["time_limit"]) + int(run["timeout"])
        errors = []
        sampler = None
        upstream = self.start_upstream(folder, limit) if upstream_on_app(plan) else None
        err = tempfile.TemporaryFile()
        try:
            try:
                sampler = guard.spawn([*self.args.sampler, "--unit", run["unit"],
                                       "--out", folder / "server.json", "--stop-file", folder / "stop",
                                       "--ready-file", folder / "sampler.ready",
                                       "--max-seconds", limit + SAMPLER_MAX_GRACE_S],
                                      stdout=subprocess.DEVNULL, stderr=err)
            except OSError as exc:
                errors.append(f"sampler: cannot run benchhost.sample: {exc}")
            else:
                # its first reading must come before the load: it writes --ready-file after it
                ready, until = folder / "sampler.ready", time.monotonic() + SAMPLER_SETTLE_S
                while not ready.exists() and sampler.poll() is None and time.monotonic() < until:
                    guard.sleep(0.02)
            self.wait_upstream(index)
            since = int(time.time())  # the journal's blockages count from here
            self.control.set_phase("go")
            log(f"run {index} {run['name']}: go")
            bound = limit + self.args.done_grace
            missing = self.control.wait_for(guard, "done", bound)
            tail = time.monotonic() + UPSTREAM_TAIL_S
            (folder / "stop").touch()
            if sampler is not None:
                rc = guard.wait(sampler, SAMPLER_WAIT_S)
                if rc is None:
                    guard.end(sampler, 0)
                    errors.append(f"sampler: still running {seconds(SAMPLER_WAIT_S)} s after the stop file, killed")
                elif rc:
                    err.seek(0)
                    errors.append(f"sampler: exit status {rc}: {last_line(err.read().decode(errors='replace'))}")
                guard.forget(sampler)
            (folder / "stop").unlink(missing_ok=True)
            if upstream is not None:
                guard.sleep(max(0.0, tail - time.monotonic()))
                upstream.stop()
        finally:
            err.close()
        blocked = self.count_blocked(run, folder, since) if flag(run.get("monitor")) else None
        with self.control.cond:
            done = dict(self.control.done)
        for host in self.control.hosts:
            if host in missing:
                errors.append(f"loadgen {host}: no result within {seconds(bound)} s of go")
            elif done[host]["error"]:
                errors.append(f"loadgen {host}: {done[host]['error']}")
        self.end_run(index, run, folder, "; ".join(errors) or None, blocked,
                     {h: done[h]["summary"] for h in self.control.hosts if h in done})

    def search_step(self, index: int, run: dict) -> None:
        """A slot of a knee search: the step the steps before call for, or, the search done, nothing (no
        folder; the progress line says what the search found)."""
        spec = run["search"]
        found = self.searches.get(spec["group"])
        if found is None:
            found = self.searches[spec["group"]] = search.Search(
                float(spec["start"]), float(spec["precision"]), float(spec["budget_ms"]), int(spec["steps"]),
                float(spec["max_rate"]))
        rate = found.next_rate()
        if rate is not None:
            return self.run_one(index, {**run, **search.step_run(run, rate, 1 + sum(t.rate == rate for t in found.trials))})
        self.control.begin(index)
        self.control.set_phase("skipped")
        self.note({"index": index, "name": run["name"], "error": None, "parts": {},
                   "search": {"group": spec["group"], "done": found.outcome()}})
        log(f"run {index} {run['name']}: not needed: {found.outcome()}")

    def judge_step(self, run: dict, error: str | None, parts: dict) -> dict:
        """A search step's trial, added to its search: the progress line's "search"."""
        found = self.searches[run["search"]["group"]]
        found.trials.append(search.trial(float(run["rate"]), error, parts))
        return {"group": run["search"]["group"], "step": len(found.trials), "rate": run["rate"],
                "over": found.judged(float(run["rate"]))}

    def wait_upstream(self, index: int) -> None:
        """Hold "go" until the slow API's runner samples the run (at most UPSTREAM_WAIT_S; not at all
        once it missed UPSTREAM_MISSES runs in a row: it is not following)."""
        if not self.control.watchers or self.upstream_misses >= UPSTREAM_MISSES:
            return
        if self.control.wait_for(self.guard, "sampling", UPSTREAM_WAIT_S):
            self.upstream_misses += 1
            log(f"run {index}: the slow API's runner did not start sampling within {seconds(UPSTREAM_WAIT_S)} s"
                + ("; it is no longer waited for" if self.upstream_misses >= UPSTREAM_MISSES else ""))
        else:
            self.upstream_misses = 0

    def start_upstream(self, folder: Path, limit: int) -> UpstreamSampler:
        """The slow API's sampler on this host (upstream.json beside server.json), its first reading taken."""
        for name in UPSTREAM_FILES:
            (folder / name).unlink(missing_ok=True)
        sampler = UpstreamSampler(self.guard, self.args.sampler, self.plan["upstream"]["unit"], folder,
                                  limit + SAMPLER_MAX_GRACE_S)
        sampler.start()
        return sampler

    def not_run(self, index: int, run: dict) -> None:
        """A run after the plan halted: recorded as skipped, with why, and never loaded."""
        folder = self.dir / "app" / run["name"]
        folder.mkdir(parents=True, exist_ok=True)
        self.control.begin(index)
        write_json(folder / "run.json", run)
        self.skip(index, run, folder, f"not run: {self.halted}")

    def skip(self, index: int, run: dict, folder: Path, error: str) -> None:
        self.control.set_phase("skipped", error)
        self.end_run(index, run, folder, error, None, {})

    def end_run(self, index: int, run: dict, folder: Path, error: str | None, blocked: int | None,
                parts: dict) -> None:
        write_json(folder / "outcome.json", {"error": error, "blocked": blocked})
        line = {"index": index, "name": run["name"], "error": error, "parts": parts}
        self.note({**line, "search": self.judge_step(run, error, parts)} if run.get("search") else line)
        log(f"run {index} {run['name']}: " + (f"error: {error}" if error else "done"))

    def count_blocked(self, run: dict, folder: Path, since: int) -> int | None:
        """gevent's monitor reports in the unit's journal since go: their count, and monitor.json
        (benchhost.monitor: the blocks with their stacks, and the app's patch line)."""
        base = [self.args.journalctl, "--unit", run["unit"], "--output", "json", "--output-fields", "MESSAGE",
                "--no-pager"]
        threshold = self.plan["monitor_max_blocking"]
        result = run_bounded(self.guard, [*base, "--since", f"@{since}"], JOURNAL_TIMEOUT_S)
        if result.rc != 0:
            why = f"journalctl failed: {result.oserror or last_line(result.err) or result.rc}"
            log(f"{why}, blocked unknown")
            write_json(folder / monitor.MONITOR_FILE, {"schema": monitor.SCHEMA, "threshold_s": threshold,
                                                      "error": why})
            return None
        found = monitor.findings(monitor.parse_reports(monitor.journal_entries(result.out.splitlines())),
                                 threshold)
        # logged once at the unit's start, before go: the unit's latest (rc 1: none)
        patch = run_bounded(self.guard, [*base, "--grep", f"^{monitor.PATCH_MARK}", "--lines", "1"],
                            JOURNAL_TIMEOUT_S)
        found["patch"] = monitor.patch_state(monitor.journal_entries(patch.out.splitlines())) \
            if patch.rc in (0, 1) else None
        found["error"] = None
        write_json(folder / monitor.MONITOR_FILE, found)
        return found["reports"]


# ---------------------------------------------------------------- the load runner

class Lost(Exception):
    """The control endpoint did not answer for --lost-after seconds (exit 1)."""


class Endpoint:
    """The app runner's control endpoint, as a load runner reaches it."""

    def __init__(self, plan: dict, guard: Guard, lost_after: float, host: str) -> None:
        self.address, self.port = plan["control"]["address"], plan["control"]["port"]
        self.host = host
        self.token = plan["token"]
        self.guard, self.lost_after = guard, lost_after
        self.lost_since: float | None = None

    def _attempt(self, method: str, path: str, body: dict | None) -> tuple[int, dict] | None:
        timeout = min(REQUEST_TIMEOUT_S, max(0.5, self.lost_after))
        conn = http.client.HTTPConnection(self.address, self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={TOKEN_HEADER: self.token, HOST_HEADER: self.host,
                                                           "Content-Type": "application/json"})
            resp = conn.getresponse()
            status, raw = resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            return self._unreachable(str(exc) or type(exc).__name__)
        finally:
            conn.close()
        if status == 403:
            raise Fatal(f"the control endpoint {self.address}:{self.port} refused the plan's token (403)")
        if status >= 500:
            return self._unreachable(f"HTTP {status}")
        self.lost_since = None
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        return status, payload if isinstance(payload, dict) else {}

    def _unreachable(self, why: str) -> None:
        """Note a failed request; Lost once they have failed for lost_after seconds in a row."""
        t = time.monotonic()
        if self.lost_since is None:
            self.lost_since = t
        if t - self.lost_since >= self.lost_after:
            raise Lost(f"the control endpoint {self.address}:{self.port} did not answer for "
                       f"{seconds(self.lost_after)} s: {why}")
        return None

    def call(self, method: str, path: str, body: dict | None = None, once: bool = False) -> tuple[int, dict] | None:
        """The status and JSON answer; retried every POLL_S until it answers (once: None)."""
        while True:
            self.guard.check()
            answer = self._attempt(method, path, body)
            if answer is not None or once:
                return answer
            self.guard.sleep(POLL_S)

    def state(self, once: bool = False) -> dict | None:
        answer = self.call("GET", "/state", once=once)
        if answer is None:
            return None
        status, state = answer
        if status != 200 or not isinstance(state.get("index"), int) or state.get("phase") not in PHASES:
            raise Fatal(f"the control endpoint answered /state with {status}: {state}")
        return state


def over(state: dict, index: int) -> bool:
    """The app runner is done with run `index` (skipped, or past it)."""
    return state["index"] > index or (state["index"] == index and state["phase"] == "skipped") \
        or state["phase"] == "finished"


def warm_url(url: str) -> str:
    """The run's URL with delay=0: the warm-up wakes the mode, it does not wait for the slow API."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "delay" for k, _ in query):
        query = [(k, "0" if k == "delay" else v) for k, v in query]
    else:
        query.append(("delay", "0"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def summarize(folder: Path, client: str, requested: int | None = None) -> dict:
    """The figures a load runner posts with /done: the client's Result (its module reads its files, as
    benchreport does); null where its files lack them."""
    result = clients.get(client).result(folder, requested)
    return {key: getattr(result, key) for key in SUMMARY_KEYS}


class LoadRunner:
    def __init__(self, args: argparse.Namespace, plan: dict, guard: Guard) -> None:
        self.args, self.plan, self.guard = args, plan, guard
        self.host = args.host
        self.k = plan["loadgens"].index(args.host)
        self.dir = Path(args.plan).resolve().parent / "load" / args.host
        #: the last state the endpoint answered
        self.last: dict | None = None
        lost_after = plan["lost_after"] if args.lost_after is None else args.lost_after
        self.endpoint = Endpoint(plan, guard, lost_after, args.host)

    def main(self) -> int:
        self.guard.check()
        log(f"{len(self.plan['runs'])} runs, control endpoint "
            f"{self.plan['control']['address']}:{self.plan['control']['port']}")
        for index, run in enumerate(self.plan["runs"]):
            self.run_one(index, run)
        log("finished")
        return 0

    def wait(self, index: int, ready: tuple) -> dict:
        """The state once run `index` is in one of the phases `ready`, or over."""
        while True:
            # once the plan is finished it stays so: the app runner may be gone (the runs after a halt
            # are over at once)
            finished = self.last is not None and self.last["phase"] == "finished"
            state = self.last = self.last if finished else self.endpoint.state()
            if over(state, index) or (state["index"] == index and state["phase"] in ready):
                return state
            self.guard.sleep(POLL_S)

    def run_one(self, index: int, run: dict) -> None:
        state = self.wait(index, ("warm", "go"))
        if over(state, index):
            log(f"run {index} {run['name']}: over before it reached this host "
                f"(the app runner is at run {state['index']}, {state['phase']})")
            return
        if run.get("search"):  # a knee search's step: the app runner says its rate and each part's share
            run = {**run, **(state.get("step") or {})}
        part = run["parts"][self.k]
        folder = self.dir / run["name"]
        folder.mkdir(parents=True, exist_ok=True)
        own = {"n": int(part["n"]), "c": int(part["c"])}
        point = {"n": int(run["n"]), "c": int(run["c"])}
        client = clients.get(run["client"])
        if client.by_rate:
            own["rate"], point["rate"] = float(part["rate"]), float(run["rate"])
        write_json(folder / "run.json", {
            **run, **own, "part": {"host": self.host, "index": self.k, "of": len(self.plan["loadgens"])},
            "point": point})
        warning = None
        if state["phase"] == "warm":
            if not expects_failure(run):
                warning = self.warm_up(run, part, folder)
            self.endpoint.call("POST", "/warm", {"index": index, "host": self.host})
            state = self.wait(index, ("go",))
            if over(state, index):
                log(f"run {index} {run['name']}: skipped ({state['error']})")
                return
        start_in = state.get("start_in")
        if isinstance(start_in, (int, float)) and start_in > 0:
            self.guard.sleep(min(float(start_in), 10.0))
        load = f"{client.load(part)} n={part['n']}" if client.by_rate else f"n={part['n']} {client.load(part)}"
        log(f"run {index} {run['name']}: {run['client']} {load}")
        error = self.run_client(index, run, folder)
        summary = summarize(folder, run["client"], own["n"])
        summary["warning"] = warning
        answer = self.endpoint.call("POST", "/done", {"index": index, "host": self.host, "error": error,
                                                      "summary": summary})
        if answer[0] != 200:
            log(f"run {index} {run['name']}: the app runner did not take the result: {answer[0]} {answer[1]}")

    def warm_up(self, run: dict, part: dict, folder: Path) -> str | None:
        w = min(self.plan["warmup_requests"], int(part["c"]))
        if w < 1:
            return None
        requests = routes.of_run(run)
        if requests is None:
            argv = [self.args.ab, "-r", "-n", w, "-c", w, "-s", 30, "-q", warm_url(run["url"])]
        else:  # a user's app: its (first) route as the client sends it, the URL as it is (no delay)
            argv = [self.args.ab, "-r", "-n", w, "-c", w, "-s", 30, "-q",
                    *ab.request_args(requests[0], str(folder / "warm.body")), run["url"]]
        result = run_bounded(self.guard, argv, WARMUP_CAP_S)
        if result.oserror:
            return f"warm-up: {result.oserror}"
        if result.rc is None:
            return f"warm-up: ab still running after {seconds(WARMUP_CAP_S)} s, killed"
        if result.rc:
            return f"warm-up: ab exit status {result.rc}: {last_line(result.err) or last_line(result.out)}"
        return None

    def run_client(self, index: int, run: dict, folder: Path) -> str | None:
        """Run the client's wrapper; None, or why the part failed."""
        name = clients.get(run["client"]).module
        argv = [sys.executable, "-m", name, "--dir", folder]
        cap = int(run["time_limit"]) + int(run["timeout"]) + WRAPPER_GRACE_S
        (folder / "loadgen.json").unlink(missing_ok=True)
        with tempfile.TemporaryFile() as err:
            try:
                proc = self.guard.spawn(argv, stdout=subprocess.DEVNULL, stderr=err)
            except OSError as exc:
                return f"cannot run {name}: {exc}"
            end = time.monotonic() + cap
            probe = time.monotonic() + RUNNING_POLL_S
            problem = None
            while proc.poll() is None:
                self.guard.check()
                t = time.monotonic()
                if t >= end:
                    problem = f"{name} still running after {cap} s, killed"
                    break
                if t >= probe:
                    # the app runner is still there (else: --lost-after) and still on this run
                    state = self.endpoint.state(once=True)
                    if state is not None and over(state, index):
                        problem = f"the app runner left run {index} before {name} ended; stopped"
                        break
                    probe = t + RUNNING_POLL_S
                time.sleep(POLL_S)
            rc = self.guard.end(proc)
            if problem:
                return problem
            if rc:
                err.seek(0)
                return f"{name} exit status {rc}: {last_line(err.read().decode(errors='replace'))}"
        record = read_json(folder / "loadgen.json")
        if not isinstance(record, dict):
            return f"{name} wrote no loadgen.json"
        if record.get("interrupted"):
            return f"the client was interrupted ({record['interrupted']})"
        return None


# ---------------------------------------------------------------- the slow API's sampler and runner

def upstream_on_app(plan: dict) -> bool:
    """The plan's slow API runs on the app host: the app runner samples it."""
    return plan.get("upstream") is not None and plan["upstream"]["host"] == plan.get("app_host")


def upstream_runner_host(plan: dict) -> str | None:
    """The host of the plan's upstream runner (the slow API's, when it is not the app host); else None."""
    return plan["upstream"]["host"] if plan.get("upstream") is not None and not upstream_on_app(plan) else None


class UpstreamSampler:
    """benchhost.sample on the slow API's unit: upstream.json in `folder` (server.json's schema).

    Its failures are logged, never a run's error: without upstream.json the report says the slow
    API's CPU was not measured.
    """

    def __init__(self, guard: Guard, sampler: list[str], unit: str, folder: Path, max_seconds: float) -> None:
        self.guard, self.sampler, self.unit, self.folder = guard, sampler, unit, folder
        self.max_seconds = int(max_seconds)
        self.proc: subprocess.Popen | None = None
        self.err = None

    def start(self) -> None:
        """Start it and wait for its first reading (at most SAMPLER_SETTLE_S)."""
        out, stop, ready = (self.folder / name for name in UPSTREAM_FILES)
        self.err = tempfile.TemporaryFile()
        try:
            self.proc = self.guard.spawn([*self.sampler, "--unit", self.unit, "--out", out,
                                          "--stop-file", stop, "--ready-file", ready,
                                          "--max-seconds", self.max_seconds],
                                         stdout=subprocess.DEVNULL, stderr=self.err)
        except OSError as exc:
            log(f"upstream sampler: cannot run benchhost.sample: {exc}")
            self.err.close()
            return
        until = time.monotonic() + SAMPLER_SETTLE_S
        while not ready.exists() and self.proc.poll() is None and time.monotonic() < until:
            self.guard.sleep(0.02)

    def stop(self) -> None:
        """Touch its stop file and wait for upstream.json (killed after SAMPLER_WAIT_S)."""
        if self.proc is None:
            return
        stop = self.folder / UPSTREAM_FILES[1]
        stop.touch()
        try:
            rc = self.guard.wait(self.proc, SAMPLER_WAIT_S)
            if rc is None:
                self.guard.end(self.proc, 0)
                log(f"upstream sampler: still running {seconds(SAMPLER_WAIT_S)} s after the stop file, killed")
            elif rc:
                self.err.seek(0)
                log(f"upstream sampler: exit status {rc}: {last_line(self.err.read().decode(errors='replace'))}")
            self.guard.forget(self.proc)
        finally:
            stop.unlink(missing_ok=True)
            (self.folder / UPSTREAM_FILES[2]).unlink(missing_ok=True)
            self.err.close()
            self.proc = None


class UpstreamRunner:
    """On the slow API's host: samples its unit over each run, following the control endpoint."""

    def __init__(self, args: argparse.Namespace, plan: dict, guard: Guard) -> None:
        self.plan, self.guard, self.sampler = plan, guard, args.sampler
        self.host = args.host
        self.unit = plan["upstream"]["unit"]
        self.dir = Path(args.plan).resolve().parent / "upstream" / args.host
        lost_after = plan["lost_after"] if args.lost_after is None else args.lost_after
        self.endpoint = Endpoint(plan, guard, lost_after, args.host)
        #: the last state seen: once it is past a run, so are the runs before (the app runner may be gone)
        self.seen: dict | None = None

    def state(self) -> dict:
        self.seen = self.endpoint.state()
        return self.seen

    def main(self) -> int:
        self.guard.check()
        log(f"{len(self.plan['runs'])} runs, sampling {self.unit}, control endpoint "
            f"{self.plan['control']['address']}:{self.plan['control']['port']}")
        for index, run in enumerate(self.plan["runs"]):
            self.run_one(index, run)
        log("finished")
        return 0

    def run_one(self, index: int, run: dict) -> None:
        state = self.seen
        while state is None or not (over(state, index) or state["index"] == index):
            if state is not None:
                self.guard.sleep(POLL_S)
            state = self.state()  # until the app runner is on this run (any phase), or past it
        if over(state, index):
            log(f"run {index} {run['name']}: over before this host sampled it "
                f"(the app runner is at run {state['index']}, {state['phase']})")
            return
        folder = self.dir / run["name"]
        folder.mkdir(parents=True, exist_ok=True)
        for name in UPSTREAM_FILES:
            (folder / name).unlink(missing_ok=True)
        cap = (float(self.plan["switch_timeout"]) + SWITCH_GRACE_S + WARM_WAIT_S + int(run["time_limit"])
               + int(run["timeout"]) + DONE_GRACE_S + SAMPLER_MAX_GRACE_S)
        sampler = UpstreamSampler(self.guard, self.sampler, self.unit, folder, cap)
        sampler.start()
        log(f"run {index} {run['name']}: sampling {self.unit}")
        answer = self.endpoint.call("POST", "/sampling", {"index": index, "host": self.host})
        if answer[0] != 200:
            log(f"run {index} {run['name']}: the app runner answered /sampling with {answer[0]} {answer[1]}")
        while not over(self.state(), index):  # this host is measured: a look every second
            self.guard.sleep(RUNNING_POLL_S)
        self.guard.sleep(UPSTREAM_TAIL_S)
        sampler.stop()
        log(f"run {index} {run['name']}: done")


# ---------------------------------------------------------------- main

def main() -> int:
    global ROLE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role", required=True)
    app = sub.add_parser("app", help="on the app host: switch, sample, serve the control endpoint")
    load = sub.add_parser("load", help="on a load host: warm up and run the client")
    upstream = sub.add_parser("upstream", help="on the slow API's host: sample its unit over each run")
    for p in (app, load, upstream):
        p.add_argument("--plan", required=True, help="<plan dir>/plan.json")
    app.add_argument("--warm-wait", type=float, default=WARM_WAIT_S, metavar="S",
                     help=f"wait this long for every load host's warm-up, else skip the run ({WARM_WAIT_S:g})")
    app.add_argument("--done-grace", type=float, default=DONE_GRACE_S, metavar="S",
                     help=f"wait for the parts' results time_limit + timeout + S after go ({DONE_GRACE_S:g})")
    app.add_argument("--linger", type=float, default=LINGER_S, metavar="S",
                     help=f"keep answering /state at most this long after the last run, until each load host "
                          f"has seen the end ({LINGER_S:g})")
    app.add_argument("--journalctl", default="journalctl", help="the journalctl binary (tests)")
    for p in (app, upstream):
        p.add_argument("--sampler", type=shlex.split, default=SAMPLER, metavar="ARGV",
                       help="the sampler's command (tests); default: this Python -m benchhost.sample")
    load.add_argument("--host", required=True, help="this load host's name in the plan's loadgens")
    load.add_argument("--lost-after", type=float, metavar="S",
                      help="exit 1 when the control endpoint does not answer for S in a row "
                           f"(default: the plan's lost_after, else {LOST_AFTER_S:g})")
    load.add_argument("--ab", default="ab", help="the ab binary of the warm-up (tests)")
    upstream.add_argument("--host", required=True, help="this host's name: the plan's upstream.host")
    upstream.add_argument("--lost-after", type=float, metavar="S",
                          help="exit 1 when the control endpoint does not answer for S in a row "
                               f"(default: the plan's lost_after, else {LOST_AFTER_S:g})")
    args = parser.parse_args()
    ROLE = args.role if args.role == "app" else f"{args.role} {args.host}"
    for option in ("warm_wait", "done_grace", "linger", "lost_after"):
        if (getattr(args, option, 0) or 0) < 0:
            parser.error(f"--{option.replace('_', '-')} must not be negative")
    try:
        plan = load_plan(Path(args.plan))
    except PlanError as exc:
        print(f"benchhost.run: {args.plan}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.role == "load" and args.host not in plan["loadgens"]:
        print(f"benchhost.run: {args.plan}: --host {args.host} is not in loadgens {plan['loadgens']}", file=sys.stderr)
        return EXIT_USAGE
    if args.role == "upstream" and upstream_runner_host(plan) != args.host:
        print(f"benchhost.run: {args.plan}: --host {args.host} is not the plan's slow API host on its own "
              f"(upstream: {plan['upstream']}, app_host: {plan.get('app_host')})", file=sys.stderr)
        return EXIT_USAGE
    guard = Guard(plan["deadline"])
    guard.install()
    runner = (AppRunner(args, plan, guard) if args.role == "app" else LoadRunner(args, plan, guard)
              if args.role == "load" else UpstreamRunner(args, plan, guard))
    try:
        return runner.main()
    except Stop as stop:
        guard.stop_children()
        log(f"stopped: {stop.reason}")
        if stop.reason == "deadline":
            return EXIT_DEADLINE
        return 128 + signal.Signals[stop.reason].value
    except (Fatal, Lost) as exc:
        guard.stop_children()
        log(str(exc))
        return EXIT_FATAL
    except BaseException:
        guard.stop_children()
        raise


if __name__ == "__main__":
    sys.exit(main())
