"""`loyalty migrate-check` with a history: every member replayed under the old program up to the end of the
history (as `loyalty simulate` replays them, without simulated redemptions), then migrated to the new program
(`runtime/migrate.py`), and the reports added up."""

from __future__ import annotations

from loyalty.runtime.evaluator import new_member
from loyalty.runtime.internal import EventError, Ev
from loyalty.runtime.migrate import MemberReport, MigrationTotals, migrate_state
from loyalty.runtime.program import CompiledProgram


def replay_and_migrate(plan, history, new: CompiledProgram, ledger) -> tuple[MigrationTotals, list[MemberReport], int]:
    """The totals, each member's report (in the history's member order) and the number of events the old
    program rejected (a return of an order before the history, ...: counted as `simulate` counts them)."""
    from loyalty.simulate.engine import _attributes
    from loyalty.simulate.orders import EventBuilder

    old = plan.program
    apply_event = plan.evaluation.apply_event
    builder = EventBuilder(history, old.catalog)
    totals = MigrationTotals()
    reports: list[MemberReport] = []
    rejected = 0
    for member, start, end in history.member_slices():
        st = new_member(old, member, _attributes(plan.attributes.get(member)))
        for ev in builder.member(start, end).evs:
            out: list = []
            try:
                apply_event(st, ev, ledger, out)
            except EventError:
                rejected += 1
        apply_event(st, Ev("tick", None, plan.end), ledger, [])  # the migration happens at the history's end
        _, report = migrate_state(old, new, st)
        totals.add(report)
        reports.append(report)
    return totals, reports, rejected
