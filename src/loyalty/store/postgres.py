"""The PostgreSQL backend (psycopg 3: `pip install 'loyalty[postgres]'`), for several machines.

Statements run in autocommit outside the write transaction (each read is its own snapshot); the write
transaction is READ COMMITTED, locks the budget rows it changes (`FOR UPDATE`, in key order, so two writers
never deadlock) and changes the member row only if its `version` is still the one read. A serialization
failure or deadlock reported by the server is retried like a version conflict.
"""

from __future__ import annotations

import contextlib

try:
    import psycopg
    from psycopg import errors as _pg_errors
except ImportError:  # pragma: no cover - depends on the installation
    psycopg = None


class PostgresBackend:
    dialect = "postgresql"
    lock_rows = " FOR UPDATE"

    def __init__(self, url: str, connect_timeout: int = 10):
        if psycopg is None:
            raise RuntimeError("the PostgreSQL store needs psycopg 3: pip install 'loyalty[postgres]'")
        self.where = url
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)

    def read(self, sql: str, params=()) -> list:
        return self.conn.execute(sql.replace("?", "%s"), params).fetchall()

    @contextlib.contextmanager
    def write_transaction(self):
        with self.conn.transaction():
            yield _Cursor(self.conn.cursor())

    @contextlib.contextmanager
    def migration_transaction(self):
        with self.conn.transaction():
            cur = _Cursor(self.conn.cursor())
            cur.execute("SELECT pg_advisory_xact_lock(7340851)")  # one migrating process at a time
            yield cur

    @staticmethod
    def is_retryable(err: BaseException) -> bool:
        return psycopg is not None and isinstance(err, (_pg_errors.SerializationFailure, _pg_errors.DeadlockDetected))

    @staticmethod
    def is_duplicate(err: BaseException) -> bool:
        return psycopg is not None and isinstance(err, _pg_errors.UniqueViolation)

    def close(self) -> None:
        self.conn.close()


class _Cursor:
    """psycopg's cursor taking the store's `?` placeholders (the statements contain no other `?` or `%`)."""

    __slots__ = ("cur",)

    def __init__(self, cur):
        self.cur = cur

    def execute(self, sql: str, params=()):
        self.cur.execute(sql.replace("?", "%s"), params)
        return self

    def executemany(self, sql: str, rows):
        self.cur.executemany(sql.replace("?", "%s"), rows)

    def fetchone(self):
        return self.cur.fetchone()

    def fetchall(self):
        return self.cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount
