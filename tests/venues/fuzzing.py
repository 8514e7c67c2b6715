"""Seeded mutation fuzzing of every public wire parse entry point (used by ``test_fuzz.py`` and by
the probe ``python -m tests.venues.fuzz_probe``).

The contract under test (``kbot.venues.wire``): a parse entry point either returns valid domain
messages or raises ``WireError``; the stateful Kalshi WS session (``KalshiWsSession.on_text``) and
the REST error-body reader never raise at all. "Valid" is checked here independently of the
parsers' own checks (``invalid``): finite numbers, exact decimals of sane magnitude, timestamps
of this century and near the receive time for live data, contract prices in [0, 1] and uncrossed,
positive strikes, spot prices within sane bounds, results from the known set, text that can be
stored (no lone surrogates).

Seeds are the documented payload shapes the parser tests use (the Kalshi reference examples,
``kfakes`` builders, the spot-feed reference examples), written here; no recorded data. The
mutator (``Mutator``) edits either the JSON tree (huge and non-finite numbers, wrong types, deep
nesting, unicode, missing keys) or the text (truncation, deleted/inserted/duplicated characters).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import attrs

from kbot.actorkit import BadInputLog
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi import rest_parse as rp
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.kalshi.book import OrderBook
from kbot.venues.kalshi.errors import parse_error_body
from kbot.venues.kalshi.ws_session import KalshiWsSession
from kbot.venues.spot import BinanceProtocol, CoinbaseProtocol, KrakenProtocol
from kbot.venues.spot.binance_usdm import BinanceUsdmProtocol
from kbot.venues.wire import WireError, loads
from tests.venues import kfakes

RECV = 1_787_000_000.0  # receive time of every fuzzed frame (2026-08-17)
NOW_MS = int(RECV * 1000) - 150  # venue event times: just before receipt
NOW_S = int(RECV) - 1
ISO = "2026-08-17T20:53:19.850Z"  # = NOW_MS
T1, T2 = "KXBTCD-26AUG1718-T86749.99", "KXBTC15M-26AUG171745-45"

# Independent bounds of "valid" (kept plain: they mirror kbot.venues.wire's documented ranges).
EPOCH_MIN, EPOCH_MAX = 946_684_800.0, 7_258_118_400.0  # 2000-01-01 .. 2200-01-01
LIVE_PAST_S, LIVE_LEAD_S = 86_400.0, 300.0  # live event times vs receipt
SPOT_MIN, SPOT_MAX = 100.0, 10_000_000.0
RESULTS = ("yes", "no", "scalar", "void")
DECIMAL_MAX_ADJUSTED = 15  # |x| < 1e16

# ----------------------------------------------------------------------------- seeds


def _kalshi_ws_frames() -> list[dict[str, Any]]:
    """Full frames; ``sid`` per channel as ``session()`` assigns them."""
    tk = {"market_id": "m", "market_ticker": T1, "price_dollars": "0.4800", "yes_bid_dollars": "0.4500",
          "yes_ask_dollars": "0.5300", "volume_fp": "33896.00", "open_interest_fp": "20422.00", "dollar_volume": 16948,
          "yes_bid_size_fp": "300.00", "yes_ask_size_fp": "150.00", "last_trade_size_fp": "25.00",
          "ts": NOW_S, "ts_ms": NOW_MS, "time": ISO}
    legacy_tk = {"market_ticker": T1, "yes_bid": 45, "yes_ask": 53, "price": 48, "volume": 10, "open_interest": 5, "ts": NOW_S}
    snap = {"market_ticker": T1, "market_id": "9b0f", "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.00"]],
            "no_dollars_fp": [["0.5400", "20.00"], ["0.5600", "146.00"]]}
    delta = {"market_ticker": T1, "market_id": "9b0f", "price_dollars": "0.2200", "delta_fp": "-54.00", "side": "yes",
             "ts": ISO, "ts_ms": NOW_MS}
    legacy_delta = {"market_ticker": T1, "price": 22, "delta": 5, "side": "no"}
    trade = {"trade_id": "d91b", "market_ticker": T1, "yes_price_dollars": "0.3600", "no_price_dollars": "0.6400",
             "count_fp": "136.00", "taker_side": "no", "taker_outcome_side": "no", "taker_book_side": "ask",
             "is_block_trade": False, "ts": NOW_S, "ts_ms": NOW_MS}
    created = {"market_ticker": T2, "exchange_index": 0, "open_ts": NOW_S - 60, "close_ts": NOW_S + 840,
               "additional_metadata": {"name": "n", "title": "t", "yes_sub_title": "y", "no_sub_title": "n",
                                       "rules_primary": "r", "can_close_early": True, "event_ticker": "KXBTC15M-26AUG171745",
                                       "expected_expiration_ts": NOW_S + 900, "strike_type": "greater_or_equal",
                                       "floor_strike": 86512.33},
               "event_type": "created", "price_level_structure": "linear_cent"}
    meta = {"event_type": "metadata_updated", "market_ticker": T2, "strike_type": "between", "floor_strike": 95000,
            "cap_strike": 95250}
    determined = {"market_ticker": T1, "event_type": "determined", "result": "no", "settlement_value": "0.0000",
                  "determination_ts": NOW_S}
    settled = {"market_ticker": T1, "event_type": "settled", "settled_ts": NOW_S, "result": "yes", "settlement_value": 100}
    ev = {"event_ticker": "KXBTCD-26AUG1718", "exchange_index": 0, "title": "t", "subtitle": "s",
          "collateral_return_type": "MECNET", "series_ticker": "KXBTCD", "strike_date": NOW_S + 3600}
    fee = {"event_ticker": "KXBTCD-26AUG1718", "fee_type_override": "quadratic", "fee_multiplier_override": 1}
    cfb = {"index_id": "BRTI", "received_at": NOW_MS,
           "data": json.dumps({"type": "value", "id": "BRTI", "time": NOW_MS, "value": "86512.12"}),
           "avg_60s_data": {"value": "86500.12000000", "window_size": 60, "window_start_ts_ms": NOW_MS - 60_000,
                            "window_end_ts_exclusive": NOW_MS},
           "last_60s_windowed_average_15min": {"value": "86499.5", "window_size": 12}}
    fill = {"trade_id": "tr", "order_id": "o", "client_order_id": "my-order-1", "market_ticker": T1, "exchange_index": 2,
            "is_taker": True, "side": "yes", "yes_price_dollars": "0.7500", "count_fp": "278.00", "fee_cost": "0.010000",
            "action": "buy", "ts": NOW_S, "ts_ms": NOW_MS, "post_position_fp": "500.00", "outcome_side": "yes", "book_side": "bid"}
    order = {"order_id": "o", "user_id": "u", "ticker": T1, "exchange_index": 2, "status": "resting", "side": "yes",
             "outcome_side": "yes", "book_side": "bid", "yes_price_dollars": "0.3500", "fill_count_fp": "0.00",
             "remaining_count_fp": "10.00", "initial_count_fp": "10.00", "client_order_id": "my-order-1",
             "created_ts_ms": NOW_MS - 5000, "last_updated_ts_ms": NOW_MS}
    pos = {"user_id": "u", "market_ticker": T1, "position_fp": "100.00", "position_cost_dollars": "50.0000",
           "realized_pnl_dollars": "10.0000", "fees_paid_dollars": "1.0000", "volume_fp": "15.00"}
    s = SIDS
    return [
        {"type": "ticker", "sid": s["ticker"], "msg": tk},
        {"type": "ticker", "sid": s["ticker"], "msg": legacy_tk},
        {"type": "orderbook_snapshot", "sid": s["orderbook_delta"], "seq": 2, "msg": snap},
        {"type": "orderbook_delta", "sid": s["orderbook_delta"], "seq": 2, "msg": delta},
        {"type": "orderbook_delta", "sid": s["orderbook_delta"], "seq": 2, "msg": legacy_delta},
        {"type": "trade", "sid": s["trade"], "seq": 5, "msg": trade},
        {"type": "market_lifecycle_v2", "sid": s["market_lifecycle_v2"], "seq": 3, "msg": created},
        {"type": "market_lifecycle_v2", "sid": s["market_lifecycle_v2"], "seq": 3, "msg": meta},
        {"type": "market_lifecycle_v2", "sid": s["market_lifecycle_v2"], "seq": 3, "msg": determined},
        {"type": "market_lifecycle_v2", "sid": s["market_lifecycle_v2"], "seq": 3, "msg": settled},
        {"type": "event_lifecycle", "sid": s["market_lifecycle_v2"], "seq": 3, "msg": ev},
        {"type": "event_fee_update", "sid": s["market_lifecycle_v2"], "seq": 3, "msg": fee},
        {"type": "cfbenchmarks_value", "sid": s["cfbenchmarks_value"], "seq": 9, "msg": cfb},
        {"type": "fill", "sid": s["fill"], "msg": fill},
        {"type": "user_order", "sid": s["user_orders"], "msg": order},
        {"type": "market_position", "sid": s["market_positions"], "msg": pos},
        {"id": 40, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 99}},
        {"id": 41, "sid": s["orderbook_delta"], "seq": 2, "type": "ok", "msg": {"market_tickers": [T1, T2]}},
        {"id": 42, "type": "error", "msg": {"code": 7, "msg": "Unknown subscription ID"}},
        {"id": 43, "type": "error", "msg": {"code": 25, "msg": "Subscription buffer overflow"}},
        {"type": "unsubscribed", "sid": s["trade"], "seq": 5, "id": 44},
    ]


def _rest_bodies() -> dict[str, list[Any]]:
    market = kfakes.market(T1, "KXBTCD-26AUG1718", close="2026-08-17T22:00:00Z")
    between = kfakes.market("KXBTC-26AUG1718-B86750", "KXBTC-26AUG1718", strike_type="between", floor=86500.0,
                            cap=86999.99, close="2026-08-17T22:00:00Z", status="finalized", result="yes",
                            settlement_value="1.0000")
    legacy = {k: v for k, v in market.items() if not k.endswith(("_dollars", "_fp"))}
    legacy.update({"yes_bid": 45, "yes_ask": 47, "last_price": 46, "volume": 1200, "open_interest": 800})
    return {
        "market": [market, between, legacy],
        "series": [kfakes.series("KXBTCD"), {"ticker": "KXBTC15M", "fee_type": "quadratic_with_maker_fees",
                                             "fee_multiplier": "0.5", "last_updated_ts": "2026-08-01T00:00:00Z"}],
        "event": [kfakes.event("KXBTCD-26AUG1718", "KXBTCD", strike_date="2026-08-17T22:00:00Z",
                               fee_multiplier_override=0.5, markets=[market]),
                  kfakes.event("KXBTCD-26AUG1719", "KXBTCD", strike_date=NOW_S + 3600)],
        "orderbook": [{"orderbook_fp": {"yes_dollars": [["0.0800", "300.00"], ["0.2200", "333.00"]],
                                        "no_dollars": [["0.5400", "20.00"], ["0.5600", "146.00"]]}},
                      {"orderbook": {"yes": [[8, 300]], "no": [[54, 20]]}}],
        "exchange_status": [{"exchange_active": True, "trading_active": False,
                             "exchange_estimated_resume_time": "2026-08-20T09:00:00Z",
                             "exchange_index_statuses": [{"exchange_index": 2, "exchange_active": True,
                                                          "trading_active": False}]}],
        "balance": [{"balance": 12345, "balance_dollars": "123.4567", "portfolio_value": 20000, "updated_ts": NOW_S,
                     "balance_breakdown": [{"exchange_index": 0, "balance": "3.4567"},
                                           {"exchange_index": 2, "balance": "120.0000"}]}],
        "position": [{"ticker": T1, "exchange_index": 2, "total_traded_dollars": "5.000000", "position_fp": "-10.00",
                      "market_exposure_dollars": "4.500000", "realized_pnl_dollars": "0.000000",
                      "fees_paid_dollars": "0.070000", "last_updated_ts": "2026-08-17T10:00:00Z"}],
        "order": [{"order_id": "o", "user_id": "u", "client_order_id": "c", "ticker": T1, "outcome_side": "no",
                   "book_side": "ask", "type": "limit", "status": "resting", "yes_price_dollars": "0.7000",
                   "no_price_dollars": "0.3000", "fill_count_fp": "2.00", "remaining_count_fp": "8.00",
                   "initial_count_fp": "10.00", "created_time": "2026-08-17T10:00:00Z"}],
        "fill": [{"fill_id": "f", "trade_id": "t", "order_id": "o", "ticker": T1, "side": "yes", "action": "buy",
                  "count_fp": "227.27", "yes_price_dollars": "0.0010", "no_price_dollars": "0.9990", "is_taker": True,
                  "fee_cost": "0.015930", "created_time": "2026-08-17T10:00:00Z", "ts": NOW_S}],
        "settlement": [{"ticker": T1, "exchange_index": 2, "event_ticker": "E", "market_result": "yes",
                        "yes_count_fp": "15.00", "yes_total_cost_dollars": "6.600000", "no_count_fp": "0.00",
                        "no_total_cost_dollars": "0.000000", "revenue": 1500, "settled_time": "2026-08-16T04:00:00Z",
                        "fee_cost": "0.202100", "value": 100}],
        "order_ack": [{"order_id": "a6d6", "client_order_id": "2a0e", "fill_count": "5.00", "remaining_count": "0.00",
                       "average_fill_price": "0.5800", "average_fee_paid": "0.0012", "ts_ms": NOW_MS}],
        "cancel_ack": [{"order_id": "a6d6", "client_order_id": "2a0e", "reduced_by": "5.00", "ts_ms": NOW_MS}],
        "decrease_ack": [{"order_id": "a6d6", "client_order_id": "2a0e", "remaining_count": "3.00", "ts_ms": NOW_MS}],
    }


ERROR_BODIES: list[Any] = [
    {"code": "invalid_order", "message": "m", "details": "post only cross"},
    {"error": {"code": "insufficient_balance", "message": "not enough", "details": ""}},
    {"error": "too many requests"},
]

CB_TICKER = {"channel": "ticker", "client_id": "", "timestamp": "2026-08-17T20:53:19.850359596Z", "sequence_num": 0,
             "events": [{"type": "snapshot", "tickers": [
                 {"type": "ticker", "product_id": "BTC-USD", "price": "86512.98", "volume_24_h": "16038.28770938",
                  "best_bid": "86512.29", "best_bid_quantity": "0.02", "best_ask": "86513.18", "best_ask_quantity": "0.015"}]}]}
SPOT_FRAMES: dict[str, list[dict[str, Any]]] = {
    "coinbase": [
        CB_TICKER,
        {"channel": "heartbeats", "client_id": "", "timestamp": "2026-08-17T20:53:19.850Z", "sequence_num": 1,
         "events": [{"current_time": "2026-08-17 20:53:19.85 +0000 UTC", "heartbeat_counter": "3049"}]},
        {"type": "ticker", "product_id": "BTC-USD", "price": "86512.98", "best_bid": "86512.29", "best_ask": "86513.18",
         "time": ISO},
        {"type": "error", "message": "Failed to subscribe", "reason": "x"},
    ],
    "kraken": [
        {"channel": "ticker", "type": "snapshot", "data": [{"symbol": "BTC/USD", "bid": 86512.2, "bid_qty": 2.5,
                                                           "ask": 86512.3, "ask_qty": 3.2, "last": 86511.4,
                                                           "volume": 163.2, "timestamp": ISO}]},
        {"channel": "status", "type": "update", "data": [{"system": "online", "api_version": "v2"}]},
        {"method": "subscribe", "result": {"channel": "ticker", "symbol": "BTC/USD"}, "success": True},
        {"channel": "heartbeat"},
    ],
    "binance": [
        {"stream": "btcusdt@trade", "data": {"e": "trade", "E": NOW_MS, "s": "BTCUSDT", "t": 12345, "p": "86512.10",
                                             "q": "0.01", "T": NOW_MS, "m": True}},
        {"stream": "btcusdt@bookTicker", "data": {"u": 400900217, "s": "BTCUSDT", "b": "86512.00", "B": "31.2",
                                                  "a": "86512.10", "A": "40.6"}},
        {"u": 400900218, "s": "BTCUSDT", "b": "86512.00", "B": "1", "a": "86512.20", "A": "2"},
        {"result": None, "id": 1},
    ],
    "binance_usdm": [
        {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": NOW_MS, "s": "BTCUSDT",
                                                    "p": "86512.10", "i": "86500.00", "P": "86510.00",
                                                    "r": "0.00010000", "T": NOW_MS + 3_600_000}},
        {"e": "markPriceUpdate", "E": NOW_MS, "s": "BTCUSDT", "p": "86512.10", "r": "-0.00002000"},
        {"result": None, "id": 1},
    ],
}

# ----------------------------------------------------------------------------- the session under test


def _template_session() -> tuple[KalshiWsSession, dict[str, int]]:
    s = KalshiWsSession(KalshiWsConfig(fills=True, user_orders=True, market_positions=True), bad=BadInputLog("fuzz"))
    s.watch([T1, T2], RECV, 0.0)
    s.on_connected(RECV, 0.0)
    _, cmds, _ = s.drain()
    sids: dict[str, int] = {}
    for i, c in enumerate(cmds, start=1):
        ch = c["params"]["channels"][0]
        sids[ch] = i
        s.on_text(json.dumps({"id": c["id"], "type": "subscribed", "msg": {"channel": ch, "sid": i}}), RECV, 0.0)
    return s, sids


_, SIDS = _template_session()


def session() -> KalshiWsSession:
    """A connected session with every channel subscribed and a live book for ``T1`` and ``T2``."""
    s, _ = _template_session()
    for seq, t in enumerate((T1, T2), start=1):
        s.on_text(json.dumps({"type": "orderbook_snapshot", "sid": SIDS["orderbook_delta"], "seq": seq,
                              "msg": {"market_ticker": t, "yes_dollars_fp": [["0.2200", "10.00"]],
                                      "no_dollars_fp": [["0.5600", "10.00"]]}}), RECV, 0.0)
    s.drain()
    return s


# ----------------------------------------------------------------------------- entry points


@attrs.frozen
class Entry:
    """One public parse entry point: ``run(text)`` returns the domain outputs; ``raises`` is what
    it may raise (empty: nothing, ever); ``live``: outputs are live data (times near receipt)."""

    name: str
    seeds: tuple[str, ...]
    run: Callable[[str], list[Any]]
    raises: tuple[type[BaseException], ...] = (WireError,)
    live: bool = True


def _ws_frame(text: str) -> list[Any]:
    """Stateless: the envelope, then the parse function of its type (as the session calls them)."""
    env = wp.parse_envelope(text)
    t, m = env.type, env.msg
    if t == "orderbook_snapshot":
        return [wp.parse_orderbook_snapshot(m, use_yes_price=True)]
    if t == "orderbook_delta":
        return [wp.parse_orderbook_delta(m, use_yes_price=True, recv_ts=RECV)]
    if t == "ticker":
        return [wp.parse_ticker(m, recv_ts=RECV)]
    if t == "trade":
        return [wp.parse_trade(m, recv_ts=RECV)]
    if t == "market_lifecycle_v2":
        lc = wp.parse_market_lifecycle(m, recv_ts=RECV)
        settled = wp.settled_from_lifecycle(lc, ("yes", Decimal(1)))
        return [lc] if settled is None else [lc, settled]
    if t == "event_lifecycle":
        return [wp.parse_event_lifecycle(m, recv_ts=RECV)]
    if t == "event_fee_update":
        return [wp.parse_event_fee_update(m, recv_ts=RECV)]
    if t == "cfbenchmarks_value":
        return [wp.parse_cfbenchmarks_value(m, recv_ts=RECV).tick]
    if t == "fill":
        return [wp.parse_fill(m, recv_ts=RECV)]
    if t == "user_order":
        return [wp.parse_user_order(m, recv_ts=RECV)]
    if t == "market_position":
        return [wp.parse_market_position(m, recv_ts=RECV)]
    if t == "subscribed":
        return [wp.parse_subscribed(env)]
    if t == "ok":
        return [wp.parse_ok_tickers(env)]
    if t == "error":
        return [wp.parse_error(env)]
    return []


def _ws_session(text: str) -> list[Any]:
    s = session()
    s.on_text(text, RECV, 1.0)
    msgs, _, _ = s.drain()
    return msgs


_REST_PARSERS: dict[str, Callable[[Any], Any]] = {
    "market": lambda b: rp.parse_market(b, now=RECV, series_ticker="KXBTCD"),
    "series": lambda b: rp.parse_series(b, now=RECV),
    "event": lambda b: rp.parse_event(b, now=RECV)[0],
    "orderbook": lambda b: rp.parse_orderbook(b, T1),
    "exchange_status": rp.parse_exchange_status,
    "balance": lambda b: rp.parse_balance(b, now=RECV),
    "position": lambda b: rp.parse_position(b, now=RECV),
    "order": lambda b: rp.parse_order(b, now=RECV),
    "fill": lambda b: rp.parse_fill(b, now=RECV),
    "settlement": lambda b: rp.parse_settlement(b, now=RECV),
    "order_ack": rp.parse_order_ack,
    "cancel_ack": rp.parse_cancel_ack,
    "decrease_ack": rp.parse_decrease_ack,
}


def _rest(kind: str) -> Callable[[str], list[Any]]:
    parse = _REST_PARSERS[kind]

    def run(text: str) -> list[Any]:
        out = parse(loads(text))  # the REST client decodes bodies with wire.loads
        if kind == "market":
            return [out.info, out.quote]
        return [out]

    return run


def _error_body(text: str) -> list[Any]:
    return [parse_error_body(text)]


def _spot(make: Callable[[], Any]) -> Callable[[str], list[Any]]:
    proto = make()  # stateful protocols (Binance keeps bid/ask) are kept across frames, as in a feed

    def run(text: str) -> list[Any]:
        return proto.parse(text, RECV)

    return run


def entry_points() -> list[Entry]:
    dumps = json.dumps
    frames = tuple(dumps(f) for f in _kalshi_ws_frames())
    out = [
        Entry("kalshi_ws.session", frames, _ws_session, raises=()),
        Entry("kalshi_ws.parse", frames, _ws_frame),
    ]
    for kind, bodies in _rest_bodies().items():
        out.append(Entry(f"kalshi_rest.{kind}", tuple(dumps(b) for b in bodies), _rest(kind), live=False))
    out.append(Entry("kalshi_rest.error_body", tuple(dumps(b) for b in ERROR_BODIES), _error_body, raises=(), live=False))
    makers: dict[str, Callable[[], Any]] = {
        "coinbase": lambda: CoinbaseProtocol("wss://x", "BTC-USD"),
        "kraken": lambda: KrakenProtocol("wss://x", "BTC/USD"),
        "binance": lambda: BinanceProtocol("wss://x", "btcusdt"),
        "binance_usdm": lambda: BinanceUsdmProtocol("wss://x", "btcusdt"),
    }
    for name, fs in SPOT_FRAMES.items():
        out.append(Entry(f"spot.{name}", tuple(dumps(f) for f in fs), _spot(makers[name])))
    return out


# ----------------------------------------------------------------------------- the mutator

_HUGE: list[Any] = [10**400, -(10**400), 2**63, -1, 0, 10**20, 1.7e308, -1.7e308, 5e-324]
_HUGE_TEXT = ["1e999", "-1e999", "1E+999999999", "9" * 5000]  # raw JSON numbers json.dumps cannot write
_NUM_STRINGS = ["1E+999999999", "-1E+999999999", "1E-999999999", "NaN", "Infinity", "-Infinity", "-0", "1e400",
                "0x10", " 1 ", "1_000", "", "1" * 400, "-1", "0", "1.00000000000000000000000000001"]
_WRONG: list[Any] = [{}, [], "", "x", True, False, None, 1.5, "0", [1, 2], {"a": 1}, [[]], -0.0]
_UNICODE = ["\ud800", "\udfff", "\x00", "é", "\U0001f642", "\u202e", "\ufeff", "\u0000abc", "Ω" * 1000, "x" * 100_000]
_DEEP = [40, 200, 1200, 3000, 100_000]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = _get(root, path[:-1])
    parent[path[-1]] = value
    return root


class Mutator:
    """Deterministic for a seed: ``mutate(text)`` -> one mutated text."""

    PLACEHOLDER = "\u2063FUZZ\u2063"  # invisible separator: never in a seed

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def mutate(self, text: str) -> str:
        r = self.rng
        n = r.choice((1, 1, 1, 2, 3))
        for _ in range(n):
            text = self._tree(text) if r.random() < 0.75 else self._text(text)
        return text

    # -- structure-aware
    def _tree(self, text: str) -> str:
        r = self.rng
        try:
            root = json.loads(text)
        except (ValueError, RecursionError):
            return self._text(text)
        paths = list(_paths(root))
        path = r.choice(paths)
        raw: str | None = None  # raw JSON to splice in where json.dumps cannot express it
        op = r.randrange(9)
        if op == 0:
            value: Any = r.choice(_HUGE)
        elif op == 1:
            value, raw = None, r.choice(_HUGE_TEXT)
        elif op == 2:
            value = r.choice(_NUM_STRINGS)
        elif op == 3:
            value = r.choice(_WRONG)
        elif op == 4:
            depth = r.choice(_DEEP)
            inner = "1" if r.random() < 0.5 else '{"a":1}'
            value, raw = None, ("[" * depth) + inner + ("]" * depth) if r.random() < 0.7 else ('{"a":' * depth) + inner + ("}" * depth)
        elif op == 5:
            cur = _get(root, path)
            value = (cur + r.choice(_UNICODE)) if isinstance(cur, str) else r.choice(_UNICODE)
        elif op == 6 and path:  # drop the key/item
            parent = _get(root, path[:-1])
            del parent[path[-1]]
            return json.dumps(root)
        elif op == 7:  # number <-> string
            cur = _get(root, path)
            if isinstance(cur, str):
                try:
                    value = json.loads(cur)
                except ValueError:
                    value = cur[::-1]
            elif isinstance(cur, (int, float)) and not isinstance(cur, bool):
                value = str(cur)
            else:
                value = r.choice(_WRONG)
        else:  # a plausible but out-of-range value
            value = r.choice([-1, -0.01, 1.01, 2, -86512.0, 0, 1e300, "1.0001", "-0.0001", "maybe", "1969-12-31T23:59:59Z",
                              "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", -1000, 10**13, 253402300800000])
        if raw is not None:
            root = _set(root, path, self.PLACEHOLDER)
            return json.dumps(root).replace(json.dumps(self.PLACEHOLDER), raw, 1)
        root = _set(root, path, value)
        return json.dumps(root, ensure_ascii=r.random() < 0.5)

    # -- text
    def _text(self, text: str) -> str:
        r = self.rng
        if not text:
            return r.choice(["", "{", "[", "null", "1"])
        i = r.randrange(len(text))
        op = r.randrange(7)
        if op == 0:
            return text[:i]  # truncation
        if op == 1:
            return text[:i] + text[i + 1 :]
        if op == 2:
            return text[:i] + r.choice('{}[]":,0123456789-eE.tfn\\ \x00') + text[i:]
        if op == 3:
            j = min(len(text), i + r.randrange(1, 40))
            return text[:j] + text[i:j] + text[j:]  # duplicate a span
        if op == 4:
            return text[:i] + r.choice(_UNICODE[:8]) + text[i:]
        if op == 5:
            return text[:i] + "\\ud800" + text[i:]  # an escaped lone surrogate
        return text.replace('"', "'", 1) if r.random() < 0.5 else text + r.choice(["}", "]", ",", " ", "x"])


# ----------------------------------------------------------------------------- validity


def _bad_float(v: float) -> bool:
    return not math.isfinite(v)


def _ts_kind(name: str, v: float, live: bool) -> str | None:
    if not EPOCH_MIN <= v <= EPOCH_MAX:
        return "ts_out_of_epoch"
    if live and name == "ts" and not RECV - LIVE_PAST_S <= v <= RECV + LIVE_LEAD_S:
        return "ts_out_of_window"
    return None


_TS_FIELDS = ("ts", "recv_ts", "open_ts", "close_ts", "expected_expiration_ts", "latest_expiration_ts", "updated_ts",
              "determination_ts", "settled_ts", "strike_ts")
_PRICE_FIELDS = ("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "settlement_value", "yes_price", "price",
                 "average_fill_price")
_COUNT_FIELDS = ("count", "volume", "open_interest", "yes_bid_size", "yes_ask_size", "filled_count", "yes_count",
                 "no_count", "fill_count", "remaining_count", "reduced_by")


def invalid(msg: Any, live: bool) -> str | None:
    """Why ``msg`` (a domain message/record a parser returned) is garbage, or None."""
    if isinstance(msg, tuple):
        for v in msg:
            why = invalid(v, live)
            if why:
                return why
        return None
    if isinstance(msg, list):
        for v in msg:
            why = invalid(v, live)
            if why:
                return why
        return None
    if isinstance(msg, OrderBook):
        for levels in (msg.yes_bids(), msg.no_bids()):
            for p, q in levels:
                if not Decimal(0) <= p <= Decimal(1) or q < 0:
                    return "price_out_of_range"
        return None
    if isinstance(msg, str):
        try:
            msg.encode("utf-8")
        except UnicodeEncodeError:
            return "bad_text"
        return None
    if isinstance(msg, float):
        return "non_finite" if _bad_float(msg) else None
    if isinstance(msg, Decimal):
        if not msg.is_finite():
            return "non_finite"
        return "huge_decimal" if msg and msg.adjusted() > DECIMAL_MAX_ADJUSTED else None
    if not attrs.has(type(msg)):
        return None
    cls = type(msg).__name__
    for f in attrs.fields(type(msg)):
        v = getattr(msg, f.name)
        if v is None:
            continue
        why = invalid(v, live)
        if why:
            return why
        if f.name in _TS_FIELDS and isinstance(v, (int, float)):
            why = _ts_kind(f.name, float(v), live)
            if why:
                return why
        if f.name in _PRICE_FIELDS and isinstance(v, Decimal) and not Decimal(0) <= v <= Decimal(1):
            return "price_out_of_range"
        if f.name in _COUNT_FIELDS and isinstance(v, Decimal) and v < 0:
            return "negative_count"
        if f.name in ("floor_strike", "cap_strike") and not v > 0:
            return "strike_not_positive"
        if f.name == "result" and v not in RESULTS:
            return "unknown_result"
        if f.name in ("fee_multiplier", "fee_multiplier_override") and v < 0:
            return "negative_fee_multiplier"
    if cls == "SpotTick":
        for name in ("price", "bid", "ask", "avg_60s", "avg_60s_15min"):
            v = getattr(msg, name)
            if v is not None and not SPOT_MIN <= v <= SPOT_MAX:
                return "spot_out_of_bounds"
        if msg.bid is not None and msg.ask is not None and msg.bid > msg.ask:
            return "crossed_quote"
    if cls == "Quote" and not msg.stale:
        if msg.yes_bid is not None and msg.yes_ask is not None and msg.yes_bid > msg.yes_ask:
            return "crossed_quote"
        if msg.no_bid is not None and msg.no_ask is not None and msg.no_bid > msg.no_ask:
            return "crossed_quote"
    if cls == "MarketInfo" and msg.floor_strike is not None and msg.cap_strike is not None \
            and msg.floor_strike > msg.cap_strike:
        return "strikes_inverted"
    if cls in ("Fill", "OrderEvent") and (msg.side not in ("yes", "no") or msg.action not in ("buy", "sell")):
        return "bad_side"
    return None


# ----------------------------------------------------------------------------- the run


@attrs.define
class Report:
    frames: int = 0
    ok: int = 0  # returned messages, all valid
    rejected: Counter[str] = attrs.field(factory=Counter)  # WireError kinds (the documented outcome)
    escaped: Counter[str] = attrs.field(factory=Counter)  # "<entry>: <ExceptionType>"
    garbage: Counter[str] = attrs.field(factory=Counter)  # "<entry>: <why>"
    samples: dict[str, str] = attrs.field(factory=dict)  # first frame per escaped/garbage key

    def merge_sample(self, key: str, text: str, detail: str) -> None:
        if key not in self.samples:
            self.samples[key] = f"{detail} <- {text[:300]!r}"


def run(frames: int, seed: int, entries: list[Entry] | None = None) -> Report:
    """Mutate seeds of every entry point round-robin, ``frames`` frames in all."""
    entries = entries or entry_points()
    mut = Mutator(seed)
    rep = Report()
    for i in range(frames):
        e = entries[i % len(entries)]
        text = mut.mutate(mut.rng.choice(e.seeds))
        rep.frames += 1
        try:
            out = e.run(text)
        except WireError as exc:
            if WireError in e.raises:
                rep.rejected[exc.kind] += 1
            else:
                key = f"{e.name}: WireError"
                rep.escaped[key] += 1
                rep.merge_sample(key, text, str(exc))
            continue
        except Exception as exc:
            key = f"{e.name}: {type(exc).__name__}"
            rep.escaped[key] += 1
            rep.merge_sample(key, text, repr(exc)[:200])
            continue
        why = invalid(out, e.live)
        if why:
            key = f"{e.name}: {why}"
            rep.garbage[key] += 1
            rep.merge_sample(key, text, why)
        else:
            rep.ok += 1
    return rep
