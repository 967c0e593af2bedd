"""Options the commands that run a program share for parameters (`--set`) and intervals (`--intervals`,
`--seed`), and how intervals are printed. Kept apart from each command's own options."""

from __future__ import annotations

import click


def set_option(f, name: str = "--set", dest: str = "settings", which: str = "the program"):
    return click.option(
        name, dest, multiple=True, metavar="NAME=VALUE",
        help=f'Set a parameter of {which} (declared in its params block), e.g. "gold from=3000 points". Repeatable.',
    )(f)


def interval_options(f):
    f = click.option("--seed", type=click.IntRange(min=-(2**63), max=2**63 - 1), default=None,
                     help="The seed of the interval resampling, and of the scenario (draws, redeeming members, "
                          "a forecast's draws) where the command has one; the same seed, the same output "
                          "(default: the scenario's, 0).")(f)
    return click.option("--intervals", "intervals", type=click.IntRange(1, 99), default=None, metavar="LEVEL",
                        help="Give each headline figure a LEVEL% interval (e.g. 90): a bootstrap over members, "
                             "docs/simulate.md.")(f)


HEADLINE_ROWS = (("revenue", "revenue", "money"), ("orders", "orders", "count"), ("discounts", "discounts", "money"),
                 ("realized cost", "realized_cost", "money"), ("liability at the end", "liability_end", "money"),
                 ("total cost", "total_cost", "money"), ("cost share of revenue", "cost_share_of_revenue", "share"),
                 ("points issued", "points_issued", "count"))


def print_intervals(report: dict, console, exponent: int) -> None:
    """The headline figures with their intervals, after the report's own tables."""
    from loyalty.simulate.intervals import shown
    from loyalty.simulate.render import _money, _pct
    from loyalty.terminal import plain

    section = report.get("intervals")
    if not section:
        return
    level, cur = section["level"], report["program"]["currency"]
    console.print(plain((f"Headline figures with {level}% intervals", "bold"),
                        f" (bootstrap over {section['members']:,} members, {section['resamples']:,} resamples, "
                        f"seed {section['seed']})"))
    writers = {"money": lambda v: f"{_money(v, exponent)}", "count": lambda v: f"{int(v):,}", "share": _pct}
    for label, key, kind in HEADLINE_ROWS:
        value = report["headline"].get(key)
        if value is None:
            continue
        unit = f" {cur}" if kind == "money" else ""
        console.print(plain(f"  {label}: {shown(value, section['headline'].get(key), level, writers[kind], unit)}"))
