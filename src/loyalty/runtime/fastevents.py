"""A fast reading of the common, well-formed event dict, straight to the evaluator's `Ev`.

`program.apply` accepts a dict and validates it with pydantic (`events.parse_event`), then converts the
model (`events.to_internal`). For the usual dict (plain `str`, `int` and `list` values, times written
`YYYY-MM-DDTHH:MM[:SS[.ffffff]]` with an optional `Z` or `+HH:MM`, amounts as plain decimal strings or
ints, an `id` on every event but a purchase, a return or a tick; a return without one gets the id the
validated path gives it, when its text is certain) `dict_to_ev` builds the same `Ev` directly. It
returns None whenever it is not certain to give exactly what the validated path gives, value for value:
an unusual type or shape, anything pydantic would coerce, any error. The caller then takes the
validated path, which accepts or rejects the event, and words the error, as it always has.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from decimal import Decimal
from typing import Optional, TypeGuard

from loyalty.runtime.events import Purchase
from loyalty.runtime.internal import EARLIEST, LATEST, MAX_MINOR, Ev, exact_minor, has_surrogate

# times both pydantic and datetime.fromisoformat read, to the same value (tests/test_apply_fast_path.py)
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
                   r"(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_MAX_AMOUNT_CHARS = 24  # well below Decimal's 28 digits: the validated path's scaleb is exact
_MAX_INT = 10**18
_CACHE_SIZE = 4096  # amounts remembered per program (prices repeat): str or Decimal -> minor units

_BASE = frozenset(("type", "id", "time"))
_KEYS = {
    "purchase": _BASE | {"order", "lines", "store", "channel"},
    "return": _BASE | {"order", "lines", "amount"},
    "visit": _BASE | {"store"},
    "signup": _BASE,
    "referral": _BASE | {"referred"},
    "redemption": _BASE | {"reward"},
    "action": _BASE | {"name"},
    "tick": _BASE,
}
_LINE_KEYS = frozenset(("item", "category", "quantity", "amount"))
_RETURN_LINE_KEYS = frozenset(("item", "quantity"))
_datetime = _dt.datetime
_time_match = _TIME.fullmatch
_fromisoformat = _dt.datetime.fromisoformat
_tuple_new = tuple.__new__  # an Ev (a named tuple) in one step


def _plain_time(value: str) -> bool:
    """`YYYY-MM-DDTHH:MM[:SS]` (or a space for the T) by its shape alone: read by fromisoformat, which takes only
    ASCII digits between these separators, it is a time `_TIME` matches, without the regular expression's cost."""
    n = len(value)
    return ((n == 16 or (n == 19 and value[16] == ":")) and value[4] == "-" and value[7] == "-" and value[13] == ":"
            and (value[10] == "T" or value[10] == " ") and value.isascii())


def _time(value, tz) -> Optional[_dt.datetime]:
    """The event's program-local wall time (events.local_time of the validated value), or None."""
    if type(value) is str:
        if not _plain_time(value) and _time_match(value) is None:
            return None
        try:
            t = _fromisoformat(value)
        except ValueError:
            return None
    elif type(value) is _datetime:
        t = value
    else:
        return None
    if t.tzinfo is not None:
        try:
            t = t.astimezone(tz).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    return t if EARLIEST <= t < LATEST else None  # outside: the validated path refuses it


def _minor(value, exponent: int, positive: bool = False) -> Optional[int]:
    """An amount in minor units (events.to_minor of the validated Decimal), or None."""
    if type(value) is str:
        if len(value) > _MAX_AMOUNT_CHARS:
            return None
        m = _AMOUNT.fullmatch(value)
        if m is None:
            return None
        whole, frac = m.groups()
        if frac is None:
            minor = int(whole) * 10**exponent
        elif len(frac) <= exponent:
            minor = int(whole + frac) * 10**(exponent - len(frac))
        elif frac[exponent:].strip("0"):
            return None  # more decimals than the currency has: the validated path says so
        else:
            minor = int(whole + frac[:exponent])
    elif type(value) is int:
        if not 0 <= value < _MAX_INT:
            return None
        minor = value * 10**exponent
    else:
        return None
    if (positive and minor <= 0) or minor >= MAX_MINOR:
        return None
    return minor


def _text(value: object) -> TypeGuard[str]:
    """A non-empty str (a field with min_length=1) of Unicode characters."""
    return type(value) is str and value != "" and not has_surrogate(value)


def _opt_text(value) -> bool:
    return value is None or (type(value) is str and not has_surrogate(value))


def _quantity(line: dict) -> Optional[int]:
    q = line.get("quantity", 1)
    if type(q) is not int or not 1 <= q < _MAX_INT:
        return None
    return q


def _json_text(value: str) -> Optional[str]:
    """A printable str as JSON writes it (pydantic and json escape only `"` and `\\` in such text), or None."""
    if not value.isprintable():
        return None
    if '"' in value or "\\" in value:
        return json.dumps(value, ensure_ascii=False)
    return '"' + value + '"'  # json.dumps, without its call


def _return_id(time, order: str, ret_lines, amount) -> Optional[str]:
    """`events.default_id` of a valid return sent without an id, "return:" and the validated model's JSON
    without id and type; None where its text is not certain (a time zone, fractions of a second, unusual text).
    `time` and `amount` are the values as sent, already read without fault."""
    if type(time) is str:
        time = _fromisoformat(time)
    if time.tzinfo is not None or time.microsecond:
        return None
    parts = ['return:{"time":"', time.isoformat(), '","order":']
    text = _json_text(order)
    if text is None:
        return None
    parts.append(text)
    if ret_lines is not None:
        sep = ',"lines":['
        for item, q in ret_lines:
            text = _json_text(item)
            if text is None:
                return None
            parts += (sep, '{"item":', text, ',"quantity":', str(q), "}")
            sep = ","
        parts.append("]" if ret_lines else ',"lines":[]')
    if amount is not None:  # a Decimal is written as its str: "0012.50" as "12.50"
        parts += (',"amount":"', str(Decimal(amount)), '"')
    parts.append("}")
    return "".join(parts)


# event type -> its one text field (an `Ev` field of the same name), and whether it may be missing
_ONE_FIELD = {"visit": ("store", _opt_text), "redemption": ("reward", _text), "action": ("name", _text)}


def dict_to_ev(data, exponent: int, tz, catalog: dict, amounts: Optional[dict] = None) -> Optional[Ev]:
    """`to_internal(parse_event(data), ...)` for a plain, valid event dict; None for anything else.
    `amounts` (the program's own dict, or None) remembers amount texts already converted."""
    if type(data) is not dict:
        return None
    typ = data.get("type")
    if typ is None:
        if "type" in data or len(data) != 1:
            return None
        (typ, d), = data.items()
        if type(d) is not dict or d.get("type", typ) != typ:
            return None
    else:
        d = data
    if type(typ) is not str:
        return None
    keys = _KEYS.get(typ)
    if keys is None:
        return None
    # a purchase sent with its type (the usual dict) has its keys checked by counting below, without the set's scan
    counted = typ == "purchase" and d is data
    if not counted and not keys.issuperset(d):
        return None
    eid = d.get("id")
    if eid is not None and (type(eid) is not str or not eid or (not eid.isascii() and has_surrogate(eid))):
        return None
    if typ == "purchase":
        try:  # required: a missing one is refused below as a None would be (subscripts cost less than .get)
            order = d["order"]
            lines = d["lines"]
            t = d["time"]
        except KeyError:
            return None
        store = d.get("store")
        channel = d.get("channel")
        # only known keys: "type", "order", "lines", "time" and each of the others found are as many as it has
        # (a key sent as None is not counted: the set's check decides)
        if counted and len(d) != 4 + (eid is not None) + (store is not None) + (channel is not None) and (
                not keys.issuperset(d)):
            return None
        if (type(order) is not str or not order or type(lines) is not list or not lines
                or (store is not None and type(store) is not str)
                or (channel is not None and type(channel) is not str)):
            return None
        # _opt_text of a str, written out: has_surrogate is False for ASCII text without its call
        if (not order.isascii() and has_surrogate(order) or (store and not store.isascii() and has_surrogate(store))
                or (channel and not channel.isascii() and has_surrogate(channel))):
            return None
        out = []
        for ln in lines:
            if type(ln) is not dict:
                return None
            if len(ln) == 4:  # four keys, all found: exactly _LINE_KEYS (its issuperset check, by the subscripts)
                try:
                    item = ln["item"]
                    cat = ln["category"]
                    q = ln["quantity"]
                    a = ln["amount"]
                except KeyError:
                    return None
            elif _LINE_KEYS.issuperset(ln):
                item = ln.get("item")
                cat = ln.get("category")
                q = ln.get("quantity", 1)
                a = ln.get("amount")
            else:
                return None
            if type(item) is not str or not item or (cat is not None and type(cat) is not str) or (
                    type(q) is not int or not 1 <= q < _MAX_INT):
                return None
            if not item.isascii() and has_surrogate(item) or (cat and not cat.isascii() and has_surrogate(cat)):
                return None
            if type(a) is str and amounts is not None:
                amount = amounts.get(a)
                if amount is None:
                    amount = _minor(a, exponent)
                    if amount is None:
                        return None
                    if len(amounts) < _CACHE_SIZE:
                        amounts[a] = amount
            else:
                amount = _minor(a, exponent)
                if amount is None:
                    return None
            out.append((item, cat if cat is not None else catalog.get(item), q, amount))
        if type(t) is str:  # _time, written out
            n = len(t)  # _plain_time, written out
            if not ((n == 16 or (n == 19 and t[16] == ":")) and t[4] == "-" and t[7] == "-" and t[13] == ":"
                    and (t[10] == "T" or t[10] == " ") and t.isascii()) and _time_match(t) is None:
                return None
            try:
                t = _fromisoformat(t)
            except ValueError:
                return None
        elif type(t) is not _datetime:
            return None
        if t.tzinfo is not None:
            try:
                t = t.astimezone(tz).replace(tzinfo=None)
            except (OverflowError, ValueError):
                return None
        if not EARLIEST <= t < LATEST:
            return None
        return _tuple_new(Ev, ("purchase", eid or f"purchase:{order}", t, order, tuple(out), store, channel, None,
                               None, None, None, (), None))
    if typ == "tick":
        t = _time(d.get("time"), tz)
        return Ev("tick", None, t) if t is not None else None
    if typ == "return":
        order = d.get("order")
        if not _text(order):
            return None
        lines = d.get("lines")
        amount = d.get("amount")
        if lines is not None and amount is not None:
            return None  # refused by the validated path, with its message
        ret_lines = None
        if lines is not None:
            if type(lines) is not list:
                return None
            rl = []
            for ln in lines:
                if type(ln) is not dict:
                    return None
                for k in ln:
                    if k not in _RETURN_LINE_KEYS:
                        return None
                item = ln.get("item")
                q = _quantity(ln)
                if not _text(item) or q is None:
                    return None
                rl.append((item, q))
            ret_lines = tuple(rl)
        ret_amount = None
        if amount is not None:
            ret_amount = _minor(amount, exponent, positive=True)
            if ret_amount is None:
                return None
        t = _time(d.get("time"), tz)
        if t is None:
            return None
        if eid is None:
            eid = _return_id(d.get("time"), order, ret_lines, amount)
            if eid is None:
                return None
        return Ev("return", eid, t, order=order, ret_lines=ret_lines, ret_amount=ret_amount)
    if eid is None:  # identified by its content (events.default_id): the validated path works it out
        return None
    one = _ONE_FIELD.get(typ)
    if one is not None:  # visit, redemption, action: one text field the Ev keeps under the same name
        field, ok = one
        value = d.get(field)
        if not ok(value):
            return None
        t = _time(d.get("time"), tz)
        return Ev(typ, eid, t, **{field: value}) if t is not None else None
    if typ == "referral" and not _opt_text(d.get("referred")):
        return None
    t = _time(d.get("time"), tz)  # signup, referral
    return Ev(typ, eid, t) if t is not None else None


def model_to_ev(model, exponent: int, tz, catalog: dict, amounts: dict) -> Optional[Ev]:
    """`to_internal(model, ...)` for a validated `Purchase`; None for any other event (or anything unusual),
    left to `to_internal`. `amounts` remembers the Decimal amounts already converted (by value: equal
    Decimals convert alike)."""
    if type(model) is not Purchase:
        return None
    t = model.time
    if type(t) is not _datetime:
        return None
    if t.tzinfo is not None:
        try:
            t = t.astimezone(tz).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    if not EARLIEST <= t < LATEST:
        return None
    out = []
    for ln in model.lines:
        a = ln.amount
        if type(a) is not Decimal or not a.is_finite():
            return None
        amount = amounts.get(a)
        if amount is None:
            amount, why = exact_minor(a, exponent)
            if why:
                return None  # too large, or more decimals than the currency has: to_internal says so
            if len(amounts) < _CACHE_SIZE:
                amounts[a] = amount
        item = ln.item
        cat = ln.category
        out.append((item, cat if cat is not None else catalog.get(item), ln.quantity, amount))
    order = model.order
    return _tuple_new(Ev, ("purchase", model.id or f"purchase:{order}", t, order, tuple(out), model.store,
                           model.channel, None, None, None, None, tuple(model.codes), None))
