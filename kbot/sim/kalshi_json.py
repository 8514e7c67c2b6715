"""Kalshi's JSON shapes, built from the simulated exchange's state (pure).

One function per object of the published schemas (OpenAPI 3.31.0 components ``Market``,
``EventData``, ``Series``, ``Order``, ``Fill``, ``MarketPosition``, ``Settlement``, ``Trade``;
AsyncAPI 2.0.0 message payloads). ``tests/sim/test_conformance.py`` validates their output
against the published schemas.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kbot.sim import calendar as cal
from kbot.sim.accounts import Account, Position, SettlementRecord, u6_to_decimal
from kbot.sim.book import ASK, BID, Order
from kbot.sim.events import FillEvent, IndexTick
from kbot.sim.exchange import Exchange, TradeRecord
from kbot.sim.lifecycle import PRICE_LEVEL_STRUCTURE, PRICE_RANGES
from kbot.sim.market import SimEvent, SimMarket
from kbot.sim.wire import count_str, dollars, iso, ms, price_str

ZERO4 = "0.0000"


# ---------------------------------------------------------------------------- reference data
def market(ex: Exchange, m: SimMarket) -> dict[str, Any]:
    engine = ex.engines.get(m.ticker)
    bid = engine.book.best_bid() if engine else None
    ask = engine.book.best_ask() if engine else None
    bid_size = engine.book.size_at(BID, bid) if engine and bid is not None else 0
    ask_size = engine.book.size_at(ASK, ask) if engine and ask is not None else 0
    yes_bid = bid or 0
    yes_ask = ask if ask is not None else 10_000
    out: dict[str, Any] = {
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "market_type": "binary",
        "title": m.texts.title,
        "subtitle": m.texts.subtitle,
        "yes_sub_title": m.texts.yes_sub_title,
        "no_sub_title": m.texts.no_sub_title,
        "created_time": iso(m.created_ts),
        "updated_time": iso(m.updated_ts),
        "open_time": iso(m.open_ts),
        "close_time": iso(m.close_ts),
        "expected_expiration_time": iso(m.expected_expiration_ts),
        "expiration_time": iso(m.latest_expiration_ts),
        "latest_expiration_time": iso(m.latest_expiration_ts),
        "settlement_timer_seconds": m.settlement_timer_s,
        "status": m.status,
        "notional_value_dollars": "1.0000",
        "yes_bid_dollars": price_str(yes_bid),
        "yes_ask_dollars": price_str(yes_ask),
        "no_bid_dollars": price_str(10_000 - yes_ask),
        "no_ask_dollars": price_str(10_000 - yes_bid),
        "yes_bid_size_fp": count_str(bid_size),
        "yes_ask_size_fp": count_str(ask_size),
        "last_price_dollars": price_str(m.last_price or 0),
        "previous_yes_bid_dollars": ZERO4,
        "previous_yes_ask_dollars": ZERO4,
        "previous_price_dollars": ZERO4,
        "volume_fp": count_str(m.volume),
        "volume_24h_fp": count_str(m.volume),
        "open_interest_fp": count_str(m.open_interest),
        "liquidity_dollars": ZERO4,
        "result": m.result,
        "can_close_early": True,
        "expiration_value": m.expiration_value,
        "rules_primary": m.texts.rules_primary,
        "rules_secondary": cal.RULES_SECONDARY,
        "price_level_structure": PRICE_LEVEL_STRUCTURE,
        "price_ranges": PRICE_RANGES,
        "settlement_bounds_type": "default",
        "strike_type": m.strike.strike_type,
        "floor_strike": m.strike.floor,
        "exchange_index": m.exchange_index,
    }
    if m.strike.cap is not None:
        out["cap_strike"] = m.strike.cap
    if m.settlement_value_p4 is not None:
        out["settlement_value_dollars"] = price_str(m.settlement_value_p4)
    if m.settled_ts is not None:
        out["settlement_ts"] = iso(m.settled_ts)
    return out


def event(ex: Exchange, ev: SimEvent, *, nested: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_ticker": ev.event_ticker,
        "series_ticker": ev.series_ticker,
        "sub_title": ev.sub_title,
        "title": ev.title,
        "collateral_return_type": ev.collateral_return_type,
        "mutually_exclusive": ev.mutually_exclusive,
        "available_on_brokers": False,
        "strike_date": iso(ev.close_ts),
        "settlement_sources": cal.SETTLEMENT_SOURCES,
        "product_metadata": {"cadence": cal.SERIES_SPECS[ev.series_ticker].cadence},
        "last_updated_ts": iso(ev.created_ts),
        "exchange_index": ev.exchange_index,
    }
    if nested:
        out["markets"] = [market(ex, ex.markets[t]) for t in ev.markets if t in ex.markets]
    return out


def series(spec: cal.SeriesSpec, exchange_index: int, *, volume_c2: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ticker": spec.ticker,
        "frequency": spec.frequency,
        "title": spec.title,
        "category": "Crypto",
        "categories": ["Crypto"],
        "tags": ["BTC"],
        "settlement_sources": cal.SETTLEMENT_SOURCES,
        "contract_url": "https://kalshi.com/docs/contracts/BTC.pdf",
        "contract_terms_url": "https://assets.kalshi.com/contract_terms/BTC.pdf",
        "fee_type": spec.fee_type,
        "fee_multiplier": spec.fee_multiplier,
        "additional_prohibitions": [],
        "product_metadata": {"cadence": spec.cadence},
        "exchange_index": exchange_index,
    }
    if volume_c2 is not None:
        out["volume_fp"] = count_str(volume_c2)
    return out


# ---------------------------------------------------------------------------- books and trades
def _no_levels(asks: list[tuple[int, int]], use_yes_price: bool) -> list[list[str]]:
    """NO bids = YES asks: at NO-leg price 1-p (default), or at the YES price p."""
    if use_yes_price:
        return [[price_str(p), count_str(c)] for p, c in asks]
    return [[price_str(10_000 - p), count_str(c)] for p, c in reversed(asks)]


def orderbook(ex: Exchange, ticker: str, depth: int = 0) -> dict[str, Any]:
    bids, asks = ex.book_levels(ticker)
    yes = [[price_str(p), count_str(c)] for p, c in bids]
    no = _no_levels(asks, False)
    if depth > 0:
        yes, no = yes[-depth:], no[-depth:]
    return {"yes_dollars": yes, "no_dollars": no}


def ws_snapshot_levels(ex: Exchange, ticker: str, use_yes_price: bool) -> dict[str, Any]:
    """Snapshot sides; an empty side is omitted (WS), both ascending by the price shown."""
    bids, asks = ex.book_levels(ticker)
    out: dict[str, Any] = {}
    if bids:
        out["yes_dollars_fp"] = [[price_str(p), count_str(c)] for p, c in bids]
    if asks:
        out["no_dollars_fp"] = _no_levels(asks, use_yes_price)
    return out


def _trade_common(t: TradeRecord) -> dict[str, Any]:
    taker_outcome = "yes" if t.taker_side == BID else "no"
    return {
        "trade_id": t.trade_id,
        "count_fp": count_str(t.count),
        "yes_price_dollars": price_str(t.price),
        "no_price_dollars": price_str(10_000 - t.price),
        "taker_side": taker_outcome,
        "taker_outcome_side": taker_outcome,
        "taker_book_side": t.taker_side,
        "is_block_trade": False,
    }


def trade(t: TradeRecord) -> dict[str, Any]:
    return {"ticker": t.ticker, **_trade_common(t), "created_time": iso(t.ts)}


# ---------------------------------------------------------------------------- portfolio
def _order_common(o: Order) -> dict[str, Any]:
    """Fields the REST ``Order`` and the WS ``user_order`` share."""
    return {
        "order_id": o.order_id,
        "user_id": o.user_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "side": o.outcome_side,
        "outcome_side": o.outcome_side,
        "book_side": o.side,
        "status": o.status,
        "yes_price_dollars": price_str(o.price),
        "fill_count_fp": count_str(o.filled),
        "remaining_count_fp": count_str(o.remaining),
        "initial_count_fp": count_str(o.initial),
        "taker_fill_cost_dollars": dollars(u6_to_decimal(o.taker_cost_u6), 6),
        "maker_fill_cost_dollars": dollars(u6_to_decimal(o.maker_cost_u6), 6),
        "taker_fees_dollars": dollars(o.taker_fees, 6),
        "maker_fees_dollars": dollars(o.maker_fees, 6),
        "self_trade_prevention_type": o.stp,
        "created_time": iso(o.created_ts),
        "last_update_time": iso(o.updated_ts),
    }


def order(o: Order) -> dict[str, Any]:
    return {
        **_order_common(o),
        "action": "buy",
        "type": "limit",
        "no_price_dollars": price_str(10_000 - o.price),
        "expiration_time": iso(o.expiration_ts) if o.expiration_ts is not None else None,
        "order_group_id": o.order_group_id,
        "cancel_order_on_pause": o.cancel_order_on_pause,
        "subaccount_number": o.subaccount,
        "exchange_index": o.exchange_index,
    }


def fill(f: FillEvent) -> dict[str, Any]:
    outcome = "yes" if f.side == BID else "no"
    return {
        "fill_id": f.fill_id,
        "exchange_index": f.exchange_index,
        "trade_id": f.trade_id,
        "order_id": f.order.order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "side": outcome,
        "action": "buy",
        "outcome_side": outcome,
        "book_side": f.side,
        "count_fp": count_str(f.count),
        "yes_price_dollars": price_str(f.price),
        "no_price_dollars": price_str(10_000 - f.price),
        "is_taker": f.is_taker,
        "created_time": iso(f.ts),
        "fee_cost": dollars(f.fee, 6),
        "subaccount_number": f.order.subaccount,
        "ts": int(f.ts),
    }


def market_position(p: Position) -> dict[str, Any]:
    return {
        "ticker": p.ticker,
        "exchange_index": p.exchange_index,
        "total_traded_dollars": dollars(u6_to_decimal(p.total_traded_u6), 6),
        "position_fp": count_str(p.position),
        "market_exposure_dollars": dollars(u6_to_decimal(p.cost_u6), 6),
        "realized_pnl_dollars": dollars(p.realized_pnl, 6),
        "fees_paid_dollars": dollars(p.fees_paid, 6),
        "last_updated_ts": iso(p.last_updated_ts),
    }


def event_positions(positions: list[Position]) -> list[dict[str, Any]]:
    by_event: dict[str, list[Position]] = {}
    for p in positions:
        by_event.setdefault(p.event_ticker, []).append(p)
    out = []
    for ev, ps in sorted(by_event.items()):
        cost = sum((u6_to_decimal(p.cost_u6) for p in ps), Decimal(0))
        out.append(
            {
                "event_ticker": ev,
                "total_cost_dollars": dollars(sum((u6_to_decimal(p.total_traded_u6) for p in ps), Decimal(0)), 6),
                "total_cost_shares_fp": count_str(sum(p.volume for p in ps)),
                "event_exposure_dollars": dollars(cost, 6),
                "realized_pnl_dollars": dollars(sum((p.realized_pnl for p in ps), Decimal(0)), 6),
                "fees_paid_dollars": dollars(sum((p.fees_paid for p in ps), Decimal(0)), 6),
            }
        )
    return out


def settlement(s: SettlementRecord) -> dict[str, Any]:
    return {
        "ticker": s.ticker,
        "exchange_index": s.exchange_index,
        "event_ticker": s.event_ticker,
        "market_result": s.market_result,
        "yes_count_fp": count_str(s.yes_count),
        "yes_total_cost_dollars": dollars(u6_to_decimal(s.yes_cost_u6), 6),
        "no_count_fp": count_str(s.no_count),
        "no_total_cost_dollars": dollars(u6_to_decimal(s.no_cost_u6), 6),
        "revenue": s.revenue_cents,
        "settled_time": iso(s.settled_ts),
        "fee_cost": dollars(s.fee_cost),
        "value": s.value_cents,
    }


def balance(ex: Exchange, acct: Account, exchange_index: int | None) -> dict[str, Any]:
    bal = acct.balance(exchange_index)
    value = Decimal(0)
    for p in acct.positions.values():
        if p.position == 0 or (exchange_index is not None and p.exchange_index != exchange_index):
            continue
        engine = ex.engines.get(p.ticker)
        if engine is None:
            continue
        best = engine.book.best_bid() if p.position > 0 else engine.book.best_ask()
        if best is None:
            continue
        unit = best if p.position > 0 else 10_000 - best
        value += u6_to_decimal(abs(p.position) * unit)
    out: dict[str, Any] = {
        "balance": int((bal * 100).to_integral_value(rounding="ROUND_FLOOR")),
        "balance_dollars": dollars(bal),
        "portfolio_value": int((value * 100).to_integral_value(rounding="ROUND_FLOOR")),
        "updated_ts": int(acct.updated_ts),
        "balance_breakdown": [
            {"exchange_index": shard, "balance": dollars(b)} for shard, b in sorted(acct.balances.items())
        ],
    }
    return out


def create_response(o: Order, fills: tuple[FillEvent, ...], now: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": o.order_id,
        "client_order_id": o.client_order_id,
        "fill_count": count_str(sum(f.count for f in fills)),
        "remaining_count": count_str(o.remaining),
        "ts_ms": ms(now),
    }
    out.update(fill_averages(fills))
    return out


def fill_averages(fills: tuple[FillEvent, ...]) -> dict[str, str]:
    total = sum(f.count for f in fills)
    if not total:
        return {}
    vwap = Decimal(sum(f.price * f.count for f in fills)) / Decimal(total) / 10_000
    fee = sum((f.fee for f in fills), Decimal(0)) / (Decimal(total) / 100)
    return {"average_fill_price": dollars(vwap), "average_fee_paid": dollars(fee, 6)}


# ---------------------------------------------------------------------------- WS message bodies
def ws_ticker(ex: Exchange, m: SimMarket, ts: float) -> dict[str, Any]:
    last, bid, ask, bid_size, ask_size, volume, oi = ex.ticker_state(m)
    last_trade = ex.trades[-1].count if ex.trades and ex.trades[-1].ticker == m.ticker else 0
    return {
        "market_id": m.market_id,
        "market_ticker": m.ticker,
        "price_dollars": price_str(last or 0),
        "yes_bid_dollars": price_str(bid or 0),
        "yes_ask_dollars": price_str(ask if ask is not None else 10_000),
        "volume_fp": count_str(volume),
        "open_interest_fp": count_str(oi),
        "dollar_volume": int(volume // 100),
        "dollar_open_interest": int(oi // 100),
        "yes_bid_size_fp": count_str(bid_size),
        "yes_ask_size_fp": count_str(ask_size),
        "last_trade_size_fp": count_str(last_trade),
        "ts": int(ts),
        "ts_ms": ms(ts),
        "time": iso(int(ts)),
    }


def ws_trade(t: TradeRecord) -> dict[str, Any]:
    return {"market_ticker": t.ticker, **_trade_common(t), "ts": int(t.ts), "ts_ms": ms(t.ts)}


def ws_fill(f: FillEvent) -> dict[str, Any]:
    outcome = "yes" if f.side == BID else "no"
    out = {
        "trade_id": f.trade_id,
        "order_id": f.order.order_id,
        "market_ticker": f.ticker,
        "exchange_index": f.exchange_index,
        "is_taker": f.is_taker,
        "side": outcome,
        "yes_price_dollars": price_str(f.price),
        "count_fp": count_str(f.count),
        "fee_cost": dollars(f.fee, 6),
        "action": "buy",
        "ts": int(f.ts),
        "ts_ms": ms(f.ts),
        "post_position_fp": count_str(f.post_position),
        "purchased_side": outcome,
        "outcome_side": outcome,
        "book_side": f.side,
        "subaccount": f.order.subaccount,
    }
    if f.order.client_order_id:
        out["client_order_id"] = f.order.client_order_id
    return out


def ws_user_order(o: Order, reason: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        **_order_common(o),
        "exchange_index": o.exchange_index,
        "is_yes": o.side == BID,
        "created_ts_ms": ms(o.created_ts),
        "last_updated_ts_ms": ms(o.updated_ts),
        "subaccount_number": o.subaccount,
    }
    if o.order_group_id:
        out["order_group_id"] = o.order_group_id
    if o.expiration_ts is not None:
        out["expiration_time"] = iso(o.expiration_ts)
        out["expiration_ts_ms"] = o.expiration_ts * 1000
    if reason:
        out["last_update_reason"] = reason
    return out


def ws_market_position(user_id: str, p: Position) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "market_ticker": p.ticker,
        "position_fp": count_str(p.position),
        "position_cost_dollars": dollars(u6_to_decimal(p.cost_u6)),
        "realized_pnl_dollars": dollars(p.realized_pnl),
        "fees_paid_dollars": dollars(p.fees_paid),
        "position_fee_cost_dollars": dollars(p.fees_paid),
        "volume_fp": count_str(p.volume),
    }


def ws_cfbenchmarks(tick: IndexTick) -> dict[str, Any]:
    value = f"{tick.cents / 100:.2f}"
    t_ms = tick.second * 1000
    data = f'{{"type":"value","id":"BRTI","time":{t_ms},"value":"{value}"}}'
    avg, size, start, end = tick.avg_60s
    out: dict[str, Any] = {
        "index_id": "BRTI",
        "received_at": tick.received_at_ms,
        "data": data,
        "avg_60s_data": {"value": avg, "window_size": size, "window_start_ts_ms": start, "window_end_ts_exclusive": end},
    }
    if tick.avg_15min is not None:
        avg, size, start, end = tick.avg_15min
        out["last_60s_windowed_average_15min"] = {
            "value": avg,
            "window_size": size,
            "window_start_ts_ms": start,
            "window_end_ts_exclusive": end,
        }
    return out


def ws_cfbenchmarks_5hz(tick: IndexTick) -> dict[str, Any]:
    value = f"{tick.cents / 100:.2f}"
    t_ms = tick.second * 1000
    return {
        "index_id": "BRTI",
        "value_usd": f"{tick.cents / 100:.8f}",
        "source_ts_ms": t_ms,
        "received_at": tick.received_at_ms,
        "data": f'{{"type":"value","id":"BRTI","time":{t_ms},"value":"{value}"}}',
    }
