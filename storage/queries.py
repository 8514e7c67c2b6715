"""Read-side queries: pure functions of a ``Connection`` (and explicit arguments, never the clock).

What the other actors need from the record, and what ``kbot status`` shows:

- ``unscored_edges``: edge snapshots whose market has a yes/no outcome and no score yet (the
  scorer; paginate with ``after_id``).
- ``latest_run``, ``open_positions``, ``ledger_balance``: ledger recovery after a restart.
- ``recent_decisions``, ``last_decision_by_market``: decision dedup after a restart.
- ``status_snapshot`` (and its parts): the run, latest health per actor, last supervision
  events, feed ages, open markets, open positions, today's PnL, the last portfolio snapshot
  (equity), last alerts.

Call them from Trio through ``trio.to_thread.run_sync`` on a reader engine
(``storage.db.open_reader``, or the writer's engine: a separate pooled connection). In WAL
mode readers never block the writer. Queries use portable SQL (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal

import attrs
import sqlalchemy as sa

from kbot.messages import HealthSnapshot, Position
from storage.schema import (
    alerts,
    decisions,
    edges,
    feed_events,
    fills,
    health,
    index_prices,
    ledger_entries,
    markets,
    orders,
    portfolio_snapshots,
    positions,
    quotes,
    reconciliation,
    runs,
    scores,
    settlements,
    supervision_events,
)

OPEN_MARKET_STATUSES = ("active", "open")
OUTCOMES = {"yes": 1, "no": 0}


def utc_midnight(now: float) -> float:
    d = _dt.datetime.fromtimestamp(now, _dt.UTC)
    return _dt.datetime(d.year, d.month, d.day, tzinfo=_dt.UTC).timestamp()


# ----------------------------------------------------------------------------- runs


@attrs.frozen(kw_only=True)
class RunInfo:
    run_id: str
    started_ts: float
    ended_ts: float | None
    mode: str
    venue: str
    config_digest: str | None
    version: str | None
    exit_status: str | None  # running | ok | error | interrupted (running and no ended_ts after a kill)
    host: str | None = None
    pid: int | None = None
    exit_reason: str | None = None


_RUN_COLUMNS = tuple(runs.c[name] for name in attrs.fields_dict(RunInfo))


def get_run(conn: sa.Connection, run_id: str) -> RunInfo | None:
    row = conn.execute(sa.select(*_RUN_COLUMNS).where(runs.c.run_id == run_id)).first()
    return RunInfo(**row._asdict()) if row else None


def latest_run(
    conn: sa.Connection, *, mode: str | None = None, venue: str | None = None, exclude: str | None = None
) -> RunInfo | None:
    """The most recently started run (of ``mode``/``venue``; not ``exclude``, e.g. the current
    run when looking for the previous one)."""
    q = sa.select(*_RUN_COLUMNS)
    if mode is not None:
        q = q.where(runs.c.mode == mode)
    if venue is not None:
        q = q.where(runs.c.venue == venue)
    if exclude is not None:
        q = q.where(runs.c.run_id != exclude)
    row = conn.execute(q.order_by(runs.c.started_ts.desc(), runs.c.run_id.desc()).limit(1)).first()
    return RunInfo(**row._asdict()) if row else None


def fill_ids_since(conn: sa.Connection, *, mode: str, since: float) -> set[str]:
    """Ids of the fills of ``mode`` recorded at or after ``since`` (any run): what a restarted
    live executor must not apply again when it catches up on the venue's fills."""
    q = sa.select(fills.c.fill_id).where(fills.c.mode == mode, fills.c.ts >= since)
    return {r[0] for r in conn.execute(q)}


def client_order_ids_since(conn: sa.Connection, *, mode: str, since: float) -> set[str]:
    """Client order ids of the orders of ``mode`` created at or after ``since`` (any run)."""
    q = sa.select(orders.c.client_order_id).where(orders.c.mode == mode, orders.c.created_ts >= since)
    return {r[0] for r in conn.execute(q)}


# ----------------------------------------------------------------------------- scorer


@attrs.frozen(kw_only=True)
class UnscoredEdge:
    edge_id: int
    run_id: str
    ts: float
    ticker: str
    series_ticker: str
    horizon_s: float | None
    prob_yes: float
    market_mid: float | None
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    fee_yes: float | None
    fee_no: float | None
    result: str  # yes | no
    outcome: int  # 1 yes, 0 no


def unscored_edges(
    conn: sa.Connection, *, limit: int = 5000, after_id: int = 0, run_id: str | None = None
) -> list[UnscoredEdge]:
    """Edge snapshots with a model probability, whose market settled yes or no (from
    ``settlements``, else ``markets.result``), and without a score, oldest first. Void or
    scalar outcomes are not scorable and never returned. Pass the last ``edge_id`` seen as
    ``after_id`` to move past edges the scorer chooses not to score."""
    result = sa.func.coalesce(settlements.c.result, markets.c.result)
    q = (
        sa.select(
            edges.c.id.label("edge_id"), edges.c.run_id, edges.c.ts, edges.c.ticker, edges.c.series_ticker,
            edges.c.horizon_s, edges.c.prob_yes, edges.c.market_mid, edges.c.yes_bid, edges.c.yes_ask,
            edges.c.no_bid, edges.c.no_ask, edges.c.fee_yes, edges.c.fee_no, result.label("result"),
        )  # fmt: skip
        .select_from(
            edges.outerjoin(settlements, settlements.c.ticker == edges.c.ticker)
            .outerjoin(markets, markets.c.ticker == edges.c.ticker)
            .outerjoin(scores, scores.c.edge_id == edges.c.id)
        )
        .where(
            scores.c.edge_id.is_(None),
            edges.c.prob_yes.is_not(None),
            edges.c.id > after_id,
            result.in_(tuple(OUTCOMES)),
        )
        .order_by(edges.c.id)
        .limit(limit)
    )
    if run_id is not None:
        q = q.where(edges.c.run_id == run_id)
    return [UnscoredEdge(**r._asdict(), outcome=OUTCOMES[r.result]) for r in conn.execute(q)]


# ----------------------------------------------------------------------------- ledger recovery


def _position(r: sa.Row) -> Position:
    return Position(
        ts=r.ts, mode=r.mode, ticker=r.ticker, side=r.side, count=r.count, avg_price=r.avg_price,
        cost=r.cost, fees=r.fees, realized_pnl=r.realized_pnl, unrealized_pnl=r.unrealized_pnl,
        mark_price=r.mark_price, status=r.status, opened_ts=r.opened_ts, closed_ts=r.closed_ts,
        result=r.result,
    )  # fmt: skip


def open_positions(conn: sa.Connection, *, run_id: str, mode: str) -> list[Position]:
    """The latest recorded state of every open position of ``run_id`` in ``mode``."""
    q = (
        sa.select(positions)
        .where(positions.c.run_id == run_id, positions.c.mode == mode, positions.c.status == "open")
        .order_by(positions.c.ticker)
    )
    return [_position(r) for r in conn.execute(q)]


def ledger_balance(conn: sa.Connection, *, run_id: str, mode: str) -> Decimal:
    """Exact sum of the ledger's signed cash movements of a run (Decimal addition in Python,
    not a floating-point SQL SUM)."""
    q = sa.select(ledger_entries.c.amount).where(ledger_entries.c.run_id == run_id, ledger_entries.c.mode == mode)
    return sum((a for (a,) in conn.execute(q)), Decimal(0))


# ----------------------------------------------------------------------------- decision dedup


@attrs.frozen(kw_only=True)
class RecentDecision:
    decision_id: str
    run_id: str
    ts: float
    ticker: str
    action: str
    side: str | None
    count: Decimal
    limit_price: Decimal | None
    reasons: str


def recent_decisions(
    conn: sa.Connection,
    *,
    since_ts: float,
    run_id: str | None = None,
    action: str | None = None,
    tickers: list[str] | None = None,
) -> list[RecentDecision]:
    """Decisions at or after ``since_ts``, oldest first (optionally of one run, one action,
    some tickers)."""
    q = sa.select(
        decisions.c.decision_id, decisions.c.run_id, decisions.c.ts, decisions.c.ticker, decisions.c.action,
        decisions.c.side, decisions.c.count, decisions.c.limit_price, decisions.c.reasons,
    ).where(decisions.c.ts >= since_ts)  # fmt: skip
    if run_id is not None:
        q = q.where(decisions.c.run_id == run_id)
    if action is not None:
        q = q.where(decisions.c.action == action)
    if tickers is not None:
        q = q.where(decisions.c.ticker.in_(tickers))
    return [RecentDecision(**r._asdict()) for r in conn.execute(q.order_by(decisions.c.ts, decisions.c.decision_id))]


def last_decision_by_market(
    conn: sa.Connection, *, since_ts: float, run_id: str | None = None, action: str | None = None
) -> dict[str, RecentDecision]:
    """The latest decision per ticker since ``since_ts``."""
    out: dict[str, RecentDecision] = {}
    for d in recent_decisions(conn, since_ts=since_ts, run_id=run_id, action=action):
        out[d.ticker] = d  # ordered by ts: the last one wins
    return out


# ----------------------------------------------------------------------------- status


def latest_health(conn: sa.Connection, *, run_id: str) -> list[HealthSnapshot]:
    """The newest health snapshot of each actor of the run."""
    last = (
        sa.select(health.c.actor, sa.func.max(health.c.ts).label("ts"))
        .where(health.c.run_id == run_id)
        .group_by(health.c.actor)
        .subquery()
    )
    q = (
        sa.select(
            health.c.actor, health.c.ts, health.c.inbox_depth, health.c.inbox_peak, health.c.msgs_in,
            health.c.msgs_out, health.c.last_msg_age_s, health.c.restarts, health.c.errors, health.c.state,
        )  # fmt: skip
        .join(last, sa.and_(last.c.actor == health.c.actor, last.c.ts == health.c.ts))
        .where(health.c.run_id == run_id)
        .order_by(health.c.actor)
    )
    return [HealthSnapshot(**r._asdict()) for r in conn.execute(q)]


@attrs.frozen(kw_only=True)
class SupervisionRow:
    ts: float
    supervisor: str
    child: str
    kind: str
    reason: str | None
    attempt: int
    delay_s: float


def last_supervision_events(conn: sa.Connection, *, run_id: str | None = None, limit: int = 10) -> list[SupervisionRow]:
    """The newest supervision events (newest first)."""
    s = supervision_events
    q = sa.select(s.c.ts, s.c.supervisor, s.c.child, s.c.kind, s.c.reason, s.c.attempt, s.c.delay_s)
    if run_id is not None:
        q = q.where(s.c.run_id == run_id)
    return [SupervisionRow(**r._asdict()) for r in conn.execute(q.order_by(s.c.ts.desc(), s.c.id.desc()).limit(limit))]


@attrs.frozen(kw_only=True)
class FeedAge:
    feed: str  # spot:<source>, quotes:<source> or a feed name from FeedStatus
    last_ts: float | None
    age_s: float | None
    status: str | None = None  # the feed's last FeedStatus, when it sent one


def feed_ages(conn: sa.Connection, *, now: float, window_s: float = 3600.0, run_id: str | None = None) -> list[FeedAge]:
    """Age of the newest spot tick per source (loose index scan: one index probe per source),
    the newest quote per source within ``window_s``, and the last status of each feed."""
    loose = sa.text(
        """
        WITH RECURSIVE src(source) AS (
            SELECT MIN(source) FROM spot_ticks
            UNION ALL
            SELECT (SELECT MIN(t.source) FROM spot_ticks t WHERE t.source > src.source)
            FROM src WHERE src.source IS NOT NULL
        )
        SELECT source, (SELECT MAX(t.ts) FROM spot_ticks t WHERE t.source = src.source) AS last_ts
        FROM src WHERE source IS NOT NULL
        """
    )
    out: dict[str, FeedAge] = {}
    for source, last_ts in conn.execute(loose):
        out[f"spot:{source}"] = FeedAge(feed=f"spot:{source}", last_ts=last_ts, age_s=now - last_ts)
    q = (
        sa.select(quotes.c.source, sa.func.max(quotes.c.ts))
        .where(quotes.c.ts >= now - window_s)
        .group_by(quotes.c.source)
    )
    for source, last_ts in conn.execute(q):
        out[f"quotes:{source}"] = FeedAge(feed=f"quotes:{source}", last_ts=last_ts, age_s=now - last_ts)
    last = sa.select(feed_events.c.feed, sa.func.max(feed_events.c.ts).label("ts")).group_by(feed_events.c.feed)
    if run_id is not None:
        last = last.where(feed_events.c.run_id == run_id)
    sub = last.subquery()
    q2 = sa.select(feed_events.c.feed, feed_events.c.ts, feed_events.c.status).join(
        sub, sa.and_(sub.c.feed == feed_events.c.feed, sub.c.ts == feed_events.c.ts)
    )
    if run_id is not None:
        q2 = q2.where(feed_events.c.run_id == run_id)
    for feed, ts, status in conn.execute(q2):
        prev = out.get(feed)
        if prev is None:
            out[feed] = FeedAge(feed=feed, last_ts=ts, age_s=now - ts, status=status)
        else:
            out[feed] = attrs.evolve(prev, status=status)
    return sorted(out.values(), key=lambda f: f.feed)


@attrs.frozen(kw_only=True)
class OpenMarket:
    ticker: str
    series_ticker: str
    status: str
    close_ts: float | None
    floor_strike: float | None
    cap_strike: float | None
    strike_type: str | None


def open_markets(conn: sa.Connection, *, now: float) -> list[OpenMarket]:
    """Markets whose last recorded status is open and whose close time is still ahead."""
    m = markets
    q = (
        sa.select(m.c.ticker, m.c.series_ticker, m.c.status, m.c.close_ts, m.c.floor_strike, m.c.cap_strike, m.c.strike_type)
        .where(m.c.status.in_(OPEN_MARKET_STATUSES), sa.or_(m.c.close_ts.is_(None), m.c.close_ts > now))
        .order_by(m.c.close_ts, m.c.ticker)
    )
    return [OpenMarket(**r._asdict()) for r in conn.execute(q)]


@attrs.frozen(kw_only=True)
class DayPnl:
    realized: Decimal  # ledger entries of kind realized_pnl since 00:00 UTC
    unrealized: Decimal  # sum of open positions' unrealized PnL at their last mark
    fees: Decimal  # ledger entries of kind fee since 00:00 UTC (negative amounts)


def todays_pnl(conn: sa.Connection, *, now: float, run_id: str, mode: str) -> DayPnl:
    """Today's (UTC) PnL of a run, exact: Decimal sums in Python."""
    since = utc_midnight(now)
    q = sa.select(ledger_entries.c.kind, ledger_entries.c.amount).where(
        ledger_entries.c.run_id == run_id,
        ledger_entries.c.mode == mode,
        ledger_entries.c.ts >= since,
        ledger_entries.c.ts < since + 86400.0,
        ledger_entries.c.kind.in_(("realized_pnl", "fee")),
    )
    realized = fees = Decimal(0)
    for kind, amount in conn.execute(q):
        if kind == "realized_pnl":
            realized += amount
        else:
            fees += amount
    unrealized = sum(
        (p.unrealized_pnl for p in open_positions(conn, run_id=run_id, mode=mode) if p.unrealized_pnl is not None),
        Decimal(0),
    )
    return DayPnl(realized=realized, unrealized=unrealized, fees=fees)


@attrs.frozen(kw_only=True)
class AlertRow:
    ts: float
    kind: str
    severity: str
    subject: str
    message: str


def last_alerts(conn: sa.Connection, *, run_id: str | None = None, limit: int = 10) -> list[AlertRow]:
    q = sa.select(alerts.c.ts, alerts.c.kind, alerts.c.severity, alerts.c.subject, alerts.c.message)
    if run_id is not None:
        q = q.where(alerts.c.run_id == run_id)
    return [AlertRow(**r._asdict()) for r in conn.execute(q.order_by(alerts.c.ts.desc(), alerts.c.id.desc()).limit(limit))]


@attrs.frozen(kw_only=True)
class PortfolioRow:
    """A recorded ``PortfolioState`` (the ledger's view), as stored."""

    ts: float
    mode: str
    balance: Decimal
    exposure: Decimal
    daily_realized_pnl: Decimal
    open_orders: int  # total over tickers
    exposure_by_ticker: str  # "ticker:dollars,..."
    equity: Decimal | None  # None in snapshots recorded before migration 0003
    unrealized_pnl: Decimal | None
    open_positions: int


def last_portfolio(conn: sa.Connection, *, run_id: str, mode: str | None = None) -> PortfolioRow | None:
    """The newest portfolio snapshot of a run (of ``mode``)."""
    p = portfolio_snapshots
    q = sa.select(*(p.c[name] for name in attrs.fields_dict(PortfolioRow))).where(p.c.run_id == run_id)
    if mode is not None:
        q = q.where(p.c.mode == mode)
    row = conn.execute(q.order_by(p.c.ts.desc()).limit(1)).first()
    return PortfolioRow(**row._asdict()) if row else None


def last_activity_ts(conn: sa.Connection, *, run_id: str) -> float | None:
    """The newest time the run recorded for itself (health, portfolio, supervision, index): its
    clock's "now" as last seen. A simulated clock runs ahead of the wall clock."""
    tables = (health, portfolio_snapshots, supervision_events, index_prices)
    newest = [conn.execute(sa.select(sa.func.max(t.c.ts)).where(t.c.run_id == run_id)).scalar() for t in tables]
    seen = [t for t in newest if t is not None]
    return max(seen) if seen else None


@attrs.frozen(kw_only=True)
class MismatchRow:
    ts: float
    kind: str
    ticker: str
    ledger: str | None
    venue: str | None
    detail: str


def open_mismatches(conn: sa.Connection, *, run_id: str) -> list[MismatchRow]:
    """Reconciliation mismatches of a run not cleared or adopted since (new orders are halted there)."""
    r = reconciliation
    rows = conn.execute(sa.select(r.c.ts, r.c.kind, r.c.ticker, r.c.status, r.c.ledger, r.c.venue, r.c.detail)
                        .where(r.c.run_id == run_id, r.c.kind != "start").order_by(r.c.ts)).all()
    open_: dict[tuple[str, str], MismatchRow] = {}
    for ts, kind, ticker, status, ledger, venue, detail in rows:
        if status == "mismatch":
            open_[(kind, ticker)] = MismatchRow(ts=ts, kind=kind, ticker=ticker, ledger=ledger, venue=venue,
                                                detail=detail)
        elif status in ("cleared", "adopted"):
            open_.pop((kind, ticker), None)
    return sorted(open_.values(), key=lambda m: m.ts)


@attrs.frozen(kw_only=True)
class StatusSnapshot:
    now: float
    run: RunInfo | None
    health: list[HealthSnapshot]
    supervision: list[SupervisionRow]
    feeds: list[FeedAge]
    open_markets: list[OpenMarket]
    positions: list[Position]
    pnl: DayPnl | None
    alerts: list[AlertRow]
    portfolio: PortfolioRow | None = None
    last_activity_ts: float | None = None
    mismatches: list[MismatchRow] = attrs.field(factory=list)


def status_snapshot(
    conn: sa.Connection, *, now: float, run_id: str | None = None, limit: int = 10, run: RunInfo | None = None
) -> StatusSnapshot:
    """Everything ``kbot status`` shows, for ``run`` (or ``run_id``; default: the latest run)
    as of ``now``."""
    if run is None:
        run = get_run(conn, run_id) if run_id is not None else latest_run(conn)
    rid = run.run_id if run else None
    return StatusSnapshot(
        now=now,
        run=run,
        health=latest_health(conn, run_id=rid) if rid else [],
        supervision=last_supervision_events(conn, run_id=rid, limit=limit) if rid else [],
        feeds=feed_ages(conn, now=now, run_id=rid),
        open_markets=open_markets(conn, now=now),
        positions=open_positions(conn, run_id=rid, mode=run.mode) if run else [],
        pnl=todays_pnl(conn, now=now, run_id=rid, mode=run.mode) if run else None,
        alerts=last_alerts(conn, run_id=rid, limit=limit) if rid else [],
        portfolio=last_portfolio(conn, run_id=rid, mode=run.mode) if run else None,
        last_activity_ts=last_activity_ts(conn, run_id=rid) if rid else None,
        mismatches=open_mismatches(conn, run_id=rid) if rid else [],
    )
