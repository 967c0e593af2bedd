"""The hand-kept ISO 4217 table (loyalty/currencies.py) agrees with the maintained `iso4217` package:
same minor units for every code, every active code with a minor unit present, and only the withdrawn
codes kept on purpose beyond it."""

import pytest

from loyalty.currencies import MINOR_UNITS, WITHDRAWN_KEPT

iso4217 = pytest.importorskip("iso4217", reason="pip install iso4217 (in the dev extra)")


def published() -> dict[str, int]:
    """Code -> minor unit for each currency the package lists with a minor unit (funds and metals without
    one, XAU, XDR..., have none)."""
    return {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}


def test_every_shared_code_has_the_same_minor_units():
    table = published()
    differ = {code: (MINOR_UNITS[code], table[code]) for code in MINOR_UNITS.keys() & table.keys()
              if MINOR_UNITS[code] != table[code]}
    assert differ == {}


def test_every_published_code_is_in_the_table():
    assert sorted(published().keys() - MINOR_UNITS.keys()) == []


def test_only_the_withdrawn_codes_kept_on_purpose_are_extra():
    assert MINOR_UNITS.keys() - published().keys() == WITHDRAWN_KEPT
