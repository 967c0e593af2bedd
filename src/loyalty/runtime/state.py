"""Member state inside the evaluator: mutable objects with slots, copied by the
facade so that `Program.apply` stays a value-returning function.

The JSON form (`state_to_doc` / `state_from_doc`) is validated with pydantic
and carries the identity of the program that produced it, so resuming a member
with a different program is detected.
"""

from __future__ import annotations

import datetime as _dt
from bisect import bisect_left, bisect_right, insort
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

STATE_FORMAT = "loyalty-state/1"
# a program with a late-events window writes its states in this format: `seen` maps each event id to its moment
# (runtime/windows.py); both load
STATE_FORMAT_TIMED_IDS = "loyalty-state/2"
STATE_FORMATS = (STATE_FORMAT, STATE_FORMAT_TIMED_IDS)
# TimerQueue, KindState and MemberState have no __init__: `X()` is a bare instance whose slots its
# maker sets (`X.of(...)`, `X.empty()`, `X.start(...)`, `copy`), made through the type's own C call, which
# costs about half of object.__new__(X) (a builtin called through its argument tuple); `program.apply` makes
# a MemberState and a KindState per point kind per event (docs/performance.md, "apply2", "apply7")
_tuple_new = tuple.__new__  # a Batch in one step


class Batch(NamedTuple):
    """Points earned by one event for one point kind. Spending takes the oldest first.

    earned_at; available_at (None once available); expires_at (None: never); amount; the order and the
    rule (index) that earned them; seq, the batch's place in its kind's list (kept in `seq` order).
    Immutable (a named tuple: a state copy shares its batches): a change replaces the batch by one with
    the same `seq`. Declared as a typing.NamedTuple, which a compiled build (mypyc) accepts; a class over
    `collections.namedtuple(...)` it refuses."""

    earned_at: _dt.datetime
    available_at: Optional[_dt.datetime]
    expires_at: Optional[_dt.datetime]
    amount: int
    order: Any
    rule: Any
    seq: int = 0

    def with_amount(self, amount: int) -> "Batch":
        return _tuple_new(Batch, (self.earned_at, self.available_at, self.expires_at, amount, self.order,
                                  self.rule, self.seq))


def _seq(b: Batch) -> int:
    return b.seq


class TimerQueue:
    """(moment, seq) entries popped smallest first, like a heap, but kept as a sorted list with a head
    index, so a state copy shares it: O(1) to copy. Timers are pushed in time order almost always (a
    duration after the event), which is an append past the shared end; a push out of order, or onto a
    list another copy has appended to, first takes a private copy of the live entries (`n` is this
    queue's end in the list: appends by other copies are beyond it and invisible)."""

    __slots__ = ("items", "head", "n")
    items: list
    head: int
    n: int

    @classmethod
    def of(cls, items: Optional[list] = None) -> "TimerQueue":
        """A queue of `items` (sorted; none: empty)."""
        q = cls()
        q.items = items if items is not None else []
        q.head = 0
        q.n = len(q.items)
        return q

    def copy(self) -> "TimerQueue":
        q = TimerQueue()
        q.items, q.head, q.n = self.items, self.head, self.n
        return q

    def __bool__(self) -> bool:
        return self.n > self.head

    def __len__(self) -> int:
        return self.n - self.head

    def first(self) -> tuple:
        return self.items[self.head]

    def push(self, entry: tuple) -> None:
        self.items, self.head, self.n = queue_pushed(self.items, self.head, self.n, entry)

    def pop(self) -> tuple:
        entry = self.items[self.head]
        self.items, self.head, self.n = queue_popped(self.items, self.head + 1, self.n)
        return entry


# A timer queue's entries are `items[head:n]` (TimerQueue's docstring); these two are its push and pop, shared by
# TimerQueue and the expiry queue a KindState holds in its own slots (`exp_items`, `exp_head`, `exp_n`).

def queue_pushed(items: list, head: int, n: int, entry: tuple) -> tuple:
    """(items, head, n) with `entry` pushed: appended past the shared end when in order, else into a private copy."""
    if len(items) == n and (n == head or items[n - 1] <= entry):
        items.append(entry)
        return items, head, n + 1
    items = items[head:n]
    insort(items, entry)
    return items, 0, len(items)


def queue_popped(items: list, head: int, n: int) -> tuple:
    """(items, head, n) once the entries before `head` are popped: let go of them when they are half the list."""
    if head >= 64 and 2 * head >= n:
        return items[head:n], 0, n - head
    return items, head, n


class KindState:
    """One point kind's ledger: batches (oldest first), debt, running totals.

    Timers are queues of (moment, seq): `maturing` for pending batches, and for batches with an expiry one kept
    in the kind's own slots (`exp_items[exp_head:exp_n]`, a TimerQueue's `items[head:n]`: one object less to copy
    and free per `program.apply`), so passing time costs what happens, not the number of batches. An entry whose
    batch is gone (spent, clawed back) is stale and skipped when popped. `avail_sum` and
    `pend_sum` are running sums of the available and pending batches' amounts. The `maturing` queue
    is shared by a state and its copies and replaced, never changed in place, when written (most
    kinds never pend: a copy makes no queue for them); the expiry queue is copied with the state.

    The live batches are `batches[head:n]`. A state copy shares the list (O(1)); earning appends past
    `n` (invisible to the other copies); anything else that changes the list in place (`own()` first)
    works on a private copy. Batches leave from the front (expiry, spending oldest first) by moving
    `head`, and the dead prefix is cut off once it is half the list, so a long history costs O(1)
    amortised per batch that leaves, never a rebuild of the list."""

    __slots__ = ("batches", "head", "n", "owned", "debt", "earned", "redeemed", "expired", "clawed", "adjusted",
                 "inactivity_deadline", "maturing", "exp_items", "exp_head", "exp_n", "next_seq", "avail_sum",
                 "pend_sum")
    batches: list
    head: int
    n: int
    owned: bool
    debt: int
    earned: int
    redeemed: int
    expired: int
    clawed: int
    adjusted: int
    inactivity_deadline: Optional[_dt.datetime]
    maturing: TimerQueue
    exp_items: list
    exp_head: int
    exp_n: int
    next_seq: int
    avail_sum: int
    pend_sum: int

    @classmethod
    def empty(cls) -> "KindState":
        self = cls()
        self.batches = []
        self.head = 0
        self.n = 0
        self.owned = True
        self.debt = 0  # points owed (balance below zero)
        self.earned = 0
        self.redeemed = 0
        self.expired = 0
        self.clawed = 0
        self.adjusted = 0  # points adjustments added (or took, negative): runtime/mechanics/adjustments.py
        self.inactivity_deadline = None
        self.maturing = TimerQueue.of()
        self.exp_items = []
        self.exp_head = 0
        self.exp_n = 0
        self.next_seq = 0
        self.avail_sum = 0
        self.pend_sum = 0
        return self

    def copy(self) -> "KindState":
        k = KindState()
        k.batches = self.batches  # batches are immutable; the list is shared
        k.head = self.head
        k.n = self.n
        k.owned = self.owned = False
        k.maturing = self.maturing  # replaced, never changed in place (`add`, points.advance_kind): shared
        k.exp_items = self.exp_items  # the list is shared as a TimerQueue's is (appends past exp_n are invisible)
        k.exp_head = self.exp_head
        k.exp_n = self.exp_n
        k.debt = self.debt
        k.earned = self.earned
        k.redeemed = self.redeemed
        k.expired = self.expired
        k.clawed = self.clawed
        k.adjusted = self.adjusted
        k.inactivity_deadline = self.inactivity_deadline
        k.next_seq = self.next_seq
        k.avail_sum = self.avail_sum
        k.pend_sum = self.pend_sum
        return k

    def own(self) -> list:
        """The batch list, private to this state (copied if shared), to change in place."""
        if not self.owned:
            self.batches = self.batches[self.head:self.n]
            self.head, self.n = 0, len(self.batches)
            self.owned = True
        return self.batches

    @property
    def available(self) -> int:
        return self.avail_sum - self.debt

    @property
    def pending(self) -> int:
        return self.pend_sum

    def add(self, earned_at, available_at, expires_at, amount: int, order, rule: int) -> Batch:
        seq = self.next_seq
        self.next_seq = seq + 1
        b = _tuple_new(Batch, (earned_at, available_at, expires_at, amount, order, rule, seq))
        batches = self.batches
        if len(batches) != self.n:  # another copy appended to the shared list
            batches = self.own()
        batches.append(b)
        self.n += 1
        if available_at is None:
            self.avail_sum += amount
        else:
            self.pend_sum += amount
            q = self.maturing = self.maturing.copy()  # shared by state copies: replaced, never changed in place
            q.push((available_at, seq))
        if expires_at is not None:
            entry = (expires_at, seq)
            items, n = self.exp_items, self.exp_n
            if len(items) == n and (n == self.exp_head or items[n - 1] <= entry):  # queue_pushed's usual case
                items.append(entry)
                self.exp_n = n + 1
            else:
                self.push_expiry(entry)
        return b

    def push_expiry(self, entry: tuple) -> None:
        self.exp_items, self.exp_head, self.exp_n = queue_pushed(self.exp_items, self.exp_head, self.exp_n, entry)

    def pop_expiry(self) -> tuple:
        entry = self.exp_items[self.exp_head]
        self.exp_items, self.exp_head, self.exp_n = queue_popped(self.exp_items, self.exp_head + 1, self.exp_n)
        return entry

    def has_expiry(self) -> bool:
        """Some expiry timer is queued."""
        return self.exp_n > self.exp_head

    def index_of(self, seq: int) -> int:
        """The batch's position in the list, or -1 when it is gone."""
        batches = self.batches
        i = bisect_left(batches, seq, self.head, self.n, key=_seq)
        return i if i < self.n and batches[i].seq == seq else -1

    def live(self) -> list:
        return self.batches[self.head:self.n]

    def has_batches(self) -> bool:
        return self.n > self.head

    def drop_front(self, new_head: int) -> None:
        """The batches before `new_head` are gone."""
        batches = self.batches
        if self.owned:  # let them go now (a shared list still shows them to another copy)
            for j in range(self.head, new_head):
                batches[j] = None
        self.head = new_head
        if new_head >= 64 and 2 * new_head >= self.n:
            if self.owned:
                del batches[:new_head]
            else:
                self.batches = batches[new_head:self.n]
                self.owned = True
            self.n -= new_head
            self.head = 0

    def replace_live(self, batches: list) -> None:
        self.batches = batches
        self.head, self.n, self.owned = 0, len(batches), True

    def next_timer(self) -> Optional[_dt.datetime]:
        """The earliest maturing or expiry moment (possibly of a stale entry: never later than the real one)."""
        best = self.maturing.first()[0] if self.maturing else None
        if self.exp_n > self.exp_head and (best is None or self.exp_items[self.exp_head][0] < best):
            best = self.exp_items[self.exp_head][0]
        return best

    def rebuild(self) -> None:
        """Sequence numbers, timers and sums from the batch list (after loading)."""
        maturing, expiring = [], []
        self.avail_sum = self.pend_sum = 0
        self.replace_live([b._replace(seq=i) for i, b in enumerate(self.batches[self.head:self.n])])
        for i, b in enumerate(self.batches):
            if b.available_at is None:
                self.avail_sum += b.amount
            else:
                self.pend_sum += b.amount
                maturing.append((b.available_at, i))
            if b.expires_at is not None:
                expiring.append((b.expires_at, i))
        maturing.sort()
        expiring.sort()
        self.maturing = TimerQueue.of(maturing)
        self.exp_items, self.exp_head, self.exp_n = expiring, 0, len(expiring)
        self.next_seq = len(self.batches)


# an order's empty map until the evaluator writes its first entry; typed Any (and so are the maps that start as
# it) because a compiled build (mypyc) checks each typed store, and a read-only proxy is not a dict
NONE_YET: Any = MappingProxyType({})


class OrderRecord:
    """What one order earned, so that a return can take it back. Shared between state copies:
    the evaluator copies a record before changing it (returns), except while its purchase runs."""

    __slots__ = ("time", "gross", "paid", "lines", "points", "punches", "rewards", "returned", "clawed", "punches_back",
                 "items", "by_amount", "counted")

    def __init__(self, time, gross, paid, lines):
        self.time: _dt.datetime = time
        self.gross: int = gross  # the order's amount as sent, minor units
        self.paid: int = paid  # after loyalty discounts
        self.lines: dict[str, list[int]] = lines  # item -> [quantity, gross amount, quantity returned]
        # Most of these stay empty for most orders: they start as shared read-only empties (a write to one
        # fails loudly) and the evaluator gives an order its own dict or list when it first writes one, so a
        # long history holds ~0.5 kB less per order (docs/limits.md)
        self.points: Any = NONE_YET  # kind index -> points earned
        self.punches: Any = NONE_YET  # rule index -> units counted
        self.rewards: Any = ()  # [rule index, reward name]
        self.returned = 0  # gross amount returned so far
        self.clawed: Any = NONE_YET  # kind index -> points taken back so far
        self.punches_back: Any = NONE_YET
        self.items: Any = NONE_YET  # rule index -> the items its points or punches came from
        self.by_amount = False  # a return by amount was made: later shares are of the whole order
        self.counted: Any = NONE_YET  # rule index -> spend this order added to the rule's own counter

    def copy(self) -> "OrderRecord":
        o = OrderRecord(self.time, self.gross, self.paid, {k: list(v) for k, v in self.lines.items()})
        o.points = dict(self.points)
        o.punches = dict(self.punches)
        o.rewards = [list(r) for r in self.rewards]
        o.returned = self.returned
        o.clawed = dict(self.clawed)
        o.punches_back = dict(self.punches_back)
        o.items = {k: list(v) for k, v in self.items.items()}
        o.by_amount = self.by_amount
        o.counted = dict(self.counted)
        return o


_MISSING = object()
_TAIL = 32  # entries kept in the mutable tail before it is frozen into the levels


# A log map: a map that grows for ever (a member's seen event ids, her orders) and is copied on every `apply`:
# frozen levels (dicts never changed again, shared by copies, merged like a binary counter so there are O(log n)
# of them) under a small mutable tail. A copy costs O(tail); a lookup O(log n); iteration is in first-insertion
# order, like a dict. MemberState holds each of its two in its own slots (`seen_levels`, `seen_tail`,
# `seen_oldest`; `orders_...`) rather than as objects: two objects less to make and free per `program.apply`
# (docs/performance.md, "apply7"). These functions are the map's one definition.


def log_get(levels: tuple[dict, ...], tail: dict, key, default=None):
    v = tail.get(key, _MISSING)
    if v is not _MISSING:
        return v
    i = len(levels)
    while i:  # newest level first (not `reversed(levels)`: mypyc 2.4.1 stops with an internal error on it)
        i -= 1
        v = levels[i].get(key, _MISSING)
        if v is not _MISSING:
            return v
    return default


def log_frozen(levels: tuple[dict, ...], tail: dict) -> tuple[dict, ...]:
    """The levels with the (full) tail frozen into them; the caller starts a new tail."""
    kept = list(levels)
    new = tail
    while kept and len(kept[-1]) <= len(new):
        merged = kept.pop().copy()
        merged.update(new)  # newer values win; first-insertion order is kept
        new = merged
    kept.append(new)
    return tuple(kept)


def log_dict(levels: tuple[dict, ...], tail: dict) -> dict:
    out: dict = {}
    for level in levels:
        out.update(level)
    out.update(tail)
    return out


def log_kept(levels: tuple[dict, ...], oldest: Optional[tuple], cutoff,
             time_of) -> tuple[tuple[dict, ...], Optional[tuple]]:
    """(levels, oldest) without the oldest levels whose every entry is before `cutoff` (`time_of(value)` its
    moment); `oldest` caches (the oldest level, the latest moment in it). A level is dropped whole, so what is
    kept is at most about twice what is within the window; lookups decide by the entry's moment, not by whether
    it is still here (runtime/windows.py)."""
    while levels:
        if oldest is None or oldest[0] is not levels[0]:
            oldest = (levels[0], max(map(time_of, levels[0].values())))
        if oldest[1] >= cutoff:
            break
        levels = levels[1:]
    return levels, oldest


class MetricLog:
    """One windowed metric's contributions, sorted by moment, with prefix sums: a window's sum is
    two bisections. Appending (the usual case: contributions come in time order) shares the lists
    with earlier copies (each copy knows its length `n`); an insertion in the middle (a return is
    dated at its order's moment) copies them.

    Under a late-events window the contributions before the metric's horizon are cut off (`compact`):
    `cum[0]` then holds their sum and `base_t` the latest of their moments, so sums over windows that start
    at or after the horizon are unchanged (runtime/windows.py)."""

    __slots__ = ("ts", "cum", "n", "base_t")

    def __init__(self, ts=None, cum=None, n=0):
        self.ts: list = ts if ts is not None else []
        self.cum: list = cum if cum is not None else [0]  # cum[i] = sum of the first i values (and the cut ones)
        self.n = n
        self.base_t = None  # the latest moment of the contributions cut off, None when none was

    def copy(self) -> "MetricLog":
        m = MetricLog.__new__(MetricLog)  # (a compiled build refuses object.__new__ of its classes)
        m.ts, m.cum, m.n, m.base_t = self.ts, self.cum, self.n, self.base_t
        return m

    def compact(self, horizon, merge_until=None) -> None:
        """Cut off the contributions before `horizon`, and merge those from `horizon` to `merge_until` (a
        calendar window's: always all read or none) into one, once they are half the log (amortised O(1) an
        entry). Sums over the windows read afterwards are unchanged (runtime/windows.py)."""
        n, ts = self.n, self.ts
        until = merge_until if merge_until is not None else horizon
        if n < 64 or ts[n // 2] >= until:
            return
        cum = self.cum
        k = bisect_left(ts, horizon, 0, n)
        j = bisect_left(ts, until, k, n)
        if k:
            last = ts[k - 1]
            self.base_t = last if self.base_t is None or last > self.base_t else self.base_t
        new_ts, new_cum = [], [cum[k]]
        if j > k:
            new_ts.append(ts[j - 1])
            new_cum.append(cum[j])
        new_ts.extend(ts[j:n])
        new_cum.extend(cum[j + 1:n + 1])
        self.ts, self.cum, self.n = new_ts, new_cum, len(new_ts)

    def entries_from(self, horizon, merge_until=None) -> list:
        """The contributions as `compact` would leave them, each merged group at the latest of its moments: the
        JSON form, the same whenever (and whether) `compact` ran."""
        ts, cum, n = self.ts, self.cum, self.n
        k = bisect_left(ts, horizon, 0, n) if horizon is not None else 0
        j = bisect_left(ts, merge_until, k, n) if merge_until is not None else k
        out = []
        if k or self.base_t is not None:
            moments = [t for t in (self.base_t, ts[k - 1] if k else None) if t is not None]
            out.append((max(moments), cum[k]))
        if j > k:
            out.append((ts[j - 1], cum[j] - cum[k]))
        out.extend((ts[i], cum[i + 1] - cum[i]) for i in range(j, n))
        return out

    def add(self, t, value: int) -> None:
        n = self.n
        ts, cum = self.ts, self.cum
        if n and t < ts[n - 1]:
            i = bisect_right(ts, t, 0, n)
            ts = ts[:n]
            cum = cum[:n + 1]
            ts.insert(i, t)
            cum.insert(i + 1, cum[i] + value)
            for j in range(i + 2, n + 2):
                cum[j] += value
            self.ts, self.cum, self.n = ts, cum, n + 1
            return
        if len(ts) != n:  # another copy appended beyond our end: take our own lists
            ts = self.ts = ts[:n]
            cum = self.cum = cum[:n + 1]
        ts.append(t)
        cum.append(cum[n] + value)
        self.n = n + 1

    def entries(self) -> list:
        cum = self.cum
        return [(self.ts[i], cum[i + 1] - cum[i]) for i in range(self.n)]

    def sum_between(self, lo, hi, lo_inclusive: bool, hi_inclusive: bool) -> int:
        ts, n = self.ts, self.n
        a = bisect_left(ts, lo, 0, n) if lo_inclusive else bisect_right(ts, lo, 0, n)
        b = bisect_right(ts, hi, 0, n) if hi_inclusive else bisect_left(ts, hi, 0, n)
        return self.cum[b] - self.cum[a] if b > a else 0


def _copy_metric(m):
    return m.copy() if type(m) is MetricLog else m


class MemberState:
    __slots__ = (
        "member_id", "attributes", "segments", "birthday", "clock", "seen_levels", "seen_tail", "seen_oldest",
        "kinds", "punches", "visits", "purchases", "spend", "metrics", "tier", "next_review", "grace_until",
        "grace_target", "caps", "fired", "orders_levels", "orders_tail", "orders_oldest", "rewards", "due", "counts",
        "lapses", "offers", "joined", "codes", "referral", "goals", "enrolled", "paid",
    )
    member_id: str
    attributes: dict
    segments: frozenset
    birthday: Optional[_dt.date]
    clock: Optional[_dt.datetime]
    seen_levels: tuple[dict, ...]  # event id -> True (or its moment, under a late-events window): a log map
    seen_tail: dict
    seen_oldest: Optional[tuple]
    kinds: list[KindState]
    punches: dict[int, int]
    visits: int
    purchases: int
    spend: int
    metrics: list
    tier: int
    next_review: Optional[_dt.datetime]
    grace_until: Optional[_dt.datetime]
    grace_target: int
    caps: dict[str, list]
    fired: dict[int, int]
    orders_levels: tuple[dict, ...]  # order id -> OrderRecord: a log map
    orders_tail: dict
    orders_oldest: Optional[tuple]
    rewards: dict[str, int]
    due: Optional[_dt.datetime]
    counts: dict[int, int]
    lapses: dict[int, _dt.datetime]
    offers: list
    joined: Optional[_dt.date]
    codes: set[str]
    referral: Optional[tuple]
    goals: dict[int, tuple]
    enrolled: Optional[_dt.datetime]
    paid: Optional[tuple]

    @classmethod
    def start(cls, member_id: str, attributes: dict, n_kinds: int, n_metrics: int) -> "MemberState":
        """A member before her first event."""
        self = cls()
        self.member_id = member_id
        self.attributes = attributes
        segs = attributes.get("segments") or ()
        if isinstance(segs, str):
            segs = (segs,)
        self.segments = frozenset(segs)
        b = attributes.get("birthday")
        self.birthday = _dt.date.fromisoformat(b) if isinstance(b, str) else b
        self.clock = None
        self.seen_levels, self.seen_tail, self.seen_oldest = (), {}, None
        self.kinds = [KindState.empty() for _ in range(n_kinds)]
        self.punches = {}
        self.visits = 0
        self.purchases = 0
        self.spend = 0  # lifetime amount paid, net of returns
        # per metric: a lifetime metric is [first moment, total] (or None before any contribution),
        # a windowed one a MetricLog
        self.metrics = [None] * n_metrics
        self.tier = -1
        self.next_review = None
        self.grace_until = None
        self.grace_target = -1
        self.caps = {}  # scope -> [period key, used]
        self.fired = {}  # rule index -> times a counting trigger fired
        # rule index -> qualifying visits, purchases or spend, for a counting trigger with conditions or filters
        self.counts = {}
        # win-back rule index -> the moment the member's current lapse fires it (mechanics/winback.py)
        self.lapses = {}
        # offers with a lifetime held: (reward, end, giving rule index), in the order given (mechanics/offers.py)
        self.offers = []
        self.joined = None  # the day of the first signup event (mechanics/moments.py)
        # goal or streak rule index -> the member's progress, immutable tuples (mechanics/goals.py)
        self.goals = {}
        # a referred member's referral: (referrer, when, rule indices still open) (mechanics/referral.py)
        self.referral = None
        # the moment of her first signup event, under `members join at signup` (mechanics/enrolment.py)
        self.enrolled = None
        # a paid tier (mechanics/fees.py): (tier index, the moment the paid period ends, the tier she holds by her
        # own qualifying), or None
        self.paid = None
        self.orders_levels, self.orders_tail, self.orders_oldest = (), {}, None
        self.rewards = {}  # reward -> count held
        # the codes the member has used (once each: runtime/mechanics/codes.py); replaced, never changed in place
        self.codes = set()
        self.due = None  # cache: earliest timer; None = unknown (not serialised)
        return self

    def copy(self) -> "MemberState":
        """A copy that shares what the evaluator never changes in place (batches, frozen levels
        of ids and orders, metric lists up to their length): O(what one event can touch)."""
        s = MemberState()
        s.member_id = self.member_id
        s.attributes = self.attributes
        s.segments = self.segments
        s.birthday = self.birthday
        s.clock = self.clock
        s.seen_levels = self.seen_levels
        s.seen_tail = self.seen_tail.copy()
        s.seen_oldest = self.seen_oldest
        kinds = self.kinds
        s.kinds = [kinds[0].copy()] if len(kinds) == 1 else [k.copy() for k in kinds]
        s.punches = self.punches.copy()
        s.visits = self.visits
        s.purchases = self.purchases
        s.spend = self.spend
        # a lifetime metric's [first moment, total] is replaced, never changed in place: shared
        metrics = self.metrics
        if len(metrics) == 1:  # _copy_metric, written out
            m = metrics[0]
            s.metrics = [m.copy() if type(m) is MetricLog else m]
        else:
            s.metrics = list(map(_copy_metric, metrics))
        s.tier = self.tier
        s.next_review = self.next_review
        s.grace_until = self.grace_until
        s.grace_target = self.grace_target
        # caps, fired, counts, lapses, goals and rewards are replaced, never changed in place (their writers build a
        # new dict, and a cap's [period key, used] a new list): shared, as most events write none of them
        s.caps = self.caps
        s.fired = self.fired
        s.counts = self.counts
        s.lapses = self.lapses
        s.offers = self.offers  # replaced, never changed in place
        s.joined = self.joined
        s.goals = self.goals
        s.referral = self.referral  # a tuple: replaced, never changed in place
        s.enrolled = self.enrolled
        s.paid = self.paid  # a tuple: replaced, never changed in place
        s.orders_levels = self.orders_levels  # records are shared: the evaluator copies one before changing it
        s.orders_tail = self.orders_tail.copy()
        s.orders_oldest = self.orders_oldest
        s.rewards = self.rewards
        s.codes = self.codes  # replaced, never changed in place (mechanics/codes.py)
        s.due = self.due
        return s

    # `counts` and `rewards` are shared by a state's copies (`copy`): raised or lowered by a new map, never in place
    def add_count(self, rule: int, n: int) -> None:
        """Rule `rule`'s own counter (spend or events it counted) changed by `n`."""
        self.counts = {**self.counts, rule: self.counts.get(rule, 0) + n}

    def add_rewards(self, reward: str, n: int) -> None:
        """`n` more of `reward` held (fewer, when negative)."""
        self.rewards = {**self.rewards, reward: self.rewards.get(reward, 0) + n}

    def seen_get(self, eid, default=None):
        """The seen event id's value (True, or its moment under a late-events window), or `default`."""
        return log_get(self.seen_levels, self.seen_tail, eid, default)

    def order(self, oid) -> Optional[OrderRecord]:
        return log_get(self.orders_levels, self.orders_tail, oid)

    def put_seen(self, eid, value) -> None:
        tail = self.seen_tail
        tail[eid] = value
        if len(tail) >= _TAIL:
            self.seen_levels = log_frozen(self.seen_levels, tail)
            self.seen_tail = {}

    def put_order(self, oid, record: OrderRecord) -> None:
        tail = self.orders_tail
        tail[oid] = record
        if len(tail) >= _TAIL:
            self.orders_levels = log_frozen(self.orders_levels, tail)
            self.orders_tail = {}

    def seen_dict(self) -> dict:
        return log_dict(self.seen_levels, self.seen_tail)

    def orders_dict(self) -> dict:
        return log_dict(self.orders_levels, self.orders_tail)


if TYPE_CHECKING:
    from loyalty.runtime.state_doc import StateDoc

# ---------------------------------------------------------------- JSON form
# The pydantic models of the JSON form live in runtime/state_doc.py: pydantic (~80 ms to import) is
# needed to read a state, never to simulate.


def state_to_doc(s: MemberState, program_identity: str, prog=None) -> dict:
    """The JSON form. With the program (`prog`), only what its acceptance windows still need is written
    (runtime/windows.py): the same document whenever memory was let go of."""
    from loyalty.runtime.windows import late_cutoff, metric_zones, return_cutoff

    def t(x):
        return x.isoformat() if x is not None else None

    late = late_cutoff(prog, s.clock) if prog is not None else None
    if prog is not None and prog.late_window is not None:
        ids = s.seen_dict()
        seen: object = {k: t(ids[k]) for k in sorted(ids) if late is None or ids[k] >= late}
    else:
        seen = sorted(s.seen_dict())
    returns_from = return_cutoff(prog, s.clock) if prog is not None else None
    zones = [metric_zones(prog, m, s.clock) for m in prog.metrics] if prog is not None else None
    return {
        "format": STATE_FORMAT_TIMED_IDS if isinstance(seen, dict) else STATE_FORMAT,
        "program": program_identity,
        "member_id": s.member_id,
        "attributes": s.attributes,
        "clock": t(s.clock),
        "seen": seen,
        "kinds": [
            {
                "batches": [
                    {"earned_at": t(b.earned_at), "available_at": t(b.available_at), "expires_at": t(b.expires_at),
                     "amount": b.amount, "order": b.order, "rule": b.rule}
                    for b in k.live()
                ],
                "debt": k.debt, "earned": k.earned, "redeemed": k.redeemed, "expired": k.expired,
                "clawed": k.clawed, "inactivity_deadline": t(k.inactivity_deadline),
                # only when an adjustment changed the balance: other states stay as they were
                **({"adjusted": k.adjusted} if k.adjusted else {}),
            }
            for k in s.kinds
        ],
        "punches": {str(k): v for k, v in sorted(s.punches.items())},
        "visits": s.visits,
        "purchases": s.purchases,
        "spend": s.spend,
        "metrics": [_metric_doc(m, t, zones[i] if zones else (None, None)) for i, m in enumerate(s.metrics)],
        "tier": s.tier,
        "next_review": t(s.next_review),
        "grace_until": t(s.grace_until),
        "grace_target": s.grace_target,
        "caps": {k: list(v) for k, v in sorted(s.caps.items())},
        "fired": {str(k): v for k, v in sorted(s.fired.items())},
        "counts": {str(k): v for k, v in sorted(s.counts.items())},
        # only when a lapse is open, so states of programs without win-back read as before
        **({"lapses": {str(k): t(v) for k, v in sorted(s.lapses.items())}} if s.lapses else {}),
        **({"offers": [[name, t(end), rule] for name, end, rule in s.offers]} if s.offers else {}),
        **({"joined": s.joined.isoformat()} if s.joined is not None else {}),
        # only once she has signed up under `members join at signup`, so other states read as before
        **({"enrolled": t(s.enrolled)} if s.enrolled is not None else {}),
        # only once a goal has progress, so states of programs without goals read as before
        **({"goals": {str(k): _progress_doc(v) for k, v in sorted(s.goals.items())}} if s.goals else {}),
        # only for a referred member, so other states read as before
        **({"referral": {"by": s.referral[0], "at": t(s.referral[1]), "open": list(s.referral[2])}}
           if s.referral is not None else {}),
        # only while a paid tier is held (or was), so other states read as before
        **({"paid": {"tier": s.paid[0], "until": t(s.paid[1]), "earned": s.paid[2]}} if s.paid is not None else {}),
        "orders": {
            oid: {
                "time": t(o.time), "gross": o.gross, "paid": o.paid, "lines": o.lines,
                "points": {str(k): v for k, v in sorted(o.points.items())},
                "punches": {str(k): v for k, v in sorted(o.punches.items())},
                "rewards": o.rewards, "returned": o.returned,
                "clawed": {str(k): v for k, v in sorted(o.clawed.items())},
                "punches_back": {str(k): v for k, v in sorted(o.punches_back.items())},
                "items": {str(k): v for k, v in sorted(o.items.items())},
                "by_amount": o.by_amount,
                "counted": {str(k): v for k, v in sorted(o.counted.items())},
            }
            for oid, o in s.orders_dict().items() if returns_from is None or o.time >= returns_from
        },
        "rewards": dict(sorted(s.rewards.items())),
        # only when the member has used a code: the states of other programs stay as they were
        **({"codes": sorted(s.codes)} if s.codes else {}),
    }


def _progress_doc(got: tuple) -> dict:
    """The JSON form of a goal's progress (mechanics/goals.py): a streak (period start, run) or a goal
    (period start or None, reached, entries)."""
    if len(got) == 2:
        return {"period": got[0].date().isoformat(), "run": got[1]}
    doc: dict = {"entries": [[m.isoformat(), a, o] for m, a, o in got[2]]}
    if got[0] is not None:
        doc["period"] = got[0].date().isoformat()
        doc["reached"] = got[1]
    return doc


def _progress_from_doc(d) -> tuple:
    """A goal's progress from its JSON form (`state_doc.GoalDoc`), as `_progress_doc` wrote it."""
    period = _dt.datetime.combine(d.period, _dt.time()) if d.period is not None else None
    if d.run is not None:
        return (period, d.run)
    return (period, d.reached, tuple((m, a, o) for m, a, o in d.entries))


def _metric_doc(m, t, zones=(None, None)) -> list:
    if m is None:
        return []
    if isinstance(m, MetricLog):
        return [[t(ct), v] for ct, v in m.entries_from(*zones)]
    return [[t(m[0]), m[1]]]


def state_from_doc(doc: "StateDoc", lifetime: Optional[list[bool]] = None, timed_ids: bool = False) -> MemberState:
    """`lifetime[i]` says whether metric i is a lifetime metric (default: all windowed); `timed_ids` whether the
    program has a late-events window (event ids keep their moment: a `loyalty-state/1` list of ids gets the
    state's clock, so they are forgotten one window after it)."""
    s = MemberState.start(doc.member_id, doc.attributes, 0, 0)
    s.clock = doc.clock
    ids: dict[str, Any]
    if not timed_ids:
        ids = dict.fromkeys(doc.seen, True)
    elif isinstance(doc.seen, dict):
        ids = dict(doc.seen)
    else:
        ids = dict.fromkeys(doc.seen, doc.clock)
    s.seen_levels = (ids,) if ids else ()
    for kd in doc.kinds:
        k = KindState.empty()
        k.replace_live([Batch(b.earned_at, b.available_at, b.expires_at, b.amount, b.order, b.rule)
                        for b in kd.batches])
        k.debt, k.earned, k.redeemed, k.expired, k.clawed = kd.debt, kd.earned, kd.redeemed, kd.expired, kd.clawed
        k.adjusted = kd.adjusted
        k.inactivity_deadline = kd.inactivity_deadline
        k.rebuild()
        s.kinds.append(k)
    s.punches = dict(doc.punches)
    s.visits, s.purchases, s.spend = doc.visits, doc.purchases, doc.spend
    s.metrics = []
    for i, m in enumerate(doc.metrics):
        if lifetime is not None and lifetime[i]:
            s.metrics.append([m[0][0], sum(v for _, v in m)] if m else None)
        else:
            log = MetricLog()
            for ct, v in sorted(m, key=lambda c: c[0]):  # stable: equal moments keep their order
                log.add(ct, v)
            s.metrics.append(log)
    s.tier, s.next_review, s.grace_until, s.grace_target = doc.tier, doc.next_review, doc.grace_until, doc.grace_target
    s.caps = {k: list(v) for k, v in doc.caps.items()}
    s.fired = dict(doc.fired)
    s.counts = dict(doc.counts)
    s.lapses = dict(doc.lapses)
    s.offers = [(name, end, rule) for name, end, rule in doc.offers]
    s.joined = doc.joined
    s.enrolled = doc.enrolled
    s.goals = {k: _progress_from_doc(v) for k, v in doc.goals.items()}
    s.referral = (doc.referral.by, doc.referral.at, tuple(doc.referral.open)) if doc.referral is not None else None
    s.paid = (doc.paid.tier, doc.paid.until, doc.paid.earned) if doc.paid is not None else None
    orders = {}
    for oid, od in doc.orders.items():
        o = OrderRecord(od.time, od.gross, od.paid, {k: list(v) for k, v in od.lines.items()})
        o.points, o.punches = dict(od.points), dict(od.punches)
        o.rewards = [list(r) for r in od.rewards]
        o.returned, o.clawed, o.punches_back = od.returned, dict(od.clawed), dict(od.punches_back)
        o.items = {k: list(v) for k, v in od.items.items()}
        o.by_amount = od.by_amount
        o.counted = dict(od.counted)
        orders[oid] = o
    s.orders_levels = (orders,) if orders else ()
    s.rewards = dict(doc.rewards)
    s.codes = set(doc.codes)
    return s
