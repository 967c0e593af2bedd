"""`loyalty sweep`: one program run with every combination of some parameters' values, on one history.

The history is read once. Each combination's program is the program with those values set (as `--set`
sets them), checked and compiled before any run, and replayed exactly as `loyalty simulate --set` replays
it: a run's figures are the ones `simulate` reports, byte for byte. Runs are independent; with `jobs` > 1
they are shared among forked worker processes (the history is inherited, not read again) and their
results put back in the grid's order.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional, Sequence

from loyalty.simulate.errors import InputError
from loyalty.syntax import ast

SWEEP_FORMAT = "loyalty-sweep/1"
MAX_RUNS = 1000  # a grid larger than this is almost always a typo (4th..400th); say so before running


@dataclass(frozen=True)
class Grid:
    name: str
    values: tuple  # ast.ParamValue nodes, in the order written


def _amount_field(node: ast.Node) -> str:
    return "value" if isinstance(node, (ast.Count, ast.Percent, ast.Multiplier, ast.Ordinal)) else "amount"


def _with_amount(node: ast.Node, amount) -> ast.Node:
    name = _amount_field(node)
    return type(node)(*((amount if f == name else getattr(node, f)) for f in node._node_fields))


def parse_grid(text: str) -> Grid:
    """`punch every=4th..10th`, `gold from=3000 points,5000 points`, `rate=1 point..3 points by 1 point`."""
    from loyalty.syntax.params import ParamError, _same_unit, kind_of, parse_value, value_text

    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise InputError(f"--grid {text}: not NAME=VALUES",
                         'write e.g. --grid "punch every=4th..10th" or --grid "gold from=3000 points,5000 points"')
    name = name.strip()
    try:
        if ".." in spec:
            first_text, _, rest = spec.partition("..")
            last_text, _, step_text = rest.partition(" by ")
            first, last = parse_value(first_text), parse_value(last_text)
            step = parse_value(step_text) if step_text.strip() else None
            ends = (first, last) if step is None else (first, last, step)
            if not all(_same_unit(first, e) and getattr(first, "unit", None) in (None, getattr(e, "unit", None),
                                                                               getattr(e, "unit", "") + "s",
                                                                               getattr(e, "unit", "")[:-1])
                       for e in ends):
                raise ParamError(f"the ends and step of {spec.strip()} are not in one unit",
                                 "write them in one unit, e.g. 3000 points..5000 points by 500 points")
            if step is None:
                if not isinstance(first, (ast.Ordinal, ast.Count)):
                    raise ParamError(f"a range of {kind_of(first)} needs a step",
                                     f"add one: {value_text(first)}..{value_text(last)} by {value_text(first)}")
                step = _with_amount(first, 1 if isinstance(first, ast.Ordinal) else Decimal(1))
            field = _amount_field(first)
            a, b, s = getattr(first, field), getattr(last, field), getattr(step, field)
            if s <= 0 or b < a:
                raise ParamError(f"{spec.strip()} is an empty range", "write the smaller value first, and a positive step")
            if (b - a) / s >= MAX_RUNS:
                raise ParamError(f"{spec.strip()} has more than {MAX_RUNS} values", "use a larger step")
            values, v = [], a
            while v <= b:
                # "1 star..3 stars": the values after the first take the last one's unit word (2 stars)
                values.append(_with_amount(first if v == a else last, v))
                v = v + s
        else:
            values = [parse_value(part) for part in spec.split(",")]
    except ParamError as err:
        raise InputError(f"--grid {text}: {err.message}", err.hint) from None
    return Grid(name, tuple(values))


def combinations(grids: Sequence[Grid]) -> list[dict]:
    """Every combination, the first grid's values changing slowest (as nested loops in the order given)."""
    names = [g.name for g in grids]
    if len(set(names)) != len(names):
        raise InputError("--grid: a parameter is given twice", "give each parameter one --grid")
    count = 1
    for g in grids:
        count *= len(g.values)
    if count > MAX_RUNS:
        raise InputError(f"--grid: {count:,} combinations; the limit is {MAX_RUNS:,}",
                         "sweep fewer values at a time")
    return [dict(zip(names, combo)) for combo in itertools.product(*(g.values for g in grids))]


# ------------------------------------------------------------------ running

_FORKED: dict = {}  # what forked workers inherit: the plans' inputs, set before the pool starts


@dataclass
class RunSpec:
    program_path: str
    attributes_path: Optional[str]
    kernel: str
    intervals: Optional[int]
    seed: int


def run_one(prog, spec: RunSpec, inputs) -> dict:
    """One combination's figures: the report's headline, by_reward and by_tier, and its intervals."""
    from loyalty.simulate.run import plan_for, run_and_report

    plan = plan_for(prog, spec.program_path, inputs, spec.attributes_path, member_rows=spec.intervals is not None)
    result, report = run_and_report(plan, inputs, show_progress=False, jobs=1, kernel=spec.kernel)
    out = {"headline": report["headline"], "by_reward": report["by_reward"], "by_tier": report["by_tier"],
           "coverage": report["coverage"]}
    if spec.intervals is not None:
        from loyalty.simulate.intervals import intervals_section

        out["intervals"] = intervals_section(report["headline"], result.members, prog.exponent, spec.intervals,
                                             spec.seed)
    return out


def _forked_run(index: int) -> dict:
    programs, spec, inputs = _FORKED["programs"], _FORKED["spec"], _FORKED["inputs"]
    return run_one(programs[index], spec, inputs)


# A run shorter than this is not worth a worker: measured (docs/simulate.md, "Workers") on 6 runs of a
# 200,000-row history, the vectorised kernel's runs (~0.15 s of CPU each) took longer with 2 workers than in
# one process, the evaluator's (~1.9 s each) 15% less wall time.
POOL_MIN_RUN_SECONDS = 0.5


def run_all(programs: list, spec: RunSpec, inputs, jobs: int) -> list[dict]:
    """Every run, in order. The first runs here; if it took long enough to be worth a worker, the rest are
    shared among `jobs` forked processes (which inherit the history), else they run here too."""
    import multiprocessing
    import time

    if not programs:
        return []
    started = time.perf_counter()
    runs = [run_one(programs[0], spec, inputs)]
    rest = programs[1:]
    worth_it = time.perf_counter() - started >= POOL_MIN_RUN_SECONDS
    if jobs <= 1 or len(rest) <= 1 or not worth_it or "fork" not in multiprocessing.get_all_start_methods():
        return runs + [run_one(p, spec, inputs) for p in rest]
    from loyalty.simulate.run import imports_finished

    imports_finished()  # (no thread importing while the pool forks: run.py)
    _FORKED.update(programs=rest, spec=spec, inputs=inputs)
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(rest))) as pool:
            return runs + pool.map(_forked_run, range(len(rest)), chunksize=1)
    finally:
        _FORKED.clear()


def sweep_document(program_info: dict, history: dict, grids: Sequence[Grid], combos: list[dict],
                   runs: list[dict]) -> dict:
    from loyalty.syntax.params import value_text

    return {
        "format": SWEEP_FORMAT,
        "program": program_info,
        "history": history,
        "parameters": [g.name for g in grids],
        "runs": [{"parameters": {k: value_text(v) for k, v in combo.items()}, **run}
                 for combo, run in zip(combos, runs)],
    }


# ------------------------------------------------------------------ tables and chart


def table_rows(doc: dict) -> list[dict]:
    """One flat row per run: the parameters, the headline's cost figures, members reaching each reward and
    tier (and the total cost's interval when there is one). Money as exact decimal text."""
    rows = []
    for run in doc["runs"]:
        h = run["headline"]
        row = {**{f"param:{k}": v for k, v in run["parameters"].items()},
               "members": h["members"], "revenue": h["revenue"], "total_cost": h["total_cost"],
               "cost_share_of_revenue": h["cost_share_of_revenue"], "realized_cost": h["realized_cost"],
               "liability_end": h["liability_end"]}
        if "intervals" in run:
            iv = run["intervals"]["headline"]["total_cost"]
            row["total_cost_low"], row["total_cost_high"] = iv["low"], iv["high"]
        for r in run["by_reward"]:
            row[f"reward:{r['reward']}"] = r["members"]
        for t in run["by_tier"]:
            row[f"tier:{t['tier']}"] = t["members_reached"]
        rows.append(row)
    return rows


MONEY_COLUMNS = ("revenue", "total_cost", "realized_cost", "liability_end", "total_cost_low", "total_cost_high")


def write_table(doc: dict, path, exponent: int) -> None:
    """--out: CSV (text cells spreadsheet-safe) or Parquet (money as exact decimal128 columns)."""
    from pathlib import Path

    from loyalty.fileio import write_atomic

    rows = table_rows(doc)
    header: list[str] = []
    for r in rows:
        header += [c for c in r if c not in header]
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {}
        for c in header:
            values = [r.get(c) for r in rows]
            if c in MONEY_COLUMNS:
                columns[c] = pa.array([Decimal(v) if v is not None else None for v in values],
                                      type=pa.decimal128(38, exponent))
            elif c == "cost_share_of_revenue":
                columns[c] = pa.array([Decimal(v) if v is not None else None for v in values], type=pa.decimal128(12, 4))
            elif c.startswith("param:"):
                columns[c] = pa.array(values, type=pa.string())
            else:
                columns[c] = pa.array(values, type=pa.int64())
        buffer = io.BytesIO()
        pq.write_table(pa.table(columns), buffer)
        write_atomic(path, buffer.getvalue())
    else:
        from loyalty.simulate.render import write_rows

        write_rows(path, rows, header)


def render_svg(doc: dict, width: int = 760, panel_height: int = 260) -> str:
    """Total cost against each parameter: one panel per parameter, one line per setting of the others."""
    from loyalty.simulate.charts import nice_step as _nice_step, short_number as _short

    names = doc["parameters"]
    runs = doc["runs"]
    cur = html.escape(doc["program"]["currency"])
    costs = [Decimal(r["headline"]["total_cost"]) for r in runs]
    top_value = max(costs + [Decimal(1)])
    step = _nice_step(top_value)
    top_value = (top_value / step).to_integral_value(rounding="ROUND_CEILING") * step
    left, right, top, bottom = 80, 20, 50, 60
    height = top + len(names) * panel_height + 10
    plot_w, plot_h = width - left - right, panel_height - bottom
    colors = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14" font-weight="bold">'
           f'{html.escape(doc["program"]["name"])}: total cost ({cur}) by parameter</text>']
    for p, name in enumerate(names):
        y0 = top + p * panel_height
        xs = list(dict.fromkeys(r["parameters"][name] for r in runs))  # the grid's order
        n = len(xs)

        def x(i: int) -> float:
            return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

        def y(v: Decimal) -> float:
            return y0 + plot_h - float(v / top_value) * plot_h

        for k in range(int(top_value / step) + 1):
            v = step * k
            out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_short(v)}</text>')
        for i, label in enumerate(xs):
            out.append(f'<text x="{x(i):.1f}" y="{y0 + plot_h + 16}" text-anchor="middle">{html.escape(label)}</text>')
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{y0 + plot_h + 34}" text-anchor="middle" '
                   f'font-weight="bold">{html.escape(name)}</text>')
        # one line per setting of the other parameters
        lines: dict[tuple, list[tuple[int, Decimal]]] = {}
        for r, cost in zip(runs, costs):
            others = tuple((k, v) for k, v in r["parameters"].items() if k != name)
            lines.setdefault(others, []).append((xs.index(r["parameters"][name]), cost))
        for j, (others, pts) in enumerate(lines.items()):
            color = colors[j % len(colors)]
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
            for i, v in pts:
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
            if others and j < 8:
                label = ", ".join(f"{k}={v}" for k, v in others)
                out.append(f'<text x="{width - right}" y="{y0 + 12 + 13 * j}" text-anchor="end" '
                           f'fill="{color}">{html.escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
