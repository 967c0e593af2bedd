"""What a compiled program document must mean, checked after its shape (runtime/schema.py).

A document edited by hand (with its identity recomputed) can have the right shape and still mean nothing the
compiler would write: a punch card of cycle 0 (a division by zero), 500 % off, a tier that names a point kind
that does not exist, conditions nested until Python's stack runs out. `check_meaning` refuses every such value
with a `SchemaError` naming the field by its path, so that `load_compiled` raises `ProgramFormatError`, never a
raw exception. The limits are those of the checker (docs/errors.md) where it has one.
"""

from __future__ import annotations

from decimal import Decimal

from loyalty.runtime.internal import code_problem
from loyalty.runtime.schema import SchemaError
from loyalty.runtime.timeutil import PERIODS, is_iana_zone

MAX_NESTING = 64  # as the checker's LOY402: `when` conditions nested deeper are refused
MAX_DEPTH = 200  # any JSON nesting (the expressions' included): checked without recursion, before anything else
MAX_INT = 10**20  # the checker's LOY403: numbers of more than 20 digits
UNITS = ("day", "week", "month", "year")
ROUNDING = ("down", "up", "half even", "half up")  # syntax/ast.py RoundingMode
SCOPES = ("order", "line")
POLICIES = ("negative", "zero", "pending_only")  # syntax/ast.py BalancePolicyKind


def check_depth(doc) -> None:
    """Refuse a document nested deeper than MAX_DEPTH, walking it without recursion."""
    stack = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError("", f"nested more than {MAX_DEPTH} levels deep")
        if type(value) is dict:
            stack.extend((v, depth + 1) for v in value.values())
        elif type(value) is list:
            stack.extend((v, depth + 1) for v in value)


# the largest number a program may write (the checker's LOY403: 20 digits): a document compiled from a program
# that checks clean must load, so no range here is narrower than the checker's
MAX_WRITTEN = 10**20 - 1


def _int(value, path: str, lo: int = 0, hi: int = MAX_INT) -> None:
    if not lo <= value <= hi:
        raise SchemaError(path, f"{value} is out of range ({lo} to {hi})")


def _dec(text: str, path: str, lo: Decimal, hi: Decimal, lo_open: bool = False) -> None:
    d = Decimal(text)
    if d.adjusted() > 20 or d.as_tuple().exponent < -20:
        raise SchemaError(path, f"{text[:40]!r} has too many digits")
    if d < lo or d > hi or (lo_open and d == lo):
        raise SchemaError(path, f"{text!r} is out of range ({'above' if lo_open else 'from'} {lo} to {hi})")


def _one_of(value, values, path: str) -> None:
    if value not in values:
        raise SchemaError(path, f"{value!r} is not one of {', '.join(map(repr, values))}")


def _duration(d, path: str) -> None:
    if d is None:
        return
    _int(d["amount"], f"{path}.amount", 1, MAX_WRITTEN)
    _one_of(d["unit"], UNITS, f"{path}.unit")


def _period(p, path: str) -> None:
    if p is not None:
        _one_of(p, PERIODS, path)


PERCENT = (Decimal(0), Decimal(100))


class ActionCheck:
    """What a mechanic's `check_action` checks an action's fields with: ranges, and the program's names."""

    __slots__ = ("rewards", "metrics")
    int = staticmethod(lambda value, path, lo=0, hi=None: _int(value, path, lo, MAX_INT if hi is None else hi))
    dec = staticmethod(lambda text, path, lo, hi, lo_open=False: _dec(text, path, lo, hi, lo_open))
    one_of = staticmethod(lambda value, values, path: _one_of(value, values, path))
    error = SchemaError
    PERCENT = PERCENT
    MAX_INT = MAX_INT
    MAX_WRITTEN = MAX_WRITTEN

    def __init__(self, rewards, metrics: int):
        self.rewards, self.metrics = rewards, metrics


def check_meaning(doc: dict) -> None:  # noqa: C901 - one check per field, in the document's order
    from loyalty.runtime.mechanics import RULE_MECHANICS

    if not is_iana_zone(doc["timezone"]):
        raise SchemaError("timezone", f"{doc['timezone']!r} is not an IANA time zone name (a name only this "
                                      "machine resolves would make results depend on it)")
    if not (len(doc["currency"]) == 3 and doc["currency"].isascii() and doc["currency"].isupper()):
        raise SchemaError("currency", f"{doc['currency'][:20]!r} is not a three-letter currency code")
    _int(doc["exponent"], "exponent", 0, 4)
    runs = doc.get("runs") or {}
    if runs.get("from") and runs.get("to") and runs["to"] < runs["from"]:
        raise SchemaError("runs.to", "is before runs.from")
    for name, w in (doc.get("windows") or {}).items():
        _duration(w, f"windows.{name}")
    if (doc.get("enrolment") or {}).get("window") is not None:
        _duration(doc["enrolment"]["window"], "enrolment.window")
    kinds = set()
    for i, k in enumerate(doc["point_kinds"]):
        path = f"point_kinds[{i}]"
        if not k["name"] or k["name"] in kinds:
            raise SchemaError(f"{path}.name", "empty, or the name of another point kind")
        kinds.add(k["name"])
        _one_of(k["rounding"], ROUNDING, f"{path}.rounding")
        _one_of(k["rounding_scope"], SCOPES, f"{path}.rounding_scope")
        _one_of(k["balance_policy"], POLICIES, f"{path}.balance_policy")
        if k["cost_minor"] is not None:
            _dec(k["cost_minor"], f"{path}.cost_minor", Decimal(0), Decimal(MAX_INT))
        e = k["expiry"]
        if e is not None:
            if e["kind"] == "period_end":
                _period(e["period"], f"{path}.expiry.period")
            else:
                _duration(e, f"{path}.expiry")
        _duration(k["pending"], f"{path}.pending")

    def kind(name, path: str, required: bool = False) -> None:
        if (name is None and required) or (name is not None and name not in kinds):
            raise SchemaError(path, f"{name!r} is not a point kind of the program")

    for name, item in doc["items"].items():
        if item.get("cost_minor") is not None:
            _int(item["cost_minor"], f"items[{name!r}].cost_minor")
    rewards = doc["rewards"]
    for name, r in rewards.items():
        path = f"rewards[{name!r}]"
        _int(r["face_minor"], f"{path}.face_minor")
        _int(r["cost_minor"], f"{path}.cost_minor")
        if r.get("percent") is not None:
            _dec(r["percent"], f"{path}.percent", *PERCENT, lo_open=True)
        _duration(r.get("valid_for"), f"{path}.valid_for")
        if r.get("valid_for") is not None and r.get("valid_until") is not None:
            raise SchemaError(f"{path}.valid_until", "given with valid_for: an offer has one lifetime")
    for i, r in enumerate(doc["redeem"]):
        if r["reward"] not in rewards:
            raise SchemaError(f"redeem[{i}].reward", f"{r['reward']!r} is not a reward of the program")
        kind(r["point_kind"], f"redeem[{i}].point_kind", required=True)
        _int(r["price"], f"redeem[{i}].price", 1)
    metrics = doc["metrics"]
    for i, m in enumerate(metrics):
        path = f"metrics[{i}]"
        kind(m.get("point_kind"), f"{path}.point_kind", required=m["kind"] == "earned")
        w = m.get("window")
        if w is not None:
            if w["kind"] == "rolling":
                _duration(w, f"{path}.window")
            else:
                _period(w["period"], f"{path}.window.period")
    tier_names = []
    tiers = doc["tiers"]
    if tiers is not None:
        _int(tiers["metric"], "tiers.metric", 0, len(metrics) - 1)
        if not tiers["tiers"]:
            raise SchemaError("tiers.tiers", "no tiers")
        last = None
        for i, t in enumerate(tiers["tiers"]):
            path = f"tiers.tiers[{i}]"
            if not t["name"] or t["name"] in tier_names:
                raise SchemaError(f"{path}.name", "empty, or the name of another tier")
            tier_names.append(t["name"])
            _int(t["threshold"], f"{path}.threshold", -MAX_INT)
            if last is not None and t["threshold"] <= last:
                raise SchemaError(f"{path}.threshold", f"{t['threshold']} does not increase on the tier before "
                                                       f"({last}): tier thresholds must strictly increase")
            last = t["threshold"]
            for j, mul in enumerate(t["multipliers"]):
                kind(mul["point_kind"], f"{path}.multipliers[{j}].point_kind")
                _dec(mul["factor"], f"{path}.multipliers[{j}].factor", Decimal(0), Decimal(MAX_WRITTEN), lo_open=True)
            if t["discount_percent"] is not None:
                _dec(t["discount_percent"], f"{path}.discount_percent", *PERCENT, lo_open=True)
            for j, perk in enumerate(t["perks"]):
                _int(perk["cost_minor"], f"{path}.perks[{j}].cost_minor")
            if "fee" in t:  # a paid tier (mechanics/fees.py): a fee above zero per calendar-free period
                _int(t["fee"]["amount_minor"], f"{path}.fee.amount_minor", 1)
                _period(t["fee"]["period"], f"{path}.fee.period")
        if tiers["downgrade"] is not None:
            _period(tiers["downgrade"]["period"], "tiers.downgrade.period")
            _duration(tiers["downgrade"]["grace"], "tiers.downgrade.grace")
    budgets = doc["budgets"]
    for key, limit in budgets.items():
        _int(limit, f"budgets[{key!r}]")
    # stock and codes' uses are claimed like budgets, under keys of their own (mechanics/stock.py, codes.py)
    codes = doc.get("codes", {})
    for c in codes:
        why = code_problem(c)
        if why is not None:
            raise SchemaError(f"codes[{c!r}]", why)
    limited = {f"stock:{n}": r["stock"] for n, r in rewards.items() if "stock" in r}
    limited.update({f"code:{c}": v["uses"] for c, v in codes.items() if v["uses"] is not None})
    for key, limit in limited.items():
        _int(limit, key, 1)
        if budgets.get(key) != limit:
            raise SchemaError(f"budgets[{key!r}]", f"must be {limit}, the limit the program declares")
    for key in budgets:
        if key.startswith(("stock:", "code:")) and key not in limited:
            raise SchemaError(f"budgets[{key!r}]", "no reward's stock and no code's uses")

    def conditions(conds, path: str) -> None:
        for i, c in enumerate(conds):
            p = f"{path}[{i}]"
            k = c["kind"]
            if k == "weekdays":
                for j, day in enumerate(c["days"]):
                    _int(day, f"{p}.days[{j}]", 0, 6)
            elif k == "hours":
                for end in ("from", "to"):
                    h, m = c[end]
                    _int(h, f"{p}.{end}[0]", 0, 24)
                    _int(m, f"{p}.{end}[1]", 0, 0 if h == 24 else 59)
            elif k == "tiers":
                for j, n in enumerate(c["names"]):
                    if n not in tier_names:
                        raise SchemaError(f"{p}.names[{j}]", f"{n!r} is not a tier of the program")
            elif k == "dates":
                if c["from"] and c["to"] and c["to"] < c["from"]:
                    raise SchemaError(f"{p}.to", "is before from")
            elif k == "expr":
                expression(c["expr"], f"{p}.expr", 1)

    def expression(e, path: str, depth: int) -> None:
        if depth > MAX_NESTING:
            raise SchemaError(path, f"conditions nested more than {MAX_NESTING} deep")
        op = e["op"]
        if op in ("and", "or"):
            if not e["args"]:
                raise SchemaError(f"{path}.args", "empty")
            for i, a in enumerate(e["args"]):
                expression(a, f"{path}.args[{i}]", depth + 1)
        elif op == "not":
            expression(e["arg"], f"{path}.arg", depth + 1)
        elif op == "cmp":
            _int(e["value"], f"{path}.value", -MAX_INT)
            kind(e.get("point_kind"), f"{path}.point_kind", required=e["measure"] == "balance")

    names = set()
    check = ActionCheck(rewards, len(metrics))
    for i, r in enumerate(doc["rules"]):
        path = f"rules[{i}]"
        if not r["name"] or r["name"] in names:
            raise SchemaError(f"{path}.name", "empty, or the name of another rule")
        names.add(r["name"])
        a = r["action"]
        ap = f"{path}.action"
        t = a["type"]
        if "point_kind" in a:
            kind(a["point_kind"], f"{ap}.point_kind", required=t != "multiplier")
        if t == "none":
            raise SchemaError(f"{ap}.type", "a rule without an action")
        RULE_MECHANICS[t].check_action(a, ap, check)  # the shape check knows every type (schema.ACTION)
        trig = r["trigger"]
        if trig is not None:
            if trig["type"] in ("nth_visit", "every_visits", "nth_purchase"):
                _int(trig["n"], f"{path}.trigger.n", 1)
            elif trig["type"] == "every_spend":
                _int(trig["minor"], f"{path}.trigger.minor", 1)
            elif trig["type"] == "tier_reached" and (doc.get("tiers") is None or trig["name"] not in
                                                    [t["name"] for t in doc["tiers"]["tiers"]]):
                raise SchemaError(f"{path}.trigger.name", f"{trig['name']!r} is not a tier of the program")
            elif trig["type"] == "inactivity":
                _duration(trig, f"{path}.trigger")
            elif trig["type"] == "goal":
                _int(trig["target"], f"{path}.trigger.target", 1)
                w = trig["window"]
                if w["kind"] == "calendar":
                    _one_of(w["period"], PERIODS, f"{path}.trigger.window.period")
                else:
                    _duration(w, f"{path}.trigger.window")
            elif trig["type"] == "streak":
                _int(trig["n"], f"{path}.trigger.n", 1)
                _one_of(trig["period"], PERIODS, f"{path}.trigger.period")
            elif trig["type"] in ("referring_purchase", "referred_purchase"):
                _int(trig["minor"], f"{path}.trigger.minor", 1)
                _duration(trig, f"{path}.trigger")
            elif trig["type"] == "action" and not trig["name"]:
                raise SchemaError(f"{path}.trigger.name", "empty")
        conditions(r["conditions"], f"{path}.conditions")
        for j, cap in enumerate(r["caps"]):
            _int(cap["amount"], f"{path}.caps[{j}].amount", 1)
            _period(cap["period"], f"{path}.caps[{j}].period")
        if "priority" in r.get("stacking", {}):
            _int(r["stacking"]["priority"], f"{path}.stacking.priority", 1)
        if "code" in r and r["code"] not in codes:
            raise SchemaError(f"{path}.code", f"{r['code']!r} is not one of the program's codes")
        b = r["budget"]
        if b is not None and b["key"] not in budgets:
            raise SchemaError(f"{path}.budget.key", f"{b['key']!r} is not one of the program's budgets")
    for i, d in enumerate(doc["draws"]):
        path = f"draws[{i}]"
        _period(d["period"], f"{path}.period")
        _int(d["prize_minor"], f"{path}.prize_minor")
        _int(d["winners"], f"{path}.winners", 1)
        _int(d["entries"], f"{path}.entries", 0)
        _int(d["per_minor"], f"{path}.per_minor", 1)
        conditions(d["conditions"], f"{path}.conditions")
