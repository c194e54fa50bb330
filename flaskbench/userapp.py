"""A user's app on the hosts: which modes serve it, and what site.yml records of it.

`site.yml -e app=DIR` deploys the app of DIR/flaskbench-app.yml (flaskbench.appspec)
and writes `record()` to the app host's /etc/flaskbench/app.json; `flaskbench-mode get`
shows it as "app", and `bench.yml -e app=DIR` checks it names the same description
(`spec_digest`) before any host changes. The modes come from the mode table:
benchapp.modes.Mode.for_user_app says which serve a user's app, and why the others
cannot.
"""

from __future__ import annotations

import hashlib
from typing import Any

from benchapp import modes as table
from flaskbench.appspec import AppSpec


def modes_for(spec: AppSpec, modes: dict[str, table.Mode] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(served, skipped): mode -> the entry that imports the app; mode -> why it cannot serve it."""
    served: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name, mode in (table.load_modes() if modes is None else modes).items():
        entry, why = mode.for_user_app(asgi=spec.asgi is not None)
        if entry is None:
            skipped[name] = str(why)
        else:
            served[name] = entry
    return served, skipped


def spec_digest(spec: AppSpec) -> str:
    """What the bench checks against the deployed app: the description and requirements files' bytes."""
    digest = hashlib.sha256()
    for path in (spec.file, spec.requirements):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def route_dict(route: Any) -> dict[str, Any]:
    return {"name": route.name, "path": route.path, "method": route.method, "headers": dict(route.headers),
            "body": route.body, "expect": route.expect, "weight": route.weight}


def record(spec: AppSpec, modes: dict[str, table.Mode] | None = None) -> dict[str, Any]:
    """The deployed app as the app host keeps it (/etc/flaskbench/app.json)."""
    served, skipped = modes_for(spec, modes)
    return {
        "name": spec.name,
        "spec_sha": spec_digest(spec),
        "wsgi": str(spec.wsgi),
        "asgi": str(spec.asgi) if spec.asgi else None,
        "health": spec.health,
        "budget_ms": spec.budget_ms,
        "routes": [route_dict(r) for r in spec.routes],
        "modes": served,
        "skipped": skipped,
    }
