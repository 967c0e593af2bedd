"""loyalty: a checked language for customer-loyalty programs.

The embedding API (docs/embedding.md)::

    import loyalty
    program = loyalty.load("examples/programs/car_wash.loyalty")   # or the program text
    state = program.new_member("m1", attributes={"segments": ["students"]})
    state, effects = program.apply(state, {"purchase": {...}})

`load` raises `loyalty.LoyaltyError` carrying every diagnostic; `apply` raises
`loyalty.EventError` (naming the field) for an invalid event and changes nothing.
`loyalty.simulate(program, history)` and `loyalty.compare(old, new, history)` run the
simulator (docs/simulate.md, "From Python").
Names are imported lazily so that the command line starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

__version__ = "0.1.0"

__all__ = [
    "load", "load_compiled", "compile_source", "compiled", "Program", "MemberState", "Applied", "Effect", "EventError",
    "LoyaltyError", "StateMismatchError", "MigrationError", "Migrated", "ProgramFormatError", "BudgetLedger",
    "LedgerMismatchError", "events", "store",
    "simulate", "compare", "Simulation", "Comparison", "InputError", "HistoryError", "ScenarioError", "CoverageError",
]

_LAZY = {
    "Program": ("loyalty.runtime.facade", "Program"),
    "MemberState": ("loyalty.runtime.facade", "MemberState"),
    "Applied": ("loyalty.runtime.facade", "Applied"),
    "StateMismatchError": ("loyalty.runtime.facade", "StateMismatchError"),
    "Migrated": ("loyalty.runtime.facade", "Migrated"),
    "MigrationError": ("loyalty.runtime.migrate", "MigrationError"),
    "Effect": ("loyalty.runtime.effects", "Effect"),
    "EventError": ("loyalty.runtime.internal", "EventError"),
    "LoyaltyError": ("loyalty.diagnostics", "LoyaltyError"),
    "ProgramFormatError": ("loyalty.runtime.program", "ProgramFormatError"),
    "BudgetLedger": ("loyalty.runtime.ledger", "BudgetLedger"),
    "LedgerMismatchError": ("loyalty.runtime.ledger", "LedgerMismatchError"),
    "events": ("loyalty.runtime.events", None),
    "store": ("loyalty.store", None),
    "compare": ("loyalty.simulation", "compare"),
    "Simulation": ("loyalty.simulation", "Simulation"),
    "Comparison": ("loyalty.simulation", "Comparison"),
    "CoverageError": ("loyalty.simulation", "CoverageError"),
    "InputError": ("loyalty.simulate.errors", "InputError"),
    "HistoryError": ("loyalty.simulate.history", "HistoryError"),
    "ScenarioError": ("loyalty.simulate.scenario", "ScenarioError"),
}

if TYPE_CHECKING:  # pragma: no cover
    # what the lazy names are, for type checkers (the package is typed: py.typed, tests/test_typing.py)
    from loyalty.diagnostics import LoyaltyError as LoyaltyError
    from loyalty.frontend import CheckedSource
    from loyalty.runtime import events as events
    from loyalty.runtime.effects import Effect as Effect
    from loyalty.runtime.facade import Applied as Applied
    from loyalty.runtime.facade import MemberState as MemberState
    from loyalty.runtime.facade import Program as Program
    from loyalty.runtime.facade import StateMismatchError as StateMismatchError
    from loyalty.runtime.internal import EventError as EventError
    from loyalty.runtime.ledger import BudgetLedger as BudgetLedger
    from loyalty.runtime.ledger import LedgerMismatchError as LedgerMismatchError
    from loyalty.runtime.program import ProgramFormatError as ProgramFormatError
    from loyalty.simulate.errors import InputError as InputError
    from loyalty.simulate.history import HistoryError as HistoryError
    from loyalty.simulate.scenario import ScenarioError as ScenarioError
    from loyalty.simulation import Comparison as Comparison
    from loyalty.simulation import CoverageError as CoverageError
    from loyalty.simulation import ProgramSource, TableSource
    from loyalty.simulation import Simulation as Simulation
    from loyalty.simulation import compare as compare
    from loyalty import store as store
else:  # a type checker sees the names above, so a misspelt name is an error there, not Any

    def __getattr__(name: str) -> object:
        if name in _LAZY:
            import importlib

            module, attr = _LAZY[name]
            mod = importlib.import_module(module)
            return mod if attr is None else getattr(mod, attr)
        raise AttributeError(f"module 'loyalty' has no attribute {name!r}")


def compiled() -> bool:
    """Whether `program.apply`'s path runs compiled (a wheel built with LOYALTY_COMPILE=1: hatch_build.py) rather
    than as the pure-Python source; benchmark figures name the build they ran on."""
    from importlib.machinery import EXTENSION_SUFFIXES

    from loyalty.runtime import plan  # compiled with the rest of the path, or not at all

    return (plan.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))


def compile_source(text: str, file: str = "<string>") -> "Program":
    """Parse, check and compile program text; raise `LoyaltyError` with every diagnostic."""
    from loyalty.compiler import compile_program
    from loyalty.diagnostics import LoyaltyError, has_errors
    from loyalty.runtime.facade import Program

    checked = _check_text(text, file)
    if checked.program is None or has_errors(checked.diagnostics):
        raise LoyaltyError(checked.diagnostics, source=text)
    try:
        return Program(compile_program(checked.program, file))
    except LoyaltyError as err:
        err.source = text
        raise


def _check_text(text: str, file: str) -> "CheckedSource":
    from loyalty.frontend import check_text

    return check_text(text, file)


def load(source: Union[str, Path]) -> "Program":
    """A program from a path (str or Path to an existing file) or from program text."""
    from loyalty.diagnostics import LoyaltyError
    from loyalty.frontend import decode_source

    path = Path(source) if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and "{" not in source) else None
    if path is None:
        return compile_source(str(source))
    try:
        data = path.read_bytes()
    except OSError as err:
        raise FileNotFoundError(f"cannot read program {path}: {err.strerror}") from None
    text, problems = decode_source(data, str(path))
    if text is None:
        raise LoyaltyError(problems)
    return compile_source(text, str(path))


def simulate(program: "ProgramSource", history: "TableSource", **options: Any) -> "Simulation":
    """Replay a history through a program and report its cost: `loyalty.simulation.simulate` (a path, program
    text or loaded program; a path, pandas or polars DataFrame or pyarrow Table). Returns a `Simulation`.
    (Once the simulator is imported, `loyalty.simulate` is its package, which calls this same function.)"""
    from loyalty.simulation import simulate as run

    return run(program, history, **options)


def load_compiled(json_text: str) -> "Program":
    """A program from `loyalty compile --json` output, without the parser."""
    from loyalty.runtime.facade import Program

    return Program.from_json(json_text)
