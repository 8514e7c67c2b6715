"""`kbot top`: a live terminal dashboard of a run, read from the database.

    kbot top [--db URL] [--config TOML] [--run ID] [--refresh 1.0] [--rows 8] [--once]

Works beside a running ``kbot run`` (its own read-only connection; SQLite in WAL mode never
blocks the writer) and on a finished run. It follows the latest run unless ``--run`` names
one. The screen (``kbot.dashboard``) refreshes every ``--refresh`` seconds; ``q`` or Ctrl-C
quits. When stdout is not a terminal (a pipe, a file, cron) or with ``--once`` it prints the
screen once and exits.

The risk limits shown beside exposure and daily PnL are those of the configuration this
command finds (``--config`` / ``./kbot.toml`` / environment), and the kill switch reads the
local kill file: run it where ``kbot run`` runs. A failed refresh (database busy, a query
error) is shown on the screen and retried at the next tick.

Exit codes: 0 shown; 1 no run recorded yet; 2 the database cannot be read.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kbot.commands.common import database_url

if TYPE_CHECKING:  # imported lazily: `kbot --help` stays fast
    from kbot.dashboard import Limits, TopView


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: the database kbot run uses with the same configuration)")
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument("--run", metavar="ID", help="this run instead of the latest (a runs.run_id; see `kbot report runs`)")
    parser.add_argument("--refresh", type=float, default=1.0, metavar="S", help="seconds between refreshes (default: 1)")
    parser.add_argument("--rows", type=int, default=8, metavar="N", help="rows per list: positions, TAKEs, alerts (default: 8)")
    parser.add_argument("--once", action="store_true", help="print the screen once and exit (the default when stdout is not a terminal)")


class NoRun(Exception):
    pass


class Reader:
    """The command's I/O: the database (one read-only engine), the kill file, the limits."""

    def __init__(self, engine: Any, run_id: str | None, limits: Limits | None, kill_file: str | None, rows: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.limits = limits
        self.kill_file = kill_file
        self.rows = rows

    def view(self, wall: float, refresh_s: float | None) -> TopView:
        from kbot.commands.status import choose_now
        from kbot.dashboard import TopView
        from kbot.model.killswitch import read_kill
        from storage import queries
        from storage.dashboard import top_snapshot

        with self.engine.connect() as conn:
            run = queries.get_run(conn, self.run_id) if self.run_id else queries.latest_run(conn)
            if run is None:
                raise NoRun(f"no run {self.run_id!r} in the database (kbot report runs lists them)" if self.run_id
                            else "no run recorded yet (start one with `kbot run`)")
            at, clock = choose_now(wall, queries.last_activity_ts(conn, run_id=run.run_id))
            snap = top_snapshot(conn, now=at, run=run, limit=self.rows)
        kill = read_kill(self.kill_file) if self.kill_file else None
        return TopView(snap=snap, clock=clock, wall=wall, limits=self.limits, kill_file=kill, rows=self.rows,
                       refresh_s=refresh_s)


def _limits(args: argparse.Namespace) -> tuple[Limits | None, str | None]:
    """The limits and the kill file of the local configuration (None, None when it is invalid)."""
    from kbot.config import load_config
    from kbot.confload import ConfigError
    from kbot.dashboard import Limits

    path = args.config
    if path is None and os.path.isfile("kbot.toml"):
        path = "kbot.toml"
    try:
        cfg = load_config(path)
    except (ConfigError, ValueError, TypeError) as exc:
        print(f"kbot top: configuration not usable ({exc}); limits and kill file not shown", file=sys.stderr)
        return None, None
    return Limits(max_daily_loss=cfg.risk.max_daily_loss, max_total_exposure=cfg.sizing.max_total_exposure,
                  max_open_orders=cfg.risk.max_open_orders), cfg.risk.kill_file  # fmt: skip


def main(args: argparse.Namespace, now: float | None = None) -> int:
    """``now``: the wall clock for a one-shot screen (tests pass a fixed one)."""
    from rich.console import Console
    from sqlalchemy.exc import SQLAlchemyError

    from kbot.dashboard import render
    from storage.db import DatabaseMissing, SchemaOutOfDate, open_reader

    if args.refresh <= 0 or args.rows < 1:
        print("kbot top: --refresh must be > 0 and --rows at least 1", file=sys.stderr)
        return 2
    try:
        engine = open_reader(database_url(args))
    except (DatabaseMissing, SchemaOutOfDate) as exc:
        print(f"kbot top: {exc}", file=sys.stderr)
        return 2
    limits, kill_file = _limits(args)
    reader = Reader(engine, args.run, limits, kill_file, args.rows)
    live = not args.once and sys.stdout.isatty()
    try:
        if not live:
            try:
                view = reader.view(time.time() if now is None else now, None)
            except NoRun as exc:
                print(f"kbot top: {exc}", file=sys.stderr)
                return 2 if args.run else 1
            except SQLAlchemyError as exc:
                print(f"kbot top: query failed: {exc}", file=sys.stderr)
                return 2
            console = Console(width=None if sys.stdout.isatty() else 160)  # piped: room for two columns
            console.print(render(view, width=console.width))
            return 0
        import trio

        try:
            return trio.run(_live, reader, args.refresh)
        except KeyboardInterrupt:
            return 0
    finally:
        engine.dispose()


async def _live(reader: Reader, refresh_s: float) -> int:
    """Refresh every ``refresh_s`` until ``q``, Ctrl-C (SIGINT) or SIGTERM."""
    import trio
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text
    from sqlalchemy.exc import SQLAlchemyError

    from kbot.dashboard import render

    console = Console()
    last: Any = Text("reading the database ...")
    with _keys_mode() as keys_fd, Live(last, console=console, screen=True, auto_refresh=False,
                                        redirect_stdout=False, redirect_stderr=False) as live:  # fmt: skip
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_quit_on_signal, nursery.cancel_scope)
            if keys_fd is not None:
                nursery.start_soon(_quit_on_q, keys_fd, nursery.cancel_scope)
            while True:
                try:
                    view = await trio.to_thread.run_sync(reader.view, time.time(), refresh_s)
                    last = render(view, width=console.width)
                    screen: Any = last
                except NoRun as exc:
                    screen = Text(f"kbot top: {exc}; waiting (q quits)", style="yellow")
                except SQLAlchemyError as exc:  # busy, locked, a query failed: show it, retry next tick
                    msg = str(exc).splitlines()[0][:200]
                    screen = Group(Text(f"refresh failed: {msg}; retrying", style="bold red"), last)
                live.update(screen, refresh=True)
                await trio.sleep(refresh_s)
    return 0


@contextlib.contextmanager
def _keys_mode() -> Iterator[int | None]:
    """stdin in cbreak mode (keys arrive one by one, Ctrl-C still interrupts), restored after;
    yields its fd, or None when stdin is not a terminal (no key handling then)."""
    if not sys.stdin.isatty():
        yield None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _quit_on_q(fd: int, scope: Any) -> None:
    import trio

    while True:
        await trio.lowlevel.wait_readable(fd)
        data = os.read(fd, 64)
        if not data or b"q" in data.lower():
            scope.cancel()
            return


async def _quit_on_signal(scope: Any) -> None:
    import signal

    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return
