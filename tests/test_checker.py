"""The checker: symbol table, point-kind resolution, currencies, the docs of every
code, the limits produced programmatically, and properties over generated programs."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import currencies
from loyalty.checker import build_symbols, check, decimal_places, resolve_point_kind
from loyalty.diagnostics import CODES, render
from loyalty.frontend import check_file, check_text
from loyalty.syntax.parser import MAX_SOURCE_CHARS, parse

from strategies import programs

REPO = Path(__file__).resolve().parents[1]
ERRORS_DOC = REPO / "docs" / "errors.md"

HEADER = 'program "Cafe" {\n  currency NOK\n  runs from 2025-01-01 to 2025-12-31\n}\n'
# something to spend points on, so that a program earning them is not warned about (LOY314)


def redeemable(kind: str = "points") -> str:
    return f'reward "perk for {kind}" is a perk\nredeem 100 {kind} for "perk for {kind}"\n'


def codes(text: str) -> list[str]:
    return [d.code for d in check_text(text, "t.loyalty").diagnostics]


# ------------------------------------------------------------------ point kinds


@pytest.mark.parametrize(
    "word, kinds, expected",
    [
        ("star", ["stars"], "stars"),
        ("stars", ["stars"], "stars"),
        ("point", ["points", "stars"], "points"),
        ("miles", ["points"], None),
        ("stars", ["star"], None),  # only an added "s" resolves, not a removed one
        ("points", [], None),
    ],
)
def test_resolve_point_kind(word, kinds, expected):
    assert resolve_point_kind(word, kinds) == expected


@given(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True))
@settings(max_examples=100, deadline=None)
def test_a_kind_resolves_from_its_name_and_its_singular(kind):
    assert resolve_point_kind(kind, [kind]) == kind
    if kind.endswith("s") and len(kind) > 1:
        assert resolve_point_kind(kind[:-1], [kind]) == kind


def test_singular_unit_is_accepted_in_rules():
    text = HEADER + 'points "stars" { cost 0.01 NOK each }\nrule "r" { earn 1 star per 10 NOK }\n' + redeemable("stars")
    assert codes(text) == []


# ------------------------------------------------------------------ symbol table


def test_symbol_table_collects_every_declaration():
    program = parse(
        HEADER
        + 'points "stars" { cost 0.01 NOK each }\n'
        + 'catalog {\n  category "coffee"\n  item "latte" in category "coffee"\n  item "bun" in category "pastry"\n}\n'
        + 'segment "students"\nstore "Oslo 1" in region "east"\nstore "Bergen"\n'
        + 'reward "free latte" is a free "latte"\nredeem 100 stars for "free latte"\n'
        + 'rule "base" { earn 1 star per 10 NOK }\n'
        + 'campaign "summer" { from 2025-06-01 to 2025-08-31 rule "double" { earn 2x } }\n'
        + 'tiers by spend { tier "silver" from 0 NOK tier "gold" from 5000 NOK }\n'
        + 'draw "monthly" { held every month prize 100 NOK 1 entry per 100 NOK }\n'
    )
    sym, problems = build_symbols(program)
    assert problems == []
    assert sym.currency == "NOK"
    assert str(sym.runs_from) == "2025-01-01" and str(sym.runs_to) == "2025-12-31"
    assert sym.timezone is None
    assert list(sym.point_kinds) == ["stars"]
    assert list(sym.items) == ["latte", "bun"]
    # an item's category counts as declared
    assert list(sym.categories) == ["coffee", "pastry"]
    assert list(sym.segments) == ["students"]
    assert list(sym.stores) == ["Oslo 1", "Bergen"]
    assert {r: [s.name.value for s in stores] for r, stores in sym.regions.items()} == {"east": ["Oslo 1"]}
    assert list(sym.rewards) == ["free latte"]
    assert [r.reward.value for r in sym.redeems] == ["free latte"]
    assert list(sym.tiers) == ["silver", "gold"]
    assert [(e.name, e.campaign.name.value if e.campaign else None) for e in sym.rule_entries] == [
        ("base", None),
        ("double", "summer"),
    ]
    assert list(sym.draws) == ["monthly"] and list(sym.campaigns) == ["summer"]
    assert sym.point_kind("star") == "stars"


def test_duplicate_span_points_at_the_second_name():
    text = HEADER + 'reward "mug" is a gift "mug"\nreward "mug" is a perk\nredeem 1 points for "mug"\n'
    diag = [d for d in check_text(text, "t").diagnostics if d.code == "LOY102"][0]
    assert (diag.span.line, diag.span.column, diag.span.end_column) == (6, 8, 13)
    assert "line 5" in diag.hint


# ------------------------------------------------------------------ values and units


def test_values_that_are_fine():
    text = HEADER + (
        'points "points" { cost 0.004 NOK each }\n'  # a point may cost a fraction of an øre
        'rule "all off" { get 100% off }\n'
        'rule "late" { earn 2x between 22:00 and 02:00 }\n'  # crosses midnight: fine
        'rule "one day" { earn 3x from 2025-05-01 to 2025-05-01 }\n'
        'rule "price" { earn 1 point per 10.50 NOK }\n'
        'rule "trailing zeros" { earn 1 point per 10.500 NOK }\n'
        'rule "any item" { earn 2 points per 10 NOK on "anything" }\n'  # no catalog: names unchecked
    ) + redeemable()
    assert codes(text) == []


@pytest.mark.parametrize(
    "currency, amount, ok",
    [("JPY", "100", True), ("JPY", "100.5", False), ("KWD", "1.125", True), ("KWD", "1.1255", False)],
)
def test_decimals_follow_the_currency(currency, amount, ok):
    text = f'program "p" {{ currency {currency} }}\npoints "points" {{ cost 1 {currency} each }}\n'
    text += f'rule "r" {{ earn 1 point per {amount} {currency} }}\n' + redeemable()
    assert codes(text) == ([] if ok else ["LOY208"])


def test_decimal_places():
    assert decimal_places(Decimal("1.50")) == 1
    assert decimal_places(Decimal("2.000")) == 0
    assert decimal_places(Decimal("0.004")) == 3
    assert decimal_places(Decimal("100")) == 0


def test_currency_table():
    assert currencies.minor_units("NOK") == 2
    assert currencies.minor_units("USD") == 2
    assert currencies.minor_units("JPY") == 0
    assert currencies.minor_units("KWD") == 3
    assert currencies.minor_units("CLF") == 4
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in currencies.MINOR_UNITS)
    assert all(0 <= e <= 4 for e in currencies.MINOR_UNITS.values())
    assert len(currencies.MINOR_UNITS) > 150
    assert not currencies.is_currency("XAU")  # a metal has no minor unit


def test_timezone_hint_fixes_case():
    text = 'program "p" { currency NOK timezone "europe/oslo" }\n'
    (diag,) = check_text(text, "t").diagnostics
    assert diag.code == "LOY209"
    assert '"Europe/Oslo"' in diag.hint


def test_unknown_point_kind_span_is_the_unit_word():
    text = HEADER + 'points "stars" { cost 0.01 NOK each }\nrule "r" { earn 5 starz }\n'
    (diag,) = check_text(text, "t").diagnostics
    assert diag.code == "LOY103"
    assert (diag.span.line, diag.span.column, diag.span.end_column) == (6, 19, 24)
    assert "did you mean 'stars'" in diag.hint


def test_regions_and_segments_must_be_declared():
    text = HEADER + 'points "points" { cost 0.01 NOK each }\n'
    text += 'rule "r" { earn 2x for segment "vip" in region "north" in store "S1" }\n'
    text += 'rule "base" { earn 1 point per 10 NOK }\n'  # a multiplier needs points per spend to multiply
    text += redeemable()
    assert codes(text) == ["LOY101", "LOY101", "LOY101"]


def test_campaign_conditions_are_inherited_by_its_rules():
    text = HEADER + 'points "points" { cost 0.01 NOK each }\n'
    text += 'campaign "c" {\n  from 2025-06-01 to 2025-06-30\n  rule "r" { earn 2x from 2025-07-01 to 2025-07-10 }\n}\n'
    text += 'rule "base" { earn 1 point per 10 NOK }\n'  # a multiplier needs points per spend to multiply
    text += redeemable()
    # the rule's dates are outside its campaign's
    assert codes(text) == ["LOY307"]


def test_campaign_points_budget_on_a_discount_rule_does_not_fit():
    text = HEADER + 'points "points" { cost 0.01 NOK each }\n'
    text += 'campaign "c" {\n  budget 1000 points\n  rule "r" { get 10% off }\n}\n'
    assert codes(text) == ["LOY303"]


def test_or_of_impossible_branches_never_fires_but_a_possible_branch_does():
    base = HEADER + 'points "points" { cost 0.01 NOK each }\n' + redeemable()
    never = base + 'rule "r" { earn 5 points when order total < 0 NOK or order items < 0 }\n'
    maybe = base + 'rule "r" { earn 5 points when order total < 0 NOK or order items >= 3 }\n'
    assert codes(never) == ["LOY309"]
    assert codes(maybe) == []


# ------------------------------------------------------------------ LOY007 and LOY401


def test_invalid_utf8_is_located(tmp_path):
    path = tmp_path / "shop.loyalty"
    path.write_bytes(b'program "x" {\n  currency NOK\xff\xfe\n}\n')
    result = check_file(path)
    (diag,) = result.diagnostics
    assert diag.code == "LOY007"
    assert (diag.span.line, diag.span.column) == (2, 15)
    assert not result.ok


def test_program_over_the_size_limit_is_refused():
    text = HEADER + "#" * (MAX_SOURCE_CHARS + 10)
    result = check_text(text, "big.loyalty")
    assert [d.code for d in result.diagnostics] == ["LOY401"]
    assert result.program is None


# ------------------------------------------------------------------ docs/errors.md


def _doc_sections() -> dict[str, str]:
    text = ERRORS_DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## (LOY\d{3})\b", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_code_has_a_section_with_its_title_and_a_fix():
    sections = _doc_sections()
    assert set(CODES) <= set(sections), sorted(set(CODES) - set(sections))
    for code in CODES:
        body = sections[code]
        assert body.startswith(f": {CODES[code].title}\n"), code
        assert "**Fix:**" in body, code


@pytest.mark.parametrize("code", sorted(set(CODES) - {"LOY007", "LOY401"}))
def test_documented_example_prints_what_the_docs_show(code):
    body = _doc_sections()[code]
    # every example of the section: a program, then what `loyalty check` prints for it
    examples = re.findall(r"```loyalty\n(.*?)\n```\s*```text\n(.*?)\n```", body, re.S)
    assert examples, f"the section of {code} has no example"
    for source, shown in examples:
        source += "\n"
        found = [d for d in check_text(source, "example.loyalty").diagnostics if d.code == code]
        assert found, f"the example for {code} does not produce {code}"
        assert render(found[0], source) == shown


# ------------------------------------------------------------------ properties


@given(programs())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_check_never_raises_and_is_sorted_and_deterministic(program):
    first = check(program)
    assert first == check(program)
    assert [d.sort_key() for d in first] == sorted(d.sort_key() for d in first)
    assert all(d.code in CODES for d in first)


@given(st.lists(st.sampled_from(sorted((REPO / "tests" / "golden").rglob("*.loyalty"))), min_size=1, max_size=3),
       st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_mangled_programs_give_diagnostics_not_exceptions(paths, rnd):
    # shuffle and drop lines of real programs: whatever parses must check without raising
    lines = [line for p in paths for line in p.read_text(encoding="utf-8").splitlines()]
    rnd.shuffle(lines)
    kept = [line for line in lines if rnd.random() < 0.8]
    result = check_text("\n".join(kept), "mangled.loyalty")
    assert all(d.code in CODES for d in result.diagnostics)


def test_documented_size_limit_is_the_real_one():
    body = _doc_sections()["LOY401"]
    shown = re.search(r"```text\n(.*?)\n```", body, re.S).group(1)
    (diag,) = check_text("#" * (MAX_SOURCE_CHARS + 1), "big.loyalty").diagnostics
    assert render(diag, "") == shown


def test_a_multiplier_with_no_points_per_spend_or_visit_to_multiply_never_fires():
    head = 'program "p" {\n  currency NOK\n}\npoints "points" { cost 0.01 NOK each }\npoints "miles" { cost 0.01 NOK each }\n'
    head += redeemable("points") + redeemable("miles")
    only_bonuses = head + 'rule "w" {\n  earn 100 points\n  on signup\n}\nrule "d" {\n  earn 2x points\n}\n'
    assert codes(only_bonuses) == ["LOY309"]
    per_visit = head + 'rule "v" {\n  earn 10 points per visit\n}\nrule "d" {\n  earn 2x points\n}\n'
    assert codes(per_visit) == []
    other_kind = head + 'rule "s" {\n  earn 1 mile per 10 NOK\n}\nrule "d" {\n  earn 2x points\n}\n'
    assert codes(other_kind) == ["LOY309"]
    any_kind = head + 'rule "s" {\n  earn 1 mile per 10 NOK\n}\nrule "d" {\n  earn 2x\n}\n'
    assert codes(any_kind) == []


def test_is_timezone_agrees_with_zoneinfo_available_timezones():
    """is_timezone answers from tzdata's list first (no walk of the system's tz directories): the same
    answers as membership in zoneinfo.available_timezones()."""
    import zoneinfo

    from loyalty.checker import is_timezone

    names = zoneinfo.available_timezones()
    for name in ["Europe/Oslo", "europe/oslo", "UTC", "US/Pacific", "posixrules", "right/UTC", "posix/UTC",
                 "", "Europe//Oslo", "../zoneinfo/UTC", "Mars/Olympus"]:
        assert is_timezone(name) == (name in names), name


@pytest.mark.parametrize("name", ["localtime", "posixrules", "posix/Europe/Oslo", "right/UTC"])
def test_a_time_zone_only_this_machine_knows_is_refused(name):
    """`localtime` is whatever zone the machine running the program is set to: results would depend on the host."""
    found = check_text(f'program "p" {{\n  currency NOK\n  timezone "{name}"\n}}\n', "t.loyalty").diagnostics
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("LOY211", 3, 12)]
    assert ('"Europe/Oslo"' if "/" not in name else '"%s"' % name.split("/", 1)[1]) in found[0].hint


def test_a_compiled_program_in_a_machine_time_zone_is_refused():
    import json

    import loyalty
    from loyalty.runtime.program import ProgramFormatError, program_identity

    doc = json.loads(loyalty.compile_source(HEADER + 'points "p"\n').to_json())
    doc["timezone"] = "localtime"
    doc["identity"] = program_identity(doc)
    with pytest.raises(ProgramFormatError, match="timezone: 'localtime' is not an IANA time zone"):
        loyalty.load_compiled(json.dumps(doc))
