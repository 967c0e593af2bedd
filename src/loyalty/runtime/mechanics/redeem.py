"""Redeeming points for a reward: the price is taken from the available balance, oldest points first;
a balance below the price refuses the redemption (an effect, not an error)."""

from __future__ import annotations

from loyalty.runtime.effects import Effect
from loyalty.runtime.internal import EventError
from loyalty.runtime.mechanics.points import spend_oldest, vector_available, vector_spend
from loyalty.runtime.mechanics.registry import ProgramMechanic

# a simulated member redeems as often as her balance allows after each event; a bound, not a behaviour
# (prices are positive, balances finite)
MAX_REDEMPTIONS_PER_EVENT = 1000


def check_redemption(prog, ev) -> None:
    """Refuse (before anything changes) a redemption of a reward points cannot buy."""
    if ev.reward not in prog.redeem:
        raise EventError("reward", f"no reward named {ev.reward!r} can be redeemed in this program"
                         + (f"; known: {', '.join(sorted(prog.redeem))}" if prog.redeem else ""))


def redeem(prog, st, ev, out: list) -> None:
    rd = prog.redeem[ev.reward]
    kind = prog.kinds[rd.kind]
    ks = st.kinds[rd.kind]
    t = ev.time
    label = f"redeem for {rd.reward}"
    if ks.available < rd.price:
        out.append(Effect("redemption_refused", t, label, rd.line, rd.column, reward=rd.reward, point_kind=kind.name,
                          points=rd.price, reason=f"the balance is {ks.available} {kind.name}, the price is {rd.price}",
                          event=ev.id))
        return
    spend_oldest(ks, rd.price, False)
    ks.redeemed += rd.price
    rw = prog.rewards[rd.reward]
    st.add_rewards(rw.name, 1)
    out.append(Effect("points_redeemed", t, label, rd.line, rd.column, point_kind=kind.name, points=rd.price,
                      reward=rd.reward, event=ev.id))
    out.append(Effect("reward_issued", t, label, rd.line, rd.column, reward=rw.name, amount=rw.face, cost=rw.cost,
                      event=ev.id))


def simulated_redemptions(available: int, price: int) -> int:
    """How many times a simulated member redeems a reward of `price` points with `available` points after an
    event: as often as the balance allows (the scalar replay redeems one at a time until it does not)."""
    return min(available // price, MAX_REDEMPTIONS_PER_EVENT) if available >= price else 0


def vector_redeemers(kern):
    """Per event of the kernel, whether its member may redeem after it: a simulated redeemer, after an accepted
    event that counts (under enrolment, time has not passed at one that does not: nothing changed)."""
    return kern.m_redeems[kern.e_mem] & kern.e_valid & kern.e_counted


def vector_redeem(kern, mm, idx, redeemers) -> None:
    """The vectorised step, after the kernel's lockstep step (members `mm` at their events `idx`): each
    simulated redeemer redeems each of her rewards as often as the balance allows, taking the points from
    her stream of points oldest first, as `spend_oldest` (`points.vector_spend`). `redeemers`: per event,
    `vector_redeemers`, found once per lockstep."""
    import numpy as np

    may = np.flatnonzero(redeemers[idx])
    if not len(may):
        return
    mm, idx = mm[may], idx[may]  # (the balance read for the redeemers alone: the others never redeem)
    balances: dict = {}  # per kind, the members' available balance: read once, then less what each reward took
    for price, k, times in kern.redeems:
        st = kern.kstate[k]
        avail = balances.get(k)
        if avail is None:
            avail = balances[k] = vector_available(st, mm)
        ok = avail >= price
        if ok.any():
            n = np.minimum(avail[ok] // price, MAX_REDEMPTIONS_PER_EVENT)
            vector_spend(st, st["nr"], mm[ok], idx[ok], n * price, kern.m_evstart)
            times[idx[ok]] = n
            avail[ok] -= n * price  # (a spend lowers the available balance by exactly what it takes)


class Redemptions(ProgramMechanic):
    """Simulated members redeem as the scenario's redemption policy says: the kernel runs it
    (`vector_redeem`) for programs whose points are available at once."""

    name = "redemptions"
