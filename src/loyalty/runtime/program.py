"""The compiled program: plain data (JSON) on the outside, small rule objects inside.

`CompiledProgram.from_doc(doc)` builds the evaluator's objects from the JSON
document the compiler produces (`docs/semantics.md`, "Compiled program format").
Everything the evaluator needs per event is precomputed here: point kinds by
index, rules as slot objects with their conditions flattened to predicates,
budgets' limits in the unit they are claimed in. The object is never mutated
after construction, so one instance can serve many threads.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from decimal import Decimal
from typing import Callable, Optional
from zoneinfo import ZoneInfo

from loyalty.runtime.formulas import qualified_tier
from loyalty.runtime.meaning import check_depth, check_meaning
from loyalty.runtime.schema import SchemaError, check_document
from loyalty.runtime.timeutil import NEVER, day_after, is_iana_zone, parse_date

FORMAT = "loyalty-compiled/1"


class ProgramFormatError(ValueError):
    """The JSON is not a compiled program this version of loyalty can run."""


def ratio(text) -> tuple[int, int]:
    """'1.25' -> (5, 4): exact numerator and denominator of a decimal string."""
    n, d = Decimal(str(text)).as_integer_ratio()
    return n, d


class PointKind:
    __slots__ = ("index", "name", "cost", "expiry", "expiry_amount", "expiry_unit", "expiry_period", "expiry_next",
                 "pending", "rounding", "scope", "policy", "line", "column")

    def __init__(self, index: int, d: dict):
        self.index = index
        self.name = d["name"]
        self.cost = ratio(d["cost_minor"]) if d.get("cost_minor") is not None else None  # minor units per point
        e = d.get("expiry") or {}
        self.expiry = e.get("kind")  # None | after_earning | inactivity | period_end
        self.expiry_amount = e.get("amount")
        self.expiry_unit = e.get("unit")
        self.expiry_period = e.get("period")
        self.expiry_next = bool(e.get("next"))
        p = d.get("pending")
        self.pending = (p["amount"], p["unit"]) if p else None
        self.rounding = d.get("rounding", "down")
        self.scope = d.get("rounding_scope", "order")
        self.policy = d.get("balance_policy", "negative")
        self.line, self.column = d.get("span", (0, 0))[:2]


class Reward:
    __slots__ = ("name", "kind", "face", "cost", "stock", "line", "column", "valid_for", "valid_until")

    def __init__(self, name: str, d: dict):
        self.name = name
        self.kind = d["kind"]
        self.face = d.get("face_minor") or 0
        self.cost = d.get("cost_minor") or 0
        v = d.get("valid_for")
        self.valid_for = (v["amount"], v["unit"]) if v else None  # an offer with a lifetime (mechanics/offers.py)
        until = d.get("valid_until")
        # ... or usable up to and including a day: it lapses as that day ends (the last day: never)
        self.valid_until = None if until is None else day_after(parse_date(until))
        self.stock = d.get("stock")  # how many rules may give in all (mechanics/stock.py), None = no limit
        self.line, self.column = d.get("span", (0, 0))[:2]

    @property
    def is_offer(self) -> bool:
        """Held from when a rule gives it until a purchase uses it or it lapses (mechanics/offers.py)."""
        return self.valid_for is not None or self.valid_until is not None


class Redeem:
    __slots__ = ("reward", "kind", "price", "line", "column")

    def __init__(self, d: dict, kind_index: dict):
        self.reward = d["reward"]
        self.kind = kind_index[d["point_kind"]]
        self.price = d["price"]
        self.line, self.column = d.get("span", (0, 0))[:2]


class Limit:
    """A per-member cap (`scope` is the rule's or campaign's key) on points, money or times."""

    __slots__ = ("scope", "unit", "amount", "period")

    def __init__(self, d: dict):
        self.scope = d["scope"]
        self.unit = d["unit"]  # points | money | times
        self.amount = d["amount"]
        self.period = d.get("period")


class Metric:
    __slots__ = ("index", "kind", "point_kind", "window", "amount", "unit", "period")

    def __init__(self, index: int, d: dict, kind_index: dict):
        self.index = index
        self.kind = d["kind"]  # spend | visits | earned
        self.point_kind = kind_index[d["point_kind"]] if d.get("point_kind") else -1
        w = d.get("window") or {"kind": "lifetime"}
        self.window = w["kind"]  # lifetime | rolling | calendar
        self.amount = w.get("amount")
        self.unit = w.get("unit")
        self.period = w.get("period")


class Tier:
    __slots__ = ("index", "name", "threshold", "multipliers", "discount", "perks", "fee", "line", "column")

    def __init__(self, index: int, d: dict, kind_index: dict):
        self.index = index
        self.name = d["name"]
        self.threshold = d["threshold"]
        self.multipliers = tuple(
            (kind_index[m["point_kind"]] if m.get("point_kind") else -1, *ratio(m["factor"])) for m in d.get("multipliers", ())
        )
        self.discount = ratio(d["discount_percent"]) if d.get("discount_percent") is not None else None
        self.perks = tuple((p["name"], p.get("cost_minor") or 0) for p in d.get("perks", ()))
        f = d.get("fee")
        self.fee = (f["amount_minor"], f["period"]) if f else None  # a paid tier: (minor units, period)
        self.line, self.column = d.get("span", (0, 0))[:2]


class Tiers:
    __slots__ = ("metric", "tiers", "downgrade_period", "grace", "names", "thresholds", "paid")

    def __init__(self, d: dict, kind_index: dict):
        self.metric = d["metric"]
        self.tiers = tuple(Tier(i, t, kind_index) for i, t in enumerate(d["tiers"]))
        dg = d.get("downgrade")
        self.downgrade_period = dg["period"] if dg else None
        g = dg.get("grace") if dg else None
        self.grace = (g["amount"], g["unit"]) if g else None
        self.names = {t.name: t.index for t in self.tiers}
        self.thresholds = tuple(t.threshold for t in self.tiers)
        self.paid = any(t.fee is not None for t in self.tiers)  # a tier with a fee (mechanics/fees.py)

    def qualified(self, value):
        """The tier `value` (an int, or an int64 array) qualifies for (formulas.qualified_tier)."""
        return qualified_tier(self.thresholds, value)


COUNTING_TRIGGERS = ("first_purchase", "nth_visit", "every_visits", "every_spend", "nth_purchase")


class Rule:
    """One rule, ready to run. `action` selects the evaluator's code path."""

    __slots__ = ("index", "name", "campaign", "line", "column", "action", "point_kind", "rate", "points", "factor",
                 "reward", "percent", "action_doc", "metric", "steps", "cycle", "free", "event", "trigger", "trigger_n",
                 "trigger_name", "trigger_doc", "filters", "preds", "limits", "budget", "budget_unit", "counted", "code",
                 "exclusive", "priority", "group")

    def __init__(self, index: int, d: dict, prog: "CompiledProgram"):
        self.index = index
        self.name = d["name"]
        self.campaign = d.get("campaign")
        self.line, self.column = d.get("span", (0, 0))[:2]
        a = d["action"]
        self.action = a["type"]
        self.point_kind = prog.kind_index[a["point_kind"]] if a.get("point_kind") else -1
        self.rate = None
        if self.action == "earn_per_spend":
            pn, pd = ratio(a["points"])
            self.rate = (pn, pd * a["per_minor"])  # points per minor unit
        self.points = a.get("points") if self.action in ("earn_fixed", "earn_per_event") else None
        self.factor = ratio(a["factor"]) if a.get("factor") is not None else None
        self.reward = a.get("reward")
        self.percent = ratio(a["percent"]) if a.get("percent") is not None else None
        self.action_doc = a  # the compiled action: a mechanic may read its own fields from it at plan time
        self.metric = a.get("metric")
        self.steps = tuple((s["threshold"], *ratio(s["percent"])) for s in a.get("steps", ()))
        self.cycle = a.get("cycle")
        self.free = a.get("free")
        self.event = a.get("event")
        t = d.get("trigger") or {}
        self.trigger = t.get("type")  # None = every purchase
        self.trigger_n = t.get("n") or t.get("minor")
        self.trigger_name = t.get("name")
        self.trigger_doc = t  # the compiled trigger: a mechanic may read its own fields from it (winback.py)
        self.filters = tuple(
            (None if f.get("any") else frozenset(f.get("items", ())), frozenset(f.get("categories", ())))
            for f in d.get("line_filters", ())
        )
        self.preds = tuple(build_condition(c, prog) for c in d.get("conditions", ()))
        self.limits = tuple(Limit(c) for c in d.get("caps", ()))
        b = d.get("budget")
        self.budget = b["key"] if b else None
        self.budget_unit = b["unit"] if b else None
        self.code = d.get("code")  # the code a purchase must carry (mechanics/codes.py), or None
        # stacking (mechanics/stacking.py): combines with no other discount; its priority (1 first); its best-of group
        s = d.get("stacking") or {}
        self.exclusive = bool(s.get("exclusive"))
        self.priority = s.get("priority")
        self.group = s.get("group")
        # a counting trigger on a rule with conditions or item filters counts only the events they select, in
        # a counter of its own (docs/semantics.md, "Triggers count what the conditions select")
        self.counted = self.trigger in COUNTING_TRIGGERS and bool(self.preds or self.filters)

    def line_matches(self, item: str, category) -> bool:
        for items, cats in self.filters:
            if items is not None and item not in items and category not in cats:
                return False
        return True


class Source:
    """Who is credited with part of the points an earning rule gives: a multiplier rule or a tier's multiplier
    (docs/semantics.md, "Multipliers"). `index` is the key its points are recorded under in an order (for
    returns) and in a batch; `point_kind` the earning rule's."""

    __slots__ = ("index", "name", "line", "column", "point_kind", "limits", "budget", "budget_unit")

    def __init__(self, index: int, owner, point_kind: int, limited: bool):
        self.index = index
        self.name = owner.name
        self.line, self.column = owner.line, owner.column
        self.point_kind = point_kind
        self.limits = owner.limits if limited else ()
        self.budget = owner.budget if limited else None
        self.budget_unit = owner.budget_unit if limited else None


REGULAR_EARNING = ("earn_per_spend", "earn_per_event")  # earn_per_event only with event "visit"


def is_regular_earning(r: "Rule") -> bool:
    """Points a purchase or visit earns regularly: the points multipliers multiply (not one-off bonuses)."""
    return r.action == "earn_per_spend" or (r.action == "earn_per_event" and r.event == "visit")


class Draw:
    __slots__ = ("name", "entries", "per", "filters", "preds", "line", "column")

    def __init__(self, d: dict, prog: "CompiledProgram"):
        self.name = d["name"]
        self.entries = d["entries"]
        self.per = d["per_minor"]
        self.filters = tuple(
            (None if f.get("any") else frozenset(f.get("items", ())), frozenset(f.get("categories", ())))
            for f in d.get("line_filters", ())
        )
        self.preds = tuple(build_condition(c, prog) for c in d.get("conditions", ()))
        self.line, self.column = d.get("span", (0, 0))[:2]

    line_matches = Rule.line_matches


# ---------------------------------------------------------------- conditions -> predicates
# A predicate takes the evaluator's context (`evaluator.Ctx`) and returns a bool. They are
# closures over precomputed constants, built from data: no user text is ever executed.

Pred = Callable[[object], bool]


def build_condition(c: dict, prog: "CompiledProgram") -> Pred:
    k = c["kind"]
    if k == "dates":
        start = _dt.datetime.combine(parse_date(c["from"]), _dt.time()) if c.get("from") else _dt.datetime.min
        end = day_after(parse_date(c["to"])) if c.get("to") else NEVER
        return lambda x: start <= x.t < end
    if k == "weekdays":
        days = frozenset(c["days"])
        return lambda x: x.t.weekday() in days
    if k == "hours":
        a = c["from"][0] * 60 + c["from"][1]
        b = c["to"][0] * 60 + c["to"][1]
        if a <= b:
            return lambda x: a <= x.t.hour * 60 + x.t.minute < b
        return lambda x: not (b <= x.t.hour * 60 + x.t.minute < a)  # wraps past midnight
    if k == "segments":
        names = frozenset(c["names"])
        return lambda x: not names.isdisjoint(x.st.segments)
    if k == "tiers":
        idx = frozenset(prog.tiers.names[n] for n in c["names"]) if prog.tiers else frozenset()
        return lambda x: x.st.tier in idx
    if k == "stores":
        names = frozenset(c["names"])
        return lambda x: x.store in names
    if k == "channels":
        names = frozenset(c["names"])
        return lambda x: x.channel in names
    if k == "birthday_month":
        return lambda x: x.st.birthday is not None and x.st.birthday.month == x.t.month
    if k == "birthday":
        return _on_birthday
    if k == "expr":
        return build_expr(c["expr"], prog)
    raise ProgramFormatError(f"unknown condition kind {k!r}")


def _on_birthday(x) -> bool:
    b = x.st.birthday
    if b is None:
        return False
    t = x.t
    if b.month == 2 and b.day == 29 and not _leap(t.year):  # celebrated on 28 February
        return t.month == 2 and t.day == 28
    return t.month == b.month and t.day == b.day


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


_CMP = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def build_expr(e: dict, prog: "CompiledProgram") -> Pred:
    op = e["op"]
    if op == "and":
        parts = tuple(build_expr(a, prog) for a in e["args"])
        return lambda x: all(p(x) for p in parts)
    if op == "or":
        parts = tuple(build_expr(a, prog) for a in e["args"])
        return lambda x: any(p(x) for p in parts)
    if op == "not":
        inner = build_expr(e["arg"], prog)
        return lambda x: not inner(x)
    if op == "first_purchase":
        return lambda x: x.first
    if op == "has_item":
        name = e["name"]
        return lambda x: any(ln[0] == name for ln in x.lines)
    if op == "has_category":
        name = e["name"]
        return lambda x: any(ln[1] == name for ln in x.lines)
    if op == "cmp":
        cmp = _CMP[e["cmp"]]
        value = e["value"]
        m = e["measure"]
        if m == "order_total":
            return lambda x: cmp(x.gross, value)
        if m == "order_items":
            return lambda x: cmp(x.items, value)
        if m == "lifetime_spend":
            return lambda x: cmp(x.spend_before, value)
        if m == "visits":
            return lambda x: cmp(x.st.visits, value)
        if m == "balance":
            k = prog.kind_index[e["point_kind"]]
            return lambda x: cmp(x.st.kinds[k].available, value)
        raise ProgramFormatError(f"unknown measure {m!r}")
    raise ProgramFormatError(f"unknown expression {op!r}")


# ---------------------------------------------------------------- the program


class CompiledProgram:
    """An immutable, reusable, thread-safe compiled program."""

    __slots__ = ("doc", "identity", "name", "currency", "exponent", "timezone", "tz", "runs_from", "runs_to",
                 "rewards_taken_back", "kinds", "kind_index", "catalog", "stores", "rewards", "redeem", "metrics",
                 "tiers", "rules", "draws", "budgets", "purchase_rules", "source_file", "by_trigger",
                 "has_timers", "item_costs", "sources", "plans", "legacy_identity", "return_window",
                 "late_window", "codes", "enrolment", "stacking", "gift_stacking")

    def __init__(self, doc: dict):
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProgramFormatError(f"not a compiled loyalty program (expected format {FORMAT!r})")
        self.doc = doc
        self.plans: dict = {}  # runtime/plan.py `plan_of`: the plans of this program, built on first use
        try:
            self._build(doc)
        except ProgramFormatError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise ProgramFormatError(f"malformed compiled program: {type(err).__name__}: {err}") from None

    def _build(self, doc: dict) -> None:
        self.identity = program_identity(doc)
        self.legacy_identity = legacy_identity(doc)
        self.name: str = doc["name"]
        self.source_file = doc.get("source_file")
        self.currency: str = doc["currency"]
        self.exponent = doc["exponent"]
        self.timezone = doc["timezone"]
        if not is_iana_zone(self.timezone):
            raise ProgramFormatError(f"malformed compiled program: timezone: {self.timezone!r} is not an IANA time "
                                     "zone name (a name only this machine resolves would make results depend on it)")
        self.tz = ZoneInfo(self.timezone)
        runs = doc.get("runs") or {}
        self.runs_from = _dt.datetime.combine(parse_date(runs["from"]), _dt.time()) if runs.get("from") else None
        # to 9999-12-31 has no end, as no `to` (docs/semantics.md, "The end of time")
        self.runs_to = day_after(parse_date(runs["to"])) if runs.get("to") else None
        if self.runs_to == NEVER:
            self.runs_to = None
        self.rewards_taken_back = bool(doc.get("rewards_taken_back_on_return"))
        # how long returns and late (or resent) events are accepted: (amount, unit), None = for ever
        # (docs/semantics.md, "What the state keeps, and for how long")
        windows = doc.get("windows") or {}
        self.return_window = (windows["returns"]["amount"], windows["returns"]["unit"]) if "returns" in windows else None
        self.late_window = ((windows["late_events"]["amount"], windows["late_events"]["unit"])
                            if "late_events" in windows else None)
        # `members join at signup` (runtime/mechanics/enrolment.py): None = everyone is a member from her first event;
        # else the pre-signup window (amount, unit), (0, "day") when the program gives none
        enrolment = doc.get("enrolment")
        self.enrolment = None if enrolment is None else (
            (enrolment["window"]["amount"], enrolment["window"]["unit"]) if "window" in enrolment else (0, "day"))
        self.kinds = tuple(PointKind(i, k) for i, k in enumerate(doc["point_kinds"]))
        self.kind_index = {k.name: k.index for k in self.kinds}
        self.catalog = {name: v["category"] for name, v in doc.get("items", {}).items()}
        self.item_costs = {name: v["cost_minor"] for name, v in doc.get("items", {}).items()
                           if v.get("cost_minor") is not None}
        self.stores = dict(doc.get("stores", {}))
        self.rewards = {name: Reward(name, r) for name, r in doc.get("rewards", {}).items()}
        self.redeem = {r["reward"]: Redeem(r, self.kind_index) for r in doc.get("redeem", ())}
        self.metrics = tuple(Metric(i, m, self.kind_index) for i, m in enumerate(doc.get("metrics", ())))
        self.tiers = Tiers(doc["tiers"], self.kind_index) if doc.get("tiers") else None
        self.rules = tuple(Rule(i, r, self) for i, r in enumerate(doc.get("rules", ())))
        self.draws = tuple(Draw(d, self) for d in doc.get("draws", ()))
        self.budgets = {k: int(v) for k, v in doc.get("budgets", {}).items()}
        # code -> its uses in all (None: no limit); mechanics/codes.py
        self.codes = {c: v.get("uses") for c, v in (doc.get("codes") or {}).items()}
        # what several discounts on one order do, unless a rule says: "one per order", "stack" or None (not said:
        # they stack); mechanics/stacking.py
        self.stacking = doc.get("stacking")
        # ... and several gifts on one order: "one per order", "stack" or None (they are all given)
        self.gift_stacking = doc.get("gift_stacking")
        by: dict = {}
        for r in self.rules:
            by.setdefault(r.trigger, []).append(r)
        self.by_trigger = {k: tuple(v) for k, v in by.items()}
        self.sources = self._sources()
        # a paid tier's period ends by time passing (mechanics/fees.py)
        self.has_timers = bool(self.tiers and (self.tiers.downgrade_period or self.tiers.paid)) or any(
            k.expiry or k.pending for k in self.kinds) or "inactivity" in self.by_trigger or "birthday" in self.by_trigger or \
            "anniversary" in self.by_trigger or any(
            rw.is_offer for rw in self.rewards.values())

    def _sources(self) -> dict:
        """The multiplier sources of every regular earning rule, by key: `extra_key`."""
        out = {}
        for r in self.rules:
            if not is_regular_earning(r):
                continue
            for t in (self.tiers.tiers if self.tiers else ()):
                key = self.extra_key(r.index, tier=t.index)
                out[key] = Source(key, t, r.point_kind, False)
            for m in self.rules:
                if m.action == "multiplier" and m.point_kind in (-1, r.point_kind):
                    key = self.extra_key(r.index, rule=m.index)
                    out[key] = Source(key, m, r.point_kind, True)
        return out

    def extra_key(self, base: int, tier: Optional[int] = None, rule: Optional[int] = None) -> int:
        """The key of the extra points a tier or a multiplier rule adds to earning rule `base`'s points: past
        the rule indexes (which key a rule's own points), one block of len(rules) per tier, then per rule."""
        n = len(self.rules)
        nt = len(self.tiers.tiers) if self.tiers else 0
        return base + n * (1 + (tier if tier is not None else nt + rule))

    def source(self, key: int):
        """The rule or multiplier source that points recorded under `key` are credited to."""
        return self.rules[key] if key < len(self.rules) else self.sources[key]

    # ---------------------------------------------------------------- JSON

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.doc, indent=indent, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "CompiledProgram":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ProgramFormatError(f"not JSON: {err}") from None
        except RecursionError:
            raise ProgramFormatError("malformed compiled program: nested too deeply to read") from None
        return cls.from_doc(doc)

    @classmethod
    def from_doc(cls, doc) -> "CompiledProgram":
        """A program from a document that came from outside (a file, a network): its shape checked field by
        field (`runtime/schema.py`) and its identity recomputed, before anything is built from it."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProgramFormatError(f"not a compiled loyalty program (expected format {FORMAT!r})")
        try:
            check_depth(doc)  # before anything recursive walks it
            check_document(doc)
            check_meaning(doc)
        except SchemaError as err:
            raise ProgramFormatError(f"malformed compiled program: {err}") from None
        expected = program_identity(doc)
        if doc["identity"] != expected and doc["identity"] != legacy_identity(doc):
            raise ProgramFormatError(f"malformed compiled program: identity: {doc['identity']!r} does not match "
                                     f"the content ({expected}); the document was changed after compiling: "
                                     "compile the program again")
        return cls(doc)


# What the identity leaves out: where things were written (the `span` of each declaration, the source file) and
# the identity itself. Everything else in the document is what the program does, or names what it does (rule,
# reward, tier and point kind names appear in effects and states), so it is hashed; lists keep their order
# (rules, tiers, point kinds and metrics are indexed by position in a saved state).
_IDENTITY_VERSION = "loyalty-identity/2"  # hashed with the content: never equal to an identity of before


def _unplaced(d) -> object:
    return {k: v for k, v in d.items() if k != "span"} if type(d) is dict else d


# keys of a compiled document that say nothing of what the program does: the same program compiled by another
# loyalty version (loyalty/versioning.py) or from another file keeps its identity
_NOT_MEANING = ("identity", "source_file", "loyalty_version")


def _meaning(doc: dict) -> dict:
    """The document without positions. Only the declarations' own `span` goes: names chosen by the author (an
    item or reward called "span") are keys of other maps and stay."""
    out = {k: v for k, v in doc.items() if k not in _NOT_MEANING}
    for key in ("point_kinds", "redeem", "rules", "draws"):
        if type(out.get(key)) is list:
            out[key] = [_unplaced(x) for x in out[key]]
    if type(out.get("rewards")) is dict:
        out["rewards"] = {name: _unplaced(r) for name, r in out["rewards"].items()}
    tiers = out.get("tiers")
    if type(tiers) is dict:
        tiers = _unplaced(tiers)
        if type(tiers.get("tiers")) is list:
            tiers["tiers"] = [_unplaced(t) for t in tiers["tiers"]]
        out["tiers"] = tiers
    return out


def _hash(body) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def program_identity(doc: dict) -> str:
    """A hash of what the program means: the document without source positions (`span`), source file name and
    identity. A comment, blank lines or `loyalty fmt` keep it; a changed rate, threshold or name changes it."""
    return _hash({"identity": _IDENTITY_VERSION, "program": _meaning(doc)})


def legacy_identity(doc: dict) -> str:
    """The identity loyalty gave a program before `program_identity` left source positions out (it hashed the
    `span`s too). Documents and states written then carry it: they still load with the same program."""
    return _hash({k: v for k, v in doc.items() if k not in _NOT_MEANING})
