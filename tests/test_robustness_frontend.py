"""The front end (decode, parse, check) on hostile and random input.

Properties: on any text at all, `check_text` returns diagnostics of registered codes,
each naming a place inside the file, each renderable; it never raises. Then the
pathological inputs of docs/limits.md: each is handled or refused with a clear
diagnostic, in bounded time. Hypothesis runs derandomized so CI is deterministic.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import diagnostics
from loyalty.diagnostics import CODES, Diagnostic
from loyalty.frontend import check_file, check_text, decode_source
from loyalty.syntax.parser import (
    MAX_NESTING,
    MAX_NUMBER_DIGITS,
    MAX_SOURCE_CHARS,
    MAX_SYNTAX_ERRORS,
    grammar_text,
    parse_with_diagnostics,
)

REPO = Path(__file__).resolve().parents[1]
FILE = "hostile.loyalty"

# Fixed budget, same examples on every run: CI must not flake on a new random seed.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Hand-written programs that use most of the grammar, so mutation means something even
# without examples/; both must be accepted as they are.
COFFEE = """\
# A coffee shop's program
program "Bean Club" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2025-01-01 to 2025-12-31
}

points "stars" {
  cost 0.10 NOK each
  expire 12 months after earning
  round down per order
}

catalog {
  category "coffee"
  item "latte" in category "coffee" costing 45 NOK
}

reward "free latte" is a free "latte" costing 30 NOK
redeem 100 stars for "free latte"

rule "stars on spend" {
  earn 1 stars per 10 NOK
  when (order total >= 100 NOK and not first purchase) or order has "latte"
  at most 500 stars per member per month
}

rule "sixth coffee" {
  every 6th category "coffee" is free
  on mondays, fridays
  between 07:00 and 11:00
}
"""

CLUB = """\
program "Club" { currency EUR }
points "points" { cost 0.01 EUR each }
segment "staff"
store "Main St" in region "north"
reward "tote" is a gift "tote bag" costing 4 EUR
campaign "summer" {
  from 2025-06-01 to 2025-08-31
  rule "double" { earn 2x points }
}
tiers by lifetime spend in the last 12 months {
  tier "silver" from 0 EUR
  tier "gold" from 5000 EUR { earn 2x points  get 5% off  perk "lounge" }
  downgrade at the end of each year with 30 days grace
}
draw "monthly" {
  held every month
  prize 1000 EUR
  winners 3
  1 entry per 100 EUR
  from 2025-01-01
}
rule "welcome" { on signup  earn 100 points }
rule "not staff" { earn 1 points per 1 EUR  when not (not (visits > 3)) }
"""

EMBEDDED = [COFFEE, CLUB]
EXAMPLES = [p.read_text(encoding="utf-8") for p in sorted((REPO / "examples" / "programs").glob("*.loyalty"))]
SEEDS = EMBEDDED + EXAMPLES


def assert_well_formed(text: str, diags: list[Diagnostic], file: str = FILE) -> None:
    """Every diagnostic is registered, located inside `text` and renders."""
    lines = text.split("\n")  # Lark counts lines by \n only
    for d in diags:
        assert isinstance(d, Diagnostic)
        assert d.code in CODES, d
        assert d.message.strip(), d
        assert d.span.file == file, d
        assert 1 <= d.span.line <= len(lines), (d, len(lines))
        assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1, d
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column), d
        shown = diagnostics.render(d, text)
        assert shown.startswith(f"{file}:{d.span.line}:{d.span.column}: "), shown
        assert f"[{d.code}]" in shown
        # nothing from the file reaches the terminal raw (escapes, NUL, bidi overrides)
        assert not [ch for ch in shown if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")], shown
        # a long line is cut around the caret, so a rendering stays small
        assert len(shown) < 2_000 + len(d.message) + len(d.hint or ""), len(shown)
    diagnostics.render_all(diags, text, color=True)
    diagnostics.diagnostics_json(diags)


def front_end(text: str) -> list[Diagnostic]:
    """check_text, plus what a caller relies on: a failure always says why."""
    result = check_text(text, FILE)
    assert_well_formed(text, result.diagnostics)
    if result.program is None:
        assert any(d.is_error for d in result.diagnostics), "parse failed without an error"
    assert result.ok == (result.program is not None and not diagnostics.has_errors(result.diagnostics))
    return result.diagnostics


def test_seed_programs_are_accepted():
    # the mutation tests below start from valid programs; prove they are
    for text in EMBEDDED:
        assert [d for d in check_text(text, FILE).diagnostics if d.is_error] == []


# ------------------------------------------------------------------ arbitrary text

ANY_CHAR = st.characters(blacklist_categories=("Cs",))  # includes controls, NUL, BOM, U+2028
PROGRAM_CHARS = st.sampled_from(list('{}()",#\\\n\r\t\x0c\x00 0123456789.%-:<>=!xaAeNOK\ufeff\u2028é'))


@FUZZ
@given(st.text(ANY_CHAR, max_size=300))
def test_arbitrary_unicode_text(text):
    front_end(text)


@FUZZ
@given(st.text(PROGRAM_CHARS, max_size=300))
def test_text_from_program_characters(text):
    front_end(text)


LONG_PIECES = ["9", "a", "A", '"', "(", ")", "{", "not ", "#", "\\", " ", "\n", "é", "\x00", '"\\', "1.", "-"]


@settings(FUZZ, max_examples=60)  # each example is up to 20,000 characters
@given(
    st.sampled_from(SEEDS[:2] + ['rule "r" { earn 1 stars when ', "", 'segment "']),
    st.sampled_from(LONG_PIECES),
    st.integers(1, 20_000),
    st.sampled_from(["", " }", '"', "\n"]),
)
def test_very_long_tokens(prefix, piece, repeat, suffix):
    front_end(prefix + piece * repeat + suffix)


# every quoted word or symbol of the grammar, plus a sample of each terminal
GRAMMAR_WORDS = sorted(set(re.findall(r'"([^"\s]+)"', grammar_text())))
TERMINAL_SAMPLES = [
    '"latte"', '""', '"a\\"b"', '"bad \\q"', "10", "-5", "0.125", "2025-06-01", "2025-02-30", "14:00", "25:99",
    "6th", "0th", "5%", "-5%", "2x", "NOK", "nok", "stars", ">=", "!=", "#c\n", "99999999999999999999999",
]
SEPARATORS = st.sampled_from([" ", " ", "\n", "\t", "", "\r\n"])


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(GRAMMAR_WORDS + TERMINAL_SAMPLES), SEPARATORS), max_size=80))
def test_grammar_tokens_shuffled(pieces):
    front_end("".join(word + sep for word, sep in pieces))


# ------------------------------------------------------------------ mutated programs


def _mutate(text: str, kind: str, where: int) -> str:
    if not text:
        return text
    i = where % len(text)
    if kind == "delete char":
        return text[:i] + text[i + 1 :]
    if kind == "duplicate char":
        return text[: i + 1] + text[i:]
    if kind == "swap chars":
        j = min(i + 1, len(text) - 1)
        return text[:i] + text[j] + text[i] + text[j + 1 :] if j > i else text
    lines = text.split("\n")
    k = where % len(lines)
    if kind == "delete line":
        return "\n".join(lines[:k] + lines[k + 1 :])
    if kind == "duplicate line":
        return "\n".join(lines[: k + 1] + lines[k:])
    tokens = list(re.finditer(r'"(?:[^"\\\n]|\\.)*"|\S+', text))
    m = tokens[where % len(tokens)]
    if kind == "duplicate token":
        return text[: m.end()] + " " + m.group() + text[m.end() :]
    assert kind == "delete token"
    return text[: m.start()] + text[m.end() :]


MUTATIONS = ["delete char", "duplicate char", "swap chars", "delete line", "duplicate line", "duplicate token", "delete token"]


@settings(FUZZ, max_examples=150)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 10**6)), min_size=1, max_size=3),
)
def test_mutated_programs(seed, mutations):
    text = seed
    for kind, where in mutations:
        text = _mutate(text, kind, where)
    front_end(text)


def test_mutation_helper_changes_text():
    # guard against a mutation test that silently mutates nothing
    for kind in MUTATIONS:
        assert _mutate(COFFEE, kind, 123) != COFFEE, kind


# ------------------------------------------------------------------ line ends, whitespace, encodings


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_crlf_tabs_and_bom_read_the_same(index):
    text = SEEDS[index]
    lf = check_text(text, FILE)
    crlf = check_text(text.replace("\n", "\r\n"), FILE)
    tabs = check_text(text.replace("  ", "\t"), FILE)
    bom_text, problems = decode_source(b"\xef\xbb\xbf" + text.encode("utf-8"), FILE)
    assert problems == [] and bom_text == text
    assert lf.program is not None
    assert [c.text for c in crlf.program.comments] == [c.text for c in lf.program.comments]
    for other in (crlf, tabs):
        assert other.program == lf.program  # spans are excluded from equality
        assert [(d.code, d.span.line) for d in other.diagnostics] == [(d.code, d.span.line) for d in lf.diagnostics]


def test_crlf_errors_point_at_the_same_line_and_column():
    text = 'program "a" { currency NOK }\nrule "r" {\n  earn 1 stars per 10 NKO NOK\n}\n'
    lf = [(d.code, d.span.line, d.span.column) for d in check_text(text, FILE).diagnostics]
    crlf = [(d.code, d.span.line, d.span.column) for d in check_text(text.replace("\n", "\r\n"), FILE).diagnostics]
    assert lf and lf == crlf


def test_invalid_utf8_is_reported_at_the_bad_byte(tmp_path):
    path = tmp_path / "latin1.loyalty"
    path.write_bytes('program "Caf'.encode() + b"\xe9" + b'" {\n  currency EUR }\n')
    result = check_file(path)
    assert result.program is None
    [d] = result.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("LOY007", 1, 13)
    assert "0xe9" in d.message


def test_invalid_utf8_on_a_later_line(tmp_path):
    path = tmp_path / "bad.loyalty"
    path.write_bytes(b'program "a" {\n  currency NOK\n}\nsegment "\xff\xfe"\n')
    [d] = check_file(path).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("LOY007", 4, 10)


def test_nul_bytes_are_an_error_at_their_place():
    diags = front_end('program "a" { currency NOK }\nsegment "x"\x00\n')
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("LOY003", 2, 12)]


def test_nul_inside_a_string_is_kept_as_text():
    result = check_text('program "a" { currency NOK }\nsegment "a\x00b"\n', FILE)
    assert result.program is not None
    assert result.program.declarations[1].name.value == "a\x00b"


def test_empty_file_and_comment_only_file_report_the_missing_program():
    for text in ("", "\n\n", "# only\n# comments\n" * 500):
        diags = front_end(text)
        assert [d.code for d in diags] == ["LOY104"], text[:20]
        assert (diags[0].span.line, diags[0].span.column) == (1, 1)


def test_form_feed_and_unicode_line_separators_do_not_shift_lines():
    # str.splitlines() counts \x0c and U+2028 as line breaks; the parser does not
    text = 'program "a" {\x0c\x0c\x0c currency NOK\n  rule'
    diags = front_end(text)
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("LOY001", 2, 3)]
    [d] = front_end('rule "a" {\n' + "\x0c" * 10)
    assert (d.code, d.span.line, d.span.column) == ("LOY002", 1, 11)


# ------------------------------------------------------------------ limits

# A guard against hangs, not a benchmark: CPU time of this process, so a machine loaded
# by other jobs does not fail it. Measured figures are in docs/limits.md.
GUARD_CPU_SECONDS = 30


def timed(fn, *args):
    start = time.process_time()
    out = fn(*args)
    used = time.process_time() - start
    assert used < GUARD_CPU_SECONDS, f"took {used:.1f}s of CPU"
    return out


def run_bounded(code: str, memory_mb: int = 1024, cpu_seconds: int = GUARD_CPU_SECONDS) -> str:
    """Run `code` in a fresh interpreter with an address-space and CPU-time limit: going
    over either kills it (MemoryError or SIGXCPU), so the bound is asserted, not hoped for."""
    resource = pytest.importorskip("resource")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit, timeout=10 * cpu_seconds
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    return done.stdout


def test_source_over_the_size_limit_is_refused_before_parsing():
    text = 'program "a" { currency NOK }\nsegment "' + "a" * 10_000_000 + '"\n'  # a 10 MB string
    result = timed(check_text, text, FILE)
    assert result.program is None
    [d] = result.diagnostics
    assert d.code == "LOY401"
    assert f"{MAX_SOURCE_CHARS:,}" in d.message and f"{len(text):,}" in d.message
    assert (d.span.line, d.span.column) == (1, 1)


def test_source_at_the_size_limit_is_accepted():
    head = 'program "a" { currency NOK }\nsegment "'
    text = head + "a" * (MAX_SOURCE_CHARS - len(head) - 2) + '"\n'
    assert len(text) == MAX_SOURCE_CHARS
    result = timed(check_text, text, FILE)
    assert result.ok, result.diagnostics[:3]
    assert len(result.program.declarations[1].name.value) == MAX_SOURCE_CHARS - len(head) - 2


def test_100000_realistic_rules_are_refused_with_the_size_limit():
    text = 'program "a" { currency NOK }\npoints "stars"\n' + "".join(
        f'rule "r{i}" {{ earn 10 stars per 100 NOK }}\n' for i in range(100_000)
    )
    [d] = timed(check_text, text, FILE).diagnostics
    assert d.code == "LOY401"


def test_100000_minimal_rules_fit_and_parse_in_bounded_memory():
    # the most rules that fit under the size limit: they must parse, within 1 GB of
    # address space (interpreter and libraries included) and the CPU guard
    assert len('rule ""{}' * 100_000) <= MAX_SOURCE_CHARS
    out = run_bounded(
        "from loyalty.syntax.parser import parse_with_diagnostics\n"
        "program, diags = parse_with_diagnostics('rule \"\"{}' * 100_000, 'big.loyalty')\n"
        "print(len(program.declarations), len(diags))\n"
    )
    assert out.split() == ["100000", "0"]


def test_a_one_megabyte_line():
    names = [f"{i}" + "s" * 99_990 for i in range(9)]
    text = 'program "a" { currency NOK } ' + " ".join(f'segment "{n}"' for n in names) + " # end"
    assert "\n" not in text and len(text) > 900_000
    result = timed(check_text, text, FILE)
    assert result.ok, result.diagnostics[:3]
    assert [d.name.value for d in result.program.declarations[1:]] == names


def test_an_error_far_along_a_long_line_is_located_and_rendered_short():
    text = 'program "a" { currency NOK } segment "' + "s" * 900_000 + '" oops'
    diags = front_end(text)
    [d] = [d for d in diags if d.code.startswith("LOY0")]
    assert (d.span.line, d.span.column) == (1, len(text) - 3)
    assert len(diagnostics.render(d, text)) < 600


def test_ten_thousand_nested_parentheses_are_refused():
    text = 'rule "a" { earn 1 stars when ' + "(" * 10_000 + "visits > 1" + ")" * 10_000 + " }"
    [d] = timed(front_end, text)
    assert d.code == "LOY402"
    # the first bracket past the limit
    assert (d.span.line, d.span.column) == (1, len('rule "a" { earn 1 stars when ') + MAX_NESTING)


def test_a_long_chain_of_not_is_refused_not_a_recursion_error():
    text = 'program "a" { currency NOK }\nrule "a" { earn 1 stars when ' + "not " * 100_000 + "visits > 1 }"
    [d] = timed(front_end, text)
    assert d.code == "LOY402" and d.span.line == 2


@pytest.mark.parametrize(
    "condition",
    [
        "not " * (MAX_NESTING - 1) + "visits > 1",  # the rule's { } is one level
        "(" * (MAX_NESTING - 1) + "visits > 1" + ")" * (MAX_NESTING - 1),
        "not (" * ((MAX_NESTING - 1) // 2) + "visits > 1" + ")" * ((MAX_NESTING - 1) // 2),
    ],
)
def test_nesting_up_to_the_limit_parses(condition):
    program, diags = parse_with_diagnostics(f'rule "a" {{ earn 1 stars when {condition} }}', FILE)
    assert diags == [] and program is not None


def test_nesting_one_past_the_limit_is_refused():
    condition = "not " * MAX_NESTING + "visits > 1"
    _, diags = parse_with_diagnostics(f'rule "a" {{ earn 1 stars when {condition} }}', FILE)
    assert [d.code for d in diags] == ["LOY402"]


def test_brackets_in_strings_and_comments_do_not_count_as_nesting():
    text = 'program "a" { currency NOK }\nsegment "' + "(" * 1000 + '"\n# ' + "{" * 1000 + "\n"
    assert front_end(text) == []


def test_many_not_in_a_flat_condition_are_fine():
    condition = " and ".join(["not visits > 1"] * 500)
    program, diags = parse_with_diagnostics(f'rule "a" {{ earn 1 stars when {condition} }}', FILE)
    assert diags == [] and program is not None


def test_a_long_and_chain_parses():
    condition = " and ".join(["visits > 1"] * 5_000)
    program, diags = timed(parse_with_diagnostics, f'rule "a" {{ earn 1 stars when {condition} }}', FILE)
    assert diags == []


def test_one_error_per_broken_declaration_and_no_cascade():
    # a missing amount breaks one rule; the next declarations parse afresh
    diags = front_end('program "a" { currency NOK }\nrule "x" { earn }\nrule "y" {\n  earn 1 point\n}\nrule "z" { every 6 item is free }\n')
    assert [(d.code, d.span.line) for d in diags] == [("LOY001", 2), ("LOY001", 6)]


def test_syntax_errors_are_capped():
    text = 'rule "x" { earn }\n' * 50_000
    diags = timed(front_end, text)
    assert len(diags) == MAX_SYNTAX_ERRORS
    assert all(d.code == "LOY001" for d in diags)
    assert [(d.span.line, d.span.column) for d in diags] == [(1 + i, 17) for i in range(MAX_SYNTAX_ERRORS)]


def test_a_wall_of_closing_braces_is_one_error():
    diags = timed(front_end, "} " * 100_000)
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("LOY001", 1, 1)]


def test_huge_numbers_are_refused_not_crashing_int_conversion():
    digits = "9" * 5000
    text = f'program "a" {{ currency NOK }}\npoints "stars"\nrule "a" {{ every {digits}th "x" is free }}\n'
    [d] = front_end(text)
    assert (d.code, d.span.line, d.span.column) == ("LOY403", 3, 18)
    assert "5,000 digits" in d.message and len(d.message) < 200


@pytest.mark.parametrize("number", ["1" * MAX_NUMBER_DIGITS, "0." + "1" * (MAX_NUMBER_DIGITS - 1)])
def test_numbers_up_to_the_digit_limit_are_exact(number):
    program, diags = parse_with_diagnostics(f'rule "a" {{ earn {number} stars }}', FILE)
    assert diags == []
    assert str(program.declarations[0].clauses[0].points.amount) == number


def test_every_number_over_the_digit_limit_is_reported():
    big = "1" * (MAX_NUMBER_DIGITS + 1)
    text = f'rule "a" {{ earn {big} stars per {big} NOK  get {big}% off  earn {big}x }}'
    _, diags = parse_with_diagnostics(text, FILE)
    assert [d.code for d in diags] == ["LOY403"] * 4


def test_rendering_masks_control_characters_and_keeps_the_caret_under_the_mistake():
    text = 'program "a" { currency NOK }\nrule "\x1b[2J\u202e" { earn 1 stars per }\n'
    [d] = front_end(text)
    shown = diagnostics.render(d, text).split("\n")
    assert shown[0] == f"{FILE}:2:33: error[LOY001]: unexpected '}}'"
    assert shown[2] == '2 | rule "\ufffd[2J\ufffd" { earn 1 stars per }'
    assert shown[3].index("^") == shown[2].index("}")
