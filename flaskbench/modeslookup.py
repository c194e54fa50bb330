"""The lookup flaskbench_modes (plugins/lookup/flaskbench_modes.py loads it from here): the serving
modes of app/benchapp/modes.yml, as benchapp.modes resolves them.

Every role, playbook and check reads the mode table through this lookup, so
the table is parsed and validated one way (benchapp.modes, which the app and
benchreport use too) and a bad entry fails with the mode's name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from benchapp import modes as table


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
