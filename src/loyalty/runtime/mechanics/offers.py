"""Offers with a lifetime: a reward declared `valid for 30 days` that a rule gives is held by the member
until her next purchase within its lifetime, which uses it (`reward_used`), or until its end, when it
lapses (`reward_lapsed`) and costs nothing (docs/semantics.md, "Offers with a lifetime").

The member state holds each open offer as (reward, end, giving rule index) in the order given
(`MemberState.offers`). A purchase uses every offer held; time passing (`lapse_offers`, part of the
plan's `advance`) lapses those whose end it reaches, each at its own moment."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import due
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import NEVER, add_duration, duration_words

# the order of an offer's lapse among effects of one moment: after points and tiers (advance's `timed`)
_LAPSE_ORDER = 3


def hold_offer(st, rw, r, t, out: list) -> None:
    """A reward with a lifetime was given at t by rule r: the member holds it until it is used or lapses."""
    if rw.valid_for is not None:
        end = add_duration(t, *rw.valid_for)
    elif t >= rw.valid_until:  # `valid until <date>` given on or after its end: it lapses at once (costs nothing)
        out.append(Effect("reward_lapsed", t, r.name, r.line, r.column, reward=rw.name, amount=rw.face,
                          cost=rw.cost))
        return
    else:
        end = rw.valid_until
    rule_index = r.index
    st.offers = [*st.offers, (rw.name, end, rule_index)]  # replaced, never changed in place: copies share it
    if end != NEVER:
        due(st, end)


def use_offers(prog, st, t, order_id, event_id, out) -> None:
    """A purchase at t uses every offer the member holds (time has passed first: none has lapsed)."""
    for name, _end, rule_index in st.offers:
        rw = prog.rewards[name]
        r = prog.rules[rule_index] if rule_index >= 0 else None
        out.append(Effect("reward_used", t, r.name if r else None, r.line if r else 0, r.column if r else 0,
                          reward=name, amount=rw.face, cost=rw.cost, order=order_id, event=event_id))
    st.offers = []


def take_back_offer(st, name: str, rule_index: int) -> bool:
    """A whole return takes back an offer the order earned: the newest such offer still held goes; False when
    none is held (it was used or has lapsed, and stays so)."""
    for i in range(len(st.offers) - 1, -1, -1):
        if st.offers[i][0] == name and st.offers[i][2] == rule_index:
            st.offers = st.offers[:i] + st.offers[i + 1:]
            return True
    return False


def lapse_offers(prog, st, T, timed: list) -> None:
    """Every offer whose end is at or before T lapses at its end: `timed` gets (moment, order, seq, effect)."""
    kept = []
    for seq, (name, end, rule_index) in enumerate(st.offers):
        if end > T:
            kept.append((name, end, rule_index))
            continue
        rw = prog.rewards[name]
        r = prog.rules[rule_index] if rule_index >= 0 else None
        timed.append((end, _LAPSE_ORDER, seq, Effect("reward_lapsed", end, r.name if r else None,
                                                     r.line if r else 0, r.column if r else 0, reward=name,
                                                     amount=rw.face, cost=rw.cost)))
    if len(kept) != len(st.offers):
        st.offers = kept


def next_offer_end(st):
    ends = [end for _n, end, _r in st.offers if end != NEVER]
    return min(ends) if ends else None


class Offers(ProgramMechanic):
    """The vectorised kernel declines offers with a lifetime: held offers are per-member state used by the next
    purchase or lapsed by time, which its lockstep does not model yet."""

    name = "offers with a lifetime"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for rw in program.rewards.values():
            if rw.is_offer:
                how = f"for {duration_words(*rw.valid_for)}" if rw.valid_for is not None else "until a date"
                return (f"reward {rw.name!r} is valid {how}: offers with a lifetime (used or lapsed) are not "
                        "vectorised yet")
        return None
