"""Source file to checked AST: read, decode, parse, check. Used by the CLI and by
`loyalty.load`; every problem comes back as diagnostics, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from loyalty.diagnostics import Diagnostic, has_errors, sort_diagnostics
from loyalty.spans import Span
from loyalty.syntax import ast
from loyalty.syntax.parser import parse_with_diagnostics


@dataclass(frozen=True)
class CheckedSource:
    file: str
    text: str
    program: Optional[ast.Program]  # None when the text does not parse
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.program is not None and not has_errors(self.diagnostics)


def decode_source(data: bytes, file: str) -> tuple[Optional[str], list[Diagnostic]]:
    """Decode UTF-8 (a BOM is allowed); say where the first bad byte is otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        col = err.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            Diagnostic(
                "LOY007",
                f"byte 0x{data[err.start]:02x} is not valid UTF-8",
                Span(file, line, col, line, col + 1),
                hint="save the file as UTF-8",
            )
        ]


def check_text(text: str, file: str = "<string>", values: Optional[Mapping[str, ast.ParamValue]] = None
               ) -> CheckedSource:
    """Parse and check. `values`: parameters set from outside (`--set`), in place of their declared values
    (raises `loyalty.syntax.params.ParamError` for an unknown name or a value of the wrong kind)."""
    from loyalty.checker import check  # the checker imports the AST only

    program, diagnostics = parse_with_diagnostics(text, file)
    if program is not None and values:
        from loyalty.syntax.params import with_values

        program = with_values(program, values)
    if program is not None:
        diagnostics = check(program, text)
    return CheckedSource(file, text, program, sort_diagnostics(diagnostics))


def check_file(path: str | Path, values: Optional[Mapping[str, ast.ParamValue]] = None) -> CheckedSource:
    path = Path(path)
    data = path.read_bytes()
    text, problems = decode_source(data, str(path))
    if text is None:
        return CheckedSource(str(path), "", None, problems)
    return check_text(text, str(path), values)
