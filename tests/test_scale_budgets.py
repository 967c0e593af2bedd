"""Budgets in a partitioned run: any grouping of members, any number of passes, equals one sequential
service granting claims in (time, member) order from one real ledger (docs/scale.md, "Budgets")."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from loyalty.compiler import compile_program
from loyalty.runtime.evaluator import apply_event, new_member
from loyalty.runtime.events import EventError
from loyalty.runtime.ledger import BudgetLedger
from loyalty.simulate.budgets import CutoffLedger, find_cutoffs, solve_budgets
from loyalty.simulate.engine import make_plan, program_info, replay_members, simulate
from loyalty.simulate.generate import GenerateOptions, generate_text
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.orders import EventBuilder
from loyalty.simulate.result import merge_all
from loyalty.simulate.scenario import Scenario
from loyalty.syntax.parser import parse

# "bonus" depends on the balance, which "base" feeds: once base's budget is gone, fewer members reach
# 100 points, so bonus's claims after that moment differ from a run where base never ran out
TWO_BUDGETS = """program "two budgets" {
  currency NOK
}

points "points" {
  cost 0.10 NOK each
}

rule "base" {
  earn 1 point per 1 NOK
  budget %(base)d points
}

rule "bonus once you have 100" {
  earn 50 points
  when points balance >= 100 points
  budget %(bonus)d points
}

campaign "shared" {
  budget %(shared)d points

  rule "two a visit" {
    earn 2 points per 1 NOK
  }

  rule "three a visit" {
    earn 3 points per 1 NOK
  }
}
"""

NO_REDEMPTION = Scenario(redemption_policy="none")


def program(base: int, bonus: int, shared: int):
    text = TWO_BUDGETS % {"base": base, "bonus": bonus, "shared": shared}
    return compile_program(parse(text, "p.loyalty"), "p.loyalty")


def history(rows: int, members: int, seed: int, prog):
    import csv
    import io

    text = generate_text(GenerateOptions(rows=rows, seed=seed, members=members))
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    cols = {name: [] for name in header}
    for row in reader:
        for name, value in zip(header, row):
            cols[name].append(value)
    return build_history(cols, "h.csv", 2, ReadOptions(minor_units=prog.exponent, timezone=prog.timezone))


def sequential_points(prog, h) -> tuple[Counter, dict, Counter]:
    """The oracle: every member's events interleaved in service order through one real ledger."""
    builder = EventBuilder(h, prog.catalog)
    states, queue = {}, []
    for member, start, end in h.member_slices():
        states[member] = new_member(prog, member, {})
        for i, ev in enumerate(builder.member(start, end).evs):
            queue.append((ev.time, member, i, ev))
    queue.sort(key=lambda q: q[:3])
    ledger = BudgetLedger(prog.budgets)
    points: Counter = Counter()
    by_member: Counter = Counter()
    for _t, member, _i, ev in queue:
        out: list = []
        try:
            apply_event(prog, states[member], ev, ledger, out)
        except EventError:
            continue
        for e in out:
            if e.kind == "points_earned":
                points[e.rule] += e.points
                by_member[member] += e.points
    return points, dict(ledger.used), by_member


def earned_by_member(result) -> Counter:
    return Counter({row.member: row.points_earned for row in result.members if row.points_earned})


def issued(result) -> Counter:
    return Counter({key: value for (table, key, column), value in result.cells.items()
                    if table == "rule" and column == "points_issued" and value})


def test_a_budget_that_runs_out_changes_the_claims_on_another_and_the_passes_follow():
    prog = program(base=1000, bonus=10000, shared=6000)
    h = history(3000, 60, 3, prog)
    expected, used, by_member = sequential_points(prog, h)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), NO_REDEMPTION, h)
    result = simulate(plan, h)
    assert issued(result) == expected
    assert earned_by_member(result) == by_member
    # every budget ran out, and the report says so
    assert used == {"rule:base": 1000, "rule:bonus once you have 100": 10000, "campaign:shared": 6000}
    assert set(result.exhausted) == set(used)
    # the case that needs more than one fix: with only the first pass's cutoffs, bonus would be wrong
    first = replay_members(plan, h, h.member_slices(), lambda: CutoffLedger({}))
    naive = find_cutoffs(prog.budgets, first.claims, {})
    second = replay_members(plan, h, h.member_slices(), lambda: CutoffLedger(naive))
    assert earned_by_member(second) != by_member


def test_two_rules_sharing_a_budget_in_one_event_split_what_was_left_in_rule_order():
    prog = program(base=10**9, bonus=10**9, shared=7)
    h = build_history({"member": ["a", "b"], "time": ["2025-01-01T10:00", "2025-01-01T11:00"],
                       "amount": ["1", "1"]}, "h.csv", 2, ReadOptions(minor_units=prog.exponent))
    plan = make_plan(prog, program_info(prog, "p.loyalty"), NO_REDEMPTION, h)
    result = simulate(plan, h)
    expected, _, by_member = sequential_points(prog, h)
    # a: 2 + 3 = 5 of 7; b: "two a visit" gets 2, "three a visit" nothing
    assert expected == Counter({"two a visit": 4, "three a visit": 3, "base": 2, "bonus once you have 100": 0}) - Counter()
    assert issued(result) == expected
    assert earned_by_member(result) == by_member


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(200, 4000), st.integers(200, 4000), st.integers(200, 8000),
       st.integers(1, 7), st.sampled_from([1, 3]))
def test_any_grouping_of_members_equals_the_sequential_service(seed, base, bonus, shared, groups, stride):
    prog = program(base, bonus, shared)
    h = history(600, 25, seed, prog)
    expected, _, by_member = sequential_points(prog, h)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), NO_REDEMPTION, h)
    slices = h.member_slices()
    parts = [slices[i::groups] if stride == 3 else slices[i * len(slices) // groups:(i + 1) * len(slices) // groups]
             for i in range(groups)]

    def run_pass(known):
        return merge_all([replay_members(plan, h, part, lambda: CutoffLedger(known)) for part in parts])

    grouped = solve_budgets(prog.budgets, run_pass)
    assert issued(grouped) == expected
    assert earned_by_member(grouped) == by_member
    from loyalty.simulate.measures import add_customer_cells

    add_customer_cells(grouped, h, plan)  # what `simulate` adds for the whole history (replay_members does not)
    assert grouped.canonical() == simulate(plan, h).canonical()


def test_the_progress_bar_starts_again_for_each_budget_pass_and_never_passes_100(monkeypatch):
    import io

    from rich.console import Console

    import loyalty.progress
    from loyalty.simulate.run import PROGRESS_MIN_ROWS, with_progress

    shown = []
    monkeypatch.setattr(loyalty.progress, "SHOW_AFTER", 0)
    monkeypatch.setattr(loyalty.progress, "REFRESH", 0)  # every count, not one per 0.1 s
    monkeypatch.setattr(loyalty.progress.Bar, "_refresh",
                        lambda bar: shown.append((bar.description, bar.completed, bar.total)))
    rows = PROGRESS_MIN_ROWS
    console = Console(file=io.StringIO(), force_terminal=True)

    def three_passes(progress):
        for _ in range(3):
            for _ in range(4):
                progress(rows // 4)
        return "done"

    assert with_progress(rows, True, console, three_passes) == "done"
    assert all(done <= total for _, done, total in shown)
    assert [d for d, done, total in shown if done == total] == ["replaying", "replaying (pass 2)",
                                                                 "replaying (pass 3)"]


def test_budgets_that_run_out_independently_are_guessed_at_once_and_confirmed_by_one_more_pass():
    """base and the shared campaign both run out; bonus never does and nothing of one feeds the other's claims:
    the first pass finds both cutoffs, the second takes them as a guess and its claims give them back, so two
    passes (one per budget that runs out, and one more, without the guess), and the sequential service's points."""
    prog = program(base=1000, bonus=10**9, shared=6000)
    h = history(3000, 60, 3, prog)
    expected, used, by_member = sequential_points(prog, h)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), NO_REDEMPTION, h)
    passes: list = []

    def run_pass(known):
        return merge_all([replay_members(plan, h, part, lambda: CutoffLedger(known))
                          for part in (h.member_slices()[::2], h.member_slices()[1::2])])

    grouped = solve_budgets(prog.budgets, run_pass, on_pass=passes.append)
    assert set(grouped.exhausted) == {"rule:base", "campaign:shared"}
    assert passes == [1, 2]
    assert issued(grouped) == expected
    assert earned_by_member(grouped) == by_member


@pytest.mark.parametrize("guesses", [1, 2])
def test_a_guess_that_does_not_settle_falls_back_to_fixing_the_earliest_cutoff(monkeypatch, guesses):
    """The cascading case above with no pass, or one, to check a guess: the first pass's guess (bonus's cutoff
    from a run where base never ran out) is wrong, so the passes go on from the first pass's earliest cutoff
    (never from a guess), one budget per pass, to the same points as the sequential service."""
    import loyalty.simulate.budgets as budgets

    monkeypatch.setattr(budgets, "SPECULATIVE_PASSES", guesses)
    prog = program(base=1000, bonus=10000, shared=6000)
    h = history(3000, 60, 3, prog)
    expected, used, by_member = sequential_points(prog, h)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), NO_REDEMPTION, h)
    passes: list = []
    result = solve_budgets(prog.budgets, lambda known: replay_members(plan, h, h.member_slices(),
                                                                      lambda: CutoffLedger(known)),
                           on_pass=passes.append)
    assert len(passes) > 2  # the guess did not settle in the one pass it had
    assert issued(result) == expected
    assert earned_by_member(result) == by_member
    assert set(result.exhausted) == set(used)
