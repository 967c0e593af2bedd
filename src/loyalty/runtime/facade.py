"""The embedding API over a compiled program: values in, values out.

`Program.apply(state, event)` validates the event, copies the member's state, runs
the evaluator on the copy and returns `Applied(state, effects)`; the state passed in
is never changed, and a rejected event raises `EventError` and changes nothing.
States serialise to JSON carrying the program's identity.

`apply` takes a fast path: a plain event dict is read without pydantic
(runtime/fastevents.py; anything unusual goes to pydantic, and its error messages)
and the program's specialised plan evaluates it (runtime/plan.py). `apply_general` is the
general path (pydantic, `evaluator.apply_event`: the plan's general steps), which the fast one equals.
"""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple, Optional, Union

from pydantic import BaseModel, ConfigDict, ValidationError

from loyalty.runtime import evaluator
from loyalty.runtime.effects import Effect, minor_to_decimal
from loyalty.runtime.events import AnyEvent, parse_event, to_internal
from loyalty.runtime.fastevents import dict_to_ev, model_to_ev
from loyalty.runtime.internal import SURROGATE, EventError, has_surrogate
from loyalty.runtime.state_check import StateProblem, check_state
from loyalty.runtime.mechanics.goals import progress
from loyalty.runtime.plan import plan_of
from loyalty.runtime.ledger import BudgetLedger, UnlimitedLedger
from loyalty.runtime.program import CompiledProgram

from loyalty.runtime.state import STATE_FORMATS, MemberState as _Internal, state_from_doc, state_to_doc
from loyalty.runtime.state_doc import StateDoc

# what `apply` takes: a model from loyalty.events, or a dict in the tagged or the compact form
EventInput = Union[AnyEvent, dict[str, Any]]
Ledger = Union[BudgetLedger, UnlimitedLedger]

if TYPE_CHECKING:  # pragma: no cover
    from loyalty.runtime.migrate import MemberReport

_new = object.__new__
_tuple_new = tuple.__new__  # Applied(state, effects) without the namedtuple's Python-level __new__

# why `apply` refuses a call (both paths say the same)
_OTHER_PROGRAM = ("this state belongs to a different program; load it with this program's state_from_json to "
                  "check, or start the member again")
_NO_LEDGER = "this program has budgets: pass a ledger (program.new_budget_ledger(), kept by the caller across members)"


class StateMismatchError(ValueError):
    """A saved state belongs to a different program (or is not a state at all)."""


class MemberAttributes(BaseModel):
    """What the program may know about a member: segments and birthday (other keys are kept)."""

    model_config = ConfigDict(extra="allow")
    segments: list[str] = []
    birthday: Optional[_dt.date] = None


class MemberState:
    """A member's state: an immutable value (apply returns a new one)."""

    __slots__ = ("_s", "_program")

    def __init__(self, internal: _Internal, program: "Program"):
        self._s = internal
        self._program = program

    @property
    def member_id(self) -> str:
        return self._s.member_id

    def _kind(self, kind: Optional[str]) -> int:
        p = self._program.compiled
        if kind is None:
            if not p.kinds:
                raise KeyError("the program has no point kinds")
            return 0
        if kind not in p.kind_index:
            raise KeyError(f"unknown point kind {kind!r}; the program has {', '.join(p.kind_index) or 'none'}")
        return p.kind_index[kind]

    def balance(self, kind: Optional[str] = None) -> int:
        """Available points (negative when the member owes points)."""
        return self._s.kinds[self._kind(kind)].available

    def pending(self, kind: Optional[str] = None) -> int:
        return self._s.kinds[self._kind(kind)].pending

    def totals(self, kind: Optional[str] = None) -> dict[str, int]:
        ks = self._s.kinds[self._kind(kind)]
        return {"earned": ks.earned, "redeemed": ks.redeemed, "expired": ks.expired, "clawed_back": ks.clawed,
                **({"adjusted": ks.adjusted} if ks.adjusted else {})}  # adjustments' points, when there are any

    @property
    def tier(self) -> Optional[str]:
        p = self._program.compiled
        return p.tiers.tiers[self._s.tier].name if p.tiers and self._s.tier >= 0 else None

    @property
    def punches(self) -> dict[str, int]:
        """Units counted by each punch-card rule, within the current cycle."""
        rules = self._program.compiled.rules
        return {rules[i].name: c % rules[i].cycle for i, c in sorted(self._s.punches.items())}

    @property
    def rewards(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self._s.rewards.items()) if v}

    @property
    def goals(self) -> dict[str, Union[int, Decimal]]:
        """Progress towards each goal and streak rule at the member's last event: visits or purchases counted,
        the amount spent (a Decimal in the program's currency), or a streak's periods in a row."""
        p = self._program.compiled
        out: dict[str, Union[int, Decimal]] = {}
        for g in plan_of(p).goals:
            have = progress(g, self._s, self._s.clock)["have"] if self._s.clock is not None else 0
            out[g.rule.name] = minor_to_decimal(have, p.exponent) if g.counts == "spend" else have
        return out

    def summary(self) -> dict[str, Any]:
        p = self._program.compiled
        goals = {"goals": self.goals} if any(r.trigger in ("goal", "streak") for r in p.rules) else {}
        return {
            "member_id": self.member_id,
            "balances": {k.name: self._s.kinds[k.index].available for k in p.kinds},
            "pending": {k.name: self._s.kinds[k.index].pending for k in p.kinds},
            "tier": self.tier,
            "punches": self.punches,
            "rewards": self.rewards,
            **goals,
        }

    def to_json(self) -> str:
        p = self._program
        return json.dumps(state_to_doc(self._s, p.identity, p.compiled), sort_keys=True, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemberState) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"MemberState({self.summary()})"


class Applied(NamedTuple):
    state: MemberState
    effects: list[Effect]


class Migrated(NamedTuple):
    """`Program.migrate`'s result: the member's state under the new program, and what was carried,
    re-evaluated or dropped (`loyalty.runtime.migrate.MemberReport`; `.to_json()` for a log)."""

    state: MemberState
    report: "MemberReport"


class Program:
    """A compiled program: compile once, share freely (it is never mutated)."""

    __slots__ = ("compiled", "_plan", "_amounts")

    def __init__(self, compiled: CompiledProgram):
        self.compiled = compiled
        self._plan = plan_of(compiled)  # the program's specialised evaluation (runtime/plan.py)
        self._amounts: dict[Any, int] = {}  # amounts already converted to minor units (runtime/fastevents.py)

    @classmethod
    def from_json(cls, text: str) -> "Program":
        return cls(CompiledProgram.from_json(text))

    def to_json(self) -> str:
        return self.compiled.to_json()

    @property
    def identity(self) -> str:
        return self.compiled.identity

    @property
    def name(self) -> str:
        return self.compiled.name

    @property
    def currency(self) -> str:
        return self.compiled.currency

    def new_member(self, member_id: str, attributes: Optional[dict[str, Any]] = None) -> MemberState:
        if not isinstance(member_id, str) or not member_id:
            raise EventError("member_id", "a member id is a non-empty string")
        if has_surrogate(member_id):
            raise EventError("member_id", f"the member id {SURROGATE}")
        try:
            attrs = MemberAttributes.model_validate(attributes or {})
        except ValidationError as err:
            first = err.errors()[0]
            raise EventError("attributes." + ".".join(str(p) for p in first["loc"]), first["msg"]) from None
        doc = attrs.model_dump(mode="json", exclude_none=True)
        try:  # the attributes are saved with the state: they must be text a saved state can hold
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, TypeError, ValueError) as err:
            raise EventError("attributes", f"cannot be saved as JSON text: {err}"[:200]) from None
        return MemberState(evaluator.new_member(self.compiled, member_id, doc), self)

    def new_budget_ledger(self) -> BudgetLedger:
        return BudgetLedger(self.compiled.budgets)

    def budget_ledger_from_json(self, text: str) -> BudgetLedger:
        """A saved ledger (`ledger.to_json()`), checked to hold exactly this program's budgets
        (`LedgerMismatchError` otherwise)."""
        ledger = BudgetLedger.from_json(text)
        ledger.check_for(self.compiled.budgets)
        return ledger

    def apply(self, state: MemberState, event: EventInput, ledger: Optional[Ledger] = None) -> Applied:
        """Apply one event (a model from `loyalty.events` or a dict); returns the new state and the effects."""
        if not isinstance(state, MemberState) or (state._program is not self
                                                  and state._program.identity != self.identity):
            raise StateMismatchError(_OTHER_PROGRAM)
        p = self.compiled
        if ledger is None:
            if p.budgets:
                raise ValueError(_NO_LEDGER)
        elif type(ledger) is BudgetLedger and ledger.limits != p.budgets:
            ledger.check_for(p.budgets)
        if type(event) is dict:
            ev = dict_to_ev(event, p.exponent, p.tz, p.catalog, self._amounts)
        else:
            ev = model_to_ev(event, p.exponent, p.tz, p.catalog, self._amounts)
        if ev is None:  # an unusual dict or model: pydantic and to_internal (and their error messages)
            ev = to_internal(parse_event(event), p.exponent, p.currency, p.tz, p.catalog)
        new = state._s.copy()
        out: list[Effect] = []
        self._plan.apply_event(new, ev, ledger, out)
        wrapped = _new(MemberState)
        wrapped._s = new
        wrapped._program = self
        return _tuple_new(Applied, (wrapped, out))

    def apply_all(self, state: MemberState, events: Iterable[EventInput], ledger: Optional[Ledger] = None) -> Applied:
        effects: list[Effect] = []
        for e in events:
            state, out = self.apply(state, e, ledger)
            effects.extend(out)
        return Applied(state, effects)

    def migrate(self, state: Union["MemberState", str], from_program: "Program", allow_loss: bool = False) -> Migrated:
        """A member's state (a `MemberState` of `from_program`, or its saved JSON) carried to this program by
        name (docs/embedding.md, "Changing a live program"). Raises `MigrationError` when the two programs'
        states cannot be carried (another currency or time zone), or when points would be destroyed (their
        point kind is gone) unless `allow_loss`; `StateMismatchError` when the state is not `from_program`'s."""
        from loyalty.runtime.migrate import MigrationError, check_compatible, migrate_state

        if not isinstance(from_program, Program):
            raise TypeError("from_program is the Program the state was saved with")
        check_compatible(from_program.compiled, self.compiled)
        if isinstance(state, str):
            state = from_program.state_from_json(state)
        if not isinstance(state, MemberState) or (state._program is not from_program
                                                  and state._program.identity != from_program.identity):
            raise StateMismatchError("this state does not belong to from_program")
        new, report = migrate_state(from_program.compiled, self.compiled, state._s)
        if report.points_destroyed and not allow_loss:
            lost = ", ".join(f"{v['destroyed']} {k}" for k, v in sorted(report.points.items()) if v["destroyed"])
            raise MigrationError(f"member {state.member_id!r} would lose {lost}: the point kind is not in the new "
                                 "program; keep it, or pass allow_loss=True to destroy them (the report names them)")
        return Migrated(MemberState(new, self), report)

    def state_from_json(self, text: str) -> MemberState:
        try:
            doc = StateDoc.model_validate_json(text)
        except ValidationError as err:
            first = err.errors()[0]
            raise StateMismatchError("not a saved member state: " + ".".join(str(p) for p in first["loc"]) + ": "
                                     + first["msg"]) from None
        if doc.format not in STATE_FORMATS:
            raise StateMismatchError(f"state format {doc.format!r} is not one of {', '.join(STATE_FORMATS)}")
        # a state saved before the identity left source positions out carries the program's identity of then
        if doc.program != self.identity and doc.program != self.compiled.legacy_identity:
            raise StateMismatchError(f"this state was saved by program {doc.program}, not {self.identity} "
                                     f"({self.name!r}); migrate the member or start it again")
        if len(doc.kinds) != len(self.compiled.kinds) or len(doc.metrics) != len(self.compiled.metrics):
            raise StateMismatchError("the state's shape does not match the program")
        try:
            check_state(doc, self.compiled)
        except StateProblem as err:
            raise StateMismatchError(f"not a state this program can run: {err}") from None
        return MemberState(state_from_doc(doc, [m.window == "lifetime" for m in self.compiled.metrics],
                                          self.compiled.late_window is not None), self)

    def effect_json(self, effect: Effect) -> dict[str, Any]:
        return effect.to_json(self.compiled.exponent)

    def explain(self, effect: Effect) -> str:
        return effect.explain(self.compiled.exponent, self.compiled.currency)


def apply_general(program: Program, state: MemberState, event: EventInput, ledger: Optional[Ledger] = None) -> Applied:
    """`program.apply` by the general path: pydantic validation and the general evaluator, without the fast
    event reading (runtime/fastevents.py) or the program's specialised steps (runtime/plan.py). The
    reference the fast path is tested against (tests/test_apply_fast_path.py); not part of the API."""
    if not isinstance(state, MemberState) or state._program.identity != program.identity:
        raise StateMismatchError(_OTHER_PROGRAM)
    p = program.compiled
    if ledger is None and p.budgets:
        raise ValueError(_NO_LEDGER)
    if type(ledger) is BudgetLedger:
        ledger.check_for(p.budgets)
    model = parse_event(event)
    ev = to_internal(model, p.exponent, p.currency, p.tz, p.catalog)
    new = state._s.copy()
    out: list[Effect] = []
    evaluator.apply_event(p, new, ev, ledger, out)
    return Applied(MemberState(new, program), out)
