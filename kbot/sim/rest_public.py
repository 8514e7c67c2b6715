"""Kalshi public market-data endpoints of the sim (no signature needed, as on Kalshi).

``/exchange/status``, ``/series``, ``/series/{s}``, ``/events``, ``/events/{e}``, ``/markets``,
``/markets/{t}``, ``/markets/{t}/orderbook``, ``/markets/orderbooks``, ``/markets/trades``.
Query validation follows Kalshi: ``status`` takes exactly one of the *filter* values
(``status=active`` is a 400), timestamp filters only combine with the statuses Kalshi allows,
``limit`` ranges per endpoint, opaque cursors (empty on the last page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kbot.sim import calendar as cal
from kbot.sim import kalshi_json as kj
from kbot.sim.http_util import ApiError, Query, page
from kbot.sim.market import STATUS_FILTERS

if TYPE_CHECKING:
    from kbot.sim.venue import SimVenue

MARKET_STATUSES = tuple(STATUS_FILTERS)
EVENT_STATUSES = ("unopened", "open", "closed", "settled")


def exchange_status(venue: SimVenue, q: Query) -> dict[str, Any]:
    shards = sorted({0, venue.config.exchange_index})
    return {
        "exchange_active": True,
        "trading_active": True,
        "intra_exchange_transfers_active": True,
        "exchange_index_statuses": [
            {
                "exchange_index": s,
                "description": "crypto" if s == venue.config.exchange_index else "default",
                "exchange_active": True,
                "trading_active": True,
                "intra_exchange_transfers_active": True,
            }
            for s in shards
        ],
    }


def series_list(venue: SimVenue, q: Query) -> dict[str, Any]:
    category = q.str("category")
    out = []
    for name in venue.config.series:
        if category and category.lower() != "crypto":
            continue
        out.append(kj.series(cal.SERIES_SPECS[name], venue.config.exchange_index))
    return {"series": out}


def series_one(venue: SimVenue, q: Query, series_ticker: str) -> dict[str, Any]:
    if series_ticker not in venue.config.series:
        raise ApiError(404, "not_found", f"series {series_ticker!r} not found")
    volume = None
    if q.bool("include_volume"):
        volume = sum(m.volume for m in venue.exchange.markets.values() if m.series_ticker == series_ticker)
    return {"series": kj.series(cal.SERIES_SPECS[series_ticker], venue.config.exchange_index, volume_c2=volume)}


def _check_ts_filters(q: Query, status: str | None) -> dict[str, int | None]:
    names = ("min_created_ts", "max_created_ts", "min_updated_ts", "max_updated_ts", "min_close_ts", "max_close_ts", "min_settled_ts", "max_settled_ts")
    got = {n: q.int(n, lo=0) for n in names}
    groups = {
        "created": ("unopened", "open"),
        "close": ("closed",),
        "settled": ("settled",),
    }
    used = {g for g in ("created", "updated", "close", "settled") if got[f"min_{g}_ts"] is not None or got[f"max_{g}_ts"] is not None}
    if len(used) > 1:
        raise ApiError(400, "invalid_parameters", "timestamp filters of different kinds cannot be combined")
    for g in used:
        if g == "updated":
            if status is not None:
                raise ApiError(400, "invalid_parameters", "min/max_updated_ts cannot be combined with a status filter")
        elif status is not None and status not in groups[g]:
            raise ApiError(400, "invalid_parameters", f"min/max_{g}_ts cannot be combined with status={status}")
    return got


def _in(lo: int | None, hi: int | None, value: float | None) -> bool:
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def markets(venue: SimVenue, q: Query) -> dict[str, Any]:
    status = q.one_of("status", MARKET_STATUSES)
    limit = q.int("limit", lo=0, hi=1000, default=100) or 100
    ts = _check_ts_filters(q, status)
    if q.str("mve_filter") not in (None, "only", "exclude"):
        raise ApiError(400, "invalid_parameters", "mve_filter must be only or exclude")
    if q.str("mve_filter") == "only":
        return {"markets": [], "cursor": ""}
    ex = venue.exchange
    series_ticker = q.str("series_ticker")
    event_ticker = q.str("event_ticker")
    if event_ticker and "," in event_ticker:
        raise ApiError(400, "invalid_parameters", "event_ticker takes a single event ticker")
    tickers = set(q.csv("tickers"))
    selected = []
    for m in ex.markets.values():
        if series_ticker and m.series_ticker != series_ticker:
            continue
        if event_ticker and m.event_ticker != event_ticker:
            continue
        if tickers and m.ticker not in tickers:
            continue
        if status and m.status not in STATUS_FILTERS[status]:
            continue
        if not (
            _in(ts["min_created_ts"], ts["max_created_ts"], m.created_ts)
            and _in(ts["min_updated_ts"], ts["max_updated_ts"], m.updated_ts)
            and _in(ts["min_close_ts"], ts["max_close_ts"], m.close_ts)
            and _in(ts["min_settled_ts"], ts["max_settled_ts"], m.settled_ts)
        ):
            continue
        selected.append(m)
    selected.sort(key=lambda m: (m.close_ts, m.ticker))
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {"markets": [kj.market(ex, m) for m in chunk], "cursor": cursor}


def market_one(venue: SimVenue, q: Query, ticker: str) -> dict[str, Any]:
    m = venue.exchange.markets.get(ticker)
    if m is None:
        raise ApiError(404, "not_found", f"market {ticker!r} not found")
    return {"market": kj.market(venue.exchange, m)}


def orderbook(venue: SimVenue, q: Query, ticker: str) -> dict[str, Any]:
    depth = q.int("depth", lo=0, hi=100, default=0) or 0
    if ticker not in venue.exchange.markets:
        raise ApiError(404, "not_found", f"market {ticker!r} not found")
    return {"orderbook_fp": kj.orderbook(venue.exchange, ticker, depth)}


def orderbooks(venue: SimVenue, q: Query) -> dict[str, Any]:
    tickers = q.all("tickers") or q.csv("tickers")
    if not 1 <= len(tickers) <= 100:
        raise ApiError(400, "invalid_parameters", "tickers: between 1 and 100 market tickers are required")
    out = []
    for t in tickers:
        if len(t) > 200:
            raise ApiError(400, "invalid_parameters", "a ticker is longer than 200 characters")
        if t in venue.exchange.markets:
            out.append({"ticker": t, "orderbook_fp": kj.orderbook(venue.exchange, t)})
    return {"orderbooks": out}


def trades(venue: SimVenue, q: Query) -> dict[str, Any]:
    limit = q.int("limit", lo=0, hi=1000, default=100) or 100
    ticker = q.str("ticker")
    lo, hi = q.int("min_ts", lo=0), q.int("max_ts", lo=0)
    if q.bool("is_block_trade", False):
        return {"trades": [], "cursor": ""}
    selected = [
        t
        for t in reversed(venue.exchange.trades)
        if (ticker is None or t.ticker == ticker) and _in(lo, hi, t.ts)
    ]
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {"trades": [kj.trade(t) for t in chunk], "cursor": cursor}


def events(venue: SimVenue, q: Query) -> dict[str, Any]:
    status = q.one_of("status", EVENT_STATUSES)
    limit = q.int("limit", lo=1, hi=200, default=200) or 200
    nested = q.bool("with_nested_markets")
    series_ticker = q.str("series_ticker")
    wanted = set(q.csv("tickers"))
    min_close = q.int("min_close_ts", lo=0)
    ex = venue.exchange
    selected = []
    for ev in ex.events.values():
        if series_ticker and ev.series_ticker != series_ticker:
            continue
        if wanted and ev.event_ticker not in wanted:
            continue
        if min_close is not None and ev.close_ts < min_close:
            continue
        if status and not any(
            ex.markets[t].status in STATUS_FILTERS[status] for t in ev.markets if t in ex.markets
        ):
            continue
        selected.append(ev)
    selected.sort(key=lambda e: (e.close_ts, e.event_ticker))
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {"events": [kj.event(ex, e, nested=nested) for e in chunk], "cursor": cursor}


def event_one(venue: SimVenue, q: Query, event_ticker: str) -> dict[str, Any]:
    ex = venue.exchange
    ev = ex.events.get(event_ticker)
    if ev is None:
        raise ApiError(404, "not_found", f"event {event_ticker!r} not found")
    nested = q.bool("with_nested_markets")
    return {
        "event": kj.event(ex, ev, nested=nested),
        "markets": [kj.market(ex, ex.markets[t]) for t in ev.markets if t in ex.markets],
    }
