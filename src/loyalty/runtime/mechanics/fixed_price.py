"""A member price (`"basic wash" costs 25 NOK`): each unit of the items the rule selects costs that price.
The discount on a line is what it still costs minus quantity x price, and never negative: a line already
paid below the price (an earlier discount, a cheaper line in the history) keeps what it costs, so a member
price never raises a price. It runs with the other discounts, in rule order; a cap or budget cuts the
order's total like theirs (`discount.apply_line_discounts`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.mechanics.discount import apply_line_discounts
from loyalty.runtime.mechanics.registry import Mechanic, register


def price_discount(paid, quantity, price):
    """What a line paying `paid` for `quantity` units takes off to cost `price` each: never below zero (ints or
    int64 arrays alike)."""
    off = paid - quantity * price
    return off * (off > 0)


def price_lines(step, lines) -> list:
    """(line, discount) for each line the rule selects: down to the member price, never up."""
    r, price = step
    return [(ln, price_discount(ln[4], ln[2], price)) for ln in lines if r.line_matches(ln[0], ln[1])]


def fixed_price(plan, st, step, lines, ev, ledger, out, order, tier, mults) -> None:
    apply_line_discounts(plan.prog, st, step[0], price_lines(step, lines), ev, ledger, out)


class FixedPrice(Mechanic):
    name = "member price"
    actions = ("fixed_price",)
    phase = "discount"
    # the compiled action: {"type": "fixed_price", "price_minor": the price of one unit}; the items in
    # line_filters, as a punch card's
    action_fields = {"price_minor": "int"}

    def purchase_step(self, rule, plan, specialise, mults=()):
        return fixed_price, (rule, rule.action_doc["price_minor"])

    def worth(self, plan, st, data, lines, t) -> list:
        return price_lines(data, lines)

    def vector_reason(self, rule, program) -> Optional[str]:
        return None  # discount.vector_discount_rules; caps and budgets and conditions on state are declined apart

    def check_action(self, action: dict, path: str, check) -> None:
        check.int(action["price_minor"], f"{path}.price_minor", 0)


register(FixedPrice())
