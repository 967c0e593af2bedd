"""What a punch card's free unit costs us (docs/semantics.md, "A purchase, in order", step 3): the catalog's
unit cost of each free unit when every one has it, else the revenue foregone. Worked out by hand."""

from __future__ import annotations

from evaluator_helpers import buy, prog


def discounts(effects):
    return [(e.amount, e.cost) for e in effects if e.kind == "discount_applied"]


CARD = '''catalog {
  category "washes"
  item "wash" in category "washes" costing 30 NOK
  item "wax" in category "washes" costing 45.50 NOK
  item "polish" in category "washes"
}
rule "card" { every 3rd item in category "washes" is free }
'''


def test_free_units_cost_their_catalog_cost_the_discount_is_reported_too():
    p = prog(CARD)
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 2, "200")))
    assert discounts(eff) == []
    # units 3 to 6: units 3 and 6 are free, one wash (100.00 off) and one wax (120.00 of 2 x 120 = 240)
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "100"), ("wax", 3, "360")))
    # wash: 100 x 1/1 = 100.00; wax: unit 6 is the 3rd of 3 waxes: 360 x 1/3 = 120.00; 220.00 off
    # cost: 30.00 + 45.50 = 75.50
    assert discounts(eff) == [(22000, 7550)]


def test_an_item_without_a_cost_makes_the_cost_the_revenue_foregone():
    p = prog(CARD)
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("polish", 3, "90")))
    assert discounts(eff) == [(3000, 3000)]


def test_a_discounted_not_free_unit_costs_the_discount():
    p = prog(CARD.replace("is free", "at 50% off"))
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 3, "300")))
    # half of one 100.00 wash
    assert discounts(eff) == [(5000, 5000)]
