"""Programs that `check` calls clean run on every path, at the edges of what the checker allows.

A program `loyalty check` accepts must simulate (vectorised kernel and `--kernel python`),
compile, run its scenarios (`loyalty test`) and load and apply through the embedding API
without an internal error (exit 3) or a traceback: dates at the end of the calendar
(9999-12-31, a common "forever"), the largest durations, cycles, multipliers and rates the
number limit allows. Defects of the robustness issue, each case named after its class:
"forever" dates and durations (docs/semantics.md, "The end of time"), kernel overflow, money
formatting of huge figures. Histories and the embedding API refusing what they cannot hold
are in tests/test_history.py, tests/test_apply_fast_path.py and tests/hostile/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import loyalty
from loyalty.cli import cli

HEAD = '''program "Edge" {{
  currency NOK
  timezone "Europe/Oslo"
{runs}}}
'''

HISTORY = "member,time,amount,quantity,item\n" \
          "M1,2025-01-01T10:00,100.00,1,bun\n" \
          "M1,2025-02-01T10:00,50.00,3,bun\n" \
          "M2,2025-03-01T10:00,20.00,2,cake\n" \
          "M1,2025-04-01T10:00,5.00,1,bun\n"

SCENARIO = """scenarios:
  - name: runs
    member: {id: m1}
    events:
      - purchase: {time: 2025-01-01T10:00, order: o1, lines: [{item: bun, quantity: 1, amount: "100.00"}]}
      - purchase: {time: 2025-02-01T10:00, order: o2, lines: [{item: bun, quantity: 3, amount: "50.00"}]}
      - tick: {time: 2026-06-01T10:00}
"""


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def runs_everywhere(tmp_path: Path, text: str, history: str = HISTORY) -> dict:
    """`check` is clean, then every path runs; returns the two simulations' JSON reports."""
    program = tmp_path / "p.loyalty"
    program.write_text(text, encoding="utf-8")
    (tmp_path / "p.test.yaml").write_text(SCENARIO, encoding="utf-8")
    csv = tmp_path / "h.csv"
    csv.write_text(history, encoding="utf-8")
    result = invoke("check", str(program))
    assert result.exit_code == 0, result.output
    reports = {}
    for kernel in ("auto", "python"):  # auto: the default, the vectorised kernel when it can
        result = invoke("simulate", str(program), str(csv), "--format", "json", "--jobs", "1", "--kernel", kernel)
        assert result.exit_code == 0, (kernel, result.output)
        reports[kernel] = json.loads(result.output)
        invoke("simulate", str(program), str(csv), "--jobs", "1", "--kernel", kernel)  # the text report too
    assert reports["auto"]["headline"] == reports["python"]["headline"]
    result = invoke("compile", str(program))
    assert result.exit_code == 0, result.output
    result = invoke("test", str(program))
    assert result.exit_code == 0, result.output
    prog = loyalty.load(text)
    state = prog.new_member("m")
    for t, amount, qty in (("2025-01-01T10:00", "100.00", 1), ("2025-02-01T10:00", "50.00", 3)):
        state, _ = prog.apply(state, {"purchase": {"time": t, "order": t, "lines": [
            {"item": "bun", "quantity": qty, "amount": amount}]}})
    prog.apply(state, {"tick": {"time": "2030-01-01T00:00"}})
    return reports


POINTS = '''points "points" {{
  cost 0.01 NOK each
  {expire}
}}
'''

# ---------------------------------------------------------------- 1. the end of time


@pytest.mark.parametrize("runs", ["  runs from 2025-01-01 to 9999-12-31\n", "  runs from 9999-12-31\n", ""])
@pytest.mark.parametrize("rule", [
    'rule "points" {\n  earn 1 point per 1 NOK\n  until 9999-12-31\n}\n',
    'rule "points" {\n  earn 1 point per 1 NOK\n  from 9999-12-31 to 9999-12-31\n}\n',
])
def test_dates_at_the_end_of_the_calendar_run_everywhere(tmp_path, runs, rule):
    text = HEAD.format(runs=runs) + POINTS.format(expire="expire 12 months after earning") + rule
    reports = runs_everywhere(tmp_path, text)
    if "9999-12-31\n" in runs and "to" not in runs:  # runs from the last day: nothing in the history is in it
        assert reports["python"]["headline"]["points_issued"] == 0
    elif "from 9999" not in rule:
        # 100 + 50 + 20 + 5 NOK, one point per NOK
        assert reports["python"]["headline"]["points_issued"] == 175


def test_the_last_date_means_no_end(tmp_path):
    prog = loyalty.load(HEAD.format(runs="  runs from 2025-01-01 to 9999-12-31\n")
                        + POINTS.format(expire="") + 'rule "p" {\n  earn 1 point per 1 NOK\n  until 9999-12-31\n}\n')
    # the latest moment an event may carry is still inside the program and the rule
    state, effects = prog.apply(prog.new_member("m"), {"purchase": {"time": "8999-12-31T23:59", "order": "o",
                                                                    "lines": [{"item": "x", "amount": "10"}]}})
    assert state.balance() == 10


@pytest.mark.parametrize("expire", [
    "expire after 99999999999999999999 months without a purchase",
    "expire after 99999999999999999999 years without a purchase",
    "expire after 99999999999999999999 days without a purchase",
    "expire 99999999999999999999 months after earning",
    "expire 99999999999999999999 weeks after earning",
    "expire 99999999999999999999 days after earning",
    "expire 2921940 days after earning",  # 8000 years: past 9999-12-31 from 2025
    "expire at the end of the next calendar year",
])
def test_the_longest_durations_run_everywhere(tmp_path, expire):
    text = HEAD.format(runs="  runs from 2025-01-01 to 9999-12-31\n") + POINTS.format(expire=expire) + \
        'rule "points" {\n  earn 1 point per 1 NOK\n}\n'
    reports = runs_everywhere(tmp_path, text)
    assert reports["python"]["headline"]["points_issued"] == 175


def test_a_point_that_never_expires_has_no_expiry_moment():
    prog = loyalty.load(HEAD.format(runs="") + POINTS.format(expire="expire 99999999999999999999 days after earning")
                        + 'rule "points" {\n  earn 1 point per 1 NOK\n}\n')
    state, _ = prog.apply(prog.new_member("m"), {"purchase": {"time": "2025-01-01T10:00", "order": "o",
                                                              "lines": [{"item": "x", "amount": "10"}]}})
    state, effects = prog.apply(state, {"tick": {"time": "8999-12-31T00:00"}})
    assert state.balance() == 10 and not effects


@pytest.mark.parametrize("window", ["in the last 99999999999999999999 months", "in the last 99999999999999999999 days",
                                    "in the last 2921940 days", "lifetime"])
@pytest.mark.parametrize("downgrade", ["downgrade at the end of each year with 99999999999999999999 months grace",
                                       "downgrade at the end of each day with 99999999999999999999 days grace",
                                       "downgrade at the end of each year with 1 month grace"])
def test_tiers_with_the_longest_windows_and_grace_run_everywhere(tmp_path, window, downgrade):
    metric = f"points earned {window}" if window != "lifetime" else "lifetime points earned"
    text = HEAD.format(runs="  runs from 2025-01-01 to 9999-12-31\n") + POINTS.format(expire="") + f'''
rule "points" {{
  earn 1 point per 1 NOK
}}
tiers by {metric} {{
  tier "silver" from 50 points {{
    earn 2x
  }}
  tier "gold" from 120 points {{
    earn 3x
  }}
  {downgrade}
}}
'''
    runs_everywhere(tmp_path, text)


def test_a_draw_until_the_end_of_the_calendar_runs_everywhere(tmp_path):
    text = HEAD.format(runs="  runs from 2025-01-01 to 9999-12-31\n") + '''
draw "monthly" {
  held every month
  prize 5000 NOK
  winners 1
  1 entry per 10 NOK
  from 2025-01-01 to 9999-12-31
}
draw "daily" {
  held every day
  prize 1 NOK
  1 entry per 0.01 NOK
  from 9999-12-31 to 9999-12-31
}
'''
    runs_everywhere(tmp_path, text)


# ---------------------------------------------------------------- the vectorised kernel at the largest values

CATALOG = '''catalog {
  category "goods"
  item "bun" in category "goods"
  item "cake" in category "goods"
}
'''


@pytest.mark.parametrize("rule", [
    'every 99999999999999999999th item is free',
    'every 2nd item is free',
    '1 free "bun" after every 99999999999999999999 paid',
    '99999999999999999999 free "bun" after every 1 paid',
    'every 99999999999999999999th item at 50% off',
    'give "gift" after every 99999999999999999999 visits',
    'give "gift" after every 99999999999999999999 NOK spent',
    'earn 99999999999999999999 points per 0.01 NOK',
    'earn 99999999999999999999 points per visit',
    'earn 1 point per 99999999999999999999 NOK',
])
def test_the_largest_cycles_and_quantities_run_everywhere(tmp_path, rule):
    text = HEAD.format(runs="") + POINTS.format(expire="") + CATALOG + \
        'reward "gift" is a free "cake"\n' + f'rule "r" {{\n  {rule}\n}}\n'
    history = HISTORY + f"M3,2025-05-01T10:00,1.00,{2**63 - 1},bun\n" \
                        f"M4,2025-05-01T10:00,92233720368547758.07,1,bun\n"
    runs_everywhere(tmp_path, text, history)


@pytest.mark.parametrize("rule", [
    'earn 99999999999999999999x',
    'earn 99999999999999999999 points per 0.01 NOK',
])
def test_the_largest_multipliers_and_rates_format_as_money(tmp_path, rule):
    text = HEAD.format(runs="") + '''points "points" {
  cost 99999999999999999999 NOK each
}
rule "base" {
  earn 99999999999999999999 points per 0.01 NOK
}
''' + f'rule "r" {{\n  {rule}\n}}\n'
    reports = runs_everywhere(tmp_path, text)
    assert reports["python"]["headline"]["points_issued"] > 10**24


# ---------------------------------------------------------------- 2. tiny inputs that multiply work

@pytest.mark.parametrize("action, unit", [('give "gift"', 500), ("earn 5 points", 5)])
def test_after_every_cent_spent_fires_at_most_the_cap_per_event_and_says_so(action, unit):
    from loyalty.runtime.mechanics.triggers import MAX_FIRINGS_PER_EVENT

    prog = loyalty.load(HEAD.format(runs="") + POINTS.format(expire="") + CATALOG + '''
reward "gift" is a free "cake" costing 5 NOK
rule "r" {
  ''' + action + '''
  after every 0.01 NOK spent
}
''')
    import time
    started = time.process_time()
    state, effects = prog.apply(prog.new_member("m"), {"purchase": {"time": "2025-01-01T10:00", "order": "o1",
                                                                    "lines": [{"item": "bun", "amount": "2000"}]}})
    assert time.process_time() - started < 5  # was 110 s: quadratic in the firings
    given = [e for e in effects if e.kind in ("reward_issued", "points_earned")]
    capped = [e for e in effects if e.kind == "cap_reached"]
    assert len(given) == MAX_FIRINGS_PER_EVENT
    # 2000 NOK is 200,000 cents: the rest is reported, in the rule's unit (a reward at its cost, points)
    assert len(capped) == 1 and capped[0].truncated == (200_000 - MAX_FIRINGS_PER_EVENT) * unit
    assert capped[0].scope == "firings per event"
    # the spend counted is not carried over: the next cent fires once
    state, effects = prog.apply(state, {"purchase": {"time": "2025-01-02T10:00", "order": "o2",
                                                     "lines": [{"item": "bun", "amount": "0.01"}]}})
    assert len([e for e in effects if e.kind in ("reward_issued", "points_earned")]) == 1


@pytest.mark.parametrize("amount, reason", [
    ("1e999999999", "too large an amount"),
    ("1e-999999999", "more decimals than NOK allows"),
    ("1.00000000000000000000000000001", "more decimals than NOK allows"),  # was rounded to 1.00
    ("99999999999999999999999999999999", "too large an amount"),  # was rounded to 10**32
    ("92233720368547758.08", "too large an amount"),  # 2**63 minor units
    ("1.234", "more decimals than NOK allows"),
])
@pytest.mark.parametrize("as_decimal", [False, True])
def test_the_api_refuses_amounts_it_cannot_hold_exactly(amount, reason, as_decimal):
    from decimal import Decimal

    from loyalty.runtime.facade import apply_general
    from loyalty.runtime.internal import EventError

    prog = loyalty.load(HEAD.format(runs="") + POINTS.format(expire="") + 'rule "p" {\n  earn 1 point per 1 NOK\n}\n')
    value = Decimal(amount) if as_decimal else amount
    event = {"purchase": {"time": "2025-01-01T10:00", "order": "o", "lines": [{"item": "x", "amount": value}]}}
    for apply in (prog.apply, lambda s, e: apply_general(prog, s, e)):
        with pytest.raises(EventError) as err:
            apply(prog.new_member("m"), event)
        assert err.value.field == "lines.0.amount" and reason in str(err.value), str(err.value)


def test_the_api_takes_the_largest_amount_and_trailing_zeros():
    prog = loyalty.load(HEAD.format(runs="") + POINTS.format(expire="") + 'rule "p" {\n  earn 1 point per 1 NOK\n}\n')
    for amount, points in (("92233720368547758.07", 92233720368547758), ("35.0000000000000000000000000000000", 35)):
        state, _ = prog.apply(prog.new_member("m"), {"purchase": {"time": "2025-01-01T10:00", "order": "o",
                                                                  "lines": [{"item": "x", "amount": amount}]}})
        assert state.balance() == points
