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
            st.codes = st.codes | {code}  # a new set: state copies share the old one
            out.append(Effect("code_used", t, scope=code_key(code), order=ev.order, event=ev.id))
        else:
            out.append(Effect("code_refused", t, scope=code_key(code), reason=reason, order=ev.order, event=ev.id))
    if not wanted:
        return applicable
    return tuple(r for r in applicable if r.code is None or r.code in used)


# ---------------------------------------------------------------- vectorised


def vector_codes(kern) -> None:
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py), as `use_codes` weighs each code
    of each purchase of the program's run, before anything else of the pass: per declared code, the events
    that used it (`kern.code_used_at`: the rules requiring it apply there and nowhere else, `_event_ok`), and
    the `code_used` / `code_refused` effects by code and column (`kern.code_counts`).

    A code is wanted at a purchase when a rule requiring it applies there by its conditions (support admits
    only rules without a trigger, whose conditions depend on the event). Per member and code, only the first
    purchase that carries it and wants it claims a use (the scalar plan claims again only after a refusal,
    and a refusal means the total ran out: every later claim is refused too): granted in service order as
    budgets are (stock.grant_in_service_order), it is used, and the member's later purchases carrying the
    code refuse it as used before; refused, every later one that wants it is refused for no uses left."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE, distinct_sums
    from loyalty.runtime.mechanics.stock import grant_in_service_order
    from loyalty.runtime.mechanics.triggers import can_apply_to_purchase

    prog = kern.prog
    nev = kern.nev
    kern.code_used_at = {c: np.zeros(nev, dtype=bool) for c in prog.codes}
    kern.code_counts = {}
    at = kern.rows.code_at[kern.sel]
    carried = np.flatnonzero(at >= 0)
    if not len(carried):
        return
    ev, code, names = event_code_pairs(kern.r_ev[carried], at[carried], kern.rows.code_values, list(prog.codes))
    weighed = (kern.e_type[ev] == PURCHASE) & kern.e_running[ev]  # outside the run no purchase weighs its codes
    ev, code = ev[weighed], code[weighed]
    n, ndeclared = len(ev), len(prog.codes)
    if not n:
        return
    declared = code < ndeclared
    # where a rule requiring each code applies by its conditions
    wanted = np.zeros((ndeclared + 1, nev), dtype=bool)
    for r in prog.rules:
        if r.code is not None and can_apply_to_purchase(r):
            wanted[names.index(r.code)] |= (kern.e_type == PURCHASE) & kern._conditions_ok(
                ("unlocked", r.index), prog.doc["rules"][r.index].get("conditions", ()))
    cand = declared & wanted[np.minimum(code, ndeclared), ev]
    # per (member, code), in the member's order: the first pair that wants it claims
    group = kern.e_mem[ev] * len(names) + code
    by_group = np.lexsort((np.arange(n), group))
    cand_sorted = by_group[cand[by_group]]
    _, first_at = np.unique(group[cand_sorted], return_index=True)
    first = np.zeros(n, dtype=bool)
    first[cand_sorted[first_at]] = True
    used = first.copy()
    for i, c in enumerate(names[:ndeclared]):
        mine = np.flatnonzero(first & (code == i))
        if len(mine) and prog.codes[c] is not None:
            used[mine] = grant_in_service_order(kern, code_key(c), ev[mine], np.zeros(len(mine), dtype=np.int64))
    # the position of each group's use (n: none), to tell later pairs they were used before
    u = np.flatnonzero(used)
    gpos = np.full(n, n, dtype=np.int64)
    if len(u):
        ug, inv = np.unique(group, return_inverse=True)
        first_use = np.full(len(ug), n, dtype=np.int64)
        np.minimum.at(first_use, inv[u], u)
        gpos = first_use[inv]
    before = gpos < np.arange(n)
    reason = np.where(~declared, 1, np.where(before, 2, np.where(used, 0, np.where(~cand, 3, 4))))
    columns = ("used",) + tuple(x.replace(" ", "_") for x in REASONS)
    # (code, reason) pairs counted as one int key in (code, reason) order: np.unique along an axis sorts
    # structured rows, ~10x the cost (garden_centre)
    pairs, counts = distinct_sums(code * len(columns) + reason)
    for pair, k in zip(pairs.tolist(), counts.tolist()):
        c, why = divmod(pair, len(columns))
        key = (names[c], columns[why])
        kern.code_counts[key] = kern.code_counts.get(key, 0) + int(k)
    for i, c in enumerate(names[:ndeclared]):
        kern.code_used_at[c][ev[used & (code == i)]] = True


def event_code_pairs(row_ev, row_value, values: list, declared: list):
    """The (event, code) pairs of rows carrying codes (`row_ev`: each row's event, nondecreasing; `row_value`:
    its index in `values`, the distinct texts of the codes column): the codes of each event, each once, in the
    order written (OrderIndex.order_codes), events in order. Codes are numbered as `declared` lists them, then
    the others as they first come. Returns the pairs' events and codes (int64) and every code's name by number."""
    import numpy as np

    words = [v.split() if v else [] for v in values]
    token: dict[str, int] = {}
    for w in words:
        for c in w:
            token.setdefault(c, len(token))
    lens = np.array([len(w) for w in words] + [0], dtype=np.int64)
    offs = np.concatenate(([0], np.cumsum(lens)))
    flat = np.array([token[c] for w in words for c in w], dtype=np.int64)
    n_per_row = lens[row_value]
    ev = np.repeat(np.asarray(row_ev, dtype=np.int64), n_per_row)
    starts = np.repeat(offs[row_value] - (np.cumsum(n_per_row) - n_per_row), n_per_row)
    tok = flat[starts + np.arange(len(ev))] if len(ev) else np.zeros(0, dtype=np.int64)
    # each (event, code) once, where it first comes (an event's rows are together: `row_ev` never steps back)
    _, first = np.unique(ev * max(len(token), 1) + tok, return_index=True)
    first.sort()
    ev, tok = ev[first], tok[first]
    # numbers: the declared codes' own, then the others by where they first come
    names = list(declared)
    number = np.empty(len(token), dtype=np.int64)
    index = {c: i for i, c in enumerate(names)}
    by_token = list(token)
    known = np.array([c in index for c in by_token] or [False], dtype=bool)[:len(token)]
    number[known] = [index[c] for c, k in zip(by_token, known.tolist()) if k]
    _, came = np.unique(tok, return_index=True)
    for t in tok[np.sort(came)].tolist():
        if not known[t]:
            number[t] = len(names)
            names.append(by_token[t])
    return ev, number[tok], names


class Codes(ProgramMechanic):
    name = "codes"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        """The kernel weighs codes (`vector_codes`) for rules that apply to a purchase by their conditions alone
        (no trigger, which counts or reads the member's state), conditions on the event only."""
        from loyalty.runtime.mechanics.context import balance_conditions, reads_lifetime_spend

        for r in program.rules:
            if r.code is None:
                continue
            doc = program.doc["rules"][r.index]
            if r.trigger is not None or balance_conditions(doc) or reads_lifetime_spend(doc):
                return (f"rule {r.name!r} requires code {r.code!r} and has a trigger or a condition on the member's"
                        " balance or spend: codes on such rules are not vectorised yet")
        return None
