"""`kbot db`: database migrations.

- ``kbot db upgrade [--db URL]``: create the database if needed and apply every migration up to
  the head (``kbot run`` also does this at start).
- ``kbot db current [--db URL]``: print the database's revision id (and whether it is the head).

The URL comes from ``--db``, else the configuration ``kbot run`` would use (``--config`` or
``./kbot.toml``, ``KBOT_DB_URL``, ``.env``), else ``sqlite:///./data/kbot.sqlite``.
"""

from __future__ import annotations

import argparse
import sys

from kbot.commands.common import database_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
    for name, help_text in (
        ("upgrade", "apply migrations up to the head (creates the database if needed)"),
        ("current", "print the database's revision id"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: the database kbot run uses with the same configuration)")
        p.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")


def main(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import DatabaseMissing, create_engine, current_revision, head_revision, open_database, sqlite_path

    action = getattr(args, "db_command", None)
    if action not in ("upgrade", "current"):
        print("usage: kbot db {upgrade,current} [--db URL]", file=sys.stderr)
        return 2
    url = database_url(args)
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
