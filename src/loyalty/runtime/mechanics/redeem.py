"""Redeeming points for a reward: the price is taken from the available balance, oldest points first;
a balance below the price refuses the redemption (an effect, not an error)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.internal import EventError
from loyalty.runtime.mechanics.points import spend_oldest
from loyalty.runtime.mechanics.registry import ProgramMechanic


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
    st.rewards[rw.name] = st.rewards.get(rw.name, 0) + 1
    out.append(Effect("points_redeemed", t, label, rd.line, rd.column, point_kind=kind.name, points=rd.price,
                      reward=rd.reward, event=ev.id))
    out.append(Effect("reward_issued", t, label, rd.line, rd.column, reward=rw.name, amount=rw.face, cost=rw.cost,
                      event=ev.id))


class Redemptions(ProgramMechanic):
    """Simulated members redeem as the scenario's redemption policy says."""

    name = "redemptions"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        if sim_plan is not None and sim_plan.redeem_rewards:
            return "simulated redemptions (the scenario's redemption policy) are not vectorised yet"
        return None
