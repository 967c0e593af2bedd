"""The report's tables, typed: one definition for the `--out` files (CSV, Parquet) and the Python API.

Every table has its columns even when it has no rows (an empty `draws.csv` still has its header, so pandas
and polars read it), and each column a type: text, a whole number, or an exact decimal (money in the
program currency, with its minor units; shares with four places). In Arrow (and so in Parquet, polars and
pandas) an exact decimal is a `decimal128` whose scale is the column's largest number of decimals, never a
binary float; in pandas its cells are `decimal.Decimal` objects.

Columns not declared here (a table that gained a column) are kept, after the declared ones, their type
read from their values: whole numbers, decimal text, or text.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Optional

TEXT, INT, DECIMAL = "text", "int", "decimal"
MONEY, SHARE = "money", "share"  # exact decimals too: money has at least the currency's decimals, a share four

# table -> its columns in order, each with its type; a table's rows come from the report section of the same
# name unless `rows` below says otherwise
SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "summary": (("figure", TEXT), ("value", TEXT)),
    "by_rule": (("rule", TEXT), ("kind", TEXT), ("line", INT), ("points_issued", DECIMAL),
                ("points_clawed_back", DECIMAL), ("rewards", INT), ("discount", MONEY), ("reward_cost", MONEY),
                ("points_value", MONEY), ("cost", MONEY), ("share_of_revenue", SHARE)),
    "by_reward": (("reward", TEXT), ("kind", TEXT), ("given", INT), ("taken_back", INT), ("members", INT),
                  ("share_of_members", SHARE), ("points_spent", DECIMAL), ("face_value", MONEY),
                  ("cost", MONEY), ("redeemed", INT), ("lapsed", INT)),
    "by_tier": (("tier", TEXT), ("members_reached", INT), ("share_reached", SHARE), ("members_at_end", INT),
                ("perk_cost", MONEY)),
    "by_month": (("month", TEXT), ("orders", INT), ("revenue", MONEY), ("points_issued", DECIMAL),
                 ("points_redeemed", DECIMAL), ("points_expired", DECIMAL), ("points_clawed_back", DECIMAL),
                 ("points_outstanding", DECIMAL), ("rewards", INT), ("cost", MONEY), ("cumulative_cost", MONEY),
                 ("liability", MONEY), ("total_cost_to_date", MONEY)),
    # by_month's splits of the month's cost (by cost type, by rule), one row per part
    "by_month_cost": (("month", TEXT), ("split", TEXT), ("name", TEXT), ("cost", MONEY)),
    "by_store": (("store", TEXT), ("region", TEXT), ("orders", INT), ("revenue", MONEY), ("members", INT),
                 ("points_issued", DECIMAL), ("points_redeemed", DECIMAL), ("discount_cost", MONEY),
                 ("reward_cost", MONEY), ("perk_cost", MONEY), ("draw_prizes", MONEY), ("cost", MONEY),
                 ("share_of_revenue", SHARE)),
    "by_region": (("region", TEXT), ("stores", INT), ("orders", INT), ("revenue", MONEY), ("members", INT),
                  ("points_issued", DECIMAL), ("points_redeemed", DECIMAL), ("cost", MONEY),
                  ("share_of_revenue", SHARE)),
    "draws": (("draw", TEXT), ("period", TEXT), ("entries", INT), ("entrants", INT), ("winners", TEXT),
              ("paid", MONEY)),
    "by_member": (("member", TEXT), ("orders", INT), ("revenue", MONEY), ("points_earned", DECIMAL),
                  ("points_redeemed", DECIMAL), ("points_outstanding", DECIMAL), ("rewards", INT),
                  ("discount", MONEY), ("value_received", MONEY), ("tier", TEXT)),
    "points": (("kind", TEXT), ("issued", DECIMAL), ("redeemed", DECIMAL), ("expired", DECIMAL),
               ("clawed_back", DECIMAL), ("outstanding", DECIMAL), ("cost_per_point", MONEY),
               ("redemption_rate", SHARE), ("breakage", SHARE), ("liability", MONEY)),
    "tiers_by_month": (("month", TEXT),),
    "caps": (("rule", TEXT), ("times", INT), ("truncated", DECIMAL)),
    "budgets": (("budget", TEXT), ("limit", DECIMAL), ("times", INT), ("truncated", DECIMAL), ("ran_out", TEXT)),
    "stock": (("reward", TEXT), ("limit", INT), ("given", INT), ("refused", INT), ("ran_out", TEXT)),
    "codes": (("code", TEXT), ("declared", TEXT), ("limit", INT), ("used", INT), ("already_used_by_this_member", INT),
              ("no_rule_applies", INT), ("no_uses_left", INT), ("unknown_code", INT)),
    "adjustments": (("reason", TEXT), ("point_kind", TEXT), ("adjustments", INT), ("members", INT),
                    ("points_added", INT), ("points_removed", INT), ("value", MONEY), ("tiers_set", INT),
                    ("punch_cards_set", INT)),
    # members against customers who never joined (the report's `enrolment`; one row, none unless the program or
    # the scenario says who joins)
    "enrolment": (("members", INT), ("non_members", INT), ("member_orders", INT), ("non_member_orders", INT),
                  ("member_revenue", MONEY), ("non_member_revenue", MONEY), ("cost_share_of_member_revenue", SHARE)),
    "rejected_events": (("reason", TEXT), ("events", INT)),
    # paid tiers (the report's `fees`, runtime/mechanics/fees.py): revenue by tier with its net cost, and by month
    "fees_by_tier": (("tier", TEXT), ("fee", MONEY), ("period", TEXT), ("payments", INT), ("members", INT),
                     ("revenue", MONEY), ("benefit_cost", MONEY), ("net_cost", MONEY)),
    "fees_by_month": (("month", TEXT), ("payments", INT), ("revenue", MONEY)),
    "redemptions_refused": (("reward", TEXT), ("reason", TEXT), ("count", INT)),
    "coverage": (("severity", TEXT), ("kind", TEXT), ("name", TEXT), ("message", TEXT)),
    # the customer measures (the report's `customers`, simulate/measures.py): the whole history in one row,
    # activity by month, retention by signup cohort (one row per cohort and month since signup), value by
    # months since signup, and enrolled members against the rest (no rows unless signup dates are known)
    "customers": (("customers", INT), ("orders", INT), ("repeat_customers", INT), ("repeat_purchase_rate", SHARE),
                  ("average_order_value", MONEY), ("orders_per_customer", DECIMAL),
                  ("days_between_orders_mean", DECIMAL), ("days_between_orders_median", INT),
                  ("value_total", MONEY), ("value_per_customer_mean", MONEY), ("value_per_customer_median", MONEY),
                  ("value_top_tenth_share", SHARE), ("lapse_after_days", INT), ("lapse_after_from", TEXT)),
    "customers_by_month": (("month", TEXT), ("buyers", INT), ("new", INT), ("returned", INT), ("lapsed", INT),
                           ("active_at_end", INT), ("churn_rate", SHARE)),
    "customers_cohorts": (("cohort", TEXT), ("months_since_signup", INT), ("members", INT), ("active", INT),
                          ("retention", SHARE)),
    "customers_value_by_tenure": (("months_since_signup", INT), ("members", INT),
                                  ("cumulative_value_per_member", MONEY)),
    "customers_enrolment": (("segment", TEXT), ("customers", INT), ("orders", INT), ("revenue", MONEY),
                            ("average_order_value", MONEY), ("orders_per_customer", DECIMAL),
                            ("repeat_purchase_rate", SHARE), ("value_per_customer", MONEY)),
}
# the tables of `loyalty.compare` (loyalty/simulation.py)
COMPARE_SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "compare_by_rule": (("rule", TEXT), ("old_cost", MONEY), ("new_cost", MONEY), ("difference", MONEY)),
    "compare_by_month": (("month", TEXT), ("old_cost", MONEY), ("new_cost", MONEY), ("difference", MONEY)),
    "compare_biggest_losers": (("member", TEXT), ("change", MONEY)),
}
# columns that hold names, ids or labels whatever their values look like (a member id "0042" stays text)
TEXT_NAMES = frozenset({"figure", "rule", "kind", "reward", "tier", "draw", "period", "winners", "member", "month",
                        "store", "region", "channel", "segment", "item", "category", "reason", "severity", "name",
                        "message", "budget", "ran_out", "value", "type", "cohort", "lapse_after_from", "code"})
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_MONTH_SPLITS = {"cost_by_type": "type", "cost_by_rule": "rule"}


def table_names(report: dict) -> list[str]:
    """Every table of a report: the declared ones, then any other section that is a list of rows."""
    extra = sorted(k for k, v in report.items() if k not in SCHEMAS and isinstance(v, list)
                   and all(isinstance(r, dict) for r in v))
    return list(SCHEMAS) + extra


def table_rows(report: dict, name: str, member_rows: Optional[list[dict]] = None) -> list[dict]:
    """A table's rows as the report holds them (money as exact decimal text)."""
    if name == "summary":
        return [{"figure": k, "value": "" if v is None else str(v)} for k, v in report["headline"].items()]
    if name == "by_member":
        return list(member_rows or [])
    if name == "by_month":  # its splits are a table of their own (by_month_cost)
        return [{k: v for k, v in r.items() if k not in _MONTH_SPLITS} for r in report.get("by_month", [])]
    if name == "by_month_cost":
        return [{"month": r["month"], "split": split, "name": part, "cost": cost}
                for r in report.get("by_month", []) for key, split in _MONTH_SPLITS.items()
                for part, cost in r.get(key, {}).items()]
    if name == "draws":
        return [{**d, "winners": " ".join(d["winners"])} for d in report.get("draws", [])]
    if name == "coverage":
        return [{c: f.get(c) for c, _ in SCHEMAS["coverage"]} for f in report.get("coverage", {}).get("findings", [])]
    if name.startswith("customers"):
        return _customer_rows(report.get("customers") or {}, name)
    if name == "enrolment":
        return [dict(report["enrolment"])] if report.get("enrolment") else []
    if name in ("fees_by_tier", "fees_by_month"):
        return list((report.get("fees") or {}).get(name[len("fees_"):], []))
    if name not in report and name not in SCHEMAS:
        raise KeyError(name)
    return list(report.get(name) or [])


def _customer_rows(c: dict, name: str) -> list[dict]:
    """The customer measures' tables, from the report's `customers` section."""
    if not c:
        return []
    if name == "customers":
        gaps, value = c["days_between_orders"], c["value"]
        return [{**{k: c[k] for k in ("customers", "orders", "repeat_customers", "repeat_purchase_rate",
                                      "average_order_value", "orders_per_customer", "lapse_after_days",
                                      "lapse_after_from")},
                 "days_between_orders_mean": gaps["mean"], "days_between_orders_median": gaps["median"],
                 "value_total": value["total"], "value_per_customer_mean": value["per_customer_mean"],
                 "value_per_customer_median": value["per_customer_median"],
                 "value_top_tenth_share": value["top_tenth_share"]}]
    if name == "customers_by_month":
        return list(c["by_month"])
    if name == "customers_cohorts":
        return [{"cohort": row["cohort"], "months_since_signup": k, "members": row["members"], "active": active,
                 "retention": retention}
                for row in c["cohorts"] for k, (active, retention) in enumerate(zip(row["active"], row["retention"]))]
    if name == "customers_value_by_tenure":
        return list(c["value_by_months_since_signup"])
    if name == "customers_enrolment":
        return [{"segment": segment, **figures} for segment, figures in (c.get("enrolment") or {}).items()]
    raise KeyError(name)


def table_columns(name: str, rows: list[dict]) -> list[tuple[str, str]]:
    """The table's columns and their types: the declared ones, then any other its rows hold."""
    declared = list(SCHEMAS.get(name, COMPARE_SCHEMAS.get(name, ())))
    known = {c for c, _ in declared}
    for r in rows:
        for c in r:
            if c not in known:
                known.add(c)
                declared.append((c, _type_of(c, [row.get(c) for row in rows])))
    return declared


def _type_of(column: str, values: list) -> str:
    present = [v for v in values if v is not None and v != ""]
    if column in TEXT_NAMES or not present:
        return TEXT
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return INT
    if all(isinstance(v, (int, Decimal)) and not isinstance(v, bool)
           or isinstance(v, str) and _DECIMAL_TEXT.fullmatch(v) for v in present):
        money = any(word in column for word in ("cost", "revenue", "liability", "discount", "paid", "value"))
        return MONEY if money else SHARE if "share" in column else DECIMAL
    return TEXT


def typed_rows(rows: list[dict], columns: list[tuple[str, str]]) -> list[dict]:
    """Rows with typed values: int for whole numbers, Decimal for exact decimals, str for text, None empty."""
    out = []
    for r in rows:
        row = {}
        for c, kind in columns:
            v = r.get(c)
            if v is None or v == "":
                row[c] = None if kind != TEXT or v is None else v
            elif kind in (DECIMAL, MONEY, SHARE):
                row[c] = Decimal(str(v))
            elif kind == INT:
                row[c] = int(v)
            else:
                row[c] = str(v)
        out.append(row)
    return out


def to_arrow(rows: list[dict], columns: list[tuple[str, str]], exponent: int = 2):
    """An Arrow table: text as string, whole numbers as int64, exact decimals as decimal128 (decimal256 when
    38 digits are not enough), with the column's largest number of decimals as its scale."""
    import pyarrow as pa

    typed = typed_rows(rows, columns)
    arrays, fields = [], []
    for c, kind in columns:
        values = [r[c] for r in typed]
        if kind in (DECIMAL, MONEY, SHARE):
            present = [v for v in values if v is not None]
            least = {MONEY: exponent, SHARE: 4}.get(kind, 0)
            scale = max([max(0, -v.as_tuple().exponent) for v in present] + [least])
            whole = max([max(1, len(v.as_tuple().digits) + v.as_tuple().exponent) for v in present] or [1])
            values = [None if v is None else v.quantize(Decimal(1).scaleb(-scale)) for v in values]
            kind_type = pa.decimal128(38, scale) if whole + scale <= 38 else pa.decimal256(76, scale)
        elif kind == INT:
            kind_type = pa.int64()
        else:
            kind_type = pa.string()
        arrays.append(pa.array(values, type=kind_type))
        fields.append(pa.field(c, kind_type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def csv_rows(rows: list[dict], columns: list[tuple[str, str]]) -> list[dict]:
    """Rows for a CSV table: each value as the report writes it (money already has its minor units)."""
    return [{c: r.get(c) for c, _ in columns} for r in rows]
