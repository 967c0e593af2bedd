"""The JSON form of a member's state, validated with pydantic (runtime/state.py converts to and from it)."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from pydantic import BaseModel, ConfigDict


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
    counted: dict[int, int] = {}


class ReferralDoc(BaseModel):
    """A referred member's referral: who referred her, when, and the qualified rules still open."""

    model_config = ConfigDict(extra="forbid")
    by: str
    at: _dt.datetime
    open: list[int]


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
    counts: dict[int, int] = {}
    lapses: dict[int, _dt.datetime] = {}  # absent in states written before win-back
    offers: list[tuple[str, _dt.datetime, int]] = []  # absent in states written before offers with a lifetime
    joined: Optional[_dt.date] = None  # the day of the first signup event, for anniversaries
    referral: Optional[ReferralDoc] = None  # a referred member's pending referral; absent in older states
    orders: dict[str, OrderDoc]
    rewards: dict[str, int]
