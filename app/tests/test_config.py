"""benchapp.config: the settings from the environment, refused when unsafe."""

from __future__ import annotations

import pytest

from benchapp.config import Config, ConfigError


def test_upstream_timeout_must_exceed_the_maximum_delay():
    with pytest.raises(ConfigError, match="must exceed"):
        Config.from_env({"BENCHAPP_MAX_DELAY": "30", "BENCHAPP_UPSTREAM_TIMEOUT": "30"})
    with pytest.raises(ConfigError, match="BENCHAPP_MAX_DELAY"):
        Config.from_env({"BENCHAPP_MAX_DELAY": "-1"})
    assert Config.from_env({}).upstream_timeout > Config.from_env({}).max_delay


def test_grpc_target_comes_from_the_environment():
    assert Config.from_env({}).upstream_grpc == "127.0.0.1:8001"
    assert Config.from_env({"BENCHAPP_UPSTREAM_GRPC": "10.0.0.2:9001"}).upstream_grpc == "10.0.0.2:9001"
