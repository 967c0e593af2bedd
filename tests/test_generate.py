"""`loyalty generate`: seeded, exact row count, realistic shape, readable by the history reader."""

from decimal import Decimal
from pathlib import Path

from loyalty.simulate.generate import CatalogItem, GenerateOptions, generate_text, price_from_cost
from loyalty.simulate.history import read_history


def test_same_seed_same_bytes_and_other_seed_differs():
    a = generate_text(GenerateOptions(rows=300, seed=7))
    assert a == generate_text(GenerateOptions(rows=300, seed=7))
    assert a != generate_text(GenerateOptions(rows=300, seed=8))


def test_exact_row_count_and_readable_without_bad_rows(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text(generate_text(GenerateOptions(rows=2000, seed=1)), encoding="utf-8")
    h = read_history(p)
    assert len(h) == 2000 and not h.skipped


def test_shape_skewed_members_returns_signups_and_catalog(tmp_path):
    catalog = (CatalogItem("wash", "washes", Decimal("99")), CatalogItem("wax", "washes", Decimal("149")))
    text = generate_text(GenerateOptions(rows=5000, seed=3, catalog=catalog, stores=("S1", "S2")))
    p = tmp_path / "h.csv"
    p.write_text(text, encoding="utf-8")
    h = read_history(p)
    assert set(h.item) <= {"wash", "wax", None} and set(h.store) <= {"S1", "S2", None}
    assert {"purchase", "return", "signup"} <= set(h.type)
    per_member = {}
    for m, t in zip(h.member, h.type):
        per_member[m] = per_member.get(m, 0) + (t == "purchase")
    counts = sorted(per_member.values(), reverse=True)
    # skewed: the busiest tenth of members buy far more than the median member
    assert counts[len(counts) // 10] > 2 * counts[len(counts) // 2]
    # every member's first row is the signup
    first = {}
    for m, t in zip(h.member, h.type):
        first.setdefault(m, t)
    assert set(first.values()) == {"signup"}
    # returns are a small share of rows
    assert 0 < h.type.count("return") < 0.1 * len(h)


def test_prices_from_costs_are_round_and_above_cost():
    assert price_from_cost(Decimal("35"), 2) == Decimal("105")
    assert price_from_cost(Decimal("0.95"), 2) == Decimal("3.0")
    assert price_from_cost(Decimal("0.60"), 0) == Decimal("2")


# ------------------------------------------------------------------ chunked, grouped, returns


def _rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))[1:]


def _check_orders(rows):
    """Time order or grouped, the file must make sense: every return follows a purchase of the same
    member, order, item and units; every member's first row is her signup."""
    bought = {}
    for member, time, kind, order, item, _cat, qty, amount, *_ in rows:
        if kind == "purchase":
            bought.setdefault((member, order, item, qty, amount), time)
    for member, time, kind, order, item, _cat, qty, amount, *_ in rows:
        if kind == "return":
            assert (member, order, item, qty, amount) in bought and bought[(member, order, item, qty, amount)] < time
    first = {}
    for r in sorted(rows, key=lambda r: r[1]):
        first.setdefault(r[0], r[2])
    assert set(first.values()) == {"signup"}


def test_grouped_holds_the_same_rows_each_member_together_in_time_order():
    by_time = _rows(generate_text(GenerateOptions(rows=3000, seed=5)))
    grouped = _rows(generate_text(GenerateOptions(rows=3000, seed=5, grouped=True)))
    assert len(grouped) == 3000 and sorted(by_time) == sorted(grouped)
    assert [r[1] for r in by_time] == sorted(r[1] for r in by_time)
    seen, last = set(), None
    for r in grouped:
        if r[0] != last:
            assert r[0] not in seen, f"member {r[0]} appears in two runs"
            seen.add(r[0])
            last = r[0]
            previous_time = r[1]
        assert r[1] >= previous_time
        previous_time = r[1]
    _check_orders(by_time)


def test_many_chunks_merge_into_time_order_and_stay_reproducible(monkeypatch):
    from loyalty.simulate import generate as gen

    monkeypatch.setattr(gen, "CHUNK_ROWS", 400)  # forces several chunks, a temporary file and windowed merging
    options = GenerateOptions(rows=5000, seed=11, members=120)
    text = generate_text(options)
    assert text == generate_text(options)
    rows = _rows(text)
    assert len(rows) == 5000 and [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert len({r[0] for r in rows}) <= 120
    grouped = _rows(generate_text(GenerateOptions(rows=5000, seed=11, members=120, grouped=True)))
    assert sorted(grouped) == sorted(rows)
    _check_orders(rows)
    # order ids are unique to a member
    owners = {}
    for r in rows:
        if r[3]:
            assert owners.setdefault(r[3], r[0]) == r[0]


def test_values_that_need_quoting_are_quoted_like_the_csv_module(tmp_path):
    catalog = (CatalogItem('wash, "deluxe"', "washes", Decimal("99")),)
    text = generate_text(GenerateOptions(rows=200, seed=2, catalog=catalog, stores=("Oslo, sentrum",)))
    p = tmp_path / "h.csv"
    p.write_text(text, encoding="utf-8")
    h = read_history(p)
    assert len(h) == 200 and set(h.item) <= {'wash, "deluxe"', None} and set(h.store) <= {"Oslo, sentrum", None}


# ------------------------------------------------------------------ --skew: heavy-tailed member activity

REPO = Path(__file__).resolve().parents[1]
REFERENCE = str(REPO / "benchmarks" / "programs" / "reference.loyalty")


def _invoke(*args):
    from click.testing import CliRunner

    from loyalty.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def _busiest_share(rows, members: int, fraction: float = 0.01) -> float:
    """The share of rows held by the busiest `fraction` of `members` (at least one member)."""
    import collections
    import math

    counts = sorted(collections.Counter(r[0] for r in rows).values(), reverse=True)
    return sum(counts[: max(1, math.ceil(members * fraction))]) / len(rows)


def test_skew_same_seed_same_bytes_and_a_valid_history_simulate_reads(tmp_path):
    a, b, even = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "even.csv"
    common = ["--rows", 6000, "--seed", 4, "--members", 300, "--program", REFERENCE, "--start", "2024-01-01"]
    for path, extra in ((a, ["--skew", "1.2"]), (b, ["--skew", "1.2"]), (even, [])):
        r = _invoke("generate", *common, *extra, "-o", path)
        assert r.exit_code == 0, r.output
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != even.read_bytes()
    rows = _rows(a.read_text(encoding="utf-8"))
    assert len(rows) == 6000
    _check_orders(rows)
    h = read_history(a)
    assert len(h) == 6000 and not h.skipped
    r = _invoke("simulate", REFERENCE, a, "--format", "json", "--jobs", 1)
    assert r.exit_code == 0, r.output
    import json

    report = json.loads(r.stdout)
    assert report["headline"]["members"] == len({row[0] for row in rows})


def test_skew_puts_the_documented_share_of_rows_on_the_busiest_members():
    from loyalty.simulate.generate import zipf_share

    # documented (member_activity): the busiest 1% hold 39% at skew 1 and 1,000 members; at skew 1.2, 57% with
    # 1,000 members, 71% with 5,000, 83% with 50,000: with skew >= 1.2 and 1,000 members or more, over half
    assert [round(zipf_share(k, n, s), 2) for k, n, s in ((10, 1000, 1.0), (10, 1000, 1.2), (50, 5000, 1.2),
                                                          (500, 50000, 1.2))] == [0.39, 0.57, 0.71, 0.83]
    for skew, members, rows in ((1.0, 100, 4000), (1.0, 1000, 20000), (1.2, 1000, 20000), (2.5, 1500, 20000)):
        got = _busiest_share(_rows(generate_text(GenerateOptions(rows=rows, seed=9, members=members, skew=skew))),
                             members)
        expected = zipf_share(-(-members // 100), members, skew)
        assert abs(got - expected) < 0.03, (skew, members, got, expected)
        if skew >= 1.2:
            assert got > 0.5, (skew, members, got)
    # and far more than the default, log-normal activity gives the busiest 1%
    even = _busiest_share(_rows(generate_text(GenerateOptions(rows=20000, seed=9, members=1000))), 1000)
    assert even < 0.25
    # the busiest member is not always the first one
    firsts = set()
    for seed in range(4):
        rows = _rows(generate_text(GenerateOptions(rows=2000, seed=seed, members=100, skew=2.0)))
        import collections

        firsts.add(collections.Counter(r[0] for r in rows).most_common(1)[0][0])
    assert len(firsts) > 1


def test_skew_grouped_holds_the_same_rows_as_time_order(monkeypatch):
    from loyalty.simulate import generate as gen

    monkeypatch.setattr(gen, "CHUNK_ROWS", 500)  # the busiest member alone is bigger than a chunk
    options = dict(rows=4000, seed=3, members=200, skew=1.5)
    by_time = _rows(generate_text(GenerateOptions(**options)))
    grouped = _rows(generate_text(GenerateOptions(**options, grouped=True)))
    assert len(by_time) == 4000 and sorted(by_time) == sorted(grouped)
    assert [r[1] for r in by_time] == sorted(r[1] for r in by_time)
    _check_orders(by_time)


def test_bad_skew_is_a_usage_error_without_a_traceback():
    import pytest

    for value in ("0", "-1", "nan", "inf", "11", "abc", ""):
        r = _invoke("generate", "--rows", 10, "--skew", value)
        assert r.exit_code == 2, (value, r.output)
        assert "--skew" in r.output and "Traceback" not in r.output
    with pytest.raises(ValueError, match="skew"):
        generate_text(GenerateOptions(rows=10, skew=0.0))


def test_sizes_it_cannot_hold_are_a_usage_error_before_any_work():
    # --members 100000000 --rows 10 took 8.6 GB: every member is at least one row, so members > rows
    # is refused, as are dates past what a history may hold (years up to 8999)
    import resource
    import time

    started = time.process_time()
    for args, option in ((["--members", 100_000_000, "--rows", 10], "--members"),
                         (["--members", 11, "--rows", 10], "--members"),
                         (["--start", "9999-12-01", "--rows", 10], "--start"),
                         (["--start", "8999-12-01", "--days", 365, "--rows", 10], "--days")):
        r = _invoke("generate", *args)
        assert r.exit_code == 2, (args, r.output)
        assert option in r.output and "Traceback" not in r.output, r.output
    assert time.process_time() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2_000_000  # kB: nothing allocated per member
    assert _invoke("generate", "--members", 10, "--rows", 10).exit_code == 0
