"""`loyalty generate`: seeded, exact row count, realistic shape, readable by the history reader."""

from decimal import Decimal

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
