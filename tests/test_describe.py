"""`loyalty describe`: the program in plain words, its terms, effective reward rates and worst case.

The rates below are worked out by hand in the comments, from the example programs' text, not by calling
describe's code: describe must print what a designer would compute with pen and paper.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty import rates
from loyalty.cli import cli
from loyalty.compiler import compile_program
from loyalty.describe import describe, rule_markdown
from loyalty.frontend import check_text

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples" / "programs").glob("*.loyalty"))


def run(*args: str):
    return CliRunner().invoke(cli, ["describe", *args], catch_exceptions=False)


def described(name: str, *options: str) -> dict:
    result = run(str(REPO / "examples" / "programs" / f"{name}.loyalty"), "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rate(doc: dict, rule: str, tier: str = "(no tier)") -> tuple:
    r = next(r for r in doc["rules"] if r["name"] == rule)["rates"][tier]
    return r["at_list_price_percent"], r["at_cost_percent"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_described_with_a_sentence_per_rule(path: Path):
    program = compile_program(check_text(path.read_text(encoding="utf-8"), str(path)).program)
    names = [r["name"] for r in program.doc["rules"]]
    text = run(str(path))
    assert text.exit_code == 0, text.output
    rules_part = text.stdout.split("\nTerms and conditions:")[0]
    for name in names:
        line = next(line for line in rules_part.splitlines() if line.startswith(f"  - {name}: "))
        sentence = line[len(f"  - {name}: "):]
        assert sentence[0].isupper() and sentence.endswith("."), line
    doc = json.loads(run(str(path), "--format", "json").stdout)
    assert [r["name"] for r in doc["rules"]] == names
    assert all(r["sentence"].endswith(".") for r in doc["rules"])
    markdown = run(str(path), "--format", "markdown").stdout
    assert markdown.startswith("# ") and "## Effective reward rates" in markdown
    assert markdown.count("\n- **") == len(names)


def test_car_wash_every_6th_wash_free():
    doc = described("car_wash")
    # every 6th wash free: 1 of 6 washes, 1/6 = 16.67% of the washes' list price. At cost a free wash costs its
    # catalog cost, spread over the 6 washes of a cycle: basic 35/6 = 5.8333 NOK, wash and wax 55/6 = 9.1667 NOK
    assert rate(doc, "every 6th wash is free") == ("16.67", None)
    per = doc["rules"][0]["rates"]["(no tier)"]["per"]
    assert per == {"unit": "item bought", "at_cost": {"basic wash": "5.8333", "wash and wax": "9.1667"}}
    assert doc["rules"][0]["sentence"].startswith("Every 6th of \"basic wash\" or \"wash and wax\" is free")
    assert doc["worst_case"]["uncapped"] == ["every 6th wash is free"]


def test_grocery_club_points_tiers_and_multipliers():
    doc = described("grocery_club")
    # 1 point per 10 NOK; 100 points buy "10 NOK off", so a point is worth 10/100 = 0.10 NOK and costs 0.10 NOK:
    # 0.1 point per NOK x 0.10 = 1% at list price and at cost; "plus" earns 1.5x: 1.5%
    assert rate(doc, "points on every purchase") == ("1", "1")
    assert rate(doc, "points on every purchase", "plus") == ("1.5", "1.5")
    # "baby weeks" 3x adds 2 x 0.1 point per NOK = 0.2 point per NOK x 0.10 = 2%; for "plus", 1.5 x 2% = 3%
    assert rate(doc, "baby weeks for young parents") == ("2", "2")
    assert rate(doc, "baby weeks for young parents", "plus") == ("3", "3")
    # 50 points (5 NOK) for every 1000 NOK spent: 5/1000 = 0.5%
    assert rate(doc, "bonus per 1000 NOK") == ("0.5", "0.5")
    # a discount gives and costs what it takes off; the fruit discount is for "plus" members only
    assert rate(doc, "student coffee") == ("20", "20")
    assert doc["rules"][-1]["rates"]["(no tier)"] == {"applies": False}
    assert rate(doc, "plus members' fruit", "plus") == ("15", "15")
    # caps: once ever 100 points (10 NOK); 5 reviews of 20 points a year (10 NOK); 2000 points a month at 0.10
    # (200 NOK, 2400 NOK a year); 100 NOK a week (at most 53 weeks touch a year: 5300 NOK); and once by their
    # trigger: 200 points on the first purchase (20 NOK), a free filter coffee (4 NOK) on the 5th visit
    capped = {c["rule"]: (c["at_cost"], c["per_year"]) for c in doc["worst_case"]["capped"]}
    assert capped == {"download the app": ("10", "10"), "write a review": ("10", "10"),
                      "welcome: first purchase": ("20", "20"), "coffee on the 5th visit": ("4", "4"),
                      "baby weeks for young parents": ("200", "2400"), "student coffee": ("100", "5300")}
    assert doc["worst_case"]["per_member_per_year_at_cost"] is None  # "points on every purchase" has no cap
    # the terms: expiry, pending points, clawback, who and where a rule is for, caps, how tiers are kept
    terms = doc["terms"]
    assert "Points expire 24 months after they are earned (the oldest are spent first)." in terms
    assert "Points earned by a purchase can be spent 14 days after it." in terms
    assert any(t.startswith("Returning a purchase takes back the points it earned") for t in terms)
    assert '"fish from the north": only in "Fjordkjøp Bodø" or "Fjordkjøp Tromsø".' in terms
    assert '"student coffee": only for members in "students"; at most 100 NOK per member per week.' in terms
    assert "A tier once reached is kept; only a return that takes you back below the threshold lowers it." in terms


def test_coffee_stars_value_differs_from_cost():
    doc = described("coffee_stars")
    # 60 stars buy "2 dollars off": a star is worth 2/60 = 0.0333 USD to the member (3.33% back on 1 star per
    # USD) and costs 0.04 USD (4%). Gold earns 1.2x: 1.2 x 3.33% = 4%, 1.2 x 4% = 4.8%
    assert rate(doc, "stars on every dollar") == ("3.33", "4")
    assert rate(doc, "stars on every dollar", "gold") == ("4", "4.8")
    assert doc["point_kinds"] == [{"name": "stars", "cost": "0.04", "value": "0.0333", "value_from": "2 dollars off"}]


def test_beauty_points_tiers_multiply():
    doc = described("beauty_points")
    # 1000 points buy 10 USD off: 0.01 USD a point, and it costs 0.01: 1 point per USD is 1%;
    # silver 1.25x: 1.25%, gold 1.5x: 1.5%, platinum 2x: 2%
    assert [rate(doc, "points on every dollar", t) for t in ("(no tier)", "silver", "gold", "platinum")] == [
        ("1", "1"), ("1.25", "1.25"), ("1.5", "1.5"), ("2", "2")]
    # the birthday month's 2x adds as much again: 1% more, 2% more for platinum (2 x 1 x (2 - 1))
    assert rate(doc, "birthday month double points", "platinum") == ("2", "2")
    # a referral: 250 points at 0.01 = 2.50 USD each; capped at 2500 points a year = 25 USD
    assert doc["rules"][2]["rates"]["(no tier)"]["per"] == {"unit": "referral", "at_list_price": "2.5",
                                                            "at_cost": "2.5"}
    assert {c["rule"]: c["at_cost"] for c in doc["worst_case"]["capped"]} == {"refer a friend": "25"}
    assert ("At the end of each year, tiers are reviewed against the points you earn in the last 12 months: below "
            "your tier's threshold, you move down, after 1 month of grace to requalify.") in doc["terms"]


def test_shoe_shop_and_bakery_cycles():
    shoes = described("shoe_shop")
    # every 5th pair at 50% off: half of 1 pair in 5 = 10%, and a discount costs what it takes off
    assert rate(shoes, "every 5th pair at half price") == ("10", "10")
    # 1 free pair of socks after every 3 paid: a cycle of 4, 1/4 = 25%; a free pair costs 18 SEK: 18/4 = 4.50
    assert rate(shoes, "socks: 1 free after every 3 paid") == ("25", None)
    assert shoes["rules"][1]["rates"]["(no tier)"]["per"]["at_cost"] == {"socks": "4.5"}
    bakery = described("bakery")
    # 1 free bun after every 9 paid: a cycle of 10, 1/10 = 10%; a free cinnamon bun costs 4.50/10 = 0.45 DKK
    assert rate(bakery, "the 10th bun is free") == ("10", None)
    assert bakery["rules"][0]["rates"]["(no tier)"]["per"]["at_cost"] == {"cardamom bun": "0.48",
                                                                         "cinnamon bun": "0.45"}


def test_cosmetics_gift_worst_case_is_finite():
    doc = described("cosmetics_gift")
    # a 22 NOK gift on orders from 400 NOK: at most 22/400 = 5.5% of an order, at cost; its face value is not
    # in the program (a gift), so the list-price rate is unknown
    assert rate(doc, "gift with purchase") == (None, "5.5")
    # once a month: 22 NOK a month, 12 x 22 = 264 NOK a year; the beauty bag once a month, 12 x 95 = 1140 NOK;
    # one gift per order still lets a member have both in a month (on two orders): 264 + 1140 = 1404 NOK
    assert doc["worst_case"]["per_member_per_year_at_cost"] == "1404"


def test_discount_scale_rate_is_its_highest_step():
    doc = described("discount_card")
    assert rate(doc, "members get 5% off") == ("5", "5")
    rule = next(r for r in doc["rules"] if r["name"] == "loyalty discount scale")
    assert rule["rates"]["(no tier)"]["up_to"] is True and rate(doc, "loyalty discount scale") == ("12", "12")


PROGRAM = """\
program "Cafe" {
  currency NOK
}
points "points"
reward "coffee" is a perk costing 20 NOK
rule "base" { earn 1 point per 10 NOK }
rule "visits" { earn 50 points per visit }
"""


def test_unknown_value_is_said_not_invented_and_assumptions_give_it(tmp_path):
    program = tmp_path / "cafe.loyalty"
    program.write_text(PROGRAM, encoding="utf-8")
    text = run(str(program))
    assert text.exit_code == 0, text.output
    assert "base" in text.stdout and "? / ?" in text.stdout
    assert "a point's value to the member is unknown" in text.stdout
    doc = json.loads(run(str(program), "--format", "json").stdout)
    assert rate(doc, "base") == (None, None)
    assert {w["code"] for w in doc["warnings"]} == {"LOY310", "LOY312", "LOY314", "LOY315"}
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("cost_per_point:\n  points: 0.05\n", encoding="utf-8")
    doc = json.loads(run(str(program), "--format", "json", "--assumptions", str(scenario)).stdout)
    # 0.1 point per NOK at 0.05 NOK = 0.5% at cost; the member's value stays unknown (nothing to redeem)
    assert rate(doc, "base") == (None, "0.5")
    assert doc["assumptions"] == ["points: a point costs 0.05 NOK (the assumptions file)"]
    # 50 points a visit on the typical order of 10 x 10 NOK = 100 NOK: 50 x 0.05 / 100 = 2.5%
    assert rate(doc, "visits") == (None, "2.5")


def test_the_visit_warning_and_describe_agree_on_the_rate(tmp_path):
    text = PROGRAM.replace('points "points"', 'points "points" { cost 0.10 NOK each }')
    text += 'redeem 100 points for "coffee"\n'
    checked = check_text(text, "cafe.loyalty")
    (warning,) = [d for d in checked.diagnostics if d.code == "LOY315"]
    # on 100 NOK: 50 points x 0.10 = 5 NOK = 5%, against 10 points x 0.10 = 1%
    assert "100 NOK that is 5% back at 0.10 NOK a point, against 1%" in warning.message
    doc = describe(compile_program(checked.program), None, checked.diagnostics)
    visits = next(r for r in doc["rules"] if r["name"] == "visits")["rates"][""]
    assert rates.percent_text(visits["at_cost"]) == "5%"
    assert any(w["code"] == "LOY315" for w in doc["warnings"])


def test_a_wrong_program_exits_1_with_the_checkers_diagnostics(tmp_path):
    program = tmp_path / "bad.loyalty"
    program.write_text('program "Cafe" {\n  currency NOK\n}\nrule "r" { get 120% off }\n', encoding="utf-8")
    result = run(str(program))
    assert result.exit_code == 1
    assert "bad.loyalty:4:16: error[LOY203]" in result.stderr
    assert result.stdout == ""
    assert run(str(tmp_path / "missing.loyalty")).exit_code == 2


def test_a_bad_assumptions_file_is_located(tmp_path):
    program = tmp_path / "cafe.loyalty"
    program.write_text(PROGRAM, encoding="utf-8")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("cost_per_point:\n  miles: 0.05\n", encoding="utf-8")
    result = run(str(program), "--assumptions", str(scenario))
    assert result.exit_code == 1
    assert "scenario.yaml" in result.stderr and "miles" in result.stderr


def test_names_reach_the_terminal_escaped(tmp_path):
    program = tmp_path / "cafe.loyalty"
    # a right-to-left override in a name is allowed (warning LOY008) but must not reorder the terminal's line
    program.write_text(PROGRAM.replace('rule "base"', 'rule "base\\u202e[red]"'), encoding="utf-8")
    for fmt in ("text", "markdown"):
        result = run(str(program), "--format", fmt)
        assert result.exit_code == 0
        assert "\u202e" not in result.stdout and "\\u202e" in result.stdout


def test_rule_markdown_for_a_hover():
    program = compile_program(check_text((REPO / "examples/programs/grocery_club.loyalty").read_text(), "g").program)
    hover = rule_markdown(program, "points on every purchase")
    assert hover.startswith("**points on every purchase**: Earn 1 point per 10 NOK spent.")
    assert "- tier \"plus\": 1.5% / 1.5% on every purchase (at list price / at cost)" in hover
    assert rule_markdown(program, "no such rule") is None
    # from the checked syntax tree, as an editor has it
    checked = check_text((REPO / "examples/programs/car_wash.loyalty").read_text(), "c")
    hover = rule_markdown(checked.program, "every 6th wash is free")
    assert "16.67% / 5.83–9.17 NOK per item bought" in hover


def test_output_is_byte_identical_between_runs():
    path = str(REPO / "examples" / "programs" / "beauty_points.loyalty")
    for fmt in ("text", "json", "markdown"):
        assert run(path, "--format", fmt).stdout == run(path, "--format", fmt).stdout


def test_the_docs_show_what_describe_prints():
    """docs/describe.md quotes real output: each `$ loyalty describe ...` block is what the command prints."""
    import re
    import shlex

    text = (REPO / "docs" / "describe.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n\$ loyalty describe (.*?)\n(.*?)\n```", text, re.S)
    assert len(blocks) >= 2
    for args, shown in blocks:
        argv = shlex.split(args)
        argv[0] = str(REPO / argv[0])
        assert run(*argv).stdout.rstrip("\n") == shown, args
    markdown = re.search(r"````markdown\n(.*?)\n````", text, re.S).group(1)
    assert run(str(REPO / "examples/programs/cosmetics_gift.loyalty"), "--format", "markdown").stdout.rstrip() \
        == markdown


# ------------------------------------------------------------------ the rates agree with what the program does

from hypothesis import given, settings, strategies as st  # noqa: E402

import loyalty  # noqa: E402


def _replay(text: str, orders: list[list[tuple[str, int, str]]]):
    """The effects of one member's purchases, one order per list of (item, quantity, amount) lines."""
    program = loyalty.compile_source(text)
    state = program.new_member("m1")
    effects = []
    for n, lines in enumerate(orders):
        state, found = program.apply(state, {"purchase": {
            "id": f"p{n}", "time": f"2025-03-01T10:{n // 60:02d}:{n % 60:02d}", "order": f"o{n}",
            "lines": [{"item": i, "quantity": q, "amount": a} for i, q, a in lines]}})
        effects += found
    return program, effects


@settings(max_examples=30, deadline=None)
@given(paid=st.integers(1, 9), free=st.integers(1, 3), cycles=st.integers(1, 3), percent=st.sampled_from(["100", "50"]))
def test_a_punch_cards_rate_is_the_share_a_member_gets_back(paid, free, cycles, percent):
    """Buying whole cycles of a punch card one wash at a time, the discounts add up to describe's share of
    the list price exactly."""
    card = (f'{free} free "wash" after every {paid} paid' if percent == "100"
            else f'every {paid + 1}th "wash" at {percent}% off')
    free_units = free if percent == "100" else 1
    text = ('program "Wash" {\n  currency NOK\n}\ncatalog {\n  item "wash" in category "washes" costing 30 NOK\n}\n'
            f'rule "card" {{ {card} }}\n')
    cycle = paid + free_units
    program, effects = _replay(text, [[("wash", 1, "100")]] * (cycle * cycles))
    given_back = Fraction(sum(e.amount for e in effects if e.kind == "discount_applied"), 100)
    doc = describe(program.compiled)
    share = doc["rules"][0]["rates"][""]["at_list_price"]
    assert given_back / (100 * cycle * cycles) == share


@settings(max_examples=30, deadline=None)
@given(points=st.integers(1, 5), per=st.sampled_from([1, 5, 10, 25]), orders=st.integers(1, 4),
       steps=st.integers(1, 4).map(lambda n: 2 * n), factor=st.sampled_from(["1.5", "2", "3"]))
def test_a_points_rate_is_the_points_a_member_earns_at_their_cost(points, per, orders, steps, factor):
    """Orders of an even number of `per` steps (whole points even at 1.5x: no rounding), in a tier from 0 with
    a multiplier: the points earned, at the point's cost, are describe's at-cost share of the tier's spend."""
    text = ('program "Shop" {\n  currency NOK\n}\npoints "points" { cost 0.02 NOK each }\n'
            'reward "5 off" is 5 NOK off the next order\nredeem 250 points for "5 off"\n'
            f'rule "base" {{ earn {points} points per {per} NOK }}\n'
            f'tiers by spend {{ tier "all" from 0 NOK {{ earn {factor}x points }} }}\n')
    amount = per * steps
    program, effects = _replay(text, [[("anything", 1, str(amount))]] * orders)
    earned = sum(e.points for e in effects if e.kind == "points_earned")
    rate = describe(program.compiled)["rules"][0]["rates"]["all"]
    spend = amount * orders
    assert Fraction(earned) * Fraction(2, 100) / spend == rate["at_cost"]
    # 250 points buy 5 NOK off: a point is worth 0.02 NOK to the member too
    assert rate["at_list_price"] == rate["at_cost"]


def test_gym_multipliers_multiply_points_per_visit():
    doc = described("gym")
    per = {r["name"]: {t: (v.get("per") or {}).get("at_cost") for t, v in r["rates"].items()} for r in doc["rules"]}
    # 10 points a visit at 0.01 USD = 0.10 USD; "devotee" earns 2x: 0.20 USD
    assert per["points for every visit"] == {"(no tier)": "0.1", "regular": "0.1", "devotee": "0.2"}
    # off-peak 2x adds 10 more points (0.10 USD), for a devotee 2 x 10 x (2 - 1) = 20 (0.20 USD);
    # weekend 1.5x adds 5 (0.05 USD), for a devotee 10 (0.10 USD)
    assert per["off-peak double points"] == {"(no tier)": "0.1", "regular": "0.1", "devotee": "0.2"}
    assert per["weekend warriors"] == {"(no tier)": "0.05", "regular": "0.05", "devotee": "0.1"}
    # a smoothie (1.60 USD) every 20 visits: 0.08 USD a visit
    assert per["smoothie every 20 visits"]["(no tier)"] == "0.08"


def test_a_percent_off_next_order_is_not_priced_and_a_draw_costs_its_prizes():
    books = described("bookstore")
    stock_up = next(r for r in books["rules"] if r["name"] == "stock up and save")["rates"]["(no tier)"]
    assert stock_up["next_order_percent"] == "10" and stock_up["at_cost_percent"] is None
    assert books["worst_case"]["cost_unknown"] == ["stock up and save"]
    draw = described("monthly_draw")
    # 1 winner of 5000 NOK a month; 2 winners of 20000 NOK a quarter
    assert draw["draws"] == [{"name": "monthly prize draw", "period": "month", "cost_per_period": "5000"},
                             {"name": "quarterly northern draw", "period": "quarter", "cost_per_period": "40000"}]
    assert draw["rules"] == []


def test_the_json_keys_are_the_documented_ones():
    doc = described("grocery_club")
    assert sorted(doc) == ["assumptions", "currency", "draws", "format", "point_kinds", "program", "rules",
                           "terms", "tiers", "warnings", "worst_case"]
    assert doc["format"] == "loyalty-describe/1"
    rule = doc["rules"][0]
    assert sorted(rule) == ["campaign", "line", "name", "rates", "sentence"]
    assert list(rule["rates"]) == ["(no tier)", "member", "plus"]
    assert sorted(rule["rates"]["plus"]) == ["applies", "at_cost_percent", "at_list_price_percent", "basis",
                                             "next_order_percent", "on", "per", "up_to"]
    assert sorted(doc["worst_case"]) == ["capped", "cost_unknown", "per_member_per_year_at_cost", "uncapped"]
    text = (REPO / "docs" / "describe.md").read_text(encoding="utf-8")
    for key in ("at_list_price_percent", "at_cost_percent", "next_order_percent", "cost_unknown", "draws",
                "per_member_per_year_at_cost"):
        assert f"`{key}`" in text, key
