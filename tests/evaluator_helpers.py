"""What the evaluator's tests share: a program header, loading a program body, a purchase event, effects by kind."""

from __future__ import annotations

import loyalty

HEAD = 'program "t" {\n  currency NOK\n  timezone "Europe/Oslo"\n}\n'


def prog(body: str, head: str = HEAD):
    return loyalty.load(head + body)


def buy(order, time, *lines, store=None, eid=None):
    """A purchase event dict; each line is (item, quantity, amount)."""
    ev = {"time": time, "order": order,
          "lines": [{"item": i, "quantity": q, "amount": a} for (i, q, a) in lines]}
    if store:
        ev["store"] = store
    if eid:
        ev["id"] = eid
    return {"purchase": ev}


def kinds(effects, kind):
    return [e for e in effects if e.kind == kind]
