"""`kbot report`: run a SQL report (``storage/reports/*.sql``) over the database, or write the
HTML report.

    kbot report --list
    kbot report NAME [--db URL] [--since 24h] [--run ID] [--format table|csv|json]
    kbot report html [--db URL] [--since all] [--run ID] [--out FILE]

``kbot report html`` writes one self-contained HTML page with figures (``kbot.htmlreport``);
its window defaults to the whole database (replays and backtests carry old timestamps).

Readers use their own read-only connections: reporting never blocks a running ``kbot run``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kbot.commands.common import database_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="the report to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the reports with a one-line description each")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: the database kbot run uses with the same configuration)")
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument(
        "--since", default=None, metavar="WHEN",
        help="24h, 90m, 7d, 2w, an ISO date/time (UTC) or 'all' (default: 24h; html: all; edge and signals: the evidence window)",
    )  # fmt: skip
    parser.add_argument("--run", metavar="ID", help="only this run (a runs.run_id; see `kbot report runs`)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    parser.add_argument("--out", metavar="FILE", help="html: the file to write (default: kbot-report-<UTC time>.html)")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kbot.commands import report_model
    from storage import report

    if args.list:
        console = Console()
        from rich.table import Table

        t = Table(show_header=True, header_style="bold", box=None)
        t.add_column("report")
        t.add_column("description")
        for r in sorted([*report.list_reports(), *report_model.infos(), *_maker_infos()], key=lambda r: r.name):
            t.add_row(r.name, r.description)
        t.add_row("html", "one self-contained HTML page with figures: equity, PnL, reliability, model vs market, "
                  "decisions, latency, gaps, restarts (--out FILE)")
        console.print(t)
        return 0
    if not args.name:
        print("kbot report: name a report (kbot report --list shows them)", file=sys.stderr)
        return 2
    if args.name == "html":
        from kbot.commands.report_html import write_html

        return write_html(args)
    now = time.time()
    if args.name in MAKER_REPORTS:
        return _maker_report(args, now)
    if args.name in report_model.DESCRIPTIONS:
        return _model_report(args, now)
    try:
        report.load_report(args.name)
        since = report.parse_since(args.since or "24h", now)
    except (report.UnknownReport, ValueError) as exc:
        print(f"kbot report: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    return _run_and_print(args, since, lambda conn: report.run_report(conn, args.name, now=now, since=since,
                                                                     run_id=args.run))


def _run_and_print(args: argparse.Namespace, since: float | None, compute: Any, empty: str = "(no rows)") -> int:
    """Open a reader on the database, ``compute(conn)`` the report and print it in the format asked."""
    from rich.console import Console
    from sqlalchemy.exc import SQLAlchemyError

    from storage import report
    from storage.db import DatabaseMissing, SchemaOutOfDate, open_reader

    try:
        engine = open_reader(database_url(args))
    except (DatabaseMissing, SchemaOutOfDate) as exc:
        print(f"kbot report: {exc}", file=sys.stderr)
        return 1
    try:
        with engine.connect() as conn:
            result = compute(conn)
    except SQLAlchemyError as exc:
        print(f"kbot report {args.name}: query failed: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.format == "csv":
        sys.stdout.write(report.to_csv(result))
    elif args.format == "json":
        sys.stdout.write(report.to_json(result) + "\n")
    else:
        since_text = "all time" if since is None else f"since {report.format_time(since)} UTC"
        run_text = f", run {args.run}" if getattr(args, "run", None) else ""
        console = Console(width=None if sys.stdout.isatty() else 240)  # piped: do not squash columns
        console.print(report.to_table(result, title=f"{args.name} ({since_text}{run_text})"))
        if not result.rows:
            console.print(empty)
    return 0


def _model_report(args: argparse.Namespace, now: float) -> int:
    """``edge`` and ``signals``: computed in Python from the record (``kbot.commands.report_model``)."""
    from kbot.commands import report_model
    from kbot.commands.common import load_from_args
    from storage import report

    cfg = load_from_args(args)
    if cfg is None:
        return 2
    try:
        since = report.parse_since(args.since, now) if args.since else now - cfg.evidence.window_s
    except ValueError as exc:
        print(f"kbot report: {exc}", file=sys.stderr)
        return 2
    if args.name == "edge":
        return _run_and_print(args, since, lambda conn: report_model.edge_report(conn, cfg, since=since or 0.0))
    return _run_and_print(args, since, lambda conn: report_model.signals_report(conn, cfg, since=since or 0.0, now=now),
                          empty="(no settled snapshots with a model probability)")


MAKER_REPORTS = {
    "maker": "fill quality per series and time to close (maker and taker fills apart): spread captured, markouts "
             "1/10/60 s, fees, inventory at settlement, PnL after fees, max drawdown (kbot.strategy.report)",
    "maker-markets": "the same per market",
}


def _maker_infos() -> list[Any]:
    from storage.report import ReportInfo

    return [ReportInfo(name=n, description=d, sql="", params=frozenset()) for n, d in MAKER_REPORTS.items()]


def _maker_report(args: argparse.Namespace, now: float) -> int:
    """``maker``: markouts over the recorded quote stream, computed at report time."""
    from storage import report

    try:
        since = report.parse_since(args.since or "all", now)
    except ValueError as exc:
        print(f"kbot report: {exc}", file=sys.stderr)
        return 2

    def compute(conn: Any) -> Any:
        from kbot.strategy.report import COLUMNS, run_report

        rows = run_report(str(conn.engine.url.render_as_string(hide_password=False)), args.run, since=since,
                          by="market" if args.name == "maker-markets" else "band")
        keys = [k for k, _, _ in COLUMNS if any(k in r for r in rows)]
        return report.ReportResult(name=args.name, columns=tuple(keys),
                                   rows=[tuple(_round(r.get(k)) for k in keys) for r in rows])

    return _run_and_print(args, since, compute, empty="(no fills)")


def _round(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v
