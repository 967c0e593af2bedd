"""The HTML report and its SVG charts: what a person opens must show the JSON's figures, load nothing from the
network, escape every name, and lay out without overlaps or cut labels in a real browser (chromium, headless,
driven over the DevTools protocol: tests/browser.py). The browser tests skip, saying why, only where chromium
is not installed (.ci/run installs it)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from browser import Browser, find_chromium
from loyalty.cli import cli
from loyalty.simulate.render import headline_rows

REPO = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = ("coffee_stars", "summer_pilot", "car_wash", "monthly_draw")


def simulate(tmp_path: Path, name: str, history: Path | None = None, program: Path | None = None) -> tuple[dict, Path, Path]:
    """The JSON report, the --chart SVG and the --html page of one run."""
    program = program or REPO / "examples" / "programs" / f"{name}.loyalty"
    history = history or REPO / "examples" / "histories" / f"{name}.csv"
    svg, page = tmp_path / f"{name}.svg", tmp_path / f"{name}.html"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json", "--jobs", "1",
                                      "--chart", str(svg), "--html", str(page)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), svg, page


def one_month_history(tmp_path: Path) -> Path:
    """A four-week pilot: the car wash's rows of 1-28 March."""
    lines = (REPO / "examples" / "histories" / "car_wash.csv").read_text(encoding="utf-8").splitlines()
    keep = [ln for ln in lines[1:] if re.match(r"[^,]*,2025-03-(0[1-9]|1\d|2[0-8])", ln)]
    path = tmp_path / "pilot.csv"
    path.write_text("\n".join([lines[0], *keep]) + "\n", encoding="utf-8")
    return path


def charts_of(svg_path: Path) -> dict[str, ET.Element]:
    root = ET.parse(svg_path).getroot()  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    return {c.get("id"): c for c in root.findall(f"{SVG}svg")}


def marks(chart: ET.Element, series: str | None = None) -> list[ET.Element]:
    return [e for e in chart.iter() if e.get("data-value") is not None and (series is None or e.get("data-series") == series)]


def expected_charts(report: dict) -> set[str]:
    ids = {"chart-cost-by-rule", "chart-cost-by-type", "chart-cumulative", "chart-stores"}
    if report["points"]:
        ids.add("chart-points")
    if report["tiers_by_month"]:
        ids.add("chart-tiers")
    if report["by_region"]:
        ids.add("chart-regions")
    customers = report["customers"]
    if customers["customers"]:
        ids.add("chart-customers")
        if any(m["churn_rate"] is not None for m in customers["by_month"]):
            ids.add("chart-churn")
        if customers["cohorts"]:
            ids.add("chart-retention")
    return ids


def expected_tables(report: dict) -> set[str]:
    return ({"table-by-rule", "table-by-store", "table-by-month", "table-customers-by-month"}
            | ({"table-by-region"} if report["by_region"] else set())
            | ({"table-enrolment"} if report["customers"]["enrolment"] else set()))


def check_customer_charts(report: dict, charts: dict) -> None:
    """Every mark of the customer charts is the JSON's figure: customers who start, come back, lapse and are
    active each month; churn each month (the JSON's share); each cohort's retention by month since signup."""
    c = report["customers"]
    months = c["by_month"]
    drawn = charts["chart-customers"]
    for series, key in (("first order", "new"), ("came back", "returned"), ("lapsed", "lapsed")):
        assert {(e.get("data-label"), e.get("data-value")) for e in marks(drawn, series)} == \
            {(m["month"], str(m[key])) for m in months if m[key]}, series
    assert [(e.get("data-label"), e.get("data-value")) for e in marks(drawn, "active at month end")] == \
        [(m["month"], str(m["active_at_end"])) for m in months]
    if "chart-churn" in charts:
        churn = marks(charts["chart-churn"], "churn")
        assert {(e.get("data-label"), e.get("data-value")) for e in churn} == \
            {(m["month"], m["churn_rate"]) for m in months if m["churn_rate"] is not None and Decimal(m["churn_rate"])}
        titles = [e.find(f"{SVG}title").text for e in churn]
        assert all(" lapsed)" in t and "% (" in t for t in titles), titles
    if c["cohorts"]:
        retention = charts["chart-retention"]
        for cohort in c["cohorts"]:
            series = f"{cohort['cohort']} ({cohort['members']} member{'s' if cohort['members'] != 1 else ''})"
            assert [(e.get("data-label"), e.get("data-value")) for e in marks(retention, series)] == \
                [(str(k), r) for k, r in enumerate(cohort["retention"])], series


# ------------------------------------------------------------------ the SVG, read as XML


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_svg_is_well_formed_and_every_mark_is_a_figure_of_the_json(name, tmp_path):
    report, svg, _ = simulate(tmp_path, name)
    charts = charts_of(svg)
    assert set(charts) == expected_charts(report)
    months = {m["month"]: m for m in report["by_month"]}
    # cost by rule: one column part per non-zero (month, rule), with the JSON's exact value
    by_rule = charts["chart-cost-by-rule"]
    drawn = {(e.get("data-label"), e.get("data-series")): e.get("data-value") for e in by_rule.iter(f"{SVG}rect")
             if e.get("class") == "bar"}
    wanted = {(m, rule): v for m, row in months.items() for rule, v in row["cost_by_rule"].items() if Decimal(v)}
    assert drawn == wanted
    legend = {e.get("data-series") for e in by_rule.iter() if e.get("class") == "legend-item"}
    assert {rule for _, rule in wanted} <= legend
    # cost by type likewise, named as the headline names them
    names = {"discounts": "discounts", "reward_cost": "rewards", "perk_cost": "tier perks", "draw_prizes": "draw prizes"}
    drawn = {(e.get("data-label"), e.get("data-series")): e.get("data-value") for e in marks(charts["chart-cost-by-type"])
             if e.tag == f"{SVG}rect"}
    assert drawn == {(m, names[k]): v for m, row in months.items() for k, v in row["cost_by_type"].items() if Decimal(v)}
    # the liability line, where the program has points, through every month's liability
    if report["points"]:
        line = marks(by_rule, "liability at month end")
        assert [(e.get("data-label"), e.get("data-value")) for e in line] == \
            [(m["month"], m["liability"]) for m in report["by_month"]]
    else:
        assert not marks(by_rule, "liability at month end")
    # the cumulative chart ends at the headline's total program cost
    cumulative = charts["chart-cumulative"]
    total = "total cost to date (realized + liability)" if report["points"] else "realized cost to date"
    assert marks(cumulative, total)[-1].get("data-value") == report["headline"]["total_cost"]
    # stores (and regions) with their cost
    assert [(e.get("data-label"), e.get("data-value")) for e in marks(charts["chart-stores"])] == \
        [(s["store"], s["cost"]) for s in report["by_store"]]
    if report["by_region"]:
        assert [(e.get("data-label"), e.get("data-value")) for e in marks(charts["chart-regions"])] == \
            [(r["region"], r["cost"]) for r in report["by_region"]]
    if report["points"]:
        points = charts["chart-points"]
        for series, key in (("issued", "points_issued"), ("redeemed", "points_redeemed"), ("expired", "points_expired")):
            assert {(e.get("data-label"), e.get("data-value")) for e in marks(points, series)} == \
                {(m["month"], str(m[key])) for m in report["by_month"] if m[key]}
    if report["tiers_by_month"]:
        for tier in report["by_tier"]:
            assert {(e.get("data-label"), e.get("data-value")) for e in marks(charts["chart-tiers"], tier["tier"])} == \
                {(r["month"], str(r[tier["tier"]])) for r in report["tiers_by_month"] if r[tier["tier"]]}
    check_customer_charts(report, charts)


def test_a_chart_of_the_same_inputs_is_the_same_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, a, page_a = simulate(tmp_path / "a", "coffee_stars")
    _, b, page_b = simulate(tmp_path / "b", "coffee_stars")
    assert a.read_bytes() == b.read_bytes()
    assert page_a.read_bytes() == page_b.read_bytes()


HOSTILE = '</text><script>alert(1)</script> & "Q" <b>'


def test_names_from_the_history_are_text_in_the_svg_and_the_page(tmp_path):
    lines = (REPO / "examples" / "histories" / "car_wash.csv").read_text(encoding="utf-8").splitlines()
    rows = [lines[0]] + [ln.replace("Sparkle Lysaker", '"' + HOSTILE.replace('"', '""') + '"') for ln in lines[1:]]
    history = tmp_path / "hostile.csv"
    history.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report, svg, page = simulate(tmp_path, "car_wash", history=history)
    assert HOSTILE in [s["store"] for s in report["by_store"]]
    stores = charts_of(svg)["chart-stores"]
    assert HOSTILE in [e.get("data-label") for e in marks(stores)]
    assert any(t.text == HOSTILE for t in stores.iter(f"{SVG}title"))
    assert not list(ET.parse(svg).getroot().iter(f"{SVG}script"))

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.text = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

        def handle_data(self, data):
            self.text.append(data)

    parsed = Tags()
    parsed.feed(page.read_text(encoding="utf-8"))
    assert parsed.tags.count("script") == 1 and "b" not in parsed.tags  # ours only; the name is text
    assert HOSTILE in "".join(parsed.text)


def test_the_page_loads_nothing_from_elsewhere(tmp_path):
    _, svg, page = simulate(tmp_path, "coffee_stars")
    text = page.read_text(encoding="utf-8")
    assert re.findall(r"https?://[^\s\"'<>]+", text) == ["http://www.w3.org/2000/svg"] * text.count('xmlns="')
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\(", text)


def test_a_one_month_pilot_draws_columns_a_person_can_see(tmp_path):
    report, svg, _ = simulate(tmp_path, "car_wash", history=one_month_history(tmp_path))
    assert [m["month"] for m in report["by_month"]] == ["2025-03"]
    bars = [e for e in charts_of(svg)["chart-cost-by-rule"].iter(f"{SVG}rect") if e.get("class") == "bar"]
    assert bars and all(float(e.get("width")) >= 40 for e in bars)
    assert sum(float(e.get("height")) for e in bars) >= 100  # the month's column spans most of the plot
    # the customers of that month: wide columns and the active customers as a dot; one cohort at 100%; no churn
    # chart (churn needs a month before)
    charts = charts_of(svg)
    assert "chart-churn" not in charts
    customers = [e for e in charts["chart-customers"].iter(f"{SVG}rect") if e.get("class") == "bar"]
    assert customers and all(float(e.get("width")) >= 25 for e in customers)  # three side by side in one month
    assert [e.get("data-value") for e in marks(charts["chart-customers"], "active at month end")] == \
        [str(report["customers"]["by_month"][0]["active_at_end"])]
    assert [e.get("data-value") for e in marks(charts["chart-retention"])] == ["1.0000"]
    check_customer_charts(report, charts)


def test_customer_charts_with_enrolment_and_the_enrolment_table(tmp_path):
    attributes = tmp_path / "a.csv"
    attributes.write_text("member,signup_date\nM01,2025-01-01\nM02,2025-03-01\n", encoding="utf-8")
    page, svg = tmp_path / "r.html", tmp_path / "r.svg"
    result = CliRunner().invoke(cli, ["simulate", str(REPO / "examples/programs/car_wash.loyalty"),
                                      str(REPO / "examples/histories/car_wash.csv"), "--attributes", str(attributes),
                                      "--format", "json", "--html", str(page), "--chart", str(svg)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    charts = charts_of(svg)
    assert set(charts) == expected_charts(report)
    check_customer_charts(report, charts)
    text = page.read_text(encoding="utf-8")
    assert 'id="table-enrolment"' in text and "<td class=\"name\">not enrolled</td>" in text


# ------------------------------------------------------------------ in a real browser

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed here (Debian: apt-get install chromium; .ci/run installs it)")

LAYOUT = """(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    viewport: [window.innerWidth, window.innerHeight],
    scrollWidth: document.documentElement.scrollWidth,
    headline: [...document.querySelectorAll('#headline tr')].map(r => [...r.cells].map(c => c.textContent)),
    figures: [...document.querySelectorAll('figure')].map(f => ({id: f.querySelector('svg').id, box: box(f),
        svg: box(f.querySelector('svg')),
        texts: [...f.querySelectorAll('svg text')].map(t => ({text: t.textContent, box: box(t)})),
        bars: [...f.querySelectorAll('.bar')].map(b => ({series: b.dataset.series, value: b.dataset.value,
                                                          box: box(b)}))})),
    tables: [...document.querySelectorAll('section#tables table')].map(t => t.id),
    nameCells: [...document.querySelectorAll('section#tables td.name')].map(c => c.getBoundingClientRect().width),
  };
})()"""


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


def _inside(inner, outer, slack=0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_layout(layout: dict) -> None:
    width = layout["viewport"][0]
    assert layout["scrollWidth"] <= width, "the page is wider than the window"
    figures = layout["figures"]
    for i, a in enumerate(figures):
        for b in figures[i + 1:]:
            assert not _overlap(a["box"], b["box"]), (a["id"], b["id"])
        for t in a["texts"]:
            # every label inside its chart (nothing cut at an edge) and inside the window
            assert _inside(t["box"], a["svg"]), (a["id"], t)
            assert 0 <= t["box"][0] and t["box"][2] <= width, (a["id"], t)
        for bar in a["bars"]:
            assert _inside(bar["box"], a["svg"]), (a["id"], bar)


@needs_chromium
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_page_opens_without_errors_showing_the_terminals_headline_every_chart_and_table(name, tmp_path, browser):
    report, _, page = simulate(tmp_path, name)
    tab = browser.open(page.as_uri(), width=1024)
    assert tab.problems() == []
    assert tab.requests() == [page.as_uri()]  # the page only: no script, style, font or image from anywhere
    layout = tab.evaluate(LAYOUT)
    exponent = len(report["headline"]["revenue"].partition(".")[2])
    assert layout["headline"] == [[label.strip(), value] for label, value, _ in headline_rows(report, exponent)]
    assert {f["id"] for f in layout["figures"]} == expected_charts(report)
    assert set(layout["tables"]) == expected_tables(report)
    check_layout(layout)


@needs_chromium
@pytest.mark.parametrize("width", [420, 840, 1600])
def test_at_any_window_width_charts_do_not_overlap_and_no_label_is_cut(width, tmp_path, browser):
    _, _, page = simulate(tmp_path, "summer_pilot")
    tab = browser.open(page.as_uri(), width=width)
    layout = tab.evaluate(LAYOUT)
    check_layout(layout)
    assert len(layout["figures"]) >= 6
    # names in the tables stay readable: a narrow window scrolls a wide table rather than squeezing its names
    assert min(layout["nameCells"]) >= 70


@needs_chromium
def test_a_one_month_pilot_in_the_browser_has_visible_columns(tmp_path, browser):
    _, _, page = simulate(tmp_path, "car_wash", history=one_month_history(tmp_path))
    tab = browser.open(page.as_uri(), width=840)
    assert tab.problems() == []
    layout = tab.evaluate(LAYOUT)
    check_layout(layout)
    for chart, least in (("chart-cost-by-rule", 30), ("chart-customers", 20)):  # customers: 3 columns side by side
        drawn = next(f for f in layout["figures"] if f["id"] == chart)
        sizes = [(b["box"][2] - b["box"][0], b["box"][3] - b["box"][1]) for b in drawn["bars"]]
        assert sizes and all(w >= least for w, _ in sizes) and sum(h for _, h in sizes) >= 80, chart
    # the one cohort's one point, and the month's active customers, drawn where a person sees them
    points = tab.evaluate("""[...document.querySelectorAll('#chart-retention .point, #chart-customers .point')]
        .map(p => { const r = p.getBoundingClientRect(); return [r.width, r.height]; })""")
    assert len(points) == 2 and all(w >= 5 and h >= 5 for w, h in points)


@needs_chromium
def test_hovering_a_column_shows_its_value(tmp_path, browser):
    report, _, page = simulate(tmp_path, "coffee_stars")
    tab = browser.open(page.as_uri(), width=1024)
    target = tab.evaluate("""(() => { const b = document.querySelector('#chart-cost-by-rule .bar');
        b.scrollIntoView(); const r = b.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2, b.dataset.label, b.dataset.series, b.dataset.value]; })()""")
    x, y, month, series, value = target
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=tab.session)
    tip = tab.evaluate("[getComputedStyle(document.getElementById('tip')).display, "
                       "document.getElementById('tip').textContent]")
    assert tip == ["block", f"{month} · {series}: {value} {report['program']['currency']}"]
    assert tab.problems() == []


@needs_chromium
def test_hovering_the_customer_charts_shows_their_figures_in_words(tmp_path, browser):
    report, _, page = simulate(tmp_path, "coffee_stars")
    tab = browser.open(page.as_uri(), width=1024)
    shown = []
    # the first cohort's second month (month 0 is 100% for every cohort: those points lie on each other)
    for selector in ("#chart-customers .bar", "#chart-churn .bar", '#chart-retention .point[data-label="1"]'):
        x, y, title = tab.evaluate(f"""(() => {{ const b = document.querySelector('{selector}');
            b.scrollIntoView(); const r = b.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, b.querySelector('title').textContent]; }})()""")
        browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=tab.session)
        tip = tab.evaluate("[getComputedStyle(document.getElementById('tip')).display, "
                           "document.getElementById('tip').textContent]")
        assert tip == ["block", title]
        shown.append(title)
    first = report["customers"]["by_month"][0]
    churned = next(m for m in report["customers"]["by_month"] if m["churn_rate"] and Decimal(m["churn_rate"]))
    cohort = report["customers"]["cohorts"][0]
    assert shown[0] == f"{first['month']} · first order: {first['new']} customers"
    assert shown[1].startswith(f"{churned['month']} · churn: ") and f"({churned['lapsed']} of " in shown[1]
    share = f"{(Decimal(cohort['retention'][1]) * 100).quantize(Decimal('0.1'))}%"
    assert shown[2] == f"cohort {cohort['cohort']}, month 1 since signup: {share} ({cohort['active'][1]} of {cohort['members']})"
    assert tab.problems() == []


@needs_chromium
def test_a_screenshot_of_the_whole_page_is_the_pages_size(tmp_path, browser):
    _, _, page = simulate(tmp_path, "coffee_stars")
    tab = browser.open(page.as_uri(), width=840)
    tab.screenshot(tmp_path / "shot.png")
    data = (tmp_path / "shot.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == tuple(tab.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"))


def compare(tmp_path: Path) -> tuple[dict, Path]:
    """The car wash's program against one whose punch card fills at the 5th wash, as JSON and an HTML page."""
    old = REPO / "examples" / "programs" / "car_wash.loyalty"
    new = tmp_path / "car_wash_5th.loyalty"
    new.write_text(old.read_text(encoding="utf-8").replace("every 6th", "every 5th"), encoding="utf-8")
    page = tmp_path / "comparison.html"
    result = CliRunner().invoke(cli, ["compare", str(old), str(new), str(REPO / "examples" / "histories" / "car_wash.csv"),
                                      "--format", "json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), page


def test_the_comparison_page_charts_both_programs_months_as_the_json_has_them(tmp_path):
    comparison, page = compare(tmp_path)
    text = page.read_text(encoding="utf-8")
    svgs = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg".*?</svg>', text, flags=re.S)
    charts = {ET.fromstring(s).get("id"): ET.fromstring(s) for s in svgs}  # each chart is well-formed XML
    assert set(charts) == {"chart-cost-by-month", "chart-cumulative", "chart-difference-by-rule"}
    bars = {(e.get("data-label"), e.get("data-value")) for e in marks(charts["chart-cost-by-month"])}
    assert bars == {(m["month"], m[k]) for m in comparison["by_month"] for k in ("old_cost", "new_cost") if Decimal(m[k])}
    for side in ("old", "new"):
        line = [e for e in marks(charts["chart-cumulative"]) if e.get("data-series").startswith(side + ":")]
        assert line[-1].get("data-value") == comparison[side]["headline"]["total_cost"]
    assert {(e.get("data-label"), e.get("data-value")) for e in marks(charts["chart-difference-by-rule"])} == \
        {(r["rule"], r["difference"]) for r in comparison["by_rule"] if Decimal(r["difference"])}


@needs_chromium
def test_the_comparison_page_opens_without_errors_and_lays_out(tmp_path, browser):
    comparison, page = compare(tmp_path)
    tab = browser.open(page.as_uri(), width=840)
    assert tab.problems() == []
    assert tab.requests() == [page.as_uri()]
    check_layout(tab.evaluate(LAYOUT))
    members = tab.evaluate("document.getElementById('members').textContent")
    assert members.startswith(f"{comparison['members']['get_less']} of {comparison['members']['compared']} members get less")


def test_chart_html_is_the_html_report_and_html_writes_a_page_whatever_the_name(tmp_path):
    program = REPO / "examples" / "programs" / "car_wash.loyalty"
    history = REPO / "examples" / "histories" / "car_wash.csv"
    a, b = tmp_path / "a.html", tmp_path / "report.txt"
    for args in (["--chart", str(a)], ["--html", str(b)]):
        result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--jobs", "1", *args])
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_html_into_a_missing_folder_is_a_usage_error_before_any_work(tmp_path):
    result = CliRunner().invoke(cli, ["simulate", str(REPO / "examples" / "programs" / "car_wash.loyalty"),
                                      str(REPO / "examples" / "histories" / "car_wash.csv"),
                                      "--html", str(tmp_path / "no" / "such" / "report.html")])
    assert result.exit_code == 2
    assert "--html" in result.output and "Traceback" not in result.output


def test_a_chain_of_many_stores_gets_the_largest_as_bars_and_the_rest_summed():
    from loyalty.simulate.charts import MAX_BAR_ROWS, report_charts

    stores = [{"store": f"S{i:03d}", "cost": f"{i}.00", "revenue": "1000.00", "share_of_revenue": "0.0010"}
              for i in range(1, 101)]
    report = {"program": {"name": "P", "currency": "NOK"}, "by_month": [], "points": [], "tiers_by_month": [],
              "headline": {"total_cost": "0.00"}, "by_store": stores, "by_region": []}
    chart = next(c for c in report_charts(report) if c.id == "chart-stores")
    bars = marks(ET.fromstring(chart.svg))
    assert len(bars) == MAX_BAR_ROWS
    top = [b.get("data-label") for b in bars[:-1]]
    assert sorted(top) == [f"S{i:03d}" for i in range(100 - MAX_BAR_ROWS + 2, 101)]
    rest = bars[-1]
    assert rest.get("data-label") == f"({100 - MAX_BAR_ROWS + 1} other stores)"
    assert Decimal(rest.get("data-value")) == sum(Decimal(i) for i in range(1, 100 - MAX_BAR_ROWS + 2))
    assert sum(Decimal(b.get("data-value")) for b in bars) == sum(Decimal(i) for i in range(1, 101))


from hypothesis import assume, given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.text(st.one_of(st.characters(blacklist_categories=("Cs",)),
                                        st.sampled_from("\uffff\ufffe\x00\x1b<>&\"'\u202e\u200f]]>")),
                              min_size=1, max_size=30), min_size=1, max_size=6, unique=True),
       costs=st.lists(st.integers(-10**6, 10**9), min_size=6, max_size=6))
def test_any_name_and_figure_gives_well_formed_svg_showing_them(names, costs):
    """Store and rule names are whatever the history and the program hold: the SVG stays well-formed XML and
    shows each name (control and bidirectional characters as visible escapes) and each exact figure."""
    from loyalty.simulate.charts import esc, render_svg
    from loyalty.terminal import visible

    money = [f"{Decimal(c).scaleb(-2)}" for c in costs]
    month = {"month": "2025-01", "cost": "0", "cumulative_cost": "0", "liability": "0", "total_cost_to_date": "0",
             "cost_by_type": {"discounts": money[0], "reward_cost": "0", "perk_cost": "0", "draw_prizes": "0"},
             "cost_by_rule": {n: money[i] for i, n in enumerate(names)}}
    report = {"program": {"name": names[0], "currency": "NOK"}, "by_month": [month], "points": [],
              "tiers_by_month": [], "headline": {"total_cost": "0"},
              "by_store": [{"store": n, "cost": money[i], "revenue": "1.00", "share_of_revenue": None}
                           for i, n in enumerate(names)], "by_region": []}

    def shown(name):  # as a person sees it: controls, bidi marks and what XML cannot hold as escapes
        return re.sub("[\ufffe\uffff]", lambda m: f"\\u{ord(m.group()):04x}", visible(name))

    assume(len({shown(n) for n in names}) == len(names))  # "\\x00" and a NUL are shown alike, by design
    root = ET.fromstring(render_svg(report))
    charts = {c.get("id"): c for c in root.findall(f"{SVG}svg")}
    assert [(b.get("data-label"), b.get("data-value")) for b in marks(charts["chart-stores"])] == \
        [(shown(n), money[i]) for i, n in enumerate(names)]
    drawn = {b.get("data-series"): b.get("data-value") for b in marks(charts["chart-cost-by-rule"])}
    assert drawn == {shown(n): money[i] for i, n in enumerate(names) if Decimal(money[i])}
    assert "<" not in esc("<") and esc('"') != '"'
