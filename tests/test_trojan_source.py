"""Characters that make a program read differently from what it is ("Trojan Source").

Bidi overrides, isolates and marks reorder the text around them; zero-width and other invisible
characters hide text, or make two names that look alike differ. In a string or a comment they
passed `check` silently. The checker now warns (LOY008) at the line and column of the character,
naming it. A string escape for half of a surrogate pair (\\uD800) passed `check` and then failed
every other command with UnicodeEncodeError; it is now an error (LOY004) at the escape.
"""

from __future__ import annotations

import unicodedata

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.diagnostics import render
from loyalty.frontend import check_text

FILE = "t.loyalty"
HEAD = 'program "Cafe" {\n  currency NOK\n}\npoints "points" { cost 0.01 NOK each }\n'  # 4 lines

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e",
        "\u200f", "\u061c"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u2062", "\U000e0041"]


def warnings(text: str):
    result = check_text(text, FILE)
    return [d for d in result.diagnostics if d.code == "LOY008"], result


@pytest.mark.parametrize("ch", BIDI + INVISIBLE, ids=lambda ch: f"U+{ord(ch):04X}")
def test_a_hidden_character_in_a_comment_is_a_located_warning_naming_it(ch):
    text = HEAD + f'# only for admins {ch}and staff\nrule "r" {{ earn 1 point per 1 NOK }}\n'
    [d], result = warnings(text)
    assert (d.span.line, d.span.column, d.span.end_column) == (5, 19, 20)
    assert d.severity.value == "warning" and result.ok  # a warning: the program still runs
    name = f"U+{ord(ch):04X} {unicodedata.name(ch)}"
    assert name in d.hint
    assert "comment" in d.message


@pytest.mark.parametrize("ch", BIDI + INVISIBLE, ids=lambda ch: f"U+{ord(ch):04X}")
def test_a_hidden_character_in_a_name_is_a_located_warning_naming_it(ch):
    text = HEAD + f'rule "admin{ch}" {{ earn 1 point per 1 NOK }}\n'
    [d], result = warnings(text)
    assert (d.span.line, d.span.column) == (5, 12)
    assert f"U+{ord(ch):04X} {unicodedata.name(ch)}" in d.hint
    assert "string" in d.message and result.ok


def test_the_trojan_source_comment_is_one_warning_per_character_and_rendered_masked():
    # the "stretched string" / "commenting out" pattern: the comment hides a closing brace
    text = HEAD + 'rule "r" { earn 1 point per 1 NOK }  # \u202e } \u2066if admin\u2069 \u2066 begin\n'
    found, _ = warnings(text)
    assert [(d.span.line, d.span.column) for d in found] == [(5, 40), (5, 44), (5, 53), (5, 55)]
    shown = render(found[0], text)
    assert shown.split("\n")[0] == (f"{FILE}:5:40: warning[LOY008]: a comment holds a character that changes the "
                                    "direction of the text around it")
    assert "\u202e" not in shown and "\u2066" not in shown
    assert shown.split("\n")[3].index("^") == shown.split("\n")[2].index("\ufffd")
    assert "= hint: U+202E RIGHT-TO-LEFT OVERRIDE" in shown


def test_a_run_of_hidden_characters_is_one_warning_over_the_run():
    text = HEAD + 'rule "free\u200b\u200b\u200c coffee" { earn 1 point per 1 NOK }\n'
    [d], _ = warnings(text)
    assert (d.span.column, d.span.end_column) == (11, 14)
    assert "U+200B ZERO WIDTH SPACE" in d.hint and "U+200C ZERO WIDTH NON-JOINER" in d.hint
    assert "3 of them" in d.message


def test_a_file_full_of_them_gets_a_bounded_number_of_warnings():
    from loyalty.checker.hidden import MAX_WARNINGS

    text = HEAD + 'rule "r" { earn 1 point per 1 NOK }\n' + "# a\u200bb\n" * (MAX_WARNINGS + 5)
    found, _ = warnings(text)
    assert len(found) == MAX_WARNINGS
    assert [d.span.line for d in found] == list(range(6, 6 + MAX_WARNINGS))
    assert found[-1].message.endswith("(and 5 more places in this file)")


def test_ordinary_text_in_any_script_and_escapes_are_not_warned_about():
    names = ["Bygg & Hjem", "Kaffe på hjørnet", "مقهى", "קפה", "カフェ", "☕ club", "soft\\u00ADhyphen",
             "rlo \\u202E written as an escape"]
    text = HEAD + "".join(f'segment "{n}"\n' for n in names) + "# a comment in æøå and 😀\n"
    found, result = warnings(text)
    assert found == [] and result.ok, [d.message for d in result.diagnostics]


def test_loyalty_check_strict_fails_on_a_hidden_character_and_shows_where(tmp_path):
    path = tmp_path / "p.loyalty"
    path.write_text(HEAD + 'rule "r" { earn 1 point per 1 NOK }  # \u202e }\n', encoding="utf-8")
    plain = CliRunner().invoke(cli, ["check", str(path)])
    strict = CliRunner().invoke(cli, ["check", "--strict", str(path)])
    assert plain.exit_code == 0 and strict.exit_code == 1
    assert f"{path}:5:40: warning[LOY008]" in strict.stderr
    assert "\u202e" not in strict.stderr


# ------------------------------------------------------------------ surrogate escapes


@pytest.mark.parametrize("escape", ["\\uD800", "\\udbff", "\\uDC00", "\\uDFFF"])
def test_a_surrogate_escape_is_an_error_at_the_escape(escape):
    text = HEAD + f'rule "bad {escape} name" {{ earn 1 point per 1 NOK }}\n'
    result = check_text(text, FILE)
    assert not result.ok
    [d] = result.diagnostics
    assert (d.code, d.span.line, d.span.column, d.span.end_column) == ("LOY004", 5, 11, 17)
    assert escape in d.message and "surrogate" in d.message


def test_a_surrogate_pair_written_as_two_escapes_is_two_errors():
    text = HEAD + 'reward "smile \\uD83D\\uDE00" is a gift "mug"\n'
    result = check_text(text, FILE)
    assert [(d.code, d.span.column) for d in result.diagnostics] == [("LOY004", 15), ("LOY004", 21)]
    assert "U+1F600" not in result.diagnostics[0].hint  # the hint says how, not which
    assert "write the character itself" in result.diagnostics[0].hint


def test_escapes_next_to_the_surrogates_still_read():
    text = HEAD + 'segment "\\uD7FF\\uE000\\u00e9"\n'
    result = check_text(text, FILE)
    assert result.ok, [d.message for d in result.diagnostics]


@pytest.mark.parametrize("command", [["check"], ["compile"], ["fmt", "--check"], ["simulate"], ["explain"]])
def test_every_command_refuses_a_surrogate_escape_with_exit_1_and_the_place(command, tmp_path):
    program = tmp_path / "p.loyalty"
    program.write_text(HEAD + 'rule "bad \\uD800 name" { earn 1 point per 1 NOK }\n', encoding="utf-8")
    history = tmp_path / "h.csv"
    history.write_text("member,time,amount\nM1,2025-01-01,10\n", encoding="utf-8")
    args = [*command, str(program)]
    if command[0] in ("simulate", "explain"):
        args += [str(history), "--jobs", "1"] if command[0] == "simulate" else [str(history), "--member", "M1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert f"{program}:5:11: error[LOY004]" in result.output
