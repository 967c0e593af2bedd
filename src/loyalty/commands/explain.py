"""`loyalty explain`: one member's timeline, each event and the effects it produced, with the rule and line."""

from __future__ import annotations

import json

import click

from loyalty.commands._common import fail, prefer_system_allocator, stdout_console
from loyalty.commands._params import set_option
from loyalty.commands.simulate import handle_input_errors, history_options, refuse_coverage_warnings


def budget_ledger(plan, history):
    """The ledger that grants this member's budget claims exactly as `loyalty simulate` does: program-wide
    budgets depend on every member's claims, so the history is replayed in the same passes as simulate's
    (simulate/budgets.py) to find where each budget runs out; then the member's claims are granted by those
    cutoffs. Without budgets nothing is limited."""
    from loyalty.runtime.ledger import UnlimitedLedger

    if not plan.program.budgets:
        return UnlimitedLedger()
    from loyalty.simulate.budgets import CutoffLedger, solve_budgets
    from loyalty.simulate.engine import replay_members

    final: dict = {}

    def run_pass(known):
        final["known"] = known
        return replay_members(plan, history, history.member_slices(), lambda: CutoffLedger(known))

    solve_budgets(plan.program.budgets, run_pass)
    return CutoffLedger(final["known"])


def member_timeline(plan, history, member: str) -> list[dict]:
    """Each event of the member (in the order the evaluator saw it) with its effects."""
    from loyalty.simulate.engine import replay_member
    from loyalty.simulate.orders import EventBuilder
    from loyalty.simulate.referrals import with_referrals

    slices = [s for s in history.member_slices() if s[0] == member]
    if not slices:
        return []
    _, start, end = slices[0]
    steps: list[dict] = []
    prog = plan.program
    builder = EventBuilder(history, prog.catalog)
    events = with_referrals(builder.member(start, end), plan.referrals.get(member))
    readable = [builder.readable([g])[0] if g else None for g in events.groups]

    from loyalty.runtime.effects import minor_to_decimal
    from loyalty.runtime.mechanics.goals import progress, progress_words

    goals = plan.evaluation.goals
    shown: dict = {}  # goal rule -> the progress shown last: a step shows a goal's when it has changed

    def money(minor: int) -> str:
        return f"{minor_to_decimal(minor, prog.exponent)} {prog.currency}"

    def goal_progress(st, at) -> list[dict]:
        out = []
        for g in goals:
            p = progress(g, st, at)
            if shown.get(g.rule.index, {**p, "have": 0, "reached": False}) != p:  # nothing yet: not shown
                shown[g.rule.index] = p
                if g.counts == "spend":
                    p = {**p, "have": str(minor_to_decimal(p["have"], prog.exponent)),
                         "target": str(minor_to_decimal(p["target"], prog.exponent))}
                out.append({**p, "says": progress_words(g, shown[g.rule.index], money)})
        return out

    def on_event(i, ev, effects, error, st):
        if i < 0:  # the end of the history: points mature and expire, tiers are reviewed
            step = {"time": plan.end.isoformat(), "event": "tick", "row": None, "order": None, "amount": None,
                    "lines": []}
        elif readable[i] is None:  # an event of the referral pass (simulate/referrals.py): no row of the history
            # the other member of a referral, or the referrer's rule a new member's purchase qualified
            step = {"time": ev.time.isoformat(), "event": ev.type, "row": None, "order": None, "amount": None,
                    "lines": [], "name": ev.name}
        else:
            event = readable[i]
            step = {"time": event.time.isoformat(), "event": event.kind, "row": event.row or None,
                    "order": event.order_id, "amount": str(event.total) if event.lines else None,
                    "lines": [{"item": ln.item, "quantity": ln.quantity} for ln in event.lines]}
            if event.kind in ("referral", "fee") and event.name:  # the member referred; the paid tier
                step["name"] = event.name
        steps.append({**step, "error": error,
                      "effects": [{**e.to_json(prog.exponent), "says": e.explain(prog.exponent, prog.currency)}
                                  for e in effects],
                      # goals and streaks whose progress this step changed (mechanics/goals.py)
                      **({"goals": goal_progress(st, st.clock)} if goals and st.clock is not None else {})})

    replay_member(plan, member, events, budget_ledger(plan, history), on_event=on_event)
    for s in steps:
        if s["amount"] is not None:
            s["amount"] = str(minor_to_decimal(int(s["amount"]), prog.exponent))
    return steps


@click.command(
    "explain",
    epilog="""\b
Examples:
  loyalty explain examples/programs/car_wash.loyalty examples/histories/car_wash.csv --member M03
  loyalty explain program.loyalty history.csv --member 4711 --format json

Exit codes: 0 success, 1 the program or the history is wrong (the message names the file,
line and column), 2 usage error.""",
)
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False))
@click.option("--member", required=True, help="The member id, as in the history.")
@history_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: tables for the terminal; json: one document for notebooks and scripts.")
@set_option
@handle_input_errors
def command(program, history, member, scenario_path, attributes_path, columns, time_format, delimiter, on_bad_row,
            strict, fmt, settings=()):
    """Replay one member of HISTORY through PROGRAM and show each event and every effect it
    produced, with the rule and the source line behind it."""
    from loyalty.simulate.run import load_program, plan_for, read_inputs

    prog = load_program(program, settings)
    prefer_system_allocator()
    from loyalty.progress import reading

    with reading(history):  # a bar of the bytes read, on a terminal (docs/cli.md)
        inputs = read_inputs(prog, history, scenario_path, columns, time_format, delimiter, on_bad_row)
    plan = plan_for(prog, program, inputs, attributes_path)
    steps = member_timeline(plan, inputs.history, member)
    if not steps:
        members = sorted(set(inputs.history.member))
        sample = ", ".join(members[:5]) + (", ..." if len(members) > 5 else "")
        fail(f"member {member!r} is not in {history}", f"members in the history: {sample}")
    from loyalty.simulate.coverage import count_rows, coverage_report
    from loyalty.simulate.result import SimResult

    # what the history alone shows (one member is replayed, so rules are judged by the rows, not by a run)
    coverage = coverage_report(count_rows(inputs.history, SimResult()), prog, plan.attributes, ran=False)
    refuse_coverage_warnings(coverage, strict)
    if fmt == "json":
        from loyalty.versioning import version_tag

        click.echo(json.dumps({**version_tag("loyalty-explanation/1"), "member": member, "program": prog.name,
                               "timeline": steps, "coverage": coverage}, indent=2, sort_keys=True,
                              ensure_ascii=False))
        return
    from loyalty.terminal import plain

    # the member id, items, order ids and every name come from the user's files: each line is a Text
    # (loyalty.terminal.plain), never read as rich markup, its control characters escaped
    console = stdout_console()
    cur = prog.currency
    console.print(plain((member, "bold"), " under ", (prog.name, "bold"), f" ({program})"))
    for s in steps:
        what = s["event"]
        if s["lines"]:
            what += " " + ", ".join(f"{ln['quantity']} x {ln['item']}" for ln in s["lines"] if ln["item"])
        if s["amount"] is not None:
            what += f" ({s['amount']} {cur})"
        if s["order"]:
            what += f" order {s['order']}"
        if s.get("name") is not None:  # a referral's other member, or the rule a referral qualified
            what += {"referral": " of ", "referred": " by ", "referral_qualified": " for rule ",
                     "fee": " for tier "}[s["event"]] + s["name"]
        where = ("  ", (f"line {s['row']}", "dim")) if s["row"] else ()
        console.print(plain(f"{s['time'].replace('T', ' ')}  {what}", *where), highlight=False)
        if s["error"]:
            console.print(plain("    ", (f"not applied: {s['error']}", "yellow")), highlight=False)
        for e in s["effects"]:
            # an effect of time passing (a lapse, an expiry) happened at its own moment, before this event's
            at = f" (at {e['time'].replace('T', ' ')})" if e.get("time") and e["time"] != s["time"] else ""
            console.print(plain(f"    - {e['says']}{at}"), highlight=False)
        for g in s.get("goals", ()):
            console.print(plain("    ", (f"progress: {g['says']}", "dim")), highlight=False)
    from loyalty.simulate.coverage import render_coverage

    render_coverage(coverage, console, notes=False)
