"""Cost simulation: read a history, replay each member through the evaluator, merge
the per-member results, report. See docs/simulate.md."""
