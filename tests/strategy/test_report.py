"""Fill-quality report maths (kbot.strategy.report): mids over time, markouts, settlement after the
close, PnL after fees, bands, drawdown."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kbot.strategy.report import FillRow, MarketFacts, MidSeries, band_of, fill_metrics, mid_at, summarize


def mids() -> MidSeries:
    m = MidSeries()
    for ts, mid in ((100.0, 0.50), (101.5, 0.46), (110.5, 0.40), (160.0, 0.42)):
        m.add(ts, mid)
    return m


def fill(ts: float = 100.5, side: str = "yes", price: str = "0.48", taker: bool = False, count: str = "2",
         fee: str = "0") -> FillRow:
    return FillRow(ts=ts, ticker="M", series="KXBTC15M", side=side, count=D(count), price=D(price), fee=D(fee),
                   is_taker=taker)


def test_mid_at_uses_the_newest_mid_and_the_settlement_after_the_close():
    facts = MarketFacts(close_ts=150.0, settled_ts=155.0, value=D(1))
    m = mids()
    assert mid_at(m, facts, 99.0) is None
    assert mid_at(m, facts, 101.0) == 0.50
    assert mid_at(m, facts, 149.0) == 0.40
    assert mid_at(m, facts, 160.0) == 1.0  # past the close: what it settled at
    assert mid_at(m, MarketFacts(close_ts=150.0), 160.0) == 0.40  # not settled: the last mid before the close


def test_markouts_spread_captured_and_pnl_of_a_yes_and_a_no_fill():
    facts = MarketFacts(close_ts=1000.0, settled_ts=1005.0, value=D(0))
    y = fill_metrics(fill(), mids(), facts)
    assert y.captured == pytest.approx(0.02)  # bought at 0.48 with the mid at 0.50
    assert y.markouts == pytest.approx((-0.02, -0.08, -0.06))  # mids 0.46, 0.40, 0.42 after 1/10/60 s
    assert y.pnl == D("-0.96") and y.band == "10-15m"
    n = fill_metrics(fill(side="no", price="0.49", fee="0.01"), mids(), facts)
    assert n.captured == pytest.approx(0.01) and n.markouts[1] == pytest.approx(0.11)
    assert n.pnl == D("1.01") and n.pnl == (1 - D("0.49")) * 2 - D("0.01")


def test_bands_and_summary_rows_with_drawdown():
    assert [band_of(x) for x in (30.0, 200.0, 400.0, 700.0, 2000.0, -1.0, None)] == [
        "0-2m", "2-5m", "5-10m", "10-15m", ">15m", "closed", "?"]
    facts = MarketFacts(close_ts=300.0, settled_ts=305.0, value=D(1))
    ms = [fill_metrics(fill(ts=100.5, price="0.48"), mids(), facts),
          fill_metrics(fill(ts=250.0, side="no", price="0.50"), mids(), facts),
          fill_metrics(fill(ts=250.0, side="no", price="0.50", taker=True), mids(), facts)]
    rows = summarize(ms, {"M": facts})
    maker_all = next(r for r in rows if r["band"] == "all" and r["liquidity"] == "maker")
    assert maker_all["fills"] == 2 and maker_all["contracts"] == D(4)
    assert maker_all["pnl"] == D("1.04") - D("1.00")
    assert maker_all["inventory_at_settlement"] == D(0)  # +2 YES and 2 NO net to flat
    assert maker_all["max_drawdown"] == D("1.00")  # +1.04 then -1.00
    bands = [r["band"] for r in rows if r["liquidity"] == "maker"]
    assert bands == ["0-2m", "2-5m", "all"]
    assert {r["liquidity"] for r in rows} == {"maker", "taker"}
