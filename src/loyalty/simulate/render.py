"""Renderers of the report dict: rich terminal tables, JSON, CSV tables, an SVG/HTML chart.

Every renderer reads the dict `build_report` made, so all outputs agree. The
chart is an SVG written here (no plotting dependency), embedded in a small HTML
page when the file name ends in .html.
"""

from __future__ import annotations

import html
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from loyalty.simulate.result import EXACT, exact

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
def render_terminal(report: dict, console: "Console", exponent: int) -> None:
    """The report as tables. Every cell and line is a `Text` made by `loyalty.terminal.plain`: names, member
    ids and file names from the user's files are shown as written (never read as rich markup) with their
    control characters escaped. A plain str given to rich here would be read as markup."""
    from rich.table import Table  # here, not at the top: JSON and CSV output never import rich

    from loyalty.terminal import plain

    cur = report["program"]["currency"]
    h = report["headline"]
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
    row(head, "members", _int(h["members"]))
    row(head, "orders", _int(h["orders"]) + (f"  ({_int(h['returns'])} returns)" if h["returns"] else ""))
    row(head, "revenue", f"{m(h['revenue'])} {cur}")
    row(head, "total program cost", (f"{m(h['total_cost'])} {cur}", "bold"))
    row(head, "cost as share of revenue", (_pct(h["cost_share_of_revenue"]), "bold"))
    # what the discounts cost the business (free units at their unit cost); the by-rule
    # "discount" column is what customers got off
    row(head, "  discount cost", f"{m(h['discounts'])} {cur}")
    has_points = bool(report["points"])
    if Decimal(h["reward_cost"]) or report["by_reward"]:
        row(head, "  rewards", f"{m(h['reward_cost'])} {cur}")
    if Decimal(h["perk_cost"]):
        row(head, "  tier perks", f"{m(h['perk_cost'])} {cur}")
    if Decimal(h["draw_prizes"]):
        row(head, "  draw prizes", f"{m(h['draw_prizes'])} {cur}")
    if has_points:
        row(head, "  liability at the end", f"{m(h['liability_end'])} {cur}")
    if h["points_issued"]:
        row(head, "points issued", _int(h["points_issued"]))
        row(head, "redemption rate", _pct(h["redemption_rate"]))
        row(head, "breakage (expired)", _pct(h["breakage"]))
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
        columns(t, ("reward", "given", "members", "of members", "face value", "cost"), left=("reward",))
        for r in report["by_reward"]:
            row(t, r["reward"], _int(r["given"] - r["taken_back"]), _int(r["members"]), _pct(r["share_of_members"]),
                m(r["face_value"]), m(r["cost"]))
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


@exact
def write_csv_tables(report: dict, directory: Path) -> list[Path]:
    """summary.csv, by_rule.csv, by_reward.csv, by_tier.csv, by_month.csv, draws.csv (by_member.csv is written
    by the command from the member rows)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    summary = [{"figure": k, "value": "" if v is None else v} for k, v in report["headline"].items()]
    for name, rows in (("summary", summary), ("by_rule", report["by_rule"]), ("by_reward", report["by_reward"]),
                       ("by_tier", report["by_tier"]), ("by_month", report["by_month"]),
                       ("draws", [{**d, "winners": " ".join(d["winners"])} for d in report["draws"]])):
        path = directory / f"{name}.csv"
        write_rows(path, rows)
        written.append(path)
    return written


# The columns of the CSV tables that hold text: names from the program, member ids from the history,
# and labels. Every other column holds numbers (exact decimals written as text, or counts).
TEXT_COLUMNS = frozenset({"figure", "rule", "kind", "reward", "tier", "draw", "period", "winners", "member",
                          "month"})
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


@exact
def render_svg(report: dict, width: int = 760, height: int = 320) -> str:
    """Cumulative cost and liability month by month, as a line chart."""
    months = report["by_month"]
    cur = report["program"]["currency"]
    series = [
        ("cumulative cost", "#d62728", [Decimal(r["cumulative_cost"]) for r in months]),
        ("liability", "#1f77b4", [Decimal(r["liability"]) for r in months]),
    ]
    left, right, top, bottom = 80, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([v for _, _, vs in series for v in vs] + [Decimal(1)])
    step = _nice_step(top_value)
    top_value = (top_value / step).to_integral_value(rounding="ROUND_CEILING") * step
    n = max(len(months), 1)

    def x(i: int) -> str:
        return f"{left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2):.1f}"

    def y(v: Decimal) -> str:
        return f"{top + plot_h - float(v / top_value) * plot_h:.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">'
           f'{html.escape(report["program"]["name"])}: cost and liability ({html.escape(cur)})</text>']
    ticks = int(top_value / step)
    for k in range(ticks + 1):
        v = step * k
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v)}" y2="{y(v)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{float(y(v)) + 4:.1f}" text-anchor="end">{_short(v)}</text>')
    label_every = max(1, n // 12)
    for i, r in enumerate(months):
        if i % label_every == 0:
            out.append(f'<text x="{x(i)}" y="{height - bottom + 16}" text-anchor="middle">{r["month"]}</text>')
    for j, (name, color, values) in enumerate(series):
        if values:
            points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        lx = left + 10 + j * 170
        out.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{height - 12}" y2="{height - 12}" stroke="{color}" '
                   f'stroke-width="2"/><text x="{lx + 26}" y="{height - 8}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(report: dict) -> str:
    h = report["headline"]
    cur = html.escape(report["program"]["currency"])
    return (f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(report["program"]["name"])}'
            f' simulation</title></head>\n<body style="font-family:sans-serif">\n'
            f'<h1>{html.escape(report["program"]["name"])}</h1>\n'
            f'<p>Total cost {html.escape(h["total_cost"])} {cur} on revenue {html.escape(h["revenue"])} {cur} '
            f'({html.escape(_pct(h["cost_share_of_revenue"]))}); liability at the end '
            f'{html.escape(h["liability_end"])} {cur}.</p>\n' + render_svg(report) + "</body></html>\n")


def write_chart(report: dict, path: Path) -> None:
    from loyalty.fileio import write_atomic

    suffix = path.suffix.lower()
    if suffix == ".svg":
        write_atomic(path, render_svg(report))
    elif suffix in (".html", ".htm"):
        write_atomic(path, render_html(report))
    else:
        raise ValueError(f"{path}: the chart is written as .svg or .html")


def _nice_step(top: Decimal) -> Decimal:
    raw = top / 5
    exp = raw.adjusted()
    base = Decimal(1).scaleb(exp)
    for m in (1, 2, 5, 10):
        if base * m >= raw:
            return base * m
    return base * 10


def _short(v: Decimal) -> str:
    v = v.normalize()
    if abs(v) >= 1_000_000:
        return f"{(v / 1_000_000).normalize():f}M"
    if abs(v) >= 1_000:
        return f"{(v / 1_000).normalize():f}k"
    return f"{v:f}"
