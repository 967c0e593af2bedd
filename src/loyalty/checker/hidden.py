"""LOY008: characters that make a program read differently from what it is.

Bidi overrides, embeddings, isolates and marks reorder the text around them as an editor or a code
review shows it ("Trojan Source", CVE-2021-42574): a comment can seem to end where it does not, a
name can seem to be another. Zero-width and other invisible characters hide text, or make two names
that look the same differ. The grammar admits them only inside strings and comments (anywhere else
they are LOY003), so the checker looks for them in the source text of a program that parsed.

A warning, not an error: a right-to-left name may need a mark. Written as an escape (`\\u200F`) it
is visible in the source and not warned about; `loyalty fmt` writes string contents that way.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

from loyalty.diagnostics import Diagnostic
from loyalty.spans import Span
from loyalty.syntax import ast

# reorder the text around them
BIDI = frozenset(
    [0x061C, 0x200E, 0x200F]  # ARABIC LETTER MARK, LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
    + list(range(0x202A, 0x202F))  # LRE, RLE, PDF, LRO, RLO
    + list(range(0x2066, 0x206A))  # LRI, RLI, FSI, PDI
)
# show as nothing
INVISIBLE = frozenset(
    [0x00AD, 0x180E, 0xFEFF]  # SOFT HYPHEN, MONGOLIAN VOWEL SEPARATOR, ZERO WIDTH NO-BREAK SPACE (a BOM inside)
    + list(range(0x200B, 0x200E))  # ZERO WIDTH SPACE, NON-JOINER, JOINER
    + list(range(0x2060, 0x2065))  # WORD JOINER, invisible function application, times, separator, plus
    + list(range(0xE0000, 0xE0080))  # tags: invisible copies of ASCII ("ASCII smuggling")
)
HIDDEN = BIDI | INVISIBLE

_RUN = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(HIDDEN)) + "]+")

MAX_WARNINGS = 20  # a file full of them gets this many, the last saying how many more


def character_name(ch: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"


def hidden_characters(program: ast.Program, source: str) -> list[Diagnostic]:
    """A LOY008 warning for each run of hidden characters in the strings and comments of `source`, the text
    `program` was parsed from, at the line and column of the run's first character."""
    runs = list(_RUN.finditer(source))
    if not runs:
        return []
    file = program.span.file
    comment_starts = sorted(c.span.start for c in program.comments)
    comment_ends = {c.span.start: c.span.end for c in program.comments}
    out: list[Diagnostic] = []
    line, line_start, scanned = 1, 0, 0
    for match in runs[:MAX_WARNINGS]:
        start, end = match.span()
        # lines as the parser counts them: split at \n only
        newlines = source.count("\n", scanned, start)
        if newlines:
            line += newlines
            line_start = source.rfind("\n", scanned, start) + 1
        scanned = start
        column = start - line_start + 1
        i = bisect.bisect_right(comment_starts, start) - 1
        in_comment = i >= 0 and start < comment_ends[comment_starts[i]]
        out.append(_warning(match.group(), "comment" if in_comment else "string",
                            Span(file, line, column, line, column + (end - start), start, end)))
    if len(runs) > MAX_WARNINGS:
        last = out[-1]
        out[-1] = Diagnostic(last.code, f"{last.message} (and {len(runs) - MAX_WARNINGS} more places in this file)",
                             last.span, last.hint)
    return out


def _warning(run: str, where: str, span: Span) -> Diagnostic:
    bidi = any(ord(ch) in BIDI for ch in run)
    if len(run) == 1:
        what = "a character that changes the direction of the text around it" if bidi else "an invisible character"
    else:
        what = ("characters that change the direction of the text around them" if bidi
                else "invisible characters") + f" ({len(run)} of them in a row)"
    distinct = list(dict.fromkeys(run))
    names = ", ".join(character_name(ch) for ch in distinct[:3]) + (", ..." if len(distinct) > 3 else "")
    if where == "comment":
        advice = "the line may read differently from what it is (Trojan Source): remove it from the comment"
    elif all(ord(ch) <= 0xFFFF for ch in run):
        escapes = "".join(f"\\u{ord(ch):04X}" for ch in distinct[:3])
        advice = (f"a name may look like another, or the line read differently (Trojan Source): remove it, or, "
                  f"if the name needs it, write it as an escape ({escapes}), as `loyalty fmt` does")
    else:
        advice = "a name may look like another, or the line read differently (Trojan Source): remove it"
    return Diagnostic("LOY008", f"a {where} holds {what}", span, hint=f"{names}; {advice}")
