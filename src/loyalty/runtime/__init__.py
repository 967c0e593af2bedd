"""The runtime: compiled program model, events, member state, effects, evaluator.

Never imports `loyalty.syntax` or the parser: a compiled program loads from JSON.
"""
