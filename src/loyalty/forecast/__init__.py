"""A forecast beyond the history: a buy-till-you-die model of each member's orders (bgnbd.py), fitted on the
history, extends it (extend.py); the program runs over history + extension several times (run.py)."""
