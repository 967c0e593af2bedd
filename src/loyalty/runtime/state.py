"""Member state inside the evaluator: mutable objects with slots, copied by the
facade so that `Program.apply` stays a value-returning function.

The JSON form (`state_to_doc` / `state_from_doc`) is validated with pydantic
and carries the identity of the program that produced it, so resuming a member
with a different program is detected.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from pydantic import BaseModel, ConfigDict

STATE_FORMAT = "loyalty-state/1"


class Batch:
    """Points earned by one event for one point kind. Spending takes the oldest first."""

    __slots__ = ("earned_at", "available_at", "expires_at", "amount", "order", "rule")

    def __init__(self, earned_at, available_at, expires_at, amount, order, rule):
        self.earned_at: _dt.datetime = earned_at
        self.available_at: Optional[_dt.datetime] = available_at  # None once available
        self.expires_at: Optional[_dt.datetime] = expires_at
        self.amount: int = amount
        self.order: Optional[str] = order
        self.rule: int = rule

    def copy(self) -> "Batch":
        return Batch(self.earned_at, self.available_at, self.expires_at, self.amount, self.order, self.rule)


class KindState:
    """One point kind's ledger: batches (oldest first), debt, running totals."""

    __slots__ = ("batches", "debt", "earned", "redeemed", "expired", "clawed", "inactivity_deadline")

    def __init__(self):
        self.batches: list[Batch] = []
        self.debt = 0  # points owed (balance below zero)
        self.earned = 0
        self.redeemed = 0
        self.expired = 0
        self.clawed = 0
        self.inactivity_deadline: Optional[_dt.datetime] = None

    def copy(self) -> "KindState":
        k = KindState()
        k.batches = [b.copy() for b in self.batches]
        k.debt, k.earned, k.redeemed, k.expired, k.clawed = self.debt, self.earned, self.redeemed, self.expired, self.clawed
        k.inactivity_deadline = self.inactivity_deadline
        return k

    @property
    def available(self) -> int:
        return sum(b.amount for b in self.batches if b.available_at is None) - self.debt

    @property
    def pending(self) -> int:
        return sum(b.amount for b in self.batches if b.available_at is not None)


class OrderRecord:
    """What one order earned, so that a return can take it back."""

    __slots__ = ("time", "gross", "paid", "lines", "points", "punches", "rewards", "returned", "clawed", "punches_back",
                 "items", "by_amount")

    def __init__(self, time, gross, paid, lines):
        self.time: _dt.datetime = time
        self.gross: int = gross  # the order's amount as sent, minor units
        self.paid: int = paid  # after loyalty discounts
        self.lines: dict[str, list[int]] = lines  # item -> [quantity, gross amount, quantity returned]
        self.points: dict[int, int] = {}  # kind index -> points earned
        self.punches: dict[int, int] = {}  # rule index -> units counted
        self.rewards: list[list] = []  # [rule index, reward name]
        self.returned = 0  # gross amount returned so far
        self.clawed: dict[int, int] = {}  # kind index -> points taken back so far
        self.punches_back: dict[int, int] = {}
        self.items: dict[int, list[str]] = {}  # rule index -> the items its points or punches came from
        self.by_amount = False  # a return by amount was made: later shares are of the whole order

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
        return o


class MemberState:
    __slots__ = (
        "member_id", "attributes", "segments", "birthday", "clock", "seen", "kinds", "punches", "visits",
        "purchases", "spend", "metrics", "tier", "next_review", "grace_until", "grace_target", "caps",
        "fired", "orders", "rewards", "due",
    )

    def __init__(self, member_id: str, attributes: dict, n_kinds: int, n_metrics: int):
        self.member_id = member_id
        self.attributes = attributes
        segs = attributes.get("segments") or ()
        if isinstance(segs, str):
            segs = (segs,)
        self.segments = frozenset(segs)
        b = attributes.get("birthday")
        self.birthday: Optional[_dt.date] = _dt.date.fromisoformat(b) if isinstance(b, str) else b
        self.clock: Optional[_dt.datetime] = None
        self.seen: set[str] = set()
        self.kinds = [KindState() for _ in range(n_kinds)]
        self.punches: dict[int, int] = {}
        self.visits = 0
        self.purchases = 0
        self.spend = 0  # lifetime amount paid, net of returns
        self.metrics: list[list] = [[] for _ in range(n_metrics)]  # [[time, value], ...] per metric
        self.tier = -1
        self.next_review: Optional[_dt.datetime] = None
        self.grace_until: Optional[_dt.datetime] = None
        self.grace_target = -1
        self.caps: dict[str, list] = {}  # scope -> [period key, used]
        self.fired: dict[int, int] = {}  # rule index -> times a counting trigger fired
        self.orders: dict[str, OrderRecord] = {}
        self.rewards: dict[str, int] = {}  # reward -> count held
        self.due: Optional[_dt.datetime] = None  # cache: earliest timer; None = unknown (not serialised)

    def copy(self) -> "MemberState":
        s = MemberState.__new__(MemberState)
        s.member_id, s.attributes, s.segments, s.birthday = self.member_id, self.attributes, self.segments, self.birthday
        s.clock = self.clock
        s.seen = set(self.seen)
        s.kinds = [k.copy() for k in self.kinds]
        s.punches = dict(self.punches)
        s.visits, s.purchases, s.spend = self.visits, self.purchases, self.spend
        s.metrics = [[list(c) for c in m] for m in self.metrics]
        s.tier, s.next_review, s.grace_until, s.grace_target = self.tier, self.next_review, self.grace_until, self.grace_target
        s.caps = {k: list(v) for k, v in self.caps.items()}
        s.fired = dict(self.fired)
        s.orders = dict(self.orders)  # records are shared: the evaluator copies one before changing it
        s.rewards = dict(self.rewards)
        s.due = self.due
        return s


# ---------------------------------------------------------------- JSON form


class BatchDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    earned_at: _dt.datetime
    available_at: Optional[_dt.datetime]
    expires_at: Optional[_dt.datetime]
    amount: int
    order: Optional[str]
    rule: int


class KindDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batches: list[BatchDoc]
    debt: int
    earned: int
    redeemed: int
    expired: int
    clawed: int
    inactivity_deadline: Optional[_dt.datetime]


class OrderDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: _dt.datetime
    gross: int
    paid: int
    lines: dict[str, list[int]]
    points: dict[int, int]
    punches: dict[int, int]
    rewards: list[tuple[int, str]]
    returned: int
    clawed: dict[int, int]
    punches_back: dict[int, int]
    items: dict[int, list[str]]
    by_amount: bool


class StateDoc(BaseModel):
    """The JSON form of a member's state."""

    model_config = ConfigDict(extra="forbid")
    format: str
    program: str  # identity of the compiled program
    member_id: str
    attributes: dict
    clock: Optional[_dt.datetime]
    seen: list[str]
    kinds: list[KindDoc]
    punches: dict[int, int]
    visits: int
    purchases: int
    spend: int
    metrics: list[list[tuple[_dt.datetime, int]]]
    tier: int
    next_review: Optional[_dt.datetime]
    grace_until: Optional[_dt.datetime]
    grace_target: int
    caps: dict[str, tuple[str, int]]
    fired: dict[int, int]
    orders: dict[str, OrderDoc]
    rewards: dict[str, int]


def state_to_doc(s: MemberState, program_identity: str) -> dict:
    def t(x):
        return x.isoformat() if x is not None else None

    return {
        "format": STATE_FORMAT,
        "program": program_identity,
        "member_id": s.member_id,
        "attributes": s.attributes,
        "clock": t(s.clock),
        "seen": sorted(s.seen),
        "kinds": [
            {
                "batches": [
                    {"earned_at": t(b.earned_at), "available_at": t(b.available_at), "expires_at": t(b.expires_at),
                     "amount": b.amount, "order": b.order, "rule": b.rule}
                    for b in k.batches
                ],
                "debt": k.debt, "earned": k.earned, "redeemed": k.redeemed, "expired": k.expired,
                "clawed": k.clawed, "inactivity_deadline": t(k.inactivity_deadline),
            }
            for k in s.kinds
        ],
        "punches": {str(k): v for k, v in sorted(s.punches.items())},
        "visits": s.visits,
        "purchases": s.purchases,
        "spend": s.spend,
        "metrics": [[[t(c[0]), c[1]] for c in m] for m in s.metrics],
        "tier": s.tier,
        "next_review": t(s.next_review),
        "grace_until": t(s.grace_until),
        "grace_target": s.grace_target,
        "caps": {k: list(v) for k, v in sorted(s.caps.items())},
        "fired": {str(k): v for k, v in sorted(s.fired.items())},
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
            }
            for oid, o in s.orders.items()
        },
        "rewards": dict(sorted(s.rewards.items())),
    }


def state_from_doc(doc: StateDoc) -> MemberState:
    s = MemberState(doc.member_id, doc.attributes, 0, 0)
    s.clock = doc.clock
    s.seen = set(doc.seen)
    for kd in doc.kinds:
        k = KindState()
        k.batches = [Batch(b.earned_at, b.available_at, b.expires_at, b.amount, b.order, b.rule) for b in kd.batches]
        k.debt, k.earned, k.redeemed, k.expired, k.clawed = kd.debt, kd.earned, kd.redeemed, kd.expired, kd.clawed
        k.inactivity_deadline = kd.inactivity_deadline
        s.kinds.append(k)
    s.punches = dict(doc.punches)
    s.visits, s.purchases, s.spend = doc.visits, doc.purchases, doc.spend
    s.metrics = [[[c[0], c[1]] for c in m] for m in doc.metrics]
    s.tier, s.next_review, s.grace_until, s.grace_target = doc.tier, doc.next_review, doc.grace_until, doc.grace_target
    s.caps = {k: list(v) for k, v in doc.caps.items()}
    s.fired = dict(doc.fired)
    for oid, od in doc.orders.items():
        o = OrderRecord(od.time, od.gross, od.paid, {k: list(v) for k, v in od.lines.items()})
        o.points, o.punches = dict(od.points), dict(od.punches)
        o.rewards = [list(r) for r in od.rewards]
        o.returned, o.clawed, o.punches_back = od.returned, dict(od.clawed), dict(od.punches_back)
        o.items = {k: list(v) for k, v in od.items.items()}
        o.by_amount = od.by_amount
        s.orders[oid] = o
    s.rewards = dict(doc.rewards)
    return s
