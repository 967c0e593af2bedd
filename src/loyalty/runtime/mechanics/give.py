"""Giving a reward (a free item, a gift card, an amount or percentage off later): on a purchase that meets
the rule's conditions and trigger, or on any event whose trigger fires (signup, an action, the nth visit).
A reward is all or nothing under caps and budgets. A whole return takes it back when the program says so
(`returns.py`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import order_has_line
from loyalty.runtime.mechanics.limits import budget_or_own_cap_vector_reason, limit, vector_own_cap
from loyalty.runtime.mechanics.offers import hold_offer
from loyalty.runtime.mechanics.registry import Mechanic, register
from loyalty.runtime.mechanics.triggers import (FIRED_VECTOR_TRIGGERS, VECTOR_TRIGGERS, can_apply_to_purchase,
                                                capped_fires, spend_trigger_vector_reason, vector_firings)

# triggers a timer fires between events (winback.py, moments.py): the kernel gives their gifts after the lockstep
TIMER_TRIGGERS = ("inactivity", "birthday", "anniversary", "tier_reached")


def fire_give(plan, st, r, ev, ledger, out, order, times: int) -> None:
    """The rule's reward, `times` times (a counting trigger can fire more than once)."""
    prog = plan.prog
    rw = prog.rewards[r.reward]
    given = 0
    for _ in range(times):
        if limit(prog, st, r, rw.cost, ev, ledger, out, None, money=True, all_or_nothing=True,
                 stock=rw.name if rw.stock is not None else None) is None:
            continue
        given += 1
        out.append(Effect("reward_issued", ev.time, r.name, r.line, r.column, reward=rw.name, amount=rw.face,
                          cost=rw.cost, order=ev.order, event=ev.id))
        if rw.is_offer:  # an offer with a lifetime: held until used or lapsed (offers.py)
            hold_offer(st, rw, r, ev.time, out)
    if given:
        st.add_rewards(rw.name, given)
        if order is not None:  # rare: a new list, not in place (once, not once per firing: that was quadratic)
            order.rewards = [*order.rewards, *([r.index, rw.name] for _ in range(given))]


def gift_times(plan, st, r, lines, order, ev, out) -> int:
    """How many times a gift rule applicable to this purchase gives its reward here, before its caps (0 when the
    order has none of its items); an `after every X spent` counts what the purchase reaches, using it up.
    Stacking (stacking.GiftStacked) weighs it before the gift is given."""
    if not order_has_line(r, lines):
        return 0
    if r.trigger == "every_spend":
        return capped_fires(st, r, lines, order, ev, out, plan.prog.rewards[r.reward].cost)
    return 1


def give(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    times = gift_times(plan, st, r, lines, order, ev, out)
    if times:
        fire_give(plan, st, r, ev, ledger, out, order, times)


def give_on_visit(plan, st, r, ev, ledger, out, tier, ctx) -> None:
    fire_give(plan, st, r, ev, ledger, out, None, 1)


# ---------------------------------------------------------------- vectorised


def vector_gives(kern, later=frozenset(), gates=None) -> dict:
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py): per give rule, per event, the
    rewards it gives and the claims its cap refuses (each 0 or 1), as `give`, `give_on_visit` and `limit`
    give and refuse them: the trigger fires where `triggers.vector_fires` says; a `times` cap grants the
    first N firings of each member's period (`limits.vector_own_cap`), after the gifts that lost their order's
    stacking contest are taken out (`stacking.vector_gift_lost`, as `stacking.GiftStacked`). Rules in `later`
    are left out (their balance conditions are known after the lockstep); with `gates` (rule index ->
    mask), only the rules in it, where the mask allows."""
    import numpy as np

    from loyalty.runtime.mechanics.stacking import vector_gift_lost

    out = {}
    lost = None
    fired: dict = {}
    if gates is None:  # stacking among the gifts of one order (a contest with a balance-gated gift is declined)
        contesting = [r for r in kern.give_rules if can_apply_to_purchase(r) and r.index not in later]
        if len(contesting) > 1:
            fired = {r.index: vector_firings(kern, r) for r in contesting}
            lost = vector_gift_lost(kern, contesting, fired)
    for r in kern.give_rules:
        if r.index in later or (gates is not None and r.index not in gates) or r.trigger in TIMER_TRIGGERS:
            continue  # (a timer's gifts: the kernel's _timer_gives)
        given = fired[r.index] if r.index in fired else vector_firings(kern, r)
        if lost is not None and r.index in lost:  # it lost the order's contest: nothing given, its cap untouched
            given = np.where(lost[r.index], 0, given)
        if gates is not None:
            given = np.where(gates[r.index], given, 0)
        given, refused = vector_own_cap(kern, r, given)  # one `times` cap of its own: 0 or 1 refused
        out[r.index] = (given, refused)
    return out


class Give(Mechanic):
    name = "give reward"
    actions = ("give",)
    phase = "give"
    step = staticmethod(give)
    visit_triggers = ("nth_visit", "every_visits")
    action_fields = {"reward": "str"}

    def check_action(self, action, path, check) -> None:
        if action["reward"] not in check.rewards:
            raise check.error(f"{path}.reward", f"{action['reward']!r} is not a reward of the program")

    def visit_step(self, rule):
        return give_on_visit

    def fire(self, plan, st, r, ev, ledger, out, order, times) -> None:
        fire_give(plan, st, r, ev, ledger, out, order, times)

    def limits_vector_reason(self, rule) -> Optional[str]:
        return budget_or_own_cap_vector_reason(rule, ("times",))

    def vector_reason(self, rule, program) -> Optional[str]:
        if program.rewards_taken_back and program.rewards[rule.reward].is_offer and \
                rule.trigger in self.visit_triggers:  # a return takes the newest held: maybe a visit's
            return f"rule {rule.name!r}: offers given on visits too, taken back on a return, are not vectorised yet"
        if rule.trigger == "every_spend":
            return spend_trigger_vector_reason(rule)
        if rule.trigger in TIMER_TRIGGERS:  # win-back and moments say (their program_vector_reason)
            if program.rewards[rule.reward].stock is not None:  # stock.vector_stock claims for events' gifts only
                return f"rule {rule.name!r}: a reward with a stock given at a timer is not vectorised yet"
            return None
        if rule.trigger not in VECTOR_TRIGGERS and rule.trigger not in FIRED_VECTOR_TRIGGERS:
            return f"rule {rule.name!r} (give on {rule.trigger}) is not vectorised yet"
        return None


register(Give())
