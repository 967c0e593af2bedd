"""Stock-limited rewards (`reward "Tote bag" is a gift "tote bag" limited to 500`): rules may give the reward at
most that many times in all, program-wide, first come first served; once the stock is gone a rule that would
give it gives nothing and says so (`stock_out`). Redemptions do not draw on it.

The stock is claimed like a budget, from the caller's ledger under the key `stock:<reward>` (the compiler
puts it among the program's budgets), so it is exact wherever budgets are: one `BudgetLedger` for `apply`,
and the simulation's passes (`simulate/budgets.py`) when a history is split across processes."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic

PREFIX = "stock:"


def stock_key(reward: str) -> str:
    """The ledger key of a reward's stock."""
    return PREFIX + reward


def take_stock(prog, st, r, reward: str, ev, ledger, out) -> bool:
    """One unit of the reward's stock for rule `r` (True), or, when none is left, a `stock_out` and False.
    A reward without a stock always has one."""
    rw = prog.rewards[reward]
    if rw.stock is None:
        return True
    key = stock_key(reward)
    if ledger.claim(key, 1, ev.time, st.member_id, ev.id) >= 1:
        return True
    out.append(Effect("stock_out", ev.time, r.name, r.line, r.column, reward=reward, scope=key, truncated=1,
                      event=ev.id))
    return False


class Stock(ProgramMechanic):
    name = "stock"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for r in program.rules:
            if r.action == "give" and program.rewards[r.reward].stock is not None:
                return (f"rule {r.name!r} gives {r.reward!r}, which is limited to {program.rewards[r.reward].stock}:"
                        " stock is not vectorised yet")
        return None
