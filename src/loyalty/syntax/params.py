"""Program parameters: `params { "punch every" = 6th }` and `param "punch every"` where a literal would stand.

Parameters are resolved on the AST, before the checker and the compiler see it: `substitute` puts each
parameter's value (a literal node) in the place of every reference to it, with the reference's span, so
the checks of units and values, and the compiled program and its identity, are those of the program with
the literal written there. `with_values` replaces declared values (`--set`, `loyalty sweep`) before that.
The formatter prints the references themselves (the AST keeps them until `substitute`).
"""

from __future__ import annotations

import difflib
import functools
import typing
from dataclasses import dataclass, field
from typing import Mapping, Optional

from loyalty.diagnostics import Diagnostic
from loyalty.spans import Span
from loyalty.syntax import ast

VALUE_KINDS: dict[type, str] = {
    ast.Money: "an amount of money",
    ast.PointsAmount: "a points amount",
    ast.Count: "a count",
    ast.Duration: "a duration",
    ast.Percent: "a percentage",
    ast.Multiplier: "a multiplier",
    ast.Ordinal: "an ordinal",
}


class ParamError(Exception):
    """A parameter value given outside the program (`--set`, `--grid`) that cannot be used."""

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def declared(program: ast.Program) -> dict[str, ast.ParamDecl]:
    """Every declared parameter by name (the first, when a name is declared twice: the checker says so)."""
    out: dict[str, ast.ParamDecl] = {}
    for d in program.declarations:
        if isinstance(d, ast.ParamsDecl):
            for p in d.params:
                out.setdefault(p.name.value, p)
    return out


def value_text(value: ast.ParamValue) -> str:
    """A value as the program would write it: `6th`, `5000 points`, `12 months`."""
    from loyalty.syntax import formatter

    if isinstance(value, ast.Ordinal):
        return formatter.ordinal(value.value)
    if isinstance(value, ast.Duration):
        return formatter.duration(value)
    if isinstance(value, ast.Multiplier):
        return formatter.multiplier(value)
    return formatter.quantity(value)


def kind_of(value: ast.Node) -> str:
    return VALUE_KINDS.get(type(value), type(value).__name__)


# ------------------------------------------------------------------ values from outside the program


def parse_value(text: str) -> ast.ParamValue:
    """A value written as in the program (`3000 points`, `8th`, `12.5%`), read by the program's own parser."""
    from loyalty.syntax.parser import parse_with_diagnostics

    shown = text.strip()
    if not shown or any(ch in shown for ch in '\n\r"#{}'):
        raise ParamError(f"{shown!r} is not a value", _VALUE_HINT)
    program, problems = parse_with_diagnostics(f'params {{ "value" = {shown} }}', "<value>")
    decls = program.declarations if program is not None else ()
    if (problems or len(decls) != 1 or not isinstance(decls[0], ast.ParamsDecl)
            or len(decls[0].params) != 1):
        raise ParamError(f"{shown!r} is not a value", _VALUE_HINT)
    return decls[0].params[0].value


_VALUE_HINT = "write it as in the program: 3000 points, 49 NOK, 8th, 10%, 1.5x, 5, 6 months"


def parse_assignment(text: str) -> tuple[str, ast.ParamValue]:
    """`gold from=3000 points` -> ("gold from", PointsAmount(3000, "points"))."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParamError(f"{text!r} is not NAME=VALUE", 'write e.g. --set "gold from=3000 points"')
    return name.strip(), parse_value(value)


def _same_unit(a: ast.Node, b: ast.Node) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, ast.Money):
        return a.currency == b.currency
    if isinstance(a, ast.PointsAmount):
        return a.unit == b.unit or a.unit + "s" == b.unit or a.unit == b.unit + "s"
    return True


def with_values(program: ast.Program, values: Mapping[str, ast.ParamValue]) -> ast.Program:
    """The program with these parameters' values in place of the declared ones. Each value must be of the
    declared value's kind and unit (a points parameter takes points, not money); raises `ParamError`."""
    if not values:
        return program
    params = declared(program)
    for name, value in values.items():
        decl = params.get(name)
        if decl is None:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = (f'did you mean "{close[0]}"?' if close else
                    ("the program declares " + ", ".join(f'"{p}"' for p in params)) if params else
                    'the program declares no parameters: add them in a params { "name" = value } block')
            raise ParamError(f'the program has no parameter "{name}"', hint)
        if not _same_unit(decl.value, value):
            raise ParamError(
                f'parameter "{name}" is {kind_of(decl.value)} ({value_text(decl.value)}), '
                f"so {value_text(value)} cannot be its value",
                f"give a value like {value_text(decl.value)}")

    def replaced(p: ast.ParamDecl) -> ast.ParamDecl:
        value = values.get(p.name.value)
        if value is None or params[p.name.value] is not p:
            return p
        # the declared value's span, so a diagnostic about the value points at the declaration
        return ast.ParamDecl(p.name, _respan(value, p.value.span), span=p.span)

    decls = tuple(ast.ParamsDecl(tuple(replaced(p) for p in d.params), span=d.span)
                  if isinstance(d, ast.ParamsDecl) else d for d in program.declarations)
    return ast.Program(decls, program.comments, span=program.span)


def _respan(node: ast.Node, span: Span) -> ast.Node:
    return type(node)(*(getattr(node, name) for name in node._node_fields), span=span)


# ------------------------------------------------------------------ substitution


@dataclass
class Resolved:
    """The program with every reference replaced by its value, and what was found on the way."""

    program: Optional[ast.Program]  # None when a reference could not be resolved
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # a reference's (start, end) offsets -> the parameter it names: the checker's hints say where a value came from
    origins: dict[tuple[int, int], ast.ParamDecl] = field(default_factory=dict)


@functools.lru_cache(maxsize=None)
def _allowed(cls: type, name: str) -> tuple[type, ...]:
    """The value node classes that field `name` of node class `cls` may hold, from its annotation."""
    hint = typing.get_type_hints(cls, vars(ast))[name]
    found: list[type] = []

    def collect(t) -> None:
        args = typing.get_args(t)
        if args:
            for a in args:
                collect(a)
        elif isinstance(t, type) and t in VALUE_KINDS:
            found.append(t)

    collect(hint)
    if cls is ast.EarnFixed:  # `earn param "boost"` with boost = 1.5x is `earn 1.5x`
        found.append(ast.Multiplier)
    return tuple(found)


def substitute(program: ast.Program) -> Resolved:
    """Put every parameter's value in place of its references. Unknown references (LOY101), a value of the
    wrong kind for its place (LOY201) and a name declared twice (LOY102) are errors; an unused parameter is
    a warning (LOY318)."""
    params = declared(program)
    out = Resolved(None)
    seen: dict[str, ast.ParamDecl] = {}
    for d in program.declarations:
        if isinstance(d, ast.ParamsDecl):
            for p in d.params:
                first = seen.setdefault(p.name.value, p)
                if first is not p:
                    out.diagnostics.append(Diagnostic(
                        "LOY102", f'parameter "{p.name.value}" is declared twice', p.name.span,
                        hint=f"it is first declared on line {first.span.line}: remove one or rename it"))
    if not params and not any(isinstance(n, ast.ParamRef) for n in program.walk()):
        out.program = program  # the common case: no parameters, nothing to copy
        return out
    used: set[str] = set()
    unresolved: list[ast.ParamRef] = []

    def value_for(owner: ast.Node, field_name: str, ref: ast.ParamRef) -> Optional[ast.Node]:
        name = ref.name.value
        decl = params.get(name)
        if decl is None:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = (f'did you mean "{close[0]}"?' if close else
                    'declare it in a params { "name" = value } block' if not params else
                    "the declared parameters are " + ", ".join(f'"{p}"' for p in params))
            out.diagnostics.append(Diagnostic("LOY101", f'unknown parameter "{name}"', ref.span, hint=hint))
            return None
        used.add(name)
        allowed = _allowed(type(owner), field_name)
        value = decl.value
        if type(value) not in allowed:
            wanted = " or ".join(sorted({VALUE_KINDS[c] for c in allowed})) or "a literal"
            out.diagnostics.append(Diagnostic(
                "LOY201",
                f'parameter "{name}" is {kind_of(value)} ({value_text(value)}), but {wanted} is expected here',
                ref.span,
                hint=f'"{name}" is declared on line {decl.span.line}: give it a value of that kind, or use '
                     "a parameter that has one"))
            return None
        out.origins[(ref.span.start, ref.span.end)] = decl
        return _respan(value, ref.span)

    def resolve(node: ast.Node) -> ast.Node:
        if isinstance(node, ast.ParamsDecl):
            return node
        changed = False
        fields = []
        for name in node._node_fields:
            v = getattr(node, name)
            if isinstance(v, ast.ParamRef):
                new = value_for(node, name, v)
                if new is None:
                    unresolved.append(v)
                    new = v
            elif isinstance(v, ast.Node):
                new = resolve(v)
            elif isinstance(v, tuple) and v and isinstance(v[0], ast.Node):
                new = tuple(resolve(x) if isinstance(x, ast.Node) else x for x in v)
                if all(a is b for a, b in zip(new, v)):
                    new = v
            else:
                new = v
            changed = changed or new is not v
            fields.append(new)
        if not changed:
            return node
        if isinstance(node, ast.EarnFixed) and isinstance(fields[0], ast.Multiplier):
            return ast.EarnMultiplier(fields[0], None, span=node.span)
        return type(node)(*fields, span=node.span)

    # values are checked where they stand; the block itself is not part of what the program does
    resolved = resolve(ast.Program(tuple(d for d in program.declarations if not isinstance(d, ast.ParamsDecl)),
                                   program.comments, span=program.span))
    for name, decl in params.items():
        if name not in used:
            out.diagnostics.append(Diagnostic(
                "LOY318", f'parameter "{name}" is never used', decl.name.span,
                hint=f'write param "{name}" where its value should stand, or remove it'))
    if not unresolved:
        out.program = resolved  # type: ignore[assignment]
    return out


def origin_hint(origins: Mapping[tuple[int, int], ast.ParamDecl], diagnostic: Diagnostic) -> Diagnostic:
    """A diagnostic about a substituted value (or a part of it, like its currency) points at the reference
    and says which parameter the value came from."""
    span = diagnostic.span
    if span is None or not origins:
        return diagnostic
    for (start, end), decl in origins.items():
        if start <= span.start and span.end <= end:
            break
    else:
        return diagnostic
    import dataclasses

    note = f'the value is parameter "{decl.name.value}" = {value_text(decl.value)} (line {decl.span.line})'
    whole = Span(span.file, span.line, span.column - (span.start - start), span.end_line,
                 span.end_column + (end - span.end), start, end) if span.line == span.end_line else span
    return dataclasses.replace(diagnostic, span=whole, hint=f"{diagnostic.hint}; {note}" if diagnostic.hint else note)
