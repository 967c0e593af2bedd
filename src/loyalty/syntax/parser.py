"""Text to typed AST.

The Lark parser (LALR, strict) is built once per process and reused. Syntax
errors become `Diagnostic`s with a code, the tokens that were expected and, for
the common mistakes, a human message. The transformer turns the Lark tree into
the frozen node classes of `loyalty.syntax.ast`; nothing later sees Lark.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import re
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Optional

import lark
from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from loyalty.diagnostics import Diagnostic, LoyaltyError
from loyalty.spans import Span
from loyalty.syntax import ast

# ------------------------------------------------------------------ limits
# Bounded work on hostile input (docs/limits.md): these are checked before parsing.
# Parsing costs ~15 us and ~300 bytes per character at worst (a long `and` chain), so
# 1,000,000 characters bound the work at seconds and a few hundred MB; real programs
# are a few kB. Measured figures are in docs/limits.md.
MAX_SOURCE_CHARS = 1_000_000
MAX_NESTING = 64
MAX_SYNTAX_ERRORS = 20
# Decimal arithmetic keeps 28 significant digits; 20-digit literals leave room for sums
# of many of them to stay exact (and int() refuses strings over 4,300 digits).
MAX_NUMBER_DIGITS = 20

_GRAMMAR_NAME = "loyalty.lark"


def grammar_text() -> str:
    """The grammar shipped inside the package, or grammar/ of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / _GRAMMAR_NAME
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    source_tree = package.parents[1] / "grammar" / _GRAMMAR_NAME
    if source_tree.is_file():
        return source_tree.read_text(encoding="utf-8")
    # a zipped install, with no files beside the modules (importlib.resources costs ~6 ms of imports, so
    # it is used only here)
    from importlib import resources  # pragma: no cover

    return resources.files("loyalty").joinpath(_GRAMMAR_NAME).read_text(encoding="utf-8")


_parser_lock = threading.Lock()
_parser: Optional[lark.Lark] = None
_comment_sink = threading.local()

# Strict mode (conflicts and terminal collisions fail the build) costs ~0.3 s per build;
# tests/test_grammar.py builds strictly, the runtime builds the same tables without the checks.


def _collect_comment(token: Token) -> Token:
    sink = getattr(_comment_sink, "comments", None)
    if sink is not None:
        sink.append(token)
    return token


def build_lark_parser(strict: bool = False, use_tables: bool = True) -> lark.Lark:
    """The parser of the grammar. Strict: built with conflict and collision checks. Otherwise from the
    shipped tables when they match the grammar (syntax/tables.py), else built."""
    callbacks = {"COMMENT": _collect_comment}
    if not strict and use_tables:
        from loyalty.syntax import tables

        loaded = tables.load(grammar_text(), callbacks)
        if loaded is not None:
            return loaded

    def build() -> lark.Lark:
        return lark.Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            strict=strict,
            propagate_positions=True,
            maybe_placeholders=True,
            lexer_callbacks=callbacks,
        )

    if strict:
        return build()
    # Without strict, Lark still runs interegular's terminal-collision analysis when it is
    # installed, only to log warnings: a third of the build (~0.1 s of every CLI run). The
    # strict build in tests/test_grammar.py is what proves there are no collisions.
    import lark.lexer as lark_lexer

    with _interegular_lock:
        saved = lark_lexer.has_interegular
        lark_lexer.has_interegular = False
        try:
            return build()
        finally:
            lark_lexer.has_interegular = saved


_interegular_lock = threading.Lock()


def lark_parser() -> lark.Lark:
    """The process-wide parser, built on first use."""
    global _parser
    if _parser is None:
        with _parser_lock:
            if _parser is None:
                _parser = build_lark_parser()
    return _parser


# ------------------------------------------------------------------ public entry points


def parse(text: str, file: str = "<string>") -> ast.Program:
    """Parse a program; raise `LoyaltyError` with every syntax diagnostic found."""
    program, diagnostics = parse_with_diagnostics(text, file)
    if program is None:
        raise LoyaltyError(diagnostics, source=text)
    return program


def parse_with_diagnostics(text: str, file: str = "<string>") -> tuple[Optional[ast.Program], list[Diagnostic]]:
    """Parse a program. Returns (program, []) or (None, syntax diagnostics)."""
    limit_problem = _check_limits(text, file)
    if limit_problem:
        return None, [limit_problem]
    comments: list[Token] = []
    _comment_sink.comments = comments
    try:
        tree, errors = _parse_tree(text, file)
    finally:
        _comment_sink.comments = None
    if errors:
        return None, errors
    builder = _AstBuilder(file, text)
    try:
        program = builder.transform(tree)
    except RecursionError:  # a backstop: _check_limits bounds nesting well below the recursion limit
        return None, [_too_deep(text, 0, file)]
    except VisitError as err:  # a value the grammar admits but the AST cannot hold
        if isinstance(err.orig_exc, _BadValue):
            return None, [err.orig_exc.diagnostic]
        raise
    if builder.problems:
        return None, builder.problems
    # a comment ends before the \r of a CRLF line end, so CRLF and LF files read the same
    program_comments = tuple(ast.Comment(str(c).rstrip("\r"), span=_token_span(c, file)) for c in comments)
    return ast.Program(program.declarations, program_comments, span=program.span), []


def _parse_tree(text: str, file: str) -> tuple[Optional[lark.Tree], list[Diagnostic]]:
    """Parse; after a syntax error, resume at the next top-level declaration so that each
    broken declaration is reported once, without the cascade of follow-on errors that
    token-level recovery produces. The text before the resume point is blanked out (newlines
    kept), so lines and columns stay those of the file."""
    parser = lark_parser()
    errors: list[Diagnostic] = []
    current = text
    while True:
        try:
            return parser.parse(current), errors
        except UnexpectedInput as err:
            errors.append(_syntax_diagnostic(err, text, file))
            resume = _next_declaration_start(text, errors[-1].span.line)
            if resume is None or len(errors) >= MAX_SYNTAX_ERRORS:
                return None, errors
            current = _BLANK.sub(" ", text[:resume]) + text[resume:]


_BLANK = re.compile(r"[^\n]")
_DECLARATION_LINE = re.compile(
    r"^(?:program|points|catalog|segment|store|reward|redeem|rule|campaign|tiers|draw|params|code)\b", re.M
)


def _next_declaration_start(text: str, after_line: int) -> Optional[int]:
    """Offset of the first line after `after_line` that starts, at column 1, with a declaration keyword."""
    offset = 0
    for _ in range(after_line):
        nl = text.find("\n", offset)
        if nl < 0:
            return None
        offset = nl + 1
    match = _DECLARATION_LINE.search(text, offset)
    return match.start() if match else None


# ------------------------------------------------------------------ limits


# One pass over the text, outside strings and comments: brackets, braces and `not`
# are the constructs that nest; the tree builder and every later pass recurse over them.
_NESTING_SCAN = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|#[^\n]*|[(){}]|\w+')


def _check_limits(text: str, file: str) -> Optional[Diagnostic]:
    if len(text) > MAX_SOURCE_CHARS:
        return Diagnostic(
            "LOY401",
            f"the program is {len(text):,} characters long; the limit is {MAX_SOURCE_CHARS:,}",
            Span(file, 1, 1, 1, 2),
            hint="split the program or remove generated content; see docs/limits.md",
        )
    # depth = the enclosing levels (each bracket plus the `not`s right before it)
    # + the `not`s in front of the current operand
    enclosing: list[int] = []
    outer = pending_nots = 0
    for match in _NESTING_SCAN.finditer(text):
        token = match.group()
        first = token[0]
        if first == "#":
            continue
        if first in "({":
            enclosing.append(1 + pending_nots)
            outer += enclosing[-1]
            pending_nots = 0
        elif first in ")}":
            if enclosing:
                outer -= enclosing.pop()
            pending_nots = 0
        elif token == "not":
            pending_nots += 1
        else:  # a string, a number or another word ends a run of `not`s
            pending_nots = 0
            continue
        if outer + pending_nots > MAX_NESTING:
            return _too_deep(text, match.start(), file)
    return None


def _too_deep(text: str, pos: int, file: str) -> Diagnostic:
    line, col = _line_col(text, pos)
    return Diagnostic(
        "LOY402",
        f"brackets, braces and 'not' are nested more than {MAX_NESTING} deep",
        Span(file, line, col, line, col + 1, pos, pos + 1),
        hint="simplify the condition; see docs/limits.md",
    )


def _line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting lines as Lark does (newlines only)."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


# ------------------------------------------------------------------ syntax errors

_TERMINAL_WORDS = {
    "STRING": 'a quoted name like "latte"',
    "NUMBER": "a number",
    "CURRENCY": "a currency code like NOK",
    "NAME": "a point kind like points",
    "DATE": "a date like 2025-06-01",
    "TIME": "a time like 14:00",
    "ORDINAL": "an ordinal like 6th",
    "PERCENT": "a percentage like 5%",
    "MULTIPLIER": "a multiplier like 2x",
    "COMPARATOR": "a comparison like >=",
    "LIFETIME": '"lifetime"',
}

_DECLARATION_KEYWORDS = (
    "program",
    "points",
    "catalog",
    "segment",
    "store",
    "reward",
    "redeem",
    "rule",
    "campaign",
    "tiers",
    "draw",
    "params",
    "code",
)


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    if name == "$END":
        return "the end of the file"
    try:
        pattern = lark_parser().get_terminal(name).pattern
    except KeyError:
        return name
    if pattern.type == "str":
        return f'"{pattern.value}"'
    return name


def _expected_words(expected: set[str]) -> list[str]:
    return sorted({_describe_terminal(n) for n in expected})


def _syntax_diagnostic(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    at = err.token.start_pos if isinstance(err, UnexpectedToken) else err.pos_in_stream
    if isinstance(at, int) and 0 <= at < len(text):
        nordic = _nordic_number(text, at, file)
        if nordic is not None:
            return nordic
    if isinstance(err, UnexpectedCharacters):
        line, col = err.line, err.column
        ch = text[err.pos_in_stream] if 0 <= err.pos_in_stream < len(text) else ""
        hint = None
        if ch == '"':
            hint = "a string must be closed on the same line with a double quote"
            message = "unterminated string"
        elif ch.isupper() or ch.isalpha():
            word = _word_at(text, err.pos_in_stream)
            message = f"unexpected word '{word}'"
            hint = _word_hint(word, set(err.allowed or ()))
            if word.startswith("refer") and "STRING" in set(err.allowed or ()):
                message, hint = _referral_message(word)
        else:
            message = f"unexpected character {ch!r}"
            allowed = _expected_words(set(err.allowed or ()))
            if allowed:
                hint = "expected " + _one_of(allowed)
        return Diagnostic("LOY003", message, Span(file, line, col, line, col + max(1, len(_word_at(text, err.pos_in_stream)))), hint)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        # just after the last thing written, so the caret lands on a line with text
        end = len(text.rstrip())
        line, col = _line_col(text, end)
        expected = set(getattr(err, "expected", ()) or ())
        hint = None
        if "RBRACE" in expected:
            hint = "a block opened with { is not closed: add the missing }"
        elif expected:
            hint = "expected " + _one_of(_expected_words(expected))
        return Diagnostic("LOY002", "the file ends in the middle of a declaration", Span(file, line, col, line, col + 1, end, end), hint)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = set(err.accepts or err.expected or ())
    glued = _glued_word(tok, text, file)
    if glued is not None:
        return glued
    message, hint = _human_message(tok, expected)
    span = _token_span(tok, file)
    return Diagnostic("LOY001", message, span, hint)


# A number as many Nordic (and other European) texts write it: `5 000` with a space (or a no-break space)
# between groups of thousands, `0,10` with a decimal comma, or both (`5 000,50`). The language has neither.
_NORDIC_NUMBER = re.compile(r"(?<![\d.,])-?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?(?![\d.])|(?<![\d.,])-?\d+,\d+(?![\d.])")
_GROUP_SEPARATORS = " \u00a0\u202f"
# keywords that are a number's unit (the fix names the number and its unit: `write 2500 points`); any other
# keyword after a number starts the next clause (`winners 1 000 prize ...`), and any other word is a point kind
_UNIT_KEYWORDS = frozenset({"points", "day", "days", "week", "weeks", "month", "months", "year", "years", "visits",
                            "times"})


@functools.lru_cache(maxsize=1)
def _keywords() -> frozenset:
    """Every word the grammar uses as a keyword."""
    return frozenset(t.pattern.value for t in lark_parser().terminals
                     if t.pattern.type == "str" and t.pattern.value.isalpha())


def _nordic_number(text: str, pos: int, file: str) -> Optional[Diagnostic]:
    """A syntax error at `pos` that is a thousands separator or a decimal comma inside a number: a message
    that names the number as it must be written (`write 5000 NOK`, `write 0.10 NOK`)."""
    ch = text[pos]
    if not (ch == "," or ch in _GROUP_SEPARATORS or ch.isdigit()):
        # `winners 1 000` and `>= 1 000 NOK` parse `000` as the start of the next clause (`000 entry per ...`,
        # `000 free ...`), so the error comes at the word after the number: look back past the spaces to it
        before = _end_of_previous_token(text, pos)
        if before == pos or before == 0 or not text[before - 1].isdigit():
            return None
        pos = before - 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    line_text = text[line_start:line_end]
    for match in _NORDIC_NUMBER.finditer(line_text):
        start, end = line_start + match.start(), line_start + match.end()
        # the error must be inside the number, past its first group (`5 000`: at the space or at `000`, or just
        # after it, looked back to above)
        if not (start < pos < end):
            continue
        written = match.group()
        fixed = "".join(c for c in written if c not in _GROUP_SEPARATORS).replace(",", ".")
        after = line_text[match.end():]
        unit = re.match(r"(%|x\b)|[ \t]+([A-Z]{3}\b|[a-z][a-z_]*)", after)
        suffix = ""
        if unit and unit.group(1):
            suffix = unit.group(1)
        elif unit and (unit.group(2) in _UNIT_KEYWORDS or unit.group(2) not in _keywords()):
            suffix = " " + unit.group(2)
        shown = written.replace("\u00a0", " ").replace("\u202f", " ")
        hint = f"write {fixed}{suffix}"
        if "," in written and not any(c in written for c in _GROUP_SEPARATORS):
            whole, fraction = written.split(",")
            message = f"{shown} has a decimal comma: numbers are written with a decimal point"
            if len(fraction) == 3 and len(whole.lstrip("-")) <= 3:  # `1,000` may be an English thousands comma
                hint += f" (or, for {whole}{fraction} without decimals, {whole}{fraction}{suffix})"
        elif "," in written:
            message = (f"{shown} is one number written with spaces and a decimal comma: numbers have no thousands "
                       "separator and a decimal point")
        else:
            message = f"{shown} is one number written with spaces: numbers have no thousands separator"
        line, col = _line_col(text, start)
        return Diagnostic("LOY001", message, Span(file, line, col, line, col + len(written), start, end), hint)
    return None


def _end_of_previous_token(text: str, pos: int) -> int:
    """The offset just after the last character before `pos` that is neither a space nor in a comment."""
    end = pos
    while True:  # each pass steps back over one line's comment: linear in the text it crosses
        while end > 0 and text[end - 1].isspace():
            end -= 1
        line_start = text.rfind("\n", 0, end) + 1
        quotes, hash_at = 0, None
        for i in range(line_start, end):
            if text[i] == '"':
                quotes += 1
            elif text[i] == "#" and quotes % 2 == 0:
                hash_at = i
                break
        if hash_at is None:
            return end
        end = hash_at


def _glued_word(tok: Token, text: str, file: str) -> Optional[Diagnostic]:
    """A keyword matched the start of a longer word (`eachh` lexes as `each` + `h`): report the word."""
    start = tok.start_pos or 0
    if start == 0 or not (str(tok)[:1].isalnum() and text[start - 1].isalpha()):
        return None
    word_start = start
    while word_start > 0 and (text[word_start - 1].isalnum() or text[word_start - 1] == "_"):
        word_start -= 1
    word = _word_at(text, word_start)
    keyword = text[word_start:start]
    line = tok.line or 1
    col = (tok.column or 1) - (start - word_start)
    return Diagnostic(
        "LOY001",
        f"unexpected word '{word}'",
        Span(file, line, col, line, col + len(word), word_start, word_start + len(word)),
        f"did you mean '{keyword}'?",
    )


def _one_of(words: list[str]) -> str:
    if len(words) > 8:
        words = words[:8] + ["..."]
    return words[0] if len(words) == 1 else "one of " + ", ".join(words)


def _word_at(text: str, pos: int) -> str:
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] in "_"):
        end += 1
    return text[pos:end] or text[pos : pos + 1]


def _keywords_in(expected: set[str]) -> list[str]:
    words = []
    for name in expected:
        try:
            pattern = lark_parser().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isalpha():
            words.append(pattern.value)
    return words


def _word_hint(word: str, expected: set[str]) -> Optional[str]:
    if len(word) == 3 and word.isalpha() and "CURRENCY" in expected:
        return f"currency codes are written in capitals: {word.upper()}"
    candidates = _keywords_in(expected)
    close = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if expected:
        return "expected " + _one_of(_expected_words(expected))
    return None


def _human_message(tok: Token, expected: set[str]) -> tuple[str, Optional[str]]:
    shown = str(tok)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    words = _expected_words(expected)
    hint: Optional[str] = "expected " + _one_of(words) if words else None
    value = str(tok)
    if tok.type == "NAME" and "CURRENCY" in expected and len(value) == 3:
        return f"'{value}' is not a currency code", f"currency codes are written in capitals: {value.upper()}"
    if tok.type == "NUMBER" and "ORDINAL" in expected:
        return f"expected an ordinal, found {value}", f"write the position as an ordinal: every {value}th"
    if tok.type == "STRING" and "NAME" in expected and "STRING" not in expected:
        return (
            f"point kinds are written without quotes, found {shown}",
            f"write {value.strip(chr(34))} without quotes, e.g. `earn 10 {value.strip(chr(34))}`",
        )
    if value.startswith("refer") and value.isalpha() and "STRING" in expected:
        return _referral_message(value)
    if tok.type == "NAME" and "STRING" in expected and "NAME" not in expected:
        close = difflib.get_close_matches(value, _keywords_in(expected), n=1, cutoff=0.6)
        if close:
            return f"unexpected word '{value}'", f"did you mean '{close[0]}'?"
        return f"unexpected word '{value}'", f'names are written in double quotes: "{value}"'
    if tok.type == "NUMBER" and "CURRENCY" in expected:
        return f"unexpected number {value}", hint
    if tok.type == "NAME" and expected:
        close = difflib.get_close_matches(value, _keywords_in(expected), n=1, cutoff=0.6)
        if close:
            return f"unexpected word '{value}'", f"did you mean '{close[0]}'?"
        if value in _DECLARATION_KEYWORDS and "RBRACE" in expected:
            return f"unexpected '{value}'", "the block before it is not closed: add the missing }"
    if value in _DECLARATION_KEYWORDS and "RBRACE" in expected:
        return f"unexpected '{value}'", "the block before it is not closed: add the missing }"
    if tok.type == "RBRACE" and not expected & {"RBRACE"}:
        return "unexpected '}'", hint
    return f"unexpected {shown!s}", hint


def _referral_message(word: str) -> tuple[str, str]:
    """`on referred signup`, `on referral`: the two sides of a referral are written `on being referred ...` and
    `on referring a friend ...` (docs/language.md, "Referral")."""
    new_member = "`on being referred and spending at least 300 NOK within 30 days`"
    referrer = "`on referring a friend who spends at least 300 NOK within 30 days`"
    if word.startswith("referred"):
        return (f"unexpected word '{word}': the new member's side of a referral is written `on being referred`",
                f"write {new_member} (her reward once she makes that purchase); the referrer's side is {referrer}")
    return (f"unexpected word '{word}': the referrer's side of a referral is written `on referring a friend`",
            f"write {referrer} (the referrer's reward once the new member makes that purchase); the new member's "
            f"side is {new_member}")


def _token_span(tok: Token, file: str) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + max(1, len(str(tok)))
    return Span(file, line, col, end_line, end_col, tok.start_pos or 0, tok.end_pos or 0)


# ------------------------------------------------------------------ tree to AST


class _BadValue(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "0": "\0"}


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit


# grammar rule -> AST class, for the clauses built from their parts alone (`_AstBuilder.__default__`)
_BUILT_FROM_PARTS = {"".join("_" + ch.lower() if ch.isupper() else ch for ch in cls.__name__).lstrip("_"): cls
                     for cls in ast.BUILT_FROM_PARTS}


@v_args(meta=True)
class _AstBuilder(Transformer):
    """Builds the typed AST. Problems in literal values (a bad escape, 2025-02-30) are
    collected as diagnostics so every one of them is reported."""

    def __init__(self, file: str, text: str):
        super().__init__(visit_tokens=False)
        self.file = file
        self.text = text
        self.problems: list[Diagnostic] = []

    # helpers
    def __default__(self, data, children, meta):
        """A clause of `ast.BUILT_FROM_PARTS` (no method here): its node from its parts, already AST nodes, in
        the order the grammar gives them; the grammar rule is the class's name in snake case."""
        cls = _BUILT_FROM_PARTS.get(data)
        if cls is None or not all(isinstance(c, ast.Node) for c in children):
            raise TypeError(f"the parser builds no AST node for grammar rule {data!r}")
        return cls(*children, span=self._span(meta))

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)

    def _tspan(self, tok: Token) -> Span:
        return _token_span(tok, self.file)

    def _text(self, tok: Token) -> ast.Text:
        raw = str(tok)[1:-1]
        if "\\" not in raw:  # the common case, and fast for very long strings
            return ast.Text(raw, span=self._tspan(tok))
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u" and i + 6 <= len(raw) and _is_hex(raw[i + 2 : i + 6]):
                code = int(raw[i + 2 : i + 6], 16)
                if 0xD800 <= code <= 0xDFFF:
                    # half of a UTF-16 surrogate pair is no character: the name could never be written
                    # out as UTF-8 (every command but `check` failed with UnicodeEncodeError)
                    col = (tok.column or 1) + 1 + i
                    self.problems.append(
                        Diagnostic(
                            "LOY004",
                            f"'{raw[i : i + 6]}' is half of a UTF-16 surrogate pair, not a character",
                            Span(self.file, tok.line or 1, col, tok.line or 1, col + 6),
                            hint="write the character itself (the file is UTF-8); \\uXXXX is for characters "
                            "up to U+FFFF outside U+D800 to U+DFFF",
                        )
                    )
                else:
                    out.append(chr(code))
                i += 6
            else:
                col = (tok.column or 1) + 1 + i
                self.problems.append(
                    Diagnostic(
                        "LOY004",
                        f"unknown escape '\\{nxt}' in a string",
                        Span(self.file, tok.line or 1, col, tok.line or 1, col + 2),
                        hint='valid escapes are \\" \\\\ \\n \\t \\r \\0 and \\uXXXX',
                    )
                )
                out.append(nxt)
                i += 2
        return ast.Text("".join(out), span=self._tspan(tok))

    def _digits_fit(self, tok: Token, number: str) -> bool:
        digits = len(number) - number.count("-") - number.count(".")
        if digits <= MAX_NUMBER_DIGITS:
            return True
        shown = number if len(number) <= 24 else number[:20] + "..."
        self.problems.append(
            Diagnostic(
                "LOY403",
                f"the number {shown} has {digits:,} digits; the limit is {MAX_NUMBER_DIGITS}",
                self._tspan(tok),
                hint="amounts and counts this large are a mistake; see docs/limits.md",
            )
        )
        return False

    def _decimal(self, tok: Token) -> Decimal:
        number = str(tok).rstrip("%x")
        if not self._digits_fit(tok, number):
            return Decimal(0)
        try:
            return Decimal(number)
        except InvalidOperation:  # pragma: no cover - the grammar only admits digits
            raise _BadValue(Diagnostic("LOY001", f"invalid number {tok}", self._tspan(tok)))

    # top level
    def start(self, meta, children):
        return ast.Program(tuple(children), span=self._span(meta))

    def program_decl(self, meta, c):
        return ast.ProgramDecl(self._text(c[0]), tuple(c[1:]), span=self._span(meta))

    def currency_setting(self, meta, c):
        return ast.CurrencySetting(str(c[0]), span=self._span(meta))

    def timezone_setting(self, meta, c):
        return ast.TimezoneSetting(self._text(c[0]), span=self._span(meta))

    def runs_setting(self, meta, c):
        return ast.RunsSetting(c[0], c[1], span=self._span(meta))

    def rewards_kept_on_return(self, meta, c):
        return ast.RewardsOnReturnSetting(False, span=self._span(meta))

    def rewards_taken_back_on_return(self, meta, c):
        return ast.RewardsOnReturnSetting(True, span=self._span(meta))

    # parameters
    def params_decl(self, meta, c):
        return ast.ParamsDecl(tuple(c), span=self._span(meta))

    def param_decl(self, meta, c):
        value = c[1]
        if isinstance(value, Token):
            value = {"PERCENT": self._percent, "MULTIPLIER": self._multiplier, "ORDINAL": self._ordinal}[value.type](value)
        return ast.ParamDecl(self._text(c[0]), value, span=self._span(meta))

    def param_ref(self, meta, c):
        return ast.ParamRef(self._text(c[0]), span=self._span(meta))

    def _spelled_param_ref(self, tok: Token) -> ast.ParamRef:
        """`param "x"` written out inside a rule (no meta of its own): from the keyword to the string's end."""
        start = self.text.rfind("param", 0, tok.start_pos)
        line, col = _line_col(self.text, start)
        name = self._text(tok)
        return ast.ParamRef(name, span=Span(self.file, line, col, tok.end_line, tok.end_column, start, tok.end_pos))

    def earn_multiplier_param(self, meta, c):
        return ast.EarnMultiplier(self._spelled_param_ref(c[0]), str(c[1]), span=self._span(meta))

    def benefit_multiplier_param(self, meta, c):
        unit = str(c[1]) if c[1] is not None else None
        return ast.BenefitMultiplier(self._spelled_param_ref(c[0]), unit, span=self._span(meta))

    def one_discount_per_order(self, meta, c):
        return ast.StackingSetting("one per order", span=self._span(meta))

    def one_discount_per_line(self, meta, c):
        return ast.StackingSetting("one per line", span=self._span(meta))

    def discounts_stack(self, meta, c):
        return ast.StackingSetting("stack", span=self._span(meta))

    def one_gift_per_order(self, meta, c):
        return ast.GiftStackingSetting("one per order", span=self._span(meta))

    def gifts_stack(self, meta, c):
        return ast.GiftStackingSetting("stack", span=self._span(meta))

    def returns_window_setting(self, meta, c):
        return ast.AcceptanceWindow("returns", c[0], span=self._span(meta))

    def late_events_window_setting(self, meta, c):
        return ast.AcceptanceWindow("late events", c[0], span=self._span(meta))

    def members_join_setting(self, meta, c):
        return ast.MembersJoinAtSignup(span=self._span(meta))

    def presignup_window_setting(self, meta, c):
        return ast.PreSignupWindow(c[0], span=self._span(meta))

    # points
    def points_decl(self, meta, c):
        settings = tuple(x for x in c[1:] if x is not None)
        return ast.PointsDecl(self._text(c[0]), settings, span=self._span(meta))

    def point_cost(self, meta, c):
        return ast.PointCost(c[0], span=self._span(meta))

    def expire_after_earning(self, meta, c):
        return ast.ExpireAfterEarning(c[0], span=self._span(meta))

    def expire_after_inactivity(self, meta, c):
        return ast.ExpireAfterInactivity(c[0], span=self._span(meta))

    def expire_at_period_end(self, meta, c):
        return ast.ExpireAtPeriodEnd(c[0], False, span=self._span(meta))

    def expire_at_next_period_end(self, meta, c):
        return ast.ExpireAtPeriodEnd(c[0], True, span=self._span(meta))

    def pending_setting(self, meta, c):
        return ast.PendingSetting(c[0], span=self._span(meta))

    def rounding_setting(self, meta, c):
        return ast.RoundingSetting(c[0], c[1], span=self._span(meta))

    def rounding_mode(self, meta, c):
        return " ".join(str(t) for t in c)

    def rounding_scope(self, meta, c):
        return str(c[0])

    def balance_may_go_negative(self, meta, c):
        return ast.BalancePolicy("negative", span=self._span(meta))

    def balance_stops_at_zero(self, meta, c):
        return ast.BalancePolicy("zero", span=self._span(meta))

    def returns_take_from_pending_only(self, meta, c):
        return ast.BalancePolicy("pending_only", span=self._span(meta))

    # catalog
    def catalog_decl(self, meta, c):
        return ast.CatalogDecl(tuple(c), span=self._span(meta))

    def category_decl(self, meta, c):
        return ast.CategoryDecl(self._text(c[0]), span=self._span(meta))

    def item_decl(self, meta, c):
        return ast.ItemDecl(self._text(c[0]), self._text(c[1]), c[2], span=self._span(meta))

    def segment_decl(self, meta, c):
        return ast.SegmentDecl(self._text(c[0]), span=self._span(meta))

    def store_decl(self, meta, c):
        region = self._text(c[1]) if c[1] is not None else None
        return ast.StoreDecl(self._text(c[0]), region, span=self._span(meta))

    # rewards
    def reward_decl(self, meta, c):
        # children: name, kind, cost, stock, then the lifetime (`valid for`: a duration; `valid until`: a date)
        validity = c[4]
        if isinstance(validity, ast.DateValue):
            return ast.RewardDecl(self._text(c[0]), c[1], c[2], None, validity, c[3], span=self._span(meta))
        return ast.RewardDecl(self._text(c[0]), c[1], c[2], validity, None, c[3], span=self._span(meta))

    def reward_validity(self, meta, c):
        return c[0]

    def reward_valid_until(self, meta, c):
        return c[0]

    def stock_limit(self, meta, c):
        return self._count(c[0])

    def code_decl(self, meta, c):
        return ast.CodeDecl(self._text(c[0]), self._count(c[1]) if c[1] is not None else None,
                            span=self._span(meta))

    def with_code(self, meta, c):
        return ast.WithCode(self._text(c[0]), span=self._span(meta))

    def free_item_reward(self, meta, c):
        return ast.FreeItemReward(c[0], span=self._span(meta))

    def amount_off_reward(self, meta, c):
        return ast.AmountOffReward(c[0], span=self._span(meta))

    def percent_off_reward(self, meta, c):
        return ast.PercentOffReward(self._percent(c[0]), span=self._span(meta))

    def gift_card_reward(self, meta, c):
        partner = self._text(c[1]) if c[1] is not None else None
        return ast.GiftCardReward(c[0], partner, span=self._span(meta))

    def gift_reward(self, meta, c):
        return ast.GiftReward(self._text(c[0]), span=self._span(meta))

    def perk_reward(self, meta, c):
        return ast.PerkReward(span=self._span(meta))

    def redeem_decl(self, meta, c):
        return ast.RedeemDecl(c[0], self._text(c[1]), span=self._span(meta))

    # rules
    def rule_decl(self, meta, c):
        return ast.RuleDecl(self._text(c[0]), tuple(c[1:]), span=self._span(meta))

    def campaign_decl(self, meta, c):
        return ast.CampaignDecl(self._text(c[0]), tuple(c[1:]), span=self._span(meta))

    def punch_free(self, meta, c):
        return ast.PunchFree(self._ordinal(c[0]), c[1], span=self._span(meta))

    def punch_discount(self, meta, c):
        return ast.PunchDiscount(self._ordinal(c[0]), c[1], self._percent(c[2]), span=self._span(meta))

    def paid_then_free(self, meta, c):
        return ast.PaidThenFree(self._count(c[0]), c[1], self._count(c[2]), span=self._span(meta))

    def earn_per_spend(self, meta, c):
        return ast.EarnPerSpend(c[0], c[1], span=self._span(meta))

    def earn_per_event(self, meta, c):
        return ast.EarnPerEvent(c[0], c[1], span=self._span(meta))

    def counted_event(self, meta, c):
        return str(c[0])

    def earn_fixed(self, meta, c):
        return ast.EarnFixed(c[0], span=self._span(meta))

    def earn_multiplier(self, meta, c):
        return ast.EarnMultiplier(self._multiplier(c[0]), str(c[1]) if c[1] is not None else None, span=self._span(meta))

    def give_reward(self, meta, c):
        return ast.GiveReward(self._text(c[0]), span=self._span(meta))

    def discount(self, meta, c):
        return ast.Discount(self._percent(c[0]), span=self._span(meta))

    def bundle_buy_get(self, meta, c):  # the BUY_THEN_GET token (`, get`), when written, is among the children
        c = [x for x in c if not (isinstance(x, Token) and x.type == "BUY_THEN_GET")]
        return ast.BundleBuyGet(self._count(c[0]), c[1], self._count(c[2]), span=self._span(meta))

    def bundle_price_of(self, meta, c):
        return ast.BundlePriceOf(self._count(c[0]), c[1], self._count(c[2]), span=self._span(meta))

    def discount_scale(self, meta, c):
        return ast.DiscountScale(c[0], tuple(c[1:]), span=self._span(meta))

    def scale_step(self, meta, c):
        return ast.ScaleStep(self._percent(c[0]), c[1], span=self._span(meta))

    # triggers
    def on_signup(self, meta, c):
        return ast.OnSignup(span=self._span(meta))

    def on_first_purchase(self, meta, c):
        return ast.OnFirstPurchase(span=self._span(meta))

    def on_action(self, meta, c):
        return ast.OnAction(self._text(c[0]), span=self._span(meta))

    def on_nth_visit(self, meta, c):
        return ast.OnNthVisit(self._ordinal(c[0]), span=self._span(meta))

    def on_each_birthday(self, meta, c):
        return ast.OnEachBirthday(span=self._span(meta))

    def on_each_anniversary(self, meta, c):
        return ast.OnEachAnniversary(span=self._span(meta))

    def on_reaching_tier(self, meta, c):
        return ast.OnReachingTier(self._text(c[0]), span=self._span(meta))

    def on_referring(self, meta, c):
        return ast.OnReferring(c[0], span=self._span(meta))

    def on_referred(self, meta, c):
        return ast.OnReferred(c[0], span=self._span(meta))

    def on_nth_purchase(self, meta, c):
        return ast.OnNthPurchase(self._ordinal(c[0]), span=self._span(meta))

    def after_every_visits(self, meta, c):
        return ast.AfterEveryVisits(self._count(c[0]), span=self._span(meta))

    def after_every_spend(self, meta, c):
        return ast.AfterEverySpend(c[0], span=self._span(meta))

    def goal_count(self, meta, c):
        return ast.GoalCount(self._count(c[0]), c[1], c[2] is not None, span=self._span(meta))

    def goal_counted(self, meta, c):
        word = str(c[0])
        return word if word.endswith("s") else word + "s"  # `1 visit`: the node holds the plural

    def different_days(self, meta, c):
        return True

    def goal_in_calendar(self, meta, c):
        return ast.GoalInCalendar(c[0], span=self._span(meta))

    def after_streak(self, meta, c):
        return ast.AfterStreak(c[0], self._count(c[1]), c[2], span=self._span(meta))

    def streak_counted(self, meta, c):
        return str(c[0])

    def periods(self, meta, c):
        return _singular(str(c[0]))

    # conditions
    def date_window(self, meta, c):
        return ast.DateWindow(c[0], c[1], span=self._span(meta))

    def until_date(self, meta, c):
        return ast.UntilDate(c[0], span=self._span(meta))

    def on_items(self, meta, c):
        return ast.OnItems(c[0], span=self._span(meta))

    def on_categories(self, meta, c):
        return ast.OnCategories(c[0], span=self._span(meta))

    def on_weekdays(self, meta, c):
        return ast.OnWeekdays(tuple(c), span=self._span(meta))

    def weekday(self, meta, c):
        return str(c[0])

    def between_hours(self, meta, c):
        return ast.BetweenHours(self._time(c[0]), self._time(c[1]), span=self._span(meta))

    def for_segments(self, meta, c):
        return ast.ForSegments(c[0], span=self._span(meta))

    def for_tiers(self, meta, c):
        return ast.ForTiers(c[0], span=self._span(meta))

    def in_stores(self, meta, c):
        return ast.InStores(c[0], span=self._span(meta))

    def in_regions(self, meta, c):
        return ast.InRegions(c[0], span=self._span(meta))

    def on_channels(self, meta, c):
        return ast.OnChannels(c[0], span=self._span(meta))

    def in_birthday_month(self, meta, c):
        return ast.InBirthdayMonth(span=self._span(meta))

    def on_birthday(self, meta, c):
        return ast.OnBirthday(span=self._span(meta))

    def when_condition(self, meta, c):
        return ast.When(c[0], span=self._span(meta))

    # limits
    def cap(self, meta, c):
        return ast.Cap(c[0], c[1], span=self._span(meta))

    def cap_once(self, meta, c):
        return ast.CapOnce(span=self._span(meta))

    def cap_times(self, meta, c):
        return ast.CapTimes(self._count(c[0]), span=self._span(meta))

    def cap_points(self, meta, c):
        return c[0]

    def cap_money(self, meta, c):
        return c[0]

    def cap_param(self, meta, c):
        return c[0]

    def budget(self, meta, c):
        return ast.Budget(c[0], span=self._span(meta))

    # stacking
    def exclusive(self, meta, c):
        return ast.Exclusive(span=self._span(meta))

    def priority(self, meta, c):
        return ast.Priority(self._count(c[0]), span=self._span(meta))

    def best_of(self, meta, c):
        return ast.BestOf(span=self._span(meta))

    # selectors
    def select_items(self, meta, c):
        return ast.ItemSelector("items", c[0], span=self._span(meta))

    def select_any_item(self, meta, c):
        return ast.ItemSelector("any", (), span=self._span(meta))

    def select_categories(self, meta, c):
        return ast.ItemSelector("categories", c[0], span=self._span(meta))

    def string_list(self, meta, c):
        return tuple(self._text(t) for t in c)

    # tiers
    def tiers_decl(self, meta, c):
        metric = c[0]
        tiers = tuple(x for x in c[1:-1])
        return ast.TiersDecl(metric, tiers, c[-1], span=self._span(meta))

    def tier_decl(self, meta, c):
        benefits = tuple(x for x in c[2:] if x is not None)
        return ast.TierDecl(self._text(c[0]), c[1], benefits, span=self._span(meta))

    def benefit_multiplier(self, meta, c):
        unit = str(c[1]) if c[1] is not None else None
        return ast.BenefitMultiplier(self._multiplier(c[0]), unit, span=self._span(meta))

    def benefit_discount(self, meta, c):
        return ast.BenefitDiscount(self._percent(c[0]), span=self._span(meta))

    def benefit_perk(self, meta, c):
        return ast.BenefitPerk(self._text(c[0]), c[1], span=self._span(meta))

    def benefit_fee(self, meta, c):
        return ast.BenefitFee(c[0], c[1], span=self._span(meta))

    def downgrade(self, meta, c):
        return ast.Downgrade(c[0], c[1], span=self._span(meta))

    def metric(self, meta, c):
        lifetime_tok, base, window = c
        kind, unit = base
        return ast.Metric(kind, unit, lifetime_tok is not None, window, span=self._span(meta))

    def spend_metric(self, meta, c):
        return ("spend", None)

    def visits_metric(self, meta, c):
        return ("visits", None)

    def earned_metric(self, meta, c):
        return ("earned", str(c[0]))

    def rolling_window(self, meta, c):
        return ast.RollingWindow(c[0], span=self._span(meta))

    def calendar_window(self, meta, c):
        return ast.CalendarWindow(c[0], span=self._span(meta))

    # draws
    def draw_decl(self, meta, c):
        return ast.DrawDecl(self._text(c[0]), tuple(c[1:]), span=self._span(meta))

    def draw_schedule(self, meta, c):
        return ast.DrawSchedule(c[0], span=self._span(meta))

    def draw_prize(self, meta, c):
        return ast.DrawPrize(c[0], span=self._span(meta))

    def draw_winners(self, meta, c):
        return ast.DrawWinners(self._count(c[0]), span=self._span(meta))

    def draw_rate(self, meta, c):
        return ast.DrawRate(self._count(c[0]), c[1], span=self._span(meta))

    # expressions
    def or_expr(self, meta, c):
        return ast.Or(tuple(c), span=self._span(meta))

    def and_expr(self, meta, c):
        return ast.And(tuple(c), span=self._span(meta))

    def not_(self, meta, c):
        return ast.Not(c[0], span=self._span(meta))

    def comparison(self, meta, c):
        return ast.Comparison(c[0], str(c[1]), c[2], span=self._span(meta))

    def has_item(self, meta, c):
        return ast.HasItem(self._text(c[0]), span=self._span(meta))

    def has_category(self, meta, c):
        return ast.HasCategory(self._text(c[0]), span=self._span(meta))

    def is_first_purchase(self, meta, c):
        return ast.IsFirstPurchase(span=self._span(meta))

    def order_total(self, meta, c):
        return ast.Measure("order_total", None, span=self._span(meta))

    def order_items(self, meta, c):
        return ast.Measure("order_items", None, span=self._span(meta))

    def lifetime_spend(self, meta, c):
        return ast.Measure("lifetime_spend", None, span=self._span(meta))

    def visit_count(self, meta, c):
        return ast.Measure("visits", None, span=self._span(meta))

    def point_balance(self, meta, c):
        return ast.Measure("balance", str(c[0]), span=self._span(meta))

    # values
    def quantity(self, meta, c):
        v = c[0]
        if isinstance(v, Token):  # PERCENT
            return self._percent(v)
        return v

    def money(self, meta, c):
        return ast.Money(self._decimal(c[0]), str(c[1]), span=self._span(meta))

    def points_amount(self, meta, c):
        return ast.PointsAmount(self._decimal(c[0]), str(c[1]), span=self._span(meta))

    def count(self, meta, c):
        return ast.Count(self._decimal(c[0]), span=self._span(meta))

    def duration(self, meta, c):
        return ast.Duration(self._decimal(c[0]), _singular(c[1]), span=self._span(meta))

    def duration_unit(self, meta, c):
        return str(c[0])

    def period(self, meta, c):
        return str(c[0])

    def date(self, meta, c):
        tok = c[0]
        text = str(tok)
        try:
            value: Optional[_dt.date] = _dt.date.fromisoformat(text)
        except ValueError:
            value = None
            self.problems.append(
                Diagnostic(
                    "LOY005",
                    f"{text} is not a date in the calendar",
                    self._tspan(tok),
                    hint="write dates as YYYY-MM-DD, e.g. 2025-06-01",
                )
            )
        return ast.DateValue(value, text, span=self._tspan(tok))

    # token helpers
    def _percent(self, tok):
        if isinstance(tok, ast.ParamRef):
            return tok
        return ast.Percent(self._decimal(tok), span=self._tspan(tok))

    def _multiplier(self, tok):
        if isinstance(tok, ast.ParamRef):
            return tok
        return ast.Multiplier(self._decimal(tok), span=self._tspan(tok))

    def _count(self, tok):
        if isinstance(tok, ast.ParamRef):
            return tok
        return ast.Count(self._decimal(tok), span=self._tspan(tok))

    def _ordinal(self, tok):
        if isinstance(tok, ast.ParamRef):
            return tok
        number = str(tok)[:-2]
        value = int(number) if self._digits_fit(tok, number) else 0
        return ast.Ordinal(value, span=self._tspan(tok))

    def _time(self, tok: Token) -> ast.TimeOfDay:
        hour_text, minute_text = str(tok).split(":")
        hour, minute = int(hour_text), int(minute_text)
        if not (0 <= hour <= 24 and 0 <= minute <= 59) or (hour == 24 and minute != 0):
            self.problems.append(
                Diagnostic(
                    "LOY006",
                    f"{tok} is not a time of day",
                    self._tspan(tok),
                    hint="write times as HH:MM between 00:00 and 24:00",
                )
            )
            hour, minute = 0, 0
        return ast.TimeOfDay(hour, minute, span=self._tspan(tok))


def _is_hex(s: str) -> bool:
    return len(s) == 4 and all(ch in "0123456789abcdefABCDEF" for ch in s)
