"""Bounded state (docs/semantics.md, "What the state keeps, and for how long"): `returns accepted within`
and `late events accepted within` in the program block.

Properties over generated histories of example programs with both windows added:
- a state saved to JSON and loaded before every event gives exactly the effects and state of one kept in
  memory (what is forgotten is decided by moments, never by when memory was let go of);
- the windows only refuse: fed the events the bounded program accepted, the same program without windows
  gives the same effects;
- the saved state holds no event id, order or metric contribution the windows no longer need.
Examples pin the documented results of a late event, a late return, and an order id reused after the window."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.runtime.events import EventError

from event_strategies import member_histories

PROGRAMS = Path(__file__).resolve().parents[1] / "examples" / "programs"
NAMES = ("coffee_stars", "beauty_points", "gym", "grocery_club", "bookstore", "car_wash")


def _with_windows(text: str, returns: str, late: str) -> str:
    """The program with these windows (instead of any it declares)."""
    text = "".join(line for line in text.splitlines(keepends=True) if " accepted within " not in line)
    head, rest = text.split("program ", 1)
    brace = rest.index("{") + 1
    return head + "program " + rest[:brace] + f"\n  returns accepted within {returns}\n" \
        f"  late events accepted within {late}" + rest[brace:]


@lru_cache(maxsize=None)
def plain(name: str) -> loyalty.Program:
    """The example without acceptance windows (bookstore declares some)."""
    text = (PROGRAMS / f"{name}.loyalty").read_text(encoding="utf-8")
    return loyalty.compile_source("".join(line for line in text.splitlines(keepends=True)
                                          if " accepted within " not in line), f"{name}.loyalty")


@lru_cache(maxsize=None)
def bounded(name: str, returns: str = "30 days", late: str = "3 days") -> loyalty.Program:
    return loyalty.compile_source(_with_windows((PROGRAMS / f"{name}.loyalty").read_text(encoding="utf-8"),
                                                returns, late), f"{name}-bounded.loyalty")


@st.composite
def cases(draw):
    name = draw(st.sampled_from(NAMES))
    windows = draw(st.sampled_from([("30 days", "3 days"), ("1 week", "1 day"), ("6 months", "2 weeks")]))
    return name, windows, draw(member_histories(plain(name), max_events=18))


def _apply(p, state, ev, ledger):
    try:
        return p.apply(state, ev, ledger)
    except EventError as err:
        return None, err


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_saved_and_loaded_before_every_event_equals_kept_in_memory_and_windows_only_refuse(case):
    name, windows, history = case
    p, q = bounded(name, *windows), plain(name)
    kept = p.new_member(history.member, history.attributes)
    saved = kept.to_json()
    unbounded = q.new_member(history.member, history.attributes)
    ledgers = p.new_budget_ledger(), p.new_budget_ledger(), q.new_budget_ledger()
    ids, orders = set(), set()
    for ev in history.events:
        a, out_a = _apply(p, kept, ev, ledgers[0])
        b, out_b = _apply(p, p.state_from_json(saved), ev, ledgers[1])
        body = next(iter(ev.values()))
        if a is None:
            assert b is None and str(out_a) == str(out_b)  # refused alike, with the same words
            continue
        assert out_a == out_b
        assert a.to_json() == b.to_json()
        if unbounded is not None:
            c, out_c = _apply(q, unbounded, ev, ledgers[2])
            if c is not None and _unplaced(out_c) == _unplaced(out_a):
                unbounded = c  # the same effects (the windows' two lines move every later source line)
            else:
                # the one way a window accepts what the unbounded program does not: an event id, or a purchase's
                # order id, met again after the window forgot it (a new event); the two part from here
                assert body.get("id") in ids or (next(iter(ev)) == "purchase" and body.get("order") in orders)
                unbounded = None
        ids.add(body.get("id"))
        orders.add(body.get("order"))
        kept, saved = a, b.to_json()
    _check_bounded(p, kept)


def _unplaced(effects) -> list:
    return [e._replace(line=0, column=0) for e in effects]


def _check_bounded(p, state) -> None:
    doc = json.loads(state.to_json())
    clock = dt.datetime.fromisoformat(doc["clock"]) if doc["clock"] else None
    if clock is None:
        return
    from loyalty.runtime.windows import late_cutoff, return_cutoff

    late, returns = late_cutoff(p.compiled, clock), return_cutoff(p.compiled, clock)
    assert doc["format"] == "loyalty-state/2"
    assert all(dt.datetime.fromisoformat(t) >= late for t in doc["seen"].values())
    assert all(dt.datetime.fromisoformat(o["time"]) >= returns for o in doc["orders"].values())


def _buy(p, state, order, day, hour=10, eid=None):
    ev = {"purchase": {"time": f"2025-03-{day:02d}T{hour:02d}:00", "order": order,
                       "lines": [{"item": "latte", "quantity": 1, "amount": "4.50"}]}}
    if eid:
        ev["purchase"]["id"] = eid
    return p.apply(state, ev)


def test_a_late_event_is_refused_naming_time_and_a_resend_within_the_window_is_a_duplicate():
    p = bounded("coffee_stars", "30 days", "3 days")
    s, _ = _buy(p, p.new_member("m1"), "o1", 1, eid="e1")
    s, _ = _buy(p, s, "o2", 10, eid="e2")
    _, out = _buy(p, s, "o2", 10, eid="e2")  # a resend
    assert [e.kind for e in out] == ["duplicate_ignored"]
    with pytest.raises(EventError) as err:  # e1 again, 9 days after the member's latest event: refused
        _buy(p, s, "o1", 1, eid="e1")
    assert err.value.field == "time"
    assert "is more than 3 days before the member's latest event (2025-03-10 10:00:00)" in str(err.value)
    later, _ = _buy(p, s, "o3", 8, eid="e3")  # 2 days late: accepted, at its own moment
    assert later.pending("stars") == 2 * s.pending("stars") and later.balance("stars") == s.balance("stars")


def test_a_return_outside_the_window_is_refused_and_the_order_id_may_be_used_again():
    p = bounded("coffee_stars", "7 days", "1 day")
    s, _ = _buy(p, p.new_member("m1"), "o1", 1)
    ok, out = p.apply(s, {"return": {"id": "r1", "time": "2025-03-08T09:00", "order": "o1"}})
    assert any(e.kind == "points_clawed_back" for e in out)
    s, _ = _buy(p, s, "o2", 9)
    for state in (s, p.state_from_json(s.to_json())):  # the same words whether the record is in memory or not
        with pytest.raises(EventError) as err:
            p.apply(state, {"return": {"id": "r2", "time": "2025-03-09T11:00", "order": "o1"}})
        assert err.value.field == "order"
        assert str(err.value) == ("order: member 'm1' has no purchase with order id 'o1' within the return window "
                                  "(the program accepts returns within 7 days)")
    again, out = _buy(p, s, "o1", 10)  # o1 is out of the window: a new purchase may use the id
    assert any(e.kind == "points_earned" for e in out)
    with pytest.raises(EventError, match="already has a purchase with order id 'o2'"):
        _buy(p, again, "o2", 10, hour=12)


def test_the_state_stays_bounded_as_the_history_grows():
    p = bounded("coffee_stars", "30 days", "3 days")
    s = p.new_member("m1")
    sizes = {}
    start = dt.datetime(2025, 3, 1, 8)
    for i in range(1200):
        t = start + dt.timedelta(hours=12 * i)
        s, _ = p.apply(s, {"purchase": {"id": f"e{i}", "time": t.isoformat(), "order": f"o{i}",
                                        "lines": [{"item": "latte", "quantity": 1, "amount": "4.50"}]}})
        if i in (400, 1199):
            doc = json.loads(s.to_json())
            sizes[i] = (len(doc["seen"]), len(doc["orders"]), sum(len(m) for m in doc["metrics"]))
    # 2 events a day: 3 days of ids, 30 days of orders, the last 3 days of contributions (each purchase adds up
    # to 4: its rules' stars) and two sums; the same after 400 events as after 1,200
    assert sizes[1199][:2] == sizes[400][:2]
    assert sizes[1199][0] <= 8 and sizes[1199][1] <= 62 and sizes[1199][2] <= 2 + 8 * 4
    assert abs(sizes[1199][2] - sizes[400][2]) <= 4


def test_a_state_of_format_1_loads_under_a_program_with_windows():
    q, p = plain("coffee_stars"), bounded("coffee_stars")
    s, _ = _buy(q, q.new_member("m1"), "o1", 1, eid="e1")
    doc = json.loads(s.to_json())
    assert doc["format"] == "loyalty-state/1" and doc["seen"] == ["e1"]
    doc["program"] = p.identity  # as a store would hold it, saved before the windows were declared
    loaded = p.state_from_json(json.dumps(doc))
    assert json.loads(loaded.to_json())["seen"] == {"e1": "2025-03-01T10:00:00"}  # known from the clock on
    _, out = _buy(p, loaded, "o1", 1, eid="e1")
    assert [e.kind for e in out] == ["duplicate_ignored"]


def test_windows_round_trip_through_the_formatter_and_the_compiled_document():
    from loyalty.frontend import check_text
    from loyalty.syntax.formatter import format_program

    text = _with_windows((PROGRAMS / "car_wash.loyalty").read_text(encoding="utf-8"), "90 days", "1 week")
    checked = check_text(text, "x.loyalty")
    assert checked.diagnostics == []
    formatted = format_program(checked.program)
    assert "  returns accepted within 90 days\n  late events accepted within 1 week\n" in formatted
    p = loyalty.compile_source(formatted)
    assert p.compiled.doc["windows"] == {"returns": {"amount": 90, "unit": "day"},
                                         "late_events": {"amount": 1, "unit": "week"}}
    assert loyalty.load_compiled(p.to_json()).identity == p.identity
    twice = text.replace("  returns accepted within 90 days\n", "  returns accepted within 90 days\n"
                                                                 "  returns accepted within 10 days\n")
    codes = [d.code for d in check_text(twice, "x.loyalty").diagnostics]
    assert codes == ["LOY105"]
