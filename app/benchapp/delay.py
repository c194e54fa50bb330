"""Validation of the `delay` query parameter, shared by the app and the slow API."""

from __future__ import annotations

import math
import re

DEFAULT_DELAY = 1.0
# Plain decimal numbers only: no hex, no underscores, no "nan"/"inf" spellings.
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


class DelayError(ValueError):
    """A delay outside what the service accepts; str() is the client-facing text."""


def parse_delay(raw: str | None, max_delay: float) -> float:
    """Seconds to wait: 1 when absent, else a finite number from 0 to max_delay."""
    if raw is None:
        return DEFAULT_DELAY
    text = raw.strip()
    allowed = f"delay must be a number of seconds from 0 to {max_delay:g}"
    if not _NUMBER.match(text):
        raise DelayError(f"{allowed}, got {raw!r}")
    value = float(text)
    if not math.isfinite(value) or value < 0 or value > max_delay:
        raise DelayError(f"{allowed}, got {raw!r}")
    return value + 0.0  # folds -0.0 into 0.0


def error_body(err: DelayError, max_delay: float) -> dict[str, object]:
    """The JSON body of a 400 for a bad delay."""
    return {"error": "bad delay", "detail": str(err), "allowed": {"min": 0, "max": max_delay}}
