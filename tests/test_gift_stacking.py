"""Stacking gifts (runtime/mechanics/stacking.py, docs/semantics.md "Stacking gifts"): which gift an order gets
under `at most one gift per order`, `exclusive`, `priority` and a campaign's `best of`, on `program.apply`, the
reference plan, `loyalty explain`, and the vectorised kernel against the scalar plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import loyalty
from loyalty.cli import cli
from loyalty.simulate.vector import simulate_vector, supports
from loyalty.simulate.engine import simulate
from test_vector_kernel import GIFTS, INLINE, _both, _history, _program

ROOT = Path(__file__).resolve().parent.parent

HEAD = """program "Gifts" {
  currency NOK
%s}
reward "mini" is a gift "mini lipstick" costing 22 NOK
reward "bag" is a gift "beauty bag" costing 95 NOK
reward "mug" is a gift "mug" costing 22 NOK
"""
SMALL = 'rule "small" {\n  give "mini"\n  when order total >= 400 NOK\n%s}\n'
BIG = 'rule "big" {\n  give "bag"\n  when order total >= 800 NOK\n%s}\n'
MUG = 'rule "mug" {\n  give "mug"\n  when order total >= 400 NOK\n%s}\n'


def order(total: str, order_id: str = "o1", time: str = "2025-01-06T10:00") -> dict:
    return {"type": "purchase", "time": time, "order": order_id, "lines": [{"item": "cream", "amount": total}]}


def gifts(source: str, *events) -> list:
    """The reward effects of each event, on program.apply and on the reference plan (they must agree)."""
    from loyalty.runtime.facade import apply_general

    p = loyalty.compile_source(source)
    out = []
    for apply in (p.apply, lambda s, e: apply_general(p, s, e)):
        st_ = p.new_member("m")
        got = []
        for ev in events:
            res = apply(st_, ev)
            st_ = res.state
            got += [(e.kind, e.rule, e.reward, e.amount, e.scope, e.reason) for e in res.effects
                    if e.kind in ("reward_issued", "gift_not_given", "reward_taken_back", "cap_reached")]
        out.append(got)
    assert all(o == out[0] for o in out)
    return out[0]


def test_without_a_policy_both_gifts_are_given_and_gifts_stack_says_so():
    for settings_ in ("", "  gifts stack\n"):
        assert gifts(HEAD % settings_ + SMALL % "" + BIG % "", order("2000")) == [
            ("reward_issued", "small", "mini", 2200, None, None),
            ("reward_issued", "big", "bag", 9500, None, None)]


def test_one_gift_per_order_gives_the_gift_worth_most_and_says_why_the_other_lost():
    src = HEAD % "  at most one gift per order\n" + SMALL % "" + BIG % ""
    assert gifts(src, order("2000")) == [
        ("reward_issued", "big", "bag", 9500, None, None),
        ("gift_not_given", "small", "mini", 2200, "big", "one gift per order: worth less")]
    # one gift meets its condition: no contest
    assert gifts(src, order("500")) == [("reward_issued", "small", "mini", 2200, None, None)]


def test_a_tie_goes_to_the_earlier_rule():
    src = HEAD % "  at most one gift per order\n" + SMALL % "" + MUG % ""
    assert gifts(src, order("500")) == [
        ("reward_issued", "small", "mini", 2200, None, None),
        ("gift_not_given", "mug", "mug", 2200, "small", "one gift per order: worth the same, later rule")]


def test_priority_beats_worth_and_exclusive_makes_the_order_one_contest():
    src = HEAD % "" + SMALL % "  priority 1\n" + BIG % "  priority 2\n" + MUG % ""
    # the priorities contest among themselves; the mug has none and is given as well
    assert gifts(src, order("2000")) == [
        ("reward_issued", "small", "mini", 2200, None, None),
        ("reward_issued", "mug", "mug", 2200, None, None),
        ("gift_not_given", "big", "bag", 9500, "small", "priority: lower priority")]
    src = HEAD % "" + SMALL % "" + BIG % "  exclusive\n" + MUG % ""
    assert gifts(src, order("2000")) == [
        ("reward_issued", "big", "bag", 9500, None, None),
        ("gift_not_given", "small", "mini", 2200, "big", "exclusive: worth less"),
        ("gift_not_given", "mug", "mug", 2200, "big", "exclusive: worth less")]
    # where the exclusive gift does not apply, the others stack
    assert gifts(src, order("500")) == [("reward_issued", "small", "mini", 2200, None, None),
                                        ("reward_issued", "mug", "mug", 2200, None, None)]


def test_best_of_chooses_among_the_campaign_s_gifts_only():
    src = HEAD % "" + 'campaign "spring" {\n  best of\n' + SMALL % "" + BIG % "" + "}\n" + MUG % ""
    assert gifts(src, order("2000")) == [
        ("reward_issued", "big", "bag", 9500, None, None),
        ("reward_issued", "mug", "mug", 2200, None, None),
        ("gift_not_given", "small", "mini", 2200, "big", 'best of "spring": worth less')]


def test_the_loser_s_cap_is_untouched_and_the_winner_s_cap_refuses_as_usual():
    src = HEAD % "  at most one gift per order\n" + SMALL % "  at most once per member per month\n" + \
        BIG % "  at most once per member per month\n"
    assert gifts(src, order("2000", "o1"), order("500", "o2", "2025-01-07T10:00"),
                 order("2000", "o3", "2025-01-08T10:00")) == [
        ("reward_issued", "big", "bag", 9500, None, None),
        ("gift_not_given", "small", "mini", 2200, "big", "one gift per order: worth less"),
        ("reward_issued", "small", "mini", 2200, None, None),  # the mini lost o1: January's one is still there
        # o3: the bag wins again (decided before caps), and its cap refuses it: nothing is given
        ("cap_reached", "big", None, None, "rule:big", None),
        ("gift_not_given", "small", "mini", 2200, "big", "one gift per order: worth less")]


def test_a_whole_return_takes_back_only_the_gift_that_was_given():
    src = HEAD % "  at most one gift per order\n  rewards are taken back on return\n" + SMALL % "" + BIG % ""
    ret = {"type": "return", "time": "2025-01-09T10:00", "order": "o1"}
    assert gifts(src, order("2000"), ret) == [
        ("reward_issued", "big", "bag", 9500, None, None),
        ("gift_not_given", "small", "mini", 2200, "big", "one gift per order: worth less"),
        ("reward_taken_back", "big", "bag", 9500, None, None)]


def test_an_every_x_spent_gift_that_loses_uses_up_what_it_reached():
    src = HEAD % "  at most one gift per order\n" + BIG % "" + \
        'rule "every 500" {\n  give "mini"\n  after every 500 NOK spent\n}\n'
    # o1 (1000 NOK): "every 500" fires twice (2 x 22.00 = 44.00 < 95.00) and loses; o2 (600 NOK) reaches 1600,
    # one more multiple: the two of o1 are not given later
    assert gifts(src, order("1000"), order("600", "o2", "2025-01-07T10:00")) == [
        ("reward_issued", "big", "bag", 9500, None, None),
        ("gift_not_given", "every 500", "mini", 4400, "big", "one gift per order: worth less"),
        ("reward_issued", "every 500", "mini", 2200, None, None)]


def test_the_compiled_document_says_the_gift_policy_only_where_the_program_does():
    with_policy = json.loads(loyalty.compile_source(HEAD % "  at most one gift per order\n" + SMALL % "").to_json())
    without = json.loads(loyalty.compile_source(HEAD % "" + SMALL % "").to_json())
    assert with_policy["gift_stacking"] == "one per order" and "gift_stacking" not in without
    assert "stacking" not in with_policy  # the discounts' policy is another
    stack = json.loads(loyalty.compile_source(HEAD % "  gifts stack\n" + SMALL % "").to_json())
    assert stack["gift_stacking"] == "stack"


def test_the_settings_format_back_as_written():
    from loyalty.syntax.formatter import format_source

    for setting in ("at most one gift per order", "gifts stack"):
        src = HEAD % f"  {setting}\n" + SMALL % ""
        assert f"  {setting}\n" in format_source(src)


def test_explain_shows_which_gift_won_and_which_lost_and_why(tmp_path):
    history = tmp_path / "h.csv"
    history.write_text("member,time,type,order,item,amount,channel\n"
                       "m1,2025-03-03T12:00,purchase,o1,day cream,800.00,web\n"
                       "m1,2025-03-10T12:00,purchase,o2,cleanser,450.00,web\n")
    result = CliRunner().invoke(cli, ["explain", str(ROOT / "examples/programs/cosmetics_gift.loyalty"), str(history),
                                      "--member", "m1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "order o1" in line)
    assert lines[at + 1:at + 3] == [
        '    - reward beauty bag issued (face value 95.00 NOK, costs 95.00 NOK) (rule "big basket gift", line 35)',
        '    - reward mini lipstick not given on order o1: "big basket gift" won (one gift per order: worth less) '
        '(rule "gift with purchase", line 27)']
    at = next(i for i, line in enumerate(lines) if "order o2" in line)
    assert lines[at + 1] == ('    - reward mini lipstick issued (face value 22.00 NOK, costs 22.00 NOK) '
                             '(rule "gift with purchase", line 27)')


# ------------------------------------------------------------------ the vectorised kernel against the scalar plan

# GIFTS (tests/test_vector_kernel.py) under each policy: its gifts meet on purchases (a mug over 100 NOK once a
# month, a cloth every 3rd visit up north and on the 2nd visit: a tie, a cap on the first purchase worth nothing),
# with a campaign of two gifts, an every-X-spent gift and one every 2nd visit (a visit is no order: no contest on
# it); returns take rewards back
_EXTRA = """
campaign "weekends" {
  on saturdays, sundays
  rule "weekend mug" {
    give "mug"
    when order total >= 50 NOK
  }
  rule "weekend cloth" {
    give "cloth"
  }
}
rule "every 150 spent" {
  give "cloth"
  after every 150 NOK spent
}
rule "every 2nd visit" {
  give "mug"
  after every 2 visits
}
"""
GIFT_STACK_ONE = GIFTS.replace('  runs from 2024-01-03\n', '  runs from 2024-01-03\n  at most one gift per order\n'
                               '  rewards are taken back on return\n') + _EXTRA
GIFT_STACK_RULES = (GIFTS + _EXTRA).replace('  give "mug"\n  when order total >= 100 NOK\n',
                                            '  give "mug"\n  when order total >= 100 NOK\n  priority 2\n').replace(
    '  give "cap"\n  on first purchase\n', '  give "cap"\n  on first purchase\n  priority 1\n').replace(
    '  give "cloth"\n  on the 2nd visit\n', '  give "cloth"\n  on the 2nd visit\n  exclusive\n').replace(
    'campaign "weekends" {\n', 'campaign "weekends" {\n  best of\n')
GIFT_STACK_BEST = (GIFTS + _EXTRA).replace('campaign "weekends" {\n', 'campaign "weekends" {\n  best of\n')
INLINE.update({"GIFT_STACK_NONE": GIFTS + _EXTRA, "GIFT_STACK_ONE": GIFT_STACK_ONE, "GIFT_STACK_RULES": GIFT_STACK_RULES,
               "GIFT_STACK_BEST": GIFT_STACK_BEST})
WHICH = ["GIFT_STACK_ONE", "GIFT_STACK_RULES", "GIFT_STACK_BEST"]


@pytest.fixture(scope="module")
def gift_programs(tmp_path_factory):
    return {w: _program(tmp_path_factory, w) for w in WHICH}


def _rewards(result) -> int:
    return sum(v for k, v in result.cells.items() if k[0] == "rule" and k[2] == "rewards")


def test_the_gift_programs_are_on_the_kernel_and_their_contests_happen(gift_programs, tmp_path_factory):
    # the same gifts with no policy give more on the same history: the policies decided something there
    path0, prog0 = _program(tmp_path_factory, "GIFT_STACK_NONE")
    for which, (path, prog) in gift_programs.items():
        assert supports(prog, None) is None, which
        history = _history(prog, 7, 8, 40)
        plan, vec, ref = _both(path, prog, history)
        assert vec.canonical() == ref.canonical(), which
        _, vec0, ref0 = _both(path0, prog0, history)
        assert vec0.canonical() == ref0.canonical()
        assert 0 < _rewards(ref) < _rewards(ref0), which


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.sampled_from(WHICH), members=st.integers(1, 10),
       max_events=st.sampled_from([3, 12, 40]))
def test_vector_equals_scalar_under_gift_policies(gift_programs, seed, which, members, max_events):
    """Which gift wins each order (stacking.vector_gift_lost beside GiftStacked.run), on the kernel and on the
    scalar plan: the whole result, and member by member."""
    path, prog = gift_programs[which]
    history = _history(prog, seed, members, max_events)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member


def test_a_contest_with_a_gift_whose_condition_reads_a_balance_is_declined_by_name(tmp_path):
    src = GIFT_STACK_ONE.replace('  give "mug"\n  when order total >= 100 NOK\n',
                                 '  give "mug"\n  when order total >= 100 NOK and points balance >= 10 points\n')
    path = tmp_path / "p.loyalty"
    path.write_text(src)
    from loyalty.simulate.run import load_program

    reason = supports(load_program(str(path)), None)
    assert reason is not None and "gift over 100" in reason and "stacking policy for gifts" in reason


def test_describe_words_each_gift_s_clauses_as_gifts(tmp_path):
    path = tmp_path / "p.loyalty"
    path.write_text(HEAD % "" + SMALL % "  priority 2\n" + BIG % "  exclusive\n  priority 1\n" +
                    'campaign "spring" {\n  best of\n' + MUG % "" + MUG.replace('"mug" {', '"mug 2" {') % "" + "}\n")
    out = CliRunner().invoke(cli, ["describe", str(path)], env={"COLUMNS": "300"}).output
    assert "at least 400 NOK; priority 2 (1 first) when gifts compete." in out
    assert "; not combined with other gifts, priority 1 (1 first) when gifts compete." in out
    assert 'only the best gift of "spring" is given.' in out
    assert "when discounts compete" not in out and "other discounts" not in out  # never worded as a discount's
