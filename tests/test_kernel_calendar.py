"""The kernel's calendar steps against the scalar plan: expiry `N months after earning` on a kind whose
points also wait a few days (coffee_stars' shape), where a batch earned later can expire earlier (the day
clamps to the month's end, the time of day stays). The kernel runs such a member unless one of her events,
or the end of the history, falls between the two moments; the result is the scalar plan's either way."""

from __future__ import annotations

import pytest

from loyalty.simulate.run import load_program
from loyalty.simulate.vector import supports

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
    # A buys in the gap (09:30): A2's batch is gone, A1's is not
    ([["A", "2024-06-30T09:30", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 1),
    # nothing of A's between the two moments: the kernel takes her
    ([["A", "2024-07-02T12:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # an event exactly at the later moment (10:00): both batches are due there on either side
    ([["A", "2024-06-30T10:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 0),
    # an event exactly at the earlier moment (09:00): only A2's batch is due
    ([["A", "2024-06-30T09:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""], _LATER], 1),
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
    ([["B", "2024-06-30T09:30", "visit", "", "", "", "", "", "", ""]], 1),
])
def test_expiry_months_after_earning_with_pending_days_stays_on_the_kernel(tmp_path, policy, rows, routed):
    """A kind that waits 2 days and expires 3 months after earning: a member whose batches expire out of
    earning order stays on the kernel unless she has an event (or the history ends) in the gap between the
    two moments; the kernel's result equals the scalar plan's cell by cell, member by member."""
    path = tmp_path / "pending_days.loyalty"
    path.write_text(PENDING_DAYS_EXPIRY_MONTHS.replace("POLICY", policy))
    prog = load_program(str(path))
    assert supports(prog, None) is None
    vec, ref, n = _routed_run(str(path), prog, _EARNED + rows, SWAPPED)
    assert vec.canonical() == ref.canonical()
    assert n == routed
