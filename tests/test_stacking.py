"""Stacking (runtime/mechanics/stacking.py, docs/semantics.md "Stacking"): which discount wins an order under
`exclusive`, `priority`, a campaign's `best of` and the program's `at most one discount per order`, on
`program.apply`, the reference plan and the compiled document."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

import loyalty
from loyalty.runtime.mechanics.stacking import losers, rank
from test_vector_kernel import STACKING, STACKING_ONE

SATURDAY_EVENING = {"type": "purchase", "time": "2025-01-04T18:00", "order": "o1",
                    "lines": [{"item": "coffee", "quantity": 3, "amount": "18"},
                              {"item": "basic wash", "amount": "120"}]}


def effects(source: str, event: dict):
    p = loyalty.compile_source(source)
    return [(e.kind, e.rule, e.amount, e.scope, e.reason) for e in p.apply(p.new_member("m"), event).effects
            if e.kind.startswith("discount")]


@pytest.mark.parametrize("source, policy", [(STACKING, "exclusive"), (STACKING_ONE, "one discount per order")])
def test_an_exclusive_discount_makes_the_order_one_contest_and_priority_1_wins(source, policy):
    # worths on 138 NOK: member 5% 6.90, evening extras 15% of 18 = 2.70, coffee each 3 x 1 = 3.00, by spend 3%
    # = 4.14, big orders 50.00, wash bundle: 4 units, one free, the cheapest (a coffee) 6.00
    assert effects(source, SATURDAY_EVENING) == [
        ("discount_applied", "coffee each", 300, None, None),
        ("discount_not_applied", "member", 690, "coffee each", f"{policy}: lower priority"),
        ("discount_not_applied", "evening extras", 270, "coffee each", f"{policy}: lower priority"),
        ("discount_not_applied", "by spend", 414, "coffee each", f"{policy}: lower priority"),
        ("discount_not_applied", "big orders", 5000, "coffee each", f"{policy}: lower priority"),
        ("discount_not_applied", "wash bundle", 600, "coffee each", f"{policy}: lower priority"),
    ]


def test_without_an_exclusive_discount_priorities_and_a_best_of_campaign_are_contests_of_their_own():
    source = STACKING.replace("  get 5% off\n  exclusive\n", "  get 5% off\n  priority 3\n")
    # no exclusive discount: priority 1 "coffee each" beats the priority-2 and -3 discounts; in the weekend
    # campaign 50 NOK off beats the bundle's 6 NOK; the winners stack, each on what the earlier ones left
    assert effects(source, SATURDAY_EVENING) == [
        ("discount_applied", "coffee each", 300, None, None),
        ("discount_applied", "big orders", 5000, None, None),
        ("discount_not_applied", "member", 690, "coffee each", "priority: lower priority"),
        ("discount_not_applied", "evening extras", 270, "coffee each", "priority: lower priority"),
        ("discount_not_applied", "by spend", 414, "coffee each", "priority: lower priority"),
        ("discount_not_applied", "wash bundle", 600, "big orders", 'best of "weekend": worth less'),
    ]


def test_equal_priorities_go_to_the_discount_worth_more_then_to_the_earlier_rule():
    base = """program "p" { currency NOK }
rule "a" { get %s off priority 1 }
rule "b" { get %s off priority 1 }
"""
    event = {"type": "purchase", "time": "2025-01-06T10:00", "order": "o", "lines": [{"item": "x", "amount": "100"}]}
    assert effects(base % ("5%", "10%"), event)[1:] == [
        ("discount_not_applied", "a", 500, "b", "priority: worth less")]
    assert effects(base % ("10%", "10%"), event)[1:] == [
        ("discount_not_applied", "b", 1000, "a", "priority: worth the same, later rule")]


def test_without_a_policy_discounts_stack_as_before():
    source = 'program "p" {\n  currency NOK\n  discounts stack\n}\nrule "a" { get 10% off }\nrule "b" { get 10% off }\n'
    event = {"type": "purchase", "time": "2025-01-06T10:00", "order": "o", "lines": [{"item": "x", "amount": "100"}]}
    assert effects(source, event) == [("discount_applied", "a", 1000, None, None),
                                      ("discount_applied", "b", 900, None, None)]


def test_the_compiled_document_says_the_policy_only_where_the_program_does():
    doc = json.loads(loyalty.compile_source(STACKING_ONE).to_json())
    assert doc["stacking"] == "one per order"
    rules = {r["name"]: r.get("stacking") for r in doc["rules"]}
    assert rules["member"] == {"exclusive": True}
    assert rules["coffee each"] == {"priority": 1}
    assert rules["big orders"] == {"group": "weekend"}
    assert rules["points"] is None
    assert "stacking" not in json.loads(loyalty.compile_source(STACKING.replace("  exclusive\n", "")).to_json())
    doc["rules"][0]["stacking"]["priority"] = 0
    with pytest.raises(loyalty.ProgramFormatError, match="stacking.priority"):
        loyalty.load_compiled(json.dumps(doc))


class _Rule:
    def __init__(self, index, priority=None, exclusive=False, group=None):
        self.index, self.priority, self.exclusive, self.group = index, priority, exclusive, group


class _Prog:
    def __init__(self, stacking):
        self.stacking = stacking


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.none() | st.integers(1, 3), st.booleans(), st.none() | st.sampled_from("gh"),
                          st.integers(0, 5)), min_size=2, max_size=6),
       st.sampled_from([None, "stack", "one per order"]))
def test_every_contest_has_exactly_one_winner_which_outranks_each_loser(spec, policy):
    rules = [_Rule(i, p, e, g) for i, (p, e, g, _) in enumerate(spec)]
    worths = [w for *_, w in spec]
    lost = losers(_Prog(policy), rules, worths)
    for i, (win, _) in lost.items():
        assert worths[i] > 0 and win not in lost and rank(rules[win], worths[win]) < rank(rules[i], worths[i])
    live = [i for i, w in enumerate(worths) if w > 0]
    if policy == "one per order" or any(rules[i].exclusive for i in live):
        assert len(live) - len(lost) == min(1, len(live))  # one discount per order
    else:  # only discounts with a priority or a group can lose
        assert all(rules[i].priority is not None or rules[i].group is not None for i in lost)


def test_explain_shows_which_offer_won_and_which_lost_and_why():
    from pathlib import Path

    from click.testing import CliRunner

    from loyalty.cli import cli

    root = Path(__file__).resolve().parent.parent
    result = CliRunner().invoke(cli, ["explain", str(root / "examples/programs/discount_card.loyalty"),
                                      str(root / "examples/histories/discount_card.csv"), "--member", "M07"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # order O0000091: 3 rollers, 198 NOK; worth 7% = 13.86 against 5% = 9.90, so the scale wins and runs on
    # what the rollers' 60 NOK off left: 7% of 138 = 9.66
    at = next(i for i, line in enumerate(lines) if "order O0000091" in line and "purchase" in line)
    assert lines[at + 1:at + 4] == [
        '    - 60.00 NOK off order O0000091 (rule "paint rollers 20 NOK off each", line 53)',
        '    - 9.66 NOK off order O0000091 (rule "loyalty discount scale", line 43)',
        '    - 9.90 NOK off order O0000091 not applied: "loyalty discount scale" won (best of "member discounts": '
        'worth less) (rule "members get 5% off", line 37)',
    ]


def test_describe_words_the_policy_and_each_discount_s_clauses():
    from pathlib import Path

    from click.testing import CliRunner

    from loyalty.cli import cli

    root = Path(__file__).resolve().parent.parent
    out = CliRunner().invoke(cli, ["describe", str(root / "examples/programs/sandwich_bar.loyalty")],
                             env={"COLUMNS": "200"}).output
    assert ("staff 30% off: Get 30% off your order, for members in \"staff\"; not combined with other discounts, "
            "priority 1 (1 first) when discounts compete.") in out
    assert "At most one discount applies to each item: the one with the first priority, else the one worth most to " \
           "you." in out
