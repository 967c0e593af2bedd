"""Plain-data (JSON-ready) forms of a `Plan` and a `SimResult`, to send between processes and machines.

Nothing user-supplied is ever pickled: a worker gets the compiled program as its JSON, the rest of
the plan as plain values, and its members' rows as Arrow IPC; it sends back a result as plain
values. Exact numbers travel as text (Decimal) or JSON integers, so a round trip is exact.
"""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal

from loyalty.runtime.internal import Ev
from loyalty.simulate.history import MemberAttributes
from loyalty.simulate.report import ProgramInfo
from loyalty.simulate.result import DrawKey, MemberRow, SimResult
from loyalty.simulate.scenario import Scenario


def _num(v):
    return v if isinstance(v, int) else str(v)


def _unnum(v):
    return v if isinstance(v, int) else Decimal(v)


def _date(d):
    return d.isoformat() if d is not None else None


def _undate(text):
    return _dt.date.fromisoformat(text) if text is not None else None


# ------------------------------------------------------------------ plan

# the scenario's other exact numbers (behaviour assumptions), as text or null
_SCENARIO_DECIMALS = ("goal_gradient_factor", "goal_gradient_within", "win_back_share")


def plan_to_json(plan) -> str:
    s, info = plan.scenario, plan.info
    doc = {
        "program": plan.program.to_json(indent=None),
        "info": {**info.__dict__, "point_costs": {k: str(v) for k, v in info.point_costs.items()},
                 "tiers": list(info.tiers), "draws": {k: list(v) for k, v in info.draws.items()}},
        "scenario": {**s.__dict__, "redemption_share": str(s.redemption_share),
                     "points_breakage": str(s.points_breakage), "gift_card_breakage": str(s.gift_card_breakage),
                     "cost_per_point": {k: str(v) for k, v in s.cost_per_point.items()},
                     "item_costs": {k: str(v) for k, v in s.item_costs.items()},
                     "reward_costs": {k: str(v) for k, v in s.reward_costs.items()},
                     **{k: None if getattr(s, k) is None else str(getattr(s, k)) for k in _SCENARIO_DECIMALS}},
        "end": plan.end.isoformat(),
        "months": list(plan.months),
        "redeem_rewards": list(plan.redeem_rewards),
        "attributes": {m: [_date(a.birthday), list(a.segments), a.home_store, _date(a.signup_date)]
                       for m, a in plan.attributes.items()},
        "draw_periods": plan.draw_periods,
        "draw_winners": plan.draw_winners,
        "reward_costs": {k: _num(v) for k, v in plan.reward_costs.items()},
        "reward_costs_used": plan.reward_costs_used,
        "member_rows": plan.member_rows,
        # the referral pass's events (simulate/referrals.py): every worker's members get theirs
        "referrals": {m: [[e.type, e.id, e.time.isoformat(), e.name] for e in evs]
                      for m, evs in plan.referrals.items()},
    }
    return json.dumps(doc, sort_keys=True)


def plan_from_json(text: str):
    from loyalty.runtime.program import CompiledProgram
    from loyalty.simulate.engine import Plan

    doc = json.loads(text)
    i = doc["info"]
    info = ProgramInfo(**{**i, "point_costs": {k: Decimal(v) for k, v in i["point_costs"].items()},
                          "tiers": tuple(i["tiers"]), "draws": {k: tuple(v) for k, v in i["draws"].items()}})
    s = doc["scenario"]
    scenario = Scenario(**{**s, "redemption_share": Decimal(s["redemption_share"]),
                           "points_breakage": Decimal(s["points_breakage"]),
                           "gift_card_breakage": Decimal(s["gift_card_breakage"]),
                           **{k: {n: Decimal(v) for n, v in s[k].items()}
                              for k in ("cost_per_point", "item_costs", "reward_costs")},
                           **{k: None if s[k] is None else Decimal(s[k]) for k in _SCENARIO_DECIMALS}})
    attributes = {m: MemberAttributes(_undate(a[0]), tuple(a[1]), a[2], _undate(a[3]))
                  for m, a in doc["attributes"].items()}
    return Plan(CompiledProgram.from_json(doc["program"]), info, scenario, _dt.datetime.fromisoformat(doc["end"]),
                tuple(doc["months"]), tuple(doc["redeem_rewards"]), attributes, doc["draw_periods"], doc["draw_winners"],
                {k: _unnum(v) for k, v in doc["reward_costs"].items()}, doc["reward_costs_used"], doc["member_rows"],
                {m: tuple(Ev(t, i, _dt.datetime.fromisoformat(at), name=name) for t, i, at, name in evs)
                 for m, evs in doc.get("referrals", {}).items()})


# ------------------------------------------------------------------ result


def result_to_data(r: SimResult) -> dict:
    return {
        "counts": {k: _num(v) for k, v in r.counts.items()},
        "cells": [[t, k, c, _num(v)] for (t, k, c), v in r.cells.items()],
        "histograms": {n: [[v, c] for v, c in h.items()] for n, h in r.histograms.items()},
        "draw_keys": {d: [[k.key, k.member] for k in keys] for d, keys in r.draw_keys.items()},
        "draw_winners": r.draw_winners,
        "exhausted": r.exhausted,
        "members": [[m.member, m.orders, m.revenue, _num(m.points_earned), _num(m.points_redeemed),
                     _num(m.points_outstanding), m.rewards, m.discount, str(m.value), m.tier, str(m.cost), str(m.liability)]
                    for m in r.members],
        "claims": [list(c[:4]) + [_num(c[4])] for c in r.claims],
    }


def result_from_data(d: dict) -> SimResult:
    return SimResult(
        counts={k: _unnum(v) for k, v in d["counts"].items()},
        cells={(t, k, c): _unnum(v) for t, k, c, v in d["cells"]},
        histograms={n: {int(v): c for v, c in h} for n, h in d["histograms"].items()},
        draw_keys={p: [DrawKey(float(k), m) for k, m in keys] for p, keys in d["draw_keys"].items()},
        draw_winners=dict(d["draw_winners"]),
        exhausted=dict(d["exhausted"]),
        members=[MemberRow(m[0], m[1], m[2], _unnum(m[3]), _unnum(m[4]), _unnum(m[5]), m[6], m[7], Decimal(m[8]),
                           m[9], Decimal(m[10]), Decimal(m[11])) for m in d["members"]],
        claims=[(c[0], c[1], c[2], c[3], _unnum(c[4])) for c in d["claims"]],
    )
