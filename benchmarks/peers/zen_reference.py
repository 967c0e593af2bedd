"""Peer: the reference program's per-event decision as a GoRules JDM decision, through zen-engine.

What a backend engineer embedding a general rules engine would write: the service keeps
the member's counters (washes counted, free washes given, points earned) itself and asks
the engine, per purchase, how many washes are free, what they are worth, whether the
member is gold and how many points the order earns. A decision table gives the tier
and its multiplier; an expression node does the arithmetic. The engine holds no state,
so this measures less work than `program.apply` (no state copy, no batches, no expiry,
no returns): a generous comparison for zen.

The decision is called the way zen is fastest from Python: `ZenEngine({"loader": ...}).evaluate(key,
context)` with zen's static loader (`{"type": "static", "content": {key: decision}}`), so the engine
holds the decision itself. `engine.create_decision(json).evaluate(context)`, which the benchmarks used
before, was ~20x slower per call (2026-12-06, zen-engine 2.1.3); a Python callable as the loader is
called again on every `evaluate` (it is not cached), which costs tens of µs when it returns JSON text.

    python benchmarks/peers/zen_reference.py          # evaluates a few orders and prints the answers
"""

from __future__ import annotations

GOLD_FROM = 5000

DECISION = {
    "nodes": [
        {"id": "in", "type": "inputNode", "name": "order", "position": {"x": 0, "y": 0}},
        {
            "id": "tier", "type": "decisionTableNode", "name": "tier", "position": {"x": 200, "y": 0},
            "content": {
                "hitPolicy": "first",
                "passThrough": True,
                "inputs": [{"id": "earned", "name": "points earned", "field": "earned"}],
                "outputs": [{"id": "tier", "name": "tier", "field": "tier"},
                            {"id": "mult", "name": "multiplier", "field": "multiplier"}],
                "rules": [
                    {"_id": "gold", "earned": f">= {GOLD_FROM}", "tier": '"gold"', "mult": "2"},
                    {"_id": "none", "earned": "", "tier": '"member"', "mult": "1"},
                ],
            },
        },
        {
            "id": "calc", "type": "expressionNode", "name": "order arithmetic", "position": {"x": 400, "y": 0},
            "content": {
                "expressions": [
                    {"id": "e1", "key": "free", "value": "max([0, floor((punches + washes) / 6) - given])"},
                    {"id": "e2", "key": "discount",
                     "value": "washes > 0 ? round(wash_amount * $.free / washes) : 0"},
                    {"id": "e3", "key": "paid", "value": "gross - $.discount"},
                    {"id": "e4", "key": "points", "value": "floor($.paid * multiplier / 100)"},
                ],
            },
        },
        {"id": "out", "type": "outputNode", "name": "answer", "position": {"x": 600, "y": 0}},
    ],
    "edges": [
        {"id": "a", "sourceId": "in", "targetId": "tier", "type": "edge"},
        {"id": "b", "sourceId": "tier", "targetId": "calc", "type": "edge"},
        {"id": "c", "sourceId": "calc", "targetId": "out", "type": "edge"},
    ],
}


KEY = "reference.json"  # the decision's name in the engine's loader


def make_engine():
    """A zen engine whose static loader holds DECISION under KEY, or None when zen-engine is not installed.
    Evaluate with `engine.evaluate(KEY, order_input(...))["result"]`."""
    try:
        import zen
    except ImportError:
        return None
    return zen.ZenEngine({"loader": {"type": "static", "content": {KEY: DECISION}}})


def order_input(washes: int, wash_amount: int, gross: int, punches: int, given: int, earned: int) -> dict:
    """One purchase as the engine's input (money in minor units)."""
    return {"washes": washes, "wash_amount": wash_amount, "gross": gross, "punches": punches, "given": given,
            "earned": earned}


if __name__ == "__main__":
    engine = make_engine()
    if engine is None:
        raise SystemExit("zen-engine is not installed: pip install -e '.[bench]'")
    for args in [(1, 10500, 10500, 5, 0, 0), (2, 21000, 23400, 4, 0, 6000), (0, 0, 2400, 3, 0, 100)]:
        print(args, engine.evaluate(KEY, order_input(*args))["result"])
