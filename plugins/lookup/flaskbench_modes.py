"""flaskbench_modes: the serving modes of the mode table (app/benchapp/modes.yml).

The lookup lives in the flaskbench package (flaskbench/modeslookup.py), which
`make venv` installs into .venv with the app's benchapp; this file is
Ansible's door to it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: flaskbench_modes
author: flaskbench
short_description: the serving modes of the mode table, resolved by benchapp.modes
description:
  - Without terms, returns the whole table, a mapping of mode name to mode (in the table's order).
  - With terms, returns those modes, in order; an unknown name fails, naming the valid modes.
  - Each mode has the table's fields (title, server, entry, patch, front, protocol, port,
    backend_port, route, bench, concurrency, expect, loop, seed_rps, profiles) and derived
    ones (unit, listen_port, listen_host, gevent, database).
  - With O(cores), C(options) holds each profile's options with "cores" and "N*cores"
    resolved, and C(max_workers) the most processes any profile runs.
options:
  _terms:
    description: Mode names (optional).
    required: false
  cores:
    description: The CPUs of the host the modes run on.
    type: int
  file:
    description: >-
      The mode table; by default benchapp.modes.MODES_FILE (the environment's
      FLASKBENCH_MODES_FILE, else the repository's app/benchapp/modes.yml).
    type: str
"""

EXAMPLES = r"""
- name: Every mode's unit
  ansible.builtin.debug:
    msg: "{{ lookup('flaskbench_modes') | dict2items | map(attribute='value.unit') }}"
- name: One mode's port (fails naming the valid modes when unknown)
  ansible.builtin.debug:
    msg: "{{ lookup('flaskbench_modes', 'nginx-uwsgi').port }}"
"""

RETURN = r"""
_raw:
  description: The table (no terms) or the modes named.
  type: list
"""

try:
    from flaskbench.modeslookup import LookupModule  # noqa: F401  (Ansible looks it up here)
except ImportError as err:  # an ansible-playbook outside the project's .venv
    raise ImportError(f"flaskbench_modes: {err}: run ansible-playbook from the project's .venv (make venv)") from err
