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
import re
from pathlib import Path
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


def deployment(app_dir: str) -> dict[str, Any]:
    """What site.yml needs of the app in `app_dir`: the record, plus where its files are and its env."""
    from flaskbench import appspec

    spec = appspec.load(Path(app_dir).expanduser())
    directory = spec.directory.resolve()
    return {**record(spec), "directory": str(directory),
            "requirements": str(spec.requirements.relative_to(directory)), "env": dict(spec.env)}


def fill_env(env: dict[str, str], fill: dict[str, str]) -> dict[str, str]:
    """The app's env with its ${placeholders} (appspec.PLACEHOLDERS) filled from `fill`."""
    from flaskbench import appspec

    def filled(name: str, match: re.Match[str]) -> str:
        if match[1] not in fill:
            raise ValueError(f"env {name}: ${{{match[1]}}} has no value to fill")
        return fill[match[1]]

    return {name: appspec.PLACEHOLDER.sub(lambda m, n=name: filled(n, m), value) for name, value in env.items()}
