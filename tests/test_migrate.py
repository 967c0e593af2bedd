"""Carrying members' states to a new version of a program (`Program.migrate`, `loyalty migrate-check`;
docs/embedding.md, "Changing a live program").

The invariants the docs promise, as properties over generated histories: replay part 1 under v1, migrate,
replay part 2 under v2, and (1) the migration creates no points and destroys none except those its report
names, (2) the migrated state is one v2 runs (it round-trips through JSON and keeps the point ledger's
invariant after every later event), (3) a migration to the identical program changes nothing, and replaying
part 2 after it equals replaying the whole history."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.cli import cli
from loyalty.runtime.events import EventError

from event_strategies import MemberHistory, member_histories

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "examples" / "programs"

# v2 of example programs: (program, [(old text, new text), ...]); each edit must apply
VARIANTS = {
    "coffee_stars": [('"gold from" = 500 stars', '"gold from" = 400 stars'),
                     ('rule "welcome stars"', 'rule "welcome gift"'),
                     ('rule "coffee bonus" {', 'rule "coffee bonus" {\n  at most 300 stars per member per month')],
    "car_wash": [('"punch every" = 6th', '"punch every" = 5th')],
    "grocery_club": [("after every 1000 NOK spent", "after every 500 NOK spent"),
                     ("at most 5 times per member per year", "at most 3 times per member per year"),
                     ('rule "download the app"', 'rule "get the app"')],
    "gym": [('tier "devotee" from 150', 'tier "devotee" from 120'), ("after every 20 visits", "after every 10 visits")],
    "beauty_points": [("expire after 12 months without a purchase", "expire 24 months after earning"),
                      ('tier "gold"', 'tier "rose gold"')],
    "bookstore": [("round half up per line", "round down per order")],
}


def _text(name: str) -> str:
    return (PROGRAMS / f"{name}.loyalty").read_text(encoding="utf-8")


def _v2_text(name: str) -> str:
    text = _text(name)
    for old, new in VARIANTS[name]:
        assert old in text, (name, old)
        text = text.replace(old, new)
    return text


@lru_cache(maxsize=None)
def v1(name: str) -> loyalty.Program:
    return loyalty.load(PROGRAMS / f"{name}.loyalty")


@lru_cache(maxsize=None)
def v2(name: str) -> loyalty.Program:
    return loyalty.compile_source(_v2_text(name), f"{name}-v2.loyalty")


def _replay(p, state, events, ledger):
    effects = []
    for ev in events:
        try:
            state, out = p.apply(state, ev, ledger)
        except EventError:
            continue
        effects += out
        _check_ledger(p, state)
    return state, effects


def _check_ledger(p, state) -> None:
    for k in p.compiled.kinds:
        tot = state.totals(k.name)
        assert state.balance(k.name) + state.pending(k.name) == (
            tot["earned"] + tot.get("adjusted", 0) - tot["redeemed"] - tot["expired"] - tot["clawed_back"])


def _held(p, state) -> dict:
    return {k.name: state.balance(k.name) + state.pending(k.name) for k in p.compiled.kinds}


@st.composite
def split_history(draw, programs):
    name = draw(st.sampled_from(sorted(programs)))
    history = draw(member_histories(v1(name), max_events=14))
    cut = draw(st.integers(0, len(history.events)))
    return name, history, cut


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(split_history(VARIANTS))
def test_part1_under_v1_migrate_part2_under_v2(case):
    name, history, cut = case
    old, new = v1(name), v2(name)
    ledger1, ledger2 = old.new_budget_ledger(), new.new_budget_ledger()
    state = old.new_member(history.member, history.attributes)
    state, _ = _replay(old, state, history.events[:cut], ledger1)
    before = _held(old, state)
    migrated, report = new.migrate(state, from_program=old)
    # no point created or destroyed: every kind of these variants survives, so balance + pending carry exactly
    assert _held(new, migrated) == before
    assert report.points_created == 0 and report.points_destroyed == 0
    assert {k: v["after"] for k, v in report.points.items()} == before
    _check_ledger(new, migrated)
    assert new.state_from_json(migrated.to_json()) == migrated  # a state v2 can save and load
    assert migrated.rewards == {k: v for k, v in state.rewards.items() if k in new.compiled.rewards}
    if state.tier is not None and state.tier in (new.compiled.tiers.names if new.compiled.tiers else {}):
        # a migration never lowers a tier that the new program still has
        names = list(new.compiled.tiers.names)
        assert names.index(migrated.tier) >= names.index(state.tier)
    after, _ = _replay(new, migrated, history.events[cut:], ledger2)  # v2 runs it; the ledger holds throughout
    assert new.state_from_json(after.to_json()) == after


def _purchase(time: str, order: str, amounts: list[str], code: bool = True) -> dict:
    lines = [{"item": "eau de parfum", "quantity": 1, "amount": a} for a in amounts]
    event = {"time": time, "order": order, "lines": lines, "store": "elsewhere", "channel": "app"}
    return {"purchase": dict(event, codes=["NOSUCHCODE"]) if code else event}


# Found by this property: a beauty_points member whose grace period has ended by the cut. The state keeps the
# tier the grace aimed at (`grace_target`); migrating to the same program dropped it.
_GRACE_ENDED = MemberHistory(member="m1", attributes={"birthday": "1990-01-01"}, events=[
    _purchase("2026-12-31T23:59:00", "o0", ["0.00"]), _purchase("2026-12-31T23:59:00", "o1", ["0.00"]),
    _purchase("2026-12-31T23:59:00", "o2", ["805.00"], code=False), {"tick": {"time": "2026-12-31T23:59:00"}},
    _purchase("2026-12-31T23:59:00", "o4", ["0.00"]),
    {"return": {"time": "2026-12-31T23:59:00", "order": "o0", "id": "r5"}},
    _purchase("2027-01-01T00:00:00", "o6", ["256.00", "0.00", "22.00"]),
    _purchase("2027-01-01T00:00:00", "o7", ["0.00"]),
    {"return": {"time": "2028-03-12T01:00:00", "order": "o0", "id": "r8"}},
    {"return": {"time": "2028-03-12T01:00:00", "order": "o0", "id": "r9"}},
    _purchase("2028-03-12T01:00:00", "o10", ["0.00"]), {"tick": {"time": "2028-03-12T01:00:00"}},
    _purchase("2028-03-12T01:00:00", "o12", ["0.00"])])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(split_history({p.stem: None for p in PROGRAMS.glob("*.loyalty")}))
@example(("beauty_points", _GRACE_ENDED, 9))
def test_migrating_to_the_same_program_changes_nothing_and_equals_a_full_replay(case):
    name, history, cut = case
    p = v1(name)
    same = loyalty.compile_source(_text(name), "elsewhere.loyalty")  # another object, the same program
    whole, whole_effects = _replay(p, p.new_member(history.member, history.attributes), history.events,
                                   p.new_budget_ledger())
    ledger = p.new_budget_ledger()
    state, effects = _replay(p, p.new_member(history.member, history.attributes), history.events[:cut], ledger)
    migrated, report = same.migrate(state, from_program=p)
    assert migrated.to_json() == state.to_json()
    assert not report.changed() and report.points_destroyed == 0
    state, rest = _replay(same, migrated, history.events[cut:], ledger)
    assert state.to_json() == whole.to_json()
    assert effects + rest == whole_effects


def _buy(p, state, order, item, quantity, amount, time):
    return p.apply(state, {"purchase": {"time": time, "order": order,
                                        "lines": [{"item": item, "quantity": quantity, "amount": amount}]}})[0]


def test_a_currency_change_is_refused_with_a_typed_error():
    old = v1("coffee_stars")
    new = loyalty.compile_source(_text("coffee_stars").replace("currency USD", "currency EUR").replace(" USD", " EUR"))
    state = _buy(old, old.new_member("m1"), "o1", "latte", 1, "4.50", "2025-03-01T09:00")
    with pytest.raises(loyalty.MigrationError, match="currency changes .USD with 2 decimals -> EUR"):
        new.migrate(state, from_program=old)


def test_a_time_zone_change_is_refused():
    old = v1("coffee_stars")
    new = loyalty.compile_source(_text("coffee_stars").replace("America/New_York", "America/Chicago"))
    with pytest.raises(loyalty.MigrationError, match="time zone changes"):
        new.migrate(old.new_member("m1"), from_program=old)


def test_a_state_of_another_program_is_refused():
    with pytest.raises(loyalty.StateMismatchError):
        v2("car_wash").migrate(v1("coffee_stars").new_member("m1"), from_program=v1("car_wash"))


def test_points_of_a_removed_kind_are_refused_unless_allowed_and_then_named():
    text = _text("coffee_stars")
    old = loyalty.compile_source(text.replace('rule "welcome stars" {\n  earn 50 stars',
                                              'points "miles" {\n}\n\nrule "welcome stars" {\n  earn 50 miles'))
    state = old.apply(old.new_member("m1"), {"signup": {"time": "2025-03-01T09:00"}})[0]
    state = _buy(old, state, "o1", "latte", 2, "9.00", "2025-03-01T10:00")
    assert state.balance("miles") == 50
    new = v1("coffee_stars")
    with pytest.raises(loyalty.MigrationError, match="would lose 50 miles"):
        new.migrate(state, from_program=old)
    migrated, report = new.migrate(state, from_program=old, allow_loss=True)
    assert report.points["miles"] == {"before": 50, "after": 0, "destroyed": 50, "debt_forgiven": 0}
    assert report.points["stars"]["after"] == report.points["stars"]["before"] == state.pending("stars")
    assert migrated.pending("stars") == state.pending("stars")
    assert ("point kind", "miles", "dropped", "not in the new program: 50 points destroyed") in report.items


def test_a_punch_card_with_a_new_cycle_keeps_progress_up_to_the_first_free_unit():
    old, new = v1("car_wash"), v2("car_wash")  # every 6th -> every 5th
    state = _buy(old, old.new_member("m1"), "o1", "basic wash", 4, "240", "2025-03-01T10:00")
    assert state.punches == {"every 6th wash is free": 4}
    migrated, report = new.migrate(state, from_program=old)
    assert migrated.punches == {"every 6th wash is free": 4}
    assert ("punch card", "every 6th wash is free", "re-evaluated",
            "4 of 6 -> 4 of 5 (the card changed)") in report.items
    # the next wash is the 5th of the new card: free
    _, effects = new.apply(migrated, {"purchase": {"time": "2025-03-02T10:00", "order": "o2",
                                                   "lines": [{"item": "basic wash", "quantity": 1, "amount": "60"}]}})
    assert [e.kind for e in effects if e.kind == "discount_applied"] == ["discount_applied"]
    # the same card carries its count exactly
    same, rep = old.migrate(state, from_program=old)
    assert same == state and not rep.changed()


def test_a_renamed_tier_is_re_evaluated_by_the_metric_and_caps_carry_by_scope():
    old = v1("grocery_club")
    new = v2("grocery_club")  # every 1000 -> every 500 NOK, review cap 5 -> 3 a year, app rule renamed
    state = old.new_member("m1")
    state = _buy(old, state, "o1", "bananas", 1, "1200", "2025-03-01T10:00")
    for i in range(2):
        state = old.apply(state, {"action": {"id": f"a{i}", "time": f"2025-03-0{2 + i}T10:00",
                                             "name": "product review"}})[0]
    state = old.apply(state, {"action": {"id": "app", "time": "2025-03-05T10:00", "name": "app download"}})[0]
    migrated, report = new.migrate(state, from_program=old)
    outcomes = {(part, name): (outcome, detail) for part, name, outcome, detail in report.items}
    assert outcomes[("cap", "rule:write a review")][0] == "carried"
    assert outcomes[("cap", "rule:download the app")][0] == "dropped"
    assert outcomes[("goal counter", "bonus per 1000 NOK")] == (
        "re-evaluated", "fired 1 times -> 2 (the multiples of the new amount already reached)")
    # no firing for spend made before the change: 1,450 NOK reaches no new multiple of 500, 1,550 one
    bonus = []
    s = migrated
    for order, amount in (("o2", "250"), ("o3", "100")):
        s, effects = new.apply(s, {"purchase": {"time": "2025-03-06T10:00", "order": order,
                                                "lines": [{"item": "bananas", "quantity": 1, "amount": amount}]}})
        bonus.append(sum(e.points for e in effects if e.rule == "bonus per 1000 NOK"))
    assert bonus == [0, 50]
    # the carried review cap: 2 used of the new 3, so one more review earns and the next is capped
    s = migrated
    earned = []
    for i in range(2):
        s, out = new.apply(s, {"action": {"id": f"b{i}", "time": f"2025-04-0{1 + i}T10:00", "name": "product review"}})
        earned.append(sum(e.points or 0 for e in out if e.kind == "points_earned"))
    assert earned == [20, 0]


def test_a_tier_raised_by_new_thresholds_is_reported():
    old, new = v1("coffee_stars"), v2("coffee_stars")  # gold from 500 -> 400 stars
    state = _buy(old, old.new_member("m1"), "o1", "latte", 30, "225.00", "2025-03-01T10:00")  # 450 stars
    assert state.tier == "green"
    migrated, report = new.migrate(state, from_program=old)
    assert migrated.tier == "gold"
    assert ("tier", "green", "re-evaluated",
            "green -> gold: the metric (450) qualifies for it under the new tier rules") in report.items


def test_a_saved_state_migrates_from_its_json():
    old, new = v1("coffee_stars"), v2("coffee_stars")
    state = _buy(old, old.new_member("m1"), "o1", "latte", 2, "9.00", "2025-03-01T10:00")
    migrated, _ = new.migrate(state.to_json(), from_program=old)
    assert migrated.pending("stars") == state.pending("stars") == 18
    assert json.loads(migrated.to_json())["program"] == new.identity


# ---------------------------------------------------------------- the command


def _write_v2(tmp_path, name: str) -> str:
    path = tmp_path / f"{name}-v2.loyalty"
    path.write_text(_v2_text(name), encoding="utf-8")
    return str(path)


def test_migrate_check_with_a_history_gives_totals_in_json(tmp_path):
    new = _write_v2(tmp_path, "coffee_stars")
    result = CliRunner().invoke(cli, ["migrate-check", str(PROGRAMS / "coffee_stars.loyalty"), new,
                                       str(ROOT / "examples" / "histories" / "coffee_stars.csv"), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    totals = doc["totals"]
    assert totals["members"] == len(doc["members"]) == 20
    assert totals["points_created"] == totals["points_destroyed"] == 0
    assert totals["points"]["stars"]["before"] == totals["points"]["stars"]["after"] > 0
    assert totals["parts"]["point kind"]["carried"] == 20
    assert {"part": "rule", "name": "welcome gift", "change": "new"} in doc["changes"]
    assert {"part": "rule", "name": "welcome stars", "change": "gone"} in doc["changes"]


def test_migrate_check_text_and_refusal(tmp_path):
    new = _write_v2(tmp_path, "car_wash")
    result = CliRunner().invoke(cli, ["migrate-check", str(PROGRAMS / "car_wash.loyalty"), new,
                                       str(ROOT / "examples" / "histories" / "car_wash.csv")])
    assert result.exit_code == 0, result.output
    assert "punch card" in result.output and "points created by the migration: 0; destroyed: 0" in result.output
    other = tmp_path / "eur.loyalty"
    other.write_text(_text("car_wash").replace("currency NOK", "currency EUR").replace(" NOK", " EUR"),
                     encoding="utf-8")
    result = CliRunner().invoke(cli, ["migrate-check", str(PROGRAMS / "car_wash.loyalty"), str(other)])
    assert result.exit_code == 1
    assert "cannot be carried" in result.output and "currency changes" in result.output
    assert "Traceback" not in result.output


def test_a_migration_to_a_program_with_acceptance_windows_and_back_carries_everything():
    old = v1("coffee_stars")
    text = _text("coffee_stars").replace("  runs from 2025-01-01\n", "  runs from 2025-01-01\n"
                                         "  returns accepted within 90 days\n  late events accepted within 7 days\n")
    new = loyalty.compile_source(text)
    state = _buy(old, old.new_member("m1"), "o1", "latte", 2, "9.00", "2025-03-01T10:00")
    migrated, report = new.migrate(state, from_program=old)
    assert not report.changed()
    doc = json.loads(migrated.to_json())
    assert doc["format"] == "loyalty-state/2" and doc["seen"] == {"purchase:o1": "2025-03-01T10:00:00"}
    assert new.apply(migrated, {"return": {"id": "r", "time": "2025-03-02T10:00", "order": "o1"}})[0].pending("stars") == 0
    back, _ = old.migrate(migrated, from_program=new)
    assert back == state
    changes = program_changes_of(old, new)
    assert {"part": "window", "name": "late events", "change": "new"} in changes


def program_changes_of(old, new):
    from loyalty.runtime.migrate import program_changes

    return program_changes(old.compiled, new.compiled)


def test_a_card_with_punches_only_from_an_adjustment_migrates_to_the_same_program_unchanged():
    """An opening balance of punches gives a card punches and no `fired` entry (no free unit given yet);
    migrating to the same program carries the card as it is and adds no entry (found by hypothesis: the
    migration wrote `"fired": {"0": 0}`, a state that differed from the one it was given)."""
    p = v1("bakery")
    same = loyalty.compile_source(_text("bakery"), "elsewhere.loyalty")
    state = p.new_member("m1", {"birthday": "1990-01-01"})
    state, _ = p.apply(state, {"adjustment": {"time": "2025-01-01T00:00:00", "id": "j1", "reason": "opening balance",
                                              "rule": "the 10th bun is free", "punches": 1, "set": False}})
    assert json.loads(state.to_json())["punches"] == {"0": 1} and json.loads(state.to_json())["fired"] == {}
    migrated, report = same.migrate(state, from_program=p)
    assert migrated.to_json() == state.to_json()
    assert not report.changed()
