"""Checked AST to compiled program.

The only module that reads both the AST and the runtime. All name resolution
(point kinds, rewards, regions to stores, tiers), unit conversion (money to
integer minor units of the program currency, durations, percentages as exact
decimal strings) and constant work happens here, once. The result is a plain
JSON document (`docs/semantics.md`, "Compiled program format") from which
`loyalty.runtime.program.CompiledProgram` builds its rule objects; the runtime
never needs the parser.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Optional, Union

from loyalty.checker.symbols import resolve_point_kind
from loyalty.diagnostics import Diagnostic, LoyaltyError
from loyalty.runtime.program import FORMAT, CompiledProgram, program_identity
from loyalty.versioning import version_tag
from loyalty.spans import Span
from loyalty.syntax import ast

from loyalty.currencies import MINOR_UNITS


def _exponent_of(code: str) -> int:
    return MINOR_UNITS.get(code, 2)  # an unknown code is the checker's LOY210; compile on as if 2


_WEEKDAYS = {"mondays": (0,), "tuesdays": (1,), "wednesdays": (2,), "thursdays": (3,), "fridays": (4,),
             "saturdays": (5,), "sundays": (6,), "weekdays": (0, 1, 2, 3, 4), "weekends": (5, 6)}


def _span(node: ast.Node) -> list[int]:
    s = node.span
    return [s.line, s.column, s.end_line, s.end_column]


def _dec(value: Decimal) -> str:
    """A canonical decimal string: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


class _Compiler:
    def __init__(self, program: ast.Program, file: str):
        self.program = program
        self.file = file
        self.problems: list[Diagnostic] = []
        decls = program.declarations
        pdecl = next((d for d in decls if isinstance(d, ast.ProgramDecl)), None)
        self.pdecl = pdecl
        self.currency = "XXX"
        self.timezone = "UTC"
        self.runs = None
        self.taken_back = False
        self.windows: dict = {}  # "returns" | "late_events" -> ast.Duration
        self.enrolment: Optional[dict] = None  # `members join at signup`: {"window": ast.Duration} when a window is given
        self.stacking_policy: Optional[str] = None  # "one per order" | "stack" (runtime/mechanics/stacking.py)
        self.gift_stacking_policy: Optional[str] = None  # "one per order" | "stack": the same, for gifts
        if pdecl is not None:
            for s in pdecl.settings:
                if isinstance(s, ast.CurrencySetting):
                    self.currency = s.code
                elif isinstance(s, ast.TimezoneSetting):
                    self.timezone = s.name.value
                elif isinstance(s, ast.RunsSetting):
                    self.runs = {"from": _date(s.start), "to": _date(s.end) if s.end else None}
                elif isinstance(s, ast.RewardsOnReturnSetting):
                    self.taken_back = s.taken_back
                elif isinstance(s, ast.AcceptanceWindow):
                    self.windows["returns" if s.what == "returns" else "late_events"] = s.duration
                elif isinstance(s, ast.MembersJoinAtSignup):
                    self.enrolment = self.enrolment or {}
                elif isinstance(s, ast.PreSignupWindow):
                    self.enrolment = {**(self.enrolment or {}), "window": s.duration}
                elif isinstance(s, ast.StackingSetting) and self.stacking_policy is None:
                    self.stacking_policy = s.policy
                elif isinstance(s, ast.GiftStackingSetting) and self.gift_stacking_policy is None:
                    self.gift_stacking_policy = s.policy
        else:
            self.problem("LOY104", "the program has no `program \"name\" { ... }` declaration", program)
        self.exponent = _exponent_of(self.currency)
        self.kinds = [d for d in decls if isinstance(d, ast.PointsDecl)]
        self.kind_names = [k.name.value for k in self.kinds]
        self.items: dict[str, dict] = {}
        self.stores: dict[str, Optional[str]] = {}
        for d in decls:
            if isinstance(d, ast.CatalogDecl):
                for e in d.entries:
                    if isinstance(e, ast.ItemDecl):
                        self.items[e.name.value] = {"category": e.category.value,
                                                    **({"cost_minor": self.minor(e.cost)} if e.cost else {})}
            elif isinstance(d, ast.StoreDecl):
                self.stores[d.name.value] = d.region.value if d.region else None
        self.metrics: list[dict] = []
        self.budgets: dict[str, int] = {}
        self.tier_names: set[str] = set()

    # ------------------------------------------------------------ helpers
    def problem(self, code: str, message: str, node: ast.Node, hint: Optional[str] = None) -> None:
        span = node.span if node.span.line else Span(self.file, 1, 1, 1, 2)
        self.problems.append(Diagnostic(code, message, span, hint))

    def minor(self, money: ast.Money) -> int:
        if money.currency != self.currency:
            self.problem("LOY202", f"{money.currency} differs from the program currency {self.currency}", money)
        scaled = money.amount.scaleb(self.exponent)
        if scaled != scaled.to_integral_value():
            self.problem("LOY208", f"{money.amount} {money.currency} has more decimals than the currency allows", money)
        return int(scaled.to_integral_value())

    def kind(self, unit: Optional[str], node: ast.Node) -> Optional[str]:
        if unit is None:
            return None
        found = resolve_point_kind(unit, self.kind_names)
        if found:
            return found
        self.problem("LOY103", f"unknown point kind '{unit}'", node,
                     f"declare it with `points \"{unit}\"`" if not self.kind_names else
                     f"declared point kinds: {', '.join(self.kind_names)}")
        return None

    def whole_points(self, amount: ast.PointsAmount) -> int:
        if amount.amount != amount.amount.to_integral_value():
            self.problem("LOY204", f"{amount.amount} {amount.unit} is not a whole number of points", amount)
        return int(amount.amount)

    def quantity(self, q) -> int:
        if isinstance(q, ast.Money):
            return self.minor(q)
        if isinstance(q, ast.PointsAmount):
            self.kind(q.unit, q)
            return self.whole_points(q)
        if isinstance(q, ast.Count):
            return int(q.value)
        self.problem("LOY201", "a percentage cannot be compared here", q)
        return 0

    def metric(self, m: ast.Metric) -> int:
        doc: dict = {"kind": m.kind}
        if m.kind == "earned":
            doc["point_kind"] = self.kind(m.unit, m)
        if isinstance(m.window, ast.RollingWindow):
            doc["window"] = {"kind": "rolling", "amount": int(m.window.duration.amount), "unit": m.window.duration.unit}
        elif isinstance(m.window, ast.CalendarWindow):
            doc["window"] = {"kind": "calendar", "period": m.window.period}
        if doc in self.metrics:
            return self.metrics.index(doc)
        self.metrics.append(doc)
        return len(self.metrics) - 1

    # ------------------------------------------------------------ whole program
    def compile(self) -> dict:
        decls = self.program.declarations
        kinds = [self.point_kind(k) for k in self.kinds]
        rewards = {d.name.value: self.reward(d) for d in decls if isinstance(d, ast.RewardDecl)}
        self.reward_names = set(rewards)
        redeem = [self.redeem(d) for d in decls if isinstance(d, ast.RedeemDecl)]
        tiers_decl = next((d for d in decls if isinstance(d, ast.TiersDecl)), None)
        if tiers_decl is not None:
            self.tier_names = {t.name.value for t in tiers_decl.tiers}
        tiers = self.tiers(tiers_decl) if tiers_decl is not None else None
        rules: list[dict] = []
        for d in decls:
            if isinstance(d, ast.RuleDecl):
                rules.append(self.rule(d, None, (), ()))
            elif isinstance(d, ast.CampaignDecl):
                conds = tuple(c for c in d.clauses if not isinstance(c, (ast.RuleDecl, ast.Cap, ast.Budget)))
                limits = tuple(c for c in d.clauses if isinstance(c, (ast.Cap, ast.Budget)))
                for r in d.clauses:
                    if isinstance(r, ast.RuleDecl):
                        rules.append(self.rule(r, d.name.value, conds, limits))
        draws = [self.draw(d) for d in decls if isinstance(d, ast.DrawDecl)]
        codes = {}
        for d in decls:
            if isinstance(d, ast.CodeDecl) and d.code.value not in codes:
                uses = int(d.uses.value) if d.uses is not None else None
                codes[d.code.value] = {"uses": uses}
                if uses is not None:  # the total is program-wide, claimed like a budget (runtime/mechanics/codes.py)
                    self.budgets[f"code:{d.code.value}"] = uses
        doc = {
            **version_tag(FORMAT),
            "name": self.pdecl.name.value if self.pdecl else "",
            "source_file": self.file,
            "currency": self.currency,
            "exponent": self.exponent,
            "timezone": self.timezone,
            "runs": self.runs,
            "rewards_taken_back_on_return": self.taken_back,
            "point_kinds": kinds,
            "items": self.items,
            "stores": self.stores,
            "rewards": rewards,
            "redeem": redeem,
            "metrics": self.metrics,
            "tiers": tiers,
            "rules": rules,
            "draws": draws,
            "budgets": self.budgets,
        }
        if codes:  # only when declared: the documents (and identities) of other programs stay as they were
            doc["codes"] = codes
        if self.stacking_policy is not None:  # only when said: other programs' documents stay as they were
            doc["stacking"] = self.stacking_policy
        if self.gift_stacking_policy is not None:  # likewise
            doc["gift_stacking"] = self.gift_stacking_policy
        if self.windows:  # only when declared: the documents (and identities) of other programs stay as they were
            doc["windows"] = {k: _duration(d) for k, d in sorted(self.windows.items())}
        if self.enrolment is not None:  # likewise only when declared (runtime/mechanics/enrolment.py)
            doc["enrolment"] = {k: _duration(d) for k, d in self.enrolment.items()}
        doc["identity"] = program_identity(doc)
        return doc

    def point_kind(self, d: ast.PointsDecl) -> dict:
        out: dict = {"name": d.name.value, "span": _span(d), "rounding": "down", "rounding_scope": "order",
                     "balance_policy": "negative", "expiry": None, "pending": None, "cost_minor": None}
        for s in d.settings:
            if isinstance(s, ast.PointCost):
                self.minor_check_currency(s.money)
                out["cost_minor"] = _dec(s.money.amount.scaleb(self.exponent))
            elif isinstance(s, ast.ExpireAfterEarning):
                out["expiry"] = {"kind": "after_earning", **_duration(s.duration)}
            elif isinstance(s, ast.ExpireAfterInactivity):
                out["expiry"] = {"kind": "inactivity", **_duration(s.duration)}
            elif isinstance(s, ast.ExpireAtPeriodEnd):
                out["expiry"] = {"kind": "period_end", "period": s.period, "next": s.next}
            elif isinstance(s, ast.PendingSetting):
                out["pending"] = _duration(s.duration)
            elif isinstance(s, ast.RoundingSetting):
                out["rounding"], out["rounding_scope"] = s.mode, s.scope
            elif isinstance(s, ast.BalancePolicy):
                out["balance_policy"] = s.policy
        return out

    def minor_check_currency(self, money: ast.Money) -> None:
        if money.currency != self.currency:
            self.problem("LOY202", f"{money.currency} differs from the program currency {self.currency}", money)

    def reward(self, d: ast.RewardDecl) -> dict:
        k = d.kind
        declared = self.minor(d.cost) if d.cost else None
        face = 0
        if isinstance(k, ast.FreeItemReward):
            kind = "free_item"
            costs = [self.items[n.value].get("cost_minor") for n in k.selector.names
                     if k.selector.kind == "items" and n.value in self.items]
            face = max([c for c in costs if c is not None], default=0)
        elif isinstance(k, ast.AmountOffReward):
            kind, face = "amount_off", self.minor(k.money)
        elif isinstance(k, ast.PercentOffReward):
            kind = "percent_off"
        elif isinstance(k, ast.GiftCardReward):
            kind, face = "gift_card", self.minor(k.face_value)
        elif isinstance(k, ast.GiftReward):
            kind = "gift"
        else:
            kind = "perk"
        cost = declared if declared is not None else face
        if face == 0 and kind in ("free_item", "gift", "perk"):
            face = cost
        out = {"kind": kind, "face_minor": face, "cost_minor": cost, "cost_declared": declared is not None,
               "span": _span(d)}
        if isinstance(k, ast.FreeItemReward) and k.selector.kind == "items":
            # the items a free item reward names: a scenario's item costs price it (simulate)
            out["free_items"] = [n.value for n in k.selector.names]
        if isinstance(k, ast.PercentOffReward):
            out["percent"] = _dec(k.percent.value)
        if d.valid_for is not None:  # only when given: programs without lifetimes keep their identity
            out["valid_for"] = _duration(d.valid_for)
        if d.valid_until is not None:
            out["valid_until"] = _date(d.valid_until)
        if d.stock is not None:  # program-wide, claimed like a budget (runtime/mechanics/stock.py)
            stock = int(d.stock.value)
            out["stock"] = stock
            self.budgets.setdefault(f"stock:{d.name.value}", stock)
        return out

    def redeem(self, d: ast.RedeemDecl) -> dict:
        if d.reward.value not in self.reward_names:
            self.problem("LOY101", f"unknown reward \"{d.reward.value}\"", d.reward)
        return {"reward": d.reward.value, "point_kind": self.kind(d.price.unit, d.price),
                "price": self.whole_points(d.price), "span": _span(d)}

    def tiers(self, d: ast.TiersDecl) -> dict:
        tiers = []
        for t in d.tiers:
            td: dict = {"name": t.name.value, "threshold": self.quantity(t.threshold), "multipliers": [],
                        "discount_percent": None, "perks": [], "span": _span(t)}
            for b in t.benefits:
                if isinstance(b, ast.BenefitMultiplier):
                    td["multipliers"].append({"point_kind": self.kind(b.unit, b), "factor": _dec(b.multiplier.value)})
                elif isinstance(b, ast.BenefitDiscount):
                    td["discount_percent"] = _dec(b.percent.value)
                elif isinstance(b, ast.BenefitPerk):
                    td["perks"].append({"name": b.name.value,
                                        "cost_minor": self.minor(b.cost_per_order) if b.cost_per_order else 0})
                elif isinstance(b, ast.BenefitFee) and "fee" not in td:  # written only for a paid tier
                    td["fee"] = {"amount_minor": self.minor(b.money), "period": b.period}
            tiers.append(td)
        dg = None
        if d.downgrade is not None:
            dg = {"period": d.downgrade.period, "grace": _duration(d.downgrade.grace) if d.downgrade.grace else None}
        return {"metric": self.metric(d.metric), "tiers": tiers, "downgrade": dg, "span": _span(d)}

    # ------------------------------------------------------------ rules
    def rule(self, d: ast.RuleDecl, campaign: Optional[str], outer_conds: tuple, outer_limits: tuple) -> dict:
        name = d.name.value
        out: dict = {"name": name, "campaign": campaign, "span": _span(d), "trigger": None,
                     "conditions": [], "line_filters": [], "caps": [], "budget": None}
        action = None
        for c in d.clauses:
            a = self.action(c, out)
            if a is not None:
                action = a
        if action is None:
            self.problem("LOY301", f"rule \"{name}\" has no action", d)
            action = {"type": "none"}
        out["action"] = action
        # a multiplier gives points too: the extra points it adds (claimed at the point kind's cost)
        earns_points = action["type"] in ("earn_per_spend", "earn_fixed", "earn_per_event", "multiplier")
        for c in tuple(outer_conds) + tuple(d.clauses):
            self.condition(c, out)
        for scope, c in [(f"campaign:{campaign}", c) for c in outer_limits] + [(f"rule:{name}", c) for c in d.clauses]:
            if isinstance(c, ast.Cap):
                a = c.amount
                if isinstance(a, ast.CapOnce):
                    unit, amount = "times", 1
                elif isinstance(a, ast.CapTimes):
                    unit, amount = "times", int(a.count.value)
                elif isinstance(a, ast.PointsAmount):
                    unit, amount = "points", self.whole_points(a)
                else:
                    unit, amount = "money", self.minor(a)
                out["caps"].append({"scope": scope, "unit": unit, "amount": amount, "period": c.period})
            elif isinstance(c, ast.Budget):
                if isinstance(c.amount, ast.Money):
                    unit, amount = "money", self.minor(c.amount)
                    if earns_points:
                        named = action.get("point_kind")
                        kinds = [k for k in self.kinds if named is None or k.name.value == named]
                        if not kinds or not all(any(isinstance(s, ast.PointCost) for s in k.settings) for k in kinds):
                            self.problem("LOY312", "a money budget on points needs the point kind's cost "
                                         "(`cost 0.01 NOK each`)", c)
                else:
                    unit, amount = "points", self.whole_points(c.amount)
                out["budget"] = {"key": scope, "unit": unit}
                self.budgets[scope] = amount
        stacking = self.stacking(tuple(outer_conds) + tuple(d.clauses), campaign)
        if stacking:  # only when said: the documents (and identities) of other programs stay as they were
            out["stacking"] = stacking
        return out

    def stacking(self, clauses: tuple, campaign: Optional[str]) -> dict:
        """A rule's stacking clauses (runtime/mechanics/stacking.py): exclusive, its priority, its best-of group."""
        out: dict = {}
        for c in clauses:
            if isinstance(c, ast.Exclusive):
                out["exclusive"] = True
            elif isinstance(c, ast.Priority) and "priority" not in out:
                out["priority"] = int(c.rank.value)
            elif isinstance(c, ast.BestOf):
                out["group"] = campaign
        return out

    def action(self, c, out: dict) -> Optional[dict]:
        if isinstance(c, ast.PunchFree):
            out["line_filters"].append(_selector(c.selector))
            return {"type": "punch", "cycle": c.ordinal.value, "free": 1, "percent": "100"}
        if isinstance(c, ast.PunchDiscount):
            out["line_filters"].append(_selector(c.selector))
            return {"type": "punch", "cycle": c.ordinal.value, "free": 1, "percent": _dec(c.percent.value)}
        if isinstance(c, ast.PaidThenFree):
            out["line_filters"].append(_selector(c.selector))
            free, paid = int(c.free.value), int(c.paid.value)
            return {"type": "punch", "cycle": free + paid, "free": free, "percent": "100"}
        if isinstance(c, ast.EarnPerSpend):
            return {"type": "earn_per_spend", "point_kind": self.kind(c.points.unit, c.points),
                    "points": _dec(c.points.amount), "per_minor": self.minor(c.per)}
        if isinstance(c, ast.EarnPerEvent):
            return {"type": "earn_per_event", "point_kind": self.kind(c.points.unit, c.points),
                    "points": self.whole_points(c.points), "event": c.event}
        if isinstance(c, ast.EarnFixed):
            return {"type": "earn_fixed", "point_kind": self.kind(c.points.unit, c.points),
                    "points": self.whole_points(c.points)}
        if isinstance(c, ast.EarnMultiplier):
            return {"type": "multiplier", "point_kind": self.kind(c.unit, c), "factor": _dec(c.multiplier.value)}
        if isinstance(c, ast.GiveReward):
            if c.reward.value not in self.reward_names:
                self.problem("LOY101", f"unknown reward \"{c.reward.value}\"", c.reward)
            return {"type": "give", "reward": c.reward.value}
        if isinstance(c, ast.Discount):
            return {"type": "discount", "percent": _dec(c.percent.value)}
        if isinstance(c, ast.DiscountEach):
            return {"type": "discount_each", "amount_minor": self.minor(_money(c.amount))}
        if isinstance(c, ast.DiscountOrder):
            return {"type": "discount_order", "amount_minor": self.minor(_money(c.amount)),
                    "over_minor": self.minor(_money(c.over))}
        if isinstance(c, ast.FixedPrice):
            out["line_filters"].append(_selector(c.selector))
            return {"type": "fixed_price", "price_minor": self.minor(_money(c.price))}
        if isinstance(c, ast.BundleBuyGet):
            out["line_filters"].append(_selector(c.selector))
            return {"type": "bundle", "buy": int(c.buy.value), "free": int(c.free.value)}
        if isinstance(c, ast.BundlePriceOf):  # `3 for the price of 2` is `buy 2, get 1 free`
            out["line_filters"].append(_selector(c.selector))
            paid = int(c.paid.value)
            return {"type": "bundle", "buy": paid, "free": int(c.group.value) - paid}
        if isinstance(c, ast.DiscountScale):
            steps = [{"percent": _dec(s.percent.value), "threshold": self.quantity(s.threshold)} for s in c.steps]
            return {"type": "discount_scale", "metric": self.metric(c.metric), "steps": steps}
        if isinstance(c, ast.OnSignup):
            out["trigger"] = {"type": "signup"}
        elif isinstance(c, ast.OnFirstPurchase):
            out["trigger"] = {"type": "first_purchase"}
        elif isinstance(c, ast.OnAction):
            out["trigger"] = {"type": "action", "name": c.name.value}
        elif isinstance(c, ast.OnNthVisit):
            out["trigger"] = {"type": "nth_visit", "n": c.ordinal.value}
        elif isinstance(c, ast.OnEachBirthday):
            out["trigger"] = {"type": "birthday"}
        elif isinstance(c, ast.OnEachAnniversary):
            out["trigger"] = {"type": "anniversary"}
        elif isinstance(c, ast.OnReachingTier):
            out["trigger"] = {"type": "tier_reached", "name": c.tier.value}
        elif isinstance(c, ast.OnNthPurchase):
            out["trigger"] = {"type": "nth_purchase", "n": c.ordinal.value}
        elif isinstance(c, ast.AfterEveryVisits):
            out["trigger"] = {"type": "every_visits", "n": int(c.count.value)}
        elif isinstance(c, ast.AfterEverySpend):
            out["trigger"] = {"type": "every_spend", "minor": self.minor(c.money)}
        elif isinstance(c, ast.AfterInactivity):
            out["trigger"] = {"type": "inactivity", **_duration(c.duration)}
        elif isinstance(c, ast.AfterGoal):
            t, w = c.target, c.window
            if isinstance(t, ast.GoalCount):
                goal = {"counts": t.counted, "target": int(t.count.value), "different_days": t.different_days}
            else:
                goal = {"counts": "spend", "target": self.minor(t.money), "different_days": False}
            window = {"kind": "calendar", "period": w.period} if isinstance(w, ast.GoalInCalendar) else \
                {"kind": "rolling", **_duration(w.duration)}
            out["trigger"] = {"type": "goal", **goal, "window": window}
        elif isinstance(c, ast.AfterStreak):
            out["trigger"] = {"type": "streak", "counts": c.counted + "s", "n": int(c.count.value), "period": c.period}
        elif isinstance(c, (ast.OnReferring, ast.OnReferred)):
            side = "referring" if isinstance(c, ast.OnReferring) else "referred"
            q = c.qualifying
            out["trigger"] = {"type": side} if q is None else {
                "type": f"{side}_purchase", "minor": self.minor(q.money), **_duration(q.duration)}
        return None

    def condition(self, c, out: dict) -> None:
        conds = out["conditions"]
        if isinstance(c, ast.DateWindow):
            conds.append({"kind": "dates", "from": _date(c.start), "to": _date(c.end) if c.end else None})
        elif isinstance(c, ast.UntilDate):
            conds.append({"kind": "dates", "from": None, "to": _date(c.end)})
        elif isinstance(c, ast.OnItems):
            out["line_filters"].append({"items": [n.value for n in c.names]})
        elif isinstance(c, ast.OnCategories):
            out["line_filters"].append({"categories": [n.value for n in c.names]})
        elif isinstance(c, ast.OnWeekdays):
            days = sorted({d for w in c.days for d in _WEEKDAYS[w]})
            conds.append({"kind": "weekdays", "days": days})
        elif isinstance(c, ast.BetweenHours):
            conds.append({"kind": "hours", "from": [c.start.hour, c.start.minute], "to": [c.end.hour, c.end.minute]})
        elif isinstance(c, ast.ForSegments):
            conds.append({"kind": "segments", "names": [n.value for n in c.names]})
        elif isinstance(c, ast.ForTiers):
            for n in c.names:
                if n.value not in self.tier_names:
                    self.problem("LOY101", f"unknown tier \"{n.value}\"", n)
            conds.append({"kind": "tiers", "names": [n.value for n in c.names if n.value in self.tier_names]})
        elif isinstance(c, ast.InStores):
            conds.append({"kind": "stores", "names": [n.value for n in c.names]})
        elif isinstance(c, ast.InRegions):
            regions = {n.value for n in c.names}
            conds.append({"kind": "stores", "names": sorted(s for s, r in self.stores.items() if r in regions)})
        elif isinstance(c, ast.OnChannels):
            conds.append({"kind": "channels", "names": [n.value for n in c.names]})
        elif isinstance(c, ast.InBirthdayMonth):
            conds.append({"kind": "birthday_month"})
        elif isinstance(c, ast.OnBirthday):
            conds.append({"kind": "birthday"})
        elif isinstance(c, ast.When):
            conds.append({"kind": "expr", "expr": self.expr(c.expr)})
        elif isinstance(c, ast.WithCode):
            out["code"] = c.code.value  # not a condition: the plan claims the code's use (mechanics/codes.py)

    def expr(self, e) -> dict:
        if isinstance(e, ast.And):
            return {"op": "and", "args": [self.expr(a) for a in e.operands]}
        if isinstance(e, ast.Or):
            return {"op": "or", "args": [self.expr(a) for a in e.operands]}
        if isinstance(e, ast.Not):
            return {"op": "not", "arg": self.expr(e.operand)}
        if isinstance(e, ast.HasItem):
            return {"op": "has_item", "name": e.name.value}
        if isinstance(e, ast.HasCategory):
            return {"op": "has_category", "name": e.name.value}
        if isinstance(e, ast.IsFirstPurchase):
            return {"op": "first_purchase"}
        out = {"op": "cmp", "measure": e.measure.kind, "cmp": e.op, "value": self.quantity(e.value)}
        if e.measure.kind == "balance":
            out["point_kind"] = self.kind(e.measure.unit, e.measure)
        return out

    def draw(self, d: ast.DrawDecl) -> dict:
        out: dict = {"name": d.name.value, "span": _span(d), "period": None, "prize_minor": 0, "winners": 1,
                     "entries": 0, "per_minor": 1, "conditions": [], "line_filters": []}
        for c in d.clauses:
            if isinstance(c, ast.DrawSchedule):
                out["period"] = c.period
            elif isinstance(c, ast.DrawPrize):
                out["prize_minor"] = self.minor(c.money)
            elif isinstance(c, ast.DrawWinners):
                out["winners"] = int(c.count.value)
            elif isinstance(c, ast.DrawRate):
                out["entries"], out["per_minor"] = int(c.entries.value), self.minor(c.per)
            else:
                self.condition(c, out)
        if out["per_minor"] <= 0:
            self.problem("LOY207", "the draw's rate needs a positive amount", d)
            out["per_minor"] = 1
        return out


def _money(q: Union[ast.Money, ast.PointsAmount]) -> ast.Money:
    """An amount the checker has made sure is money (points there are its LOY201)."""
    if not isinstance(q, ast.Money):
        raise TypeError(f"expected an amount of money, found {q!r}: check the program first")
    return q


def _selector(sel: ast.ItemSelector) -> dict:
    if sel.kind == "any":
        return {"any": True}
    if sel.kind == "items":
        return {"items": [n.value for n in sel.names]}
    return {"categories": [n.value for n in sel.names]}


def _duration(d: ast.Duration) -> dict:
    return {"amount": int(d.amount), "unit": d.unit}


def _date(d: ast.DateValue) -> Optional[str]:
    return d.value.isoformat() if d.value is not None else None


def compile_document(program: ast.Program, file: str = "<string>") -> dict:
    """The compiled program as a JSON-able document; raises `LoyaltyError` if something cannot be compiled."""
    from loyalty.syntax.params import substitute

    resolved = substitute(program)  # parameters are compiled as the literals they stand for
    if resolved.program is None:
        raise LoyaltyError([d for d in resolved.diagnostics if d.is_error])
    c = _Compiler(resolved.program, file)
    doc = c.compile()
    if c.problems:
        raise LoyaltyError(c.problems)
    return doc


def compile_program(program: ast.Program, file: str = "<string>") -> CompiledProgram:
    return CompiledProgram(compile_document(program, file))
