"""`kbot report html`: write the HTML report (``kbot.htmlreport``) of the database to a file.

Exit codes: 0 written; 1 the database cannot be read or a query failed; 2 bad arguments or the
file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kbot.commands.common import database_url


def default_out(now: float) -> Path:
    return Path(time.strftime("kbot-report-%Y%m%dT%H%M%SZ.html", time.gmtime(now)))


def write_html(args: argparse.Namespace, now: float | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from kbot.htmlreport import STEPS, build_report
    from kbot.progress import progress
    from storage import queries
    from storage.db import DatabaseMissing, SchemaOutOfDate, open_reader
    from storage.report import parse_since

    now = time.time() if now is None else now
    try:
        since = parse_since(args.since or "all", now)
    except ValueError as exc:
        print(f"kbot report html: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out(now)
    if out.is_dir():
        print(f"kbot report html: --out {out} is a directory; name the file to write", file=sys.stderr)
        return 2
    try:
        engine = open_reader(database_url(args))
    except (DatabaseMissing, SchemaOutOfDate) as exc:
        print(f"kbot report html: {exc}", file=sys.stderr)
        return 1
    try:
        with engine.connect() as conn:
            if args.run and queries.get_run(conn, args.run) is None:
                print(f"kbot report html: no run {args.run!r} in the database (kbot report runs lists them)",
                      file=sys.stderr)
                return 2
            with progress("kbot report html", total=len(STEPS), unit="sections") as bar:
                page = build_report(conn, now=now, since=since, run_id=args.run,
                                    step=lambda name: bar.advance(description=f"report html: {name}"))
    except SQLAlchemyError as exc:
        print(f"kbot report html: query failed: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"kbot report html: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(page.encode('utf-8')) / 1e6:.1f} MB); open it in a browser (it needs no network)")
    return 0
