from decimal import Decimal as D

from kbot.markets import (
    MarketRegistry,
    Skipped,
    StopPricer,
    Unsubscribe,
    bounds_problem,
)
from kbot.messages import MarketInfo, MarketLifecycle, MarketSettled


def mk(ticker="KXBTCD-26NOV2117-T90999.99", status="active", **kw):
    base = dict(ticker=ticker, event_ticker=ticker.rsplit("-", 1)[0], series_ticker=ticker.split("-")[0],
                status=status, strike_type="greater", floor_strike=90999.99, open_ts=0.0, close_ts=1000.0,
                updated_ts=0.0)
    base.update(kw)
    return MarketInfo(**base)


def kinds(actions):
    return [type(a).__name__ for a in actions]


def test_bounds_problems():
    assert bounds_problem(mk()) is None
    assert bounds_problem(mk(floor_strike=None)) == "missing_floor_strike"
    assert bounds_problem(mk(strike_type="less", floor_strike=None, cap_strike=5.0)) is None
    assert bounds_problem(mk(strike_type="between", cap_strike=None)) == "missing_bounds"
    assert bounds_problem(mk(strike_type="between", floor_strike=10.0, cap_strike=5.0)) == "inverted_bounds"
    assert bounds_problem(mk(strike_type="functional")) == "unsupported_strike_type:functional"
    assert bounds_problem(mk(close_ts=None)) == "missing_close_time"
    assert bounds_problem(mk(close_ts=None, expected_expiration_ts=5.0)) is None


def test_lifecycle_of_a_market():
    r = MarketRegistry(["KXBTCD", "KXBTC15M"])
    acts = r.apply(mk(), now=10.0)
    assert kinds(acts) == ["StartPricer", "Subscribe"]
    assert r.apply(mk(), now=11.0) == []  # same info: nothing
    upd = r.apply(mk(floor_strike=91000.0), now=12.0)
    assert kinds(upd) == ["UpdatePricer"] and upd[0].market.floor_strike == 91000.0
    assert r.tick(500.0) == []
    acts = r.tick(1000.0)
    assert acts == [StopPricer("KXBTCD-26NOV2117-T90999.99", "closed"), Unsubscribe(("KXBTCD-26NOV2117-T90999.99",))]
    assert [m.ticker for m in r.awaiting_settlement(1001.0)] == ["KXBTCD-26NOV2117-T90999.99"]
    r.apply(MarketSettled(ts=1002.0, ticker="KXBTCD-26NOV2117-T90999.99", result="no", settlement_value=D(0),
                          source="ws", final=True), now=1002.0)
    assert r.awaiting_settlement(1003.0) == [] and r.markets["KXBTCD-26NOV2117-T90999.99"].result == "no"
    r.tick(1002.0 + 3601.0)
    assert r.markets == {}


def test_unopened_market_starts_when_open_time_passes():
    r = MarketRegistry(["KXBTC15M"])
    m = mk("KXBTC15M-26NOV211715-15", status="initialized", strike_type="greater_or_equal", floor_strike=None,
           open_ts=100.0, close_ts=1000.0)
    assert r.apply(m, now=50.0) == []
    # open but the strike is not known yet: skipped once with a reason, no pricer
    acts = r.tick(100.0)
    assert acts == [Skipped(m.ticker, "missing_floor_strike")]
    assert r.tick(101.0) == []
    # the late floor_strike arrives via metadata_updated
    acts = r.apply(MarketLifecycle(ts=120.0, ticker=m.ticker, event_type="metadata_updated", floor_strike=95000.5,
                                   recv_ts=120.0), now=120.0)
    assert kinds(acts) == ["StartPricer", "Subscribe"] and acts[0].market.floor_strike == 95000.5


def test_lifecycle_events_update_and_stop():
    r = MarketRegistry(["KXBTC"])
    m = mk("KXBTC-26NOV2117-B91125", strike_type="between", floor_strike=91000.0, cap_strike=91249.99)
    r.apply(m, now=1.0)
    acts = r.apply(MarketLifecycle(ts=2.0, ticker=m.ticker, event_type="close_date_updated", close_ts=500.0, recv_ts=2.0), 2.0)
    assert kinds(acts) == ["UpdatePricer"] and acts[0].market.close_ts == 500.0
    acts = r.apply(MarketLifecycle(ts=3.0, ticker=m.ticker, event_type="determined", result="yes",
                                   settlement_value=D(1), recv_ts=3.0), 3.0)
    assert kinds(acts) == ["UpdatePricer", "StopPricer", "Unsubscribe"]
    assert r.markets[m.ticker].status == "determined"


def test_other_series_and_unknown_lifecycle_are_ignored():
    r = MarketRegistry(["KXBTC"])
    assert r.apply(mk(), now=1.0) == []
    assert r.apply(MarketLifecycle(ts=1.0, ticker="X", event_type="created", recv_ts=1.0), 1.0) == []
