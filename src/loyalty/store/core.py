"""`Store`: members' states, budgets, applied events and an outbox of effects in one database.

`store.apply(member_id, event)` in three steps:
1. read (no lock): whether the event was applied already (then its recorded effects are the answer and
   nothing changes), the member's row (state and version) and the budgets' `used`;
2. `program.apply` on that state, with a `ClaimLog` as the ledger (store/ledger.py);
3. one write transaction: lock and re-check the claimed budgets, write the new state if the row's version is
   still the one read (a new member: if nobody inserted it meanwhile), record the event id, append the
   effects to the outbox. Anything that changed since step 1 is a conflict: roll back, run 1-3 again
   (at most `max_retries` times; `StoreApplied.retries` and `store.conflicts_retried` count them).

Identifiers: an event is known by the id the caller gives, else the event's own (`events.default_id`: a
purchase's order, another event's content), a tick by its time. An effect's id is a hash of (member id,
event id, position among the event's effects): the same on every resend and every backend, so a receiver
can use it as the idempotency key of an at-least-once delivery.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import random
import time
from typing import Callable, NamedTuple, Optional

from loyalty.runtime.events import EventError, default_id, parse_event
from loyalty.runtime.facade import MemberState, Program
from loyalty.runtime.internal import SURROGATE, has_surrogate
from loyalty.runtime.ledger import LedgerMismatchError
from loyalty.store.ledger import ClaimLog, regrant
from loyalty.store.schema import migrate


class StoreConflictError(RuntimeError):
    """`apply` met a conflicting writer on every one of its tries (`max_retries`)."""


class StoredEffect(NamedTuple):
    """An effect as the outbox holds it: `payload` is `program.effect_json(effect)`, `text` its explanation."""

    effect_id: str
    member_id: str
    event_id: str
    position: int
    payload: dict
    text: str


class StoreApplied(NamedTuple):
    state: MemberState  # the member's state after the event (for a resent event: the state now)
    effects: list  # StoredEffect, in the order apply gave them
    resent: bool  # the event id was applied before: these are the effects recorded then; nothing changed
    retries: int  # conflicts met (and retried) on the way


def effect_id(member_id: str, event_key: str, position: int) -> str:
    """A stable, unambiguous id for the `position`-th effect of an event applied to a member."""
    text = json.dumps([member_id, event_key, position], ensure_ascii=False, separators=(",", ":"))
    return "eff_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def event_key(event, event_id: Optional[str] = None) -> str:
    """The id a store records an event under: `event_id`, else the event's id (runtime/events.py
    `default_id` for one without), a tick by its time. Raises `EventError` for an event that is not valid."""
    if event_id is not None:
        if not isinstance(event_id, str) or not event_id:
            raise EventError("id", "an event id is a non-empty string")
        if has_surrogate(event_id):
            raise EventError("id", f"the event id {SURROGATE}")
        return event_id
    model = parse_event(event)
    return model.id or default_id(model) or f"tick:{model.time.isoformat()}"


class Store:
    """A program's members in a database. Not thread-safe: give each thread or process its own `Store`
    (they share everything through the database)."""

    def __init__(self, program: Program, backend, max_retries: int = 64, cache_size: int = 4096):
        self.program = program
        self.cache_size = cache_size
        self._states: dict = {}  # member id -> (state JSON, MemberState): the last this store read or wrote
        self.backend = backend
        self.max_retries = max_retries
        self.conflicts_retried = 0  # over this Store's life
        self._before_commit: Optional[Callable[[], None]] = None  # fault-injection hook for tests (tests/)
        migrate(backend)
        self._limits = dict(program.compiled.budgets)
        if self._limits:
            self._register_budgets()

    # ---------------------------------------------------------------- budgets

    def _register_budgets(self) -> None:
        with self.backend.write_transaction() as cur:
            for key, limit in sorted(self._limits.items()):
                cur.execute("INSERT INTO loyalty_budgets (budget_key, budget_limit, used) VALUES (?, ?, 0) "
                            "ON CONFLICT (budget_key) DO NOTHING", (key, limit))
            cur.execute("SELECT budget_key, budget_limit FROM loyalty_budgets")
            found = dict(cur.fetchall())
        for key, limit in sorted(self._limits.items()):
            if found[key] != limit:
                raise LedgerMismatchError(
                    f"the store's limit for budget {key!r} is {found[key]}, the program's is {limit}: the database "
                    "holds another version of the program's budgets; carry over what was used as your policy says "
                    "(UPDATE loyalty_budgets) before running this program on it")

    def budgets(self) -> dict[str, dict[str, int]]:
        """Each budget of the program: {"limit": ..., "used": ...} as the database holds it now."""
        rows = self.backend.read("SELECT budget_key, budget_limit, used FROM loyalty_budgets")
        return {k: {"limit": lim, "used": used} for k, lim, used in sorted(rows) if k in self._limits}

    def _used(self) -> dict[str, int]:
        if not self._limits:
            return {}
        rows = self.backend.read("SELECT budget_key, used FROM loyalty_budgets")
        return {k: u for k, u in rows if k in self._limits}

    # ---------------------------------------------------------------- members

    def state(self, member_id: str) -> Optional[MemberState]:
        """The member's state now, or None for a member the store has not seen."""
        rows = self.backend.read("SELECT state FROM loyalty_members WHERE member_id = ?", (member_id,))
        return self._parsed(member_id, rows[0][0]) if rows else None

    def apply(self, member_id: str, event, event_id: Optional[str] = None,
              attributes: Optional[dict] = None) -> StoreApplied:
        """Apply one event to a member in one transaction (see the module). `attributes` are used when the
        member is new. Raises `EventError` for an invalid event (nothing changes), `StateMismatchError` for a
        stored state of another program, `StoreConflictError` after `max_retries` conflicts."""
        if not isinstance(member_id, str) or not member_id:
            raise EventError("member_id", "a member id is a non-empty string")
        if has_surrogate(member_id):
            raise EventError("member_id", f"the member id {SURROGATE}")
        key = event_key(event, event_id)
        program = self.program
        retries = 0
        while True:
            # one round trip: whether the event was applied, and the member's row
            (applied, version, text), = self.backend.read(
                "SELECT (SELECT effects FROM loyalty_events WHERE member_id = ? AND event_key = ?), "
                "(SELECT version FROM loyalty_members WHERE member_id = ?), "
                "(SELECT state FROM loyalty_members WHERE member_id = ?)", (member_id, key, member_id, member_id))
            if applied is not None:
                return StoreApplied(self._parsed(member_id, text), self._recorded(member_id, key), True, retries)
            if version is not None:
                state = self._parsed(member_id, text)
            else:
                state = program.new_member(member_id, attributes)
            log = ClaimLog(self._limits, self._used())
            new_state, effects = program.apply(state, event, log)
            stored = [StoredEffect(effect_id(member_id, key, i), member_id, key, i, program.effect_json(e),
                                   program.explain(e)) for i, e in enumerate(effects)]
            try:
                text = new_state.to_json()
                self._write(member_id, version, text, key, stored, log)
                self._remember(member_id, text, new_state)
                return StoreApplied(new_state, stored, False, retries)
            except _Conflict:
                pass
            except Exception as err:
                if not (self.backend.is_retryable(err) or self.backend.is_duplicate(err)):
                    raise
            retries += 1
            self.conflicts_retried += 1
            if retries > self.max_retries:
                raise StoreConflictError(f"member {member_id!r}, event {key!r}: a conflicting write on each of "
                                         f"{retries} tries; nothing was applied (raise max_retries, or spread "
                                         "one member's events over fewer workers)")
            time.sleep(random.uniform(0, min(0.05, 0.0005 * 2 ** min(retries, 10))))  # let the other writer finish

    def _parsed(self, member_id: str, text: str) -> MemberState:
        """`program.state_from_json(text)`, skipped when `text` is exactly what this store last read or wrote
        for the member (states are immutable values; parsing and checking one costs more than the apply)."""
        cached = self._states.get(member_id)
        if cached is not None and cached[0] == text:
            return cached[1]
        state = self.program.state_from_json(text)
        self._remember(member_id, text, state)
        return state

    def _remember(self, member_id: str, text: str, state: MemberState) -> None:
        states = self._states
        states.pop(member_id, None)
        if self.cache_size <= 0:
            return
        if len(states) >= self.cache_size:
            del states[next(iter(states))]  # the least recently used
        states[member_id] = (text, state)

    def _recorded(self, member_id: str, key: str) -> list:
        out = self.backend.read("SELECT effect_id, member_id, event_key, position, payload, explanation "
                                "FROM loyalty_outbox WHERE member_id = ? AND event_key = ? ORDER BY position",
                                (member_id, key))
        return [StoredEffect(a, b, c, d, json.loads(p), t) for a, b, c, d, p, t in out]

    def _write(self, member_id: str, version: Optional[int], state_json: str, key: str, stored: list,
               log: ClaimLog) -> None:
        """The write transaction; raises `_Conflict` (rolled back) when something read before it has changed."""
        backend = self.backend
        with backend.write_transaction() as cur:
            keys = log.keys()
            if keys:
                now = {}
                for k in keys:  # one at a time, in key order: the lock order every writer follows
                    cur.execute("SELECT used FROM loyalty_budgets WHERE budget_key = ?" + backend.lock_rows, (k,))
                    now[k] = cur.fetchone()[0]
                used = regrant(log.claims, self._limits, now)
                if used is None:
                    raise _Conflict
                for k in keys:
                    if used[k] != now[k]:
                        cur.execute("UPDATE loyalty_budgets SET used = ? WHERE budget_key = ?", (used[k], k))
            if version is None:
                cur.execute("INSERT INTO loyalty_members (member_id, version, state) VALUES (?, 1, ?) "
                            "ON CONFLICT (member_id) DO NOTHING", (member_id, state_json))
            else:
                cur.execute("UPDATE loyalty_members SET state = ?, version = version + 1 "
                            "WHERE member_id = ? AND version = ?", (state_json, member_id, version))
            if cur.rowcount != 1:
                raise _Conflict
            cur.execute("INSERT INTO loyalty_events (member_id, event_key, effects) VALUES (?, ?, ?) "
                        "ON CONFLICT (member_id, event_key) DO NOTHING", (member_id, key, len(stored)))
            if cur.rowcount != 1:
                raise _Conflict
            if stored:
                cur.executemany(
                    "INSERT INTO loyalty_outbox (effect_id, member_id, event_key, position, payload, explanation) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(s.effect_id, s.member_id, s.event_id, s.position,
                      json.dumps(s.payload, sort_keys=True, ensure_ascii=False), s.text) for s in stored])
            if self._before_commit is not None:
                self._before_commit()

    # ---------------------------------------------------------------- the outbox

    def deliver(self, callback: Callable[[StoredEffect], None], limit: int = 100) -> int:
        """Hand up to `limit` undelivered effects, oldest first, to `callback`, marking each delivered once
        the callback returns (one transaction per round). At least once: an effect whose callback raised, or
        whose process died before the round's mark, is handed over again, so the receiver must treat
        `effect_id` as an idempotency key. On PostgreSQL concurrent deliverers skip each other's rows; on
        SQLite two deliverers at once may both hand over an effect. A callback that raises stops the round
        (the effects before it stay delivered) and the error goes up. Returns how many were delivered."""
        select = ("SELECT effect_id, member_id, event_key, position, payload, explanation FROM loyalty_outbox "
                  "WHERE delivered_at IS NULL ORDER BY seq LIMIT ?")
        if self.backend.dialect == "postgresql":
            # rows another deliverer holds are skipped, so concurrent deliverers do not hand over one effect twice
            with self.backend.write_transaction() as cur:
                rows = cur.execute(select + " FOR UPDATE SKIP LOCKED", (limit,)).fetchall()
                done, failure = self._hand_over(rows, callback)
                self._mark(cur, done)
        else:
            # SQLite: not under the write lock (appliers would wait for the callbacks); marked in one transaction
            rows = self.backend.read(select, (limit,))
            done, failure = self._hand_over(rows, callback)
            if done:
                with self.backend.write_transaction() as cur:
                    self._mark(cur, done)
        if failure is not None:
            raise failure
        return len(done)

    @staticmethod
    def _hand_over(rows: list, callback) -> tuple:
        done: list = []
        for a, b, c, d, p, t in rows:
            try:
                callback(StoredEffect(a, b, c, d, json.loads(p), t))
            except Exception as err:  # stop the round; what was handed over is still marked
                return done, err
            done.append(a)
        return done, None

    @staticmethod
    def _mark(cur, done: list) -> None:
        if done:
            stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")
            cur.executemany("UPDATE loyalty_outbox SET delivered_at = ? WHERE effect_id = ? AND delivered_at IS NULL",
                            [(stamp, a) for a in done])

    def pending_effects(self) -> int:
        """How many effects wait to be delivered."""
        return self.backend.read("SELECT count(*) FROM loyalty_outbox WHERE delivered_at IS NULL")[0][0]

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Conflict(Exception):
    """Raised inside the write transaction to roll it back: something read before it has changed."""
