"""`loyalty compare`: two programs on the same history; the cost difference, and who gets less."""

from __future__ import annotations

import functools
from decimal import Decimal

import click

from loyalty.commands._common import prefer_system_allocator, stdout_console
from loyalty.commands._params import interval_options, set_option
from loyalty.commands.simulate import handle_input_errors, history_options
from loyalty.simulate.result import exact


@exact
def compare_reports(old: dict, new: dict, old_members, new_members, exponent: int) -> dict:
    """The difference of two reports on one history, and each member's change in value received."""
    scale = Decimal(1).scaleb(-exponent)

    def diff(a, b) -> str:
        return str(Decimal(b or "0") - Decimal(a or "0"))

    rules_old = {r["rule"]: r for r in old["by_rule"]}
    rules_new = {r["rule"]: r for r in new["by_rule"]}
    by_rule = [{"rule": name, "old_cost": rules_old.get(name, {}).get("cost", "0"),
                "new_cost": rules_new.get(name, {}).get("cost", "0"),
                "difference": diff(rules_old.get(name, {}).get("cost"), rules_new.get(name, {}).get("cost"))}
               for name in sorted(set(rules_old) | set(rules_new))]
    months_old = {m["month"]: m for m in old["by_month"]}
    months_new = {m["month"]: m for m in new["by_month"]}
    by_month = [{"month": m, "old_cost": months_old.get(m, {}).get("cost", "0"),
                 "new_cost": months_new.get(m, {}).get("cost", "0"),
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
        "format": "loyalty-comparison/1",
        "old": {"program": old["program"], "headline": old["headline"]},
        "new": {"program": new["program"], "headline": new["headline"]},
        "total_cost_difference": diff(old["headline"]["total_cost"], new["headline"]["total_cost"]),
        "by_rule": by_rule,
        "by_month": by_month,
        "members": {
            "compared": len(new_members), "get_less": losers, "lose_in_total": str(lost),
            "get_more": gainers, "gain_in_total": str(gained),
            "most_loyal_tenth_getting_less": loyal_losers,
            "biggest_losers": [{"member": member, "change": str(change)} for change, member in biggest[:10]],
        },
    }


@click.command(
    "compare",
    epilog="""\b
Examples:
  loyalty compare old.loyalty new.loyalty history.csv
  loyalty compare old.loyalty new.loyalty history.csv --format json > comparison.json

Exit codes: 0 success, 1 the program or the history is wrong (the message names the file,
line and column), 2 usage error.""",
)
@click.argument("old_program", type=click.Path(dir_okay=False))
@click.argument("new_program", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False))
@history_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: tables for the terminal; json: one document for notebooks and scripts.")
@functools.partial(set_option, name="--set-old", dest="settings_old", which="OLD_PROGRAM")
@functools.partial(set_option, name="--set-new", dest="settings_new", which="NEW_PROGRAM")
@interval_options
@handle_input_errors
def command(old_program, new_program, history, scenario_path, attributes_path, columns, time_format, delimiter,
            on_bad_row, fmt, settings_old=(), settings_new=(), intervals=None, seed=0):
    """Run OLD_PROGRAM and NEW_PROGRAM on the same HISTORY: the cost difference by rule and month,
    and how many members get less under the new program, and how much."""
    from rich.table import Table

    from loyalty.simulate.render import _money, _pct, to_json
    from loyalty.simulate.run import load_program, plan_for, read_inputs, run_and_report
    from loyalty.terminal import plain

    old_prog, new_prog = load_program(old_program, settings_old), load_program(new_program, settings_new)
    if old_prog.currency != new_prog.currency:
        from loyalty.commands._common import fail

        fail(f"the programs use different currencies ({old_prog.currency} and {new_prog.currency})",
             "compare programs of the same currency")
    prefer_system_allocator()
    inputs = read_inputs(old_prog, history, scenario_path, columns, time_format, delimiter, on_bad_row)
    old_result, old_report = run_and_report(plan_for(old_prog, old_program, inputs, attributes_path), inputs, True)
    new_result, new_report = run_and_report(plan_for(new_prog, new_program, inputs, attributes_path), inputs, True)
    out = compare_reports(old_report, new_report, old_result.members, new_result.members, old_prog.exponent)
    if intervals is not None:
        from loyalty.simulate.intervals import difference_interval, intervals_section

        exp = old_prog.exponent
        out["old"]["intervals"] = intervals_section(old_report["headline"], old_result.members, exp, intervals, seed)
        out["new"]["intervals"] = intervals_section(new_report["headline"], new_result.members, exp, intervals, seed)
        out["difference_interval"] = difference_interval(
            old_result.members, new_result.members, exp, intervals, seed,
            Decimal(out["total_cost_difference"]).scaleb(exp))
    if fmt == "json":
        click.echo(to_json(out), nl=False)
        return
    console = stdout_console()
    if not console.is_terminal:
        console.width = 140
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
