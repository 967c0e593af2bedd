"""A service using loyalty's public API as its docs show, written to pass `mypy --strict`.
tests/test_typing.py type-checks it (it is never run): every name it uses must have a precise type."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import loyalty
from loyalty import events


def earn(program_text: str) -> tuple[int, list[str], str]:
    program: loyalty.Program = loyalty.load(program_text)
    state: loyalty.MemberState = program.new_member("m1", attributes={"segments": ["students"]})
    purchase = events.Purchase(time=dt.datetime(2025, 3, 1, 12), order="o1",
                               lines=[events.Line(item="basic wash", quantity=1, amount=Decimal("35"))])
    try:
        applied: loyalty.Applied = program.apply(state, purchase)
    except loyalty.EventError as err:
        raise SystemExit(f"rejected at {err.field}: {err}") from None
    state, effects = applied
    state, more = program.apply(state, {"visit": {"time": "2025-03-02T10:00:00"}})
    sentences: list[str] = [program.explain(e) for e in [*effects, *more]]
    first: loyalty.Effect = effects[0]
    points: int | None = first.points
    cost: int | None = first.cost
    when: dt.datetime = first.time
    saved: str = state.to_json()
    again = program.state_from_json(saved)
    ledger: loyalty.BudgetLedger = program.new_budget_ledger()
    ledger = program.budget_ledger_from_json(ledger.to_json())
    return again.balance() + (points or 0) + (cost or 0) + when.year, sentences, program.currency


def load_or_report(path: str) -> str:
    try:
        return loyalty.load(path).name
    except loyalty.LoyaltyError as err:
        return "; ".join(f"{d.code} at {d.span.line}:{d.span.column}: {d.message}" for d in err.diagnostics)
    except (loyalty.StateMismatchError, loyalty.ProgramFormatError, loyalty.LedgerMismatchError) as err:
        return str(err)


def from_service(json_text: str) -> str:
    return loyalty.load_compiled(json_text).identity
