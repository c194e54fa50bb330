"""The filter flaskbench_plan: the bench's run plan, by flaskbench.plan (roles/bench/tasks/main.yml).

The planning lives in flaskbench/plan.py, plain Python the tests import; this
is only its door into Jinja. A refused parameter comes back as `error` (the
role fails with it, as the message a user reads), not as an exception, which
Ansible would bury in its own template error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from ansible.errors import AnsibleFilterError

# flaskbench/ sits at the repository root, which ansible-playbook does not put
# on sys.path (until the project is one installable package).
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flaskbench import plan as planner  # noqa: E402  (after the path above)


def flaskbench_plan(modes: Mapping[str, Any], params: Mapping[str, Any], settings: Mapping[str, Any],
                    loadgens: Sequence[str], apps: Sequence[str]) -> dict[str, Any]:
    """modes | flaskbench_plan(params, settings, loadgens, apps): {error, runs, seed, estimate_s, lines}.

    params: bench.yml's parameters (flaskbench.plan.Params' fields); settings: the role's bench_<field>
    (flaskbench.plan.Settings'); loadgens and apps: the inventory's groups. error is None, or the
    refusal (the rest then empty).
    """
    try:
        p, s = planner.Params(**params), planner.Settings(**settings)
    except TypeError as err:  # the role's call and the module disagree: a bug, not a user's mistake
        raise AnsibleFilterError(f"flaskbench_plan: {err}") from err
    try:
        made = planner.plan(p, s, modes, list(loadgens), list(apps))
    except planner.PlanError as err:
        return {"error": str(err), "runs": [], "seed": None, "estimate_s": None, "lines": []}
    return {"error": None, "runs": made.runs, "seed": made.seed, "estimate_s": made.estimate_s,
            "lines": made.lines()}


class FilterModule:
    """flaskbench_plan."""

    def filters(self) -> dict[str, Any]:
        return {"flaskbench_plan": flaskbench_plan}
