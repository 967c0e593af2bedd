"""A minimal loyalty service: compile once, apply each member's events as they happen,
store the state as JSON, ignore resent events, handle returns, explain every effect.

Run it: python examples/embed_service.py   (CI runs it; see docs/embedding.md)
"""

from __future__ import annotations

import json
from pathlib import Path

import loyalty

PROGRAM = Path(__file__).resolve().parent / "programs" / "coffee_stars.loyalty"


class LoyaltyService:
    def __init__(self, compiled_json: str):
        # a deployed service loads the compiled program: no parser, no checker at runtime
        self.program = loyalty.load_compiled(compiled_json)
        self.states: dict[str, str] = {}  # member id -> state JSON (your database)
        self.ledger = self.program.new_budget_ledger()  # program-wide budgets, shared by all members

    def handle(self, member_id: str, event: dict) -> list[str]:
        saved = self.states.get(member_id)
        state = self.program.state_from_json(saved) if saved else self.program.new_member(member_id)
        try:
            state, effects = self.program.apply(state, event, self.ledger)
        except loyalty.EventError as err:
            return [f"rejected: {err}"]  # nothing changed; tell the till which field is wrong
        self.states[member_id] = state.to_json()  # store the new state (the old value is untouched)
        return [self.program.explain(e) for e in effects]

    def balance(self, member_id: str) -> int:
        return self.program.state_from_json(self.states[member_id]).balance("stars")


def main() -> None:
    compiled = loyalty.load(PROGRAM).to_json()  # at deploy time: `loyalty compile coffee_stars.loyalty --json`
    service = LoyaltyService(compiled)
    till = [
        {"signup": {"time": "2025-03-01T09:00:00-05:00"}},
        {"purchase": {"id": "till-7:1001", "time": "2025-03-01T09:30:00-05:00", "order": "1001",
                      "lines": [{"item": "latte", "amount": "4.50"}, {"item": "croissant", "amount": "3.25"}]}},
        # the till was offline and sends the same purchase again: nothing changes
        {"purchase": {"id": "till-7:1001", "time": "2025-03-01T09:30:00-05:00", "order": "1001",
                      "lines": [{"item": "latte", "amount": "4.50"}, {"item": "croissant", "amount": "3.25"}]}},
        {"purchase": {"time": "2025-03-02T08:00:00-05:00", "order": "1002", "lines": [{"item": "latte", "amount": "4.505"}]}},
        {"return": {"id": "ret-1", "time": "2025-03-02T10:00:00-05:00", "order": "1001", "lines": [{"item": "croissant"}]}},
        {"tick": {"time": "2025-03-05T00:00:00-05:00"}},
    ]
    for event in till:
        (kind, body), = event.items()
        print(f"{kind} at {body['time']}:")
        for line in service.handle("member-42", event):
            print(f"  {line}")
    final = service.balance("member-42")
    print(json.dumps({"member": "member-42", "stars": final}))
    # 50 welcome + latte 4 + 4 (coffee bonus) + croissant 3 -> order 1001 earned 7 + 4 = 11 stars;
    # returning the croissant (3.25 of 7.75) takes back 7 x 3.25/7.75 = 2.94 -> 3 stars: 50 + 8 = 58
    assert final == 58, final


if __name__ == "__main__":
    main()
