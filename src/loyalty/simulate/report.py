"""The report: every figure, computed from a merged `SimResult` only.

`build_report` returns one JSON-ready dict (the documented `--format json`
document, docs/simulate.md); the terminal, CSV and chart renderers all read
that dict, so every output shows the same numbers. Money is exact: Decimal
arithmetic on integer minor units, written as decimal strings.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Optional

from loyalty.currencies import money_text
from loyalty.runtime.timeutil import next_period_start
from loyalty.simulate.measures import customer_report
from loyalty.simulate.result import EXACT, KEY_SEP, NO_STORE, SimResult, region_of

REPORT_FORMAT = "loyalty-simulation/1"
# the codes table's counts: uses, then refusals by reason (runtime/mechanics/codes.py REASONS, spaces as _)
CODE_COLUMNS = ("used", "already_used_by_this_member", "no_rule_applies", "no_uses_left", "unknown_code")


@dataclass(frozen=True)
class ProgramInfo:
    """What the report needs to know about the program (names, costs, order of tiers)."""

    name: str
    file: str
    currency: str
    exponent: int
    point_costs: dict[str, Decimal] = field(default_factory=dict)  # kind -> cost per point, minor units
    rewards: dict[str, str] = field(default_factory=dict)  # reward -> kind (free_item, gift_card, ...)
    offers: tuple[str, ...] = ()  # the rewards with a lifetime (`valid for ...`): given, redeemed, lapsed
    rule_lines: dict[str, int] = field(default_factory=dict)  # rule -> source line
    tiers: tuple[str, ...] = ()
    draws: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # draw -> (prize minor, winners, period)
    budgets: dict[str, str] = field(default_factory=dict)  # budget key -> its limit as text
    codes: dict[str, Optional[int]] = field(default_factory=dict)  # declared code -> its total uses (None: any)
    stores: dict[str, Optional[str]] = field(default_factory=dict)  # declared store -> its region (or None)
    tier_fees: dict[str, tuple[int, str]] = field(default_factory=dict)  # paid tier -> (fee minor, period)


@dataclass(frozen=True)
class HistoryInfo:
    file: str
    rows: int
    skipped: dict[str, int]
    first: Optional[_dt.datetime]
    last: Optional[_dt.datetime]
    bad_rows: tuple[str, ...] = ()


def months_between(first: _dt.datetime, last: _dt.datetime) -> list[str]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _share(part: Decimal | int, whole: Decimal | int) -> Optional[str]:
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")))


def build_report(result: SimResult, program: ProgramInfo, history: HistoryInfo, assumptions: dict,
                 months: list[str]) -> dict:
    with localcontext(EXACT):
        return _build(result, program, history, assumptions, months)


def _draw_month(period: str, kind: str, months: list[str]) -> str:
    """The month a draw's prizes are booked in: when it is held, at the end of its period, kept
    within the history's months (a yearly draw of a history that ends in June pays in June)."""
    start = _dt.datetime.fromisoformat(period)
    held = (next_period_start(start, kind) - _dt.timedelta(days=1)).strftime("%Y-%m")
    return min(max(held, months[0]), months[-1]) if months else held


def _build(result: SimResult, program: ProgramInfo, history: HistoryInfo, assumptions: dict,
           months: list[str]) -> dict:
    scale = Decimal(1).scaleb(-program.exponent)
    money = lambda minor: (Decimal(minor) * scale)  # noqa: E731  minor units (int or Decimal) -> currency

    def text(value: Decimal) -> str:
        return money_text(value, program.exponent)  # 12.50, not 12.5 or 12.500000 (currencies.py)

    counts, tables = result.counts, result.tables
    point_breakage = Decimal(assumptions.get("points_breakage", "0"))
    gift_breakage = Decimal(assumptions.get("gift_card_breakage", "0"))

    def table(name: str) -> dict:
        return tables.get(name, {})

    # ------------------------------------------------ rewards: cost = declared cost, gift cards less breakage
    rewards = []
    reward_cost_total = Decimal(0)
    members = counts.get("members", 0)
    for name, row in sorted(table("reward").items()):
        cost = Decimal(row.get("cost", 0))
        if program.rewards.get(name) == "gift_card":
            cost = cost * (1 - gift_breakage)
        reward_cost_total += cost
        rewards.append({
            "reward": name, "kind": program.rewards.get(name, ""), "given": row.get("given", 0),
            "taken_back": row.get("taken_back", 0), "members": row.get("members", 0),
            "share_of_members": _share(row.get("members", 0), members), "points_spent": row.get("points_spent", 0),
            "face_value": text(money(row.get("face_value", 0))), "cost": text(money(cost)),
        })
        if name in program.offers:  # an offer with a lifetime: used, lapsed (costing nothing), or still held
            rewards[-1].update(redeemed=row.get("redeemed", 0), lapsed=row.get("lapsed", 0))

    def reward_cost(reward: str, minor) -> Decimal:
        cost = Decimal(minor)
        return cost * (1 - gift_breakage) if program.rewards.get(reward) == "gift_card" else cost

    # ------------------------------------------------ points, by kind and month
    kinds = sorted({key.split(KEY_SEP)[0] for key in table("points")} | set(k for k in program.point_costs))
    flows = ("issued", "redeemed", "expired", "clawed_back")
    totals = {k: {f: 0 for f in flows} for k in kinds}
    adjusted = {k: 0 for k in kinds}  # by adjustments (runtime/mechanics/adjustments.py), not by rules
    for key, row in table("points").items():
        kind = key.split(KEY_SEP)[0]
        for f in flows:
            totals[kind][f] += row.get(f, 0)
        adjusted[kind] += row.get("adjusted", 0)
    points = []
    liability_end = Decimal(0)
    for k in kinds:
        t = totals[k]
        outstanding = adjusted[k] + t["issued"] - t["redeemed"] - t["expired"] - t["clawed_back"]
        cpp = program.point_costs.get(k, Decimal(0))
        liability = Decimal(outstanding) * cpp * (1 - point_breakage)
        liability_end += liability
        points.append({
            "kind": k, **t, "outstanding": outstanding, "cost_per_point": text(money(cpp)),
            "redemption_rate": _share(t["redeemed"], t["issued"]), "breakage": _share(t["expired"], t["issued"]),
            "liability": text(money(liability)),
            **({"adjusted": adjusted[k]} if adjusted[k] else {}),
        })

    # ------------------------------------------------ draws: the largest keys win each period
    draws = []
    draw_cost_total = Decimal(0)
    draw_cost_by_month: dict[str, Decimal] = {}
    draw_paid: dict[str, Decimal] = {}  # draw -> prizes paid, minor units
    draw_paid_by_month: dict[tuple[str, str], Decimal] = {}  # (draw, month it is booked in) -> prizes paid
    for key, row in sorted(table("draw").items()):
        draw, period = key.split(KEY_SEP, 1)
        prize, winners, kind = program.draws.get(draw, (0, 1, "month"))
        won = [k.member for k in sorted(result.draw_keys.get(key, []), reverse=True)]
        paid = Decimal(prize) * len(won)
        draw_cost_total += paid
        draw_paid[draw] = draw_paid.get(draw, Decimal(0)) + paid
        month = _draw_month(period, kind, months)
        draw_cost_by_month[month] = draw_cost_by_month.get(month, Decimal(0)) + paid
        draw_paid_by_month[draw, month] = draw_paid_by_month.get((draw, month), Decimal(0)) + paid
        draws.append({"draw": draw, "period": period, "entries": row.get("entries", 0),
                      "entrants": row.get("entrants", 0), "winners": won, "paid": text(money(paid))})

    discounts = sum((Decimal(r.get("discount_cost", 0)) for r in table("rule").values()), Decimal(0))
    perks = Decimal(sum(r.get("perk_cost", 0) for r in table("tier").values()))
    realized = discounts + reward_cost_total + perks + draw_cost_total
    total_cost = realized + liability_end
    revenue = counts.get("revenue", 0)

    # ------------------------------------------------ by rule
    rule_reward_cost: dict[str, Decimal] = {}
    for key, row in table("rule_reward").items():
        rule, reward = key.split(KEY_SEP, 1)
        rule_reward_cost[rule] = rule_reward_cost.get(rule, Decimal(0)) + reward_cost(reward, row.get("cost", 0))
    by_rule = []
    only_kind_cost = program.point_costs.get(kinds[0], Decimal(0)) if len(kinds) == 1 else Decimal(0)
    for name in sorted(set(table("rule")) | set(program.rule_lines), key=lambda n: (program.rule_lines.get(n, 1 << 30), n)):
        row = table("rule").get(name, {})
        issued = row.get("points_issued", 0) - row.get("points_clawed_back", 0)
        points_value = Decimal(issued) * only_kind_cost
        direct = Decimal(row.get("discount_cost", 0)) + rule_reward_cost.get(name, Decimal(0))
        by_rule.append({
            "rule": name, "kind": "rule", "line": program.rule_lines.get(name),
            "points_issued": row.get("points_issued", 0),
            "points_clawed_back": row.get("points_clawed_back", 0), "rewards": row.get("rewards", 0),
            "discount": text(money(row.get("discount", 0))),
            "reward_cost": text(money(rule_reward_cost.get(name, Decimal(0)))),
            "points_value": text(money(points_value)), "cost": text(money(direct)),
            "share_of_revenue": _share(direct, revenue),
        })
    # Costs no single rule causes get rows of their own, so the cost column adds up to the
    # total: points cost when redeemed (in the `redeem` rows) or as the liability left at the
    # end; `points_value` (points x cost per point) shows what each rule's points are worth.
    other_rows = [("(tier perks)", "perks", perks)] if program.tiers else []
    other_rows += [(f"(draw {name})", "draw", paid) for name, paid in sorted(draw_paid.items())]
    if kinds:
        other_rows.append(("(points outstanding at the end)", "liability", liability_end))
    for label, kind, cost in other_rows:
        by_rule.append({
            "rule": label, "kind": kind, "line": None, "points_issued": 0, "points_clawed_back": 0, "rewards": 0,
            "discount": text(money(0)), "reward_cost": text(money(0)), "points_value": text(money(0)),
            "cost": text(money(cost)), "share_of_revenue": _share(cost, revenue),
        })

    # ------------------------------------------------ by tier
    by_tier = []
    for name in program.tiers:
        row = table("tier").get(name, {})
        by_tier.append({
            "tier": name, "members_reached": row.get("members_reached", 0),
            "share_reached": _share(row.get("members_reached", 0), members),
            "members_at_end": row.get("members_at_end", 0), "perk_cost": text(money(row.get("perk_cost", 0))),
        })
    fees = _fees(table, program, only_kind_cost, money, text) \
        if program.tier_fees else None
    tier_moves = {"upgrades": 0, "downgrades": 0}
    order = {name: i for i, name in enumerate(program.tiers)}
    for key, row in table("tier_change").items():
        before, after = key.split(KEY_SEP, 1)
        up = order.get(after, -1) > order.get(before, -1)
        tier_moves["upgrades" if up else "downgrades"] += row.get("members", 0)

    # ------------------------------------------------ by month
    by_month = []
    outstanding = {k: 0 for k in kinds}
    cumulative = Decimal(0)
    reward_month: dict[str, Decimal] = {}
    for key, row in table("reward_month").items():
        reward, month = key.split(KEY_SEP, 1)
        reward_month[month] = reward_month.get(month, Decimal(0)) + reward_cost(reward, row.get("cost", 0))
    # each month's cost split by the by-rule table's cost rows (perks and draws their own rows, as there)
    rule_month: dict[tuple[str, str], Decimal] = {}
    for key, row in table("rule_month").items():
        rule, month = key.split(KEY_SEP, 1)
        rule_month[rule, month] = rule_month.get((rule, month), Decimal(0)) + Decimal(row.get("discount_cost", 0))
    for key, row in table("rule_reward_month").items():
        rule, reward, month = key.split(KEY_SEP, 2)
        rule_month[rule, month] = rule_month.get((rule, month), Decimal(0)) + reward_cost(reward, row.get("cost", 0))
    with_cost = {rule for rule, _ in rule_month}
    cost_rules = [r["rule"] for r in by_rule if r["kind"] == "rule" and r["rule"] in with_cost]
    for key, row in table("month").items():
        if row.get("perk_cost"):
            rule_month["(tier perks)", key] = Decimal(row["perk_cost"])
    for (draw, month), paid in draw_paid_by_month.items():
        rule_month[f"(draw {draw})", month] = paid
    cost_rules += [r["rule"] for r in by_rule if r["kind"] in ("perks", "draw")]
    for month in months:
        mrow = table("month").get(month, {})
        flows_m = {f: 0 for f in flows}
        liability = Decimal(0)
        for k in kinds:
            p = table("points").get(f"{k}{KEY_SEP}{month}", {})
            for f in flows:
                flows_m[f] += p.get(f, 0)
            outstanding[k] += (p.get("issued", 0) + p.get("adjusted", 0) - p.get("redeemed", 0) - p.get("expired", 0)
                               - p.get("clawed_back", 0))
            liability += Decimal(outstanding[k]) * program.point_costs.get(k, Decimal(0)) * (1 - point_breakage)
        by_type = {"discounts": Decimal(mrow.get("discount", 0)), "reward_cost": reward_month.get(month, Decimal(0)),
                   "perk_cost": Decimal(mrow.get("perk_cost", 0)), "draw_prizes": draw_cost_by_month.get(month, Decimal(0))}
        cost = sum(by_type.values(), Decimal(0))
        cumulative += cost
        by_rule_m = {rule: rule_month.get((rule, month), Decimal(0)) for rule in cost_rules}
        other = cost - sum(by_rule_m.values(), Decimal(0))
        if other:  # rewards no rule gave (none today: every reward names its rule or redemption)
            by_rule_m["(other)"] = other
        by_month.append({
            "month": month, "orders": mrow.get("orders", 0), "revenue": text(money(mrow.get("revenue", 0))),
            "points_issued": flows_m["issued"], "points_redeemed": flows_m["redeemed"],
            "points_expired": flows_m["expired"], "points_clawed_back": flows_m["clawed_back"],
            "points_outstanding": sum(outstanding.values()), "rewards": mrow.get("rewards", 0),
            "cost": text(money(cost)), "cumulative_cost": text(money(cumulative)), "liability": text(money(liability)),
            "cost_by_type": {k: text(money(v)) for k, v in by_type.items()},
            "cost_by_rule": {k: text(money(v)) for k, v in by_rule_m.items()},
            # realized cost so far plus the liability at the month's end: the last month's is the headline total
            "total_cost_to_date": text(money(cumulative + liability)),
        })

    # ------------------------------------------------ by store and region (an event's store is its first row's)
    store_reward: dict[str, Decimal] = {}
    for key, row in table("store_reward").items():
        store, reward = key.split(KEY_SEP, 1)
        store_reward[store] = store_reward.get(store, Decimal(0)) + reward_cost(reward, row.get("cost", 0))
    store_rows = table("store")
    names = sorted((set(store_rows) | set(store_reward) | set(program.stores)) - {""})
    if "" in store_rows or "" in store_reward or draw_cost_total:
        names.append("")
    by_store = []
    regions: dict[str, dict] = {}
    for name in names:
        row = store_rows.get(name, {})
        parts = {"discount_cost": Decimal(row.get("discount_cost", 0)), "reward_cost": store_reward.get(name, Decimal(0)),
                 "perk_cost": Decimal(row.get("perk_cost", 0)), "draw_prizes": draw_cost_total if name == "" else Decimal(0)}
        cost = sum(parts.values(), Decimal(0))
        store_revenue = row.get("revenue", 0)
        counts_s = {k: row.get(k, 0) for k in ("orders", "members", "points_issued", "points_redeemed")}
        by_store.append({
            "store": name or NO_STORE, "region": program.stores.get(name),
            "orders": counts_s["orders"], "revenue": text(money(store_revenue)), "members": counts_s["members"],
            "points_issued": counts_s["points_issued"], "points_redeemed": counts_s["points_redeemed"],
            **{k: text(money(v)) for k, v in parts.items()},
            "cost": text(money(cost)), "share_of_revenue": _share(cost, store_revenue),
        })
        agg = regions.setdefault(region_of(name, program.stores), {
            "stores": 0, "orders": 0, "revenue": 0, "points_issued": 0, "points_redeemed": 0, "cost": Decimal(0)})
        agg["stores"] += 1 if name else 0
        for k in ("orders", "points_issued", "points_redeemed"):
            agg[k] += counts_s[k]
        agg["revenue"] += store_revenue
        agg["cost"] += cost
    by_region = []
    if any(program.stores.values()):  # the program puts stores in regions
        for region in sorted(regions, key=lambda g: (g.startswith("("), g)):
            agg = regions[region]
            by_region.append({
                "region": region, "stores": agg["stores"], "orders": agg["orders"],
                "revenue": text(money(agg["revenue"])),
                "members": table("region").get(region, {}).get("members", 0),
                "points_issued": agg["points_issued"], "points_redeemed": agg["points_redeemed"],
                "cost": text(money(agg["cost"])), "share_of_revenue": _share(agg["cost"], agg["revenue"]),
            })

    first_reward = result.histograms.get("days_to_first_reward", {})
    issued_all = sum(t["issued"] for t in totals.values())
    from loyalty.versioning import version_tag

    return {
        **version_tag(REPORT_FORMAT),
        "program": {"name": program.name, "file": program.file, "currency": program.currency},
        "history": {
            "file": history.file, "rows": history.rows,
            "skipped_rows": sum(history.skipped.values()), "skipped_by_reason": dict(sorted(history.skipped.items())),
            "skipped_examples": list(history.bad_rows),
            "first": history.first.isoformat() if history.first else None,
            "last": history.last.isoformat() if history.last else None,
        },
        "assumptions": assumptions,
        "headline": {
            "members": members, "purchasing_members": counts.get("purchasing_members", 0),
            "orders": counts.get("orders", 0), "returns": counts.get("returns", 0),
            "revenue": text(money(revenue)),
            "discounts": text(money(discounts)), "reward_cost": text(money(reward_cost_total)),
            "perk_cost": text(money(perks)), "draw_prizes": text(money(draw_cost_total)),
            "realized_cost": text(money(realized)), "liability_end": text(money(liability_end)),
            "total_cost": text(money(total_cost)), "cost_share_of_revenue": _share(total_cost, revenue),
            "points_issued": issued_all,
            "redemption_rate": _share(sum(t["redeemed"] for t in totals.values()), issued_all),
            "breakage": _share(sum(t["expired"] for t in totals.values()), issued_all),
            "simulated_redemptions": counts.get("simulated_redemptions", 0),
            "duplicates_ignored": counts.get("duplicates_ignored", 0),
        },
        "by_rule": by_rule,
        "by_reward": rewards,
        "by_tier": by_tier,
        "tier_moves": tier_moves,
        "tiers_by_month": [
            {"month": m, **{t: table("tier_month").get(f"{t}{KEY_SEP}{m}", {}).get("members", 0) for t in program.tiers}}
            for m in months
        ] if program.tiers else [],
        "points": points,
        "by_month": by_month,
        "by_store": by_store,
        "by_region": by_region,
        "time_to_first_reward": _histogram_summary(first_reward),
        "caps": [{"rule": k, "times": v.get("times", 0), "truncated": v.get("truncated", 0)}
                 for k, v in sorted(table("cap").items())],
        "budgets": [{"budget": k, "limit": program.budgets.get(k), "times": v.get("times", 0),
                     "truncated": v.get("truncated", 0), "ran_out": result.exhausted.get(k)}
                    for k, v in sorted(table("budget").items())],
        # the budgets keyed stock:<reward> are the rewards' stock (runtime/mechanics/stock.py)
        "stock": [{"reward": key[len("stock:"):], "limit": int(limit),
                   "given": table("reward").get(key[len("stock:"):], {}).get("given", 0),
                   "refused": table("stock").get(key[len("stock:"):], {}).get("refused", 0),
                   "ran_out": result.exhausted.get(key)}
                  for key, limit in sorted(program.budgets.items()) if key.startswith("stock:")],
        # adjustments by reason and point kind, apart from what the rules cost (runtime/mechanics/adjustments.py)
        "adjustments": [_adjustment_row(key, row, program, money, text)
                        for key, row in sorted(table("adjustment").items())],
        # paid tiers' fees: revenue, apart from what the rules cost, and each tier's net cost (mechanics/fees.py)
        **({"fees": fees} if fees is not None else {}),
        # every code the program declares or a purchase carried: used, and refused by reason (mechanics/codes.py)
        "codes": [{"code": code, "declared": code in program.codes, "limit": program.codes.get(code),
                   **{column: table("code").get(code, {}).get(column, 0) for column in CODE_COLUMNS}}
                  for code in sorted(set(program.codes) | set(table("code")))],
        "draws": draws,
        # members and the customers who were not, when the program or the scenario says who joins
        **({"enrolment": _enrolment(counts, revenue, total_cost, money, text)}
           if "enrolled_members" in counts or "non_members" in counts else {}),
        "customers": customer_report(result, months, assumptions.get("lapse_after_days"), program.exponent),
        "rejected_events": [{"reason": k, "events": v.get("events", 0)} for k, v in sorted(table("rejected").items())],
        "redemptions_refused": [{"reward": k, "reason": reason, "count": n}
                                for k, v in sorted(table("refused").items()) for reason, n in sorted(v.items())],
    }


def _enrolment(counts: dict, revenue, total_cost, money, text) -> dict:
    """Members against customers who never joined (runtime/mechanics/enrolment.py): the orders and revenue that
    counted for the program (members', from their signup less the window) and those that did not; the
    program's cost is all members'."""
    outside = counts.get("non_member_revenue", 0)
    member_revenue = revenue - outside
    return {
        "members": counts.get("enrolled_members", 0), "non_members": counts.get("non_members", 0),
        "member_orders": counts.get("orders", 0) - counts.get("non_member_orders", 0),
        "non_member_orders": counts.get("non_member_orders", 0),
        "member_revenue": text(money(member_revenue)), "non_member_revenue": text(money(outside)),
        "cost_share_of_member_revenue": _share(total_cost, member_revenue),
    }


def _fees(table, program: ProgramInfo, only_kind_cost: Decimal, money, text) -> dict:
    """Fee revenue by paid tier and by month, and each paid tier's net cost: what its own benefits cost (its
    discount and rewards, its multipliers' points valued as in the by-rule table, its perks) less its fees."""
    by_tier_month: dict[str, dict[str, dict]] = {}
    for key, row in table("fee").items():
        tier, month = key.split(KEY_SEP, 1)
        by_tier_month.setdefault(tier, {})[month] = row
    total = 0
    by_tier = []
    for tier, (fee, period) in program.tier_fees.items():
        rows = by_tier_month.get(tier, {}).values()
        revenue = sum(r.get("amount", 0) for r in rows)
        total += revenue
        own = table("rule").get(tier, {})
        points = Decimal(own.get("points_issued", 0) - own.get("points_clawed_back", 0)) * only_kind_cost
        benefits = Decimal(own.get("discount_cost", 0)) + points + Decimal(table("tier").get(tier, {}).get("perk_cost", 0))
        by_tier.append({"tier": tier, "fee": text(money(fee)), "period": period,
                        "payments": sum(r.get("payments", 0) for r in rows),
                        "members": table("fee_tier").get(tier, {}).get("members", 0),
                        "revenue": text(money(revenue)), "benefit_cost": text(money(benefits)),
                        "net_cost": text(money(benefits - revenue))})
    months: dict[str, list[int]] = {}
    for tier_rows in by_tier_month.values():
        for month, row in tier_rows.items():
            m = months.setdefault(month, [0, 0])
            m[0] += row.get("payments", 0)
            m[1] += row.get("amount", 0)
    return {"revenue": text(money(total)), "by_tier": by_tier,
            "by_month": [{"month": m, "payments": p, "revenue": text(money(a))} for m, (p, a) in sorted(months.items())]}


def _adjustment_row(key: str, row: dict, program: ProgramInfo, money, text) -> dict:
    reason, _, kind = key.partition(KEY_SEP)
    net = row.get("points_added", 0) - row.get("points_removed", 0)
    value = Decimal(net) * program.point_costs.get(kind, Decimal(0))
    return {"reason": reason, "point_kind": kind or None, "adjustments": row.get("adjustments", 0),
            "members": row.get("members", 0), "points_added": row.get("points_added", 0),
            "points_removed": row.get("points_removed", 0), "value": text(money(value)),
            "tiers_set": row.get("tiers_set", 0), "punch_cards_set": row.get("punch_cards_set", 0)}


def _histogram_summary(hist: dict[int, int]) -> dict:
    n = sum(hist.values())
    if not n:
        return {"members": 0, "median_days": None, "mean_days": None}
    values = sorted(hist.items())
    seen, median = 0, None
    for value, count in values:
        seen += count
        if seen * 2 >= n:
            median = value
            break
    mean = Decimal(sum(v * c for v, c in values)) / n
    return {"members": n, "median_days": median, "mean_days": str(mean.quantize(Decimal("0.1")))}
