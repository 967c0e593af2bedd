"""`loyalty compare`: two programs on the same history; the cost difference, and who gets less."""

from __future__ import annotations

import functools
from typing import Optional
from decimal import Decimal

import click

from loyalty.commands._common import note, prefer_system_allocator, stdout_console
from loyalty.commands._params import interval_options, set_option
from loyalty.commands.simulate import handle_input_errors, history_options, refuse_coverage_warnings
from loyalty.simulate.result import exact
from loyalty.versioning import version_tag


@exact
def compare_reports(old: dict, new: dict, old_members, new_members, exponent: int) -> dict:
    """The difference of two reports on one history, and each member's change in value received."""
    scale = Decimal(1).scaleb(-exponent)

    from loyalty.currencies import money_text

    def diff(a, b) -> str:
        return money_text(Decimal(b or "0") - Decimal(a or "0"), exponent)

    rules_old = {r["rule"]: r for r in old["by_rule"]}
    rules_new = {r["rule"]: r for r in new["by_rule"]}
    by_rule = [{"rule": name, "old_cost": rules_old.get(name, {}).get("cost", money_text(0, exponent)),
                "new_cost": rules_new.get(name, {}).get("cost", money_text(0, exponent)),
                "difference": diff(rules_old.get(name, {}).get("cost"), rules_new.get(name, {}).get("cost"))}
               for name in sorted(set(rules_old) | set(rules_new))]
    months_old = {m["month"]: m for m in old["by_month"]}
    months_new = {m["month"]: m for m in new["by_month"]}
    by_month = [{"month": m, "old_cost": months_old.get(m, {}).get("cost", money_text(0, exponent)),
                 "new_cost": months_new.get(m, {}).get("cost", money_text(0, exponent)),
                 "difference": diff(months_old.get(m, {}).get("cost"), months_new.get(m, {}).get("cost"))}
                for m in sorted(set(months_old) | set(months_new))]
    # each member's value received (discounts, rewards at face value, points at their cost)
    old_value = {m.member: m.value for m in old_members}
    losers, lost, gainers, gained = 0, Decimal(0), 0, Decimal(0)
    biggest: list[tuple[Decimal, str]] = []
    loyal_losers = 0
    orders = {m.member: m.orders for m in old_members}
    order_counts = sorted(orders.values())
    loyal_threshold = order_counts[(len(order_counts) * 9) // 10] if order_counts else 0
    for m in new_members:
        before = old_value.get(m.member, Decimal(0))
        change = (m.value - before) * scale
        if change < 0:
            losers += 1
            lost += -change
            biggest.append((change, m.member))
            if orders.get(m.member, 0) >= loyal_threshold and loyal_threshold > 0:
                loyal_losers += 1
        elif change > 0:
            gainers += 1
            gained += change
    biggest.sort()
    return {
        **version_tag("loyalty-comparison/1"),
        "old": {"program": old["program"], "headline": old["headline"]},
        "new": {"program": new["program"], "headline": new["headline"]},
        "total_cost_difference": diff(old["headline"]["total_cost"], new["headline"]["total_cost"]),
        "by_rule": by_rule,
        "by_month": by_month,
        "coverage": {"old": old["coverage"], "new": new["coverage"]},
        "members": {
            "compared": len(new_members), "get_less": losers, "lose_in_total": money_text(lost, exponent),
            "get_more": gainers, "gain_in_total": money_text(gained, exponent),
            "most_loyal_tenth_getting_less": loyal_losers,
            "biggest_losers": [{"member": member, "change": money_text(change, exponent)} for change, member in biggest[:10]],
        },
    }


def run_comparison(old_prog, old_path: str, new_prog, new_path: str, history, scenario, attributes, columns,
                   time_format, delimiter, on_bad_row: str, show_progress: bool = False, history_name: str = "<table>",
                   intervals: Optional[int] = None, seed: int = 0) -> tuple[dict, dict, dict]:
    """Both programs on one history (read once): (old report, new report, the comparison). `loyalty compare`
    and `loyalty.compare` in Python both run this. With `intervals` (a level in percent): each headline's
    bootstrap interval and the paired interval of the difference (simulate/intervals.py)."""
    from loyalty.simulate.engine import SimulationError
    from loyalty.simulate.run import plan_for, read_inputs, run_and_report

    if old_prog.currency != new_prog.currency:
        raise SimulationError(f"the programs use different currencies ({old_prog.currency} and {new_prog.currency})",
                              hint="compare programs of the same currency")
    inputs = read_inputs(old_prog, history, scenario, columns, time_format, delimiter, on_bad_row, history_name)
    old_result, old_report = run_and_report(plan_for(old_prog, old_path, inputs, attributes), inputs, show_progress)
    new_result, new_report = run_and_report(plan_for(new_prog, new_path, inputs, attributes), inputs, show_progress)
    out = compare_reports(old_report, new_report, old_result.members, new_result.members, old_prog.exponent)
    if intervals is not None:
        from loyalty.simulate.intervals import difference_interval, intervals_section

        exp = old_prog.exponent
        out["old"]["intervals"] = intervals_section(old_report["headline"], old_result.members, exp, intervals, seed)
        out["new"]["intervals"] = intervals_section(new_report["headline"], new_result.members, exp, intervals, seed)
        out["difference_interval"] = difference_interval(
            old_result.members, new_result.members, exp, intervals, seed,
            Decimal(out["total_cost_difference"]).scaleb(exp))
    return old_report, new_report, out


@click.command(
    "compare",
    epilog="""\b
Examples:
  loyalty compare old.loyalty new.loyalty history.csv
  loyalty compare old.loyalty new.loyalty history.csv --format json > comparison.json
  loyalty compare old.loyalty new.loyalty history.csv --html comparison.html

Exit codes: 0 success, 1 the program or the history is wrong (the message names the file,
line and column), 2 usage error.""",
)
@click.argument("old_program", type=click.Path(dir_okay=False))
@click.argument("new_program", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False))
@history_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: tables for the terminal; json: one document for notebooks and scripts.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="Also write the comparison as one self-contained HTML page (charts and tables; opens offline).")
@functools.partial(set_option, name="--set-old", dest="settings_old", which="OLD_PROGRAM")
@functools.partial(set_option, name="--set-new", dest="settings_new", which="NEW_PROGRAM")
@interval_options
@handle_input_errors
def command(old_program, new_program, history, scenario_path, attributes_path, columns, time_format, delimiter,
            on_bad_row, strict, fmt, html_path, settings_old=(), settings_new=(), intervals=None, seed=0):
    """Run OLD_PROGRAM and NEW_PROGRAM on the same HISTORY: the cost difference by rule and month,
    and how many members get less under the new program, and how much."""
    from rich.table import Table

    from loyalty.simulate.render import _money, _pct, to_json
    from loyalty.simulate.run import load_program
    from loyalty.terminal import plain

    if html_path:
        from loyalty.commands._common import check_output_file

        check_output_file(html_path, "--html")
    old_prog, new_prog = load_program(old_program, settings_old), load_program(new_program, settings_new)
    prefer_system_allocator()
    old_report, new_report, out = run_comparison(old_prog, old_program, new_prog, new_program, history,
                                                 scenario_path, attributes_path, columns, time_format, delimiter,
                                                 on_bad_row, show_progress=True, intervals=intervals, seed=seed)
    refuse_coverage_warnings({"findings": [{**f, "message": f"{side} program: {f['message']}"}
                                           for side in ("old", "new") for f in out["coverage"][side]["findings"]]},
                             strict)
    if html_path:
        from pathlib import Path

        from loyalty import __version__
        from loyalty.commands._common import output_error
        from loyalty.fileio import write_atomic
        from loyalty.simulate.html_report import render_compare_html

        try:
            write_atomic(Path(html_path), render_compare_html(out, old_report, new_report, old_prog.exponent,
                                                              __version__))
        except OSError as err:
            output_error(html_path, err)
        note(f"wrote HTML report {html_path}")
    if fmt == "json":
        click.echo(to_json(out), nl=False)
        return
    console = stdout_console()  # COLUMNS, NO_COLOR, FORCE_COLOR honoured
    exp, cur = old_prog.exponent, old_prog.currency
    oh, nh = old_report["headline"], new_report["headline"]
    # program, rule and member names are the user's: every cell and line is a Text (loyalty.terminal.plain),
    # never read as rich markup, its control characters escaped
    t = Table(title=plain("Old and new"), title_justify="left", title_style="bold")
    for i, col in enumerate(("", old_report["program"]["name"], new_report["program"]["name"], "difference")):
        t.add_column(plain(col), justify="left" if i == 0 else "right")
    for label, key in (("total cost", "total_cost"), ("discount cost", "discounts"), ("rewards", "reward_cost"),
                       ("liability at the end", "liability_end")):
        t.add_row(plain(label), plain(_money(oh[key], exp)), plain(_money(nh[key], exp)),
                  plain(_money(str(Decimal(nh[key]) - Decimal(oh[key])), exp)))
    t.add_row(plain("cost share of revenue"), plain(_pct(oh["cost_share_of_revenue"])),
              plain(_pct(nh["cost_share_of_revenue"])), plain(""))
    console.print(t)
    if "difference_interval" in out:
        from loyalty.simulate.intervals import shown

        d = out["difference_interval"]
        new_iv = out["new"]["intervals"]["headline"]["total_cost"]
        old_iv = out["old"]["intervals"]["headline"]["total_cost"]
        money = lambda v: _money(v, exp)  # noqa: E731
        console.print(plain(f"total cost, old: {shown(oh['total_cost'], old_iv, d['level'], money, ' ' + cur)}"))
        console.print(plain(f"total cost, new: {shown(nh['total_cost'], new_iv, d['level'], money, ' ' + cur)}"))
        console.print(plain(f"difference (paired by member): {shown(d['cost_difference'], d, d['level'], money, ' ' + cur)}"
                            f": ", (d["verdict"], "bold")))
    for title, rows, key in (("By rule", out["by_rule"], "rule"), ("By month", out["by_month"], "month")):
        t = Table(title=plain(title), title_justify="left", title_style="bold")
        for col in (key, "old cost", "new cost", "difference"):
            t.add_column(plain(col), justify="left" if col == key else "right")
        for r in rows:
            t.add_row(plain(r[key]), plain(_money(r["old_cost"], exp)), plain(_money(r["new_cost"], exp)),
                      plain(_money(r["difference"], exp)))
        console.print(t)
    m = out["members"]
    console.print(plain((f"{m['get_less']:,} of {m['compared']:,} members get less", "bold"),
                        " value (discounts, rewards and points at face value) under the new program, "
                        f"{_money(m['lose_in_total'], exp)} {cur} in total "
                        f"({m['most_loyal_tenth_getting_less']:,} of them among the most loyal tenth); "
                        f"{m['get_more']:,} get more ({_money(m['gain_in_total'], exp)} {cur})."))
    for b in m["biggest_losers"][:5]:
        console.print(plain(f"  {b['member']}: {_money(b['change'], exp)} {cur}"))
    from loyalty.simulate.coverage import render_coverage

    for side, program_name in (("old", old_program), ("new", new_program)):
        console.print(plain((f"{side.capitalize()} program ({program_name})", "bold")))
        render_coverage(out["coverage"][side], console)
