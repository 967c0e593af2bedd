"""The terminal form of the report's `customers` section (simulate/measures.py): headline lines, activity and
churn by month, and retention by signup cohort. Called by `render.render_terminal`."""

from __future__ import annotations

from typing import Callable


def customer_lines(c: dict, money: Callable[[str], str], pct: Callable, whole: Callable) -> list[str]:
    """The customer measures' headline, in words: the terminal's lines and the HTML report's."""
    gaps, value = c["days_between_orders"], c["value"]
    return [
        f"{whole(c['customers'])} customers, {whole(c['orders'])} orders; repeat purchase rate "
        f"{pct(c['repeat_purchase_rate'])}; average order {money(c['average_order_value'])}; "
        f"{c['orders_per_customer']} orders a customer, median {gaps['median'] if gaps['median'] is not None else '-'}"
        f" days between orders",
        f"value a customer: mean {money(value['per_customer_mean'])}, median {money(value['per_customer_median'])}; "
        f"the top tenth of customers paid {pct(value['top_tenth_share'])}",
        f"lapsed after {c['lapse_after_days']} days without an order ({c['lapse_after_from']})",
    ]


def render_customers(section: dict, console, money: Callable[[str], str], pct: Callable, whole: Callable) -> None:
    from rich.table import Table

    from loyalty.terminal import plain

    if not section or not section["customers"]:
        return

    def table(title: str, names, left=()) -> Table:
        t = Table(title=plain(title), title_justify="left", title_style="bold")
        for col in names:
            t.add_column(plain(col), justify="left" if col in left else "right")
        return t

    c = section
    console.print(plain(("Customers", "bold")))
    for line in customer_lines(c, money, pct, whole):
        console.print(plain(line))
    t = table("Customers by month", ("month", "buyers", "new", "returned", "lapsed", "active at end", "churn"))
    for r in c["by_month"]:
        t.add_row(*(plain(x) for x in (r["month"], whole(r["buyers"]), whole(r["new"]), whole(r["returned"]),
                                       whole(r["lapsed"]), whole(r["active_at_end"]), pct(r["churn_rate"]))))
    console.print(t)
    if c["cohorts"]:
        width = max(len(r["retention"]) for r in c["cohorts"])
        t = table("Retention by signup cohort (share of the cohort ordering in its month k)",
                  ["cohort", "members", *(f"m{k}" for k in range(width))], left=("cohort",))
        for r in c["cohorts"]:
            cells = [pct(s) for s in r["retention"]] + [""] * (width - len(r["retention"]))
            t.add_row(*(plain(x) for x in (r["cohort"], whole(r["members"]), *cells)))
        console.print(t)
    if c["enrolment"]:
        t = table("Enrolled members and the rest", ("", "customers", "orders", "revenue", "average order",
                                                    "orders each", "repeat rate", "value each"), left=("",))
        for name, r in sorted(c["enrolment"].items()):
            t.add_row(*(plain(x) for x in (name.replace("_", " "), whole(r["customers"]), whole(r["orders"]),
                                           money(r["revenue"]), money(r["average_order_value"]),
                                           r["orders_per_customer"] or "-", pct(r["repeat_purchase_rate"]),
                                           money(r["value_per_customer"]))))
        console.print(t)


def render_forecast(section: dict, console, money: Callable[[str], str], whole: Callable) -> None:
    """The forecast (forecast/run.py): the model, then each month's median with its interval across runs."""
    from rich.table import Table

    from loyalty.terminal import plain

    p = section["parameters"]
    console.print(plain((f"Forecast, {section['months']} months after the history", "bold")))
    console.print(plain(
        f"{section['model']}: r {p['r']}, alpha {p['alpha']}, a {p['a']}, b {p['b']}; "
        f"{whole(section['customers_fitted'])} customers fitted, {section['expected_alive_at_end']} expected active "
        f"at the end; {section['runs']} runs (seed {section['seed']}), {section['interval']} intervals across runs"))

    def spread(cell: dict, fmt) -> str:
        return f"{fmt(cell['median'])} ({fmt(cell['low'])}-{fmt(cell['high'])})"

    t = Table(title=plain("Forecast by month: median (interval)"), title_justify="left", title_style="bold")
    for col in ("month", "orders", "revenue", "cost", "rewards", "liability"):
        t.add_column(plain(col), justify="left" if col == "month" else "right")
    for r in section["by_month"]:
        t.add_row(*(plain(x) for x in (r["month"], spread(r["orders"], whole), spread(r["revenue"], money),
                                       spread(r["cost"], money), spread(r["rewards"], whole),
                                       spread(r["liability"], money))))
    total = section["total"]
    t.add_row(*(plain(x) for x in ("total", spread(total["orders"], whole), spread(total["revenue"], money),
                                   spread(total["cost"], money), spread(total["rewards"], whole),
                                   spread(total["liability_at_end"], money))))
    console.print(t)
    b = section.get("behaviour") or {}
    shown = []
    if b.get("goal_gradient"):
        g = b["goal_gradient"]
        shown.append(f"goal gradient x{g['factor']} within {g['within']} of a reward's price")
    if b.get("win_back"):
        shown.append(f"win-back: a share {b['win_back']['share']} of members gone at the end come back")
    console.print(plain(("behaviour assumptions: " + ("; ".join(shown) or "none (the model alone)"), "dim")))
