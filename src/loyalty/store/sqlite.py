"""The SQLite backend (standard library `sqlite3`): one file, WAL mode, for one machine.

WAL lets readers run beside the one writer; `synchronous=FULL` makes a committed transaction survive a power
cut, not only a crashed process. Writers queue for the database's write lock (`BEGIN IMMEDIATE`, waiting up
to `timeout` seconds), so on SQLite the store's optimistic check rarely finds a conflict: the lock already
orders the writers; the check still guards a state read before another writer's commit.
"""

from __future__ import annotations

import contextlib
import sqlite3


class SQLiteBackend:
    dialect = "sqlite"
    lock_rows = ""  # the write lock covers the whole database: no row locks to take

    def __init__(self, path: str, timeout: float = 30.0):
        self.where = path
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=True)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")

    def read(self, sql: str, params=()) -> list:
        return self.conn.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def write_transaction(self):
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn.cursor()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    migration_transaction = write_transaction

    @staticmethod
    def is_retryable(err: BaseException) -> bool:
        # "database is locked" / "busy": another writer held the lock past the timeout, or our read snapshot
        # went stale; the apply runs again
        return isinstance(err, sqlite3.OperationalError) and ("locked" in str(err) or "busy" in str(err))

    @staticmethod
    def is_duplicate(err: BaseException) -> bool:
        return isinstance(err, sqlite3.IntegrityError)

    def close(self) -> None:
        self.conn.close()
