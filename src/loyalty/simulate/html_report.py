"""The simulation report as one self-contained HTML page (`--html FILE`).

Everything is inline: the CSS, the charts (SVG from simulate/charts.py) and a few lines of script that show a
mark's value where the pointer is (the marks' <title>s are the same text, for browsers without scripts). The
page loads nothing: it opens from a file, offline, and may be mailed. It reads the report dict only; the
headline is `render.headline_rows`, the lines the terminal prints. Every name is escaped (charts.esc).
"""

from __future__ import annotations

from typing import Optional

from loyalty.simulate.charts import esc, report_charts
from loyalty.simulate.render import _int, _money, _pct, headline_rows
from loyalty.simulate.result import exact

STYLE = """
body { font-family: sans-serif; margin: 0 auto; max-width: 800px; padding: 16px; color: #222; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.sub, .note { color: #555; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 12px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e5e5e5; text-align: right; vertical-align: top;
         white-space: nowrap; }
th { background: #f5f5f5; }
th.name, td.name { text-align: left; min-width: 7em; max-width: 260px; white-space: normal; overflow-wrap: anywhere; }
table.headline td { border: none; }
table.headline td.name { padding-left: 0; }
table.headline td.part { padding-left: 20px; color: #444; }
table.headline tr.bold td { font-weight: bold; }
.table-wrap { overflow-x: auto; max-width: 100%; }  /* a narrow window scrolls a wide table, not the page */
figure { margin: 12px 0 20px; }
svg.chart { width: 100%; height: auto; max-width: 760px; display: block; }
svg.chart .bar:hover, svg.chart .point:hover { opacity: 0.75; }
#tip { position: fixed; display: none; pointer-events: none; background: #222; color: #fff; font-size: 12px;
       padding: 3px 6px; border-radius: 3px; white-space: nowrap; }
"""

# the value under the pointer, from the mark's <title> (no other behaviour, no network)
SCRIPT = """
(function () {
  var tip = document.getElementById("tip");
  document.addEventListener("mousemove", function (e) {
    var mark = e.target.closest ? e.target.closest("[data-value]") : null;
    var title = mark ? mark.querySelector("title") : null;
    if (!title) { tip.style.display = "none"; return; }
    tip.textContent = title.textContent;
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - tip.offsetWidth - 4) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  });
})();
"""


def _table(table_id: str, caption: str, columns: list[tuple[str, str]], rows: list[dict], names: tuple = ()) -> str:
    """An HTML table: columns (key, heading); the keys in `names` are text (left-aligned), the rest figures."""
    head = "".join(f'<th class="{"name" if k in names else "num"}">{esc(title)}</th>' for k, title in columns)
    body = []
    for r in rows:
        body.append("<tr>" + "".join(f'<td class="{"name" if k in names else "num"}">{esc(r.get(k, ""))}</td>'
                                     for k, _ in columns) + "</tr>")
    return (f'<h2>{esc(caption)}</h2>\n<div class="table-wrap"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f'<tbody>\n' + "\n".join(body) + "\n</tbody></table></div>\n")


@exact
def render_html(report: dict, exponent: int, version: Optional[str] = None) -> str:
    cur = report["program"]["currency"]
    m = lambda v: "" if v is None else _money(v, exponent)  # noqa: E731
    hist = report["history"]
    out = ['<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f'<title>{esc(report["program"]["name"])}: simulation</title>\n<style>{STYLE}</style>\n</head>\n<body>\n'
           f'<header><h1 id="program-name">{esc(report["program"]["name"])}</h1>\n'
           f'<p class="sub">simulated on {esc(hist["file"])}, {esc(hist["first"] or "-")} to {esc(hist["last"] or "-")}'
           f' ({_int(hist["rows"])} rows)</p></header>\n']
    # the headline: the terminal's lines
    rows = []
    for label, value, bold in headline_rows(report, exponent):
        part = label.startswith("  ")
        attrs = ' class="bold"' if bold else ""
        rows.append(f'<tr{attrs}><td class="name{" part" if part else ""}">'
                    f'{esc(label.strip())}</td><td class="num">{esc(value)}</td></tr>')
    out.append('<section id="headline"><table class="headline">\n' + "\n".join(rows) + "\n</table></section>\n")
    out.append('<section id="charts">\n')
    for chart in report_charts(report):
        out.append(f'<figure id="figure-{chart.id}">\n{chart.svg}</figure>\n')
    out.append("</section>\n")
    out.append('<section id="tables">\n')
    out.append(_table("table-by-rule", "By rule", [
        ("rule", "rule"), ("line", "line"), ("points_issued", "points"), ("rewards", "rewards"),
        ("discount", "discount"), ("cost", f"cost ({cur})"), ("share", "of revenue")],
        [{**r, "line": r["line"] or "", "discount": m(r["discount"]) if r["kind"] == "rule" else "",
          "points_issued": _int(r["points_issued"]) if r["kind"] == "rule" else "",
          "rewards": _int(r["rewards"]) if r["kind"] == "rule" else "",
          "cost": m(r["cost"]), "share": _pct(r["share_of_revenue"])} for r in report["by_rule"]], names=("rule",)))
    if report.get("by_store"):
        out.append(_table("table-by-store", "By store", [
            ("store", "store"), ("region", "region"), ("orders", "orders"), ("members", "members"),
            ("revenue", f"revenue ({cur})"), ("points_issued", "points issued"), ("points_redeemed", "redeemed"),
            ("cost", f"cost ({cur})"), ("share", "of revenue")],
            [{**r, "region": r["region"] or "", "orders": _int(r["orders"]), "members": _int(r["members"]),
              "revenue": m(r["revenue"]), "points_issued": _int(r["points_issued"]),
              "points_redeemed": _int(r["points_redeemed"]), "cost": m(r["cost"]),
              "share": _pct(r["share_of_revenue"])} for r in report["by_store"]], names=("store", "region")))
    if report.get("by_region"):
        out.append(_table("table-by-region", "By region", [
            ("region", "region"), ("stores", "stores"), ("orders", "orders"), ("members", "members"),
            ("revenue", f"revenue ({cur})"), ("cost", f"cost ({cur})"), ("share", "of revenue")],
            [{**r, "orders": _int(r["orders"]), "members": _int(r["members"]), "revenue": m(r["revenue"]),
              "cost": m(r["cost"]), "share": _pct(r["share_of_revenue"])} for r in report["by_region"]],
            names=("region",)))
    has_points = bool(report["points"])
    month_cols = [("month", "month"), ("orders", "orders"), ("revenue", f"revenue ({cur})")]
    if has_points:
        month_cols += [("points_issued", "issued"), ("points_redeemed", "redeemed"), ("points_expired", "expired")]
    month_cols += [("cost", f"cost ({cur})"), ("cumulative_cost", "cumulative")]
    if has_points:
        month_cols += [("liability", "liability"), ("total_cost_to_date", "total to date")]
    out.append(_table("table-by-month", "Month by month", month_cols, [
        {**r, "orders": _int(r["orders"]), "revenue": m(r["revenue"]), "points_issued": _int(r["points_issued"]),
         "points_redeemed": _int(r["points_redeemed"]), "points_expired": _int(r["points_expired"]),
         "cost": m(r["cost"]), "cumulative_cost": m(r["cumulative_cost"]), "liability": m(r["liability"]),
         "total_cost_to_date": m(r["total_cost_to_date"])} for r in report["by_month"]], names=("month",)))
    if report.get("enrolment"):  # members against customers who never joined (docs/simulate.md, "Enrolment")
        e = report["enrolment"]
        out.append(_table("table-enrolment", "Members and customers who never joined", [
            ("who", ""), ("customers", "customers"), ("orders", "orders"), ("revenue", f"revenue ({cur})")], [
            {"who": "members", "customers": _int(e["members"]), "orders": _int(e["member_orders"]),
             "revenue": m(e["member_revenue"])},
            {"who": "not members, or before signup", "customers": _int(e["non_members"]),
             "orders": _int(e["non_member_orders"]), "revenue": m(e["non_member_revenue"])}], names=("who",)))
    out.append(_customers(report.get("customers") or {}, m))
    out.append("</section>\n")
    a = report["assumptions"]
    red = a["redemption"]
    out.append(f'<footer><p class="note">assumptions ({esc(a["scenario"])}): redemption {esc(red["policy"])} for '
               f'{esc(red["reward"])}; point breakage {esc(a["points_breakage"])}, gift-card breakage '
               f'{esc(a["gift_card_breakage"])}; seed {esc(a["seed"])}. Report format {esc(report["format"])}'
               f'{", loyalty " + esc(version) if version else ""}.</p></footer>\n')
    out.append(f'<div id="tip"></div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n')
    return "".join(out)


def _customers(c: dict, m) -> str:
    """The customer measures (their charts are with the others): the terminal's lines, activity by month, and
    enrolled members against the rest when signup dates are known."""
    from loyalty.simulate.render_measures import customer_lines

    if not c or not c["customers"]:
        return ""
    money = lambda v: "-" if v is None else m(v)  # noqa: E731  # as the terminal shows a figure with no base
    out = ['<h2>Customers</h2>\n<div id="customers">'
           + "".join(f'<p class="note">{esc(line)}</p>' for line in customer_lines(c, money, _pct, _int)) + "</div>\n"]
    out.append(_table("table-customers-by-month", "Customers by month", [
        ("month", "month"), ("buyers", "buyers"), ("new", "new"), ("returned", "returned"), ("lapsed", "lapsed"),
        ("active_at_end", "active at end"), ("churn", "churn")],
        [{"month": r["month"], **{k: _int(r[k]) for k in ("buyers", "new", "returned", "lapsed", "active_at_end")},
          "churn": _pct(r["churn_rate"])} for r in c["by_month"]], names=("month",)))
    if c["enrolment"]:
        out.append(_table("table-enrolment", "Enrolled members and the rest", [
            ("segment", ""), ("customers", "customers"), ("orders", "orders"), ("revenue", "revenue"),
            ("aov", "average order"), ("orders_per_customer", "orders each"), ("repeat", "repeat rate"),
            ("value", "value each")],
            [{"segment": name.replace("_", " "), "customers": _int(r["customers"]), "orders": _int(r["orders"]),
              "revenue": money(r["revenue"]), "aov": money(r["average_order_value"]),
              "orders_per_customer": r["orders_per_customer"] or "-", "repeat": _pct(r["repeat_purchase_rate"]),
              "value": money(r["value_per_customer"])} for name, r in sorted(c["enrolment"].items())], names=("segment",)))
    return "".join(out)


@exact
def render_compare_html(comparison: dict, old: dict, new: dict, exponent: int, version: Optional[str] = None) -> str:
    """`loyalty compare --html FILE`: both headlines, the cost of both programs month by month and cumulated,
    the difference by rule, and who gets less; the same page style and charts as the simulation report."""
    from decimal import Decimal

    from loyalty.simulate.charts import Series, bar_rows_chart, column_chart

    cur = old["program"]["currency"]
    m = lambda v: "" if v is None else _money(v, exponent)  # noqa: E731
    names = (old["program"]["name"], new["program"]["name"])
    if names[0] == names[1]:
        names = (f"old: {names[0]}", f"new: {names[1]}")
    out = ['<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f'<title>{esc(names[0])} and {esc(names[1])}: comparison</title>\n<style>{STYLE}</style>\n</head>\n<body>\n'
           f'<header><h1 id="program-name">{esc(names[0])} → {esc(names[1])}</h1>\n'
           f'<p class="sub">both simulated on {esc(old["history"]["file"])}, {esc(old["history"]["first"] or "-")} to '
           f'{esc(old["history"]["last"] or "-")}</p></header>\n']
    oh, nh = old["headline"], new["headline"]
    rows = [("total cost", "total_cost", True), ("discount cost", "discounts", False), ("rewards", "reward_cost", False),
            ("tier perks", "perk_cost", False), ("draw prizes", "draw_prizes", False),
            ("liability at the end", "liability_end", False)]
    lines = [f'<tr><th class="name"></th><th>{esc(names[0])}</th><th>{esc(names[1])}</th><th>difference</th></tr>']
    for label, key, bold in rows:
        attrs = ' class="bold"' if bold else ""
        lines.append(f'<tr{attrs}><td class="name">{esc(label)}</td><td class="num">{esc(m(oh[key]))} {esc(cur)}</td>'
                     f'<td class="num">{esc(m(nh[key]))} {esc(cur)}</td>'
                     f'<td class="num">{esc(m(str(Decimal(nh[key]) - Decimal(oh[key]))))} {esc(cur)}</td></tr>')
    lines.append(f'<tr><td class="name">cost as share of revenue</td><td class="num">{esc(_pct(oh["cost_share_of_revenue"]))}'
                 f'</td><td class="num">{esc(_pct(nh["cost_share_of_revenue"]))}</td><td></td></tr>')
    out.append('<section id="headline"><table class="headline">\n' + "\n".join(lines) + "\n</table></section>\n")
    months = comparison["by_month"]
    labels = [r["month"] for r in months]
    charts = [
        column_chart("chart-cost-by-month", "Cost each month", labels,
                     [Series(names[0], [Decimal(r["old_cost"]) for r in months], [r["old_cost"] for r in months]),
                      Series(names[1], [Decimal(r["new_cost"]) for r in months], [r["new_cost"] for r in months])],
                     unit=cur, stacked=False, note="cost realized in the month"),
        column_chart("chart-cumulative", "Cumulative cost", [r["month"] for r in old["by_month"]], [],
                     [Series(f"{name}: total cost to date", [Decimal(r["total_cost_to_date"]) for r in rep["by_month"]],
                             [r["total_cost_to_date"] for r in rep["by_month"]])
                      for name, rep in zip(names, (old, new))],
                     unit=cur, note="realized cost plus the liability at month end; each ends at its total cost"),
        bar_rows_chart("chart-difference-by-rule", "Cost difference by rule (new − old)",
                       [(r["rule"], Decimal(r["difference"]), f"{m(r['difference'])} {cur}")
                        for r in comparison["by_rule"] if Decimal(r["difference"])], unit=cur),
    ]
    out.append('<section id="charts">\n')
    for chart in charts:
        out.append(f'<figure id="figure-{chart.id}">\n{chart.svg}</figure>\n')
    out.append("</section>\n<section id=\"tables\">\n")
    out.append(_table("table-by-rule", "By rule", [("rule", "rule"), ("old_cost", f"old cost ({cur})"),
                                                   ("new_cost", f"new cost ({cur})"), ("difference", "difference")],
                      [{"rule": r["rule"], "old_cost": m(r["old_cost"]), "new_cost": m(r["new_cost"]),
                        "difference": m(r["difference"])} for r in comparison["by_rule"]], names=("rule",)))
    mem = comparison["members"]
    out.append(f'<h2>Members</h2>\n<p id="members"><b>{_int(mem["get_less"])} of {_int(mem["compared"])} members get '
               f'less</b> value (discounts, rewards and points at face value) under the new program, '
               f'{esc(m(mem["lose_in_total"]))} {esc(cur)} in total ({_int(mem["most_loyal_tenth_getting_less"])} of '
               f'them among the most loyal tenth); {_int(mem["get_more"])} get more ({esc(m(mem["gain_in_total"]))} '
               f'{esc(cur)}).</p>\n')
    if mem["biggest_losers"]:
        out.append(_table("table-biggest-losers", "Who loses most", [("member", "member"), ("change", f"change ({cur})")],
                          [{"member": b["member"], "change": m(b["change"])} for b in mem["biggest_losers"]],
                          names=("member",)))
    out.append("</section>\n")
    out.append(f'<footer><p class="note">Comparison format {esc(comparison["format"])}'
               f'{", loyalty " + esc(version) if version else ""}.</p></footer>\n')
    out.append(f'<div id="tip"></div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n')
    return "".join(out)
