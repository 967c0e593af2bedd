"""Draws: a purchase enters the draws whose conditions hold, one entry per `per` of the amount paid on
the draw's lines (times `entries`); winners are drawn per period by the simulation (seeded)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import condition_vector_reason, preds_ok
from loyalty.runtime.mechanics.registry import ProgramMechanic


def enter_draws(draws, lines: list, ctx, t, order, event, out: list) -> None:
    for dr in draws:
        if preds_ok(dr, ctx):
            base = sum(ln[4] for ln in lines if dr.line_matches(ln[0], ln[1]))
            entries = base // dr.per * dr.entries
            if entries > 0:
                out.append(Effect("draw_entries", t, dr.name, dr.line, dr.column, draw=dr.name, entries=entries,
                                  order=order, event=event))


def vector_entries(kern) -> dict:
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py): per draw, the entries each
    event gives, as `enter_draws` gives them: a running purchase's amount paid on the draw's lines (after
    its discounts) in whole `per`, times `entries`, where the draw's conditions hold; 0 elsewhere."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits

    out = {}
    for dr in kern.prog.draws:
        match = kern.purchase_lines(dr)
        whole = np.add.reduceat(np.where(match, kern.paid, 0), kern.e_start) // dr.per
        if not fits(int(whole.max(initial=0)), dr.entries):
            raise Unsupported("amounts too large for 64-bit draw entries")
        out[dr.name] = whole * dr.entries
    return out


class Draws(ProgramMechanic):
    name = "draws"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for d in program.doc.get("draws", ()):
            why = condition_vector_reason(d, "draw")
            if why is not None:
                return why
        return None
