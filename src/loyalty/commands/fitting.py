"""Report tables that fit the width (COLUMNS, or the terminal's) without cutting a number.

rich shrinks a table that is too wide by cutting cells ("2025…", "576.…") and wraps names over many lines.
Here every table the commands print is laid out first: each number column gets the width of its widest
cell (numbers never wrap and are never cut; their headers wrap between words), name columns get what is
left (at least NAME_MIN, wrapping between words), and a table whose numbers cannot fit beside its names is
split into several tables, each repeating the name columns ("By month (continued)"). render.py and the
commands build their tables as before and print them on this console."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

NAME_MIN = 18  # a name column narrower than this wraps a rule name over too many lines


def _width(renderable: Any) -> int:
    text = renderable.plain if isinstance(renderable, Text) else str(renderable)
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _header_lines(header: Any, width: int) -> Any:
    """The header wrapped between words to `width` (a number column's header never widens it past its longest
    word)."""
    text = header.plain if isinstance(header, Text) else str(header)
    if cell_len(text) <= width or " " not in text:
        return header
    lines: list[str] = []
    for word in text.split(" "):
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    wrapped = "\n".join(lines)
    return Text(wrapped, style=header.style) if isinstance(header, Text) else wrapped


def _overhead(table: Table, columns: int) -> int:
    """Characters a table spends beside its cells: padding and, with a box, the rules between columns."""
    left, right = table.padding[3], table.padding[1]
    if table.box is None:
        return columns * (left + right)
    return columns * (left + right) + (columns - 1) + (2 if table.show_edge else 0)


def fit_table(table: Table, width: int) -> list[Table]:
    """`table` as one or more tables no wider than `width`, every number whole."""
    columns = table.columns
    if not columns or not table.show_header or table.box is None:
        return [table]
    names = [i for i, c in enumerate(columns) if c.justify != "right"]
    # the columns each part repeats: the names, or else the first column (a month)
    keys = names or [0]
    numbers = [i for i, c in enumerate(columns) if c.justify == "right" and i not in keys]
    cells = [list(c._cells) for c in columns]
    need = {}
    for i in [*numbers, *(k for k in keys if k not in names)]:
        header = columns[i].header
        longest_word = max((cell_len(w) for w in (header.plain if isinstance(header, Text) else str(header)).split()),
                           default=0)
        need[i] = max([longest_word, *(_width(c) for c in cells[i])])
    longest_name = {i: max([_width(columns[i].header), *(_width(c) for c in cells[i])]) for i in names}
    name_floor = {i: min(longest_name[i], NAME_MIN) for i in names}

    # room for every header on one line? then no header wraps
    wide = {i: max(need[i], _width(columns[i].header)) for i in need}
    if (sum(wide.values()) + sum(name_floor.values())
            + _overhead(table, len(numbers) + len(keys))) <= width:
        need = wide
    fixed_keys = sum(need[k] for k in keys if k not in names)

    def fits(group: list[int]) -> bool:
        return (sum(need[i] for i in group) + sum(name_floor.values()) + fixed_keys
                + _overhead(table, len(group) + len(keys))) <= width

    groups: list[list[int]] = [[]]
    for i in numbers:
        if groups[-1] and not fits(groups[-1] + [i]):
            groups.append([])
        groups[-1].append(i)
    out = []
    for n, group in enumerate(groups):
        order = sorted(keys + group)
        spare = width - _overhead(table, len(order)) - sum(need[i] for i in group) - fixed_keys
        # the names share what the numbers leave, each up to its longest name
        share = {i: name_floor[i] for i in names}
        spare -= sum(share.values())
        for i in sorted(names, key=lambda i: longest_name[i]):
            extra = min(longest_name[i] - share[i], max(spare, 0))
            share[i] += extra
            spare -= extra
        title = table.title
        if n and title is not None:
            title = Text.assemble(title if isinstance(title, Text) else Text(str(title)), " (continued)")
        part = Table(title=title, title_justify=table.title_justify, title_style=table.title_style,
                     box=table.box, show_edge=table.show_edge, padding=table.padding, header_style=table.header_style,
                     show_lines=table.show_lines, expand=False)
        for i in order:
            c = columns[i]
            if i in need:
                part.add_column(_header_lines(c.header, need[i]), justify="right", no_wrap=True, width=need[i],
                                style=c.style, header_style=c.header_style)
            else:
                part.add_column(c.header, justify=c.justify, width=max(share[i], 1), overflow="fold",
                                style=c.style, header_style=c.header_style)
        for r in range(table.row_count):
            part.add_row(*(cells[i][r] for i in order))
        out.append(part)
    return out


class FittingConsole(Console):
    """A rich Console whose tables are laid out by `fit_table` for its width."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        laid_out: list[Any] = []
        for obj in objects:
            laid_out += fit_table(obj, self.width) if isinstance(obj, Table) else [obj]
        if len(laid_out) > len(objects):  # a split table: print the parts one after another
            for obj in laid_out:
                super().print(obj, **kwargs)
            return
        super().print(*laid_out, **kwargs)

    def on_broken_pipe(self) -> None:
        # rich's own answer is SystemExit(1), "the input is wrong": the reader of a pipe going away (`| head`)
        # goes to cli.main as the BrokenPipeError it is (exit 141)
        self.quiet = True
        raise BrokenPipeError()
