"""A transactional store for a program's members: `loyalty.store.open_store(program, where)`.

    from loyalty.store import open_store
    store = open_store(program, "members.db")                       # SQLite (standard library), WAL mode
    store = open_store(program, "postgresql://user@host/db")        # PostgreSQL: pip install 'loyalty[postgres]'
    result = store.apply("member-42", {"purchase": {...}})          # one transaction; resends change nothing
    store.deliver(send_to_till)                                      # the outbox, at least once, by effect id

A layer above the runtime (it imports `loyalty.runtime`, never the reverse). docs/embedding.md, "A store".
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from loyalty.store.core import Store, StoreApplied, StoreConflictError, StoredEffect, effect_id, event_key
from loyalty.store.schema import SCHEMA_VERSION, StoreSchemaError

__all__ = ["open_store", "Store", "StoreApplied", "StoredEffect", "StoreConflictError", "StoreSchemaError",
           "SCHEMA_VERSION", "effect_id", "event_key"]


def open_store(program, where: Union[str, Path] = "loyalty.db", max_retries: int = 64, cache_size: int = 4096) -> Store:
    """A store for `program` in `where`: a `postgresql://` (or `postgres://`) URL, or an SQLite file path
    (`sqlite:///path` also works). Creates or upgrades the tables. `max_retries`: conflicts one apply may
    meet before `StoreConflictError`; `cache_size`: members whose parsed state the store keeps, to skip
    parsing a state that has not changed since this store last read or wrote it."""
    text = str(where)
    if text.startswith(("postgresql://", "postgres://")):
        from loyalty.store.postgres import PostgresBackend

        backend = PostgresBackend(text)
    else:
        from loyalty.store.sqlite import SQLiteBackend

        backend = SQLiteBackend(text[len("sqlite:///"):] if text.startswith("sqlite:///") else text)
    try:
        return Store(program, backend, max_retries=max_retries, cache_size=cache_size)
    except BaseException:
        backend.close()
        raise
