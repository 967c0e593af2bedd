"""The members who cannot claim a budget, replayed apart in one pass (simulate/budgets.py `claimants_apart`,
parallel.py `apart_from_claimants`): the result must be every member's by budget passes, on both kernels, and a
guess of the plan's that misses a claimant must never be kept (the whole history then takes the passes)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate import budgets, parallel
from loyalty.simulate.budgets import claim_rows
from loyalty.simulate.parallel import simulate_jobs
from test_vector_kernel import INLINE, _history, _plan, _program, _report

# a signup bonus in a campaign of a few days and a multiplier of a few days, each with a budget that runs out;
# tiers by the points earned, so a cutoff moves tiers and what members pay, and redemptions read the balance
PROGRAM = """
program "Claimants" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-01
}
points "points" {
  cost 0.10 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free wash" is a free "basic wash"
redeem 40 points for "free wash"
rule "a point per 10 NOK" {
  earn 1 point per 10 NOK
}
campaign "welcome week" {
  from 2024-01-08 to 2024-01-20
  budget 100 points
  rule "signup bonus" {
    earn 50 points
    on signup
  }
}
campaign "march days" {
  from 2024-03-01 to 2024-03-10
  budget 30 points
  rule "double" {
    earn 2x points
  }
}
tiers by points earned in the calendar year {
  tier "silver" from 60 points {
    earn 1.5x points
    get 5% off
  }
}
"""
INLINE["CLAIMANTS"] = PROGRAM


@pytest.fixture(scope="module")
def claimants_program(tmp_path_factory):
    return _program(tmp_path_factory, "CLAIMANTS")


def _calls(monkeypatch):
    """Counts the cut runs kept (`apart_from_claimants` gave a result) and those given up."""
    seen = {"kept": 0, "given up": 0}
    apart = parallel.apart_from_claimants

    def counting(*args):
        out = apart(*args)
        seen["kept" if out is not None else "given up"] += 1
        return out

    monkeypatch.setattr(parallel, "apart_from_claimants", counting)
    return seen


def _uncut(plan, history, kernel):
    saved = parallel.claimants_apart
    parallel.claimants_apart = lambda program, history: None
    try:
        return simulate_jobs(plan, history, 1, kernel=kernel)
    finally:
        parallel.claimants_apart = saved


def _assert_same_as_uncut(plan, history):
    for kernel in ("python", "vector"):
        got = simulate_jobs(plan, history, 1, kernel=kernel)
        want = _uncut(plan, history, kernel)
        assert got.canonical() == want.canonical(), kernel
        assert _report(plan, history, got) == _report(plan, history, want), kernel


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 40), max_events=st.sampled_from([3, 12, 40]))
def test_claimants_apart_give_every_members_passes(monkeypatch, claimants_program, seed, members, max_events):
    monkeypatch.setattr(budgets, "CLAIMANTS_APART_SHARE", 1.0)  # (cut whenever the plan bounds the claims)
    path, prog = claimants_program
    history = _history(prog, seed, members, max_events)
    seen = _calls(monkeypatch)
    _assert_same_as_uncut(_plan(path, prog, history, seed), history)
    assert seen["kept"] == 2 and not seen["given up"]  # (the plan's guess holds: no timer or attribute claims)


def test_a_guess_that_misses_a_claimant_is_given_up(monkeypatch, claimants_program):
    """The plan's guess made wrong on purpose: it misses the members of every other claim row, whose claims make
    the budgets run out elsewhere. The cut must be given up where they claim (kept, their claims would count for
    nothing and the cutoffs move), and the result is every member's by passes."""
    path, prog = claimants_program
    monkeypatch.setattr(budgets, "CLAIMANTS_APART_SHARE", 1.0)
    real = budgets.claim_rows

    def missing(program, history):
        rows = real(program, history)
        member = history.code_array("member")
        missed = np.unique(member[rows])[::2]
        return rows & ~np.isin(member, missed)

    monkeypatch.setattr(budgets, "claim_rows", missing)
    seen = _calls(monkeypatch)
    tried = 0
    for seed in range(6):
        history = _history(prog, seed, 30, 12)
        plan = _plan(path, prog, history, seed)
        if not missing(prog, history).any() or not budgets.claimants_apart(prog, history):
            continue
        tried += 1
        _assert_same_as_uncut(plan, history)
    # (given up where the missed members did claim; kept where none of them did, on rows at the window's edge)
    assert tried and seen["given up"] >= tried


def test_claim_rows_follow_the_budgeted_rules(claimants_program, tmp_path_factory):
    _, prog = claimants_program
    history = _history(prog, 3, 40, 12)
    rows = claim_rows(prog, history)
    us = np.asarray(history.column("time"))
    kind, kinds = history.dictionary_codes("type")
    day = 86_400_000_000
    jan8, jan21 = budgets._day_us("2024-01-08"), budgets._day_us("2024-01-21")
    mar1, mar11 = budgets._day_us("2024-03-01"), budgets._day_us("2024-03-11")
    signup = (kind == kinds.index("signup")) & (us >= jan8 - day) & (us < jan21 + day)
    march = (us >= mar1 - day) & (us < mar11 + day)
    assert rows.tolist() == (signup | march).tolist()
    assert rows.any() and not rows.all()
    # a budget on a rule without dates or trigger: any row may claim
    _, everywhere = _program(tmp_path_factory, "BUDGETS")
    assert claim_rows(everywhere, _history(everywhere, 3, 10, 12)).all()


def test_a_budget_no_rule_holds_is_not_guessed(tmp_path_factory):
    """A code's uses in all are a budget too (compiler), claimed at purchases carrying the code: no guess."""
    INLINE["CODE_USES"] = PROGRAM.replace('rule "a point per 10 NOK" {', '''code "SPRING" limited to 5 uses
rule "spring" {
  with code "SPRING"
  earn 10 points
}
rule "a point per 10 NOK" {''')
    _, prog = _program(tmp_path_factory, "CODE_USES")
    assert any(key not in {r.budget for r in prog.rules} for key in prog.budgets)
    assert claim_rows(prog, _history(prog, 1, 10, 12)) is None


def test_the_bar_counts_one_pass_over_the_history(monkeypatch, claimants_program):
    """The members apart and the claimants' first pass fill the bar once; the claimants' later passes do not
    restart it (run.py `with_progress` would, and leave it at their share)."""
    monkeypatch.setattr(budgets, "CLAIMANTS_APART_SHARE", 1.0)
    path, prog = claimants_program
    seen = _calls(monkeypatch)
    for seed in range(4):
        history = _history(prog, seed, 30, 12)
        plan = _plan(path, prog, history, seed)
        counted: list = []
        result = simulate_jobs(plan, history, 1, counted.append, kernel="vector")
        if result.exhausted and seen["kept"]:
            assert sum(counted) == len(history)
            return
    pytest.fail("no history where a budget runs out among the claimants apart")


def test_a_guess_given_up_leaves_the_bar_at_whole_passes(monkeypatch, claimants_program):
    """The members apart's pass, then every member's passes once the guess is given up: the bar counts the whole
    history's first pass from where the members apart left it, so each pass fills it exactly once (counted past
    it, run.py `with_progress` labels the rest of the first pass "pass 2")."""
    path, prog = claimants_program
    monkeypatch.setattr(budgets, "CLAIMANTS_APART_SHARE", 1.0)
    real = budgets.claim_rows

    def missing(program, history):  # (every other claimant left out of the guess, as above)
        rows = real(program, history)
        member = history.code_array("member")
        return rows & ~np.isin(member, np.unique(member[rows])[::2])

    monkeypatch.setattr(budgets, "claim_rows", missing)
    seen = _calls(monkeypatch)
    for seed in range(6):
        history = _history(prog, seed, 30, 12)
        plan = _plan(path, prog, history, seed)
        apart = budgets.claimants_apart(prog, history)
        counted: list = []
        simulate_jobs(plan, history, 1, counted.append, kernel="vector")
        if seen["given up"]:
            assert 0 < len(apart[0]) < len(history)  # (the members apart: some, not all)
            assert sum(counted) and sum(counted) % len(history) == 0
            return
    pytest.fail("no history where the guess was given up")
