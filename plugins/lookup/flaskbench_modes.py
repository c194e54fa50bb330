"""The serving modes of app/benchapp/modes.yml, as benchapp.modes resolves them.

Every role, playbook and check reads the mode table through this lookup, so
the table is parsed and validated one way (benchapp.modes, which the app and
benchreport use too) and a bad entry fails with the mode's name.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

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

APP_DIR = Path(__file__).resolve().parents[2] / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from benchapp import modes as table  # noqa: E402  (after the path above)


def mode_dict(mode: table.Mode, cores: int | None = None) -> dict[str, Any]:
    """One mode as plain data for Jinja, with what the roles derive from it."""
    data = dataclasses.asdict(mode)
    data.pop("extra", None)
    data.update(
        unit=mode.unit,
        listen_port=mode.listen_port,
        listen_host=mode.listen_host,
        gevent=mode.gevent,
        database=mode.database,
    )
    if cores is not None:
        options = {p: mode.options(p, cores) for p in table.PROFILES}
        data["options"] = options
        data["max_workers"] = max(int(o.get("workers", 1)) for o in options.values())
    return data


# Roles reference the table through variables Ansible templates lazily, so
# the lookup runs many times a task (about 16 ms a parse); the checked table
# is kept per file while the file is unchanged.
_LOADED: dict[tuple[str, int, int], dict[str, table.Mode]] = {}


def load(path: str | Path) -> dict[str, table.Mode]:
    """benchapp.modes.load_modes(path), parsed once while the file's size and mtime stay the same."""
    st = Path(path).stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = table.load_modes(path)
    return _LOADED[key]


class LookupModule(LookupBase):
    """lookup('flaskbench_modes'[, name...][, cores=N][, file=PATH])"""

    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        unknown = set(kwargs) - {"cores", "file"}
        if unknown:
            raise AnsibleLookupError(f"flaskbench_modes: unknown option(s) {', '.join(sorted(unknown))}; valid: cores, file")
        path = kwargs.get("file") or table.MODES_FILE
        cores = None if kwargs.get("cores") is None else int(kwargs["cores"])
        try:
            modes = load(path)
            if not terms:
                return [{name: mode_dict(m, cores) for name, m in modes.items()}]
            return [mode_dict(table.get_mode(str(name), modes), cores) for name in terms]
        except (OSError, ValueError) as err:
            raise AnsibleLookupError(f"mode table {path}: {err}") from err
