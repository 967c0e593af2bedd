"""Which programs the vectorised kernel runs: `supports(program, plan)` says why not, or None.

The kernel covers what it can replay exactly in lockstep; anything else runs on the
scalar evaluator (`--kernel auto`), so a reason here is never a wrong answer, only a
slower one. Members whose histories the kernel cannot take (irregular grouping,
repeated event ids, very many events) are routed to the scalar evaluator per member.
"""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.program import CompiledProgram

EARN_ACTIONS = ("earn_per_spend",)
FIXED_TRIGGERS = ("signup",)  # fixed earns the kernel gives on these events
# conditions that depend only on the event (its time, store, channel): a mask per rule, computed up front
EVENT_CONDITIONS = ("dates", "weekdays", "hours", "stores", "channels")


def condition_reason(rule_doc: dict) -> Optional[str]:
    """Why the kernel cannot evaluate this rule's conditions, or None (all depend only on the event)."""
    for c in rule_doc.get("conditions", ()):
        if c.get("kind") not in EVENT_CONDITIONS:
            return f"rule {rule_doc['name']!r} has a {c.get('kind')!r} condition: not vectorised yet"
    return None


def supports(program: CompiledProgram, plan=None) -> Optional[str]:
    """None when the vectorised kernel can replay `program` (under `plan`) exactly, else why not."""
    p = program
    if p.budgets:
        return "budgets (program-wide limits) need the two-pass scalar replay"
    if p.draws:
        return "draws are not vectorised yet"
    if plan is not None and plan.redeem_rewards:
        return "simulated redemptions (the scenario's redemption policy) are not vectorised yet"
    for k in p.kinds:
        if k.pending:
            return f"pending points ({k.name!r}) are not vectorised yet"
        if k.expiry not in (None, "after_earning"):
            return f"expiry {k.expiry!r} of {k.name!r} is not vectorised yet (only 'after earning')"
    if p.tiers is not None:
        t = p.tiers
        if t.downgrade_period:
            return "tier downgrades (reviews and grace) are not vectorised yet"
        m = p.metrics[t.metric]
        if m.window != "lifetime":
            return f"a tier metric over a {m.window} window is not vectorised yet"
        for tier in t.tiers:
            if tier.discount is not None or tier.perks:
                return f"tier {tier.name!r} has a discount or perks: not vectorised yet"
    for r in p.rules:
        why = condition_reason(p.doc["rules"][r.index])
        if why is not None:
            return why
        if r.limits or r.budget is not None:
            return f"rule {r.name!r} has a cap or budget: not vectorised yet"
        if r.action == "punch" and r.trigger is None:
            continue
        if r.action in ("earn_per_spend", "multiplier") and r.trigger is None:
            continue
        if r.action == "earn_fixed" and r.trigger in FIXED_TRIGGERS and r.trigger_name is None:
            continue
        if r.action == "earn_per_event" and r.event == "referral" and r.trigger is None:
            continue
        what = r.action + (f" on {r.trigger}" if r.trigger else "")
        return f"rule {r.name!r} ({what}) is not vectorised yet"
    return None
