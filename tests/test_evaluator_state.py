"""The state structures that make `apply` cheap keep it a value: a state is never changed by
applying an event to it (or to a copy of it), branching from an old state gives what a replay
from scratch gives, and the indexed structures answer exactly what a plain scan answers."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.runtime.events import EventError
from loyalty.runtime.state import MemberState, MetricLog, OrderRecord, log_get

ROOT = Path(__file__).resolve().parents[1]
T0 = _dt.datetime(2025, 1, 1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 5)), max_size=200))
def test_log_map_is_a_dict_in_first_insertion_order(ops):
    """A state's two log maps (seen ids, orders: `state.log_get` and its siblings over the state's own slots)."""
    m, d = MemberState.start("m1", {}, 0, 0), {}
    records = [OrderRecord(T0, v, v, {}) for v in range(6)]  # (a compiled build checks the record's type)
    snapshots = []
    for k, v in ops:
        m.put_seen(f"k{k}", v)
        m.put_order(f"k{k}", records[v])
        d[f"k{k}"] = v
        snapshots.append((m.copy(), dict(d)))
        assert m.seen_get(f"k{k}") == v and m.order(f"k{k}") is records[v]
    assert m.seen_dict() == d and list(m.seen_dict()) == list(d)
    assert list(m.orders_dict().items()) == [(k, records[v]) for k, v in d.items()]
    assert m.seen_get("absent", 7) == 7 and m.order("absent") is None
    assert log_get(m.orders_levels, m.orders_tail, "absent", 7) == 7
    for copy, expected in snapshots:  # later writes never show through an earlier copy
        assert list(copy.seen_dict().items()) == list(expected.items())
        assert list(copy.orders_dict().items()) == [(k, records[v]) for k, v in expected.items()]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(-50, 50)), max_size=60),
       st.integers(0, 45), st.integers(0, 45), st.booleans(), st.booleans())
def test_metric_log_window_sums_equal_a_scan(contribs, lo, hi, lo_in, hi_in):
    log = MetricLog()
    copies = []
    for i, (day, v) in enumerate(contribs):
        log.add(T0 + _dt.timedelta(days=day), v)
        copies.append((log.copy(), i + 1))
        if i % 3 == 0:  # an old copy that grows differently must not disturb the others
            branch = copies[len(copies) // 2][0].copy()
            branch.add(T0 + _dt.timedelta(days=50), 1000)
    a, b = T0 + _dt.timedelta(days=lo), T0 + _dt.timedelta(days=hi)
    for copy, n in copies:
        seen = [(T0 + _dt.timedelta(days=d), v) for d, v in contribs[:n]]
        expected = sum(v for t, v in seen if (a <= t if lo_in else a < t) and (t <= b if hi_in else t < b))
        assert copy.sum_between(a, b, lo_in, hi_in) == expected
        assert sorted(copy.entries()) == sorted(seen)


def _events(n: int) -> list[dict]:
    out = []
    t = _dt.datetime(2024, 1, 1, 9, 0)
    for i in range(n):
        t += _dt.timedelta(days=3, hours=i % 5)
        if i % 11 == 10:
            out.append({"return": {"id": f"r{i}", "time": t.isoformat(), "order": f"o{i - 4}"}})
        elif i % 13 == 12:
            out.append({"tick": {"time": (t + _dt.timedelta(days=200)).isoformat()}})
        else:
            out.append({"purchase": {"time": t.isoformat(), "order": f"o{i}", "lines": [
                {"item": "basic wash", "quantity": 1 + i % 3, "amount": f"{35 * (1 + i % 3)}.00"},
                {"item": "coffee", "quantity": 1, "amount": "6.00"}]}})
    return out


def _replay(p, events):
    state = p.new_member("m1")
    effects = []
    for ev in events:
        try:
            state, out = p.apply(state, ev)
        except EventError:
            continue
        effects.append([e.fields() for e in out])
    return state, effects


def test_apply_never_changes_the_state_given_and_branches_are_independent():
    p = loyalty.load(str(ROOT / "benchmarks" / "programs" / "reference.loyalty"))
    events = _events(160)  # past 365 days: batches expire, orders and ids pass the tails' size
    states = [p.new_member("m1")]
    frozen = [states[0].to_json()]
    for ev in events:
        try:
            states.append(p.apply(states[-1], ev).state)
        except EventError:
            states.append(states[-1])
        frozen.append(states[-1].to_json())
    # branch from old states: the result equals a replay from scratch of the same events
    for cut in (0, 37, 90, 120):
        alt = [{"purchase": {"time": "2026-01-01T12:00:00", "order": "alt", "lines": [
            {"item": "interior cleaning", "quantity": 2, "amount": "180.00"}]}},
               {"return": {"id": "ralt", "time": "2026-01-02T12:00:00", "order": "alt"}}]
        branched = states[cut]
        branch_effects = []
        for ev in alt:
            branched, out = p.apply(branched, ev)
            branch_effects.append([e.fields() for e in out])
        replayed, replay_effects = _replay(p, events[:cut] + alt)
        assert branched.to_json() == replayed.to_json()
        assert branch_effects == replay_effects[-2:]
    # nothing applied later (on the main line or on a branch) changed any earlier state
    assert [s.to_json() for s in states] == frozen


def test_balance_and_pending_match_the_batches_after_loading():
    p = loyalty.load(str(ROOT / "benchmarks" / "programs" / "reference.loyalty"))
    state, _ = _replay(p, _events(60))
    loaded = p.state_from_json(state.to_json())
    assert loaded.summary() == state.summary()
    ks = loaded._s.kinds[0]
    assert ks.available == sum(b.amount for b in ks.batches if b.available_at is None) - ks.debt
    # the loaded state goes on exactly like the original
    more = _events(90)[60:]
    a, b = state, loaded
    for ev in more:
        try:
            a, out_a = p.apply(a, ev)
            b, out_b = p.apply(b, ev)
        except EventError:
            continue
        assert out_a == out_b
    assert a.to_json() == b.to_json()
