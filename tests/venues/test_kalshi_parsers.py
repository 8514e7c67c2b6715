"""Kalshi REST and WS parsers on the documented payloads (reference examples, hand-copied shapes),
on the recorded captures in ../shared/data (skipped when absent), and on legacy cent shapes."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from kbot.venues.kalshi import rest_parse as rp
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.kalshi.errors import parse_error_body
from kbot.venues.wire import WireError, to_decimal

D = Decimal
NOW = 1_787_000_000.0


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} is not available (real data lives outside the repository)")
    return path


# ----------------------------------------------------------------------------- wire helpers


def test_decimal_reading_is_exact_and_strict():
    assert to_decimal("0.4500", "p") == D("0.45")
    assert to_decimal(1, "p") == D(1)
    assert to_decimal(0.45, "p") == D("0.45")  # JSON number tolerated, through repr
    for bad, kind in [(True, "wrong_type"), ("abc", "bad_value"), ("NaN", "bad_value"), ("Infinity", "bad_value"), ([], "wrong_type")]:
        with pytest.raises(WireError) as ei:
            to_decimal(bad, "p")
        assert ei.value.kind == kind


# ----------------------------------------------------------------------------- REST


KXBTCD_MARKET = {  # reference §7.2, a live capture as trimmed by its capturer, plus quote fields
    "ticker": "KXBTCD-26AUG2317-T86749.99", "event_ticker": "KXBTCD-26AUG2317", "title": "Bitcoin price on Aug 23, 2026?",
    "yes_sub_title": "$86,750 or above", "no_sub_title": "$86,750 or above", "strike_type": "greater", "floor_strike": 86749.99,
    "close_time": "2026-08-23T21:00:00Z", "expected_expiration_time": "2026-08-23T21:05:00Z", "expiration_time": "2026-08-30T21:00:00Z",
    "can_close_early": True, "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}], "status": "active",
    "yes_bid_dollars": "0.0000", "yes_ask_dollars": "1.0000", "last_price_dollars": "0.5300", "volume_fp": "10.00",
}


def test_market_kxbtcd_reference_capture():
    pm = rp.parse_market(KXBTCD_MARKET, now=NOW, series_ticker="KXBTCD")
    i, q = pm.info, pm.quote
    assert (i.ticker, i.event_ticker, i.series_ticker, i.strike_type, i.floor_strike, i.cap_strike) == (
        "KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317", "KXBTCD", "greater", 86749.99, None)
    assert i.close_ts == 1787518800.0 and i.expected_expiration_ts == 1787518800.0 + 300
    assert i.tick_size == D("0.01") and i.status == "active" and i.updated_ts == NOW
    assert q.yes_bid is None and q.yes_ask is None  # 0 = no bid, 1 = no ask
    assert q.last_price == D("0.53") and q.volume == D(10) and q.source == "rest"


def test_market_needs_series_and_valid_fields():
    with pytest.raises(WireError, match="series_ticker"):
        rp.parse_market(KXBTCD_MARKET, now=NOW)
    for patch, kind in [({"ticker": None}, "missing_field"), ({"floor_strike": "x"}, "bad_value"), ({"close_time": 5}, "wrong_type"),
                        ({"yes_bid_dollars": "1.2000"}, "out_of_range"), ({"status": 3}, "wrong_type")]:
        with pytest.raises(WireError) as ei:
            rp.parse_market({**KXBTCD_MARKET, **patch}, now=NOW, series_ticker="KXBTCD")
        assert ei.value.kind == kind, patch


def test_market_legacy_cent_fields():
    legacy = {k: v for k, v in KXBTCD_MARKET.items() if not k.endswith(("_dollars", "_fp"))}
    legacy.update({"yes_bid": 45, "yes_ask": 47, "last_price": 46, "volume": 1200, "open_interest": 800, "settlement_value": 100})
    pm = rp.parse_market(legacy, now=NOW, series_ticker="KXBTCD")
    assert (pm.quote.yes_bid, pm.quote.yes_ask, pm.quote.last_price) == (D("0.45"), D("0.47"), D("0.46"))
    assert pm.quote.volume == D(1200) and pm.info.settlement_value == D(1)


def test_series_event_fees():
    s = rp.parse_series({"ticker": "KXBTCD", "fee_type": "quadratic", "fee_multiplier": 1, "frequency": "hourly", "title": "t"}, now=NOW)
    assert (s.fee_type, s.fee_multiplier) == ("quadratic", D(1))
    e, markets = rp.parse_event({"event_ticker": "KXBTCD-26MAY2018", "series_ticker": "KXBTCD", "title": "x",
                                  "fee_type_override": "quadratic", "fee_multiplier_override": 0.5,
                                  "strike_date": "2026-05-20T22:00:00Z", "markets": [KXBTCD_MARKET]}, now=NOW)
    assert (e.fee_type_override, e.fee_multiplier_override, e.strike_ts) == ("quadratic", D("0.5"), 1779314400.0)
    assert len(markets) == 1
    assert rp.effective_fees(s, e) == ("quadratic", D("0.5"))
    assert rp.effective_fees(s, None) == ("quadratic", D(1))


def test_portfolio_shapes_from_spec():
    bal = rp.parse_balance({"balance": 12345, "balance_dollars": "123.4567", "portfolio_value": 20000, "updated_ts": 1787000000,
                            "balance_breakdown": [{"exchange_index": 0, "balance": "3.4567"}, {"exchange_index": 2, "balance": "120.0000"}]}, now=NOW)
    assert bal.balance == D("123.4567") and bal.portfolio_value == D(200) and bal.by_exchange_index == ((0, D("3.4567")), (2, D(120)))
    assert rp.parse_balance({"balance": 12345, "portfolio_value": 0, "updated_ts": 0}, now=NOW).balance == D("123.45")
    pos = rp.parse_position({"ticker": "T", "exchange_index": 2, "total_traded_dollars": "5.000000", "position_fp": "-10.00",
                             "market_exposure_dollars": "4.500000", "realized_pnl_dollars": "0.000000", "fees_paid_dollars": "0.070000",
                             "last_updated_ts": "2026-08-20T10:00:00Z"}, now=NOW)
    assert pos.position == D(-10) and pos.ts == 1787220000.0 and pos.fees_paid == D("0.07")
    order = rp.parse_order({"order_id": "o", "user_id": "u", "client_order_id": "c", "ticker": "T", "outcome_side": "no", "book_side": "ask",
                            "type": "limit", "status": "resting", "yes_price_dollars": "0.7000", "no_price_dollars": "0.3000",
                            "fill_count_fp": "2.00", "remaining_count_fp": "8.00", "initial_count_fp": "10.00",
                            "taker_fees_dollars": "0", "maker_fees_dollars": "0", "taker_fill_cost_dollars": "0", "maker_fill_cost_dollars": "0",
                            "created_time": "2026-08-20T10:00:00Z"}, now=NOW)
    assert (order.side, order.action, order.price, order.count, order.filled_count, order.status, order.mode) == (
        "no", "buy", D("0.3"), D(10), D(2), "partially_filled", "live")
    st = rp.parse_settlement({"ticker": "T", "exchange_index": 2, "event_ticker": "E", "market_result": "yes", "yes_count_fp": "15.00",
                              "yes_total_cost_dollars": "6.600000", "no_count_fp": "0.00", "no_total_cost_dollars": "0.000000",
                              "revenue": 1500, "settled_time": "2026-08-16T04:00:00Z", "fee_cost": "0.202100", "value": 100}, now=NOW)
    assert (st.revenue, st.fee, st.value, st.yes_count) == (D(15), D("0.2021"), D(1), D(15))


def test_exchange_status_and_acks():
    es = rp.parse_exchange_status({"exchange_active": True, "trading_active": False, "exchange_estimated_resume_time": "2026-08-20T09:00:00Z",
                                   "exchange_index_statuses": [{"exchange_index": 2, "exchange_active": True, "trading_active": False}]})
    assert not es.trading_active and es.index_statuses == ((2, True, False),)
    with pytest.raises(WireError):
        rp.parse_exchange_status({"exchange_active": True})
    ack = rp.parse_order_ack({"order_id": "a6d6", "client_order_id": "2a0e", "fill_count": "5.00", "remaining_count": "0.00",
                              "average_fill_price": "0.5800", "average_fee_paid": "0.0012", "ts_ms": 1715793600456})
    assert ack.average_fee_paid == D("0.0012") and ack.ts == 1715793600.456


@pytest.mark.parametrize(
    "body,expect",
    [
        ({"code": "invalid_order", "message": "m", "details": "post only cross"}, ("invalid_order", "m", "post only cross")),
        ({"error": {"code": "insufficient_balance"}}, ("insufficient_balance", "", "")),
        ({"error": "too many requests"}, ("", "too many requests", "")),
        ('{"error":{"code":"bad_request","message":"bad request","details":"invalid status filter"}}', ("bad_request", "bad request", "invalid status filter")),
        ("Bad Gateway", ("", "Bad Gateway", "")),
    ],
)
def test_error_bodies(body, expect):
    assert parse_error_body(body) == expect


def test_recorded_rest_captures(shared_data):
    """Verbatim REST captures (sports markets, Aug 2026): markets (active and finalized), single
    market, orderbook, series fee fields, redacted fills and settlements all parse."""
    base = _need(shared_data / "kalshi_cockpit_fixtures")
    single = json.loads((base / "market_single.json").read_text())
    pm = rp.parse_market(single["single"]["market"], now=NOW, series_ticker="KXNCAAFGAME")
    assert pm.info.status == "active" and pm.info.strike_type == "structured" and pm.quote.yes_bid is not None
    nested = rp.parse_market(single["nested"], now=NOW, series_ticker="KXNCAAFGAME")
    assert nested.info == pm.info
    book = rp.parse_orderbook(single["orderbook"], pm.info.ticker)
    assert book.best_yes_bid() == (D("0.89"), D("343.49")) and book.yes_ask() == (D("0.94"), D("641"))
    settled = json.loads((base / "markets_settled.json").read_text())["markets"]
    parsed = [rp.parse_market(m, now=NOW, series_ticker="X").info for m in settled]
    finals = [m for m in parsed if m.status == "finalized"]
    assert finals and all(m.result in ("yes", "no") and m.settlement_value in (D(0), D(1)) for m in finals)
    fees = json.loads((base / "series_fee_fields.json").read_text())["payloads"]
    s = rp.parse_series(fees["KXMLBGAME"]["series"], now=NOW)
    assert (s.fee_type, s.fee_multiplier) == ("quadratic_with_maker_fees", D("0.5"))
    fills = json.loads((base / "portfolio_fills_redacted.json").read_text())["payload"]["fills"]
    f = [rp.parse_fill(x, now=NOW) for x in fills]
    assert f[0].price == D("0.001") and f[0].fee == D("0.01593") and f[0].count == D("227.27") and f[0].is_taker
    sts = json.loads((base / "portfolio_settlements_redacted.json").read_text())["payload"]["settlements"]
    assert [rp.parse_settlement(x, now=NOW).result for x in sts]


# ----------------------------------------------------------------------------- WS (AsyncAPI / reference §5.5 examples)


def env(frame: dict) -> wp.Envelope:
    return wp.parse_envelope(json.dumps(frame))


def test_ws_orderbook_examples():
    snap = env({"type": "orderbook_snapshot", "sid": 2, "seq": 2, "msg": {"market_ticker": "FED-23DEC-T3.00", "market_id": "9b0f",
                "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.00"]], "no_dollars_fp": [["0.5400", "20.00"], ["0.5600", "146.00"]]}})
    assert (snap.type, snap.sid, snap.seq) == ("orderbook_snapshot", 2, 2)
    lv = wp.parse_orderbook_snapshot(snap.msg, use_yes_price=False)
    assert lv.yes[-1] == (D("0.22"), D(333)) and lv.no[-1] == (D("0.56"), D(146))
    yes_mode = wp.parse_orderbook_snapshot(snap.msg, use_yes_price=True)
    assert yes_mode.no[-1] == (D("0.44"), D(146))
    empty = wp.parse_orderbook_snapshot({"market_ticker": "X", "market_id": "m"}, use_yes_price=False)
    assert empty.yes == [] and empty.no == []  # omitted keys = empty sides
    dl = wp.parse_orderbook_delta({"market_ticker": "FED-23DEC-T3.00", "market_id": "9b0f", "price_dollars": "0.9600", "delta_fp": "-54.00",
                                   "side": "yes", "ts": "2022-11-22T20:44:01Z", "ts_ms": 1669149841000}, use_yes_price=False, recv_ts=1669149841.2)
    assert (dl.side, dl.price, dl.delta, dl.ts) == ("yes", D("0.96"), D(-54), 1669149841.0)
    legacy = wp.parse_orderbook_delta({"market_ticker": "X", "price": 96, "delta": -54, "side": "no"}, use_yes_price=False, recv_ts=7)
    assert (legacy.price, legacy.delta, legacy.ts) == (D("0.96"), D(-54), 7)
    legacy_snap = wp.parse_orderbook_snapshot({"market_ticker": "X", "yes": [[8, 300]], "no": [[54, 20]]}, use_yes_price=False)
    assert legacy_snap.yes == [(D("0.08"), D(300))]
    numbers = wp.parse_orderbook_delta({"market_ticker": "X", "price_dollars": 0.5, "delta_fp": 2.5, "side": "no"}, use_yes_price=False, recv_ts=0)
    assert (numbers.price, numbers.delta) == (D("0.5"), D("2.5"))  # JSON numbers tolerated


def test_ws_ticker_example_and_legacy():
    q = wp.parse_ticker({"market_id": "m", "market_ticker": "FED-23DEC-T3.00", "price_dollars": "0.4800", "yes_bid_dollars": "0.4500",
                         "yes_ask_dollars": "0.5300", "volume_fp": "33896.00", "open_interest_fp": "20422.00", "dollar_volume": 16948,
                         "dollar_open_interest": 10211, "yes_bid_size_fp": "300.00", "yes_ask_size_fp": "150.00", "last_trade_size_fp": "25.00",
                         "ts": 1669149841, "ts_ms": 1669149841000, "time": "2022-11-22T20:44:01Z", "Clock": 123}, recv_ts=1669149845)
    assert (q.yes_bid, q.yes_ask, q.no_bid, q.no_ask, q.last_price, q.yes_ask_size, q.ts, q.source) == (
        D("0.45"), D("0.53"), D("0.47"), D("0.55"), D("0.48"), D(150), 1669149841.0, "ticker")
    legacy = wp.parse_ticker({"market_ticker": "X", "yes_bid": 45, "yes_ask": 53, "price": 48, "volume": 10, "open_interest": 5,
                              "ts": 1669149841}, recv_ts=1669149845)
    assert (legacy.yes_bid, legacy.yes_ask, legacy.volume) == (D("0.45"), D("0.53"), D(10))


def test_ws_trade_fill_user_order_position_examples():
    tr = wp.parse_trade({"trade_id": "d91b", "market_ticker": "HIGHNY-22DEC23-B53.5", "yes_price_dollars": "0.3600", "no_price_dollars": "0.6400",
                         "count_fp": "136.00", "taker_side": "no", "taker_outcome_side": "no", "taker_book_side": "ask", "is_block_trade": False,
                         "ts": 1669149841, "ts_ms": 1669149841000}, recv_ts=1669149841.2)
    assert (tr.yes_price, tr.count, tr.taker_side, tr.ts) == (D("0.36"), D(136), "no", 1669149841.0)
    assert wp.parse_trade({"trade_id": "t", "market_ticker": "X", "yes_price": 36, "count": 5}, recv_ts=3).yes_price == D("0.36")
    f = wp.parse_fill({"trade_id": "tr", "order_id": "o", "client_order_id": "my-order-1", "market_ticker": "HIGHNY-22DEC23-B53.5", "exchange_index": 2,
                       "is_taker": True, "side": "yes", "yes_price_dollars": "0.7500", "count_fp": "278.00", "fee_cost": "0.010000", "action": "buy",
                       "ts": 1671899397, "ts_ms": 1671899397000, "post_position_fp": "500.00", "purchased_side": "yes", "outcome_side": "yes",
                       "book_side": "bid", "subaccount": 3}, recv_ts=1671899397.1)
    assert (f.fill_id, f.side, f.action, f.price, f.count, f.fee, f.is_taker) == ("tr", "yes", "buy", D("0.75"), D(278), D("0.01"), True)
    no_fill = wp.parse_fill({"trade_id": "t", "order_id": "o", "market_ticker": "X", "is_taker": False, "yes_price_dollars": "0.7500",
                             "count_fp": "1.00", "outcome_side": "no", "book_side": "ask"}, recv_ts=0)
    assert (no_fill.side, no_fill.price) == ("no", D("0.25"))
    uo = wp.parse_user_order({"order_id": "o", "user_id": "u", "ticker": "FED-23DEC-T3.00", "exchange_index": 2, "status": "resting", "side": "yes",
                              "is_yes": True, "outcome_side": "yes", "book_side": "bid", "yes_price_dollars": "0.3500", "fill_count_fp": "0.00",
                              "remaining_count_fp": "10.00", "initial_count_fp": "10.00", "client_order_id": "my-order-1",
                              "created_ts_ms": 1733047200000}, recv_ts=1733047260.0)
    # stamped on receipt: created_ts_ms is when the order was placed, not when this update happened
    assert (uo.status, uo.price, uo.count, uo.client_order_id, uo.ts) == ("resting", D("0.35"), D(10), "my-order-1", 1733047260.0)
    updated = wp.parse_user_order({"order_id": "o", "ticker": "T", "status": "canceled", "outcome_side": "yes", "yes_price_dollars": "0.35",
                                   "created_ts_ms": 1733047200000, "last_updated_ts_ms": 1733047259000}, recv_ts=1733047260.0)
    assert updated.ts == 1733047259.0
    mp = wp.parse_market_position({"user_id": "u", "market_ticker": "FED-23DEC-T3.00", "position_fp": "100.00", "position_cost_dollars": "50.0000",
                                   "realized_pnl_dollars": "10.0000", "fees_paid_dollars": "1.0000", "position_fee_cost_dollars": "0.5000",
                                   "volume_fp": "15.00"}, recv_ts=9)
    assert (mp.position, mp.market_exposure, mp.source) == (D(100), D(50), "ws")


def test_ws_lifecycle_examples():
    created = wp.parse_market_lifecycle({"market_ticker": "INXD-23SEP14-B4487", "exchange_index": 0, "open_ts": 1694635200, "close_ts": 1694721600,
                                         "additional_metadata": {"name": "n", "title": "t", "yes_sub_title": "y", "no_sub_title": "n",
                                                                 "rules_primary": "r", "rules_secondary": "", "can_close_early": True,
                                                                 "event_ticker": "INXD-23SEP14", "expected_expiration_ts": 1694721600,
                                                                 "strike_type": "greater", "floor_strike": 4487},
                                         "event_type": "created", "price_level_structure": "linear_cent"}, recv_ts=5)
    assert (created.event_type, created.close_ts, created.floor_strike, created.event_ticker, created.price_level_structure) == (
        "created", 1694721600.0, 4487.0, "INXD-23SEP14", "linear_cent")
    meta = wp.parse_market_lifecycle({"event_type": "metadata_updated", "market_ticker": "KXBTC-25APR30-T0915-B95000",
                                      "strike_type": "between", "floor_strike": 95000, "cap_strike": 95250}, recv_ts=5)
    assert (meta.strike_type, meta.floor_strike, meta.cap_strike) == ("between", 95000.0, 95250.0)
    det = wp.parse_market_lifecycle({"market_ticker": "X", "event_type": "determined", "result": "no", "settlement_value": "0.0000",
                                     "determination_ts": 1787000000}, recv_ts=1787000001)
    ms = wp.settled_from_lifecycle(det)
    assert (ms.result, ms.settlement_value, ms.final, ms.ts) == ("no", D(0), False, 1787000000.0)
    settled = wp.parse_market_lifecycle({"market_ticker": "X", "event_type": "settled", "settled_ts": 1787000060}, recv_ts=1787000061)
    assert wp.settled_from_lifecycle(settled) is None
    ms2 = wp.settled_from_lifecycle(settled, ("no", D(0)))
    assert ms2.final and ms2.result == "no"
    legacy = wp.parse_market_lifecycle({"market_ticker": "X", "event_type": "determined", "result": "yes", "settlement_value": 100}, recv_ts=5)
    assert legacy.settlement_value == D(1)
    with pytest.raises(WireError) as ei:
        wp.parse_market_lifecycle({"market_ticker": "X", "event_type": "exploded"}, recv_ts=5)
    assert ei.value.kind == "unknown_type"


def test_ws_event_messages_and_cfbenchmarks():
    ev = wp.parse_event_lifecycle({"event_ticker": "KXQUICKSETTLE-26JAN25H2150", "exchange_index": 0, "title": "t", "subtitle": "s",
                                   "collateral_return_type": "MECNET", "series_ticker": "KXQUICKSETTLE"}, recv_ts=3)
    assert ev.series_ticker == "KXQUICKSETTLE" and ev.updated_ts == 3
    fee = wp.parse_event_fee_update({"event_ticker": "KXBTCD-26MAY2018", "fee_type_override": "quadratic", "fee_multiplier_override": 1}, recv_ts=3)
    assert (fee.fee_type_override, fee.fee_multiplier_override) == ("quadratic", D(1))
    cleared = wp.parse_event_fee_update({"event_ticker": "E", "fee_type_override": None, "fee_multiplier_override": None}, recv_ts=3)
    assert cleared.fee_type_override is None and cleared.fee_multiplier_override is None
    iv = wp.parse_cfbenchmarks_value({"index_id": "BRTI", "received_at": 1710000000123,
                                      "data": "{\"type\":\"value\",\"id\":\"BRTI\",\"time\":1710000000123,\"value\":\"68000.12\"}",
                                      "avg_60s_data": {"value": "68000.12000000", "window_size": 3, "window_start_ts_ms": 1, "window_end_ts_exclusive": 2}},
                                     recv_ts=1710000000.5)
    assert (iv.index_id, iv.tick.price, iv.tick.avg_60s, iv.tick.avg_60s_15min, iv.tick.recv_ts) == ("BRTI", 68000.12, 68000.12, None, 1710000000.5)
    with pytest.raises(WireError):
        wp.parse_cfbenchmarks_value({"index_id": "BRTI", "data": "{nope", "avg_60s_data": None}, recv_ts=0)
    with pytest.raises(WireError):
        wp.parse_cfbenchmarks_value({"index_id": "BRTI", "data": {"value": "-5"}}, recv_ts=0)


def test_ws_control_replies():
    assert wp.parse_subscribed(env({"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}})) == ("orderbook_delta", 1)
    assert wp.parse_ok_tickers(env({"id": 123, "sid": 456, "seq": 222, "type": "ok", "msg": {"market_tickers": ["A", "B"]}})) == ["A", "B"]
    assert wp.parse_ok_tickers(env({"id": 3, "type": "ok", "msg": [{"channel": "orderbook_delta", "sid": 1}]})) is None
    assert wp.parse_error(env({"id": 123, "type": "error", "msg": {"code": 7, "msg": "Unknown subscription ID"}})) == (7, "Unknown subscription ID")
    for text in ["{", "[]", '{"type": 5}', '{"type": "ok", "sid": "1"}']:
        with pytest.raises(WireError):
            wp.parse_envelope(text)


def test_recorded_ws_ticker_captures(shared_data):
    """Real KXBTC15M ticker payloads (May 2026: dollar fields alongside the legacy cents)."""
    session = _need(shared_data / "organics_kxbtc15m" / "research_data" / "particle_shadow_spotmerge_oos_20260511T121730Z")
    n = 0
    for f in session.glob("raw_events/type=ticker/**/*.gz"):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                msg = json.loads(line)["payload_json"]
                q = wp.parse_ticker(msg, recv_ts=json.loads(line)["local_recv_ns"] / 1e9)
                if msg.get("yes_bid") is not None and q.yes_bid is not None:
                    # the legacy cents round sub-cent prices (0.9120 -> 91, 0.9290 -> 93): dollars win
                    assert abs(q.yes_bid * 100 - msg["yes_bid"]) <= D("0.5")
                assert q.ts == msg["ts_ms"] / 1000
                n += 1
    assert n > 500
