"""Events at the edges of what Python's datetime and Decimal hold, and text that is not Unicode: refused with an
`EventError` naming the field, the same on the fast path (`program.apply`, runtime/fastevents.py) and the
validated one (`apply_general`, runtime/events.py), never a raw OverflowError, ValueError or decimal error, and
never a state that cannot be saved and loaded again."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import loyalty
from loyalty.runtime.events import EventError, parse_event
from loyalty.runtime.facade import apply_general

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = loyalty.load(ROOT / "benchmarks" / "programs" / "reference.loyalty")


def _both(event, expect_field: str):
    """Both paths, the event as a dict and (when pydantic reads it) as a model: the same EventError."""
    state = PROGRAM.new_member("m1")
    ledger = PROGRAM.new_budget_ledger()
    forms = [event]
    try:
        forms.append(parse_event(event))
    except EventError:
        pass
    seen = []
    for sent in forms:
        for run in (lambda: PROGRAM.apply(state, sent, ledger), lambda: apply_general(PROGRAM, state, sent, ledger)):
            with pytest.raises(EventError) as err:
                run()
            seen.append((err.value.field, str(err.value)))
    assert len(set(seen)) == 1, seen
    assert seen[0][0] == expect_field, seen


def _purchase(time="2024-03-01T10:00", amount="6.00", **extra) -> dict:
    return {"purchase": {"time": time, "order": "o1", "lines": [{"item": "coffee", "amount": amount}], **extra}}


EDGE_TIMES = ["0001-01-01T00:00+01:00", "0001-01-01T00:00", "0001-01-01T00:30:00Z", "9999-12-31T23:59-01:00",
              "9999-12-31T23:59", "9999-12-31T23:59:59+00:00", "0999-12-31T23:59", "9000-01-01T00:00"]


@pytest.mark.parametrize("time", EDGE_TIMES)
def test_a_time_at_the_edge_of_the_calendar_is_an_event_error(time):
    _both(_purchase(time=time), "time")
    _both({"tick": {"time": time}}, "time")
    _both({"visit": {"id": "v1", "time": time}}, "time")
    _both({"return": {"id": "r1", "time": time, "order": "o1"}}, "time")


def test_the_last_and_first_accepted_moments_apply():
    state = PROGRAM.new_member("m1")
    for time in ("1000-01-01T00:00", "8999-12-31T23:59"):
        PROGRAM.apply(state, {"tick": {"time": time}}, PROGRAM.new_budget_ledger())
        PROGRAM.apply(state, _purchase(time=time), PROGRAM.new_budget_ledger())


HUGE = ["1E+999999", Decimal("1E+999999"), Decimal("9E+99"), "123456789012345678901234567890.5",
        "12345678901234567890", Decimal("1E-999999"), Decimal("1.0000000000000000000000000000001")]


@pytest.mark.parametrize("amount", HUGE, ids=repr)
def test_an_amount_beyond_exact_money_is_an_event_error(amount):
    _both(_purchase(amount=amount), "lines.0.amount")
    _both({"return": {"id": "r1", "time": "2024-03-01T10:00", "order": "o1", "amount": amount}}, "amount")


def test_an_amount_with_more_digits_than_decimal_holds_is_not_rounded():
    """28 significant digits is Decimal's default precision: 1.0000000000000000000000000000001 NOK used to round
    to exactly 1 NOK and be accepted."""
    _both(_purchase(amount="1.0000000000000000000000000000001"), "lines.0.amount")


LONE = "\ud800"


@pytest.mark.parametrize("where", ["id", "order", "item", "category", "store", "channel"])
def test_text_with_a_lone_surrogate_is_refused_before_it_reaches_the_state(where):
    event = _purchase(id="p1", store="s", channel="c")
    body = event["purchase"]
    if where in ("item", "category"):
        body["lines"][0][where] = "coffee" + LONE
        field = f"lines.0.{where}"
    else:
        body[where] = "x" + LONE
        field = where
    _both(event, field)


@pytest.mark.parametrize("event", [
    {"visit": {"id": "v" + LONE, "time": "2024-03-01T10:00"}},
    {"action": {"id": "a1", "time": "2024-03-01T10:00", "name": "n" + LONE}},
    {"redemption": {"id": LONE, "time": "2024-03-01T10:00", "reward": "free coffee"}},
    {"return": {"id": "r1", "time": "2024-03-01T10:00", "order": "o" + LONE}},
    {"return": {"time": "2024-03-01T10:00", "order": "o1", "lines": [{"item": LONE}]}},
    {"referral": {"id": "f1", "time": "2024-03-01T10:00", "referred": LONE}},
], ids=lambda e: next(iter(e)))
def test_every_event_types_text_is_checked(event):
    state = PROGRAM.new_member("m1")
    for run in (PROGRAM.apply, lambda s, e, led: apply_general(PROGRAM, s, e, led)):
        with pytest.raises(EventError, match="surrogate|unicode"):
            run(state, event, PROGRAM.new_budget_ledger())


def test_a_member_id_or_attribute_with_a_lone_surrogate_is_refused():
    with pytest.raises(EventError, match="member_id"):
        PROGRAM.new_member("m" + LONE)
    with pytest.raises(EventError, match="attributes"):
        PROGRAM.new_member("m1", {"segments": ["s" + LONE]})
    with pytest.raises(EventError, match="attributes"):
        PROGRAM.new_member("m1", {"note": {"x": [LONE]}})
