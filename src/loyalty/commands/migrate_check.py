"""`loyalty migrate-check`: what carrying members' states from one version of a program to another would
carry, re-evaluate and drop (docs/embedding.md, "Changing a live program")."""

from __future__ import annotations

import json

import click

from loyalty.commands._common import fail, prefer_system_allocator
from loyalty.commands.simulate import handle_input_errors, reading_options

MEMBERS_SHOWN = 10  # in text, the members whose state was not simply carried; --format json lists every member


@click.command(
    "migrate-check",
    epilog="""\b
Examples:
  loyalty migrate-check old.loyalty new.loyalty
  loyalty migrate-check old.loyalty new.loyalty history.csv
  loyalty migrate-check old.loyalty new.loyalty history.csv --format json > migration.json

Exit codes: 0 the states can be carried (the report says what is re-evaluated or dropped),
1 they cannot (another currency or time zone), or a program or the history is wrong, 2 usage error.""",
)
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False), required=False)
@reading_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: for the terminal; json: one document, with every member's report.")
@handle_input_errors
def command(old, new, history, scenario_path, attributes_path, columns, time_format, delimiter, on_bad_row, fmt):
    """Check that members' states saved under OLD can be carried to NEW, and say per point kind, rule, tier,
    reward and cap what is kept, changed or gone. With HISTORY, replay it under OLD, migrate every member at
    the history's end and add up what was carried, re-evaluated and dropped, and the points created or
    destroyed (zero unless a point kind is gone, and then named)."""
    from loyalty.runtime.migrate import MigrationError, program_changes
    from loyalty.simulate.run import load_program

    old_prog, new_prog = load_program(old), load_program(new)
    try:
        changes = program_changes(old_prog, new_prog)
    except MigrationError as err:
        fail(f"the states of {old} cannot be carried to {new}: {err.reason}")
    doc: dict = {"format": "loyalty-migration-check/1",
                 "old": {"program": old_prog.name, "file": old, "identity": old_prog.identity},
                 "new": {"program": new_prog.name, "file": new, "identity": new_prog.identity},
                 "changes": changes}
    reports = []
    if history is not None:
        from loyalty.commands.explain import budget_ledger
        from loyalty.simulate.migration import replay_and_migrate
        from loyalty.simulate.run import plan_for, read_inputs

        prefer_system_allocator()
        inputs = read_inputs(old_prog, history, scenario_path, columns, time_format, delimiter, on_bad_row)
        plan = plan_for(old_prog, old, inputs, attributes_path, member_rows=False)
        try:
            totals, reports, rejected = replay_and_migrate(plan, inputs.history, new_prog,
                                                           budget_ledger(plan, inputs.history))
        except MigrationError as err:
            fail(str(err), "this is a bug in loyalty's migration: please report it")
        doc["history"] = {"file": history, "migrated_at": plan.end.isoformat(), "events_rejected": rejected}
        doc["totals"] = totals.to_json()
        doc["members"] = [r.to_json() for r in reports]
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
        return
    _print_text(doc, reports)


def _print_text(doc: dict, reports) -> None:
    from loyalty.terminal import visible

    def line(text: str = "") -> None:
        click.echo(visible(text))

    line(f"{doc['old']['program']} ({doc['old']['file']}) -> {doc['new']['program']} ({doc['new']['file']})")
    if doc["old"]["identity"] == doc["new"]["identity"]:
        line("the programs are the same: every state is carried unchanged")
    line()
    line("what the new version keeps, by name:")
    for c in doc["changes"]:
        line(f"  {c['part']:<11} {c['name']:<34} {c['change']}")
    if "totals" not in doc:
        return
    t, h = doc["totals"], doc["history"]
    line()
    line(f"history {h['file']}: {t['members']} members replayed under the old program and migrated at "
         f"{h['migrated_at'].replace('T', ' ')} ({h['events_rejected']} events rejected by the old program)")
    line()
    line(f"  {'part of the state':<21}{'carried':>9}{'re-evaluated':>14}{'dropped':>9}")
    for part, c in t["parts"].items():
        if any(c.values()):
            line(f"  {part:<21}{c['carried']:>9}{c['re_evaluated']:>14}{c['dropped']:>9}")
    if t["points"]:
        line()
        line(f"  {'points':<21}{'before':>9}{'after':>14}{'destroyed':>11}{'debt forgiven':>15}")
    for kind, p in t["points"].items():
        line(f"  {kind:<21}{p['before']:>9}{p['after']:>14}{p['destroyed']:>11}{p['debt_forgiven']:>15}")
    destroyed = [f"{p['destroyed']} {k} (the point kind is gone)" for k, p in t["points"].items() if p["destroyed"]]
    line()
    line(f"points created by the migration: {t['points_created']}; destroyed: {t['points_destroyed']}"
         + (": " + ", ".join(destroyed) if destroyed else ""))
    changed = [r for r in reports if r.changed()]
    line(f"members whose state was not simply carried: {len(changed)} of {t['members']}")
    for r in changed[:MEMBERS_SHOWN]:
        line(f"  {r.member_id}:")
        for part, name, outcome, detail in r.items:
            if outcome != "carried":
                line(f"    {outcome} {part} {name}" + (f": {detail}" if detail else ""))
    if len(changed) > MEMBERS_SHOWN:
        line(f"  ... and {len(changed) - MEMBERS_SHOWN} more (--format json lists every member's report)")
