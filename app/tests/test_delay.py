"""benchapp.delay: the delay parameter's validation, shared by both apps and the slow API."""

from __future__ import annotations

import pytest

from benchapp.delay import DEFAULT_DELAY, DelayError, error_body, parse_delay
from conftest import BAD_DELAYS


def test_delay_parsing():
    assert parse_delay(None, 30) == DEFAULT_DELAY == 1.0
    assert parse_delay(" 2.5 ", 30) == 2.5
    assert parse_delay("30", 30) == 30.0
    assert parse_delay("1e1", 30) == 10.0
    assert str(parse_delay("-0", 30)) == "0.0"
    for raw in BAD_DELAYS:
        with pytest.raises(DelayError):
            parse_delay(raw, 30)


def test_the_400s_body_names_what_is_allowed():
    with pytest.raises(DelayError) as err:
        parse_delay("31", 30)
    assert error_body(err.value, 30.0) == {
        "error": "bad delay", "detail": "delay must be a number of seconds from 0 to 30, got '31'",
        "allowed": {"min": 0, "max": 30.0}}
