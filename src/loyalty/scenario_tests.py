"""Designer-written scenario tests: `<program>.test.yaml` next to `<program>.loyalty`.

Format (docs/scenarios.md; the pydantic model: loyalty.schemas.ScenarioTestFile)::

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
from typing import TYPE_CHECKING, Optional

from loyalty.yamlio import YamlFileError, read_yaml

if TYPE_CHECKING:  # pragma: no cover
    from loyalty.schemas import ScenarioTest


@dataclass
class Outcome:
    file: str
    name: str
    line: int
    ok: bool
    messages: list[str] = field(default_factory=list)
    # names in the events that the program does not know (simulate/coverage.py): shown, never a failure
    warnings: list[str] = field(default_factory=list)


def test_file_for(program_path: Path) -> Path:
    return program_path.with_name(program_path.stem + ".test.yaml")


def read_scenarios(path: Path) -> list[tuple["ScenarioTest", int]]:
    """Each scenario of a file, validated (loyalty/schemas.py, `ScenarioTestFile`), with the line it starts on.
    Read with the shared strict YAML reader (loyalty/yamlio.py: no aliases, merge keys or duplicate keys; UTF-8
    only). Raises YamlFileError naming every problem with its line and column."""
    from loyalty.schemas import ScenarioTestFile
    from loyalty.yamlio import validate

    doc = read_yaml(path)
    if doc.data is None:
        raise YamlFileError([doc.problem((), "the file holds no scenarios",
                                         "write a list of scenarios (docs/scenarios.md)")])
    scenarios = validate(doc, ScenarioTestFile).scenarios
    where = ("scenarios",) if isinstance(doc.data, dict) else ()
    return [(sc, doc.place(where + (i,))[0]) for i, sc in enumerate(scenarios)]


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


def run_scenario(program, sc: "ScenarioTest", file: str, line: int) -> Outcome:
    from loyalty.runtime.internal import EventError
    from loyalty.schemas import Expect, ScenarioMember

    name = sc.name or f"scenario at line {line}"
    out = Outcome(file, name, line, True)
    member = sc.member or ScenarioMember()
    try:
        state = program.new_member(member.id, attributes=member.attributes.model_dump(mode="json", exclude_none=True))
    except EventError as err:
        return Outcome(file, name, line, False, [f"member: {err}"])
    ledger = program.new_budget_ledger()
    effects = []
    for i, event in enumerate(sc.events):
        ev = _jsonable(dict(event.model_extra or {}))  # the event as written, less `error`
        want_error = event.error
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
    out.warnings = unknown_names(program, [_jsonable(dict(e.model_extra or {})) for e in sc.events])
    actual = [program.effect_json(e) for e in effects]
    expect = sc.expect or Expect()
    if "effects" in expect.model_fields_set:  # `effects:` with nothing: no effects at all
        wanted = [_jsonable(e) for e in expect.effects or []]
        if len(wanted) != len(actual) or not all(_matches(w, a) for w, a in zip(wanted, actual)):
            out.ok = False
            out.messages.append("effects differ")
            out.messages.append("  expected:")
            out.messages += [f"    {_show(w, program, False)}" for w in wanted] or ["    (none)"]
            out.messages.append("  actual:")
            out.messages += [f"    {_show(a, program)}" for a in actual] or ["    (none)"]
    if "contains" in expect.model_fields_set:
        pos = 0
        for w in [_jsonable(e) for e in expect.contains or []]:
            while pos < len(actual) and not _matches(w, actual[pos]):
                pos += 1
            if pos == len(actual):
                out.ok = False
                out.messages.append(f"no effect matching {_show(w, program, False)} (in order)")
                out.messages.append("  actual:")
                out.messages += [f"    {_show(a, program)}" for a in actual] or ["    (none)"]
                break
            pos += 1
    want_state = expect.state
    if want_state is not None:
        summary = state.summary()
        for key in [k for k in type(want_state).model_fields if k in want_state.model_fields_set]:  # only those given
            value = getattr(want_state, key)
            key = {"balance": "balances"}.get(key, key)
            got = summary.get(key, {})
            if isinstance(value, dict) and isinstance(got, dict):
                for k, v in value.items():
                    if got.get(k, 0) != v:
                        out.ok = False
                        out.messages.append(f"state.{key}.{k}: expected {v}, got {got.get(k, 0)}")
            elif got != value:
                out.ok = False
                out.messages.append(f"state.{key}: expected {value!r}, got {got!r}")
    return out


def unknown_names(program, events: list) -> list[str]:
    """Items, categories, stores and channels the scenario's events name that the program does not know (the
    coverage `loyalty simulate` reports for a history): a scenario expecting nothing of a misspelt item would
    pass for the wrong reason."""
    from loyalty.simulate.coverage import Known, did_you_mean

    known = Known(program.compiled)
    names = {"item": known.items, "category": known.categories, "store": known.stores, "channel": known.channels}
    found: dict[tuple[str, str], list[int]] = {}
    for i, ev in enumerate(events):
        body = next(iter(ev.values())) if len(ev) == 1 and isinstance(next(iter(ev.values())), dict) else ev
        if not isinstance(body, dict):
            continue
        seen = [("store", body.get("store")), ("channel", body.get("channel"))]
        for line in body.get("lines") or ():
            if isinstance(line, dict):
                seen += [("item", line.get("item")), ("category", line.get("category"))]
        for kind, name in seen:
            if isinstance(name, str) and name and names[kind] and name not in names[kind]:
                found.setdefault((kind, name), []).append(i + 1)
    out = []
    for (kind, name), at in sorted(found.items()):
        close = did_you_mean(name, names[kind])
        events_text = "event" + ("s " if len(at) > 1 else " ") + ", ".join(map(str, at))
        out.append(f"{events_text}: the {kind} {name!r} is not one the program knows"
                   + (f"; did you mean {close!r}?" if close else ""))
    return out


def run_file(program_path: Path, strict: bool = False) -> tuple[list[Outcome], Optional[str], list[str]]:
    """Outcomes of every scenario next to a program, the error that stops the file (or None), and the
    checker's warnings on the program, each rendered as `loyalty check` shows it.

    `strict` (`loyalty test --strict`, as `check --strict` and `simulate --strict`): a scenario whose events
    name what the program does not know fails, each such warning one of its messages; the caller counts the
    program's own warnings as a failure."""
    from loyalty.compiler import compile_program
    from loyalty.diagnostics import LoyaltyError, Severity, render
    from loyalty.frontend import check_file
    from loyalty.runtime.facade import Program

    tests = test_file_for(program_path)
    if not tests.exists():
        return [], f"{program_path}: no scenario file {tests.name} next to it", []
    try:
        checked = check_file(program_path)
    except OSError as err:
        return [], f"{program_path}: cannot read the program: {err.strerror or err}", []
    if checked.program is None or not checked.ok:
        return [], LoyaltyError(checked.diagnostics, source=checked.text).render(), []
    warnings = [render(d, checked.text) for d in checked.diagnostics if d.severity is Severity.WARNING]
    try:
        program = Program(compile_program(checked.program, str(program_path)))
    except LoyaltyError as err:
        err.source = checked.text
        return [], err.render(), warnings
    try:
        scenarios = read_scenarios(tests)
    except YamlFileError as err:
        return [], err.render(), warnings
    outcomes = [run_scenario(program, sc, str(tests), line) for sc, line in scenarios]
    if strict:
        for o in outcomes:
            if o.warnings:
                o.ok = False
                o.messages += [f"error (--strict): {w}" for w in o.warnings]
                o.warnings = []
    return outcomes, None, warnings
