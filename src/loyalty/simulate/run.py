"""What the simulate, compare and explain commands share: load a program, read a history, run, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from loyalty.runtime.program import CompiledProgram
from loyalty.simulate.engine import Plan, make_plan, program_info
from loyalty.simulate.history import (DELIMITER_NAMES, History, HistoryError, ReadOptions, parse_column_mapping,
                                      read_attributes, read_history)
from loyalty.simulate.referrals import uses_referrals
from loyalty.simulate.report import HistoryInfo, build_report
from loyalty.simulate.result import SimResult
from loyalty.simulate.scenario import Scenario, load_scenario


class ProgramLoadError(Exception):
    def __init__(self, diagnostics, source: str):
        self.diagnostics = diagnostics
        self.source = source


def load_program(path: str) -> CompiledProgram:
    from loyalty.compiler import compile_program
    from loyalty.diagnostics import LoyaltyError
    from loyalty.frontend import check_file

    try:
        checked = check_file(path)
    except OSError as err:
        raise HistoryError(f"{path}: cannot read the program: {err.strerror or err}") from None
    if not checked.ok:
        raise ProgramLoadError([d for d in checked.diagnostics if d.is_error], checked.text)
    try:
        prog = compile_program(checked.program, path)
    except LoyaltyError as err:
        raise ProgramLoadError(err.diagnostics, checked.text) from None
    return prog


@dataclass
class Inputs:
    scenario: Scenario
    history: History


def read_inputs(prog: CompiledProgram, history_path: str, scenario_path: Optional[str], columns: Optional[str],
                time_format: Optional[str], delimiter: Optional[str], on_bad_row: str) -> Inputs:
    scenario, options = scenario_and_options(prog, scenario_path, columns, time_format, delimiter, on_bad_row)
    return Inputs(scenario, read_history(history_path, options))


def scenario_and_options(prog: CompiledProgram, scenario_path: Optional[str], columns: Optional[str],
                         time_format: Optional[str], delimiter: Optional[str], on_bad_row: str
                         ) -> tuple[Scenario, ReadOptions]:
    """The scenario, and how to read the history (the command line overrides the scenario)."""
    # checked against the program: a cost for a point kind, reward or item it does not have is an error
    scenario = load_scenario(scenario_path, prog) if scenario_path else Scenario()
    mapping = dict(scenario.columns)
    if columns:
        mapping.update(parse_column_mapping(columns))
    options = ReadOptions(
        minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone,
        time_format=time_format or scenario.time_format, delimiter=_delimiter(delimiter or scenario.delimiter or ","),
        columns=mapping, on_bad_row=on_bad_row, referrals=uses_referrals(prog),
    )
    return scenario, options


def _delimiter(text: str) -> str:
    text = DELIMITER_NAMES.get(text, text)
    if len(text) != 1:
        raise HistoryError(f"the delimiter must be one character (or tab), not {text!r}")
    return text


def plan_for(prog: CompiledProgram, program_path: str, inputs: Inputs, attributes_path: Optional[str],
             member_rows: bool = True) -> Plan:
    attributes = read_attributes(attributes_path) if attributes_path else {}
    return make_plan(prog, program_info(prog, program_path), inputs.scenario, inputs.history, attributes,
                     member_rows)


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
    report = build_report(result, plan.info, history_info(h), assumptions, list(plan.months))
    return result, report


def with_progress(rows: int, show_progress: bool, console, run):
    """`run(progress)` with a bar on `console` (default: standard error) when it is a terminal and the history
    is long enough. The bar counts one pass over the rows; a further pass (budgets, simulate/budgets.py)
    starts it again, labelled with its number, so it never runs past 100%."""
    if not (show_progress and rows >= PROGRESS_MIN_ROWS):
        return run(None)
    console = console if console is not None else _stderr_console()
    if not console.is_terminal:
        return run(None)
    from rich.progress import Progress

    with Progress(transient=True, console=console) as bar:
        task = bar.add_task("simulating", total=rows)
        done = [0]

        def advance(n: int) -> None:
            if done[0] >= rows:  # every row of the last pass is counted: this is the next pass
                done[0] = 0
                passes = getattr(advance, "passes", 1) + 1
                advance.passes = passes
                bar.reset(task, total=rows, description=f"simulating (pass {passes})")
            done[0] += n
            bar.advance(task, n)

        return run(advance)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def member_rows_csv(result: SimResult, exponent: int) -> list[dict]:
    from loyalty.runtime.effects import minor_to_decimal

    rows = []
    for m in result.members:
        rows.append({
            "member": m.member, "orders": m.orders, "revenue": str(minor_to_decimal(m.revenue, exponent)),
            "points_earned": m.points_earned, "points_redeemed": m.points_redeemed,
            "points_outstanding": m.points_outstanding, "rewards": m.rewards,
            "discount": str(minor_to_decimal(m.discount, exponent)),
            "value_received": str((m.value.scaleb(-exponent)).normalize() if m.value else 0), "tier": m.tier,
        })
    return rows


OUT_TABLES = ("summary", "by_rule", "by_reward", "by_tier", "by_month", "draws", "by_member")


def write_out_dir(report: dict, result: SimResult, exponent: int, directory: Path) -> list[Path]:
    """The `--out` tables, written as a whole: into a temporary folder beside `directory`, which then takes
    its place (loyalty.fileio.replace_directory), so the folder holds the tables of one run or of none."""
    from loyalty.fileio import pause_for_tests, replace_directory
    from loyalty.simulate.render import write_csv_tables, write_rows

    with replace_directory(directory, owned=frozenset(f"{t}.csv" for t in OUT_TABLES)) as new:
        write_csv_tables(report, new)
        pause_for_tests()
        rows = member_rows_csv(result, exponent)
        write_rows(new / "by_member.csv", rows, header=["member", "orders", "revenue", "points_earned",
                                                        "points_redeemed", "points_outstanding", "rewards",
                                                        "discount", "value_received", "tier"])
    return [directory / f"{t}.csv" for t in OUT_TABLES]
