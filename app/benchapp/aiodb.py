"""The Quart app's PostgreSQL pool: asyncpg, with benchapp.db.Pool's behaviour.

The Flask app's pool (benchapp.db) waits for a free connection instead of
failing, makes connections on demand (none at start: a database that is down
at start-up does not stop the app from serving `/`), keeps them without an
idle expiry, runs in autocommit with a statement timeout, names itself
`benchapp` in pg_stat_activity, drops a connection that broke and retries
once when a reused one turns out stale (PostgreSQL restarted), and turns
every failure to reach the database into DatabaseUnavailable (a 503). This
is the same on asyncio: an asyncpg pool (init_size and min_size 0,
max_size the configured size, max_inactive_connection_lifetime 0), created
in the serving process's loop (Quart's before_serving), closed after.

The app's DSN is libpq's keyword/value string (BENCHAPP_DATABASE_DSN, what
psycopg2 takes); asyncpg takes only URIs or keyword arguments, so
`libpq_params` parses it into the latter.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg

from benchapp.errors import NO_DATABASE, DatabaseUnavailable

# libpq's connection string: keyword = value pairs separated by whitespace; a
# value is single-quoted (\' and \\ escaped) or runs to the next whitespace.
_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s'\\]|\\.)+))")
# libpq keyword -> asyncpg.connect() argument (the ones the app's DSN uses).
_KEYWORDS = {"host": "host", "hostaddr": "host", "port": "port", "dbname": "database", "user": "user",
             "password": "password", "sslmode": "ssl"}

# Failures of the connection itself, not of the statement: worth one retry on
# a fresh connection when the one that failed came from the pool.
_CONNECTION_ERRORS = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                      asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CannotConnectNowError)


def libpq_params(dsn: str) -> dict[str, Any]:
    """asyncpg.connect() keyword arguments from a libpq keyword/value string.

    ValueError on a malformed string or a keyword without an asyncpg
    equivalent (the unit's DSN uses host, port, dbname, user, password)."""
    params: dict[str, Any] = {}
    pos = 0
    while pos < len(dsn):
        if not dsn[pos:].strip():
            break
        match = _PAIR.match(dsn, pos)
        if not match:
            raise ValueError(f"malformed connection string at {dsn[pos:pos + 20]!r}")
        key, quoted, bare = match.groups()
        value = re.sub(r"\\(.)", r"\1", quoted if quoted is not None else bare)
        if key not in _KEYWORDS:
            raise ValueError(f"connection string keyword {key!r} is not supported here "
                             f"(supported: {', '.join(sorted(_KEYWORDS))})")
        params[_KEYWORDS[key]] = int(value) if key == "port" else value
        pos = match.end()
    return params


async def _keep(_connection: asyncpg.Connection) -> None:
    """Release resets nothing, as benchapp.db.Pool: the app leaves no session
    state behind (asyncpg's default reset is one more round trip per request)."""


class AsyncPool:
    """At most `size` connections per process, made on demand and reused."""

    def __init__(self, dsn: str, size: int, connect_timeout: float, acquire_timeout: float,
                 statement_timeout_ms: int) -> None:
        self._dsn = dsn
        self.size = size
        self._connect_timeout = connect_timeout
        self._acquire_timeout = acquire_timeout
        self._statement_timeout_ms = statement_timeout_ms
        self._pool: asyncpg.Pool | None = None
        self._params_error: str | None = None  # a DSN asyncpg cannot take: said on /db
        self.opened = 0

    async def open(self) -> None:
        """Create the pool in the running loop; no connection is made yet."""
        if self._pool is not None or not self._dsn:
            return
        try:
            params = libpq_params(self._dsn)
        except ValueError as exc:  # reported on /db, as an unreachable database is
            self._params_error = str(exc)
            return

        async def count(_connection: asyncpg.Connection) -> None:
            self.opened += 1

        self._pool = await asyncpg.create_pool(
            init_size=0, min_size=0, max_size=self.size, max_inactive_connection_lifetime=0,
            init=count, reset=_keep, timeout=self._connect_timeout,
            server_settings={"application_name": "benchapp",
                             "statement_timeout": str(self._statement_timeout_ms)},
            **params)

    @property
    def idle(self) -> int:
        """Connections ready for reuse."""
        return self._pool.get_idle_size() if self._pool is not None else 0

    async def query(self, sql: str, *args: Any) -> asyncpg.Record:
        """Run one statement and fetch its first row (a 503 when the database fails)."""
        if not self._dsn:
            raise DatabaseUnavailable(NO_DATABASE)
        if self._pool is None:
            raise DatabaseUnavailable(self._params_error or "the database pool is not open")
        for attempt in (1, 2):
            reused = self.idle > 0
            try:
                connection = await self._pool.acquire(timeout=self._acquire_timeout)
            except asyncio.TimeoutError as exc:
                raise DatabaseUnavailable(f"no database connection within {self._acquire_timeout:g} s "
                                          f"(connect timeout {self._connect_timeout:g} s)") from exc
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                raise DatabaseUnavailable(_describe(exc)) from exc
            try:
                return await connection.fetchrow(sql, *args)
            except asyncpg.exceptions.QueryCanceledError as exc:
                raise DatabaseUnavailable(_describe(exc)) from exc
            except _CONNECTION_ERRORS as exc:
                if attempt == 1 and reused:
                    continue
                raise DatabaseUnavailable(_describe(exc)) from exc
            finally:
                await self._pool.release(connection)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the connections (after serving): gracefully, then at once."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), 5)
        except asyncio.TimeoutError:
            pool.terminate()


def _describe(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
