"""Which programs the vectorised kernel runs: `supports(program, plan)` says why not, or None.

Derived from the mechanics (`runtime/mechanics/`), in one place: each program-wide mechanic says
whether the kernel runs it (`program_vector_reason`), and so does each rule's mechanic
(`vector_reason`), after the rule's conditions (event conditions only) and its caps or budget.
Anything the kernel declines runs on the scalar plan (`--kernel auto`), and the report says which
step declined and why (`assumptions.kernel_why`), so a reason here is never a wrong answer, only a
slower one. Members whose histories the kernel cannot take (irregular grouping, repeated event ids,
very many events) are routed to the scalar plan per member.
"""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.mechanics import PROGRAM_MECHANICS, mechanic_for
from loyalty.runtime.mechanics.context import condition_vector_reason
from loyalty.runtime.program import CompiledProgram


def condition_reason(rule_doc: dict) -> Optional[str]:
    """Why the kernel cannot evaluate this rule's conditions, or None (all depend only on the event)."""
    return condition_vector_reason(rule_doc, "rule")


def supports(program: CompiledProgram, plan=None) -> Optional[str]:
    """None when the vectorised kernel can replay `program` (under the simulation `plan`) exactly, else why not."""
    # Acceptance windows (runtime/windows.py) need no step of their own here: the kernel replays each member's
    # events in time order (members whose wall times step back, and those with explicit event ids, which is
    # where resends are, go to the scalar plan), so no event is ever earlier than the member's clock and the
    # late-events window refuses none; the returns window is the kernel's returns pass
    # (mechanics/returns.py `vector_outside_window`).
    for m in PROGRAM_MECHANICS:
        why = m.program_vector_reason(program, plan)
        if why is not None:
            return why
    for r in program.rules:
        why = rule_reason(program, r)
        if why is not None:
            return why
    return None


def rule_reason(program: CompiledProgram, r) -> Optional[str]:
    """Why the kernel cannot run rule `r` of `program` (its conditions, its caps or budget, its mechanic), or
    None. Program-wide mechanics may still decline a rule (`supports`: their reasons name it)."""
    mechanic = mechanic_for(r)
    return (condition_reason(program.doc["rules"][r.index]) or mechanic.limits_vector_reason(r)
            or mechanic.vector_reason(r, program))
