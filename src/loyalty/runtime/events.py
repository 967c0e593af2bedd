"""Events: validated pydantic models at the API boundary, light slot objects inside.

`parse_event` accepts a model, or a dict in either the tagged form
`{"type": "purchase", ...}` or the compact form `{"purchase": {...}}`.
`to_internal` converts a validated event to an `Ev` (money in minor units, time
in program-local wall time); every problem raises `EventError` naming the field.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Annotated, Literal, NoReturn, Optional, Union, cast
from zoneinfo import ZoneInfo


from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from loyalty.runtime.internal import (EARLIEST, LATEST, MAX_CODES, MAX_MINOR, SURROGATE, TIME_RANGE,  # noqa: F401
                                      Ev, EventError, code_problem, exact_minor, has_surrogate)


def _unicode(value: str) -> str:
    if has_surrogate(value):
        raise ValueError(f"text {SURROGATE}")
    return value


# every text of an event may end up in the member's saved state (ids, orders, items): it must be Unicode
Text = Annotated[str, AfterValidator(_unicode)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Optional[Text] = Field(default=None, min_length=1, description="unique event id; resent events with a seen id are ignored")
    time: _dt.datetime


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    item: Text = Field(min_length=1)
    category: Optional[Text] = None  # taken from the program's catalog when omitted
    quantity: int = Field(default=1, ge=1)
    amount: Decimal = Field(ge=0, description="the line's total price, in the program currency")


def _code(value: str) -> str:
    why = code_problem(value)
    if why is not None:
        raise ValueError(why)
    return value


# a code as a purchase carries it (runtime/mechanics/codes.py): one word, as a history's codes column holds it
Code = Annotated[str, AfterValidator(_code)]


class Purchase(_Base):
    type: Literal["purchase"] = "purchase"
    order: Text = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)
    store: Optional[Text] = None
    channel: Optional[Text] = None
    codes: list[Code] = Field(default_factory=list, max_length=MAX_CODES,
                              description="codes the purchase carries (a promotion's, a coupon's)")


class ReturnLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    item: Text = Field(min_length=1)
    quantity: int = Field(default=1, ge=1)


class Return(_Base):
    """A return of an earlier order: whole (no lines, no amount), or partial by lines or by amount."""

    type: Literal["return"] = "return"
    order: Text = Field(min_length=1)
    lines: Optional[list[ReturnLine]] = None
    amount: Optional[Decimal] = Field(default=None, gt=0)


class Visit(_Base):
    type: Literal["visit"] = "visit"
    store: Optional[Text] = None


class Signup(_Base):
    type: Literal["signup"] = "signup"


class Referral(_Base):
    type: Literal["referral"] = "referral"
    referred: Optional[Text] = None


class Referred(_Base):
    """The member was referred by another member (`referred_by`): she is the new member of a two-sided referral."""

    type: Literal["referred"] = "referred"
    referred_by: Text = Field(min_length=1)


class ReferralQualified(_Base):
    """The member's referral of `referred` qualified for her rule `rule` (a `referral_qualified` effect of the
    referred member's purchase, delivered to the referrer)."""

    type: Literal["referral_qualified"] = "referral_qualified"
    referred: Text = Field(min_length=1)
    rule: Text = Field(min_length=1)


class Redemption(_Base):
    type: Literal["redemption"] = "redemption"
    reward: Text = Field(min_length=1)


class Action(_Base):
    type: Literal["action"] = "action"
    name: Text = Field(min_length=1)


class Adjustment(_Base):
    """Sets or adds to the member's points, tier or punch count, with a reason (runtime/mechanics/adjustments.py):
    exactly one of `points` (with `point_kind` when the program has several), `tier` or `punches` (with `rule`).
    `set`: the value is the new balance or count; otherwise it is added. A tier is always set (null: none)."""

    type: Literal["adjustment"] = "adjustment"
    reason: Text = Field(min_length=1, description="why: an opening balance, a goodwill credit, a correction")
    points: Optional[int] = None
    point_kind: Optional[Text] = None
    tier: Optional[Text] = None
    punches: Optional[int] = None
    rule: Optional[Text] = Field(None, description="the punch-card rule whose count `punches` adjusts")
    set: bool = False


class Fee(_Base):
    """The member pays a paid tier's fee (runtime/mechanics/fees.py): the tier for one period from now."""

    type: Literal["fee"] = "fee"
    tier: Text = Field(min_length=1, description="the paid tier (one with `fee ... per <period>`)")


class Tick(_Base):
    """The passage of time: expiry, maturing points and tier reviews up to `time`."""

    type: Literal["tick"] = "tick"


AnyEvent = Union[Purchase, Return, Visit, Signup, Referral, Referred, ReferralQualified, Redemption, Action, Adjustment,
                 Fee, Tick]
Event = Annotated[AnyEvent, Field(discriminator="type")]
_EVENT_ADAPTER: "TypeAdapter[AnyEvent]" = TypeAdapter(Event)
EVENT_TYPES = ("purchase", "return", "visit", "signup", "referral", "referred", "referral_qualified", "redemption", "action",
               "adjustment", "fee", "tick")


def parse_event(data: object) -> AnyEvent:
    if isinstance(data, BaseModel):  # a model from loyalty.events (checked when it was made)
        return cast(AnyEvent, data)
    if not isinstance(data, dict):
        raise EventError("", f"an event must be a mapping, not {type(data).__name__}")
    if "type" not in data and len(data) == 1:
        (kind, body), = data.items()
        if kind in EVENT_TYPES:
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise EventError(kind, "expected a mapping of the event's fields")
            data = {"type": kind, **body}
    try:
        return _EVENT_ADAPTER.validate_python(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if loc and loc[0] in EVENT_TYPES:  # the union's tag is noise in the path
            loc = loc[1:]
        if first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
            _raise("type", f"unknown event type; expected one of {', '.join(EVENT_TYPES)}")
        _raise(".".join(loc), first["msg"])


def _raise(field: str, message: str) -> NoReturn:
    raise EventError(field, message)


def to_minor(value: Decimal, exponent: int, field: str, currency: str) -> int:
    minor, why = exact_minor(value, exponent)
    if why == "too many decimals":
        raise EventError(field, f"{value} has more decimals than {currency} allows ({exponent})")
    if why:
        raise EventError(field, f"{value} is too large an amount (at most {MAX_MINOR} minor units of {currency})")
    return cast(int, minor)  # no reason given: a whole number of minor units


def local_time(t: _dt.datetime, tz: ZoneInfo) -> _dt.datetime:
    """The program-local wall time of `t`; EventError("time") outside the times loyalty accepts."""
    if t.tzinfo is not None:
        try:
            t = t.astimezone(tz).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise EventError("time", f"{t.isoformat()} is outside the times loyalty accepts ({TIME_RANGE})") from None
    if not EARLIEST <= t < LATEST:
        raise EventError("time", f"{t.isoformat()} is outside the times loyalty accepts ({TIME_RANGE})")
    return t


def default_id(event: AnyEvent) -> str:
    """Events without an id are identified by their content, so an identical resend is a duplicate."""
    if isinstance(event, Purchase):
        return f"purchase:{event.order}"
    if isinstance(event, Tick):
        return ""
    return f"{event.type}:" + event.model_dump_json(exclude={"id", "type"}, exclude_none=True)


def to_internal(event: AnyEvent, exponent: int, currency: str, tz: ZoneInfo, catalog: dict[str, Optional[str]]) -> Ev:
    t = local_time(event.time, tz)
    eid = event.id or default_id(event)
    if isinstance(event, Purchase):
        lines = []
        for i, ln in enumerate(event.lines):
            cat = ln.category if ln.category is not None else catalog.get(ln.item)
            lines.append((ln.item, cat, ln.quantity, to_minor(ln.amount, exponent, f"lines.{i}.amount", currency)))
        return Ev("purchase", eid, t, order=event.order, lines=tuple(lines), store=event.store, channel=event.channel,
                  codes=tuple(event.codes))
    if isinstance(event, Return):
        if event.lines is not None and event.amount is not None:
            raise EventError("amount", "a return gives either lines or an amount, not both")
        amount = to_minor(event.amount, exponent, "amount", currency) if event.amount is not None else None
        rl = tuple((ln.item, ln.quantity) for ln in event.lines) if event.lines is not None else None
        return Ev("return", eid, t, order=event.order, ret_lines=rl, ret_amount=amount)
    if isinstance(event, Visit):
        return Ev("visit", eid, t, store=event.store)
    if isinstance(event, Redemption):
        return Ev("redemption", eid, t, reward=event.reward)
    if isinstance(event, Action):
        return Ev("action", eid, t, name=event.name)
    if isinstance(event, Adjustment):
        return Ev("adjustment", eid, t, name=event.reason, adjust=adjustment_of(event))
    if isinstance(event, Fee):
        return Ev("fee", eid, t, name=event.tier)
    if isinstance(event, Tick):
        return Ev("tick", None, t)
    if isinstance(event, Referred):
        return Ev("referred", eid, t, name=event.referred_by)
    if isinstance(event, ReferralQualified):
        return Ev("referral_qualified", eid, t, name=event.rule)
    return Ev(event.type, eid, t)


def adjustment_of(event: "Adjustment") -> tuple[str, Optional[str], int, bool]:
    """(what, name, value, set) of an adjustment event: exactly one of points, tier and punches."""
    given = [f for f in ("points", "tier", "punches") if f in event.model_fields_set]
    if len(given) != 1:
        raise EventError("", "an adjustment gives exactly one of points, tier and punches"
                         + (f", not {' and '.join(given)}" if given else ""))
    what = given[0]
    if what == "points":
        if event.points is None:
            raise EventError("points", "a number of points is needed")
        return ("points", event.point_kind, event.points, event.set)
    if what == "tier":
        return ("tier", event.tier, 0, True)
    if event.punches is None or event.rule is None:
        raise EventError("rule" if event.rule is None else "punches", "punches need a number and the punch-card rule")
    return ("punches", event.rule, event.punches, event.set)
