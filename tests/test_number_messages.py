"""Numbers written the Nordic way get a message that names the number as it must be written (LOY001)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from loyalty.frontend import check_text

HEAD = 'program "p" {\n  currency NOK\n}\npoints "points" { cost 0.10 NOK each }\nreward "r" is a perk\n'

# (a line holding the number as {x}, the unit the fix names after it)
PLACES = [
    ('rule "a" {{ earn 1 point per {x} NOK }}', " NOK"),
    ('tiers by spend {{ tier "t" from {x} NOK }}', " NOK"),
    ('rule "a" {{ earn 10 points when order total >= {x} NOK }}', " NOK"),
    ('draw "d" {{ held every month winners {x} prize 5 NOK 1 entry per 1 NOK }}', ""),
    ('redeem {x} points for "r"', " points"),
    ('rule "a" {{ give "r" at most {x} points per member }}', " points"),
]
SEPARATORS = [" ", "\u00a0", "\u202f"]


def grouped(n: int, separator: str) -> str:
    text = str(n)
    groups = []
    while text:
        groups.insert(0, text[-3:])
        text = text[:-3]
    return separator.join(groups)


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1000, 10**12), place=st.sampled_from(PLACES), separator=st.sampled_from(SEPARATORS),
       fraction=st.sampled_from(["", "50"]))
def test_a_thousands_separator_is_named_with_the_fix(n, place, separator, fraction):
    template, unit = place
    if fraction and unit != " NOK":
        fraction = ""  # a decimal comma only where money may have decimals
    written = grouped(n, separator) + ("," + fraction if fraction else "")
    line = template.format(x=written)
    result = check_text(HEAD + line + "\n", "t.loyalty")
    (diagnostic,) = result.diagnostics
    assert diagnostic.code == "LOY001"
    assert (diagnostic.span.line, diagnostic.span.column) == (6, line.index(written) + 1)
    assert diagnostic.hint == f"write {n}{'.' + fraction if fraction else ''}{unit}"


@settings(max_examples=60, deadline=None)
@given(whole=st.integers(0, 99999), fraction=st.from_regex(r"[0-9]{1,2}", fullmatch=True))
def test_a_decimal_comma_is_named_with_the_fix(whole, fraction):
    line = f'rule "a" {{ earn 1 point per {whole},{fraction} NOK }}'
    (diagnostic,) = check_text(HEAD + line + "\n", "t.loyalty").diagnostics
    assert diagnostic.code == "LOY001" and diagnostic.span.column == line.index(f"{whole},") + 1
    assert diagnostic.hint == f"write {whole}.{fraction} NOK"
