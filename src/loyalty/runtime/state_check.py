"""A saved member state checked against the program that loads it (after its shape, runtime/state_doc.py).

A state edited by hand, or saved by a bug, can have the right shape and still crash `apply` later: `tier: 99`,
a clock with a UTC offset (the runtime's times are naive program-local times), a negative count, a batch of
another point kind's rule. `check_state` refuses such a state with the field path, when it is loaded.
"""

from __future__ import annotations

import datetime as _dt

from loyalty.runtime.internal import SURROGATE, has_surrogate
from loyalty.runtime.timeutil import NEVER, period_start


class StateProblem(ValueError):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")


def _time(t, path: str, optional: bool = True) -> None:
    if t is None:
        if not optional:
            raise StateProblem(path, "missing time")
        return
    if t.tzinfo is not None:
        raise StateProblem(path, f"{t.isoformat()} has a UTC offset; saved times are program-local, without one")
    if not _dt.datetime(1, 1, 2) <= t <= _dt.datetime(9999, 12, 30):
        raise StateProblem(path, f"{t.isoformat()} is out of range")


def _count(value: int, path: str) -> None:
    if value < 0:
        raise StateProblem(path, f"{value} is negative")


def check_state(doc, prog) -> None:  # noqa: C901 - one check per field, in the document's order
    """Raise `StateProblem` naming the first field of the state `doc` (a `StateDoc`) that `prog` cannot run."""
    n_rules = len(prog.rules)
    if not doc.member_id or has_surrogate(doc.member_id):
        raise StateProblem("member_id", "empty, or not Unicode text")
    b = doc.attributes.get("birthday")
    if b is not None:
        try:
            _dt.date.fromisoformat(b) if isinstance(b, str) else None
        except ValueError:
            raise StateProblem("attributes.birthday", f"{str(b)[:40]!r} is not a date") from None
    segs = doc.attributes.get("segments")
    if segs is not None and not (isinstance(segs, (list, str)) and all(isinstance(x, str) for x in segs)):
        raise StateProblem("attributes.segments", "expected a list of texts")
    _time(doc.clock, "clock")
    _time(doc.enrolled, "enrolled")
    if isinstance(doc.seen, dict):
        for eid, t in doc.seen.items():
            _time(t, f"seen[{eid!r}]", optional=False)
    if doc.seen and doc.clock is None:
        raise StateProblem("seen", "event ids without a clock")
    for name in ("visits", "purchases", "spend"):
        _count(getattr(doc, name), name)
    for i, k in enumerate(doc.kinds):
        path = f"kinds[{i}]"
        for name in ("debt", "earned", "redeemed", "expired", "clawed"):
            _count(getattr(k, name), f"{path}.{name}")
        _time(k.inactivity_deadline, f"{path}.inactivity_deadline")
        for j, batch in enumerate(k.batches):
            bp = f"{path}.batches[{j}]"
            _time(batch.earned_at, f"{bp}.earned_at", optional=False)
            _time(batch.available_at, f"{bp}.available_at")
            _time(batch.expires_at, f"{bp}.expires_at")
            if batch.amount <= 0:
                raise StateProblem(f"{bp}.amount", f"{batch.amount}: a batch holds a positive number of points")
            if batch.available_at is not None and batch.available_at < batch.earned_at:
                raise StateProblem(f"{bp}.available_at", "before earned_at")
            if batch.rule != -1 and not 0 <= batch.rule < n_rules and batch.rule not in prog.sources:
                raise StateProblem(f"{bp}.rule", f"{batch.rule} is not a rule or multiplier of the program")
    for name in ("punches", "fired", "counts"):
        for r, v in getattr(doc, name).items():
            if not 0 <= r < n_rules:
                raise StateProblem(f"{name}[{r}]", "not a rule of the program")
            _count(v, f"{name}[{r}]")
    for r in doc.punches:
        if prog.rules[r].action != "punch":
            raise StateProblem(f"punches[{r}]", f"rule {prog.rules[r].name!r} is not a punch card")
    for i, m in enumerate(doc.metrics):
        for j, (t, _v) in enumerate(m):
            _time(t, f"metrics[{i}][{j}]", optional=False)
    n_tiers = len(prog.tiers.tiers) if prog.tiers else 0
    for name in ("tier", "grace_target"):
        v = getattr(doc, name)
        if not -1 <= v < n_tiers:
            raise StateProblem(name, f"{v} is not a tier of the program (it has {n_tiers}; -1 is none)")
    for r, t in doc.lapses.items():
        if not 0 <= r < n_rules or prog.rules[r].trigger != "inactivity":
            raise StateProblem(f"lapses[{r}]", "not a win-back rule (`after ... without a purchase`) of the program")
        _time(t, f"lapses[{r}]", optional=False)
    for j, (name, end, rule) in enumerate(doc.offers):
        rw = prog.rewards.get(name)
        if rw is None or not rw.is_offer:
            raise StateProblem(f"offers[{j}]", f"{name!r} is not a reward of the program with a lifetime")
        if not (rule == -1 or 0 <= rule < n_rules):
            raise StateProblem(f"offers[{j}]", f"{rule} is not a rule of the program")
        if end != NEVER:  # an offer valid past the calendar's end never lapses
            _time(end, f"offers[{j}]", optional=False)
    for r, g in doc.goals.items():
        _goal_progress(prog, n_rules, r, g)
    if doc.referral is not None:
        _time(doc.referral.at, "referral.at", optional=False)
        if has_surrogate(doc.referral.by):
            raise StateProblem("referral.by", SURROGATE)
        for r in doc.referral.open:
            if not 0 <= r < n_rules or prog.rules[r].trigger not in ("referring_purchase", "referred_purchase"):
                raise StateProblem(f"referral.open[{r}]", "not a referral rule with a qualifying purchase of the "
                                                          "program")
    if doc.paid is not None:
        if not 0 <= doc.paid.tier < n_tiers or prog.tiers.tiers[doc.paid.tier].fee is None:
            raise StateProblem("paid.tier", f"{doc.paid.tier} is not a paid tier of the program")
        _time(doc.paid.until, "paid.until", optional=False)
        if not -1 <= doc.paid.earned < n_tiers:
            raise StateProblem("paid.earned", f"{doc.paid.earned} is not a tier of the program (-1 is none)")
    _time(doc.next_review, "next_review")
    if doc.grace_until != NEVER:  # a grace past the calendar's end never ends (timeutil.add_duration saturates)
        _time(doc.grace_until, "grace_until")
    for scope, (_key, used) in doc.caps.items():
        _count(used, f"caps[{scope!r}]")
    for oid, o in doc.orders.items():
        path = f"orders[{oid!r}]"
        _time(o.time, f"{path}.time", optional=False)
        for name in ("gross", "paid", "returned"):
            _count(getattr(o, name), f"{path}.{name}")
        for item, line in o.lines.items():
            if len(line) != 3 or any(x < 0 for x in line):
                raise StateProblem(f"{path}.lines[{item!r}]", "expected [quantity, amount, quantity returned] >= 0")
    for name, count in doc.rewards.items():
        _count(count, f"rewards[{name!r}]")
    for i, code in enumerate(doc.codes):
        if not code or has_surrogate(code):
            raise StateProblem(f"codes[{i}]", "empty, or not Unicode text")


def _goal_progress(prog, n_rules: int, r: int, g) -> None:
    """A goal's or streak's progress (runtime/mechanics/goals.py) fits its rule: a streak has its last period
    and run, a goal in a calendar period its period, and every entry a moment and an amount >= 0."""
    path = f"goals[{r}]"
    if not 0 <= r < n_rules or prog.rules[r].trigger not in ("goal", "streak"):
        raise StateProblem(path, "not a goal or streak rule of the program")
    trig = prog.rules[r].trigger_doc
    period = trig["period"] if trig["type"] == "streak" else trig["window"].get("period")
    if trig["type"] == "streak":
        if g.period is None or g.run is None or g.entries:
            raise StateProblem(path, "a streak's progress is its last period and run")
        _count(g.run, f"{path}.run")
    elif g.run is not None or (g.period is None) != (period is None):
        raise StateProblem(path, "a goal's progress has a period only in a calendar period, and no run")
    if g.period is not None:
        start = _dt.datetime.combine(g.period, _dt.time())
        _time(start, f"{path}.period", optional=False)
        if period_start(start, period) != start:
            raise StateProblem(f"{path}.period", f"{g.period} is not the start of a calendar {period}")
    for j, (moment, amount, _order) in enumerate(g.entries):
        _time(moment, f"{path}.entries[{j}]", optional=False)
        _count(amount, f"{path}.entries[{j}]")
