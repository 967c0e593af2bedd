"""Pending points out of earning order on the vectorised kernel (runtime/mechanics/points.py `vector_spend`).

A purchase's points wait; points credited at once (a signup, a visit) while they wait sit behind them in
earning order. The scalar plan spends available points oldest first (`spend_oldest`), so a redemption (or a
return's rest under `balance stops at zero`) during the wait takes the newer at-once points, and the waiting
batch is still whole when it matures and, later, expires. The kernel follows that with holes in the stream;
these tests hold it to the scalar plan member by member (every figure: points per rule and per month,
matured, expired, clawed back, redeemed, outstanding), with no member routed, on hand-written histories and
on generated programs and histories. Kinds whose balance may go negative still route such members (a debt is
paid by the next points credited), counted in ROUTED."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from loyalty.cli import cli as main
from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.result import KEY_SEP
from loyalty.simulate.run import load_program
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import kernel, simulate_vector, supports

HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel"]
PENDING_REASON = "pending points out of earning order"


def program_text(expiry: str = "expire 2 months after earning", pending: str = "14 days",
                 policy: str = "balance stops at zero", price: int = 100, tiers: bool = True) -> str:
    tier_block = """
tiers by points earned in the calendar year {
  tier "silver" from 300 points {
    earn 2x points
  }
}
""" if tiers else ""
    return f"""
program "Waiting" {{
  currency NOK
  timezone "Europe/Oslo"
}}
points "points" {{
  cost 0.01 NOK each
  {expiry}
  available {pending} after purchase
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
rule "welcome" {{
  earn 150 points
  on signup
}}
rule "visits" {{
  earn 60 points per visit
}}
""" + tier_block


def _load(tmp_path, text: str, name: str = "waiting"):
    path = tmp_path / f"{name}.loyalty"
    path.write_text(text)
    prog = load_program(str(path))
    assert supports(prog, None) is None
    return str(path), prog


def _history(prog, rows):
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "waiting.csv", 2, options)


def _member_by_member(path, prog, rows):
    """The kernel's result equals the scalar plan's for each member alone and for the whole history, in the
    lockstep, one by one (the tail) and both; returns the whole history's scalar result and how many members
    the kernel routed for pending points out of earning order."""
    history = _history(prog, rows)
    plan = make_plan(prog, program_info(prog, path), Scenario(), history, {})
    before = kernel.ROUTED[PENDING_REASON]
    whole = simulate_vector(plan, history, tail_members=0)
    routed = kernel.ROUTED[PENDING_REASON] - before
    ref = simulate(plan, history)
    assert whole.canonical() == ref.canonical()
    assert simulate_vector(plan, history, tail_members=10**9).canonical() == ref.canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        want = simulate(plan, alone).canonical()
        for tail in (0, 10**9):
            assert simulate_vector(plan, alone, tail_members=tail).canonical() == want, (member, tail)
    return ref, routed


def _buy(member, when, order, amount, item="cake"):
    return [member, when, "purchase", order, item, "", "1", amount, "", ""]


def _event(member, when, kind):
    return [member, when, kind, "", "", "", "", "", "", ""]


def _cell(result, month: str, column: str) -> int:
    return result.cells.get(("points", f"points{KEY_SEP}{month}", column), 0)


def test_a_redemption_during_a_wait_spends_the_newer_available_points(tmp_path):
    """31 January: 140 points (80 NOK, and 60 for the visit a purchase is) wait until 14 February; 1 February:
    150 welcome points, of which the redemption takes 100 at once (not the waiting 140). The purchase's batch,
    whole, expires on 31 March, the rest of the welcome points on 1 April: the kernel says so too, and routes
    no one."""
    path, prog = _load(tmp_path, program_text(tiers=False))
    rows = [_buy("A", "2024-01-31T10:00", "A1", "80.00"),
            _event("A", "2024-02-01T10:00", "signup"),
            _event("A", "2024-05-02T10:00", "visit")]
    ref, routed = _member_by_member(path, prog, rows)
    assert routed == 0
    assert (_cell(ref, "2024-03", "expired"), _cell(ref, "2024-04", "expired")) == (140, 50)


def test_a_lot_that_matured_late_is_spent_first_then_expires_in_its_own_month(tmp_path):
    """After the 140 points mature (14 February), a visit's 60 points make 250 available: two redemptions take
    the oldest first, the 140 of 31 January, the 50 welcome points left, then 10 of the visit's; its other 50
    expire on 16 April, none in March."""
    path, prog = _load(tmp_path, program_text(tiers=False))
    rows = [_buy("A", "2024-01-31T10:00", "A1", "80.00"),
            _event("A", "2024-02-01T10:00", "signup"),
            _event("A", "2024-02-16T10:00", "visit"),
            _event("A", "2024-05-02T10:00", "visit")]
    ref, routed = _member_by_member(path, prog, rows)
    assert routed == 0
    assert (_cell(ref, "2024-03", "expired"), _cell(ref, "2024-04", "expired")) == (0, 50)


@pytest.mark.parametrize("policy", ["balance stops at zero", "returns take from pending only"])
def test_returns_claw_back_pending_and_available_points(tmp_path, policy):
    """Returns while other orders' points wait and at-once points were spent around them: the order's own
    waiting batch first, then the balance by the kind's policy (available points oldest first, or the oldest
    pending ones), member by member as the scalar plan does."""
    path, prog = _load(tmp_path, program_text(policy=policy))
    rows = [_buy("A", "2024-01-31T10:00", "A1", "80.00"),
            _event("A", "2024-02-01T10:00", "signup"),  # 100 of 150 redeemed while A1 waits
            _event("A", "2024-02-16T10:00", "visit"),  # A1 available: 190, 100 redeemed from A1 and welcome
            _buy("A", "2024-02-20T10:00", "A2", "90.00"),
            _event("A", "2024-02-21T10:00", "visit"),  # while A2 waits: its 60 spent, not A2's
            ["A", "2024-02-22T10:00", "return", "A1", "", "", "", "0.00", "", ""],  # A1 matured: the balance
            ["A", "2024-02-23T10:00", "return", "A2", "cake", "", "1", "30.00", "", ""],  # A2 waits: its batch
            _event("A", "2024-06-01T10:00", "visit"),
            _buy("B", "2024-03-01T10:00", "B1", "250.00"),
            _event("B", "2024-03-02T10:00", "signup"),
            ["B", "2024-03-20T10:00", "return", "B1", "", "", "", "0.00", "", ""],
            _event("B", "2024-05-20T10:00", "visit"),
            # C: A1's 110 points mature on 24 January; a visit's 60 make 170, 100 redeemed (10 of A1's left);
            # A2's 140 wait from 30 January; the welcome 150 make 220 available, 200 redeemed: A1's 10, the
            # visit's 60, 130 welcome points; A1 returned: its 110 go, as far as the balance (20) holds, from
            # the welcome points, not from A2's waiting batch, which expires whole on 30 March
            _buy("C", "2024-01-10T10:00", "C1", "50.00"),
            _event("C", "2024-01-25T10:00", "visit"),
            _buy("C", "2024-01-30T10:00", "C2", "80.00"),
            _event("C", "2024-02-01T10:00", "signup"),
            ["C", "2024-02-02T10:00", "return", "C1", "", "", "", "0.00", "", ""],
            _event("C", "2024-06-01T10:00", "visit")]
    ref, routed = _member_by_member(path, prog, rows)
    assert routed == 0
    assert ref.counts["simulated_redemptions"] >= 3
    c = _member_by_member(path, prog, [r for r in rows if r[0] == "C"])[0]
    if policy == "balance stops at zero":
        assert (_cell(c, "2024-03", "expired"), _cell(c, "2024-04", "expired")) == (140, 0)


def test_pending_points_with_tiers_and_a_period_end_expiry(tmp_path):
    """Silver (300 points earned in the year) doubles purchase points; points expire at the end of the calendar
    month, so a purchase late in a month expires before it is available (it never matures) while at-once points
    earned beside it are spent."""
    path, prog = _load(tmp_path, program_text(expiry="expire at the end of the calendar month", pending="7 days"))
    rows = [_event("A", "2024-01-03T10:00", "signup"),
            _buy("A", "2024-01-04T10:00", "A1", "200.00"),
            _event("A", "2024-01-05T10:00", "visit"),
            _buy("A", "2024-01-27T10:00", "A2", "120.00"),  # silver by now: 240 points, gone on 1 February
            _event("A", "2024-01-28T10:00", "visit"),
            _event("A", "2024-01-29T10:00", "visit"),
            _buy("A", "2024-02-02T10:00", "A3", "40.00"),
            _event("A", "2024-02-04T10:00", "visit"),
            _event("A", "2024-02-12T10:00", "visit")]
    ref, routed = _member_by_member(path, prog, rows)
    assert routed == 0
    assert _cell(ref, "2024-02", "expired") > 0


@pytest.mark.parametrize("between", ["refused return", "visit"])
def test_a_refused_event_does_not_pass_time_for_a_batch_expiring_before_it_matures(tmp_path, between):
    """A purchase's 60 points (a purchase is a visit) wait from 5 January until 19 January and expire on 12
    January. Time passes at the member's events, maturing first, then expiring: at the 14 January visit the
    batch has expired unmatured; a return of more than is left of the order on 14 January is refused and
    changes nothing, the clock included (docs/semantics.md, "Identity and duplicates"), so time next passes
    on 14 February, when the batch matures (January's `matured`), then expires. (Found by hypothesis: the
    kernel took the refused return as a moment time passes at.)"""
    path, prog = _load(tmp_path, program_text("expire 1 week after earning", "14 days", "balance stops at zero",
                                              40, False))
    middle = (["A", "2024-01-14T12:00", "return", "A1", "", "", "", "20.00", "", ""] if between == "refused return"
              else _event("A", "2024-01-14T12:00", "visit"))
    rows = [_buy("A", "2024-01-05T12:00", "A1", "0.00", "coffee"), middle, _event("A", "2024-02-14T12:00", "visit")]
    ref, routed = _member_by_member(path, prog, rows)
    assert routed == 0
    assert _cell(ref, "2024-01", "matured") == (60 if between == "refused return" else 0)
    # the batch, and with the visit the 20 of its own 60 points a redemption left (on 21 January)
    assert _cell(ref, "2024-01", "expired") == (60 if between == "refused return" else 80)
    refused = ref.cells.get(("rejected", "return rejected by the program: amount", "events"), 0)
    assert refused == (1 if between == "refused return" else 0)


def test_a_kind_that_may_go_negative_still_routes_the_member_and_counts_it(tmp_path):
    """Under `balance may go negative` a return beyond the balance leaves a debt that the next points credited
    pay; the kernel routes a member with at-once points during a wait to the scalar plan, counted in ROUTED and
    said by --verbose; the result is exact."""
    path, prog = _load(tmp_path, program_text(policy="balance may go negative"), "negative")
    rows = [_event("early", "2024-02-01T10:00", "signup"),
            _buy("early", "2024-02-01T11:00", "E1", "60.00"),
            _buy("early", "2024-02-20T11:00", "E2", "60.00"),
            _buy("late", "2024-02-01T11:00", "L1", "60.00"),
            _event("late", "2024-02-02T10:00", "signup"),  # while L1's points wait
            _buy("late", "2024-02-20T11:00", "L2", "60.00"),
            _buy("late", "2024-05-09T11:00", "L3", "60.00")]
    _, routed = _member_by_member(path, prog, rows)
    assert routed == 1  # `late` only
    csv_path = tmp_path / "routed.csv"
    csv_path.write_text("\n".join([",".join(HEADER)] + [",".join(r) for r in rows]) + "\n")
    result = CliRunner().invoke(main, ["simulate", path, str(csv_path), "--jobs", "1", "--verbose", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert f"vectorised kernel: 1 member(s) replayed by the scalar plan ({PENDING_REASON})" in result.stderr


# ------------------------------------------------------------------ generated programs and histories

_EXPIRIES = ["expire 2 months after earning", "expire 20 days after earning", "expire 1 week after earning",
             "expire at the end of the calendar month", "expire at the end of the next calendar month"]
_STEPS_H = [0, 1, 20, 24, 47, 24 * 3, 24 * 8, 24 * 15, 24 * 31, 24 * 62]


@st.composite
def _rows(draw):
    rows = []
    for m in range(draw(st.integers(1, 3))):
        member = f"m{m}"
        t = dt.datetime(2024, 1, 1, 9) + dt.timedelta(hours=draw(st.integers(0, 24 * 40)))
        orders = []
        for i in range(draw(st.integers(1, 12))):
            t += dt.timedelta(hours=draw(st.sampled_from(_STEPS_H)))
            when = t.strftime("%Y-%m-%dT%H:%M")
            kind = draw(st.sampled_from(["purchase"] * 4 + ["signup", "visit", "visit", "return"]))
            if kind == "purchase":
                order = f"{member}o{i}"
                for item in draw(st.lists(st.sampled_from(["coffee", "cake"]), min_size=1, max_size=2, unique=True)):
                    rows.append(_buy(member, when, order, f"{draw(st.integers(0, 400))}.00", item))
                orders.append(order)
            elif kind == "return" and orders:
                order = draw(st.sampled_from(orders))
                amount = draw(st.sampled_from(["0.00", "5.00", "20.00"]))  # whole, or part of it
                rows.append([member, when, "return", order, "", "", "", amount, "", ""])
            elif kind != "return":
                rows.append(_event(member, when, kind))
    return rows


@settings(max_examples=60, deadline=None)
@given(expiry=st.sampled_from(_EXPIRIES), pending=st.sampled_from(["1 days", "3 days", "14 days", "1 weeks"]),
       policy=st.sampled_from(["balance stops at zero", "returns take from pending only"]),
       price=st.sampled_from([40, 100, 250]), tiers=st.booleans(), rows=_rows())
def test_generated_histories_member_by_member(tmp_path_factory, expiry, pending, policy, price, tiers, rows):
    """Programs with pending points and expiry after earning or at a period's end, points credited at once,
    redemptions (every member redeems as soon as she can), returns whole and in part, with and without tiers
    on points earned; histories with events during purchases' waits: the kernel's result is the scalar plan's
    member by member, and nobody is routed for it."""
    path, prog = _load(tmp_path_factory.mktemp("gen"), program_text(expiry, pending, policy, price, tiers))
    _, routed = _member_by_member(path, prog, rows)
    assert routed == 0
