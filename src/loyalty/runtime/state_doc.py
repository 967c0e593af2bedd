"""The JSON form of a member's state, validated with pydantic (runtime/state.py converts to and from it)."""

from __future__ import annotations

import datetime as _dt
from typing import Optional, Union

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
    adjusted: int = 0  # absent in states without adjustments (and those saved before them)
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


class GoalDoc(BaseModel):
    """A goal's progress (runtime/mechanics/goals.py): a streak has `period` and `run`; a goal `entries`, and
    in a calendar period also `period` and `reached`."""

    model_config = ConfigDict(extra="forbid")
    period: Optional[_dt.date] = None  # the start of the calendar period
    run: Optional[int] = None  # a streak's periods in a row
    reached: bool = False
    entries: list[tuple[_dt.datetime, int, Optional[str]]] = []  # (moment, amount, order id)


class PaidDoc(BaseModel):
    """A paid tier (runtime/mechanics/fees.py): the tier paid for and the end of the period paid."""

    model_config = ConfigDict(extra="forbid")
    tier: int
    until: _dt.datetime
    earned: int  # the tier she holds by her own qualifying (-1: none)


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
    seen: Union[list[str], dict[str, _dt.datetime]]  # a dict (id -> moment) in loyalty-state/2
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
    enrolled: Optional[_dt.datetime] = None  # her first signup under `members join at signup`; absent in older states
    goals: dict[int, GoalDoc] = {}  # absent in states written before goals
    referral: Optional[ReferralDoc] = None  # a referred member's pending referral; absent in older states
    paid: Optional[PaidDoc] = None  # a paid tier and the end of its period (mechanics/fees.py); absent in older states
    orders: dict[str, OrderDoc]
    rewards: dict[str, int]
    codes: list[str] = []  # the codes the member has used (absent in states saved before codes)
