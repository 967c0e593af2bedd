"""Designer-written scenario tests: `<program>.test.yaml` next to `<program>.loyalty`.

Format (docs/embedding.md, "Scenario tests")::

    scenarios:
      - name: the sixth wash is free
        member: {id: m1, attributes: {segments: [students]}}
        events:
          - purchase: {time: 2025-03-01T10:00, order: o1, lines: [{item: basic wash, amount: 60}]}
        expect:
          effects:            # every effect, in order; each lists the fields it checks
            - {kind: discount_applied, rule: every 6th wash is free, amount: "60.00"}
          contains: [...]     # or: these effects appear, in this order, among others
          state: {balance: {points: 10}, tier: gold, punches: {rule name: 1}, rewards: {free wash: 1}}
        # an event may be expected to be rejected:  - {error: lines.0.amount, purchase: {...}}
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Optional

from loyalty.yamlio import YamlFileError, read_yaml


@dataclass
class Outcome:
    file: str
    name: str
    line: int
    ok: bool
    messages: list[str] = field(default_factory=list)


def test_file_for(program_path: Path) -> Path:
    return program_path.with_name(program_path.stem + ".test.yaml")


def _scenarios(path: Path) -> list[tuple[object, int]]:
    """Each scenario of a file, with the line it starts on. Read with the shared strict YAML reader
    (loyalty/yamlio.py: no aliases, merge keys or duplicate keys; UTF-8 only); raises YamlFileError."""
    doc = read_yaml(path)
    data, where = doc.data, ()
    if isinstance(data, dict) and "scenarios" in data:
        data, where = data["scenarios"], ("scenarios",)
    if not isinstance(data, list):
        raise YamlFileError([doc.problem(where, "expected a list of scenarios (or `scenarios:` with a list)")])
    return [(sc, doc.place(where + (i,))[0]) for i, sc in enumerate(data)]


def _jsonable(value):
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)  # the YAML reader keeps 60.5 exact; the event model takes a decimal string
    return value


def _matches(expected: dict, actual: dict) -> bool:
    for k, v in expected.items():
        if k not in actual:
            if v is None or v is False:
                continue
            return False
        a = actual[k]
        if k in ("amount", "cost"):
            try:
                if Decimal(str(v)) != Decimal(str(a)):
                    return False
            except InvalidOperation:
                return False
        elif k == "time":
            if _dt.datetime.fromisoformat(str(v)) != _dt.datetime.fromisoformat(str(a)):
                return False
        elif a != v:
            return False
    return True


def _show(effect_json: dict, program, with_place: bool = True) -> str:
    parts = [effect_json.get("kind", "(any kind)")] + [f"{k}={v}" for k, v in effect_json.items() if k not in ("kind", "event", "line",
                                                                                            "column")]
    where = f"  [rule \"{effect_json['rule']}\" at {program.compiled.source_file}:{effect_json['line']}]" if (
        with_place and effect_json.get("line")) else ""
    return " ".join(str(p) for p in parts) + where


def run_scenario(program, sc: dict, file: str, line: int) -> Outcome:
    from loyalty.runtime.internal import EventError

    name = str(sc.get("name", f"scenario at line {line}"))
    out = Outcome(file, name, line, True)
    member = sc.get("member") or {}
    try:
        state = program.new_member(str(member.get("id", "m1")), attributes=_jsonable(member.get("attributes") or {}))
    except EventError as err:
        return Outcome(file, name, line, False, [f"member: {err}"])
    ledger = program.new_budget_ledger()
    effects = []
    for i, ev in enumerate(sc.get("events") or []):
        ev = _jsonable(ev)
        want_error = ev.pop("error", None) if isinstance(ev, dict) else None
        try:
            state, eff = program.apply(state, ev, ledger)
        except EventError as err:
            if want_error is None or (want_error is not True and err.field != want_error):
                out.ok = False
                out.messages.append(f"event {i + 1} was rejected: {err}")
            continue
        if want_error is not None:
            out.ok = False
            out.messages.append(f"event {i + 1} was expected to be rejected ({want_error}) but was accepted")
        effects.extend(eff)
    actual = [program.effect_json(e) for e in effects]
    expect = sc.get("expect") or {}
    if "effects" in expect:
        wanted = [_jsonable(e) for e in expect["effects"] or []]
        if len(wanted) != len(actual) or not all(_matches(w, a) for w, a in zip(wanted, actual)):
            out.ok = False
            out.messages.append("effects differ")
            out.messages.append("  expected:")
            out.messages += [f"    {_show(w, program, False)}" for w in wanted] or ["    (none)"]
            out.messages.append("  actual:")
            out.messages += [f"    {_show(a, program)}" for a in actual] or ["    (none)"]
    if "contains" in expect:
        pos = 0
        for w in [_jsonable(e) for e in expect["contains"] or []]:
            while pos < len(actual) and not _matches(w, actual[pos]):
                pos += 1
            if pos == len(actual):
                out.ok = False
                out.messages.append(f"no effect matching {_show(w, program, False)} (in order)")
                out.messages.append("  actual:")
                out.messages += [f"    {_show(a, program)}" for a in actual] or ["    (none)"]
                break
            pos += 1
    want_state = expect.get("state") or {}
    if want_state:
        summary = state.summary()
        for key, value in want_state.items():
            key = {"balance": "balances"}.get(key, key)
            if key not in summary:
                out.ok = False
                out.messages.append(f"state: unknown key {key!r}; use balance, pending, tier, punches, rewards")
                continue
            got = summary[key]
            if isinstance(value, dict) and isinstance(got, dict):
                for k, v in value.items():
                    if got.get(k, 0) != v:
                        out.ok = False
                        out.messages.append(f"state.{key}.{k}: expected {v}, got {got.get(k, 0)}")
            elif got != value:
                out.ok = False
                out.messages.append(f"state.{key}: expected {value!r}, got {got!r}")
    return out


def run_file(program_path: Path) -> tuple[list[Outcome], Optional[str]]:
    """Outcomes of every scenario next to a program, or an error that stops the file."""
    import loyalty

    tests = test_file_for(program_path)
    if not tests.exists():
        return [], f"{program_path}: no scenario file {tests.name} next to it"
    try:
        program = loyalty.load(program_path)
    except loyalty.LoyaltyError as err:
        return [], err.render()
    try:
        scenarios = _scenarios(tests)
    except YamlFileError as err:
        return [], err.render()
    outcomes = []
    for sc, line in scenarios:
        if not isinstance(sc, dict) or "events" not in sc:
            return outcomes, f"{tests}:{line}: a scenario is a mapping with name, member, events and expect"
        outcomes.append(run_scenario(program, sc, str(tests), line))
    return outcomes, None
