"""Records -> rows: one pure mapping function per message type.

Each function takes a message and a ``MapContext`` (the run id and the dialect's money
converter) and returns the row as a tuple in the column order of its table, without the
surrogate ``id`` (``columns_of``). ``ROUTES`` says which tables a message type is written to
(a ``Decision`` is one ``decisions`` row plus one ``decision_reasons`` row per reason).

Tuples, not dicts, because this is the writer's hot path (>= 100k rows/s): the tests write
every message type with distinct field values and read each field back by name, so a column
out of order cannot pass unnoticed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import sqlalchemy as sa

from kbot.ledger import CASH_KINDS
from kbot.messages import (
    Alert,
    BadInput,
    BookSnapshot,
    Decision,
    DecisionAbandoned,
    Edge,
    EventFeeUpdate,
    EventInfo,
    FeedStatus,
    Fill,
    FundingRate,
    HealthSnapshot,
    IndexUpdate,
    LatencySample,
    LedgerEntry,
    LedgerUpdate,
    Levels,
    MarketInfo,
    MarketLifecycle,
    MarketSettled,
    ModelFit,
    OrderEvent,
    PortfolioState,
    Position,
    Quote,
    QuoteAction,
    QuoteTarget,
    Reconciliation,
    Score,
    SeriesInfo,
    SpotTick,
    Trade,
    VenueBalance,
    VenuePosition,
    VenueSettlement,
)
from storage import schema
from storage.types import join_codes
from supervision import SupervisionEvent

Row = tuple[Any, ...]
Money = Callable[[Any], Any]


@attrs.frozen(slots=True)
class MapContext:
    run_id: str
    money: Money  # storage.types.money_binder(dialect)
    record_all_edges: bool = False


def columns_of(table: sa.Table) -> tuple[str, ...]:
    """The columns a mapping function fills, in order (all but a surrogate autoincrement id)."""
    return tuple(c.name for c in table.columns if not (c.name == "id" and c.primary_key))


def levels_text(levels: Levels) -> str:
    """``((price, count), ...)`` -> ``"0.4500:120.00,0.4400:35.00"`` (best first)."""
    return ",".join(f"{p}:{c}" for p, c in levels)


def traceback_digest(tb: str | None) -> str | None:
    return hashlib.sha1(tb.encode("utf-8", "replace")).hexdigest()[:12] if tb else None


# ----------------------------------------------------------------------------- ingestion


def spot_tick_row(m: SpotTick, cx: MapContext) -> Row:
    return (m.source, m.ts, m.price, m.bid, m.ask, m.avg_60s, m.recv_ts, cx.run_id)


def index_row(m: IndexUpdate, cx: MapContext) -> Row:
    return (
        cx.run_id, m.ts, m.price, m.n_sources, join_codes(m.sources), m.stale, m.avg_60s,
        m.sigma, m.sigma_source, m.sigma_reason,
    )  # fmt: skip


def series_row(m: SeriesInfo, cx: MapContext) -> Row:
    return (m.ticker, m.title, m.frequency, m.fee_type, cx.money(m.fee_multiplier), m.updated_ts)


def event_row(m: EventInfo, cx: MapContext) -> Row:
    return (
        m.event_ticker, m.series_ticker, m.title, m.strike_ts, m.fee_type_override,
        cx.money(m.fee_multiplier_override), m.updated_ts,
    )  # fmt: skip


def market_row(m: MarketInfo, cx: MapContext) -> Row:
    money = cx.money
    return (
        m.ticker, m.event_ticker, m.series_ticker, m.status, m.strike_type, m.floor_strike,
        m.cap_strike, m.open_ts, m.close_ts, m.expected_expiration_ts, m.latest_expiration_ts,
        m.settlement_timer_s, m.result, money(m.settlement_value), m.expiration_value,
        m.price_level_structure, money(m.tick_size), m.fee_type, money(m.fee_multiplier),
        m.title, m.yes_sub_title, m.exchange_index, m.updated_ts,
    )  # fmt: skip


def lifecycle_row(m: MarketLifecycle, cx: MapContext) -> Row:
    return (
        m.ticker, m.ts, m.event_type, m.open_ts, m.close_ts, m.result, cx.money(m.settlement_value),
        m.determination_ts, m.settled_ts, m.strike_type, m.floor_strike, m.cap_strike,
        m.event_ticker, m.price_level_structure, m.recv_ts, cx.run_id,
    )  # fmt: skip


def quote_row(m: Quote, cx: MapContext) -> Row:
    money = cx.money
    return (
        m.ts, m.ticker, m.source, money(m.yes_bid), money(m.yes_ask), money(m.no_bid),
        money(m.no_ask), money(m.yes_bid_size), money(m.yes_ask_size), money(m.last_price),
        money(m.volume), money(m.open_interest), m.stale, m.recv_ts, cx.run_id,
    )  # fmt: skip


def book_row(m: BookSnapshot, cx: MapContext) -> Row:
    return (m.ts, m.ticker, m.seq, levels_text(m.yes_bids), levels_text(m.no_bids), m.recv_ts, cx.run_id)


def trade_row(m: Trade, cx: MapContext) -> Row:
    return (
        m.trade_id, m.ts, m.ticker, cx.money(m.yes_price), cx.money(m.count), m.taker_side,
        m.recv_ts, cx.run_id,
    )  # fmt: skip


def settlement_row(m: MarketSettled, cx: MapContext) -> Row:
    return (m.ticker, m.ts, m.result, cx.money(m.settlement_value), m.source, m.final, cx.run_id)


def event_fee_row(m: EventFeeUpdate, cx: MapContext) -> Row:
    return (m.event_ticker, m.ts, m.fee_type_override, cx.money(m.fee_multiplier_override), m.recv_ts, cx.run_id)


def feed_row(m: FeedStatus, cx: MapContext) -> Row:
    return (cx.run_id, m.ts, m.feed, m.status, m.detail)


# ----------------------------------------------------------------------------- model & decisions


def _edge_inputs(e: Edge, money: Money) -> Row:
    """The columns ``schema._EDGE_INPUTS`` names, in that order (shared by edges and decisions)."""
    return (
        e.event_ticker, e.series_ticker, e.strike_type, e.floor_strike, e.cap_strike, e.close_ts,
        e.spot, e.spot_avg_60s, e.sigma, e.sigma_source, e.horizon_s,
        money(e.yes_bid), money(e.yes_ask), money(e.no_bid), money(e.no_ask),
        money(e.yes_ask_size), money(e.no_ask_size),
        e.market_mid, e.ev_yes, e.ev_no, e.fee_yes, e.fee_no, e.implied_sigma,
        e.quote_ts, e.index_ts, e.model_version,
    )  # fmt: skip


def _edge_model(e: Edge) -> Row:
    """The columns ``schema._EDGE_MODEL`` names, in that order (shared by edges and decisions)."""
    return (
        e.prob_model, e.model_name or None, e.blend_id, e.model_slope, e.sig_momentum,
        e.sig_mean_reversion, e.sig_funding, e.sig_imbalance, e.vol_regime,
    )  # fmt: skip


def edge_row(m: Edge, cx: MapContext) -> Row | None:
    if not (m.snapshot or cx.record_all_edges):
        return None  # not a snapshot: skipped by policy (StorageConfig.record_edges)
    money = cx.money
    reasons = m.reasons
    # the hot path: one flat tuple (the middle is _edge_inputs, spelled out to save a copy)
    return (
        cx.run_id, m.ts, m.ticker, m.prob_yes,
        m.event_ticker, m.series_ticker, m.strike_type, m.floor_strike, m.cap_strike, m.close_ts,
        m.spot, m.spot_avg_60s, m.sigma, m.sigma_source, m.horizon_s,
        money(m.yes_bid), money(m.yes_ask), money(m.no_bid), money(m.no_ask),
        money(m.yes_ask_size), money(m.no_ask_size),
        m.market_mid, m.ev_yes, m.ev_no, m.fee_yes, m.fee_no, m.implied_sigma,
        m.quote_ts, m.index_ts, m.model_version,
        join_codes(reasons) if reasons else "",
        m.prob_model, m.model_name or None, m.blend_id, m.model_slope, m.sig_momentum,
        m.sig_mean_reversion, m.sig_funding, m.sig_imbalance, m.vol_regime,
    )  # fmt: skip


def decision_row(m: Decision, cx: MapContext) -> Row:
    money = cx.money
    e = m.edge
    return (
        m.decision_id, cx.run_id, m.ts, m.ticker, m.action, m.side, money(m.count),
        money(m.limit_price), m.prob_yes, m.ev, money(m.fee), join_codes(m.reasons),
        m.kelly_fraction, money(m.exposure), money(m.daily_pnl), money(m.balance),
        m.config_digest, e.ts, join_codes(e.reasons), *_edge_inputs(e, money), *_edge_model(e),
    )  # fmt: skip


def decision_reason_rows(m: Decision, cx: MapContext) -> list[Row]:
    return [(m.decision_id, r) for r in dict.fromkeys(m.reasons)]  # a reason once per decision


# ----------------------------------------------------------------------------- trading


def order_row(m: OrderEvent, cx: MapContext) -> Row:
    money = cx.money
    return (
        m.order_id, m.client_order_id, m.decision_id, cx.run_id, m.mode, m.ticker, m.side,
        m.action, money(m.count), money(m.price), m.status, money(m.filled_count), m.reason,
        m.ts, m.ts,
    )  # fmt: skip


def order_event_row(m: OrderEvent, cx: MapContext) -> Row:
    return (m.order_id, cx.run_id, m.ts, m.status, cx.money(m.filled_count), m.reason)


def fill_row(m: Fill, cx: MapContext) -> Row:
    money = cx.money
    return (
        m.fill_id, m.order_id, m.decision_id, cx.run_id, m.mode, m.ts, m.ticker, m.side,
        m.action, money(m.count), money(m.price), money(m.fee), m.is_taker,
    )  # fmt: skip


def position_row(m: Position, cx: MapContext) -> Row:
    money = cx.money
    return (
        cx.run_id, m.mode, m.ticker, m.ts, m.side, money(m.count), money(m.avg_price),
        money(m.cost), money(m.fees), money(m.realized_pnl), money(m.unrealized_pnl),
        money(m.mark_price), m.status, m.opened_ts, m.closed_ts, m.result,
    )  # fmt: skip


def ledger_row(m: LedgerEntry, cx: MapContext) -> Row:
    return (
        cx.run_id, m.entry_id, m.ts, m.mode, m.ticker, m.kind, cx.money(m.amount), m.ref, m.note,
        m.kind in CASH_KINDS,
    )  # fmt: skip


def ledger_update_entry_rows(m: LedgerUpdate, cx: MapContext) -> list[Row]:
    return [ledger_row(e, cx) for e in m.entries]


def ledger_update_position_rows(m: LedgerUpdate, cx: MapContext) -> list[Row]:
    return [] if m.position is None else [position_row(m.position, cx)]


def abandoned_row(m: DecisionAbandoned, cx: MapContext) -> Row:
    return (m.decision_id, cx.run_id, m.ts, m.ticker, m.mode, m.reason)


def portfolio_row(m: PortfolioState, cx: MapContext) -> Row:
    money = cx.money
    by_ticker = ",".join(f"{t}:{Decimal(v)}" for t, v in m.exposure_by_ticker)
    return (
        cx.run_id, m.ts, m.mode, money(m.balance), money(m.exposure), money(m.daily_realized_pnl),
        sum(n for _, n in m.open_orders), by_ticker, money(m.equity), money(m.unrealized_pnl),
        m.open_positions,
    )  # fmt: skip


def venue_balance_row(m: VenueBalance, cx: MapContext) -> Row:
    by_index = ",".join(f"{i}:{Decimal(v)}" for i, v in m.by_exchange_index)
    return (cx.run_id, m.ts, cx.money(m.balance), cx.money(m.portfolio_value), by_index)


def venue_position_row(m: VenuePosition, cx: MapContext) -> Row:
    money = cx.money
    return (
        cx.run_id, m.ts, m.ticker, m.source, money(m.position), money(m.market_exposure),
        money(m.realized_pnl), money(m.fees_paid), money(m.total_traded),
    )  # fmt: skip


def venue_settlement_row(m: VenueSettlement, cx: MapContext) -> Row:
    money = cx.money
    return (
        cx.run_id, m.ticker, m.ts, m.event_ticker, m.result, money(m.yes_count), money(m.no_count),
        money(m.yes_cost), money(m.no_cost), money(m.revenue), money(m.fee), money(m.value),
    )  # fmt: skip


def reconciliation_row(m: Reconciliation, cx: MapContext) -> Row:
    return (cx.run_id, m.ts, m.mode, m.kind, m.ticker or "", m.status, m.ledger, m.venue, m.detail)


def maker_quote_row(m: QuoteTarget, cx: MapContext) -> Row:
    money = cx.money
    return (
        cx.run_id, m.ts, m.ticker, m.series_ticker, money(m.yes_bid), money(m.no_bid), money(m.size), m.fair,
        m.reservation, m.half_spread, money(m.inventory), m.time_to_close_s, money(m.best_yes_bid),
        money(m.best_yes_ask), join_codes(m.reasons)[:255], join_codes(m.yes_reasons)[:255],
        join_codes(m.no_reasons)[:255],
    )  # fmt: skip


def maker_action_row(m: QuoteAction, cx: MapContext) -> Row:
    money = cx.money
    return (
        cx.run_id, m.ts, m.mode, m.ticker, m.side, m.action, m.client_order_id or "", money(m.price),
        money(m.prev_price), money(m.count), m.reason[:255], m.fair,
    )  # fmt: skip


# ----------------------------------------------------------------------------- evaluation & ops


def score_row(m: Score, cx: MapContext) -> Row:
    return (
        m.edge_id, m.ts, m.ticker, m.series_ticker, m.horizon_s, m.outcome, m.prob_yes,
        m.market_prob, m.brier, m.log_loss, m.market_brier, m.market_log_loss, m.pnl_yes, m.pnl_no,
        m.prob_model, m.model_brier, m.model_log_loss, m.take_side, m.take_pnl,
    )  # fmt: skip


def funding_row(m: FundingRate, cx: MapContext) -> Row:
    return (
        m.source, m.ts, m.symbol, m.mark_price, m.index_price, m.funding_rate, m.next_funding_ts,
        m.recv_ts, cx.run_id,
    )  # fmt: skip


def model_fit_row(m: ModelFit, cx: MapContext) -> Row:
    return (
        m.fit_id, cx.run_id, m.ts, m.model_name, m.window_start, m.window_end, m.n_rows, m.n_events,
        m.params,
    )  # fmt: skip


def supervision_row(m: SupervisionEvent, cx: MapContext) -> Row:
    return (
        cx.run_id, m.ts, m.supervisor, m.child or "", m.kind, m.reason, m.traceback,
        traceback_digest(m.traceback), m.attempt, m.delay_s,
    )  # fmt: skip


def health_row(m: HealthSnapshot, cx: MapContext) -> Row:
    return (
        cx.run_id, m.ts, m.actor, m.inbox_depth, m.inbox_peak, m.msgs_in, m.msgs_out,
        m.last_msg_age_s, m.restarts, m.errors, m.state,
    )  # fmt: skip


def latency_row(m: LatencySample, cx: MapContext) -> Row:
    return (cx.run_id, m.ts, m.scope, m.interval_s, m.n, m.mean_ms, m.p50_ms, m.p90_ms, m.p99_ms, m.p999_ms, m.max_ms)


def alert_row(m: Alert, cx: MapContext) -> Row:
    return (cx.run_id, m.ts, m.kind, m.severity, m.subject or "", m.message)


def bad_input_row(m: BadInput, cx: MapContext) -> Row:
    return (cx.run_id, m.ts, m.source, m.kind, m.sample)


# ----------------------------------------------------------------------------- routes


@attrs.frozen(slots=True)
class Route:
    table: str
    fn: Callable[[Any, MapContext], Any]
    many: bool = False  # fn returns a list of rows (else one row, or None to skip)


ROUTES: dict[type, tuple[Route, ...]] = {
    SpotTick: (Route("spot_ticks", spot_tick_row),),
    IndexUpdate: (Route("index_prices", index_row),),
    SeriesInfo: (Route("series", series_row),),
    EventInfo: (Route("events", event_row),),
    MarketInfo: (Route("markets", market_row),),
    MarketLifecycle: (Route("market_events", lifecycle_row),),
    Quote: (Route("quotes", quote_row),),
    BookSnapshot: (Route("book_snapshots", book_row),),
    Trade: (Route("trades", trade_row),),
    MarketSettled: (Route("settlements", settlement_row),),
    EventFeeUpdate: (Route("event_fee_updates", event_fee_row),),
    FeedStatus: (Route("feed_events", feed_row),),
    Edge: (Route("edges", edge_row),),
    Decision: (Route("decisions", decision_row), Route("decision_reasons", decision_reason_rows, many=True)),
    OrderEvent: (Route("orders", order_row), Route("order_events", order_event_row)),
    Fill: (Route("fills", fill_row),),
    Position: (Route("positions", position_row),),
    LedgerEntry: (Route("ledger_entries", ledger_row),),
    LedgerUpdate: (
        Route("ledger_entries", ledger_update_entry_rows, many=True),
        Route("positions", ledger_update_position_rows, many=True),
    ),
    DecisionAbandoned: (Route("abandoned_decisions", abandoned_row),),
    PortfolioState: (Route("portfolio_snapshots", portfolio_row),),
    VenueBalance: (Route("venue_balances", venue_balance_row),),
    VenuePosition: (Route("venue_positions", venue_position_row),),
    VenueSettlement: (Route("venue_settlements", venue_settlement_row),),
    Reconciliation: (Route("reconciliation", reconciliation_row),),
    QuoteTarget: (Route("maker_quotes", maker_quote_row),),
    QuoteAction: (Route("maker_actions", maker_action_row),),
    Score: (Route("scores", score_row),),
    FundingRate: (Route("funding_rates", funding_row),),
    ModelFit: (Route("model_fits", model_fit_row),),
    SupervisionEvent: (Route("supervision_events", supervision_row),),
    HealthSnapshot: (Route("health", health_row),),
    LatencySample: (Route("latency", latency_row),),
    Alert: (Route("alerts", alert_row),),
    BadInput: (Route("bad_inputs", bad_input_row),),
}

TABLES: dict[str, sa.Table] = dict(schema.metadata.tables)
# Order in which a batch writes its tables: parents before children (foreign keys).
TABLE_ORDER: tuple[str, ...] = tuple(t.name for t in schema.metadata.sorted_tables)
