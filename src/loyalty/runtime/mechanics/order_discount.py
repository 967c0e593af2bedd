"""An amount off the order (`get 50 NOK off orders over 500 NOK`): when the lines the rule selects (the
whole order without `on`) total more than the threshold, as the history records them (the `order total`
of `when`, before this program's discounts), the amount comes off those lines, taken from them in order,
each at most what it still costs, so never more than the order. It runs with the other discounts, in rule
order; a cap or budget cuts it like theirs (`discount.apply_line_discounts`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.mechanics.discount import apply_line_discounts
from loyalty.runtime.mechanics.registry import Mechanic, register


def order_lines(step, lines) -> list:
    """(line, discount) for the lines the rule selects: over the threshold, the amount from the lines in order."""
    r, amount, over = step
    selected = [ln for ln in lines if r.line_matches(ln[0], ln[1])]
    if sum(ln[3] for ln in selected) <= over:
        return []
    per_line = []
    left = amount
    for ln in selected:
        take = min(left, ln[4])
        per_line.append((ln, take))
        left -= take
    return per_line


def order_discount(plan, st, step, lines, ev, ledger, out, order, tier, mults) -> None:
    apply_line_discounts(plan.prog, st, step[0], order_lines(step, lines), ev, ledger, out)


class OrderDiscount(Mechanic):
    name = "amount off the order"
    actions = ("discount_order",)
    phase = "discount"
    # the compiled action: {"type": "discount_order", "amount_minor": off the order, "over_minor": the total
    # the selected lines must exceed}
    action_fields = {"amount_minor": "int", "over_minor": "int"}

    def purchase_step(self, rule, plan, specialise, mults=()):
        a = rule.action_doc
        return order_discount, (rule, a["amount_minor"], a["over_minor"])

    def worth(self, plan, st, data, lines, t) -> list:
        return order_lines(data, lines)

    def vector_reason(self, rule, program) -> Optional[str]:
        return None  # discount.vector_discount_rules; caps and budgets and conditions on state are declined apart

    def check_action(self, action: dict, path: str, check) -> None:
        check.int(action["amount_minor"], f"{path}.amount_minor", 1)
        check.int(action["over_minor"], f"{path}.over_minor", 0)


register(OrderDiscount())
