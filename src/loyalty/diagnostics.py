"""Diagnostics: what every stage reports about a program, and how it is shown.

A diagnostic has a stable code (`LOY201`), a severity, a span, a message and,
where we can say what to do, a hint. Codes are registered once in `CODES`;
docs/errors.md documents each of them and tests check the two agree.

Code ranges: LOY0xx syntax, LOY1xx names, LOY2xx units and values,
LOY3xx meaning (rules that cannot fire, tiers out of order...), LOY4xx limits.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Iterable, Optional

from loyalty.spans import Span
from loyalty.terminal import masked, visible


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    severity: Severity
    title: str


def _e(title: str) -> CodeInfo:
    return CodeInfo(Severity.ERROR, title)


def _w(title: str) -> CodeInfo:
    return CodeInfo(Severity.WARNING, title)


# The registry of every diagnostic code. Never renumber: editors and CI scripts match on them.
CODES: dict[str, CodeInfo] = {
    # syntax
    "LOY001": _e("syntax error"),
    "LOY002": _e("unexpected end of file"),
    "LOY003": _e("unrecognised character"),
    "LOY004": _e("invalid string escape"),
    "LOY005": _e("invalid date"),
    "LOY006": _e("invalid time of day"),
    "LOY007": _e("file is not valid UTF-8 text"),
    "LOY008": _w("invisible or text-direction character"),
    # names
    "LOY101": _e("unknown name"),
    "LOY102": _e("name defined twice"),
    "LOY103": _e("unknown point kind"),
    "LOY104": _e("missing program declaration"),
    "LOY105": _e("setting given twice"),
    "LOY106": _e("missing required setting"),
    "LOY107": _e("name is empty or holds a control character"),
    # units and values
    "LOY201": _e("units do not match"),
    "LOY202": _e("currency differs from the program's"),
    "LOY203": _e("percentage out of range"),
    "LOY204": _e("ordinal or count must be a positive whole number"),
    "LOY205": _e("duration must be positive"),
    "LOY206": _e("multiplier must be greater than zero"),
    "LOY207": _e("amount must be positive"),
    "LOY208": _e("too many decimals for the currency"),
    "LOY209": _e("unknown time zone"),
    "LOY210": _e("unknown currency code"),
    "LOY211": _e("time zone of this machine only"),
    "LOY212": _e("a streak of one period"),
    "LOY214": _e("bundle gives nothing free"),
    "LOY215": _e("a priority that is not a whole number from 1"),
    "LOY216": _e("a stock or a code's uses of 0"),
    "LOY217": _e("not a code"),
    "LOY218": _e("a pre-signup window without `members join at signup`"),
    "LOY219": _e("tier fee that buys nothing"),
    "LOY220": _e("`best of` over both discounts and gifts"),
    # meaning
    "LOY301": _e("rule has no action"),
    "LOY302": _e("rule has more than one action"),
    "LOY303": _e("clause does not fit the rule's action"),
    "LOY304": _e("tier thresholds must strictly increase"),
    "LOY305": _e("tier threshold does not match the tiers' metric"),
    "LOY306": _e("date range is empty"),
    "LOY307": _e("campaign or rule dates lie outside the program's"),
    "LOY308": _e("draw is incomplete"),
    "LOY309": _w("rule can never fire"),
    "LOY310": _w("reward is never given"),
    "LOY311": _e("more than one trigger"),
    "LOY312": _w("point kind has no cost"),
    "LOY313": _e("discount scale steps must strictly increase"),
    "LOY314": _w("points that nothing can redeem"),
    "LOY315": _w("points per visit out of line with points per spend"),
    "LOY316": _w("win-back fires after the points have expired"),
    "LOY317": _w("lifetime of a reward no rule gives"),
    "LOY318": _w("parameter is never used"),
    "LOY319": _w("goal window too short for its count"),
    "LOY320": _w("goal can never be met"),
    "LOY323": _w("two discounts on one line, and no stacking policy"),
    "LOY324": _w("a stacking clause that decides nothing"),
    "LOY325": _w("two discounts (or two gifts) with the same priority"),
    "LOY326": _w("code that no rule requires"),
    "LOY327": _w("stock on a reward no rule gives"),
    "LOY328": _w("a pre-signup window longer than a year"),
    "LOY329": _w("paid tier that gives nothing"),
    "LOY330": _w("two gifts on one order, and no stacking policy"),
    "LOY321": _w("a referral reward with no qualifying purchase"),
    "LOY322": _w("a referral's qualifying window longer than the program runs"),
    # limits
    "LOY401": _e("program too large"),
    "LOY402": _e("nesting too deep"),
    "LOY403": _e("number has too many digits"),
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    hint: Optional[str] = None

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            **self.span.to_json(),
        }
        if self.hint:
            out["hint"] = self.hint
        return out


class LoyaltyError(Exception):
    """Raised when a program cannot be used; carries every diagnostic found, sorted."""

    def __init__(self, diagnostics: Iterable[Diagnostic], source: Optional[str] = None):
        self.diagnostics = sort_diagnostics(diagnostics)
        self.source = source
        first = next((d for d in self.diagnostics if d.is_error), None) or (
            self.diagnostics[0] if self.diagnostics else None
        )
        summary = f"{first.span}: {first.message}" if first else "invalid program"
        more = len(self.diagnostics) - 1
        super().__init__(summary + (f" (and {more} more)" if more > 0 else ""))

    def render(self, color: bool = False) -> str:
        return render_all(self.diagnostics, self.source or "", color=color)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.sort_key(), d.hint): d for d in diagnostics}
    return [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1] or ""))]


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


_MAX_RENDERED_LINE = 200


def render(diagnostic: Diagnostic, source: str, color: bool = False) -> str:
    """`file:line:col: error[LOY201]: message`, the source line, a caret, the hint."""
    d = diagnostic
    sev = d.severity.value
    if color:
        sev_colored = f"\x1b[1;31m{sev}\x1b[0m" if d.is_error else f"\x1b[1;33m{sev}\x1b[0m"
    else:
        sev_colored = sev
    head = f"{visible(str(d.span))}: {sev_colored}[{d.code}]: {visible(d.message)}"
    lines = [head]
    # lines as the parser counts them: split at \n only (splitlines also splits at \f, U+2028...)
    text_lines = source.split("\n") if source else []
    if 1 <= d.span.line <= len(text_lines):
        line_text = text_lines[d.span.line - 1].removesuffix("\r").replace("\t", " ")
        start = max(d.span.column - 1, 0)
        if d.span.end_line == d.span.line:
            width = max(d.span.end_column - d.span.column, 1)
        else:
            width = max(len(line_text) - start, 1)
        # very long lines are cut around the caret so a report stays readable
        offset = 0
        if len(line_text) > _MAX_RENDERED_LINE:
            offset = max(0, start - _MAX_RENDERED_LINE // 2)
            line_text = line_text[offset : offset + _MAX_RENDERED_LINE]
            start -= offset
            width = min(width, max(len(line_text) - start, 1))
        gutter = str(d.span.line)
        pad = " " * len(gutter)
        caret = "^" * width
        if color:
            caret = f"\x1b[1;31m{caret}\x1b[0m" if d.is_error else f"\x1b[1;33m{caret}\x1b[0m"
        lines.append(f"{pad} |")
        lines.append(f"{gutter} | {masked(line_text)}")
        lines.append(f"{pad} | {' ' * start}{caret}")
    if d.hint:
        lines.append(f"  = hint: {visible(d.hint)}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], source: str, color: bool = False) -> str:
    return "\n\n".join(render(d, source, color) for d in diagnostics)


def diagnostics_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, sort_keys=True)
