"""Each signal on hand-made cases; the market-wide assembly; the price history behind them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbot.model.config import SignalConfig
from kbot.model.history import PriceHistory
from kbot.model.prob import YEAR_S
from kbot.model.signals import book_imbalance, funding_signal, mean_reversion, momentum, spot_signals, vol_regime


def test_momentum_needs_agreement():
    assert momentum([1.0, 2.0]) == pytest.approx(1.5)
    assert momentum([-0.5, -1.5]) == pytest.approx(-1.0)
    assert momentum([1.0, -0.2]) == 0.0  # disagreeing lookbacks: no momentum
    assert momentum([None, 0.8]) == pytest.approx(0.8)  # what is available
    assert momentum([None, None]) is None and momentum([]) is None
    assert momentum([9.0, 7.0]) == 3.0  # clipped
    assert momentum([float("nan"), 1.0]) == 1.0


def test_mean_reversion_is_the_flipped_clipped_move():
    assert mean_reversion(1.2) == pytest.approx(-1.2)
    assert mean_reversion(-5.0) == 3.0
    assert mean_reversion(None) is None and mean_reversion(float("inf")) is None


def test_book_imbalance():
    assert book_imbalance(300, 100) == pytest.approx(0.5)  # more YES bids: YES pressure
    assert book_imbalance(0, 50) == -1.0
    assert book_imbalance(10, 10) == 0.0
    assert book_imbalance(None, 5) is None and book_imbalance(0, 0) is None
    assert book_imbalance(0.2, 0.3, min_depth=1.0) is None and book_imbalance(-1, 5) is None


@given(st.floats(0, 1e6), st.floats(0, 1e6))
def test_book_imbalance_is_bounded(y, n):
    v = book_imbalance(y, n)
    assert v is None or -1.0 <= v <= 1.0


def test_vol_regime():
    assert vol_regime(0.2, 0.4) == -1
    assert vol_regime(0.4, 0.4) == 0
    assert vol_regime(0.7, 0.4) == 1
    assert vol_regime(None, 0.4) is None and vol_regime(0.3, 0.0) is None


def test_funding_signal():
    assert funding_signal(0.0001) == 0.0  # the usual 0.01 % per 8 h
    assert funding_signal(0.0005) == pytest.approx(2.0)
    assert funding_signal(-0.01) == -3.0
    assert funding_signal(None) is None and funding_signal(float("nan")) is None


def _walk(h: PriceHistory, t0: float, n: int, dt: float, r: float, p0: float = 100_000.0) -> float:
    p = p0
    for i in range(n):
        h.add(t0 + i * dt, p)
        p *= math.exp(r if i % 2 == 0 else -r)
    return p


def test_realized_vol_from_known_returns_at_any_spacing():
    for dt in (10.0, 1800.0):  # the index grid and the captures' spacing
        h = PriceHistory(keep_s=10 * 86400, max_gap_s=7200)
        r = 0.001
        n = int(3 * 86400 / dt)
        _walk(h, 0.0, n, dt, r)
        now = (n - 1) * dt
        expected = math.sqrt(r * r / dt * YEAR_S)
        assert h.rv(86400, now) == pytest.approx(expected, rel=1e-9)
        assert h.rv(6 * 3600, now) == pytest.approx(expected, rel=1e-9)
    assert PriceHistory(keep_s=100).rv(3600, 0.0) is None


def test_history_skips_gaps_refuses_bad_input_and_forgets():
    h = PriceHistory(keep_s=1000, max_gap_s=60)
    assert h.add(0.0, 100.0) and h.add(10.0, 101.0)
    assert not h.add(5.0, 100.0) and not h.add(20.0, float("nan")) and not h.add(20.0, -1.0)
    assert h.rejected == 3 and not h.add(10.0, 101.0)  # the same point again: nothing new
    assert h.rv(20.0, 10.0) == pytest.approx(math.sqrt(math.log(1.01) ** 2 / 10 * YEAR_S))
    h.add(500.0, 150.0)  # after a 490 s gap: no return across it
    assert h.rv(600.0, 500.0) is None  # 10 s of returns cover less than half of 600 s
    assert h.price_at(9.0) == (0.0, 100.0) and h.price_at(-1.0) is None
    h.add(2000.0, 150.0)
    assert h.price_at(600.0) is None or h.price_at(600.0)[0] >= 500.0  # older than keep_s: gone


def test_move_z():
    h = PriceHistory(keep_s=86400)
    h.add(0.0, 100.0)
    h.add(3600.0, 101.0)
    z = h.move_z(3600.0, 3600.0, 0.5)
    assert z == pytest.approx(math.log(1.01) / (0.5 * math.sqrt(3600 / YEAR_S)))
    assert h.move_z(1500.0, 3600.0, 0.5) is None  # nothing between 50 and 25 min before
    assert h.move_z(3600.0, 3600.0, None) is None


def test_spot_signals_assemble_the_market_wide_features():
    cfg = SignalConfig(rv_horizons_s=(3600.0, 86400.0), momentum_lookbacks_s=(900.0, 3600.0),
                       mean_reversion_lookback_s=3600.0)
    h = PriceHistory(cfg.keep_s)
    p = 100_000.0
    for i in range(0, 2 * 86400, 60):  # two quiet days, then a steady climb for the last hour
        step = 0.0005 if i >= 2 * 86400 - 3600 else (0.0002 if (i // 60) % 2 else -0.0002)
        p *= math.exp(step)
        h.add(float(i), p)
    now = float(2 * 86400 - 60)
    s = spot_signals(h, now, cfg, funding_rate=0.0003, funding_ts=now - 10, seq=7)
    assert len(s.rv) == 2 and all(v is not None and v > 0 for v in s.rv)
    assert s.momentum is not None and s.momentum > 0  # the last hour went up, every lookback agrees
    assert s.mean_reversion is not None and s.mean_reversion < 0
    assert s.vol_regime == 1  # the last hour moved more than the day
    assert s.funding == pytest.approx(1.0) and s.funding_rate == 0.0003 and s.seq == 7
    stale = spot_signals(h, now, cfg, funding_rate=0.0003, funding_ts=now - 3600)
    assert stale.funding is None and stale.funding_rate is None
