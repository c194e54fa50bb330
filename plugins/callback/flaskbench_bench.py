"""flaskbench_bench: a bench's progress lines and its clean-up when interrupted.

The callback lives in the flaskbench package (flaskbench/benchcallback.py),
which `make venv` installs into .venv; this file is Ansible's door to it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: flaskbench_bench
type: aggregate
short_description: a bench's progress lines, and its clean-up when interrupted
description:
  - One line per finished bench run (req/s, % of ideal, p99, failures, time left).
  - The report after a bench, as plain lines (benchreport's output).
  - On SIGINT, SIGTERM or SIGHUP during a bench, runs playbooks/bench_stop.yml before ansible-playbook exits.
requirements:
  - enabled in ansible.cfg (callbacks_enabled)
"""

try:
    from flaskbench.benchcallback import CallbackModule  # noqa: F401  (Ansible looks it up here)
except ImportError as err:  # an ansible-playbook outside the project's .venv
    raise ImportError(f"flaskbench_bench: {err}: run ansible-playbook from the project's .venv (make venv)") from err
