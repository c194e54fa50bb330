"""The project's Jinja filters (flaskbench.filters.FILTERS: how hosts reach each other, the open-files cap, the bench's plan, a user's app).

They live in the flaskbench package (flaskbench/filters.py), which `make venv`
installs into .venv; this file is Ansible's door to them.
"""

from __future__ import annotations

from typing import Any

try:
    from flaskbench.filters import FILTERS
except ImportError as err:  # an ansible-playbook outside the project's .venv
    raise ImportError(f"flaskbench filters: {err}: run ansible-playbook from the project's .venv (make venv)") from err


class FilterModule:
    """flaskbench filters."""

    def filters(self) -> dict[str, Any]:
        return dict(FILTERS)
