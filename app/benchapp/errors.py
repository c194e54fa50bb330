"""The app's failure contract, shared by the Flask app and the Quart app.

Which failure is which status, and its JSON body, in one place: a bad delay
is a 400 naming what is allowed, the slow API refusing or answering an error
a 502, slower than the upstream timeout a 504, the database unreachable a
503. The exceptions are plain classes (no driver or client imported here),
raised by the sync clients (benchapp.upstream, benchapp.db) and the asyncio
ones (benchapp.async_views, benchapp.aiodb) alike; each app registers
`error_response` for every class in CONTRACT_ERRORS.
"""

from __future__ import annotations

from typing import Any

from benchapp.config import Config
from benchapp.delay import DelayError, error_body


class UpstreamDown(Exception):
    """The slow API refused or could not be reached: a 502."""


class UpstreamTimeout(Exception):
    """The slow API took longer than the upstream timeout: a 504."""


class UpstreamBadAnswer(Exception):
    """The slow API answered with an error status: a 502."""


class DatabaseUnavailable(Exception):
    """No working connection could be had in time: a 503."""


#: The 503's detail when BENCHAPP_DATABASE_DSN is empty (both pools say it alike).
NO_DATABASE = "no database configured (BENCHAPP_DATABASE_DSN is empty)"

#: Every exception `error_response` maps, for the apps' error handlers.
CONTRACT_ERRORS: tuple[type[Exception], ...] = (
    DelayError, UpstreamDown, UpstreamBadAnswer, UpstreamTimeout, DatabaseUnavailable)


def error_response(err: BaseException, cfg: Config) -> tuple[dict[str, Any], int]:
    """The JSON body and status of a failure of the contract."""
    if isinstance(err, DelayError):
        return error_body(err, cfg.max_delay), 400
    if isinstance(err, (UpstreamDown, UpstreamBadAnswer)):
        return {"error": "slow API unavailable", "detail": str(err)}, 502
    if isinstance(err, UpstreamTimeout):
        return {"error": "slow API timed out", "detail": f"no answer within {cfg.upstream_timeout:g} s"}, 504
    if isinstance(err, DatabaseUnavailable):
        return {"error": "database unavailable", "detail": str(err)}, 503
    raise TypeError(f"not a failure of the contract: {err!r}")
