"""Charts of a simulation report, as SVG text made here: no plotting library, no network, no fonts to fetch.

Every chart reads the report dict only (`build_report`'s), so it shows the JSON's figures. Each mark carries
its exact value twice: a <title> (what a browser shows on hover) and `data-series` / `data-label` /
`data-value` attributes (what tests and scripts read back). Every name from the program or the history goes
through `esc`: control and bidirectional characters shown as escapes (loyalty.terminal.visible), then XML
escaping, so a store named `<script>` is text in the SVG, the HTML page and any page that embeds the SVG.

Sizes are in SVG user units (pixels at 100%). Label widths are estimated from the number of characters at
`CHAR_W` per character, generous for sans-serif, and every margin is made from them, so no label is cut at
the chart's edge; tests measure the drawn boxes in a real browser (tests/test_html_report.py).
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Optional

from loyalty.simulate.result import EXACT

WIDTH = 760
FONT = 11
CHAR_W = 0.62 * FONT  # an average sans-serif glyph is ~0.5-0.6 em; wider keeps estimates on the safe side
TITLE_FONT = 14
# colour-blind-friendly categorical colours (Okabe-Ito, then Tableau's), reused in turn past the last
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
           "#8c564b", "#7f7f7f", "#bcbd22", "#17becf")
LINE_COLOURS = ("#d62728", "#333333", "#9467bd")
LEGEND_NAME_MAX = 44  # longer names are shortened in the legend (the full name is its hover text)
AXIS_NAME_MAX = 28
MAX_BAR_ROWS = 25  # a chain's hundreds of stores: the largest costs get bars, the rest one summed row (tables: all)


# what XML 1.0 cannot hold at all, even as a character reference (beyond the controls `visible` escapes)
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def esc(text) -> str:
    """Any text from the report, safe as SVG/HTML text or a quoted attribute value."""
    from loyalty.terminal import visible

    shown = _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(str(text)))
    return html.escape(shown, quote=True)


def text_width(text: str, size: float = FONT) -> float:
    return len(text) * CHAR_W * size / FONT


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_step(top: Decimal) -> Decimal:
    """A round step (1, 2 or 5 times a power of ten) that cuts 0..top into at most 5 parts."""
    raw = top / 5
    base = Decimal(1).scaleb(raw.adjusted())
    for m in (1, 2, 5, 10):
        if base * m >= raw:
            return base * m
    return base * 10


def short_number(v: Decimal) -> str:
    """An axis label: 1.5k, 2M, 0.25."""
    v = v.normalize()
    if abs(v) >= 1_000_000:
        return f"{(v / 1_000_000).normalize():f}M"
    if abs(v) >= 1_000:
        return f"{(v / 1_000).normalize():f}k"
    return f"{v:f}"


@dataclass
class Series:
    """One named series: a value per category (None: no mark), and the exact text each value is shown as."""

    name: str
    values: list[Optional[Decimal]]
    texts: list[str]
    colour: str = ""
    hovers: Optional[list[str]] = None  # each mark's whole hover text, where the value alone would not say enough


@dataclass
class Chart:
    """An SVG chart and its height (for stacking charts into one SVG)."""

    svg: str
    height: int
    id: str = ""
    series: list[str] = field(default_factory=list)


def _axis(lo: Decimal, hi: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Axis bounds that hold lo..hi (and 0), on round steps."""
    lo, hi = min(lo, Decimal(0)), max(hi, Decimal(0))
    if hi == lo:
        hi = lo + 1
    step = nice_step(hi - lo)
    lo = (lo / step).to_integral_value(rounding="ROUND_FLOOR") * step
    hi = (hi / step).to_integral_value(rounding="ROUND_CEILING") * step
    return lo, hi, step


def _legend(entries: list[tuple[str, str, str]], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    """Legend entries (name, colour, "bar" | "line"), flowing into rows within `width`; returns the marks and
    the height used."""
    out, x, y, row_h = [], x0, y0, 18
    for name, colour, kind in entries:
        shown = shorten(name, LEGEND_NAME_MAX)
        w = 18 + text_width(shown) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + row_h
        swatch = (f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="10" fill="{colour}"/>' if kind == "bar" else
                  f'<line x1="{x:.1f}" x2="{x + 12:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}" stroke="{colour}" '
                  f'stroke-width="2.5"/>')
        out.append(f'<g class="legend-item" data-series="{esc(name)}"><title>{esc(name)}</title>{swatch}'
                   f'<text x="{x + 17:.1f}" y="{y:.1f}">{esc(shown)}</text></g>')
        x += w
    return out, (y - y0) + row_h if entries else 0


def _frame(chart_id: str, title: str, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{esc(chart_id)}" class="chart" width="{WIDTH}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" font-family="sans-serif" font-size="{FONT}" '
            f'role="img" aria-label="{esc(title)}">\n<title>{esc(title)}</title>\n'
            f'<rect class="background" width="{WIDTH}" height="{height:.0f}" fill="white"/>\n'
            f'<text class="chart-title" x="12" y="22" font-size="{TITLE_FONT}" font-weight="bold">{esc(title)}</text>\n'
            + "\n".join(body) + "\n</svg>\n")


def column_chart(chart_id: str, title: str, labels: list[str], bars: list[Series], lines: list[Series] = (),
                 unit: str = "", stacked: bool = True, note: str = "", label_last: bool = False) -> Chart:
    """Columns per category (stacked, or side by side), with optional lines through the columns' centres.
    A single category (a one-month pilot) gets one wide, visible column group; a line of one point is a dot.
    `label_last`: the first line's last value written beside its last point."""
    with localcontext(EXACT):
        return _column_chart(chart_id, title, labels, list(bars), list(lines), unit, stacked, note, label_last)


def _column_chart(chart_id, title, labels, bars, lines, unit, stacked, note, label_last) -> Chart:
    for i, s in enumerate(bars):
        s.colour = s.colour or PALETTE[i % len(PALETTE)]
    for i, s in enumerate(lines):
        s.colour = s.colour or LINE_COLOURS[i % len(LINE_COLOURS)]
    n = len(labels)
    # the value range: stacked columns reach the sum of their positive (and of their negative) parts
    tops, bottoms = [Decimal(0)], [Decimal(0)]
    for i in range(n):
        parts = [s.values[i] or Decimal(0) for s in bars]
        if stacked:
            tops.append(sum((p for p in parts if p > 0), Decimal(0)))
            bottoms.append(sum((p for p in parts if p < 0), Decimal(0)))
        else:
            tops += parts
            bottoms += parts
        for s in lines:
            if s.values[i] is not None:
                tops.append(s.values[i])
                bottoms.append(s.values[i])
    lo, hi, step = _axis(min(bottoms), max(tops))
    ticks = [lo + step * k for k in range(int((hi - lo) / step) + 1)]
    tick_texts = [short_number(t) for t in ticks]
    left = 14 + max(text_width(t) for t in tick_texts) + 8
    top = 40 + (16 if unit or note else 0) + (14 if label_last else 0)
    axis_h = 200
    label_w = max((text_width(x) for x in labels), default=0)
    right = 16.0
    band = (WIDTH - left - right) / max(n, 1)
    if labels and label_w / 2 > band / 2 + right:  # the last label, centred on its column, would pass the edge
        right = label_w / 2 - band / 2 + 6
        band = (WIDTH - left - right) / max(n, 1)
    plot_w = WIDTH - left - right
    every = max(1, math.ceil((label_w + 10) / band)) if band else 1
    legend_entries = [(s.name, s.colour, "bar") for s in bars] + [(s.name, s.colour, "line") for s in lines]
    legend, legend_h = _legend(legend_entries, left, top + axis_h + 40, WIDTH - left - 12)
    height = top + axis_h + 30 + legend_h + 8

    def y(v: Decimal) -> float:
        return top + axis_h - float((v - lo) / (hi - lo)) * axis_h

    body = []
    if unit or note:
        body.append(f'<text class="chart-note" x="12" y="40" fill="#555">{esc(" · ".join(x for x in (unit, note) if x))}</text>')
    for t, text in zip(ticks, tick_texts):
        body.append(f'<line x1="{left:.1f}" x2="{left + plot_w:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                    f'stroke="{"#999" if t == 0 else "#e5e5e5"}"/>'
                    f'<text class="tick" x="{left - 6:.1f}" y="{y(t) + 4:.1f}" text-anchor="end">{esc(text)}</text>')
    if not n:
        body.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + axis_h / 2:.1f}" text-anchor="middle" fill="#555">'
                    f'no months in the history</text>')
    col_w = min(band * 0.7, 90)
    for i, label in enumerate(labels):
        cx = left + band * (i + 0.5)
        if i % every == 0:
            body.append(f'<text class="x-label" x="{cx:.1f}" y="{top + axis_h + 16:.1f}" text-anchor="middle">'
                        f'{esc(label)}</text>')
        up = down = Decimal(0)
        for j, s in enumerate(bars):
            v = s.values[i]
            if not v:
                continue
            if stacked:
                base = up if v > 0 else down
                y0, y1 = y(base), y(base + v)
                if v > 0:
                    up += v
                else:
                    down += v
                x0, w = cx - col_w / 2, col_w
            else:
                w = col_w / max(len(bars), 1)
                x0 = cx - col_w / 2 + j * w
                y0, y1 = y(Decimal(0)), y(v)
            hover = s.hovers[i] if s.hovers else f"{label} · {s.name}: {s.texts[i]}{' ' + unit if unit else ''}"
            body.append(f'<rect class="bar" x="{x0:.1f}" y="{min(y0, y1):.1f}" width="{w:.1f}" '
                        f'height="{max(abs(y1 - y0), 0.5):.1f}" fill="{s.colour}" data-series="{esc(s.name)}" '
                        f'data-label="{esc(label)}" data-value="{esc(s.texts[i])}"><title>{esc(hover)}</title></rect>')
    for s in lines:
        pts = [(left + band * (i + 0.5), y(v)) for i, v in enumerate(s.values) if v is not None]
        if len(pts) > 1:
            body.append(f'<polyline class="line" fill="none" stroke="{s.colour}" stroke-width="2" '
                        f'data-series="{esc(s.name)}" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
        for i, v in enumerate(s.values):
            if v is None:
                continue
            hover = s.hovers[i] if s.hovers else f"{labels[i]} · {s.name}: {s.texts[i]}{' ' + unit if unit else ''}"
            body.append(f'<circle class="point" cx="{left + band * (i + 0.5):.1f}" cy="{y(v):.1f}" r="3.5" '
                        f'fill="{s.colour}" data-series="{esc(s.name)}" data-label="{esc(labels[i])}" '
                        f'data-value="{esc(s.texts[i])}"><title>{esc(hover)}</title></circle>')
    if label_last and lines and lines[0].values and lines[0].values[-1] is not None:
        s = lines[0]
        text = f"{s.texts[-1]}{' ' + unit if unit else ''}"
        # above the last point, its right end at the point (the last column's centre is inside the plot)
        body.append(f'<text class="last-value" x="{left + band * (n - 0.5) + 4:.1f}" y="{y(s.values[-1]) - 9:.1f}" '
                    f'text-anchor="end" font-weight="bold" fill="{s.colour}">{esc(text)}</text>')
    body += legend
    return Chart(_frame(chart_id, title, height, body), int(math.ceil(height)), chart_id,
                 [s.name for s in bars] + [s.name for s in lines])


def bar_rows_chart(chart_id: str, title: str, rows: list[tuple[str, Decimal, str]], unit: str = "",
                   note: str = "") -> Chart:
    """Horizontal bars, one per row (label, value, text shown at the bar's end)."""
    with localcontext(EXACT):
        labels = [shorten(r[0], AXIS_NAME_MAX) for r in rows]
        left = 14 + max((text_width(x) for x in labels), default=0) + 8
        end_w = max((text_width(r[2]) for r in rows), default=0) + 12
        top = 40 + (16 if unit or note else 0)
        row_h = 24
        plot_w = WIDTH - left - end_w - 12
        values = [r[1] for r in rows]
        lo, hi, _ = _axis(min(values, default=Decimal(0)), max(values, default=Decimal(0)))
        height = top + max(len(rows), 1) * row_h + 16

        def x(v: Decimal) -> float:
            return left + float((v - lo) / (hi - lo)) * plot_w

        body = []
        if unit or note:
            body.append(f'<text class="chart-note" x="12" y="40" fill="#555">{esc(" · ".join(t for t in (unit, note) if t))}</text>')
        body.append(f'<line x1="{x(Decimal(0)):.1f}" x2="{x(Decimal(0)):.1f}" y1="{top:.1f}" '
                    f'y2="{top + len(rows) * row_h:.1f}" stroke="#999"/>')
        if not rows:
            body.append(f'<text x="{left:.1f}" y="{top + 16:.1f}" fill="#555">nothing to show</text>')
        for i, ((name, v, text), label) in enumerate(zip(rows, labels)):
            yc = top + i * row_h + row_h / 2
            x0, x1 = sorted((x(Decimal(0)), x(v)))
            body.append(f'<text class="y-label" x="{left - 8:.1f}" y="{yc + 4:.1f}" text-anchor="end">'
                        f'<title>{esc(name)}</title>{esc(label)}</text>')
            body.append(f'<rect class="bar" x="{x0:.1f}" y="{yc - 8:.1f}" width="{max(x1 - x0, 0.5):.1f}" height="16" '
                        f'fill="{PALETTE[0]}" data-series="{esc(title)}" data-label="{esc(name)}" '
                        f'data-value="{esc(str(v))}"><title>{esc(f"{name}: {text}")}</title></rect>')
            body.append(f'<text class="bar-value" x="{max(x1, x(Decimal(0))) + 6:.1f}" y="{yc + 4:.1f}">{esc(text)}</text>')
        return Chart(_frame(chart_id, title, height, body), int(math.ceil(height)), chart_id, [title])


# ------------------------------------------------------------------ the report's charts


def _d(text: Optional[str]) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


def _nonzero(series: list[Series]) -> list[Series]:
    return [s for s in series if any(v for v in s.values)]


def report_charts(report: dict) -> list[Chart]:
    """The charts of the HTML report, in its order (each also in `--chart FILE.svg`)."""
    cur = report["program"]["currency"]
    months = report["by_month"]
    labels = [m["month"] for m in months]
    has_points = bool(report["points"])
    liability = [Series("liability at month end", [_d(m["liability"]) for m in months],
                        [m["liability"] for m in months])] if has_points else []
    charts = []
    rules = list(dict.fromkeys(k for m in months for k in m["cost_by_rule"]))
    charts.append(column_chart(
        "chart-cost-by-rule", "Cost each month, by rule",
        labels, _nonzero([Series(r, [_d(m["cost_by_rule"].get(r)) for m in months],
                                 [m["cost_by_rule"].get(r, "0") for m in months]) for r in rules]),
        liability, unit=cur, note="columns: cost realized in the month; line: points liability at month end"
        if has_points else "cost realized in the month"))
    types = (("discounts", "discounts"), ("reward_cost", "rewards"), ("perk_cost", "tier perks"),
             ("draw_prizes", "draw prizes"))
    charts.append(column_chart(
        "chart-cost-by-type", "Cost each month, by cost type", labels,
        _nonzero([Series(name, [_d(m["cost_by_type"][k]) for m in months], [m["cost_by_type"][k] for m in months])
                  for k, name in types]),
        liability, unit=cur, note="rewards include those bought with points"))
    h = report["headline"]
    cumulative = [Series("total cost to date (realized + liability)", [_d(m["total_cost_to_date"]) for m in months],
                         [m["total_cost_to_date"] for m in months]),
                  Series("realized cost to date", [_d(m["cumulative_cost"]) for m in months],
                         [m["cumulative_cost"] for m in months])]
    charts.append(column_chart(
        "chart-cumulative", "Cumulative cost", labels, [], cumulative if has_points else cumulative[1:], unit=cur,
        note=f"ends at the total program cost, {h['total_cost']} {cur}", label_last=True))
    if report["tiers_by_month"]:
        tiers = [t["tier"] for t in report["by_tier"]]
        charts.append(column_chart(
            "chart-tiers", "Members by tier at month end", [r["month"] for r in report["tiers_by_month"]],
            [Series(t, [Decimal(r.get(t, 0)) for r in report["tiers_by_month"]],
                    [str(r.get(t, 0)) for r in report["tiers_by_month"]]) for t in tiers], unit="members"))
    if has_points:
        flows = (("points_issued", "issued"), ("points_redeemed", "redeemed"), ("points_expired", "expired"))
        charts.append(column_chart(
            "chart-points", "Points each month", labels,
            [Series(name, [Decimal(m[k]) for m in months], [str(m[k]) for m in months]) for k, name in flows],
            unit="points", stacked=False))
    def bars_of(rows: list[dict], key: str, what: str) -> list[tuple[str, Decimal, str]]:
        """A row per store (region); past MAX_BAR_ROWS the largest costs, the rest summed in one row."""
        def shown(name, cost, share):
            return name, cost, f"{cost} {cur}" + (f" ({_pct(share)} of revenue)" if share else "")

        if len(rows) > MAX_BAR_ROWS:
            ranked = sorted(rows, key=lambda r: (-_d(r["cost"]), r[key]))
            rest = ranked[MAX_BAR_ROWS - 1:]
            cost = sum((_d(r["cost"]) for r in rest), Decimal(0))
            revenue = sum((_d(r["revenue"]) for r in rest), Decimal(0))
            share = str((cost / revenue).quantize(Decimal("0.0001"))) if revenue else None
            keep = {id(r) for r in ranked[:MAX_BAR_ROWS - 1]}
            return [shown(r[key], _d(r["cost"]), r["share_of_revenue"]) for r in rows if id(r) in keep] + \
                [shown(f"({len(rest)} other {what})", cost, share)]
        return [shown(r[key], _d(r["cost"]), r["share_of_revenue"]) for r in rows]

    if report.get("by_store"):
        charts.append(bar_rows_chart(
            "chart-stores", "Cost by store", bars_of(report["by_store"], "store", "stores"),
            unit=cur, note="discounts, rewards and perks of the store's orders; draw prizes under (no store)"))
    if report.get("by_region"):
        charts.append(bar_rows_chart("chart-regions", "Cost by region", bars_of(report["by_region"], "region", "regions"),
                                     unit=cur))
    return charts + customer_charts(report.get("customers") or {})


def customer_charts(c: dict) -> list[Chart]:
    """The customer measures (the report's `customers`, simulate/measures.py): customers who start, come back and
    lapse each month with those active at its end; churn each month; retention by signup cohort. Each mark's
    data-value is the JSON's figure (a share as the JSON writes it, "0.0625"), its hover the figure in words."""
    if not c or not c["customers"] or not c["by_month"]:
        return []
    rows = c["by_month"]
    labels = [r["month"] for r in rows]
    flows = (("new", "first order"), ("returned", "came back"), ("lapsed", "lapsed"))
    charts = [column_chart(
        "chart-customers", "Customers each month", labels,
        [Series(name, [Decimal(r[k]) for r in rows], [str(r[k]) for r in rows]) for k, name in flows],
        [Series("active at month end", [Decimal(r["active_at_end"]) for r in rows], [str(r["active_at_end"]) for r in rows])],
        unit="customers", stacked=False, note=f"lapsed: {c['lapse_after_days']} days without an order")]
    if any(r["churn_rate"] is not None for r in rows):  # a one-month history has no month before to churn from
        active_before = [None] + [r["active_at_end"] for r in rows[:-1]]
        charts.append(column_chart(
            "chart-churn", "Churn each month", labels,
            [Series("churn", [None if r["churn_rate"] is None else Decimal(r["churn_rate"]) * 100 for r in rows],
                    [r["churn_rate"] or "" for r in rows],
                    hovers=[f"{r['month']} · churn: {_pct(r['churn_rate'])} ({r['lapsed']} of {before} lapsed)"
                            for r, before in zip(rows, active_before)])],
            unit="% of the customers active at the end of the month before"))
    cohorts = c["cohorts"]
    if cohorts:
        width = max(len(k["retention"]) for k in cohorts)
        lines = []
        for i, k in enumerate(cohorts):
            pad = [None] * (width - len(k["retention"]))
            lines.append(Series(
                f"{k['cohort']} ({k['members']} member{'s' if k['members'] != 1 else ''})", [Decimal(r) * 100 for r in k["retention"]] + pad,
                list(k["retention"]) + [""] * len(pad), colour=PALETTE[i % len(PALETTE)],
                hovers=[f"cohort {k['cohort']}, month {m} since signup: {_pct(r)} ({a} of {k['members']})"
                        for m, (r, a) in enumerate(zip(k["retention"], k["active"]))] + [""] * len(pad)))
        charts.append(column_chart(
            "chart-retention", "Retention by signup cohort", [str(m) for m in range(width)], [], lines,
            unit="% of the cohort ordering", note="x: months since signup (0: the signup month)"))
    return charts


def _pct(share: Optional[str]) -> str:
    with localcontext(EXACT):
        return "-" if share is None else f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"


def render_svg(report: dict) -> str:
    """Every chart of the report in one SVG, one under another (what `--chart FILE.svg` writes)."""
    charts = report_charts(report)
    y, parts = 0, []
    for c in charts:
        inner = c.svg.replace('<svg xmlns="http://www.w3.org/2000/svg" ', f'<svg y="{y}" ', 1)
        parts.append(inner)
        y += c.height + 12
    total = max(y - 12, 1)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total}" viewBox="0 0 {WIDTH} {total}">\n'
            f'<title>{esc(report["program"]["name"])}: simulated cost</title>\n' + "".join(parts) + "</svg>\n")
