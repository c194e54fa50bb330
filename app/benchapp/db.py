"""A small blocking connection pool for psycopg2.

psycopg2's own pools raise when empty; a bench at c=200 against a pool of 10
must wait for a free connection instead. The semaphore and lock come from
`threading`, so under gevent's patching they are greenlet-aware, and in the
psycogreen mode waiting for PostgreSQL yields to other greenlets.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator

import psycopg2
import psycopg2.errors
import psycopg2.extensions

# The 503 of the app's failure contract (benchapp.errors); imported from here too.
from benchapp.errors import NO_DATABASE, DatabaseUnavailable


class Pool:
    """At most `size` connections, made on demand and reused."""

    def __init__(self, dsn: str, size: int, connect_timeout: int, acquire_timeout: float,
                 statement_timeout_ms: int) -> None:
        self._dsn = dsn
        self._size = size
        self._connect_timeout = connect_timeout
        self._acquire_timeout = acquire_timeout
        self._statement_timeout_ms = statement_timeout_ms
        self._slots = threading.BoundedSemaphore(size)
        self._idle: deque[psycopg2.extensions.connection] = deque()
        self._lock = threading.Lock()
        self.opened = 0

    def _connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(
            self._dsn,
            connect_timeout=self._connect_timeout,
            options=f"-c statement_timeout={self._statement_timeout_ms}",
            application_name="benchapp",
        )
        conn.autocommit = True  # no transaction left open between requests
        with self._lock:
            self.opened += 1
        return conn

    @property
    def idle(self) -> int:
        """Connections ready for reuse."""
        return len(self._idle)

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A connection for one request; broken ones are dropped, not returned."""
        if not self._dsn:
            raise DatabaseUnavailable(NO_DATABASE)
        if not self._slots.acquire(timeout=self._acquire_timeout):
            raise DatabaseUnavailable(f"no free database connection within {self._acquire_timeout:g} s")
        conn = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                try:
                    conn = self._connect()
                except psycopg2.Error as exc:
                    raise DatabaseUnavailable(str(exc).strip()) from exc
            yield conn
        except BaseException:
            if conn is not None and not conn.closed:
                conn.close()
            conn = None
            raise
        finally:
            if conn is not None and not conn.closed:
                with self._lock:
                    self._idle.append(conn)
            self._slots.release()

    def query(self, sql: str, params: tuple) -> tuple:
        """Run one statement and fetch its first row.

        A connection that went stale in the pool (PostgreSQL restarted) fails on
        first use; retry once on a fresh one so a restart costs no request.
        """
        for attempt in (1, 2):
            reused = self.idle > 0
            try:
                with self.connection() as conn, conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchone()
            except psycopg2.errors.QueryCanceled as exc:
                raise DatabaseUnavailable(str(exc).strip()) from exc
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                if attempt == 1 and reused:
                    continue
                raise DatabaseUnavailable(str(exc).strip()) from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close idle connections (tests, shutdown)."""
        with self._lock:
            while self._idle:
                self._idle.pop().close()
