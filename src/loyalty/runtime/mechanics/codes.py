"""Codes (`code "SUMMER25" limited to 1000 uses`, `with code "SUMMER25"` on a rule): a purchase may carry codes;
a rule that requires one applies only to a purchase that carries it, and using it there uses it up.

For each code a purchase carries (once, in the order given), after the rules' other conditions and triggers
have chosen the applicable rules:
- a code the program does not declare is refused ("unknown code");
- one the member has used before is refused ("already used by this member");
- one no applicable rule requires is refused ("no rule applies"): it is not used up;
- otherwise one use is claimed from the ledger under `code:<code>` when the code has a total (the compiler
  puts it among the program's budgets, so the total is exact wherever budgets are); none left: refused
  ("no uses left"); else it is used (`code_used`): the member cannot use it again and the rules that
  require it apply.
Every refusal is a `code_refused` effect with its reason, so the report counts what was not used and why.
A code is used once per member whatever the purchase's rules give; a return does not give it back."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic

PREFIX = "code:"

UNKNOWN = "unknown code"
USED_BEFORE = "already used by this member"
NO_RULE = "no rule applies"
NO_USES_LEFT = "no uses left"
REASONS = (UNKNOWN, USED_BEFORE, NO_RULE, NO_USES_LEFT)


def code_key(code: str) -> str:
    """The ledger key of a code's total uses."""
    return PREFIX + code


def use_codes(prog, st, ev, applicable: tuple, ledger, out: list) -> tuple:
    """The applicable rules of a purchase once its codes are weighed (see the module docstring): those that
    require no code, and those whose code the purchase carried and used."""
    wanted = {r.code for r in applicable if r.code is not None}
    used = set()
    t = ev.time
    for code in dict.fromkeys(ev.codes):
        limit = prog.codes.get(code)  # None: no total
        if code not in prog.codes:
            reason: Optional[str] = UNKNOWN
        elif code in st.codes:
            reason = USED_BEFORE
        elif code not in wanted:
            reason = NO_RULE
        elif limit is not None and ledger.claim(code_key(code), 1, t, st.member_id, ev.id) < 1:
            reason = NO_USES_LEFT
        else:
            reason = None
        if reason is None:
            used.add(code)
            st.codes.add(code)
            out.append(Effect("code_used", t, scope=code_key(code), order=ev.order, event=ev.id))
        else:
            out.append(Effect("code_refused", t, scope=code_key(code), reason=reason, order=ev.order, event=ev.id))
    if not wanted:
        return applicable
    return tuple(r for r in applicable if r.code is None or r.code in used)


class Codes(ProgramMechanic):
    name = "codes"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for r in program.rules:
            if r.code is not None:
                return f"rule {r.name!r} requires code {r.code!r}: codes are not vectorised yet"
        return None
