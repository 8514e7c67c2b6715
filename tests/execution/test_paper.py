"""Paper mode's venue: latency moves the fill, takers walk the book, resting orders wait in the
queue, post-only crossing is rejected, cancels and amends land after the latency, expiry and
the market's close end what rests, maker fees where the series charges makers, settlement
pays the account."""

from __future__ import annotations

from decimal import Decimal as D

from kbot.execution.orders import OrderSpec
from kbot.execution.paper import PaperVenue
from kbot.fees import trade_fee
from kbot.messages import Fill, MarketInfo, MarketSettled, OrderEvent, Quote, Trade


def quote(ts: float, yes_asks, no_asks=((D("0.58"), D(7)),), ticker: str = "M", source: str = "book") -> Quote:
    return Quote(ts=ts, ticker=ticker, yes_bid=None, yes_ask=None, yes_asks=tuple(yes_asks), no_asks=tuple(no_asks),
                 recv_ts=ts, source=source)


def market(close_ts: float = 1000.0, fee_type: str = "quadratic") -> MarketInfo:
    return MarketInfo(ticker="M", event_ticker="E", series_ticker="S", status="active", close_ts=close_ts,
                      fee_type=fee_type, fee_multiplier=D(1), updated_ts=0.0)


def spec(count: str, price: str, tif: str = "immediate_or_cancel", post_only: bool = False,
         expires_ts: float | None = None) -> OrderSpec:
    return OrderSpec(ticker="M", side="yes", count=D(count), price=D(price), time_in_force=tif,  # type: ignore[arg-type]
                     post_only=post_only, expires_ts=expires_ts)


def trade(ts: float, yes_price: str, count: str, taker: str = "no") -> Trade:
    return Trade(ts=ts, ticker="M", trade_id=f"t{ts}", yes_price=D(yes_price), count=D(count), taker_side=taker,
                 recv_ts=ts)


def fills(events) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def orders(events) -> list[OrderEvent]:
    return [e for e in events if isinstance(e, OrderEvent)]


def venue(latency: float = 0.5, fee_type: str = "quadratic") -> PaperVenue:
    v = PaperVenue(latency_s=latency)
    v.on_market(market(fee_type=fee_type))
    v.on_quote(quote(0.0, [(D("0.44"), D(5)), (D("0.45"), D(10))], [(D("0.58"), D(7)), (D("0.60"), D(30))]))
    return v  # YES asks 0.44 x 5, 0.45 x 10; YES bids 0.42 x 7, 0.40 x 30


def test_latency_moves_the_fill_to_the_book_as_it_stands_then():
    v = venue(latency=0.5)
    oid = v.submit("kb-d1", spec("5", "0.46"), 10.0)
    assert v.next_due() == 10.5 and v.step(10.4) == []
    v.on_quote(quote(10.2, [(D("0.45"), D(3)), (D("0.46"), D(10))]))  # the book moved in between
    evs = v.step(10.5)
    assert [(f.price, f.count) for f in fills(evs)] == [(D("0.45"), D(3)), (D("0.46"), D(2))]
    assert orders(evs)[-1].status == "filled" and all(f.order_id == oid and f.ts == 10.5 for f in fills(evs))
    # without the move it would have filled at 0.44
    v2 = venue(latency=0.0)
    v2.submit("kb-d1", spec("5", "0.46"), 10.0)
    assert {f.price for f in fills(v2.step(10.0))} == {D("0.44")}


def test_a_taker_walks_levels_pays_taker_fees_and_the_ioc_remainder_is_canceled():
    v = venue(latency=0.0)
    v.submit("kb-d1", spec("20", "0.45"), 1.0)
    evs = v.step(1.0)
    fs = fills(evs)
    assert [(f.price, f.count, f.is_taker) for f in fs] == [(D("0.44"), D(5), True), (D("0.45"), D(10), True)]
    assert [f.fee for f in fs] == [trade_fee(D(5), D("0.44")), trade_fee(D(10), D("0.45"))]
    last = orders(evs)[-1]
    assert (last.status, last.filled_count) == ("canceled", D(15))
    # what the paper order took is gone from the book until it changes
    v.submit("kb-d2", spec("5", "0.45"), 1.1)
    assert orders(v.step(1.1))[-1].filled_count == 0


def test_fill_or_kill_takes_nothing_unless_it_fills_whole():
    v = venue(latency=0.0)
    v.submit("kb-d1", spec("16", "0.45", tif="fill_or_kill"), 1.0)
    evs = v.step(1.0)
    assert fills(evs) == [] and orders(evs)[-1].status == "canceled"
    v.submit("kb-d2", spec("15", "0.45", tif="fill_or_kill"), 1.0)
    assert sum(f.count for f in fills(v.step(1.0))) == 15


def test_a_resting_order_fills_only_from_trades_beyond_the_queue_with_maker_fees_where_charged():
    v = venue(latency=0.0, fee_type="quadratic_with_maker_fees")
    oid = v.submit("kb-d1", spec("10", "0.42", tif="good_till_canceled"), 1.0)
    evs = v.step(1.0)
    assert orders(evs)[-1].status == "resting" and fills(evs) == []  # YES bid 0.42 x 7 displayed ahead
    assert fills(v.on_trade(trade(2.0, "0.42", "6"))) == []
    evs = v.on_trade(trade(3.0, "0.42", "5"))
    [f] = fills(evs)
    assert (f.count, f.price, f.is_taker, f.order_id) == (D(4), D("0.42"), False, oid)
    assert f.fee == trade_fee(D(4), D("0.42"), maker=True) > 0
    evs = v.on_trade(trade(4.0, "0.40", "50"))
    assert sum(f.count for f in fills(evs)) == 6 and orders(evs)[-1].status == "filled"


def test_maker_fills_are_free_where_the_series_does_not_charge_makers():
    v = venue(latency=0.0)
    v.submit("kb-d1", spec("3", "0.42", tif="good_till_canceled"), 1.0)
    v.step(1.0)
    [f] = fills(v.on_trade(trade(2.0, "0.41", "3")))
    assert f.fee == 0


def test_post_only_that_would_cross_is_rejected_and_a_gtc_crossing_part_takes():
    v = venue(latency=0.0)
    v.submit("kb-d1", spec("5", "0.44", tif="good_till_canceled", post_only=True), 1.0)
    [ev] = v.step(1.0)
    assert isinstance(ev, OrderEvent) and (ev.status, ev.reason) == ("rejected", "post only cross")
    v.submit("kb-d2", spec("8", "0.44", tif="good_till_canceled"), 1.0)
    evs = v.step(1.0)
    assert sum(f.count for f in fills(evs)) == 5 and orders(evs)[-1].status == "resting"


def test_cancel_and_amend_land_after_the_latency_a_fill_can_come_first():
    v = venue(latency=0.5)
    oid = v.submit("kb-d1", spec("10", "0.42", tif="good_till_canceled"), 1.0)
    v.step(1.5)
    assert v.cancel(oid, 2.0)
    evs = v.on_trade(trade(2.2, "0.41", "4"))  # before the cancel lands
    assert sum(f.count for f in fills(evs)) == 4
    [ev] = v.step(2.5)
    assert isinstance(ev, OrderEvent) and (ev.status, ev.filled_count) == ("canceled", D(4))
    oid2 = v.submit("kb-d2", spec("10", "0.42", tif="good_till_canceled"), 3.0)
    v.step(3.5)
    assert v.amend(oid2, price=D("0.43"), count=D(4), now=4.0)
    assert orders(v.step(4.5))[-1].price == D("0.43")


def test_expiry_and_the_markets_close_end_what_rests():
    v = venue(latency=0.0)
    v.submit("kb-d1", spec("10", "0.30", tif="good_till_canceled", expires_ts=50.0), 1.0)
    v.submit("kb-d2", spec("10", "0.30", tif="good_till_canceled"), 1.0)
    v.step(1.0)
    assert v.next_due() == 50.0
    [ev] = v.step(60.0)
    assert isinstance(ev, OrderEvent) and ev.status == "expired" and ev.client_order_id == "kb-d1"
    [ev] = v.step(1000.0)
    assert isinstance(ev, OrderEvent) and (ev.status, ev.reason) == ("canceled", "market_closed")
    v.submit("kb-d3", spec("1", "0.41"), 1001.0)
    [ev] = v.step(1001.0)
    assert isinstance(ev, OrderEvent) and ev.status == "rejected"


def test_settlement_pays_the_account_and_cancels_what_rests():
    v = venue(latency=0.0)
    v.seed({}, D(100), 0.0)
    v.submit("kb-d1", spec("5", "0.44"), 1.0)
    v.submit("kb-d2", spec("5", "0.30", tif="good_till_canceled"), 1.0)
    v.step(1.0)
    cash_after_buy = D(100) - D("2.20") - trade_fee(D(5), D("0.44"))
    assert v.account.cash == cash_after_buy and v.account.signed_positions() == {"M": D(5)}
    evs = v.on_settled(MarketSettled(ts=900.0, ticker="M", result="yes", settlement_value=D(1), source="ws"))
    assert orders(evs)[-1].status == "canceled"
    assert v.account.cash == cash_after_buy + 5 and v.account.signed_positions() == {}
    s = v.settlements["M"]
    assert (s.yes_count, s.no_count, s.revenue, s.result) == (D(5), D(0), D(5), "yes")


def test_without_a_book_a_taker_is_canceled_and_top_of_book_quotes_stand_in_only_without_depth():
    v = PaperVenue(latency_s=0.0)
    v.submit("kb-d1", spec("1", "0.50"), 1.0)
    [ev] = v.step(1.0)
    assert isinstance(ev, OrderEvent) and (ev.status, ev.reason) == ("canceled", "no_book")
    top = Quote(ts=2.0, ticker="M", yes_bid=D("0.38"), yes_ask=D("0.40"), no_ask=D("0.62"), yes_ask_size=D(3),
                yes_bid_size=D(4), recv_ts=2.0, source="ticker")
    v.on_quote(top)
    v.submit("kb-d2", spec("5", "0.40"), 2.0)
    assert sum(f.count for f in fills(v.step(2.0))) == 3
    v.on_quote(quote(3.0, [(D("0.45"), D(9))]))
    v.on_quote(top)  # ignored now that depth is known
    assert v.books["M"].yes_asks == ((D("0.45"), D(9)),)
