"""Progress bars for long commands (``kbot db prune``, ``kbot bench``, ``kbot report html``;
replay and backtest should use the same).

Use::

    from kbot.progress import progress

    with progress("pruning", total=n_rows, unit="rows") as bar:
        for batch in work:
            ...
            bar.advance(len(batch))              # or bar.update(completed=..., description=...)

    for item in track(items, "replaying", unit="frames"):   # the same, around an iterable
        ...

The bar goes to stderr (stdout stays clean for the command's output and pipes) and is drawn
only when stderr is a terminal; otherwise (systemd, cron, CI, a pipe) every call is a cheap
no-op, and a command that wants log lines there prints them itself. ``total=None`` shows a
spinner with a count. The bar is redrawn at most every ``min_interval_s`` (10 per second by
default) from the caller's thread: no refresh thread, so it is safe inside a Trio program
(call ``advance`` from the task doing the work; it never blocks). The last state stays on
screen when the bar closes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

T = TypeVar("T")


class Bar:
    """What ``progress`` yields. ``advance``/``update`` cost a few microseconds when off."""

    def __init__(self, rich_progress: Any = None, task: Any = None, min_interval_s: float = 0.1) -> None:
        self._p = rich_progress
        self._task = task
        self._min = min_interval_s
        self._last = 0.0
        self.completed = 0.0

    @property
    def enabled(self) -> bool:
        return self._p is not None

    def advance(self, n: float = 1.0, *, description: str | None = None) -> None:
        self.completed += n
        if self._p is not None:
            self._p.update(self._task, advance=n, **({"description": description} if description else {}))
            self._maybe_refresh()

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:  # fmt: skip
        if completed is not None:
            self.completed = completed
        if self._p is not None:
            kw: dict[str, Any] = {}
            if completed is not None:
                kw["completed"] = completed
            if total is not None:
                kw["total"] = total
            if description is not None:
                kw["description"] = description
            self._p.update(self._task, **kw)
            self._maybe_refresh(force=description is not None)

    def log(self, text: str) -> None:
        """A line above the bar (or on stderr when the bar is off)."""
        if self._p is not None:
            self._p.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def _maybe_refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self._min:
            self._last = now
            self._p.refresh()


def is_terminal(stream: IO[str] | None = None) -> bool:
    s = stream if stream is not None else sys.stderr
    try:
        return bool(s.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(
    description: str,
    total: float | None = None,
    *,
    unit: str = "",
    enabled: bool | None = None,
    stream: IO[str] | None = None,
    min_interval_s: float = 0.1,
    redirect: bool = False,
) -> Iterator[Bar]:
    """A progress bar on ``stream`` (stderr) while the block runs. ``enabled``: force on/off
    (default: on when the stream is a terminal). ``redirect``: the block prints (to
    ``sys.stdout``/``sys.stderr``, loguru sinks added inside it included): route those lines
    above the bar, or its redraws would overwrite them."""
    out = stream if stream is not None else sys.stderr
    if enabled is None:
        enabled = is_terminal(out)
    if not enabled:
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TextColumn(unit) if unit else TextColumn(""), TaskProgressColumn(),
                          TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]  # fmt: skip
    p = Progress(*columns, console=Console(file=out), auto_refresh=False, transient=False,
                 redirect_stdout=redirect, redirect_stderr=redirect)  # fmt: skip
    with p:
        task = p.add_task(description, total=total)
        bar = Bar(p, task, min_interval_s)
        try:
            yield bar
        finally:
            p.refresh()


def track(items: Iterable[T], description: str, *, total: float | None = None, unit: str = "",
          enabled: bool | None = None) -> Iterator[T]:  # fmt: skip
    """``items`` with a progress bar advancing by one per item (``total``: ``len(items)`` when
    it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = float(len(items))  # type: ignore[arg-type]
    with progress(description, total, unit=unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.advance()
