"""A bounded fuzz run in CI: the parser and the CSV history reader on mutations of the checked-in corpus
(fuzz/seeds/) and on arbitrary bytes, with the properties the atheris harnesses check (fuzz/properties.py).
Property-based (hypothesis), so it needs no atheris; each test stays well under a minute on the shared
2-core machine (max_examples bounds it; `deadline=None` because the machine's load varies)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

from properties import check_history_bytes, check_program_bytes, seeds  # noqa: E402

PROGRAMS = seeds("programs")
HISTORIES = seeds("histories")
BOUNDED = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))

# bytes that change how a file is read: line ends, quotes, delimiters, bad UTF-8, a BOM, NUL, signs, braces
INTERESTING = [b"\r", b"\n", b"\r\n", b'"', b",", b";", b"\t", b"\xe9", b"\xff", b"\xef\xbb\xbf", b"\x00", b"-",
               b"{", b"}", b"(", b"not ", b"9" * 25, b"2025-10-26T02:30", b"+01:00", b"return", b"purchase",
               b"\xe2\x80\xae", b" ", b"0.005", b"rule", b"when"]


@st.composite
def mutated(draw, corpus: list[bytes]) -> bytes:
    """A seed with a few edits: slices deleted, duplicated or moved, interesting bytes inserted, bytes replaced."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 6))):
        n = len(data)
        at = draw(st.integers(0, n))
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "truncate"]))
        if edit == "delete" and n:
            del data[at:at + draw(st.integers(1, 64))]
        elif edit == "insert":
            data[at:at] = draw(st.sampled_from(INTERESTING) | st.binary(min_size=1, max_size=8))
        elif edit == "duplicate" and n:
            start = draw(st.integers(0, n - 1))
            data[at:at] = data[start:start + draw(st.integers(1, 200))]
        elif edit == "replace" and at < n:
            data[at] = draw(st.integers(0, 255))
        elif edit == "truncate":
            del data[at:]
    return bytes(data)


@settings(BOUNDED, max_examples=400)
@given(st.one_of(mutated(PROGRAMS), st.binary(max_size=300)))
def test_fuzz_the_front_end(data):
    check_program_bytes(data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(BOUNDED, max_examples=300)
@given(data=st.one_of(mutated(HISTORIES), st.binary(max_size=200)), on_bad_row=st.sampled_from(["stop", "skip"]))
def test_fuzz_the_history_reader(folder, data, on_bad_row):
    check_history_bytes(data, folder / "fuzz.csv", on_bad_row)


@pytest.mark.parametrize("kind,check", [("programs", check_program_bytes), ("histories", None)])
def test_every_seed_holds_the_property(kind, check, tmp_path):
    for data in seeds(kind):
        if check is not None:
            check(data)
        else:
            for mode in ("stop", "skip"):
                check_history_bytes(data, tmp_path / "seed.csv", mode)
