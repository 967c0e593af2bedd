"""`loyalty generate`: a synthetic, realistic purchase history (seeded, reproducible)."""

from __future__ import annotations

import datetime as _dt
import sys
from decimal import Decimal

import click

from loyalty.commands._common import EXIT_INPUT, fail, print_diagnostics
from loyalty.simulate.generate import MAX_SKEW  # standard library only at import


def catalog_from_program(path: str):
    """Items (priced at about three times their catalog cost), stores and currency decimals from a program."""
    return program_facts(path)[:4]


def program_facts(path: str):
    """`catalog_from_program`'s items, stores, currency decimals and currency, and the program's codes and
    point kinds."""
    from loyalty.currencies import MINOR_UNITS
    from loyalty.frontend import check_file
    from loyalty.simulate.generate import CatalogItem, price_from_cost
    from loyalty.syntax import ast

    try:
        checked = check_file(path)
    except OSError as err:
        fail(f"{path}: cannot read the program: {err.strerror or err}")
    if not checked.ok:
        print_diagnostics([d for d in checked.diagnostics if d.is_error], checked.text)
        sys.exit(EXIT_INPUT)
    items, stores, categories, currency, codes, kinds, paid = [], [], [], None, [], [], []
    from loyalty.syntax.params import substitute

    for decl in substitute(checked.program).program.declarations:  # parameters' values in their places
        if isinstance(decl, ast.ProgramDecl):
            for s in decl.settings:
                if isinstance(s, ast.CurrencySetting):
                    currency = s.code
        elif isinstance(decl, ast.CatalogDecl):
            for entry in decl.entries:
                if isinstance(entry, ast.ItemDecl):
                    minor = MINOR_UNITS.get(currency or "", 2)
                    cost = entry.cost.amount if entry.cost else Decimal(10)
                    items.append(CatalogItem(entry.name.value, entry.category.value, price_from_cost(cost, minor)))
                elif isinstance(entry, ast.CategoryDecl):
                    categories.append(entry.name.value)
        elif isinstance(decl, ast.StoreDecl):
            stores.append(decl.name.value)
        elif isinstance(decl, ast.CodeDecl) and decl.code.value not in codes:
            codes.append(decl.code.value)
        elif isinstance(decl, ast.PointsDecl):
            kinds.append(decl.name.value)
        elif isinstance(decl, ast.TiersDecl):  # paid tiers (runtime/mechanics/fees.py): members pay their fees
            paid += [t.name.value for t in decl.tiers if any(isinstance(b, ast.BenefitFee) for b in t.benefits)]
    # categories without items still get sales: one generic item each
    named = {i.category for i in items}
    for c in categories:
        if c not in named:
            items.append(CatalogItem(c, c, Decimal(20)))
    return (tuple(items), tuple(stores), MINOR_UNITS.get(currency or "", 2), currency or "", tuple(codes),
            tuple(kinds), tuple(paid))


# share of members who refer a friend, for a two-sided referral program (other programs: the generator's 5%)
REFERRAL_RATE = 0.25


# under `members join at signup`, by default: shares of members who join after buying, and who never join
LATE_SIGNUPS, NEVER_JOIN = 0.3, 0.2


def has_enrolment(program) -> bool:
    """Whether a checked program says `members join at signup`: then some members join late, some never."""
    from loyalty.syntax import ast

    return any(isinstance(n, ast.MembersJoinAtSignup) for n in program.walk())


def has_referral_rules(program) -> bool:
    """Whether a checked program has two-sided referral rules: then referral rows name the new member."""
    from loyalty.syntax import ast

    return any(isinstance(n, (ast.OnReferring, ast.OnReferred)) for n in program.walk())


# the generic catalog is priced in dollars or euros; other currencies get about the same purchasing power
_CURRENCY_SCALE = {"NOK": 10, "SEK": 10, "DKK": 7, "CZK": 23, "PLN": 4, "HUF": 360, "ISK": 140, "JPY": 150,
                   "KRW": 1300, "INR": 80, "CNY": 7, "MXN": 18, "ZAR": 18, "BRL": 5}


def scaled_catalog(catalog, factor: int, minor: int):
    from loyalty.simulate.generate import CatalogItem

    step = Decimal(1).scaleb(-minor)
    return tuple(CatalogItem(i.name, i.category, (i.price * factor).quantize(step)) for i in catalog)


def _finite(ctx, param, value):
    if value is not None and value != value:  # NaN passes FloatRange's comparisons
        raise click.BadParameter(f"{value} is not a number.", ctx, param)
    return value


@click.command(
    "generate",
    epilog="""\b
Examples:
  loyalty generate --rows 100000 --seed 1 -o history.csv
  loyalty generate --rows 400 --seed 1 --program examples/programs/car_wash.loyalty -o car_wash.csv
  loyalty generate --rows 10000000 --seed 1 --grouped -o grouped.csv
  loyalty generate --rows 100000 --seed 1 --skew 1.2 -o skewed.csv""",
)
@click.option("--rows", type=click.IntRange(1, 50_000_000), default=1000, show_default=True,
              help="Exactly this many data rows.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file.")
@click.option("--members", type=click.IntRange(1), help="Number of members (default: one per 20 rows).")
@click.option("--program", "program_path", type=click.Path(dir_okay=False),
              help="Take items, categories, prices and stores from this program's catalog.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2025-01-01", show_default=True,
              help="First day of the history.")
@click.option("--days", type=click.IntRange(1, 36500), default=365, show_default=True, help="Days covered.")
@click.option("--grouped", is_flag=True,
              help="Each member's rows together (in time order), for `loyalty simulate --grouped`; "
                   "default: every row in time order. Same rows either way.")
@click.option("--skew", type=click.FloatRange(0, MAX_SKEW, min_open=True), callback=_finite, metavar="EXPONENT",
              help="Heavy-tailed member activity: Zipf's law with this exponent (the member of rank r gets a "
                   "share of rows in proportion to r**-EXPONENT; at 1.2 and 5,000 members the busiest 1% hold "
                   "about 71% of the rows). Default: log-normal activity (the busiest 1% hold about 13%).")
@click.option("--opening-balances", type=click.FloatRange(0, 1, min_open=True), callback=_finite,
              help="This share of members (0 to 1) brings points from an old card: an adjustment row "
                   "(`points +N`, reason `opening balance`) just before her signup. With --program, of its "
                   "point kind (one only); the file gets adjust and reason columns.")
@click.option("--late-signups", type=click.FloatRange(0, 1), callback=_finite,
              help="This share of members (0 to 1) signs up 1 to 90 days after her first purchase, not just before "
                   f"it. Default: {LATE_SIGNUPS} for a --program with `members join at signup`, else 0.")
@click.option("--never-join", type=click.FloatRange(0, 1), callback=_finite,
              help="This share of members (0 to 1) never signs up: her rows have no signup. Default: "
                   f"{NEVER_JOIN} for a --program with `members join at signup`, else 0.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write here (default, or -: standard output).")
@click.option("--attributes-output", type=click.Path(dir_okay=False),
              help="Also write the members' attributes (member, birthday) here, for `simulate --attributes`.")
def command(rows, seed, members, program_path, start, days, grouped, skew, opening_balances, late_signups,
            never_join, output, attributes_output):
    """Generate a synthetic purchase history as CSV: skewed purchase frequencies, seasons,
    several lines per order, returns, home stores; the same options give the same bytes.
    Memory stays small whatever --rows is (rows are made and written in chunks)."""
    from loyalty.simulate.generate import DEFAULT_CATALOG, GenerateOptions, generate
    from loyalty.simulate.history import LAST_TIME

    # sizes it cannot hold are refused before any work: every member has at least one row (--members
    # 100000000 --rows 10 allocated 8.6 GB), and every date must be one a history may hold
    if members is not None and members > rows:
        raise click.BadParameter(f"{members} members cannot fit in {rows} rows: each member has at least one row",
                                 param_hint="--members")
    first = start.date() if isinstance(start, _dt.datetime) else start
    if first > LAST_TIME.date():
        raise click.BadParameter(f"{first} is after {LAST_TIME.date()}, the last day a history may hold",
                                 param_hint="--start")
    if (LAST_TIME.date() - first).days < days + 81:  # returns and referrals come up to 80 days after the last day
        raise click.BadParameter(f"{days} days from {first} (and up to 80 days of late returns) go past "
                                 f"{LAST_TIME.date()}, the last day a history may hold", param_hint="--days")

    if output == "-":
        output = None
    if output:
        from loyalty.commands._common import check_output_file

        check_output_file(output, "-o")
    if attributes_output:
        from loyalty.commands._common import check_output_file

        check_output_file(attributes_output, "--attributes-output")
    catalog, stores, minor, codes, kinds, paid = DEFAULT_CATALOG, ("Store 1", "Store 2", "Store 3"), 2, (), ("points",), ()
    name_referred = False
    if program_path:
        program_catalog, program_stores, minor, currency, codes, kinds, paid = program_facts(program_path)
        # a program without a catalog sells generic goods, priced roughly for its currency
        catalog = program_catalog or scaled_catalog(DEFAULT_CATALOG, _CURRENCY_SCALE.get(currency, 1), minor)
        stores = program_stores or ("Store 1",)
        from loyalty.frontend import check_file

        checked = check_file(program_path).program  # checked clean just above
        name_referred = has_referral_rules(checked)
        if has_enrolment(checked):
            late_signups = LATE_SIGNUPS if late_signups is None else late_signups
            never_join = NEVER_JOIN if never_join is None else never_join
    if (late_signups or 0) + (never_join or 0) > 1:
        raise click.BadParameter(f"{late_signups} late and {never_join} never joining add up to more than all "
                                 "members", param_hint="--late-signups")
    options = GenerateOptions(rows=rows, seed=seed, members=members, start=start.date() if isinstance(
        start, _dt.datetime) else start, days=days, catalog=catalog, stores=stores, minor_units=minor, grouped=grouped,
        skew=skew, codes=codes, opening_balances=opening_balances or 0.0, name_referred=name_referred,
        late_signups=late_signups or 0.0, never_join=never_join or 0.0, paid_tiers=paid,
        **({"referral_rate": REFERRAL_RATE} if name_referred else {}))
    if opening_balances and len(kinds) != 1:
        raise click.BadParameter("opening balances need a program with one point kind, not "
                                 + (", ".join(kinds) if kinds else "none"), param_hint="--opening-balances")
    from loyalty.progress import stage

    # a bar on a terminal for a run longer than a second (not with -q): rows made, then rows written
    with stage("generating", rows) as bar:

        def progress(step: str, n: int) -> None:
            if bar is None:
                return
            if step != bar.description:  # the next stage: count its rows from 0
                bar.update(0, description=step)
            bar.advance(n)

        if output:
            from loyalty.fileio import open_atomic  # an interrupted run leaves no half-written history

            from loyalty.commands._common import output_error

            try:
                with open_atomic(output) as fh:
                    written = generate(options, fh, progress)
            except OSError as err:
                output_error(output, err)
        else:
            generate(options, sys.stdout, progress)
    if output:
        from loyalty.commands._common import note

        note(f"wrote {written} rows to {output}")
    if attributes_output:
        from loyalty.commands._common import note, output_error
        from loyalty.fileio import open_atomic
        from loyalty.simulate.generate import generate_attributes

        try:
            with open_atomic(attributes_output) as fh:
                n = generate_attributes(options, fh)
        except OSError as err:
            output_error(attributes_output, err)
        note(f"wrote {n} members' attributes to {attributes_output}")
