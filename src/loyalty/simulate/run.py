"""What the simulate, compare and explain commands share: load a program, read a history, run, report."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from loyalty.runtime.program import CompiledProgram
from loyalty.simulate.engine import Plan, make_plan, program_info
from loyalty.simulate.errors import InputError
from loyalty.simulate.history import (COLUMN_ALIASES, DELIMITER_NAMES, History, HistoryError, ReadOptions,
                                      parse_column_mapping, read_attributes, read_history)
from loyalty.simulate.referrals import uses_referrals
from loyalty.simulate.report import HistoryInfo, build_report
from loyalty.simulate.result import SimResult, exact
from loyalty.simulate.scenario import Scenario, load_scenario


class ProgramLoadError(Exception):
    def __init__(self, diagnostics, source: str):
        self.diagnostics = diagnostics
        self.source = source


def load_program(path: str, settings: Sequence[str] | Mapping = ()) -> CompiledProgram:
    """The compiled program. `settings`: parameter values, as `NAME=VALUE` texts (`--set`) or parsed
    values by name; an unknown name or a value of the wrong kind is an `InputError`. Without settings, a
    program compiled before by the same code comes from the cache (loyalty/program_cache.py)."""
    if not settings:
        from loyalty.program_cache import load_cached

        return load_cached(path, lambda: _load_program(path, settings))
    return _load_program(path, settings)


def _load_program(path: str, settings: Sequence[str] | Mapping = ()) -> CompiledProgram:
    from loyalty.compiler import compile_program
    from loyalty.diagnostics import LoyaltyError
    from loyalty.frontend import check_file
    from loyalty.syntax.params import ParamError

    try:
        values = settings if isinstance(settings, Mapping) else parse_settings(settings)
        checked = check_file(path, values)
    except OSError as err:
        raise HistoryError(f"{path}: cannot read the program: {err.strerror or err}") from None
    except ParamError as err:
        raise InputError(f"{path}: {err.message}", err.hint) from None
    if not checked.ok:
        raise ProgramLoadError([d for d in checked.diagnostics if d.is_error], checked.text)
    try:
        prog = compile_program(checked.program, path)
    except LoyaltyError as err:
        raise ProgramLoadError(err.diagnostics, checked.text) from None
    return prog


def parse_settings(settings: Sequence[str]) -> dict:
    """`--set "gold from=3000 points"` (repeatable) -> {"gold from": PointsAmount(3000, "points")}; each value is
    read as the program would read it. A bad one is an `InputError` naming the option."""
    from loyalty.syntax.params import ParamError, parse_assignment

    values: dict = {}
    for text in settings:
        try:
            name, value = parse_assignment(text)
        except ParamError as err:
            raise InputError(f"--set {text}: {err.message}", err.hint) from None
        if name in values:
            raise InputError(f'--set: parameter "{name}" is set twice', "set each parameter once")
        values[name] = value
    return values


@dataclass
class Inputs:
    scenario: Scenario
    history: History


def read_inputs(prog: CompiledProgram, history, scenario_path, columns, time_format: Optional[str],
                delimiter: Optional[str], on_bad_row: str, history_name: str = "<table>",
                overrides: Optional[dict] = None, only: Optional[frozenset] = None) -> Inputs:
    """The scenario and the history. `history`: a path (CSV or Parquet), or an Arrow table in memory (the Python
    API's DataFrames, loyalty/simulation.py), named `history_name` in messages and the report. `overrides`:
    Scenario fields the command line sets (scenario_and_options); `only`: the columns read (`ReadOptions.only`,
    `history_columns`; None: all)."""
    import dataclasses

    scenario, options = scenario_and_options(prog, scenario_path, columns, time_format, delimiter, on_bad_row,
                                             overrides)
    options = dataclasses.replace(options, only=only)
    if isinstance(history, (str, Path)):
        from loyalty.progress import reading

        with reading(str(history)):  # a bar of the bytes read, on a terminal, for a read longer than a second
            return Inputs(scenario, read_history(history, options))
    from loyalty.simulate.history import history_from_table

    return Inputs(scenario, history_from_table(history, history_name, options))


def scenario_and_options(prog: CompiledProgram, scenario_path, columns, time_format: Optional[str],
                         delimiter: Optional[str], on_bad_row: str,
                         overrides: Optional[dict] = None) -> tuple[Scenario, ReadOptions]:
    """The scenario, and how to read the history (the command line overrides the scenario: `overrides` are
    Scenario fields, e.g. {"seed": 3, "lapse_after_days": 60}; None values are not given). `scenario_path`:
    a scenario file, or (from the Python API) a `Scenario` already checked; `columns`: `--columns` text or a
    mapping of the same."""
    # checked against the program: a cost for a point kind, reward or item it does not have is an error
    if isinstance(scenario_path, Scenario):
        scenario = scenario_path
    else:
        scenario = load_scenario(scenario_path, prog) if scenario_path else Scenario()
    scenario = scenario.with_overrides(**(overrides or {}))
    mapping = dict(scenario.columns)
    if isinstance(columns, dict):
        mapping.update(columns)
    elif columns:
        mapping.update(parse_column_mapping(columns))
    options = ReadOptions(
        minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone,
        time_format=time_format or scenario.time_format, delimiter=_delimiter(delimiter or scenario.delimiter or ","),
        columns=mapping, on_bad_row=on_bad_row, referrals=uses_referrals(prog),
        # a fee row names a paid tier (runtime/mechanics/fees.py)
        tiers=tuple((t.name, t.fee is not None) for t in prog.tiers.tiers) if prog.tiers else (),
    )
    return scenario, options


def history_columns(prog: CompiledProgram) -> frozenset:
    """The history's columns a simulation of `prog` and its report read (`ReadOptions.only`): every one but the
    channel, unless a condition names channels (the only reader of a row's channel; coverage checks channels only
    against those the conditions name). Store, item, category, codes and the rest feed report sections of
    every program (by store, coverage), so they are always read. Only for a run of this one program: compare,
    explain and sweep read the whole history."""
    def names_channels(node) -> bool:
        if isinstance(node, dict):
            return node.get("kind") == "channels" or any(names_channels(v) for v in node.values())
        if isinstance(node, (list, tuple)):
            return any(names_channels(v) for v in node)
        return False

    every = frozenset(COLUMN_ALIASES)
    return every if names_channels(prog.doc) else every - {"channel"}


def _delimiter(text: str) -> str:
    text = DELIMITER_NAMES.get(text, text)
    if len(text) != 1:
        raise HistoryError(f"the delimiter must be one character (or tab), not {text!r}")
    return text


def plan_for(prog: CompiledProgram, program_path: str, inputs: Inputs, attributes_path, member_rows: bool = True
             ) -> Plan:
    """The plan of a run. `attributes_path`: a CSV file of member attributes, or (from the Python API) an Arrow
    table of the same columns, or None."""
    return make_plan(prog, program_info(prog, program_path), inputs.scenario, inputs.history,
                     read_attributes_from(attributes_path), member_rows)


def read_attributes_from(source) -> dict:
    if source is None or isinstance(source, (str, Path)):
        return read_attributes(source) if source else {}
    from loyalty.simulate.history import attributes_from_table

    return attributes_from_table(source)


def simulate_in_memory(prog: CompiledProgram, program_path: str, history, scenario, attributes, columns,
                       time_format: Optional[str], delimiter: Optional[str], on_bad_row: str, jobs: int = 1,
                       kernel: str = "auto", member_rows: bool = True, show_progress: bool = False,
                       on_unsupported=None, history_name: str = "<table>", overrides: Optional[dict] = None,
                       forecast: Optional[tuple[int, int]] = None) -> tuple[Plan, SimResult, dict]:
    """`loyalty simulate` without --grouped or Dask, and `loyalty.simulate` in Python: one route. Read the
    history into memory, plan, refuse (`on_unsupported(why)`) a kernel that cannot run the program, replay
    and report. `overrides`: scenario fields the command line sets; `forecast`: (months, runs) to forecast
    past the history's end (loyalty/forecast)."""
    importing = import_while_reading(kernel) if isinstance(history, (str, Path)) else None
    try:
        inputs = read_inputs(prog, history, scenario, columns, time_format, delimiter, on_bad_row, history_name,
                             overrides, only=history_columns(prog))
    finally:  # (also after a bad history: no import left running while the process exits)
        if importing is not None:
            importing.join()
    from loyalty.simulate.vector import supports  # (after the read: the kernel's import overlaps it, above)
    plan = plan_for(prog, program_path, inputs, attributes, member_rows=member_rows)
    if on_unsupported is not None:
        on_unsupported(supports(prog, plan))
    result, report = run_and_report(plan, inputs, show_progress=show_progress, jobs=jobs, kernel=kernel)
    if forecast:
        from loyalty.forecast.run import behaviour_of, forecast_section

        months, runs = forecast
        report["forecast"] = forecast_section(plan, inputs.history, months, runs, jobs, kernel,
                                              behaviour_of(inputs.scenario), report["assumptions"])
    return plan, result, report


def _import_replay_modules(kernel: str) -> list:
    """The modules the replay and the report import after the read, imported ahead (`import_while_reading`):
    written out as import statements, not names handed to importlib (tests/test_no_code_execution.py). First
    what the read itself needs once Arrow's parse is done (history.py imports them there, waiting for this
    thread if it is still at it): pyarrow.compute (~45 ms: it builds a docstring and a signature for each of
    Arrow's ~290 functions), which the main thread used to import just before the parse, holding the GIL,
    and numpy.ma (~12 ms: numpy imports it at the first np.unique, in the sort by member)."""
    import pyarrow.compute  # (in this order: the read needs it first)
    import numpy.ma

    from loyalty.simulate import coverage, measures, parallel, render
    from loyalty.simulate.vector import choose

    imported = [pyarrow.compute, numpy.ma, coverage, measures, parallel, render, choose]
    if kernel != "python":
        from loyalty.simulate.vector import kernel as vector_kernel  # numpy and the vectorised kernel

        imported.append(vector_kernel)
    return imported


_IMPORTING: list = []  # the threads `import_while_reading` started (those still running, and maybe a few more)


def imports_finished() -> None:
    """Wait for every thread `import_while_reading` started, another thread's run's too: a fork while one of
    them imports leaves that module's import lock held for ever in the copy (parallel.py, sweep.py fork)."""
    for thread in list(_IMPORTING):
        thread.join()
        with suppress(ValueError):
            _IMPORTING.remove(thread)


def import_while_reading(kernel: str):
    """A started thread importing the modules the run needs after the read (`_import_replay_modules`: most of the
    read is pyarrow's parse, which releases the GIL, so their import costs no wall time): join it before the
    replay (before any fork: `imports_finished`). An import that fails there fails again, with its message, where
    the run imports the module itself."""
    import threading

    def run() -> None:
        try:
            _import_replay_modules(kernel)
        except Exception:  # noqa: BLE001 (imported again where it is used, which raises it there)
            return

    thread = threading.Thread(target=run, name="loyalty-imports", daemon=True)
    thread.start()
    _IMPORTING[:] = [t for t in _IMPORTING if t.is_alive()] + [thread]
    return thread


def history_info(h: History) -> HistoryInfo:
    first, last = h.time_range()
    return HistoryInfo(h.file, len(h), dict(h.skipped), first, last, tuple(str(b) for b in h.bad_rows))


PROGRESS_MIN_ROWS = 20000  # smaller histories finish before a bar is worth drawing


def run_and_report(plan: Plan, inputs: Inputs, show_progress: bool, console=None, jobs: int = 1,
                   engine=None, kernel: Optional[str] = None) -> tuple[SimResult, dict]:
    """Simulate and build the report. A progress bar goes to `console` (default: standard error) only
    when that is a terminal, so piped or redirected output never carries it. `jobs`: processes
    (simulate/parallel.py); `engine(plan, history, progress)`: another way to run it (e.g. Dask)."""
    from loyalty.simulate.parallel import simulate_jobs

    kernel_used = None
    if kernel is not None:  # python | vector | auto (simulate/vector/choose.py)
        from loyalty.simulate.vector.choose import choose_kernel, kernel_assumptions

        kernel_used = choose_kernel(plan, kernel)
    if engine is None:
        def engine(plan, h, progress=None):
            return simulate_jobs(plan, h, jobs, progress, kernel=kernel_used or "python")

    h = inputs.history
    result = with_progress(len(h), show_progress, console, lambda progress: engine(plan, h, progress=progress))
    assumptions = {**inputs.scenario.assumptions(), "reward_costs_used": plan.reward_costs_used}
    if kernel_used is not None:
        assumptions.update(kernel_assumptions(plan, kernel, kernel_used))
    return result, full_report(result, plan, history_info(h), assumptions)


def full_report(result: SimResult, plan: Plan, history: HistoryInfo, assumptions: dict) -> dict:
    """The report of a run, every engine's: the figures (report.py) and the coverage (coverage.py)."""
    from loyalty.simulate.coverage import coverage_report

    report = build_report(result, plan.info, history, assumptions, list(plan.months))
    report["coverage"] = coverage_report(result, plan.program, plan.attributes)
    return report


def with_progress(rows: int, show_progress: bool, console, run):
    """`run(progress)` with a bar of the rows replayed (loyalty/progress.py: on standard error when it is a
    terminal, or on `console`; not with -q; drawn once the replay has run a second) when the history is long
    enough. The bar counts one pass over the rows; a further pass (budgets, simulate/budgets.py) starts it
    again, labelled with its number, so it never runs past 100%."""
    from loyalty.progress import stage

    with stage("replaying", rows, "rows", console=console, show=show_progress and rows >= PROGRESS_MIN_ROWS) as bar:
        if bar is None:
            return run(None)
        passes = [1]

        def advance(n: int) -> None:
            if bar.completed >= rows:  # every row of the last pass is counted: this is the next pass
                passes[0] += 1
                bar.update(0, description=f"replaying (pass {passes[0]})")
            bar.advance(n)

        return run(advance)


@exact
def member_rows_csv(result: SimResult, exponent: int) -> list[dict]:
    """The by-member table; money with the currency's minor units (0.10, 1.00), as in every table."""
    from decimal import Decimal

    from loyalty.currencies import money_text

    def money(minor) -> str:
        return money_text(Decimal(minor).scaleb(-exponent), exponent)

    rows = []
    for m in result.members:
        rows.append({
            "member": m.member, "orders": m.orders, "revenue": money(m.revenue),
            "points_earned": m.points_earned, "points_redeemed": m.points_redeemed,
            "points_outstanding": m.points_outstanding, "rewards": m.rewards,
            "discount": money(m.discount), "value_received": money(m.value), "tier": m.tier,
        })
    return rows


OUT_TABLES = ("summary", "by_rule", "by_reward", "by_tier", "by_month", "by_month_cost", "by_store", "by_region",
              "draws", "customers", "customers_by_month", "customers_cohorts", "customers_value_by_tenure",
              "customers_enrolment", "by_member")
OUT_FORMATS = ("csv", "parquet")
# written only when the report has its section (members against customers who never joined), so the folder of a
# program without enrolment holds what it always held
ENROLMENT_TABLE = "enrolment"
# written only for a program with paid tiers (the report's `fees`, runtime/mechanics/fees.py)
FEE_TABLES = ("fees_by_tier", "fees_by_month")


def out_files(tables=OUT_TABLES + (ENROLMENT_TABLE,) + FEE_TABLES) -> frozenset:
    """The files `--out` may find in its folder from an earlier run (in either format) and replace."""
    return frozenset(f"{t}.{ext}" for t in tables for ext in OUT_FORMATS)


def write_out_dir(report: dict, result: SimResult, exponent: int, directory: Path, out_format: str = "csv"
                  ) -> list[Path]:
    """The `--out` tables (simulate/tables.py: every table with its columns, even without rows), written as a
    whole: into a temporary folder beside `directory`, which then takes its place (loyalty.fileio.replace_directory),
    so the folder holds the tables of one run or of none. CSV: money as the report writes it (12.50); Parquet:
    typed columns, money as decimal128 with the currency's decimals."""
    from loyalty.fileio import pause_for_tests, replace_directory
    from loyalty.simulate.render import write_rows
    from loyalty.simulate.tables import csv_rows, table_columns, table_rows, to_arrow

    written = []
    names = (OUT_TABLES[:-1] + ((ENROLMENT_TABLE,) if report.get("enrolment") else ())
             + (FEE_TABLES if report.get("fees") else ()) + OUT_TABLES[-1:])
    with replace_directory(directory, owned=out_files()) as new:
        for name in names:
            if name == OUT_TABLES[-1]:
                pause_for_tests()
            rows = table_rows(report, name, member_rows_csv(result, exponent) if name == "by_member" else None)
            columns = table_columns(name, rows)
            path = new / f"{name}.{out_format}"
            if out_format == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(to_arrow(rows, columns, exponent), path)
            else:
                write_rows(path, csv_rows(rows, columns), header=[c for c, _ in columns])
            written.append(directory / path.name)
    return written
