"""Hypothesis strategies for events that fit one compiled program.

- `member_histories(program)`: one member's attributes and a sequence of events (dicts in
  the compact form of docs/embedding.md) using the program's catalog items and categories
  (and unlisted ones), stores, channels, rewards (redeemable or not), custom action names,
  returns of earlier orders (whole, by lines, by amount, sometimes more than is left),
  resends of earlier events, ticks and late events; times around the program's dates (its
  run, its rules' date windows, calendar year ends) and its time zone's DST changes,
  written naive (program-local wall time, also inside a skipped or repeated hour) or with
  an offset.
- `history_rows(...)`: the same events as rows of a history CSV (docs/simulate.md).
- `with_ledger_settings(program)`: a generated program with its point kinds' balance policy,
  expiry and pending period drawn again (short), so histories exercise the point ledger.
- `vectorisable(program)`: a generated program cut down to what `--kernel vector` runs.

Money is written as exact decimal strings in the program currency (never floats).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

UTC = dt.timezone.utc
DEFAULT_RANGE = (dt.date(2020, 1, 1), dt.date(2030, 6, 30))  # programs without a run (tests/strategies.py dates)
CHANNELS = ("app", "web", "store", "phone", None)
UNLISTED = "unlisted thing"


@dataclass(frozen=True)
class Facts:
    """What a compiled program names, and the moments worth testing around."""

    exponent: int
    tz: ZoneInfo
    items: tuple[tuple[str, Optional[str]], ...]  # (item, category sent with the line or None)
    stores: tuple[Optional[str], ...]
    redeemable: tuple[str, ...]
    other_rewards: tuple[str, ...]  # rewards that cannot be redeemed, and one the program lacks
    actions: tuple[str, ...]
    segments: tuple[str, ...]
    anchors: tuple[dt.datetime, ...]  # aware (UTC) instants: dates of the program, DST changes
    dst_changes: tuple[dt.datetime, ...] = field(default=())
    codes: tuple[str, ...] = ()  # the program's codes, and one it does not declare
    point_kinds: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    punch_rules: tuple[tuple[str, int], ...] = ()  # (rule, cycle)
    paid_tiers: tuple[str, ...] = ()  # tiers with a fee (runtime/mechanics/fees.py)


def _conditions(doc: dict):
    for r in doc.get("rules", ()):
        yield from r.get("conditions", ())
    for d in doc.get("draws", ()):
        yield from d.get("conditions", ())


def _local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tz).astimezone(UTC)


def _dst_changes(tz: ZoneInfo, lo: dt.date, hi: dt.date) -> list[dt.datetime]:
    """UTC instants at which the zone's offset changes, between lo and hi (to the minute)."""
    out = []
    t = dt.datetime.combine(lo, dt.time(), UTC)
    end = dt.datetime.combine(hi, dt.time(), UTC)
    step = dt.timedelta(days=1)
    offset = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + step
        o = nxt.astimezone(tz).utcoffset()
        if o != offset:
            a, b = t, nxt  # the change is in (a, b]
            while b - a > dt.timedelta(minutes=1):
                mid = a + (b - a) / 2
                if mid.astimezone(tz).utcoffset() == offset:
                    a = mid
                else:
                    b = mid
            out.append(b.replace(second=0, microsecond=0))
            offset = o
        t = nxt
    return out


@functools.lru_cache(maxsize=256)
def _facts_from(doc_json: str) -> Facts:
    import json

    doc = json.loads(doc_json)
    tz = ZoneInfo(doc["timezone"])
    items_doc = doc.get("items", {})
    categories = sorted({v["category"] for v in items_doc.values()} | {
        c for r in doc.get("rules", ()) for f in r.get("line_filters", ()) for c in f.get("categories", ())})
    # items a rule names count too: without a catalog, names are not checked (docs/language.md)
    named = {i for r in doc.get("rules", ()) for f in r.get("line_filters", ()) for i in f.get("items", ())}
    # an event names things with at least one character (loyalty.events), so "" is never sent
    items: list[tuple[str, Optional[str]]] = [(name, None) for name in sorted(set(items_doc) | named) if name]
    items += [(UNLISTED, None)] + [(UNLISTED, c) for c in categories[:2]]
    stores = sorted(set(doc.get("stores", {})) | {n for c in _conditions(doc) if c["kind"] == "stores"
                                                   for n in c["names"]})
    redeemable = sorted({r["reward"] for r in doc.get("redeem", ()) if r["reward"]})
    others = sorted(set(doc.get("rewards", {})) - set(redeemable) - {""}) + ["no such reward"]
    actions = sorted({r["trigger"]["name"] for r in doc.get("rules", ())
                      if (r.get("trigger") or {}).get("type") == "action" and r["trigger"]["name"]})
    actions.append("something else")
    segments = sorted({n for c in _conditions(doc) if c["kind"] == "segments" for n in c["names"]})

    runs = doc.get("runs") or {}
    days = [dt.date.fromisoformat(runs[k]) for k in ("from", "to") if runs.get(k)]
    for c in _conditions(doc):
        if c["kind"] == "dates":
            days += [dt.date.fromisoformat(c[k]) for k in ("from", "to") if c.get(k)]
    lo = min(days) if days else DEFAULT_RANGE[0]
    hi = max(days) if days else DEFAULT_RANGE[1]
    if runs.get("from") and not runs.get("to"):
        hi = max(hi, lo + dt.timedelta(days=2000))
    lo, hi = lo - dt.timedelta(days=40), hi + dt.timedelta(days=40)
    anchors = {_local_midnight(d, tz) for d in days}
    anchors |= {_local_midnight(d + dt.timedelta(days=1), tz) for d in days}  # `to` dates are inclusive
    anchors |= {_local_midnight(dt.date(y, 1, 1), tz) for y in range(lo.year + 1, min(hi.year, lo.year + 6) + 1)}
    changes = _dst_changes(tz, lo, hi)[:24]
    anchors |= set(changes)
    if not anchors:
        anchors = {_local_midnight(lo + dt.timedelta(days=40), tz)}
    codes = tuple(sorted(doc.get("codes", {}))) + ("NOSUCHCODE",)
    kinds = tuple(k["name"] for k in doc.get("point_kinds", ()))
    tiers = tuple(t["name"] for t in (doc.get("tiers") or {}).get("tiers", ()))
    punch = tuple((r["name"], r["action"]["cycle"]) for r in doc.get("rules", ()) if r["action"]["type"] == "punch")
    paid = tuple(t["name"] for t in (doc.get("tiers") or {}).get("tiers", ()) if "fee" in t)
    return Facts(doc["exponent"], tz, tuple(items), tuple(stores) + ("elsewhere", None), tuple(redeemable),
                 tuple(others), tuple(actions), tuple(segments), tuple(sorted(anchors)), tuple(changes), codes,
                 kinds, tiers, punch, paid)


def facts(program) -> Facts:
    """Facts of a `loyalty.Program` (cached by its compiled document)."""
    return _facts_from(program.compiled.to_json(indent=None))


def money_text(minor: int, exponent: int) -> str:
    """Minor units as the decimal a till would send: 1234 with 2 decimals is '12.34'."""
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}"


# ------------------------------------------------------------------ programs that exercise the point ledger

_LEDGER_SETTINGS = ("ExpireAfterEarning", "ExpireAfterInactivity", "ExpireAtPeriodEnd", "PendingSetting",
                    "BalancePolicy")


@st.composite
def with_ledger_settings(draw, program):
    """`program` (an AST) with each point kind's balance policy, expiry and pending period drawn
    again, evenly and short (days or weeks), so that generated histories see debts, truncated
    clawbacks, maturing and expiry; valid_programs() leaves most kinds at the defaults."""
    from loyalty.syntax import ast

    def duration():
        return ast.Duration(Decimal(draw(st.integers(1, 30))), draw(st.sampled_from(["day", "week"])))

    from loyalty.checker.checks import winback_after_expiry

    # a win-back at or after the points' expiry after inactivity is LOY316: such an expiry is not drawn
    values = {p.name.value: p.value for d in program.declarations if isinstance(d, ast.ParamsDecl) for p in d.params}
    lapses = [values.get(n.duration.name.value) if isinstance(n.duration, ast.ParamRef) else n.duration
              for n in program.walk() if isinstance(n, ast.AfterInactivity)]
    lapses = [lp for lp in lapses if isinstance(lp, ast.Duration)]
    decls = []
    for d in program.declarations:
        if isinstance(d, ast.PointsDecl):
            kept = [s for s in d.settings if type(s).__name__ not in _LEDGER_SETTINGS]
            kept.append(ast.BalancePolicy(draw(st.sampled_from(["negative", "zero", "pending_only"]))))
            expiry = draw(st.sampled_from(["none", "earning", "inactivity", "period end"]))
            if expiry == "earning":
                kept.append(ast.ExpireAfterEarning(duration()))
            elif expiry == "inactivity":
                drawn = duration()
                if not any(winback_after_expiry(lapse, drawn) for lapse in lapses):
                    kept.append(ast.ExpireAfterInactivity(drawn))
            elif expiry == "period end":
                kept.append(ast.ExpireAtPeriodEnd(draw(st.sampled_from(["day", "week", "month"])), draw(st.booleans())))
            if draw(st.booleans()):
                kept.append(ast.PendingSetting(duration()))
            d = ast.PointsDecl(d.name, tuple(kept))
        decls.append(d)
    return without_unused_params(ast.Program(tuple(decls)))


def without_unused_params(program):
    """`program` without the parameters no reference uses any more (a cut-down program would draw LOY318)."""
    from loyalty.syntax import ast

    used = {n.name.value for n in program.walk() if isinstance(n, ast.ParamRef)}
    decls = []
    for d in program.declarations:
        if isinstance(d, ast.ParamsDecl):
            d = ast.ParamsDecl(tuple(p for p in d.params if p.name.value in used))
            if not d.params:
                continue
        decls.append(d)
    return ast.Program(tuple(decls))


def vectorisable(program):
    """`program` (an AST) cut down to what the simulator's vectorised kernel replays, as its support code says
    (simulate/vector/support.py, from the mechanics: no list here to fall behind it). Each rule is kept as
    generated if the kernel runs it, else cut down step by step (`_rule_cuts`: conditions on more than the
    event, then every condition, then its caps and budget, its trigger, its code) until it does, else left
    out; a campaign keeps only its rules, its code and its `best of`. Then the program-wide settings the kernel may decline
    (`_program_cuts`: draws, expiry at a period's end, offers with a lifetime, acceptance windows) are cut one
    at a time while the support still declines the program. The result may draw warnings (a reward no rule
    gives any more), so compile it with `loyalty.compile_source`; when a cut makes it invalid (rare), or the
    support declines what no cut removes, it is returned as far as it got (callers `assume` it is supported)."""
    from loyalty.syntax import ast

    def campaign(d):
        return ast.CampaignDecl(d.name, tuple(c for c in d.clauses if isinstance(c, (ast.RuleDecl, ast.WithCode, ast.BestOf))))

    program = ast.Program(tuple(campaign(d) if isinstance(d, ast.CampaignDecl) else d for d in program.declarations))
    level: dict[str, int] = {}  # rule name -> how many of _RULE_CUTS it takes (len: left out)
    cuts = 0  # how many of _PROGRAM_CUTS are applied
    while True:
        cut = _cut_program(program, level, cuts)
        compiled = _compiled(cut)
        if compiled is None:
            return cut
        declined = _declined_rules(compiled)
        if declined:
            for name in declined:
                level[name] = level.get(name, 0) + 1
            continue
        if _supported(compiled) or cuts == len(_PROGRAM_CUTS):
            return cut
        cuts += 1


def draw_vectorisable_program(data):
    """(text, program): a generated program cut down to what the vectorised kernel runs (`vectorisable`),
    formatted, and compiled from that text; rejected (`assume`) where cutting clauses out made it invalid
    (rare)."""
    from hypothesis import assume

    import loyalty
    from loyalty.diagnostics import LoyaltyError
    from loyalty.syntax.formatter import format_program
    from strategies import valid_programs

    text = format_program(vectorisable(data.draw(valid_programs(), label="program")))
    try:
        return text, loyalty.compile_source(text, "generated.loyalty")
    except LoyaltyError:
        assume(False)
        raise  # (assume(False) ends the example)


def _rule_cuts():
    """Each step cuts more of a rule: clauses the kernel may decline, most specific first."""
    from loyalty.syntax import ast

    filters = (ast.OnItems, ast.OnCategories, ast.ForTiers)
    conditions = tuple(getattr(ast.Condition, "__args__", ()))
    triggers = tuple(getattr(ast.Trigger, "__args__", ()))
    return [lambda c: isinstance(c, conditions) and not isinstance(c, filters),
            lambda c: isinstance(c, conditions),
            lambda c: isinstance(c, (ast.Cap, ast.Budget)),
            lambda c: isinstance(c, triggers),
            lambda c: isinstance(c, ast.WithCode)]


def _program_cuts():
    """Program-wide settings the kernel may decline, each a function of a declaration (None: left out)."""
    from loyalty.syntax import ast

    def no_draws(d):
        return None if isinstance(d, ast.DrawDecl) else d

    def no_period_end(d):
        if isinstance(d, ast.PointsDecl):
            return ast.PointsDecl(d.name, tuple(s for s in d.settings if not isinstance(s, ast.ExpireAtPeriodEnd)))
        return d

    def no_lifetimes(d):
        if isinstance(d, ast.RewardDecl) and (d.valid_for or d.valid_until) is not None:
            return ast.RewardDecl(d.name, d.kind, d.cost, stock=d.stock)
        return d

    def no_windows(d):
        if isinstance(d, ast.ProgramDecl):
            return ast.ProgramDecl(d.name, tuple(s for s in d.settings if not isinstance(s, ast.AcceptanceWindow)))
        return d

    def no_enrolment(d):
        if isinstance(d, ast.ProgramDecl):
            return ast.ProgramDecl(d.name, tuple(s for s in d.settings if not isinstance(
                s, (ast.MembersJoinAtSignup, ast.PreSignupWindow))))
        return d

    return [no_draws, no_period_end, no_lifetimes, no_windows, no_enrolment]


_RULE_CUTS = _rule_cuts()
_PROGRAM_CUTS = _program_cuts()


def _cut_program(program, level: dict, cuts: int):
    from loyalty.syntax import ast

    def rule(r):
        n = level.get(r.name.value, 0)
        if n > len(_RULE_CUTS):
            return None
        return ast.RuleDecl(r.name, tuple(c for c in r.clauses if not any(cut(c) for cut in _RULE_CUTS[:n])))

    decls = []
    for d in program.declarations:
        if isinstance(d, ast.RuleDecl):
            d = rule(d)
        elif isinstance(d, ast.CampaignDecl):
            clauses = [c if not isinstance(c, ast.RuleDecl) else rule(c) for c in d.clauses]
            clauses = [c for c in clauses if c is not None]
            d = ast.CampaignDecl(d.name, tuple(clauses)) if any(isinstance(c, ast.RuleDecl) for c in clauses) else None
        for program_cut in _PROGRAM_CUTS[:cuts]:
            if d is not None:
                d = program_cut(d)
        if d is not None:
            decls.append(d)
    return without_unused_params(ast.Program(tuple(decls)))


def _compiled(program):
    """The compiled program of an AST (compiled straight from it: checking each step's text costs ~10x more), or
    None when a cut made it one the compiler refuses (the caller's own check of the result says why)."""
    from loyalty.compiler import compile_program

    try:
        return compile_program(program, "generated.loyalty")
    except Exception:  # noqa: BLE001 (an unchecked program may fail anywhere in the compiler)
        return None


def _declined_rules(compiled) -> set:
    """The names of the rules the kernel declines: by their own reasons, or named by the program's."""
    from loyalty.simulate.vector.support import rule_reason, supports

    out = {r.name for r in compiled.rules if rule_reason(compiled, r) is not None}
    if not out:
        why = supports(compiled) or ""
        out = {r.name for r in compiled.rules if why.startswith(f"rule {r.name!r}")}
    return out


def _supported(compiled) -> bool:
    from loyalty.simulate.vector.support import supports

    return supports(compiled) is None


@dataclass
class MemberHistory:
    member: str
    attributes: dict
    events: list[dict]


_KINDS = ["purchase"] * 5 + ["return"] * 2 + ["tick", "visit", "signup", "referral", "action", "redemption",
                                              "duplicate", "adjustment", "referred",
                                              "referral_qualified"]
# other members a referral names (a member never names herself: that is a bad row of a history)
_OTHERS = ["m0", "m1", "m2", "m3"]
_STEPS_MIN = [0, 1, 59, 60, 60 * 24, 60 * 24 * 7, 60 * 24 * 35, 60 * 24 * 200]


@st.composite
def member_histories(draw, program, member: str = "m1", max_events: int = 16) -> MemberHistory:
    f = facts(program)
    exp = f.exponent
    attributes: dict = {}
    if f.segments:
        attributes["segments"] = draw(st.lists(st.sampled_from(f.segments), max_size=2, unique=True))
    anchor_st = st.sampled_from(f.anchors)
    if draw(st.booleans()):
        # often on a day an event falls on, so that birthday rules can fire
        day = draw(anchor_st).astimezone(f.tz).date()
        year = 1992 if (day.month, day.day) == (2, 29) else 1990
        attributes["birthday"] = dt.date(year, day.month, day.day).isoformat()

    clock = draw(anchor_st) + dt.timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)))
    events: list[dict] = []
    orders: list[dict] = []  # what the member bought: order id, lines, what is left to return
    for i in range(draw(st.integers(min(6, max_events), max_events))):
        move = draw(st.sampled_from(["step"] * 5 + ["anchor", "dst", "late"]))
        wall: Optional[dt.datetime] = None  # a naive wall time written as is (maybe in a skipped or repeated hour)
        if move == "step":
            clock += dt.timedelta(minutes=draw(st.sampled_from(_STEPS_MIN)))
        elif move == "anchor" or (move == "dst" and not f.dst_changes):
            clock = draw(anchor_st) + dt.timedelta(minutes=draw(st.integers(-24 * 60, 24 * 60)))
        elif move == "dst":
            change = draw(st.sampled_from(f.dst_changes))
            # wall times from an hour before the change, every 10 minutes: some do not exist or exist twice
            wall = (change - dt.timedelta(hours=1)).astimezone(f.tz).replace(tzinfo=None) + dt.timedelta(
                minutes=10 * draw(st.integers(0, 12)))
            clock = wall.replace(tzinfo=f.tz).astimezone(UTC)
        else:  # a late event: earlier than the member's clock
            clock -= dt.timedelta(minutes=draw(st.sampled_from([1, 60, 60 * 24, 60 * 24 * 10])))
        style = draw(st.sampled_from(["local", "local", "zone offset", "utc"]))
        if wall is not None:
            stamp = wall.isoformat()
        elif style == "local":
            stamp = clock.astimezone(f.tz).replace(tzinfo=None).isoformat()
        elif style == "zone offset":
            stamp = clock.astimezone(f.tz).isoformat()
        else:
            stamp = clock.isoformat()

        kinds = _KINDS + ["redemption"] * 2 if f.redeemable else _KINDS
        kind = draw(st.sampled_from(kinds + ["fee"] * 2 if f.paid_tiers else kinds))
        if kind == "return" and not orders:
            kind = "purchase"
        if kind == "duplicate" and not any("tick" not in e for e in events):
            kind = "tick"
        body: dict = {"time": stamp}
        if kind == "purchase":
            order_id = f"o{i}"
            lines = []
            for _ in range(draw(st.integers(1, 3))):
                item, category = draw(st.sampled_from(f.items))
                # a price of up to 1, 10, ... 10000 units, often with a fraction of a unit (0 now and then)
                whole = draw(st.integers(0, draw(st.sampled_from([1, 10, 100, 1000, 10000]))))
                minor = whole * 10**exp + (draw(st.integers(0, 10**exp - 1)) if exp and draw(st.booleans()) else 0)
                line = {"item": item, "quantity": draw(st.integers(1, 4)), "amount": money_text(minor, exp)}
                if category is not None:
                    line["category"] = category
                lines.append(line)
            body.update(order=order_id, lines=lines)
            store = draw(st.sampled_from(f.stores))
            channel = draw(st.sampled_from(CHANNELS))
            if store is not None:
                body["store"] = store
            if channel is not None:
                body["channel"] = channel
            if draw(st.integers(0, 2)) == 0:  # codes (runtime/mechanics/codes.py): known, repeated, unknown
                body["codes"] = draw(st.lists(st.sampled_from(f.codes), min_size=1, max_size=3))
            if draw(st.booleans()):
                body["id"] = f"p{i}"
            quantities: dict[str, int] = {}
            for ln in lines:
                quantities[ln["item"]] = quantities.get(ln["item"], 0) + ln["quantity"]
            gross = sum(int(round_minor(ln["amount"], exp)) for ln in lines)
            orders.append({"order": order_id, "left": quantities, "gross": gross, "lines": lines})
        elif kind == "return":
            o = draw(st.sampled_from(orders))
            body.update(order=o["order"], id=f"r{i}")
            shape = draw(st.sampled_from(["whole", "lines", "lines", "amount"]))
            if shape == "lines":
                names = draw(st.lists(st.sampled_from(sorted(o["left"])), min_size=1, max_size=2, unique=True))
                rl = []
                for name in names:
                    left = o["left"][name]
                    q = draw(st.integers(1, max(1, left + (1 if draw(st.integers(0, 9)) == 0 else 0))))
                    rl.append({"item": name, "quantity": q})
                    o["left"][name] = left - q
                body["lines"] = rl
            elif shape == "amount":
                body["amount"] = money_text(draw(st.integers(1, max(1, o["gross"]))), exp)
        elif kind == "visit":
            store = draw(st.sampled_from(f.stores))
            if store is not None:
                body["store"] = store
            body["id"] = f"v{i}"
        elif kind == "action":
            body.update(name=draw(st.sampled_from(f.actions)), id=f"a{i}")
        elif kind == "redemption":
            choices = list(f.redeemable) * 4 + list(f.other_rewards)
            body.update(reward=draw(st.sampled_from(choices)), id=f"x{i}")
        elif kind == "adjustment":  # runtime/mechanics/adjustments.py: points, a tier, a punch card
            body.update(id=f"j{i}", reason=draw(st.sampled_from(["opening balance", "goodwill"])))
            what = draw(st.sampled_from(["points"] * 3 + (["tier"] if f.tiers else [])
                                        + (["punches"] if f.punch_rules else [])))
            if what == "points" and f.point_kinds:
                setting = draw(st.booleans())
                body.update(points=draw(st.integers(0 if setting else 1, 3000)), set=setting)
                if len(f.point_kinds) > 1 or draw(st.booleans()):
                    body["point_kind"] = draw(st.sampled_from(f.point_kinds))
            elif what == "tier":
                body["tier"] = draw(st.sampled_from(f.tiers + (None,)))
            elif what == "punches":
                rule, cycle = draw(st.sampled_from(f.punch_rules))
                setting = draw(st.booleans())
                body.update(rule=rule, punches=draw(st.integers(0, cycle - 1)) if setting else draw(st.integers(1, 9)),
                            set=setting)
            else:  # a program without points: refused (no point kind)
                body.update(points=draw(st.integers(1, 100)))
        elif kind == "fee":  # runtime/mechanics/fees.py: a paid tier, now and then a tier without a fee
            free = [t for t in f.tiers if t not in f.paid_tiers]
            body.update(id=f"f{i}", tier=draw(st.sampled_from(list(f.paid_tiers) * 4 + free + ["no such tier"])))
        elif kind in ("signup", "referral"):
            if draw(st.integers(0, 3)):  # without an id, the event is identified by its content
                body["id"] = f"{kind[0]}{i}"
            if kind == "referral" and draw(st.booleans()):  # naming the new member (two-sided referral)
                body["referred"] = draw(st.sampled_from([m for m in _OTHERS if m != member]))
        elif kind == "referred":
            body["referred_by"] = draw(st.sampled_from([m for m in _OTHERS if m != member]))
        elif kind == "referral_qualified":
            rules = [r.name for r in program.compiled.rules if r.trigger == "referring_purchase"]
            body.update(referred=draw(st.sampled_from([m for m in _OTHERS if m != member])),
                        rule=draw(st.sampled_from(rules + ["no such rule"])), id=f"q{i}")
        elif kind == "duplicate":
            earlier = draw(st.sampled_from([e for e in events if "tick" not in e]))
            (k, b), = earlier.items()
            if "id" in b and draw(st.integers(0, 3)) == 0:
                events.append({k: {**b, "time": stamp}})  # the same id resent later
            else:
                events.append(earlier)
            continue
        events.append({kind: body})
    return MemberHistory(member, attributes, events)


def round_minor(amount: str, exponent: int) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 10**exponent + (int(frac.ljust(exponent, "0")) if exponent else 0)


HISTORY_HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel",
                  "event", "codes", "adjust", "reason"]


def history_rows(histories: list[MemberHistory], exponent: int, paid_tiers: tuple = ()) -> list[dict]:
    """The members' events as history rows (docs/simulate.md). Ticks have no row; an action is `custom`
    (its name in `item`); a whole return is a return of the order's amount; a resend is written only
    when it has an id (rows of one order id are one order, so an id-less resent purchase would add lines).
    A fee is a row only when it names one of `paid_tiers` as read (another would be a bad row of the history)."""
    rows: list[dict] = []
    for h in histories:
        bought: dict[str, list[dict]] = {}
        for ev in h.events:
            (kind, b), = ev.items()
            base = {"member": h.member, "time": b["time"], "event": b.get("id", "")}
            if kind == "purchase":
                if b["order"] in bought:  # a resend: same rows again, which only an id makes a resend
                    if "id" not in b:
                        continue
                bought[b["order"]] = b["lines"]
                for ln in b["lines"]:
                    rows.append({**base, "type": "purchase", "order": b["order"], "item": ln["item"],
                                 "category": ln.get("category", ""), "quantity": ln["quantity"],
                                 "amount": ln["amount"], "store": b.get("store", ""), "channel": b.get("channel", ""),
                                 "codes": " ".join(b.get("codes", ()))})
            elif kind == "return":
                lines = bought.get(b["order"], [])
                if "lines" in b:
                    for rl in b["lines"]:
                        sold = next((ln for ln in lines if ln["item"] == rl["item"]), None)
                        paid = round_minor(sold["amount"], exponent) * rl["quantity"] // sold["quantity"] if sold else 0
                        rows.append({**base, "type": "return", "order": b["order"], "item": rl["item"],
                                     "quantity": rl["quantity"], "amount": money_text(paid, exponent)})
                else:
                    whole = sum(round_minor(ln["amount"], exponent) for ln in lines)
                    amount = b.get("amount") or money_text(whole, exponent)
                    rows.append({**base, "type": "return", "order": b["order"], "amount": amount})
            elif kind == "visit":
                rows.append({**base, "type": "visit", "store": b.get("store", "")})
            elif kind == "action":
                rows.append({**base, "type": "custom", "item": b["name"]})
            elif kind == "redemption":
                rows.append({**base, "type": "redemption", "item": b["reward"]})
            elif kind in ("signup", "referral"):
                rows.append({**base, "type": kind, "item": b.get("referred", "")})
            # `referred` and `referral_qualified` have no row: a simulation derives them from the referral rows
            # (simulate/referrals.py)
            elif kind == "adjustment":  # docs/simulate.md: adjust says what and how much, item which kind or rule
                if "tier" in b:
                    adjust, item = f"tier ={b['tier'] or ''}", ""
                elif "punches" in b:
                    adjust, item = f"punches {'=' if b['set'] else '+'}{b['punches']}", b["rule"]
                else:
                    adjust, item = f"points {'=' if b.get('set') else '+'}{b['points']}", b.get("point_kind", "")
                rows.append({**base, "type": "adjustment", "item": item, "adjust": adjust, "reason": b["reason"]})
            elif kind == "fee" and b["tier"] in paid_tiers and b["tier"] == b["tier"].strip():
                # the paid tier in the item column (a history's values are read trimmed: a tier named with a
                # space at an end cannot be named there, the row would be a bad one)
                rows.append({**base, "type": "fee", "item": b["tier"]})
    return rows


def write_history(path, rows: list[dict]) -> None:
    """The rows as a CSV file at `path` (or into an open text stream)."""
    if hasattr(path, "write"):
        w = csv.DictWriter(path, fieldnames=HISTORY_HEADER)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in HISTORY_HEADER})
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        write_history(fh, rows)


def write_attributes(path, histories: list[MemberHistory]) -> None:
    """member, birthday, segments (separated by ';'); segment names the format cannot carry are left out."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["member", "birthday", "segments"])
        for h in histories:
            segs = [s for s in h.attributes.get("segments", ()) if s and s == s.strip() and not set(s) & set(";|\r\n")]
            w.writerow([h.member, h.attributes.get("birthday", ""), ";".join(segs)])
