"""Renderers of the report dict: rich terminal tables, JSON, CSV tables; the charts and the HTML page are in
charts.py and html_report.py.

Every renderer reads the dict `build_report` made, so all outputs agree.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from loyalty.simulate.result import EXACT, NO_STORE, exact

if TYPE_CHECKING:
    from rich.console import Console


def to_json(report: dict) -> str:
    """Byte-identical for identical inputs: sorted keys, exact decimals as strings, no floats."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ terminal


def _money(value: Optional[str], exponent: int) -> str:
    if value is None:
        return "-"
    q = Decimal(1).scaleb(-exponent)
    with localcontext(EXACT):
        d = Decimal(value).quantize(q, rounding=ROUND_HALF_EVEN)
    return f"{d:,}"


def _pct(share: Optional[str]) -> str:
    if share is None:
        return "-"
    with localcontext(EXACT):
        return f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"


def _int(n) -> str:
    return f"{n:,}"


@exact
def headline_rows(report: dict, exponent: int) -> list[tuple[str, str, bool]]:
    """The headline figures as people read them, (label, value, bold): the terminal report and the HTML
    report show these same lines. A label starting with two spaces is a part of the total above it."""
    cur = report["program"]["currency"]
    h = report["headline"]
    m = lambda v: _money(v, exponent)  # noqa: E731
    rows = [("members", _int(h["members"]), False),
            ("orders", _int(h["orders"]) + (f"  ({_int(h['returns'])} returns)" if h["returns"] else ""), False),
            ("revenue", f"{m(h['revenue'])} {cur}", False),
            ("total program cost", f"{m(h['total_cost'])} {cur}", True),
            ("cost as share of revenue", _pct(h["cost_share_of_revenue"]), True),
            # what the discounts cost the business (free units at their unit cost); the by-rule
            # "discount" column is what customers got off
            ("  discount cost", f"{m(h['discounts'])} {cur}", False)]
    if Decimal(h["reward_cost"]) or report["by_reward"]:
        rows.append(("  rewards", f"{m(h['reward_cost'])} {cur}", False))
    if Decimal(h["perk_cost"]):
        rows.append(("  tier perks", f"{m(h['perk_cost'])} {cur}", False))
    if Decimal(h["draw_prizes"]):
        rows.append(("  draw prizes", f"{m(h['draw_prizes'])} {cur}", False))
    if report["points"]:
        rows.append(("  liability at the end", f"{m(h['liability_end'])} {cur}", False))
    if h["points_issued"]:
        rows += [("points issued", _int(h["points_issued"]), False),
                 ("redemption rate", _pct(h["redemption_rate"]), False),
                 ("breakage (expired)", _pct(h["breakage"]), False)]
    return rows


@exact
def render_terminal(report: dict, console: "Console", exponent: int) -> None:
    """The report as tables. Every cell and line is a `Text` made by `loyalty.terminal.plain`: names, member
    ids and file names from the user's files are shown as written (never read as rich markup) with their
    control characters escaped. A plain str given to rich here would be read as markup."""
    from rich.table import Table  # here, not at the top: JSON and CSV output never import rich

    from loyalty.terminal import plain

    m = lambda v: _money(v, exponent)  # noqa: E731

    def row(table, *cells) -> None:
        table.add_row(*(plain(c) for c in cells))

    def titled(title: str) -> "Table":
        return Table(title=plain(title), title_justify="left", title_style="bold")

    def columns(table, names, left=()) -> None:
        for col in names:
            table.add_column(plain(col), justify="left" if col in left else "right")

    console.print(plain((report["program"]["name"], "bold"), f" on {report['history']['file']} "
                        f"({report['history']['first'] or '-'} to {report['history']['last'] or '-'})"))
    console.print()
    head = Table(show_header=False, box=None, padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(justify="right")
    for label, value, bold in headline_rows(report, exponent):
        row(head, label, (value, "bold") if bold else value)
    has_points = bool(report["points"])
    console.print(head)

    if report["by_rule"]:
        t = titled("By rule")
        columns(t, ["rule", "line"] + (["points", "points value"] if has_points else []) + [
            "rewards", "discount", "cost", "of revenue"], left=("rule",))
        for r in report["by_rule"]:
            other = r.get("kind", "rule") != "rule"  # perks, draws, liability: a cost only
            points = (["", ""] if other else [_int(r["points_issued"]), m(r["points_value"])]) if has_points else []
            row(t, r["rule"], str(r["line"] or ""), *points, "" if other else _int(r["rewards"]),
                "" if other else m(r["discount"]), m(r["cost"]), _pct(r["share_of_revenue"]))
        console.print(t)
    if report["by_reward"]:
        t = titled("By reward")
        # offers with a lifetime: how many were used and how many lapsed (a lapsed one costs nothing)
        offers = any("lapsed" in r for r in report["by_reward"])
        columns(t, ("reward", "given", *(("redeemed", "lapsed") if offers else ()), "members", "of members",
                    "face value", "cost"), left=("reward",))
        for r in report["by_reward"]:
            used = (_int(r["redeemed"]), _int(r["lapsed"])) if "lapsed" in r else ("", "")
            row(t, r["reward"], _int(r["given"] - r["taken_back"]), *(used if offers else ()), _int(r["members"]),
                _pct(r["share_of_members"]), m(r["face_value"]), m(r["cost"]))
        console.print(t)
        ttf = report["time_to_first_reward"]
        if ttf["members"]:
            console.print(plain(f"time to first reward: median {ttf['median_days']} days, mean {ttf['mean_days']} "
                                f"days ({_int(ttf['members'])} members)"))
    if report["by_tier"]:
        t = titled("By tier")
        columns(t, ("tier", "members reached", "of members", "at the end", "perk cost"), left=("tier",))
        for r in report["by_tier"]:
            row(t, r["tier"], _int(r["members_reached"]), _pct(r["share_reached"]), _int(r["members_at_end"]),
                m(r["perk_cost"]))
        console.print(t)
        mv = report["tier_moves"]
        console.print(plain(f"tier moves: {_int(mv['upgrades'])} up, {_int(mv['downgrades'])} down"))
    stores = report.get("by_store", [])
    if any(r["store"] != NO_STORE for r in stores):  # pilots are judged by store and region
        for title, key, rows in (("By store", "store", stores), ("By region", "region", report.get("by_region", []))):
            if not rows:
                continue
            t = titled(title)
            columns(t, (key, "orders", "members", "revenue", "cost", "of revenue"), left=(key,))
            for r in rows:
                row(t, r[key], _int(r["orders"]), _int(r["members"]), m(r["revenue"]), m(r["cost"]),
                    _pct(r["share_of_revenue"]))
            console.print(t)
    if report["by_month"]:
        t = titled("Month by month")
        point_cols = ["issued", "redeemed", "expired", "outstanding"] if has_points else []
        columns(t, ["month", "orders", "revenue", *point_cols, "cost", "cumulative cost"] + (
            ["liability"] if has_points else []))
        for r in report["by_month"]:
            points = [_int(r["points_issued"]), _int(r["points_redeemed"]), _int(r["points_expired"]),
                      _int(r["points_outstanding"])] if has_points else []
            row(t, r["month"], _int(r["orders"]), m(r["revenue"]), *points, m(r["cost"]), m(r["cumulative_cost"]),
                *([m(r["liability"])] if has_points else []))
        console.print(t)
    if report.get("customers"):
        from loyalty.simulate.render_measures import render_customers

        render_customers(report["customers"], console, m, _pct, _int)
    if report.get("forecast"):
        from loyalty.simulate.render_measures import render_forecast

        render_forecast(report["forecast"], console, m, _int)
    for c in report["caps"]:
        console.print(plain("cap on ", (c["rule"], "bold"), f" reached {_int(c['times'])} times, "
                            f"{_int(c['truncated'])} held back"))
    for b in report["budgets"]:
        ran = f", ran out {b['ran_out']}" if b["ran_out"] else ""
        console.print(plain("budget ", (b["budget"], "bold"), f" ({b['limit']}): truncated {_int(b['times'])} "
                            f"times{ran}"))
    for s in report.get("stock", []):
        ran = f", ran out {s['ran_out']}" if s["ran_out"] else ""
        console.print(plain("stock of ", (s["reward"], "bold"), f" ({_int(s['limit'])}): {_int(s['given'])} given, "
                            f"{_int(s['refused'])} refused{ran}"))
    if report.get("adjustments"):
        t = titled("Adjustments (not rule cost)")
        columns(t, ("reason", "kind", "members", "points added", "points removed", "value", "tiers set",
                    "punch cards set"), left=("reason", "kind"))
        for a in report["adjustments"]:
            row(t, a["reason"], a["point_kind"] or "-", _int(a["members"]), _int(a["points_added"]),
                _int(a["points_removed"]), m(a["value"]), _int(a["tiers_set"]), _int(a["punch_cards_set"]))
        console.print(t)
    if report.get("enrolment"):
        e = report["enrolment"]
        t = titled("Members and customers who never joined")
        columns(t, ("", "customers", "orders", "revenue"), left=("",))
        row(t, "members", _int(e["members"]), _int(e["member_orders"]), m(e["member_revenue"]))
        row(t, "not members, or before signup", _int(e["non_members"]), _int(e["non_member_orders"]), m(e["non_member_revenue"]))
        console.print(t)
        console.print(plain(f"cost as a share of members' revenue: {_pct(e['cost_share_of_member_revenue'])}"))
    if report.get("fees"):  # paid tiers (runtime/mechanics/fees.py): revenue, apart from the rules' cost
        f = report["fees"]
        t = titled(f"Paid tiers: fee revenue {m(f['revenue'])} (not in the cost above)")
        columns(t, ("tier", "fee", "per", "payments", "members", "revenue", "benefit cost", "net cost"),
                left=("tier", "per"))
        for r in f["by_tier"]:
            row(t, r["tier"], m(r["fee"]), r["period"], _int(r["payments"]), _int(r["members"]), m(r["revenue"]),
                m(r["benefit_cost"]), m(r["net_cost"]))
        console.print(t)
        if f["by_month"]:
            t = titled("Fee revenue by month")
            columns(t, ("month", "payments", "revenue"))
            for r in f["by_month"]:
                row(t, r["month"], _int(r["payments"]), m(r["revenue"]))
            console.print(t)
    if report.get("codes"):
        t = titled("Codes")
        columns(t, ("code", "limit", "used", "used before", "no rule applied", "no uses left", "unknown"),
                left=("code",))
        for c in report["codes"]:
            row(t, c["code"], _int(c["limit"]) if c["limit"] is not None else "-", _int(c["used"]),
                _int(c["already_used_by_this_member"]), _int(c["no_rule_applies"]), _int(c["no_uses_left"]),
                _int(c["unknown_code"]))
        console.print(t)
    if report["draws"]:
        t = titled("Draws")
        columns(t, ("draw", "period", "entrants", "entries", "winners", "paid"), left=("draw", "winners"))
        for d in report["draws"]:
            row(t, d["draw"], d["period"], _int(d["entrants"]), _int(d["entries"]), ", ".join(d["winners"]),
                m(d["paid"]))
        console.print(t)
    for r in report.get("rejected_events", []):
        console.print(plain((f"{_int(r['events'])} events not applied:", "yellow"), f" {r['reason']}"))
    for r in report["redemptions_refused"]:
        console.print(plain(f"{_int(r['count'])} redemptions of {r['reward']} refused: {r['reason']}"))
    hist = report["history"]
    if hist["skipped_rows"]:
        console.print(plain((f"{_int(hist['skipped_rows'])} rows skipped", "yellow"), " (--on-bad-row skip):"))
        for reason, n in hist["skipped_by_reason"].items():
            console.print(plain(f"  {_int(n)}  {reason}"))
    a = report["assumptions"]
    red = a["redemption"]
    console.print(plain((f"assumptions ({a['scenario']}): redemption {red['policy']} for {red['reward']}"
                         f"{' share ' + red['share'] if red['policy'] == 'share' else ''}; point breakage "
                         f"{a['points_breakage']}, gift-card breakage {a['gift_card_breakage']}; seed {a['seed']}",
                         "dim")))
    if a.get("kernel") == "vector":
        console.print(plain(("replayed by the vectorised kernel (all members in lockstep)", "dim")))
    elif a.get("kernel") == "python":
        why = a.get("kernel_why") or ""
        why = why if why.startswith("--") else f"the vectorised kernel does not take this program: {why}"
        console.print(plain((f"replayed by the evaluator, member by member ({why})", "dim")))


# ------------------------------------------------------------------ CSV tables


# The columns of the CSV tables that hold text: names from the program, member ids from the history,
# and labels. Every other column holds numbers (exact decimals written as text, or counts).
TEXT_COLUMNS = frozenset({"figure", "rule", "kind", "reward", "tier", "draw", "period", "winners", "member",
                          "month", "store", "region", "split", "name"})
# what a spreadsheet (Excel, LibreOffice, Google Sheets) reads as the start of a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?")


def spreadsheet_safe(value, text: bool):
    """A cell of a CSV table that a spreadsheet shows, never runs. Text starting with =, +, -, @, a tab or a
    carriage return (a member id "=HYPERLINK(...)", a rule "-2+3") gets a single quote first, as OWASP
    recommends against CSV injection; a spreadsheet shows the quote-prefixed cell as the text. Numbers are
    never changed, so a negative amount (-12.50) stays a number: a cell of a numeric column is quoted only
    if it is not a number at all (which would be a bug)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if not text and _NUMBER.fullmatch(value):
        return value
    return "'" + value


def _csv_field(value) -> str:
    """RFC 4180: a field holding a comma, a quote or a line break (\n or \r) is quoted. The csv module,
    with "\n" line ends, leaves a lone \r unquoted, which a reader takes for the end of the row."""
    text = "" if value is None else str(value)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_rows(path: Path, rows: list[dict], header: Optional[list[str]] = None) -> None:
    """A CSV table: UTF-8, "\n" line ends, text cells made spreadsheet-safe (see spreadsheet_safe)."""
    from loyalty.fileio import write_atomic

    header = header or (list(rows[0]) if rows else [])
    text = [c in TEXT_COLUMNS for c in header]
    lines = [",".join(_csv_field(c) for c in header)]
    for r in rows:
        lines.append(",".join(_csv_field(spreadsheet_safe(r.get(c), t)) for c, t in zip(header, text)))
    write_atomic(path, "".join(line + "\n" for line in lines))  # an interrupted run leaves the old table


# ------------------------------------------------------------------ chart


def write_chart(report: dict, path: Path, exponent: int, version: Optional[str] = None, html: bool = False) -> None:
    """`--chart FILE.svg`: every chart of the report in one SVG (simulate/charts.py); `--chart FILE.html` and
    `--html FILE`: the HTML report (simulate/html_report.py)."""
    from loyalty.fileio import write_atomic
    from loyalty.simulate.charts import render_svg
    from loyalty.simulate.html_report import render_html

    suffix = ".html" if html else path.suffix.lower()
    if suffix == ".svg":
        write_atomic(path, render_svg(report))
    elif suffix in (".html", ".htm"):
        write_atomic(path, render_html(report, exponent, version))
    else:
        raise ValueError(f"{path}: the chart is written as .svg or .html")
