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
