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

from kbot.messages import Fill, HealthSnapshot, MarketSettled, Position
from storage.schema import (
    abandoned_decisions,
    alerts,
    bad_inputs,
    decisions,
    edges,
    feed_events,
    fills,
    health,
    index_prices,
    ledger_entries,
    markets,
    model_fits,
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
    exit_status: str | None  # running | ok | error | interrupted | killed | unknown (storage.runs)
    host: str | None = None
    pid: int | None = None
    exit_reason: str | None = None
    proc_start: str | None = None  # the owning process (storage.runs.process_token)
    heartbeat_ts: float | None = None  # wall clock of the last heartbeat


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
    event_ticker: str = ""
    reasons: str = ""  # comma-joined; "" = actionable
    ev_yes: float | None = None
    ev_no: float | None = None
    prob_model: float | None = None


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
            edges.c.event_ticker, edges.c.reasons, edges.c.ev_yes, edges.c.ev_no, edges.c.prob_model,
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


# ----------------------------------------------------------------------------- model evidence and fits


def _band_case(col: sa.ColumnElement, edges_: tuple[float, ...]) -> sa.ColumnElement:
    """The index of the band ``col`` falls in (``kbot.model.evidence.band_of``) as SQL."""
    whens = [(col < float(b), i) for i, b in enumerate(edges_)]
    return sa.case(*whens, else_=len(edges_)) if whens else sa.literal(0)


def evidence_clusters(
    conn: sa.Connection, *, since: float, ttc_bands: tuple[float, ...], price_bands: tuple[float, ...]
) -> list[sa.Row]:
    """Scored snapshots since ``since`` aggregated per (series, time-to-close band, price band,
    event): what ``kbot.model.evidence.EvidenceBook.add_cluster`` takes. Snapshots without a
    market price have no bucket and are left out."""
    ttc = _band_case(scores.c.horizon_s, ttc_bands).label("ttc_i")
    price = _band_case(scores.c.market_prob, price_bands).label("price_i")
    paired = sa.case((scores.c.market_brier.is_not(None), scores.c.brier), else_=None)
    q = (
        sa.select(
            scores.c.series_ticker, ttc, price, edges.c.event_ticker,
            sa.func.max(scores.c.ts).label("last_ts"), sa.func.count().label("n"),
            sa.func.sum(scores.c.brier).label("sum_brier"),
            sa.func.count(scores.c.market_brier).label("n_market"),
            sa.func.coalesce(sa.func.sum(scores.c.market_brier), 0.0).label("sum_brier_market"),
            sa.func.coalesce(sa.func.sum(paired), 0.0).label("sum_brier_paired"),
            sa.func.count(scores.c.model_brier).label("n_model"),
            sa.func.coalesce(sa.func.sum(scores.c.model_brier), 0.0).label("sum_brier_model"),
            sa.func.count(scores.c.take_pnl).label("n_takes"),
            sa.func.coalesce(sa.func.sum(scores.c.take_pnl), 0.0).label("sum_pnl"),
        )  # fmt: skip
        .select_from(scores.join(edges, edges.c.id == scores.c.edge_id))
        .where(scores.c.ts >= since, scores.c.market_prob.is_not(None))
        .group_by(scores.c.series_ticker, ttc, price, edges.c.event_ticker)
    )
    return list(conn.execute(q))


@attrs.frozen(kw_only=True)
class TrainingRow:
    """A scored edge snapshot with what the calibrated blend needs (``kbot.model.blend``)."""

    ts: float
    ticker: str
    event_ticker: str
    series_ticker: str
    horizon_s: float | None
    prob_model: float | None
    model_slope: float | None
    market_mid: float | None
    sig_momentum: float | None
    sig_mean_reversion: float | None
    sig_funding: float | None
    sig_imbalance: float | None
    vol_regime: int | None
    outcome: int
    close_ts: float | None = None


def training_rows(conn: sa.Connection, *, since: float, until: float, limit: int) -> list[TrainingRow]:
    """Scored snapshots with a raw model probability in ``[since, until)``, newest first (at
    most ``limit``). Scored means settled: walk-forward by construction."""
    q = (
        sa.select(
            scores.c.ts, scores.c.ticker, edges.c.event_ticker, scores.c.series_ticker, scores.c.horizon_s,
            edges.c.prob_model, edges.c.model_slope, edges.c.market_mid, edges.c.sig_momentum,
            edges.c.sig_mean_reversion, edges.c.sig_funding, edges.c.sig_imbalance, edges.c.vol_regime,
            scores.c.outcome, edges.c.close_ts,
        )  # fmt: skip
        .select_from(scores.join(edges, edges.c.id == scores.c.edge_id))
        .where(scores.c.ts >= since, scores.c.ts < until, edges.c.prob_model.is_not(None))
        .order_by(scores.c.ts.desc(), scores.c.edge_id.desc())
        .limit(limit)
    )
    return [TrainingRow(**r._asdict()) for r in conn.execute(q)]


def latest_model_fit(conn: sa.Connection, *, model_name: str) -> str | None:
    """The parameters (JSON) of the newest recorded fit of ``model_name``, or None."""
    q = (
        sa.select(model_fits.c.params)
        .where(model_fits.c.model_name == model_name)
        .order_by(model_fits.c.ts.desc(), model_fits.c.fit_id.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return row[0] if row else None


# ----------------------------------------------------------------------------- ledger recovery


def _position(r: sa.Row) -> Position:
    return Position(
        ts=r.ts, mode=r.mode, ticker=r.ticker, side=r.side, count=r._mapping["count"], avg_price=r.avg_price,
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
    """A run's cash: the exact sum of its ledger entries that move cash (``cash`` is set from
    ``kbot.ledger.CASH_KINDS`` when an entry is written; ``realized_pnl`` rows are not cash).
    Decimal addition in Python, not a floating-point SQL SUM."""
    le = ledger_entries.c
    q = sa.select(le.amount).where(le.run_id == run_id, le.mode == mode, le.cash == sa.true())
    return sum((a for (a,) in conn.execute(q)), Decimal(0))


def latest_end(conn: sa.Connection, *, venue: str) -> float | None:
    """The latest ``ended_ts`` of the runs on ``venue`` (their own clock)."""
    return conn.execute(sa.select(sa.func.max(runs.c.ended_ts)).where(runs.c.venue == venue)).scalar()


# ----------------------------------------------------------------------------- books of ended runs
# What the start-up repair (kbot.runlife) reads of runs that ended, killed or not.


@attrs.frozen(kw_only=True)
class RecordedBooks:
    """A run's books as its record left them."""

    run_id: str
    mode: str
    venue: str
    cash: Decimal  # sum of the cash entries
    positions: tuple[Position, ...]  # the latest record of every position, whatever its status
    applied_fills: frozenset[str]  # fill ids with a 'buy' entry: applied to the book
    realized_by_day: dict[str, Decimal]  # realized_pnl entries per UTC day
    last_snapshot_ts: float | None  # the newest portfolio snapshot: when, and what it says
    last_balance: Decimal | None
    end_ts: float  # the run's last recorded activity (its clock), at least its start
    last_exposure: Decimal | None = None
    last_open_positions: int | None = None


def recorded_books(conn: sa.Connection, run: RunInfo) -> RecordedBooks:
    le = ledger_entries.c
    cash = Decimal(0)
    applied: set[str] = set()
    by_day: dict[str, Decimal] = {}
    q = sa.select(le.kind, le.amount, le.ref, le.ts, le.cash).where(le.run_id == run.run_id, le.mode == run.mode)
    for kind, amount, ref, ts, is_cash in conn.execute(q):
        if is_cash:
            cash += amount
        if kind == "buy" and ref is not None:
            applied.add(ref)
        elif kind == "realized_pnl":
            day = _dt.datetime.fromtimestamp(ts, _dt.UTC).date().isoformat()
            by_day[day] = by_day.get(day, Decimal(0)) + amount
    pq = sa.select(positions).where(positions.c.run_id == run.run_id, positions.c.mode == run.mode)
    snap = last_portfolio(conn, run_id=run.run_id, mode=run.mode)
    last = last_record_ts(conn, run_id=run.run_id)
    return RecordedBooks(
        run_id=run.run_id, mode=run.mode, venue=run.venue, cash=cash,
        positions=tuple(_position(r) for r in conn.execute(pq.order_by(positions.c.ticker))),
        applied_fills=frozenset(applied), realized_by_day=by_day,
        last_snapshot_ts=snap.ts if snap else None, last_balance=snap.balance if snap else None,
        last_exposure=snap.exposure if snap else None, last_open_positions=snap.open_positions if snap else None,
        end_ts=max(run.started_ts, last if last is not None else run.started_ts, run.ended_ts or run.started_ts),
    )  # fmt: skip


@attrs.frozen(kw_only=True)
class OrphanTake:
    """A TAKE decision without an outcome: no order and not abandoned; or, in shadow mode, an
    order recorded without its fill (the process died between the two)."""

    decision_id: str
    run_id: str
    ts: float
    ticker: str
    side: str | None
    count: Decimal
    limit_price: Decimal | None
    fee: Decimal | None
    order_ts: float | None = None  # the recorded order's last update, when there is one


def ended_run_ids(conn: sa.Connection) -> list[str]:
    return [r for (r,) in conn.execute(sa.select(runs.c.run_id).where(runs.c.exit_status != "running"))]


def orphan_takes(conn: sa.Connection, *, run_ids: list[str]) -> list[OrphanTake]:
    """TAKEs of ``run_ids`` without an outcome (``OrphanTake``), oldest first."""
    d, o = decisions.c, orders.c
    abandoned = sa.exists().where(abandoned_decisions.c.decision_id == d.decision_id)
    filled = sa.exists().where(fills.c.order_id == o.order_id)
    out: list[OrphanTake] = []
    for i in range(0, len(run_ids), 500):
        q = (
            sa.select(d.decision_id, d.run_id, d.ts, d.ticker, d.side, d["count"], d.limit_price, d.fee,
                      o.updated_ts.label("order_ts"))
            .select_from(decisions.outerjoin(orders, o.decision_id == d.decision_id))
            .where(d.action == "TAKE", d.run_id.in_(run_ids[i : i + 500]), ~abandoned,
                   sa.or_(o.order_id.is_(None), sa.and_(o.mode == "shadow", ~filled)))
            .order_by(d.ts, d.decision_id)
        )  # fmt: skip
        out.extend(OrphanTake(**r._asdict()) for r in conn.execute(q))
    return out


def unapplied_fills(conn: sa.Connection, *, run_ids: list[str]) -> dict[str, list[Fill]]:
    """Fills first recorded by one of ``run_ids`` (in that run's mode) that the run's ledger
    never applied (no 'buy' entry refers to them), oldest first, per run."""
    f, le = fills.c, ledger_entries.c
    applied = sa.exists().where(le.run_id == f.run_id, le.kind == "buy", le.ref == f.fill_id)
    out: dict[str, list[Fill]] = {}
    for i in range(0, len(run_ids), 500):
        q = (
            sa.select(fills, runs.c.mode.label("run_mode"))
            .join(runs, runs.c.run_id == f.run_id)
            .where(f.run_id.in_(run_ids[i : i + 500]), f.mode == runs.c.mode, ~applied)
            .order_by(f.ts, f.fill_id)
        )
        for r in conn.execute(q):
            m = r._mapping
            out.setdefault(m["run_id"], []).append(Fill(
                fill_id=m["fill_id"], order_id=m["order_id"], ts=m["ts"], ticker=m["ticker"], side=m["side"],
                action=m["action"], count=m["count"], price=m["price"], fee=m["fee"], is_taker=bool(m["is_taker"]),
                mode=m["mode"], decision_id=m["decision_id"],
            ))  # fmt: skip
    return out


def runs_with_open_positions(conn: sa.Connection, *, run_ids: list[str], venue: str) -> list[str]:
    """Those of ``run_ids`` on ``venue`` that still have open positions in their run's mode."""
    p = positions.c
    out: list[str] = []
    for i in range(0, len(run_ids), 500):
        q = (
            sa.select(p.run_id).distinct()
            .join(runs, runs.c.run_id == p.run_id)
            .where(p.run_id.in_(run_ids[i : i + 500]), p.status == "open", p.mode == runs.c.mode,
                   runs.c.venue == venue)
        )  # fmt: skip
        out.extend(r for (r,) in conn.execute(q))
    return out


def known_settlements(conn: sa.Connection, *, tickers: list[str]) -> dict[str, MarketSettled]:
    """The recorded settlement of each of ``tickers`` that has one."""
    s = settlements.c
    out: dict[str, MarketSettled] = {}
    for i in range(0, len(tickers), 500):
        q = sa.select(s.ticker, s.ts, s.result, s.settlement_value, s.source, s.final).where(
            s.ticker.in_(tickers[i : i + 500]), s.settlement_value.is_not(None))
        for r in conn.execute(q):
            out[r.ticker] = MarketSettled(ts=r.ts, ticker=r.ticker, result=r.result, settlement_value=r.settlement_value,
                                          source=r.source, final=bool(r.final))
    return out


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


def last_activity_ts(conn: sa.Connection, *, run_id: str,
                     tables: tuple[sa.Table, ...] = (health, portfolio_snapshots, supervision_events, index_prices),
                     ) -> float | None:
    """The newest time the run recorded for itself (health, portfolio, supervision, index): its
    clock's "now" as last seen. A simulated clock runs ahead of the wall clock. (Each is an
    index probe on ``run_id``.)"""
    newest = [conn.execute(sa.select(sa.func.max(t.c.ts)).where(t.c.run_id == run_id)).scalar() for t in tables]
    seen = [t for t in newest if t is not None]
    return max(seen) if seen else None


def last_record_ts(conn: sa.Connection, *, run_id: str) -> float | None:
    """The newest time of anything the run recorded for itself, money included (where a killed
    run ended, on its own clock)."""
    return last_activity_ts(conn, run_id=run_id, tables=(
        health, portfolio_snapshots, supervision_events, index_prices, decisions, ledger_entries, positions,
    ))  # fmt: skip


def money_conflicts(conn: sa.Connection, *, run_id: str) -> int:
    """How many batches of a run had money rows refused as conflicts (``storage.writer``); each
    ``bad_inputs`` row of kind ``money_conflict:<table>`` lists them, both rows each."""
    q = sa.select(sa.func.count()).where(bad_inputs.c.run_id == run_id, bad_inputs.c.kind.like("money_conflict:%"))
    return int(conn.execute(q).scalar() or 0)


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
    money_conflicts: int = 0  # money rows the recorder refused (bad_inputs money_conflict:*)
    falling_behind: AlertRow | None = None  # the run does not keep up with its venue (ongoing alert)
    mismatches: list[MismatchRow] = attrs.field(factory=list)  # open reconciliation mismatches (paper/live)


def falling_behind(conn: sa.Connection, *, run_id: str) -> AlertRow | None:
    """The run's ``falling_behind`` alert when it has not been resolved since (kbot.keepup)."""
    q = (
        sa.select(alerts.c.ts, alerts.c.kind, alerts.c.severity, alerts.c.subject, alerts.c.message)
        .where(alerts.c.run_id == run_id)
        .where(sa.or_(alerts.c.kind == "falling_behind",
                      sa.and_(alerts.c.kind == "resolved", alerts.c.message == "falling_behind cleared")))
        .order_by(alerts.c.ts.desc(), alerts.c.id.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return AlertRow(**row._asdict()) if row is not None and row.kind == "falling_behind" else None


def status_snapshot(
    conn: sa.Connection, *, now: float, run_id: str | None = None, limit: int = 10, run: RunInfo | None = None
) -> StatusSnapshot:
    """Everything ``kbot status`` shows, for ``run`` (or ``run_id``; default: the latest run)
    as of ``now``."""
    if run is None:
        run = get_run(conn, run_id) if run_id is not None else latest_run(conn)
    if run is None:
        return StatusSnapshot(
            now=now, run=None, health=[], supervision=[], feeds=feed_ages(conn, now=now),
            open_markets=open_markets(conn, now=now), positions=[], pnl=None, alerts=[],
        )  # fmt: skip
    rid = run.run_id
    return StatusSnapshot(
        now=now,
        run=run,
        health=latest_health(conn, run_id=rid),
        supervision=last_supervision_events(conn, run_id=rid, limit=limit),
        feeds=feed_ages(conn, now=now, run_id=rid),
        open_markets=open_markets(conn, now=now),
        positions=open_positions(conn, run_id=rid, mode=run.mode),
        pnl=todays_pnl(conn, now=now, run_id=rid, mode=run.mode),
        alerts=last_alerts(conn, run_id=rid, limit=limit),
        portfolio=last_portfolio(conn, run_id=rid, mode=run.mode),
        last_activity_ts=last_activity_ts(conn, run_id=rid),
        money_conflicts=money_conflicts(conn, run_id=rid),
        falling_behind=falling_behind(conn, run_id=rid),
        mismatches=open_mismatches(conn, run_id=rid),
    )
