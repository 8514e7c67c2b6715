"""Issue 12, "parsers that cannot be crashed": each defect the probe found, pinned by name.

Crashes (an exception other than ``WireError`` out of a parser, or anything out of the Kalshi WS
session): deep JSON, integers beyond a float, ``"1E+999999999"`` in a book delta, wrong shapes.
Garbage that passed as domain messages: absurd spot prices, unknown results, 1969 timestamps,
non-positive strikes, crossed quotes. Each is now a counted ``WireError`` of a documented kind.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from kbot.actorkit import BadInputLog
from kbot.messages import Fill, MarketSettled, OrderEvent, Quote
from kbot.venues import wire
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi import rest_parse as rp
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.kalshi import ws_session
from kbot.venues.kalshi.errors import parse_error_body
from kbot.venues.kalshi.ws_session import KalshiWsSession
from kbot.venues.spot import BinanceProtocol, CoinbaseProtocol, KrakenProtocol
from kbot.venues.wire import WireError
from tests.venues import fuzzing
from tests.venues.fuzzing import NOW_MS, RECV, SIDS, T1

D = Decimal
DEEP = "[" * 100_000 + "]" * 100_000


def kind_of(fn, *args, **kw) -> str:
    with pytest.raises(WireError) as ei:
        fn(*args, **kw)
    return ei.value.kind


# ----------------------------------------------------------------------------- crashes


def test_deep_json_is_bad_json_not_recursion_error():
    assert kind_of(wire.loads, DEEP) == "bad_json"
    assert kind_of(wp.parse_envelope, DEEP) == "bad_json"
    assert kind_of(CoinbaseProtocol("x").parse, DEEP, RECV) == "bad_json"
    assert parse_error_body(DEEP)[0] == ""  # the REST error reader never raises
    # a nested value just under the interpreter's limit decodes, and error details stay short
    nested = json.loads("[" * 900 + "]" * 900)
    assert kind_of(rp.parse_levels, [nested], "yes_dollars").startswith("wrong_type")
    assert len(parse_error_body({"message": nested})[1]) < 100


@pytest.mark.parametrize("big", [10**400, -(10**400)], ids=["+1e400", "-1e400"])
def test_integers_beyond_a_float_are_wire_errors(big):
    assert kind_of(wire.ms_ts, big, "ts_ms") == "out_of_range"
    assert kind_of(wire.to_float, big, "floor_strike") == "out_of_range"
    market = fuzzing._rest_bodies()["market"][0]
    assert kind_of(rp.parse_market, {**market, "settlement_timer_seconds": big}, now=RECV, series_ticker="KXBTCD") == "out_of_range"
    assert kind_of(rp.parse_balance, {"balance": 1, "updated_ts": big}, now=RECV) == "out_of_range"
    assert kind_of(rp.parse_order_ack, {"order_id": "o", "ts_ms": big}) == "out_of_range"


def test_huge_exponent_decimal_is_rejected_not_overflowed_later():
    assert kind_of(wire.to_decimal, "1E+999999999", "delta_fp") == "out_of_range"
    assert kind_of(wire.to_decimal, "1E-999999999", "price_dollars") == "out_of_range"
    assert kind_of(wire.to_decimal, "9" * 400, "count_fp") == "bad_value"  # longer than any number
    # through the session: the delta is counted, the book is resynced, nothing escapes
    s = fuzzing.session()
    frame = {"type": "orderbook_delta", "sid": SIDS["orderbook_delta"], "seq": 3,
             "msg": {"market_ticker": T1, "price_dollars": "0.2200", "delta_fp": "1E+999999999", "side": "yes", "ts_ms": NOW_MS}}
    s.on_text(json.dumps(frame), RECV, 1.0)
    msgs, cmds, _ = s.drain()
    assert s.bad.counts == {"orderbook_delta:out_of_range": 1}
    assert any(isinstance(m, Quote) and m.stale for m in msgs)  # pricers stop on that book
    assert any(c["params"].get("action") == "get_snapshot" for c in cmds)  # and it is rebuilt


def test_wrong_shapes_are_wire_errors():
    event = {"event_ticker": "E", "series_ticker": "S", "strike_date": {}}
    assert kind_of(rp.parse_event, event, now=RECV) == "wrong_type"
    assert kind_of(CoinbaseProtocol("x").parse, '{"channel": []}', RECV) == "wrong_type"
    assert kind_of(rp.parse_balance, {"balance": 1, "balance_breakdown": 7}, now=RECV) == "wrong_type"
    assert kind_of(rp.parse_exchange_status, {"exchange_active": True, "trading_active": True,
                                              "exchange_index_statuses": -1.5}) == "wrong_type"
    assert KrakenProtocol("x").parse('{"channel": "status", "data": 5}', RECV) == []


def test_session_survives_a_frame_that_breaks_a_handler(monkeypatch):
    """``KalshiWsClient`` hands every frame to ``on_text``; a bug a frame provokes must not end the
    connection (a stream of them would make the root give up): counted, logged, survived."""
    s = fuzzing.session()

    def broken(self, env, text, now, rt, mono):
        raise KeyError("a kbot bug")

    monkeypatch.setitem(ws_session._HANDLERS, "ticker", broken)
    frame = json.dumps({"type": "ticker", "sid": SIDS["ticker"], "msg": {"market_ticker": T1}})
    for _ in range(3):
        s.on_text(frame, RECV, 1.0)
    assert s.bad.counts == {"ticker:internal_error": 3}


def test_spot_feed_survives_a_parser_bug():
    import trio

    from kbot.actorkit import Collect
    from kbot.clock import WallClock
    from kbot.venues.config import SpotFeedConfig
    from kbot.venues.spot.feed import SpotFeedClient
    from kbot.venues.wslink import Frame

    class Broken:
        source, reconnect_reason = "coinbase", None

        def parse(self, text, recv_ts, mono=0.0):
            raise IndexError("a kbot bug")

    client = SpotFeedClient(SpotFeedConfig(exchange="coinbase"), WallClock(), protocol=Broken())  # type: ignore[arg-type]
    out = Collect()
    client._emit = out.send

    async def main():
        for _ in range(2):
            await client._on_frame(Frame(text="{}", recv_ts=RECV, rt=0.0, mono=0.0))

    trio.run(main)
    assert client.bad.counts == {"internal_error": 2} and out.items == []


# ----------------------------------------------------------------------------- garbage that passed


def test_spot_prices_within_sane_bounds():
    frame = fuzzing.CB_TICKER
    for price in ("1e300", "0.5", "-1"):
        f = json.loads(json.dumps(frame))
        f["events"][0]["tickers"][0]["price"] = price
        assert kind_of(CoinbaseProtocol("x").parse, json.dumps(f), RECV) == "out_of_range"
    assert kind_of(wp.parse_cfbenchmarks_value, {"index_id": "BRTI", "data": {"value": "1e300"}}, recv_ts=RECV) == "out_of_range"
    kr = {"channel": "ticker", "data": [{"symbol": "BTC/USD", "bid": 1e300, "ask": 2e300}]}
    assert kind_of(KrakenProtocol("x").parse, json.dumps(kr), RECV) == "out_of_range"
    bn = {"stream": "btcusdt@trade", "data": {"e": "trade", "s": "BTCUSDT", "p": "1e300", "T": NOW_MS}}
    assert kind_of(BinanceProtocol("x").parse, json.dumps(bn), RECV) == "out_of_range"
    # another product is given its own range
    assert CoinbaseProtocol("x", "BAND-GBP", price_range=(0.01, 1e6)).parse(json.dumps(
        {"type": "ticker", "product_id": "BAND-GBP", "price": "14.77"}), RECV)[0].price == 14.77


def test_results_from_the_known_set():
    lc = {"market_ticker": T1, "event_type": "determined", "result": "maybe", "determination_ts": NOW_MS // 1000}
    assert kind_of(wp.parse_market_lifecycle, lc, recv_ts=RECV) == "bad_value"
    market = fuzzing._rest_bodies()["market"][0]
    assert kind_of(rp.parse_market, {**market, "result": "maybe"}, now=RECV, series_ticker="KXBTCD") == "bad_value"
    st = fuzzing._rest_bodies()["settlement"][0]
    assert kind_of(rp.parse_settlement, {**st, "market_result": "maybe"}, now=RECV) == "bad_value"
    for result in ("yes", "no", "void", "scalar"):
        ok = wp.parse_market_lifecycle({**lc, "result": result, "settlement_value": "1.0000"}, recv_ts=RECV)
        assert isinstance(wp.settled_from_lifecycle(ok), MarketSettled)


@pytest.mark.parametrize("ts_ms", [-1, 0, 1, NOW_MS + 3_600_000, NOW_MS - 2 * 86_400_000])
def test_live_timestamps_within_a_window_of_receipt(ts_ms):
    tk = {"market_ticker": T1, "yes_bid_dollars": "0.45", "yes_ask_dollars": "0.47", "ts_ms": ts_ms}
    assert kind_of(wp.parse_ticker, tk, recv_ts=RECV) == "out_of_range"
    delta = {"market_ticker": T1, "price_dollars": "0.45", "delta_fp": "1", "side": "yes", "ts_ms": ts_ms}
    assert kind_of(wp.parse_orderbook_delta, delta, use_yes_price=True, recv_ts=RECV) == "out_of_range"
    bn = {"stream": "btcusdt@trade", "data": {"e": "trade", "s": "BTCUSDT", "p": "86000", "T": ts_ms}}
    assert kind_of(BinanceProtocol("x").parse, json.dumps(bn), RECV) == "out_of_range"
    # a fill or an order update is the venue's truth: kept, stamped on receipt, noted
    notes: list[str] = []
    fill = wp.parse_fill({"trade_id": "t", "order_id": "o", "market_ticker": T1, "outcome_side": "yes", "yes_price_dollars": "0.5",
                          "count_fp": "1.00", "ts_ms": ts_ms}, recv_ts=RECV, notes=notes)
    assert isinstance(fill, Fill) and fill.ts == RECV and notes and notes[0].startswith("ts_replaced")
    order = wp.parse_user_order({"order_id": "o", "ticker": T1, "status": "resting", "outcome_side": "yes",
                                 "yes_price_dollars": "0.5", "last_updated_ts_ms": ts_ms}, recv_ts=RECV, notes=notes)
    assert isinstance(order, OrderEvent) and order.ts == RECV and len(notes) == 2


def test_session_counts_replaced_fill_times():
    s = KalshiWsSession(KalshiWsConfig(fills=True), bad=BadInputLog("t"))
    s.on_text(json.dumps({"type": "fill", "sid": 9, "msg": {"trade_id": "t", "order_id": "o", "market_ticker": T1, "outcome_side": "yes",
                                                           "yes_price_dollars": "0.5", "count_fp": "1.00", "ts_ms": -1}}), RECV, 0.0)
    [fill] = s.drain()[0]
    assert fill.ts == RECV and s.bad.counts == {"fill:ts_replaced": 1}


def test_strikes_positive_and_ordered():
    market = fuzzing._rest_bodies()["market"][1]  # between
    for patch in ({"floor_strike": 0}, {"floor_strike": -86500.0}, {"cap_strike": "-1"}, {"floor_strike": 90000.0}):
        assert kind_of(rp.parse_market, {**market, **patch}, now=RECV, series_ticker="KXBTC") == "out_of_range", patch
    meta = {"event_type": "metadata_updated", "market_ticker": T1, "strike_type": "greater", "floor_strike": -5}
    assert kind_of(wp.parse_market_lifecycle, meta, recv_ts=RECV) == "out_of_range"


def test_crossed_quotes_rejected():
    tk = {"market_ticker": T1, "yes_bid_dollars": "0.60", "yes_ask_dollars": "0.40"}
    assert kind_of(wp.parse_ticker, tk, recv_ts=RECV) == "out_of_range"
    market = fuzzing._rest_bodies()["market"][0]
    assert kind_of(rp.parse_market, {**market, "yes_bid_dollars": "0.60", "yes_ask_dollars": "0.40"},
                   now=RECV, series_ticker="KXBTCD") == "out_of_range"
    # "no bid"/"no ask" (0 and 1) are not a crossing; a locked quote is allowed
    q = wp.parse_ticker({**tk, "yes_bid_dollars": "0.50", "yes_ask_dollars": "0.50"}, recv_ts=RECV)
    assert q.yes_bid == q.yes_ask == D("0.5")


def test_unstorable_text_rejected_or_escaped():
    market = fuzzing._rest_bodies()["market"][0]
    assert kind_of(rp.parse_market, {**market, "ticker": "KX\ud800"}, now=RECV, series_ticker="KXBTCD") == "bad_value"
    _, message, _ = parse_error_body('{"code": "x", "message": "bad \\ud800 text"}')
    assert message == "bad \\ud800 text" and message.encode("utf-8")
    assert wp.parse_error(wp.parse_envelope('{"type": "error", "msg": {"code": 5, "msg": "\\udfff"}}'))[1].encode("utf-8")
