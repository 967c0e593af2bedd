"""The kernel's masks of rule conditions (simulate/vector/kernel.py `_conditions_ok`): a condition on the event
and the member alone (dates, days, hours, stores, channels, segments, birthdays) is worked out once per kernel
and read by every later pass (tier, spend and budget passes ask again); one on the tier held (`for tier`) again
each pass, from that pass's guess. Held on a program whose tiers settle by passes, against the scalar plan."""

from __future__ import annotations

import numpy as np

import loyalty
from loyalty.simulate.engine import make_plan, program_info
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import kernel
from test_fees_kernel import _buy, _history, _return, _same_on_both

PROGRAM = """
program "Tiers by visits, rules on days and tiers" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
rule "points" {
  earn 1 point per 1 NOK
}
rule "march" {
  get 10% off
  from 2024-03-01 to 2024-03-31
}
rule "gold days" {
  get 5% off
  for tier "gold"
}
tiers by visits in the last 30 days {
  tier "silver" from 2 {
    get 20% off
  }
  tier "gold" from 4 {
    earn 2x points
  }
}
"""


def test_event_conditions_once_per_kernel_tier_conditions_each_pass(monkeypatch):
    prog = loyalty.compile_source(PROGRAM, "masks.loyalty").compiled
    rows = [_buy("A", f"2024-03-{d:02d}T10:00", f"a{d}", "100.00") for d in range(25, 32)] + \
        [_buy("A", f"2024-04-{d:02d}T10:00", f"a4{d}", "80.00") for d in range(1, 4)] + \
        [_return("A", "2024-04-04T10:00", "a30"), _buy("B", "2024-03-02T11:00", "b1", "50.00"),
         _buy("B", "2024-03-20T11:00", "b2", "50.00")]
    rows.sort(key=lambda r: r[1])
    history = _history(prog, rows)
    plan = make_plan(prog, program_info(prog, "masks.loyalty"), Scenario(), history, {})
    dates, passes = [], []
    us, replay = kernel._us, kernel._Kernel._replay
    monkeypatch.setattr(kernel, "_us", lambda t: dates.append(t) or us(t))  # (a dates condition's bounds)
    monkeypatch.setattr(kernel._Kernel, "_replay", lambda self: passes.append(self) or replay(self))
    masks = []
    conditions_ok = kernel._Kernel._conditions_ok

    def recorded(self, key, conditions):
        out = conditions_ok(self, key, conditions)
        masks.append((key, out))
        return out

    monkeypatch.setattr(kernel._Kernel, "_conditions_ok", recorded)
    result = kernel.simulate_vector(plan, history, tail_members=0)
    assert len(passes) >= 2  # the tiers settled by passes
    march = prog.rules[1].index
    gold_days = prog.rules[2].index
    bounds = [t for t in dates if t.date().isoformat() in ("2024-03-01", "2024-03-31")]
    assert len(bounds) == 2  # the march rule's from and to: one mask for every pass
    march_masks = [m for k, m in masks if k == march]
    assert len(march_masks) >= 2 and all(m is march_masks[0] for m in march_masks)
    assert not march_masks[0].flags.writeable  # shared: a caller writing to it would fail, not corrupt a pass
    gold_masks = [m for k, m in masks if k == gold_days]
    assert len({id(m) for m in gold_masks}) > 1  # from each pass's tiers
    assert np.any(gold_masks[-1])  # gold reached, and its discount read
    monkeypatch.undo()
    ref = _same_on_both(prog, history)
    assert result.canonical() == ref.canonical()
