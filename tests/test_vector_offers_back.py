"""Offers with a lifetime taken back by a whole return, on the vectorised kernel (issue 12): a return takes back
the newest offer of the rule the member still holds (`offers.take_back_offer`), so an offer already used or
lapsed stays so, and one given by a later purchase may go instead. The kernel equals the scalar plan member by
member, on hand-written and generated histories."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate.run import load_program
from test_vector_goals import _same_member_by_member
from test_vector_kernel import TIMERS, _history, _rows

OFFERS_BACK = TIMERS.replace('  timezone "Europe/Oslo"\n', '  timezone "Europe/Oslo"\n  rewards are taken back on return\n',
                             1) + '''rule "coffee per 100" {
  give "free coffee"
  after every 100 NOK spent
}
'''


def _program(tmp_path):
    path = tmp_path / "offers_back.loyalty"
    path.write_text(OFFERS_BACK)
    prog = load_program(str(path))
    assert prog.rewards_taken_back
    return str(path), prog


def _coffee(when, order, amount="10.00"):
    return ["A", when, "purchase", order, "coffee", "", "1", amount, "", ""]


def _back(when, order):
    return ["A", when, "return", order, "", "", "", "0.00", "", ""]


def _run(tmp_path, rows):
    path, prog = _program(tmp_path)
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    cell = got.cells.get
    return {k: cell(("reward", "thank you", k), 0) for k in ("given", "taken_back", "redeemed", "lapsed")}


def test_an_offer_still_held_goes_back_with_its_order(tmp_path):
    assert _run(tmp_path, [_coffee("2024-03-01T10:00", "a1"), _back("2024-03-03T10:00", "a1"),
                           ["A", "2024-03-05T10:00", "purchase", "a2", "basic wash", "", "1", "35.00", "", ""]]) == \
        {"given": 1, "taken_back": 1, "redeemed": 0, "lapsed": 0}


def test_an_offer_used_before_the_return_stays_used(tmp_path):
    assert _run(tmp_path, [_coffee("2024-03-01T10:00", "a1"),
                           ["A", "2024-03-02T10:00", "purchase", "a2", "basic wash", "", "1", "35.00", "", ""],
                           _back("2024-03-03T10:00", "a1")]) == {"given": 1, "taken_back": 0, "redeemed": 1, "lapsed": 0}


def test_a_return_takes_back_the_newest_offer_of_the_rule_held(tmp_path):
    """a2 uses a1's offer and brings one of its own; returning a1 takes back a2's (the newest held)."""
    assert _run(tmp_path, [_coffee("2024-03-01T10:00", "a1"), _coffee("2024-03-02T10:00", "a2"),
                           _back("2024-03-03T10:00", "a1"),
                           ["A", "2024-03-20T10:00", "purchase", "a3", "basic wash", "", "1", "35.00", "", ""]]) == \
        {"given": 2, "taken_back": 1, "redeemed": 1, "lapsed": 0}


def test_an_offer_lapsed_before_the_return_stays_lapsed(tmp_path):
    assert _run(tmp_path, [_coffee("2024-03-01T10:00", "a1"), _back("2024-04-10T10:00", "a1")]) == \
        {"given": 1, "taken_back": 0, "redeemed": 0, "lapsed": 1}


def test_two_returns_share_what_one_purchase_left(tmp_path):
    """a1 and a2 each bring an offer; a2 uses a1's. Returning a1 takes a2's offer, returning a2 then finds none."""
    assert _run(tmp_path, [_coffee("2024-03-01T10:00", "a1"), _coffee("2024-03-02T10:00", "a2"),
                           _back("2024-03-03T10:00", "a1"), _back("2024-03-04T10:00", "a2")]) == \
        {"given": 2, "taken_back": 1, "redeemed": 1, "lapsed": 0}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 10), max_events=st.sampled_from([3, 12, 40]))
def test_offers_taken_back_on_generated_histories(tmp_path_factory, seed, members, max_events):
    path, prog = _program(tmp_path_factory.mktemp("offers"))
    _same_member_by_member(path, prog, _history(prog, seed, members, max_events))
