"""`--kernel auto|vector|python`: which kernel runs, as an engine for `run.run_and_report`."""

from __future__ import annotations

from typing import Callable, Optional


def choose_kernel(plan, kernel: str) -> tuple[list[str], Optional[Callable]]:
    """([the kernel that ran, filled in by the run], an engine `(plan, history, progress)`, or None: the default).

    `auto` takes the vectorised kernel when `supports` allows it; `vector` on an unsupported program is
    refused by the command before this (exit 2). If the kernel finds at run time that the input could
    overflow 64-bit arithmetic, the scalar kernel runs instead and the report says so.
    """
    from loyalty.simulate.vector.support import supports

    if kernel == "python" or supports(plan.program, plan) is not None:
        return ["python"], None
    used = ["vector"]

    def engine(plan, history, progress=None):
        from loyalty.simulate.engine import simulate
        from loyalty.simulate.vector.kernel import Unsupported, simulate_vector

        try:
            result = simulate_vector(plan, history)
        except Unsupported:
            used[0] = "python"
            result = simulate(plan, history)
        if progress:
            progress(len(history))
        return result

    return used, engine
