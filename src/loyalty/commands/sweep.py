"""`loyalty sweep`: a program's cost for every combination of some of its parameters, on one history."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loyalty.commands._common import (note, EXIT_INPUT, EXIT_USAGE, check_output_file, fail, output_error,
                                      prefer_system_allocator, print_diagnostics, stdout_console)
from loyalty.commands._params import interval_options, set_option
from loyalty.commands.simulate import handle_input_errors, history_options


@click.command(
    "sweep",
    epilog="""\b
Examples:
  loyalty sweep examples/programs/car_wash.loyalty examples/histories/car_wash.csv --grid "punch every=4th..10th"
  loyalty sweep program.loyalty sales.csv --grid "punch every=4th..10th" --grid "gold from=3000 points,5000 points"
  loyalty sweep program.loyalty sales.csv --grid "rate=1 point..3 points by 1 point" --out sweep.parquet
  loyalty sweep program.loyalty sales.csv --grid "gold from=300 stars..900 stars by 100 stars" --chart cost.svg

Exit codes: 0 success, 1 the program, a value or the history is wrong, 2 usage error.""",
)
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False))
@click.option("--grid", "grids", multiple=True, required=True, metavar="NAME=VALUES",
              help='A parameter and its values: a list ("3000 points,5000 points"), a range of ordinals or counts '
                   '("4th..10th") or a range with a step ("1 point..3 points by 1 point"). Repeatable: every '
                   "combination runs.")
@history_options
@set_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a table; json: one document with each run's figures (docs/simulate.md).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Also write the table of runs as FILE.csv or FILE.parquet.")
@click.option("--chart", type=click.Path(dir_okay=False), help="Also draw total cost against each parameter as FILE.svg.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Runs at once, in worker processes (default: every usable core). Same output for any value.")
@click.option("--kernel", type=click.Choice(["auto", "vector", "python"]), default="auto", show_default=True,
              help="As for simulate.")
@interval_options
@handle_input_errors
def command(program, history, grids, scenario_path, attributes_path, columns, time_format, delimiter, on_bad_row,
            strict, settings, fmt, out_file, chart, jobs, kernel, intervals, seed):
    """Run PROGRAM on HISTORY once for every combination of the --grid values and report, for each run,
    the cost, its share of revenue, the liability, and the members reaching each reward and tier."""
    from loyalty.simulate.parallel import usable_cores
    from loyalty.simulate.render import to_json
    from loyalty.simulate.run import ProgramLoadError, history_info, load_program, parse_settings, read_inputs
    from loyalty.simulate.sweep import RunSpec, combinations, parse_grid, render_svg, run_all, sweep_document, write_table

    if out_file and Path(out_file).suffix.lower() not in (".csv", ".parquet"):
        fail(f"--out {out_file}: the table is written as .csv or .parquet", "name the file e.g. sweep.csv",
             code=EXIT_USAGE)
    if chart and Path(chart).suffix.lower() != ".svg":
        fail(f"--chart {chart}: the chart is written as .svg", "name the file e.g. cost.svg", code=EXIT_USAGE)
    for path, option in ((out_file, "--out"), (chart, "--chart")):
        if path:
            check_output_file(path, option)
    parsed = [parse_grid(g) for g in grids]
    combos = combinations(parsed)
    fixed = parse_settings(settings)
    swept = [name for name in fixed if name in {g.name for g in parsed}]
    if swept:
        fail(f'parameter "{swept[0]}" is both --set and --grid', "give it one of them", code=EXIT_USAGE)
    base = load_program(program, fixed)
    # every combination checked and compiled before any run: a bad value stops the sweep at once
    programs = []
    for combo in combos:
        try:
            programs.append(load_program(program, {**fixed, **combo}))
        except ProgramLoadError as err:
            from loyalty.syntax.params import value_text

            shown = ", ".join(f"{k}={value_text(v)}" for k, v in combo.items())
            click.echo(f"loyalty: error: the program does not hold with {shown}:", err=True)
            print_diagnostics(err.diagnostics, err.source)
            sys.exit(EXIT_INPUT)
    prefer_system_allocator()
    inputs = read_inputs(base, history, scenario_path, columns, time_format, delimiter, on_bad_row)
    spec = RunSpec(program, attributes_path, kernel, intervals, seed)
    runs = run_all(programs, spec, inputs, jobs or usable_cores())
    # coverage (simulate/coverage.py) compares the history with the program: under --strict a warning of any
    # run stops the sweep before anything is written; every run's warnings are shown on standard error
    coverages = [run.pop("coverage") for run in runs]
    from loyalty.commands.simulate import refuse_coverage_warnings
    from loyalty.simulate.coverage import strict_problems

    seen: list[str] = []
    for coverage in coverages:
        refuse_coverage_warnings(coverage, strict)
        seen += [p for p in strict_problems(coverage) if p not in seen]
    for problem in seen:
        note(f"warning: {problem}")
    info = history_info(inputs.history)
    history_doc = {"file": info.file, "rows": info.rows, "first": info.first.isoformat() if info.first else None,
                   "last": info.last.isoformat() if info.last else None}
    program_doc = {"name": base.name, "file": program, "currency": base.currency}
    doc = sweep_document(program_doc, history_doc, parsed, combos, runs)
    if fmt == "json":
        click.echo(to_json(doc), nl=False)
    else:
        _print_table(doc, base.exponent)
    for path, write in ((out_file, lambda p: write_table(doc, p, base.exponent)),
                        (chart, lambda p: _write_text(p, render_svg(doc)))):
        if path:
            try:
                write(Path(path))
            except OSError as err:
                output_error(path, err)
            click.echo(f"wrote {path}", err=True)


def _write_text(path: Path, text: str) -> None:
    from loyalty.fileio import write_atomic

    write_atomic(path, text)


def _print_table(doc: dict, exponent: int) -> None:
    from rich.table import Table

    from loyalty.simulate.intervals import shown
    from loyalty.simulate.render import _money, _pct
    from loyalty.simulate.sweep import table_rows
    from loyalty.terminal import plain

    console = stdout_console()
    if not console.is_terminal:
        console.width = 200
    cur = doc["program"]["currency"]
    rows = table_rows(doc)
    t = Table(title=plain(f"{doc['program']['name']}: {len(rows)} runs on {doc['history']['rows']:,} rows"),
              title_justify="left", title_style="bold")
    rewards: list[str] = []  # every reward and tier some run reaches, in the order they first appear
    for row in rows:
        rewards += [c for c in row if c.startswith(("reward:", "tier:")) and c not in rewards]
    for name in doc["parameters"]:
        t.add_column(plain(name))
    for col in (f"total cost ({cur})", "share of revenue", f"liability ({cur})"):
        t.add_column(plain(col), justify="right")
    for col in rewards:
        kind, _, name = col.partition(":")
        t.add_column(plain(f"reaching {name}" if kind == "reward" else f"reaching tier {name}"), justify="right")
    for run, row in zip(doc["runs"], rows):
        h = run["headline"]
        interval = run.get("intervals", {}).get("headline", {}) if "intervals" in run else {}
        level = run["intervals"]["level"] if "intervals" in run else 0
        cells = [run["parameters"][n] for n in doc["parameters"]]
        cells += [shown(h["total_cost"], interval.get("total_cost"), level, lambda v: _money(v, exponent)),
                  _pct(h["cost_share_of_revenue"]),
                  shown(h["liability_end"], interval.get("liability_end"), level, lambda v: _money(v, exponent))]
        cells += [f"{row.get(c, 0):,}" for c in rewards]
        t.add_row(*(plain(c) for c in cells))
    console.print(t)
