"""The store's tables, by schema version, for each dialect; `migrate` brings a database up to date.

Tables (all prefixed `loyalty_`, so the store can share a database with the service's own tables):
- `loyalty_schema`: the schema version this database is at (one row).
- `loyalty_members`: one row per member: the state document (`loyalty-state/1` JSON, as `state.to_json()`
  writes it) and `version`, raised by every write (optimistic concurrency).
- `loyalty_budgets`: program-wide budgets: `budget_limit` (the program's) and `used`.
- `loyalty_events`: every event applied, by member and event id, with `seq`, the order they were applied in
  (per member and per budget, the order of their transactions).
- `loyalty_outbox`: every effect, with its stable `effect_id`, until and after it is delivered.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

_V1_COMMON = [
    "CREATE TABLE loyalty_members (member_id TEXT PRIMARY KEY, version BIGINT NOT NULL, state TEXT NOT NULL)",
    "CREATE TABLE loyalty_budgets (budget_key TEXT PRIMARY KEY, budget_limit BIGINT NOT NULL, used BIGINT NOT NULL)",
]
_V1_INDEXES = [
    "CREATE INDEX loyalty_outbox_pending ON loyalty_outbox (seq) WHERE delivered_at IS NULL",
    "CREATE INDEX loyalty_outbox_event ON loyalty_outbox (member_id, event_key, position)",
]

MIGRATIONS = {
    "sqlite": {
        1: _V1_COMMON + [
            "CREATE TABLE loyalty_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, member_id TEXT NOT NULL, "
            "event_key TEXT NOT NULL, effects INTEGER NOT NULL, UNIQUE (member_id, event_key))",
            "CREATE TABLE loyalty_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, effect_id TEXT NOT NULL UNIQUE, "
            "member_id TEXT NOT NULL, event_key TEXT NOT NULL, position INTEGER NOT NULL, payload TEXT NOT NULL, "
            "explanation TEXT NOT NULL, delivered_at TEXT)",
        ] + _V1_INDEXES,
    },
    "postgresql": {
        1: _V1_COMMON + [
            "CREATE TABLE loyalty_events (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, member_id TEXT NOT NULL, "
            "event_key TEXT NOT NULL, effects INTEGER NOT NULL, UNIQUE (member_id, event_key))",
            "CREATE TABLE loyalty_outbox (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "effect_id TEXT NOT NULL UNIQUE, member_id TEXT NOT NULL, event_key TEXT NOT NULL, "
            "position INTEGER NOT NULL, payload TEXT NOT NULL, explanation TEXT NOT NULL, delivered_at TEXT)",
        ] + _V1_INDEXES,
    },
}


class StoreSchemaError(RuntimeError):
    """The database holds a store schema this version of loyalty does not know."""


def migrate(backend) -> int:
    """Create or upgrade the tables, in one transaction under the backend's migration lock (two processes
    opening a new database at once migrate it once). Returns the schema version."""
    steps = MIGRATIONS[backend.dialect]
    with backend.migration_transaction() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS loyalty_schema (version INTEGER NOT NULL)")
        cur.execute("SELECT version FROM loyalty_schema")
        row = cur.fetchone()
        current = row[0] if row else 0
        if current > SCHEMA_VERSION:
            raise StoreSchemaError(f"the database's loyalty store schema is version {current}; this loyalty knows "
                                   f"versions up to {SCHEMA_VERSION}: upgrade loyalty")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in steps[version]:
                cur.execute(statement)
        if row is None:
            cur.execute("INSERT INTO loyalty_schema (version) VALUES (" + str(SCHEMA_VERSION) + ")")
        elif current != SCHEMA_VERSION:
            cur.execute("UPDATE loyalty_schema SET version = " + str(SCHEMA_VERSION))
    return SCHEMA_VERSION
