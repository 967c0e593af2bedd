"""Effects to figures: what one member's effects add to a `SimResult`.

Only counts and integer minor units are accumulated here; costs that need a
rate (points at a cost per point, gift cards less breakage) are computed by the
report from the merged totals, so partial results stay exact integers.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Iterable, Optional

from loyalty.runtime.timeutil import period_key
from loyalty.simulate.result import KEY_SEP, region_of
from loyalty.simulate.result import DrawKey, MemberRow, Number, SimResult, draw_key_values


def month_of(t: _dt.datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


class MemberAccumulator:
    """Collects one member's effects, then adds the member's figures to a result.

    The hot path: `event` and `effects` add straight into the result's flat cells
    (one dict, keys (table, row, column)), with the month text computed once per
    distinct time, and no call per figure.
    """

    __slots__ = ("member", "result", "first_time", "first_reward", "orders", "revenue", "earned", "redeemed",
                 "expired", "clawed", "rewards", "discount", "reward_value", "reward_cost", "perk_cost", "tier",
                 "tier_changes", "draw_entries", "rewards_reached", "tiers_reached", "draw_periods", "reward_costs",
                 "store", "stores_bought", "regions", "_t", "_month", "adjusted", "adjustment_keys", "fee_tiers")

    def __init__(self, member: str, result: SimResult, draw_periods: Optional[dict[str, str]] = None,
                 reward_costs: Optional[dict[str, Number]] = None, regions: Optional[dict[str, Optional[str]]] = None):
        self.member = member
        self.regions = regions  # store -> region, when the program puts stores in regions (members per region)
        self.draw_periods = draw_periods or {}  # draw -> its period (month, quarter...)
        self.reward_costs = reward_costs or {}  # reward -> cost in minor units, where the scenario sets it
        self.result = result
        self.first_time: Optional[_dt.datetime] = None
        self.first_reward: Optional[_dt.datetime] = None
        self.orders = 0
        self.revenue = 0
        self.earned: dict[str, int] = {}
        self.redeemed: dict[str, int] = {}
        self.expired: dict[str, int] = {}
        self.clawed: dict[str, int] = {}
        self.adjusted: dict[str, int] = {}  # points an adjustment added (or took, negative), by kind
        self.adjustment_keys: set[str] = set()  # the adjustments table's keys this member has a row in
        self.fee_tiers: set[str] = set()  # the paid tiers whose fee this member paid (runtime/mechanics/fees.py)
        self.rewards = 0
        self.discount = 0
        self.reward_value = 0  # face value of rewards received, minor units
        self.reward_cost = 0  # their cost to the business, minor units
        self.perk_cost = 0  # tier perks' cost, minor units
        self.tier = ""
        self.tier_changes: list[tuple[str, str]] = []  # (month, tier after)
        self.draw_entries: dict[tuple[str, str], int] = {}
        self.rewards_reached: set[str] = set()
        self.tiers_reached: set[str] = set()
        self._t: Optional[_dt.datetime] = None  # the last time seen, and its month
        self._month = ""
        # the store of the event being applied (its first row's; "" for none): the by-store table books the
        # event and its effects there; the engine sets it before each event ("" for the end of the history)
        self.store = ""
        self.stores_bought: set[str] = set()  # stores the member bought in (members per store)

    def month(self, t: _dt.datetime) -> str:
        if t != self._t:
            self._t, self._month = t, f"{t.year:04d}-{t.month:02d}"
        return self._month

    def start_tier(self, tier: str, time: _dt.datetime) -> None:
        """A tier held from the start (a tier from 0), without a tier change."""
        self.tier = tier
        self.tiers_reached.add(tier)
        self.tier_changes.append((month_of(time), tier))

    # ------------------------------------------------------------ events
    def not_counted(self, kind: str, total: int) -> None:
        """An order (or its return) of a customer who was not a member then (runtime/mechanics/enrolment.py):
        revenue the program did not touch, reported apart (report.py, "enrolment")."""
        counts = self.result.counts
        if kind == "purchase":
            counts["non_member_orders"] = counts.get("non_member_orders", 0) + 1
            counts["non_member_revenue"] = counts.get("non_member_revenue", 0) + total
        elif kind == "return":
            counts["non_member_revenue"] = counts.get("non_member_revenue", 0) - total

    def event(self, kind: str, time: _dt.datetime, total: int) -> None:
        r = self.result
        counts, cells = r.counts, r.cells
        if self.first_time is None:
            self.first_time = time
        if time != self._t:
            self._t, self._month = time, f"{time.year:04d}-{time.month:02d}"
        month = self._month
        counts["events"] = counts.get("events", 0) + 1
        if kind == "purchase":
            self.orders += 1
            self.revenue += total
            counts["orders"] = counts.get("orders", 0) + 1
            counts["revenue"] = counts.get("revenue", 0) + total
            k = ("month", month, "orders")
            cells[k] = cells.get(k, 0) + 1
            k = ("month", month, "revenue")
            cells[k] = cells.get(k, 0) + total
            k = ("store", self.store, "orders")
            cells[k] = cells.get(k, 0) + 1
            k = ("store", self.store, "revenue")
            cells[k] = cells.get(k, 0) + total
            self.stores_bought.add(self.store)
        elif kind == "return":
            self.revenue -= total
            counts["returns"] = counts.get("returns", 0) + 1
            counts["refunded"] = counts.get("refunded", 0) + total
            counts["revenue"] = counts.get("revenue", 0) - total
            k = ("month", month, "returns")
            cells[k] = cells.get(k, 0) + 1
            k = ("month", month, "revenue")
            cells[k] = cells.get(k, 0) - total
            k = ("store", self.store, "revenue")
            cells[k] = cells.get(k, 0) - total
        else:
            r.count(f"events_{kind}")

    def simulated_redemption(self) -> None:
        self.result.count("simulated_redemptions")

    # ------------------------------------------------------------ effects
    def effects(self, effects: Iterable) -> None:
        if not effects:
            return
        r = self.result
        cells = r.cells
        get = cells.get
        store = self.store
        for e in effects:
            kind = e.kind
            t = e.time
            if t != self._t:
                self._t, self._month = t, f"{t.year:04d}-{t.month:02d}"
            month = self._month
            if kind == "points_earned":
                pk, pts = e.point_kind, e.points
                self.earned[pk] = self.earned.get(pk, 0) + pts
                k = ("rule", e.rule, "points_issued")
                cells[k] = get(k, 0) + pts
                k = ("points", f"{pk}{KEY_SEP}{month}", "issued")
                cells[k] = get(k, 0) + pts
                k = ("rule", e.rule, "effects")
                cells[k] = get(k, 0) + 1
                k = ("store", store, "points_issued")
                cells[k] = get(k, 0) + pts
            elif kind == "points_available":
                k = ("points", f"{e.point_kind}{KEY_SEP}{month}", "matured")
                cells[k] = get(k, 0) + e.points
            elif kind == "discount_applied":
                amount = e.amount or 0
                # what it costs us: the effect's cost when the evaluator knows it (a free item at its unit
                # cost), else the revenue foregone
                cost = amount if e.cost is None else e.cost
                self.discount += amount
                rule = e.rule
                for k, v in ((("rule", rule, "discount"), amount), (("rule", rule, "discount_cost"), cost),
                             (("rule", rule, "discounted_orders"), 1), (("month", month, "discount"), cost),
                             (("rule", rule, "effects"), 1), (("rule_month", f"{rule}{KEY_SEP}{month}", "discount_cost"), cost),
                             (("store", store, "discount_cost"), cost)):
                    cells[k] = get(k, 0) + v
            elif kind == "reward_issued" and e.reason == "tier perk":
                # a tier's perk costs something on each order of a member in the tier: a tier cost, not a reward
                cost = e.cost or 0
                self.perk_cost += cost
                for k, v in ((("tier", e.rule, "perk_cost"), cost), (("tier", e.rule, "perk_orders"), 1),
                             (("month", month, "perk_cost"), cost), (("store", store, "perk_cost"), cost)):
                    cells[k] = get(k, 0) + v
            elif kind == "reward_issued":
                reward, face = e.reward, e.amount or 0
                cost = self.reward_costs.get(reward, e.cost or 0)
                self.rewards += 1
                self.reward_value += face
                self.reward_cost += cost
                if self.first_reward is None:
                    self.first_reward = e.time
                self.rewards_reached.add(reward)
                for k, v in ((("reward", reward, "given"), 1), (("reward", reward, "face_value"), face),
                             (("reward", reward, "cost"), cost), (("reward_month", f"{reward}{KEY_SEP}{month}", "cost"), cost),
                             (("month", month, "rewards"), 1), (("store_reward", f"{store}{KEY_SEP}{reward}", "cost"), cost)):
                    cells[k] = get(k, 0) + v
                if e.rule:
                    for k, v in ((("rule", e.rule, "rewards"), 1), (("rule_reward", f"{e.rule}{KEY_SEP}{reward}", "cost"), cost),
                                 (("rule", e.rule, "effects"), 1),
                                 (("rule_reward_month", f"{e.rule}{KEY_SEP}{reward}{KEY_SEP}{month}", "cost"), cost)):
                        cells[k] = get(k, 0) + v
            elif kind == "points_redeemed":
                self.redeemed[e.point_kind] = self.redeemed.get(e.point_kind, 0) + e.points
                k = ("points", f"{e.point_kind}{KEY_SEP}{month}", "redeemed")
                cells[k] = get(k, 0) + e.points
                k = ("reward", e.reward, "points_spent")
                cells[k] = get(k, 0) + e.points
                k = ("store", store, "points_redeemed")
                cells[k] = get(k, 0) + e.points
            elif kind == "points_expired":
                self.expired[e.point_kind] = self.expired.get(e.point_kind, 0) + e.points
                k = ("points", f"{e.point_kind}{KEY_SEP}{month}", "expired")
                cells[k] = get(k, 0) + e.points
            elif kind == "points_clawed_back":
                self.clawed[e.point_kind] = self.clawed.get(e.point_kind, 0) + e.points
                k = ("points", f"{e.point_kind}{KEY_SEP}{month}", "clawed_back")
                cells[k] = get(k, 0) + e.points
                if e.rule:
                    k = ("rule", e.rule, "points_clawed_back")
                    cells[k] = get(k, 0) + e.points
            elif kind == "reward_taken_back":
                reward, face = e.reward, e.amount or 0
                cost = self.reward_costs.get(reward, e.cost or 0)
                self.rewards -= 1
                self.reward_value -= face
                self.reward_cost -= cost
                r.add("reward", reward, "taken_back")
                r.add("reward", reward, "face_value", -face)
                r.add("reward", reward, "cost", -cost)
                r.add("reward_month", f"{reward}{KEY_SEP}{month}", "cost", -cost)
                r.add("store_reward", f"{store}{KEY_SEP}{reward}", "cost", -cost)
                if e.rule:
                    r.add("rule", e.rule, "rewards", -1)
                    r.add("rule_reward", f"{e.rule}{KEY_SEP}{reward}", "cost", -cost)
                    r.add("rule_reward_month", f"{e.rule}{KEY_SEP}{reward}{KEY_SEP}{month}", "cost", -cost)
            elif kind == "reward_used":
                r.add("reward", e.reward, "redeemed")
            elif kind == "reward_lapsed":
                # an offer not used in its lifetime costs nothing: its cost, counted when given, comes off
                # every table that counted it, so each still adds up to the headline
                reward = e.reward
                cost = self.reward_costs.get(reward, e.cost or 0)
                self.reward_cost -= cost
                r.add("reward", reward, "lapsed")
                r.add("reward", reward, "cost", -cost)
                r.add("reward_month", f"{reward}{KEY_SEP}{month}", "cost", -cost)
                r.add("store_reward", f"{store}{KEY_SEP}{reward}", "cost", -cost)
                if e.rule:
                    r.add("rule_reward", f"{e.rule}{KEY_SEP}{reward}", "cost", -cost)
                    r.add("rule_reward_month", f"{e.rule}{KEY_SEP}{reward}{KEY_SEP}{month}", "cost", -cost)
            elif kind == "tier_changed":
                self.tier = e.tier_to or ""
                self.tier_changes.append((month, self.tier))
                if e.tier_to:
                    self.tiers_reached.add(e.tier_to)
                r.add("tier_change", f"{e.tier_from or ''}{KEY_SEP}{e.tier_to or ''}", "members")
            elif kind == "draw_entries":
                key = (e.draw, period_key(e.time, self.draw_periods.get(e.draw)) if e.draw in self.draw_periods else "")
                self.draw_entries[key] = self.draw_entries.get(key, 0) + (e.entries or 0)
            elif kind == "cap_reached":
                r.add("cap", e.rule, "times")
                r.add("cap", e.rule, "truncated", e.truncated or 0)
            elif kind == "budget_reached":
                budget = e.scope or e.rule
                r.add("budget", budget, "times")
                r.add("budget", budget, "truncated", e.truncated or 0)
            elif kind == "points_adjusted":
                # adjustments (runtime/mechanics/adjustments.py): apart from what rules give, in their own table;
                # the points stay outstanding like any others
                pk, pts = e.point_kind, e.points
                self.adjusted[pk] = self.adjusted.get(pk, 0) + pts
                r.add("points", f"{pk}{KEY_SEP}{month}", "adjusted", pts)
                row = f"{e.reason}{KEY_SEP}{pk}"
                r.add("adjustment", row, "points_added" if pts > 0 else "points_removed", abs(pts))
                r.add("adjustment", row, "adjustments")
                self.adjustment_keys.add(row)
            elif kind in ("tier_adjusted", "punches_adjusted"):
                if kind == "tier_adjusted":
                    self.tier = e.tier_to or ""
                    self.tier_changes.append((month, self.tier))
                    if e.tier_to:
                        self.tiers_reached.add(e.tier_to)
                row = f"{e.reason}{KEY_SEP}"
                r.add("adjustment", row, "tiers_set" if kind == "tier_adjusted" else "punch_cards_set")
                r.add("adjustment", row, "adjustments")
                self.adjustment_keys.add(row)
            elif kind == "fee_paid":
                # a paid tier's fee (runtime/mechanics/fees.py): revenue, apart from what the rules cost
                fee_key = f"{e.tier_to}{KEY_SEP}{month}"
                r.add("fee", fee_key, "payments")
                r.add("fee", fee_key, "amount", e.amount or 0)
                self.fee_tiers.add(e.tier_to)
            elif kind == "stock_out":
                r.add("stock", e.reward, "refused")
            elif kind == "code_used":
                r.add("code", e.scope[len("code:"):], "used")
            elif kind == "code_refused":
                r.add("code", e.scope[len("code:"):], e.reason.replace(" ", "_"))
            elif kind in ("discount_not_applied", "gift_not_given"):
                pass  # the winner's discount or gift is counted; `loyalty explain` shows the losers
            elif kind == "redemption_refused":
                r.add("refused", e.reward or "", e.reason or "refused")
            elif kind == "duplicate_ignored":
                r.count("duplicates_ignored")
            else:
                r.count(f"effects_{kind}")

    # ------------------------------------------------------------ the member's totals
    def finish(self, months: list[str], draws: dict[str, int], seed: int, point_costs: dict[str, Decimal],
               tier_names: tuple[str, ...], member_row: bool = True) -> None:
        r = self.result
        r.count("members")
        if self.orders:
            r.count("purchasing_members")
        for reward in self.rewards_reached:
            r.add("reward", reward, "members")
        for key in self.adjustment_keys:
            r.add("adjustment", key, "members")
        for tier in self.fee_tiers:
            r.add("fee_tier", tier, "members")
        for tier in self.tiers_reached:
            r.add("tier", tier, "members_reached")
        for store in self.stores_bought:
            r.add("store", store, "members")
        if self.regions is not None:
            for region in {region_of(store, self.regions) for store in self.stores_bought}:
                r.add("region", region, "members")
        if self.tier:
            r.add("tier", self.tier, "members_at_end")
        if self.first_reward is not None and self.first_time is not None:
            r.observe("days_to_first_reward", (self.first_reward - self.first_time).days)
        # members per tier at the end of each month, from the member's first month on
        if tier_names and self.first_time is not None:
            changes = self.tier_changes
            j, tier = 0, ""
            for month in months:
                if month < month_of(self.first_time):
                    continue
                while j < len(changes) and changes[j][0] <= month:
                    tier = changes[j][1]
                    j += 1
                if tier:
                    r.add("tier_month", f"{tier}{KEY_SEP}{month}", "members")
        # draws: one weighted-reservoir key per period entered; the largest keys win (Efraimidis-Spirakis)
        for (draw, period), entries in sorted(self.draw_entries.items()):
            if entries <= 0:
                continue
            r.add("draw", f"{draw}{KEY_SEP}{period}", "entries", entries)
            r.add("draw", f"{draw}{KEY_SEP}{period}", "entrants")
            key = draw_key_values(seed, draw, period, [self.member], [entries])[0]
            r.offer_draw(f"{draw}{KEY_SEP}{period}", draws.get(draw, 1), DrawKey(key, self.member))
        if member_row:
            outstanding = {k: self.earned.get(k, 0) + self.adjusted.get(k, 0) - self.redeemed.get(k, 0)
                           - self.expired.get(k, 0) - self.clawed.get(k, 0)
                           for k in set(self.earned) | set(self.redeemed) | set(self.clawed) | set(self.adjusted)}
            points_value = sum((Decimal(v) * point_costs.get(k, Decimal(0)) for k, v in self.earned.items()),
                               Decimal(0))
            held = sum((Decimal(v) * point_costs.get(k, Decimal(0)) for k, v in outstanding.items()), Decimal(0))
            r.members.append(MemberRow(
                self.member, self.orders, self.revenue, sum(self.earned.values()), sum(self.redeemed.values()),
                sum(outstanding.values()), self.rewards, self.discount,
                Decimal(self.discount + self.reward_value) + points_value, self.tier,
                Decimal(self.discount + self.reward_cost + self.perk_cost) + held, held,
            ))
