"""Progress on standard error for the long stages of a command: reading a history (bytes), replaying it (rows),
generating one (rows). Shown only on a terminal, never with -q, and only once a stage has run for SHOW_AFTER
seconds, so short runs and piped or redirected output never carry it. The time left is rich's estimate from
the recent speed; the stages report often (every few thousand rows, every 0.2 s while reading), so it holds.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

SHOW_AFTER = 1.0  # seconds: a stage shorter than this shows nothing
REFRESH = 0.1  # seconds between the counts rich is told (it redraws 10 times a second)
enabled = True  # False with -q (commands/_common.set_verbosity)
# told each stage's name and seconds when it ends (--verbose prints them; commands/_common.set_verbosity)
on_stage_end: Optional[Callable[[str, float], None]] = None


def wanted(stream: Any = None) -> bool:
    stream = stream or sys.stderr
    return enabled and hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("LOYALTY_NO_PROGRESS")


class Bar:
    """One stage's bar: `advance(n)` or `update(completed)`; drawn after SHOW_AFTER seconds. `unit` "bytes"
    shows sizes (MB), "rows" counts."""

    def __init__(self, description: str, total: Optional[int], unit: str = "rows", console: Any = None):
        self.description, self.total, self.unit = description, total, unit
        self.console = console
        self.started = time.monotonic()
        self.completed = 0
        self._progress: Any = None
        self._task: Any = None
        self._last = 0.0  # when rich last heard of the count
        self._restart = False  # the count went back to 0 (a new pass or stage): forget the old speed
        self._lock = threading.Lock()

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)

        amount = DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn()
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), amount,
                                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                  console=self.console or Console(stderr=True), transient=True)
        self._task = self._progress.add_task(self.description, total=self.total, completed=self.completed)
        self._progress.start()

    def _refresh(self) -> None:
        if self._progress is None:
            if time.monotonic() - self.started < SHOW_AFTER:
                return
            self._show()
        if self._restart:
            self._restart = False
            self._progress.reset(self._task, total=self.total, completed=self.completed,
                                 description=self.description)
            return
        self._progress.update(self._task, completed=self.completed, total=self.total,
                              description=self.description)

    def advance(self, n: int) -> None:
        """Called per member replayed (thousands a second): rich hears of it at most every REFRESH seconds."""
        self.completed += n
        now = time.monotonic()
        if now - self._last >= REFRESH:
            with self._lock:
                self._last = now
                self._refresh()

    def update(self, completed: int, description: Optional[str] = None, total: Optional[int] = None) -> None:
        with self._lock:
            self._restart = self._restart or completed < self.completed
            self.completed = completed
            if description is not None:
                self.description = description
            if total is not None:
                self.total = total
            self._refresh()

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


@contextmanager
def stage(description: str, total: Optional[int], unit: str = "rows", console: Any = None,
          show: bool = True) -> Iterator[Optional[Bar]]:
    """A Bar for the block when progress is wanted (a terminal, not -q), else None. Its time goes to
    `on_stage_end` either way."""
    started = time.monotonic()
    bar = Bar(description, total, unit, console) if show and (
        wanted() if console is None else console.is_terminal) else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()
        if on_stage_end is not None:
            on_stage_end(description, time.monotonic() - started)


def _file_position(real_path: str) -> Optional[int]:
    """How far this process has read `real_path`: the largest offset of its open descriptors on it (Linux's
    /proc/self/fdinfo; None elsewhere or when the file is not open)."""
    best = None
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != real_path:
                continue
            with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as info:
                for line in info:
                    if line.startswith("pos:"):
                        pos = int(line.split()[1])
                        best = pos if best is None else max(best, pos)
        except (OSError, ValueError):
            continue
    return best


@contextmanager
def reading(path: str, what: str = "reading") -> Iterator[None]:
    """While the block reads the file at `path` (by any reader: Arrow's threads, the csv module), a bar of the
    bytes read so far, polled every 0.2 s; once all are read, "preparing rows" until the block ends."""
    try:
        real, size = os.path.realpath(path), os.path.getsize(path)
    except OSError:
        yield
        return
    name = os.path.basename(path)
    with stage(f"{what} {name} ({size:,} bytes)", size, "bytes") as bar:
        if bar is None:
            yield
            return
        done = threading.Event()

        def poll() -> None:
            furthest = 0
            while not done.wait(0.2):
                pos = _file_position(real)
                if pos is not None and pos > furthest:
                    furthest = pos
                label = f"{what} {name}" if furthest < size else f"preparing the rows of {name}"
                bar.update(min(furthest, size), description=label)

        poller = threading.Thread(target=poll, name="loyalty-read-progress", daemon=True)
        poller.start()
        try:
            yield
        finally:
            done.set()
            poller.join(timeout=1)


def counting(bar: Optional[Bar]) -> Optional[Callable[[int], None]]:
    return bar.advance if bar is not None else None
