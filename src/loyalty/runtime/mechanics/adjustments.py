"""Adjustments: an event that sets or adds to a member's point balance, tier or punch count, with a reason
(opening balances carried over from an old card, goodwill credits, corrections). It is no rule's doing:
its effects (`points_adjusted`, `tier_adjusted`, `punches_adjusted`) carry the reason, and the simulation
reports them apart from what the rules cost (docs/simulate.md, "Adjustments").

- points: `add` N >= 1 credits N points of the kind, available at once, expiring as the kind's points do
  (a debt is paid first, as by any credit); `set` N >= 0 makes the available balance N: the difference is
  credited, or taken from the oldest points. Adjusted points are not points earned (a tier by points earned
  does not count them; a return cannot claw them back).
- tier: `set` the member's tier (by name; null: no tier) from now on; reviews and upgrades go on as usual.
- punches: `add` N >= 1 units to a punch card's count (a card completed this way gives its free unit on the
  next units it counts); `set` N puts the count in the current cycle at N (0 <= N < the cycle).
An adjustment that names a point kind, tier or rule the program lacks, or a value out of range, is refused
before anything changes (`EventError`)."""

from __future__ import annotations

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import cycle_count
from loyalty.runtime.internal import EventError
from loyalty.runtime.mechanics.context import due
from loyalty.runtime.mechanics.points import spend_oldest
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import add_duration, next_period_start

WHAT = ("points", "tier", "punches")


def check_adjustment(prog, ev) -> None:
    """Refuse (before anything changes) an adjustment the program cannot apply."""
    what, target, value, setting = ev.adjust
    if what == "points":
        _kind(prog, target)
        if value < (0 if setting else 1):
            raise EventError("points", f"{value} points cannot be {'set' if setting else 'added'}: "
                             + ("a balance is 0 or more" if setting else "add 1 point or more (to lower a balance, "
                                "set it)"))
    elif what == "tier":
        if prog.tiers is None:
            raise EventError("tier", "the program has no tiers")
        if target is not None and target not in prog.tiers.names:
            raise EventError("tier", f"{target!r} is not a tier of the program; known: "
                             + ", ".join(t.name for t in prog.tiers.tiers))
    else:
        r = _punch_rule(prog, target)
        if setting and not 0 <= value < r.cycle:
            raise EventError("punches", f"a count in the cycle of {r.name!r} is 0 to {r.cycle - 1}, not {value}")
        if not setting and value < 1:
            raise EventError("punches", f"add 1 punch or more, not {value}")


def _kind(prog, name):
    if name is None:
        if len(prog.kinds) != 1:
            raise EventError("point_kind", "the program has " + (
                "no point kinds" if not prog.kinds else "several point kinds: name one ("
                + ", ".join(k.name for k in prog.kinds) + ")"))
        return prog.kinds[0]
    k = prog.kind_index.get(name)
    if k is None:
        raise EventError("point_kind", f"{name!r} is not a point kind of the program")
    return prog.kinds[k]


def _punch_rule(prog, name):
    for r in prog.rules:
        if r.name == name and r.action == "punch":
            return r
    raise EventError("rule", f"{name!r} is not a punch-card rule of the program")


def adjust(prog, st, ev, out: list) -> None:
    """Apply an adjustment `check_adjustment` accepted."""
    what, target, value, setting = ev.adjust
    t, reason = ev.time, ev.name
    if what == "points":
        kind = _kind(prog, target)
        ks = st.kinds[kind.index]
        delta = value - ks.available if setting else value
        if delta > 0:
            _credit(st, kind, ks, delta, t)
        elif delta < 0:
            taken = spend_oldest(ks, -delta, False)
            ks.debt += -delta - taken  # only when the balance was below zero already: it is set exactly
        if delta:
            ks.adjusted += delta
            out.append(Effect("points_adjusted", t, point_kind=kind.name, points=delta, reason=reason, event=ev.id))
    elif what == "tier":
        new = prog.tiers.names[target] if target is not None else -1
        old = st.tier
        st.tier = new
        st.grace_until = None
        if new >= 0 and prog.tiers.downgrade_period and st.next_review is None:
            st.next_review = next_period_start(t, prog.tiers.downgrade_period)
            due(st, st.next_review)
        tiers = prog.tiers.tiers
        out.append(Effect("tier_adjusted", t, tier_from=tiers[old].name if old >= 0 else None,
                          tier_to=tiers[new].name if new >= 0 else None, reason=reason, event=ev.id))
    else:
        r = _punch_rule(prog, target)
        c = st.punches.get(r.index, 0)
        if setting:
            new_c = (c // r.cycle) * r.cycle + value
            st.fired = {**st.fired, r.index: cycle_count(new_c, r.cycle, r.free)}  # replaced: shared by state copies
        else:
            new_c = c + value
        st.punches[r.index] = new_c
        out.append(Effect("punches_adjusted", t, r.name, r.line, r.column, points=new_c % r.cycle, reason=reason,
                          event=ev.id))


def _credit(st, kind, ks, pts: int, t) -> None:
    """`pts` points available at once, expiring as the kind's do, credited to no rule (-1) and no order."""
    expires = None
    if kind.expiry == "after_earning":
        expires = add_duration(t, kind.expiry_amount, kind.expiry_unit)
    elif kind.expiry == "period_end":
        expires = next_period_start(t, kind.expiry_period)
        if kind.expiry_next:
            expires = next_period_start(expires, kind.expiry_period)
    pay = min(ks.debt, pts)
    ks.debt -= pay
    if pts - pay > 0:
        ks.add(t, None, expires, pts - pay, None, -1)
    if expires is not None:
        due(st, expires)


def points_added(prog, adjustment) -> "tuple[int, int] | None":
    """(point kind index, points) when an adjustment (an event's `adjust`: what, target, value, set) adds points
    to a kind of the program: the adjustment the vectorised kernel runs, as an earning slot of its own that
    credits at once and expires as the kind's points do (what `_credit` does; the kernel's slots pay a debt
    first as any credit does), counted as adjusted, not earned. None for every other adjustment (a balance
    set, a tier, a punch card, or one `check_adjustment` refuses): the kernel sends its member to the scalar
    plan, counted."""
    what, target, value, setting = adjustment
    if what != "points" or setting or value < 1:
        return None
    try:
        return _kind(prog, target).index, value
    except EventError:
        return None


class Adjustments(ProgramMechanic):
    """The kernel runs adjustments that add points (`points_added`); it sends a member with any other
    adjustment to the scalar plan (counted in `kernel.ROUTED`)."""

    name = "adjustments"
