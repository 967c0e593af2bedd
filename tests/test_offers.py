"""Fixed-price and amount-off offers and same-order bundles (issue 14, parts 2 and 3): what each takes off,
by the general step and by `program.apply` alike, what a return does to them, and where the vectorised
kernel runs them (tests/test_vector_kernel.py compares it with the scalar plan on OFFERS)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings, strategies as st

import loyalty
from loyalty.runtime.facade import apply_general
from loyalty.simulate.vector import supports
from tests.evaluator_helpers import HEAD, buy, kinds, prog

ROOT = Path(__file__).resolve().parent.parent

CATALOG = """
catalog {
  item "bun" in category "pastries"
  item "croissant" in category "pastries"
  item "tea" in category "drinks"
}
points "points" { cost 0.01 NOK each }
"""


def _discounts(program, *events, general: bool = False):
    """Each discount_applied effect as (rule, amount in minor units), by `apply` (or the general step)."""
    state = program.new_member("m")
    out = []
    for ev in events:
        state, effects = (apply_general(program, state, ev) if general else program.apply(state, ev))
        out += [(e.rule, e.amount) for e in kinds(effects, "discount_applied")]
    return out


def test_a_bundle_frees_the_cheapest_units_of_each_full_group_in_the_order_only():
    p = prog(CATALOG + 'rule "b" {\n  buy 2 item in category "pastries", get 1 free\n}\n')
    # 5 pastries: one group; the cheapest unit is a bun (20 a unit, croissants 30)
    assert _discounts(p, buy("o1", "2025-01-01T10:00", ("croissant", 3, "90"), ("bun", 2, "40"))) == [("b", 2000)]
    # 2 pastries now and 1 later: nothing (a bundle does not count across orders)
    assert _discounts(p, buy("o1", "2025-01-01T10:00", ("bun", 2, "40")),
                      buy("o2", "2025-01-02T10:00", ("bun", 1, "20"))) == []
    # a tea does not count
    assert _discounts(p, buy("o1", "2025-01-01T10:00", ("bun", 2, "40"), ("tea", 1, "5"))) == []


def test_n_for_the_price_of_m_is_the_same_bundle_as_buy_m_get_the_rest_free():
    a = loyalty.compile_source(HEAD + CATALOG + 'rule "b" {\n  3 "bun", "croissant" for the price of 2\n}\n')
    b = loyalty.compile_source(HEAD + CATALOG + 'rule "b" {\n  buy 2 "bun", "croissant", get 1 free\n}\n')
    assert [r["action"] for r in a.compiled.doc["rules"]] == [r["action"] for r in b.compiled.doc["rules"]]
    assert [r["action"] for r in a.compiled.doc["rules"]] == [{"type": "bundle", "buy": 2, "free": 1}]


def test_a_member_price_never_raises_a_price_and_an_order_amount_never_exceeds_the_order():
    p = prog(CATALOG + 'rule "price" {\n  "bun" costs 25 NOK\n}\n'
             'rule "order" {\n  get 50 NOK off orders over 100 NOK\n}\n')
    # bun 3 x 30 -> 3 x 25: 15 off; the order (90 + 20 = 110 NOK as sent) is over 100: 50 off, 75 from the
    # buns' line first (50 of it)
    assert _discounts(p, buy("o1", "2025-01-01T10:00", ("bun", 3, "90"), ("tea", 1, "20"))) == \
        [("price", 1500), ("order", 5000)]
    # buns already at 20 keep their price; 100 is not over 100
    assert _discounts(p, buy("o1", "2025-01-01T10:00", ("bun", 5, "100"))) == []
    # an order of 101 NOK that a member price has taken down to 25 NOK: 25 off, not 50
    assert _discounts(p, buy("o1", "2025-01-01T10:00", ("bun", 1, "101"))) == [("price", 7600), ("order", 2500)]


def test_a_return_keeps_the_bundle_discount_and_takes_back_its_share_of_what_was_paid():
    p = prog(CATALOG + 'rule "b" {\n  buy 2 "croissant", get 1 free\n}\nrule "earn" {\n  earn 1 point per 1 NOK\n}\n')
    state = p.new_member("m")
    # 3 croissants at 39: one free, the member pays 78 and earns 78 points
    state, effects = p.apply(state, buy("o1", "2025-01-01T10:00", ("croissant", 3, "117")))
    assert [e.amount for e in kinds(effects, "discount_applied")] == [3900]
    assert state.balance() == 78
    # returning one croissant: no discount effect (the bundle is not re-opened), a third of what was paid back
    state, effects = p.apply(state, {"return": {"time": "2025-01-02T10:00", "order": "o1",
                                                "lines": [{"item": "croissant", "quantity": 1}]}})
    assert kinds(effects, "discount_applied") == [] and state.balance() == 52
    assert state._s.spend == 5200  # 78 paid - 26, the returned unit's share
    state, effects = p.apply(state, {"return": {"time": "2025-01-03T10:00", "order": "o1"}})
    assert state.balance() == 0 and state._s.spend == 0


PRICES = st.lists(st.tuples(st.sampled_from(["bun", "croissant", "tea"]), st.integers(1, 5), st.integers(0, 20000)),
                  min_size=1, max_size=5, unique_by=lambda t: t[0])


@settings(max_examples=150, deadline=None)
@given(lines=PRICES, buy_n=st.integers(1, 4), free_n=st.integers(1, 3))
def test_bundle_discounts_are_the_cheapest_units_exactly(lines, buy_n, free_n):
    """The free units are `free` per full group, cheapest first by exact unit price, each line's share rounded
    half even once; apply and the general step agree."""
    p = prog(CATALOG + f'rule "b" {{\n  buy {buy_n} item in category "pastries", get {free_n} free\n}}\n')
    ev = buy("o1", "2025-01-01T10:00", *[(i, q, f"{a / 100:.2f}") for i, q, a in lines])
    got = _discounts(p, ev)
    assert got == _discounts(p, ev, general=True)
    pastries = [(q, a) for i, q, a in lines if i != "tea"]
    left = sum(q for q, _ in pastries) // (buy_n + free_n) * free_n
    want = 0
    for q, a in sorted(pastries, key=lambda qa: Fraction(qa[1], qa[0])):
        k = min(q, left)
        left -= k
        want += round(Fraction(a * k, q))  # (round of a Fraction: half to even)
    assert sum(d for _, d in got) == want


def test_the_kernel_runs_every_offer_and_declines_what_int64_or_a_float_cannot_order():
    with_offers = loyalty.compile_source(HEAD + CATALOG + 'rule "price" {\n  "bun" costs 25 NOK\n}\n'
                                         'rule "order" {\n  get 50 NOK off orders over 100 NOK\n  on "bun"\n}\n'
                                         'rule "b" {\n  3 "bun", "croissant" for the price of 2\n}\n')
    assert supports(with_offers.compiled) is None
    assert supports(loyalty.load(ROOT / "examples/programs/corner_cafe.loyalty").compiled) is None


def test_the_vectorised_bundle_orders_unit_prices_exactly_or_declines():
    """Unit prices a float cannot tell apart, in the order that makes the float's tie-break wrong: the kernel
    declines (the scalar plan then runs the member); an exact tie goes to the earlier line, as the scalar sort."""
    import numpy as np
    import pytest

    from loyalty.runtime.arrays import Unsupported
    from loyalty.runtime.mechanics.bundle import vector_bundle

    class Kern:
        def __init__(self, qty):
            self.r_qty = np.array(qty, dtype=np.int64)
            self.r_ev = np.zeros(len(qty), dtype=np.int64)

    # a line's unit at 1099513724928 / (2**20 + 1) and another's at 1099512676351 / 2**20: the first dearer by
    # 1 / (q1 x q2), but one float; the dearer line first, so the float's tie-break (row order) is wrong
    (a, qa), (b, qb) = (1099513724928, 2**20 + 1), (1099512676351, 2**20)
    assert a / qa == b / qb and a * qb > b * qa
    kern = Kern([qa, qb])
    with pytest.raises(Unsupported):
        vector_bundle(kern, np.array([True, True]), np.array([a, b], dtype=np.int64), qa + qb - 1, 1)
    # the other way round the float's order is the exact one: one unit of the cheaper line is free
    kern = Kern([qb, qa])
    assert vector_bundle(kern, np.array([True, True]), np.array([b, a], dtype=np.int64), qa + qb - 1, 1).tolist() == \
        [round(Fraction(b, qb)), 0]
    # an exact tie: the first line's unit is free
    kern = Kern([1, 1, 1])
    d = vector_bundle(kern, np.array([True, True, True]), np.array([500, 500, 900], dtype=np.int64), 2, 1)
    assert d.tolist() == [500, 0, 0]


def test_the_example_history_makes_every_offer_fire():
    """examples/histories/corner_cafe.csv, made by `loyalty generate` (its README has the command), exercises
    each of the example's rules, on the vectorised kernel."""
    import json

    from click.testing import CliRunner

    from loyalty.cli import cli

    res = CliRunner().invoke(cli, ["simulate", str(ROOT / "examples/programs/corner_cafe.loyalty"),
                                   str(ROOT / "examples/histories/corner_cafe.csv"), "--format", "json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["assumptions"]["kernel"] == "vector"
    by_rule = {r["rule"]: r for r in report["by_rule"]}
    assert set(by_rule) == {"member price on filter coffee", "10 NOK off each cappuccino",
                            "three pastries, the cheapest free", "three cookies for the price of two",
                            "20 NOK off orders over 120 NOK"}
    for name, row in by_rule.items():
        assert Decimal(row["discount"]) > 0, name
