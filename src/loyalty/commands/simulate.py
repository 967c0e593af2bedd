"""`loyalty simulate`: replay a purchase history through a program and report its cost."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loyalty.terminal import visible
from loyalty.commands._params import interval_options, print_intervals, set_option
from loyalty.commands._common import (EXIT_INPUT, EXIT_USAGE, check_output_dir, check_output_file, fail, note,
                                      output_error, prefer_system_allocator, print_diagnostics, stdout_console)

HISTORY_OPTIONS = [
    click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False),
                 help="YAML file of assumptions (redemption, breakage, costs, seed); see docs/simulate.md."),
    click.option("--attributes", "attributes_path", type=click.Path(dir_okay=False),
                 help="CSV of member attributes: member, birthday, segments, home_store, signup_date."),
    click.option("--columns", help="Map your column names: member=customer_id,time=date,amount=dollar_value."),
    click.option("--time-format", help="strftime format of the time column, e.g. %Y%m%d (default: ISO 8601)."),
    click.option("--delimiter", help="CSV field delimiter: one character, or 'tab' (default: ,)."),
    click.option("--on-bad-row", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
                 help="Stop at the first bad row, or skip bad rows and count them (by reason) in the output."),
    click.option("--strict", is_flag=True,
                 help="Coverage warnings (names the program does not know, rules no row can reach, missing "
                      "attributes) are errors: exit 1 and no output."),
]


def history_options(f):
    for option in reversed(HISTORY_OPTIONS):
        f = option(f)
    return f


def reading_options(f):
    """The history options without --strict: for commands that read a history but report no coverage."""
    for option in reversed(HISTORY_OPTIONS[:-1]):
        f = option(f)
    return f


def refuse_coverage_warnings(coverage: dict, strict: bool) -> None:
    """With --strict, every coverage warning is an error: each printed, exit 1, before any output is written."""
    from loyalty.simulate.coverage import strict_problems

    problems = strict_problems(coverage) if strict else []
    if not problems:
        return
    for message in problems[:-1]:
        click.echo(f"loyalty: error: {visible(message)}", err=True)
    fail(problems[-1], f"{len(problems)} coverage warning{'s' if len(problems) != 1 else ''} under --strict: "
                       "fix the history, the program or the attributes, or run without --strict")


def handle_input_errors(fn):
    """Turn every input problem into a located message and exit code 1, never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from loyalty.simulate.errors import InputError
        from loyalty.simulate.run import ProgramLoadError

        try:
            return fn(*args, **kwargs)
        except ProgramLoadError as err:
            print_diagnostics(err.diagnostics, err.source)
            sys.exit(EXIT_INPUT)
        except InputError as err:  # history, scenario and option problems alike
            problems = [(err.message, err.hint), *err.also]
            for message, hint in problems[:-1]:
                click.echo(f"loyalty: error: {message}", err=True)
                if hint:
                    click.echo(f"  = hint: {hint}", err=True)
            fail(*problems[-1])

    return wrapper


@click.command(
    "simulate",
    epilog="""\b
Examples:
  loyalty simulate examples/programs/car_wash.loyalty examples/histories/car_wash.csv
  loyalty simulate program.loyalty sales.csv --columns member=customer_id,time=date,amount=total
  loyalty simulate program.loyalty sales.parquet --scenario scenario.yaml --format json > report.json
  loyalty simulate program.loyalty sales.csv --out report/ --html report.html
  loyalty simulate program.loyalty sales.csv --jobs 1
  loyalty generate --rows 5000 --program program.loyalty | loyalty simulate program.loyalty -
  loyalty simulate program.loyalty sales.csv --lapse-after 90 --forecast 12 months --seed 1
  loyalty simulate program.loyalty sales_by_member.csv --grouped
  loyalty simulate program.loyalty 'sales/*.parquet' --engine dask --scheduler tcp://host:8786

Exit codes: 0 success, 1 the program or the history is wrong (the message names the file,
line and column), 2 usage error.""",
)
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False, allow_dash=True))
@history_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: tables for people; json: one document (schema in docs/simulate.md).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write the tables (summary, by rule, reward, tier, month, store, region, draws, member) here.")
@click.option("--out-format", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True,
              help="The --out tables as CSV, or as Parquet (typed: money as exact decimals).")
@click.option("--chart", type=click.Path(dir_okay=False),
              help="Also write the report's charts (cost by month, rule and type, cumulative cost, tiers, points, "
                   "stores) as one FILE.svg, or the HTML report as FILE.html.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="Also write the report as one self-contained HTML page (charts and tables; opens offline).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: every usable core; 1: this process only). Same output for any value.")
@click.option("--engine", "engine_name", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this machine; dask: a Dask cluster (pip install 'loyalty-lang[dask]'), see docs/scale.md.")
@click.option("--scheduler", help="With --engine dask: the scheduler, e.g. tcp://host:8786 (default: a local cluster).")
@click.option("--kernel", type=click.Choice(["auto", "vector", "python"]), default="auto", show_default=True,
              help="vector: numpy, all members in lockstep (fast); python: the evaluator, member by member; "
                   "auto: vector when the program allows it (docs/performance.md).")
@click.option("--grouped", is_flag=True,
              help="The CSV has each member's rows together: read it in batches, replaying members as their rows "
                   "end, so memory stays flat however long it is (docs/scale.md). A file that is not grouped "
                   "is an error naming the row.")
@click.option("--lapse-after", "lapse_after", type=click.IntRange(min=1, max=36500), metavar="DAYS",
              help="Customer measures: a customer is lapsed after this many days without an order "
                   "(default: from the data; the report says which).")
@click.option("--forecast", "forecast", nargs=2, type=(click.IntRange(min=1, max=120), click.Choice(["months", "month"])),
              metavar="N months", help="Also forecast N months past the history's end: a BG/NBD model of each member's "
                                       "orders, the program run over history + forecast (docs/simulate.md).")
@click.option("--forecast-runs", type=click.IntRange(min=1, max=10000), default=20, show_default=True,
              help="With --forecast: runs of the forecast (the interval is the spread across them).")
@set_option
@interval_options
@handle_input_errors
def command(program, history, scenario_path, attributes_path, columns, time_format, delimiter, on_bad_row, strict,
            fmt, out_dir, out_format, chart, html_path, jobs, engine_name, scheduler, kernel, grouped, lapse_after,
            forecast, forecast_runs, settings=(), intervals=None, seed=None):
    """Replay HISTORY (CSV or Parquet) through PROGRAM and report what it would have cost:
    headline figures, cost by rule, reward, tier and month, liability, draws, caps and budgets."""
    from loyalty.fileio import FolderInUse
    from loyalty.simulate.render import render_terminal, to_json, write_chart
    from loyalty.simulate.run import load_program, out_files, simulate_in_memory, write_out_dir

    if chart and Path(chart).suffix.lower() not in (".svg", ".html", ".htm"):
        fail(f"{chart}: the chart is written as .svg or .html (no plotting library needed)",
             "name the file e.g. cost.svg or cost.html", code=EXIT_USAGE)
    owned = out_files()
    if chart:
        check_output_file(chart, "--chart")
    if html_path:
        check_output_file(html_path, "--html")
    if out_dir:
        check_output_dir(out_dir, "--out", owned)
    from loyalty.simulate.parallel import usable_cores

    if scheduler and engine_name != "dask":
        fail("--scheduler is for --engine dask", "add --engine dask, or leave out --scheduler", code=EXIT_USAGE)
    if grouped and engine_name == "dask":
        fail("--grouped is for the local engine (Dask partitions hold their members' rows anyway)",
             "leave out --grouped, or --engine dask", code=EXIT_USAGE)
    if forecast and (grouped or engine_name == "dask"):
        fail("--forecast needs the history in memory", "leave out --grouped and --engine dask", code=EXIT_USAGE)
    jobs = jobs or usable_cores()
    routed_before = _routed()
    overrides = {"lapse_after_days": lapse_after, "seed": seed}  # the command line wins over the scenario file
    if engine_name != "dask" and not grouped:  # (read whole: searched beside the program's load and pyarrow's import)
        from loyalty.simulate.history import look_for_quotes_ahead

        look_for_quotes_ahead(history)
    prog = load_program(program, settings)
    member_rows = bool(out_dir) or intervals is not None  # the intervals resample the member rows
    from_stdin = history == "-"
    if from_stdin:  # standard input (docs/simulate.md)
        from loyalty.commands._common import spool_stdin

        history = spool_stdin("the history")
    if engine_name == "dask":
        from loyalty.simulate.distributed import dask_and_report

        result, report = dask_and_report(prog, program, history, scenario_path, attributes_path, columns,
                                         time_format, delimiter, on_bad_row, scheduler, kernel=kernel,
                                         on_unsupported=lambda why: _refuse_vector(kernel, why),
                                         member_rows=member_rows, overrides=overrides)
    elif grouped:
        from loyalty.simulate.stream import grouped_and_report

        plan, result, report = grouped_and_report(prog, program, history, scenario_path, attributes_path, columns,
                                                  time_format, delimiter, on_bad_row, kernel,
                                                  on_unsupported=lambda why: _refuse_vector(kernel, why),
                                                  member_rows=member_rows, overrides=overrides, jobs=jobs)
    else:
        prefer_system_allocator()
        plan, result, report = simulate_in_memory(prog, program, history, scenario_path, attributes_path, columns,
                                                  time_format, delimiter, on_bad_row, jobs=jobs, kernel=kernel,
                                                  member_rows=member_rows, show_progress=True,
                                                  on_unsupported=lambda why: _refuse_vector(kernel, why),
                                                  overrides=overrides, forecast=forecast and (forecast[0], forecast_runs))
    if from_stdin:
        report["history"]["file"] = "<stdin>"
    _tell_routed(routed_before)
    refuse_coverage_warnings(report["coverage"], strict)
    if intervals is not None:
        from loyalty.simulate.intervals import intervals_section

        report["intervals"] = intervals_section(report["headline"], result.members, prog.exponent, intervals, seed)
    if fmt == "json":
        click.echo(to_json(report), nl=False)
    else:
        from loyalty.simulate.coverage import render_coverage

        console = stdout_console()  # COLUMNS, NO_COLOR, FORCE_COLOR honoured (docs/cli.md)
        render_terminal(report, console, prog.exponent)
        render_coverage(report["coverage"], console)
        print_intervals(report, console, prog.exponent)
    if out_dir:
        try:
            written = write_out_dir(report, result, prog.exponent, Path(out_dir), out_format)
        except OSError as err:
            output_error(out_dir, err)
        except FolderInUse:  # a file appeared in the folder during the run
            check_output_dir(out_dir, "--out", owned)
            raise
        note(f"wrote {len(written)} {'Parquet' if out_format == 'parquet' else 'CSV'} tables to {out_dir}")
    from loyalty import __version__

    for path, what in ((chart, "chart"), (html_path, "HTML report")):
        if not path:
            continue
        try:  # --html writes the page whatever the file is called; --chart by its suffix
            write_chart(report, Path(path), prog.exponent, __version__, html=what == "HTML report")
        except OSError as err:
            output_error(path, err)
        note(f"wrote {what} {path}")


def _refuse_vector(kernel: str, why) -> None:
    """--kernel vector on a program the vectorised kernel cannot run: a usage error with the reason."""
    if kernel == "vector" and why is not None:
        fail(f"--kernel vector cannot run this program: {why}", "use --kernel auto or --kernel python",
             code=EXIT_USAGE)


def _routed() -> dict:
    """The members the vectorised kernel has sent to the scalar plan in this process so far, by reason
    (simulate/vector/kernel.py `ROUTED`; with --jobs above 1 the workers count their own)."""
    import sys

    kernel = sys.modules.get("loyalty.simulate.vector.kernel")  # not loaded (numpy): the kernel did not run here
    return dict(kernel.ROUTED) if kernel is not None else {}


def _tell_routed(before: dict) -> None:
    """--verbose: the members this run's vectorised kernel sent to the scalar plan, by reason."""
    from loyalty.commands._common import detail

    for reason, n in sorted(_routed().items()):
        if n > before.get(reason, 0):
            detail(f"vectorised kernel: {n - before.get(reason, 0)} member(s) replayed by the scalar plan ({reason})")
