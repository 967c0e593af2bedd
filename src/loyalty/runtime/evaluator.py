"""The reference evaluator: one member's events in, effects out, every rule by its mechanic's general step.

- `apply_event(prog, st, ev, ledger, effects)`: applies one internal event `Ev` to a mutable
  `MemberState` in place, appending `Effect`s to `effects`. It may raise `EventError` (e.g. a return
  of an unknown order) before changing anything that matters; callers that need all-or-nothing copy
  the state first (the facade does).
- `run_member(prog, member_id, attributes, events, ledger=None)`: a fresh member through an iterable
  of `Ev`s (in time order); yields `(ev, effects)` per event.

Both run the program's plan without specialised steps (`runtime/plan.py`); `program.apply` and the
simulation run the same plan with them, and the differential tests hold the two equal. The meaning of
each mechanic lives in `runtime/mechanics/`.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.internal import Ev
from loyalty.runtime.ledger import UnlimitedLedger
from loyalty.runtime.plan import plan_of
from loyalty.runtime.program import CompiledProgram
from loyalty.runtime.state import MemberState, MetricLog

_UNLIMITED = UnlimitedLedger()


def new_member(prog: CompiledProgram, member_id: str, attributes: Optional[dict] = None) -> MemberState:
    st = MemberState.start(member_id, dict(attributes or {}), len(prog.kinds), len(prog.metrics))
    st.metrics = [None if m.window == "lifetime" else MetricLog() for m in prog.metrics]
    if prog.tiers:
        st.tier = prog.tiers.qualified(0)  # a tier from 0 is held from the start, without an effect
    return st


def apply_event(prog: CompiledProgram, st: MemberState, ev: Ev, ledger, out: list[Effect]) -> None:
    plan_of(prog, specialise=False).apply_event(st, ev, ledger, out)


def run_member(prog: CompiledProgram, member_id: str, attributes: Optional[dict], events: Iterable[Ev],
               ledger=None) -> Iterator[tuple[Ev, list[Effect]]]:
    st = new_member(prog, member_id, attributes)
    ledger = ledger if ledger is not None else _UNLIMITED
    apply = plan_of(prog, specialise=False).apply_event
    for ev in events:
        out: list[Effect] = []
        apply(st, ev, ledger, out)
        yield ev, out
