"""`--kernel auto|vector|python`: which kernel a run gives the program."""

from __future__ import annotations


def choose_kernel(plan, kernel: str) -> str:
    """"vector" or "python": the kernel every unit of work of this run uses (parallel.evaluate_range), the same
    in every engine, so `assumptions.kernel` does not depend on --jobs or --engine.

    `auto` takes the vectorised kernel when `supports` allows it; `vector` on an unsupported program is
    refused by the command before this (exit 2). A group of members whose figures could overflow 64-bit
    arithmetic in the kernel is replayed by the scalar evaluator instead, as heavy and irregular members
    are: the figures are the same either way, and the report still names the kernel the program was given.
    """
    from loyalty.simulate.vector.support import supports

    if kernel == "python" or supports(plan.program, plan) is not None:
        return "python"
    return "vector"


def kernel_assumptions(plan, requested: str, used: str) -> dict:
    """The report's `assumptions` about the kernel: which one ran, and when it is the evaluator, why
    (`kernel_why`: the feature the vectorised kernel does not take, or that --kernel python asked for it),
    so an analyst waiting on a long history knows what sets its pace."""
    from loyalty.simulate.vector.support import supports

    out = {"kernel": used}
    if used == "python":
        out["kernel_why"] = "--kernel python" if requested == "python" else supports(plan.program, plan)
    return out
