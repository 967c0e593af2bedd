"""Replay members through the evaluator and collect a mergeable result.

`replay_members(plan, history, slices)` is the unit of work: some members' rows in,
a `SimResult` out. It reads nothing global and mutates nothing shared, so a
later engine can run it per process or per Dask partition and `merge` the parts.
`simulate` runs it over every member, twice when the program has budgets: a first
pass records every budget claim, the merged claims say when each budget ran out
(in the order a live service would have seen them), and the second pass replays
with that knowledge, which equals one sequential run over all members.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterator, Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.evaluator import new_member
from loyalty.runtime.mechanics.enrolment import member_from
from loyalty.runtime.mechanics.redeem import simulated_redemptions
from loyalty.runtime.plan import Plan as EvaluationPlan, plan_of
from loyalty.runtime.internal import Ev, EventError
from loyalty.runtime.ledger import UnlimitedLedger
from loyalty.runtime.program import CompiledProgram
from loyalty.runtime.state import MemberState
from loyalty.simulate.accumulate import MemberAccumulator, month_of
from loyalty.simulate.result import Number
from loyalty.simulate.history import History, MemberAttributes
from loyalty.simulate.orders import EventBuilder, MemberEvents
from loyalty.simulate.referrals import with_referrals
from loyalty.simulate.report import ProgramInfo, months_between
from loyalty.simulate.result import SimResult, exact, merge_all
from loyalty.simulate.errors import InputError
from loyalty.simulate.scenario import Scenario, enrols_by_assumption, member_joins, member_redeems



class SimulationError(InputError):
    """Inputs that cannot be simulated together (e.g. a kernel the program does not allow)."""


@dataclass(frozen=True)
class Plan:
    """Everything a member's replay needs, decided once before any member runs."""

    program: CompiledProgram
    info: ProgramInfo
    scenario: Scenario
    end: _dt.datetime  # the history's last moment: every member's clock is advanced to it
    months: tuple[str, ...]
    # what simulated members redeem for, in point-kind order (empty: nobody redeems)
    redeem_rewards: tuple[str, ...]
    attributes: dict[str, MemberAttributes] = field(default_factory=dict)
    draw_periods: dict[str, str] = field(default_factory=dict)
    draw_winners: dict[str, int] = field(default_factory=dict)
    # reward -> its cost in minor units where the scenario sets it (overriding the evaluator's)
    reward_costs: dict[str, Number] = field(default_factory=dict)
    # reward -> {"cost": text in the currency, "from": where that cost comes from}, for the assumptions
    reward_costs_used: dict[str, dict[str, str]] = field(default_factory=dict)
    # a row per member in the result (by_member.csv, compare); the report alone does not read them, and at a
    # million rows building them is a few per cent of a vectorised run
    member_rows: bool = True
    # member -> the events the referral pass adds to her replay (simulate/referrals.py); found once from the
    # whole history, so every part of a split run sees the same
    referrals: dict = field(default_factory=dict)
    # the program's specialised evaluation (runtime/plan.py, what `program.apply` runs; tested equal to
    # `evaluator.apply_event`): built once per program, here and in every worker that rebuilds the plan
    evaluation: EvaluationPlan = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "evaluation", plan_of(self.program))  # frozen: set once, here


@dataclass(frozen=True)
class RewardSource:
    """What the compiled program does not keep about a reward, for scenario costs."""

    declared_cost: bool  # the reward says `costing ...`
    items: tuple[str, ...] = ()  # a free item reward naming items: its default cost is the dearest one's unit cost


def reward_costs(prog: CompiledProgram, scenario: Scenario, sources: dict[str, RewardSource]
                 ) -> tuple[dict[str, Number], dict[str, dict[str, str]]]:
    """Each reward's cost under the scenario, and where it comes from. In order: the scenario's
    `reward_costs`; the reward's own `costing`; for a free item reward, the dearest of its items'
    unit costs, each from the scenario's `item_costs` else the catalog; else the program's default."""
    catalog_costs = {name: v.get("cost_minor") for name, v in prog.doc.get("items", {}).items()}
    for name in sorted(scenario.reward_costs):
        if name not in prog.rewards:
            raise SimulationError(f"the scenario's reward_costs names {name!r}, which is not a reward of this program",
                                  hint="rewards: " + (", ".join(sorted(prog.rewards)) or "(none)"))
    for name in sorted(scenario.item_costs):
        if name not in catalog_costs:
            raise SimulationError(f"the scenario's item_costs names {name!r}, which is not in the program's catalog",
                                  hint="items: " + (", ".join(sorted(catalog_costs)) or "(none)"))
    overrides: dict[str, Number] = {}
    used: dict[str, dict[str, str]] = {}

    def minor(value: Decimal) -> Number:
        scaled = value.scaleb(prog.exponent)
        return int(scaled) if scaled == scaled.to_integral_value() else scaled

    def text(value: Number) -> str:
        return format(Decimal(value).scaleb(-prog.exponent), "f")

    for name, reward in sorted(prog.rewards.items()):
        source = sources.get(name)
        cost: Number = reward.cost
        origin = "program"
        if name in scenario.reward_costs:
            cost, origin = minor(scenario.reward_costs[name]), "scenario reward_costs"
        elif source and not source.declared_cost and source.items and any(i in scenario.item_costs for i in source.items):
            unit = {i: (minor(scenario.item_costs[i]) if i in scenario.item_costs else catalog_costs.get(i))
                    for i in source.items}
            dearest = max((i for i in unit if unit[i] is not None), key=lambda i: (unit[i], i))
            cost = unit[dearest]
            origin = ("scenario item_costs" if dearest in scenario.item_costs else "catalog") + f" ({dearest})"
        if origin != "program":
            overrides[name] = cost
        used[name] = {"cost": text(cost), "from": origin}
    return overrides, used


@exact
def program_info(prog: CompiledProgram, file: str) -> ProgramInfo:
    doc = prog.doc
    draws = {}
    for d in doc.get("draws", ()):
        draws[d["name"]] = (int(d.get("prize_minor", 0)), int(d.get("winners", 1)), d.get("period", "month"))
    point_costs = {}
    for k in prog.kinds:
        if k.cost is not None:
            point_costs[k.name] = Decimal(k.cost[0]) / Decimal(k.cost[1])
    rule_lines = {r.name: r.line for r in prog.rules}
    for rd in prog.redeem.values():
        rule_lines.setdefault(f"redeem for {rd.reward}", rd.line)
    return ProgramInfo(
        name=prog.name, file=file, currency=prog.currency, exponent=prog.exponent, point_costs=point_costs,
        rewards={name: rw.kind for name, rw in prog.rewards.items()}, rule_lines=rule_lines,
        offers=tuple(sorted(name for name, rw in prog.rewards.items() if rw.is_offer)),
        tiers=tuple(t.name for t in prog.tiers.tiers) if prog.tiers else (), draws=draws,
        budgets={k: str(v) for k, v in prog.budgets.items()}, stores=dict(prog.stores), codes=dict(prog.codes),
        tier_fees={t.name: t.fee for t in prog.tiers.tiers if t.fee is not None} if prog.tiers else {},
    )


def with_scenario_costs(info: ProgramInfo, scenario: Scenario) -> ProgramInfo:
    """Scenario costs per point (in the currency) override the program's."""
    if not scenario.cost_per_point:
        return info
    costs = dict(info.point_costs)
    for kind, cost in scenario.cost_per_point.items():
        costs[kind] = cost.scaleb(info.exponent)
    return ProgramInfo(**{**info.__dict__, "point_costs": costs})


def choose_redeem_rewards(prog: CompiledProgram, scenario: Scenario) -> tuple[str, ...]:
    """The scenario's reward; by default each point kind's cheapest reward (in that kind's points: prices
    of different kinds are in different units, so the cheapest of all would leave the other kinds unspent)."""
    if scenario.redemption_policy == "none" or not prog.redeem:
        return ()
    if scenario.redemption_reward is not None:
        if scenario.redemption_reward not in prog.redeem:
            known = ", ".join(sorted(prog.redeem)) or "(none)"
            raise SimulationError(f"the scenario redeems for {scenario.redemption_reward!r}, which points cannot buy "
                                  f"in this program", hint=f"rewards that points can buy: {known}")
        return (scenario.redemption_reward,)
    cheapest: dict[int, tuple[int, str]] = {}  # kind -> (price, reward); ties: by name, for determinism
    for rd in prog.redeem.values():
        best = cheapest.get(rd.kind)
        if best is None or (rd.price, rd.reward) < best:
            cheapest[rd.kind] = (rd.price, rd.reward)
    return tuple(cheapest[k][1] for k in sorted(cheapest))


def reward_sources(prog: CompiledProgram) -> dict[str, RewardSource]:
    """From the compiled program: which rewards declare their cost, and the items a free item reward names."""
    return {name: RewardSource(r["cost_declared"], tuple(r.get("free_items", ())))
            for name, r in prog.doc["rewards"].items()}


def make_plan(prog: CompiledProgram, info: ProgramInfo, scenario: Scenario, history: History,
              attributes: Optional[dict[str, MemberAttributes]] = None, member_rows: bool = True) -> Plan:
    if len(history):
        first, last = history.time_range()
        months = tuple(months_between(first, last))
    else:
        last, months = _dt.datetime(1970, 1, 1), ()
    kinds = [k.name for k in prog.kinds]
    for kind in sorted(scenario.cost_per_point):  # a scenario file is checked when read (schemas.py); a Scenario
        if kind not in kinds:                       # made in code is checked here, so no phantom kind is reported
            raise SimulationError(f"the scenario's cost_per_point names {kind!r}, which is not a point kind of "
                                  f"this program", hint="point kinds: " + (", ".join(kinds) or "(none)"))
    overrides, used = reward_costs(prog, scenario, reward_sources(prog))
    return Plan(prog, with_scenario_costs(info, scenario), scenario, last, months,
                choose_redeem_rewards(prog, scenario), attributes or {},
                {name: d[2] for name, d in info.draws.items()}, {name: d[1] for name, d in info.draws.items()},
                overrides, used, member_rows, _referrals(prog, history))


def _referrals(prog: CompiledProgram, history) -> dict:
    """The referral pass (simulate/referrals.py) over the whole history; an engine that never holds the whole
    history (--grouped, Dask) cannot make it, and says so rather than simulate referrals wrongly."""
    from loyalty.simulate.referrals import referral_events, uses_referrals

    if not uses_referrals(prog):
        return {}
    if not isinstance(history, History):
        rule = next(r for r in prog.rules if r.trigger and r.trigger.startswith("referr"))
        raise SimulationError(f"rule {rule.name!r} is a two-sided referral: the referrer's reward depends on another "
                              "member's purchases, found in a pass over the whole history, which this engine never "
                              "holds", hint="simulate it without --grouped and --engine dask")
    return referral_events(prog, history)


# ------------------------------------------------------------------ one member


def _attributes(a: Optional[MemberAttributes]) -> dict:
    if a is None:
        return {}
    return {"birthday": a.birthday, "segments": a.segments, "home_store": a.home_store, "signup_date": a.signup_date}


OnEvent = Callable[[int, Optional[Ev], list[Effect], Optional[str], MemberState], None]


def replay_member(plan: Plan, member: str, events: MemberEvents, ledger, on_event: Optional[OnEvent] = None,
                  result: Optional[SimResult] = None, refused: Optional[list] = None) -> SimResult:
    """One member through the evaluator. `on_event(i, ev, effects, error, state)` sees each step (for explain):
    `i` is the index of the member's event, -1 for the scenario's end of history; `state` is the member's
    state after it (read it, never change it). `refused`: the first row of each history event the program
    refuses is appended to it (the customer measures leave refused returns out: measures.add_customer_cells)."""
    prog = plan.program
    apply_event = plan.evaluation.apply_event  # (state, event, ledger, effects out)
    result = result if result is not None else SimResult()
    acc = MemberAccumulator(member, result, plan.draw_periods, plan.reward_costs,
                            prog.stores if any(prog.stores.values()) else None)
    st = new_member(prog, member, _attributes(plan.attributes.get(member)))
    # (reward, price, point kind) of each reward the member redeems for, as soon as the balance allows
    redeems = [(r, prog.redeem[r].price, prog.redeem[r].kind) for r in plan.redeem_rewards] \
        if plan.redeem_rewards and member_redeems(plan.scenario, member) else ()
    evs, kinds, totals, stores, groups = events.evs, events.kinds, events.totals, events.stores, events.groups
    enrolment = _enrolment(plan, member, st, evs)
    if enrolment == NEVER_JOINS:  # the scenario's enrolment leaves her out: her orders are revenue, nothing else
        for i, ev in enumerate(evs):
            if groups[i]:
                if stores:  # by store as a member's orders are (the kernel's too)
                    acc.store = stores[i]
                acc.event(kinds[i], ev.time, totals[i])
                acc.not_counted(kinds[i], totals[i])
        acc.finish(list(plan.months), plan.draw_winners, plan.scenario.seed, plan.info.point_costs, plan.info.tiers,
                   plan.member_rows)
        result.count("non_members")
        return result
    if prog.tiers and st.tier >= 0 and evs:
        acc.start_tier(prog.tiers.tiers[st.tier].name, evs[0].time)
    for i, ev in enumerate(evs):
        out: list[Effect] = []
        if stores:
            acc.store = stores[i]
        try:
            apply_event(st, ev, ledger, out)
        except EventError as err:
            # e.g. a return of an order bought before the history starts: counted and reported, never hidden
            result.add("rejected", _rejection_reason(kinds[i], ev, err), "events")
            if refused is not None and groups[i]:
                refused.append(groups[i][0])
            acc.effects(out)
            if on_event:
                on_event(i, ev, out, str(err), st)
            continue
        counted = enrolment is None or not out or out[0].kind != "not_counted"
        if groups[i]:  # an event of the history (the referral pass's own events have no rows)
            acc.event(kinds[i], ev.time, totals[i])
            if not counted:
                acc.not_counted(kinds[i], totals[i])
        # a simulated member redeems after an event that counts: one that does not (before she joins) changed
        # nothing and moved her clock nowhere, so her balance still holds points whose expiry her next counted
        # event will find (the kernel's `vector_redeemers` reads the same rule)
        for reward, price, kind_index in (redeems if counted else ()):
            for _ in range(simulated_redemptions(st.kinds[kind_index].available, price)):
                apply_event(st, Ev("redemption", None, ev.time, reward=reward), ledger, out)
                acc.simulated_redemption()
        acc.effects(out)
        if on_event:
            on_event(i, ev, out, None, st)
    # bring the member's clock to the end of the history: points mature and expire, tiers are reviewed
    acc.store = ""  # in no store
    out = []
    apply_event(st, Ev("tick", None, plan.end), ledger, out)
    acc.effects(out)
    if on_event and out:
        on_event(-1, None, out, None, st)
    acc.finish(list(plan.months), plan.draw_winners, plan.scenario.seed, plan.info.point_costs, plan.info.tiers,
               plan.member_rows)
    if enrolment is not None:
        result.count("enrolled_members" if prog.enrolment is None or member_from(st) is not None else "non_members")
    return result


NEVER_JOINS = "never joins"


def _enrolment(plan: Plan, member: str, st: MemberState, evs) -> Optional[str]:
    """Who is a member in this run (runtime/mechanics/enrolment.py; docs/simulate.md, "Enrolment"). None: the
    program has no `members join at signup` and the scenario no enrolment, so everyone is, as always.
    Under the scenario's enrolment a customer it chooses is a member from her first event, the others are
    NEVER_JOINS. Else the history's signups decide: the simulator knows her first signup row before her
    first event, so the purchases inside the pre-signup window count (as a till sending them again at
    signup would have them count)."""
    prog = plan.program
    if enrols_by_assumption(plan.scenario):
        a = plan.attributes.get(member)
        if not member_joins(plan.scenario, member, dict(a.others) if a is not None else None):
            return NEVER_JOINS
        if prog.enrolment is not None and evs:
            st.enrolled = evs[0].time
        return "by assumption"
    if prog.enrolment is None:
        return None
    st.enrolled = next((ev.time for ev in evs if ev.type == "signup"), None)
    return "from the history"


def _rejection_reason(kind: str, ev: Ev, err: EventError) -> str:
    if err.field == "time" and "accepts late events within" in str(err):
        return f"{kind} later than the late-events window"
    if kind == "return" and err.field == "order":
        if ev.order is None:
            return "return without an order id"
        if "within the return window" in str(err):
            return "return outside the return window"
        if "no purchase" in str(err):
            return "return of an order not in the history"
    return f"{kind} rejected by the program: {err.field or 'event'}"


# ------------------------------------------------------------------ many members


def replay_members(plan: Plan, history: History, slices: list[tuple[str, int, int]], ledger_factory=UnlimitedLedger,
                   progress: Optional[Callable[[int], None]] = None, refused: Optional[list] = None) -> SimResult:
    """Some members (disjoint from any other call's) into one partial result. `refused`: as `replay_member`'s,
    rows of `history`."""
    result = SimResult()
    builder = EventBuilder(history, plan.program.catalog)
    referrals = plan.referrals
    with _no_cyclic_gc():
        for member, start, end in slices:
            ledger = ledger_factory()
            events = builder.member(start, end)
            if referrals:
                events = with_referrals(events, referrals.get(member))
            replay_member(plan, member, events, ledger, result=result, refused=refused)
            claims = getattr(ledger, "claims", None)  # a pass that records budget claims (simulate/budgets.py)
            if claims:
                result.claims.extend(claims)
            if progress:
                progress(end - start)
    result.claims.sort()
    return result


@contextlib.contextmanager
def _no_cyclic_gc():
    """Python's cyclic garbage collector off while members replay. A member's state keeps every order it
    has seen, so a member with many events holds many live objects, and the collector's passes over them
    made her events several times slower (measured: 56-72 -> 20-25 µs an event for members of 40,000 to
    155,000 events; docs/performance.md). A replay makes no reference cycles that matter: what it frees,
    reference counting frees. The collector's state is restored, and it runs once, when the members are done."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            gc.collect(1)


def simulate(plan: Plan, history: History, progress: Optional[Callable[[int], None]] = None,
             chunks: int = 1) -> SimResult:
    """Every member, in `chunks` groups merged; budgets solved by passes (simulate/budgets.py)."""
    from loyalty.simulate.budgets import CutoffLedger, solve_budgets

    from loyalty.simulate.measures import add_customer_cells

    parts = _split(history.member_slices(), chunks)
    refused: list[int] = []  # the rows of the events the (last) pass refused
    if not plan.program.budgets:
        result = merge_all([replay_members(plan, history, part, UnlimitedLedger, progress, refused)
                            for part in parts])
    else:
        def run_pass(known):
            refused.clear()  # (the last pass is the result: solve_budgets)
            return merge_all([replay_members(plan, history, part, lambda: CutoffLedger(known), progress, refused)
                              for part in parts])

        result = solve_budgets(plan.program.budgets, run_pass)
    add_customer_cells(result, history, plan, refused=refused)  # the customers' own measures (simulate/measures.py)
    return result


def _split(slices: list, chunks: int) -> list[list]:
    chunks = max(1, chunks)
    size = -(-len(slices) // chunks) if slices else 1
    return [slices[i:i + size] for i in range(0, len(slices), size)] or [[]]


__all__ = ["Plan", "SimulationError", "make_plan", "program_info", "replay_member", "replay_members", "simulate",
           "month_of", "Iterator"]
