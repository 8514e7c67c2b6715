"""The pure exchange core: listings, lifecycle, order validation, fills, settlement (no sockets)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kbot.fees import trade_fee
from kbot.sim.book import ASK, BID
from kbot.sim.calendar import SERIES_15M, SERIES_HOURLY_ABOVE, SERIES_HOURLY_RANGE
from kbot.sim.config import SimConfig
from kbot.sim.engine import OrderRejected
from kbot.sim.events import LifecycleEvent
from kbot.sim.exchange import Exchange, OrderRequest
from kbot.sim.faults import FaultInjector
from kbot.sim.lifecycle import settle_result

Q = 1_787_000_100 - 1_787_000_100 % 900  # a quarter hour
USER = "user-1"


def make(start: float = Q + 120, **kw) -> tuple[Exchange, list]:
    cfg = SimConfig(seed=kw.pop("seed", 11), ladder_strikes=kw.pop("ladder_strikes", 10), brackets=kw.pop("brackets", 6), **kw)
    ex = Exchange(cfg, start)
    events: list = []
    ex.listeners.append(events.extend)
    ex.open_account(USER)
    ex.advance(start)
    return ex, events


def m15(ex: Exchange, status: str = "active"):
    return next(m for m in ex.markets.values() if m.series_ticker == SERIES_15M and m.status == status)


def req(ticker: str, side: str, cents: int, count: int = 1, tif: str = "immediate_or_cancel", **kw) -> OrderRequest:
    return OrderRequest(
        ticker=ticker, side=side, price=cents * 100, count=count * 100, time_in_force=tif, self_trade_prevention_type="taker_at_cross", **kw
    )


def until_quoted(ex: Exchange, ticker: str, t: float) -> float:
    while ex.engines[ticker].book.best_ask() is None or ex.engines[ticker].book.best_bid() is None:
        t += 1
        ex.advance(t)
    return t


def test_start_lists_a_realistic_bounded_set():
    ex, events = make()
    by = {}
    for m in ex.markets.values():
        by.setdefault(m.series_ticker, []).append(m)
    assert len(by[SERIES_15M]) == 2  # current (active) + next (initialized)
    assert sorted(m.status for m in by[SERIES_15M]) == ["active", "initialized"]
    assert len(by[SERIES_HOURLY_ABOVE]) == 3 * 10 and len(by[SERIES_HOURLY_RANGE]) == 3 * 6
    default = Exchange(SimConfig(seed=1), Q + 120)
    default.advance(Q + 120)
    assert 150 <= len(default.markets) <= 250
    # at start: creations, plus the strike of the 15M market already running
    assert {e.event_type for e in events if isinstance(e, LifecycleEvent)} == {"created", "metadata_updated"}


def test_fifteen_minute_strike_is_set_late_to_the_60s_average():
    ex, events = make(start=Q - 30)
    nxt = next(m for m in ex.markets.values() if m.series_ticker == SERIES_15M and m.open_ts == Q)
    assert nxt.status == "initialized" and nxt.strike.floor is None and not nxt.floor_published
    ex.advance(Q + 1)
    assert nxt.status == "active" and nxt.strike.floor is None  # strike_delay_s = 2
    ex.advance(Q + 2)
    assert nxt.floor_published and nxt.strike.floor == float(ex.path.settlement_average(Q))
    upd = [e for e in events if isinstance(e, LifecycleEvent) and e.ticker == nxt.ticker and e.event_type == "metadata_updated"]
    assert len(upd) == 1 and upd[0].fields["floor_strike"] == nxt.strike.floor


def test_lifecycle_to_finalized_with_the_right_result():
    ex, events = make(start=Q - 120)
    cur = next(m for m in ex.markets.values() if m.series_ticker == SERIES_15M and m.close_ts == Q)
    ex.advance(Q)
    assert cur.status == "closed"
    ex.advance(Q + 1)
    assert cur.status == "determined"
    avg = ex.path.settlement_average(int(Q))
    assert cur.expiration_value == str(avg)
    assert cur.result == ("yes" if avg >= Decimal(str(cur.strike.floor)) else "no")
    ex.advance(Q + 2)
    assert cur.status == "finalized"  # settlement_timer_seconds = 1
    kinds = [e.event_type for e in events if isinstance(e, LifecycleEvent) and e.ticker == cur.ticker]
    assert kinds == ["created", "metadata_updated", "determined", "settled"]  # open and close are implicit


def test_order_fills_with_fee_and_position():
    ex, _events = make()
    m = m15(ex)
    t = until_quoted(ex, m.ticker, Q + 120)
    ask = ex.engines[m.ticker].book.best_ask()
    res = ex.place(USER, req(m.ticker, BID, ask // 100, 2, client_order_id="c1"), t + 0.5)
    assert res.order.filled == 200 and len(res.fills) >= 1
    f = res.fills[0]
    assert f.fee == trade_fee(Decimal(f.count) / 100, Decimal(f.price) / 10_000)
    acct = ex.accounts[USER]
    assert acct.positions[m.ticker].position == 200
    assert acct.balance(2) == Decimal("10000") - Decimal(ask * 200) / 10**6 - sum(x.fee for x in res.fills)


def test_validation_errors():
    ex, _ = make()
    m = m15(ex)
    t = until_quoted(ex, m.ticker, Q + 120)

    def code(r: OrderRequest) -> tuple[int, str]:
        with pytest.raises(OrderRejected) as e:
            ex.place(USER, r, t)
        return e.value.status, e.value.code

    assert code(req("NOPE", BID, 50)) == (400, "market_not_found")
    assert code(req(m.ticker, BID, 0)) == (400, "invalid_price")
    assert code(OrderRequest(ticker=m.ticker, side=BID, price=5050, count=100, time_in_force="good_till_canceled", self_trade_prevention_type="maker")) == (400, "invalid_price")
    assert code(req(m.ticker, BID, 1, 0)) == (400, "invalid_order_size")
    assert code(req(m.ticker, BID, 10, expiration_time=int(t) + 60)) == (400, "invalid_parameters")  # IOC + expiry
    assert code(req(m.ticker, BID, 10, tif="good_till_canceled", expiration_time=int(t) - 1)) == (400, "invalid_parameters")
    assert code(req(m.ticker, ASK, 10, reduce_only=True)) == (400, "invalid_order")
    assert code(req(m.ticker, BID, 90, 20_000, tif="good_till_canceled")) == (400, "available_balance_too_low")
    assert code(req(m.ticker, BID, 10, exchange_index=0)) == (400, "invalid_parameters")
    ex.place(USER, req(m.ticker, BID, 2, tif="good_till_canceled", client_order_id="dup"), t)
    assert code(req(m.ticker, BID, 2, tif="good_till_canceled", client_order_id="dup")) == (409, "order_already_exists")
    nxt = next(x for x in ex.markets.values() if x.series_ticker == SERIES_15M and x.status == "initialized")
    assert code(req(nxt.ticker, BID, 50)) == (400, "MARKET_INACTIVE")


def test_orders_after_close_are_market_inactive_even_cancels():
    ex, _ = make(taker_rate_15m=0.0)
    m = m15(ex)
    t = until_quoted(ex, m.ticker, Q + 120)
    o = ex.place(USER, req(m.ticker, BID, 1, tif="good_till_canceled"), t).order
    assert o.status == "resting"
    ex.advance(m.close_ts)
    assert o.status == "canceled" and o.last_update_reason == "CloseCancel"
    with pytest.raises(OrderRejected) as e:
        ex.place(USER, req(m.ticker, BID, 50), m.close_ts + 0.5)
    assert e.value.code == "MARKET_INACTIVE"
    with pytest.raises(OrderRejected) as e:
        ex.cancel(USER, o.order_id, m.close_ts + 0.5, market_ticker=m.ticker)
    assert e.value.code == "MARKET_INACTIVE"


def test_cancel_routing_by_shard():
    ex, _ = make()
    m = m15(ex)
    t = until_quoted(ex, m.ticker, Q + 120)
    o = ex.place(USER, req(m.ticker, BID, 1, tif="good_till_canceled"), t).order
    with pytest.raises(OrderRejected) as e:
        ex.cancel(USER, o.order_id, t)  # order_id alone goes to shard 0
    assert e.value.status == 404
    _, reduced = ex.cancel(USER, o.order_id, t, market_ticker=m.ticker)
    assert reduced == 100
    _, again = ex.cancel(USER, o.order_id, t, exchange_index=2)
    assert again == 0  # already cancelled: reduced_by 0


def test_reservation_blocks_overcommitting_and_is_released():
    ex, _ = make(initial_balance=Decimal("10"))
    m = m15(ex)
    t = until_quoted(ex, m.ticker, Q + 120)
    o = ex.place(USER, req(m.ticker, BID, 2, 400, tif="good_till_canceled"), t).order  # $8 held
    with pytest.raises(OrderRejected) as e:
        ex.place(USER, req(m.ticker, BID, 2, 200, tif="good_till_canceled"), t)
    assert e.value.code == "available_balance_too_low"
    ex.cancel(USER, o.order_id, t, market_ticker=m.ticker)
    assert ex.accounts[USER].available(2) == Decimal("10")


def test_early_close_fault_moves_the_close_and_settles_on_it():
    faults = FaultInjector()
    faults.set("early_close", p=1.0)
    cfg = SimConfig(seed=4, ladder_strikes=4, brackets=2, series=(SERIES_15M,))
    ex = Exchange(cfg, Q - 60, faults)
    events: list = []
    ex.listeners.append(events.extend)
    ex.advance(Q - 60)
    nxt = next(m for m in ex.markets.values() if m.open_ts == Q)
    early = nxt.early_close_ts
    assert early is not None and Q + 60 <= early <= Q + 840
    ex.advance(early + 5)
    upd = [e for e in events if isinstance(e, LifecycleEvent) and e.ticker == nxt.ticker and e.event_type == "close_date_updated"]
    assert upd and upd[0].fields["close_ts"] == int(early)
    assert nxt.close_ts == early and nxt.status == "finalized"
    assert nxt.expiration_value == str(ex.path.settlement_average(int(early)))


def test_late_strike_fault_sends_provisional_then_final():
    faults = FaultInjector()
    faults.set("late_strike", p=1.0, delay_s=45)
    cfg = SimConfig(seed=4, series=(SERIES_15M,))
    ex = Exchange(cfg, Q - 60, faults)
    events: list = []
    ex.listeners.append(events.extend)
    ex.advance(Q + 60)
    nxt = next(m for m in ex.markets.values() if m.open_ts == Q)
    upd = [e for e in events if isinstance(e, LifecycleEvent) and e.ticker == nxt.ticker and e.event_type == "metadata_updated"]
    assert [e.ts - Q for e in upd] == [2.0, 47.0]
    assert upd[-1].fields["floor_strike"] == float(ex.path.settlement_average(Q)) == nxt.strike.floor


@pytest.mark.parametrize(
    "strike_type,floor,cap,avg,result",
    [
        ("greater", 100.0, None, "100.00", "no"),
        ("greater", 100.0, None, "100.01", "yes"),
        ("greater_or_equal", 100.0, None, "100.00", "yes"),
        ("between", 100.0, 149.99, "149.99", "yes"),
        ("between", 100.0, 149.99, "150.00", "no"),
        ("between", 100.0, 149.99, "99.99", "no"),
    ],
)
def test_settlement_comparisons(strike_type, floor, cap, avg, result):
    assert settle_result(strike_type, floor, cap, Decimal(avg)) == result
