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
import datetime as _dt

from loyalty.runtime.timeutil import NEVER, add_duration

_EPOCH = _dt.datetime(1970, 1, 1)
_US = _dt.timedelta(microseconds=1)
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


def vector_offer_ends(rw, moment):
    """Per offer of `rw` given at `moment` (µs): its end (`hold_offer`), and whether it lapses at once (`valid
    until` given on or after its end)."""
    import numpy as np

    from loyalty.runtime.arrays import add_duration as add_us

    if rw.valid_for is not None:
        return add_us(moment, *rw.valid_for), np.zeros(len(moment), dtype=bool)
    end_us = (rw.valid_until - _EPOCH) // _US
    return np.full(len(moment), end_us, dtype=np.int64), moment >= end_us


def _next_purchase(kern):
    """Per kernel event, the member's next running purchase at or after it (nev: none): what uses her offers."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE

    nev = kern.nev
    bought = kern.e_valid & (kern.e_type == PURCHASE) & kern.e_running
    return segment_next(np.where(bought, np.arange(nev), nev), kern.m_evstart, kern.m_nev)


def vector_offers_back(kern, rw, given, bought, whole):
    """`take_back_offer` on the kernel, for a give rule that gives `given[e]` offers of `rw` at purchase event e,
    and the whole returns `whole` of the orders bought at `bought` (events): each offer the order brought takes
    back the newest one of the rule the member holds, which are her last running purchase's offers (a purchase
    uses every offer held before it) up to the return, while their end has not come (`lapse_offers`), as many
    as earlier returns left. Returns (per return, how many went back; per event, how many of its offers)."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE

    out = np.zeros(len(whole), dtype=np.int64)
    gone = np.zeros(kern.nev, dtype=np.int64)
    if not len(whole):
        return out, gone
    o = np.argsort(whole, kind="stable")  # in the member's order of events (time order)
    w, p = whole[o], bought[o]
    purchase = kern.e_valid & (kern.e_type == PURCHASE) & kern.e_running
    last = np.maximum.accumulate(np.where(purchase, np.arange(kern.nev), -1))
    q = last[w]  # her last running purchase before the return (orders' purchases, so never none)
    mine = (q >= 0) & (kern.e_mem[np.maximum(q, 0)] == kern.e_mem[w])
    q = np.maximum(q, 0)
    end, at_once = vector_offer_ends(rw, kern.e_time[q])
    supply = np.where(mine & ~at_once, given[q], 0)
    alive = end > kern.e_time[w]
    demand = given[p]
    new = np.concatenate(([True], q[1:] != q[:-1]))  # returns taking from one purchase's offers: together
    group = np.cumsum(new) - 1
    cum = np.cumsum(demand)
    cum = cum - np.concatenate(([0], cum))[np.flatnonzero(new)][group]
    taken = np.where(alive, np.minimum(cum, supply) - np.minimum(cum - demand, supply), 0)
    out[o] = taken
    np.add.at(gone, q, taken)
    return out, gone


def vector_offer_fates(kern, rw, mem, moment, first_use, gone=None):
    """The vectorised lifetime of offers of reward `rw` (for the kernel `kern`, simulate/vector/kernel.py):
    given to member `mem` at `moment` (µs), usable from her kernel event `first_use` on (the event after the
    giving purchase, or the event a timer fired before; -1: none, as for a timer the end of the history's time
    passing fires). As `use_offers` and `lapse_offers`: the member's first running purchase from `first_use`
    uses it when it comes before the offer's end; else it lapses at its end when that is at or before the end of
    the history (`valid until` given on or after its end: at once). Offers `gone` (a whole return took them back:
    `vector_offers_back`) are neither. Returns (used, lapsed, the lapse moment) per offer."""
    import numpy as np

    end, at_once = vector_offer_ends(rw, moment)
    nev = kern.nev
    nxt = _next_purchase(kern)  # per kernel event, the next running purchase of the same member (nev: none)
    j = np.where(first_use >= 0, nxt[np.maximum(first_use, 0)], nev)
    used = ~at_once & (j < nev)
    used[used] = kern.e_time[j[used]] < end[used]
    lapsed = ~used & ((end <= kern.end_us) | at_once)
    if gone is not None:
        used &= ~gone
        lapsed &= ~gone
    return used, lapsed, np.where(at_once, moment, end)


def segment_next(place, starts, counts):
    """Per position, the least `place` at or after it within its segment (segments: starts, counts)."""
    import numpy as np

    out = place.copy()
    if not len(out):
        return out
    # a reverse running minimum kept inside each segment: each segment's keys lie above all of the one before
    seg = np.repeat(np.arange(len(starts)), counts)
    big = int(place.max()) + 1
    keyed = out + seg * big
    run = np.minimum.accumulate(keyed[::-1])[::-1]
    return run - seg * big


class Offers(ProgramMechanic):
    """Offers with a lifetime: the kernel works out each given offer's fate after the lockstep
    (`vector_offer_fates`): using or lapsing one changes nothing the lockstep keeps."""

    name = "offers with a lifetime"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None
