"""User data reaches the terminal shown, never obeyed.

Names in a program, member ids, items and order ids in a history, scenario names and file names are
data: rich must not read them as markup ("[/x]" crashed the report with exit 3, "[link=...]" made a
hyperlink, "[beta]" vanished), and a terminal must not act on the control characters in them (ESC
sequences, OSC titles and hyperlinks, C1 controls, bidi overrides). Every command shows them through
`loyalty.terminal.visible`: ESC as the four characters \\x1b, U+202E as \\u202e.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

HOSTILE = Path(__file__).resolve().parent / "hostile" / "histories"
MARKUP_PROGRAM = HOSTILE / "markup_names.loyalty"
MARKUP_HISTORY = HOSTILE / "markup_names.csv"
ESCAPE_HISTORY = HOSTILE / "escape_in_member_ids.csv"
OSLO = HOSTILE / "oslo.loyalty"

MARKUP_NAMES = ["Markup [/program] [beta]", "[/x]", "[link=https://example.com]click me[/link]", "[beta]",
                "[/reward]", "[dim]base", "[blink]draw[/blink]"]
ESCAPED_MEMBERS = {  # as in the file -> as shown
    "\x1b[2J\x1b]0;pwned\x07M1": "\\x1b[2J\\x1b]0;pwned\\x07M1",
    "\x1b]8;;https://example.com\x1b\\M2\x1b]8;;\x1b\\": "\\x1b]8;;https://example.com\\x1b\\M2\\x1b]8;;\\x1b\\",
    "\x9b31mM3": "\\x9b31mM3",
    "M4\u202e4M": "M4\\u202e4M",
}


def invoke(*args, **kwargs):
    result = CliRunner().invoke(cli, [str(a) for a in args], **kwargs)
    assert "Traceback" not in result.output
    assert "internal error" not in result.output, result.output
    return result


def raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on or hide, other than the line breaks of the layout."""
    return sorted({hex(ord(ch)) for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")})


# ------------------------------------------------------------------ the one function


@pytest.mark.parametrize("raw, shown", [
    ("plain name", "plain name"),
    ("Bygg & Hjem æøå ☕", "Bygg & Hjem æøå ☕"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("bell\x07", "bell\\x07"),
    ("tab\there", "tab\\there"),
    ("two\nlines", "two\\nlines"),
    ("del\x7f", "del\\x7f"),
    ("c1\x9b", "c1\\x9b"),
    ("bidi\u202eevil\u2066", "bidi\\u202eevil\\u2066"),
    ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    ("line\u2028sep", "line\\u2028sep"),
    ("lone \udc80 surrogate", "lone \\udc80 surrogate"),
    ("[/x] [link=https://x]y[/link]", "[/x] [link=https://x]y[/link]"),  # markup is rich's business: see plain()
])
def test_visible_shows_every_control_character_as_its_escape(raw, shown):
    from loyalty.terminal import visible

    assert visible(raw) == shown
    assert not raw_controls(visible(raw))
    visible(raw).encode("utf-8")  # a lone surrogate can no longer fail the write


def test_plain_text_is_never_markup_nor_emoji():
    from rich.console import Console

    from loyalty.terminal import plain

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=200)
    console.print(plain(("[/x]", "bold"), " [link=https://example.com]click[/link] :smile: \x1b[2J"))
    shown = out.getvalue()
    assert "[/x] [link=https://example.com]click[/link] :smile: \\x1b[2J" in re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "\x1b]8" not in shown


# ------------------------------------------------------------------ simulate


def test_simulate_shows_names_that_look_like_markup_as_written():
    result = invoke("simulate", MARKUP_PROGRAM, MARKUP_HISTORY, "--jobs", "1")
    assert result.exit_code == 0, result.output
    for name in MARKUP_NAMES + ["[/tier] :smile:", "[/m]"]:  # [/m] won the draw
        assert name in result.stdout, name


def test_the_terminal_report_makes_no_hyperlink_and_sends_only_colours():
    from rich.console import Console

    from loyalty.simulate.render import render_terminal
    from loyalty.simulate.run import load_program, plan_for, read_inputs, run_and_report

    for program, history in ((MARKUP_PROGRAM, MARKUP_HISTORY), (OSLO, ESCAPE_HISTORY)):
        prog = load_program(str(program))
        inputs = read_inputs(prog, str(history), None, None, None, None, "stop")
        _, report = run_and_report(plan_for(prog, str(program), inputs, None), inputs, False)
        out = io.StringIO()
        render_terminal(report, Console(file=out, force_terminal=True, color_system="truecolor", width=200),
                        prog.exponent)
        shown = out.getvalue()
        assert "\x1b]" not in shown  # no OSC: no hyperlink, no window title
        assert not raw_controls(re.sub(r"\x1b\[[0-9;]*m", "", shown))  # nothing but colour sequences


# ------------------------------------------------------------------ compare


def test_compare_shows_markup_names_and_member_ids_as_written(tmp_path):
    # the new program drops "[beta]": every member who bought bread gets less
    new = tmp_path / "new.loyalty"
    new.write_text(MARKUP_PROGRAM.read_text(encoding="utf-8").replace('rule "[beta]"', 'rule "[/beta]"')
                   .replace("earn 5 points", "earn 1 point"), encoding="utf-8")
    result = invoke("compare", MARKUP_PROGRAM, new, MARKUP_HISTORY)
    assert result.exit_code == 0, result.output
    for name in ("Markup [/program] [beta]", "[/x]", "[beta]", "[/beta]", "[link=https://example.com]click me[/link]",
                 "  [/m]: "):
        assert name in result.stdout, name


def test_compare_shows_member_ids_with_escapes_escaped(tmp_path):
    new = tmp_path / "new.loyalty"
    new.write_text(OSLO.read_text(encoding="utf-8").replace("earn 1 point per 1 NOK", "earn 1 point per 2 NOK"),
                   encoding="utf-8")
    result = invoke("compare", OSLO, new, ESCAPE_HISTORY)
    assert result.exit_code == 0, result.output
    assert not raw_controls(result.output)
    for shown in ESCAPED_MEMBERS.values():
        assert f"  {shown}: " in result.stdout, shown


# ------------------------------------------------------------------ explain


def test_explain_shows_markup_in_members_items_and_names_as_written():
    result = invoke("explain", MARKUP_PROGRAM, MARKUP_HISTORY, "--member", "[/m]")
    assert result.exit_code == 0, result.output
    for text in ("[/m] under Markup [/program] [beta]", "2 x [link=https://example.com]bread[/link]", "order O1",
                 '"[/x]"', '"[link=https://example.com]click me[/link]"', '"[beta]"'):
        assert text in result.stdout, text


@pytest.mark.parametrize("member", sorted(ESCAPED_MEMBERS))
def test_explain_shows_escape_sequences_in_a_member_id_escaped(member):
    result = invoke("explain", OSLO, ESCAPE_HISTORY, "--member", member)
    assert result.exit_code == 0, result.output
    assert not raw_controls(result.output), result.output
    assert result.stdout.startswith(ESCAPED_MEMBERS[member] + " under Hostile histories")


def test_explain_of_an_unknown_member_lists_the_members_escaped():
    result = invoke("explain", OSLO, ESCAPE_HISTORY, "--member", "nobody\x1b[5m")
    assert result.exit_code == 1
    assert not raw_controls(result.output), result.output
    assert "member 'nobody\\x1b[5m' is not in" in result.stderr
    assert "\\x1b[2J\\x1b]0;pwned\\x07M1" in result.stderr


# ------------------------------------------------------------------ test, fmt, check, the internal-error line


def test_loyalty_test_shows_scenario_names_and_messages_escaped(tmp_path):
    program = tmp_path / "p.loyalty"
    program.write_text(OSLO.read_text(encoding="utf-8").replace('rule "points"', 'rule "[/points] \u202e"'),
                       encoding="utf-8")
    (tmp_path / "p.test.yaml").write_text(
        '- name: "\\e]0;pwned\\a[/x] passes"\n'
        '  member: {id: m1}\n'
        '  events:\n'
        '    - purchase: {time: 2025-03-01T10:00, order: "\\e[2J", lines: [{item: x, amount: 10}]}\n'
        '  expect:\n'
        '    effects: [{kind: points_earned, points: 10}]\n'
        '- name: "\\e[31mfails"\n'
        '  member: {id: m1}\n'
        '  events:\n'
        '    - purchase: {time: 2025-03-01T10:00, order: o1, lines: [{item: "\\x9b", amount: 10}]}\n'
        '  expect:\n'
        '    effects: [{kind: nothing}]\n', encoding="utf-8")
    result = invoke("test", program)
    assert result.exit_code == 1, result.output
    assert not raw_controls(result.output), result.output
    assert "\\x1b]0;pwned\\x07[/x] passes" in result.stdout
    assert "FAIL" in result.stdout and "\\x1b[31mfails" in result.stdout
    assert '[rule "[/points] \\u202e"' in result.stdout


def test_fmt_names_a_file_with_escapes_in_its_name_escaped(tmp_path):
    path = tmp_path / "\x1b]0;pwned\x07shop.loyalty"  # click strips CSI sequences when piped, not OSC
    path.write_text('program "Shop" {   currency NOK }\n', encoding="utf-8")
    result = invoke("fmt", "--check", path)
    assert result.exit_code == 1
    assert not raw_controls(result.output), result.output
    assert "would reformat " in result.stdout and "\\x1b]0;pwned\\x07shop.loyalty" in result.stdout


def test_an_internal_error_is_shown_escaped(monkeypatch, capsys):
    import click

    import loyalty.commands.check as check_module
    from loyalty.cli import main

    @click.command("check")
    def broken():
        raise RuntimeError("[/x] \x1b]0;pwned\x07")

    monkeypatch.setattr(check_module, "command", broken)
    assert main(["check"]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError: [/x] \\x1b]0;pwned\\x07" in err
    assert not raw_controls(err)


# ------------------------------------------------------------------ no plain string reaches rich


RICH_MODULES = ["simulate/render.py", "commands/compare.py", "commands/explain.py"]


@pytest.mark.parametrize("module", RICH_MODULES)
def test_rich_is_given_text_objects_never_strings_it_would_read_as_markup(module):
    """A str given to console.print, Table.add_row or add_column (or as a table's title) is read as
    markup; a regression would put a name back into one. Those calls take `plain(...)` (or a table)."""
    import ast

    path = Path(__file__).resolve().parent.parent / "src" / "loyalty" / module
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        args = []
        if node.func.attr in ("print", "add_row", "add_column"):
            args = list(node.args)
        args += [k.value for k in node.keywords if k.arg == "title"]
        for arg in args:
            if isinstance(arg, (ast.JoinedStr, ast.Subscript, ast.BinOp)) or (
                    isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                found.append(f"{module}:{arg.lineno}: {ast.unparse(arg)[:60]}")
    assert found == []


def test_fmt_diff_on_a_terminal_shows_control_characters_of_the_file_escaped(tmp_path, monkeypatch):
    """A diff is the file's own text: piped, it stays exact (a patch must apply); on a terminal, the escape
    sequences and bidi overrides in its comments are shown, not obeyed. Tabs stay tabs."""
    import loyalty.commands.fmt as fmt

    path = tmp_path / "shop.loyalty"
    path.write_text('# \x1b]0;pwned\x07 \u202e note\nprogram "Shop" {\tcurrency NOK }\n', encoding="utf-8")
    piped = invoke("fmt", "--diff", path)
    assert "\x1b]0;pwned\x07 \u202e note" in piped.stdout
    monkeypatch.setattr(fmt, "_on_terminal", lambda: True)
    shown = invoke("fmt", "--diff", path)
    assert " # \\x1b]0;pwned\\x07 \\u202e note\n" in shown.stdout
    assert '-program "Shop" {\tcurrency NOK }\n' in shown.stdout
    assert not raw_controls(shown.stdout.replace("\t", ""))
