"""A rule's conditions select the events its trigger counts (docs/semantics.md, "Triggers count what the
conditions select"). Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import evaluator_helpers

CATALOG = '''catalog {
  category "washes"
  category "food"
  item "wash" in category "washes"
  item "bun" in category "food"
}
reward "gift" is a gift "mug"
'''


def prog(body: str):
    return evaluator_helpers.prog('points "points"\n' + CATALOG + body)


def buy(order, day, *lines):
    """A purchase at 10:00 on a day of March 2025."""
    return evaluator_helpers.buy(order, f"2025-03-{day:02d}T10:00", *lines)


def rewarded(effects):
    return [e.order for e in effects if e.kind == "reward_issued"]


def run(p, events, state=None):
    s = state or p.new_member("m")
    out = []
    for ev in events:
        s, eff = p.apply(s, ev)
        out += eff
    return s, out


def test_every_n_visits_counts_only_the_visits_its_condition_selects():
    p = prog('rule "r" {\n  give "gift"\n  after every 3 visits\n  when not order has category "food"\n}\n')
    # visits 1, 2 wash; 3 bun only (not counted); 4 wash is the 3rd counted visit; 5, 6 wash, 7 bun, 8 wash: 6th
    days = ["wash", "wash", "bun", "wash", "wash", "wash", "bun", "wash"]
    _, eff = run(p, [buy(f"o{i}", i, (item, 1, "10")) for i, item in enumerate(days, 1)])
    assert rewarded(eff) == ["o4", "o8"]


def test_a_visit_event_counts_when_the_condition_holds_on_it():
    p = prog('store "A"\nstore "B"\nrule "r" {\n  earn 50 points\n  on the 2nd visit\n  in store "A"\n}\n')
    s, eff = run(p, [{"visit": {"time": "2025-03-01T10:00", "store": "B"}},
                     {"visit": {"time": "2025-03-02T10:00", "store": "A"}},
                     {"visit": {"time": "2025-03-03T10:00", "store": "B"}}])
    assert [e.points for e in eff if e.kind == "points_earned"] == []
    # the 2nd visit in store A is the member's 4th visit
    s, eff = run(p, [{"visit": {"time": "2025-03-04T10:00", "store": "A"}}], s)
    assert [e.points for e in eff if e.kind == "points_earned"] == [50]
    s, eff = run(p, [{"visit": {"time": "2025-03-05T10:00", "store": "A"}}], s)
    assert eff == []


def test_on_first_purchase_is_the_first_qualifying_purchase():
    p = prog('rule "r" {\n  earn 100 points\n  on first purchase\n  when not order has category "food"\n}\n')
    s, eff = run(p, [buy("o1", 1, ("bun", 1, "10")), buy("o2", 2, ("wash", 1, "10")), buy("o3", 3, ("wash", 1, "10"))])
    assert [(e.order, e.points) for e in eff if e.kind == "points_earned"] == [("o2", 100)]


def test_first_purchase_without_conditions_is_still_the_members_first():
    p = prog('rule "r" {\n  earn 100 points\n  on first purchase\n}\n')
    _, eff = run(p, [buy("o1", 1, ("bun", 1, "10")), buy("o2", 2, ("wash", 1, "10"))])
    assert [(e.order, e.points) for e in eff if e.kind == "points_earned"] == [("o1", 100)]


def test_every_x_spent_counts_the_spend_of_qualifying_orders_and_returns_lower_it():
    p = prog('rule "r" {\n  earn 50 points\n  after every 100 NOK spent\n  when not order has category "food"\n}\n')
    # o1 has food: its 560 do not count; o2 50; o3 60: 110 -> the first 100
    s, eff = run(p, [buy("o1", 1, ("wash", 1, "60"), ("bun", 1, "500")), buy("o2", 2, ("wash", 1, "50")),
                     buy("o3", 3, ("wash", 1, "60"))])
    assert [(e.order, e.points) for e in eff if e.kind == "points_earned"] == [("o3", 50)]
    # o3 returned in full: 110 - 60 = 50 counted; its 50 points go back; the multiple rewarded stays rewarded
    s, eff = run(p, [{"return": {"time": "2025-03-04T10:00", "order": "o3"}}], s)
    assert s.balance() == 0
    # wash 140: 190, nothing; wash 10: 200 -> the second 100
    s, eff = run(p, [buy("o4", 5, ("wash", 1, "140")), buy("o5", 6, ("wash", 1, "10"))], s)
    assert [(e.order, e.points) for e in eff if e.kind == "points_earned"] == [("o5", 50)]
    assert s.balance() == 50


def test_the_counter_survives_the_state_round_trip():
    p = prog('rule "r" {\n  give "gift"\n  after every 2 visits\n  when not order has category "food"\n}\n')
    s, _ = run(p, [buy("o1", 1, ("wash", 1, "10")), buy("o2", 2, ("bun", 1, "10"))])
    s = p.state_from_json(s.to_json())
    _, eff = run(p, [buy("o3", 3, ("wash", 1, "10"))], s)
    assert rewarded(eff) == ["o3"]


def test_lifetime_spend_on_a_visit_or_a_referral_is_the_spend_so_far():
    """`when lifetime spend` on an event without a purchase read 0: a referral bonus for members who had
    spent 100 NOK never fired."""
    p = evaluator_helpers.prog('points "stars" { }\nreward "mug" is a gift "mug" costing 20 NOK\n'
                               'rule "bonus" {\n  earn 50 stars per referral\n  when lifetime spend >= 100 NOK\n}\n'
                               'rule "mug" {\n  give "mug"\n  on the 2nd visit\n  when lifetime spend >= 100 NOK\n}\n')
    s = p.new_member("m")
    s, eff = p.apply(s, {"referral": {"time": "2025-03-01T09:00", "id": "r0"}})
    assert not evaluator_helpers.kinds(eff, "points_earned")  # nothing spent yet
    s, _ = p.apply(s, evaluator_helpers.buy("O1", "2025-03-01T10:00", ("tea", 1, "120")))
    s, eff = p.apply(s, {"referral": {"time": "2025-03-01T11:00", "id": "r1"}})
    assert [e.points for e in evaluator_helpers.kinds(eff, "points_earned")] == [50]
    # the rule counts the visits its condition selects: the purchase (0 NOK spent before it) is not one
    s, eff = p.apply(s, {"visit": {"time": "2025-03-02T10:00", "id": "v1"}})
    assert not evaluator_helpers.kinds(eff, "reward_issued")
    s, eff = p.apply(s, {"visit": {"time": "2025-03-03T10:00", "id": "v2"}})
    assert [e.reward for e in evaluator_helpers.kinds(eff, "reward_issued")] == ["mug"]
