"""The kernel's aggregation formulations (issue 12, aggregation costs) against the one-at-a-time code they replace."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.simulate.result import DrawKey, SimResult, draw_candidates, draw_key_values
from loyalty.simulate.scenario import stable_hash

# keys with ties in value (a few distinct values) and distinct members, as one period's entrants are
entrants = st.lists(st.tuples(st.sampled_from([-3.5, -1.0, -0.25, -0.0, -2.0, -1e-9]), st.integers(0, 40)),
                    max_size=25, unique_by=lambda e: e[1])


@settings(max_examples=300, deadline=None)
@given(entrants, entrants, st.integers(1, 6))
def test_offer_draws_is_offer_draw_one_at_a_time(before, after, winners):
    """Keys offered at once leave what offering them one by one leaves, whatever the period held: the same
    keys in the same order (sorted once more than `winners` came, else as offered)."""
    old_keys = [DrawKey(v, f"m{m}") for v, m in before]
    new_keys = [DrawKey(v, f"n{m}") for v, m in after]
    one, many = SimResult(), SimResult()
    for k in old_keys:
        one.offer_draw("d|p", winners, k)
        many.offer_draw("d|p", winners, k)
    for k in new_keys:
        one.offer_draw("d|p", winners, k)
    many.offer_draws("d|p", winners, new_keys)
    assert many.draw_keys == one.draw_keys
    assert many.draw_winners == one.draw_winners


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(0, 2**40), st.none(), st.text(max_size=5)), st.text(max_size=8), st.text(max_size=12),
       st.lists(st.tuples(st.text(min_size=1, max_size=8), st.integers(1, 10**6)), max_size=8))
def test_draw_key_values_are_the_seeded_hash_formula(seed, draw, period, members):
    """Each key is log(u) / entries with u = (stable_hash(seed, "draw", draw, period, member) + 1) / 2**64."""
    got = draw_key_values(seed, draw, period, [m for m, _ in members], [n for _, n in members])
    expected = [math.log((stable_hash(seed, "draw", draw, period, m) + 1) / 18446744073709551616.0) / n
                for m, n in members]
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2**40), st.none(), st.text(max_size=5)), max_size=4),
       st.lists(st.one_of(st.text(max_size=8), st.integers(-5, 2**70)), max_size=20))
def test_stable_hashes_are_the_hash_of_the_joined_text(first, lasts):
    """`stable_hashes` (for many, the hash state of the first parts copied per last part) is, for each last part,
    the 64-bit big-endian blake2b digest of every part's text joined by 0x1f, as the hash always was: draws,
    enrolment and redemption shares stay the same on every machine and release."""
    import hashlib

    from loyalty.simulate.scenario import stable_hashes

    expected = [int.from_bytes(hashlib.blake2b("".join(str(p) + "\x1f" for p in first + [last])[:-1].encode("utf-8"),
                                               digest_size=8).digest(), "big") for last in lasts]
    assert stable_hashes(first, lasts) == expected
    assert all(type(h) is int for h in stable_hashes(first, lasts))
    # (main's value, before the copied state)
    assert stable_hash(7, "draw", "monthly draw", "2024-05-01", "M0000001") == 4156703602953222932


@settings(max_examples=300, deadline=None)
@given(entrants, st.integers(1, 6))
def test_draw_candidates_keep_every_possible_winner(period, winners):
    """Offering only the keys that can win (ties at the winners-th largest value included) leaves the
    period with the keys offering every entrant one by one leaves."""
    values, who = [v for v, _ in period], [f"m{m}" for _, m in period]
    one, few = SimResult(), SimResult()
    for v, m in zip(values, who):
        one.offer_draw("d|p", winners, DrawKey(v, m))
    few.offer_draws("d|p", winners, draw_candidates(values, who, winners), len(values))
    assert few.draw_keys == one.draw_keys


# ------------------------------------------------- the customer measures from the kernel's events (measures.Orders)

import datetime as dt  # noqa: E402
import random  # noqa: E402

import numpy as np  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402

from test_vector_kernel import HEADER, PROGRAMS, _history, _plan, _program  # noqa: E402

from loyalty.simulate.history import ReadOptions, build_history  # noqa: E402
from loyalty.simulate.vector.kernel import _irregular_members, _Rows  # noqa: E402


def _irregular_history(prog, seed: int):
    """Order ids reused at another time, two orders' lines interleaved at one time, returns of one order at one
    time (as test_vector_kernel's irregular grouping test): members whose events are grouped by key."""
    rnd = random.Random(seed)
    rows = []
    for m in range(rnd.randint(1, 8)):
        t = dt.datetime(2024, 1, 1) + dt.timedelta(days=rnd.randrange(30))
        for _ in range(rnd.randint(1, 10)):
            t += dt.timedelta(minutes=rnd.choice([0, 0, 5, 600, 60 * 24 * 30]))
            kind = rnd.choice(["purchase", "purchase", "purchase", "return", "visit"])
            rows.append([f"M{m}", t.strftime("%Y-%m-%dT%H:%M"), kind, rnd.choice([f"O{rnd.randint(1, 4)}", ""]),
                         "coffee", "", "1", f"{rnd.randint(0, 400)}.00", "", ""])
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    return build_history(cols, "irregular.csv", 2,
                         ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.integers(0, len(PROGRAMS) - 1), members=st.integers(1, 12),
       max_events=st.sampled_from([1, 3, 12, 40]), irregular=st.booleans())
def test_the_kernels_events_are_the_historys_event_index(tmp_path_factory, seed, which, members, max_events,
                                                        irregular):
    """The customer measures take the history's events from the kernel's rows (simulate_vector): the same event
    starts and the same members grouped by key as `History.event_index` finds, so the same measures."""
    from loyalty.simulate.measures import add_customer_cells

    path, prog = _program(tmp_path_factory, PROGRAMS[which])
    history = _irregular_history(prog, seed) if irregular else _history(prog, seed, members, max_events)
    rows = _Rows(history, prog)
    starts, names = history.event_index()
    found = _irregular_members(rows)
    events = (np.flatnonzero(rows.new), frozenset(history.values_of("member", found)))
    assert events[0].tolist() == list(starts)
    assert events[1] == names
    given_events, found_again = SimResult(), SimResult()
    plan = _plan(path, prog, history, seed)
    add_customer_cells(given_events, history, plan, events)
    add_customer_cells(found_again, history, plan)
    assert given_events.canonical() == found_again.canonical()


@settings(max_examples=200, deadline=None)
@given(st.integers(-800_000, 2_900_000), st.one_of(st.lists(st.integers(0, 300), min_size=257, max_size=600),
                                                    st.lists(st.integers(0, 4000), max_size=300)))
def test_month_numbers_by_table_are_datetime64s(first, offsets):
    """measures._month_number looks many days over a short span up in a table: the months datetime64 gives."""
    from loyalty.simulate.measures import _month_number

    days = np.array([first + k for k in offsets], dtype=np.int64)
    expected = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    assert _month_number(days).tolist() == expected.tolist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]),
       lapse=st.sampled_from([None, 1, 7, 30, 45]))
def test_lapses_and_returns_by_gap_are_the_definition(tmp_path_factory, seed, members, max_events, lapse):
    """customers_lapse cells (docs/simulate.md): with a gap of g days, a customer lapses in the month of day t + g
    after an order on day t when her next order is more than g days later (or there is none and t + g is not
    after the history's last day), and returns in the month of the order that ends such a gap."""
    from dataclasses import replace

    from loyalty.simulate.measures import LAPSE_CANDIDATES, Orders, add_customer_cells, month_text
    from loyalty.simulate.result import KEY_SEP

    path, prog = _program(tmp_path_factory, PROGRAMS[seed % len(PROGRAMS)])
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    plan = replace(plan, scenario=replace(plan.scenario, lapse_after_days=lapse))
    got = SimResult()
    add_customer_cells(got, history, plan)
    o = Orders(history)
    end_day = (plan.end - dt.datetime(1970, 1, 1)) // dt.timedelta(days=1)
    expected: dict = {}

    def month_of(day: int) -> str:
        return month_text(int(np.array([day]).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)[0]))

    days_of: dict = {}
    for m, d in zip(o.member.tolist(), o.day.tolist()):
        days_of.setdefault(m, []).append(d)
    for g in (lapse,) if lapse is not None else LAPSE_CANDIDATES:
        for days in days_of.values():
            for t, nxt in zip(days, days[1:] + [None]):
                if (nxt is None or nxt - t > g) and t + g <= end_day:
                    key = ("customers_lapse", f"{g}{KEY_SEP}{month_of(t + g)}", "lapsed")
                    expected[key] = expected.get(key, 0) + 1
                if nxt is not None and nxt - t > g:
                    key = ("customers_lapse", f"{g}{KEY_SEP}{month_of(nxt)}", "returned")
                    expected[key] = expected.get(key, 0) + 1
    assert {k: v for k, v in got.cells.items() if k[0] == "customers_lapse"} == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.one_of(st.integers(-1000, 1000), st.integers(-(1 << 62), 1 << 62))),
                max_size=40))
def test_group_sums_are_exact(pairs):
    """kernel._group_sum: each group's exact integer sum, by float bincount only where no partial sum can
    reach 2**53 (the largest magnitude, positive or negative, times the count)."""
    from loyalty.simulate.vector.kernel import _group_sum

    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs], dtype=np.int64)
    expected = [0] * 7
    for g, v in pairs:
        expected[g] += v
    if any(abs(x) >= 1 << 63 for x in expected):
        return  # int64 overflow: not a sum the kernel forms (callers check magnitudes first)
    assert _group_sum(groups, values, 7).tolist() == expected
    assert values.tolist() == [v for _, v in pairs]  # the values are left as they were
