"""Spot index: freshness by event and receipt time, median, BRTI preference and its outlier
guard, staleness below the minimum, out-of-order ticks; the trailing 60 s average."""

from __future__ import annotations

import pytest

from kbot.messages import SpotTick
from kbot.model.config import IndexConfig
from kbot.model.index import SpotIndex, TrailingAverage, tick_value


def tick(source: str, ts: float, price: float, *, recv: float | None = None, bid=None, ask=None) -> SpotTick:
    return SpotTick(source=source, ts=ts, price=price, bid=bid, ask=ask, recv_ts=ts if recv is None else recv)


def test_median_of_fresh_sources():
    idx = SpotIndex(IndexConfig(max_age_s=3.0, min_sources=2))
    idx.observe(tick("coinbase", 100.0, 80_000.0))
    idx.observe(tick("binance", 100.5, 80_010.0))
    idx.observe(tick("kraken", 99.0, 80_100.0))
    v = idx.compute(101.0)
    assert (v.price, v.n_sources, v.sources, v.stale, v.method) == (
        80_010.0,
        3,
        ("binance", "coinbase", "kraken"),
        False,
        "median",
    )
    # kraken ages out (tick at 99, now 102.5 -> 3.5 s old): median of two
    v = idx.compute(102.5)
    assert v.price == 80_005.0 and v.sources == ("binance", "coinbase") and not v.stale


def test_stale_below_min_sources_and_none_without_sources():
    idx = SpotIndex(IndexConfig(min_sources=2))
    assert idx.compute(0.0).stale and idx.compute(0.0).price is None
    idx.observe(tick("coinbase", 10.0, 80_000.0))
    v = idx.compute(10.5)
    assert v.stale and v.price == 80_000.0 and v.n_sources == 1


def test_lagging_receipt_or_future_exchange_clock_is_not_fresh():
    idx = SpotIndex(IndexConfig(min_sources=1, max_age_s=3.0))
    # exchange clock 100 s ahead, but received long ago: stale by receipt time
    idx.observe(tick("coinbase", 200.0, 80_000.0, recv=90.0))
    assert idx.compute(100.0).stale
    # a feed delivering 10 s old data now: stale by event time
    idx.observe(tick("binance", 90.0, 80_000.0, recv=100.0))
    assert idx.compute(100.0).n_sources == 0


def test_brti_preferred_when_fresh_even_alone():
    idx = SpotIndex(IndexConfig(min_sources=2))
    idx.observe(tick("brti", 10.0, 80_050.0))
    v = idx.compute(10.5)
    assert (v.price, v.method, v.stale, v.sources) == (80_050.0, "brti", False, ("brti",))
    idx.observe(tick("coinbase", 10.0, 80_000.0))
    idx.observe(tick("kraken", 10.0, 80_010.0))
    v = idx.compute(10.5)
    assert v.price == 80_050.0 and v.sources == ("brti", "coinbase", "kraken") and v.n_sources == 3
    # brti ages out: back to the exchange median
    idx.observe(tick("coinbase", 12.0, 80_000.0))
    idx.observe(tick("kraken", 12.0, 80_010.0))
    v = idx.compute(13.6)
    assert v.method == "median" and v.price == 80_005.0


def test_brti_refused_when_it_disagrees_with_enough_exchanges():
    idx = SpotIndex(IndexConfig(min_sources=2, brti_max_deviation_bps=50))
    idx.observe(tick("brti", 10.0, 81_000.0))  # 1.25 % away
    idx.observe(tick("coinbase", 10.0, 80_000.0))
    idx.observe(tick("kraken", 10.0, 80_000.0))
    v = idx.compute(10.0)
    assert v.method == "median_brti_outlier" and v.price == 80_000.0 and not v.stale


def test_brti_as_one_vote_when_not_preferred():
    idx = SpotIndex(IndexConfig(min_sources=2, prefer_brti=False))
    idx.observe(tick("brti", 10.0, 80_100.0))
    idx.observe(tick("coinbase", 10.0, 80_000.0))
    v = idx.compute(10.0)
    assert v.method == "median" and v.price == 80_050.0 and not v.stale


def test_out_of_order_and_bad_ticks_are_ignored():
    idx = SpotIndex(IndexConfig(min_sources=1))
    assert idx.observe(tick("coinbase", 10.0, 80_000.0)) is None
    assert idx.observe(tick("coinbase", 9.0, 1.0)) == "out_of_order"
    assert idx.observe(tick("coinbase", 11.0, float("nan"))) == "no_price"
    assert idx.observe(tick("coinbase", 11.0, -5.0)) == "no_price"
    assert idx.observe(tick("coinbase", float("inf"), 1.0)) == "bad_time"
    assert idx.compute(10.0).price == 80_000.0


def test_mid_used_when_sane():
    assert tick_value(tick("c", 1, 100.0, bid=99.0, ask=101.0), True) == 100.0
    assert tick_value(tick("c", 1, 100.0, bid=102.0, ask=101.0), True) == 100.0  # crossed: price
    assert tick_value(tick("c", 1, 100.0, bid=99.0, ask=101.0), False) == 100.0
    assert tick_value(tick("c", 1, 100.0, bid=98.0, ask=99.0), True) == 98.5


def test_trailing_average_needs_coverage_and_uses_last_window():
    avg = TrailingAverage(60.0, 1.0, 0.9)
    for s in range(1, 54):
        avg.add(float(s), 100.0)
    assert avg.mean(53.0) is None  # 53 < 54 samples
    avg.add(54.0, 100.0)
    assert avg.mean(54.0) == 100.0
    for s in range(55, 121):
        avg.add(float(s), 200.0)
    # window (60, 120]: 60 samples of 200
    assert avg.mean(120.0) == 200.0
    avg.add(121.0, 140.0)
    assert avg.mean(121.0) == pytest.approx((59 * 200.0 + 140.0) / 60)
    # nothing added for a while (stale index): coverage drops, mean withheld
    assert avg.mean(180.0) is None


def test_an_exchange_away_from_the_others_is_out_of_band():
    """Issue 12: a spot price must agree with the other sources. One exchange printing 1 % off
    two fresh others is refused (and its previous value ages out); with a single other source
    nobody can tell which one is wrong, so it is taken."""
    idx = SpotIndex(IndexConfig(max_age_s=3.0, min_sources=2, source_max_deviation_bps=100.0))
    assert idx.observe(tick("coinbase", 100.0, 80_000.0)) is None
    assert idx.observe(tick("kraken", 100.1, 88_000.0)) is None  # one other source: cannot judge
    assert idx.observe(tick("binance", 100.2, 80_010.0)) is None  # two others that disagree: cannot judge
    assert idx.observe(tick("kraken", 100.3, 88_000.0)) == "out_of_band"  # the two others agree at 80k
    assert idx.observe(tick("kraken", 100.4, 80_400.0)) is None  # 0.5 % away: within the band
    assert idx.observe(tick("brti", 100.5, 95_000.0)) is None  # BRTI has its own outlier guard (compute)
    assert idx.observe(tick("coinbase", 100.6, 1e6)) == "out_of_band"  # the median of three others
    v = idx.compute(100.7)
    assert v.method == "median_brti_outlier" and v.price == 80_010.0
    off = SpotIndex(IndexConfig(source_max_deviation_bps=0.0))
    for src, px in (("coinbase", 80_000.0), ("binance", 80_000.0), ("kraken", 1_000_000.0)):
        assert off.observe(tick(src, 100.0, px)) is None
