"""`loyalty simulate --grouped`: a history grouped by member, read in batches, gives the in-memory report
byte for byte (but for the file name); a file that is not grouped is refused naming the row."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli as main
from loyalty.simulate import stream
from loyalty.simulate.generate import GenerateOptions, generate_text

ROOT = Path(__file__).resolve().parents[1]
# a program with two-sided referral rules needs a pass over the whole history, which --grouped never holds: it
# declines them naming the rule (tests/test_referral.py)
EXAMPLES = sorted(p.stem for p in (ROOT / "examples" / "histories").glob("*.csv")
                  if "on referring a friend" not in (ROOT / "examples" / "programs" / f"{p.stem}.loyalty").read_text()
                  and "on being referred" not in (ROOT / "examples" / "programs" / f"{p.stem}.loyalty").read_text())


def simulate(*args) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["simulate", *map(str, args), "--format", "json", "--jobs", "1"])
    return res.exit_code, res.stdout, res.stderr


def grouped_copy(source: Path, target: Path) -> Path:
    """The same rows, each member's together (a stable sort by member keeps file order within one)."""
    header, *rows = source.read_text(encoding="utf-8").splitlines(keepends=True)
    rows.sort(key=lambda line: line.split(",", 1)[0])
    target.write_text(header + "".join(rows), encoding="utf-8")
    return target


def same_report(a: str, b: str, file_a: Path, file_b: Path) -> bool:
    return a.replace(json.dumps(str(file_a)), '"FILE"') == b.replace(json.dumps(str(file_b)), '"FILE"')


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(stream, "BLOCK_BYTES", 2048)  # many batches: members cut across batch boundaries


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_histories_grouped_equal_the_in_memory_report(name, tmp_path, small_blocks):
    program = ROOT / "examples" / "programs" / f"{name}.loyalty"
    history = ROOT / "examples" / "histories" / f"{name}.csv"
    grouped = grouped_copy(history, tmp_path / f"{name}.csv")
    code, whole, _ = simulate(program, history)
    assert code == 0
    code, streamed, err = simulate(program, grouped, "--grouped")
    assert code == 0, err
    assert same_report(streamed, whole, grouped, history)


@pytest.mark.parametrize("program", ["car_wash", "gym"])  # gym: budgets, so passes that re-read the file
def test_generated_grouped_file_equals_the_time_ordered_one(program, tmp_path, small_blocks):
    from loyalty.commands.generate import catalog_from_program

    path = ROOT / "examples" / "programs" / f"{program}.loyalty"
    catalog, stores, minor, _ = catalog_from_program(str(path))
    options = dict(rows=3000, seed=4, catalog=catalog, stores=stores or ("S1",), minor_units=minor)
    by_time, grouped = tmp_path / "by_time.csv", tmp_path / "grouped.csv"
    by_time.write_text(generate_text(GenerateOptions(**options)), encoding="utf-8")
    grouped.write_text(generate_text(GenerateOptions(**options, grouped=True)), encoding="utf-8")
    for kernel in ("auto", "python"):
        code, whole, _ = simulate(path, by_time, "--kernel", kernel)
        code2, streamed, err = simulate(path, grouped, "--grouped", "--kernel", kernel)
        assert code == code2 == 0, err
        assert same_report(streamed, whole, grouped, by_time)


def test_a_file_that_is_not_grouped_is_refused_naming_the_row(tmp_path, small_blocks):
    rows = ["member,time,amount"] + [f"A,2025-01-{d:02d},10.00" for d in range(1, 20)]
    rows += [f"B,2025-02-{d:02d},10.00" for d in range(1, 20)] + ["A,2025-03-01,10.00"]
    p = tmp_path / "h.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = simulate(ROOT / "examples/programs/car_wash.loyalty", p, "--grouped")
    assert code == 1 and out == ""
    assert f"{p}:40: member 'A'" in err and "--grouped" in err and "Traceback" not in err
    # the same file read whole is fine
    assert simulate(ROOT / "examples/programs/car_wash.loyalty", p)[0] == 0


def test_bad_rows_are_named_and_skipped_exactly_as_in_memory(tmp_path, small_blocks):
    rows = ["member,time,amount,item"]
    for m in range(40):
        for d in range(1, 6):
            rows.append(f"M{m:02d},2025-01-{d:02d},105.00,basic wash")
    rows[123] = "M24,yesterday,105.00,basic wash"
    rows[150] = "M29,2025-01-02,10.005,basic wash"
    p = tmp_path / "h.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    program = ROOT / "examples/programs/car_wash.loyalty"
    whole, streamed = simulate(program, p), simulate(program, p, "--grouped")
    assert whole[0] == streamed[0] == 1 and whole[2] == streamed[2]
    assert f'{p}:124: column "time"' in streamed[2]
    code, a, _ = simulate(program, p, "--on-bad-row", "skip")
    code2, b, _ = simulate(program, p, "--on-bad-row", "skip", "--grouped")
    assert code == code2 == 0 and a == b and json.loads(b)["history"]["skipped_rows"] == 2


def test_blank_lines_and_quoted_line_breaks_keep_row_numbers(tmp_path, small_blocks):
    rows = ["member,time,amount,item"]
    for m in range(30):
        rows.append(f'M{m:02d},2025-01-01,105.00,"basic\nwash"' if m == 3 else f"M{m:02d},2025-01-01,105.00,x")
        rows.append("")
    rows.append("M29,2025-13-01,105.00,x")
    p = tmp_path / "h.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    program = ROOT / "examples/programs/car_wash.loyalty"
    whole, streamed = simulate(program, p), simulate(program, p, "--grouped")
    assert whole[0] == streamed[0] == 1 and whole[2] == streamed[2] and f"{p}:63:" in streamed[2]


def test_grouped_is_refused_with_dask_and_for_parquet(tmp_path):
    program = ROOT / "examples/programs/car_wash.loyalty"
    history = ROOT / "examples/histories/car_wash.csv"
    assert simulate(program, history, "--grouped", "--engine", "dask")[0] == 2
    p = tmp_path / "h.parquet"
    p.write_bytes(b"PAR1")
    code, _, err = simulate(program, p, "--grouped")
    assert code == 1 and "Parquet" in err


# ---------------------------------------------------------------- the scan and the replay (docs/scale.md)
# The first pass reads the time column only; the replay reads every row whole, names bad rows and a broken
# grouping as it goes, and plans the run again when a row it skipped held the first or last time.

CAR_WASH = ROOT / "examples/programs/car_wash.loyalty"


def _rows(members: int = 40, days: int = 5) -> list[str]:
    rows = ["member,time,amount,item"]
    for m in range(members):
        for d in range(1, days + 1):
            rows.append(f"M{m:02d},2025-02-{d + 10:02d}T10:00,105.00,basic wash")
    return rows


def _write(tmp_path, rows: list[str]) -> Path:
    p = tmp_path / "h.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("where", ["first", "last", "both"])
def test_a_skipped_row_holding_the_first_or_last_time_gives_the_in_memory_report(where, tmp_path, small_blocks):
    rows = _rows()
    if where in ("first", "both"):  # a valid time, the history's earliest, on a row whose amount is bad
        rows[57] = "M11,2024-03-01T08:00,10.005,basic wash"
    if where in ("last", "both"):  # and the latest, in a later batch, on a row whose member is missing
        rows[160] = " ,2026-07-01T08:00,105.00,basic wash"
    p = _write(tmp_path, rows)
    code, whole, _ = simulate(CAR_WASH, p, "--on-bad-row", "skip")
    code2, streamed, err = simulate(CAR_WASH, p, "--on-bad-row", "skip", "--grouped")
    assert code == code2 == 0, err
    assert streamed == whole
    history = json.loads(streamed)["history"]
    assert history["first"].startswith("2025-02-11") and history["last"].startswith("2025-02-15")


def test_the_replay_plans_again_only_when_the_range_changed(tmp_path, small_blocks, monkeypatch):
    import loyalty.simulate.engine as engine

    plans = []
    real = engine.make_plan
    monkeypatch.setattr(engine, "make_plan", lambda *a, **k: plans.append(a[3].time_range()) or real(*a, **k))
    rows = _rows()
    p = _write(tmp_path, rows)
    assert simulate(CAR_WASH, p, "--grouped")[0] == 0 and len(plans) == 1
    rows[100] = "M19,2030-01-01T00:00,abc,basic wash"
    p = _write(tmp_path, rows)
    plans.clear()
    assert simulate(CAR_WASH, p, "--grouped", "--on-bad-row", "skip")[0] == 0
    assert len(plans) == 2 and plans[0][1].year == 2030 and plans[1][1].year == 2025


@pytest.mark.parametrize("line", [2, 58, 199])
def test_a_bad_row_stops_the_run_as_in_memory_with_no_output(line, tmp_path, small_blocks):
    rows = _rows()
    member = rows[line - 1].split(",")[0]
    rows[line - 1] = f"{member},2024-01-01T00:00,12.3.4,basic wash"  # the earliest time, on a bad row
    p = _write(tmp_path, rows)
    whole, streamed = simulate(CAR_WASH, p), simulate(CAR_WASH, p, "--grouped")
    assert whole[0] == streamed[0] == 1 and streamed[1] == ""
    assert whole[2] == streamed[2] and f'{p}:{line}: column "amount"' in streamed[2]
    assert "Traceback" not in streamed[2]


def test_the_first_error_in_the_file_is_the_one_reported(tmp_path, small_blocks):
    rows = _rows()
    rows.append("M03,2025-02-20T10:00,105.00,basic wash")  # M03 again, after everyone: line 202
    rows[150] = "M29,2025-02-12T10:00,oops,basic wash"  # a bad row before it: line 151
    p = _write(tmp_path, rows)
    whole, streamed = simulate(CAR_WASH, p), simulate(CAR_WASH, p, "--grouped")
    assert whole[0] == streamed[0] == 1 and whole[2] == streamed[2] and f"{p}:151:" in streamed[2]
    rows[150] = "M29,2025-02-12T10:00,105.00,basic wash"
    rows[190] = "M37,2025-02-12T10:00,oops,basic wash"  # a bad row at line 192 (after the insert below)
    rows.insert(120, "M02,2025-02-20T10:00,105.00,basic wash")  # M02 again at line 121, before the bad row
    p = _write(tmp_path, rows)
    code, out, err = simulate(CAR_WASH, p, "--grouped")
    assert code == 1 and out == "" and f"{p}:121: member 'M02' has rows here and earlier" in err


def test_a_history_error_comes_before_an_attributes_error_as_in_memory(tmp_path, small_blocks):
    rows = _rows()
    rows[100] = "M19,2025-02-12T10:00,oops,basic wash"
    p = _write(tmp_path, rows)
    missing = tmp_path / "no-such-attributes.csv"
    whole = simulate(CAR_WASH, p, "--attributes", missing)
    streamed = simulate(CAR_WASH, p, "--attributes", missing, "--grouped")
    assert whole[0] == streamed[0] == 1 and whole[2] == streamed[2] and f"{p}:101:" in streamed[2]


def test_times_arrow_does_not_read_take_the_full_readers_parsers(tmp_path, small_blocks):
    rows = _rows()
    rows[30] = "M05,2025-02-01T10:00:00+02:00,105.00,basic wash"  # a zone: the scan reads the column as bytes
    rows[170] = "M33, 2025-03-01 ,105.00,basic wash"
    p = _write(tmp_path, rows)
    code, whole, _ = simulate(CAR_WASH, p)
    code2, streamed, err = simulate(CAR_WASH, p, "--grouped")
    assert code == code2 == 0, err
    assert streamed == whole


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_TIMES = st.sampled_from([
    "2025-02-{d:02d}", "2025-02-{d:02d}T10:30", "2025-02-{d:02d} 10:30:15", "2025-02-{d:02d}T10:30:00.5",
    "2025-02-{d:02d}T10:30:00+02:00", "2025-02-{d:02d}T23:30:00Z", " 2025-02-{d:02d} ",
    "2024-{d:02d}-01", "2031-01-{d:02d}T00:00",  # far from the rest: often the first or last time
    "yesterday", "", "2025-13-{d:02d}", "0999-01-{d:02d}", "2025/02/{d:02d}",  # bad
])
_AMOUNTS = st.sampled_from(["105.00", "10", "0.5", "-5.00", "", "abc", "10.005", "1e3"])
_MEMBERS = st.sampled_from(["", " "]) | st.none()  # None: the member's own id
_STORES = st.sampled_from(["Sparkle Ensjø", "Sparkle Lysaker", "Elsewhere", ""])


@st.composite
def _grouped_history(draw) -> list[str]:
    rows = ["member,time,amount,item,store"]  # stores: the by-store and by-region tables stream like the rest
    for m in range(draw(st.integers(1, 12))):
        for _ in range(draw(st.integers(1, 15))):
            member = draw(_MEMBERS) if draw(st.integers(0, 9)) == 0 else None
            time = draw(_TIMES).format(d=draw(st.integers(1, 28)))
            store = draw(_STORES)
            rows.append(f"{f'M{m:02d}' if member is None else member},{time},{draw(_AMOUNTS)},basic wash,{store}")
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_grouped_history(), skip=st.booleans(), block=st.sampled_from([512, 2048, 1 << 20]))
def test_generated_histories_with_bad_rows_equal_the_in_memory_run(rows, skip, block, tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    extra = ["--on-bad-row", "skip"] if skip else []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stream, "BLOCK_BYTES", block)
        whole = simulate(CAR_WASH, p, *extra)
        streamed = simulate(CAR_WASH, p, *extra, "--grouped")
    assert streamed[0] == whole[0] and streamed[1] == whole[1] and streamed[2] == whole[2]
    assert "Traceback" not in streamed[2]


def test_progress_counts_every_record_once_a_pass(tmp_path, small_blocks):
    from loyalty.simulate.engine import make_plan, program_info
    from loyalty.simulate.history import ReadOptions
    from loyalty.simulate.run import load_program
    from loyalty.simulate.scenario import Scenario

    rows = _rows()
    rows[20] = "M03,2025-02-12T10:00,oops,basic wash"
    rows[150:160] = [" ,2025-02-12T10:00,105.00,basic wash"] * 10  # a batch-sized run of skipped rows
    p = _write(tmp_path, rows)
    prog = load_program(str(CAR_WASH))
    reader = stream.GroupedReader(p, ReadOptions(minor_units=prog.exponent, currency=prog.currency,
                                                 timezone=prog.timezone, on_bad_row="skip"))
    span = reader.scan()
    plan = make_plan(prog, program_info(prog, str(CAR_WASH)), Scenario(), span)
    counted: list[int] = []
    stream.simulate_grouped(plan, reader, "python", counted.append)
    assert sum(counted) == reader.records == len(rows) - 1 and all(n > 0 for n in counted)
    assert reader.span.rows == len(rows) - 1 - 11


def _reusing(members: int = 40, days: int = 5) -> list[str]:
    """Purchases with event ids; some members reuse an order id under a new event id (`apply` refuses that)."""
    rows = ["member,time,type,event,order,amount,item"]
    for m in range(members):
        for d in range(1, days + 1):
            order = f"O{m}-{d if (m % 7 or d < 4) else 1}"  # every 7th member reuses her first order id
            rows.append(f"M{m:02d},2025-02-{d + 10:02d}T10:00,purchase,E{m}-{d},{order},105.00,basic wash")
    return rows


@pytest.mark.parametrize("skip", [True, False])
def test_a_reused_order_id_is_refused_as_in_memory(skip, tmp_path, small_blocks):
    """The in-memory reader refuses a purchase that reuses an order id under another event id (a bad row);
    --grouped checks each member once all her rows are read, so members cut across batches are checked
    whole, and gives the same report (skip) or the same first error (stop)."""
    rows = _reusing()
    rows[3] = rows[3].replace("T10:00", "T09:00")  # M00 too: a reused id at a row that is not her first
    rows[3] = rows[3].replace(",O0-3,", ",O0-1,")
    rows.append("M40,2026-01-01T00:00,purchase,E40-2,O40-1,105.00,basic wash")  # the last time, a reuse...
    rows.insert(len(rows) - 1, "M40,2025-02-20T10:00,purchase,E40-1,O40-1,105.00,basic wash")  # ...of this
    p = _write(tmp_path, rows)
    flags = ["--on-bad-row", "skip"] if skip else []
    whole, streamed = simulate(CAR_WASH, p, *flags), simulate(CAR_WASH, p, *flags, "--grouped")
    assert whole[0] == streamed[0] == (0 if skip else 1), (whole[2], streamed[2])
    assert streamed[1] == whole[1] and streamed[2] == whole[2]
    if skip:
        report = json.loads(streamed[1])["history"]
        assert report["last"].startswith("2025-02-20")  # the skipped reuse held the last time
        assert "order: already used by another event" in json.dumps(report)
    else:
        assert f"{p}:4:" in streamed[2] and "already used by event" in streamed[2]


@pytest.mark.parametrize("again", [3, 25, 38])
def test_a_member_whose_rows_start_again_batches_later_is_refused(again, tmp_path, monkeypatch):
    """Members whose rows ended batches ago are remembered (by hash, `_check_grouped`): one that starts again
    far past the batch she ended in is refused, naming her new row, with either --jobs."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 512)  # ~15 rows a batch: 200 rows in ~14 batches
    rows = _rows()
    rows.append(f"M{again:02d},2025-03-01T10:00,105.00,basic wash")
    rows += [f"M99,2025-03-0{d}T10:00,105.00,basic wash" for d in range(2, 9)]
    p = _write(tmp_path, rows)
    for jobs in ("1", "2"):
        res = CliRunner().invoke(main, ["simulate", str(CAR_WASH), str(p), "--grouped", "--format", "json",
                                        "--jobs", jobs])
        assert res.exit_code == 1 and res.stdout == ""
        assert f"{p}:202: member 'M{again:02d}' has rows here and earlier" in res.stderr, res.stderr


# `_check_grouped` remembers ended members by a 64-bit hash of their id; a hash found again is told apart by id
# (`_members_before` reads the batches before again), so two ids of one hash (~1e-8 for 500k members) neither
# refuse a grouped file nor let a broken one through. Here every two ids collide.


def _colliding(monkeypatch) -> None:
    monkeypatch.setattr(stream, "_member_hash", lambda member: 7)


@pytest.mark.parametrize("skip", [False, True])
def test_colliding_member_hashes_do_not_refuse_a_grouped_file(skip, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK_BYTES", 512)  # ~14 batches
    rows = _rows()
    if skip:  # under skip a member whose earlier row was left out starts where her kept rows do, as in memory
        rows.insert(3, "M30,2025-02-01T10:00,not money,basic wash")
    p = _write(tmp_path, rows)
    flags = ["--on-bad-row", "skip"] if skip else []
    normal = simulate(CAR_WASH, p, "--grouped", *flags)
    _colliding(monkeypatch)
    collided = simulate(CAR_WASH, p, "--grouped", *flags)
    assert normal[0] == collided[0] == 0, collided[2]
    assert collided[1] == normal[1]
    assert collided[1] == simulate(CAR_WASH, p, *flags)[1]


@pytest.mark.parametrize("again", [3, 38])
def test_colliding_member_hashes_still_refuse_a_member_starting_again(again, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK_BYTES", 512)
    rows = _rows()
    rows.append(f"M{again:02d},2025-03-01T10:00,105.00,basic wash")
    rows += [f"M99,2025-03-0{d}T10:00,105.00,basic wash" for d in range(2, 9)]
    p = _write(tmp_path, rows)
    _colliding(monkeypatch)
    code, out, err = simulate(CAR_WASH, p, "--grouped")
    assert code == 1 and out == ""
    assert f"{p}:202: member 'M{again:02d}' has rows here and earlier" in err, err
