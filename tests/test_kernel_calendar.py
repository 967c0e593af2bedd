"""The kernel's calendar steps against the scalar plan.

Expiry `N months after earning` on a kind whose points also wait a few days (coffee_stars' shape), where a
batch earned later can expire earlier (the day clamps to the month's end, the time of day stays): the kernel
runs such a member unless one of her events, or the end of the history, falls between the two moments; the
result is the scalar plan's either way.

Tiers by points earned that a tier's discount changes (beauty_points' shape): the kernel's first guess of
the tiers, made tier by tier, is the settled one, and the result is the scalar plan's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate.run import load_program
from loyalty.simulate.vector import simulate_vector, supports

from test_vector_kernel import SWAPPED, _routed_run

PENDING_DAYS_EXPIRY_MONTHS = """
program "Pending days, expiry months" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 3 months after earning
  available 2 days after purchase
  POLICY
}
catalog {
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
}
reward "free coffee" is a free "coffee"
redeem 120 points for "free coffee"
rule "points" {
  earn 1 point per 1 NOK
}
rule "welcome" {
  earn 30 points
  on signup
}
"""

# A1 (30 March 10:00) expires 30 June 10:00; A2, earned later (31 March 09:00), on 30 June 09:00: earlier
_EARNED = [["A", "2024-03-29T08:00", "signup", "", "", "", "", "", "", ""],
           ["A", "2024-03-30T10:00", "purchase", "A1", "coffee", "", "1", "100.00", "", ""],
           ["A", "2024-03-31T09:00", "purchase", "A2", "coffee", "", "1", "50.00", "", ""]]
_LATER = ["B", "2024-07-05T12:00", "visit", "", "", "", "", "", "", ""]  # the history ends after the gap


@pytest.mark.parametrize("policy", ["", "balance may go negative"])
@pytest.mark.parametrize("rows, routed", [
    # A buys in the gap (09:30): A2's batch is gone (a hole: points.expire_out_of_order), A1's is not
    ([["A", "2024-06-30T09:30", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # nothing of A's between the two moments: the kernel takes her
    ([["A", "2024-07-02T12:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # an event exactly at the later moment (10:00): both batches are due there on either side
    ([["A", "2024-06-30T10:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # an event exactly at the earlier moment (09:00): only A2's batch is due
    ([["A", "2024-06-30T09:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # a purchase's points mature in the gap (28 June 09:30 + 2 days), with no event of A's there
    ([["A", "2024-06-28T09:30", "purchase", "A3", "coffee", "", "1", "40.00", "", ""],
      ["A", "2024-07-02T12:00", "purchase", "A4", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # a return of the whole first order after both matured (a debt under `balance may go negative`), then a
    # purchase maturing in the gap
    ([["A", "2024-04-10T12:00", "purchase", "A3", "coffee", "", "1", "1.00", "", ""],
      ["A", "2024-06-20T12:00", "return", "A1", "", "", "", "100.00", "", ""],
      ["A", "2024-06-28T09:30", "purchase", "A4", "coffee", "", "1", "80.00", "", ""],
      ["A", "2024-07-02T12:00", "purchase", "A5", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # the history ends in the gap
    ([["B", "2024-06-30T09:30", "visit", "", "", "", "", "", "", ""]], 0),
])
def test_expiry_months_after_earning_with_pending_days_stays_on_the_kernel(tmp_path, policy, rows, routed):
    """A kind that waits 2 days and expires 3 months after earning: a member whose batches expire out of
    earning order stays on the kernel, and where she has an event (or the history ends) in the gap between the
    two moments the later-earned batch expires there as a hole (its points available by then; a batch still
    waiting routes its member: tests/test_kernel_expiry_holes.py); the kernel's result equals the scalar plan's
    cell by cell, member by member."""
    path = tmp_path / "pending_days.loyalty"
    path.write_text(PENDING_DAYS_EXPIRY_MONTHS.replace("POLICY", policy))
    prog = load_program(str(path))
    assert supports(prog, None) is None
    vec, ref, n = _routed_run(str(path), prog, _EARNED + rows, SWAPPED)
    assert vec.canonical() == ref.canonical()
    assert n == routed


# ---------------------------------------------------------------- the first guess of the tiers, tier by tier
# Tiers by points earned, with a tier's own discount: what a purchase earns depends on the tier the member
# holds, which depends on what earlier purchases earned. The kernel's first guess (Kernel._tier_guess_by_tier)
# runs the state-free steps once per tier and takes each event's points from its own tier's run; the passes
# then confirm it (or settle from it).

TIER_DISCOUNT = """
program "Tier discount" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire after 12 months without a purchase
}
catalog {
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
  item "beans" in category "drinks" costing 40 NOK
}
reward "free coffee" is a free "coffee"
redeem 500 points for "free coffee"
rule "points" {
  earn 1 point per 1 NOK
}
rule "beans for gold" {
  get 10% off
  on "beans"
  for tier "gold"
}
tiers by points earned in the last 12 months {
  tier "silver" from 100 points {
    earn 1.5x points
    get 20% off
  }
  tier "gold" from 300 points {
    earn 2x points
    get 50% off
  }
  downgrade at the end of each year with 1 month grace
}
"""


def _guessed_and_settled(monkeypatch, plan, history, owner=None, name="_tier_guess_by_tier"):
    """The kernel's result, and per kernel run (a member range) its first guess of the tiers (made by `name` of
    `owner`: the kernel's tier-by-tier guess, or the kernel module's `vector_tiers_at_once`), the tiers it
    settled on, and how many passes it took from the guess."""
    from loyalty.simulate.vector import kernel

    owner = kernel._Kernel if owner is None else owner
    runs = []
    guess, replay = getattr(owner, name), kernel._Kernel._replay

    def guessing(*args):
        runs.append({"guess": guess(*args), "passes": 0})
        return runs[-1]["guess"]

    def counting(self):
        replay(self)  # (the at-once guess is made inside the first pass)
        if runs:
            runs[-1]["passes"] += 1
            runs[-1]["settled"] = self.tier_before  # (a kernel lets its arrays go once it has run)

    monkeypatch.setattr(owner, name, guessing)
    monkeypatch.setattr(kernel._Kernel, "_replay", counting)
    result = kernel.simulate_vector(plan, history)
    return result, [(r["guess"], r["settled"], r["passes"]) for r in runs]


def _rows_history(prog, rows):
    from loyalty.simulate.history import ReadOptions, build_history

    from test_vector_kernel import HEADER

    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "tiers.csv", 2, options)


@pytest.mark.parametrize("amounts", [
    # 100.00 of beans at no tier: 100 points, silver; then 250.00 at silver's 20% off: 200 paid, 300 points
    # (1.5x), gold; 100.00 at gold's 50% and 10% off: 45 paid, 90 points
    ["100.00", "250.00", "100.00"],
    # 99 points: no tier; 1 more: silver; 170.00 at 20% off: 136 paid, 204 points: 304, gold
    ["99.00", "1.00", "170.00", "40.00", "40.00"],
    # 166.00 at 20% off: 132.80 paid, 199 points: 299, still silver; 1.00 more: 0.80 paid, 1 point: gold
    ["100.00", "166.00", "1.00", "40.00"],
])
def test_tiers_guessed_tier_by_tier_are_the_settled_ones(tmp_path, monkeypatch, amounts):
    """Purchases whose points cross a tier only at one tier's discount and rate: the first guess is every
    event's settled tier (one pass confirms it), and the kernel's result is the scalar plan's."""
    from loyalty.simulate.engine import simulate

    from test_vector_kernel import _plan

    path = tmp_path / "tier_discount.loyalty"
    path.write_text(TIER_DISCOUNT)
    prog = load_program(str(path))
    assert supports(prog, None) is None
    rows = [["A", f"2024-03-{10 + i:02d}T10:00", "purchase", f"A{i}", "beans", "", "1", amount, "", ""]
            for i, amount in enumerate(amounts)]
    rows += [["B", "2024-03-10T11:00", "purchase", "B1", "coffee", "", "1", "6.00", "", ""]]
    history = _rows_history(prog, rows)
    plan = _plan(str(path), prog, history)
    result, runs = _guessed_and_settled(monkeypatch, plan, history)
    assert [settled.max() for _, settled, _ in runs] == [1]  # A reaches gold
    for guessed, settled, passes in runs:
        assert guessed.tolist() == settled.tolist()
        assert passes == 1
    assert result.canonical() == simulate(plan, history).canonical()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["TIER_DISCOUNT", "examples/programs/beauty_points.loyalty"]))
def test_generated_histories_tiers_guessed_tier_by_tier(tmp_path, monkeypatch, seed, members, max_events, which):
    """On generated histories (returns, referrals, redemptions, signups ...) of programs with tiers by points
    earned and a tier's discount: the kernel equals the scalar plan member by member, and where what an
    event earns reads only its own tier (both programs: no cap on a discount, no budget) the first guess is
    the settled tiers."""
    from loyalty.simulate.engine import simulate

    from test_vector_kernel import ROOT, _history, _plan

    if which == "TIER_DISCOUNT":
        path = tmp_path / "tier_discount.loyalty"
        path.write_text(TIER_DISCOUNT)
    else:
        path = ROOT / which
    prog = load_program(str(path))
    history = _history(prog, seed, members, max_events)
    plan = _plan(str(path), prog, history, seed % 7)
    result, runs = _guessed_and_settled(monkeypatch, plan, history)
    # (a member with a redemption row goes to the scalar plan: with none left, `runs` is empty)
    for guessed, settled, passes in runs:
        assert guessed.tolist() == settled.tolist()
        assert passes == 1
    assert result.canonical() == simulate(plan, history).canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical()


# ---------------------------------------------------------------- tiers no lockstep state moves
# Tiers by lifetime visits (grocery_club's shape) read by a tier's discount and a `for tier` rule: the
# first pass computes every event's tier before it reads them (tiers.vector_tiers_at_once), and the passes
# confirm it.

TIER_LIFETIME_VISITS = """
program "Lifetime visits" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  available 3 days after purchase
  balance may go negative
}
catalog {
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
  item "beans" in category "drinks" costing 40 NOK
}
reward "free coffee" is a free "coffee"
redeem 50 points for "free coffee"
rule "points" {
  earn 1 point per 1 NOK
}
rule "beans for regulars" {
  get 10% off
  on "beans"
  for tier "regular"
}
tiers by lifetime visits {
  tier "member" from 1 {
    earn 1.5x points
  }
  tier "regular" from 3 {
    earn 2x points
    get 5% off
  }
}
"""


def _at_once_and_settled(monkeypatch, plan, history):
    """`_guessed_and_settled` for the tiers computed at once (lifetime visits)."""
    from loyalty.simulate.vector import kernel

    return _guessed_and_settled(monkeypatch, plan, history, kernel, "vector_tiers_at_once")


def test_tiers_by_lifetime_visits_computed_at_once_are_the_settled_ones(tmp_path, monkeypatch):
    """Visits, a return (which counts no visit but sets the tier again), purchases outside the program's
    time are absent here; the tiers computed at once are every event's settled tier, one pass confirms
    them, and the result is the scalar plan's."""
    from loyalty.simulate.engine import simulate

    from test_vector_kernel import _plan

    path = tmp_path / "visits.loyalty"
    path.write_text(TIER_LIFETIME_VISITS)
    prog = load_program(str(path))
    assert supports(prog, None) is None
    rows = [["A", "2024-03-01T10:00", "purchase", "A1", "beans", "", "1", "40.00", "", ""],
            ["A", "2024-03-02T10:00", "visit", "", "", "", "", "", "", ""],
            ["A", "2024-03-03T10:00", "purchase", "A2", "beans", "", "2", "80.00", "", ""],  # 3rd visit: regular
            ["A", "2024-03-04T10:00", "return", "A2", "beans", "", "1", "40.00", "", ""],
            ["A", "2024-03-05T10:00", "purchase", "A3", "beans", "", "1", "40.00", "", ""],  # at regular
            ["B", "2024-03-01T11:00", "purchase", "B1", "coffee", "", "1", "6.00", "", ""]]
    history = _rows_history(prog, rows)
    plan = _plan(str(path), prog, history)
    result, runs = _at_once_and_settled(monkeypatch, plan, history)
    assert [(guessed.tolist(), settled.tolist(), passes) for guessed, settled, passes in runs] == \
        [([-1, 0, 0, 1, 1, -1], [-1, 0, 0, 1, 1, -1], 1)]
    assert result.canonical() == simulate(plan, history).canonical()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["TIER_LIFETIME_VISITS", "examples/programs/grocery_club.loyalty"]))
def test_generated_histories_tiers_computed_at_once(tmp_path, monkeypatch, seed, members, max_events, which):
    """On generated histories of programs with tiers by lifetime visits that a discount reads: the kernel
    equals the scalar plan member by member, and the tiers computed at once are the settled ones."""
    from loyalty.simulate.engine import simulate

    from test_vector_kernel import ROOT, _history, _plan

    if which == "TIER_LIFETIME_VISITS":
        path = tmp_path / "visits.loyalty"
        path.write_text(TIER_LIFETIME_VISITS)
    else:
        path = ROOT / which
    prog = load_program(str(path))
    history = _history(prog, seed, members, max_events)
    plan = _plan(str(path), prog, history, seed % 7)
    result, runs = _at_once_and_settled(monkeypatch, plan, history)
    # (a member with a redemption row goes to the scalar plan: with none left, `runs` is empty)
    for guessed, settled, passes in runs:
        assert guessed is not None
        assert guessed.tolist() == settled.tolist()
        assert passes == 1
    assert result.canonical() == simulate(plan, history).canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical()


# A budget cuts the points of the tier a run guesses only (limits.vector_limits), so the tier-by-tier guess runs
# each tier apart under a budget (tiers.tiers_alike): silver, whose state-free run is no tier's (no discount of
# its own), would else read the campaign's points uncut after the budget ran out, and guess gold too early.
TIER_BUDGET = """
program "Tier budget" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 12 months after earning
}
catalog {
  category "drinks"
  item "beans" in category "drinks" costing 40 NOK
}
rule "points" {
  earn 1 point per 1 NOK
}
campaign "double" {
  from 2024-01-01 to 2024-12-31
  budget 1000 points
  rule "double beans" {
    earn 2x points
    on category "drinks"
  }
}
tiers by points earned in the calendar year {
  tier "silver" from 100 points {
    earn 1.5x points
  }
  tier "gold" from 300 points {
    earn 2x points
    get 50% off
  }
}
"""


def test_tiers_guessed_tier_by_tier_under_a_budget_that_ran_out(tmp_path, monkeypatch):
    """A's first purchase takes the campaign's last 100 points (the pass's known cutoff): 200 points, silver.
    Her next, at silver: 40 + 20 (1.5x), no campaign: 260, still silver; with the campaign's points uncut at
    silver it would be 300, gold. The guess is every event's settled tier, one pass confirms it, and the result
    is the scalar plan's under the same cutoff."""
    from loyalty.simulate.budgets import _micros
    from loyalty.simulate.parallel import evaluate_range

    from test_vector_kernel import _plan

    path = tmp_path / "tier_budget.loyalty"
    path.write_text(TIER_BUDGET)
    prog = load_program(str(path))
    rows = [["A", "2024-03-10T10:00", "purchase", "A1", "beans", "", "1", "100.00", "", ""],
            ["A", "2024-03-11T10:00", "purchase", "A2", "beans", "", "1", "40.00", "", ""],
            ["A", "2024-03-12T10:00", "purchase", "A3", "beans", "", "1", "40.00", "", ""],
            ["B", "2024-03-10T11:00", "purchase", "B1", "beans", "", "1", "6.00", "", ""]]
    history = _rows_history(prog, rows)
    plan = _plan(str(path), prog, history)
    assert supports(prog, plan) is None
    import datetime as dt

    first = _micros(dt.datetime(2024, 3, 10, 10, 0))  # (wall time, as the ledger's claims have it)
    known = {"campaign:double": ((first, "A", 0), 100)}
    from loyalty.simulate.vector import kernel

    runs = []
    guess, replay = kernel._Kernel._tier_guess_by_tier, kernel._Kernel._replay

    def guessing(self):
        runs.append({"guess": guess(self), "passes": 0})
        return runs[-1]["guess"]

    def counting(self):
        replay(self)
        runs[-1]["passes"] += 1
        runs[-1]["settled"] = self.tier_before

    monkeypatch.setattr(kernel._Kernel, "_tier_guess_by_tier", guessing)
    monkeypatch.setattr(kernel._Kernel, "_replay", counting)
    result = evaluate_range(plan, history, known, "vector")
    assert len(runs) == 1
    assert runs[0]["settled"].tolist()[:3] == [-1, 0, 0]  # A: no tier, silver, silver (never gold)
    assert runs[0]["guess"].tolist() == runs[0]["settled"].tolist()
    assert runs[0]["passes"] == 1
    scalar = evaluate_range(plan, history, known, "python")
    assert result.canonical() == scalar.canonical()
    assert scalar.tables["budget"]["campaign:double"]["times"] == 3  # (A2, A3 and B1 claim after the cutoff)


# A punch card's free units are kept on the kernel across its passes (punch.vector_discounts) and made again
# when the lines it matches change: here through `for tier`, which each tier pass reads at its guessed tiers.
TIER_CARD = """
program "Tier card" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 12 months after earning
}
catalog {
  category "drinks"
  item "beans" in category "drinks" costing 40 NOK
}
rule "points" {
  earn 1 point per 1 NOK
}
rule "every 2nd beans free for gold" {
  every 2nd "beans" is free
  for tier "gold"
}
tiers by points earned in the calendar year {
  tier "gold" from 100 points {
    get 10% off
  }
}
"""


@pytest.mark.parametrize("by_tier", [True, False])
def test_punch_card_read_at_the_tiers_of_each_pass(tmp_path, monkeypatch, by_tier):
    """From the first tier everywhere (no tier: the card matches nothing) the second pass finds A gold from her
    second purchase on, and the card then gives her fourth beans free: the kernel's result is the scalar plan's,
    from either first guess."""
    from loyalty.simulate.parallel import evaluate_range
    from loyalty.simulate.vector import kernel

    from test_vector_kernel import _plan

    if not by_tier:
        monkeypatch.setattr(kernel, "guess_by_tier", lambda prog: False)
    path = tmp_path / "tier_card.loyalty"
    path.write_text(TIER_CARD)
    prog = load_program(str(path))
    rows = [["A", f"2024-03-{10 + i:02d}T10:00", "purchase", f"A{i}", "beans", "", "1", "100.00", "", ""]
            for i in range(4)]
    rows += [["B", "2024-03-10T11:00", "purchase", "B1", "beans", "", "2", "80.00", "", ""]]
    history = _rows_history(prog, rows)
    plan = _plan(str(path), prog, history)
    assert supports(prog, plan) is None
    vec, scalar = evaluate_range(plan, history, None, "vector"), evaluate_range(plan, history, None, "python")
    assert vec.canonical() == scalar.canonical()
    assert scalar.tables["rule"]["every 2nd beans free for gold"]["discount"] > 0
