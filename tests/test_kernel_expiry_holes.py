"""Batches that expire before batches earned before them, on the vectorised kernel (runtime/mechanics/points.py
`vector_expiry_holes`, `expire_out_of_order`).

`expire N months after earning` clamps the day to the month's end and keeps the time of day: 30 January 11:00
+ 1 month is 29 February 11:00, 31 January 10:00 + 1 month is 29 February 10:00, an hour earlier. The scalar
plan expires each batch at its own moment (`advance_kind`); the kernel expires its stream from the front in
earning order, and where one of the member's events (or the history's end) falls between the two moments,
expires the later-earned batch there as a hole: what is left of it leaves the stream, and spending and expiry
pass over it. These tests hold the kernel to the scalar plan member by member (every figure: points per rule
and month, expired, clawed back, redeemed, outstanding), with no member routed, on hand-written histories and on
generated ones dense in month ends, with and without pending points; a batch still waiting when it expires still
routes its member (counted in ROUTED)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from loyalty.runtime.mechanics import points as points_mechanic
from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.run import load_program
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import kernel, simulate_vector, supports

HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel"]
REASON = "expiry or pending moments out of earning order"


def program_text(expiry: str = "expire 1 month after earning", policy: str = "balance may go negative",
                 price: int = 120, pending: str = "", tiers: bool = False) -> str:
    tier_block = """
tiers by lifetime points earned {
  tier "gold" from 400 points {
    earn 2x points
  }
}
""" if tiers else ""
    return f"""
program "Month ends" {{
  currency NOK
  timezone "Europe/Oslo"
}}
points "points" {{
  cost 0.01 NOK each
  {expiry}
  {pending}
  {policy}
}}
catalog {{
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
  item "cake" in category "drinks" costing 30 NOK
}}
reward "free coffee" is a free "coffee"
redeem {price} points for "free coffee"
rule "points" {{
  earn 1 point per 1 NOK
}}
rule "visits" {{
  earn 7 points per visit
}}
""" + tier_block


def _load(tmp_path, text: str):
    path = tmp_path / "month_ends.loyalty"
    path.write_text(text)
    prog = load_program(str(path))
    assert supports(prog, None) is None
    return str(path), prog


def _history(prog, rows):
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "month_ends.csv", 2, options)


class _Holes:
    """Counts the points the kernel expired as holes (to know a test exercised them)."""

    def __init__(self, monkeypatch):
        self.points = 0
        real = points_mechanic.expire_out_of_order

        def spy(*args):
            gone = real(*args)
            self.points += gone
            return gone

        monkeypatch.setattr(kernel, "expire_out_of_order", spy)


def _member_by_member(path, prog, rows, monkeypatch):
    """The kernel equals the scalar plan for the whole history and each member alone, in the lockstep, one by
    one (the tail) and in runs; returns the scalar result, the members routed and the points expired as holes."""
    history = _history(prog, rows)
    plan = make_plan(prog, program_info(prog, path), Scenario(), history, {})
    holes = _Holes(monkeypatch)
    before = kernel.ROUTED[REASON]
    ref = simulate(plan, history)
    assert simulate_vector(plan, history, tail_members=0).canonical() == ref.canonical()
    routed = kernel.ROUTED[REASON] - before
    expired_as_holes = holes.points  # (of this run: the runs below expire the same again)
    assert simulate_vector(plan, history, tail_members=10**9).canonical() == ref.canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        want = simulate(plan, alone).canonical()
        for tail in (0, 10**9):
            assert simulate_vector(plan, alone, tail_members=tail).canonical() == want, (member, tail)
    return ref, routed, expired_as_holes


def _buy(member, when, order, amount, item="cake"):
    return [member, when, "purchase", order, item, "", "1", amount, "", ""]


def _visit(member, when):
    return [member, when, "visit", "", "", "", "", "", "", ""]


def _row(ref, member):
    return {row[0]: row for row in ref.canonical()["members"]}[member]


@pytest.mark.parametrize("policy", ["balance may go negative", "balance stops at zero"])
def test_a_later_batch_expires_first_at_an_event_between(tmp_path, monkeypatch, policy):
    """30 January 11:00 earns 100 (+7 for the visit), 31 January 10:00 earns 50 (+7): on 29 February at 10:30
    the second batch (57) is gone and the first (107) is still there; by 12:00 both are."""
    path, prog = _load(tmp_path, program_text(policy=policy, price=10**6))
    rows = [_buy("A", "2024-01-30T11:00", "A1", "100.00"), _buy("A", "2024-01-31T10:00", "A2", "50.00"),
            _buy("A", "2024-02-29T10:30", "A3", "6.00", "coffee"), _visit("B", "2024-03-05T12:00")]
    ref, routed, holes = _member_by_member(path, prog, rows, monkeypatch)
    assert routed == 0
    assert holes > 0
    assert _row(ref, "A")[5] == "13"  # what A holds at the end: the last purchase's 6 + 7


def test_a_batch_partly_spent_expires_what_is_left(tmp_path, monkeypatch):
    """A redemption of 120 right after 31 January's purchase takes the 107 of 30 January and 13 of 31 January's
    57, oldest first: on 29 February at 10:30 the 44 left of it expire, before the (spent) batch before it."""
    path, prog = _load(tmp_path, program_text(price=120))
    rows = [_buy("A", "2024-01-30T11:00", "A1", "100.00"), _buy("A", "2024-01-31T10:00", "A2", "50.00"),
            _buy("A", "2024-02-29T10:30", "A3", "6.00", "coffee"), _visit("B", "2024-03-05T12:00")]
    ref, routed, holes = _member_by_member(path, prog, rows, monkeypatch)
    assert routed == 0
    assert holes == 44


def test_the_history_ends_between(tmp_path, monkeypatch):
    """The history ends (another member's last event) between the two moments: the later batch is expired at
    the end, the earlier one is still held."""
    path, prog = _load(tmp_path, program_text(price=10**6))
    rows = [_buy("A", "2024-01-30T11:00", "A1", "100.00"), _buy("A", "2024-01-31T10:00", "A2", "50.00"),
            _visit("B", "2024-02-29T10:30")]
    ref, routed, holes = _member_by_member(path, prog, rows, monkeypatch)
    assert routed == 0
    assert holes == 57
    assert _row(ref, "A")[5] == "107"


def test_two_later_batches_a_return_and_a_tier(tmp_path, monkeypatch):
    """Two batches of 31 January expire before the one of 30 January, a return takes back from one of them
    before, the member reaches gold (double points) on the way; a purchase on 29 February at 11:30 sees all
    that."""
    path, prog = _load(tmp_path, program_text(price=10**6, tiers=True))
    rows = [_buy("A", "2024-01-30T12:00", "A1", "300.00"), _buy("A", "2024-01-31T10:00", "A2", "50.00"),
            _buy("A", "2024-01-31T11:00", "A3", "80.00"),
            ["A", "2024-02-10T09:00", "return", "A3", "cake", "", "1", "30.00", "", ""],
            _buy("A", "2024-02-29T11:30", "A4", "6.00", "coffee"), _visit("B", "2024-03-05T12:00")]
    ref, routed, holes = _member_by_member(path, prog, rows, monkeypatch)
    assert routed == 0
    assert holes > 0


@pytest.mark.parametrize("pending, routed", [("2 days", 0), ("40 days", 1)])
def test_pending_points_expire_as_holes_once_available(tmp_path, monkeypatch, pending, routed):
    """Points that wait and expire a month after earning: once the batch (and so every batch before it) is
    available when it expires, it expires as a hole as without pending points; points waiting 40 days are still
    waiting then, and such a member goes to the scalar plan, counted in ROUTED. Either way the result is the
    scalar's."""
    path, prog = _load(tmp_path, program_text(price=10**6, pending=f"available {pending} after purchase"))
    rows = [_buy("A", "2024-01-30T11:00", "A1", "100.00"), _buy("A", "2024-01-31T10:00", "A2", "50.00"),
            _buy("A", "2024-02-29T10:30", "A3", "6.00", "coffee"), _visit("B", "2024-03-05T12:00")]
    ref, n, holes = _member_by_member(path, prog, rows, monkeypatch)
    assert n == routed
    assert (holes > 0) == (routed == 0)


# ------------------------------------------------------------------ generated histories


DAYS_IN = [31, 29, 31, 30, 31, 30, 31, 31, 30]  # 2024, January to September


@st.composite
def month_end_rows(draw, months: int):
    """Members whose events cluster on the last days of months and the first of the next, at hours that cross:
    now and then two purchases late in a month whose days clamp to the same day `months` later, the later-earned
    at an earlier hour, and an event (or the history's end) between their two expiry moments; besides purchases,
    visits, returns of earlier orders."""
    rows = []
    end = "2024-09-30T23:00"
    for m in range(draw(st.integers(1, 4))):
        member = f"M{m}"
        events = []
        for _ in range(draw(st.integers(1, 12))):
            month = draw(st.integers(1, 6))
            day = min(draw(st.sampled_from([28, 29, 30, 31, 1, 2])), DAYS_IN[month - 1])
            hour, minute = draw(st.integers(8, 12)), draw(st.sampled_from([0, 15, 30, 45]))
            events.append((f"2024-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}", draw(st.integers(0, 9))))
        for _ in range(draw(st.integers(0, 2))):  # a crossing pair and what looks between their moments
            month = draw(st.sampled_from([mo for mo in range(1, 7) if DAYS_IN[mo - 1 + months] < DAYS_IN[mo - 1]]))
            last = DAYS_IN[month - 1 + months]
            d1 = draw(st.integers(last, DAYS_IN[month - 1] - 1))
            d2 = draw(st.integers(d1 + 1, DAYS_IN[month - 1]))
            h2 = draw(st.integers(8, 10))
            h1 = draw(st.integers(h2 + 1, 12))
            events.append((f"2024-{month:02d}-{d1:02d}T{h1:02d}:00", draw(st.integers(0, 5))))
            events.append((f"2024-{month:02d}-{d2:02d}T{h2:02d}:00", draw(st.integers(0, 5))))
            between = f"2024-{month + months:02d}-{last:02d}T{h2:02d}:30"
            if draw(st.booleans()):
                events.append((between, draw(st.integers(0, 9))))
            elif draw(st.booleans()):
                end = min(end, between)  # the history ends between
        events.sort()
        orders = []
        for k, (when, what) in enumerate(events):
            if what <= 5:
                order = f"{member}-{k}"
                orders.append(order)
                rows.append(_buy(member, when, order, f"{draw(st.integers(1, 400))}.00",
                                 draw(st.sampled_from(["cake", "coffee"]))))
            elif what <= 7 or not orders:
                rows.append(_visit(member, when))
            else:
                order = draw(st.sampled_from(orders))
                rows.append([member, when, "return", order, "", "", "", f"{draw(st.integers(0, 50))}.00", "", ""])
    rows = [r for r in rows if r[1] <= end]
    rows.append(_visit("Z", end))
    rows.sort(key=lambda r: r[1])
    return rows


@settings(max_examples=60, deadline=None)
@given(data=st.data(), months=st.sampled_from([1, 3]),
       policy=st.sampled_from(["balance may go negative", "balance stops at zero"]),
       price=st.sampled_from([50, 120, 10**6]), tiers=st.booleans(), pending=st.sampled_from(["", "2 days"]))
def test_generated_month_end_histories_member_by_member(tmp_path_factory, data, months, policy, price, tiers,
                                                        pending):
    rows = data.draw(month_end_rows(months))
    path, prog = _load(tmp_path_factory.mktemp("holes"),
                       program_text(expiry=f"expire {months} month{'s' if months > 1 else ''} after earning",
                                    policy=policy, price=price, tiers=tiers,
                                    pending=f"available {pending} after purchase" if pending else ""))
    with pytest.MonkeyPatch.context() as monkeypatch:
        _, routed, _ = _member_by_member(path, prog, rows, monkeypatch)
    assert routed == 0
