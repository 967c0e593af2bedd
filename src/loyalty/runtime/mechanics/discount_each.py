"""An amount off each unit (`get 10 NOK off each`): every unit of the lines the rule selects costs that
much less, never below nothing (a line's discount is at most what is still paid on it). It runs with
the other discounts, in rule order, and a cap or budget cuts the order's total like theirs."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.mechanics.discount import apply_line_discounts
from loyalty.runtime.mechanics.limits import own_cap_vector_reason
from loyalty.runtime.mechanics.registry import Mechanic, register
from loyalty.runtime.mechanics.triggers import trigger_vector_reason


def each_lines(step, lines) -> list:
    """(line, discount) for each line the rule selects: the amount off each unit, at most what the line costs."""
    r, off = step
    return [(ln, min(ln[2] * off, ln[4])) for ln in lines if r.line_matches(ln[0], ln[1])]


def discount_each(plan, st, step, lines, ev, ledger, out, order, tier, mults) -> None:
    apply_line_discounts(plan.prog, st, step[0], each_lines(step, lines), ev, ledger, out)


class DiscountEach(Mechanic):
    name = "amount off each unit"
    actions = ("discount_each",)
    phase = "discount"
    # the compiled action: {"type": "discount_each", "amount_minor": minor units off each unit}
    action_fields = {"amount_minor": "int"}

    def purchase_step(self, rule, plan, specialise, mults=()):
        return discount_each, (rule, rule.action_doc["amount_minor"])

    def worth(self, plan, st, data, lines, t) -> list:
        return each_lines(data, lines)

    def vector_reason(self, rule, program) -> Optional[str]:
        if rule.trigger is not None:
            return trigger_vector_reason(rule)
        return None  # discount.vector_discount_rules; caps and budgets and conditions on state are declined apart

    def limits_vector_reason(self, rule) -> Optional[str]:
        return own_cap_vector_reason(rule, ("times", "money"))  # discount.vector_discount_rules

    def check_action(self, action: dict, path: str, check) -> None:
        check.int(action["amount_minor"], f"{path}.amount_minor", 1)


register(DiscountEach())
