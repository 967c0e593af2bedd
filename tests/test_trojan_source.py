"""Characters that make a program read differently from what it is, or cannot be written out.

A string escape for half of a surrogate pair (\\uD800) passed `check` and then failed
every other command with UnicodeEncodeError; it is now an error (LOY004) at the escape.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.frontend import check_text

FILE = "t.loyalty"
HEAD = 'program "Cafe" {\n  currency NOK\n}\npoints "points" { cost 0.01 NOK each }\n'  # 4 lines

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
