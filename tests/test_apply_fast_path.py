"""`program.apply`'s fast path equals the general path (issue 5: apply p50 under 20 µs).

`Program.apply` reads a plain event dict without pydantic (runtime/fastevents.py) and evaluates with the
program's specialised plan (runtime/plan.py: the faster variant of each mechanic's step, chosen per rule);
`facade.apply_general` is the general path (pydantic validation, `evaluator.apply_event`: the same plan
with every rule's general step). Both must give the same effects (kind, every field, the rule, line
and column they name, their order), the same rejections (field and message) and the same state JSON,
event after event, on generated programs and histories, on every example and benchmark program, with
events as dicts and as validated models; and the fast reading of a dict must give exactly the `Ev` of
the validated path, or leave the dict to it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import loyalty
from event_strategies import member_histories, vectorisable, with_ledger_settings
from loyalty.frontend import check_text
from loyalty.runtime.events import EventError, parse_event, to_internal
from loyalty.runtime.facade import apply_general
from loyalty.runtime.fastevents import dict_to_ev
from loyalty.runtime.internal import Ev
from loyalty.syntax.formatter import format_program
from strategies import valid_programs

ROOT = Path(__file__).resolve().parents[1]
PROGRAM_FILES = sorted((ROOT / "examples" / "programs").glob("*.loyalty")) + sorted(
    (ROOT / "benchmarks" / "programs").glob("*.loyalty"))
GENERATED = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FIXED = settings(GENERATED, max_examples=12)


def outcome(fn):
    """What one apply did: the effects, every field, or the rejection."""
    try:
        state, effects = fn()
    except EventError as err:
        return None, ("rejected", err.field, str(err))
    except Exception as err:  # anything else must be the same too
        return None, ("raised", type(err).__name__, str(err))
    return state, [e.fields() for e in effects]


def replay_both(program: loyalty.Program, history, as_models: bool = False) -> int:
    """Both paths through the history, compared after every event; returns how many events were applied."""
    fast = general = None
    fast_ledger = program.new_budget_ledger()
    general_ledger = program.new_budget_ledger()
    fast = program.new_member(history.member, history.attributes)
    general = program.new_member(history.member, history.attributes)
    applied = 0
    for i, ev in enumerate(history.events):
        sent = ev
        if as_models:
            try:
                sent = parse_event(ev)
            except EventError:
                pass  # stays a dict: rejected by both
        new_fast, a = outcome(lambda: program.apply(fast, sent, fast_ledger))
        new_general, b = outcome(lambda: apply_general(program, general, sent, general_ledger))
        assert a == b, f"event {i}: {ev!r}"
        if new_fast is not None:
            applied += 1
            assert new_fast.to_json() == new_general.to_json(), f"state after event {i}: {ev!r}"
            fast, general = new_fast, new_general
    assert fast_ledger.to_json() == general_ledger.to_json()
    return applied


def compile_text(text: str, strict: bool = True) -> loyalty.Program:
    if strict:
        checked = check_text(text, "generated.loyalty")
        assert checked.program is not None and not checked.diagnostics, text
    return loyalty.compile_source(text, "generated.loyalty")


# ------------------------------------------------------------------ evaluation


@GENERATED
@given(st.data())
def test_the_fast_path_equals_the_general_path_on_generated_programs(data):
    generated = data.draw(valid_programs(), label="program")
    shape = data.draw(st.sampled_from(["as generated", "ledger settings", "vectorisable"]), label="shape")
    if shape == "ledger settings":
        generated = data.draw(with_ledger_settings(generated), label="with ledger settings")
    elif shape == "vectorisable":  # what the fast path writes out: punch cards, earning per spend, tiers
        generated = vectorisable(generated)
        if data.draw(st.booleans(), label="ledger settings too"):
            generated = data.draw(with_ledger_settings(generated), label="with ledger settings")
    text = format_program(generated)
    program = compile_text(text, strict=shape == "as generated")
    history = data.draw(member_histories(program, max_events=20), label="history")
    note(f"program:\n{text}\nattributes: {history.attributes!r}\nevents:\n" + "\n".join(map(repr, history.events)))
    replay_both(program, history, as_models=data.draw(st.booleans(), label="as models"))


@pytest.mark.parametrize("path", PROGRAM_FILES, ids=lambda p: p.stem)
@FIXED
@given(data=st.data())
def test_the_fast_path_equals_the_general_path_on_every_example_program(path, data):
    program = _load(path)
    history = data.draw(member_histories(program, max_events=30), label="history")
    note("events:\n" + "\n".join(map(repr, history.events)))
    replay_both(program, history, as_models=data.draw(st.booleans(), label="as models"))


_LOADED: dict = {}


def _load(path: Path) -> loyalty.Program:
    if path not in _LOADED:
        _LOADED[path] = loyalty.load(path)
    return _LOADED[path]


def _long_history(n: int) -> list[dict]:
    """A member of the reference program long enough to reach gold, see points expire and return orders."""
    events = []
    t = dt.datetime(2024, 1, 1, 9, 0)
    for i in range(n):
        t += dt.timedelta(days=1, minutes=7 * i % 300)
        if i % 17 == 16:
            events.append({"type": "return", "id": f"r{i}", "time": t.isoformat(), "order": f"o{i - 3}",
                           **({"lines": [{"item": "basic wash"}]} if i % 2 else {})})
        elif i % 23 == 22:
            events.append({"return": {"time": t.isoformat(), "order": f"o{i - 5}", "amount": "10.50"}})
        else:
            lines = [{"item": "basic wash", "category": "washes", "quantity": 1 + i % 3,
                      "amount": f"{35 * (1 + i % 3)}.00"}]
            if i % 4 == 0:
                lines.append({"item": "wash and wax", "amount": "550.00", "quantity": 10})
            if i % 5 == 0:
                lines.append({"item": "coffee", "category": "extras", "amount": "6"})
            events.append({"type": "purchase", "time": t.isoformat(), "order": f"o{i}", "lines": lines,
                           "store": "Store 1", **({"id": f"p{i}"} if i % 3 == 0 else {})})
        if i % 29 == 28:
            events.append(events[-2])  # a resend
    return events


def test_the_reference_program_over_a_long_member_on_both_paths():
    from event_strategies import MemberHistory

    program = _load(ROOT / "benchmarks" / "programs" / "reference.loyalty")
    history = MemberHistory("m1", {}, _long_history(700))
    applied = replay_both(program, history)
    assert applied > 650
    state = program.new_member("m1")
    for ev in history.events:
        try:
            state, _ = program.apply(state, ev)
        except EventError:
            pass
    assert state.tier == "gold" and state.totals()["expired"] > 0 and state.totals()["clawed_back"] > 0


def test_a_state_applied_twice_gives_the_same_on_both_paths():
    """apply never changes the state it is given: two different events from one state, on either path."""
    program = _load(ROOT / "benchmarks" / "programs" / "reference.loyalty")
    state = program.new_member("m1")
    for ev in _long_history(120):
        try:
            state, _ = program.apply(state, ev)
        except EventError:
            pass
    before = state.to_json()
    a = {"purchase": {"time": "2024-06-01T10:00", "order": "x1", "lines": [{"item": "basic wash", "amount": "35"}]}}
    b = {"purchase": {"time": "2024-06-02T10:00", "order": "x2", "lines": [{"item": "coffee", "amount": "6.00"}]}}
    fa, fb = program.apply(state, a), program.apply(state, b)
    ga, gb = apply_general(program, state, a), apply_general(program, state, b)
    assert state.to_json() == before
    assert fa.effects == ga.effects and fa.state.to_json() == ga.state.to_json()
    assert fb.effects == gb.effects and fb.state.to_json() == gb.state.to_json()


EXACT = """
program "exact moments" {
  currency NOK
  timezone "Europe/Oslo"
}

points "points" {
  cost 0.01 NOK each
  expire 7 days after earning
}

points "stamps" {
  cost 0.01 NOK each
  available 2 days after purchase
  expire after 3 weeks without a purchase
}

catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
}

rule "every 4th wash is free" {
  every 4th item in category "washes" is free
}

rule "a point per krone" {
  earn 1 point per 1 NOK
}

rule "a stamp per 10 kroner" {
  earn 1 stamps per 10 NOK
}

tiers by points earned in the last 4 weeks {
  tier "gold" from 300 points {
    earn 2x points
  }
  downgrade at the end of each month with 1 week grace
}
"""


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1, 2, 7, 21]), st.sampled_from(["10:00", "00:00"]),
                          st.integers(0, 400), st.sampled_from(["purchase", "purchase", "tick", "return"])),
                min_size=5, max_size=40))
def test_events_at_the_very_moment_something_falls_due(steps):
    """Purchases on whole days at the hour earlier ones earned at (or at midnight, when tier reviews fall):
    expiry, maturing, inactivity and reviews due exactly at an event's moment run before it on both paths."""
    from event_strategies import MemberHistory

    key = Path("exact moments")
    if key not in _LOADED:
        _LOADED[key] = loyalty.load(EXACT)
    day = dt.date(2024, 1, 29)
    events = []
    for i, (days, hour, amount, typ) in enumerate(steps):
        day += dt.timedelta(days=days)
        stamp = f"{day.isoformat()}T{hour}"
        if typ == "purchase":
            events.append({"purchase": {"time": stamp, "order": f"o{i}", "lines": [
                {"item": "basic wash", "quantity": 1 + amount % 3, "amount": f"{amount}.00"}]}})
        elif typ == "return" and any("purchase" in e for e in events):
            order = next(e["purchase"]["order"] for e in reversed(events) if "purchase" in e)
            events.append({"return": {"time": stamp, "order": order, "id": f"r{i}"}})
        else:
            events.append({"tick": {"time": stamp}})
    replay_both(_LOADED[key], MemberHistory("m1", {}, events))


# ------------------------------------------------------------------ reading a dict


def ev_tuple(ev: Ev) -> tuple:
    return tuple((name, getattr(ev, name)) for name in Ev.__slots__)


def check_reading(program: loyalty.Program, data) -> None:
    """dict_to_ev gives the validated path's Ev, or None; None whenever the validated path refuses."""
    p = program.compiled
    try:
        expected = ev_tuple(to_internal(parse_event(data), p.exponent, p.currency, p.tz, p.catalog))
    except Exception as err:  # refused (or raised) by the validated path: the fast reading must leave it
        expected = err
    got = dict_to_ev(data, p.exponent, p.tz, p.catalog)
    if isinstance(expected, Exception):
        assert got is None, f"{data!r}: the validated path says {expected!r}"
    elif got is not None:
        assert ev_tuple(got) == expected, repr(data)
    # and through apply, the same outcome either way
    state = program.new_member("m1")
    a = outcome(lambda: program.apply(state, data))[1]
    b = outcome(lambda: apply_general(program, state, data))[1]
    assert a == b, repr(data)


TIMES = [
    "2024-03-01T08:54", "2024-03-01 08:54", "2024-03-01t08:54", "2024-03-01T08:54:07", "2024-03-01T08:54:07.5",
    "2024-03-01T08:54:07.123", "2024-03-01T08:54:07.123456", "2024-03-01T08:54:07.1234567", "2024-03-01T08:54Z",
    "2024-03-01T08:54z", "2024-03-01T08:54+01:00", "2024-03-01T08:54-05:30", "2024-03-01T08:54+0100",
    "2024-03-01T08:54+01", "2024-03-01T24:00", "2024-02-30T08:54", "2024-03-01T08:54:60", "2024-03-01T08:54+24:00",
    "2024-03-01T08:54+23:59", "0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00", "2024-03-01", "20240301T0854",
    "2024-03-01T08:54:07,5", "2024-03-01T08", "2024-03-01T08:54 ", " 2024-03-01T08:54", "\u0662024-03-01T08:54",
    "2024-03-31T02:30", "2024-10-27T02:30", "2024-03-01T08:5a", "2024-0a-01T08:54", "2024-03-01T08:54:0\u0665",
    "+024-03-01T08:54", "2024-03-01X08:54", "2024-03-01T08-54", "2024-03-01T08:54:07Z", "", 0, 1700000000, 1.5,
    None, dt.datetime(2024, 3, 1, 8, 54),
    dt.datetime(2024, 3, 1, 8, 54, tzinfo=dt.timezone(dt.timedelta(hours=-3))), dt.date(2024, 3, 1),
]
AMOUNTS = [
    "35.00", "35", "35.5", "0", "0.00", "007.50", "35.001", "35.000", "35.", ".5", "1e2", "1E+2", " 35", "35 ",
    "+35", "-35", "-0", "1_000", "\u0663\u0665", "NaN", "Infinity", "", "99999999999999999999999.99",
    "123456789012345678901234567890", 35, 0, -1, 10**20, True, 35.5, Decimal("35.50"), Decimal("35.505"), None, [],
    # refused alike on both paths (they overflowed, read as 0 or were rounded at 28 digits)
    "1e999999999", "1e-999999999", "1.00000000000000000000000000001", "99999999999999999999999999999999",
    "92233720368547758.07", "92233720368547758.08", Decimal("1E+999999999"), Decimal("1E-999999999"), "35.0000000000000",
]
QUANTITIES = [1, 3, 0, -1, True, "2", 2.0, None, 10**30]
TEXTS = ["x", "", 5, None, b"bytes", ["x"], "basic wash", "Store 1"]


@st.composite
def event_dicts(draw):
    """Event dicts near the well-formed ones: every field swapped now and then for an odd value."""
    typ = draw(st.sampled_from(["purchase", "return", "visit", "signup", "referral", "redemption", "action", "tick",
                                "nonsense"]))
    body: dict = {"time": draw(st.sampled_from(TIMES))}
    if draw(st.booleans()):
        body["id"] = draw(st.sampled_from(TEXTS))
    if typ == "purchase" or (typ == "return" and draw(st.booleans())):
        lines = []
        for _ in range(draw(st.integers(0, 3))):
            ln: dict = {"item": draw(st.sampled_from(TEXTS + ["coffee", "wash and wax"]))}
            if typ == "purchase":
                ln["amount"] = draw(st.sampled_from(AMOUNTS))
                if draw(st.booleans()):
                    ln["category"] = draw(st.sampled_from(TEXTS + ["washes"]))
            if draw(st.booleans()):
                ln["quantity"] = draw(st.sampled_from(QUANTITIES))
            if draw(st.integers(0, 9)) == 0:
                ln["extra"] = 1
            lines.append(ln)
        body["lines"] = draw(st.sampled_from([lines, lines, tuple(lines), None, "x"]))
    if typ in ("purchase", "return"):
        body["order"] = draw(st.sampled_from(["o1", "o1", "", 7, None]))
    if typ == "return" and draw(st.booleans()):
        body["amount"] = draw(st.sampled_from(AMOUNTS))
    for key, values in (("store", TEXTS), ("channel", TEXTS), ("reward", TEXTS), ("name", TEXTS),
                        ("referred", TEXTS), ("bogus", [1])):
        if draw(st.integers(0, 4)) == 0:
            body[key] = draw(st.sampled_from(values))
    form = draw(st.sampled_from(["tagged", "compact", "compact with type", "compact, other type", "not a dict"]))
    if form == "tagged":
        return {"type": typ, **body}
    if form == "compact":
        return {typ: body}
    if form == "compact with type":
        return {typ: {"type": typ, **body}}
    if form == "compact, other type":
        return {typ: {"type": "tick", **body}}
    return draw(st.sampled_from([[("type", typ)], "purchase", None, {typ: None}, {typ: [body]}, {}]))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(event_dicts())
def test_the_fast_reading_of_a_dict_is_the_validated_one_or_none(data):
    check_reading(_load(ROOT / "benchmarks" / "programs" / "reference.loyalty"), data)


@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_every_odd_time_reads_the_same(value):
    program = _load(ROOT / "benchmarks" / "programs" / "reference.loyalty")
    for body in ({"time": value, "order": "o1", "lines": [{"item": "coffee", "amount": "6.00"}]},
                 {"time": value, "id": "t1"}):
        check_reading(program, {"purchase" if "order" in body else "tick": body})


@pytest.mark.parametrize("value", AMOUNTS, ids=repr)
@pytest.mark.parametrize("program", ["reference.loyalty", "zero_decimals"])
def test_every_odd_amount_reads_the_same(value, program):
    if program == "zero_decimals":  # a currency without minor units
        p = _zero_decimals()
    else:
        p = _load(ROOT / "benchmarks" / "programs" / program)
    check_reading(p, {"purchase": {"time": "2024-03-01T10:00", "order": "o1",
                                   "lines": [{"item": "coffee", "amount": value}]}})
    check_reading(p, {"return": {"time": "2024-03-01T10:00", "order": "o1", "id": "r1", "amount": value}})


def _zero_decimals() -> loyalty.Program:
    key = Path("zero decimals")
    if key not in _LOADED:
        _LOADED[key] = loyalty.load('program "yen" {\n  currency JPY\n}\n\npoints "points" {\n  cost 1 JPY each\n}\n\n'
                                    'rule "a point per 100 yen" {\n  earn 1 point per 100 JPY\n}\n')
    return _LOADED[key]


def test_the_benchmark_dicts_take_the_fast_reading():
    """The common dict (tagged or compact; times without seconds; amounts as strings) is read without
    pydantic; events identified by their content are left to the validated path."""
    p = _load(ROOT / "benchmarks" / "programs" / "reference.loyalty").compiled
    purchase = {"type": "purchase", "time": "2024-11-09T12:19", "order": "O1", "store": "Store 1",
                "channel": "store", "lines": [{"item": "wash and wax", "category": "washes", "quantity": 1,
                                               "amount": "165.00"}]}
    ev = dict_to_ev(purchase, p.exponent, p.tz, p.catalog)
    assert ev is not None and ev.id == "purchase:O1" and ev.lines == (("wash and wax", "washes", 1, 16500),)
    assert ev.time == dt.datetime(2024, 11, 9, 12, 19)
    ev = dict_to_ev({"return": {"id": "r1", "time": "2024-11-09T12:20Z", "order": "O1"}}, p.exponent, p.tz, p.catalog)
    assert ev is not None and ev.time == dt.datetime(2024, 11, 9, 13, 20) and ev.ret_lines is None
    ev = dict_to_ev({"return": {"time": "2024-11-09T12:20", "order": "O1", "lines": [{"item": "wash and wax"}]}},
                    p.exponent, p.tz, p.catalog)
    assert ev is not None and ev.id == 'return:{"time":"2024-11-09T12:20:00","order":"O1","lines":[{"item":"wash and ' \
                                      'wax","quantity":1}]}'
    assert dict_to_ev({"signup": {"time": "2024-11-09T12:20"}}, p.exponent, p.tz, p.catalog) is None


ODD_TEXTS = ["O1", 'say "hi"', "back\\slash", "Øre", "tab\there", "line\u2028sep", "\x7f", "emoji \U0001f600",
             "</script>"]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=repr)
@pytest.mark.parametrize("time", ["2024-11-09T12:20", "2024-11-09 12:20:05", "2024-11-09T12:20:05.5",
                                  "2024-11-09T12:20+01:00", dt.datetime(2024, 11, 9, 12, 20)], ids=repr)
def test_a_return_without_id_reads_with_the_validated_id(text, time):
    """A return sent without an id is identified by its content (events.default_id, pydantic's JSON of it): the
    fast reading gives the same id, or leaves the event to the validated path."""
    program = _load(ROOT / "benchmarks" / "programs" / "reference.loyalty")
    for body in ({"order": text}, {"order": "O1", "lines": [{"item": text, "quantity": 2}, {"item": "coffee"}]},
                 {"order": text, "lines": []}, {"order": "O1", "amount": "0012.50"}, {"order": text, "amount": 3}):
        check_reading(program, {"return": {"time": time, **body}})


@pytest.mark.parametrize("text", ODD_TEXTS, ids=repr)
def test_a_return_without_id_is_a_duplicate_when_resent_on_both_paths(text):
    """The content id is what makes a resent return a duplicate: after the order's purchase, the return and
    its resend give the same effects (the second: duplicate_ignored) through apply and the general path."""
    program = _load(ROOT / "benchmarks" / "programs" / "reference.loyalty")
    purchase = {"type": "purchase", "time": "2024-11-09T12:19", "order": text,
                "lines": [{"item": "wash and wax", "quantity": 2, "amount": "330.00"},
                          {"item": "coffee", "amount": "6"}]}
    ret = {"type": "return", "time": "2024-11-09T13:00", "order": text, "lines": [{"item": "wash and wax"}]}
    for apply in (program.apply, lambda s, e: apply_general(program, s, e)):
        state = apply(program.new_member("m1"), purchase).state
        state, first = apply(state, ret)
        state, again = apply(state, ret)
        assert [e.kind for e in again] == ["duplicate_ignored"]
        assert any(e.kind == "points_clawed_back" for e in first)
    assert program.apply(program.apply(program.new_member("m1"), purchase).state, ret).effects == \
        apply_general(program, apply_general(program, program.new_member("m1"), purchase).state, ret).effects
