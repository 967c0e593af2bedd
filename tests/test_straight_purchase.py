"""`program.apply`'s straight purchase (runtime/straight.py) equals the plan it was built from.

Programs of the straight shape (punch cards without caps, uncapped earning per spend, expiry after earning,
tiers by lifetime points) are generated from a template with hypothesis; each member history (purchases,
returns, duplicates, late events, redemptions ...) is applied three ways, compared after every event: by
`program.apply` (the straight purchase, the plan for everything else), by the same program's specialised plan
alone, and by the general path (`facade.apply_general`). Effects field by field, rejections word for word,
the state's JSON.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import loyalty
from event_strategies import member_histories
from loyalty.runtime.effects import Effect
from loyalty.runtime.events import EventError
from loyalty.runtime.facade import apply_general
from loyalty.runtime.straight import straight_reason

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def straight_programs(draw) -> str:
    """A program text of the straight shape, its numbers drawn."""
    runs = draw(st.sampled_from(["", "  runs from 2024-01-01\n", "  runs from 2025-06-01\n"]))
    expiry = draw(st.sampled_from(["", "  expire 30 days after earning\n", "  expire 2 weeks after earning\n",
                                   "  expire 365 days after earning\n", "  expire 1 days after earning\n"]))
    rounding = draw(st.sampled_from(["", "  round up per order\n", "  round half even per order\n",
                                     "  round half up per order\n"]))
    parts = [f'program "Straight" {{\n  currency NOK\n  timezone "Europe/Oslo"\n{runs}}}\n',
             f'points "points" {{\n  cost 0.01 NOK each\n{expiry}{rounding}}}\n',
             'catalog {\n  category "washes"\n  category "extras"\n'
             '  item "basic wash" in category "washes" costing 35 NOK\n'
             '  item "wash and wax" in category "washes" costing 55 NOK\n'
             '  item "air freshener" in category "extras" costing 8 NOK\n'
             '  item "coffee" in category "extras"\n}\n']
    for i in range(draw(st.integers(0, 2))):
        n = draw(st.integers(2, 7))
        where = draw(st.sampled_from(['item in category "washes"', 'item', '"coffee"']))
        if where == '"coffee"':
            clause = f'{draw(st.integers(1, 2))} free "coffee" after every {n} paid'
        else:
            off = draw(st.sampled_from(["is free", "at 50% off", "at 33% off"]))
            clause = f"every {n}th {where} {off}"
        parts.append(f'rule "card {i}" {{\n  {clause}\n}}\n')
    for i in range(draw(st.integers(0, 2))):
        pts, per = draw(st.integers(1, 3)), draw(st.sampled_from(["1 NOK", "10 NOK", "3 NOK", "0.5 NOK"]))
        parts.append(f'rule "earn {i}" {{\n  earn {pts} points per {per}\n}}\n')
    if draw(st.booleans()):
        tiers = ""
        for name, at in zip(("silver", "gold"), sorted(draw(st.lists(st.integers(1, 3000), min_size=1, max_size=2,
                                                                     unique=True)))):
            factor = draw(st.sampled_from(["2x", "1.5x", "3x"]))
            tiers += f'  tier "{name}" from {at} points {{\n    earn {factor} points\n  }}\n'
        parts.append(f"tiers by lifetime points earned {{\n{tiers}}}\n")
    return "".join(parts)


def outcome(fn):
    try:
        state, effects = fn()
    except EventError as err:
        return None, ("rejected", err.field, str(err))
    assert all(type(e) is Effect for e in effects)
    return state, [tuple(e) for e in effects]


def replay_three(text: str, history) -> int:
    """The history by the straight purchase, the plan alone and the general path; how many purchases the
    straight one ran."""
    program = loyalty.compile_source(text, "straight.loyalty")
    assert straight_reason(program._plan) is None, straight_reason(program._plan)
    plan_only = loyalty.compile_source(text, "straight.loyalty")
    plan_only._straight = None
    ran = 0
    straight = program._straight

    def counted(old, ev):
        nonlocal ran
        done = straight(old, ev)
        ran += done is not None
        return done

    program._straight = counted
    states = [p.new_member(history.member, history.attributes) for p in (program, plan_only, program)]
    for i, ev in enumerate(history.events):
        before = states[0].to_json()
        results = [outcome(lambda: program.apply(states[0], ev)), outcome(lambda: plan_only.apply(states[1], ev)),
                   outcome(lambda: apply_general(program, states[2], ev))]
        assert results[0][1] == results[1][1] == results[2][1], f"event {i}: {ev!r}"
        assert states[0].to_json() == before  # the state given is never changed
        if results[0][0] is not None:
            states = [r[0] for r in results]
            assert states[0].to_json() == states[1].to_json() == states[2].to_json(), f"state after event {i}"
    return ran


@SETTINGS
@given(st.data())
def test_the_straight_purchase_equals_the_plan_on_generated_programs(data):
    text = data.draw(straight_programs(), label="program")
    program = loyalty.compile_source(text, "straight.loyalty")
    history = data.draw(member_histories(program, max_events=24), label="history")
    note(f"program:\n{text}\nevents:\n" + "\n".join(map(repr, history.events)))
    replay_three(text, history)


_ITEMS = [("basic wash", "washes", "35.00"), ("wash and wax", "washes", "55.00"), ("air freshener", "extras", "8"),
          ("coffee", "extras", "6.50")]


@st.composite
def long_members(draw):
    """A member over months: purchases days apart (so batches expire and tiers are reached), returns of earlier
    orders (whole, by lines or by amount), now and then a resent purchase."""
    import datetime as dt

    events: list[dict] = []
    t = dt.datetime(2025, 5, 1, 9, 0)
    for i in range(draw(st.integers(5, 40))):
        t += dt.timedelta(days=draw(st.integers(0, 40)), minutes=draw(st.integers(0, 600)))
        move = draw(st.sampled_from(["purchase"] * 6 + ["return", "resend"]))
        if move == "return" and i:
            j = draw(st.integers(0, i - 1))
            how = draw(st.sampled_from([{}, {"lines": [{"item": "basic wash"}]}, {"amount": "5.00"}]))
            events.append({"type": "return", "id": f"r{i}", "time": t.isoformat(), "order": f"o{j}", **how})
        elif move == "resend" and events:
            events.append(events[-1])
        else:
            lines = []
            for item, cat, amount in draw(st.lists(st.sampled_from(_ITEMS), min_size=1, max_size=3)):
                q = draw(st.integers(1, 7))
                lines.append({"item": item, "category": cat, "quantity": q, "amount": amount})
            events.append({"type": "purchase", "time": t.isoformat(), "order": f"o{i}", "lines": lines,
                           **({"id": f"p{i}"} if draw(st.booleans()) else {})})

    class History:
        member, attributes = "m1", {}
    History.events = events
    return History


@SETTINGS
@given(st.data())
def test_the_straight_purchase_equals_the_plan_over_months(data):
    text = data.draw(straight_programs(), label="program")
    history = data.draw(long_members(), label="history")
    note(f"program:\n{text}\nevents:\n" + "\n".join(map(repr, history.events)))
    replay_three(text, history)


def test_the_reference_program_runs_its_purchases_straight_and_as_the_plan_does():
    """A long member of the benchmark's program (expiry, the gold tier's double points, free washes, returns):
    the straight purchase runs every purchase that is not a duplicate, and equals the plan."""
    from test_apply_fast_path import _long_history

    text = (ROOT / "benchmarks" / "programs" / "reference.loyalty").read_text(encoding="utf-8")

    class History:
        member, attributes, events = "m1", {}, _long_history(400)

    purchases = len({ev.get("id") or ev["order"] for ev in History.events if ev.get("type") == "purchase"})
    assert purchases > 300  # (each once: a resent one is a duplicate, which the plan reports)
    assert replay_three(text, History) == purchases


def test_programs_of_other_shapes_take_the_plan():
    """The shipped programs the straight purchase does not fit keep the plan, with the reason."""
    reasons = {}
    for path in sorted((ROOT / "examples" / "programs").glob("*.loyalty")):
        reasons[path.stem] = straight_reason(loyalty.load(path)._plan)
    assert reasons["car_wash"] is None and reasons["shoe_shop"] is None
    assert reasons["bookstore"] == "acceptance windows or enrolment"
    assert reasons["gym"] == "budgets"
    assert reasons["corner_cafe"] == "discounts other than punch cards without caps"
