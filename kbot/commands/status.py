"""`kbot status`: what the latest run (or ``--run ID``) is doing, read from the database.

    kbot status [--db URL] [--run ID] [--format table|json] [--limit N] [--expand]

Shows the run (id, started, mode, venue, status), the actor tree (each actor's latest health
snapshot: inbox depth and peak, messages in/out, last message age, restarts, errors, state;
and the last supervision events), feed ages, open markets (count and the next to close), open
positions with unrealized PnL, today's PnL (realized, as the ledger books it: net of fees;
and the fees paid today), equity from the last portfolio snapshot, and the last alerts. Rich tables by default; ``--format json`` for scripts (times
are epoch seconds, money exact decimal strings). It reads through its own read-only
connection (``storage.db.open_reader``): it never blocks a running ``kbot run``.

Time. Ages are measured from the wall clock, except when the run's own records are ahead of
it (a simulated venue whose clock runs faster than real time): then from the run's newest
record, and the output says so.

Alive or dead. A killed process never closes its row, and a simulated clock makes "its last
record is recent" meaningless, so whether a run marked ``running`` is alive is decided by its
process and its wall-clock heartbeat alone (``storage.runs.liveness``): on this host, by its pid
and that pid's start token (a reused pid is not it); elsewhere, by a heartbeat younger than
``storage.runs.STALE_AFTER_S``. A dead run is flagged in red (the next ``kbot run`` closes it as
``killed`` or ``unknown``). Money conflicts the recorder refused are shown in red too.

Actors whose latest snapshot is more than ``GONE_AFTER_S`` older than the run's newest one
(a pricer whose market closed, an actor that died) are listed apart as "stopped reporting".
Instances named ``kind:key`` (``pricer:KXBTCD-...``) are summed into one ``kind:*`` row when
there are more than ``GROUP_OVER`` of a kind, unless ``--expand``; JSON lists every actor.

Exit codes: 0 shown; 1 the database holds no run yet; 2 the database cannot be read (missing
file, schema older than the code, unknown ``--run``, query failure).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kbot.commands.common import database_url

if TYPE_CHECKING:  # imported lazily: `kbot --help` stays fast
    from storage.queries import StatusSnapshot
    from storage.runs import Liveness

GONE_AFTER_S = 120.0  # an actor silent this long (run clock) behind the newest snapshot has stopped reporting
GROUP_OVER = 3  # more instances than this of one actor kind are shown as one summed row


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: the database kbot run uses with the same configuration)")
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument("--run", metavar="ID", help="this run instead of the latest (a runs.run_id; see `kbot report runs`)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.add_argument(
        "--limit", type=int, default=10, metavar="N",
        help="supervision events, alerts and open markets shown (default: 10)",
    )  # fmt: skip
    parser.add_argument("--expand", action="store_true", help="one row per actor instance (no kind:* summary rows)")


# ----------------------------------------------------------------------------- pure helpers


def choose_now(wall: float, last_activity_ts: float | None) -> tuple[float, str]:
    """The instant ages are measured from, and which clock that is (``wall`` or ``run``)."""
    if last_activity_ts is not None and last_activity_ts > wall:
        return last_activity_ts, "run"
    return wall, "wall"


def fmt_age(seconds: float | None) -> str:
    """``0.4s``, ``42s``, ``4m05s``, ``1h02m``, ``2d03h`` (negative: ``-`` and the same)."""
    if seconds is None:
        return ""
    if seconds < 0:
        return "-" + fmt_age(-seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def actor_rows(snap: StatusSnapshot, *, expand: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(current, stopped): one dict per actor from its latest health snapshot, with ``seen_s``
    (age of the snapshot). Current actors of one ``kind:key`` kind are summed into one
    ``kind:*`` row when more than ``GROUP_OVER`` (unless ``expand``)."""
    if not snap.health:
        return [], []
    newest = max(h.ts for h in snap.health)
    current: list[dict[str, Any]] = []
    stopped: list[dict[str, Any]] = []
    for h in snap.health:
        row = {
            "actor": h.actor, "ts": h.ts, "seen_s": snap.now - h.ts, "inbox_depth": h.inbox_depth,
            "inbox_peak": h.inbox_peak, "msgs_in": h.msgs_in, "msgs_out": h.msgs_out,
            "last_msg_age_s": h.last_msg_age_s, "restarts": h.restarts, "errors": h.errors, "state": h.state,
        }  # fmt: skip
        (stopped if h.ts < newest - GONE_AFTER_S else current).append(row)
    if expand:
        return current, stopped
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out: list[dict[str, Any]] = []
    for r in current:
        if ":" in r["actor"]:
            kinds[r["actor"].split(":", 1)[0]].append(r)
        else:
            out.append(r)
    for kind, rows in kinds.items():
        if len(rows) <= GROUP_OVER:
            out.extend(rows)
            continue
        states: dict[str, int] = defaultdict(int)
        for r in rows:
            states[r["state"] or "?"] += 1
        ages = [r["last_msg_age_s"] for r in rows if r["last_msg_age_s"] is not None]
        out.append({
            "actor": f"{kind}:* ({len(rows)})", "ts": min(r["ts"] for r in rows),
            "seen_s": max(r["seen_s"] for r in rows), "inbox_depth": max(r["inbox_depth"] for r in rows),
            "inbox_peak": max(r["inbox_peak"] for r in rows), "msgs_in": sum(r["msgs_in"] for r in rows),
            "msgs_out": sum(r["msgs_out"] for r in rows), "last_msg_age_s": max(ages) if ages else None,
            "restarts": sum(r["restarts"] for r in rows), "errors": sum(r["errors"] for r in rows),
            "state": ", ".join(f"{s} x{n}" for s, n in sorted(states.items())),
        })  # fmt: skip
    out.sort(key=lambda r: r["actor"])
    return out, stopped


def _plain(v: Any) -> Any:
    """JSON: exact decimals as strings, everything else as it is."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def run_liveness(snap: StatusSnapshot, *, wall: float, this_host: str | None = None) -> Liveness | None:
    """Whether the run shown is alive (see the module docstring); None without a run."""
    import socket

    from storage.runs import liveness

    if snap.run is None:
        return None
    return liveness(snap.run, wall_now=wall, this_host=this_host if this_host is not None else socket.gethostname())


def status_dict(snap: StatusSnapshot, *, clock: str, wall: float, limit: int) -> dict[str, Any]:
    """Everything shown, as plain data (``--format json``)."""
    import attrs

    run = snap.run
    current, stopped = actor_rows(snap, expand=True)
    live = run_liveness(snap, wall=wall)
    pnl = snap.pnl
    out = {
        "now": snap.now,
        "clock": clock,
        "run": None if run is None or live is None else {
            **attrs.asdict(run), "age_s": snap.now - run.started_ts, "last_activity_ts": snap.last_activity_ts,
            "liveness": attrs.asdict(live),
            # wall seconds without a heartbeat of a run marked running that is not alive (None otherwise)
            "silent_s": live.heartbeat_age_s if live.verdict in ("dead", "silent") else None,
        },
        "actors": [{**r, "current": True} for r in current] + [{**r, "current": False} for r in stopped],
        "supervision": [attrs.asdict(e) for e in snap.supervision],
        "feeds": [attrs.asdict(f) for f in snap.feeds],
        "open_markets": {"count": len(snap.open_markets), "next": [attrs.asdict(m) for m in snap.open_markets[:limit]]},
        "positions": [attrs.asdict(p) for p in snap.positions],
        "pnl_today": None if pnl is None else {
            "realized_pnl": pnl.realized, "fees": pnl.fees, "unrealized_pnl": pnl.unrealized,
        },
        "portfolio": None if snap.portfolio is None else {
            **attrs.asdict(snap.portfolio), "age_s": snap.now - snap.portfolio.ts,
        },
        "alerts": [attrs.asdict(a) for a in snap.alerts],
        "money_conflicts": snap.money_conflicts,
        "falling_behind": None if snap.falling_behind is None else attrs.asdict(snap.falling_behind),
        "reconciliation_open": [attrs.asdict(m) for m in snap.mismatches],
    }  # fmt: skip
    return _plain(out)


# ----------------------------------------------------------------------------- tables


def render(snap: StatusSnapshot, *, clock: str, wall: float, limit: int, expand: bool) -> list[Any]:
    """The rich renderables ``kbot status`` prints, in order."""
    from rich.table import Table
    from rich.text import Text

    from storage.report import format_time, format_value

    def table(title: str, columns: list[str], rows: list[list[Any]], right: Collection[str] = ()) -> Table:
        t = Table(title=title, title_justify="left", header_style="bold", show_edge=False, pad_edge=False)
        for c in columns:
            t.add_column(c, justify="right" if c in right else "left", overflow="fold")
        for r in rows:
            t.add_row(*["" if v is None else str(v) for v in r])
        return t

    def money(v: Decimal | None) -> str:
        return "" if v is None else format_value("amount", v)

    out: list[Any] = []
    run = snap.run
    assert run is not None
    live = run_liveness(snap, wall=wall)
    head = Text()
    head.append(f"run {run.run_id}", style="bold")
    head.append("  mode ")
    head.append(run.mode.upper() if run.mode == "live" else run.mode,
                style="bold white on red" if run.mode == "live" else ("bold yellow" if run.mode == "paper" else ""))
    head.append(f"  venue {run.venue}  status ")
    alive = live is not None and live.verdict == "alive"
    head.append(run.exit_status or "?", style="green" if alive else "bold red" if run.exit_status == "running" else "yellow")
    if live is not None and run.exit_status == "running":
        head.append(f" ({live.reason})", style="green" if alive else "bold red")
    head.append(f"\nstarted {format_time(run.started_ts)} UTC ({fmt_age(snap.now - run.started_ts)} ago)")
    if run.ended_ts is not None:
        head.append(f", ended {format_time(run.ended_ts)} UTC after {fmt_age(run.ended_ts - run.started_ts)}")
        if run.exit_reason:
            head.append(f": {run.exit_reason}")
    extras = [f"version {run.version}" if run.version else "", f"pid {run.pid} on {run.host}" if run.pid else ""]
    if any(extras):
        head.append("\n" + "  ".join(e for e in extras if e))
    if clock == "run":
        head.append(
            f"\nclock: the run's records are ahead of the wall clock (simulated time); ages are from its newest "
            f"record at {format_time(snap.now)} UTC",
            style="cyan",
        )
    if live is not None and live.verdict in ("dead", "silent"):
        head.append(
            "\nthis run is not alive: its process is gone or silent, so it will never close its row; the next "
            "`kbot run` on this database closes it (killed/unknown) and settles its books",
            style="bold red",
        )
    if snap.falling_behind is not None:
        fb = snap.falling_behind
        when = "and had not caught up when the run ended" if run.ended_ts is not None else "and still is"
        head.append(f"\nFALLING BEHIND since {format_time(fb.ts)} UTC {when}: {fb.message}", style="bold red")
    out.append(head)

    current, stopped = actor_rows(snap, expand=expand)
    cols = ["actor", "state", "depth", "peak", "msgs in", "msgs out", "last msg", "restarts", "errors", "seen"]
    out.append(table(
        "actors (latest health snapshot)", cols,
        [[r["actor"], r["state"] or "", r["inbox_depth"], r["inbox_peak"], r["msgs_in"], r["msgs_out"],
          fmt_age(r["last_msg_age_s"]), r["restarts"], r["errors"], fmt_age(r["seen_s"]) + " ago"]
         for r in current],
        right=set(cols[2:]),
    ) if current else Text("actors: no health snapshot recorded for this run"))  # fmt: skip
    if stopped:
        names = ", ".join(r["actor"] for r in stopped[:10]) + (f", ... ({len(stopped)})" if len(stopped) > 10 else "")
        out.append(Text(f"stopped reporting (> {fmt_age(GONE_AFTER_S)} behind the newest snapshot): {names}"))
    if snap.supervision:
        out.append(table(
            f"last supervision events (newest first, up to {limit})",
            ["ts", "supervisor", "child", "kind", "attempt", "delay", "reason"],
            [[format_time(e.ts), e.supervisor, e.child, e.kind, e.attempt, fmt_age(e.delay_s), e.reason or ""]
             for e in snap.supervision],
            right={"attempt", "delay"},
        ))  # fmt: skip
    else:
        out.append(Text("supervision: no events recorded for this run"))

    out.append(table(
        "feeds", ["feed", "last", "age", "status"],
        [[f.feed, format_time(f.last_ts) if f.last_ts is not None else "", fmt_age(f.age_s), f.status or ""]
         for f in snap.feeds],
        right={"age"},
    ) if snap.feeds else Text("feeds: nothing recorded"))  # fmt: skip

    n = len(snap.open_markets)
    if n:
        out.append(table(
            f"open markets: {n}" + (f" (the {min(n, limit)} closing first)" if n > limit else ""),
            ["ticker", "series", "closes", "in", "strike"],
            [[m.ticker, m.series_ticker, format_time(m.close_ts) if m.close_ts is not None else "",
              fmt_age(m.close_ts - snap.now) if m.close_ts is not None else "", _strike(m)]
             for m in snap.open_markets[:limit]],
            right={"in"},
        ))  # fmt: skip
    else:
        out.append(Text("open markets: 0"))

    if snap.positions:
        pcols = ["ticker", "side", "count", "avg price", "cost", "fees", "mark", "unrealized", "opened"]
        out.append(table(
            f"open positions: {len(snap.positions)} ({run.mode})", pcols,
            [[p.ticker, p.side, format_value("count", p.count), money(p.avg_price), money(p.cost), money(p.fees),
              money(p.mark_price), money(p.unrealized_pnl), format_time(p.opened_ts)] for p in snap.positions],
            right=set(pcols[2:-1]),
        ))  # fmt: skip
    else:
        out.append(Text(f"open positions: 0 ({run.mode})"))

    pnl, pf = snap.pnl, snap.portfolio
    rows = []
    if pnl is not None:
        rows += [
            ["realized PnL today (UTC)", money(pnl.realized)],
            ["fees today", money(pnl.fees)],
            ["unrealized (open positions)", money(pnl.unrealized)],
        ]
    if pf is not None:
        rows += [
            ["equity", money(pf.equity) if pf.equity is not None else "(not recorded)"],
            ["balance", money(pf.balance)], ["exposure", money(pf.exposure)],
            ["open positions / orders", f"{pf.open_positions} / {pf.open_orders}"],
        ]  # fmt: skip
    else:
        rows.append(["equity", "(no portfolio snapshot yet)"])
    if snap.money_conflicts:
        rows.append(["MONEY CONFLICTS (refused money rows)", f"{snap.money_conflicts} batches: see bad_inputs"])
    out.append(table("money", ["", "dollars"], rows, right={"dollars"}))
    if snap.money_conflicts:
        out.append(Text(
            f"{snap.money_conflicts} batches had money rows refused because their keys held different rows: the "
            "ledger of this run may not add up. SELECT sample FROM bad_inputs WHERE kind LIKE 'money_conflict:%'",
            style="bold red"))
    if pf is not None:  # (not in the title: rich wraps a title to the table's width)
        out.append(Text(f"equity, balance, exposure: portfolio snapshot of {format_time(pf.ts)} UTC, "
                        f"{fmt_age(snap.now - pf.ts)} ago"))  # fmt: skip

    if run.mode != "shadow":
        if snap.mismatches:
            out.append(table(
                "reconciliation: open mismatches (new orders halted there; see ops/RUNBOOK.md)",
                ["ts", "kind", "ticker", "kbot", "venue", "detail"],
                [[format_time(m.ts), m.kind, m.ticker or "(account)", m.ledger, m.venue, m.detail]
                 for m in snap.mismatches],
            ))  # fmt: skip
        else:
            out.append(Text("reconciliation: no open mismatch"))

    if snap.alerts:
        out.append(table(
            f"last alerts (newest first, up to {limit})", ["ts", "severity", "kind", "subject", "message"],
            [[format_time(a.ts), a.severity, a.kind, a.subject, a.message] for a in snap.alerts],
        ))  # fmt: skip
    else:
        out.append(Text("alerts: none"))
    return out


def _strike(m: Any) -> str:
    lo, hi = m.floor_strike, m.cap_strike
    if lo is not None and hi is not None:
        return f"{lo:,.2f} - {hi:,.2f}"
    if lo is not None:
        return f"{m.strike_type or '>'} {lo:,.2f}"
    if hi is not None:
        return f"{m.strike_type or '<'} {hi:,.2f}"
    return ""


# ----------------------------------------------------------------------------- command


def main(args: argparse.Namespace, now: float | None = None) -> int:
    """``now``: the wall clock (tests pass a fixed one)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage import queries
    from storage.db import DatabaseMissing, SchemaOutOfDate, open_reader

    wall = time.time() if now is None else now
    if args.limit < 1:
        print("kbot status: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        engine = open_reader(database_url(args))
    except (DatabaseMissing, SchemaOutOfDate) as exc:
        print(f"kbot status: {exc}", file=sys.stderr)
        return 2
    try:
        with engine.connect() as conn:
            run = queries.get_run(conn, args.run) if args.run else queries.latest_run(conn)
            if run is None:
                if args.run:
                    print(f"kbot status: no run {args.run!r} in the database (kbot report runs lists them)", file=sys.stderr)
                    return 2
                print("kbot status: no run recorded yet (start one with `kbot run`)", file=sys.stderr)
                return 1
            at, clock = choose_now(wall, queries.last_activity_ts(conn, run_id=run.run_id))
            snap = queries.status_snapshot(conn, now=at, run=run, limit=args.limit)
    except SQLAlchemyError as exc:
        print(f"kbot status: query failed: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.format == "json":
        sys.stdout.write(json.dumps(status_dict(snap, clock=clock, wall=wall, limit=args.limit), indent=2) + "\n")
        return 0
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 200)  # piped: do not squash columns
    for part in render(snap, clock=clock, wall=wall, limit=args.limit, expand=args.expand):
        console.print(part)
        console.print()
    return 0
