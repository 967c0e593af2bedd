"""`loyalty.simulate` and `loyalty.compare`: the simulation for notebooks and scripts (docs/simulate.md, "From Python").

They run the route the commands run (`simulate/run.py` `simulate_in_memory`, `commands/compare.py`
`run_comparison`), so `Simulation.to_json()` is `loyalty simulate --format json`'s output byte for byte.
A history may be a file (CSV, Parquet) or a table in memory: a pandas or polars DataFrame or a pyarrow
Table, read as a Parquet file's rows are (every column as text, parsed exactly; a bad value names its row,
counted from 1, and its column). Money is exact everywhere: `Decimal` attributes, `Decimal` cells in pandas,
`decimal128` columns in Arrow and polars.

Errors are the library's own: `loyalty.LoyaltyError` for a program with errors (every diagnostic),
`loyalty.InputError` for a history, scenario or attributes that cannot be used (`HistoryError` with `.line`
and `.column` for a bad row), `loyalty.CoverageError` under `strict=True`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

from loyalty.simulate.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars
    import pyarrow

    from loyalty.runtime.facade import Program

ProgramSource = Union[str, Path, "Program"]
TableSource = Union[str, Path, "pandas.DataFrame", "polars.DataFrame", "pyarrow.Table"]


class CoverageError(InputError):
    """`strict=True` and the history does not match the program (coverage warnings, docs/simulate.md)."""

    def __init__(self, warnings: list[str]):
        super().__init__(warnings[0], hint=f"{len(warnings)} coverage warning(s) under strict=True",
                         also=[(w, None) for w in warnings[1:]])
        self.warnings = warnings


def _money(value: Optional[str]) -> Optional[Decimal]:
    return None if value is None else Decimal(value)


class _TableViews:
    """What a simulation and a comparison offer alike, from their own `to_arrow(name)` and `report`."""

    report: dict

    def to_arrow(self, name: str) -> "pyarrow.Table":
        raise NotImplementedError

    def to_pandas(self, name: str) -> "pandas.DataFrame":
        """A table as a pandas DataFrame; money cells are `decimal.Decimal` (exact), never floats."""
        # a count with gaps (a rule row without a line): ints and None, not floats
        return self.to_arrow(name).to_pandas(integer_object_nulls=True)

    def to_polars(self, name: str) -> "polars.DataFrame":
        """A table as a polars DataFrame; money columns are `Decimal` (exact), never floats."""
        import polars as pl

        return pl.from_arrow(self.to_arrow(name))

    def to_json(self) -> str:
        """The report as the command prints it with --format json (sorted keys, exact decimals as text)."""
        from loyalty.simulate.render import to_json

        return to_json(self.report)


@dataclass(frozen=True)
class Simulation(_TableViews):
    """A simulation's report. The headline figures are attributes (money and shares as `Decimal`); every
    table is `table(name)` (rows of typed values) or `to_pandas(name)`, `to_polars(name)`, `to_arrow(name)`;
    `to_json()` is the document `loyalty simulate --format json` prints."""

    members: int
    purchasing_members: int
    orders: int
    returns: int
    revenue: Decimal
    discounts: Decimal
    reward_cost: Decimal
    perk_cost: Decimal
    draw_prizes: Decimal
    realized_cost: Decimal
    liability_end: Decimal
    total_cost: Decimal
    cost_share_of_revenue: Optional[Decimal]  # total cost / revenue; None without revenue
    points_issued: Decimal
    redemption_rate: Optional[Decimal]
    breakage: Optional[Decimal]
    simulated_redemptions: int
    currency: str
    report: dict = field(repr=False)  # the JSON document, as a dict
    member_rows: list = field(repr=False, default_factory=list)
    exponent: int = 2

    @classmethod
    def _of(cls, report: dict, member_rows: list, exponent: int) -> "Simulation":
        h = report["headline"]
        return cls(
            members=h["members"], purchasing_members=h["purchasing_members"], orders=h["orders"],
            returns=h["returns"], revenue=Decimal(h["revenue"]), discounts=Decimal(h["discounts"]),
            reward_cost=Decimal(h["reward_cost"]), perk_cost=Decimal(h["perk_cost"]),
            draw_prizes=Decimal(h["draw_prizes"]), realized_cost=Decimal(h["realized_cost"]),
            liability_end=Decimal(h["liability_end"]), total_cost=Decimal(h["total_cost"]),
            cost_share_of_revenue=_money(h["cost_share_of_revenue"]), points_issued=Decimal(h["points_issued"]),
            redemption_rate=_money(h["redemption_rate"]), breakage=_money(h["breakage"]),
            simulated_redemptions=h["simulated_redemptions"], currency=report["program"]["currency"],
            report=report, member_rows=member_rows, exponent=exponent,
        )

    @property
    def coverage(self) -> dict:
        """The coverage section: unknown names, category mismatches, what nothing reached (docs/simulate.md)."""
        return self.report["coverage"]

    @property
    def warnings(self) -> list[str]:
        """The coverage warnings (what `--strict` and `strict=True` refuse)."""
        from loyalty.simulate.coverage import strict_problems

        return strict_problems(self.coverage)

    @property
    def tables(self) -> list[str]:
        """The names of the tables: summary, by_rule, by_reward, by_tier, by_month, draws, by_member, points, ..."""
        from loyalty.simulate.tables import table_names

        return table_names(self.report)

    def _rows_and_columns(self, name: str):
        from loyalty.simulate.tables import table_columns, table_rows

        if name not in self.tables:
            raise KeyError(f"no table {name!r}; the tables are: {', '.join(self.tables)}")
        rows = table_rows(self.report, name, self.member_rows)
        return rows, table_columns(name, rows)

    def table(self, name: str) -> list[dict]:
        """A table's rows, each a dict of typed values (int, Decimal, str, None)."""
        from loyalty.simulate.tables import typed_rows

        rows, columns = self._rows_and_columns(name)
        return typed_rows(rows, columns)

    def to_arrow(self, name: str) -> "pyarrow.Table":
        """A table as a pyarrow Table: money and shares as decimal128, counts as int64, names as string."""
        from loyalty.simulate.tables import to_arrow

        rows, columns = self._rows_and_columns(name)
        return to_arrow(rows, columns, self.exponent)



@dataclass(frozen=True)
class Comparison(_TableViews):
    """Two programs on one history: `old` and `new` (each a `Simulation`), the total cost difference
    (new - old), and tables `by_rule`, `by_month` and `biggest_losers`; `to_json()` is `loyalty compare
    --format json`'s output."""

    old: Simulation
    new: Simulation
    total_cost_difference: Decimal
    members_compared: int
    members_getting_less: int
    members_getting_more: int
    report: dict = field(repr=False)

    @property
    def tables(self) -> list[str]:
        return ["by_rule", "by_month", "biggest_losers"]

    def _rows(self, name: str) -> list[dict]:
        if name == "biggest_losers":
            return self.report["members"]["biggest_losers"]
        if name not in self.tables:
            raise KeyError(f"no table {name!r}; the tables are: {', '.join(self.tables)}")
        return self.report[name]

    def table(self, name: str) -> list[dict]:
        from loyalty.simulate.tables import table_columns, typed_rows

        rows = self._rows(name)
        return typed_rows(rows, table_columns(f"compare_{name}", rows))

    def to_arrow(self, name: str) -> "pyarrow.Table":
        from loyalty.simulate.tables import table_columns, to_arrow

        rows = self._rows(name)
        return to_arrow(rows, table_columns(f"compare_{name}", rows), self.old.exponent)



# ------------------------------------------------------------------ the functions


def simulate(program: ProgramSource, history: TableSource, *, attributes: Optional[TableSource] = None,
             assumptions: Union[None, str, Path, Mapping[str, Any]] = None,
             columns: Union[None, str, Mapping[str, str]] = None, time_format: Optional[str] = None,
             delimiter: Optional[str] = None, on_bad_row: str = "stop", kernel: str = "auto", jobs: int = 1,
             strict: bool = False) -> Simulation:
    """Replay `history` through `program` and report what it would have cost, as `loyalty simulate` does.

    program: a path to a .loyalty file, program text, or a program from `loyalty.load`.
    history: a path (CSV, Parquet), or a pandas or polars DataFrame or a pyarrow Table with the history's
        columns (docs/simulate.md, "The history"); amounts as text or Decimal (a float amount that is not
        exact in the currency, such as 0.1 + 0.2, is a bad row).
    attributes: member attributes (member, birthday, segments, home_store, signup_date), a CSV path or a table.
    assumptions: the scenario: a YAML path, or a mapping of the same keys (`{"breakage": {"points": "0.15"}}`).
    columns: `{"member": "customer_id"}` or "member=customer_id,..." like --columns.
    strict: coverage warnings raise `CoverageError`.
    """
    from loyalty.simulate.run import simulate_in_memory

    if on_bad_row not in ("stop", "skip"):
        raise ValueError(f"on_bad_row must be 'stop' or 'skip', not {on_bad_row!r}")
    if kernel not in ("auto", "vector", "python"):
        raise ValueError(f"kernel must be 'auto', 'vector' or 'python', not {kernel!r}")
    prog, program_file = _program(program)
    scenario = _assumptions(assumptions, prog)
    history_source, history_name = _table_or_path(history, "history")
    attributes_source = _table_or_path(attributes, "attributes")[0] if attributes is not None else None

    def refuse(why) -> None:
        if kernel == "vector" and why is not None:
            from loyalty.simulate.engine import SimulationError

            raise SimulationError(f"kernel='vector' cannot run this program: {why}",
                                  hint="use kernel='auto' or kernel='python'")

    plan, result, report = simulate_in_memory(prog, program_file, history_source, scenario, attributes_source,
                                              columns, time_format, delimiter, on_bad_row, jobs=max(1, jobs),
                                              kernel=kernel, member_rows=True, on_unsupported=refuse,
                                              history_name=history_name)
    from loyalty.simulate.run import member_rows_csv

    simulation = Simulation._of(report, member_rows_csv(result, prog.exponent), prog.exponent)
    if strict and simulation.warnings:
        raise CoverageError(simulation.warnings)
    return simulation


def compare(old: ProgramSource, new: ProgramSource, history: TableSource, *,
            attributes: Optional[TableSource] = None, assumptions: Union[None, str, Path, Mapping[str, Any]] = None,
            columns: Union[None, str, Mapping[str, str]] = None, time_format: Optional[str] = None,
            delimiter: Optional[str] = None, on_bad_row: str = "stop", strict: bool = False) -> Comparison:
    """Run two programs on the same history, as `loyalty compare` does: the cost difference by rule and month,
    and who gets less under the new program. Arguments as for `simulate`."""
    from loyalty.commands.compare import run_comparison

    old_prog, old_file = _program(old)
    new_prog, new_file = _program(new)
    scenario = _assumptions(assumptions, old_prog)
    history_source, history_name = _table_or_path(history, "history")
    attributes_source = _table_or_path(attributes, "attributes")[0] if attributes is not None else None
    old_report, new_report, out = run_comparison(old_prog, old_file, new_prog, new_file, history_source, scenario,
                                                 attributes_source, columns, time_format, delimiter, on_bad_row,
                                                 history_name=history_name)
    comparison = Comparison(
        old=Simulation._of(old_report, [], old_prog.exponent), new=Simulation._of(new_report, [], new_prog.exponent),
        total_cost_difference=Decimal(out["total_cost_difference"]), members_compared=out["members"]["compared"],
        members_getting_less=out["members"]["get_less"], members_getting_more=out["members"]["get_more"],
        report=out)
    warnings = [f"{side} program: {w}" for side, s in (("old", comparison.old), ("new", comparison.new))
                for w in s.warnings]
    if strict and warnings:
        raise CoverageError(warnings)
    return comparison


def _program(source: ProgramSource):
    """(compiled program, the file name the report shows) from a path, program text or a loaded program."""
    from loyalty import load
    from loyalty.runtime.facade import Program
    from loyalty.runtime.program import CompiledProgram

    if isinstance(source, Program):
        return source.compiled, source.compiled.source_file or "<program>"
    if isinstance(source, CompiledProgram):
        return source, source.source_file or "<program>"
    if not isinstance(source, (str, Path)):
        raise TypeError(f"program: expected a path, program text or a loaded program, not {type(source).__name__}")
    loaded = load(source)
    is_path = isinstance(source, Path) or loaded.compiled.source_file == str(source)
    return loaded.compiled, str(source) if is_path else "<string>"


def _assumptions(source, prog):
    """A Scenario from a YAML path or a mapping, checked as a scenario file is (schemas.Assumptions)."""
    from loyalty.simulate.scenario import Scenario, load_scenario, parse_scenario

    if source is None:
        return None
    if isinstance(source, Scenario):
        return source
    if isinstance(source, (str, Path)):
        return load_scenario(source, prog)
    if isinstance(source, Mapping):
        # JSON is YAML: the mapping is checked by the very reader and model a scenario file is
        return parse_scenario(json.dumps(source, default=str, ensure_ascii=False), "<assumptions>", prog)
    raise TypeError(f"assumptions: expected a path or a mapping, not {type(source).__name__}")


def _table_or_path(source, what: str):
    """(a path, or an Arrow table; the name messages and the report use)."""
    if isinstance(source, (str, Path)):
        return source, str(source)
    name = f"<{what} {type(source).__name__}>"
    module = type(source).__module__.split(".")[0]
    try:
        if module == "pyarrow":
            import pyarrow as pa

            if isinstance(source, pa.RecordBatch):
                return pa.Table.from_batches([source]), name
            if isinstance(source, pa.Table):
                return source, name
        elif module == "pandas":
            import pyarrow as pa

            return pa.Table.from_pandas(source, preserve_index=False), name
        elif module == "polars":
            return source.to_arrow(), name
    except Exception as err:  # a column Arrow cannot hold (mixed types): say which input, not a traceback
        from loyalty.simulate.history import HistoryError

        raise HistoryError(f"{name}: cannot read the {what} table: {err}",
                           hint="give each column one type (text, numbers, dates), or text throughout") from None
    raise TypeError(f"{what}: expected a path, a pandas or polars DataFrame or a pyarrow Table, "
                    f"not {type(source).__name__}")
