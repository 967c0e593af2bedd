"""`program.apply` never changes the state it is given, although the new state shares parts of it.

A state copy (runtime/state.py `MemberState.copy`) shares what it need not copy with the state it was copied
from (the frozen levels of the event ids and orders, `state.log_get`'s maps; batches not yet written). These
tests apply events to states that share parts, in every order (a state's successor first or another branch first, the same event twice), and hold that:

- every state's JSON, taken at the end, is the JSON it had when it was made (nothing shared was changed);
- an event applied to a state that shares parts gives what it gives on a copy of it read back from its JSON,
  which shares nothing (effects, rejection, new state).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import loyalty
from event_strategies import MemberHistory, member_histories, with_ledger_settings
from loyalty.runtime.events import EventError
from loyalty.syntax.formatter import format_program
from strategies import valid_programs

ROOT = Path(__file__).resolve().parents[1]
PROGRAM_FILES = sorted((ROOT / "examples" / "programs").glob("*.loyalty")) + sorted(
    (ROOT / "benchmarks" / "programs").glob("*.loyalty"))
GENERATED = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.large_base_example])


def unshared(program, state):
    """A state equal to `state` that shares nothing with it: read back from its JSON (complete for every outcome:
    test_state_roundtrip), since the compiled build's native state classes do not support `copy.deepcopy`."""
    return program.state_from_json(state.to_json())


def attempt(program, state, event, ledger_json):
    """(new state's JSON, effects) or the rejection, with a ledger as saved in `ledger_json`."""
    ledger = program.budget_ledger_from_json(ledger_json) if ledger_json is not None else None
    try:
        new, effects = program.apply(state, event, ledger)
    except EventError as err:
        return None, ("rejected", err.field, str(err))
    return new, [e.fields() for e in effects]


def branch_everywhere(program: loyalty.Program, history: MemberHistory, branches: list) -> int:
    """The member's events in a chain of states, and at each step another event (`branches[k]`, an index into
    the history) applied to the same state before or after its successor; then every state is compared with the
    JSON it had when made, and every branch with the same event applied to a fresh copy of its state."""
    budgets = bool(program.compiled.budgets)
    ledger = program.new_budget_ledger() if budgets else None
    state = program.new_member(history.member, history.attributes)
    made = [(state, state.to_json(), ledger.to_json() if budgets else None)]
    later = []  # (a deep copy of the state it was applied to, ledger JSON then, event, outcome)
    for k, ev in enumerate(history.events):
        other_index, other_first = branches[k]
        other = history.events[other_index]
        base, _, ledger_json = made[-1]
        fresh = unshared(program, base)
        if other_first:
            later.append((fresh, ledger_json, other, attempt(program, base, other, ledger_json)))
        try:
            state, _ = program.apply(state, ev, ledger)
        except EventError:
            pass
        else:
            # a state just made is the state `to_json` reads: taken before any later apply can change what it shares
            made.append((state, None, ledger.to_json() if budgets else None))
        if not other_first:
            later.append((fresh, ledger_json, other, attempt(program, base, other, ledger_json)))
        if made[-1][1] is None:
            made[-1] = (state, state.to_json(), made[-1][2])
    for i, (s, json_then, _) in enumerate(made):
        assert s.to_json() == json_then, f"state {i} changed after it was made"
    for i, (fresh, ledger_json, ev, (new, outcome)) in enumerate(later):
        fresh_new, fresh_outcome = attempt(program, fresh, ev, ledger_json)
        assert outcome == fresh_outcome, f"branch {i}: {ev!r}"
        if new is not None:
            assert new.to_json() == fresh_new.to_json(), f"branch {i}: {ev!r}"
    return len(made)


def _program(text: str) -> loyalty.Program:
    return loyalty.compile_source(text, "generated.loyalty")


@GENERATED
@given(st.data())
def test_no_apply_changes_a_state_it_shares_with_on_generated_programs(data):
    generated = data.draw(valid_programs(), label="program")
    if data.draw(st.booleans(), label="ledger settings"):
        generated = data.draw(with_ledger_settings(generated), label="with ledger settings")
    text = format_program(generated)
    program = _program(text)
    history = data.draw(member_histories(program, max_events=12), label="history")
    n = len(history.events)
    branches = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.booleans()), min_size=n, max_size=n),
                         label="branches")
    note(f"program:\n{text}\nevents:\n" + "\n".join(map(repr, history.events)))
    branch_everywhere(program, history, branches)


@settings(GENERATED, max_examples=1)
@given(data=st.data())
def test_no_apply_changes_a_state_it_shares_with_on_every_example_program(data):
    for path in PROGRAM_FILES:
        program = loyalty.load(path)
        history = data.draw(member_histories(program, max_events=12), label=path.stem)
        n = len(history.events)
        branches = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.booleans()), min_size=n, max_size=n),
                             label=f"{path.stem} branches")
        branch_everywhere(program, history, branches)


def _purchases(n: int) -> list[dict]:
    t = dt.datetime(2024, 1, 1, 9, 0)
    events = []
    for i in range(n):
        t += dt.timedelta(hours=20)
        if i % 9 == 8:
            events.append({"type": "return", "id": f"r{i}", "time": t.isoformat(), "order": f"o{i - 2}"})
        else:
            events.append({"type": "purchase", "time": t.isoformat(), "order": f"o{i}", "store": "s",
                           "lines": [{"item": "basic wash", "category": "washes", "quantity": 1, "amount": "35.00"}]})
    return events


def test_branches_across_the_frozen_tails_of_a_long_member():
    """Past 32 ids and orders a tail is frozen into a level: a branch from every fifth state of a long member (the
    next event, an earlier order resent, a later one) gives what it gives on a fresh copy, and changes nothing."""
    program = loyalty.load(ROOT / "benchmarks" / "programs" / "reference.loyalty")
    events = _purchases(90)
    branches = [((k + 1) % len(events) if k % 3 else max(k - 4, 0), k % 2 == 0) if k % 5 == 0 else (k, True)
                for k in range(len(events))]
    assert branch_everywhere(program, MemberHistory("m1", {}, events), branches) > 80


def test_pending_points_mature_in_every_branch_from_a_state_that_holds_them():
    """A kind's maturing queue is shared by a state and its copies and replaced when written (`KindState.add`,
    `points.advance_kind`): points pending in a state mature in each of two events applied to that same state,
    one after the other, as they do on a deep copy of it (a queue popped in place would mature them once)."""
    program = loyalty.load(ROOT / "examples" / "programs" / "gym.loyalty")
    ledger = program.new_budget_ledger()  # (the program has a budget)
    state = program.new_member("m1")
    state, _ = program.apply(state, {"type": "purchase", "time": "2025-03-03T08:00", "order": "o1", "lines": [
        {"item": "gym check-in", "category": "check-in", "quantity": 1, "amount": "0.50"}]}, ledger)
    assert state.pending() > 0
    fresh = unshared(program, state)
    later = {"type": "purchase", "time": "2025-03-20T08:00", "order": "o2", "lines": [
        {"item": "spin class", "category": "classes", "quantity": 1, "amount": "4.00"}]}
    outcomes = [attempt(program, s, later, ledger.to_json()) for s in (state, state, fresh)]
    for new, effects in outcomes:
        assert sum(e["points"] for e in effects if e["kind"] == "points_available") == fresh.pending()
        assert new.balance() == fresh.pending()
    assert outcomes[0][1] == outcomes[1][1] == outcomes[2][1]
    assert outcomes[0][0].to_json() == outcomes[1][0].to_json() == outcomes[2][0].to_json()


COUNTED = """program "Counted" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-01
}

catalog {
  category "washes"
  item "basic wash" in category "washes"
}

reward "10 NOK off" is 10 NOK off the next order

rule "a voucher per 100 NOK in the app" {
  give "10 NOK off"
  after every 100 NOK spent
  on channel "app"
}
"""


def test_a_rule_s_own_spend_counter_is_not_changed_in_a_state_it_shares_with():
    """A counting trigger with conditions keeps its own spend counter (`MemberState.counts`, triggers.py
    `counting_fires`, lowered by a return: returns.py `take_back`), shared by a state's copies and replaced when
    written: an event applied to a state, then another to that same state, changes neither it nor what the second
    gives (neither the generated programs nor the examples have such a rule)."""
    program = _program(COUNTED)
    t = dt.datetime(2024, 1, 1, 9, 0)
    events = []
    for i in range(14):
        t += dt.timedelta(hours=20)
        if i % 5 == 4:  # a return takes its share back from the counter (returns.take_back)
            events.append({"type": "return", "id": f"r{i}", "time": t.isoformat(), "order": f"o{i - 2}"})
            continue
        events.append({"type": "purchase", "time": t.isoformat(), "order": f"o{i}", "store": "s", "channel":
                       "app" if i % 4 else "store", "lines": [{"item": "basic wash", "category": "washes",
                                                               "quantity": 1, "amount": "45.00"}]})
    branches = [((k + 1) % len(events), k % 2 == 0) for k in range(len(events))]
    assert branch_everywhere(program, MemberHistory("m1", {}, events), branches) == len(events) + 1
