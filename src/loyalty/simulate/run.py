"""What the simulate, compare and explain commands share: load a program, read a history, run, report."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from loyalty.runtime.program import CompiledProgram
from loyalty.simulate.engine import Plan, make_plan, program_info, simulate
from loyalty.simulate.history import History, HistoryError, ReadOptions, parse_column_mapping, read_attributes, read_history
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
        return compile_program(checked.program, path)
    except LoyaltyError as err:
        raise ProgramLoadError(err.diagnostics, checked.text) from None


@dataclass
class Inputs:
    scenario: Scenario
    history: History


def read_inputs(prog: CompiledProgram, history_path: str, scenario_path: Optional[str], columns: Optional[str],
                time_format: Optional[str], delimiter: Optional[str], on_bad_row: str) -> Inputs:
    scenario = load_scenario(scenario_path) if scenario_path else Scenario()
    mapping = dict(scenario.columns)
    if columns:
        mapping.update(parse_column_mapping(columns))
    options = ReadOptions(
        minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone,
        time_format=time_format or scenario.time_format, delimiter=_delimiter(delimiter or scenario.delimiter or ","),
        columns=mapping, on_bad_row=on_bad_row,
    )
    return Inputs(scenario, read_history(history_path, options))


def _delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    text = named.get(text, text)
    if len(text) != 1:
        raise HistoryError(f"the delimiter must be one character (or tab), not {text!r}")
    return text


def plan_for(prog: CompiledProgram, program_path: str, inputs: Inputs, attributes_path: Optional[str]) -> Plan:
    attributes = read_attributes(attributes_path) if attributes_path else {}
    return make_plan(prog, program_info(prog, program_path), inputs.scenario, inputs.history, attributes)


def history_info(h: History) -> HistoryInfo:
    return HistoryInfo(h.file, len(h), dict(h.skipped), min(h.time) if len(h) else None,
                       max(h.time) if len(h) else None, tuple(str(b) for b in h.bad_rows))


def run_and_report(plan: Plan, inputs: Inputs, show_progress: bool) -> tuple[SimResult, dict]:
    h = inputs.history
    if show_progress and sys.stderr.isatty() and len(h) > 20000:
        from rich.progress import Progress

        with Progress(transient=True, console=_stderr_console()) as bar:
            task = bar.add_task("simulating", total=len(h) * (2 if plan.program.budgets else 1))
            result = simulate(plan, h, progress=lambda n: bar.advance(task, n))
    else:
        result = simulate(plan, h)
    report = build_report(result, plan.info, history_info(h), inputs.scenario.assumptions(), list(plan.months))
    return result, report


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


def write_out_dir(report: dict, result: SimResult, exponent: int, directory: Path) -> list[Path]:
    from loyalty.simulate.render import write_csv_tables, write_rows

    written = write_csv_tables(report, directory)
    path = directory / "by_member.csv"
    rows = member_rows_csv(result, exponent)
    write_rows(path, rows, header=["member", "orders", "revenue", "points_earned", "points_redeemed",
                                   "points_outstanding", "rewards", "discount", "value_received", "tier"])
    return written + [path]
