"""A compiled program in plain words: what `loyalty describe` prints, and the language server's hover.

`describe(program, scenario, warnings)` turns a `CompiledProgram` (never the text) into one document with
stable keys: each rule as a customer-facing sentence, the terms and conditions the program implies, a
table of effective reward rates per rule and tier, the worst case per member where caps make it finite,
and warnings. `render_text`, `render_markdown` and `json.dumps(...)` show it; `rule_markdown` is one
rule's sentence and rate, for a hover.

Rates are shares of spend (docs/describe.md): at list price (what the member gets, valued at the shop's
prices or a reward's face value) and at cost (what it costs the business). The arithmetic is
`loyalty/rates.py`, shared with the checker's warning LOY315. A point's value in money comes from the
program (`cost ... each`; a redemption whose reward has a money face value) or from the scenario file's
`cost_per_point` (`--assumptions`), never invented: where it is unknown, the rate says so.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, Optional

from loyalty import rates
from loyalty.runtime.program import CompiledProgram

FORMAT = "loyalty-describe/1"

_WEEKDAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
# how many of each calendar period a year can touch, for the worst case per member per year
_PERIODS_PER_YEAR = {"day": 366, "week": 53, "month": 12, "quarter": 4, "year": 1}
_CMP_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "=": "exactly",
              "!=": "not"}
_MEASURE_WORDS = {"order_total": "the order total", "order_items": "the number of items in the order",
                  "lifetime_spend": "your spend so far", "visits": "your number of visits"}


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _names(names, joiner: str = "or") -> str:
    quoted = [f'"{n}"' for n in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {joiner} " + quoted[-1]


def _plural(n, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Describer:
    def __init__(self, program: CompiledProgram, scenario=None):
        self.prog = program
        self.doc = program.doc
        self.currency = program.currency
        self.exponent = program.exponent
        self.scenario = scenario
        self.rewards = self.doc.get("rewards", {})
        self.items = self.doc.get("items", {})
        self.kinds = {k["name"]: k for k in self.doc.get("point_kinds", ())}
        tiers = self.doc.get("tiers") or None
        self.tiers = tiers["tiers"] if tiers else []
        self.assumptions: list[str] = []
        self.point_cost = {k: self._point_cost(k) for k in self.kinds}
        self.point_value = {k: self._point_value(k) for k in self.kinds}

    # ------------------------------------------------------------ money and points in money
    def money(self, minor) -> Fraction:
        return Fraction(minor) / (10 ** self.exponent)

    def money_text(self, amount: Fraction) -> str:
        """An amount in the currency: whole amounts without decimals (35 NOK), others to the minor unit."""
        if amount.denominator == 1:
            return f"{amount.numerator} {self.currency}"
        return f"{rates.decimal_text(amount, max(self.exponent, 2))} {self.currency}"

    def point_money_text(self, amount: Fraction) -> str:
        """What one point is worth or costs: to 4 decimals (a point may be worth a fraction of a cent)."""
        return f"{rates.decimal_text(amount, 4)} {self.currency}"

    def _point_cost(self, kind: str) -> Optional[Fraction]:
        given = self.scenario.cost_per_point if self.scenario is not None else {}
        if kind in given:
            self.assumptions.append(f"{kind}: a point costs {given[kind]} {self.currency} (the assumptions file)")
            return Fraction(given[kind])
        cost = self.kinds[kind].get("cost_minor")
        return None if cost is None else self.money(Fraction(Decimal(cost)))

    def _point_value(self, kind: str) -> Optional[tuple[Fraction, str]]:
        """What a point is worth to the member: the best face value per point among the redemptions of the
        kind whose reward has a money face value (an amount off, a gift card); None when none has."""
        best: Optional[tuple[Fraction, str]] = None
        for rd in self.doc.get("redeem", ()):
            reward = self.rewards.get(rd["reward"], {})
            if rd["point_kind"] != kind or reward.get("kind") not in ("amount_off", "gift_card") or rd["price"] <= 0:
                continue
            value = self.money(reward["face_minor"]) / rd["price"]
            if best is None or value > best[0]:
                best = (value, rd["reward"])
        return best

    def reward_cost(self, name: str) -> Fraction:
        given = self.scenario.reward_costs if self.scenario is not None else {}
        if name in given:
            return Fraction(given[name])
        return self.money(self.rewards[name]["cost_minor"])

    def reward_face(self, name: str) -> Optional[Fraction]:
        """A reward's value to the member at list price, where the program knows it."""
        r = self.rewards[name]
        if r["kind"] in ("amount_off", "gift_card"):
            return self.money(r["face_minor"])
        return None  # a free item's or gift's shelf price is in the history, not the program

    def item_cost(self, item: str) -> Optional[Fraction]:
        given = self.scenario.item_costs if self.scenario is not None else {}
        if item in given:
            return Fraction(given[item])
        cost = self.items.get(item, {}).get("cost_minor")
        return None if cost is None else self.money(cost)

    # ------------------------------------------------------------ words
    def selector_words(self, f: dict) -> str:
        if f.get("any"):
            return "item"
        if f.get("items"):
            return "of " + _names(f["items"])
        return "item in " + _names(f["categories"])

    def lines_words(self, rule: dict) -> str:
        """On which lines a per-spend rule, multiplier or discount acts: '' for every line."""
        parts = []
        for f in rule.get("line_filters", ()):
            if f.get("any"):
                continue
            if f.get("items"):
                parts.append("on " + _names(f["items"]))
            if f.get("categories"):
                parts.append("on items in " + _names(f["categories"]))
        return " and ".join(parts)

    def reward_words(self, name: str) -> str:
        r = self.rewards[name]
        kind = r["kind"]
        if kind == "free_item":
            items = r.get("free_items")
            return f'"{name}" (a free ' + (_names(items) if items else "item") + ")"
        if kind == "amount_off":
            return f'"{name}" ({self.money_text(self.money(r["face_minor"]))} off your next order)'
        if kind == "percent_off":
            return f'"{name}" ({rates.decimal_text(Fraction(Decimal(r["percent"])), 2)}% off your next order)'
        if kind == "gift_card":
            return f'"{name}" (a {self.money_text(self.money(r["face_minor"]))} gift card)'
        if kind == "gift":
            return f'"{name}" (a gift)'
        return f'"{name}"'

    def points_words(self, amount, kind: str) -> str:
        value = amount if isinstance(amount, Fraction) else Fraction(Decimal(str(amount)))
        text = rates.decimal_text(value, 4)
        return f"{text} {kind[:-1] if value == 1 and kind.endswith('s') else kind}"

    def trigger_words(self, trigger: Optional[dict], conditional: bool = False) -> str:
        if trigger is None:
            return "on a purchase" if conditional else "on every purchase"
        t = trigger["type"]
        if t == "signup":
            return "when you join"
        if t == "first_purchase":
            return "on your first purchase"
        if t == "action":
            return f'each time you do "{trigger["name"]}"'
        if t == "nth_visit":
            return f"on your {ordinal(trigger['n'])} visit"
        if t == "every_visits":
            return f"every {trigger['n']} visits"
        if t == "birthday":
            return "on each of your birthdays"
        if t == "anniversary":
            return "on each anniversary of the day you joined"
        if t == "tier_reached":
            return f'when you reach tier "{trigger["name"]}"'
        if t == "nth_purchase":
            return f"on your {ordinal(trigger['n'])} purchase"
        if t == "inactivity":
            n, unit = trigger["amount"], trigger["unit"]
            return f"when you have not bought anything for {_plural(n, unit)}"
        if t == "goal":
            return self.goal_words(trigger)
        if t == "streak":
            n, what = trigger["n"], trigger["counts"][:-1]
            return (f"when you make a {what} in each of {n} {trigger['period']}s in a row (calendar "
                    f"{trigger['period']}s), each time")
        if t in ("referring", "referring_purchase", "referred", "referred_purchase"):
            return self.referral_words(trigger)
        return f"every {self.money_text(self.money(trigger['minor']))} you spend"

    def goal_words(self, trigger: dict) -> str:
        """`after 3 visits on different days in a calendar month` in the member's words."""
        n, counts = trigger["target"], trigger["counts"]
        if counts == "spend":
            what = f"spend {self.money_text(self.money(n))}"
        else:
            noun = counts[:-1] if n == 1 else counts
            what = f"make {n} {noun}" + (" on different days" if trigger["different_days"] else "")
        w = trigger["window"]
        if w["kind"] == "calendar":
            return f"when you {what} in one calendar {w['period']}, once a {w['period']}"
        amount, unit = w["amount"], w["unit"]
        return f"when you {what} within {_plural(amount, unit)}, each time"

    def referral_words(self, trigger: dict) -> str:
        """A referral trigger as the terms say it (runtime/mechanics/referral.py)."""
        t = trigger["type"]
        if t == "referring":
            return "for each friend you refer"
        if t == "referred":
            return "when a member refers you"
        n, unit = trigger["amount"], trigger["unit"]
        spend = (f"spends at least {self.money_text(self.money(trigger['minor']))} within {_plural(n, unit)} "
                 "of being referred")
        if t == "referring_purchase":
            return f"for each friend you refer who {spend}"
        return "when a member refers you and you " + spend.replace("spends", "spend", 1)

    def expr_words(self, e: dict) -> str:
        op = e["op"]
        if op in ("and", "or"):
            return f" {op} ".join(self.expr_words(a) if a["op"] not in ("and", "or") else f"({self.expr_words(a)})"
                                  for a in e["args"])
        if op == "not":
            return f"not ({self.expr_words(e['arg'])})"
        if op == "has_item":
            return f'the order has "{e["name"]}"'
        if op == "has_category":
            return f'the order has an item in "{e["name"]}"'
        if op == "first_purchase":
            return "it is your first purchase"
        measure = e["measure"]
        if measure == "balance":
            words = f"your {e['point_kind']} balance"
            value = self.points_words(e["value"], e["point_kind"])
        else:
            words = _MEASURE_WORDS[measure]
            value = self.money_text(self.money(e["value"])) if measure in ("order_total", "lifetime_spend") \
                else str(e["value"])
        return f"{words} is {_CMP_WORDS[e['cmp']]} {value}"

    def condition_words(self, c: dict) -> str:
        k = c["kind"]
        if k == "dates":
            if c.get("from") and c.get("to"):
                return f"from {c['from']} to {c['to']}"
            return f"from {c['from']}" if c.get("from") else f"until {c['to']}"
        if k == "weekdays":
            days = c["days"]
            if days == [0, 1, 2, 3, 4]:
                return "on weekdays"
            if days == [5, 6]:
                return "on weekends"
            return "on " + ", ".join(_WEEKDAY_NAMES[d] for d in days)
        if k == "hours":
            (h1, m1), (h2, m2) = c["from"], c["to"]
            return f"between {h1:02d}:{m1:02d} and {h2:02d}:{m2:02d}"
        if k == "segments":
            return "for members in " + _names(c["names"])
        if k == "tiers":
            return "for " + _names(c["names"]) + " members"
        if k == "stores":
            return "in " + (_names(c["names"]) if c["names"] else "no store")
        if k == "channels":
            return "when you buy through " + _names(c["names"])
        if k == "birthday_month":
            return "in your birthday month"
        if k == "birthday":
            return "on your birthday"
        return "when " + self.expr_words(c["expr"])

    def cap_words(self, cap: dict) -> str:
        if cap["scope"].startswith("once:"):
            return "once per member, by what triggers it"
        unit, amount = cap["unit"], cap["amount"]
        if unit == "times":
            what = "once" if amount == 1 else f"{amount} times"
        elif unit == "points":
            what = f"{amount} points"
        else:
            what = self.money_text(self.money(amount))
        period = f" per {cap['period']}" if cap.get("period") else ""
        shared = f' (shared by the rules of campaign "{cap["scope"].split(":", 1)[1]}")' \
            if cap["scope"].startswith("campaign:") else ""
        return f"at most {what} per member{period}{shared}"

    # ------------------------------------------------------------ one rule's sentence
    def sentence(self, rule: dict) -> str:
        a = rule["action"]
        t = a["type"]
        lines = self.lines_words(rule)
        if t == "punch":
            sel = rule["line_filters"][0] if rule.get("line_filters") else {"any": True}
            what = self.selector_words(sel)
            cycle, free, percent = a["cycle"], a["free"], Fraction(Decimal(a["percent"]))
            off = "free" if percent == 100 else f"{rates.decimal_text(percent, 2)}% off"
            if free == 1:
                text = f"Every {ordinal(cycle)} {what} is {off}"
                if percent == 100:
                    text += f" (pay for {cycle - 1}, the {ordinal(cycle)} is free)"
            else:
                text = f"Pay for {cycle - free} {what}, and the next {free} are {off}"
        elif t == "earn_per_spend":
            text = (f"Earn {self.points_words(a['points'], a['point_kind'])} per "
                    f"{self.money_text(self.money(a['per_minor']))} spent" + (f" {lines}" if lines else ""))
        elif t == "earn_per_event":
            if a["event"] == "visit":
                text = f"Earn {self.points_words(a['points'], a['point_kind'])} per visit"
            else:
                text = f"Earn {self.points_words(a['points'], a['point_kind'])} for each friend you refer"
        elif t == "earn_fixed":
            text = (f"Earn {self.points_words(a['points'], a['point_kind'])} "
                    f"{self.trigger_words(rule.get('trigger'), bool(rule.get('conditions')))}")
        elif t == "multiplier":
            kind = a.get("point_kind") or "points"
            text = f"Earn {rates.decimal_text(Fraction(Decimal(a['factor'])), 4)}x {kind}" + \
                (f" {lines}" if lines else "")
        elif t == "give":
            text = (f"Get {self.reward_words(a['reward'])} "
                    f"{self.trigger_words(rule.get('trigger'), bool(rule.get('conditions')))}")
        elif t == "discount":
            text = f"Get {rates.decimal_text(Fraction(Decimal(a['percent'])), 2)}% off" + \
                (f" {lines}" if lines else " your order")
        elif t == "discount_each":
            text = f"Get {self.money_text(self.money(a['amount_minor']))} off each unit" + \
                (f" {lines}" if lines else "")
        elif t == "discount_order":
            text = (f"Get {self.money_text(self.money(a['amount_minor']))} off orders over "
                    f"{self.money_text(self.money(a['over_minor']))}" + (f" ({lines})" if lines else ""))
        elif t == "fixed_price":
            sel = rule["line_filters"][0] if rule.get("line_filters") else {"any": True}
            text = f"Pay {self.money_text(self.money(a['price_minor']))} for each {self.selector_words(sel)}"
        elif t == "bundle":
            sel = rule["line_filters"][0] if rule.get("line_filters") else {"any": True}
            text = (f"Buy {a['buy']} {self.selector_words(sel)}, get {a['free']} free in the same order "
                    f"(the cheapest)")
        elif t == "discount_scale":
            metric = self.metric_words(self.doc["metrics"][a["metric"]])
            steps = ", ".join(f"{rates.decimal_text(Fraction(Decimal(s['percent'])), 2)}% from "
                              f"{self.threshold_words(s['threshold'], self.doc['metrics'][a['metric']])}"
                              for s in a["steps"])
            text = f"Get a discount that grows with {metric}: {steps}"
        else:  # pragma: no cover - the compiler makes no other action
            text = f"Action {t}"
        conditions = [self.condition_words(c) for c in rule.get("conditions", ())]
        if rule.get("code") is not None:
            conditions.insert(0, f'with the code "{rule["code"]}"')
        if conditions:
            text += ", " + ", ".join(conditions)
        stacking = self.stacking_words(rule.get("stacking"), "gifts" if t == "give" else "discounts")
        if stacking:
            text += "; " + stacking
        return text + "."

    def stacking_words(self, s: Optional[dict], offers: str = "discounts") -> str:
        """What a discount's (or with `offers="gifts"`, a gift's) stacking clauses mean to a member
        (runtime/mechanics/stacking.py)."""
        if not s:
            return ""
        words = []
        if s.get("exclusive"):
            words.append(f"not combined with other {offers}")
        if s.get("group") is not None:
            words.append(f'only the best {offers[:-1]} of "{s["group"]}" {"is given" if offers == "gifts" else "applies"}')
        if s.get("priority") is not None:
            words.append(f"priority {s['priority']} (1 first) when {offers} compete")
        return ", ".join(words)

    def metric_words(self, m: dict) -> str:
        base = {"spend": "your spend", "visits": "your visits"}.get(m["kind"]) or f"the {m['point_kind']} you earn"
        w = m.get("window")
        if w is None:
            return base + " since you joined"
        if w["kind"] == "rolling":
            return base + f" in the last {_plural(w['amount'], w['unit'])}"
        return base + f" in the calendar {w['period']}"

    def threshold_words(self, threshold, m: dict) -> str:
        if m["kind"] == "spend":
            return self.money_text(self.money(threshold))
        if m["kind"] == "visits":
            return _plural(threshold, "visit")
        return self.points_words(threshold, m["point_kind"])

    # ------------------------------------------------------------ rates
    def spend_rules(self, kind: str) -> list[dict]:
        return [r for r in self.doc["rules"] if r["action"]["type"] == "earn_per_spend"
                and r["action"]["point_kind"] == kind]

    def tier_factor(self, tier: Optional[dict], kind: str) -> Fraction:
        factor = Fraction(1)
        for m in (tier or {}).get("multipliers", ()):
            if m.get("point_kind") in (None, kind):
                factor *= Fraction(Decimal(m["factor"]))
        return factor

    def rate(self, rule: dict, tier: Optional[dict]) -> dict:
        """The effective rate of a rule for a member in `tier` (None: no tier): shares of spend at list price
        and at cost (None where unknown), and the basis in words."""
        a = rule["action"]
        t = a["type"]
        for c in rule.get("conditions", ()):
            if c["kind"] == "tiers" and (tier is None or tier["name"] not in c["names"]):
                return {"applies": False}
        out: dict[str, Any] = {"applies": True, "at_list_price": None, "at_cost": None, "per": None}
        if t == "punch":
            share = rates.punch_share(a["cycle"], a["free"], Decimal(a["percent"]))
            out["at_list_price"] = share
            out["on"] = "the items the card counts"
            if Decimal(a["percent"]) < 100:
                out["at_cost"] = share  # a discounted unit costs what it takes off
                out["basis"] = f"{a['free']} of every {a['cycle']} at {a['percent']}% off"
            else:
                sel = (rule.get("line_filters") or [{"any": True}])[0]
                costs = {i: self.item_cost(i) for i in sel.get("items", ())}
                out["basis"] = f"{a['free']} free of every {a['cycle']}"
                if costs and all(c is not None for c in costs.values()):
                    per_unit = {i: c * a["free"] / a["cycle"] for i, c in costs.items()}
                    out["per"] = {"unit": "item bought",
                                  "at_cost": {i: v for i, v in sorted(per_unit.items())}}
                    out["basis"] += ("; at cost, each free item costs its catalog cost: "
                                     + ", ".join(f'"{i}" {self.money_text(c)}' for i, c in sorted(costs.items()))
                                     + ", whose share of the price depends on the price (in the history)")
                else:
                    out["basis"] += "; at cost it depends on the items' prices (in the history)"
            return out
        if t in ("discount",):
            share = rates.percent_share(Decimal(a["percent"]))
            out.update(at_list_price=share, at_cost=share, on=self.lines_words(rule) or "every order",
                       basis="a discount costs what it takes off")
            return out
        if t == "discount_scale":
            top = max(Decimal(s["percent"]) for s in a["steps"])
            low = min(Decimal(s["percent"]) for s in a["steps"])
            out.update(at_list_price=rates.percent_share(top), at_cost=rates.percent_share(top), up_to=True,
                       on="every order", basis=f"from {low}% up to {top}% as the member's metric grows")
            return out
        if t == "discount_each":
            out.update(per={"unit": "unit bought", "at_list_price": self.money(a["amount_minor"]),
                            "at_cost": self.money(a["amount_minor"])},
                       on=self.lines_words(rule) or "every unit",
                       basis="a fixed amount per unit; its share depends on the price")
            return out
        if t == "fixed_price":
            price = self.money(a["price_minor"])
            out.update(on=self.lines_words(rule) or "every unit",
                       basis=f"each unit's price minus {self.money_text(price)} (never below nothing); its share "
                             f"depends on the prices (in the history)")
            return out
        if t == "discount_order":
            amount, over = self.money(a["amount_minor"]), self.money(a["over_minor"])
            order_share = rates.amount_share(amount, over) if over > 0 else None
            out.update(at_list_price=order_share, at_cost=order_share, up_to=True, on=self.lines_words(rule) or "every order",
                       basis=f"{self.money_text(amount)} off an order over {self.money_text(over)}: the most on an "
                             f"order just over it, less on larger orders")
            return out
        if t == "bundle":  # the most a bundle gives back: every unit at the same price (the cheapest are free)
            share = rates.punch_share(a["buy"] + a["free"], a["free"])
            out.update(at_list_price=share, at_cost=share, up_to=True, on="the items the bundle counts",
                       basis=f"the cheapest {a['free']} of every {a['buy'] + a['free']} in one order; as much as "
                             f"this when the units cost the same")
            return out
        if t in ("earn_per_spend", "multiplier") or (t == "earn_per_event" and a["event"] == "visit"):
            kind = a.get("point_kind")
            return self.points_rate(rule, tier, kind, out)
        # one-off and periodic gifts: rewards and fixed points
        value, cost = self.gift_value(a)
        trigger = rule.get("trigger") or {}
        if trigger.get("type") == "every_spend":
            spent = self.money(trigger["minor"])
            out.update(at_list_price=None if value is None else value / spent,
                       at_cost=None if cost is None else cost / spent,
                       on="spend", basis=f"given for every {self.money_text(spent)} spent")
            return out
        if trigger.get("type") == "every_visits":
            n = trigger["n"]
            out.update(per={"unit": "visit", "at_list_price": None if value is None else value / n,
                            "at_cost": None if cost is None else cost / n},
                       basis=f"given every {n} visits")
            return out
        floor = self.order_floor(rule)
        if not trigger and floor is not None:
            out.update(at_list_price=None if value is None else value / floor,
                       at_cost=None if cost is None else cost / floor, up_to=True, on="qualifying orders",
                       basis=f"given on orders of {self.money_text(floor)} or more: at most this share of one")
            return out
        if a["type"] == "earn_per_event":  # per referral
            out.update(per={"unit": "referral", "at_list_price": value, "at_cost": cost},
                       basis="a fixed amount for each friend referred")
            return out
        if a["type"] == "give" and value is None and cost is None and self.rewards[a["reward"]]["kind"] == "percent_off":
            percent = Fraction(Decimal(self.rewards[a["reward"]]["percent"]))
            out.update(next_order=percent / 100,
                       basis=f"{rates.decimal_text(percent, 2)}% off the member's next order, each time the rule "
                       "gives: its amount depends on that order")
            return out
        out.update(per={"unit": "time given", "at_list_price": value, "at_cost": cost},
                   basis="a fixed amount each time the rule gives, "
                   + self.trigger_words(rule.get("trigger"), bool(rule.get("conditions"))))
        return out

    def gift_value(self, a: dict) -> tuple[Optional[Fraction], Optional[Fraction]]:
        """What one firing of a give or fixed-points rule is worth: to the member, and at cost."""
        if a["type"] == "give":
            if self.rewards[a["reward"]]["kind"] == "percent_off" and not self.rewards[a["reward"]]["cost_declared"] \
                    and not (self.scenario is not None and a["reward"] in self.scenario.reward_costs):
                return None, None  # a percentage of the next order: its amount depends on that order
            return self.reward_face(a["reward"]), self.reward_cost(a["reward"])
        kind = a["point_kind"]
        value = self.point_value[kind]
        cost = self.point_cost[kind]
        points = Fraction(a["points"])
        return (None if value is None else points * value[0]), (None if cost is None else points * cost)

    def order_floor(self, rule: dict) -> Optional[Fraction]:
        """The smallest order total a rule's `when` allows (order total >= X, alone or in an `and`)."""
        floors = []
        for c in rule.get("conditions", ()):
            if c["kind"] != "expr":
                continue
            e = c["expr"]
            parts = e["args"] if e["op"] == "and" else [e]
            for p in parts:
                if p["op"] == "cmp" and p["measure"] == "order_total" and p["cmp"] in (">=", ">") and p["value"] > 0:
                    floors.append(self.money(p["value"]))
        return max(floors) if floors else None

    def points_rate(self, rule: dict, tier: Optional[dict], kind: Optional[str], out: dict) -> dict:
        a = rule["action"]
        t = a["type"]
        # a multiplier without a unit multiplies every point kind: its rate is shown for the first one
        kinds = [kind] if kind else list(self.kinds)
        kind = kinds[0] if kinds else None
        if kind is None:
            out["basis"] = "no point kind"
            return out
        factor = self.tier_factor(tier, kind)
        value, cost = self.point_value[kind], self.point_cost[kind]
        if t == "earn_per_spend":
            per_money = rates.points_per_money(Fraction(Decimal(a["points"])), self.money(a["per_minor"])) * factor
            out["on"] = self.lines_words(rule) or "every purchase"
        elif t == "multiplier":
            # the extra points on the lines of the per-spend rules it covers: (factor - 1) of their points
            def own(r):
                return rates.points_per_money(Fraction(Decimal(r["action"]["points"])),
                                              self.money(r["action"]["per_minor"]))

            spend = self.spend_rules(kind)
            everywhere = sum((own(r) for r in spend if not r.get("line_filters")), Fraction(0))
            if rule.get("line_filters"):  # its lines: the rules on every line and those on the same lines
                base = everywhere + sum((own(r) for r in spend if r.get("line_filters")
                                         and r.get("line_filters") == rule.get("line_filters")), Fraction(0))
            else:  # every line: the rules on every line, and at most the best of those on some lines
                narrow = [own(r) for r in spend if r.get("line_filters")]
                base = everywhere + max(narrow, default=Fraction(0))
                out["up_to"] = bool(narrow)
            per_money = base * factor * (Fraction(Decimal(a["factor"])) - 1)
            out["on"] = self.lines_words(rule) or "every purchase"
            out["extra"] = True
            visits = [r for r in self.doc["rules"] if r["action"]["type"] == "earn_per_event"
                      and r["action"]["event"] == "visit" and r["action"]["point_kind"] == kind]
            if not spend and visits and not rule.get("line_filters"):  # it multiplies the points per visit
                extra = sum((Fraction(r["action"]["points"]) for r in visits), Fraction(0)) * factor * \
                    (Fraction(Decimal(a["factor"])) - 1)
                out.update(on=None, per={"unit": "visit", "points": extra,
                                         "at_list_price": None if value is None else extra * value[0],
                                         "at_cost": None if cost is None else extra * cost})
                out["basis"] = f"{self.points_words(extra, kind)} more per visit"
                return out
        else:  # points per visit: on the typical order of the most generous per-spend rule (rates.py)
            spend = self.spend_rules(kind)
            visit_points = Fraction(a["points"]) * factor
            if not spend:
                out["per"] = {"unit": "visit", "points": visit_points,
                              "at_list_price": None if value is None else visit_points * value[0],
                              "at_cost": None if cost is None else visit_points * cost}
                out["basis"] = f"{rates.decimal_text(visit_points, 4)} {kind} per visit"
                return out
            best = max(spend, key=lambda r: rates.points_per_money(Fraction(Decimal(r["action"]["points"])),
                                                                   self.money(r["action"]["per_minor"])))
            comparison = rates.compare_visit_to_spend(visit_points, Fraction(Decimal(best["action"]["points"])),
                                                      self.money(best["action"]["per_minor"]))
            per_money = visit_points / comparison.order
            out["on"] = f"a typical order of {self.money_text(comparison.order)}"
        out["points_per_money"] = per_money
        out["at_list_price"] = None if value is None else per_money * value[0]
        out["at_cost"] = None if cost is None else per_money * cost
        notes = [f"{self.points_words(per_money, kind)} per {self.currency}"]
        if factor != 1:
            notes.append(f"{rates.decimal_text(factor, 4)}x for the tier")
        notes.append(f"a point worth {self.point_money_text(value[0])} (\"{value[1]}\")" if value else
                     "a point's value to the member is unknown (no redemption for money off or a gift card)")
        notes.append(f"costing {self.point_money_text(cost)}" if cost is not None else
                     "its cost is unknown (no `cost ... each`, no cost_per_point in the assumptions)")
        out["basis"] = ", ".join(notes)
        return out

    # ------------------------------------------------------------ terms and conditions
    def terms(self) -> list[str]:
        out = []
        runs = self.doc.get("runs") or {}
        if runs.get("from"):
            out.append(f"The program runs from {runs['from']}" + (f" to {runs['to']}." if runs.get("to") else
                                                                    ", with no end date."))
        enrolment = self.doc.get("enrolment")
        if enrolment is not None:  # `members join at signup` (runtime/mechanics/enrolment.py)
            w = enrolment.get("window")
            out.append("Membership starts when you sign up: purchases before that earn nothing" + (
                f", except those made up to {_plural(w['amount'], w['unit'])} before you sign up, which count once "
                "you have joined." if w else "."))
        for name, k in self.kinds.items():
            out.extend(self.kind_terms(name, k))
        for rd in self.doc.get("redeem", ()):
            out.append(f"{rd['price']} {rd['point_kind']} buy {self.reward_words(rd['reward'])}.")
        if self.doc.get("rewards_taken_back_on_return"):
            out.append("Returning the whole purchase that earned a reward (a free item, a gift, a voucher) "
                       "takes the reward back; a partial return does not.")
        elif any(r["action"]["type"] in ("punch", "give") for r in self.doc["rules"]):
            out.append("A reward already given (a free item, a gift, a voucher) is kept when the purchase "
                       "is returned.")
        if any(r["action"]["type"] == "punch" for r in self.doc["rules"]):
            out.append("Punch cards count items, not visits; returned items take their punches back.")
        policy = self.doc.get("stacking")  # runtime/mechanics/stacking.py
        if policy in ("one per order", "one per line"):
            out.append(f"At most one discount applies to {'an order' if policy == 'one per order' else 'each item'}: "
                       "the one with the first priority, else the one worth most to you.")
        if self.doc.get("gift_stacking") == "one per order":
            out.append("At most one gift is given with an order: the one with the first priority, else the one worth "
                       "most to you.")
        triggers = [(r.get("trigger") or {}) for r in self.doc["rules"]]
        if any(t.get("type") in ("goal", "streak") for t in triggers):  # docs/semantics.md, "Goals and streaks"
            out.append("Challenges count your purchases (and, where they say visits, your visits) as they happen; "
                       "what a challenge gives is kept when a purchase is returned.")
        if any(t.get("type") == "goal" and t.get("counts") == "spend" for t in triggers):
            out.append("A returned purchase no longer counts towards a spending challenge not yet reached.")
        for name, r in sorted(self.rewards.items()):
            v = r.get("valid_for")
            if v:  # an offer with a lifetime (docs/semantics.md, "Offers with a lifetime")
                n, unit = v["amount"], v["unit"]
                out.append(f'"{name}" is valid for {_plural(n, unit)} from when it is given: use it '
                           "on a purchase within that time, or it lapses.")
            elif r.get("valid_until"):
                out.append(f'"{name}" is valid until {r["valid_until"]} (that day included): use it on a purchase '
                           "by then, or it lapses.")
        for rule in self.doc["rules"]:
            # who, where and when: the segments, tiers, stores, channels and dates a rule is limited to
            limits = ["only " + self.condition_words(c) for c in rule.get("conditions", ())
                      if c["kind"] in ("segments", "tiers", "stores", "channels", "dates")]
            limits += [self.cap_words(c) for c in rule.get("caps", ())]
            budget = rule.get("budget")
            if budget:
                amount = self.doc["budgets"][budget["key"]]
                what = self.money_text(self.money(amount)) if budget["unit"] == "money" else f"{amount} points"
                owner = "the campaign" if budget["key"].startswith("campaign:") else "the rule"
                limits.append(f"only while {owner}'s budget of {what}, shared by all members, lasts")
            reward = self.rewards.get(rule["action"].get("reward") or "", {}) if rule["action"]["type"] == "give" else {}
            if reward.get("stock") is not None:
                limits.append(f'only while the stock of {reward["stock"]} "{rule["action"]["reward"]}", shared by all '
                              "members, lasts")
            code = rule.get("code")
            if code is not None:
                uses = self.doc.get("codes", {}).get(code, {}).get("uses")
                limits.append(f'the code "{code}" works once per member'
                              + (f", {_plural(uses, 'use')} in all" if uses is not None else ""))
            if limits:
                out.append(f'"{rule["name"]}": ' + "; ".join(limits) + ".")
        out.extend(self.tier_terms())
        for d in self.doc.get("draws", ()):
            conditions = [self.condition_words(c) for c in d.get("conditions", ())]
            out.append(f'Prize draw "{d["name"]}" every {d["period"]}: {d["entries"]} '
                       f'{"entry" if d["entries"] == 1 else "entries"} per {self.money_text(self.money(d["per_minor"]))} '
                       f"spent, {_plural(d['winners'], 'winner')} of {self.money_text(self.money(d['prize_minor']))}"
                       + (", " + ", ".join(conditions) if conditions else "") + ".")
        return out

    def kind_terms(self, name: str, k: dict) -> list[str]:
        out = []
        e = k.get("expiry")
        if e is None:
            out.append(f"{name.capitalize()} never expire.")
        elif e["kind"] == "after_earning":
            out.append(f"{name.capitalize()} expire {_plural(e['amount'], e['unit'])} after they are earned "
                       f"(the oldest are spent first).")
        elif e["kind"] == "inactivity":
            out.append(f"All your {name} expire when you make no purchase for {_plural(e['amount'], e['unit'])}.")
        else:
            which = "the next calendar " if e.get("next") else "the calendar "
            out.append(f"{name.capitalize()} expire at the end of {which}{e['period']} after the one they "
                       f"were earned in." if e.get("next") else
                       f"{name.capitalize()} expire at the end of the calendar {e['period']} they were earned in.")
        if k.get("pending"):
            p = k["pending"]
            out.append(f"{name.capitalize()} earned by a purchase can be spent {_plural(p['amount'], p['unit'])} "
                       "after it.")
        policy = {"negative": "if you have spent them already, your balance goes below zero until you earn more",
                  "zero": "if you have spent them already, your balance stops at zero",
                  "pending_only": "only while they are still pending"}[k.get("balance_policy", "negative")]
        out.append(f"Returning a purchase takes back the {name} it earned, in proportion: {policy}.")
        return out

    def tier_terms(self) -> list[str]:
        tiers = self.doc.get("tiers")
        if not tiers:
            return []
        metric = self.doc["metrics"][tiers["metric"]]
        ladder = ", ".join(f'"{t["name"]}" from {self.threshold_words(t["threshold"], metric)}'
                           for t in tiers["tiers"])
        out = [f"Tiers are reached by {self.metric_words(metric)}: {ladder}. You move up as soon as you reach a "
               "threshold; the purchase that crosses it still earns at the old tier's rate."]
        for t in tiers["tiers"]:
            benefits = [f"{rates.decimal_text(Fraction(Decimal(m['factor'])), 4)}x {m.get('point_kind') or 'points'}"
                        for m in t.get("multipliers", ())]
            if t.get("discount_percent") is not None:
                benefits.append(f"{t['discount_percent']}% off every order")
            benefits += [f'"{p["name"]}"' for p in t.get("perks", ())]
            if benefits:
                out.append(f'"{t["name"]}" members get ' + ", ".join(benefits) + ".")
            if t.get("fee"):  # a paid tier (runtime/mechanics/fees.py)
                fee = t["fee"]
                out.append(f'"{t["name"]}" can also be bought: {self.money_text(self.money(fee["amount_minor"]))} a {fee["period"]} '
                           "holds it for the period paid; a fee not renewed ends with the tier you qualify for.")
        dg = tiers.get("downgrade")
        if dg is None:
            out.append("A tier once reached is kept; only a return that takes you back below the threshold "
                       "lowers it.")
        else:
            grace = dg.get("grace")
            out.append(f"At the end of each {dg['period']}, tiers are reviewed against {self.metric_words(metric)}: "
                       f"below your tier's threshold, you move down"
                       + (f", after {_plural(grace['amount'], grace['unit'])} of grace to requalify." if grace
                          else "."))
        return out

    # ------------------------------------------------------------ worst case
    def worst_case(self) -> dict:
        rows, uncapped, unknown, seen = [], [], [], set()
        for rule in self.doc["rules"]:
            caps = list(rule.get("caps", ()))
            if _once_per_member(rule):  # joining, a first purchase, an nth visit: each happens once
                caps.append({"scope": f"once:{rule['name']}", "unit": "times", "amount": 1, "period": None})
            if not caps:
                uncapped.append(rule["name"])
                continue
            best = None
            for cap in caps:
                if cap["scope"] in seen:
                    continue
                amount = self.cap_cost(rule, cap)
                if amount is not None and (best is None or self.per_year(amount, cap) < self.per_year(*best)):
                    best = (amount, cap)
            if best is None:
                if not any(c["scope"] in seen for c in caps):
                    unknown.append(rule["name"])
                continue
            seen.add(best[1]["scope"])
            rows.append({"rule": rule["name"], "cap": self.cap_words(best[1]), "at_cost": best[0],
                         "period": best[1].get("period"), "per_year": self.per_year(*best)})
        total = sum((r["per_year"] for r in rows), Fraction(0)) if rows and not uncapped and not unknown else None
        return {"capped": rows, "uncapped": uncapped, "cost_unknown": unknown, "per_member_per_year_at_cost": total}

    def per_year(self, amount: Fraction, cap: dict) -> Fraction:
        period = cap.get("period")
        return amount * _PERIODS_PER_YEAR[period] if period else amount

    def cap_cost(self, rule: dict, cap: dict) -> Optional[Fraction]:
        """What a cap lets one member cost in its period, at cost; None when that is unknown."""
        a = rule["action"]
        if cap["unit"] == "money":
            return self.money(cap["amount"])
        if cap["unit"] == "points":
            kind = a.get("point_kind") or next(iter(self.kinds), None)
            cost = self.point_cost.get(kind) if kind else None
            return None if cost is None else cost * cap["amount"]
        _value, each = self.gift_value(a) if a["type"] in ("give", "earn_fixed") else (None, None)
        return None if each is None else each * cap["amount"]

    # ------------------------------------------------------------ the whole document
    def describe(self, warnings=()) -> dict:
        tiers = [None] + list(self.tiers)
        rules = []
        for r in self.doc["rules"]:
            by_tier = {}
            for t in tiers:
                rate = self.rate(r, t)
                by_tier["" if t is None else t["name"]] = rate
            rules.append({"name": r["name"], "campaign": r.get("campaign"), "line": r["span"][0],
                          "sentence": self.sentence(r), "rates": by_tier})
        tier_rows = []
        for t in self.tiers:
            row = {"name": t["name"], "discount": None, "perks_per_order": {}}
            if t.get("discount_percent") is not None:
                row["discount"] = rates.percent_share(Decimal(t["discount_percent"]))
            for p in t.get("perks", ()):
                if p.get("cost_minor"):
                    row["perks_per_order"][p["name"]] = self.money(p["cost_minor"])
            tier_rows.append(row)
        points = []
        for name in self.kinds:
            value = self.point_value[name]
            points.append({"name": name, "cost": self.point_cost[name],
                           "value": None if value is None else value[0],
                           "value_from": None if value is None else value[1]})
        return {
            "format": FORMAT,
            "program": self.doc["name"],
            "currency": self.currency,
            "rules": rules,
            "terms": self.terms(),
            "point_kinds": points,
            "tiers": tier_rows,
            "worst_case": self.worst_case(),
            # a draw costs its prizes once per period, for the whole program, whatever members do
            "draws": [{"name": d["name"], "period": d["period"],
                       "cost_per_period": self.money(d["prize_minor"]) * d["winners"]}
                      for d in self.doc.get("draws", ())],
            "assumptions": sorted(set(self.assumptions)),
            "warnings": [{"code": w.code, "line": w.span.line, "column": w.span.column, "message": w.message}
                         for w in warnings],
        }


def _once_per_member(rule: dict) -> bool:
    """A rule that can fire once in a member's life by what triggers it: on signup, on the first purchase
    (`on first purchase` or `when first purchase`), on the nth visit, on being referred (a member is referred
    once: mechanics/referral.py)."""
    if rule["action"]["type"] not in ("give", "earn_fixed"):
        return False
    if (rule.get("trigger") or {}).get("type") in ("signup", "first_purchase", "nth_visit", "referred",
                                                  "referred_purchase"):
        return True
    return any(c["kind"] == "expr" and c["expr"]["op"] == "first_purchase" for c in rule.get("conditions", ()))


def describe(program: CompiledProgram, scenario=None, warnings=()) -> dict:
    """The program in plain words, as a document of exact values (Fractions; `to_json` makes it JSON)."""
    return _Describer(program, scenario).describe(warnings)


# ---------------------------------------------------------------- JSON


def _percent(share: Optional[Fraction]) -> Optional[str]:
    """A share as a percentage string with 2 decimals: 1/6 -> '16.67'."""
    return None if share is None else rates.decimal_text(share * 100, 2)


def to_json(doc: dict) -> dict:
    """The document with every exact value as a decimal string (shares as percentages with 2 decimals,
    money with up to 4), keys stable."""
    def convert(value, key=""):
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, key) for v in value]
        if isinstance(value, Fraction):  # money, and points per visit
            return rates.decimal_text(value, 4)
        return value

    out = convert({k: v for k, v in doc.items() if k != "rules"})
    out["rules"] = []
    for r in doc["rules"]:
        rates_json = {}
        for tier, rate in r["rates"].items():
            rj: dict[str, Any] = {"applies": rate["applies"]}
            if rate["applies"]:
                rj.update({
                    "at_list_price_percent": _percent(rate.get("at_list_price")),
                    "at_cost_percent": _percent(rate.get("at_cost")),
                    "up_to": bool(rate.get("up_to")),
                    "on": rate.get("on"),
                    "basis": rate.get("basis"),
                    "per": convert(rate.get("per"), "per") if rate.get("per") else None,
                    "next_order_percent": _percent(rate.get("next_order")),
                })
            rates_json[tier or "(no tier)"] = rj
        out["rules"].append({"name": r["name"], "campaign": r["campaign"], "line": r["line"],
                             "sentence": r["sentence"], "rates": rates_json})
    wc = doc["worst_case"]
    out["worst_case"] = {
        "capped": [{"rule": c["rule"], "cap": c["cap"], "period": c["period"],
                    "at_cost": rates.decimal_text(c["at_cost"], 4), "per_year": rates.decimal_text(c["per_year"], 4)}
                   for c in wc["capped"]],
        "uncapped": wc["uncapped"],
        "cost_unknown": wc["cost_unknown"],
        "per_member_per_year_at_cost": None if wc["per_member_per_year_at_cost"] is None
        else rates.decimal_text(wc["per_member_per_year_at_cost"], 4),
    }
    out["draws"] = [{"name": d["name"], "period": d["period"],
                     "cost_per_period": rates.decimal_text(d["cost_per_period"], 4)} for d in doc["draws"]]
    out["tiers"] = [{"name": t["name"], "discount_percent": _percent(t["discount"]),
                     "perks_per_order": {k: rates.decimal_text(v, 4) for k, v in t["perks_per_order"].items()}}
                    for t in doc["tiers"]]
    return out


# ---------------------------------------------------------------- text and markdown


def _cell(rate: dict, currency: str) -> str:
    """One rate as table text: '16.7% / 5.8%', 'up to 12%', '0.10 NOK per visit', '—' where it does not apply."""
    if not rate["applies"]:
        return "—"
    lp, cost = rate.get("at_list_price"), rate.get("at_cost")
    if rate.get("next_order") is not None:
        return f"{rates.percent_text(rate['next_order'])} of a next order"
    if lp is None and cost is None and rate.get("per"):
        per = rate["per"]
        amounts = per.get("at_cost")
        if isinstance(amounts, dict):
            low, high = min(amounts.values()), max(amounts.values())
            money = rates.decimal_text(low, 2) + ("" if low == high else "–" + rates.decimal_text(high, 2))
            return f"{money} {currency} cost per {per['unit']}"
        if amounts is not None:
            return f"{rates.decimal_text(amounts, 2)} {currency} cost per {per['unit']}"
        if per.get("at_list_price") is not None:
            return f"{rates.decimal_text(per['at_list_price'], 2)} {currency} per {per['unit']}"
        return "unknown"
    prefix = "up to " if rate.get("up_to") else ""
    left = rates.percent_text(lp) if lp is not None else "?"
    right = rates.percent_text(cost) if cost is not None else "?"
    per_cost = (rate.get("per") or {}).get("at_cost")
    if cost is None and isinstance(per_cost, dict) and per_cost:  # a punch card's free items at catalog cost
        low, high = min(per_cost.values()), max(per_cost.values())
        right = rates.decimal_text(low, 2) + ("" if low == high else "–" + rates.decimal_text(high, 2)) + \
            f" {currency} per {rate['per']['unit']}"
    return f"{prefix}{left} / {right}"


def _table_rows(doc: dict) -> tuple[list[str], list[list[str]]]:
    tiers = [t["name"] for t in doc["tiers"]]
    head = ["rule", "on"] + (["no tier"] + tiers if tiers else ["rate"])
    rows = []
    for r in doc["rules"]:
        first = next((v for v in r["rates"].values() if v["applies"]), None)
        on = (first or {}).get("on") or ""
        rows.append([r["name"], on] + [_cell(r["rates"][k], doc["currency"]) for k in [""] + tiers])
    for t in doc["tiers"]:
        if t["discount"] is not None:
            share = rates.percent_text(t["discount"])
            rows.append([f'tier "{t["name"]}": discount', "every order"]
                        + [f"{share} / {share}" if k == t["name"] else "—" for k in ["no tier"] + tiers])
        for perk, cost in t["perks_per_order"].items():
            rows.append([f'tier "{t["name"]}": "{perk}"', "every order"]
                        + [f"{rates.decimal_text(cost, 2)} {doc['currency']} cost per order" if k == t["name"]
                           else "—" for k in ["no tier"] + tiers])
    return head, rows


_RATE_LEGEND = ("rates are shares of spend given back: at list price (what the member gets) / at cost (what the "
                "business pays); ? where a value in money is unknown")


def render_text(doc: dict) -> str:
    """Plain text for a terminal; every name shown through terminal.visible."""
    from loyalty.terminal import visible

    lines = [visible(f'{doc["program"]} ({doc["currency"]})'), "", "Rules:"]
    for r in doc["rules"]:
        lines.append("  - " + visible(f'{r["name"]}: {r["sentence"]}'))
    lines += ["", "Terms and conditions:"]
    lines += ["  - " + visible(t) for t in doc["terms"]]
    lines += ["", "Effective reward rates (" + _RATE_LEGEND + "):"]
    head, rows = _table_rows(doc)
    if not rows:
        rows = [["(no rules)"] + [""] * (len(head) - 1)]
    table = [head] + rows
    table = [[visible(c) for c in row] for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    lines += _basis_lines(doc, visible)
    lines += ["", "Worst case per member (at cost):"] + ["  - " + visible(t) for t in _worst_lines(doc)]
    if doc["assumptions"]:
        lines += ["", "Assumptions:"] + ["  - " + visible(a) for a in doc["assumptions"]]
    lines += ["", "Warnings:"]
    lines += ["  - " + visible(f'line {w["line"]}:{w["column"]}: {w["code"]}: {w["message"]}')
              for w in doc["warnings"]] or ["  (none)"]
    return "\n".join(lines) + "\n"


def _basis_lines(doc: dict, show) -> list[str]:
    if not doc["rules"]:
        return []
    out = ["", "How each rate is worked out:"]
    for r in doc["rules"]:
        rate = r["rates"].get("") if r["rates"].get("", {}).get("applies") else \
            next((v for v in r["rates"].values() if v["applies"]), None)
        if rate and rate.get("basis"):
            out.append("  - " + show(f'{r["name"]}: {rate["basis"]}'))
    return out


def _worst_lines(doc: dict) -> list[str]:
    wc = doc["worst_case"]
    cur = doc["currency"]
    out = [f'"{c["rule"]}": {c["cap"]}: at most {rates.decimal_text(c["at_cost"], 2)} {cur}'
           + (f' per {c["period"]}' if c["period"] else "")
           + (f' ({rates.decimal_text(c["per_year"], 2)} {cur} a year)' if c["period"] not in (None, "year") else "")
           for c in wc["capped"]]
    if not wc["capped"] and not wc["uncapped"] and not wc["cost_unknown"]:
        out.append("no rule gives a member anything")
    out += [f'prize draw "{d["name"]}": {rates.decimal_text(d["cost_per_period"], 2)} {cur} per {d["period"]} '
            "for the whole program, however many members take part" for d in doc["draws"]]
    if wc["cost_unknown"]:
        out.append("capped, but at a cost the program does not say (a percentage of a next order, a point "
                   "without a cost): " + ", ".join(f'"{n}"' for n in wc["cost_unknown"]))
    if wc["uncapped"]:
        out.append("no cap on " + ", ".join(f'"{n}"' for n in wc["uncapped"])
                   + ": what a member gets grows with what she buys, so there is no finite worst case")
    elif wc["per_member_per_year_at_cost"] is not None:
        out.append(f"in all, at most {rates.decimal_text(wc['per_member_per_year_at_cost'], 2)} {cur} per member "
                   "in a year")
    return out


def _md(text: str) -> str:
    """Text for a markdown table cell or list item: no pipes or markup from names."""
    from loyalty.terminal import visible

    out = visible(text)
    for ch in "\\`*_[]<>|":
        out = out.replace(ch, "\\" + ch)
    return out


def render_markdown(doc: dict) -> str:
    lines = [f"# {_md(doc['program'])}", "", "## Rules", ""]
    lines += [f"- **{_md(r['name'])}**: {_md(r['sentence'])}" for r in doc["rules"]]
    lines += ["", "## Terms and conditions", ""] + [f"- {_md(t)}" for t in doc["terms"]]
    lines += ["", "## Effective reward rates", "", f"*{_md(_RATE_LEGEND)}*", ""]
    head, rows = _table_rows(doc)
    lines.append("| " + " | ".join(_md(h) for h in head) + " |")
    lines.append("|" + "---|" * len(head))
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    if doc["rules"]:
        lines += ["", "### How each rate is worked out", ""]
        lines += [line.replace("  - ", "- ", 1) for line in _basis_lines(doc, _md) if line.startswith("  - ")]
    lines += ["", "## Worst case per member", ""] + [f"- {_md(t)}" for t in _worst_lines(doc)]
    if doc["assumptions"]:
        lines += ["", "## Assumptions", ""] + [f"- {_md(a)}" for a in doc["assumptions"]]
    lines += ["", "## Warnings", ""]
    lines += [f"- line {w['line']}:{w['column']}: `{w['code']}`: {_md(w['message'])}" for w in doc["warnings"]] \
        or ["(none)"]
    return "\n".join(lines) + "\n"


def rule_markdown(program, rule_name: str, scenario=None) -> Optional[str]:
    """One rule's sentence and effective rate, as markdown (the language server's hover). `program` is a
    `CompiledProgram`, or a checked syntax tree (`ast.Program`, e.g. `frontend.check_text(...).program` when
    `.ok`), compiled here. None when the program has no rule of that name or cannot be compiled."""
    if not isinstance(program, CompiledProgram):
        from loyalty.compiler import compile_document
        from loyalty.diagnostics import LoyaltyError

        try:
            program = CompiledProgram(compile_document(program))
        except LoyaltyError:
            return None
    doc = describe(program, scenario)
    rule = next((r for r in doc["rules"] if r["name"] == rule_name), None)
    if rule is None:
        return None
    lines = [f"**{_md(rule['name'])}**: {_md(rule['sentence'])}", ""]
    for tier, rate in rule["rates"].items():
        if not rate["applies"]:
            continue
        label = "no tier" if tier == "" else f'tier "{tier}"'
        cell = _cell(rate, doc["currency"])
        on = f" on {rate['on']}" if rate.get("on") else ""
        lines.append(f"- {_md(label)}: {_md(cell)}{_md(on)} (at list price / at cost)")
    basis = next((r.get("basis") for r in rule["rates"].values() if r["applies"] and r.get("basis")), None)
    if basis:
        lines += ["", f"*{_md(basis)}*"]
    return "\n".join(lines) + "\n"
