"""`kbot db`: database migrations.

- ``kbot db upgrade [--db URL]``: create the database if needed and apply every migration up to
  the head (``kbot run`` also does this at start).
- ``kbot db current [--db URL]``: print the database's revision id (and whether it is the head).
- ``kbot db prune --older-than 30d [--with-scores] [--dry-run] [--vacuum] [--db URL]``: delete
  market data, PASS decisions and unscored edge snapshots older than the cutoff (never money,
  markets, runs or the restart log; see ``storage.retention``). Safe while kbot runs, except
  ``--vacuum``. Recording files (``kbot run --record``) older than ``--recordings-older-than``
  (default ``[record] keep_days``, else the same cutoff) go too, unless ``--keep-recordings``.

The URL comes from ``--db``, else the configuration ``kbot run`` would use (``--config`` or
``./kbot.toml``, ``KBOT_DB_URL``, ``.env``), else ``sqlite:///./data/kbot.sqlite``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kbot.commands.common import database_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
    for name, help_text in (
        ("upgrade", "apply migrations up to the head (creates the database if needed)"),
        ("current", "print the database's revision id"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p)
    p = sub.add_parser(
        "prune", help="delete old market data, PASS decisions and unscored edges (never money)",
        description="Delete rows older than --older-than from the market-data tables (quotes, spot_ticks, "
        "index_prices, book_snapshots, trades, feed_events, health, bad_inputs), PASS decisions with their "
        "reasons, and edge snapshots no score refers to. Orders, fills, positions, ledger entries, settlements, "
        "portfolio snapshots, markets, runs, supervision events and alerts are never deleted. Runs in small "
        "transactions: safe while kbot runs (except --vacuum).",
    )
    _common(p)
    p.add_argument("--older-than", required=True, metavar="AGE",
                   help="30d, 2w, 48h, or an ISO date/time (UTC); at least one day ago")
    p.add_argument("--with-scores", action="store_true",
                   help="also delete model scores (and their edge snapshots) older than that: their model-vs-market "
                   "history leaves the reports")
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    p.add_argument("--vacuum", action="store_true", help="SQLite: VACUUM afterwards to shrink the file (stop kbot first)")
    p.add_argument("--recordings-older-than", metavar="AGE",
                   help="recording files (kbot run --record) older than this are deleted too (default: [record] "
                   "keep_days, else --older-than)")
    p.add_argument("--keep-recordings", action="store_true", help="leave recording files alone")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: the database kbot run uses with the same configuration)")
    p.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")


def main(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import DatabaseMissing, create_engine, current_revision, head_revision, open_database, sqlite_path

    action = getattr(args, "db_command", None)
    if action not in ("upgrade", "current", "prune"):
        print("usage: kbot db {upgrade,current,prune} [--db URL]", file=sys.stderr)
        return 2
    url = database_url(args)
    if action == "prune":
        return _prune(args, url)
    try:
        if action == "upgrade":
            engine = open_database(url)
            rev = current_revision(engine)
            print(f"{rev} (head)")
            engine.dispose()
            return 0
        path = sqlite_path(url)
        if path is not None and not path.exists():
            raise DatabaseMissing(f"no database at {path} (create it with `kbot db upgrade`)")
        engine = create_engine(url, read_only=True)
        rev = current_revision(engine)
        engine.dispose()
        head = head_revision()
        if rev is None:
            print(f"none (empty database; head is {head}: run `kbot db upgrade`)")
            return 1
        print(f"{rev} (head)" if rev == head else f"{rev} (head is {head}: run `kbot db upgrade`)")
        return 0 if rev == head else 1
    except DatabaseMissing as exc:
        print(f"kbot db {action}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"kbot db {action}: cannot use database {url}: {exc}", file=sys.stderr)
        return 1


def _prune(args: argparse.Namespace, url: str) -> int:
    import time

    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from kbot.progress import is_terminal
    from storage.db import DatabaseMissing, SchemaOutOfDate, create_engine, open_reader
    from storage.report import parse_since
    from storage.retention import prune

    now = time.time()
    try:
        cutoff = parse_since(args.older_than, now)
    except ValueError as exc:
        print(f"kbot db prune: --older-than {args.older_than!r}: {exc}", file=sys.stderr)
        return 2
    if cutoff is None or cutoff <= 0:
        print("kbot db prune: --older-than needs an age (30d) or a date, not 'all'", file=sys.stderr)
        return 2
    try:
        reader = open_reader(url)  # the database exists and its schema is at the head
        resolved = reader.url.render_as_string(hide_password=False)
        reader.dispose()
        engine = create_engine(resolved)

        if args.dry_run or not is_terminal():
            def show(table: str, n: int) -> None:  # a line per batch: readable in a journal
                print(f"  {table}: {n:,} deleted so far", file=sys.stderr, flush=True)

            res = prune(engine, cutoff, scores=args.with_scores, dry_run=args.dry_run, vacuum=args.vacuum, now=now,
                        progress=None if args.dry_run else show)
        else:
            res = _prune_with_bar(engine, cutoff, args, now)
        engine.dispose()
    except (ValueError, DatabaseMissing, SchemaOutOfDate, SQLAlchemyError) as exc:
        if isinstance(exc, OperationalError):
            why = f"{exc.orig} (a VACUUM needs kbot stopped; otherwise retry)"
        elif isinstance(exc, SQLAlchemyError):
            why = f"cannot use database {url}: {exc}"
        else:
            why = str(exc)
        print(f"kbot db prune: {why}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(res.cutoff))
    verb = "would delete" if res.dry_run else "deleted"
    print(f"rows before {when}: {verb} {res.total:,}" + (" (then VACUUM)" if res.vacuumed else ""))
    for table, n in res.rows.items():
        print(f"  {table:16} {n:>12,}")
    if not args.keep_recordings:
        return _prune_recordings(args, cutoff, now)
    return 0


def _prune_recordings(args: argparse.Namespace, cutoff: float, now: float) -> int:
    """The recordings of ``kbot run --record`` in the configured directory."""
    import time

    from kbot.commands.common import load_from_args
    from kbot.replay.retention import prune_recordings
    from storage.report import parse_since
    from storage.retention import MIN_AGE_S

    cfg = load_from_args(args)
    if cfg is None:
        return 2
    if args.recordings_older_than:
        try:
            rec_cutoff = parse_since(args.recordings_older_than, now)
        except ValueError as exc:
            print(f"kbot db prune: --recordings-older-than {args.recordings_older_than!r}: {exc}", file=sys.stderr)
            return 2
    elif cfg.record.keep_days is not None:
        rec_cutoff = now - cfg.record.keep_days * 86_400.0
    else:
        rec_cutoff = cutoff
    if rec_cutoff is None or rec_cutoff > now - MIN_AGE_S:
        print("kbot db prune: recordings younger than a day are never deleted", file=sys.stderr)
        return 2
    res = prune_recordings(cfg.record.directory(cfg.data_dir), rec_cutoff, dry_run=args.dry_run)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(rec_cutoff))
    verb = "would delete" if res.dry_run else "deleted"
    print(f"recordings in {res.directory} last written before {when}: {verb} {len(res.files)} file(s), "
          f"{res.bytes / 1e6:,.1f} MB ({res.kept} kept)")
    return 0


def _prune_with_bar(engine: Any, cutoff: float, args: argparse.Namespace, now: float) -> Any:
    """On a terminal: count first (the dry run's queries), then delete under a progress bar
    with the rows to go and an ETA (and then VACUUM, when asked, at 100 %)."""
    from kbot.progress import progress
    from storage.retention import prune

    plan = prune(engine, cutoff, scores=args.with_scores, dry_run=True, now=now)
    done: dict[str, int] = {}
    then = " (then VACUUM)" if args.vacuum else ""
    with progress(f"kbot db prune{then}", total=plan.total, unit="rows") as bar:

        def show(table: str, n: int) -> None:
            bar.advance(n - done.get(table, 0), description=f"prune {table}{then}")
            done[table] = n

        return prune(engine, cutoff, scores=args.with_scores, dry_run=False, vacuum=args.vacuum, now=now,
                     progress=show)
