"""Text from a user's files, made safe to show on a terminal: the one place that decides how.

Names in a program, member ids, items and order ids in a history, scenario names, file names and
column headers are data. A terminal acts on some characters in them: ESC starts a control sequence
(clear the screen, set the window title, OSC 8 hyperlinks), BEL rings, C1 controls (U+0080-U+009F)
are control sequences of their own on some terminals, bidi overrides and isolates reorder the line
("Trojan Source"), zero-width characters hide text. rich, which draws the reports, reads `[...]` as
markup: `[/x]` crashes it, `[link=...]` makes a hyperlink, `[beta]` vanishes.

So every command shows such text through `visible`, and hands it to rich only inside a `Text` built
by `plain`, which rich never reads as markup or emoji codes. Diagnostics, the simulate, compare and
explain reports, `loyalty test`, `loyalty fmt` and every error message use these two functions.
JSON output is not changed: JSON escapes control characters itself.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from rich.text import Text

# Unicode categories shown as escapes: Cc (C0 controls, DEL, C1 controls), Cf (format characters:
# bidi overrides and isolates, zero-width characters, the soft hyphen, tags), Cs (lone surrogates,
# which cannot even be written as UTF-8), Zl and Zp (line and paragraph separators). The formatter
# writes the same categories as \uXXXX escapes in string literals (syntax/formatter.py).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_unsafe(ch: str) -> bool:
    """A character a terminal would act on, or that would hide or reorder text."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def visible(text: str, keep: str = "") -> str:
    """`text` with every unsafe character shown as its Python escape: ESC as \\x1b, TAB as \\t, a newline
    as \\n, U+202E as \\u202e, a lone surrogate as \\udc80. Everything else, including `[` and `\\`, is
    kept as it is, and so are the characters in `keep` (a tab where it is layout). Apply it to the data,
    not to a layout of several lines."""
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(ascii(ch)[1:-1] if is_unsafe(ch) and ch not in keep else ch for ch in text)


def masked(line: str) -> str:
    """A line of a source file, safe to print with one column per character (so a caret under it still
    points at the right place): each unsafe character becomes U+FFFD."""
    if line.isprintable():
        return line
    return "".join("\ufffd" if is_unsafe(ch) else ch for ch in line)


Part = Union[str, "tuple[str, str]"]


def plain(*parts: Part) -> "Text":
    """A rich `Text` of `parts`, each a string or a (string, style) pair, every string shown through
    `visible`. rich prints a Text as it is: `[/x]` stays `[/x]`, `:smile:` stays `:smile:`. Our own
    words pass through `visible` unchanged, so a line may mix them with data freely."""
    from rich.text import Text

    text = Text()
    for part in parts:
        if isinstance(part, tuple):
            text.append(visible(str(part[0])), style=part[1])
        else:
            text.append(visible(str(part)))
    return text
