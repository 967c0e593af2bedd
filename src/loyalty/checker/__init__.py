"""The checker: names, units and meaning of a parsed program.

    check(program, source=None) -> list[Diagnostic]      every diagnostic, sorted; never raises
                                                          (with the source text: LOY008 too)

The symbol table (`Symbols`, `build_symbols`) and `resolve_point_kind` are public:
the compiler resolves names with the same rules the checker checked them with.
"""

from loyalty.checker.checks import check, decimal_places, is_timezone
from loyalty.checker.symbols import RuleEntry, Symbols, build_symbols, resolve_point_kind

__all__ = [
    "check",
    "Symbols",
    "RuleEntry",
    "build_symbols",
    "resolve_point_kind",
    "decimal_places",
    "is_timezone",
]
