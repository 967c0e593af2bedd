"""State copies share batch lists and timer queues: applying to an old state must never change what a
newer state (or another branch) sees. Checked against a straight replay of the same events."""

from __future__ import annotations

import datetime as dt

import loyalty
from loyalty.runtime.effects import Effect

SOURCE = """
program "Sharing" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 30 days after earning
  available 3 days after purchase
  round down per order
}
reward "coffee" is 10 NOK off the next order
redeem 50 points for "coffee"
rule "points" {
  earn 1 point per 1 NOK
}
"""


def _events(n: int) -> list[dict]:
    out = []
    t0 = dt.datetime(2025, 1, 1, 10)
    for i in range(n):
        t = (t0 + dt.timedelta(hours=13 * i)).isoformat()
        if i % 7 == 6:
            out.append({"type": "redemption", "id": f"r{i}", "time": t, "reward": "coffee"})
        elif i % 11 == 10:
            out.append({"type": "return", "id": f"x{i}", "time": t, "order": f"O{i - 3}", "amount": "20.00"})
        else:
            out.append({"type": "purchase", "id": f"e{i}", "time": t, "order": f"O{i}",
                        "lines": [{"item": "cake", "category": "food", "amount": f"{40 + i % 9}.00"}]})
    return out


def _replay(program, state, events) -> tuple[object, list[Effect]]:
    effects = []
    for e in events:
        try:
            state, out = program.apply(state, e)
        except loyalty.EventError:
            continue
        effects.extend(program.effect_json(x) for x in out)
    return state, effects


def test_branches_from_old_states_do_not_disturb_each_other():
    program = loyalty.compile_source(SOURCE, "sharing.loyalty")
    events = _events(160)
    _, straight = _replay(program, program.new_member("M1"), events)
    # replay again, keeping every state; from some of them run a different branch before going on
    state, effects = program.new_member("M1"), []
    for i, e in enumerate(events):
        if i % 9 == 4:
            # a branch: a redemption, a return and a later tick from the same old state
            branch = [{"type": "redemption", "id": f"b{i}", "time": e["time"], "reward": "coffee"},
                      {"type": "return", "id": f"br{i}", "time": e["time"], "order": f"O{i - 2}", "amount": "5.00"},
                      {"type": "tick", "time": (dt.datetime.fromisoformat(e["time"]) + dt.timedelta(days=40)).isoformat()}]
            _replay(program, state, branch)
        state, out = _replay(program, state, [e])
        effects.extend(out)
    assert effects == straight
    # and a state's saved form does not change when later states move on
    saved = state.to_json()
    _replay(program, state, _events(200)[160:])
    assert state.to_json() == saved
