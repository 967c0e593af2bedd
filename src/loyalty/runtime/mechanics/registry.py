"""The registry of mechanics: every compiled action has exactly one, and a plan refuses any other.

A `Mechanic` says, for one kind of rule (one or more compiled action types), everything the
paths need to know about it:

- `purchase_phase(rule)`: the step of a purchase that runs the rule (`PURCHASE_PHASES`), or
  None when purchases do not run it (a multiplier is an input of the earning phase: "modifier");
- `purchase_step(rule, plan, specialise, multipliers)`: the function a purchase calls for the rule, and the data
  it is called with. With `specialise`, a faster variant chosen for this rule (e.g. a punch card
  without caps); without, the general step, which is the reference the variants are tested against;
- `fires_on_visit(rule)` / `visit_step`, `fires_on_referral(rule)`, and `fire` for events without a purchase;
- `vector_reason(rule, program)`: None when the vectorised simulation kernel runs the rule,
  else why not. The kernel's supported set is derived from these, in one place
  (`simulate/vector/support.py`).

Program-wide mechanics (points expiry and pending points, tiers, draws, budgets, redemptions)
register `program_vector_reason(program, sim_plan)` the same way.
"""

from __future__ import annotations

from typing import Callable, Optional

from loyalty.runtime.program import ProgramFormatError

# the steps of a purchase, in the order they run (docs/semantics.md, "The order of work for a purchase")
PURCHASE_PHASES = ("discount", "discount_scale", "punch", "earn", "give")
MODIFIER = "modifier"  # a rule a purchase phase reads (a multiplier), not one it runs


class PlanError(ProgramFormatError):
    """A compiled program names an action no mechanic runs, or a trigger its mechanic cannot fire on: refused
    when the plan is built (so when the program is loaded), never ignored at run time."""


class Mechanic:
    """One mechanic's contract with the plan and the kernel (see the module docstring). Subclasses override
    what applies to them; the defaults say "not on this event" and "not vectorised"."""

    name = ""
    actions: tuple[str, ...] = ()
    phase: Optional[str] = None  # the purchase phase that runs every rule of this mechanic
    step: Optional[Callable] = None  # its general purchase step (a staticmethod)
    visit_triggers: tuple[str, ...] = ()  # the counting triggers with which a visit fires the rule (`fire`)
    # the compiled action's fields besides "type", as runtime/schema.py specs: the one home of the format
    action_fields: dict = {}

    def check_action(self, action: dict, path: str, check) -> None:
        """What the action's fields mean, past their shape (runtime/meaning.py `ActionCheck`): ranges and
        names; raise `check.error(path, message)`."""

    def purchase_phase(self, rule) -> Optional[str]:
        return self.phase

    def purchase_step(self, rule, plan, specialise: bool, mults=()) -> tuple[Callable, object]:
        if self.step is None:
            raise PlanError(f"rule {rule.name!r}: the {self.name} mechanic has no purchase step")
        return self.step, rule

    # a discount (phases "discount", "discount_scale") also has `worth(plan, st, data, lines, t)`: the (line,
    # discount) pairs its step would take off, before caps and budget, changing nothing; stacking.py weighs it

    def fires_on_visit(self, rule) -> bool:
        return rule.trigger in self.visit_triggers

    def visit_step(self, rule) -> Callable:
        raise PlanError(f"rule {rule.name!r}: the {self.name} mechanic has no visit step")

    def fires_on_referral(self, rule) -> bool:
        return False

    # a mechanic that events without a purchase can fire (signup, an action, a visit, a referral) also has
    # `fire(plan, st, rule, ev, ledger, out, order, times)`; a plan refuses such a trigger on any other

    def limits_vector_reason(self, rule) -> Optional[str]:
        """Why the kernel cannot run the rule's caps and budget, or None (by default: any cap or budget)."""
        from loyalty.runtime.mechanics.limits import rule_vector_reason

        return rule_vector_reason(rule)

    def vector_reason(self, rule, program) -> Optional[str]:
        return f"rule {rule.name!r} ({describe(rule)}) is not vectorised yet"


class ProgramMechanic:
    """A mechanic of the whole program rather than of a rule (expiry, tiers, draws ...)."""

    name = ""

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None


RULE_MECHANICS: dict[str, Mechanic] = {}
PROGRAM_MECHANICS: list[ProgramMechanic] = []


def register(mechanic: Mechanic) -> Mechanic:
    for action in mechanic.actions:
        if action in RULE_MECHANICS:
            raise RuntimeError(f"action {action!r} has two mechanics: {RULE_MECHANICS[action].name}, {mechanic.name}")
        RULE_MECHANICS[action] = mechanic
    return mechanic


def register_program(mechanic: ProgramMechanic) -> ProgramMechanic:
    PROGRAM_MECHANICS.append(mechanic)
    return mechanic


def mechanic_for(rule) -> Mechanic:
    m = RULE_MECHANICS.get(rule.action)
    if m is None:
        raise PlanError(f"rule {rule.name!r} has action {rule.action!r}, which no mechanic runs "
                        f"(known: {', '.join(sorted(RULE_MECHANICS))})")
    return m


def describe(rule) -> str:
    return rule.action + (f" on {rule.trigger}" if rule.trigger else "")
