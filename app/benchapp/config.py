"""Settings from the environment (systemd EnvironmentFile), checked at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass


#: How the app calls the slow API (BENCHAPP_UPSTREAM, the mode table's `upstream`):
#: "new" a connection per request (the seed's), "pooled" a keep-alive pool,
#: "gevent" geventhttpclient's pool (needs gevent's patching). benchapp.upstream.CLIENTS
#: has a client for each.
UPSTREAMS = ("new", "pooled", "gevent")


class ConfigError(ValueError):
    """A setting that would make the service misbehave; refuse to start."""


def _number(env: dict[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(key, "")
    if raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a number") from None
    if not value >= minimum or value == float("inf"):
        raise ConfigError(f"{key}={raw!r} must be a finite number >= {minimum:g}")
    return value


@dataclass(frozen=True)
class Config:
    """Everything the app reads from its environment."""

    mode: str
    profile: str
    server: str
    upstream_url: str
    upstream_grpc: str  # host:port of the slow API's gRPC service (the /grpc route)
    grpc_channels: int  # channels per process, each its own HTTP/2 connection
    upstream: str  # "new": a connection per request (the seed); "pooled": keep-alive pool; "gevent": geventhttpclient
    upstream_timeout: float
    upstream_connect_timeout: float
    max_delay: float
    database_dsn: str
    db_pool_size: int
    db_connect_timeout: int
    http_pool_size: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Config":
        """Read BENCHAPP_* variables; raise ConfigError on unsafe combinations."""
        env = dict(os.environ if env is None else env)
        max_delay = _number(env, "BENCHAPP_MAX_DELAY", 30.0)
        # The upstream must be allowed longer than the longest valid delay, or a
        # valid request would time out in the app before the slow API answers.
        upstream_timeout = _number(env, "BENCHAPP_UPSTREAM_TIMEOUT", max_delay + 5.0)
        if upstream_timeout <= max_delay:
            raise ConfigError(
                f"BENCHAPP_UPSTREAM_TIMEOUT ({upstream_timeout:g}) must exceed "
                f"BENCHAPP_MAX_DELAY ({max_delay:g})"
            )
        upstream = env.get("BENCHAPP_UPSTREAM", "pooled")
        if upstream not in UPSTREAMS:
            raise ConfigError(f"BENCHAPP_UPSTREAM={upstream!r}, expected {', '.join(UPSTREAMS)}")
        pool = int(_number(env, "BENCHAPP_DB_POOL_SIZE", 10, minimum=1))
        return cls(
            mode=env.get("BENCHAPP_MODE", "unknown"),
            profile=env.get("BENCHAPP_PROFILE", "tuned"),
            server=env.get("BENCHAPP_SERVER", "unknown"),
            upstream_url=env.get("BENCHAPP_UPSTREAM_URL", "http://127.0.0.1:8000/"),
            upstream_grpc=env.get("BENCHAPP_UPSTREAM_GRPC", "127.0.0.1:8001"),
            grpc_channels=int(_number(env, "BENCHAPP_GRPC_CHANNELS", 1, minimum=1)),
            upstream=upstream,
            upstream_timeout=upstream_timeout,
            upstream_connect_timeout=_number(env, "BENCHAPP_UPSTREAM_CONNECT_TIMEOUT", 1.0),
            max_delay=max_delay,
            database_dsn=env.get("BENCHAPP_DATABASE_DSN", ""),
            db_pool_size=pool,
            db_connect_timeout=max(2, int(_number(env, "BENCHAPP_DB_CONNECT_TIMEOUT", 2))),
            http_pool_size=int(_number(env, "BENCHAPP_HTTP_POOL_SIZE", 1000, minimum=1)),
        )
