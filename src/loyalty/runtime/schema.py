"""The shape of a compiled program document, checked before the evaluator builds anything from it.

A compiled program may come from a file or a network; `check_document` refuses unknown fields, wrong types
(strictly: 2 is not "2", 2.5 is not an int, true is not an int) and missing fields, naming the field by its
path (`rules[0].action.points`). The spec below is the one home of the format `compiler.py` writes
(docs/semantics.md, "Compiled program format"): change both together.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


class SchemaError(ValueError):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path or 'the document'}: {problem}")


# ---------------------------------------------------------------- spec constructors
# A spec is a str naming a leaf type ("str", "int", "bool", "dec" = decimal text, "date" = ISO date text),
# or one of the small classes below. Object keys ending in "?" may be absent.


class Opt:
    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner


class List:
    __slots__ = ("inner", "length")

    def __init__(self, inner, length=None):
        self.inner, self.length = inner, length


class Map:
    """An object with free (string) keys, every value of one spec."""

    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner


class Obj:
    __slots__ = ("required", "optional")

    def __init__(self, fields: dict):
        self.required = {k: v for k, v in fields.items() if not k.endswith("?")}
        self.optional = {k[:-1]: v for k, v in fields.items() if k.endswith("?")}


class Tagged:
    """Objects told apart by one field's value (`tag`): each value has its own object spec."""

    __slots__ = ("tag", "cases")

    def __init__(self, tag: str, cases: dict):
        self.tag, self.cases = tag, {k: Obj({tag: "str", **v}) for k, v in cases.items()}


class OneOf:
    """Any of a few object specs (tried in order; the first that fits wins)."""

    __slots__ = ("options",)

    def __init__(self, *options):
        self.options = options


class Enum:
    __slots__ = ("values",)

    def __init__(self, *values):
        self.values = values


SPAN = List("int", length=4)
DURATION = Obj({"amount": "int", "unit": "str"})
LINE_FILTER = OneOf(Obj({"any": "bool"}), Obj({"items": List("str")}), Obj({"categories": List("str")}))
DATES = {"from": Opt("date"), "to": Opt("date")}


def _expr():
    expr = Tagged("op", {})
    expr.cases.update({
        "and": Obj({"op": "str", "args": List(expr)}),
        "or": Obj({"op": "str", "args": List(expr)}),
        "not": Obj({"op": "str", "arg": expr}),
        "has_item": Obj({"op": "str", "name": "str"}),
        "has_category": Obj({"op": "str", "name": "str"}),
        "first_purchase": Obj({"op": "str"}),
        "cmp": Obj({"op": "str", "measure": Enum("order_total", "order_items", "lifetime_spend", "visits", "balance"),
                    "cmp": Enum(">=", "<=", ">", "<", "=", "!="), "value": "int", "point_kind?": Opt("str")}),
    })
    return expr


CONDITION = Tagged("kind", {
    "dates": DATES,
    "weekdays": {"days": List("int")},
    "hours": {"from": List("int", length=2), "to": List("int", length=2)},
    "segments": {"names": List("str")},
    "tiers": {"names": List("str")},
    "stores": {"names": List("str")},
    "channels": {"names": List("str")},
    "birthday_month": {},
    "birthday": {},
    "expr": {"expr": _expr()},
})

# an action's fields are its mechanic's (`Mechanic.action_fields`, runtime/mechanics/): filled in from the
# registry on the first check (`_actions`), so a new mechanic brings its format with it; "none" stands in a
# program compiled with errors
ACTION = Tagged("type", {"none": {}})
_ACTIONS_FILLED = []

TRIGGER = Tagged("type", {
    "signup": {},
    "first_purchase": {},
    "action": {"name": "str"},
    "nth_visit": {"n": "int"},
    "nth_purchase": {"n": "int"},
    "birthday": {},
    "anniversary": {},
    "tier_reached": {"name": "str"},
    "every_visits": {"n": "int"},
    "every_spend": {"minor": "int"},
    "inactivity": {"amount": "int", "unit": "str"},
    # goals and streaks (runtime/mechanics/goals.py)
    "goal": {"counts": Enum("visits", "purchases", "spend"), "target": "int", "different_days": "bool",
             "window": Tagged("kind", {"calendar": {"period": "str"}, "rolling": {"amount": "int", "unit": "str"}})},
    "streak": {"counts": Enum("visits", "purchases"), "n": "int", "period": "str"},
    "referring": {},
    "referred": {},
    "referring_purchase": {"minor": "int", "amount": "int", "unit": "str"},
    "referred_purchase": {"minor": "int", "amount": "int", "unit": "str"},
})

PERIOD = Opt("str")

RULE = Obj({
    "name": "str", "campaign": Opt("str"), "span": SPAN, "trigger": Opt(TRIGGER), "conditions": List(CONDITION),
    "line_filters": List(LINE_FILTER),
    "caps": List(Obj({"scope": "str", "unit": Enum("points", "money", "times"), "amount": "int", "period": PERIOD})),
    "budget": Opt(Obj({"key": "str", "unit": Enum("points", "money")})), "action": ACTION, "code?": "str",
    # runtime/mechanics/stacking.py: only on rules that say it
    "stacking?": Obj({"exclusive?": "bool", "priority?": "int", "group?": "str"}),
})

POINT_KIND = Obj({
    "name": "str", "span": SPAN, "rounding": "str", "rounding_scope": "str", "balance_policy": "str",
    "expiry": Opt(Tagged("kind", {
        "after_earning": {"amount": "int", "unit": "str"},
        "inactivity": {"amount": "int", "unit": "str"},
        "period_end": {"period": "str", "next": "bool"},
    })),
    "pending": Opt(DURATION), "cost_minor": Opt("dec"),
})

METRIC = Obj({
    "kind": Enum("spend", "visits", "earned"), "point_kind?": Opt("str"),
    "window?": Tagged("kind", {"rolling": {"amount": "int", "unit": "str"}, "calendar": {"period": "str"}}),
})

TIERS = Obj({
    "metric": "int", "span": SPAN,
    "tiers": List(Obj({
        "name": "str", "threshold": "int", "span": SPAN, "discount_percent": Opt("dec"),
        "multipliers": List(Obj({"point_kind": Opt("str"), "factor": "dec"})),
        "perks": List(Obj({"name": "str", "cost_minor": "int"})),
        "fee?": Obj({"amount_minor": "int", "period": "str"}),  # a paid tier (mechanics/fees.py)
    })),
    "downgrade": Opt(Obj({"period": "str", "grace": Opt(DURATION)})),
})

DRAW = Obj({
    "name": "str", "span": SPAN, "period": PERIOD, "prize_minor": "int", "winners": "int", "entries": "int",
    "per_minor": "int", "conditions": List(CONDITION), "line_filters": List(LINE_FILTER),
})

DOCUMENT = Obj({
    # loyalty_version: the package that compiled it (loyalty/versioning.py); not part of the meaning
    "format": "str", "loyalty_version?": "str", "identity": "str", "name": "str", "source_file": Opt("str"),
    "currency": "str",
    "exponent": "int", "timezone": "str", "runs": Opt(Obj(DATES)), "rewards_taken_back_on_return": "bool",
    "point_kinds": List(POINT_KIND),
    "items": Map(Obj({"category": "str", "cost_minor?": "int"})),
    "stores": Map(Opt("str")),
    "rewards": Map(Obj({"kind": Enum("free_item", "amount_off", "percent_off", "gift_card", "gift", "perk"),
                        "face_minor": "int", "cost_minor": "int", "cost_declared": "bool",
                        "free_items?": List("str"), "span": SPAN, "percent?": "dec",
                        "valid_for?": DURATION, "valid_until?": "date", "stock?": "int"})),
    "redeem": List(Obj({"reward": "str", "point_kind": Opt("str"), "price": "int", "span": SPAN})),
    "metrics": List(METRIC), "tiers": Opt(TIERS), "rules": List(RULE), "draws": List(DRAW),
    "budgets": Map("int"),
    "windows?": Obj({"returns?": DURATION, "late_events?": DURATION}),
    "enrolment?": Obj({"window?": DURATION}),
    "codes?": Map(Obj({"uses": Opt("int")})),
    "stacking?": Enum("one per order", "one per line", "stack"),
    "gift_stacking?": Enum("one per order", "stack"),
})


# ---------------------------------------------------------------- the check

_NAMES = {"str": "text", "int": "a whole number", "bool": "true or false", "dec": "a decimal number as text",
          "date": "a date as text (YYYY-MM-DD)"}


def check_document(doc) -> None:
    """Raise `SchemaError` naming the first field of `doc` that does not fit the compiled program format."""
    if not _ACTIONS_FILLED:
        _actions()
    _check(doc, DOCUMENT, "")


def _actions() -> None:
    """Every registered mechanic's action format into ACTION (once; the registry is complete on import)."""
    from loyalty.runtime.mechanics import RULE_MECHANICS

    for action, mechanic in RULE_MECHANICS.items():
        ACTION.cases[action] = Obj({"type": "str", **mechanic.action_fields})
    _ACTIONS_FILLED.append(True)


def _check(value, spec, path: str) -> None:
    if isinstance(spec, str):
        _leaf(value, spec, path)
    elif isinstance(spec, Opt):
        if value is not None:
            _check(value, spec.inner, path)
    elif isinstance(spec, Enum):
        if type(value) is not str or value not in spec.values:
            raise SchemaError(path, f"expected one of {', '.join(map(repr, spec.values))}, found {_show(value)}")
    elif isinstance(spec, List):
        if type(value) is not list:
            raise SchemaError(path, f"expected a list, found {_show(value)}")
        if spec.length is not None and len(value) != spec.length:
            raise SchemaError(path, f"expected {spec.length} values, found {len(value)}")
        for i, v in enumerate(value):
            _check(v, spec.inner, f"{path}[{i}]")
    elif isinstance(spec, Map):
        if type(value) is not dict:
            raise SchemaError(path, f"expected an object, found {_show(value)}")
        for k, v in value.items():
            _check(v, spec.inner, f"{path}[{k!r}]")
    elif isinstance(spec, Obj):
        _object(value, spec, path)
    elif isinstance(spec, Tagged):
        if type(value) is not dict:
            raise SchemaError(path, f"expected an object, found {_show(value)}")
        tag = value.get(spec.tag)
        case = spec.cases.get(tag) if type(tag) is str else None
        if case is None:
            raise SchemaError(_join(path, spec.tag), f"expected one of {', '.join(map(repr, spec.cases))}, "
                                                     f"found {_show(tag)}")
        _object(value, case, path)
    elif isinstance(spec, OneOf):
        if type(value) is not dict:
            raise SchemaError(path, f"expected an object, found {_show(value)}")
        first = None
        for option in spec.options:
            try:
                _object(value, option, path)
                return
            except SchemaError as err:
                first = first or err
        raise first
    else:  # pragma: no cover - a spec bug, not a user's
        raise TypeError(f"unknown spec {spec!r}")


def _object(value, spec: Obj, path: str) -> None:
    if type(value) is not dict:
        raise SchemaError(path, f"expected an object, found {_show(value)}")
    for k in value:
        if k not in spec.required and k not in spec.optional:
            raise SchemaError(_join(path, str(k)), "unknown field (not part of the compiled program format)")
    for k, sub in spec.required.items():
        if k not in value:
            raise SchemaError(_join(path, k), "missing field")
        _check(value[k], sub, _join(path, k))
    for k, sub in spec.optional.items():
        if k in value:
            _check(value[k], sub, _join(path, k))


def _leaf(value, kind: str, path: str) -> None:
    ok = type(value) is {"str": str, "int": int, "bool": bool, "dec": str, "date": str}[kind]
    if ok and kind == "dec":
        try:
            ok = Decimal(value).is_finite()
        except InvalidOperation:
            ok = False
    elif ok and kind == "date":
        import datetime as _dt

        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            ok = False
    if not ok:
        raise SchemaError(path, f"expected {_NAMES[kind]}, found {_show(value)}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
