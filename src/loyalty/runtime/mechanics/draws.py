"""Draws: a purchase enters the draws whose conditions hold, one entry per `per` of the amount paid on
the draw's lines (times `entries`); winners are drawn per period by the simulation (seeded)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import preds_ok
from loyalty.runtime.mechanics.registry import ProgramMechanic


def enter_draws(draws, lines: list, ctx, t, order, event, out: list) -> None:
    for dr in draws:
        if preds_ok(dr, ctx):
            base = sum(ln[4] for ln in lines if dr.line_matches(ln[0], ln[1]))
            entries = base // dr.per * dr.entries
            if entries > 0:
                out.append(Effect("draw_entries", t, dr.name, dr.line, dr.column, draw=dr.name, entries=entries,
                                  order=order, event=event))


class Draws(ProgramMechanic):
    name = "draws"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return "draws are not vectorised yet" if program.draws else None
